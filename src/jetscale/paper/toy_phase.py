"""Figure 4: the toy model's phase diagram -- simulated learning curves against the deterministic
equivalent across width N and samples P, the four scaling regimes of Bahri, Dyer, Kaplan, Lee &
Sharma ("Explaining neural scaling laws", arXiv:2102.06701), and measured vs predicted exponents.

Input: a toy sweep's results table (one row per run: ``width`` N, ``n_samples`` P, ``seed``,
``test_loss`` = the excess test error E_g of the closed-form ridge readout, ``theory_loss`` = its
deterministic equivalent) and the toy settings ``{"alpha", "r", "latent_dim", "noise", "ridge"}``.

Regimes (:func:`jetscale.theory.bahri_regimes`). A point is *width-limited* when P >= SEPARATION * N
and *data-limited* when N >= SEPARATION * P. Each regime is measured on every line of the sweep grid
that has at least ``MIN_POINTS`` points inside its region, with one exponent shared by the lines
and one amplitude per line:

=====================  ================================  ===========================  ======================
regime                 lines                             estimator                    predicted exponent
=====================  ================================  ===========================  ======================
resolution-limited N   each P, points with N <= P / SEP  slope of log E_g on log N    2 alpha min(r, 1/2)
variance-limited P     each N, points with P >= SEP N    differences, below           1
resolution-limited P   each N, points with P <= N / SEP  slope of log E_g on log P    2 alpha min(r, 1)
variance-limited N     each P, points with N >= SEP P    differences, below           1
=====================  ================================  ===========================  ======================

Resolution-limited: E_g itself is the power law (E_g(inf, inf) = 0 without label noise), so beta is
minus the least-squares slope of log mean_seeds E_g on log x (an intercept per line). Variance-limited:
E_g(x) - E_g(inf) is the power law and E_g(inf) is not measured, so it is removed by differencing
consecutive grid points, D_i = mean_seeds [E_g(x_i) - E_g(x_i+1)] = B (x_i^-beta - x_i+1^-beta), and beta
is fitted to log D_i (one-dimensional least squares, B per line in closed form; D_i <= 0 left out). The
differences are taken within each seed: a seed fixes the features F and the nested training set, so
its own E_g(inf) cancels.

CIs: ``n_boot`` bootstrap resamples of the seeds (the same for all lines), then of the points of each
line (differences for the variance regimes), refitted; lines left with fewer than 2 distinct points
drop out of that resample; percentile 95 % intervals. With few seeds and short lines these intervals
are wide, and they should be: single-seed estimates of a variance-limited exponent scatter by ~0.5.
Variance-limited in N is the hardest: E_g(N) - E_g(inf) has a zero-mean cross term ~ N^-1/2 per seed
(the N-feature predictor fluctuates around the N = inf one, which is not the target) on top of the
mean ~ 1/N, so its seed average converges slowly. ``theory`` is the same estimator applied to the
deterministic equivalent
at the same points -- what a sweep of this size should measure; ``predicted`` is the asymptotic
exponent, which finite ratios N/P and the finite latent dimension M approach slowly.
"""

from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from jetscale.fit import percentile_ci
from jetscale.plots.spectrum import ci_text
from jetscale.plots.style import colors, label
from jetscale.theory import bahri_regimes, rf_test_error

SEPARATION = 4.0
"""N / P (or P / N) at and above which a point is data-limited (width-limited)."""
N_DENSE = 80
"""Points per theory line."""
MIN_POINTS = 3
"""Grid points a line needs to enter a regime's fit."""
EXPONENT_BOUNDS = (0.01, 6.0)
"""Search interval of a variance-limited exponent (a decaying E_g - E_g(inf): beta > 0)."""
TOY_KEYS = ("alpha", "r", "latent_dim", "noise", "ridge")
AXES = {"width": "N", "n_samples": "P"}


# --------------------------------------------------------------------------- analysis (pure)


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


# --------------------------------------------------------------------------- figure


def _draw_curves(ax, means: pd.DataFrame, toy: dict, axis: str) -> None:
    """E_g against ``axis`` (one colour per value of the other axis): simulation points, dense theory lines."""
    other = "n_samples" if axis == "width" else "width"
    values = np.sort(means[other].unique())
    xs = means[axis]
    dense = np.geomspace(xs.min() / 1.3, xs.max() * 1.3, N_DENSE)
    for color, value in zip(colors(len(values)), values, strict=True):
        rows = means[means[other] == value].sort_values(axis)
        ax.errorbar(rows[axis], rows["mean"], yerr=rows["sem"], fmt="o", ms=3.5, color=color,
                    label=f"{AXES[other]} = {value:g}")
        pairs = [(x, value) if axis == "width" else (value, x) for x in dense]
        ax.plot(dense, [theory_error(toy, n, p) for n, p in pairs], "-", color=color, lw=1.1)
        ax.axvline(value, color=color, lw=0.6, ls=":")  # N = P for this curve: the interpolation peak
    ax.set(xscale="log", yscale="log", xlabel=label(axis), ylabel=label("test_loss", "toy"))
    handles = ax.get_legend_handles_labels()[0] + [
        plt.Line2D([], [], color="0.3", label="deterministic equivalent"),
        plt.Line2D([], [], color="0.3", ls=":", lw=0.6, label=f"{AXES[axis]} = {AXES[other]}")]
    ax.legend(handles=handles, loc="lower left", ncol=2)


def _region_text(regimes: dict, first: str, second: str) -> str:
    a, b = regimes[first], regimes[second]
    return f"  {a['name']}, $\\beta$ = {a['predicted']:.2f}\n  {b['name']}, $\\beta$ = {b['predicted']:.2f}"


def _draw_phase(ax, means: pd.DataFrame, toy: dict, regimes: dict) -> None:
    """The (N, P) plane: data- and width-limited regions, iso-loss contours of the theory, the sweep's
    points and the lines the exponents are measured on."""
    widths, samples = means["width"], means["n_samples"]
    n_lim = (widths.min() / 1.6, widths.max() * 1.6)
    p_lim = (samples.min() / 1.6, samples.max() * 1.6)
    lo, hi = min(n_lim[0], p_lim[0]), max(n_lim[1], p_lim[1])
    diag = np.geomspace(lo, hi, 2)
    palette = colors(4)
    width_limited = f"width-limited ($P \\geq {SEPARATION:g}N$):\n" + _region_text(regimes, "resolution_N", "variance_P")
    data_limited = f"data-limited ($N \\geq {SEPARATION:g}P$):\n" + _region_text(regimes, "resolution_P", "variance_N")
    ax.fill_between(diag, diag * SEPARATION, hi * SEPARATION ** 2, color="0.55", alpha=0.18, lw=0, label=width_limited)
    ax.fill_between(diag, lo / SEPARATION ** 2, diag / SEPARATION, color="0.55", alpha=0.08, lw=0, hatch="///",
                    label=data_limited)
    ax.plot(diag, diag, "k--", lw=1, label="$N = P$ (interpolation threshold)")
    grid_n, grid_p = np.geomspace(*n_lim, 40), np.geomspace(*p_lim, 40)
    loss = np.array([[theory_error(toy, n, p) for n in grid_n] for p in grid_p])
    contours = ax.contour(grid_n, grid_p, np.log10(loss), levels=6, colors="0.5", linewidths=0.5, linestyles="solid",
                          alpha=0.7)
    ax.clabel(contours, fmt=lambda v: f"$10^{{{v:.1f}}}$", fontsize=6)
    ax.plot(widths, samples, ".", color="0.4", ms=4, label="sweep points")
    markers = {"resolution_N": ">", "variance_P": "^", "resolution_P": "^", "variance_N": ">"}
    line_colors = {"resolution_N": palette[0], "variance_P": palette[1], "resolution_P": palette[2],
                   "variance_N": palette[3]}
    for key, entry in regimes.items():
        for j, line in enumerate(entry["lines"]):
            (_, fixed), = line["fixed"].items()
            xs = np.asarray(line["x"])
            n, p = (xs, np.full(xs.size, fixed)) if entry["axis"] == "width" else (np.full(xs.size, fixed), xs)
            ax.plot(n, p, "-", marker=markers[key], color=line_colors[key], ms=5, lw=1.3,
                    label=f"fit: {entry['name']}" if j == 0 else None)
    ax.set(xscale="log", yscale="log", xlim=n_lim, ylim=p_lim, xlabel=label("width"), ylabel=label("n_samples"))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)


def _draw_exponents(ax, regimes: dict) -> None:
    """Measured exponents (95 % CI) against the theory at the same points and the asymptotic prediction."""
    palette = colors(4)
    keys = list(regimes)
    for x, key in enumerate(keys):
        entry = regimes[key]
        if entry["measured"] is not None:
            lo, hi = entry["ci95"]
            err = None if lo is None else [[entry["measured"] - lo], [hi - entry["measured"]]]
            ax.errorbar([x], [entry["measured"]], yerr=err, fmt="o", color=palette[x], ms=6,
                        label=f"{entry['name']}: {ci_text(entry['measured'], entry['ci95'])}")
        if entry["theory"] is not None:
            ax.plot([x + 0.18], [entry["theory"]], "s", mfc="none", color="0.2", ms=6)
        ax.plot([x - 0.3, x + 0.3], [entry["predicted"]] * 2, "-", color="0.2", lw=1.5)
    handles = ax.get_legend_handles_labels()[0] + [
        plt.Line2D([], [], marker="s", mfc="none", ls="none", color="0.2", label="theory at the same points"),
        plt.Line2D([], [], color="0.2", lw=1.5, label="asymptotic prediction")]
    ax.set_xticks(range(len(keys)), [regimes[k]["name"].replace(" in ", "\nin ") for k in keys], fontsize=7)
    ax.set(ylabel="exponent $\\beta$ ($E_g - E_g(\\infty) \\propto x^{-\\beta}$)", xlim=(-0.5, len(keys) - 0.5))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)


def draw(plot: dict):
    """The four-panel figure from figure 4's numbers file: E_g vs P, E_g vs N, the (N, P) phase diagram, the
    exponents (the theory curves are the deterministic equivalent at the toy settings it records)."""
    means, toy, regimes = pd.DataFrame(plot["means"]), plot["toy"], plot["regimes"]
    width, height = plt.rcParams["figure.figsize"]
    fig, axes = plt.subplots(2, 2, figsize=(2 * width, 2.5 * height))
    (a, b), (c, d) = axes
    _draw_curves(a, means, toy, "n_samples")
    a.set_title("(a) learning curves in $P$ (points: simulation, mean $\\pm$ s.e.m.)")
    _draw_curves(b, means, toy, "width")
    b.set_title("(b) learning curves in $N$")
    _draw_phase(c, means, toy, regimes)
    c.set_title("(c) phase diagram; contours: theory $\\log_{10} E_g$")
    _draw_exponents(d, regimes)
    d.set_title("(d) exponents: measured (95% CI) vs theory")
    fig.suptitle(f"toy model: $\\alpha$ = {toy['alpha']:g}, $r$ = {toy['r']:g}, $M$ = {toy['latent_dim']}, "
                 f"ridge = {toy['ridge']:g}, noise $\\sigma^2$ = {toy.get('noise', 0):g}")
    fig.tight_layout()
    return fig


def analyse(table: pd.DataFrame, toy: dict, sweep: str | None = None, n_boot: int = 200, seed: int = 0) -> dict:
    """Figure 4's numbers file from the toy sweep's table and its settings (module docstring)."""
    numbers = toy_phase_numbers(table, toy, n_boot, seed)
    means = seed_means(table)
    plot = {"means": {c: means[c].astype(float).tolist() for c in means.columns}, "toy": numbers["toy"],
            "regimes": numbers["regimes"]}
    return {"numbers": numbers, "plot": plot, "sweeps": [sweep] if sweep else []}


def markdown(numbers: dict) -> str:
    """The report section of figure 4."""
    toy, dev = numbers["toy"], numbers["deviation"]
    lines = ["## Figure 4: toy model phase diagram", "",
             f"Linear random-feature ridge regression on power-law Gaussian data (alpha = {toy['alpha']:g}, "
             f"r = {toy['r']:g}, M = {toy['latent_dim']}, ridge = {toy['ridge']:g}, noise = {toy['noise']:g}); "
             f"{numbers['n_runs']} runs: N in {numbers['widths']}, P in {numbers['n_samples']}, "
             f"seeds {numbers['seeds']}.", "",
             f"- simulation (mean over seeds) vs deterministic equivalent, relative deviation: median "
             f"{dev['median_abs']:.1%}, max {dev['max_abs']:.1%} (at N = {dev['max_at']['width']}, "
             f"P = {dev['max_at']['n_samples']})"]
    if dev["separated_median_abs"] is not None:
        lines.append(f"- the same at the {dev['n_separated']} points with N/P or P/N >= {numbers['separation']:g}: "
                     f"median {dev['separated_median_abs']:.1%}, max {dev['separated_max_abs']:.1%}")
    lines += ["", "| regime | grid lines | measured beta (95% CI) | theory at these points | asymptotic prediction |",
              "|---|---|---|---|---|"]
    for entry in numbers["regimes"].values():
        line = "; ".join(f"{AXES[axis]} = {fixed:g}: {AXES[entry['axis']]} in {[int(x) for x in item['x']]}"
                         for item in entry["lines"] for axis, fixed in item["fixed"].items()) or "none"
        measured = "n/a" if entry["measured"] is None else ci_text(entry["measured"], entry["ci95"])
        theory = "n/a" if entry["theory"] is None else f"{entry['theory']:.2f}"
        lines.append(f"| {entry['name']} | {line} | {measured} | {theory} | {entry['predicted']:.2f} |")
    lines += ["", "Method: every grid line with >= 3 points at N/P or P/N >= "
              f"{numbers['separation']:g} enters its regime's fit (one exponent, one amplitude per line); "
              "resolution-limited exponents from the log-log slope of the seed-mean E_g, variance-limited ones from "
              "differences of consecutive grid points within each seed (the unknown limit E_g(inf) cancels); 95% CIs "
              "from a bootstrap over seeds, then points. 'Theory at these points' applies the same estimator to the "
              "deterministic equivalent; the asymptotic predictions 2 alpha min(r, 1/2) (N), 2 alpha min(r, 1) (P) "
              "and 1 (variance-limited; `jetscale.theory.exponents`, Bahri et al. arXiv:2102.06701) are limits that "
              "finite ratios N/P approach slowly. Variance-limited exponents need many seeds: per seed, "
              "E_g - E_g(inf) fluctuates as much as its mean.", ""]
    return "\n".join(lines)
