"""The numbers behind the paper figures: a scaling-law fit that keeps its bootstrap resamples,
seed statistics, percentile intervals and how numbers are written in the report.

:func:`jetscale.fit.fit_law` returns parameters and their CIs. The figures also need the bootstrap
*resamples*: for the band of a fitted curve, for derived quantities (a = beta / (alpha + beta), a
compute-optimal N), for the CI of an extrapolated prediction. :func:`fit_rows` therefore fits with
the same pieces (:func:`~jetscale.fit.fit_huber`, :func:`~jetscale.fit.bootstrap_thetas`) and keeps
the resamples in a :class:`LawFit`, so every CI and band of a figure comes from one set of resamples.

Conventions (stated once): every row is a point (seeds are not averaged in fits); plots show the
seed mean with its standard error (``sem`` = std / sqrt(n seeds), 0 for a single seed); intervals
are 95 % percentile intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jetscale.fit import bootstrap_thetas, fit_huber, get_law, log_inputs, predict, to_params, validate_for_law
from jetscale.fit.laws import Law
from jetscale.fit.table import distinct_values

LEVEL = 0.95
LOSS_COL = "test_loss"


def percentile_ci(samples, level: float = LEVEL) -> list:
    """``[lo, hi]`` percentile interval of the finite ``samples``; ``[None, None]`` when there are none."""
    values = np.asarray(samples, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return [None, None]
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return [float(lo), float(hi)]


@dataclass(frozen=True)
class LawFit:
    """A Huber fit of ``law`` and its bootstrap resamples (``thetas``: internal vectors, one per row)."""

    law: Law
    params: dict[str, float]
    ci95: dict[str, list]
    thetas: np.ndarray
    n_points: int
    n_boot: int

    def predict(self, data) -> np.ndarray:
        return predict(self.law, self.params, data)

    def resample_params(self) -> list[dict[str, float]]:
        return [to_params(self.law, theta) for theta in self.thetas]

    def resample_predictions(self, data) -> np.ndarray:
        """Predictions of every resample: shape (n resamples, n points)."""
        n = len(np.atleast_1d(np.asarray(data[self.law.columns[0]], dtype=float)))
        rows = [predict(self.law, p, data) for p in self.resample_params()]
        return np.array(rows, dtype=float).reshape(-1, n)

    def band(self, data, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise percentile band of the fitted curve over ``data`` (NaN without resamples)."""
        preds = self.resample_predictions(data)
        if len(preds) == 0:
            n = preds.shape[1]
            return np.full(n, np.nan), np.full(n, np.nan)
        tail = 100 * (1 - level) / 2
        lo, hi = np.nanpercentile(preds, [tail, 100 - tail], axis=0)
        return lo, hi

    def derived(self, fn: Callable[[dict], float], level: float = LEVEL) -> tuple[float, list]:
        """Value of ``fn(params)`` at the fit and its percentile interval over the resamples."""
        with np.errstate(all="ignore"):
            samples = [fn(p) for p in self.resample_params()]
            return float(fn(self.params)), percentile_ci(samples, level)

    def summary(self) -> dict:
        """JSON-able: law, params, ci95, n_points, bootstrap resamples asked for and usable."""
        return {"law": self.law.name, "params": dict(self.params), "ci95": dict(self.ci95),
                "n_points": self.n_points, "n_boot": self.n_boot, "n_boot_ok": int(len(self.thetas))}


def fit_rows(rows: pd.DataFrame, law: str | Law, loss_col: str = LOSS_COL, n_boot: int = 200,
             seed: int = 0) -> LawFit:
    """Fit ``law`` to every row of ``rows`` (as :func:`jetscale.fit.fit_law`), keeping the resamples."""
    law = get_law(law)
    validate_for_law(rows, law, loss_col)
    log_x = log_inputs(law, rows)
    log_y = np.log(rows[loss_col].to_numpy(dtype=float))
    best = fit_huber(law, log_x, log_y)
    thetas = (bootstrap_thetas(log_x, log_y, best.theta, n_boot, seed) if n_boot > 0
              else np.empty((0, best.theta.size)))
    samples = [to_params(law, t) for t in thetas]
    ci95 = {name: percentile_ci([s[name] for s in samples]) for name in law.param_names}
    return LawFit(law=law, params=to_params(law, best.theta), ci95=ci95, thetas=thetas,
                  n_points=int(len(rows)), n_boot=int(n_boot))


def seed_stats(rows: pd.DataFrame, by: str | Sequence[str], loss_col: str = LOSS_COL) -> pd.DataFrame:
    """Per distinct ``by``: ``mean``, ``std``, ``sem`` (0 for one seed) and ``n`` of ``loss_col``, sorted by ``by``."""
    by = [by] if isinstance(by, str) else list(by)
    stats = rows.groupby(by)[loss_col].agg(mean="mean", std="std", n="count").reset_index()
    stats["std"] = stats["std"].fillna(0.0)
    stats["sem"] = stats["std"] / np.sqrt(stats["n"])
    return stats.sort_values(by).reset_index(drop=True)


def distinct(rows: pd.DataFrame, column: str) -> list:
    """Sorted distinct non-null values of ``column`` (empty when the column is missing)."""
    return distinct_values(rows[column]) if column in rows.columns else []


# ------------------------------------------------------------------ writing numbers

def fmt(value, digits: int = 3) -> str:
    """A number for the report: ``digits`` significant digits, plain from 1e-3 to 1e5 (``8000``, ``0.495``),
    else ``1.97e+05``; "n/a" for None or non-finite."""
    if value is None or not np.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}g}"
    return f"{float(text):g}" if 1e-3 <= abs(value) < 1e5 else text


def fmt_ci(value, ci, digits: int = 3) -> str:
    """``0.512 [0.471, 0.553]``; the interval is "[n/a]" when it is missing."""
    lo, hi = ci if ci is not None else (None, None)
    bounds = "n/a" if lo is None or hi is None else f"{fmt(lo, digits)}, {fmt(hi, digits)}"
    return f"{fmt(value, digits)} [{bounds}]"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
