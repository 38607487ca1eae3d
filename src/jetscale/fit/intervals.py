"""Percentile intervals over bootstrap samples, and Student t quantiles: the one place a 95 % interval is computed.

A parameter's interval is the [2.5, 97.5] percentiles of its finite resampled values; a curve's band is the
same, pointwise over the resampled curves. Without samples the bounds are ``None`` (JSON null) or NaN.
A t-interval (a slope's, a mean over seeds) is its standard error times :func:`t_quantile`.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.95


def tails(level: float = LEVEL) -> tuple[float, float]:
    """The two percentiles of a central ``level`` interval: (2.5, 97.5) for 0.95."""
    tail = 100 * (1 - level) / 2
    return tail, 100 - tail


def t_quantile(dof: int, level: float = LEVEL) -> float:
    """The Student t quantile of a central ``level`` interval with ``dof`` degrees of freedom (2.78 for 4 at 0.95)."""
    from scipy import stats  # here, not at import: `jetscale --help` stays fast

    return float(stats.t.ppf(0.5 + level / 2, dof))


def percentile_ci(samples, level: float = LEVEL) -> list:
    """``[lo, hi]`` of the finite ``samples``; ``[None, None]`` when there are none."""
    values = np.asarray(samples, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return [None, None]
    lo, hi = np.percentile(values, tails(level))
    return [float(lo), float(hi)]


def percentile_band(curves, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise ``(lo, hi)`` over ``curves`` [n samples, n points] (ignoring NaN); NaN without samples."""
    curves = np.asarray(curves, dtype=float)
    if curves.ndim != 2 or len(curves) == 0:
        n = curves.shape[-1] if curves.ndim == 2 else 0
        return np.full(n, np.nan), np.full(n, np.nan)
    lo, hi = np.nanpercentile(curves, tails(level), axis=0)
    return lo, hi
