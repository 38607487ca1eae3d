"""JSL's "special" e+e- EFPs (two-vertex, V and triangle multigraphs) and their logs: the features of JSL's thrust pipeline.

Input: momenta ``[n_events, n, 4]`` as (E, px, py, pz). Conventions of ykahn/Jet-Scaling-Laws
ThrustScalingLaws.ipynb: z_i = 2 E_i / sum_j E_j, theta_ij = (1 - cos angle_ij) / 2; for a degree bound
``dmax`` the graphs of :func:`special_graphs` (337 at dmax = 20). Definitions and why these families:
docs/jsl.md#special-efps.
"""

from __future__ import annotations

import numpy as np

DEFAULT_DMAX = 20
CHUNK = 2000
"""Events per block of :func:`special_efps` (bounds the [block, n, n] powers and paths)."""
BETA = 2.0
"""theta_ij = (1 - cos)/2 is the beta = 2 angle (energyflow's ee theta^2 / 4); no other beta is defined here."""


def special_graphs(dmax: int = DEFAULT_DMAX) -> list[tuple[str, tuple[int, ...]]]:
    """(family, edge multiplicities) in feature order: ("pair", (m,)) 2 <= m <= dmax; ("v", (p, q)) 2 <= p <= q,
    p + q <= dmax; ("triangle", (r, s, t)) 1 <= r <= s <= t, r + s + t <= dmax."""
    if not (isinstance(dmax, (int, np.integer)) and dmax >= 3):
        raise ValueError(f"dmax of the special EFPs must be an integer >= 3, got {dmax!r}")
    pairs = [("pair", (m,)) for m in range(2, dmax + 1)]
    vs = [("v", (p, q)) for p in range(2, dmax + 1) for q in range(p, dmax + 1) if p + q <= dmax]
    triangles = [("triangle", (r, s, t)) for r in range(1, dmax + 1) for s in range(r, dmax + 1)
                 for t in range(s, dmax + 1) if r + s + t <= dmax]
    return pairs + vs + triangles


def energy_angles(momenta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z [E, n] (sums to 2) and theta [E, n, n] = (1 - cos)/2 (0 on the diagonal and for zero three-momenta)."""
    p = np.asarray(momenta, dtype=np.float64)
    if p.ndim != 3 or p.shape[2] != 4 or p.shape[1] < 2:
        raise ValueError(f"momenta must be [n_events, n >= 2, 4] as (E, px, py, pz), got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p[..., 0].sum(axis=1) <= 0):
        raise ValueError("momenta must be finite with a positive total energy per event")
    z = 2.0 * p[..., 0] / p[..., 0].sum(axis=1, keepdims=True)
    size = np.linalg.norm(p[..., 1:], axis=2)
    unit = p[..., 1:] / np.where(size > 0, size, 1.0)[..., None]
    cos = np.einsum("eia,eja->eij", unit, unit)
    cos[:, np.arange(p.shape[1]), np.arange(p.shape[1])] = 1.0
    return z, 0.5 * (1.0 - cos)


def special_efps(momenta: np.ndarray, dmax: int = DEFAULT_DMAX, chunk: int = CHUNK) -> np.ndarray:
    """The special EFPs of each event: float64 [n_events, len(special_graphs(dmax))] (pure)."""
    graphs = special_graphs(dmax)
    z, theta = energy_angles(momenta)
    out = np.empty((len(z), len(graphs)))
    for lo in range(0, len(z), chunk):
        out[lo:lo + chunk] = _block(z[lo:lo + chunk], theta[lo:lo + chunk], graphs, dmax)
    return out


def _block(z: np.ndarray, theta: np.ndarray, graphs: list, dmax: int) -> np.ndarray:
    """Special EFPs of one block: z [b, n], theta [b, n, n] -> [b, len(graphs)]."""
    powers = [np.ones_like(theta)]
    for _ in range(dmax):
        powers.append(powers[-1] * theta)  # powers[m] = theta^m
    zz = z[:, :, None] * z[:, None, :]
    arm = {m: np.einsum("eij,ej->ei", powers[m], z) for m in range(2, dmax + 1)}  # sum_j z_j theta_ij^m
    path: dict[tuple[int, int], np.ndarray] = {}
    out = np.empty((len(z), len(graphs)))
    for col, (family, mult) in enumerate(graphs):
        if family == "pair":
            out[:, col] = np.einsum("eij,eij->e", zz, powers[mult[0]])
        elif family == "v":
            out[:, col] = np.einsum("ei,ei->e", z * arm[mult[0]], arm[mult[1]])
        else:
            r, s, t = mult
            if (s, t) not in path:  # z_i z_j sum_k theta_ik^s z_k theta_kj^t
                path[(s, t)] = zz * (powers[s] @ (z[:, :, None] * powers[t]))
            out[:, col] = np.einsum("eij,eij->e", powers[r], path[(s, t)])
    return out


def log_special_efps(momenta: np.ndarray, dmax: int = DEFAULT_DMAX) -> np.ndarray:
    """log of :func:`special_efps`; ValueError naming the first event and graph that is not positive
    (collinear or degenerate events)."""
    values = special_efps(momenta, dmax)
    bad = np.argwhere(~(values > 0))
    if bad.size:
        event, col = bad[0]
        raise ValueError(f"special EFP {special_graphs(dmax)[col]} of event {event} is {values[event, col]!r}: "
                         f"its log is undefined ({len(np.unique(bad[:, 0]))} events affected)")
    return np.log(values)


def snapshot_features(snapshots, k: int, dmax: int = DEFAULT_DMAX, beta: float = BETA) -> dict[str, np.ndarray]:
    """JSL's features of group ``k`` of a snapshot file: ``efp`` (log special EFPs), ``event_id`` and the
    targets ``thrust`` (exact), ``thrust_scan`` (JSL's) and the other event shapes. No cache: cheap."""
    from jetscale.data.shower.snapshots import read_snapshots
    from jetscale.physics.event_shapes import event_shapes, thrust_scan

    if float(beta) != BETA:
        raise ValueError(f"JSL's special EFPs use theta = (1 - cos)/2, i.e. beta = 2; got data.beta={beta!r}")
    momenta, event_id = read_snapshots(snapshots, k)
    return {"efp": log_special_efps(momenta, dmax), "event_id": np.asarray(event_id, dtype=np.int64),
            **event_shapes(momenta), "thrust_scan": thrust_scan(momenta)}
