"""Figure 5: can the scaling laws extrapolate? A law that cannot is not a finding.

For every law of the paper, the points at the largest ``holdout`` distinct values of the law's
variable are held out, the law is fitted on the rest, and the held-out points are predicted:

* the data law L(T) = A·T^(−α) + C of every classifier (variable T; the rows of figure 1);
* the params law L(N) = E + A·N^(−α) of the width sweep, per training-set size (variable N);
* the joint law L(N, D) of the IsoFLOP runs, D = samples seen (variable: the compute budget C, so the
  largest budgets are predicted from the smaller ones; the rows of figure 3). The toy sweep's joint
  law is not checked: the closed-form ridge curves have an interpolation peak at N = P that no sum
  of power laws describes (figure 4 compares the toy with its theory instead).

Per held-out point (a seed mean): the relative error (prediction − measured)/measured, its 95 % CI
from the restricted fit's bootstrap resamples, and a verdict: *consistent* when the prediction's
95 % interval overlaps the measured mean ± 2 standard errors over seeds, else *misses*. A law
*extrapolates* when every held-out point is consistent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from jetscale.paper.compute_optimal import isoflop_rows, joint_frame
from jetscale.paper.data_scaling import shown_rows
from jetscale.fit import LOSS_COL, LawFit, distinct, fit_rows, percentile_ci, seed_stats
from jetscale.paper.report import fmt, fmt_ci, md_table
from jetscale.plots.style import (
    band, colors, draw_means, interval_err, label, log_axes, model_color, model_label, panel_figure, panel_tag,
    tick_text,
)

MIN_FIT_VALUES = {"data": 3, "params": 3, "joint": 2}
"""Distinct values of the variable a restricted fit needs (a one-term law has three parameters)."""
POINT_COLUMNS = {"data": ["n_samples"], "params": ["n_params"], "joint": ["compute", "n_params", "n_samples"]}
"""The columns that identify a point (its seeds are averaged for the comparison)."""
SYMBOLS = {"data": {"n_samples": "T"}, "params": {"n_params": "N"},
           "joint": {"compute": "C", "n_params": "N", "n_samples": "D"}}
"""How the report names each point column (the joint law's ``n_samples`` is samples seen, D)."""


@dataclass(frozen=True)
class Case:
    """One law to check: ``rows`` ready for the law, the ``variable`` whose largest values are held out."""

    key: str
    label: str
    sweep: str
    law: str
    rows: pd.DataFrame
    variable: str
    color: object


def extrapolation_check(rows: pd.DataFrame, law: str, variable: str, holdout: int = 1, n_boot: int = 200,
                        seed: int = 0, loss_col: str = LOSS_COL) -> tuple[dict, LawFit | None]:
    """Fit ``law`` without the points at the ``holdout`` largest values of ``variable``; predict them.

    Returns the JSON-able result and the restricted fit (None, with a ``note``, when too few values
    remain to fit).
    """
    values = distinct(rows, variable)
    kept = values[:-holdout] if holdout < len(values) else []
    out = {"law": law, "variable": variable, "holdout": holdout,
           "held_out_values": [float(v) for v in values[len(kept):]]}
    if len(kept) < MIN_FIT_VALUES[law]:
        out["note"] = (f"{len(values)} distinct {variable} values: holding out {holdout} leaves {len(kept)}, "
                       f"fewer than the {MIN_FIT_VALUES[law]} the {law} law needs")
        out["verdict"] = "not checked"
        return out, None
    train = rows[rows[variable].isin(kept)]
    fit = fit_rows(train, law, loss_col, n_boot, seed)
    stats = seed_stats(rows, POINT_COLUMNS[law], loss_col)
    held = stats[~stats[variable].isin(kept)].reset_index(drop=True)
    predicted = fit.predict(held)
    resampled = fit.resample_predictions(held)
    points = []
    for i, row in held.iterrows():
        mean, sem = float(row["mean"]), float(row["sem"])
        pred_ci = percentile_ci(resampled[:, i]) if len(resampled) else [None, None]
        lo, hi = (predicted[i], predicted[i]) if pred_ci[0] is None else pred_ci
        points.append({
            **{c: float(row[c]) for c in POINT_COLUMNS[law]},
            "measured": mean, "sem": sem, "std": float(row["std"]), "n_seeds": int(row["n"]),
            "predicted": float(predicted[i]), "predicted_ci": pred_ci,
            "rel_error": float(predicted[i] / mean - 1),
            "rel_error_ci": percentile_ci(resampled[:, i] / mean - 1) if len(resampled) else [None, None],
            "seed_spread_rel": float(row["std"] / mean),
            "consistent": bool(lo <= mean + 2 * sem and hi >= mean - 2 * sem),
        })
    out.update(fit=fit.summary(), n_fit_runs=int(len(train)), points=points,
               max_abs_rel_error=max(abs(p["rel_error"]) for p in points),
               verdict="extrapolates" if all(p["consistent"] for p in points) else "misses")
    return out, fit


# ------------------------------------------------------------------ the paper's laws

def paper_cases(classifiers: Mapping[str, str], tables: Mapping[str, pd.DataFrame], width_sweep: str,
                isoflop_sweep: str) -> list[Case]:
    """Every law of the paper, on the same rows as its figure (1 or 3)."""
    cases = []
    for i, (model, sweep) in enumerate(classifiers.items()):
        rows, _ = shown_rows(tables[sweep], model, sweep)
        cases.append(Case(f"data:{model}", f"{model_label(model)} (data law)", sweep, "data", rows, "n_samples",
                          model_color(model, i)))
    width = tables[width_sweep]
    t_values = distinct(width, "n_samples")
    for color, t in zip(colors(len(t_values)), t_values):
        cases.append(Case(f"params:T={t:g}", f"width sweep, T = {t:g} (params law)", width_sweep, "params",
                          width[width["n_samples"] == t], "n_params", color))
    cases.append(Case("joint:isoflop", "IsoFLOP runs (joint law)", isoflop_sweep, "joint",
                      joint_frame(isoflop_rows(tables[isoflop_sweep])), "compute", "0.2"))
    return cases


# ------------------------------------------------------------------ figure

def case_plot(case: Case, result: dict, fit: LawFit | None, loss_col: str) -> dict:
    """What the drawing needs of one law: its seed means, the check's result and the restricted fit."""
    columns = POINT_COLUMNS["joint"] if case.law == "joint" else [case.variable]
    stats = seed_stats(case.rows, columns, loss_col)
    color = list(case.color) if isinstance(case.color, tuple) else case.color
    return {"key": case.key, "label": case.label, "law": case.law, "variable": case.variable, "color": color,
            "stats": {c: stats[c].astype(float).tolist() for c in (*columns, "mean", "sem")},
            "result": result, "fit": None if fit is None else fit.to_json()}


def _color(entry: dict):
    return tuple(entry["color"]) if isinstance(entry["color"], list) else entry["color"]


def _fit(entry: dict) -> LawFit | None:
    return None if entry["fit"] is None else LawFit.from_json(entry["fit"])


def _draw_1d(ax, entry: dict) -> None:
    x, result, color, fit = entry["variable"], entry["result"], _color(entry), _fit(entry)
    stats = pd.DataFrame(entry["stats"])
    held = stats[x].isin(result["held_out_values"]).to_numpy()
    draw_means(ax, stats[x][~held], stats["mean"][~held], stats["sem"][~held], color,
               label=entry["label"].split(" (")[0])
    draw_means(ax, stats[x][held], stats["mean"][held], stats["sem"][held], color, held_out=True)
    if fit is None:
        return
    values = stats[x].to_numpy(dtype=float)
    dense = {x: np.geomspace(values.min(), values.max(), 150)}
    lo, hi = fit.band(dense)
    if np.all(np.isfinite(lo)):
        band(ax, dense[x], lo, hi, color)
    inside = dense[x] <= values[~held].max() * (1 + 1e-9)
    pred = fit.predict(dense)
    ax.plot(dense[x][inside], pred[inside], ls="-", color=color, lw=1.3)
    ax.plot(dense[x][~inside], pred[~inside], ls="--", color=color, lw=1.3)


def _held_span(ax, entries: list[dict]) -> None:
    checked = [e for e in entries if e["result"].get("points")]
    fitted = [max(v for v in e["stats"][e["variable"]] if v not in e["result"]["held_out_values"]) for e in checked]
    held = [max(e["result"]["held_out_values"]) for e in checked]
    if fitted:
        ax.axvspan(min(fitted), max(held), color="0.5", alpha=0.08, lw=0)


def _draw_joint(ax, entry: dict) -> None:
    result, fit = entry["result"], _fit(entry)
    stats = pd.DataFrame(entry["stats"])
    budgets = distinct(stats, "compute")
    for color, c in zip(colors(len(budgets)), budgets):
        at = stats[stats["compute"] == c].sort_values("n_params")
        held = c in result["held_out_values"]
        draw_means(ax, at["n_params"], at["mean"], at["sem"], color, held_out=held,
                   label=f"C = {tick_text(c)} FLOP" + (" (held out)" if held else ""))
        if fit is not None:
            lo, hi = fit.band(at)
            if np.all(np.isfinite(lo)):
                band(ax, at["n_params"], lo, hi, color)
            ax.plot(at["n_params"], fit.predict(at), ls="--" if held else "-", color=color, lw=1.2)


def _draw_summary(ax, entries: list[dict]) -> None:
    ticks = []
    for i, entry in enumerate(entries):
        points = entry["result"].get("points") or []
        ticks.append(entry["label"].replace(" (", "\n("))
        offsets = np.linspace(-0.15, 0.15, len(points)) if len(points) > 1 else [0.0]
        for dx, p in zip(offsets, points):
            spread = 200 * p["sem"] / p["measured"]
            ax.bar(i + dx, 2 * spread, bottom=-spread, width=0.25, color="0.75", alpha=0.6, lw=0)
            lo, hi = (None if v is None else 100 * v for v in p["rel_error_ci"])
            ax.errorbar([i + dx], [100 * p["rel_error"]], yerr=interval_err(100 * p["rel_error"], lo, hi),
                        fmt="o" if p["consistent"] else "X", ms=6, color=_color(entry),
                        mec="k" if p["consistent"] else "#C00000", mew=0.8, zorder=3)
        if not points:
            ax.text(i, 0, "not\nchecked", ha="center", va="center", fontsize=7, color="0.4")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks(range(len(ticks)), ticks, rotation=35, ha="right", fontsize=7)
    ax.set(ylabel="(predicted − measured) / measured [%]", xlim=(-0.6, len(ticks) - 0.4))
    ax.legend(handles=[Line2D([], [], marker="o", ls="", color="0.4", mec="k", label="consistent (95 % CI)"),
                       Line2D([], [], marker="X", ls="", color="0.4", mec="#C00000", label="misses"),
                       Line2D([], [], marker="s", ls="", color="0.75", ms=8, label="measured ± 2 s.e. (seeds)")],
              loc="best")


def draw(plot: dict):
    """Four panels from figure 5's numbers file: data laws, params law, joint law, relative errors."""
    loss_col, entries = plot["loss_col"], plot["cases"]
    fig, (ax_data, ax_width, ax_joint, ax_sum) = panel_figure(4)
    groups = {"data": ax_data, "params": ax_width}
    for law, ax in groups.items():
        chosen = [e for e in entries if e["law"] == law]
        for entry in chosen:
            _draw_1d(ax, entry)
        _held_span(ax, chosen)
    ax_data.set(xlabel=label("n_samples", "jets"), ylabel=label(loss_col, "jets"))
    panel_tag(ax_data, "a", "data laws, fitted without the largest T")
    ax_width.set(xlabel=label("n_params", "jets"), ylabel=label(loss_col, "jets"))
    panel_tag(ax_width, "b", "params law, fitted without the largest N")
    for entry in entries:
        if entry["law"] == "joint":
            _draw_joint(ax_joint, entry)
    ax_joint.set(xlabel=label("n_params", "jets"), ylabel=label(loss_col, "jets"))
    panel_tag(ax_joint, "c", "joint law, fitted without the largest C")
    style = [Line2D([], [], color="0.3", ls="-", label="fit (band: 95 % CI)"),
             Line2D([], [], color="0.3", ls="--", label="extrapolation"),
             Line2D([], [], color="0.3", marker="o", ls="", mfc="white", label="held out")]
    for ax in (ax_data, ax_width, ax_joint):
        log_axes(ax)
        ax.legend(handles=ax.get_legend_handles_labels()[0] + style, loc="best", fontsize=6.5)
    _draw_summary(ax_sum, entries)
    panel_tag(ax_sum, "d", "relative error at the held-out points")
    return fig


def _points_markdown(laws: dict) -> str:
    rows = []
    for r in laws.values():
        if not r.get("points"):
            rows.append([r["label"], f"`{r['sweep']}`", "—", "—", "—", "—", "—", f"not checked: {r['note']}"])
            continue
        for p in r["points"]:
            where = ", ".join(f"{SYMBOLS[r['law']][c]} = {fmt(p[c])}" for c in POINT_COLUMNS[r["law"]])
            rows.append([r["label"], f"`{r['sweep']}`", where, f"{fmt(p['measured'], 4)} ± {fmt(p['sem'], 2)}",
                         fmt_ci(p["predicted"], p["predicted_ci"], 4),
                         fmt_ci(100 * p["rel_error"], [None if v is None else 100 * v for v in p["rel_error_ci"]], 2)
                         + " %",
                         f"{fmt(100 * p['seed_spread_rel'], 2)} %" if p["n_seeds"] > 1 else "n/a (1 seed)",
                         "consistent" if p["consistent"] else "**misses**"])
    return md_table(["law", "sweep", "held-out point", "measured ± s.e.", "predicted [95 % CI]",
                     "relative error [95 % CI]", "seed std / mean", "verdict"], rows)


def _verdict_text(result: dict) -> str:
    text = f"{result['label']}: **{result['verdict']}**"
    if result.get("points"):
        text += f" (max |relative error| {fmt(100 * result['max_abs_rel_error'], 2)} %)"
    return text


def analyse(classifiers: Mapping[str, str], tables: Mapping[str, pd.DataFrame], *, width_sweep: str,
            isoflop_sweep: str, holdout: int = 1, n_boot: int = 200, seed: int = 0, loss_col: str = LOSS_COL) -> dict:
    """Figure 5's numbers file: every law of figures 1 and 3 fitted without its ``holdout`` largest sizes, checked."""
    cases = paper_cases(classifiers, tables, width_sweep, isoflop_sweep)
    checked = [extrapolation_check(c.rows, c.law, c.variable, holdout, n_boot, seed, loss_col) for c in cases]
    laws = {c.key: {"label": c.label, "sweep": c.sweep, **r} for c, (r, _) in zip(cases, checked)}
    numbers = {"holdout": holdout, "n_boot": n_boot, "seed": seed, "laws": laws}
    plot = {"loss_col": loss_col, "cases": [case_plot(c, r, f, loss_col) for c, (r, f) in zip(cases, checked)]}
    return {"numbers": numbers, "plot": plot,
            "sweeps": list(dict.fromkeys([*classifiers.values(), width_sweep, isoflop_sweep]))}


def markdown(numbers: dict) -> str:
    """Figure 5's section of the report."""
    verdicts = "; ".join(_verdict_text(r) for r in numbers["laws"].values())
    return "\n\n".join([
        f"Each law is refitted without the points at its {numbers['holdout']} largest value(s) of its variable (T "
        "for data laws, N for the params law, the compute budget C for the joint law) and predicts them. A point is "
        "*consistent* when the prediction's 95 % bootstrap interval overlaps the measured seed mean ± 2 standard "
        f"errors; a law *extrapolates* when all its held-out points are consistent ({numbers['n_boot']} bootstrap "
        "resamples).",
        _points_markdown(numbers["laws"]),
        f"**Verdicts**: {verdicts}.",
    ])
