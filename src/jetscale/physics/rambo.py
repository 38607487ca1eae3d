"""RAMBO: n-body phase space at fixed total energy, vectorised over events (Kleiss, Stirling & Ellis 1986).

Momenta are float64 ``[n_events, n, 4]`` as ``(E, px, py, pz)`` in GeV, in the centre-of-mass frame
(Σ_i p_i = (√s, 0, 0, 0)). Weights are phase-space weights without (2π) factors, so mean(weight)
estimates Φ_n; massless events have the constant weight Φ_n, massive ones are weighted. Event i
depends only on ``(seed, i)`` (nested samples). Conventions and method: docs/physics.md#rambo-phase-space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

NEWTON_RTOL = 1e-12   # Newton stops when |Σ_i k⁰_i − √s| ≤ NEWTON_RTOL·√s
NEWTON_MAX_ITER = 100


def massless_phase_space_volume(n_particles: int, sqrt_s: float) -> float:
    """Φ_n = (π/2)^(n−1) s^(n−2) / ((n−1)! (n−2)!) of n massless particles (no 2π factors), as the product
    (π/2) Π_{j=1}^{n−2} (π/2) s / (j (j+1)), which stays finite for hadron-level n (≈ 100); inf beyond float
    range."""
    check_kinematics(n_particles, sqrt_s, None)
    n, s = n_particles, float(sqrt_s) ** 2
    return math.prod((math.pi / 2 * s / (j * (j + 1)) for j in range(1, n - 1)), start=math.pi / 2)


def check_kinematics(n_particles: int, sqrt_s: float, masses: Sequence[float] | None) -> np.ndarray:
    """The masses as a float64 array [n] (zeros when None); ValueError naming the bad argument."""
    if int(n_particles) != n_particles or n_particles < 2:
        raise ValueError(f"n_particles must be an integer >= 2, got {n_particles!r}")
    if not np.isfinite(sqrt_s) or sqrt_s <= 0:
        raise ValueError(f"sqrt_s must be a positive energy, got {sqrt_s!r}")
    if masses is None:
        return np.zeros(int(n_particles))
    m = np.asarray(masses, dtype=np.float64)
    if m.shape != (n_particles,):
        raise ValueError(f"masses must list one mass per particle ({n_particles}), got {list(np.ravel(m))}")
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise ValueError(f"masses must be finite and >= 0, got {m.tolist()}")
    if m.sum() >= sqrt_s:
        raise ValueError(f"sqrt_s={sqrt_s} must exceed the sum of the masses {m.sum()} (masses={m.tolist()})")
    return m


def isotropic_momenta(random: np.ndarray) -> np.ndarray:
    """RAMBO's independent massless momenta q [..., n, 4] from uniform numbers ``random`` [..., n, 4] in [0, 1):
    isotropic directions, energies with density q⁰ e^(−q⁰)."""
    cos_theta = 2 * random[..., 0] - 1
    sin_theta = np.sqrt(1 - cos_theta**2)
    phi = 2 * np.pi * random[..., 1]
    q0 = -np.log((1 - random[..., 2]) * (1 - random[..., 3]))  # 1 − ρ ∈ (0, 1]: no log(0)
    return np.stack([q0, q0 * sin_theta * np.cos(phi), q0 * sin_theta * np.sin(phi), q0 * cos_theta], axis=-1)


def to_centre_of_mass(q: np.ndarray, sqrt_s: float) -> np.ndarray:
    """Boost massless momenta q [..., n, 4] to the rest frame of their sum and scale them to total energy
    ``sqrt_s`` (RAMBO's conformal map, docs/physics.md): Σ p = (√s, 0, 0, 0) exactly, p_i² = 0 kept."""
    q = np.asarray(q, dtype=np.float64)
    q0 = q[..., 0]
    total = q.sum(-2)  # [..., 4]
    mass = np.sqrt(total[..., 0] ** 2 - np.sum(total[..., 1:] ** 2, -1))  # [...]
    b = -total[..., 1:] / mass[..., None]  # [..., 3]
    gamma = total[..., 0] / mass
    a = 1 / (1 + gamma)
    x = sqrt_s / mass
    bq = np.einsum("...j,...ij->...i", b, q[..., 1:])  # b·q⃗_i, [..., n]
    energy = x[..., None] * (gamma[..., None] * q0 + bq)
    momentum = x[..., None, None] * (q[..., 1:] + b[..., None, :] * q0[..., None]
                                     + (a[..., None] * bq)[..., None] * b[..., None, :])
    return np.concatenate([energy[..., None], momentum], axis=-1)


def solve_xi(energies: np.ndarray, masses: np.ndarray, sqrt_s: float) -> np.ndarray:
    """ξ [n_events] with Σ_i √(m_i² + ξ² E_i²) = √s to ``NEWTON_RTOL``·√s, by Newton's method from ξ = 1
    (``energies``: the massless E_i [n_events, n])."""
    xi = np.ones(energies.shape[0])
    m2, e2 = masses**2, energies**2
    for _ in range(NEWTON_MAX_ITER):
        root = np.sqrt(m2 + xi[:, None] ** 2 * e2)  # [n_events, n]
        residual = root.sum(-1) - sqrt_s
        if np.all(np.abs(residual) <= NEWTON_RTOL * sqrt_s):
            return xi
        xi = xi - residual / (xi * np.sum(e2 / root, -1))
    raise RuntimeError(f"RAMBO's mass rescaling did not converge in {NEWTON_MAX_ITER} Newton steps "
                       f"(sqrt_s={sqrt_s}, masses={masses.tolist()})")


def rambo(n_particles: int, sqrt_s: float, n_events: int, seed, masses: Sequence[float] | None = None,
          ) -> tuple[np.ndarray, np.ndarray]:
    """``n_events`` RAMBO events of ``n_particles`` at total energy ``sqrt_s`` (GeV), drawn from ``seed``.

    Returns (momenta float64 [n_events, n, 4] as (E, px, py, pz) in the CM frame, weights float64
    [n_events]).  Massless (``masses`` None or all zero): every weight is
    :func:`massless_phase_space_volume`.  ``seed``: anything ``numpy.random.default_rng`` takes
    (an int or a sequence of ints); event i depends on ``(seed, i)`` only.
    """
    m = check_kinematics(n_particles, sqrt_s, masses)
    if int(n_events) != n_events or n_events < 0:
        raise ValueError(f"n_events must be an integer >= 0, got {n_events!r}")
    random = np.random.default_rng(seed).random((int(n_events), int(n_particles), 4))
    momenta = to_centre_of_mass(isotropic_momenta(random), float(sqrt_s))
    weights = np.full(int(n_events), massless_phase_space_volume(n_particles, sqrt_s))
    if not np.any(m > 0) or n_events == 0:
        return momenta, weights
    xi = solve_xi(momenta[..., 0], m, float(sqrt_s))  # [n_events]
    k = xi[:, None, None] * momenta[..., 1:]  # [n_events, n, 3]
    k_abs = xi[:, None] * momenta[..., 0]  # |k⃗_i| = ξ p⁰_i (massless: |p⃗| = p⁰)
    k0 = np.sqrt(m**2 + k_abs**2)
    weights = weights * (xi ** (2 * n_particles - 3) * np.prod(k_abs / k0, -1)
                         * sqrt_s / np.sum(k_abs**2 / k0, -1))
    return np.concatenate([k0[..., None], k], axis=-1), weights
