"""Figure 5 from its numbers file: each law fitted without its largest sizes and extrapolated (data laws,
params law, joint law), and the relative errors at the held-out points."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from jetscale.fit import LawFit, distinct
from jetscale.plots.style import (
    band, colors, draw_means, interval_err, label, log_axes, model_color, model_label, panel_figure, panel_tag,
    tick_text,
)


def case_label(key: str) -> str:
    """How a checked law is named: "PFN (data law)", "width sweep, T = 8000 (params law)", "IsoFLOP runs (joint law)"."""
    law, what = key.split(":", 1)
    if law == "data":
        return f"{model_label(what)} (data law)"
    if law == "params":
        return f"width sweep, {what.replace('=', ' = ')} (params law)"
    return "IsoFLOP runs (joint law)"


def case_colors(entries: list[dict]) -> dict:
    """The colour of each law: its model's for a data law, a sequential scale over T for the params laws."""
    params = [e["key"] for e in entries if e["law"] == "params"]
    out = {key: color for key, color in zip(params, colors(len(params)))}
    data = [e["key"] for e in entries if e["law"] == "data"]
    out.update({key: model_color(key.split(":", 1)[1], i) for i, key in enumerate(data)})
    return {**out, **{e["key"]: "0.2" for e in entries if e["law"] == "joint"}}


def _fit(entry: dict) -> LawFit | None:
    return None if entry["fit"] is None else LawFit.from_json(entry["fit"])


def _draw_1d(ax, entry: dict, color) -> None:
    x, result, fit = entry["variable"], entry["result"], _fit(entry)
    stats = pd.DataFrame(entry["stats"])
    held = stats[x].isin(result["held_out_values"]).to_numpy()
    draw_means(ax, stats[x][~held], stats["mean"][~held], stats["sem"][~held], color,
               label=case_label(entry["key"]).split(" (")[0])
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


def _draw_summary(ax, entries: list[dict], palette: dict) -> None:
    ticks = []
    for i, entry in enumerate(entries):
        points = entry["result"].get("points") or []
        ticks.append(case_label(entry["key"]).replace(" (", "\n("))
        offsets = np.linspace(-0.15, 0.15, len(points)) if len(points) > 1 else [0.0]
        for dx, p in zip(offsets, points):
            spread = 200 * p["sem"] / p["measured"]
            ax.bar(i + dx, 2 * spread, bottom=-spread, width=0.25, color="0.75", alpha=0.6, lw=0)
            lo, hi = (None if v is None else 100 * v for v in p["rel_error_ci"])
            ax.errorbar([i + dx], [100 * p["rel_error"]], yerr=interval_err(100 * p["rel_error"], lo, hi),
                        fmt="o" if p["consistent"] else "X", ms=6, color=palette[entry["key"]],
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
    palette = case_colors(entries)
    fig, (ax_data, ax_width, ax_joint, ax_sum) = panel_figure(4)
    groups = {"data": ax_data, "params": ax_width}
    for law, ax in groups.items():
        chosen = [e for e in entries if e["law"] == law]
        for entry in chosen:
            _draw_1d(ax, entry, palette[entry["key"]])
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
    _draw_summary(ax_sum, entries, palette)
    panel_tag(ax_sum, "d", "relative error at the held-out points")
    return fig
