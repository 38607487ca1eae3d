"""The metrics-file contract shared by training, aggregation and the workflow.

Each run writes one JSON object to ``<run_dir>/metrics.json``, atomically (a
temporary file in the same directory, then renamed: ``jetscale.atomic``), so a killed job
never leaves a metrics file that the workflow would mistake for a finished run.
Flat scalar keys become table columns (``TABLE_COLUMNS`` first); nested values
(the resolved config) are kept for provenance only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jetscale.atomic import atomic_output

TABLE_COLUMNS = [
    "run_id", "task", "model", "width", "n_params", "n_samples", "seed",
    "flops", "test_loss", "theory_loss", "wall_s",
]


def plain(value):
    """numpy scalar -> the Python scalar it holds (anything else unchanged): JSON-able, compared as Python values."""
    return value.item() if isinstance(value, np.generic) else value


def write_json_atomic(path: str | Path, payload: dict) -> Path:
    path = Path(path)
    with atomic_output(path) as tmp, open(tmp, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=False, default=float)
        handle.write("\n")
    return path


def read_metrics(path: str | Path) -> dict:
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read metrics file {path}: {err}") from err
    missing = [key for key in TABLE_COLUMNS if key not in payload]
    if missing:
        raise ValueError(f"metrics file {path} lacks keys {missing}")
    return payload
