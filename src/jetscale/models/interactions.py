"""Pairwise interaction features of the Particle Transformer (Qu, Li, Qian, arXiv:2202.03772).

For every ordered pair of particles (a, b) of a jet, four features:

* ln ΔR,  ΔR = sqrt(Δη² + Δφ²), Δφ wrapped into (-π, π]
* ln kT,  kT = min(pT_a, pT_b) · ΔR
* ln z,   z  = min(pT_a, pT_b) / (pT_a + pT_b)
* ln m²,  m² = (E_a + E_b)² − |p_a + p_b|²

The paper uses the rapidity y; the shards store the pseudorapidity η
(:mod:`jetscale.physics.kinematics`), so η stands in for y (equal for massless
particles).  Every argument of a logarithm is clamped to at least ``eps``
first, so the diagonal (ΔR = 0, kT = 0) and collinear massless pairs (m² ≤ 0
from rounding) give ln(eps) rather than -inf.  m² is a difference of large
numbers and is computed in float64.  Pairs that involve a padded particle
(``mask`` False) are exactly zero.  Pure functions over torch tensors, no
parameters, no gradients needed.
"""

from __future__ import annotations

import torch

from jetscale.physics.kinematics import E, ETA, PHI, PT
from jetscale.models.particle_features import EPS, wrap_phi

PAIR_FEATURES = ("ln_kt", "ln_z", "ln_delta_r", "ln_m2")  # order of the feature axis of `pair_features`


def pair_features(constituents: torch.Tensor, mask: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """[B, 4, C, C] (ln kT, ln z, ln ΔR, ln m²) for constituents [B, C, 4] (pT, η, φ, E) and mask [B, C]."""
    c = constituents.double()
    pt, eta, phi, energy = c[..., PT], c[..., ETA], c[..., PHI], c[..., E]  # each [B, C]
    # a: rows (unsqueeze(-1)), b: columns (unsqueeze(-2)); every pair tensor is [B, C, C]
    delta_r = torch.hypot(eta.unsqueeze(-1) - eta.unsqueeze(-2), wrap_phi(phi.unsqueeze(-1) - phi.unsqueeze(-2)))
    pt_min = torch.minimum(pt.unsqueeze(-1), pt.unsqueeze(-2))
    pt_sum = pt.unsqueeze(-1) + pt.unsqueeze(-2)
    kt = pt_min * delta_r
    z = pt_min / pt_sum.clamp(min=eps)
    px, py, pz = pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)  # [B, C]
    m2 = (energy.unsqueeze(-1) + energy.unsqueeze(-2)) ** 2 - sum(
        (p.unsqueeze(-1) + p.unsqueeze(-2)) ** 2 for p in (px, py, pz))
    features = torch.stack([torch.log(x.clamp(min=eps)) for x in (kt, z, delta_r, m2)], dim=1)  # [B, 4, C, C]
    real_pair = (mask.unsqueeze(-1) & mask.unsqueeze(-2)).unsqueeze(1)  # [B, 1, C, C]
    return torch.where(real_pair, features, 0.0).to(constituents.dtype)
