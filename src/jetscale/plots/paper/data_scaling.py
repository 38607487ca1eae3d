"""Figure 1 from its numbers file: (a) test loss against training jets with the fitted law and its 95 % band,
(b) the reducible loss L - C, a line of slope -alpha."""

from __future__ import annotations

import numpy as np

from jetscale.fit import LawFit, percentile_band
from jetscale.formatting import fmt_ci
from jetscale.plots.style import (
    draw_fit, draw_means, label, limit_to_points, log_axes, model_color, model_label, panel_figure, panel_tag,
)


def _legend(entry: dict, fit: LawFit) -> str:
    width = f" (width {entry['width']:g})" if entry["several_widths"] else ""
    return f"{model_label(entry['model'])}{width}: α = {fmt_ci(fit.params['beta'], fit.ci95['beta'], 2)}"


def draw(plot: dict):
    """Two panels from figure 1's numbers file: (a) L vs T with the fitted law and its band, (b) L - C vs T."""
    loss_col = plot["loss_col"]
    fig, (ax, ax_red) = panel_figure(2)
    points, reducible_points = [], []
    for i, entry in enumerate(plot["classifiers"]):
        color, fit = model_color(entry["model"], i), LawFit.from_json(entry["fit"])
        t, mean, sem = (np.asarray(entry["stats"][c], dtype=float) for c in ("n_samples", "mean", "sem"))
        dense = {"n_samples": np.geomspace(t.min(), t.max(), 120)}
        lo, hi = fit.band(dense)
        draw_means(ax, t, mean, sem, color, label=model_label(entry["model"]))
        draw_fit(ax, dense["n_samples"], fit.predict(dense), color, lo, hi)
        c = fit.params["E"]
        reducible = mean - c
        shown = reducible > 0
        draw_means(ax_red, t[shown], reducible[shown], sem[shown], color, label=_legend(entry, fit))
        points += list(mean)
        reducible_points += list(reducible[shown])
        preds = fit.resample_predictions(dense) - np.array([p["E"] for p in fit.resample_params()])[:, None]
        red_lo, red_hi = percentile_band(preds)
        draw_fit(ax_red, dense["n_samples"], fit.predict(dense) - c, color, red_lo, red_hi)
    ax.set(xlabel=label("n_samples", "jets"), ylabel=label(loss_col, "jets"))
    panel_tag(ax, "a", "test loss; fit $L = A\\,T^{-\\alpha} + C$ (95 % band)")
    ax.legend(loc="upper right", title="seed mean ± s.e.", title_fontsize=7.5)
    ax_red.set(xlabel=label("n_samples", "jets"), ylabel="reducible loss $L - \\hat C$ [nats/jet]")
    panel_tag(ax_red, "b", "reducible loss: a line of slope $-\\alpha$")
    ax_red.legend(loc="lower left", title="fitted α [95 % CI]", title_fontsize=7.5)
    for a in (ax, ax_red):
        log_axes(a)
    limit_to_points(ax, points, margin=1.5)
    limit_to_points(ax_red, reducible_points)
    return fig
