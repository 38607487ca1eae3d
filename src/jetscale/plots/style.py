"""One figure style for every jetscale plot: labels with units, log axes, PNG + PDF."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import matplotlib

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

LABELS = {
    "n_samples": "training samples $P$",
    "width": "width $N$ (features)",
    "n_params": "trainable parameters",
    "flops": "training compute [FLOP]",
    "test_loss": "test loss",
    "theory_loss": "theory",
}


# What ``test_loss`` means for each task (the scaling-law loss of that task).
TASK_LOSS_LABELS = {"toy": "excess test error $E_g$"}


def label(column: str, task: str | None = None) -> str:
    if column == "test_loss" and task in TASK_LOSS_LABELS:
        return TASK_LOSS_LABELS[task]
    return LABELS.get(column, column.replace("_", " "))


@contextmanager
def figure_style():
    with plt.rc_context(RC):
        yield


def colors(n: int):
    return [plt.get_cmap("viridis")(0.9 * i / max(n - 1, 1)) for i in range(n)]


def save_figure(fig, out_dir: str | Path, name: str, formats=("png", "pdf")) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.{ext}" for ext in formats]
    for path in paths:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:])
    plt.close(fig)
    return paths
