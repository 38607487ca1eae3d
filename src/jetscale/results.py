"""The metrics-file contract shared by training, aggregation and the workflow.

Each run writes one JSON object to ``<run_dir>/metrics.json``, atomically (a
temporary file in the same directory, then renamed: ``jetscale.atomic``), so a killed job
never leaves a metrics file that the workflow would mistake for a finished run.
Flat scalar keys become table columns (``TABLE_COLUMNS`` first); nested values
(the resolved config, the overrides) are kept for provenance, and
:func:`override_mismatch` tells whether a metrics file belongs to a sweep's point
as the sweep states it now.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jetscale.atomic import atomic_output

# Keys a cluster profile adds to gradient points (jetscale.machine) that change what they compute: recorded in the
# metrics (``precision``), compared with the sweep only where the sweep sets them (fits refuse a mix).
MACHINE_CHOSEN = ("trainer.precision",)

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


def override_mismatch(payload: dict, expected: list[str]) -> str | None:
    """How a run differs from the sweep's overrides for its point (None: it agrees).

    A run records the overrides it was trained with; one written before jetscale recorded them is checked
    against its resolved ``config`` instead, key by key, for every override that sets a value. Overrides of
    keys that cannot change the result (the run config's ``resume.ignore``) are not compared, nor a
    :data:`MACHINE_CHOSEN` key the sweep does not set."""
    recorded = payload.get("overrides")
    if recorded is None:
        return config_mismatch(payload.get("config"), expected)
    ignored = _layout_keys(payload.get("config"))
    ignored += [k for k in MACHINE_CHOSEN if not any(_key(o) == k for o in expected)]
    recorded, expected = _compared(recorded, ignored), _compared(expected, ignored)
    only_run, only_sweep = sorted(recorded - expected), sorted(expected - recorded)
    if not only_run and not only_sweep:
        return None
    return f"trained with {only_run or 'nothing else'}, the sweep now sets {only_sweep or 'nothing else'}"


def _layout_keys(config) -> list[str]:
    """The keys that cannot change what a run computes (its config's ``resume.ignore``: accelerator, devices,
    logging): a run on a GPU profile (``trainer.accelerator=gpu`` added by the workflow) is the sweep's point."""
    resume = config.get("resume") if isinstance(config, dict) else None
    return list(resume.get("ignore") or []) if isinstance(resume, dict) else []


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def _compared(overrides: list[str], ignored: list[str]) -> set[str]:
    return {o for o in overrides if not any(_key(o) == k or _key(o).startswith(f"{k}.") for k in ignored)}


def config_mismatch(config, expected: list[str]) -> str | None:
    """How a resolved config differs from the values that ``expected`` (Hydra overrides) set; group choices
    (``task=jets``) and interpolations cannot be seen in a resolved config and are not compared."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from jetscale.identity import flatten

    if not isinstance(config, dict):
        return "it records neither its overrides nor its config"
    flat = flatten(config)
    wrong = []
    for override in OverridesParser.create().parse_overrides(expected):
        key, value = override.key_or_group, override.value()
        if key in flat and not (isinstance(value, str) and "${" in value) and flat[key] != value:
            wrong.append(f"{key}={flat[key]!r}, the sweep now sets {value!r}")
    return f"its config has {'; '.join(wrong)}" if wrong else None
