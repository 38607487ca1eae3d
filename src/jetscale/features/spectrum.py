"""The data-covariance eigen-spectrum of a jet dataset, streamed from its shards.

``jetscale spectrum`` streams a dataset's shards through a
:class:`~jetscale.features.covariance.CovarianceAccumulator` (O(d^2) memory), combines the ranks under
``mpiexec`` (rank r of K takes shards r, r + K, ...; only rank 0 writes), fits the eigenvalues' power law and
the label projection (:mod:`jetscale.fit.spectrum`) and writes ``spectrum.json`` and ``spectrum.npz`` in
``--out-dir``; ``jetscale spectrum-figure`` draws them. The schema and the choices behind it (features,
standardization, fits): docs/spectrum.md. ``python -m jetscale.features.spectrum`` runs the same command.
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
from jetscale.data.shards import CLASS_NAMES, MANIFEST, ShardError, read_shard, shard_paths
from jetscale.features.covariance import (
    CENTRINGS, CovarianceAccumulator, allreduce, constant_features, eigh_desc, moment_matrix, scaled_moment,
    split_target, standardized_target,
)
from jetscale.features.efp import ANGLE, MEASURE, NORMED, iter_shard_efps
from jetscale.fit.spectrum import K_MIN, fit_spectrum_exponent, label_projection, noise_floor
from jetscale.results import write_json_atomic
from jetscale.subcommand import run_alone

log = logging.getLogger(__name__)

FEATURES = ("efp", "constituents")
CLASSES = ("pooled", "per-class")
"""``pooled``: one spectrum of all jets; ``per-class``: also one per class of :data:`CLASS_NAMES` (0 QCD, 1 top)."""
SCALES = ("both", "raw", "standardised")
"""Spectra of the raw features, of the standardized ones (x_j / std_j, constant features dropped), or both."""
CHUNK = 10_000
"""Jets per block when streaming a shard into the accumulator."""
# --------------------------------------------------------------------------- streaming


def shard_features(shard: Path, features: str, dmax: int = 5, beta: float = 1.0, chunk: int = CHUNK,
                   n_jobs: int = 1) -> Iterator[np.ndarray]:
    """Feature rows [m, d] of one shard, in blocks of at most ``chunk`` jets (docs/spectrum.md)."""
    if features == "efp":
        yield from iter_shard_efps(shard, dmax, beta, chunk=chunk, n_jobs=n_jobs)
    elif features == "constituents":
        n = len(read_shard(shard, fields=("label",))["label"])
        for lo in range(0, n, chunk):
            block = read_shard(shard, lo, lo + chunk, fields=("constituents",))["constituents"]
            yield block.reshape(len(block), -1)
    else:
        raise ValueError(f"unknown features {features!r}; choose from {list(FEATURES)}")


def accumulate(shards: list[Path], features: str, **options) -> dict[int, CovarianceAccumulator]:
    """Accumulators of rows [x, y] (the shard's label y as a last column), one per label value of
    :data:`CLASS_NAMES`, over all rows of ``shards``; ``options`` go to :func:`shard_features`. Merge them for the
    pooled accumulator; split rows with :func:`~jetscale.features.covariance.split_target`."""
    accs = {label: CovarianceAccumulator() for label in CLASS_NAMES}
    for shard in shards:
        shard = Path(shard)
        y = read_shard(shard, fields=("label",))["label"].astype(np.float64)
        unknown = sorted(set(np.unique(y).tolist()) - set(CLASS_NAMES))
        if unknown:
            raise ShardError(f"{shard}: labels {unknown} are not classes {CLASS_NAMES}")
        start = 0
        for block in shard_features(shard, features, **options):
            labels = y[start:start + len(block)]
            rows = np.column_stack([block, labels])
            start += len(block)
            try:
                for label, acc in accs.items():
                    acc.update(rows[labels == label])
            except ValueError as err:
                raise ShardError(f"{shard}: {err}") from err
        log.info("%s: %d jets accumulated so far", shard.name, sum(acc.n for acc in accs.values()))
    return accs


def spectrum_entry(matrix: np.ndarray, k_min: int, k_max: int | None, cross: np.ndarray | None = None,
                   label_variance: float = 0.0, n: int = 0) -> dict:
    """``eigenvalues``, ``noise_floor``, ``fit`` and ``label_projection`` (None without ``cross``) of one matrix."""
    lam, vectors = eigh_desc(matrix)
    entry = {"eigenvalues": lam.tolist(), "noise_floor": noise_floor(lam),
             "fit": fit_spectrum_exponent(lam, k_min, k_max), "label_projection": None}
    if cross is not None:
        try:
            entry["label_projection"] = label_projection(lam, vectors.T @ cross, label_variance, n, entry["fit"])
        except ValueError as err:  # e.g. too few modes above the noise floor for the tail-sum fit
            log.warning("no label projection: %s", err)
    return entry


def check_convention(centring: str, classes: str, scale: str) -> None:
    """Refuse an unknown ``centring``, ``classes`` or ``scale``, naming the option and its choices."""
    for option, value, choices in (("centring", centring, CENTRINGS), ("classes", classes, CLASSES),
                                   ("scale", scale, SCALES)):
        if value not in choices:
            raise ValueError(f"unknown {option} {value!r}; choose from {list(choices)}")


def moment_spectra(joint: CovarianceAccumulator, convention: dict, k_min: int = K_MIN,
                   k_max: int | None = None) -> dict:
    """The spectra of one accumulator of rows [x, y] in ``convention`` (``centring``, ``scale``, ...; docs/spectrum.md
    #conventions): the raw entry's keys at the top and the standardized one under ``standardized``, as ``scale``
    asks, each with its ``convention``. The label projection needs ``covariance`` and a varying label."""
    centring, scale = convention["centring"], convention["scale"]
    moments = standardized_target(joint)
    features, label_variance = moments.features, moments.label_variance
    projected = centring == "covariance" and label_variance > 0
    group = {"n": features.n}
    if scale != "standardised":
        matrix, cross, dropped = moment_matrix(features, centring), moments.cross, []
        if centring == "second-moment":  # a constant (the d = 0 EFP) would dominate it: dropped, as by B&K
            keep = ~constant_features(features)
            matrix, dropped = matrix[np.ix_(keep, keep)], np.flatnonzero(~keep).tolist()
        group |= {**spectrum_entry(matrix, k_min, k_max, cross if projected else None, label_variance, features.n),
                  "convention": {**convention, "scale": "raw"}}
        if centring == "second-moment":
            group["constant_features"] = dropped
    if scale != "raw":
        matrix = moments.corr if centring == "covariance" else scaled_moment(features, centring)[0]
        group["standardized"] = {
            **spectrum_entry(matrix, k_min, k_max, moments.scaled_cross if projected else None, label_variance,
                             features.n),
            "d": int(moments.keep.sum()), "constant_features": np.flatnonzero(~moments.keep).tolist(),
            "convention": {**convention, "scale": "standardised"}}
    return group


def dataset_spectrum(dataset: str | Path, features: str = "efp", dmax: int = 5, beta: float = 1.0,
                     k_min: int = K_MIN, k_max: int | None = None, comm=None, n_jobs: int = 1,
                     chunk: int = CHUNK, centring: str = "covariance", classes: str = "pooled",
                     scale: str = "both") -> dict:
    """The ``spectrum.json`` payload of a dataset directory (docs/spectrum.md); same on every rank.

    ``centring``, ``classes``, ``scale``: the convention (:func:`check_convention`, docs/spectrum.md#conventions);
    the pooled spectra are always at the top, ``per-class`` adds ``classes: {class name: spectra}``.
    ``comm``: an mpi4py communicator, or None for :func:`jetscale.parallel.current_ranks` (one process unless
    launched by ``mpiexec``). Rank r accumulates shards r, r + size, ...
    """
    if features not in FEATURES:
        raise ValueError(f"unknown features {features!r}; choose from {list(FEATURES)}")
    check_convention(centring, classes, scale)
    dataset = Path(dataset)
    if not dataset.is_dir():
        raise ShardError(f"{dataset}: no such dataset directory")
    shards = shard_paths(dataset)
    if not shards:
        raise ShardError(f"{dataset}: no shard-<i>.h5 files")
    ranks = current_ranks() if comm is None else Ranks(comm.rank, comm.size, comm)
    comm, size = ranks.comm, ranks.size
    options = {"dmax": dmax, "beta": beta, "chunk": chunk, "n_jobs": n_jobs} if features == "efp" else {"chunk": chunk}
    by_label = accumulate(ranks.share(shards), features, **options)
    if comm is not None:
        by_label = {label: allreduce(acc, comm) for label, acc in by_label.items()}
    joint = CovarianceAccumulator()
    for acc in by_label.values():
        joint = joint.merge(acc)
    convention = {"dmax": dmax if features == "efp" else None, "centring": centring, "classes": classes,
                  "scale": scale}
    if split_target(joint)[2] == 0:
        log.info("every jet has the same label: no label projection in the spectrum")
    result = {
        "source": str(dataset), "dataset": _dataset_name(dataset), "features": features,
        "feature_options": _feature_options(features, dmax, beta, joint.d - 1),
        "n": joint.n, "d": joint.d - 1, "n_shards": len(shards), "n_ranks": size, "options": convention,
        **moment_spectra(joint, {**convention, "classes": "pooled"}, k_min, k_max),
    }
    if classes == "per-class":
        result["classes"] = {}
        for label, acc in by_label.items():
            name = CLASS_NAMES[label]
            if acc.n == 0:
                log.warning("no %s jets (label %d): no %s spectrum", name, label, name)
                continue
            try:
                spectra = moment_spectra(acc, {**convention, "classes": name}, k_min, k_max)
            except ValueError as err:  # e.g. a class of one jet
                raise ValueError(f"{dataset}: the {name} jets' spectrum: {err}") from err
            result["classes"][name] = {"label": label, **spectra}
    return result


def _dataset_name(dataset: Path) -> str:
    try:
        return json.loads((dataset / MANIFEST).read_text())["dataset"]
    except (OSError, ValueError, KeyError):
        return dataset.name


def _feature_options(features: str, dmax: int, beta: float, d: int) -> dict:
    if features == "efp":
        return {"dmax": dmax, "beta": float(beta), "measure": MEASURE, "normed": NORMED, "angle": ANGLE}
    return {"max_constituents": d // 4, "layout": "feature 4*i + j = (pT, eta, phi, E)[j] of particle i"}


def write_spectrum_files(result: dict, arrays: dict[str, np.ndarray], out_dir: str | Path) -> list[Path]:
    """Write ``arrays`` to ``spectrum.npz`` and ``result`` to ``spectrum.json`` in ``out_dir``, each atomically;
    return their paths (json first)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    npz = out_dir / "spectrum.npz"
    with atomic_output(npz) as tmp, open(tmp, "wb") as handle:  # a file object: savez adds no suffix
        np.savez(handle, **arrays)
    return [write_json_atomic(out_dir / "spectrum.json", result), npz]


def spectrum_groups(result: dict) -> list[tuple[str, dict]]:
    """(name, spectra) of the pooled spectra (``pooled``) and of each class in a ``spectrum.json`` payload."""
    return [("pooled", result), *result.get("classes", {}).items()]


def save_spectrum(result: dict, out_dir: str | Path) -> list[Path]:
    """Write ``spectrum.json`` (atomically) and ``spectrum.npz``; return their paths."""
    arrays = {}
    for group_name, group in spectrum_groups(result):
        group_prefix = "" if group_name == "pooled" else f"{group_name}_"
        for prefix, entry in (("", group), ("standardized_", group.get("standardized"))):
            if entry is None or "eigenvalues" not in entry:
                continue
            arrays[f"{group_prefix}{prefix}eigenvalues"] = np.asarray(entry["eigenvalues"])
            if entry.get("label_projection"):
                arrays[f"{group_prefix}{prefix}target_power"] = np.asarray(entry["label_projection"]["target_power"])
    return write_spectrum_files(result, arrays, out_dir)


# --------------------------------------------------------------------------- CLI


def cmd_spectrum(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    comm = current_ranks().comm
    try:
        result = dataset_spectrum(args.dataset, args.features, args.dmax, args.beta, args.k_min, args.k_max,
                                  comm=comm, n_jobs=args.jobs, centring=args.centring, classes=args.classes,
                                  scale=args.scale)
    except (ValueError, OSError) as err:
        if comm is not None and comm.size > 1:  # the other ranks may be waiting in a collective
            print(f"jetscale spectrum: rank {comm.rank}: error: {err}", file=sys.stderr, flush=True)
            comm.Abort(2)
        raise
    if comm is None or comm.rank == 0:
        paths = save_spectrum(result, args.out_dir)
        print(f"{result['features']} spectra of {result['n']} jets, d = {result['d']}, {result['n_ranks']} rank(s), "
              f"{result['options']['centring']}:")
        for group_name, group in spectrum_groups(result):
            for entry in (group, group.get("standardized")):
                if entry is None or "eigenvalues" not in entry:
                    continue
                fit, projection = entry["fit"], entry["label_projection"]
                print(f"  {group_name}, {entry['convention']['scale']}: alpha = {fit['alpha']:.3f} "
                      f"[{fit['ci95'][0]:.3f}, {fit['ci95'][1]:.3f}] over k in {fit['k_range']}")
                if projection and projection["r"] is not None:
                    lo, hi = projection["r_ci95"]
                    print(f"    label projection: 2 alpha r = {projection['fit']['exponent']:.3f}, "
                          f"r = {projection['r']:.3f} [{lo if lo is None else round(lo, 3)}, "
                          f"{hi if hi is None else round(hi, 3)}]")
        for path in paths:
            print(f"wrote {path}")
    return 0


def register(subparsers) -> None:
    """Add ``jetscale spectrum --dataset DIR --features {efp,constituents} --out-dir DIR [--centring ...]
    [--classes ...] [--scale ...] [...]``."""
    p = subparsers.add_parser("spectrum", help="data-covariance eigen-spectrum and its power-law exponent "
                                               "(runs on all ranks under mpiexec)")
    p.add_argument("--dataset", required=True, help="dataset directory of shard-<i>.h5 files")
    p.add_argument("--features", required=True, choices=FEATURES)
    p.add_argument("--dmax", type=int, default=5, help="maximum EFP degree, 1..7 (efp features; default 5)")
    p.add_argument("--centring", choices=CENTRINGS, default="covariance",
                   help="covariance (centred, the default) or second-moment: (1/n) sum x x^T, Batson & Kahn's")
    p.add_argument("--classes", choices=CLASSES, default="pooled",
                   help="pooled (default) or per-class: also one spectrum per class (QCD, top)")
    p.add_argument("--scale", choices=SCALES, default="both",
                   help="spectra of the raw features, the standardized ones (x / std), or both (default)")
    p.add_argument("--beta", type=float, default=1.0, help="EFP angular exponent (efp features; default 1)")
    p.add_argument("--k-min", type=int, default=K_MIN, help=f"first rank of the fit (default {K_MIN})")
    p.add_argument("--k-max", type=int, default=None,
                   help="last rank of the fit (default: min(d // 2, last rank above the noise floor))")
    p.add_argument("--jobs", type=int, default=1, help="energyflow worker processes per rank (default 1)")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_spectrum)


def main(argv: list[str] | None = None) -> int:
    """``python -m jetscale.features.spectrum ARGS`` = ``jetscale spectrum ARGS``."""
    return run_alone("spectrum", register, argv)


if __name__ == "__main__":
    sys.exit(main())
