"""Figure 3's analysis: the params law per training-set size of the width sweep, and the compute-optimal
frontier of the IsoFLOP sweep by Hoffmann et al.'s approaches 2 (a parabola per budget) and 3 (the joint law).
Method and conventions (D = samples seen, C = kND): docs/paper.md, figure 3."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jetscale.fit import LOSS_COL, LawFit, distinct, fit_rows, percentile_band, percentile_ci, seed_stats
from jetscale.fit.loglog import line_fit
from jetscale.formatting import fmt


SAMPLES_SEEN = "samples_seen"


K_SPREAD_WARN = 1.5  # max/min of k across runs above which C ∝ N·D is flagged as approximate


def samples_seen(rows: pd.DataFrame) -> np.ndarray:
    """D = epochs · n_samples for every row (``epochs`` = samples seen / training-set size)."""
    if "epochs" not in rows.columns:
        raise ValueError(f"{rows.attrs.get('source', 'the IsoFLOP table')}: no column 'epochs'; samples seen "
                         "(epochs · n_samples) are needed for the compute-optimal analysis")
    seen = rows["epochs"].to_numpy(dtype=float) * rows["n_samples"].to_numpy(dtype=float)
    if not np.all(np.isfinite(seen) & (seen > 0)):
        raise ValueError(f"{rows.attrs.get('source', 'the IsoFLOP table')}: epochs · n_samples must be > 0 "
                         "for every IsoFLOP run (a closed-form solver has no samples seen)")
    return seen


def isoflop_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The IsoFLOP rows used in the fits (the largest training set per budget and width), with column
    ``samples_seen``."""
    if "compute" not in table.columns or table["compute"].isna().all():
        raise ValueError(f"{table.attrs.get('source', 'the IsoFLOP table')}: no run has a compute budget "
                         "(column 'compute'); is this an IsoFLOP sweep?")
    rows = table[table["compute"].notna()].copy()
    rows["compute"] = rows["compute"].astype(float)
    largest = rows.groupby(["compute", "width"])["n_samples"].transform("max")
    rows = rows[rows["n_samples"] == largest].copy()
    rows[SAMPLES_SEEN] = samples_seen(rows)
    return rows


def unused_isoflop_rows(table: pd.DataFrame) -> pd.DataFrame:
    """IsoFLOP rows with a smaller training set than the largest at their (budget, width)."""
    rows = table[table["compute"].notna()] if "compute" in table.columns else table.iloc[:0]
    largest = rows.groupby(["compute", "width"])["n_samples"].transform("max")
    return rows[rows["n_samples"] < largest]


def joint_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with ``n_samples`` replaced by the samples seen: the joint law's D."""
    return rows.assign(n_samples=rows[SAMPLES_SEEN])


def flops_constant(rows: pd.DataFrame) -> dict:
    """k = flops / (n_params · samples seen) over the runs: median (used), min, max."""
    k = rows["flops"].to_numpy(dtype=float) / (rows["n_params"].to_numpy(dtype=float) * rows[SAMPLES_SEEN].to_numpy())
    k = k[np.isfinite(k) & (k > 0)]
    if k.size == 0:
        raise ValueError("no IsoFLOP run has flops / (n_params · samples seen) > 0")
    return {"k": float(np.median(k)), "min": float(k.min()), "max": float(k.max()),
            "approximate": bool(k.max() / k.min() > K_SPREAD_WARN)}


def parabola_vertex(log_n: np.ndarray, loss: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Vertex (log N) of the least-squares parabola loss(log N); NaN when not convex or < 3 distinct N."""
    if np.unique(log_n).size < 3:
        return np.nan, None
    coeffs = np.polyfit(log_n, loss, 2)
    if coeffs[0] <= 0:
        return np.nan, coeffs
    return float(-coeffs[1] / (2 * coeffs[0])), coeffs


@dataclass
class BudgetOptimum:
    """Approach 2 at one budget. ``boot`` holds one bootstrap vertex (log N) per replicate (NaN: none)."""

    compute: float
    log_n_opt: float
    coeffs: np.ndarray | None
    boot: np.ndarray
    grid: list  # n_params of the budget's runs, sorted
    stats: pd.DataFrame  # seed stats per n_params
    convex: bool
    bracketed: bool
    flags: list[str] = field(default_factory=list)
    in_grid: bool = True  # the vertex lies within the width grid

    @property
    def usable(self) -> bool:
        """A minimum inside the width grid: its N_opt is an interpolation, not an extrapolation."""
        return self.convex and self.in_grid

    @property
    def n_opt(self) -> float:
        return float(np.exp(self.log_n_opt)) if np.isfinite(self.log_n_opt) else np.nan

    @property
    def n_opt_ci(self) -> list:
        lo, hi = percentile_ci(self.boot)
        return [None, None] if lo is None else [float(np.exp(lo)), float(np.exp(hi))]

    @property
    def loss_opt(self) -> float:
        return float(np.polyval(self.coeffs, self.log_n_opt)) if self.usable else np.nan


def budget_optimum(rows: pd.DataFrame, n_boot: int, rng: np.random.Generator,
                   loss_col: str = LOSS_COL) -> BudgetOptimum:
    """The approach-2 optimum of one budget's rows and its row-bootstrap replicates."""
    log_n = np.log(rows["n_params"].to_numpy(dtype=float))
    loss = rows[loss_col].to_numpy(dtype=float)
    vertex, coeffs = parabola_vertex(log_n, loss)
    boot = np.full(n_boot, np.nan)
    for i in range(n_boot):
        idx = rng.integers(0, loss.size, size=loss.size)
        boot[i] = parabola_vertex(log_n[idx], loss[idx])[0]
    stats = seed_stats(rows, "n_params", loss_col)
    grid = stats["n_params"].tolist()
    flags = []
    convex = bool(np.isfinite(vertex))
    if len(grid) < 3:
        flags.append(f"only {len(grid)} widths: no parabola")
    elif not convex:
        flags.append("loss is not convex in log N: no minimum")
    lowest = int(np.argmin(stats["mean"].to_numpy()))
    if lowest in (0, len(grid) - 1):
        flags.append("lowest loss at the " + ("smallest" if lowest == 0 else "largest") + " width of the grid")
    in_grid = bool(convex and np.log(grid[0]) <= vertex <= np.log(grid[-1]))
    if convex and not in_grid:
        flags.append("vertex outside the width grid (extrapolated): no N_opt")
    return BudgetOptimum(compute=float(rows["compute"].iloc[0]), log_n_opt=vertex, coeffs=coeffs, boot=boot,
                         grid=grid, stats=stats, convex=convex, bracketed=convex and not flags, flags=flags,
                         in_grid=in_grid)


def _loglog_slope(log_c: np.ndarray, log_y: np.ndarray) -> tuple[float, float]:
    fit = line_fit(log_c, log_y)
    return fit["slope"], fit["intercept"]


def approach2(optima: list[BudgetOptimum], k: float) -> dict:
    """N_opt ∝ C^a through the budgets' optima (bracketed ones; if fewer than 2, every minimum inside the
    width grid, flagged)."""
    used = [o for o in optima if o.bracketed]
    uses_edge = len(used) < 2
    if uses_edge:
        used = [o for o in optima if o.usable]
    out = {"budgets_used": [o.compute for o in used], "uses_edge_optima": uses_edge,
           "a": None, "a_ci": [None, None], "b": None, "b_ci": [None, None], "intercept": None}
    if len(used) < 2:
        out["note"] = "fewer than two budgets with a minimum inside the width grid: no N_opt(C) fit"
        return out
    log_c = np.log([o.compute for o in used])
    a, intercept = _loglog_slope(log_c, np.array([o.log_n_opt for o in used]))
    boot = np.array([o.boot for o in used])  # (budgets, replicates)
    ok = np.all(np.isfinite(boot), axis=0)
    slopes = [_loglog_slope(log_c, boot[:, i])[0] for i in np.flatnonzero(ok)]
    a_ci = percentile_ci(slopes)
    out.update(a=a, a_ci=a_ci, b=1 - a, b_ci=[None, None] if a_ci[0] is None else [1 - a_ci[1], 1 - a_ci[0]],
               intercept=intercept, n_boot_ok=len(slopes), k=k)
    if uses_edge:
        out["note"] = "fewer than two bracketed optima: the fit uses edge optima and is not a measurement"
    return out


def approach2_n_opt(fit2: dict, compute) -> np.ndarray:
    return np.exp(fit2["intercept"]) * np.asarray(compute, dtype=float) ** fit2["a"]


def frontier_n_opt(params: dict, compute, k: float) -> np.ndarray:
    """N_opt(C) = G·(C/k)^a of the joint law, G = (αA/(βB))^(1/(α+β)), a = β/(α+β)."""
    alpha, beta = params["alpha"], params["beta"]
    g = (alpha * params["A"] / (beta * params["B"])) ** (1 / (alpha + beta))
    return g * (np.asarray(compute, dtype=float) / k) ** (beta / (alpha + beta))


def approach3(fit: LawFit, k: float, budgets: list[float]) -> dict:
    """a, b and the frontier N_opt(C), D_opt(C) at ``budgets`` from a joint-law fit, with bootstrap CIs."""
    a, a_ci = fit.derived(lambda p: p["beta"] / (p["alpha"] + p["beta"]))
    b, b_ci = fit.derived(lambda p: p["alpha"] / (p["alpha"] + p["beta"]))
    frontier = []
    for c in budgets:
        n, n_ci = fit.derived(lambda p, c=c: float(frontier_n_opt(p, c, k)))
        d_ci = [None, None] if n_ci[0] is None else [c / k / n_ci[1], c / k / n_ci[0]]
        frontier.append({"compute": c, "N_opt": n, "N_opt_ci": n_ci, "D_opt": c / k / n, "D_opt_ci": d_ci})
    return {**fit.summary(), "a": a, "a_ci": a_ci, "b": b, "b_ci": b_ci, "frontier": frontier}


def frontier_band(fit: LawFit, compute: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(all="ignore"):
        curves = np.array([frontier_n_opt(p, compute, k) for p in fit.resample_params()]).reshape(-1, compute.size)
    return percentile_band(curves)


def width_fits(table: pd.DataFrame, n_boot: int, seed: int, loss_col: str = LOSS_COL) -> dict:
    """Params-law fit per training-set size T of the width sweep: {T: LawFit}."""
    return {t: fit_rows(table[table["n_samples"] == t], "params", loss_col, n_boot, seed)
            for t in distinct(table, "n_samples")}


def width_ticks(table: pd.DataFrame) -> dict:
    """``{"n_params": [...], "width": [...]}``: each width at its parameter count, for the top axis."""
    pairs = table[["n_params", "width"]].dropna().drop_duplicates("n_params").sort_values("n_params")
    return {"n_params": pairs["n_params"].astype(float).tolist(), "width": pairs["width"].astype(float).tolist()}


def stats_lists(stats: pd.DataFrame, x: str) -> dict:
    """Seed statistics as plain lists: ``x``, mean, sem."""
    return {c: stats[c].astype(float).tolist() for c in (x, "mean", "sem")}


def width_plot(table: pd.DataFrame, fits: dict, loss_col: str) -> dict:
    """What panel (a) draws: per T the fit (with resamples) and the seed means; the width ticks."""
    curves = [{"T": float(t), "fit": fit.to_json(),
               "stats": stats_lists(seed_stats(table[table["n_samples"] == t], "n_params", loss_col), "n_params")}
              for t, fit in fits.items()]
    return {"curves": curves, "ticks": width_ticks(table)}


def optimum_plot(o: BudgetOptimum) -> dict:
    """What the IsoFLOP and frontier panels draw of one budget."""
    return {"compute": o.compute, "stats": stats_lists(o.stats, "n_params"),
            "coeffs": None if o.coeffs is None else [float(c) for c in o.coeffs], "usable": o.usable,
            "bracketed": o.bracketed, "n_opt": o.n_opt if o.usable else None, "n_opt_ci": o.n_opt_ci,
            "loss_opt": o.loss_opt if o.usable else None, "grid": [float(n) for n in o.grid]}


def optimum_numbers(o: BudgetOptimum, k: float, rows: pd.DataFrame) -> dict:
    ci = o.n_opt_ci if o.usable else [None, None]
    at = rows[rows["compute"] == o.compute]
    return {"compute": o.compute, "n_params_grid": [float(n) for n in o.grid], "convex": o.convex,
            "bracketed": o.bracketed, "flags": o.flags, "N_opt": o.n_opt if o.usable else None, "N_opt_ci": ci,
            "D_opt": o.compute / (k * o.n_opt) if o.usable else None,
            "D_opt_ci": [None, None] if ci[0] is None else [o.compute / (k * ci[1]), o.compute / (k * ci[0])],
            "L_opt": o.loss_opt if o.usable else None, "n_boot_ok": int(np.isfinite(o.boot).sum()),
            "epochs_range": [float(at["epochs"].min()), float(at["epochs"].max())]}


def agreement(fit2: dict, numbers3: dict) -> dict | None:
    """a(approach 2) − a(approach 3) and whether their CIs overlap (None when either is missing)."""
    if fit2.get("a") is None or numbers3.get("a") is None:
        return None
    bounds = (*fit2["a_ci"], *numbers3["a_ci"])
    overlap = None if None in bounds else bool(bounds[0] <= bounds[3] and bounds[2] <= bounds[1])
    return {"a_difference": fit2["a"] - numbers3["a"], "ci_overlap": overlap}


def caveats(budgets: list[dict], fit2: dict, k: dict, rows: pd.DataFrame) -> list[str]:
    """What a referee must be told about these optima: edge optima, approximate C = kND, repetition, few points."""
    notes = []
    edge = [b for b in budgets if not b["bracketed"]]
    if edge:
        notes.append(f"{len(edge)} of {len(budgets)} budgets have no bracketed optimum (C = "
                     + ", ".join(fmt(b["compute"]) for b in edge) + "): an edge optimum is not a measured optimum.")
    if fit2.get("note"):
        notes.append(f"approach 2: {fit2['note']}.")
    if k["approximate"]:
        notes.append(f"k = flops/(N·D) varies from {fmt(k['min'])} to {fmt(k['max'])} across runs: C ∝ N·D is "
                     "only approximate, and so are D_opt and the frontiers.")
    if rows["epochs"].max() > 1:
        notes.append(f"runs repeat their training set up to {fmt(float(rows['epochs'].max()), 2)} times: D counts "
                     "samples seen, not distinct jets, unlike Hoffmann et al.'s single-epoch runs.")
    sizes = sorted({len(b["n_params_grid"]) for b in budgets})
    if len(budgets) < 4 or sizes[0] < 5:
        widths = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}–{sizes[-1]}"
        notes.append(f"{len(budgets)} budgets × {widths} widths: the exponents are poorly constrained; "
                     "read the CIs, not the point values.")
    return notes


def analyse(width_table: pd.DataFrame, isoflop_table: pd.DataFrame, *, width_sweep: str, isoflop_sweep: str,
            n_boot: int = 200, seed: int = 0, loss_col: str = LOSS_COL) -> dict:
    """Figure 3's numbers file from the width sweep's and the IsoFLOP sweep's results tables."""
    wfits = width_fits(width_table, n_boot, seed, loss_col)
    rows = isoflop_rows(isoflop_table)
    k = flops_constant(rows)
    rng = np.random.default_rng(seed)
    optima = [budget_optimum(rows[rows["compute"] == c], n_boot, rng, loss_col) for c in distinct(rows, "compute")]
    fit2 = approach2(optima, k["k"])
    try:
        fit3 = fit_rows(joint_frame(rows), "joint", loss_col, n_boot, seed)
        numbers3 = approach3(fit3, k["k"], [o.compute for o in optima])
    except ValueError as err:  # too few runs for five parameters
        fit3, numbers3 = None, {"note": f"approach 3 not fitted: {err}"}
    budgets = [optimum_numbers(o, k["k"], rows) for o in optima]
    notes = caveats(budgets, fit2, k, rows) + ([numbers3["note"]] if fit3 is None else [])
    width_numbers = {}
    for t, fit in wfits.items():
        at = width_table[width_table["n_samples"] == t]
        width_numbers[f"{t:g}"] = {"T": float(t), **fit.summary(), "n_params": distinct(at, "n_params"),
                                   "widths": distinct(at, "width")}
    numbers = {"width_sweep": width_sweep, "isoflop_sweep": isoflop_sweep, "n_boot": n_boot, "seed": seed,
               "width_scaling": width_numbers, "k_flops": k,
               "isoflop": {"selection": "largest n_samples per (budget, width)",
                           "D": "samples seen = epochs·n_samples", "budgets": budgets},
               "approach2": fit2, "approach3": numbers3, "agreement": agreement(fit2, numbers3), "notes": notes}
    unused = unused_isoflop_rows(isoflop_table)
    plot = {"loss_col": loss_col, "width_sweep": width_sweep, "isoflop_sweep": isoflop_sweep, "k": k["k"],
            "width": width_plot(width_table, wfits, loss_col), "optima": [optimum_plot(o) for o in optima],
            "unused": {"compute": unused["compute"].astype(float).tolist(),
                       "n_params": unused["n_params"].astype(float).tolist(),
                       "loss": unused[loss_col].astype(float).tolist()},
            "approach2": fit2, "approach3": numbers3, "fit3": None if fit3 is None else fit3.to_json()}
    return {"numbers": numbers, "plot": plot, "sweeps": [width_sweep, isoflop_sweep]}
