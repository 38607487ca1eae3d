"""Particle and jet kinematics over numpy arrays: the project's conventions, stated once.

Conventions (every function here follows them):

* A constituent array has the four components on its last axis in the shard
  order ``(pT, η, φ, E)`` (``PT, ETA, PHI, E`` below), energies and momenta in
  GeV; the axis before it is the constituent axis, so ``[..., C, 4]``.
* pT = hypot(px, py); η = arcsinh(pz / pT) (pseudorapidity, not rapidity);
  φ = arctan2(py, px) in (-π, π].  A particle with pT = 0 gets η = φ = 0, so
  zero padding (E = px = py = pz = 0) stays all-zero in both directions.
* Massless particles: E = pT·cosh(η).
* Jet four-vector = the plain sum of its constituents' (E, px, py, pz);
  mass = sqrt(max(E² − |p|², 0)) (a negative m² from rounding is clipped to 0).
* Sums run in float64 whatever the input dtype, because a jet's m² is a
  difference of large numbers; callers cast the result (shards are float32).
* A jet keeps at most ``MAX_CONSTITUENTS`` particles by default (the shards' C).
"""

from __future__ import annotations

import numpy as np

PT, ETA, PHI, E = range(4)  # component index on the last axis of a constituent array
MAX_CONSTITUENTS = 200  # default constituent axis C: the hardest particles kept per jet


def pt_eta_phi(px, py, pz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pT, η, φ) from Cartesian momenta; η = φ = 0 where pT = 0."""
    px, py, pz = (np.asarray(a, dtype=np.float64) for a in (px, py, pz))
    pt = np.hypot(px, py)
    moving = pt > 0
    eta = np.where(moving, np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=moving)), 0.0)
    phi = np.where(moving, np.arctan2(py, px), 0.0)
    return pt, eta, phi


def rapidity(pt: np.ndarray, eta: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Rapidity y = asinh(pz / m_T) of particles given (pT, eta, E), elementwise.

    m_T^2 = E^2 - pz^2 is floored at pT^2 (m^2 >= 0), which guards against float32
    rounding making E < |p|; hence y = eta for massless particles. Entries with
    pT = 0 (padding) give 0.
    """
    pt, eta, energy = (np.asarray(a, dtype=np.float64) for a in (pt, eta, energy))
    pz = pt * np.sinh(eta)
    m_t = np.sqrt(np.maximum(energy**2 - pz**2, pt**2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m_t > 0, np.arcsinh(pz / np.where(m_t > 0, m_t, 1.0)), 0.0)


def cartesian(pt, eta, phi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(px, py, pz) from (pT, η, φ)."""
    pt, eta, phi = (np.asarray(a, dtype=np.float64) for a in (pt, eta, phi))
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)


def massless_energy(pt, eta) -> np.ndarray:
    """E = pT·cosh(η) of a massless particle."""
    return np.asarray(pt, dtype=np.float64) * np.cosh(np.asarray(eta, dtype=np.float64))


def invariant_mass(e, px, py, pz) -> np.ndarray:
    """sqrt(max(E² − |p|², 0))."""
    e, px, py, pz = (np.asarray(a, dtype=np.float64) for a in (e, px, py, pz))
    return np.sqrt(np.clip(e * e - px * px - py * py - pz * pz, 0.0, None))


def constituents_from_cartesian(e, px, py, pz) -> np.ndarray:
    """Stack per-particle (E, px, py, pz) arrays of equal shape into ``[..., 4]`` (pT, η, φ, E), float64."""
    pt, eta, phi = pt_eta_phi(px, py, pz)
    return np.stack([pt, eta, phi, np.asarray(e, dtype=np.float64)], axis=-1)


def jet_four_momentum(constituents) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Summed (E, px, py, pz) over the constituent axis of ``[..., C, 4]`` (pT, η, φ, E) arrays.

    Padding (all zero) contributes nothing; the stored E is summed as is (not
    recomputed from pT and η), so massive constituents keep their mass.
    """
    c = np.asarray(constituents, dtype=np.float64)
    px, py, pz = cartesian(c[..., PT], c[..., ETA], c[..., PHI])
    return c[..., E].sum(-1), px.sum(-1), py.sum(-1), pz.sum(-1)


def jet_kinematics(constituents) -> np.ndarray:
    """``[..., 4]`` jet (pT, η, φ, mass) of the summed four-vector of ``[..., C, 4]`` constituents, float64."""
    e, px, py, pz = jet_four_momentum(constituents)
    pt, eta, phi = pt_eta_phi(px, py, pz)
    return np.stack([pt, eta, phi, invariant_mass(e, px, py, pz)], axis=-1)


def pack_constituents(constituents, real, max_constituents: int) -> tuple[np.ndarray, np.ndarray]:
    """Bring ``[n, C_in, 4]`` constituents to the shard layout: pT-ordered, zero-padded to ``max_constituents``.

    ``real`` ([n, C_in] bool) marks real particles; the others become all-zero
    padding.  Real particles are sorted by decreasing pT and come first; if a
    jet has more than ``max_constituents``, the softest are dropped.  Returns
    (constituents float32 [n, max_constituents, 4], n_constituents int32 [n]).
    """
    c = np.asarray(constituents, dtype=np.float64)
    real = np.asarray(real, dtype=bool)
    if max_constituents < 1:
        raise ValueError(f"max_constituents must be >= 1, got {max_constituents}")
    c = np.where(real[..., None], c, 0.0)
    order = np.lexsort((-c[..., PT], ~real), axis=-1)  # real first, then by decreasing pT
    c = np.take_along_axis(c, order[..., None], axis=1)
    n, width = c.shape[:2]
    out = np.zeros((n, max_constituents, 4), dtype=np.float32)
    keep = min(width, max_constituents)
    out[:, :keep] = c[:, :keep]
    return out, np.minimum(real.sum(-1), max_constituents).astype(np.int32)
