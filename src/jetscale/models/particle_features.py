"""Per-particle input features of the constituent-based taggers (PFN, Particle Transformer).

From shard constituents (pT, η, φ, E) [B, C, 4] and the real-particle mask [B, C]:
features [B, C, 4] = (ln pT, ln E, Δη, Δφ) with Δη, Δφ measured from the pT-weighted
jet axis, η_J = Σ pT η / Σ pT and φ_J = arg Σ pT e^{iφ} (correct across φ = ±π),
Δφ wrapped into (−π, π]; padding rows are exactly zero.  pT and E in GeV.
"""

from __future__ import annotations

import math

import torch

from jetscale.physics.kinematics import E, ETA, PHI, PT

EPS = 1e-8  # floor of pT, E and ΣpT before logs and divisions


def wrap_phi(dphi: torch.Tensor) -> torch.Tensor:
    """Angle differences wrapped into (−π, π]."""
    return dphi - 2 * math.pi * torch.ceil((dphi - math.pi) / (2 * math.pi))


def relative_particle_features(constituents: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, C, 4] (ln pT, ln E, Δη, Δφ) relative to the pT-weighted jet axis; zero on padding."""
    pt, eta, phi, energy = (constituents[..., i] for i in (PT, ETA, PHI, E))  # each [B, C]
    weight = torch.where(mask, pt, torch.zeros_like(pt))  # [B, C]
    total = weight.sum(-1, keepdim=True).clamp(min=EPS)  # [B, 1]
    eta_axis = (weight * eta).sum(-1, keepdim=True) / total
    phi_axis = torch.atan2((weight * phi.sin()).sum(-1, keepdim=True), (weight * phi.cos()).sum(-1, keepdim=True))
    features = torch.stack([pt.clamp(min=EPS).log(), energy.clamp(min=EPS).log(),
                            eta - eta_axis, wrap_phi(phi - phi_axis)], dim=-1)
    return torch.where(mask.unsqueeze(-1), features, torch.zeros_like(features))
