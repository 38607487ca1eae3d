"""The ``shower`` task: regress an event shape of a shower snapshot on its EFPs (:mod:`jetscale.data.shower_dataset`).

:func:`evaluate` gives ``test_loss`` (test MSE, no ridge term), ``test_r2`` and ``test_variance``;
:func:`theory_loss` (``data.theory: ridge``) predicts the ridge's test MSE from the spectrum of the theory
pool with the toy model's deterministic equivalent. Method: docs/tasks.md#shower-metrics-and-theory.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from jetscale.features.covariance import CovarianceAccumulator, eigh_desc, standardized_target
from jetscale.fit.spectrum import target_power
from jetscale.models.inference import evaluation
from jetscale.theory.random_features import spectrum_test_error

log = logging.getLogger(__name__)


def ridge_theory(x_pool: np.ndarray, y_pool: np.ndarray, width: int, n_train: int, ridge: float) -> dict:
    """Predicted test MSE of ridge on the first ``width`` standardised features (method: docs/tasks.md).

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


def predict(net, datamodule, split: str = "test") -> np.ndarray:
    """The net's predictions float64 [n] of the targets of ``split`` (in eval mode)."""
    x, _ = datamodule.split(split)
    with evaluation(net):
        return net(torch.as_tensor(x)).double().cpu().numpy()


def evaluate(net, datamodule) -> dict[str, float]:
    """``test_loss`` (test MSE), ``test_r2`` and ``test_variance`` of a trained net (module docstring)."""
    _, y = datamodule.split("test")
    mse = float(np.mean((predict(net, datamodule, "test") - y) ** 2))
    variance = float(y.var())
    return {"test_loss": mse, "test_r2": 1.0 - mse / variance if variance > 0 else float("nan"),
            "test_variance": variance}


def theory_loss(datamodule, width: int, ridge: float) -> float | None:
    """Predicted ``test_loss`` of ridge on the first ``width`` features (method: docs/tasks.md); None when
    ``data.theory`` is null or the prediction diverges."""
    if datamodule.theory is None:
        return None
    x, y = datamodule.split("pool")
    return ridge_theory(x, y, width, datamodule.n_train, ridge)["test_mse"]
