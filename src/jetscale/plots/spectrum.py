"""Covariance eigen-spectrum figure: lambda_k / lambda_1 against rank k on log-log axes.

Input is the ``spectrum.json`` payload of :mod:`jetscale.features.spectrum`. Points are
the eigenvalues above their numerical noise floor of the raw-feature covariance and of the standardized features
(correlation matrix), each divided by its largest eigenvalue so the two decays can be
compared on one axis; dashed lines are the fitted power laws amplitude * k^(-alpha)
(same normalization) drawn over the rank range they were fitted on.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from jetscale.plots.style import colors, figure_style, save_figure


def _series(result: dict):
    """(name, entry) for each spectrum in ``result``; an entry has ``eigenvalues``, maybe ``fit``, ``noise_floor``."""
    out = [("covariance", result)]
    if result.get("standardized"):
        out.append(("standardized features", result["standardized"]))
    return out


def _fit_label(name: str, fit: dict | None) -> str:
    if not fit:
        return name
    lo, hi = fit["ci95"]
    return f"{name}: $\\alpha$ = {fit['alpha']:.2f} [{lo:.2f}, {hi:.2f}]"


def plot_spectrum(result: dict):
    """Figure of the spectra in ``result`` with their fitted power laws."""
    with figure_style():
        fig, ax = plt.subplots()
        series = _series(result)
        for color, (name, entry) in zip(colors(len(series)), series, strict=True):
            lam, fit = np.asarray(entry["eigenvalues"], dtype=float), entry.get("fit")
            rank = np.arange(1, lam.size + 1)
            shown = lam > max(entry.get("noise_floor", 0.0), 0.0)  # numerical noise is not drawn
            ax.plot(rank[shown], lam[shown] / lam[0], "o", ms=2.5, color=color, label=_fit_label(name, fit))
            if fit:
                k = np.geomspace(*fit["k_range"], 50)
                ax.plot(k, fit["amplitude"] * k ** (-fit["alpha"]) / lam[0], "--", color=color, lw=1.2)
        ax.set(xscale="log", yscale="log", xlabel="rank $k$", ylabel="eigenvalue $\\lambda_k / \\lambda_1$",
               title=f"{result.get('features', '')} features: d = {result.get('d')}, n = {result.get('n')} jets")
        handles = ax.get_legend_handles_labels()[0] + [plt.Line2D([], [], ls="--", color="0.3",
                                                                  label="fit $\\propto k^{-\\alpha}$ (95% CI)")]
        ax.legend(handles=handles, loc="lower left")
    return fig


def spectrum_figure(result: dict, out_dir: str | Path, name: str = "spectrum") -> list[Path]:
    """Write ``<name>.png`` and ``<name>.pdf`` in ``out_dir``; return the paths."""
    with figure_style():  # the style must also be active when saving (bbox, dpi)
        return save_figure(plot_spectrum(result), out_dir, name)
