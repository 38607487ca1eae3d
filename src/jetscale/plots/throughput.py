"""Per-point throughput figure of a sweep: achieved training FLOP/s and MFU against trainable parameters.

Every point is drawn (no seed means: speed is a property of the run, not of the law), one colour per training-set
size. MFU needs a device peak (:mod:`jetscale.throughput`): where no point has one (the CPU, an unknown device)
its panel says so instead of staying silently empty.
"""

from __future__ import annotations

import pandas as pd

from jetscale.plots.style import colors, label, log_axes, panel_figure, panel_tag

X = "n_params"
SPEED, MFU = "train_flops_per_s", "mfu"


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def _devices(table: pd.DataFrame) -> str:
    if "device_name" not in table:
        return "unknown device"
    return ", ".join(str(d) for d in table["device_name"].dropna().unique()) or "unknown device"


def _scatter(ax, table: pd.DataFrame, column: str) -> bool:
    """Draw ``column`` vs n_params per n_samples; False when no point has a value."""
    rows = table[table[column].notna()] if column in table else table.iloc[:0]
    if rows.empty:
        return False
    groups = sorted(rows["n_samples"].unique())
    for color, n_samples in zip(colors(len(groups)), groups):
        group = rows[rows["n_samples"] == n_samples]
        ax.plot(group[X], group[column].astype(float), "o", ms=3.5, color=color, label=f"n_samples = {n_samples:g}")
    log_axes(ax)
    ax.legend(loc="best")
    return True


def plot_throughput(table: pd.DataFrame):
    """Two panels: (a) achieved training FLOP/s, (b) model FLOPs utilisation, each against n_params."""
    task = table["task"].iloc[0] if "task" in table and table["task"].nunique() == 1 else None
    fig, (speed, mfu) = panel_figure(2)
    precisions = ", ".join(str(p) for p in table["precision"].dropna().unique()) if "precision" in table else ""
    panel_tag(speed, "a", f"achieved ({_devices(table)}{'; ' + precisions if precisions else ''})")
    if not _scatter(speed, table, SPEED):
        _no_data(speed, "no train_flops_per_s in the table\n(metrics written before jetscale timed training)")
    speed.set(xlabel=label(X, task), ylabel="training FLOP/s")
    panel_tag(mfu, "b", "model FLOPs utilisation")
    if not _scatter(mfu, table, MFU):
        devices = _devices(table)
        _no_data(mfu, "no device peak (CPU)" if devices == "cpu" else f"no device peak ({devices})")
    mfu.set(xlabel=label(X, task), ylabel="MFU (achieved / peak)")
    return fig
