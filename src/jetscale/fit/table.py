"""Results tables for fitting: loading, row filters and validation against a law.

A results table has one row per training run (seeds are separate rows and are never
averaged) and at least the columns a law reads (``n_params`` and/or ``n_samples``,
see :mod:`jetscale.fit.laws`) and a loss column (default ``test_loss``); a ``run_id``
column, if present, is used to name offending rows in error messages.

Every problem is raised as :class:`FitInputError` (a ``ValueError``) whose message
names the file (when the table came from :func:`load_table`), the column, and the
offending rows and values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from jetscale.fit.laws import Law

RUN_ID = "run_id"
PRECISION = "precision"  # the arithmetic a run trained in (32-true, bf16-mixed, ...): one per fit
UNRECORDED = "(not recorded)"
LOSS_COL = "test_loss"
_MAX_SHOWN = 5  # offending rows quoted in a message


class FitInputError(ValueError):
    """A results table cannot be fitted: missing column, bad values, too few rows."""


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a results table (``.csv``, ``.tsv``, ``.json`` records or ``.jsonl``).

    The path is kept in ``df.attrs["source"]`` so that error messages can name it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        df = pd.read_csv(path, sep="\t")
    elif suffix == ".jsonl":
        df = pd.read_json(path, lines=True)
    elif suffix == ".json":
        df = pd.read_json(path)
    else:
        df = pd.read_csv(path)
    df.attrs["source"] = str(path)
    return df


def _source(df: pd.DataFrame) -> str:
    return df.attrs.get("source", "the results table")


def require_columns(df: pd.DataFrame, columns, why: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise FitInputError(
            f"{_source(df)}: missing column(s) {missing} ({why}); "
            f"available columns: {list(df.columns)}"
        )


def distinct_values(column: pd.Series) -> list:
    """Distinct non-null values of ``column`` as plain Python objects, sorted when comparable."""
    values = column.dropna().drop_duplicates().tolist()
    try:
        return sorted(values)
    except TypeError:
        return values


def apply_where(df: pd.DataFrame, where: Mapping[str, object] | None) -> pd.DataFrame:
    """Keep the rows whose column equals the value for every ``column: value`` in ``where``."""
    if not where:
        return df
    require_columns(df, list(where), f"used in filter {dict(where)}")
    mask = np.ones(len(df), dtype=bool)
    for col, value in where.items():
        mask &= (df[col] == value).to_numpy()
    if not mask.any():
        present = {c: distinct_values(df[c])[:20] for c in where}
        raise FitInputError(
            f"{_source(df)}: filter {dict(where)} leaves no rows (of {len(df)}); "
            f"values present: {present}"
        )
    return df[mask]


def _row_label(df: pd.DataFrame, pos: int) -> str:
    if RUN_ID in df.columns:
        return f"run_id={df[RUN_ID].iloc[pos]!r}"
    return f"row {df.index[pos]!r}"


def distinct(rows: pd.DataFrame, column: str) -> list:
    """Sorted distinct non-null values of ``column`` (empty when the column is missing)."""
    return distinct_values(rows[column]) if column in rows.columns else []


def seed_stats(rows: pd.DataFrame, by: str | Sequence[str], loss_col: str = LOSS_COL) -> pd.DataFrame:
    """Per distinct ``by``: ``mean``, ``std``, ``sem`` (std / sqrt(n seeds), 0 for one seed) and ``n`` of
    ``loss_col``, sorted by ``by``. Figures show these; fits use every row."""
    by = [by] if isinstance(by, str) else list(by)
    stats = rows.groupby(by)[loss_col].agg(mean="mean", std="std", n="count").reset_index()
    stats["std"] = stats["std"].fillna(0.0)
    stats["sem"] = stats["std"] / np.sqrt(stats["n"])
    return stats.sort_values(by).reset_index(drop=True)


def require_one_precision(df: pd.DataFrame) -> None:
    """:class:`FitInputError` naming the rows per precision when ``df`` mixes training precisions: a law across
    them would fit two experiments as one (a table without the column passes)."""
    if PRECISION not in df.columns:
        return
    counts = df[PRECISION].astype(object).where(df[PRECISION].notna(), UNRECORDED).value_counts()
    if len(counts) <= 1:
        return
    shown = ", ".join(f"{n} at {p}" for p, n in sorted(counts.items()))
    first = next(p for p in sorted(counts.index) if p != UNRECORDED)
    raise FitInputError(
        f"{_source(df)}: the rows to fit mix training precisions ({shown}); fit one precision "
        f"(jetscale fit --where {PRECISION}={first}) or each separately (--group-by {PRECISION}), "
        f"or retrain the points at one trainer.precision"
    )


def validate_for_law(df: pd.DataFrame, law: Law, loss_col: str = LOSS_COL) -> None:
    """Raise :class:`FitInputError` unless ``df`` can be fitted with ``law``.

    Checks: every column the law reads and ``loss_col`` exist; their values are
    finite and > 0 (the fit works in log space); there are at least as many rows as
    the law has parameters; the rows share one ``precision`` (:func:`require_one_precision`).
    """
    require_one_precision(df)
    used = (*law.columns, loss_col)
    require_columns(df, used, f"law {law.name!r} uses {list(used)}")
    for col in used:
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
        if bad.size:
            shown = ", ".join(f"{_row_label(df, i)}: {df[col].iloc[i]!r}" for i in bad[:_MAX_SHOWN])
            more = f" (and {bad.size - _MAX_SHOWN} more)" if bad.size > _MAX_SHOWN else ""
            raise FitInputError(
                f"{_source(df)}: column {col!r} must be finite and > 0 for a log-space fit; "
                f"{bad.size} bad value(s): {shown}{more}"
            )
    n_params = len(law.param_names)
    if len(df) < n_params:
        raise FitInputError(
            f"{_source(df)}: {len(df)} point(s) but law {law.name!r} has {n_params} parameters "
            f"{list(law.param_names)}; need at least {n_params} points"
        )
