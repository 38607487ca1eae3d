"""Covariance eigen-spectrum figure: lambda_k / lambda_1 against rank k on log-log axes, and the
label's power per mode beside it.

Input is the ``spectrum.json`` payload of :mod:`jetscale.features.spectrum` (``jetscale spectrum-figure``
draws it; a shower payload gets :func:`shower_spectra_figure`). Left: the
eigenvalues above their numerical noise floor of the raw-feature covariance and of the
standardized features (correlation matrix), each divided by its largest eigenvalue so the two
decays can be compared on one axis; dashed lines are the fitted power laws
amplitude * k^(-alpha) (same normalization) drawn over the rank range they were fitted on.
Right (when the payload has a label projection): the tail sums S_k = sum_{j>=k} t_j of the
target power, divided by S_1, with the fitted truncated power law (dashed) over its rank range.
:func:`draw_spectra` and :func:`draw_target_power` draw one panel each, for any figure
(also :mod:`jetscale.plots.paper.spectrum`).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from jetscale.plots.style import colors, figure_style, panel_figure, panel_tag, save_figure

MAX_LEGEND = 6
"""Shower spectra: legend entries up to this many branching depths k, a colour bar beyond."""


def spectrum_series(result: dict, prefix: str = ""):
    """(name, entry) for each spectrum of one group of ``result`` (its raw entry when present, its standardized one);
    an entry has ``eigenvalues``, maybe ``fit``, ``noise_floor``."""
    second = (result.get("convention") or {}).get("centring") == "second-moment"
    out = [(prefix + ("second moment" if second else "covariance"), result)] if "eigenvalues" in result else []
    if result.get("standardized"):
        out.append((f"{prefix}standardized features", result["standardized"]))
    return out


def ci_text(value: float, ci) -> str:
    """``"1.23 [1.10, 1.35]"``, or just the value when the interval is missing."""
    lo, hi = ci if ci is not None else (None, None)
    if lo is None or hi is None:
        return f"{value:.2f}"
    return f"{value:.2f} [{lo:.2f}, {hi:.2f}]"


def _fit_label(name: str, fit: dict | None) -> str:
    if not fit:
        return name
    return f"{name}: $\\alpha$ = {ci_text(fit['alpha'], fit['ci95'])}"


def draw_spectra(ax, series, palette=None) -> None:
    """Points lambda_k / lambda_1 (above the noise floor) and dashed fits of each (name, entry) of ``series``."""
    palette = palette or colors(len(series))
    for color, (name, entry) in zip(palette, series, strict=True):
        lam, fit = np.asarray(entry["eigenvalues"], dtype=float), entry.get("fit")
        rank = np.arange(1, lam.size + 1)
        shown = lam > max(entry.get("noise_floor", 0.0), 0.0)  # numerical noise is not drawn
        ax.plot(rank[shown], lam[shown] / lam[0], "o", ms=2.5, color=color, label=_fit_label(name, fit))
        if fit:
            k = np.geomspace(*fit["k_range"], 50)
            ax.plot(k, fit["amplitude"] * k ** (-fit["alpha"]) / lam[0], "--", color=color, lw=1.2)
    ax.set(xscale="log", yscale="log", xlabel="rank $k$", ylabel="eigenvalue $\\lambda_k / \\lambda_1$")


def truncated_tail(amplitude: float, exponent: float, n_modes: int, k: np.ndarray) -> np.ndarray:
    """A sum_{j=k}^{K} j^-(1 + s) at integer ranks ``k`` (the model of the tail-sum fit)."""
    ranks = np.arange(1, n_modes + 1, dtype=float)
    tails = np.cumsum((amplitude * ranks ** -(1.0 + exponent))[::-1])[::-1]
    return tails[np.asarray(k, dtype=int) - 1]


def draw_target_power(ax, series, palette=None) -> None:
    """Tail sums S_k / S_1 of the target power and their fits, for each (name, entry) with a label projection."""
    palette = palette or colors(len(series))
    for color, (name, entry) in zip(palette, series, strict=True):
        projection = entry.get("label_projection")
        if not projection:
            continue
        t = np.asarray(projection["target_power"], dtype=float)
        tails = np.cumsum(t[::-1])[::-1]
        rank = np.arange(1, t.size + 1)
        shown = tails > 0
        fit = projection["fit"]
        r_text = "" if projection["r"] is None else f", $r$ = {ci_text(projection['r'], projection['r_ci95'])}"
        ax.plot(rank[shown], tails[shown] / tails[0], "s", ms=2.5, color=color,
                label=f"{name}: $2\\alpha r$ = {ci_text(fit['exponent'], fit['ci95'])}{r_text}")
        k = np.arange(fit["k_range"][0], fit["k_range"][1] + 1)
        model = truncated_tail(fit["amplitude"], fit["exponent"], fit["n_modes"], k)
        ax.plot(k, model / tails[0], "--", color=color, lw=1.2)
    ax.set(xscale="log", yscale="log", xlabel="rank $k$",
           ylabel="label power in modes $\\geq k$: $S_k / S_1$")


def plot_spectrum(result: dict):
    """Figure of the spectra in ``result`` with their fitted power laws (and label projection, if any)."""
    series = spectrum_series(result)
    for name, group in result.get("classes", {}).items():  # per-class spectra (docs/spectrum.md#conventions)
        series += spectrum_series(group, f"{name}: ")
    projected = any(entry.get("label_projection") for _, entry in series)
    with figure_style():
        width, height = plt.rcParams["figure.figsize"]
        fig, axes = plt.subplots(1, 2 if projected else 1, figsize=(2 * width if projected else width, height),
                                 squeeze=False)
        ax = axes[0, 0]
        draw_spectra(ax, series)
        ax.set_title(f"{result.get('features', '')} features: d = {result.get('d')}, n = {result.get('n')} jets")
        handles = ax.get_legend_handles_labels()[0] + [plt.Line2D([], [], ls="--", color="0.3",
                                                                  label="fit $\\propto k^{-\\alpha}$ (95% CI)")]
        ax.legend(handles=handles, loc="lower left")
        if projected:
            right = axes[0, 1]
            draw_target_power(right, series)
            right.set_title("label projection $t_k = (v_k \\cdot \\mathrm{Cov}(x, y))^2 / \\lambda_k$")
            handles = right.get_legend_handles_labels()[0] + [plt.Line2D(
                [], [], ls="--", color="0.3", label="fit $A\\sum_{j=k}^{K} j^{-(1+2\\alpha r)}$ (95% CI)")]
            right.legend(handles=handles, loc="lower left")
    return fig


def spectrum_figure(result: dict, out_dir: str | Path, name: str = "spectrum") -> list[Path]:
    """Write ``<name>.png`` and ``<name>.pdf`` in ``out_dir``; return the paths."""
    with figure_style():  # the style must also be active when saving (bbox, dpi)
        return save_figure(plot_spectrum(result), out_dir, name)


def shower_spectra_figure(result: dict, out_dir: str | Path, name: str = "spectrum") -> list[Path]:
    """A shower ``spectrum.json`` (:mod:`jetscale.features.shower_spectrum`): (a) standardized and (b) whitened
    spectra lambda_j / lambda_1, one colour per k, dashed power-law fits; legends with the exponents for up to
    ``MAX_LEGEND`` values of k, a colour bar of k beyond. Writes ``<name>.{png,pdf}``."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, ListedColormap


    entries = result["per_k"]
    palette = colors(len(entries))
    with figure_style():
        fig, (raw, white) = panel_figure(2)
        for ax, key, title in ((raw, "standardized", "standardized EFPs"),
                               (white, "whitened", "whitened by RAMBO phase space")):
            series = [(e.get("label") or f"$k$ = {e['k']}", e[key]) for e in entries if e[key] is not None]
            colours = [c for c, e in zip(palette, entries) if e[key] is not None]
            if series:
                draw_spectra(ax, series, colours)
                if len(entries) <= MAX_LEGEND:
                    ax.legend(loc="lower left", fontsize=6)
            panel_tag(ax, "a" if key == "standardized" else "b", title)
            ax.set_xlabel("rank $j$")  # k is the branching depth here
        raw.set_ylabel("eigenvalue $\\lambda_j / \\lambda_1$")
        white.set_ylabel("whitened eigenvalue $\\mu_j / \\mu_1$")
        if len(entries) > MAX_LEGEND:  # too many for a legend: a colour bar of k (the exponents are in the JSON)
            bounds = np.arange(len(entries) + 1) - 0.5
            mappable = ScalarMappable(BoundaryNorm(bounds, len(entries)), ListedColormap(palette))
            bar = fig.colorbar(mappable, ax=[raw, white], ticks=np.arange(len(entries)))
            bar.ax.set_yticklabels([str(e["k"]) for e in entries], fontsize=6)
            bar.set_label("branching depth $k$")
        fig.suptitle(f"{result.get('process')}: e$^+$e$^-$ EFPs d $\\leq$ {result['feature_options']['dmax']}, "
                     f"$\\beta$ = {result['feature_options']['beta']:g}", fontsize=9)
        return save_figure(fig, out_dir, name)


def draw_spectrum_file(path: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """``spectrum.{png,pdf}`` beside (or in ``out_dir``) a jet or shower ``spectrum.json``."""
    import json

    path = Path(path)
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable spectrum.json ({err})") from err
    out_dir = path.parent if out_dir is None else Path(out_dir)
    if "per_k" in result:
        return shower_spectra_figure(result, out_dir)
    if "eigenvalues" in result or "standardized" in result:
        return spectrum_figure(result, out_dir)
    raise ValueError(f"{path}: neither a jet spectrum (no 'eigenvalues') nor a shower spectrum (no 'per_k')")
