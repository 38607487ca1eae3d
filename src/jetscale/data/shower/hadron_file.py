"""The hadron-level event file: the visible final-state particles of each event, one HDF5 file per run (pure I/O).

Written by ``jetscale shower-generate`` for a process config with ``level: hadron``. Attributes: those of
:mod:`jetscale.data.shower.snapshots` except ``k_max``, plus ``level = "hadron"``. Instead of the groups
``k<k>``, one group ``hadrons`` holds the events as ragged arrays (event ``i``'s particles are rows
``offsets[i]:offsets[i + 1]``, in record order):

============ ===================== ======================================================
``momenta``  float64 [n_particles, 4] visible final-state 4-momenta (E, px, py, pz) [GeV]
``pdg_id``   int64 [n_particles]   PDG code of each particle
``offsets``  int64 [n + 1]         0, cumulative particle counts
``event_id`` int64 [n]             generated event's index, ascending
``invisible`` float64 [n, 4]       summed 4-momentum of the event's neutrinos
============ ===================== ======================================================

Visible + invisible sums to (sqrt_s, 0, 0, 0) within ``tolerance * sqrt_s`` per component (checked on
writing). Readers of per-k snapshots refuse this file and say so (its ``level`` attribute).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from jetscale.atomic import atomic_output
from jetscale.data.shower.snapshots import SnapshotError, _open, run_attrs

GROUP = "hadrons"
INVISIBLE = (12, 14, 16)  # |PDG| left out of the stored particles (neutrinos), as JSL's StevensCode/gen/gen_*.cc


@dataclass
class HadronEvents:
    """One hadron-level run: ragged particles (module docstring) and the run's provenance."""

    process: str
    sqrt_s: float
    seed: int
    n_events: int
    settings: list[str]
    pythia_version: str
    tolerance: float
    momenta: np.ndarray
    pdg_id: np.ndarray
    offsets: np.ndarray
    event_id: np.ndarray
    invisible: np.ndarray
    n_dropped: int = 0

    def multiplicity(self) -> np.ndarray:
        """Visible particles per stored event [n]."""
        return np.diff(self.offsets)


def check_hadron_events(events: HadronEvents, source: str = "<hadron events>") -> None:
    """Shapes, offsets, event ids and energy-momentum conservation, before anything is written."""
    n, offsets = len(events.event_id), np.asarray(events.offsets)
    if (offsets.shape != (n + 1,) or offsets[0] != 0 or np.any(np.diff(offsets) < 1)
            or offsets[-1] != len(events.momenta)):
        raise SnapshotError(f"{source}: offsets must run from 0 to n_particles = {len(events.momenta)} in steps "
                            f">= 1 over {n} events")
    if np.shape(events.momenta) != (offsets[-1], 4) or np.shape(events.pdg_id) != (offsets[-1],):
        raise SnapshotError(f"{source}: momenta {np.shape(events.momenta)} and pdg_id {np.shape(events.pdg_id)} "
                            f"must be [{offsets[-1]}, 4] and [{offsets[-1]}]")
    ids = np.asarray(events.event_id)
    if n and (np.any(np.diff(ids) <= 0) or ids[0] < 0 or ids[-1] >= events.n_events):
        raise SnapshotError(f"{source}: event_id must be ascending in [0, {events.n_events})")
    if np.isin(np.abs(events.pdg_id), INVISIBLE).any():
        raise SnapshotError(f"{source}: neutrinos among the stored (visible) particles")
    total = np.add.reduceat(events.momenta, offsets[:-1], axis=0) + events.invisible if n else np.zeros((0, 4))
    deviation = np.abs(total - [events.sqrt_s, 0.0, 0.0, 0.0]).max(axis=1, initial=0.0)
    worst = int(np.argmax(deviation)) if n else 0
    if n and not deviation[worst] <= events.tolerance * events.sqrt_s:
        raise SnapshotError(f"{source}: event {int(events.event_id[worst])}: visible + invisible momenta miss "
                            f"({events.sqrt_s}, 0, 0, 0) by {deviation[worst]:.3g} GeV "
                            f"(> {events.tolerance * events.sqrt_s:.3g} GeV)")


def write_hadrons(path: str | Path, events: HadronEvents) -> Path:
    """Write ``events`` to ``path`` atomically; return the path."""
    path = Path(path)
    check_hadron_events(events, str(path))
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.attrs.update(run_attrs(events, "hadron"))
        group = handle.create_group(GROUP)
        for name, dtype in (("momenta", np.float64), ("pdg_id", np.int64), ("offsets", np.int64),
                            ("event_id", np.int64), ("invisible", np.float64)):
            group.create_dataset(name, data=np.asarray(getattr(events, name), dtype=dtype))
    return path


def read_hadrons(path: str | Path) -> dict[str, np.ndarray]:
    """The ``hadrons`` group's arrays (module docstring) by name; a parton-level file raises naming it."""
    path = Path(path)
    with _open(path) as handle:
        if handle.attrs.get("level") != "hadron" or GROUP not in handle:
            raise SnapshotError(f"{path}: not a hadron-level file (level = {handle.attrs.get('level', 'parton')!r})")
        try:
            return {name: handle[GROUP][name][()] for name in ("momenta", "pdg_id", "offsets", "event_id",
                                                                "invisible")}
        except KeyError as err:
            raise SnapshotError(f"{path}: group {GROUP} lacks a dataset ({err})") from err
