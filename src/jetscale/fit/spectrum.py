"""Power laws of a covariance spectrum: the eigenvalue exponent alpha and the label projection's 2 alpha r.

Pure functions over arrays (the streaming and files are :mod:`jetscale.features.spectrum`; the choices behind
each fit, with the ``spectrum.json`` schema, are in docs/spectrum.md):

* :func:`fit_spectrum_exponent`: lambda_k = amplitude k^-alpha by least squares in log-log over ranks
  [k_min, k_max]; ``ci95`` the t-interval from the residual standard error.
* :func:`label_projection`: the label's power t_k = (v_k . c)^2 / lambda_k per mode and the fit of its tail
  sums S_k = A sum_{j=k}^K j^-(1+s), s = 2 alpha r, with a residual bootstrap (:func:`resample_target_power`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from jetscale.fit.intervals import percentile_ci
from jetscale.fit.loglog import loglog_fit

NOISE_RTOL = 1e-12
"""Eigenvalues <= lambda_1 * NOISE_RTOL are numerical noise (float64 eigvalsh errors are
~ d * 2.2e-16 * lambda_1) and never enter the default fit range."""
K_MIN = 2
N_BOOT = 200
"""Residual-bootstrap resamples of the label-projection fit."""
TAIL_EXPONENT_BOUNDS = (-0.95, 12.0)
"""Search interval of the tail-sum exponent s = 2 alpha r."""


def noise_floor(eigenvalues: np.ndarray) -> float:
    """lambda_1 * NOISE_RTOL: eigenvalues at or below it are numerical noise."""
    lam = np.asarray(eigenvalues, dtype=float)
    return float(max(lam[0], 0.0) * NOISE_RTOL) if lam.size else 0.0


def default_k_max(eigenvalues: np.ndarray) -> int:
    """min(d // 2, last rank with lambda_k above the :func:`noise_floor`)."""
    lam = np.asarray(eigenvalues, dtype=float)
    above = np.flatnonzero(lam > noise_floor(lam)) if lam.size and lam[0] > 0 else np.array([], int)
    return int(min(lam.size // 2, above[-1] + 1 if above.size else 0))


def fit_spectrum_exponent(eigenvalues, k_min: int = K_MIN, k_max: int | None = None) -> dict:
    """Fit lambda_k = amplitude * k^(-alpha) over ranks k_min..k_max (1-based, inclusive).

    ``eigenvalues`` in descending order. Least squares in log-log; ``ci95`` is the 95 %
    t-interval from the residual standard error (docs/spectrum.md). Returns
    ``{"alpha", "ci95": [lo, hi], "amplitude", "k_range": [k_min, k_max], "n_points",
    "stderr", "method"}``.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or np.any(np.diff(lam) > 1e-12 * max(abs(lam[0]), 1e-300)):
        raise ValueError("eigenvalues must be a 1-d array in descending order")
    k_max = default_k_max(lam) if k_max is None else int(k_max)
    k_min = int(k_min)
    if not 1 <= k_min < k_max <= lam.size or k_max - k_min + 1 < 3:
        raise ValueError(f"fit range k in [{k_min}, {k_max}] needs 1 <= k_min, k_max <= d = {lam.size} and at "
                         f"least 3 ranks (default k_max = min(d // 2, ranks above the noise floor) = "
                         f"{default_k_max(lam)})")
    k = np.arange(k_min, k_max + 1)
    values = lam[k - 1]
    if np.any(values <= 0):
        raise ValueError(f"eigenvalues at ranks {k[values <= 0][:5].tolist()} are <= 0; choose k_max below "
                         f"{k[values <= 0][0]}")
    ols = loglog_fit(k, values)
    return {"alpha": -ols["slope"], "ci95": [-ols["slope"] - ols["half"], -ols["slope"] + ols["half"]],
            "amplitude": ols["amplitude"], "k_range": [k_min, k_max], "n_points": int(k.size),
            "stderr": ols["stderr"],
            "method": "least squares of log(lambda_k) on log(k); t-interval from the residual standard error"}


def target_power(eigenvalues: np.ndarray, projections: np.ndarray) -> np.ndarray:
    """t_k = projections_k^2 / lambda_k for the ranks above the :func:`noise_floor` (docs/spectrum.md).

    ``projections`` [d]: v_k . c, the label cross-covariance on the eigenvectors (same order as
    the descending ``eigenvalues``). Returns the K leading t_k, K = ranks above the floor.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    proj = np.asarray(projections, dtype=float)
    if lam.shape != proj.shape:
        raise ValueError(f"eigenvalues {lam.shape} and projections {proj.shape} differ in shape")
    n_modes = int(np.count_nonzero(lam > noise_floor(lam))) if lam.size and lam[0] > 0 else 0
    return proj[:n_modes] ** 2 / lam[:n_modes]


def tail_sums(values: np.ndarray) -> np.ndarray:
    """S_k = sum_{j >= k} values_j (k = 1..K)."""
    return np.cumsum(np.asarray(values, dtype=float)[::-1])[::-1]


def _tail_exponent(t: np.ndarray, k_min: int, k_max: int) -> tuple[float, float]:
    """(s, A) minimising sum_k [log S_k - log(A sum_{j=k}^K j^-(1+s))]^2 over k in [k_min, k_max]."""
    from scipy.optimize import minimize_scalar

    ranks = np.arange(1, t.size + 1, dtype=float)
    log_s = np.log(tail_sums(t)[k_min - 1:k_max])

    def profile(s: float) -> tuple[float, float]:
        residual = log_s - np.log(tail_sums(ranks ** -(1.0 + s))[k_min - 1:k_max])
        log_a = residual.mean()
        return float(np.sum((residual - log_a) ** 2)), float(log_a)

    grid = np.linspace(*TAIL_EXPONENT_BOUNDS, 150)
    best = int(np.argmin([profile(s)[0] for s in grid]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    s = float(minimize_scalar(lambda v: profile(v)[0], bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-7}).x)
    return s, float(np.exp(profile(s)[1]))


def fit_target_power(t, k_min: int = K_MIN, k_max: int | None = None, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Fit the tail sums of the target power t_k (ranks 1..K) to S_k = A sum_{j=k}^K j^-(1+s).

    ``k_max`` defaults to K // 2. Returns ``{"exponent": s (= 2 alpha r), "ci95", "amplitude": A,
    "k_range", "n_modes": K, "n_boot", "method"}`` and, as ``samples``, the bootstrap values of s
    (dropped before writing JSON). docs/spectrum.md: why tail sums, and the bootstrap.
    """
    t = np.asarray(t, dtype=float)
    k_max = t.size // 2 if k_max is None else min(int(k_max), t.size)
    if t.ndim != 1 or np.any(t < 0) or not np.all(np.isfinite(t)):
        raise ValueError("target power must be a 1-d array of finite values >= 0")
    if not 1 <= k_min < k_max or k_max - k_min + 1 < 3 or tail_sums(t)[k_max - 1] <= 0:
        raise ValueError(f"tail-sum fit over k in [{k_min}, {k_max}] needs at least 3 ranks of the {t.size} "
                         f"modes and a positive tail")
    s, amplitude = _tail_exponent(t, k_min, k_max)
    samples = [_tail_exponent(resampled, k_min, k_max)[0]
               for resampled in resample_target_power(t, k_min, k_max, s, amplitude, n_boot, seed)]
    ci = percentile_ci(samples)
    return {"exponent": s, "ci95": ci, "amplitude": amplitude, "k_range": [k_min, k_max], "n_modes": int(t.size),
            "n_boot": len(samples), "samples": np.asarray(samples),
            "method": "least squares of log S_k, S_k = sum_{j>=k} t_j, on the truncated power-law sum "
                      "A sum_{j=k}^K j^-(1+s); residual bootstrap of log t_k over the modes"}


def resample_target_power(t, k_min: int, k_max: int, exponent: float, amplitude: float, n_boot: int,
                          seed: int = 0) -> Iterator[np.ndarray]:
    """``n_boot`` residual-bootstrap copies of t: modes k_min..K become A k^-(1+s) times a log residual of
    the fit range [k_min, k_max] drawn with replacement (docs/spectrum.md); nothing when < 2 residuals."""
    t = np.asarray(t, dtype=float)
    ranks = np.arange(1, t.size + 1, dtype=float)
    model = amplitude * ranks ** -(1.0 + exponent)
    fitted = slice(k_min - 1, min(k_max, t.size))
    positive = t[fitted] > 0
    pool = np.log(t[fitted][positive] / model[fitted][positive])
    rng = np.random.default_rng(seed)
    for _ in range(n_boot if pool.size >= 2 else 0):
        resampled = t.copy()
        resampled[k_min - 1:] = model[k_min - 1:] * np.exp(rng.choice(pool, size=t.size - k_min + 1))
        yield resampled


def label_projection(eigenvalues: np.ndarray, projections: np.ndarray, label_variance: float, n: int,
                     eigen_fit: dict, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """The ``label_projection`` entry of ``spectrum.json`` (docs/spectrum.md) from one spectrum's
    eigenvalues, the projections v_k . c of the label cross-covariance and its eigenvalue fit."""
    t = target_power(eigenvalues, projections)
    k_min, k_max = eigen_fit["k_range"]
    fit = fit_target_power(t, k_min, k_max, n_boot, seed)
    samples = fit.pop("samples")
    k = np.arange(k_min, fit["k_range"][1] + 1)
    direct = loglog_fit(k, np.clip(t[k - 1], np.finfo(float).tiny, None))
    explained = float(t.sum())
    noise = max(label_variance - explained, 0.0) / n
    tails = tail_sums(t)[k - 1]
    noisy = k[tails < 3.0 * noise * (t.size - k + 1)]
    alpha = float(eigen_fit["alpha"])
    r, r_ci = None, [None, None]
    if alpha > 0:
        r = fit["exponent"] / (2 * alpha)
        if samples.size:
            from scipy import stats

            rng = np.random.default_rng(seed)
            dof = max(eigen_fit["n_points"] - 2, 1)
            alphas = alpha + eigen_fit["stderr"] * stats.t.rvs(dof, size=samples.size, random_state=rng)
            ok = alphas > 0
            ratios = samples[ok] / (2 * alphas[ok])
            r_ci = percentile_ci(ratios)
    return {"target_power": t.tolist(), "label_variance": float(label_variance), "explained_variance": explained,
            "noise_level": noise, "noise_dominated_from": int(noisy[0]) if noisy.size else None,
            "fit": fit, "direct_fit": {"exponent": -direct["slope"],
                                       "ci95": [-direct["slope"] - direct["half"], -direct["slope"] + direct["half"]],
                                       "amplitude": direct["amplitude"], "k_range": fit["k_range"],
                                       "n_points": int(k.size), "stderr": direct["stderr"],
                                       "method": "least squares of log(t_k) on log(k); t-interval"},
            "alpha": alpha, "r": r, "r_ci95": r_ci}
