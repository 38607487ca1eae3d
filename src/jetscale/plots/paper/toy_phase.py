"""Figure 4 from its numbers file: learning curves in P and N against the deterministic equivalent, the (N, P)
phase diagram with the regimes' fit lines, and measured against predicted exponents."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from jetscale.fit.paper.toy_regimes import SEPARATION, theory_error
from jetscale.plots.spectrum import ci_text
from jetscale.plots.style import colors, label


N_DENSE = 80
"""Points per theory line."""


AXES = {"width": "N", "n_samples": "P"}


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
    table = regimes["resolution_N"].get("table")
    if table:  # the regime table at the resolution-limited-in-N points (docs/paper.md, figure 4)
        width_limited += f"\n  table: {', '.join(table['regimes'])}"
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
