"""Figure 4's analysis: the toy model's simulated learning curves against the deterministic equivalent, and
the exponents of Bahri et al.'s four scaling regimes measured on the sweep grid with bootstrap CIs.
Estimators and choices: docs/paper.md, figure 4."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from jetscale.fit import percentile_ci
from jetscale.theory import bahri_regimes, classify_regime, rf_test_error


SEPARATION = 4.0
"""N / P (or P / N) at and above which a point is data-limited (width-limited)."""


MIN_POINTS = 3
"""Grid points a line needs to enter a regime's fit."""


EXPONENT_BOUNDS = (0.01, 6.0)
"""Search interval of a variance-limited exponent (a decaying E_g - E_g(inf): beta > 0)."""


TOY_KEYS = ("alpha", "r", "latent_dim", "noise", "ridge")


def theory_error(toy: dict, width: float, samples: float) -> float:
    """Deterministic-equivalent E_g of the toy model at (N, P) (:func:`jetscale.theory.rf_test_error`)."""
    return rf_test_error(toy["alpha"], toy["r"], width, samples, toy["ridge"], int(toy["latent_dim"]),
                         toy.get("noise", 0.0)).test_error


def seed_means(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (width, n_samples): ``mean``, ``sem`` (standard error over seeds; 0 for one seed),
    ``n_seeds`` and ``theory_loss``."""
    grouped = table.groupby(["width", "n_samples"])
    out = grouped["test_loss"].agg(mean="mean", std="std", n_seeds="count")
    out["sem"] = (out["std"] / np.sqrt(out["n_seeds"])).fillna(0.0)
    out["theory_loss"] = grouped["theory_loss"].first()
    return out.drop(columns="std").reset_index()


def theory_deviation(means: pd.DataFrame) -> dict:
    """Relative deviation mean/theory - 1 of every grid point: median and max of |deviation|, where
    the max is, and the same over the separated points (N/P >= SEPARATION or <= 1/SEPARATION)."""
    dev = means["mean"] / means["theory_loss"] - 1
    ratio = means["width"] / means["n_samples"]
    separated = (ratio >= SEPARATION) | (ratio <= 1 / SEPARATION)
    worst = int(np.argmax(np.abs(dev.to_numpy())))
    return {"median_abs": float(np.median(np.abs(dev))), "max_abs": float(np.max(np.abs(dev))),
            "max_at": {"width": int(means["width"].iloc[worst]), "n_samples": int(means["n_samples"].iloc[worst]),
                       "deviation": float(dev.iloc[worst])},
            "separated_median_abs": float(np.median(np.abs(dev[separated]))) if separated.any() else None,
            "separated_max_abs": float(np.max(np.abs(dev[separated]))) if separated.any() else None,
            "n_points": int(len(dev)), "n_separated": int(separated.sum())}


def regime_lines(table: pd.DataFrame, key: str) -> list[dict]:
    """The grid lines regime ``key`` is measured on: ``{"axis", "fixed_axis", "fixed", "x"}`` for every line of
    the sweep grid with at least ``MIN_POINTS`` points in the regime's separated region (module docstring)."""
    widths, samples = np.sort(table["width"].unique()), np.sort(table["n_samples"].unique())
    if key == "resolution_N":  # P >= SEP N, along N at fixed P
        lines = [("width", "n_samples", p, widths[widths <= p / SEPARATION]) for p in samples]
    elif key == "variance_P":  # P >= SEP N, along P at fixed N
        lines = [("n_samples", "width", n, samples[samples >= SEPARATION * n]) for n in widths]
    elif key == "resolution_P":  # N >= SEP P, along P at fixed N
        lines = [("n_samples", "width", n, samples[samples <= n / SEPARATION]) for n in widths]
    elif key == "variance_N":  # N >= SEP P, along N at fixed P
        lines = [("width", "n_samples", p, widths[widths >= SEPARATION * p]) for p in samples]
    else:
        raise ValueError(f"unknown regime {key!r}")
    return [{"axis": axis, "fixed_axis": fixed_axis, "fixed": float(fixed), "x": xs.astype(float)}
            for axis, fixed_axis, fixed, xs in lines if xs.size >= MIN_POINTS]


def line_grid(table: pd.DataFrame, line: dict) -> pd.DataFrame:
    """E_g on a line as a frame [seed, point], only the seeds present at every point."""
    rows = table[(table[line["fixed_axis"]] == line["fixed"]) & table[line["axis"]].isin(line["x"])]
    grid = rows.pivot_table(index="seed", columns=line["axis"], values="test_loss", aggfunc="mean")
    return grid.reindex(columns=line["x"]).dropna()


def resolution_exponent(lines: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Minus the common least-squares slope of log values on log x over lines (x, values), each with
    its own intercept; lines with < 2 distinct x or values <= 0 are left out; NaN if none is left."""
    dx, dy = [], []
    for x, values in lines:
        if np.unique(x).size < 2 or np.any(values <= 0):
            continue
        lx, ly = np.log(x), np.log(values)
        dx.append(lx - lx.mean())
        dy.append(ly - ly.mean())
    if not dx:
        return np.nan
    dx, dy = np.concatenate(dx), np.concatenate(dy)
    return float(-(dx @ dy) / (dx @ dx))


def variance_exponent(lines: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> float:
    """beta with D_i = B_line (lower_i^-beta - upper_i^-beta) on every line (lower, upper, D), least squares in
    log D with one B per line; D <= 0 and lines with < 2 distinct differences are left out; NaN if none is left."""
    kept = []
    for lower, upper, diff in lines:
        ok = diff > 0
        if np.unique(lower[ok]).size >= 2:
            kept.append((lower[ok], upper[ok], np.log(diff[ok])))
    if not kept:
        return np.nan

    def loss(beta: float) -> float:
        total = 0.0
        for lower, upper, log_d in kept:
            residual = log_d - np.log(lower ** -beta - upper ** -beta)
            total += float(np.sum((residual - residual.mean()) ** 2))
        return total

    grid = np.linspace(*EXPONENT_BOUNDS, 141)
    best = int(np.argmin([loss(b) for b in grid]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    return float(minimize_scalar(loss, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6}).x)


def pooled_exponent(kind: str, xs: list[np.ndarray], matrices: list[np.ndarray], points=None) -> float:
    """The regime estimator (module docstring) over lines with x values ``xs`` and E_g [seed, point]
    ``matrices``; ``points[j]`` selects (with repeats) line j's points (resolution) or differences (variance)."""
    parts = []
    for j, (x, matrix) in enumerate(zip(xs, matrices, strict=True)):
        if kind == "resolution":
            idx = np.arange(x.size) if points is None else points[j]
            parts.append((x[idx], matrix.mean(axis=0)[idx]))
        else:
            diffs = (matrix[:, :-1] - matrix[:, 1:]).mean(axis=0)
            idx = np.arange(x.size - 1) if points is None else points[j]
            parts.append((x[:-1][idx], x[1:][idx], diffs[idx]))
    return resolution_exponent(parts) if kind == "resolution" else variance_exponent(parts)


def bootstrap_exponent(kind: str, xs: list[np.ndarray], matrices: list[np.ndarray], n_boot: int,
                       seed: int = 0) -> tuple[list, int]:
    """Percentile 95 % CI of :func:`pooled_exponent` over resamples of the seeds (the same for every line), then
    of each line's points; and the number of resamples that gave a value."""
    rng = np.random.default_rng(seed)
    n_seeds = matrices[0].shape[0]
    samples = []
    for _ in range(n_boot):
        seeds = rng.integers(0, n_seeds, n_seeds)
        points = [rng.integers(0, x.size - (kind == "variance"), x.size - (kind == "variance")) for x in xs]
        value = pooled_exponent(kind, xs, [m[seeds] for m in matrices], points)
        if np.isfinite(value):
            samples.append(value)
    return percentile_ci(samples), len(samples)


def ridge_table(toy: dict, lines: list[dict]) -> dict | None:
    """The regime table (:func:`jetscale.theory.classify_regime`, docs/theory.md#four-regimes) at the points of
    resolution-limited-in-N ``lines``, the fixed ridge read as λ = N^(-l): the regimes met, the range of l and of
    the table's exponent, and ``ridge_below_floor`` (l >= alpha everywhere: the ridgeless prediction applies).
    None without lines, or where the table does not hold (ridge 0 or alpha <= 1)."""
    points = [(x, line["fixed"]) for line in lines for x in line["x"] if x > 1]
    if not points or toy["ridge"] <= 0 or toy["alpha"] <= 1:
        return None
    ls = [-np.log(toy["ridge"]) / np.log(n) for n, _ in points]
    regimes = [classify_regime(toy["alpha"], toy["r"], l, toy.get("noise", 0.0), n, p) for l, (n, p) in zip(ls, points)]
    betas = [-reg.n_exponent for reg in regimes]
    return {"regimes": sorted({reg.name for reg in regimes}), "ridge_exponent": [min(ls), max(ls)],
            "exponent": [min(betas), max(betas)], "ridge_below_floor": bool(min(ls) >= toy["alpha"])}


def measure_regimes(table: pd.DataFrame, toy: dict, n_boot: int = 200, seed: int = 0) -> dict:
    """Measured (with CI), theory-at-the-points and asymptotic exponent of each regime (module docstring)."""
    out = {}
    for key, regime in bahri_regimes(toy["alpha"], toy["r"]).items():
        lines = regime_lines(table, key)
        grids = [line_grid(table, line) for line in lines]
        seeds = sorted(set.intersection(*(set(g.index) for g in grids))) if grids else []
        if not seeds:
            lines = []
        matrices = [g.loc[seeds].to_numpy(dtype=float) for g in grids] if seeds else []
        entry = {**regime.as_dict(), "predicted": regime.exponent, "seeds": [int(s) for s in seeds],
                 "lines": [{"fixed": {line["fixed_axis"]: line["fixed"]}, "x": line["x"].tolist()} for line in lines]}
        if key == "resolution_N":
            entry["table"] = ridge_table(toy, lines)
        if not lines:
            out[key] = {**entry, "measured": None, "ci95": [None, None], "theory": None, "n_boot": 0,
                        "theory_in_ci": None, "predicted_in_ci": None,
                        "note": f"no grid line with >= {MIN_POINTS} points (all seeds) at a {SEPARATION:g}x "
                                "separation of N and P"}
            continue
        xs = [line["x"] for line in lines]
        theory = [np.array([[theory_error(toy, *((x, line["fixed"]) if line["axis"] == "width" else (line["fixed"], x)))
                             for x in line["x"]]]) for line in lines]
        ci, used = bootstrap_exponent(regime.kind, xs, matrices, n_boot, seed)
        theory_beta = pooled_exponent(regime.kind, xs, theory)
        inside = (lambda v: bool(ci[0] <= v <= ci[1])) if ci[0] is not None else (lambda v: None)
        out[key] = {**entry, "measured": pooled_exponent(regime.kind, xs, matrices), "ci95": ci, "n_boot": used,
                    "theory": theory_beta, "theory_in_ci": inside(theory_beta),
                    "predicted_in_ci": inside(regime.exponent)}
    return out


def toy_phase_numbers(table: pd.DataFrame, toy: dict, n_boot: int = 200, seed: int = 0) -> dict:
    """Every number of figure 4 (pure)."""
    missing = [k for k in TOY_KEYS if k not in toy]
    if missing:
        raise ValueError(f"toy settings lack {missing}; need {list(TOY_KEYS)}")
    needed = {"width", "n_samples", "seed", "test_loss", "theory_loss"}
    if not needed <= set(table.columns):
        raise ValueError(f"toy table lacks columns {sorted(needed - set(table.columns))}")
    means = seed_means(table)
    return {"toy": {k: toy[k] for k in TOY_KEYS}, "separation": SEPARATION,
            "n_runs": int(len(table)), "seeds": sorted(int(s) for s in table["seed"].unique()),
            "widths": sorted(int(v) for v in table["width"].unique()),
            "n_samples": sorted(int(v) for v in table["n_samples"].unique()),
            "deviation": theory_deviation(means), "regimes": measure_regimes(table, toy, n_boot, seed)}


def analyse(table: pd.DataFrame, toy: dict, sweep: str | None = None, n_boot: int = 200, seed: int = 0) -> dict:
    """Figure 4's numbers file from the toy sweep's table and its settings (module docstring)."""
    numbers = toy_phase_numbers(table, toy, n_boot, seed)
    means = seed_means(table)
    plot = {"means": {c: means[c].astype(float).tolist() for c in means.columns}, "toy": numbers["toy"],
            "regimes": numbers["regimes"]}
    return {"numbers": numbers, "plot": plot, "sweeps": [sweep] if sweep else []}
