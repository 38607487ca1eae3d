"""Observables of events of four-momenta ``[n_events, n, 4]`` as (E, px, py, pz) in GeV (float64 out).

* ``pair_masses``: m_ij = √max((p_i + p_j)², 0) for i < j, in the order of
  ``itertools.combinations(range(n), 2)`` ((0,1), (0,2), …, (n−2, n−1)).
* ``momentum_imbalance``: ‖Σ_i p_i − (√s, 0, 0, 0)‖ / √s per event, with the
  Euclidean norm over the four components: 0 for an event that conserves
  energy and momentum in its centre-of-mass frame.
* ``masslessness``: Σ_i |E_i² − |p⃗_i|²| / s per event (0 for massless particles).
"""

from __future__ import annotations

import numpy as np

from jetscale.physics.kinematics import invariant_mass


def pair_indices(n_particles: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) index arrays of the n(n−1)/2 pairs i < j, in ``combinations`` order."""
    return np.triu_indices(n_particles, k=1)


def pair_masses(momenta) -> np.ndarray:
    """Invariant masses [n_events, n(n−1)/2] of all particle pairs."""
    p = np.asarray(momenta, dtype=np.float64)
    i, j = pair_indices(p.shape[-2])
    pair = p[..., i, :] + p[..., j, :]  # [n_events, n_pairs, 4]
    return invariant_mass(*np.moveaxis(pair, -1, 0))


def momentum_imbalance(momenta, sqrt_s: float) -> np.ndarray:
    """‖Σ_i p_i − (√s, 0, 0, 0)‖ / √s per event [n_events]."""
    total = np.asarray(momenta, dtype=np.float64).sum(-2)  # [n_events, 4]
    return np.linalg.norm(total - np.array([sqrt_s, 0.0, 0.0, 0.0]), axis=-1) / sqrt_s


def masslessness(momenta) -> np.ndarray:
    """Σ_i |E_i² − |p⃗_i|²| / s per event [n_events], with s = (Σ_i E_i)²."""
    p = np.asarray(momenta, dtype=np.float64)
    mass2 = p[..., 0] ** 2 - np.sum(p[..., 1:] ** 2, -1)  # [n_events, n]
    return np.abs(mass2).sum(-1) / p[..., 0].sum(-1) ** 2
