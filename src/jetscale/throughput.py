"""Achieved training FLOP/s of a run and its model FLOPs utilisation (MFU), from its FLOPs and timed seconds.

``mfu = (flops / seconds) / (peak of one device at the run's precision × n_devices)``. The peaks (dense, vendor
datasheets, each with its source) are data: ``configs/devices/peak_flops.yaml``. On the CPU, for a device not in
the table and for a precision without a peak column, the peak and the mfu are None (the last two with a warning
naming the device or precision and the table). Conventions: docs/gpu.md#precision-and-mfu.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from jetscale.paths import CONFIG_DIR
from jetscale.yamlfile import read_yaml

log = logging.getLogger(__name__)

PEAK_TABLE = Path(CONFIG_DIR) / "devices" / "peak_flops.yaml"
COLUMNS = ("fp64", "fp32", "tf32", "bf16", "fp16")
# Lightning's normalised trainer.precision -> the peak column it computes in (32-true: see peak_column).
PRECISION_COLUMN = {"64-true": "fp64", "32-true": "fp32", "bf16-mixed": "bf16", "bf16-true": "bf16",
                    "16-mixed": "fp16", "16-true": "fp16"}
TF32_MATMUL_PRECISIONS = ("high", "medium")  # torch.set_float32_matmul_precision values that allow TF32
CPU = "cpu"


def parse_peak_table(payload: dict, source: str | Path = PEAK_TABLE) -> dict[str, dict]:
    """Device name -> its table entry (``peak_flops_per_s``, ``tf32_matmul``, ``source``, ``device``).

    ValueError naming ``source`` and the entry for a missing column or source, a peak that is not > 0, or a name
    listed under two entries."""
    by_name: dict[str, dict] = {}
    for device, entry in (payload.get("devices") or {}).items():
        where = f"{source}: devices.{device}"
        peaks = entry.get("peak_flops_per_s") or {}
        missing = [c for c in COLUMNS if c not in peaks]
        if missing or not entry.get("names") or not (entry.get("source") or {}).get("url"):
            raise ValueError(f"{where} needs names, source.url and peak_flops_per_s for {list(COLUMNS)} "
                             f"(missing peaks: {missing})")
        bad = {c: peaks[c] for c in COLUMNS if not (isinstance(peaks[c], (int, float)) and peaks[c] > 0)}
        if bad:
            raise ValueError(f"{where}: peaks must be numbers > 0 (FLOP/s), got {bad}")
        for name in entry["names"]:
            if name in by_name:
                raise ValueError(f"{where}: name {name!r} is also listed under devices.{by_name[name]['device']}")
            by_name[name] = {**entry, "device": device}
    return by_name


@lru_cache(maxsize=None)
def peak_table(path: str | Path = PEAK_TABLE) -> dict[str, dict]:
    return parse_peak_table(read_yaml(path), path)


def peak_column(precision: str, float32_matmul_precision: str = "highest", tf32_matmul: bool = False) -> str | None:
    """The peak column a run of Lightning ``precision`` computes in (None: no column for it). A ``32-true`` run
    counts against TF32 on a device whose fp32 matmuls torch's ``high``/``medium`` matmul precision sends there."""
    column = PRECISION_COLUMN.get(str(precision))
    if column == "fp32" and tf32_matmul and float32_matmul_precision in TF32_MATMUL_PRECISIONS:
        return "tf32"
    return column


def peak_flops_per_s(device_name: str, precision: str, float32_matmul_precision: str = "highest",
                     table: dict[str, dict] | None = None) -> float | None:
    """Dense peak FLOP/s of one ``device_name`` at ``precision`` (None on the CPU or when unknown, see module)."""
    if device_name == CPU:
        return None
    table = peak_table() if table is None else table
    entry = table.get(device_name)
    if entry is None:
        log.warning("no peak FLOP/s for device %r in %s: mfu is null; add the device (its exact name) with its "
                    "datasheet peaks to report one", device_name, PEAK_TABLE)
        return None
    column = peak_column(precision, float32_matmul_precision, bool(entry.get("tf32_matmul")))
    if column is None:
        log.warning("no peak column for precision %r (known: %s) in %s: mfu is null", precision,
                    sorted(PRECISION_COLUMN), PEAK_TABLE)
        return None
    return float(entry["peak_flops_per_s"][column])


def throughput_metrics(flops: float, seconds: float, device_name: str, precision: str, n_devices: int,
                       float32_matmul_precision: str = "highest", table: dict[str, dict] | None = None) -> dict:
    """The metrics-file keys of a run's speed: ``device_name``, ``n_devices``, ``train_s``, ``train_flops_per_s``
    (``flops`` / ``seconds``; None without timed seconds), ``peak_flops_per_s`` (one device's peak × ``n_devices``)
    and ``mfu`` (achieved / peak; None where either is)."""
    achieved = float(flops) / seconds if seconds and seconds > 0 else None
    peak = peak_flops_per_s(device_name, precision, float32_matmul_precision, table)
    peak = peak * int(n_devices) if peak is not None else None
    return {"device_name": device_name, "n_devices": int(n_devices), "train_s": float(seconds),
            "train_flops_per_s": achieved, "peak_flops_per_s": peak,
            "mfu": achieved / peak if achieved is not None and peak else None}
