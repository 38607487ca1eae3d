"""The ``shower`` task's data: regress an event shape (default thrust) of the partons after k branchings on their EFPs.

:class:`ShowerDataModule` reads group ``k<k>`` of a snapshot file through its e+e- EFP cache (both made on
first use, under a lock). Items are (x float32 [d] raw EFPs, y float32 [] target); ``split(name)`` gives
float64 arrays. One seeded permutation gives nested training events, test and validation events that do
not depend on ``n_train``, and a disjoint theory pool. Source, splits and moments: docs/tasks.md#shower-data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from jetscale.data.checks import global_batch, require_integers
from jetscale.data.moments import is_constant
from jetscale.data.sampling import training_loader
from jetscale.data.shower.generate import ensure_snapshots
from jetscale.physics.event_shapes import APPROXIMATE_SHAPES, EVENT_SHAPES

THEORIES = ("ridge", None)
STANDARDIZE_ON = ("train", "nontest")
"""Rows of the feature and target moments: the training split (jetscale), or every row but the test split
(JSL's "pool": ThrustScalingLaws.ipynb standardises X and centres y on it)."""
GENERATE_COMMAND = "jetscale shower-generate --config <process, e.g. z_qq> --events N --out {path}"


class ShowerDataModule(L.LightningDataModule):
    """EFPs -> event shape at branching depth ``k`` of a snapshot file (docs/tasks.md#shower-data).

    ``snapshots``: the HDF5 file; ``n_features``: if given, must equal the EFP count (the model
    config reads it); ``theory``: "ridge" or None; ``batch_size`` None = full batch.
    """

    task = "shower"

    def __init__(self, snapshots: str | Path, k: int, n_train: int, n_test: int, seed: int, n_val: int = 0,
                 n_pool: int = 0, batch_size: int | None = None, dmax: int = 5, beta: float = 2.0,
                 target: str = "thrust", n_features: int | None = None, theory: str | None = "ridge",
                 generate: dict | None = None, features: Callable[..., dict] | None = None,
                 standardize_on: str = "train"):
        super().__init__()
        require_integers(("n_train", n_train, 1), ("n_test", n_test, 1), ("n_val", n_val, 0), ("n_pool", n_pool, 0),
                         ("k", k, 1))
        if target not in EVENT_SHAPES + APPROXIMATE_SHAPES:
            raise ValueError(f"data.target must be one of {list(EVENT_SHAPES + APPROXIMATE_SHAPES)}, got {target!r}")
        if standardize_on not in STANDARDIZE_ON:
            raise ValueError(f"data.standardize_on must be one of {list(STANDARDIZE_ON)}, got {standardize_on!r}")
        self.standardize_on = standardize_on
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
        if features is None:
            raise ValueError("data.features: give the function that makes a snapshot group's e+e- EFPs "
                             "(configs/data/shower.yaml: jetscale.features.efp_ee.snapshot_features)")
        self.features = features
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
        features = self.features(self.snapshots, self.k, self.dmax, self.beta)
        if self.target not in features:
            raise ValueError(f"data.target={self.target!r}: data.features gives no such target for {self.snapshots} "
                             f"(it gives {sorted(set(features) - {'efp', 'event_id'})}; thrust_scan comes with "
                             f"jetscale.features.special_efp.snapshot_features)")
        x, y = features["efp"], features[self.target]
        if self.n_features is not None and x.shape[1] != self.n_features:
            raise ValueError(f"{self.snapshots}: the d<={self.dmax} features are {x.shape[1]}, but "
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
                 "pool": len(self._order) - self.n_pool, "nontest": self.n_test}
        size = {"test": self.n_test, "val": self.n_val, "train": self.n_train, "pool": self.n_pool,
                "nontest": len(self._order) - self.n_test}
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
        """Mean and (population) standard deviation of the EFPs of ``standardize_on`` (training split, or every
        row but the test split): float64 [d] each.

        A spread at rounding level (:func:`~jetscale.data.moments.is_constant`: the EFPs that are
        constant, e.g. 1 and 2 for d = 0, 1 with beta = 2) is reported as exactly 0, which the nets map to a
        zero feature."""
        x, _ = self.split(self.standardize_on)
        mean, std = x.mean(axis=0), x.std(axis=0)
        return mean, np.where(is_constant(mean, std), 0.0, std)

    def target_moments(self) -> tuple[float, float]:
        """Mean and (population) standard deviation of the targets of ``standardize_on``."""
        _, y = self.split(self.standardize_on)
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
