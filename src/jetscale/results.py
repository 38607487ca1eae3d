"""The metrics-file contract shared by training, aggregation and the workflow.

Each run writes one JSON object to ``<run_dir>/metrics.json``, atomically (a
temporary file in the same directory, then ``os.replace``), so a killed job
never leaves a metrics file that the workflow would mistake for a finished run.
Flat scalar keys become table columns (``TABLE_COLUMNS`` first); nested values
(the resolved config) are kept for provenance only.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

TABLE_COLUMNS = [
    "run_id", "task", "model", "width", "n_params", "n_samples", "seed",
    "flops", "test_loss", "theory_loss", "wall_s",
]


def write_json_atomic(path: str | Path, payload: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2, sort_keys=False, default=float)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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
