"""The data-covariance eigen-spectrum of a jet dataset and its power-law exponent.

Batson & Kahn (arXiv:2312.02264) relate the scaling exponent of jet classifiers to the
power-law decay of the eigenvalues of the data covariance of EFPs, lambda_k ~ k^(-alpha).
``jetscale spectrum`` streams a dataset's shards through a
:class:`~jetscale.features.covariance.CovarianceAccumulator` (O(d^2) memory), combines
the ranks under ``mpiexec`` and writes, in ``--out-dir``:

* ``spectrum.json``::

      {"source": dataset dir, "dataset": name, "features": "efp" | "constituents",
       "feature_options": {...}, "n": jets, "d": features, "n_shards", "n_ranks",
       "eigenvalues": [...],          # covariance of the raw features, descending
       "noise_floor": lambda_1 * NOISE_RTOL,
       "fit": {"alpha", "ci95", "amplitude", "k_range", "n_points", "stderr", "method"},
       "standardized": {"eigenvalues": [...], "noise_floor", "fit": {...}, "d": kept features,
                        "constant_features": [indices dropped]}}

* ``spectrum.npz`` (``eigenvalues``, ``standardized_eigenvalues``) and
  ``spectrum.{png,pdf}`` (:mod:`jetscale.plots.spectrum`).

Choices (documented once):

* Features. ``efp``: the EFPs of :mod:`jetscale.features.efp` (from the per-shard caches,
  computed where missing). ``constituents``: each jet's zero-padded constituent array
  flattened row-major to d = 4 C, feature 4 i + j = column j of (pT, eta, phi, E) of the
  i-th hardest particle (padding included, so always-empty slots are constant features).
* Standardization. The headline spectrum (``eigenvalues``, ``fit``) is that of the
  covariance of the raw features, as in Batson & Kahn's "covariance of the EFPs"
  (whether they standardize could not be checked here, offline); the spectrum of the
  standardized features (the correlation matrix, constant features dropped) is reported
  beside it, from the same pass over the data.
* Fit (:func:`fit_spectrum_exponent`): ordinary least squares of log lambda_k on log k
  over ranks k in [k_min, k_max] (1-based), default k_min = 2 (the leading mode carries
  the overall scale) and k_max = the smaller of d // 2 and the last rank above the
  numerical noise floor lambda_1 * NOISE_RTOL. ``ci95`` is the t-interval from the
  residual standard error: it measures how well a straight line describes the chosen
  range, not the sampling noise of the covariance nor the choice of range.

MPI: when launched under ``mpiexec`` (detected from the launcher's environment), rank r
of K takes shards r, r + K, ...; only rank 0 writes. ``python -m jetscale.features.spectrum``
runs the same command as ``jetscale spectrum``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from jetscale.atomic import atomic_output
from jetscale.parallel import Ranks, current_ranks
from jetscale.data.shards import MANIFEST, ShardError, read_shard, shard_paths
from jetscale.features.covariance import (
    CovarianceAccumulator, allreduce, eigenvalues_desc, standardized_covariance,
)
from jetscale.features.efp import ANGLE, MEASURE, NORMED, iter_shard_efps
from jetscale.results import write_json_atomic

log = logging.getLogger(__name__)

FEATURES = ("efp", "constituents")
NOISE_RTOL = 1e-12
"""Eigenvalues <= lambda_1 * NOISE_RTOL are numerical noise (float64 eigvalsh errors are
~ d * 2.2e-16 * lambda_1) and never enter the default fit range."""
K_MIN = 2
CHUNK = 10_000
"""Jets per block when streaming a shard into the accumulator."""
# --------------------------------------------------------------------------- fit


def noise_floor(eigenvalues: np.ndarray) -> float:
    """lambda_1 * NOISE_RTOL: eigenvalues at or below it are numerical noise."""
    lam = np.asarray(eigenvalues, dtype=float)
    return float(max(lam[0], 0.0) * NOISE_RTOL) if lam.size else 0.0


def default_k_max(eigenvalues: np.ndarray) -> int:
    """min(d // 2, last rank with lambda_k above the :func:`noise_floor`)."""
    lam = np.asarray(eigenvalues, dtype=float)
    above = np.flatnonzero(lam > noise_floor(lam)) if lam.size and lam[0] > 0 else np.array([], int)
    return int(min(lam.size // 2, above[-1] + 1 if above.size else 0))


def fit_spectrum_exponent(eigenvalues, k_min: int = K_MIN, k_max: int | None = None) -> dict:
    """Fit lambda_k = amplitude * k^(-alpha) over ranks k_min..k_max (1-based, inclusive).

    ``eigenvalues`` in descending order. Least squares in log-log; ``ci95`` is the 95 %
    t-interval from the residual standard error (module docstring). Returns
    ``{"alpha", "ci95": [lo, hi], "amplitude", "k_range": [k_min, k_max], "n_points",
    "stderr", "method"}``.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or np.any(np.diff(lam) > 1e-12 * max(abs(lam[0]), 1e-300)):
        raise ValueError("eigenvalues must be a 1-d array in descending order")
    k_max = default_k_max(lam) if k_max is None else int(k_max)
    k_min = int(k_min)
    if not 1 <= k_min < k_max <= lam.size or k_max - k_min + 1 < 3:
        raise ValueError(f"fit range k in [{k_min}, {k_max}] needs 1 <= k_min, k_max <= d = {lam.size} and at "
                         f"least 3 ranks (default k_max = min(d // 2, ranks above the noise floor) = "
                         f"{default_k_max(lam)})")
    k = np.arange(k_min, k_max + 1)
    values = lam[k - 1]
    if np.any(values <= 0):
        raise ValueError(f"eigenvalues at ranks {k[values <= 0][:5].tolist()} are <= 0; choose k_max below "
                         f"{k[values <= 0][0]}")
    x, y = np.log(k), np.log(values)
    slope, intercept = np.polyfit(x, y, 1)
    dof = k.size - 2
    residual = y - (intercept + slope * x)
    stderr = float(np.sqrt(residual @ residual / dof / np.sum((x - x.mean()) ** 2)))
    from scipy import stats  # here, not at import: every `jetscale` command registers this module

    half = float(stats.t.ppf(0.975, dof)) * stderr
    alpha = float(-slope)
    return {"alpha": alpha, "ci95": [alpha - half, alpha + half], "amplitude": float(np.exp(intercept)),
            "k_range": [k_min, k_max], "n_points": int(k.size), "stderr": stderr,
            "method": "least squares of log(lambda_k) on log(k); t-interval from the residual standard error"}


# --------------------------------------------------------------------------- streaming


def shard_features(shard: Path, features: str, dmax: int = 5, beta: float = 1.0, chunk: int = CHUNK,
                   n_jobs: int = 1) -> Iterator[np.ndarray]:
    """Feature rows [m, d] of one shard, in blocks of at most ``chunk`` jets (module docstring)."""
    if features == "efp":
        yield from iter_shard_efps(shard, dmax, beta, chunk=chunk, n_jobs=n_jobs)
    elif features == "constituents":
        n = len(read_shard(shard, fields=("label",))["label"])
        for lo in range(0, n, chunk):
            block = read_shard(shard, lo, lo + chunk, fields=("constituents",))["constituents"]
            yield block.reshape(len(block), -1)
    else:
        raise ValueError(f"unknown features {features!r}; choose from {list(FEATURES)}")


def accumulate(shards: list[Path], features: str, **options) -> CovarianceAccumulator:
    """One accumulator over all rows of ``shards``; ``options`` go to :func:`shard_features`."""
    acc = CovarianceAccumulator()
    for shard in shards:
        for block in shard_features(Path(shard), features, **options):
            try:
                acc.update(block)
            except ValueError as err:
                raise ShardError(f"{shard}: {err}") from err
        log.info("%s: %d jets accumulated so far", Path(shard).name, acc.n)
    return acc


def spectrum_entry(eigenvalues: np.ndarray, k_min: int, k_max: int | None) -> dict:
    return {"eigenvalues": eigenvalues.tolist(), "noise_floor": noise_floor(eigenvalues),
            "fit": fit_spectrum_exponent(eigenvalues, k_min, k_max)}


def dataset_spectrum(dataset: str | Path, features: str = "efp", dmax: int = 5, beta: float = 1.0,
                     k_min: int = K_MIN, k_max: int | None = None, comm=None, n_jobs: int = 1,
                     chunk: int = CHUNK) -> dict:
    """The ``spectrum.json`` payload of a dataset directory (module docstring); same on every rank.

    ``comm``: an mpi4py communicator, or None for :func:`jetscale.parallel.current_ranks` (one process unless
    launched by ``mpiexec``). Rank r accumulates shards r, r + size, ...
    """
    if features not in FEATURES:
        raise ValueError(f"unknown features {features!r}; choose from {list(FEATURES)}")
    dataset = Path(dataset)
    if not dataset.is_dir():
        raise ShardError(f"{dataset}: no such dataset directory")
    shards = shard_paths(dataset)
    if not shards:
        raise ShardError(f"{dataset}: no shard-<i>.h5 files")
    ranks = current_ranks() if comm is None else Ranks(comm.rank, comm.size, comm)
    comm, size = ranks.comm, ranks.size
    options = {"dmax": dmax, "beta": beta, "chunk": chunk, "n_jobs": n_jobs} if features == "efp" else {"chunk": chunk}
    acc = accumulate(ranks.share(shards), features, **options)
    if comm is not None:
        acc = allreduce(acc, comm)
    raw = eigenvalues_desc(acc.covariance())
    corr, keep = standardized_covariance(acc)
    return {
        "source": str(dataset), "dataset": _dataset_name(dataset), "features": features,
        "feature_options": _feature_options(features, dmax, beta, acc.d),
        "n": acc.n, "d": acc.d, "n_shards": len(shards), "n_ranks": size,
        **spectrum_entry(raw, k_min, k_max),
        "standardized": {**spectrum_entry(eigenvalues_desc(corr), k_min, k_max), "d": int(keep.sum()),
                         "constant_features": np.flatnonzero(~keep).tolist()},
    }


def _dataset_name(dataset: Path) -> str:
    try:
        return json.loads((dataset / MANIFEST).read_text())["dataset"]
    except (OSError, ValueError, KeyError):
        return dataset.name


def _feature_options(features: str, dmax: int, beta: float, d: int) -> dict:
    if features == "efp":
        return {"dmax": dmax, "beta": float(beta), "measure": MEASURE, "normed": NORMED, "angle": ANGLE}
    return {"max_constituents": d // 4, "layout": "feature 4*i + j = (pT, eta, phi, E)[j] of particle i"}


def save_spectrum(result: dict, out_dir: str | Path) -> list[Path]:
    """Write ``spectrum.json`` (atomically) and ``spectrum.npz``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    npz = out_dir / "spectrum.npz"
    with atomic_output(npz) as tmp, open(tmp, "wb") as handle:  # a file object: savez adds no suffix
        np.savez(handle, eigenvalues=np.asarray(result["eigenvalues"]),
                 standardized_eigenvalues=np.asarray(result["standardized"]["eigenvalues"]))
    return [write_json_atomic(out_dir / "spectrum.json", result), npz]


# --------------------------------------------------------------------------- CLI


def cmd_spectrum(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    comm = current_ranks().comm
    try:
        result = dataset_spectrum(args.dataset, args.features, args.dmax, args.beta, args.k_min, args.k_max,
                                  comm=comm, n_jobs=args.jobs)
    except (ValueError, OSError) as err:
        if comm is not None and comm.size > 1:  # the other ranks may be waiting in a collective
            print(f"jetscale spectrum: rank {comm.rank}: error: {err}", file=sys.stderr, flush=True)
            comm.Abort(2)
        raise
    if comm is None or comm.rank == 0:
        from jetscale.plots.spectrum import spectrum_figure

        paths = save_spectrum(result, args.out_dir) + spectrum_figure(result, args.out_dir)
        fit = result["fit"]
        print(f"{result['features']} spectrum of {result['n']} jets, d = {result['d']}, {result['n_ranks']} rank(s): "
              f"alpha = {fit['alpha']:.3f} [{fit['ci95'][0]:.3f}, {fit['ci95'][1]:.3f}] over k in {fit['k_range']}")
        for path in paths:
            print(f"wrote {path}")
    return 0


def register(subparsers) -> None:
    """Add ``jetscale spectrum --dataset DIR --features {efp,constituents} --out-dir DIR [...]``."""
    p = subparsers.add_parser("spectrum", help="data-covariance eigen-spectrum and its power-law exponent "
                                               "(runs on all ranks under mpiexec)")
    p.add_argument("--dataset", required=True, help="dataset directory of shard-<i>.h5 files")
    p.add_argument("--features", required=True, choices=FEATURES)
    p.add_argument("--dmax", type=int, default=5, help="maximum EFP degree (efp features; default 5)")
    p.add_argument("--beta", type=float, default=1.0, help="EFP angular exponent (efp features; default 1)")
    p.add_argument("--k-min", type=int, default=K_MIN, help=f"first rank of the fit (default {K_MIN})")
    p.add_argument("--k-max", type=int, default=None,
                   help="last rank of the fit (default: min(d // 2, last rank above the noise floor))")
    p.add_argument("--jobs", type=int, default=1, help="energyflow worker processes per rank (default 1)")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_spectrum)


def main(argv: list[str] | None = None) -> int:
    """``python -m jetscale.features.spectrum ARGS`` = ``jetscale spectrum ARGS``."""
    parser = argparse.ArgumentParser(prog="python -m jetscale.features.spectrum")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["spectrum", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"spectrum: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
