"""Figure 1's analysis: the data law of every classifier of a paper scale, their ordering, and what the drawing
needs (fits with their bootstrap resamples, seed means). Method and choices: docs/paper.md, figure 1."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jetscale.fit import LOSS_COL, LawFit, distinct, fit_rows, seed_stats


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
            out.append(f"sweep `{sweep}` is listed for `{model}` but its runs trained "
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
    numbers = {"sweep": s.sweep, "width": s.width, "n_runs": int(len(s.rows)),
               "n_params": [int(n) for n in distinct(s.rows, "n_params")],
               "T": [float(t) for t in distinct(s.rows, "n_samples")], **paper_params(s.fit),
               "n_points": s.fit.n_points, "n_boot_ok": int(len(s.fit.resamples))}
    if len(s.fits) > 1:
        numbers["per_width"] = {f"{w:g}": {**paper_params(f), "n_points": f.n_points} for w, f in s.fits.items()}
    return numbers


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


def plot_entry(s: ClassifierScaling, loss_col: str) -> dict:
    """What the drawing needs of one classifier: its fit (with resamples) and its seed means."""
    stats = seed_stats(s.rows, "n_samples", loss_col)
    return {"model": s.model, "width": s.width, "several_widths": len(s.fits) > 1, "fit": s.fit.to_json(),
            "stats": {c: stats[c].astype(float).tolist() for c in ("n_samples", "mean", "sem")}}


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
