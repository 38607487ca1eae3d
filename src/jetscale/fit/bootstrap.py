"""Bootstrap confidence intervals for a Huber scaling-law fit.

Resample the rows with replacement (``numpy.random.default_rng(seed)``), refit each
resample with one L-BFGS-B run started from the best fit of the full data (not the
whole start grid -- for speed); :class:`jetscale.fit.lawfit.LawFit` keeps the resamples and reports
the 2.5 and 97.5 percentiles of each parameter as its 95 % interval (percentile bootstrap, as in
Besiroglu et al. 2024, who used 4000 resamples). Quiet: nothing is printed.
"""

from __future__ import annotations

import warnings

import numpy as np

from jetscale.fit.huber import DELTA, minimize_from, quiet_numerics


def bootstrap_thetas(log_x: np.ndarray, log_y: np.ndarray, theta0: np.ndarray, n_boot: int,
                     seed: int = 0, delta: float = DELTA) -> np.ndarray:
    """Refit ``n_boot`` row resamples from ``theta0``; returns shape (n_ok, n_params).

    Resamples whose refit is not finite are dropped (with a warning).
    """
    rng = np.random.default_rng(seed)
    n = log_y.size
    thetas = []
    with quiet_numerics():
        for _ in range(n_boot):
            idx = rng.integers(0, n, size=n)
            res = minimize_from(theta0, log_x[:, idx], log_y[idx], delta)
            if np.isfinite(res.fun) and np.all(np.isfinite(res.x)):
                thetas.append(res.x)
    if len(thetas) < n_boot:
        warnings.warn(f"bootstrap: {n_boot - len(thetas)} of {n_boot} refits were not finite and are ignored",
                      stacklevel=2)
    return np.array(thetas).reshape(-1, theta0.size)
