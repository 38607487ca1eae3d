"""Jet selection and packing: pure numpy functions, no generator state.

Conventions (the kinematics themselves are :mod:`jetscale.physics.kinematics`): Pythia's
4-momenta are rows ``(px, py, pz, E)`` in GeV; a direction is ``(η, φ)`` with η the
pseudorapidity and φ in (-π, π]; ΔR = sqrt(Δη² + Δφ²) with Δφ wrapped into [-π, π). Jets are stored as
``(pT, η, φ, m)`` and constituents as ``(pT, η, φ, E)``, so a constituent's
4-momentum is ``(pT cos φ, pT sin φ, pT sinh η, E)`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jetscale.physics import kinematics


@dataclass(frozen=True)
class JetCuts:
    pt_min: float          # GeV, exclusive
    pt_max: float          # GeV, exclusive
    eta_max: float         # |η| < eta_max
    top_match_dr: float    # top and its decay quarks within ΔR < top_match_dr of the jet axis
    max_jets: int          # at most this many jets per event, hardest first


PT_FLOOR = 1e-12  # GeV: a (never physical) pT = 0 gives |η| ≈ 37 instead of a division by zero


def pt_eta_phi_e(p4: np.ndarray) -> np.ndarray:
    """Constituent representation [..., 4] (pT, η, φ, E) of 4-momenta [..., 4]."""
    p4 = np.asarray(p4, dtype=np.float64)
    return kinematics.constituents_from_cartesian(p4[..., 3], p4[..., 0], p4[..., 1], p4[..., 2])


def pt_eta_phi_m(p4: np.ndarray) -> np.ndarray:
    """Jet representation [..., 4] (pT, η, φ, m) of 4-momenta [..., 4]."""
    p4 = np.asarray(p4, dtype=np.float64)
    px, py, pz, e = np.moveaxis(p4, -1, 0)
    return np.stack([*kinematics.pt_eta_phi(px, py, pz), kinematics.invariant_mass(e, px, py, pz)], axis=-1)


def four_momenta(pt_eta_phi_e_rows: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pt_eta_phi_e`: (pT, η, φ, E) [..., 4] -> (px, py, pz, E) [..., 4]."""
    pt, eta, phi, e = np.moveaxis(np.asarray(pt_eta_phi_e_rows, dtype=np.float64), -1, 0)
    return np.stack([*kinematics.cartesian(pt, eta, phi), e], axis=-1)


def delta_r(eta1, phi1, eta2, phi2) -> np.ndarray:
    """ΔR between directions (broadcasting), with Δφ wrapped."""
    dphi = np.mod(np.asarray(phi1) - np.asarray(phi2) + np.pi, 2 * np.pi) - np.pi
    return np.hypot(np.asarray(eta1) - np.asarray(eta2), dphi)


def in_window(jets: np.ndarray, cuts: JetCuts) -> np.ndarray:
    """Mask [n] of jets (pT, η, φ, m) [n, 4] with pt_min < pT < pt_max and |η| < eta_max."""
    jets = np.asarray(jets).reshape(-1, 4)
    pt, eta = jets[:, 0], jets[:, 1]
    return (pt > cuts.pt_min) & (pt < cuts.pt_max) & (np.abs(eta) < cuts.eta_max)


def contains_top(jets: np.ndarray, tops: np.ndarray, dr: float) -> np.ndarray:
    """Mask [n] of jets (pT, η, φ, m) [n, 4] containing a whole top: some top whose four
    directions (t, b, q, q̄') [k, 4, 2] (η, φ) all lie within ΔR < ``dr`` of the jet axis."""
    jets = np.asarray(jets).reshape(-1, 4)
    tops = np.asarray(tops).reshape(-1, 4, 2)
    if not len(tops):
        return np.zeros(len(jets), dtype=bool)
    separation = delta_r(jets[:, None, None, 1], jets[:, None, None, 2], tops[None, :, :, 0], tops[None, :, :, 1])
    return np.any(np.all(separation < dr, axis=2), axis=1)  # [n, k, 4] -> all four objects -> any top


def select_jets(jets: np.ndarray, cuts: JetCuts, tops: np.ndarray | None = None) -> np.ndarray:
    """Indices of the kept jets among jets (pT, η, φ, m) [n, 4] ordered hardest first: in the
    window, containing a top when ``tops`` is given (an empty ``tops`` keeps nothing), at most
    ``cuts.max_jets`` of them."""
    keep = in_window(jets, cuts)
    if tops is not None:
        keep &= contains_top(jets, tops, cuts.top_match_dr)
    return np.flatnonzero(keep)[: cuts.max_jets]


def pack_constituents(p4: np.ndarray, max_constituents: int) -> tuple[np.ndarray, int]:
    """Constituents 4-momenta [m, 4] -> ((pT, η, φ, E) [max_constituents, 4] float32, hardest first,
    zero-padded; the number of real rows, min(m, max_constituents))."""
    rows = pt_eta_phi_e(np.asarray(p4, dtype=np.float64).reshape(1, -1, 4))
    packed, counts = kinematics.pack_constituents(rows, np.ones(rows.shape[:2], dtype=bool), max_constituents)
    return packed[0], int(counts[0])
