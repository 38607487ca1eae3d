"""e+e- event shapes of a set of partons, vectorised over events of one multiplicity (pure numpy).

Input: four-momenta ``[n_events, n, 4]`` as (E, px, py, pz) in GeV (the heavy jet mass is meant for the
centre-of-mass frame). Output per event: thrust T (exact maximum over the 2^(n-1) hemisphere partitions,
up to :data:`MAX_PARTICLES` = 26; :func:`thrust_scan`, JSL's approximation, scans only the particle directions), the heavy jet mass rho_H = max(M_+^2, M_-^2) / E_vis^2 of the thrust
hemispheres, and the C-parameter. Definitions, limits and cost: docs/physics.md#event-shapes.
"""

from __future__ import annotations

import numpy as np

MAX_PARTICLES = 26
"""Largest multiplicity :func:`thrust` accepts (2^25 partitions: ~ 0.5 s per event)."""
WORK_ROWS = 1 << 21
"""Partitions scored per block (over all events of the block): the float64 work array is 16 MiB."""


def _check_momenta(momenta: np.ndarray) -> np.ndarray:
    p = np.asarray(momenta, dtype=np.float64)
    if p.ndim != 3 or p.shape[2] != 4 or p.shape[1] < 2:
        raise ValueError(f"momenta must be [n_events, n >= 2, 4] as (E, px, py, pz), got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"momenta of shape {p.shape} have non-finite values")
    return p


def sign_vectors(n: int, fix_first: bool) -> np.ndarray:
    """All sign vectors in {-1, +1}^n (2^n), or those with eps_1 = +1 (2^(n-1)): float64 [count, n]."""
    free = n - 1 if fix_first else n
    codes = np.arange(1 << free, dtype=np.int64)[:, None]  # bit j of the code = sign of free particle j
    signs = 1.0 - 2.0 * ((codes >> np.arange(free, dtype=np.int64)) & 1)
    return np.concatenate([np.ones((codes.size, 1)), signs], axis=1) if fix_first else signs


def thrust_partition(momenta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thrust T [n_events] and the maximising hemisphere signs eps* [n_events, n] (+-1; docs/physics.md#event-shapes).

    Meet in the middle: the particles are split into halves A (with particle 1, its sign fixed) and
    B; with a = sum_A eps_i p_i and b = sum_B eps_i p_i, |a + b|^2 = |a|^2 + |b|^2 + 2 a.b, so all
    2^(n-1) partitions are scored by one matrix product [S_A, 3] x [3, S_B] per event (blocks of at
    most :data:`WORK_ROWS` partitions).
    """
    p = _check_momenta(momenta)
    n_events, n = p.shape[:2]
    if n > MAX_PARTICLES:
        raise ValueError(f"exact thrust enumerates 2^(n-1) partitions: n must be in [2, {MAX_PARTICLES}], got {n}")
    three = p[..., 1:]  # [E, n, 3]
    norm = np.linalg.norm(three, axis=2).sum(axis=1)  # sum_i |p_i|, [E]
    if np.any(norm <= 0):
        raise ValueError(f"events {np.flatnonzero(norm <= 0)[:5].tolist()} have no three-momentum: thrust undefined")
    n_a = n // 2 + 1
    signs_a, signs_b = sign_vectors(n_a, fix_first=True), sign_vectors(n - n_a, fix_first=False)
    size_a, size_b = len(signs_a), len(signs_b)
    best = np.full(n_events, -1.0)
    best_a = np.zeros(n_events, dtype=np.int64)
    best_b = np.zeros(n_events, dtype=np.int64)
    step = max(1, WORK_ROWS // (size_a * size_b))
    for e0 in range(0, n_events, step):
        e1 = min(e0 + step, n_events)
        sum_a = np.einsum("sn,enj->esj", signs_a, three[e0:e1, :n_a])  # [e, S_A, 3]
        sum_b = np.einsum("sn,enj->esj", signs_b, three[e0:e1, n_a:])  # [e, S_B, 3]
        len_a, len_b = np.einsum("esj,esj->es", sum_a, sum_a), np.einsum("esj,esj->es", sum_b, sum_b)
        rows_a = max(1, WORK_ROWS // ((e1 - e0) * size_b))
        for a0 in range(0, size_a, rows_a):
            a1 = min(a0 + rows_a, size_a)
            score = 2.0 * sum_a[:, a0:a1] @ sum_b.transpose(0, 2, 1)  # |a + b|^2 - |a|^2 - |b|^2: [e, a, S_B]
            score += len_a[:, a0:a1, None] + len_b[:, None, :]
            flat = score.reshape(e1 - e0, -1)
            arg = np.argmax(flat, axis=1)
            value = flat[np.arange(e1 - e0), arg]
            better = value > best[e0:e1]
            best[e0:e1] = np.where(better, value, best[e0:e1])
            best_a[e0:e1] = np.where(better, a0 + arg // size_b, best_a[e0:e1])
            best_b[e0:e1] = np.where(better, arg % size_b, best_b[e0:e1])
    return np.sqrt(np.maximum(best, 0.0)) / norm, np.concatenate([signs_a[best_a], signs_b[best_b]], axis=1)


def thrust(momenta: np.ndarray) -> np.ndarray:
    """Thrust T = max_n sum_i |p_i . n| / sum_i |p_i| of each event: float64 [n_events], in [1/2, 1]."""
    return thrust_partition(momenta)[0]


def thrust_scan(momenta: np.ndarray) -> np.ndarray:
    """JSL's approximate thrust: max over the particle directions n = p_i / |p_i| (|p_i| > 1e-10) of
    sum_j |p_j . n| / sum_j |p_j|: float64 [n_events], <= :func:`thrust` (docs/physics.md#event-shapes)."""
    three = _check_momenta(momenta)[..., 1:]
    size = np.linalg.norm(three, axis=2)  # [E, n]
    if np.any(size.sum(axis=1) <= 0):
        raise ValueError("events without three-momentum have no thrust")
    axis = size > 1e-10  # JSL drops particles with |p| <= 1e-10, as axes and from the sums
    unit = three / np.where(axis, size, 1.0)[..., None]
    projected = np.abs(np.einsum("eja,eia->eij", three, unit)).sum(axis=2)  # [E, axis i]: sum_j |p_j . n_i|
    return np.where(axis, projected, -np.inf).max(axis=1) / size.sum(axis=1)


def _mass2(p4: np.ndarray) -> np.ndarray:
    return p4[..., 0] ** 2 - np.einsum("...j,...j->...", p4[..., 1:], p4[..., 1:])


def heavy_jet_mass(momenta: np.ndarray, signs: np.ndarray | None = None) -> np.ndarray:
    """rho_H = max(M_+^2, M_-^2) / E_vis^2 over the thrust hemispheres: float64 [n_events].

    ``signs``: the hemisphere signs of :func:`thrust_partition` (computed when not given).
    """
    p = _check_momenta(momenta)
    if signs is None:
        signs = thrust_partition(p)[1]
    plus = (signs > 0)[..., None]
    m_plus = _mass2(np.where(plus, p, 0.0).sum(axis=1))
    m_minus = _mass2(np.where(plus, 0.0, p).sum(axis=1))
    return np.maximum(m_plus, m_minus) / p[..., 0].sum(axis=1) ** 2


def c_parameter(momenta: np.ndarray) -> np.ndarray:
    """C = (3/2)(1 - tr Theta^2) of the linearised momentum tensor: float64 [n_events] (docs/physics.md)."""
    three = _check_momenta(momenta)[..., 1:]
    size = np.linalg.norm(three, axis=2)  # [E, n]
    if np.any(size.sum(axis=1) <= 0):
        raise ValueError("events without three-momentum have no C-parameter")
    unit = three / np.where(size > 0, size, 1.0)[..., None]
    cos2 = np.einsum("eij,ekj->eik", unit, unit) ** 2  # (p_i . p_k)^2 / (|p_i| |p_k|)^2
    trace2 = np.einsum("ei,eik,ek->e", size, cos2, size) / size.sum(axis=1) ** 2
    return 1.5 * (1.0 - trace2)


EVENT_SHAPES = ("thrust", "heavy_jet_mass", "c_parameter")
APPROXIMATE_SHAPES = ("thrust_scan",)
"""Targets some feature functions add (:func:`thrust_scan`; jetscale.features.special_efp), not :func:`event_shapes`."""


def event_shapes(momenta: np.ndarray) -> dict[str, np.ndarray]:
    """All of :data:`EVENT_SHAPES` for each event, sharing one thrust enumeration: name -> [n_events]."""
    p = _check_momenta(momenta)
    t, signs = thrust_partition(p)
    return {"thrust": t, "heavy_jet_mass": heavy_jet_mass(p, signs), "c_parameter": c_parameter(p)}
