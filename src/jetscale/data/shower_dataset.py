"""The ``shower`` task's data: regress an event shape of the partons after k shower branchings on their EFPs.

**Source.** Group ``k<k>`` of a snapshot file (:mod:`jetscale.data.shower.snapshots`; made by
``jetscale shower-generate``): the 2 + k parton momenta of each event that had at least k
branchings. Features are their e+e- EFPs (:mod:`jetscale.features.efp_ee`, degree <= ``dmax``,
angular exponent ``beta``: d = 102 for d <= 5), the target one of
:data:`~jetscale.physics.event_shapes.EVENT_SHAPES` (default **thrust** T; 1 - T would give the
same MSE), both read from the per-(file, k) cache ``<file stem>.efp-ee-d<dmax>-b<beta>-k<k>.h5``
next to the file, computed on first use (atomically, under a lock: jobs that start together compute
it once).

**Making the file.** With ``generate`` set (``{process, events, seed}``, as in ``configs/data/shower.yaml``)
a missing snapshot file is generated on first use, exactly as ``jetscale shower-generate --config
<process> --events <events> --seed <seed> --out <snapshots>`` would, under a lock so that the points of
a sweep that start together make it once (:func:`jetscale.data.shower.generate.ensure_snapshots`).
Without it a missing file is an error that prints that command.

**Splits.** One permutation of the n_k events, drawn from ``seed``, is laid out as

    [ test: n_test | val: n_val | train: n_train ... | ... | theory pool: n_pool ]

(train takes the events after the validation split, the theory pool the *last* n_pool), so the
first P training events are the same for every larger P, the test and validation events do not
depend on ``n_train``, and the pool never overlaps them; n_test + n_val + n_train + n_pool <= n_k.

**Items** (``training_loader``'s stream; ``default_collate`` stacks them): (x, y) with x float32 [d]
the raw EFPs and y float32 [] the target; the nets standardise (:mod:`jetscale.models.feature_regression`,
moments from :meth:`ShowerDataModule.feature_moments` and :meth:`ShowerDataModule.target_moments`, float64
over the training split, population std). ``split(name)`` gives the float64 numpy arrays (closed form).

**Metrics** (:meth:`ShowerDataModule.evaluate`): ``test_loss`` = test mean squared error of the target
(the training objective without the ridge term), ``test_r2`` = 1 - MSE / Var(y_test), and
``test_variance`` = Var(y_test) (the MSE of predicting the mean).

**Theory** (:meth:`ShowerDataModule.theory_loss`, ``theory: ridge``; null turns it off, e.g. for the
MLP, whose width is not a number of features). The toy model's prediction for ridge on the first
N = ``width`` standardised features (:class:`~jetscale.models.feature_regression.FeatureRidge`) at
P = n_train and lambda = ``ridge``, from the spectrum measured on the **theory pool** (n_pool
events that no run trains or tests on; :func:`ridge_theory`): the correlation matrix of the
first N EFPs (constant ones dropped) gives eigenpairs (lambda_j, v_j), the target's power per
mode t_j = (v_j . c)^2 / lambda_j (c = Cov(x~, y); modes above the noise floor, as in
:func:`~jetscale.features.spectrum.target_power`), and the part of Var(y) that no linear function
of those features explains, sigma^2 = Var(y) - sum_j t_j, acts as label noise. With
E = :func:`~jetscale.theory.random_features.spectrum_test_error` (lambda_j, t_j, N = inf, P, lambda,
sigma^2) -- the *excess* error of plain ridge on the features (bias + variance) -- the predicted
test MSE is (E + sigma^2) (1 + 1/P): the factor is the first-order cost of the intercept (the
training mean of y and of the features), which the deterministic equivalent does not include.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from jetscale.data.checks import global_batch, require_integers
from jetscale.data.sampling import training_loader
from jetscale.data.shower.generate import ensure_snapshots
from jetscale.features.covariance import CovarianceAccumulator, eigh_desc, is_constant, standardized_target
from jetscale.features.efp_ee import DEFAULT_BETA, snapshot_features
from jetscale.fit.spectrum import target_power
from jetscale.models.inference import evaluation
from jetscale.physics.event_shapes import EVENT_SHAPES
from jetscale.theory.random_features import spectrum_test_error

log = logging.getLogger(__name__)

THEORIES = ("ridge", None)
GENERATE_COMMAND = "jetscale shower-generate --config <process, e.g. z_qq> --events N --out {path}"


def ridge_theory(x_pool: np.ndarray, y_pool: np.ndarray, width: int, n_train: int, ridge: float) -> dict:
    """Predicted test MSE of ridge on the first ``width`` standardised features (module docstring).

    ``x_pool`` [n, d], ``y_pool`` [n]: the events the spectrum is measured on. Returns
    ``{"test_mse", "excess", "noise", "n_modes", "label_variance"}``; ``test_mse`` is None at the
    ridgeless interpolation threshold (P = number of modes, ridge = 0), where it diverges.
    """
    x = np.asarray(x_pool, dtype=np.float64)[:, :width]
    y = np.asarray(y_pool, dtype=np.float64)
    if x.ndim != 2 or y.shape != x.shape[:1] or not 1 <= width <= np.shape(x_pool)[1]:
        raise ValueError(f"need x_pool [n, d >= width] and y_pool [n], got {np.shape(x_pool)}, {y.shape}, "
                         f"width={width}")
    moments = standardized_target(CovarianceAccumulator.from_batch(np.column_stack([x, y])))
    label_variance = moments.label_variance
    out = {"excess": 0.0, "noise": label_variance, "n_modes": 0, "label_variance": label_variance}
    if moments.keep.any():
        lam, vectors = eigh_desc(moments.corr)
        t = target_power(lam, vectors.T @ moments.scaled_cross)
        out["n_modes"] = t.size
    if out["n_modes"]:
        out["noise"] = max(label_variance - float(t.sum()), 0.0)
        try:
            out["excess"] = spectrum_test_error(lam[:t.size], t, np.inf, n_train, ridge, out["noise"]).test_error
        except ValueError as err:  # ridgeless at P = number of modes
            log.warning("no ridge theory at width=%d, n_train=%d, ridge=%g: %s", width, n_train, ridge, err)
            return {**out, "test_mse": None}
    return {**out, "test_mse": (out["excess"] + out["noise"]) * (1.0 + 1.0 / n_train)}


class ShowerDataModule(L.LightningDataModule):
    """EFPs -> event shape at branching depth ``k`` of a snapshot file (module docstring).

    ``snapshots``: the HDF5 file; ``n_features``: if given, must equal the EFP count (the model
    config reads it); ``theory``: "ridge" or None; ``batch_size`` None = full batch.
    """

    task = "shower"

    def __init__(self, snapshots: str | Path, k: int, n_train: int, n_test: int, seed: int, n_val: int = 0,
                 n_pool: int = 0, batch_size: int | None = None, dmax: int = 5, beta: float = DEFAULT_BETA,
                 target: str = "thrust", n_features: int | None = None, theory: str | None = "ridge",
                 generate: dict | None = None):
        super().__init__()
        require_integers(("n_train", n_train, 1), ("n_test", n_test, 1), ("n_val", n_val, 0), ("n_pool", n_pool, 0),
                         ("k", k, 1))
        if target not in EVENT_SHAPES:
            raise ValueError(f"data.target must be one of {list(EVENT_SHAPES)}, got {target!r}")
        if theory not in THEORIES:
            raise ValueError(f"data.theory must be one of {list(THEORIES)}, got {theory!r}")
        if theory == "ridge" and n_pool < 2:
            raise ValueError(f"data.theory=ridge measures the spectrum on data.n_pool events: need n_pool >= 2, "
                             f"got {n_pool} (or set data.theory=null)")
        self.snapshots, self.k, self.seed = Path(snapshots), int(k), int(seed)
        self.n_train, self.n_test, self.n_val, self.n_pool = int(n_train), int(n_test), int(n_val), int(n_pool)
        self.dmax, self.beta, self.target = int(dmax), float(beta), target
        self.n_features, self.theory = n_features, theory
        if generate is not None and set(generate) != {"process", "events", "seed"}:
            raise ValueError(f"data.generate must have the keys process, events, seed (or be null), got {dict(generate)}")
        self.generate = dict(generate) if generate is not None else None
        self.batch_size = global_batch(batch_size, self.n_train)
        self._x: np.ndarray | None = None
        self._splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ data

    def _load(self) -> None:
        if self._x is not None:
            return
        if self.generate is not None:
            ensure_snapshots(self.snapshots, self.generate["process"], int(self.generate["events"]),
                             int(self.generate["seed"]))
        if not self.snapshots.is_file():
            raise FileNotFoundError(f"{self.snapshots}: no shower snapshot file (data.snapshots); make it with "
                                    f"`{GENERATE_COMMAND.format(path=self.snapshots)}` (or set data.generate)")
        features = snapshot_features(self.snapshots, self.k, self.dmax, self.beta)
        x, y = features["efp"], features[self.target]
        if self.n_features is not None and x.shape[1] != self.n_features:
            raise ValueError(f"{self.snapshots}: the d<={self.dmax} e+e- EFPs are {x.shape[1]} features, but "
                             f"data.n_features={self.n_features} (set data.n_features={x.shape[1]})")
        need = self.n_test + self.n_val + self.n_train + self.n_pool
        if need > len(x):
            raise ValueError(f"{self.snapshots}: k = {self.k} has {len(x)} events, fewer than data.n_test + n_val + "
                             f"n_train + n_pool = {self.n_test} + {self.n_val} + {self.n_train} + {self.n_pool} = "
                             f"{need}; generate more events or lower these sizes")
        self._order = np.random.default_rng([self.seed, self.k]).permutation(len(x))
        self._x, self._y = x, y

    def indices(self, name: str) -> np.ndarray:
        """Rows of the cached group (file order) of split ``train``, ``val``, ``test`` or ``pool``."""
        self._load()
        start = {"test": 0, "val": self.n_test, "train": self.n_test + self.n_val,
                 "pool": len(self._order) - self.n_pool}
        size = {"test": self.n_test, "val": self.n_val, "train": self.n_train, "pool": self.n_pool}
        if name not in start:
            raise ValueError(f"unknown split {name!r}; choose from {list(start)}")
        return self._order[start[name]:start[name] + size[name]]

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x float64 [n, d], y float64 [n]) of a split (see :meth:`indices`)."""
        if name not in self._splits:
            rows = self.indices(name)
            self._splits[name] = (self._x[rows], self._y[rows])
        return self._splits[name]

    def feature_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and (population) standard deviation of the training EFPs: float64 [d] each.

        A spread at rounding level (:func:`~jetscale.features.covariance.is_constant`: the EFPs that are
        constant, e.g. 1 and 2 for d = 0, 1 with beta = 2) is reported as exactly 0, which the nets map to a
        zero feature."""
        x, _ = self.split("train")
        mean, std = x.mean(axis=0), x.std(axis=0)
        return mean, np.where(is_constant(mean, std), 0.0, std)

    def target_moments(self) -> tuple[float, float]:
        """Mean and (population) standard deviation of the training targets."""
        _, y = self.split("train")
        return float(y.mean()), float(y.std())

    def _tensors(self, name: str) -> TensorDataset:
        x, y = self.split(name)
        return TensorDataset(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32))

    def train_dataloader(self) -> DataLoader:
        return training_loader(self._tensors("train"), self.batch_size, self.seed, self.trainer)

    def val_dataloader(self) -> DataLoader:
        if not self.n_val:
            raise ValueError("data.n_val = 0: no validation split")
        return DataLoader(self._tensors("val"), batch_size=self.batch_size, shuffle=False)

    # ------------------------------------------------------------------ metrics

    def evaluate(self, net) -> dict[str, float]:
        """``test_loss`` (test MSE), ``test_r2`` and ``test_variance`` of a trained net (module docstring)."""
        x, y = self.split("test")
        with evaluation(net):
            prediction = net(torch.as_tensor(x)).double().cpu().numpy()
        mse = float(np.mean((prediction - y) ** 2))
        variance = float(y.var())
        return {"test_loss": mse, "test_r2": 1.0 - mse / variance if variance > 0 else float("nan"),
                "test_variance": variance}

    def theory_loss(self, width: int, ridge: float) -> float | None:
        """Predicted ``test_loss`` of ridge on the first ``width`` features (module docstring); None when
        ``theory`` is null or the prediction diverges."""
        if self.theory is None:
            return None
        x, y = self.split("pool")
        return ridge_theory(x, y, width, self.n_train, ridge)["test_mse"]
