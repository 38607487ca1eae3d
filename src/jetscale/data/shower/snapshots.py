"""The shower-snapshot file format: parton momenta after each branching, one HDF5 file per run (pure I/O).

Attributes of the file:

================== ======================================================================
``process``        process name (the shower config's ``name``, e.g. ``z_qq``)
``sqrt_s``         centre-of-mass energy [GeV]
``seed``           the run's seed (Pythia's ``Random:seed`` is derived from it, see ``settings``)
``n_events``       events generated (event ids run over 0 .. n_events - 1)
``k_max``          deepest snapshot stored: groups ``k1`` .. ``k<k_max>`` exist
``settings``       JSON list of every Pythia settings string of the run, in order
``pythia_version`` version of ``pythia8mc``
``tolerance``      energy-momentum check: every snapshot sums to (sqrt_s, 0, 0, 0) within
                   ``tolerance * sqrt_s`` GeV on each component
``n_dropped``      events whose record the replay could not follow (left out of every k)
``level``          ``"parton"`` (files written before it existed lack it and are parton-level)
================== ======================================================================

Group ``k<k>`` (k = 1 .. k_max), the state after k branchings of the events that had
at least k (``n_k`` of them, non-increasing in k):

============ ======================= ====================================================
``momenta``  float64 [n_k, 2 + k, 4] parton 4-momenta (E, px, py, pz) [GeV], record order
``event_id`` int64 [n_k]             generated event's index, ascending; the ids of
                                     ``k<k+1>`` are a subset of those of ``k<k>``
============ ======================= ====================================================

Hadron-level files (``level = "hadron"``, :mod:`jetscale.data.shower.hadron_file`) have no ``k``
groups; :func:`read_snapshots` refuses them naming the level.
Files are written to a temporary name and renamed when complete
(:func:`jetscale.atomic.atomic_output`). Readers raise :class:`SnapshotError` (or
``FileNotFoundError``) naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from jetscale.atomic import atomic_output
from jetscale.results import plain

N_BORN = 2  # partons before the first branching (q q̄ or g g)


class SnapshotError(ValueError):
    """A snapshot file or request that cannot be served; the message names the file."""


@dataclass
class ShowerSnapshots:
    """One run's snapshots (``momenta[k]``, ``event_id[k]`` for k = 1 .. k_max) and its provenance."""

    process: str
    sqrt_s: float
    seed: int
    n_events: int
    k_max: int
    settings: list[str]
    pythia_version: str
    tolerance: float
    n_dropped: int = 0
    momenta: dict[int, np.ndarray] = field(default_factory=dict)
    event_id: dict[int, np.ndarray] = field(default_factory=dict)

    def counts(self) -> dict[int, int]:
        """Events that reached each k."""
        return {k: len(self.event_id[k]) for k in range(1, self.k_max + 1)}


def group_name(k: int) -> str:
    return f"k{k}"


def validate(snapshots: ShowerSnapshots, source: str = "<snapshots>") -> None:
    """Shapes, dtypes and the nesting of event ids, before anything is written."""
    previous = None
    for k in range(1, snapshots.k_max + 1):
        if k not in snapshots.momenta or k not in snapshots.event_id:
            raise SnapshotError(f"{source}: no snapshot for k = {k} (k_max = {snapshots.k_max})")
        momenta, ids = np.shape(snapshots.momenta[k]), np.asarray(snapshots.event_id[k])
        if momenta != (len(ids), N_BORN + k, 4) or ids.ndim != 1:
            raise SnapshotError(f"{source}: k = {k}: momenta {momenta} and event_id {ids.shape} do not match "
                                f"[n_k, {N_BORN + k}, 4] and [n_k]")
        if len(ids) and (np.any(np.diff(ids) <= 0) or ids[0] < 0 or ids[-1] >= snapshots.n_events):
            raise SnapshotError(f"{source}: k = {k}: event_id must be ascending in [0, {snapshots.n_events})")
        if previous is not None and not np.isin(ids, previous).all():
            raise SnapshotError(f"{source}: k = {k}: event ids absent from k = {k - 1}")
        previous = ids


def run_attrs(run, level: str) -> dict:
    """The provenance attributes every shower file has (module docstring), of a run with those fields."""
    return {"level": level, "process": run.process, "sqrt_s": float(run.sqrt_s), "seed": int(run.seed),
            "n_events": int(run.n_events), "settings": json.dumps(list(run.settings)),
            "pythia_version": run.pythia_version, "tolerance": float(run.tolerance), "n_dropped": int(run.n_dropped)}


def write_snapshots(path: str | Path, snapshots: ShowerSnapshots) -> Path:
    """Write ``snapshots`` to ``path`` atomically; return the path."""
    path = Path(path)
    validate(snapshots, str(path))
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.attrs.update({**run_attrs(snapshots, "parton"), "k_max": int(snapshots.k_max)})
        for k in range(1, snapshots.k_max + 1):
            group = handle.create_group(group_name(k))
            group.create_dataset("momenta", data=np.asarray(snapshots.momenta[k], dtype=np.float64))
            group.create_dataset("event_id", data=np.asarray(snapshots.event_id[k], dtype=np.int64))
    return path


def _open(path: Path) -> h5py.File:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no shower snapshot file")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise SnapshotError(f"{path}: unreadable shower snapshot file ({err})") from err


def _available(handle: h5py.File) -> list[int]:
    return sorted(int(name[1:]) for name in handle if name.startswith("k") and name[1:].isdigit())


def read_snapshots(path: str | Path, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(momenta [n_k, 2 + k, 4], event_id [n_k])`` of the state after ``k`` branchings."""
    path = Path(path)
    with _open(path) as handle:
        available = _available(handle)
        if handle.attrs.get("level", "parton") != "parton":
            raise SnapshotError(f"{path}: a {handle.attrs['level']}-level file has no per-k parton snapshots "
                                f"(read it with jetscale.data.shower.hadron_file.read_hadrons)")
        if k not in available:
            span = f"k = {available[0]} .. {available[-1]}" if available else "none"
            raise SnapshotError(f"{path}: no snapshots for k = {k}; available: {span}")
        group = handle[group_name(k)]
        try:
            return group["momenta"][()], group["event_id"][()]
        except KeyError as err:
            raise SnapshotError(f"{path}: group {group_name(k)} lacks a dataset ({err})") from err


def snapshot_info(path: str | Path) -> dict:
    """The file's attributes (``settings`` as a list, ``level`` "parton" when absent) plus ``counts``: {k: events
    that reached k} (empty for a hadron-level file)."""
    path = Path(path)
    with _open(path) as handle:
        info = {"level": "parton", **{key: plain(value) for key, value in handle.attrs.items()}}
        info["settings"] = json.loads(info["settings"]) if "settings" in info else []
        info["counts"] = {k: int(handle[group_name(k)]["event_id"].shape[0]) for k in _available(handle)}
    return info
