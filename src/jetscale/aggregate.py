"""Metrics files -> results table (``table.csv``), one row per run.

Columns: ``results.TABLE_COLUMNS`` first (the contract later stages rely on),
then every other scalar key of the metrics files, in first-seen order.  Rows
are sorted by the sweep axes so the file diffs cleanly between reruns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jetscale.atomic import atomic_output
from jetscale.results import TABLE_COLUMNS, read_metrics

SORT_KEYS = ["task", "model", "n_samples", "width", "seed"]


def build_table(metrics_paths: list[str | Path]) -> pd.DataFrame:
    if not metrics_paths:
        raise ValueError("no metrics files given: nothing to aggregate")
    rows = []
    for path in metrics_paths:
        payload = read_metrics(path)
        rows.append({k: v for k, v in payload.items() if not isinstance(v, (dict, list))})
    table = pd.DataFrame(rows)
    extra = [c for c in table.columns if c not in TABLE_COLUMNS]
    table = table[TABLE_COLUMNS + extra]
    duplicated = table["run_id"][table["run_id"].duplicated()].tolist()
    if duplicated:
        raise ValueError(f"run_id appears more than once: {duplicated}")
    return table.sort_values(SORT_KEYS, kind="stable").reset_index(drop=True)


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write atomically (temp file + rename), like every other stage output."""
    with atomic_output(path) as tmp:
        table.to_csv(tmp, index=False)
    return Path(path)
