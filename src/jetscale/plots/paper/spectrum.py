"""Figure 2 from its numbers file: (a) covariance spectra with their power laws, (b) the EFP spectra in Batson &
Kahn's convention per class beside the one the prediction uses (when the numbers file has them), (c) the label's
power per mode (tail sums), (d) predicted against measured data-scaling exponents."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from jetscale.plots.spectrum import ci_text, draw_spectra, draw_target_power, spectrum_series
from jetscale.plots.style import band, colors, interval_err, model_label


def _draw_exponents(ax, numbers: dict) -> None:
    """Predicted and measured beta with 95 % CI error bars, one column each; the measured CI as a band."""
    palette = colors(4)
    pred_color, meas_color, other_color = palette[0], palette[2], palette[1]
    measured = numbers["measured"]
    rows = [("asymptotic\n$2\\alpha\\,\\min(r,1)$", "predicted, asymptotic", numbers["prediction"]["asymptotic"],
             pred_color, "D"),
            ("finite-$d$ det.\nequivalent", "predicted, finite-$d$", numbers["prediction"]["finite_d"],
             pred_color, "s"),
            (model_label(measured["model"]) + "\n(measured)", f"measured, {measured['model']}", measured,
             meas_color, "o")]
    rows += [(model_label(o["model"]) + "\n(measured)", f"measured, {o['model']}", o, other_color, "o")
             for o in numbers["others"]]
    lo, hi = numbers["measured"]["ci95"]
    band(ax, [-0.5, len(rows) - 0.5], [lo, lo], [hi, hi], meas_color)
    for x, (_, name, value, color, marker) in enumerate(rows):
        if value is None:
            ax.annotate("n/a", (x, numbers["measured"]["beta"]), ha="center")
            continue
        lo, hi = value["ci95"]
        err = interval_err(value["beta"], lo, hi)
        ax.errorbar([x], [value["beta"]], yerr=err, fmt=marker, color=color, ms=6,
                    label=f"{name}: {ci_text(value['beta'], value['ci95'])}")
    ax.set_xticks(range(len(rows)), [tick for tick, *_ in rows], fontsize=7, rotation=30, ha="right")
    ax.set_xlim(-0.5, len(rows) - 0.5)
    estimates = [value["beta"] for *_, value, _, _ in rows if value is not None and np.isfinite(value["beta"])]
    if estimates:  # a loose CI (a nearly flat learning curve) may span decades: the estimates set the scale
        ax.set_ylim(min(0.0, min(estimates)), 2.0 * max(max(estimates), 0.5))
    ax.set(ylabel="data-scaling exponent $\\beta$  ($L = C + A\\,T^{-\\beta}$)",
           title="exponent: toy-model prediction vs measured")


def _legend_below(ax) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)


THEORY_LABEL = "theory's: centred, standardized, pooled"
"""Legend of the spectrum the prediction uses (``THEORY_CONVENTION`` of the analysis)."""


def _bk_series(plot: dict) -> list:
    """(name, entry) of each class's spectrum in Batson & Kahn's convention, then the theory's spectrum."""
    bk = plot["bk_spectrum"]
    options = bk["options"] or {}
    centring = "uncentred $\\frac{1}{T}\\sum x x^T$" if options.get("centring") == "second-moment" else "centred"
    series = [(f"B&K's, {name}: {centring}, {(entry.get('convention') or options).get('scale')}, "
               f"d $\\leq$ {bk['dmax']}", entry) for name, entry in bk["classes"].items()]
    return series + [(f"{THEORY_LABEL}, d $\\leq$ {plot['exponents']['prediction']['spectrum_convention']['dmax']}",
                      plot["efp_spectrum"]["standardized"])]


def draw(plot: dict):
    """The figure from figure 2's numbers file: (a) spectra, (b) B&K's convention per class beside the theory's
    (when present), (c) label power tail sums, (d) predicted vs measured beta."""
    series = spectrum_series(plot["efp_spectrum"], "EFP ")
    if plot["constituent_spectrum"] is not None:
        series += spectrum_series(plot["constituent_spectrum"], "constituent ")
    bk = plot.get("bk_spectrum") is not None
    width, height = plt.rcParams["figure.figsize"]
    fig, axes = plt.subplots(1, 3 + bk, figsize=((3 + bk) * width, 1.1 * height))
    a, *middle, c, d = axes
    palette = colors(len(series))
    draw_spectra(a, series, palette)
    a.set_title("(a) covariance spectra, fits $\\lambda_k \\propto k^{-\\alpha}$")
    if bk:
        conventions = _bk_series(plot)
        draw_spectra(middle[0], conventions, colors(len(conventions)))
        middle[0].set_title("(b) EFP spectra: Batson & Kahn's Fig. 4 vs the theory's")
    draw_target_power(c, series[:2], palette[:2])
    c.set_title(f"({'c' if bk else 'b'}) EFP label projection $t_k$: tail sums, fits")
    _draw_exponents(d, plot["exponents"])
    d.set_title(f"({'d' if bk else 'c'}) {d.get_title()}")
    for ax in axes:
        _legend_below(ax)
    return fig
