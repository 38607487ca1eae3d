"""e+e- Energy Flow Polynomials of parton-shower snapshots, and their per-(file, k) cache.

Input: momenta ``[n_events, n, 4]`` as (E, px, py, pz). Output: energyflow's ``EFPSet("d<=dmax")``
(102 EFPs for d <= 5, the order of :mod:`jetscale.features.efp`) with ``measure="ee"``, kappa = 1,
``normed=True``: z_i = E_i / sum_j E_j, theta_ij = |2 p_i . p_j / (E_i E_j)|^(beta/2), evaluated on
blocks of events by :mod:`jetscale.features.efp_block` (equal to ``batch_compute`` to rounding). The
cache (:func:`cache_snapshot_efps`) is one :mod:`jetscale.data.efp_cache` file per (snapshot file, k),
made once under a lock.
Conventions, speed and cache: docs/tasks.md#shower-efps.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path

import numpy as np

from jetscale.atomic import exclusive_lock
from jetscale.data.efp_cache import EE_DATASETS, cache_is_current, ee_efp_cache_path, read_ee_efp_cache, write_cache
from jetscale.data.shards import sha256_file
from jetscale.features.efp import KAPPA, NORMED, cache_attrs, check_options, efp_set, set_settings
from jetscale.features.efp_block import block_size, evaluate
from jetscale.physics.event_shapes import EVENT_SHAPES, event_shapes

log = logging.getLogger(__name__)

MEASURE = "ee"
COORDS = "epxpypz"
DEFAULT_BETA = 2.0
CHUNK = 2000
"""Events per block of :func:`compute_ee_efps` (bounds the einsum intermediates) and per progress line."""


def ee_efp_set(dmax: int = 5, beta: float = DEFAULT_BETA):
    """The ``energyflow.EFPSet`` of all EFPs with degree <= ``dmax`` in the e+e- measure (module docstring)."""
    return efp_set(dmax, beta, MEASURE, COORDS)


def n_ee_efps(dmax: int = 5, beta: float = DEFAULT_BETA) -> int:
    """Number of EFPs with degree <= ``dmax`` (102 for ``dmax=5``)."""
    return int(ee_efp_set(dmax, float(beta)).specs.shape[0])


@functools.lru_cache(maxsize=8)
def ee_measure(beta: float = DEFAULT_BETA):
    """energyflow's ``Measure`` with the settings of :func:`ee_efp_set`: event [m, 4] -> (z [m], theta [m, m])."""
    import energyflow

    return energyflow.Measure(MEASURE, beta=beta, kappa=KAPPA, normed=NORMED, coords=COORDS)


def _block_efps(efps, measure, momenta: np.ndarray) -> np.ndarray:
    """EFPs of one block of events [b, m, 4] -> [b, E] (evaluation: docs/tasks.md#shower-efps)."""
    pairs = [measure.evaluate(event) for event in momenta]
    zs = np.stack([z for z, _ in pairs])  # [b, m]
    thetas = np.stack([theta for _, theta in pairs])  # [b, m, m]
    return evaluate(efps, zs, thetas)


def compute_ee_efps(momenta: np.ndarray, dmax: int = 5, beta: float = DEFAULT_BETA, chunk: int = CHUNK) -> np.ndarray:
    """e+e- EFPs of each event: momenta [n, m, 4] (E, px, py, pz) -> float64 [n, n_efps] (pure)."""
    p = np.asarray(momenta, dtype=np.float64)
    if p.ndim != 3 or p.shape[2] != 4 or p.shape[1] < 1:
        raise ValueError(f"momenta must be [n_events, n_particles, 4] as (E, px, py, pz), got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"momenta of shape {p.shape} have non-finite values")
    if len(p) and np.any(p[..., 0].sum(axis=1) <= 0):
        raise ValueError("events with total energy <= 0 have no normalized EFPs")
    efps, measure = ee_efp_set(dmax, float(beta)), ee_measure(float(beta))
    out = np.empty((len(p), efps.specs.shape[0]))
    step = min(chunk, block_size(efps, p.shape[1]))
    for lo in range(0, len(p), step):
        out[lo:lo + step] = _block_efps(efps, measure, p[lo:lo + step])
    return out


# --------------------------------------------------------------------------- cache


def cache_settings(k: int, dmax: int, beta: float) -> dict:
    """The attributes that identify a cache's content (compared when deciding to reuse it)."""
    return {"k": int(k), **set_settings(dmax, beta, MEASURE, COORDS)}


def _compute_group(momenta: np.ndarray, dmax: int, beta: float, label: str) -> dict[str, np.ndarray]:
    """EFPs and event shapes of one group, :data:`CHUNK` events at a time, logging the rate."""
    n = len(momenta)
    out = {"efp": np.empty((n, n_ee_efps(dmax, beta))), **{name: np.empty(n) for name in EVENT_SHAPES}}
    start = time.perf_counter()
    for lo in range(0, n, CHUNK):
        block = momenta[lo:lo + CHUNK]
        out["efp"][lo:lo + len(block)] = compute_ee_efps(block, dmax, beta)
        for name, values in event_shapes(block).items():
            out[name][lo:lo + len(block)] = values
        if n > CHUNK:
            hi = lo + len(block)
            log.info("%s: EFPs d<=%d and event shapes of %d/%d events, %.0f events/s", label, dmax, hi, n,
                     hi / (time.perf_counter() - start))
    return out


def cache_snapshot_efps(snapshots: str | Path, k: int, dmax: int = 5, beta: float = DEFAULT_BETA) -> Path:
    """Compute (or reuse) the EFP and event-shape cache of group ``k`` of a snapshot file; return its path.

    A missing snapshot file raises ``FileNotFoundError``, a missing k the reader's
    :class:`~jetscale.data.shower.snapshots.SnapshotError` (both naming the file).
    """
    from jetscale.data.shower.snapshots import read_snapshots

    check_options(dmax, beta)
    beta = float(beta)
    source = Path(snapshots)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no shower snapshot file")
    cache, digest = ee_efp_cache_path(source, k, dmax, beta), sha256_file(source)
    efps, settings = ee_efp_set(dmax, beta), cache_settings(k, dmax, beta)
    if cache_is_current(cache, digest, settings, efps.specs, EE_DATASETS):
        return cache
    with exclusive_lock(cache.with_name(f".{cache.name}.lock")):
        if cache_is_current(cache, digest, settings, efps.specs, EE_DATASETS):  # made while this job waited
            return cache
        momenta, event_id = read_snapshots(source, k)
        start = time.perf_counter()
        values = _compute_group(momenta, dmax, beta, f"{source.name} k={k}")
        elapsed = time.perf_counter() - start
        write_cache(cache, {**values, "event_id": np.asarray(event_id, dtype=np.int64)},
                    cache_attrs(settings, efps, source, digest), efps.specs)
        log.info("%s: %d events of %d partons, %d EFPs in %.1f s (%.0f events/s)", cache, len(momenta),
                 momenta.shape[1], efps.specs.shape[0], elapsed, len(momenta) / max(elapsed, 1e-9))
    return cache


def snapshot_features(snapshots: str | Path, k: int, dmax: int = 5,
                      beta: float = DEFAULT_BETA) -> dict[str, np.ndarray]:
    """EFPs, event ids and event shapes of group ``k`` of a snapshot file, through its cache."""
    return read_ee_efp_cache(cache_snapshot_efps(snapshots, k, dmax, beta))
