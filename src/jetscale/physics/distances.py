"""Distances between two samples of events, measured on physical observables.

D = mean over the n(n−1)/2 particle pairs (i, j) of the Wasserstein-1 distance between the two samples'
distributions of m_ij / √s: in units of √s, symmetric, ≥ 0, 0 for identical samples. Read it against
:func:`rambo_distance_floor`, D between two independent true samples of the same sizes.
Definition and reading: docs/physics.md#distances-between-samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import wasserstein_distance

from jetscale.physics.observables import pair_masses
from jetscale.physics.rambo import rambo


def observable_distance(a: np.ndarray, b: np.ndarray, weights_a=None, weights_b=None) -> float:
    """Mean over columns of the 1-D Wasserstein-1 distance between samples ``a`` [n_A, k] and ``b`` [n_B, k]."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) == 0:
        raise ValueError(f"need two non-empty samples [n, k] of the same k observables, got {a.shape} and {b.shape}")
    return float(np.mean([wasserstein_distance(a[:, c], b[:, c], weights_a, weights_b) for c in range(a.shape[1])]))


def pair_mass_distance(momenta_a, momenta_b, sqrt_s: float, weights_a=None, weights_b=None) -> float:
    """D between events ``momenta_a`` [n_A, n, 4] and ``momenta_b`` [n_B, n, 4] (module docstring)."""
    return observable_distance(pair_masses(momenta_a) / sqrt_s, pair_masses(momenta_b) / sqrt_s,
                               weights_a, weights_b)


def rambo_distance_floor(n_particles: int, sqrt_s: float, n_a: int, n_b: int, seed,
                         masses: Sequence[float] | None = None) -> float:
    """D between two independent RAMBO samples of ``n_a`` and ``n_b`` events (weighted when massive):
    what a perfect generator scores against ``n_b`` true events with ``n_a`` generated ones."""
    (a, wa), (b, wb) = (rambo(n_particles, sqrt_s, size, [*np.atleast_1d(seed), stream], masses)
                        for stream, size in ((0, n_a), (1, n_b)))
    return pair_mass_distance(a, b, sqrt_s, wa, wb)
