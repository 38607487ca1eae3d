"""Bootstrap confidence intervals for a Huber scaling-law fit.

Resample the rows with replacement (``numpy.random.default_rng(seed)``), refit each
resample with one L-BFGS-B run started from the best fit of the full data (not the
whole start grid -- for speed), and report the 2.5 and 97.5 percentiles of each
parameter as its 95 % interval (percentile bootstrap, as in Besiroglu et al. 2024,
who used 4000 resamples). Quiet: nothing is printed.
"""

from __future__ import annotations

import warnings

import numpy as np

from jetscale.fit.huber import DELTA, minimize_from, quiet_numerics, to_params
from jetscale.fit.laws import Law


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


def bootstrap_ci(law: Law, log_x: np.ndarray, log_y: np.ndarray, theta0: np.ndarray, n_boot: int = 1000,
                 seed: int = 0, level: float = 0.95, delta: float = DELTA) -> dict[str, list]:
    """Percentile bootstrap interval ``{name: [lo, hi]}`` for every parameter of ``law``.

    ``n_boot=0`` means no bootstrap: every bound is ``None`` (``null`` in JSON).
    """
    if n_boot <= 0:
        return {name: [None, None] for name in law.param_names}
    thetas = bootstrap_thetas(log_x, log_y, np.asarray(theta0, dtype=float), n_boot, seed, delta)
    if len(thetas) == 0:
        return {name: [None, None] for name in law.param_names}
    samples = [to_params(law, t) for t in thetas]
    tail = 100 * (1 - level) / 2
    out = {}
    for name in law.param_names:
        lo, hi = np.percentile([s[name] for s in samples], [tail, 100 - tail])
        out[name] = [float(lo), float(hi)]
    return out
