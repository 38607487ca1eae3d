"""Metrics files -> results table (``table.csv``), one row per run.

Columns: ``results.TABLE_COLUMNS`` first (the contract later stages rely on),
then every other scalar key of the metrics files, in first-seen order.  Rows
are sorted by the sweep axes so the file diffs cleanly between reruns.

:func:`sweep_metrics` is the workflow's way in: it takes the run ids from the
sweep file itself (never one command-line argument per point, so a sweep of
10⁵ points aggregates like one of ten) and refuses a metrics file that was not
trained with the point's overrides as the sweep states them now (a sweep edited
while it ran, or results left by an earlier version of it), naming the point
and the override.  Metrics files of jetscale versions that did not record their
overrides are checked against their resolved config instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from jetscale.atomic import atomic_output
from jetscale.results import TABLE_COLUMNS, override_mismatch, read_metrics

SORT_KEYS = ["task", "model", "n_samples", "width", "seed"]
SHOWN = 5  # problems named one by one before the rest are counted


def scalars(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if not isinstance(v, (dict, list))}


def build_table(metrics_paths: list[str | Path]) -> pd.DataFrame:
    if not metrics_paths:
        raise ValueError("no metrics files given: nothing to aggregate")
    return table_of([scalars(read_metrics(path)) for path in metrics_paths])


def table_of(rows: list[dict]) -> pd.DataFrame:
    """Rows (scalar metrics) -> the sorted results table; a run id seen twice is an error."""
    table = pd.DataFrame(rows)
    extra = [c for c in table.columns if c not in TABLE_COLUMNS]
    table = table[TABLE_COLUMNS + extra]
    duplicated = table["run_id"][table["run_id"].duplicated()].tolist()
    if duplicated:
        raise ValueError(f"run_id appears more than once: {duplicated}")
    return table.sort_values(SORT_KEYS, kind="stable").reset_index(drop=True)


def sweep_metrics(sweep, runs_dir: str | Path, progress=None) -> list[dict]:
    """Every point's scalar metrics from ``<runs_dir>/<run_id>/metrics.json``, checked against ``sweep``.

    ValueError naming the points (a few, then a count) whose file is missing, unreadable or of other
    overrides. ``progress(done, total)`` is called every 10 % of the points."""
    from jetscale.sweep import run_id

    runs_dir = Path(runs_dir)
    points = sweep.points()
    rows, problems = [], []
    step = max(1, len(points) // 10)
    for k, point in enumerate(points, 1):
        rid = run_id(point)
        path = runs_dir / rid / "metrics.json"
        try:
            payload = read_metrics(path)
        except ValueError as err:
            problems.append(str(err) if path.exists() else f"{path}: missing (the point has not finished)")
            continue
        mismatch = override_mismatch(payload, sweep.hydra_overrides(point))
        if mismatch:
            problems.append(f"{path}: {mismatch}")
        elif payload.get("run_id") != rid:
            problems.append(f"{path}: its run_id is {payload.get('run_id')!r}, not {rid!r}")
        else:
            rows.append(scalars(payload))
        if progress and (k % step == 0 or k == len(points)):
            progress(k, len(points))
    if problems:
        more = f"\n  ... and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise ValueError(f"sweep {sweep.name} ({sweep.source}): {len(problems)} of {len(points)} points cannot be "
                         "aggregated; rerun the sweep (make sweep) so Snakemake retrains them:\n  "
                         + "\n  ".join(problems[:SHOWN]) + more)
    return rows


def print_progress(done: int, total: int) -> None:
    print(f"read {done}/{total} metrics files", file=sys.stderr, flush=True)


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write atomically (temp file + rename), like every other stage output."""
    with atomic_output(path) as tmp:
        table.to_csv(tmp, index=False)
    return Path(path)
