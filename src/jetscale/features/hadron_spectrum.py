"""EFP spectra of a hadron-level file (``level: hadron``): one state per event, of varying multiplicity.

The ``spectrum.json`` payload of :func:`jetscale.features.shower_spectrum.snapshot_spectra` with one entry
in ``per_k`` (``"k": null``, ``"label": "hadrons"``): the e+e- EFPs of every event's visible particles
(evaluated per multiplicity), and, for whitening, RAMBO events whose multiplicities are drawn from the
file's. Exact thrust (and the heavy jet mass) stop at :data:`~jetscale.physics.event_shapes.MAX_PARTICLES`
particles, so hadron-level events usually need ``--target c_parameter`` or JSL's approximate
``--target thrust_scan`` (:data:`HADRON_TARGETS`). Docs: docs/tasks.md#shower-spectra.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from jetscale.features.efp_ee import COORDS, KAPPA, MEASURE, NORMED, compute_ee_efps
from jetscale.features.shower_spectrum import shower_spectrum, whitening_convention
from jetscale.physics.event_shapes import EVENT_SHAPES, MAX_PARTICLES, c_parameter, event_shapes, thrust_scan
from jetscale.physics.rambo import rambo

log = logging.getLogger(__name__)

HADRON_TARGETS = (*EVENT_SHAPES, "thrust_scan")
SCALABLE = {"c_parameter": c_parameter, "thrust_scan": thrust_scan}  # targets of any multiplicity


def by_multiplicity(offsets: np.ndarray) -> dict[int, np.ndarray]:
    """Ragged offsets [n + 1] -> {multiplicity m: indices of the events with m particles}."""
    multiplicity = np.diff(np.asarray(offsets))
    return {int(m): np.flatnonzero(multiplicity == m) for m in np.unique(multiplicity)}


def ragged_features(momenta: np.ndarray, offsets: np.ndarray, dmax: int, beta: float, target: str,
                    source: str = "<events>") -> tuple[np.ndarray, np.ndarray]:
    """(EFPs [n, n_efps], target [n]) of ragged events (particles ``offsets[i]:offsets[i + 1]``); pure."""
    if target not in HADRON_TARGETS:
        raise ValueError(f"target {target!r} is not one of {list(HADRON_TARGETS)}")
    groups = by_multiplicity(offsets)
    if target not in SCALABLE and max(groups) > MAX_PARTICLES:
        raise ValueError(f"{source}: events of up to {max(groups)} particles, but the exact {target} enumerates "
                         f"2^(n-1) hemispheres (n <= {MAX_PARTICLES}): use --target c_parameter or thrust_scan")
    n = len(offsets) - 1
    efp, values = None, np.empty(n)
    for m, rows in groups.items():
        block = momenta[offsets[rows][:, None] + np.arange(m)]  # [n_m, m, 4]
        block_efp = compute_ee_efps(block, dmax, beta)
        efp = np.empty((n, block_efp.shape[1])) if efp is None else efp
        efp[rows] = block_efp
        values[rows] = SCALABLE[target](block) if target in SCALABLE else event_shapes(block)[target]
    return efp, values


def rambo_mixture_efps(multiplicity: np.ndarray, sqrt_s: float, n_events: int, seed: int, dmax: int,
                       beta: float) -> np.ndarray:
    """EFPs of ``n_events`` massless RAMBO events at ``sqrt_s`` whose multiplicities are drawn (with
    replacement, from ``seed``) from ``multiplicity``; reproducible from ``seed``."""
    drawn = np.sort(np.random.default_rng([seed, 0]).choice(np.asarray(multiplicity), size=n_events))
    values, counts = np.unique(drawn, return_counts=True)
    return np.concatenate([compute_ee_efps(rambo(int(m), sqrt_s, int(c), [seed, int(m)])[0], dmax, beta)
                           for m, c in zip(values, counts)])


def hadron_spectra(path: str | Path, info: dict, dmax: int, beta: float, target: str, rambo_events: int,
                   rambo_seed: int, k_min: int, k_max: int | None, whiten_rtol: float,
                   whitening: str = "jetscale") -> dict:
    """The ``spectrum.json`` payload of the hadron-level file ``path`` (``info``: its
    :func:`~jetscale.data.shower.snapshots.snapshot_info`); logs its summary."""
    from jetscale.data.shower.hadron_file import read_hadrons

    events = read_hadrons(path)
    multiplicity = np.diff(events["offsets"])
    log.info("%s: EFPs of %d hadron-level events of %d to %d particles", path, len(multiplicity),
             multiplicity.min(), multiplicity.max())
    efp, values = ragged_features(events["momenta"], events["offsets"], dmax, beta, target, str(path))
    rambo_efp = (rambo_mixture_efps(multiplicity, float(info["sqrt_s"]), rambo_events, rambo_seed, dmax, beta)
                 if rambo_events else None)
    entry = shower_spectrum(efp, values, rambo_efp, k_min, k_max, whiten_rtol, name="hadrons", whitening=whitening)
    return {"source": str(path), "process": info.get("process"), "sqrt_s": info.get("sqrt_s"),
            "n_events": info.get("n_events"), "level": "hadron",
            "feature_options": {"dmax": dmax, "beta": float(beta), "measure": MEASURE, "normed": NORMED,
                                "kappa": KAPPA, "coords": COORDS},
            "target": target,
            "rambo": {"events": rambo_events, "seed": rambo_seed, "whiten_rtol": whiten_rtol, "massless": True,
                      "multiplicity": "drawn from the file's", "whitening": asdict(whitening_convention(whitening))},
            "per_k": [{"k": None, "label": "hadrons",
                       "n_particles": {"mean": float(multiplicity.mean()), "min": int(multiplicity.min()),
                                       "max": int(multiplicity.max())}, **entry}]}
