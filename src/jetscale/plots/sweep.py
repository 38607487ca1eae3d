"""Sweep figures: loss against one axis, one curve per value of another.

Points are the mean over seeds (error bars: standard error), dashed lines the
fitted scaling law of that group (from ``fits.json``), thin solid lines the
theory prediction where the table has one (``theory_loss``). A third figure shows each point's training
throughput (:mod:`jetscale.plots.throughput`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

from jetscale.fit import predict
from jetscale.plots.style import colors, figure_style, label, log_axes, save_figure
from jetscale.plots.throughput import plot_throughput

# x-axis -> (law whose fit is drawn, column that law is a function of)
FIT_FOR_AXIS = {"n_samples": ("data", "n_samples"), "width": ("params", "n_params")}


def _group_fit(fits: dict, law: str, group: str, value) -> dict | None:
    entry = fits.get(law)
    if not entry:
        return None
    for fit in entry.get("fits", [entry]):
        where = fit.get("where", {})
        if where.get(group) is not None and np.isclose(float(where[group]), float(value)):
            return fit
    return None


def _legend_text(value, group: str, fit: dict | None) -> str:
    text = f"{group} = {value:g}"
    if fit:
        exponent = "beta" if "beta" in fit["params"] else "alpha"
        lo, hi = fit["ci95"].get(exponent, (None, None))
        ci = f" [{lo:.2f}, {hi:.2f}]" if lo is not None else ""
        text += f", $\\{exponent}$ = {fit['params'][exponent]:.2f}{ci}"
    return text


def _only_task(table: pd.DataFrame) -> str | None:
    tasks = table["task"].unique() if "task" in table else []
    return tasks[0] if len(tasks) == 1 else None


def plot_loss_vs(table: pd.DataFrame, fits: dict, x: str, group: str, loss_col: str = "test_loss"):
    """Figure of ``loss_col`` vs ``x`` with one coloured curve per ``group`` value."""
    law, law_column = FIT_FOR_AXIS[x]
    groups = sorted(table[group].unique())
    with figure_style():
        fig, ax = plt.subplots()
        for color, value in zip(colors(len(groups)), groups):
            rows = table[table[group] == value]
            stats = rows.groupby(x).agg(
                mean=(loss_col, "mean"), sem=(loss_col, "sem"), theory=("theory_loss", "mean"),
                law_x=(law_column, "mean"),
            ).reset_index()
            fit = _group_fit(fits, law, group, value)
            ax.errorbar(stats[x], stats["mean"], yerr=stats["sem"].fillna(0), fmt="o", ms=3.5, color=color,
                        label=_legend_text(value, group, fit))
            if stats["theory"].notna().all():
                ax.plot(stats[x], stats["theory"], "-", lw=0.9, color=color, alpha=0.8)
            if fit:
                dense = np.geomspace(stats[x].min(), stats[x].max(), 100)
                law_x = np.exp(np.interp(np.log(dense), np.log(stats[x]), np.log(stats["law_x"])))
                other = "n_params" if law_column == "n_samples" else "n_samples"
                frame = pd.DataFrame({law_column: law_x, other: float(value)})
                ax.plot(dense, predict(law, fit["params"], frame), "--", color=color, lw=1.1)
        task = _only_task(table)
        ax.set(xlabel=label(x, task), ylabel=label(loss_col, task))
        log_axes(ax)
        handles = [plt.Line2D([], [], ls="--", color="0.3", label=f"fit: {law} law")] if fits.get(law) else []
        if table["theory_loss"].notna().any():
            handles.append(plt.Line2D([], [], ls="-", lw=0.9, color="0.3", label="theory (deterministic equivalent)"))
        ax.legend(handles=ax.get_legend_handles_labels()[0] + handles, loc="best")
    return fig


def sweep_figures(table: pd.DataFrame, fits: dict, out_dir, loss_col: str = "test_loss") -> list:
    """Write loss_vs_n_samples, loss_vs_width and throughput_vs_n_params (PNG + PDF); return the paths."""
    paths = []
    for x, group in (("n_samples", "width"), ("width", "n_samples")):
        with figure_style():  # the style must also be active when saving (bbox, dpi)
            fig = plot_loss_vs(table, fits, x=x, group=group, loss_col=loss_col)
            paths += save_figure(fig, out_dir, f"loss_vs_{x}")
    with figure_style():
        paths += save_figure(plot_throughput(table), out_dir, "throughput_vs_n_params")
    return paths
