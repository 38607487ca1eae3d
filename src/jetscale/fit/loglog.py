"""Straight lines in log-log coordinates: ordinary least squares with the slope's t-interval."""

from __future__ import annotations

import numpy as np

from jetscale.fit.intervals import t_quantile


def line_fit(x, y) -> dict:
    """Least squares of ``y`` on ``x``: ``{"slope", "intercept", "stderr", "dof", "half"}``; ``half`` is the
    half-width of the slope's 95 % t-interval from the residual standard error (NaN with fewer than 3 points)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    dof = x.size - 2
    if dof < 1:
        return {"slope": float(slope), "intercept": float(intercept), "stderr": float("nan"), "dof": int(dof),
                "half": float("nan")}
    residual = y - (intercept + slope * x)
    stderr = float(np.sqrt(residual @ residual / dof / np.sum((x - x.mean()) ** 2)))
    return {"slope": float(slope), "intercept": float(intercept), "stderr": stderr, "dof": int(dof),
            "half": t_quantile(dof) * stderr}


def loglog_fit(k, values) -> dict:
    """:func:`line_fit` of log(values) on log(k), with ``amplitude`` = exp(intercept): values ~ amplitude k^slope."""
    fit = line_fit(np.log(np.asarray(k, dtype=float)), np.log(np.asarray(values, dtype=float)))
    return {**fit, "amplitude": float(np.exp(fit["intercept"]))}
