"""e+e- Energy Flow Polynomials of parton-shower snapshots, and their per-(file, k) cache.

Conventions (stated once; the hadronic jet EFPs are :mod:`jetscale.features.efp`):

* The EFP set is energyflow's ``EFPSet("d<=dmax")`` (same graphs, order and counts as
  :mod:`jetscale.features.efp`: 102 EFPs for d <= 5, the one-vertex graph first) with the
  **e+e- measure** ``measure="ee"``, kappa = 1, ``normed=True``, ``coords="epxpypz"``: particles
  are rows (E, px, py, pz) and

      z_i = E_i / sum_j E_j,     theta_ij = |2 p_i . p_j / (E_i E_j)|^(beta/2)

  (Minkowski product, mostly-minus metric; energyflow's ``EEDefaultMeasure``). For massless
  partons and beta = 2, theta_ij = 2 (1 - cos Omega_ij), Omega_ij the opening angle. The EFP of a
  multigraph G is sum_{i_1..i_V} z_{i_1} ... z_{i_V} prod_{(a,b) in G} theta_{i_a i_b}, so the
  d = 0 EFP is 1 and, for events with sum_i p_i = (E, 0, 0, 0) and beta = 2, the one-edge EFP is
  sum_ij 2 p_i . p_j / E^2 = 2: both are constant features, as is every product of them.
  The default beta = 2 makes the EFPs polynomials in the momenta (energyflow's EFM measure).
* **Evaluation.** ``EFPSet.batch_compute`` loops over events in Python and re-plans every
  graph's einsum per event (~400 events/s for d <= 5, one core). :func:`compute_ee_efps`
  evaluates the *same* energyflow objects on whole blocks of events: energyflow's ``Measure``
  gives (z, theta) per event, each connected graph's own ``einstr`` is evaluated once per block
  with a leading event axis (``numpy.einsum`` with ``...``), and ``EFPSet.calc_disc`` forms the
  disconnected EFPs. Results equal ``batch_compute`` to rounding (tested); d <= 5 runs at
  ~ 3.5 x 10^4 events/s for 3 partons, 2 x 10^4 for 10, 1.4 x 10^4 for 14 and 5 x 10^3 for 22
  (one core; ``batch_compute``: ~ 400/s), so energyflow's ``n_jobs`` worker processes (1.3-1.8 x
  faster on two cores for ``batch_compute``) are not used. The event shapes of the cache cost more
  at high multiplicity (exact thrust: ~ 2 x 10^4 events/s for 14 partons, 1.7 x 10^3 for 18, 60 for 22).

Cache (:func:`cache_snapshot_efps`): one file per (snapshot file, k), next to it, in the format of
:mod:`jetscale.data.efp_cache` (EFPs, event ids and the event shapes of :mod:`jetscale.physics.event_shapes`,
the regression targets and spectrum labels), written under an exclusive lock on ``.<cache name>.lock``
beside it (jobs that find it missing together -- a sweep's first points -- compute it once: check, lock,
check again), and recomputed unless its source checksum, settings, EFP specs and row count match.
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


def _batched(einstr: str) -> str:
    """An energyflow graph einsum (implicit or explicit, scalar output) with a leading event axis."""
    inputs, _, _ = einstr.partition("->")
    return ",".join(f"...{term}" for term in inputs.split(",")) + "->..."


@functools.lru_cache(maxsize=8)
def ee_measure(beta: float = DEFAULT_BETA):
    """energyflow's ``Measure`` with the settings of :func:`ee_efp_set`: event [m, 4] -> (z [m], theta [m, m])."""
    import energyflow

    return energyflow.Measure(MEASURE, beta=beta, kappa=KAPPA, normed=NORMED, coords=COORDS)


def _block_efps(efps, measure, momenta: np.ndarray) -> np.ndarray:
    """EFPs of one block of events [b, m, 4] -> [b, E] (module docstring: evaluation)."""
    pairs = [measure.evaluate(event) for event in momenta]
    zs = np.stack([z for z, _ in pairs])  # [b, m]
    thetas = np.stack([theta for _, theta in pairs])  # [b, m, m]
    powers = {w: thetas**w for w in efps.weight_set}
    connected = [np.einsum(_batched(efp.einstr), *[powers[w] for w in efp.weights], *[zs] * efp.n, optimize=True)
                 for efp in efps.efps]
    return np.atleast_2d(efps.calc_disc(np.stack(connected, axis=1)))


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
    for lo in range(0, len(p), chunk):
        out[lo:lo + chunk] = _block_efps(efps, measure, p[lo:lo + chunk])
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
