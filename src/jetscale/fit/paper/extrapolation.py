"""Figure 5's analysis: every law of figures 1 and 3 refitted without its largest sizes, predicting them with
bootstrap CIs, and a verdict per held-out point. Method: docs/paper.md, figure 5."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from jetscale.fit import LOSS_COL, LawFit, distinct, fit_rows, percentile_ci, seed_stats
from jetscale.fit.paper.compute_optimal import isoflop_rows, joint_frame
from jetscale.fit.paper.data_scaling import shown_rows


MIN_FIT_VALUES = {"data": 3, "params": 3, "joint": 2}
"""Distinct values of the variable a restricted fit needs (a one-term law has three parameters)."""


POINT_COLUMNS = {"data": ["n_samples"], "params": ["n_params"], "joint": ["compute", "n_params", "n_samples"]}
"""The columns that identify a point (its seeds are averaged for the comparison)."""


@dataclass(frozen=True)
class Case:
    """One law to check: ``rows`` ready for the law, the ``variable`` whose largest values are held out."""

    key: str  # "data:<model>", "params:T=<T>" or "joint:isoflop"
    sweep: str
    law: str
    rows: pd.DataFrame
    variable: str


def extrapolation_check(rows: pd.DataFrame, law: str, variable: str, holdout: int = 1, n_boot: int = 200,
                        seed: int = 0, loss_col: str = LOSS_COL) -> tuple[dict, LawFit | None]:
    """Fit ``law`` without the points at the ``holdout`` largest values of ``variable``; predict them.

    Returns the JSON-able result and the restricted fit (None, with a ``note``, when too few values
    remain to fit).
    """
    values = distinct(rows, variable)
    kept = values[:-holdout] if holdout < len(values) else []
    out = {"law": law, "variable": variable, "holdout": holdout,
           "held_out_values": [float(v) for v in values[len(kept):]]}
    if len(kept) < MIN_FIT_VALUES[law]:
        out["note"] = (f"{len(values)} distinct {variable} values: holding out {holdout} leaves {len(kept)}, "
                       f"fewer than the {MIN_FIT_VALUES[law]} the {law} law needs")
        out["verdict"] = "not checked"
        return out, None
    train = rows[rows[variable].isin(kept)]
    fit = fit_rows(train, law, loss_col, n_boot, seed)
    stats = seed_stats(rows, POINT_COLUMNS[law], loss_col)
    held = stats[~stats[variable].isin(kept)].reset_index(drop=True)
    predicted = fit.predict(held)
    resampled = fit.resample_predictions(held)
    points = []
    for i, row in held.iterrows():
        mean, sem = float(row["mean"]), float(row["sem"])
        pred_ci = percentile_ci(resampled[:, i]) if len(resampled) else [None, None]
        lo, hi = (predicted[i], predicted[i]) if pred_ci[0] is None else pred_ci
        points.append({
            **{c: float(row[c]) for c in POINT_COLUMNS[law]},
            "measured": mean, "sem": sem, "std": float(row["std"]), "n_seeds": int(row["n"]),
            "predicted": float(predicted[i]), "predicted_ci": pred_ci,
            "rel_error": float(predicted[i] / mean - 1),
            "rel_error_ci": percentile_ci(resampled[:, i] / mean - 1) if len(resampled) else [None, None],
            "seed_spread_rel": float(row["std"] / mean),
            "consistent": bool(lo <= mean + 2 * sem and hi >= mean - 2 * sem),
        })
    out.update(fit=fit.summary(), n_fit_runs=int(len(train)), points=points,
               max_abs_rel_error=max(abs(p["rel_error"]) for p in points),
               verdict="extrapolates" if all(p["consistent"] for p in points) else "misses")
    return out, fit


def paper_cases(classifiers: Mapping[str, str], tables: Mapping[str, pd.DataFrame], width_sweep: str,
                isoflop_sweep: str) -> list[Case]:
    """Every law of the paper, on the same rows as its figure (1 or 3)."""
    cases = []
    for model, sweep in classifiers.items():
        rows, _ = shown_rows(tables[sweep], model, sweep)
        cases.append(Case(f"data:{model}", sweep, "data", rows, "n_samples"))
    width = tables[width_sweep]
    for t in distinct(width, "n_samples"):
        cases.append(Case(f"params:T={t:g}", width_sweep, "params", width[width["n_samples"] == t], "n_params"))
    cases.append(Case("joint:isoflop", isoflop_sweep, "joint", joint_frame(isoflop_rows(tables[isoflop_sweep])),
                      "compute"))
    return cases


def case_plot(case: Case, result: dict, fit: LawFit | None, loss_col: str) -> dict:
    """What the drawing needs of one law: its seed means, the check's result and the restricted fit."""
    columns = POINT_COLUMNS["joint"] if case.law == "joint" else [case.variable]
    stats = seed_stats(case.rows, columns, loss_col)
    return {"key": case.key, "law": case.law, "variable": case.variable,
            "stats": {c: stats[c].astype(float).tolist() for c in (*columns, "mean", "sem")},
            "result": result, "fit": None if fit is None else fit.to_json()}


def analyse(classifiers: Mapping[str, str], tables: Mapping[str, pd.DataFrame], *, width_sweep: str,
            isoflop_sweep: str, holdout: int = 1, n_boot: int = 200, seed: int = 0, loss_col: str = LOSS_COL) -> dict:
    """Figure 5's numbers file: every law of figures 1 and 3 fitted without its ``holdout`` largest sizes, checked."""
    cases = paper_cases(classifiers, tables, width_sweep, isoflop_sweep)
    checked = [extrapolation_check(c.rows, c.law, c.variable, holdout, n_boot, seed, loss_col) for c in cases]
    laws = {c.key: {"sweep": c.sweep, **r} for c, (r, _) in zip(cases, checked)}
    numbers = {"holdout": holdout, "n_boot": n_boot, "seed": seed, "laws": laws}
    plot = {"loss_col": loss_col, "cases": [case_plot(c, r, f, loss_col) for c, (r, f) in zip(cases, checked)]}
    return {"numbers": numbers, "plot": plot,
            "sweeps": list(dict.fromkeys([*classifiers.values(), width_sweep, isoflop_sweep]))}
