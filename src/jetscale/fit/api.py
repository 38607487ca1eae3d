"""Fit a scaling law to a results table: the entry points a CLI calls and json.dumps.

``fit_law`` returns :meth:`jetscale.fit.lawfit.LawFit.to_json` of the selected rows::

    {"law": "joint",
     "params": {"E": .., "A": .., "alpha": .., "B": .., "beta": ..},   # the law's parameters only
     "ci95":   {"E": [lo, hi], ...},     # [None, None] (JSON null) for every parameter when n_boot=0
     "n_points": int,                    # rows fitted (after the filter)
     "loss": float,                      # minimised sum of Huber losses on log L
     "n_boot": int,                      # resamples asked for
     "resamples": {"E": [...], ...},     # the usable resamples, one list per parameter
     "where": {...}}                     # only when a filter was given

Method: :mod:`jetscale.fit.huber` (Besiroglu et al. 2024); resamples: :mod:`jetscale.fit.bootstrap`;
table conventions: :mod:`jetscale.fit.table`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import pandas as pd

from jetscale.fit.lawfit import fit_rows
from jetscale.fit.laws import Law, get_law
from jetscale.fit.table import LOSS_COL, FitInputError, apply_where, distinct_values
from jetscale.results import plain


def fit_law(df: pd.DataFrame, law: str | Law, loss_col: str = LOSS_COL, n_boot: int = 1000, seed: int = 0,
            where: Mapping[str, object] | None = None) -> dict:
    """Fit ``law`` ("data", "params" or "joint") to the rows of ``df`` selected by ``where``.

    Every row is a point (seeds are not averaged). Raises :class:`FitInputError` for a
    table that cannot be fitted. ``n_boot`` bootstrap resamples (seeded by ``seed``)
    give ``ci95`` and ``resamples``; ``n_boot=0`` skips the bootstrap and leaves null bounds.
    """
    result = fit_rows(apply_where(df, where), law, loss_col, n_boot, seed).to_json()
    if where:
        result["where"] = {str(k): plain(v) for k, v in where.items()}
    return result


def fit_groups(df: pd.DataFrame, law: str | Law, group_by: str, **kw) -> dict:
    """:func:`fit_law` once per distinct value of column ``group_by`` (sorted).

    ``kw`` goes to :func:`fit_law`; a ``where`` in it is combined with the group value.
    Rows whose ``group_by`` is null belong to no group. A group with fewer rows than the
    law has parameters is skipped with a warning; if every group is skipped,
    :class:`FitInputError` is raised.
    """
    law = get_law(law)
    base = dict(kw.pop("where", None) or {})
    rows = apply_where(df, base)
    if group_by not in rows.columns:
        source = rows.attrs.get("source", "the results table")
        raise FitInputError(f"{source}: no column {group_by!r} to group by; "
                            f"available columns: {list(rows.columns)}")
    n_needed = len(law.param_names)
    fits, skipped = [], []
    for value in distinct_values(rows[group_by]):
        where = {**base, group_by: value}
        n = int((rows[group_by] == value).sum())
        if n < n_needed:
            skipped.append(f"{group_by}={value!r} ({n} points)")
            continue
        fits.append(fit_law(df, law, where=where, **kw))
    if skipped:
        message = (f"law {law.name!r} has {n_needed} parameters; skipped group(s) with too few points: "
                   + ", ".join(skipped))
        if not fits:
            raise FitInputError(f"no group can be fitted: {message}")
        warnings.warn(message, stacklevel=2)
    return {"law": law.name, "group_by": group_by, "fits": fits}
