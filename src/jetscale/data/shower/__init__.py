"""Parton-shower depth snapshots: Pythia 8 final-state showers, the partons after each branching (or, at
hadron level, each event's final-state particles).

One job per module: ``history`` (pure replay of an event record into per-branching
states, the energy-momentum check), ``generate`` (process config -> Pythia ->
snapshots or hadron-level events), ``snapshots`` (the per-k HDF5 file format, writer and
reader), ``hadron_file`` (the hadron-level file format), ``cli`` (``jetscale shower-generate``).
The process configs are ``configs/generator/shower/*.yaml``.
Importing this package is cheap: Pythia loads with ``generate``.
"""

from jetscale.data.shower.cli import register
from jetscale.data.shower.history import (
    MomentumError,
    ReplayError,
    branching_states,
    check_conservation,
    shower_snapshots,
)
from jetscale.data.shower.snapshots import (
    ShowerSnapshots,
    SnapshotError,
    read_snapshots,
    snapshot_info,
    write_snapshots,
)

__all__ = [
    "MomentumError",
    "ReplayError",
    "ShowerSnapshots",
    "SnapshotError",
    "branching_states",
    "check_conservation",
    "read_snapshots",
    "register",
    "shower_snapshots",
    "snapshot_info",
    "write_snapshots",
]
