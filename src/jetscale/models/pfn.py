"""Particle Flow Network (Deep Sets; Komiske, Metodiev, Thaler, arXiv:1810.05165).

logit = F( Σ_{i real} Φ(p_i) ): a per-particle MLP Φ maps each constituent's
features p_i to a latent vector of size ``width``, a masked sum pools them
(padding rows contribute exactly zero), and an MLP F maps the pooled latent
vector to one logit (BCE-with-logits, 1 = top).  The output is invariant under
permutations of the real particles and under adding zero-padded rows.

Per-particle features (:meth:`PFN.preprocess`, from the raw batch tensors):
p_i = (ln pT_i, ln E_i, Δη_i, Δφ_i) relative to the pT-weighted jet axis, as
defined once in :mod:`jetscale.models.particle_features` (shared with the
Particle Transformer).  Padding rows get p_i = 0 and are then masked out.
No Lightning here.

Layers: Φ sizes (4, w, …, w) with ``depth`` layers, ReLU after each (the latent
is ReLU'd, as in the paper); F sizes (w, w, …, w, 1) with ``depth`` hidden layers.
FLOPs per jet (see :mod:`jetscale.models.flops`): Φ runs on all C padded rows,
so train = C·[3·f_Φ − 8w] + 3·f_F with f_Φ = 8w + 2(depth−1)w² and
f_F = 2·depth·w² + 2w (the −8w: Φ's first layer needs no input gradient).
"""

from __future__ import annotations

import torch
from torch import nn

from jetscale.models.efp_models import count_params, mlp
from jetscale.models.flops import mlp_train_flops
from jetscale.models.particle_features import relative_particle_features
from jetscale.physics.kinematics import MAX_CONSTITUENTS

N_PARTICLE_FEATURES = 4  # (ln pT, ln E, Δη, Δφ): jetscale.models.particle_features


class PFN(nn.Module):
    """constituents [B, C, 4] = (pT, η, φ, E), mask bool [B, C] → logits [B]."""

    def __init__(self, width: int, depth: int, n_particles: int = MAX_CONSTITUENTS):
        super().__init__()
        if width < 1 or depth < 1:
            raise ValueError(f"need width >= 1 and depth >= 1, got {width}, {depth}")
        self.width, self.depth, self.n_particles = width, depth, n_particles
        self.phi_sizes = [N_PARTICLE_FEATURES] + [width] * depth
        self.f_sizes = [width] * (depth + 1) + [1]
        self.phi = mlp(self.phi_sizes, final_activation=True)
        self.f = mlp(self.f_sizes)

    @staticmethod
    def preprocess(constituents: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-particle features [B, C, 4] (ln pT, ln E, Δη, Δφ) from the jet axis; zero on padding."""
        return relative_particle_features(constituents, mask)

    def forward(self, constituents: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        p = self.preprocess(constituents, mask)  # [B, C, 4]
        latent = self.phi(p) * mask.unsqueeze(-1).to(p.dtype)  # [B, C, w], padding rows zeroed
        return self.f(latent.sum(1)).squeeze(-1)  # [B, w] -> [B, 1] -> [B]

    @property
    def n_params(self) -> int:
        """Trainable parameters of Φ and F: Σ_l (n_{l-1} + 1)·n_l over both MLPs."""
        return count_params(self)

    def train_flops_per_sample(self, n_particles: int | None = None) -> float:
        """Analytic forward + backward FLOPs per jet, Φ evaluated on ``n_particles`` rows.

        ``n_particles`` is the padded length C actually computed (real and padding
        rows alike); ``None`` means the constructor's ``n_particles`` (default
        ``MAX_CONSTITUENTS``).
        """
        rows = self.n_particles if n_particles is None else n_particles
        return float(mlp_train_flops(rows, self.phi_sizes) + mlp_train_flops(1, self.f_sizes, input_requires_grad=True))
