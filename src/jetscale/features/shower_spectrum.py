"""EFP covariance spectra of parton-shower snapshots per branching depth k, raw and RAMBO-whitened.

``jetscale shower-spectrum --snapshots FILE --out-dir DIR [--k 1,2,...]``: for each group ``k`` of a
snapshot file, the standardized spectrum of its e+e- EFPs (as :func:`jetscale.features.spectrum.spectrum_entry`)
and the spectrum whitened by RAMBO events of the same multiplicity and sqrt s (:func:`whiten`, in one of the
:data:`WHITENINGS` conventions, ``--whitening jetscale|jsl``), each with its power-law fit and the target's
(thrust's) label projection, into ``spectrum.json`` and ``spectrum.npz``.
Method and schema: docs/spectrum.md#parton-shower-spectra.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from jetscale.features.covariance import CovarianceAccumulator, constant_features, eigh_desc, standardized_target
from jetscale.features.spectrum import spectrum_entry, write_spectrum_files
from jetscale.fit.spectrum import K_MIN, NOISE_RTOL, default_k_max, noise_floor
from jetscale.subcommand import run_alone

log = logging.getLogger(__name__)

WHITEN_RTOL = NOISE_RTOL
"""Directions of C_R with eigenvalue <= lambda_1(C_R) * WHITEN_RTOL are dropped before whitening."""
DEFAULT_RAMBO_EVENTS = 20_000
"""Up to this many k the figure has legends (with the exponents); beyond, a colour bar of k."""
MIN_EVENTS = 100
"""Groups with fewer events are skipped (a covariance of ~100 EFPs needs more rows than that)."""
MIN_FIT_POINTS = 5
"""A power-law fit over fewer ranks is refused (``fit: null`` with the reason): docs/spectrum.md#fit-range."""


@dataclass(frozen=True)
class Whitening:
    """How the RAMBO metric C_R is formed and cut (docs/spectrum.md#whitening-conventions)."""

    name: str
    rtol: float
    """Directions of C_R with eigenvalue <= mu_1 * rtol are dropped."""
    standardize: bool
    """True: C_R and C_S in RAMBO-standardized units over the features that vary in both samples;
    False: raw EFP units, every feature."""
    ddof: int
    """Covariance normalisation 1 / (n - ddof)."""
    source: str


WHITENINGS = {
    "jetscale": Whitening("jetscale", WHITEN_RTOL, True, 1, "jetscale: RAMBO-standardized sample covariance"),
    "jsl": Whitening("jsl", 1e-10, False, 0, "ykahn/Jet-Scaling-Laws ItayCode/analyze_splitting_efps.py and "
                     "AmiraliCode/UniformSpectraWhitened3579.ipynb: raw centred covariance (1/n), rcond 1e-10"),
}
"""The whitening conventions of ``--whitening``; ``jsl`` reproduces JSL's printed kept ranks."""


def whitening_convention(name: str) -> Whitening:
    """The :class:`Whitening` called ``name``; ValueError naming it and the choices."""
    if name not in WHITENINGS:
        raise ValueError(f"whitening {name!r} is not one of {list(WHITENINGS)}")
    return WHITENINGS[name]


# --------------------------------------------------------------------------- pure spectra


def whiten(c_s: np.ndarray, c_r: np.ndarray, rtol: float = WHITEN_RTOL) -> tuple[np.ndarray, np.ndarray]:
    """(M, W): M = W C_S W^T [r, r] and W = diag(mu)^(-1/2) U^T [r, d] over the r eigenpairs (mu, U) of C_R
    with mu > mu_1 * rtol. The eigenvalues of M are the generalised eigenvalues of (C_S, C_R) on that
    subspace (docs/spectrum.md#whitening-by-rambo)."""
    c_s, c_r = np.asarray(c_s, dtype=np.float64), np.asarray(c_r, dtype=np.float64)
    if c_s.ndim != 2 or c_s.shape != c_r.shape or c_s.shape[0] != c_s.shape[1]:
        raise ValueError(f"C_S and C_R must be square matrices of one shape, got {c_s.shape}, {c_r.shape}")
    mu, vectors = eigh_desc(c_r)
    if mu.size == 0 or mu[0] <= 0:
        raise ValueError("C_R has no positive eigenvalue: nothing to whiten against")
    kept = mu > mu[0] * rtol
    transform = vectors[:, kept].T / np.sqrt(mu[kept])[:, None]
    return transform @ c_s @ transform.T, transform


def whitened_eigenvalues(c_s: np.ndarray, c_r: np.ndarray, rtol: float = WHITEN_RTOL) -> np.ndarray:
    """Generalised eigenvalues of (C_S, C_R) on C_R's well-conditioned subspace, descending."""
    return eigh_desc(whiten(c_s, c_r, rtol)[0])[0]


def safe_entry(matrix: np.ndarray, k_min: int, k_max: int | None, cross: np.ndarray | None,
               label_variance: float, n: int, name: str) -> dict:
    """:func:`~jetscale.features.spectrum.spectrum_entry`, or the eigenvalues with ``fit: null`` and
    ``fit_refused`` (the reason, logged) when the range has fewer than :data:`MIN_FIT_POINTS` ranks or no fit."""
    lam = eigh_desc(matrix)[0]
    last = default_k_max(lam) if k_max is None else int(k_max)
    try:
        if last - k_min + 1 < MIN_FIT_POINTS:
            raise ValueError(f"ranks [{k_min}, {last}] are {max(last - k_min + 1, 0)} points, fewer than "
                             f"{MIN_FIT_POINTS} (default last rank: min(d // 2, last above the noise floor), d = "
                             f"{lam.size})")
        return {**spectrum_entry(matrix, k_min, k_max, cross, label_variance, n), "fit_refused": None}
    except ValueError as err:
        log.warning("%s: no power-law fit (%s)", name, err)
        return {"eigenvalues": lam.tolist(), "noise_floor": noise_floor(lam), "fit": None, "label_projection": None,
                "fit_refused": str(err)}


def shower_spectrum(efp: np.ndarray, target: np.ndarray, rambo_efp: np.ndarray | None = None,
                    k_min: int = K_MIN, k_max: int | None = None, whiten_rtol: float | None = None,
                    name: str = "shower", whitening: str = "jetscale") -> dict:
    """``{"n", "d", "standardized", "whitened"}`` of one group (docs/spectrum.md#shower-spectrum-files); pure.

    ``efp`` [n, d] and ``target`` [n] of the shower events; ``rambo_efp`` [m, d] of phase-space events
    (None: no whitened entry); ``whitening``: a name of :data:`WHITENINGS`, whose cut ``whiten_rtol``
    overrides when given.
    """
    convention = whitening_convention(whitening)
    rtol = convention.rtol if whiten_rtol is None else float(whiten_rtol)
    efp, target = np.asarray(efp, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if efp.ndim != 2 or target.shape != efp.shape[:1]:
        raise ValueError(f"efp must be [n, d] and target [n], got {efp.shape}, {target.shape}")
    moments = standardized_target(CovarianceAccumulator.from_batch(np.column_stack([efp, target])))
    acc, keep, label_variance = moments.features, moments.keep, moments.label_variance
    if label_variance <= 0:
        log.info("%s: the target is constant: no label projection", name)
    cross, scaled_cross = (moments.cross, moments.scaled_cross) if label_variance > 0 else (None, None)
    standardized = {**safe_entry(moments.corr, k_min, k_max, scaled_cross, label_variance, acc.n,
                                 f"{name} standardized"),
                    "d": int(keep.sum()), "constant_features": np.flatnonzero(~keep).tolist()}
    result = {"n": acc.n, "d": acc.d, "standardized": standardized, "whitened": None}
    if rambo_efp is None:
        return result
    phase_space = CovarianceAccumulator.from_batch(rambo_efp)
    if phase_space.d != acc.d:
        raise ValueError(f"RAMBO EFPs have {phase_space.d} features, the shower's {acc.d}")
    ddof = convention.ddof
    both = keep & ~constant_features(phase_space) if convention.standardize else np.ones(acc.d, dtype=bool)
    scale = np.sqrt(np.diag(phase_space.covariance(ddof))[both]) if convention.standardize else np.ones(both.sum())
    c_r = phase_space.covariance(ddof)[np.ix_(both, both)] / np.outer(scale, scale)
    c_s = acc.covariance(ddof)[np.ix_(both, both)] / np.outer(scale, scale)
    matrix, transform = whiten(c_s, c_r, rtol)
    whitened_cross = None if cross is None else transform @ (cross[both] / scale) * ((acc.n - 1) / (acc.n - ddof))
    entry = safe_entry(matrix, k_min, k_max, whitened_cross, label_variance, acc.n, f"{name} whitened")
    negative = int(np.sum(np.asarray(entry["eigenvalues"]) < 0))
    if negative:  # C_S is positive semi-definite: only kept C_R directions at rounding level make these
        reason = (f"the whitened covariance has {negative} negative eigenvalues (largest {entry['eigenvalues'][0]:.3g}): "
                  f"directions of C_R at rounding level were kept ({convention.name}, whiten_rtol = {rtol:g}); "
                  f"use --whitening jsl or a larger --whiten-rtol")
        log.warning("%s whitened: %s", name, reason)
        entry.update(fit=None, label_projection=None, fit_refused=reason)
    result["whitened"] = {**entry, "negative_eigenvalues": negative,
                          "d": int(transform.shape[0]), "kept_rank": int(transform.shape[0]),
                          "dropped_directions": int(both.sum() - transform.shape[0]),
                          "constant_features": np.flatnonzero(~both).tolist(), "rambo_events": phase_space.n,
                          "whitening": convention.name, "whiten_rtol": rtol}
    return result


# --------------------------------------------------------------------------- file -> payload


def parse_ks(text: str | None, available: list[int]) -> list[int]:
    """``"1,2,5"`` or ``"1-4,8"`` -> [1, 2, 5]; None -> every available k; unknown k raise ValueError."""
    if text is None:
        return list(available)
    ks: list[int] = []
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            ks.extend(range(int(lo), int(hi) + 1) if dash else [int(lo)])
        except ValueError:
            raise ValueError(f"--k {text!r}: expected comma-separated integers or ranges like 1-4") from None
    missing = sorted(set(ks) - set(available))
    if missing:
        raise ValueError(f"--k {text!r}: k = {missing} not in the file (available: {available})")
    return sorted(set(ks))


def snapshot_spectra(snapshots: str | Path, ks: list[int] | None = None, dmax: int = 5, beta: float = 2.0,
                     target: str = "thrust", rambo_events: int = DEFAULT_RAMBO_EVENTS, rambo_seed: int = 0,
                     k_min: int = K_MIN, k_max: int | None = None, whiten_rtol: float | None = None,
                     whitening: str = "jetscale") -> dict:
    """The ``spectrum.json`` payload of a snapshot file (docs/spectrum.md#shower-spectrum-files); logs per k."""
    from jetscale.data.shower.snapshots import snapshot_info
    from jetscale.features.efp_ee import COORDS, KAPPA, MEASURE, NORMED, compute_ee_efps, snapshot_features
    from jetscale.physics.event_shapes import EVENT_SHAPES
    from jetscale.physics.rambo import rambo

    convention = whitening_convention(whitening)
    rtol = convention.rtol if whiten_rtol is None else float(whiten_rtol)
    info = snapshot_info(snapshots)
    if info["level"] == "hadron":  # one state per event: jetscale.features.hadron_spectrum
        from jetscale.features.hadron_spectrum import hadron_spectra

        if ks:
            raise ValueError(f"{snapshots}: a hadron-level file has no branching depths k; leave --k out")
        return hadron_spectra(snapshots, info, dmax, beta, target, rambo_events, rambo_seed, k_min, k_max, rtol,
                              whitening)
    if target not in EVENT_SHAPES:
        raise ValueError(f"target {target!r} is not one of {list(EVENT_SHAPES)} (thrust_scan: hadron-level files)")
    ks = list(info["counts"]) if ks is None else ks
    per_k = []
    for k in ks:
        n_k = info["counts"].get(k, 0)
        if n_k < MIN_EVENTS:
            log.warning("%s: k = %d has %d events (< %d): skipped", snapshots, k, n_k, MIN_EVENTS)
            continue
        log.info("k = %d: EFPs of %d events of %d partons", k, n_k, 2 + k)
        features = snapshot_features(snapshots, k, dmax, beta)
        rambo_efp = None
        if rambo_events:
            momenta, _ = rambo(2 + k, float(info["sqrt_s"]), rambo_events, [rambo_seed, k])
            rambo_efp = compute_ee_efps(momenta, dmax, beta)
        entry = shower_spectrum(features["efp"], features[target], rambo_efp, k_min, k_max, rtol,
                                name=f"k = {k}", whitening=whitening)
        per_k.append({"k": k, "n_partons": 2 + k, **entry})
        log.info("k = %d: %s", k, summary(per_k[-1]))
    return {"source": str(snapshots), "process": info.get("process"), "sqrt_s": info.get("sqrt_s"),
            "n_events": info.get("n_events"),
            "feature_options": {"dmax": dmax, "beta": float(beta), "measure": MEASURE, "normed": NORMED,
                                "kappa": KAPPA, "coords": COORDS},
            "target": target,
            "rambo": {"events": rambo_events, "seed": rambo_seed, "whiten_rtol": rtol, "massless": True,
                      "whitening": asdict(convention)},
            "fit_rule": {"k_min": k_min, "k_max": k_max if k_max is not None else "min(d // 2, last rank above the "
                                                                                  "noise floor lambda_1 * 1e-12)",
                         "min_points": MIN_FIT_POINTS,
                         "refused": "fit: null and fit_refused: <reason> when the range has fewer points"},
            "per_k": per_k}


def _fit_text(entry: dict | None) -> str:
    if not entry or not entry.get("fit"):
        return "no fit"
    fit, projection = entry["fit"], entry.get("label_projection")
    modes = int(np.count_nonzero(np.asarray(entry["eigenvalues"]) > entry["noise_floor"]))
    text = (f"alpha = {fit['alpha']:.3f} [{fit['ci95'][0]:.3f}, {fit['ci95'][1]:.3f}] over ranks "
            f"{fit['k_range'][0]}-{fit['k_range'][1]} (d = {entry['d']}, {modes} above the noise floor)")
    if projection and projection.get("r") is not None:
        text += f", r = {projection['r']:.3f}"
    return text


def summary(entry: dict) -> str:
    """One line per k: the standardized and whitened exponents."""
    return f"standardized {_fit_text(entry['standardized'])}; whitened {_fit_text(entry['whitened'])}"


def entry_label(entry: dict) -> str:
    """``k3`` for a parton-level entry, its ``label`` (``hadrons``) for a hadron-level one."""
    return entry.get("label") or f"k{entry['k']}"


def save_spectra(result: dict, out_dir: str | Path) -> list[Path]:
    """Write ``spectrum.json`` (atomically) and ``spectrum.npz``; return their paths."""
    arrays = {}
    for entry in result["per_k"]:
        for prefix, spectrum in (("", entry["standardized"]), ("whitened_", entry["whitened"])):
            if spectrum is None:
                continue
            name = f"{entry_label(entry)}_{prefix}"
            arrays[f"{name}eigenvalues"] = np.asarray(spectrum["eigenvalues"])
            if spectrum.get("label_projection"):
                arrays[f"{name}target_power"] = np.asarray(spectrum["label_projection"]["target_power"])
    return write_spectrum_files(result, arrays, out_dir)


# --------------------------------------------------------------------------- CLI


def cmd_shower_spectrum(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from jetscale.data.shower.snapshots import snapshot_info

    available = sorted(snapshot_info(args.snapshots)["counts"])
    result = snapshot_spectra(args.snapshots, parse_ks(args.k, available), args.dmax, args.beta, args.target,
                              args.rambo_events, args.rambo_seed, args.rank_min, args.rank_max, args.whiten_rtol,
                              args.whitening)
    if not result["per_k"]:
        raise ValueError(f"{args.snapshots}: no k with at least {MIN_EVENTS} events")
    paths = save_spectra(result, args.out_dir)
    for entry in result["per_k"]:
        name = entry.get("label") or f"k = {entry['k']}"
        print(f"{name} ({entry['n']} events): {summary(entry)}")
    for path in paths:
        print(f"wrote {path}")
    return 0


def register(subparsers) -> None:
    """Add ``jetscale shower-spectrum --snapshots FILE --out-dir DIR [--k 1,2,...] [...]``."""
    p = subparsers.add_parser("shower-spectrum", help="EFP spectra of shower snapshots per branching k, "
                                                      "raw and whitened by RAMBO phase space")
    p.add_argument("--snapshots", required=True, help="snapshot file of `jetscale shower-generate`")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--k", default=None, help="branching depths, e.g. 1,2,5 or 1-6 (default: all in the file)")
    p.add_argument("--dmax", type=int, default=5, help="maximum EFP degree (default 5: 102 EFPs)")
    p.add_argument("--beta", type=float, default=2.0, help="angular exponent beta (default 2)")
    p.add_argument("--target", default="thrust", help="label of the projection: thrust (default), "
                   "heavy_jet_mass, c_parameter, or on hadron-level files JSL's approximate thrust_scan")
    p.add_argument("--rambo-events", type=int, default=DEFAULT_RAMBO_EVENTS,
                   help=f"RAMBO events per k for whitening (default {DEFAULT_RAMBO_EVENTS}; 0: no whitening)")
    p.add_argument("--rambo-seed", type=int, default=0, help="seed of the RAMBO events (default 0)")
    p.add_argument("--rank-min", type=int, default=K_MIN, help=f"first eigenvalue rank of the fits (default {K_MIN})")
    p.add_argument("--rank-max", type=int, default=None, help="last eigenvalue rank of the fits (default: min(d // 2, "
                                                            "last rank above the noise floor))")
    p.add_argument("--whitening", default="jetscale", help="convention of the RAMBO metric: jetscale (default; "
                   "RAMBO-standardized, cut 1e-12) or jsl (raw centred covariance, cut 1e-10; docs/spectrum.md)")
    p.add_argument("--whiten-rtol", type=float, default=None,
                   help="relative eigenvalue cut on C_R before whitening (default: the convention's, 1e-12 or 1e-10)")
    p.set_defaults(func=cmd_shower_spectrum)


def main(argv: list[str] | None = None) -> int:
    """``jetscale shower-spectrum ARGS`` without the subcommand name; errors print one line and return 2."""
    return run_alone("shower-spectrum", register, argv)


if __name__ == "__main__":
    sys.exit(main())
