"""One figure style for every jetscale plot: labels with units, log axes, colours, bands, PNG + PDF.

Everything a figure shares with the others lives here, so no figure module carries its own copy:

* :func:`figure_style` (the rc settings; active while drawing *and* saving), :func:`save_figure`;
* axis labels (:func:`label`, with the task's meaning of ``test_loss``), model display names
  (:func:`model_label`) and one colour per model across all figures (:func:`model_color`);
* multi-panel layouts (:func:`panel_figure`, :func:`panel_tag`) and log axes whose ticks read well
  (:func:`log_axes`);
* how data and fits are drawn: seed means with standard-error bars (:func:`draw_means`), a fitted
  curve with its 95 % band (:func:`draw_fit`, :func:`band`, :data:`BAND_ALPHA`).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import ticker

from jetscale.atomic import atomic_output

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RC = {
    "figure.figsize": (5.2, 3.9),
    "figure.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "lines.linewidth": 1.4,
    "errorbar.capsize": 2,
}

PANEL_SIZE = (4.4, 3.4)
"""Width and height in inches of one panel of a multi-panel figure (:func:`panel_figure`)."""

LABELS = {
    "n_samples": "training samples $P$",
    "width": "width $N$ (features)",
    "n_params": "trainable parameters",
    "flops": "training compute [FLOP]",
    "compute": "compute budget $C$ [FLOP]",
    "samples_seen": "samples seen $D$",
    "test_loss": "test loss",
    "theory_loss": "theory",
}

# Labels that depend on the task: what ``test_loss`` means (the scaling-law loss of that task) and what
# the resources are called in that task's literature (jets: Batson & Kahn's T; toy: P and N).
TASK_LABELS = {
    "toy": {"test_loss": "excess test error $E_g$"},
    "jets": {
        "test_loss": "test BCE [nats/jet]",
        "n_samples": "training jets $T$",
        "n_params": "trainable parameters $N$",
        "width": "width (hidden units)",
        "samples_seen": "jets seen in training $D$",
    },
    "rhm": {"test_loss": "test cross-entropy [nats]", "test_error": "test error (chance $1 - 1/n_c$)",
            "n_samples": "training data $P$", "width": "width (channels / hidden units)"},
    "rambo": {"test_loss": "flow-matching test loss", "test_distance": r"$\langle W_1(m_{ij}/\sqrt{s})\rangle$",
              "n_samples": "training events $P$", "width": "velocity-field width"},
    "shower": {"test_loss": "test MSE of thrust", "n_samples": "training events $P$",
               "width": "features $N$ (ridge) / hidden width (MLP)"},
}
TASK_LOSS_LABELS = {task: labels["test_loss"] for task, labels in TASK_LABELS.items()}  # kept for callers

MODEL_NAMES = {
    "efp_linear": "EFP linear",
    "efp_mlp": "EFP MLP",
    "pfn": "PFN",
    "particle_transformer": "Particle Transformer",
    "random_features": "random features",
    "rhm_cnn": "hierarchical CNN",
    "rhm_mlp": "MLP",
    "rhm_transformer": "transformer",
    "flow_matching": "flow matching",
    "shower_ridge": "ridge on EFPs",
    "shower_mlp": "EFP MLP (regression)",
}
# The models each task compares: colours are distinct within a task (a figure shows one task).
TASK_MODELS = {
    "jets": ("efp_linear", "efp_mlp", "pfn", "particle_transformer"),
    "toy": ("random_features",),
    "rhm": ("rhm_cnn", "rhm_mlp", "rhm_transformer"),
    "rambo": ("flow_matching",),
    "shower": ("shower_ridge", "shower_mlp"),
}

# Okabe-Ito: distinguishable with colour-vision deficiencies and in greyscale print.
_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
MODEL_COLORS = {name: _PALETTE[i] for models in TASK_MODELS.values() for i, name in enumerate(models)}


def label(column: str, task: str | None = None) -> str:
    """Axis label (with units) of a results-table column; ``task`` ("jets", "toy") picks its wording."""
    specific = TASK_LABELS.get(task or "", {})
    if column in specific:
        return specific[column]
    return LABELS.get(column, column.replace("_", " "))


def model_label(model: str) -> str:
    """Display name of a model: ``efp_linear`` -> "EFP linear"; unknown names are shown as written."""
    return MODEL_NAMES.get(model, model.replace("_", " "))


def model_color(model: str, index: int = 0):
    """The colour of ``model`` in every figure; a model without one gets the ``index``-th spare colour."""
    if model in MODEL_COLORS:
        return MODEL_COLORS[model]
    spare = _PALETTE[max(len(models) for models in TASK_MODELS.values()):]
    return spare[index % len(spare)]


@contextmanager
def figure_style():
    with plt.rc_context(RC):
        yield


def colors(n: int):
    """``n`` colours of a sequential scale: for ordered groups (widths, budgets), not for models."""
    return [plt.get_cmap("viridis")(0.9 * i / max(n - 1, 1)) for i in range(n)]


def panel_figure(n: int, ncols: int | None = None):
    """A figure of ``n`` panels of :data:`PANEL_SIZE` in a grid (spare cells hidden); returns (fig, axes list)."""
    ncols = ncols or min(n, 2)
    nrows = -(-n // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(PANEL_SIZE[0] * ncols, PANEL_SIZE[1] * nrows), squeeze=False)
    axes = list(grid.ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.set_layout_engine("constrained")
    return fig, axes[:n]


def panel_tag(ax, tag: str, title: str = "") -> None:
    """Title a panel "(a) title", left-aligned."""
    ax.set_title(f"({tag}) {title}".rstrip(), loc="left", fontsize=RC["font.size"])


def tick_text(value: float, _pos=None) -> str:
    """A log-axis tick: plain decimals from 1e-3 to 1e5 (``0.3``, ``2000``), else ``2×10^6``."""
    if not np.isfinite(value) or value <= 0:
        return ""
    if 1e-3 <= value < 1e5:
        return f"{float(f'{value:.3g}'):g}"
    exponent = int(np.floor(np.log10(value) + 1e-9))
    mantissa = value / 10.0**exponent
    return f"$10^{{{exponent}}}$" if np.isclose(mantissa, 1) else f"${mantissa:.2g}\\times10^{{{exponent}}}$"


def _minor_text(decades: float):
    """Minor-tick labels that fit the axis span: all, then fewer mantissas as the span grows."""
    keep = (None if decades < 0.6 else (2, 3, 5, 7) if decades < 1.0 else (2, 5) if decades < 1.6
            else (3,) if decades < 2.5 else ())

    def text(value: float, pos=None) -> str:
        if keep is None:
            return tick_text(value, pos)
        mantissa = round(value / 10.0 ** np.floor(np.log10(value) + 1e-9), 6) if value > 0 else 0
        return tick_text(value, pos) if mantissa in keep else ""

    return ticker.FuncFormatter(text)


def log_axes(ax, x: bool = True, y: bool = True) -> None:
    """Log scale on the chosen axes with readable ticks; call after drawing (uses the final limits)."""
    for on, axis, set_scale, get_lim in ((x, ax.xaxis, ax.set_xscale, ax.get_xlim),
                                         (y, ax.yaxis, ax.set_yscale, ax.get_ylim)):
        if not on:
            continue
        set_scale("log")
        lo, hi = get_lim()
        axis.set_major_formatter(ticker.FuncFormatter(tick_text))
        axis.set_minor_formatter(_minor_text(np.log10(hi / lo) if lo > 0 else 99.0))


BAND_ALPHA = 0.2
"""Opacity of every confidence band (95 % CI of a fitted curve)."""


def band(ax, x, lo, hi, color, **kw):
    """Shade the 95 % confidence band [lo, hi] of a curve drawn over ``x``."""
    return ax.fill_between(x, lo, hi, color=color, alpha=BAND_ALPHA, lw=0, **kw)


def interval_err(value: float, lo, hi):
    """Error-bar lengths ``[[below], [above]]`` of an interval [lo, hi] around ``value`` (None without one).

    A percentile-bootstrap interval need not contain the point estimate; the bar then stops at the value.
    """
    if lo is None or hi is None:
        return None
    return [[max(value - lo, 0.0)], [max(hi - value, 0.0)]]


def draw_means(ax, x, mean, sem, color, label: str | None = None, held_out: bool = False, **kw):
    """Seed means with standard-error bars; ``held_out`` points are hollow (not used by the fit)."""
    sem = np.nan_to_num(np.asarray(sem, dtype=float))
    face = "white" if held_out else color
    return ax.errorbar(x, mean, yerr=sem, fmt=kw.pop("fmt", "o"), ms=kw.pop("ms", 4), color=color, mfc=face,
                       mec=color, label=label, lw=1, zorder=3, **kw)


def draw_fit(ax, x, y, color, lo=None, hi=None, label: str | None = None, ls: str = "-", **kw):
    """A fitted curve, with its 95 % band when ``lo``/``hi`` are given (non-finite band values are skipped)."""
    if lo is not None and hi is not None:
        lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.any():
            band(ax, np.asarray(x)[ok], lo[ok], hi[ok], color)
    return ax.plot(x, y, ls=ls, color=color, label=label, lw=kw.pop("lw", 1.3), **kw)


def limit_to_points(ax, values, margin: float = 3.0) -> None:
    """Log y-limits from the plotted points (÷/× ``margin``), so that a wide confidence band, which can
    span decades where a fit is poorly constrained, does not squash the data into a sliver."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size:
        ax.set_ylim(values.min() / margin, values.max() * margin)


def save_figure(fig, out_dir: str | Path, name: str, formats=("png", "pdf")) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.{ext}" for ext in formats]
    for path in paths:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:])
    plt.close(fig)
    return paths
