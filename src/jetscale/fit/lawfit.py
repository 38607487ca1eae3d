"""A Huber fit of a scaling law that keeps its bootstrap resamples: every interval, band and derived quantity
of a fit comes from one set of resamples, in memory (:class:`LawFit`) and in its JSON form (``fits/<law>.json``).

JSON form (:meth:`LawFit.to_json`; :meth:`LawFit.from_json` reads it back)::

    {"law": "data", "params": {"E": .., "B": .., "beta": ..}, "ci95": {"E": [lo, hi], ...},
     "n_points": int, "loss": float, "n_boot": resamples asked for,
     "resamples": {"E": [...], "B": [...], "beta": [...]}}   # the usable resamples, one list per parameter

``ci95`` bounds are ``null`` without usable resamples (``n_boot=0``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jetscale.fit.bootstrap import bootstrap_thetas
from jetscale.fit.huber import fit_huber, log_inputs, to_params
from jetscale.fit.intervals import LEVEL, percentile_band, percentile_ci
from jetscale.fit.laws import Law, get_law, predict
from jetscale.fit.table import LOSS_COL, validate_for_law


@dataclass(frozen=True)
class LawFit:
    """The best fit of ``law`` and its usable bootstrap resamples (``resamples``: one row per resample, the
    law's parameters in ``law.param_names`` order)."""

    law: Law
    params: dict[str, float]
    resamples: np.ndarray
    n_points: int
    n_boot: int
    loss: float

    @property
    def ci95(self) -> dict[str, list]:
        samples = self.resample_params()
        return {name: percentile_ci([s[name] for s in samples]) for name in self.law.param_names}

    def predict(self, data) -> np.ndarray:
        return predict(self.law, self.params, data)

    def resample_params(self) -> list[dict[str, float]]:
        return [dict(zip(self.law.param_names, map(float, row))) for row in self.resamples]

    def resample_predictions(self, data) -> np.ndarray:
        """Predictions of every resample: shape (n resamples, n points)."""
        n = len(np.atleast_1d(np.asarray(data[self.law.columns[0]], dtype=float)))
        rows = [predict(self.law, p, data) for p in self.resample_params()]
        return np.array(rows, dtype=float).reshape(-1, n)

    def band(self, data, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise percentile band of the fitted curve over ``data`` (NaN without resamples)."""
        return percentile_band(self.resample_predictions(data), level)

    def derived(self, fn: Callable[[dict], float], level: float = LEVEL) -> tuple[float, list]:
        """Value of ``fn(params)`` at the fit and its percentile interval over the resamples."""
        with np.errstate(all="ignore"):
            samples = [fn(p) for p in self.resample_params()]
            return float(fn(self.params)), percentile_ci(samples, level)

    def summary(self) -> dict:
        """law, params, ci95, n_points, bootstrap resamples asked for and usable (no resamples)."""
        return {"law": self.law.name, "params": dict(self.params), "ci95": self.ci95,
                "n_points": self.n_points, "n_boot": self.n_boot, "n_boot_ok": int(len(self.resamples))}

    def to_json(self) -> dict:
        """The JSON form (module docstring)."""
        return {"law": self.law.name, "params": dict(self.params), "ci95": self.ci95, "n_points": self.n_points,
                "loss": self.loss, "n_boot": self.n_boot,
                "resamples": {name: self.resamples[:, i].tolist() for i, name in enumerate(self.law.param_names)}}

    @classmethod
    def from_json(cls, payload: Mapping, source: str = "a fit") -> "LawFit":
        """Read :meth:`to_json`'s form back; a payload without resamples is an error naming ``source``."""
        law = get_law(payload["law"])
        if "resamples" not in payload:
            raise ValueError(f"{source}: fit of law {law.name!r} has no 'resamples' (written by an older "
                             f"`jetscale fit`); refit it")
        columns = [np.asarray(payload["resamples"][name], dtype=float) for name in law.param_names]
        resamples = np.column_stack(columns) if columns[0].size else np.empty((0, len(columns)))
        return cls(law=law, params={k: float(v) for k, v in payload["params"].items()}, resamples=resamples,
                   n_points=int(payload["n_points"]), n_boot=int(payload["n_boot"]), loss=float(payload["loss"]))


def fit_rows(rows: pd.DataFrame, law: str | Law, loss_col: str = LOSS_COL, n_boot: int = 1000,
             seed: int = 0) -> LawFit:
    """Fit ``law`` to every row of ``rows`` (seeds are not averaged) and refit ``n_boot`` row resamples.

    Raises :class:`~jetscale.fit.table.FitInputError` for rows that cannot be fitted.
    """
    law = get_law(law)
    validate_for_law(rows, law, loss_col)
    log_x = log_inputs(law, rows)
    log_y = np.log(rows[loss_col].to_numpy(dtype=float))
    best = fit_huber(law, log_x, log_y)
    thetas = bootstrap_thetas(log_x, log_y, best.theta, n_boot, seed) if n_boot > 0 else []
    resamples = np.array([[to_params(law, t)[name] for name in law.param_names] for t in thetas],
                         dtype=float).reshape(-1, len(law.param_names))
    return LawFit(law=law, params=to_params(law, best.theta), resamples=resamples, n_points=int(len(rows)),
                  n_boot=int(n_boot), loss=float(best.loss))
