"""Energy Flow Polynomials per jet and per shard (Komiske, Metodiev & Thaler, arXiv:1712.07124).

Input: a shard's constituents (pT, η, φ, E) and ``n_constituents``; output: float64 [n, E] of energyflow's
``EFPSet("d<=dmax")`` (102 for d <= 5, 314 for d <= 6, 1000 for d <= 7), hadronic measure, kappa = 1,
normalized, on the true rapidity y and without padding, evaluated on blocks of jets by
:mod:`jetscale.features.efp_block` (equal to energyflow's ``batch_compute`` to rounding; energyflow stays
selectable as the reference). :func:`cache_shard_efps` caches them next to the
shard (:mod:`jetscale.data.efp_cache`). Conventions: docs/jets.md#efp-conventions.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from jetscale.data.efp_cache import cache_is_current, efp_cache_path, read_efp_cache, write_cache
from jetscale.data.shards import ShardError, read_shard, sha256_file
from jetscale.features.efp_block import hadronic_efps
from jetscale.physics.kinematics import rapidity

log = logging.getLogger(__name__)

DMAX_RANGE = (1, 7)
MEASURE = "hadr"
NORMED = True
KAPPA = 1
COORDS = "ptyphim"
ANGLE = "rapidity y from (pT, eta, E)"
EVALUATORS = ("block", "energyflow")
CHUNK = 2000
"""Jets read and evaluated at a time (and per progress line) when caching a shard."""


def check_options(dmax: int, beta: float) -> None:
    lo, hi = DMAX_RANGE
    if not (isinstance(dmax, (int, np.integer)) and lo <= dmax <= hi):
        raise ValueError(f"dmax must be an integer in [{lo}, {hi}], got {dmax!r}")
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")


@functools.lru_cache(maxsize=16)
def efp_set(dmax: int = 5, beta: float = 1.0, measure: str = MEASURE, coords: str = COORDS):
    """The ``energyflow.EFPSet`` of all EFPs with degree <= ``dmax`` (docs/jets.md#efp-conventions).

    ``measure`` and ``coords`` default to the hadronic ones; :mod:`jetscale.features.efp_ee` passes its own.
    """
    check_options(dmax, beta)
    import energyflow  # imported here: it is slow to import and only EFP code needs it

    return energyflow.EFPSet(f"d<={dmax}", measure=measure, beta=beta, kappa=KAPPA, normed=NORMED, coords=coords)


def n_efps(dmax: int = 5, beta: float = 1.0) -> int:
    """Number of EFPs with degree <= ``dmax`` (102 for ``dmax=5``)."""
    return int(efp_set(dmax, float(beta)).specs.shape[0])


def padded_particles(constituents: np.ndarray, n_constituents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Jets as float64 (pT, y, phi) rows [n, C, 3] and their counts [n]; rows past a jet's count are padding.

    ``constituents``: [n, C, 4] = (pT, eta, phi, E); ``n_constituents``: [n]. Jets without constituents are refused.
    """
    constituents = np.asarray(constituents)
    counts = np.asarray(n_constituents, dtype=np.int64)
    if constituents.ndim != 3 or constituents.shape[2] != 4 or counts.shape != constituents.shape[:1]:
        raise ValueError(f"expected constituents [n, C, 4] and n_constituents [n], got "
                         f"{constituents.shape} and {counts.shape}")
    if counts.size and (counts.min() < 0 or counts.max() > constituents.shape[1]):
        raise ValueError(f"n_constituents outside [0, {constituents.shape[1]}]")
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise ValueError(f"{empty.size} jet(s) without constituents (rows {empty[:5].tolist()}...): "
                         "normalized EFPs are undefined")
    pt, eta, phi, energy = np.moveaxis(constituents.astype(np.float64), 2, 0)  # each [n, C]
    return np.stack([pt, rapidity(pt, eta, energy), phi], axis=2), counts


def jet_particles(constituents: np.ndarray, n_constituents: np.ndarray) -> list[np.ndarray]:
    """Per jet, its real particles as float64 (pT, y, phi) rows: [m_i, 3], padding dropped (energyflow's input)."""
    particles, counts = padded_particles(constituents, n_constituents)
    return [particles[i, :m] for i, m in enumerate(counts)]


def compute_efps(constituents: np.ndarray, n_constituents: np.ndarray, dmax: int = 5, beta: float = 1.0,
                 n_jobs: int = 1, evaluator: str = "block") -> np.ndarray:
    """EFPs of each jet: float64 [n, n_efps] (pure; conventions: docs/jets.md#efp-conventions).

    ``evaluator``: "block" (:mod:`jetscale.features.efp_block`, jets of similar multiplicity together) or
    "energyflow" (``EFPSet.batch_compute``, one jet at a time: the reference, equal to rounding).
    ``n_jobs`` is energyflow's worker processes; the block evaluator runs in this process.
    """
    if evaluator not in EVALUATORS:
        raise ValueError(f"evaluator must be one of {EVALUATORS}, got {evaluator!r}")
    efps = efp_set(dmax, float(beta))
    if evaluator == "block":
        return hadronic_efps(efps, *padded_particles(constituents, n_constituents), float(beta))
    events, width = jet_particles(constituents, n_constituents), efps.specs.shape[0]
    if not events:
        return np.empty((0, width))
    values = efps.batch_compute(events, n_jobs=n_jobs)  # energyflow squeezes a single jet to [width]
    return np.asarray(values, dtype=np.float64).reshape(len(events), width)


# --------------------------------------------------------------------------- cache (settings shared with efp_ee)


def set_settings(dmax: int, beta: float, measure: str = MEASURE, coords: str = COORDS) -> dict:
    """The attributes that identify an EFP set (of :func:`efp_set` with these arguments)."""
    return {"dmax": int(dmax), "beta": float(beta), "measure": measure, "normed": NORMED, "kappa": KAPPA,
            "coords": coords}


def cache_settings(dmax: int, beta: float) -> dict:
    """The attributes that identify a hadronic cache's content (compared when deciding to reuse it)."""
    return {**set_settings(dmax, beta), "angle": ANGLE}


def cache_attrs(settings: dict, efps, source: Path, source_sha256: str) -> dict:
    """All attributes of a cache of the EFPSet ``efps`` made from the file ``source`` (:mod:`jetscale.data.efp_cache`)."""
    import energyflow

    return {**settings, "n_efps": int(efps.specs.shape[0]), "spec_columns": ",".join(efps.cols),
            "graphs": json.dumps([[list(edge) for edge in graph] for graph in efps.graphs()]),
            "energyflow_version": energyflow.__version__, "source_file": source.name, "source_sha256": source_sha256}


def _compute_shard(shard: Path, n: int, dmax: int, beta: float, n_jobs: int, chunk: int) -> np.ndarray:
    """All EFPs of one shard, ``chunk`` jets at a time, logging the rate for long shards."""
    out = np.empty((n, n_efps(dmax, beta)))
    start = time.perf_counter()
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        rows = read_shard(shard, lo, hi, fields=("constituents", "n_constituents"))
        try:
            out[lo:hi] = compute_efps(rows["constituents"], rows["n_constituents"], dmax, beta, n_jobs)
        except ValueError as err:
            raise ShardError(f"{shard}: jets [{lo}, {hi}): {err}") from err
        if n > chunk:
            elapsed = time.perf_counter() - start
            log.info("%s: EFPs d<=%d of %d/%d jets, %.0f jets/s", shard.name, dmax, hi, n, hi / elapsed)
    return out


def cache_shard_efps(shard_path: str | Path, dmax: int = 5, beta: float = 1.0, n_jobs: int = 1,
                     chunk: int = CHUNK) -> Path:
    """Compute (or reuse) the EFP cache of one shard; return the cache path.

    The cache is reused when its ``source_sha256`` matches the shard's current checksum
    and its EFP set is the requested one; otherwise it is recomputed and replaced.
    Shard problems raise :class:`~jetscale.data.shards.ShardError` naming the file.
    """
    check_options(dmax, beta)
    beta = float(beta)
    shard = Path(shard_path)
    if not shard.is_file():
        raise ShardError(f"{shard}: no such shard")
    cache, digest = efp_cache_path(shard, dmax, beta), sha256_file(shard)
    efps, settings = efp_set(dmax, beta), cache_settings(dmax, beta)
    if cache_is_current(cache, digest, settings, efps.specs):
        return cache
    label = read_shard(shard, fields=("label",))["label"]
    start = time.perf_counter()
    efp = _compute_shard(shard, len(label), dmax, beta, n_jobs, chunk)
    elapsed = time.perf_counter() - start
    write_cache(cache, {"efp": efp, "label": np.asarray(label, dtype=np.int8)},
                cache_attrs(settings, efps, shard, digest), efps.specs)
    log.info("%s: %d jets, %d EFPs in %.1f s (%.0f jets/s)", cache, len(label), efp.shape[1], elapsed,
             len(label) / max(elapsed, 1e-9))
    return cache


def iter_shard_efps(shard_path: str | Path, dmax: int = 5, beta: float = 1.0, chunk: int = 10_000,
                    n_jobs: int = 1) -> Iterator[np.ndarray]:
    """The EFPs of one shard in row blocks of at most ``chunk`` jets, computing the cache if needed."""
    cache = cache_shard_efps(shard_path, dmax, beta, n_jobs=n_jobs)
    n = len(read_efp_cache(cache, fields=("label",))["label"])
    for lo in range(0, n, chunk):
        yield read_efp_cache(cache, lo, lo + chunk)["efp"]


# --------------------------------------------------------------------------- CLI


def cmd_features(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    cache = cache_shard_efps(args.shard, args.dmax, args.beta, n_jobs=args.jobs)
    print(f"{cache}: {n_efps(args.dmax, args.beta)} EFPs (d <= {args.dmax}, beta = {args.beta:g}) of {args.shard}")
    return 0


def register(subparsers) -> None:
    """Add ``jetscale features --shard FILE [--dmax 5] [--beta 1] [--jobs 1]``."""
    p = subparsers.add_parser("features", help="EFPs of one jet shard, cached next to it")
    p.add_argument("--shard", required=True, help="a shard-<i>.h5 file")
    p.add_argument("--dmax", type=int, default=5, help="maximum EFP degree (1..7; default 5: 102 EFPs)")
    p.add_argument("--beta", type=float, default=1.0, help="angular exponent beta (default 1)")
    p.add_argument("--jobs", type=int, default=1,
                   help="energyflow worker processes (unused by the default block evaluator; default 1)")
    p.set_defaults(func=cmd_features)
