"""Sample complexity P* of the random hierarchy model from learning curves, and its collapse across grammars.

P* is the training-set size at which the test error (misclassification rate, not the loss) first falls below
``threshold``: by default :data:`PAPER_ERROR` = 10 %, the ε* of Cagnetta et al. (arXiv:2307.02129, PRX 14,
031001, their sample-complexity plots). :func:`synonym_collapse` tests their law P* ∝ n_c·m^L on grammars that differ
in m (or L). Definitions and the measured collapse: docs/tasks.md#sample-complexity.
"""

from __future__ import annotations

import numpy as np

from jetscale.fit.intervals import LEVEL, t_quantile
from jetscale.fit.loglog import loglog_fit

PAPER_ERROR = 0.10  # Cagnetta et al.'s threshold ε* on the test error (arXiv:2307.02129)


def chance_error(n_c: int) -> float:
    """Test error of a guess among ``n_c`` classes: 1 − 1/n_c."""
    return 1.0 - 1.0 / n_c


def threshold_of(n_c: int, chance_fraction: float | None = None) -> float:
    """The crossing's threshold: :data:`PAPER_ERROR`, or ``chance_fraction`` × :func:`chance_error` when given
    (jetscale's earlier convention was half of chance, ``chance_fraction`` = 0.5)."""
    return PAPER_ERROR if chance_fraction is None else chance_fraction * chance_error(n_c)


def error_crossing(n_samples, test_errors, threshold: float = PAPER_ERROR) -> float:
    """Training-set size P at which the test error first falls below ``threshold``.

    ``(n_samples, test_errors)`` points (several seeds per P allowed: they are averaged) are sorted by P; the
    crossing is log-linearly interpolated between the last P above the threshold and the next P below it, the
    first time the mean error goes below it.  NaN when the errors do not bracket the threshold.
    """
    p, err = np.asarray(n_samples, dtype=float).ravel(), np.asarray(test_errors, dtype=float).ravel()
    if p.shape != err.shape or p.size == 0 or (p <= 0).any():
        raise ValueError(f"need equally many positive n_samples and test_errors, got {p.shape} and {err.shape}")
    sizes = np.unique(p)
    mean = np.array([err[p == size].mean() for size in sizes])
    below = np.flatnonzero(mean < threshold)
    if not below.size or below[0] == 0:
        return float("nan")
    i = below[0]
    (p0, p1), (e0, e1) = sizes[i - 1:i + 1], mean[i - 1:i + 1]
    t = (e0 - threshold) / (e0 - e1)
    return float(np.exp(np.log(p0) + t * (np.log(p1) - np.log(p0))))


def _log_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """Geometric mean of ``values`` and its t-interval in log (NaN bounds for a single value)."""
    logs = np.log(values)
    centre = float(np.exp(logs.mean()))
    if logs.size < 2:
        return centre, float("nan"), float("nan")
    half = t_quantile(logs.size - 1, level) * logs.std(ddof=1) / np.sqrt(logs.size)
    return centre, float(np.exp(logs.mean() - half)), float(np.exp(logs.mean() + half))


def grammar_crossings(curve: dict, chance_fraction: float | None = None) -> dict:
    """One grammar's learning curves ``curve`` = {m, n_c, L, n_samples [k], test_error [k], seed [k]} ->
    per-seed crossings of :func:`threshold_of`, their geometric mean P* with its 95 % t-interval over seeds, the
    law n_c·m^L, the ratio P*/(n_c·m^L), and the seed-averaged curve against x = P/(n_c·m^L). A seed whose errors
    do not bracket the threshold is refused, naming the grammar, the seed and its errors."""
    m, n_c, depth = int(curve["m"]), int(curve["n_c"]), int(curve["L"])
    threshold = threshold_of(n_c, chance_fraction)
    p, err, seeds = (np.asarray(curve[key], dtype=float) for key in ("n_samples", "test_error", "seed"))
    law = n_c * m ** depth
    crossings = {}
    for seed in np.unique(seeds):
        mine = seeds == seed
        crossing = error_crossing(p[mine], err[mine], threshold)
        if not np.isfinite(crossing):
            raise ValueError(f"RHM m={m}, n_c={n_c}, L={depth}, seed {int(seed)}: the test errors "
                             f"{np.round(err[mine][np.argsort(p[mine])], 3).tolist()} at P = "
                             f"{np.sort(p[mine]).astype(int).tolist()} do not cross {threshold:g}; widen the P range")
        crossings[int(seed)] = crossing
    p_star, low, high = _log_interval(np.array(list(crossings.values())))
    sizes = np.unique(p)
    return {"m": m, "n_c": n_c, "L": depth, "law": law, "threshold": threshold, "crossings": crossings,
            "p_star": p_star, "p_star_ci": [low, high], "ratio": p_star / law, "ratio_ci": [low / law, high / law],
            "x": (sizes / law).tolist(), "mean_error": [float(err[p == size].mean()) for size in sizes],
            "min_error": [float(err[p == size].min()) for size in sizes],
            "max_error": [float(err[p == size].max()) for size in sizes]}


def synonym_collapse(curves: list[dict], chance_fraction: float | None = None) -> dict:
    """The law P* = c·n_c·m^L tested on several grammars' ``curves`` (each as :func:`grammar_crossings` takes).

    Returns the grammars' crossings, the collapse (geometric mean c of P*/(n_c·m^L) and its spread max/min over
    grammars) and the exponent b of P* ∝ (n_c·m^L)^b fitted to every seed's crossing (the law: b = 1), with its
    95 % t-interval, and b·L (the exponent in m, the law's L) when all grammars share n_c and L. Needs at least
    two grammars of different n_c·m^L.
    """
    grammars = sorted((grammar_crossings(curve, chance_fraction) for curve in curves), key=lambda g: g["law"])
    laws = [g["law"] for g in grammars]
    if len(set(laws)) < 2:
        raise ValueError(f"the collapse needs grammars of at least two different n_c·m^L, got {laws}")
    x = [g["law"] for g in grammars for _ in g["crossings"]]
    y = [crossing for g in grammars for crossing in g["crossings"].values()]
    fit = loglog_fit(x, y)
    ratios = np.array([g["ratio"] for g in grammars])
    same = len({(g["n_c"], g["L"]) for g in grammars}) == 1
    return {
        "threshold_rule": "paper: test error 0.1" if chance_fraction is None else f"{chance_fraction:g} x chance",
        "observable": "test_error",
        "grammars": grammars,
        "collapse": {"c": float(np.exp(np.log(ratios).mean())), "spread": float(ratios.max() / ratios.min()),
                     "ratios": ratios.tolist()},
        "exponent": {"of": "P* vs n_c·m^L", "b": fit["slope"], "half": fit["half"],
                     "ci": [fit["slope"] - fit["half"], fit["slope"] + fit["half"]],
                     "amplitude": fit["amplitude"], "n_points": len(y),
                     "b_m": fit["slope"] * grammars[0]["L"] if same else None},
    }
