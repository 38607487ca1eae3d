"""Figure 3 from its numbers file: (a) loss against model size at fixed data, (b) IsoFLOP curves with their
optima, (c) N_opt(C) and (d) D_opt(C) from approaches 2 and 3."""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from jetscale.fit import LawFit
from jetscale.fit.paper.compute_optimal import approach2_n_opt, frontier_band, frontier_n_opt
from jetscale.formatting import fmt_ci
from jetscale.plots.style import (
    colors, draw_fit, draw_means, interval_err, label, log_axes, panel_figure, panel_tag, tick_text,
)


APPROACH_COLORS = {2: "#0072B2", 3: "#D55E00"}  # the compute-optimal frontier of approaches 2 and 3


def _width_axis(ax, ticks: dict) -> None:
    """Top axis: the widths at their n_params."""
    top = ax.twiny()
    top.set_xscale("log")
    top.set_xlim(ax.get_xlim())
    top.set_xticks(ticks["n_params"])
    top.set_xticklabels([f"{w:g}" for w in ticks["width"]])
    top.minorticks_off()
    top.grid(False)
    top.set_xlabel(label("width", "jets"), fontsize=8)


def plot_width(ax, width: dict, loss_col: str) -> None:
    curves = width["curves"]
    for color, curve in zip(colors(len(curves)), curves):
        fit, t = LawFit.from_json(curve["fit"]), curve["T"]
        n = np.asarray(curve["stats"]["n_params"], dtype=float)
        dense = {"n_params": np.geomspace(n.min(), n.max(), 120)}
        lo, hi = fit.band(dense)
        text = f"T = {t:g}: α = {fmt_ci(fit.params['alpha'], fit.ci95['alpha'], 2)}"
        draw_means(ax, n, curve["stats"]["mean"], curve["stats"]["sem"], color, label=text)
        draw_fit(ax, dense["n_params"], fit.predict(dense), color, lo, hi)
    ax.set(xscale="log", xlabel=label("n_params", "jets"), ylabel=label(loss_col, "jets"))
    _width_axis(ax, width["ticks"])  # before log_axes: making the twin resets the shared y axis's tick formatters
    log_axes(ax)
    ax.legend(loc="upper right", title="fit $L = E + A\\,N^{-\\alpha}$", title_fontsize=7.5)


def plot_isoflop(ax, unused: dict, optima: list[dict], fit3: LawFit | None, k: float, loss_col: str) -> None:
    unused_compute = np.asarray(unused["compute"], dtype=float)
    for color, o in zip(colors(len(optima)), optima):
        n = np.asarray(o["stats"]["n_params"], dtype=float)
        draw_means(ax, n, o["stats"]["mean"], o["stats"]["sem"], color, label=f"C = {tick_text(o['compute'])} FLOP")
        extra = unused_compute == o["compute"]
        if extra.any():
            ax.plot(np.asarray(unused["n_params"])[extra], np.asarray(unused["loss"])[extra], ".", color=color,
                    alpha=0.35, ms=4)
        dense = np.geomspace(n.min(), n.max(), 100)
        if o["coeffs"] is not None:
            ax.plot(dense, np.polyval(o["coeffs"], np.log(dense)), "-", color=color, lw=1.1)
        if o["usable"]:
            ax.errorbar([o["n_opt"]], [o["loss_opt"]], xerr=interval_err(o["n_opt"], *o["n_opt_ci"]), fmt="*", ms=11,
                        color=color, mfc=color if o["bracketed"] else "white", mec="k", mew=0.6, zorder=4)
        if fit3 is not None:
            ax.plot(dense, fit3.predict({"n_params": dense, "n_samples": o["compute"] / (k * dense)}), ":",
                    color=color, lw=1.2)
    handles = ax.get_legend_handles_labels()[0]
    handles += [Line2D([], [], color="0.3", ls="-", label="parabola in log N (approach 2)"),
                Line2D([], [], color="0.3", ls=":", label="joint law on C = kND (approach 3)"),
                Line2D([], [], color="0.3", marker="*", ls="", mec="k", ms=9, label="optimum ± 95 % CI"),
                Line2D([], [], color="0.3", marker="*", ls="", mfc="white", mec="k", ms=9,
                       label="edge optimum (not bracketed)")]
    if unused_compute.size:
        handles.append(Line2D([], [], color="0.3", marker=".", ls="", alpha=0.4,
                              label="smaller training sets (not fitted)"))
    ax.set(xlabel=label("n_params", "jets"), ylabel=label(loss_col, "jets"))
    log_axes(ax)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=6.5)


def plot_frontier(ax, optima: list[dict], fit2: dict, fit3: LawFit | None, numbers3: dict, k: float, grid_range,
                  which: str) -> None:
    """N_opt(C) (``which`` = "N") or D_opt(C) ("D") from both approaches; the width grid shaded on N."""
    exponent = "a" if which == "N" else "b"
    compute = np.array([o["compute"] for o in optima])
    dense = np.geomspace(compute.min() / 1.5, compute.max() * 1.5, 100)

    def to_y(c, n):  # N_opt itself, or D_opt = C / (k N_opt)
        return np.asarray(n, dtype=float) if which == "N" else np.asarray(c, dtype=float) / (k * np.asarray(n))

    if which == "N":
        ax.axhspan(*grid_range, color="0.85", alpha=0.35, lw=0, label="width grid")
    for o in (o for o in optima if o["usable"]):
        y = float(to_y(o["compute"], o["n_opt"]))
        bounds = (sorted(float(to_y(o["compute"], v)) for v in o["n_opt_ci"]) if o["n_opt_ci"][0] is not None
                  else (None, None))
        ax.errorbar([o["compute"]], [y], yerr=interval_err(y, *bounds), fmt="o", ms=5, color=APPROACH_COLORS[2],
                    mfc=APPROACH_COLORS[2] if o["bracketed"] else "white", zorder=4)
    if fit2.get("a") is not None:
        text = f"approach 2: ${exponent}$ = {fmt_ci(fit2[exponent], fit2[exponent + '_ci'], 2)}"
        text += " (uses edge optima)" if fit2["uses_edge_optima"] else ""
        ax.plot(dense, to_y(dense, approach2_n_opt(fit2, dense)), "-", color=APPROACH_COLORS[2], label=text)
    if fit3 is not None:
        lo, hi = (to_y(dense, n) for n in frontier_band(fit3, dense, k))
        draw_fit(ax, dense, to_y(dense, frontier_n_opt(fit3.params, dense, k)), APPROACH_COLORS[3],
                 np.minimum(lo, hi), np.maximum(lo, hi), ls="--",
                 label=f"approach 3: ${exponent}$ = {fmt_ci(numbers3[exponent], numbers3[exponent + '_ci'], 2)}")
    ax.set(xlabel=label("compute", "jets"),
           ylabel="$N_{opt}$ [parameters]" if which == "N" else "$D_{opt}$ [jets seen]")
    log_axes(ax)
    ax.legend(loc="best", title=f"${which}_{{opt}} \\propto C^{exponent}$", title_fontsize=7.5)


def draw(plot: dict):
    """Four panels from figure 3's numbers file: (a) width scaling, (b) IsoFLOP curves, (c, d) frontiers."""
    loss_col, k, optima = plot["loss_col"], plot["k"], plot["optima"]
    fit3 = None if plot["fit3"] is None else LawFit.from_json(plot["fit3"])
    fig, (ax_w, ax_iso, ax_n, ax_d) = panel_figure(4)
    plot_width(ax_w, plot["width"], loss_col)
    panel_tag(ax_w, "a", f"model scaling at fixed data ({plot['width_sweep']})")
    plot_isoflop(ax_iso, plot["unused"], optima, fit3, k, loss_col)
    panel_tag(ax_iso, "b", f"IsoFLOP curves ({plot['isoflop_sweep']})")
    grid = (min(o["grid"][0] for o in optima), max(o["grid"][-1] for o in optima))
    plot_frontier(ax_n, optima, plot["approach2"], fit3, plot["approach3"], k, grid, "N")
    panel_tag(ax_n, "c", "compute-optimal model size")
    plot_frontier(ax_d, optima, plot["approach2"], fit3, plot["approach3"], k, grid, "D")
    panel_tag(ax_d, "d", "compute-optimal data (samples seen)")
    return fig
