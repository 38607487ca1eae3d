"""The EFP cache files: names, contents, reuse check, writing and reading (the writers compute them in
:mod:`jetscale.features.efp` and :mod:`jetscale.features.efp_ee`; readers need nothing else).

Two kinds, each an HDF5 file next to its source, written atomically (temporary file, then rename):

* **hadronic** (:func:`efp_cache_path`): ``<shard stem>.efp-d<dmax>-b<beta>.h5`` next to a jet shard
  (``shard-00003.efp-d5-b1.h5``; the name never matches ``shard-<i>.h5``, so shard listings ignore it),
  datasets ``efp`` float64 [n, E] (E = number of EFPs) and ``label`` int8 [n] (copied from the shard);
* **e+e-** (:func:`ee_efp_cache_path`): ``<file stem>.efp-ee-d<dmax>-b<beta>-k<k>.h5`` next to a shower
  snapshot file, for its group ``k<k>``, datasets ``EE_DATASETS``: ``efp`` float64 [n, E], ``event_id``
  int64 [n] (copied from the file) and the event shapes of :mod:`jetscale.physics.event_shapes`
  (float64 [n] each).

Both also hold ``specs`` int64 [E, 8] (energyflow's spec of each EFP, columns ``spec_columns``) and the
attributes of the EFP set (``dmax, beta, measure, normed, kappa, coords``; hadronic: ``angle``; e+e-: ``k``),
``n_efps, spec_columns, graphs`` (JSON edge lists), ``energyflow_version``, ``source_file`` and
``source_sha256``.  A writer reuses a cache only if :func:`cache_is_current`; a reader of hadronic caches
checks them with :func:`check_efp_cache`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np

from jetscale.atomic import atomic_output
from jetscale.data.shards import MANIFEST, ShardError
from jetscale.physics.event_shapes import EVENT_SHAPES
from jetscale.results import plain

log = logging.getLogger(__name__)

HADRONIC_DATASETS = ("efp", "label")
EE_DATASETS = ("efp", "event_id", *EVENT_SHAPES)


def efp_cache_path(shard_path: str | Path, dmax: int = 5, beta: float = 1.0) -> Path:
    """``shard-00003.h5`` -> ``shard-00003.efp-d5-b1.h5`` in the same directory."""
    shard_path = Path(shard_path)
    return shard_path.with_name(f"{shard_path.stem}.efp-d{dmax}-b{float(beta):g}.h5")


def ee_efp_cache_path(snapshots: str | Path, k: int, dmax: int, beta: float) -> Path:
    """``z_qq.h5`` -> ``z_qq.efp-ee-d5-b2-k3.h5`` in the same directory."""
    snapshots = Path(snapshots)
    return snapshots.with_name(f"{snapshots.stem}.efp-ee-d{dmax}-b{float(beta):g}-k{k}.h5")


def cache_is_current(cache: Path, source_sha256: str, settings: dict, specs: np.ndarray,
                     datasets: tuple[str, ...] = HADRONIC_DATASETS) -> bool:
    """True if ``cache`` exists, is readable, was made from the source with checksum ``source_sha256``
    with the attributes ``settings``, holds the EFPs ``specs``, and its ``datasets`` have one row count
    (logged when true: the cache is reused)."""
    if not cache.exists():
        return False
    try:
        with h5py.File(cache, "r") as handle:
            attrs = {key: plain(value) for key, value in handle.attrs.items()}
            stored = handle["specs"][()]
            rows = {handle[name].shape[0] for name in datasets}
            width = handle["efp"].shape[1:]
    except (OSError, KeyError) as err:
        log.warning("%s: unreadable EFP cache (%s); recomputing", cache, err)
        return False
    same_set = all(attrs.get(key) == value for key, value in settings.items())
    current = (attrs.get("source_sha256") == source_sha256 and same_set and len(rows) == 1
               and width == stored.shape[:1] and np.array_equal(stored, specs))
    if current:
        log.info("%s: EFP cache is up to date", cache)
    return current


def write_cache(cache: Path, datasets: dict[str, np.ndarray], attrs: dict, specs: np.ndarray) -> None:
    """Write a cache file atomically (a temporary file in the same directory, then rename): ``datasets``,
    ``specs`` as int64, and ``attrs``."""
    with atomic_output(cache) as tmp, h5py.File(tmp, "w") as handle:
        for name, data in datasets.items():
            handle.create_dataset(name, data=data)
        handle.create_dataset("specs", data=np.asarray(specs, dtype=np.int64))
        handle.attrs.update(attrs)


def read_efp_cache(cache: str | Path, start: int | None = None, stop: int | None = None,
                   fields: tuple[str, ...] = HADRONIC_DATASETS, error: type[Exception] = ShardError,
                   kind: str = "EFP cache") -> dict[str, np.ndarray]:
    """Rows [start, stop) of a cache's datasets ``fields``; an unreadable file raises ``error`` naming it
    (``"<cache>: unreadable <kind> (...)"``)."""
    cache = Path(cache)
    try:
        with h5py.File(cache, "r") as handle:
            return {name: handle[name][start:stop] for name in fields}
    except (OSError, KeyError) as err:
        raise error(f"{cache}: unreadable {kind} ({err})") from err


def read_ee_efp_cache(cache: str | Path, fields: tuple[str, ...] = EE_DATASETS) -> dict[str, np.ndarray]:
    """The datasets ``fields`` of an e+e- cache; an unreadable file raises OSError naming it."""
    return read_efp_cache(cache, fields=fields, error=OSError, kind="e+e- EFP cache")


def features_command(shard: Path, dmax: int, beta: float) -> str:
    """The command that (re)makes the EFP cache of ``shard``."""
    return f"`jetscale features --shard {shard} --dmax {dmax} --beta {beta:g}`"


def check_efp_cache(cache: Path, shard: Path, sha256: str, n_jets: int, dmax: int, beta: float) -> None:
    """Raise ShardError unless ``cache`` exists and holds the d<=``dmax``, ``beta`` EFPs of the
    ``n_jets`` jets of the shard whose manifest checksum is ``sha256``."""
    remake = features_command(shard, dmax, beta)
    if not cache.is_file():
        raise ShardError(f"{cache}: no EFP cache for {shard}; make it with {remake}")
    try:
        with h5py.File(cache, "r") as handle:
            attrs = dict(handle.attrs)
            shape = handle["efp"].shape
    except (OSError, KeyError) as err:
        raise ShardError(f"{cache}: unreadable EFP cache ({err}); remake it with {remake}") from err
    if attrs.get("source_sha256") != sha256:
        raise ShardError(f"{cache}: made from a shard with sha256 {attrs.get('source_sha256')}, but "
                         f"{shard.parent / MANIFEST} lists {shard} with {sha256}; remake it with {remake}")
    if attrs.get("dmax") != dmax or attrs.get("beta") != beta or shape[0] != n_jets:
        raise ShardError(f"{cache}: holds {shape[0]} jets with dmax={attrs.get('dmax')}, beta={attrs.get('beta')}; "
                         f"expected {n_jets} jets of {shard} with dmax={dmax}, beta={beta:g}; remake it with {remake}")
