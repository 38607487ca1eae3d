"""Figure 1: data scaling of jet taggers (Batson & Kahn, arXiv:2312.02264).

Test BCE against the number of training jets T for every classifier of the paper scale, each
fitted with Batson & Kahn's law::

    L(T) = A * T**(-alpha) + C

which is jetscale's data law ``L = E + B * n_samples**(-beta)`` (:mod:`jetscale.fit.laws`) with
A = B, alpha = beta, C = E: the report and the figure use the paper's names.

Choices (documented once):

* Rows. A classifier's rows are its sweep's rows (those of its model when the sweep holds several).
  A sweep with one width (or none) is fitted on all its rows; a sweep with several widths is fitted
  per width and the largest width is the one shown, ordered and used downstream (the others are
  in ``numbers["classifiers"][model]["per_width"]``).
* Fit and intervals: every row is a point (seeds are not averaged), Huber fit with a row bootstrap
  (:mod:`jetscale.fit.lawfit`); the band is the pointwise 95 % interval of the resamples' curves.
* Panels: (a) L against T; (b) the reducible loss L - C against T, where the law is a straight line
  of slope -alpha (points use the fitted C of their classifier; points with L <= C are not drawn).
* Ordering: by the seed-mean test BCE at the largest T common to all classifiers (a difference is
  "resolved" when it exceeds twice its standard error), and by the fitted asymptote C (with CIs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jetscale.fit import LOSS_COL, LawFit, distinct, fit_rows, percentile_band, seed_stats
from jetscale.paper.report import fmt, fmt_ci, md_table
from jetscale.plots.style import (
    draw_fit, draw_means, label, limit_to_points, log_axes, model_color, model_label, panel_figure, panel_tag,
)

PAPER_LAW = "L(T) = A·T^(−α) + C"
PAPER_NAMES = {"B": "A", "beta": "alpha", "E": "C"}  # jetscale's data-law names -> the paper's
MAPPING_NOTE = ("L(T) = A·T^(−α) + C is fitted as jetscale's data law L = E + B·n_samples^(−β): "
                "A = B, α = β, C = E; T = training jets (`n_samples`).")


@dataclass(frozen=True)
class ClassifierScaling:
    """The data-law fit of one classifier: the rows shown (one width) and the fit per width."""

    model: str
    sweep: str
    rows: pd.DataFrame  # rows of the shown width
    width: float | None  # the shown width (None: the sweep has no width axis)
    fits: dict  # width (or None) -> LawFit

    @property
    def fit(self) -> LawFit:
        return self.fits[self.width]


def model_rows(table: pd.DataFrame, model: str, sweep: str) -> pd.DataFrame:
    """The rows of ``model`` in its sweep's table (all rows when the table holds one model)."""
    if "model" not in table.columns or table["model"].nunique() <= 1:
        return table
    rows = table[table["model"] == model]
    if rows.empty:
        raise ValueError(f"sweep {sweep!r} holds models {sorted(table['model'].unique())} but not {model!r}")
    return rows


def model_warnings(classifiers: Mapping[str, str], tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """A classifier whose sweep trained another model (the table's ``model`` column) is named here."""
    out = []
    for model, sweep in classifiers.items():
        trained = distinct(tables[sweep], "model")
        if trained and model not in trained:
            out.append(f"sweep `{sweep}` is listed for {model_label(model)} but its runs trained "
                       f"{', '.join(map(str, trained))}")
    return out


def shown_rows(table: pd.DataFrame, model: str, sweep: str) -> tuple[pd.DataFrame, float | None]:
    """The rows figure 1 shows for a classifier, and their width (the largest; None without widths)."""
    rows = model_rows(table, model, sweep)
    widths = distinct(rows, "width")
    if len(widths) <= 1:
        return rows, (widths[0] if widths else None)
    return rows[rows["width"] == widths[-1]], widths[-1]


def classifier_scaling(model: str, sweep: str, table: pd.DataFrame, n_boot: int = 200, seed: int = 0,
                       loss_col: str = LOSS_COL) -> ClassifierScaling:
    """Fit the data law of one classifier: on all rows, or per width when the sweep has several."""
    rows = model_rows(table, model, sweep)
    widths = distinct(rows, "width")
    if len(widths) <= 1:
        width = widths[0] if widths else None
        return ClassifierScaling(model, sweep, rows, width, {width: fit_rows(rows, "data", loss_col, n_boot, seed)})
    fits = {w: fit_rows(rows[rows["width"] == w], "data", loss_col, n_boot, seed) for w in widths}
    return ClassifierScaling(model, sweep, rows[rows["width"] == widths[-1]], widths[-1], fits)


def paper_params(fit: LawFit) -> dict:
    """``{"A", "alpha", "C", "ci95": {...}}`` of a data-law fit, in the paper's names."""
    out = {PAPER_NAMES[k]: v for k, v in fit.params.items()}
    out["ci95"] = {PAPER_NAMES[k]: v for k, v in fit.ci95.items()}
    return out


def classifier_numbers(s: ClassifierScaling) -> dict:
    numbers = {"sweep": s.sweep, "label": model_label(s.model), "width": s.width, "n_runs": int(len(s.rows)),
               "n_params": [int(n) for n in distinct(s.rows, "n_params")],
               "T": [float(t) for t in distinct(s.rows, "n_samples")], **paper_params(s.fit),
               "n_points": s.fit.n_points, "n_boot_ok": int(len(s.fit.resamples))}
    if len(s.fits) > 1:
        numbers["per_width"] = {f"{w:g}": {**paper_params(f), "n_points": f.n_points} for w, f in s.fits.items()}
    return numbers


# ------------------------------------------------------------------ ordering

def _stats_at(rows: pd.DataFrame, t: float, loss_col: str) -> dict:
    at = rows[rows["n_samples"] == t][loss_col].to_numpy(dtype=float)
    std = float(at.std(ddof=1)) if at.size > 1 else 0.0
    return {"T": float(t), "mean": float(at.mean()), "std": std, "sem": std / np.sqrt(at.size), "n_seeds": int(at.size)}


def classifier_ordering(scalings: list[ClassifierScaling], loss_col: str = LOSS_COL) -> dict:
    """Classifiers ordered best first: by seed-mean loss at the largest common T, and by fitted C.

    ``resolved[i]``: the i-th and (i+1)-th loss differ by more than twice the standard error of their
    difference; ``C_separated[i]``: their C intervals do not overlap.
    """
    t_sets = [set(distinct(s.rows, "n_samples")) for s in scalings]
    common = set.intersection(*t_sets) if t_sets else set()
    at_t = max(common) if common else None
    by_loss = sorted(({"model": s.model, **_stats_at(s.rows, at_t if at_t is not None else max(ts), loss_col)}
                      for s, ts in zip(scalings, t_sets)), key=lambda e: e["mean"])
    resolved = [bool(b["mean"] - a["mean"] > 2 * np.hypot(a["sem"], b["sem"])) for a, b in zip(by_loss, by_loss[1:])]
    by_c = sorted(({"model": s.model, "C": s.fit.params["E"], "ci95": s.fit.ci95["E"]} for s in scalings),
                  key=lambda e: e["C"])
    separated = [bool(None not in (a["ci95"][1], b["ci95"][0]) and a["ci95"][1] < b["ci95"][0])
                 for a, b in zip(by_c, by_c[1:])]
    return {"at_T": at_t, "common_T": at_t is not None, "by_loss": by_loss, "resolved": resolved,
            "by_C": by_c, "C_separated": separated}


def _chain(entries: list[dict], flags: list[bool], text) -> str:
    out = text(entries[0])
    for entry, flag in zip(entries[1:], flags):
        out += (" < " if flag else " ≲ ") + text(entry)
    return out


def ordering_markdown(order: dict) -> str:
    where = (f"at T = {order['at_T']:g} training jets (the largest T common to all classifiers)" if order["common_T"]
             else "at each classifier's own largest T (the sweeps share no T)")
    by_loss = _chain(order["by_loss"], order["resolved"],
                     lambda e: f"{model_label(e['model'])} {fmt(e['mean'], 4)} ± {fmt(e['std'], 2)}")
    by_c = _chain(order["by_C"], order["C_separated"],
                  lambda e: f"{model_label(e['model'])} {fmt_ci(e['C'], e['ci95'])}")
    return (f"**Ordering** (best first; '<' resolved, '≲' not resolved). By test BCE {where}, seed mean ± seed "
            f"std: {by_loss} ('<': the difference exceeds twice its standard error). "
            f"By fitted asymptote C [95 % CI]: {by_c} ('<': disjoint intervals).")


# ------------------------------------------------------------------ figure

def plot_entry(s: ClassifierScaling, loss_col: str) -> dict:
    """What the drawing needs of one classifier: its fit (with resamples) and its seed means."""
    stats = seed_stats(s.rows, "n_samples", loss_col)
    return {"model": s.model, "width": s.width, "several_widths": len(s.fits) > 1, "fit": s.fit.to_json(),
            "stats": {c: stats[c].astype(float).tolist() for c in ("n_samples", "mean", "sem")}}


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


def table_markdown(numbers: dict) -> str:
    rows = []
    for model, n in numbers.items():
        width = "all" if n["width"] is None else f"{n['width']:g}"
        size = ", ".join(f"{p:,}" for p in n["n_params"])  # a model without a width knob (EFP linear) has one size
        t = f"{min(n['T']):g}–{max(n['T']):g}"
        rows.append([model_label(model), f"`{n['sweep']}`", width, size, n["n_runs"], t, fmt_ci(n["A"], n["ci95"]["A"]),
                     fmt_ci(n["alpha"], n["ci95"]["alpha"]), fmt_ci(n["C"], n["ci95"]["C"])])
    return md_table(["classifier", "sweep", "width", "parameters", "runs", "T range", "A [95 % CI]", "α [95 % CI]",
                     "C [nats/jet, 95 % CI]"], rows)


def analyse(classifiers: Mapping[str, str], tables: Mapping[str, pd.DataFrame], n_boot: int = 200, seed: int = 0,
            loss_col: str = LOSS_COL) -> dict:
    """Figure 1's numbers file from ``classifiers`` (model -> sweep, legend order) and ``tables`` (sweep -> table)."""
    scalings = [classifier_scaling(model, sweep, tables[sweep], n_boot, seed, loss_col)
                for model, sweep in classifiers.items()]
    numbers = {"law": PAPER_LAW, "mapping": MAPPING_NOTE, "n_boot": n_boot, "seed": seed,
               "classifiers": {s.model: classifier_numbers(s) for s in scalings},
               "ordering": classifier_ordering(scalings, loss_col), "warnings": model_warnings(classifiers, tables)}
    return {"numbers": numbers, "plot": {"loss_col": loss_col, "classifiers": [plot_entry(s, loss_col) for s in scalings]},
            "sweeps": list(dict.fromkeys(classifiers.values()))}


def markdown(numbers: dict) -> str:
    """Figure 1's section of the report."""
    several = [m for m, n in numbers["classifiers"].items() if "per_width" in n]
    width_note = (f" Sweeps with several widths ({', '.join(map(model_label, several))}) are fitted per width; "
                  "the largest width is shown and tabulated." if several else "")
    return "\n\n".join([
        f"Test BCE against training jets T, fitted per classifier with {PAPER_LAW} (Huber fit on every run, "
        f"seeds not averaged; {numbers['n_boot']} bootstrap resamples of the runs). {MAPPING_NOTE}{width_note}",
        table_markdown(numbers["classifiers"]),
        ordering_markdown(numbers["ordering"]),
        *(f"> **Warning**: {w}" for w in numbers["warnings"]),
    ])
