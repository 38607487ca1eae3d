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
       "label_projection": {...} | null,   # below; null (logged) when every jet has one label
                                           # or the tail-sum fit has too few modes
       "standardized": {"eigenvalues": [...], "noise_floor", "fit": {...}, "d": kept features,
                        "constant_features": [indices dropped], "label_projection": {...} | null}}

  ``label_projection`` (:func:`label_projection`)::

      {"target_power": [t_1, ..., t_K],     # t_k = (v_k . c)^2 / lambda_k, ranks above the noise floor
       "label_variance": Var(y), "explained_variance": sum_k t_k,
       "noise_level": (Var(y) - sum_k t_k) / n,   # expected spurious t_k from n finite jets
       "noise_dominated_from": first fitted rank whose tail sum is < 3x its noise, or null,
       "fit": {"exponent": 2 alpha r, "ci95", "amplitude", "k_range", "n_modes": K, "n_boot",
               "method"},                  # tail-sum fit, below
       "direct_fit": {"exponent": 1 + 2 alpha r, "ci95", "amplitude", "k_range", "n_points",
                      "stderr", "method"},  # plain log-log fit of t_k, for comparison
       "alpha": the alpha of this entry's eigenvalue fit, "r": exponent / (2 alpha), "r_ci95": [lo, hi]}

* ``spectrum.npz`` (``eigenvalues``, ``standardized_eigenvalues``, and ``target_power``,
  ``standardized_target_power`` when labels vary) and
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
* Label projection. The same pass accumulates the cross-covariance c = Cov(x, y) of the
  features with the label y (1 top, 0 QCD; :func:`~jetscale.features.covariance.split_target`).
  With eigenpairs (lambda_k, v_k) of the covariance, t_k = (v_k . c)^2 / lambda_k is the label's
  power in mode k -- lambda_k wbar_k^2 for the population least-squares weights
  wbar = Sigma^-1 c, the toy model's teacher power k^-(1 + 2 alpha r)
  (:mod:`jetscale.theory.spectrum`) -- so sum_k t_k is the variance that the best linear
  function of x explains. It is computed for the raw covariance and for the standardized
  features (c_j / std_j against the correlation matrix). Toy-model predictions
  (:mod:`jetscale.paper.spectrum_theory`) use the *standardized* entry: the linear EFP tagger
  standardizes its inputs, and ridge/gradient training is not invariant under rescaling
  features, so the spectrum that such a learner sees is that of the correlation matrix.
* Label-projection fit (:func:`fit_target_power`). Single t_k scatter by orders of magnitude
  (one projection each, and nearly degenerate modes mix), so the fit is to the tail sums
  S_k = sum_{j >= k} t_j, which average many modes and are invariant under mixing among the
  modes they contain: S_k ~ k^-(2 alpha r). The sum stops at the last mode K above the
  noise floor, which bends S_k down near K, so the model is the truncated sum
  S_k = A sum_{j=k}^{K} j^-(1 + s) (not a straight line), fitted by least squares in log S_k
  over the eigenvalue fit's rank range, s = 2 alpha r. ``ci95`` of s is a residual bootstrap
  (``N_BOOT`` resamples, seed 0): the log residuals of t_k about the fitted power law, resampled
  over the modes k_min..K, give new t_k and tail sums that are refitted. r = s / (2 alpha) with
  alpha from this entry's eigenvalue fit; ``r_ci95`` propagates both by sampling (s from the
  bootstrap, alpha from its t-distribution). The least-squares t_k of n jets carry spurious
  power ~ ``noise_level`` each; ``noise_dominated_from`` flags a fit range that reaches it.

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
from jetscale.features.covariance import CovarianceAccumulator, allreduce, eigh_desc, standardized_target
from jetscale.features.efp import ANGLE, MEASURE, NORMED, iter_shard_efps
from jetscale.results import write_json_atomic
from jetscale.subcommand import run_alone

log = logging.getLogger(__name__)

FEATURES = ("efp", "constituents")
NOISE_RTOL = 1e-12
"""Eigenvalues <= lambda_1 * NOISE_RTOL are numerical noise (float64 eigvalsh errors are
~ d * 2.2e-16 * lambda_1) and never enter the default fit range."""
K_MIN = 2
N_BOOT = 200
"""Residual-bootstrap resamples of the label-projection fit."""
TAIL_EXPONENT_BOUNDS = (-0.95, 12.0)
"""Search interval of the tail-sum exponent s = 2 alpha r."""
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
    ols = loglog_fit(k, values)
    return {"alpha": -ols["slope"], "ci95": [-ols["slope"] - ols["half"], -ols["slope"] + ols["half"]],
            "amplitude": ols["amplitude"], "k_range": [k_min, k_max], "n_points": int(k.size),
            "stderr": ols["stderr"],
            "method": "least squares of log(lambda_k) on log(k); t-interval from the residual standard error"}


def loglog_fit(k: np.ndarray, values: np.ndarray) -> dict:
    """Least squares of log(values) on log(k): ``{"slope", "amplitude", "stderr", "dof", "half"}``,
    ``half`` the half-width of the 95 % t-interval of the slope from the residual standard error."""
    x, y = np.log(np.asarray(k, dtype=float)), np.log(np.asarray(values, dtype=float))
    slope, intercept = np.polyfit(x, y, 1)
    dof = x.size - 2
    residual = y - (intercept + slope * x)
    stderr = float(np.sqrt(residual @ residual / dof / np.sum((x - x.mean()) ** 2)))
    from scipy import stats  # here, not at import: every `jetscale` command registers this module

    return {"slope": float(slope), "amplitude": float(np.exp(intercept)), "stderr": stderr, "dof": int(dof),
            "half": float(stats.t.ppf(0.975, dof)) * stderr}


# --------------------------------------------------------------------------- label projection


def target_power(eigenvalues: np.ndarray, projections: np.ndarray) -> np.ndarray:
    """t_k = projections_k^2 / lambda_k for the ranks above the :func:`noise_floor` (module docstring).

    ``projections`` [d]: v_k . c, the label cross-covariance on the eigenvectors (same order as
    the descending ``eigenvalues``). Returns the K leading t_k, K = ranks above the floor.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    proj = np.asarray(projections, dtype=float)
    if lam.shape != proj.shape:
        raise ValueError(f"eigenvalues {lam.shape} and projections {proj.shape} differ in shape")
    n_modes = int(np.count_nonzero(lam > noise_floor(lam))) if lam.size and lam[0] > 0 else 0
    return proj[:n_modes] ** 2 / lam[:n_modes]


def tail_sums(values: np.ndarray) -> np.ndarray:
    """S_k = sum_{j >= k} values_j (k = 1..K)."""
    return np.cumsum(np.asarray(values, dtype=float)[::-1])[::-1]


def _tail_exponent(t: np.ndarray, k_min: int, k_max: int) -> tuple[float, float]:
    """(s, A) minimising sum_k [log S_k - log(A sum_{j=k}^K j^-(1+s))]^2 over k in [k_min, k_max]."""
    from scipy.optimize import minimize_scalar

    ranks = np.arange(1, t.size + 1, dtype=float)
    log_s = np.log(tail_sums(t)[k_min - 1:k_max])

    def profile(s: float) -> tuple[float, float]:
        residual = log_s - np.log(tail_sums(ranks ** -(1.0 + s))[k_min - 1:k_max])
        log_a = residual.mean()
        return float(np.sum((residual - log_a) ** 2)), float(log_a)

    grid = np.linspace(*TAIL_EXPONENT_BOUNDS, 150)
    best = int(np.argmin([profile(s)[0] for s in grid]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    s = float(minimize_scalar(lambda v: profile(v)[0], bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-7}).x)
    return s, float(np.exp(profile(s)[1]))


def fit_target_power(t, k_min: int = K_MIN, k_max: int | None = None, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Fit the tail sums of the target power t_k (ranks 1..K) to S_k = A sum_{j=k}^K j^-(1+s).

    ``k_max`` defaults to K // 2. Returns ``{"exponent": s (= 2 alpha r), "ci95", "amplitude": A,
    "k_range", "n_modes": K, "n_boot", "method"}`` and, as ``samples``, the bootstrap values of s
    (dropped before writing JSON). Module docstring: why tail sums, and the bootstrap.
    """
    t = np.asarray(t, dtype=float)
    k_max = t.size // 2 if k_max is None else min(int(k_max), t.size)
    if t.ndim != 1 or np.any(t < 0) or not np.all(np.isfinite(t)):
        raise ValueError("target power must be a 1-d array of finite values >= 0")
    if not 1 <= k_min < k_max or k_max - k_min + 1 < 3 or tail_sums(t)[k_max - 1] <= 0:
        raise ValueError(f"tail-sum fit over k in [{k_min}, {k_max}] needs at least 3 ranks of the {t.size} "
                         f"modes and a positive tail")
    s, amplitude = _tail_exponent(t, k_min, k_max)
    samples = [_tail_exponent(resampled, k_min, k_max)[0]
               for resampled in resample_target_power(t, k_min, k_max, s, amplitude, n_boot, seed)]
    ci = np.percentile(samples, [2.5, 97.5]).tolist() if samples else [None, None]
    return {"exponent": s, "ci95": ci, "amplitude": amplitude, "k_range": [k_min, k_max], "n_modes": int(t.size),
            "n_boot": len(samples), "samples": np.asarray(samples),
            "method": "least squares of log S_k, S_k = sum_{j>=k} t_j, on the truncated power-law sum "
                      "A sum_{j=k}^K j^-(1+s); residual bootstrap of log t_k over the modes"}


def resample_target_power(t, k_min: int, k_max: int, exponent: float, amplitude: float, n_boot: int,
                          seed: int = 0) -> Iterator[np.ndarray]:
    """``n_boot`` residual-bootstrap copies of t: modes k_min..K become A k^-(1+s) times a log residual of
    the fit range [k_min, k_max] drawn with replacement (module docstring); nothing when < 2 residuals."""
    t = np.asarray(t, dtype=float)
    ranks = np.arange(1, t.size + 1, dtype=float)
    model = amplitude * ranks ** -(1.0 + exponent)
    fitted = slice(k_min - 1, min(k_max, t.size))
    positive = t[fitted] > 0
    pool = np.log(t[fitted][positive] / model[fitted][positive])
    rng = np.random.default_rng(seed)
    for _ in range(n_boot if pool.size >= 2 else 0):
        resampled = t.copy()
        resampled[k_min - 1:] = model[k_min - 1:] * np.exp(rng.choice(pool, size=t.size - k_min + 1))
        yield resampled


def label_projection(eigenvalues: np.ndarray, projections: np.ndarray, label_variance: float, n: int,
                     eigen_fit: dict, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """The ``label_projection`` entry of ``spectrum.json`` (module docstring) from one spectrum's
    eigenvalues, the projections v_k . c of the label cross-covariance and its eigenvalue fit."""
    t = target_power(eigenvalues, projections)
    k_min, k_max = eigen_fit["k_range"]
    fit = fit_target_power(t, k_min, k_max, n_boot, seed)
    samples = fit.pop("samples")
    k = np.arange(k_min, fit["k_range"][1] + 1)
    direct = loglog_fit(k, np.clip(t[k - 1], np.finfo(float).tiny, None))
    explained = float(t.sum())
    noise = max(label_variance - explained, 0.0) / n
    tails = tail_sums(t)[k - 1]
    noisy = k[tails < 3.0 * noise * (t.size - k + 1)]
    alpha = float(eigen_fit["alpha"])
    r, r_ci = None, [None, None]
    if alpha > 0:
        r = fit["exponent"] / (2 * alpha)
        if samples.size:
            from scipy import stats

            rng = np.random.default_rng(seed)
            dof = max(eigen_fit["n_points"] - 2, 1)
            alphas = alpha + eigen_fit["stderr"] * stats.t.rvs(dof, size=samples.size, random_state=rng)
            ok = alphas > 0
            ratios = samples[ok] / (2 * alphas[ok])
            r_ci = np.percentile(ratios, [2.5, 97.5]).tolist()
    return {"target_power": t.tolist(), "label_variance": float(label_variance), "explained_variance": explained,
            "noise_level": noise, "noise_dominated_from": int(noisy[0]) if noisy.size else None,
            "fit": fit, "direct_fit": {"exponent": -direct["slope"],
                                       "ci95": [-direct["slope"] - direct["half"], -direct["slope"] + direct["half"]],
                                       "amplitude": direct["amplitude"], "k_range": fit["k_range"],
                                       "n_points": int(k.size), "stderr": direct["stderr"],
                                       "method": "least squares of log(t_k) on log(k); t-interval"},
            "alpha": alpha, "r": r, "r_ci95": r_ci}


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


def accumulate(shards: list[Path], features: str, labels: bool = False, **options) -> CovarianceAccumulator:
    """One accumulator over all rows of ``shards``; ``options`` go to :func:`shard_features`.

    ``labels``: accumulate rows [x, y] with the shard's label y as a last column (split them with
    :func:`~jetscale.features.covariance.split_target`).
    """
    acc = CovarianceAccumulator()
    for shard in shards:
        shard = Path(shard)
        y = read_shard(shard, fields=("label",))["label"].astype(np.float64) if labels else None
        start = 0
        for block in shard_features(shard, features, **options):
            rows = block if y is None else np.column_stack([block, y[start:start + len(block)]])
            start += len(block)
            try:
                acc.update(rows)
            except ValueError as err:
                raise ShardError(f"{shard}: {err}") from err
        log.info("%s: %d jets accumulated so far", shard.name, acc.n)
    return acc


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
    joint = accumulate(ranks.share(shards), features, labels=True, **options)
    if comm is not None:
        joint = allreduce(joint, comm)
    moments = standardized_target(joint)
    acc, keep, projected = moments.features, moments.keep, moments.label_variance > 0
    if not projected:
        log.info("every jet has the same label: no label projection in the spectrum")
    return {
        "source": str(dataset), "dataset": _dataset_name(dataset), "features": features,
        "feature_options": _feature_options(features, dmax, beta, acc.d),
        "n": acc.n, "d": acc.d, "n_shards": len(shards), "n_ranks": size,
        **spectrum_entry(acc.covariance(), k_min, k_max, moments.cross if projected else None,
                         moments.label_variance, acc.n),
        "standardized": {**spectrum_entry(moments.corr, k_min, k_max, moments.scaled_cross if projected else None,
                                          moments.label_variance, acc.n),
                         "d": int(keep.sum()), "constant_features": np.flatnonzero(~keep).tolist()},
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


def write_spectrum_files(result: dict, arrays: dict[str, np.ndarray], out_dir: str | Path) -> list[Path]:
    """Write ``arrays`` to ``spectrum.npz`` and ``result`` to ``spectrum.json`` in ``out_dir``, each atomically;
    return their paths (json first)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    npz = out_dir / "spectrum.npz"
    with atomic_output(npz) as tmp, open(tmp, "wb") as handle:  # a file object: savez adds no suffix
        np.savez(handle, **arrays)
    return [write_json_atomic(out_dir / "spectrum.json", result), npz]


def save_spectrum(result: dict, out_dir: str | Path) -> list[Path]:
    """Write ``spectrum.json`` (atomically) and ``spectrum.npz``; return their paths."""
    arrays = {"eigenvalues": np.asarray(result["eigenvalues"]),
              "standardized_eigenvalues": np.asarray(result["standardized"]["eigenvalues"])}
    for prefix, entry in (("", result), ("standardized_", result["standardized"])):
        if entry.get("label_projection"):
            arrays[f"{prefix}target_power"] = np.asarray(entry["label_projection"]["target_power"])
    return write_spectrum_files(result, arrays, out_dir)


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
        for name, entry in (("raw", result), ("standardized", result["standardized"])):
            projection = entry["label_projection"]
            if projection and projection["r"] is not None:
                lo, hi = projection["r_ci95"]
                print(f"label projection ({name}): 2 alpha r = {projection['fit']['exponent']:.3f}, "
                      f"r = {projection['r']:.3f} [{lo if lo is None else round(lo, 3)}, "
                      f"{hi if hi is None else round(hi, 3)}]")
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
    return run_alone("spectrum", register, argv)


if __name__ == "__main__":
    sys.exit(main())
