"""Classifiers on a jet's EFP feature vector x [B, d] (d = 102 for degree ≤ 5).

Both models return one logit per jet (a BCE-with-logits score, 1 = top).
Standardisation is part of the module as fixed buffers: x̃ = (x − mean) / std,
set once from the training features by :meth:`set_standardization` (identity
until then); features with zero spread (e.g. the constant degree-0 EFP) get
std 1.  Inputs may be float64 (as EFPs are stored); they are cast to float32.
No Lightning here.

FLOPs per sample (see :mod:`jetscale.models.flops`; input needs no gradient):
``EFPLinear``: forward 2d, backward 2d (weights only) → 4d.
``EFPMLP``: sizes (d, w, …, w, 1) with ``depth`` hidden layers →
3·[2dw + 2(depth−1)w² + 2w] − 2dw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from jetscale.models.flops import mlp_train_flops


def mlp(sizes: Sequence[int], final_activation: bool = False) -> nn.Sequential:
    """Linear layers n_0 → n_1 → … → n_L with ReLU between them (and after the last if asked)."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2 or final_activation:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def feature_moments(mean, std, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and std (arrays or tensors) as float64 tensors of shape [size]; ValueError otherwise."""
    mean = torch.as_tensor(np.asarray(mean, dtype=np.float64))
    std = torch.as_tensor(np.asarray(std, dtype=np.float64))
    if mean.shape != (size,) or std.shape != (size,):
        raise ValueError(f"mean and std must have shape ({size},), got {tuple(mean.shape)}, {tuple(std.shape)}")
    return mean, std


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class EFPMLP(nn.Module):
    """``depth`` hidden layers of ``width`` with ReLU, then one logit: x [B, d] → logits [B]."""

    def __init__(self, n_features: int, width: int, depth: int):
        super().__init__()
        if n_features < 1 or width < 1 or depth < 0:
            raise ValueError(f"need n_features, width >= 1 and depth >= 0, got {n_features}, {width}, {depth}")
        self.n_features, self.width, self.depth = n_features, width, depth
        self.sizes = [n_features] + [width] * depth + [1]
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.net = mlp(self.sizes)

    def set_standardization(self, mean, std) -> None:
        """Fix x̃ = (x − mean) / std (arrays or tensors of shape [d]); std 0 is replaced by 1."""
        mean, std = feature_moments(mean, std, self.n_features)
        std = torch.where(std > 0, std, torch.ones_like(std))
        self.mean.copy_(mean.to(self.mean))
        self.std.copy_(std.to(self.std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.to(self.mean.dtype) - self.mean) / self.std  # [B, d]
        return self.net(x).squeeze(-1)  # [B, 1] -> [B]

    @property
    def n_params(self) -> int:
        """Trainable parameters: Σ_l (n_{l-1} + 1)·n_l; the standardisation buffers are not counted."""
        return count_params(self)

    def train_flops_per_sample(self, n_particles: int | None = None) -> float:
        """Analytic forward + backward FLOPs per jet (``n_particles`` is ignored: EFPs are fixed-size)."""
        return float(mlp_train_flops(1, self.sizes))


class EFPLinear(EFPMLP):
    """Logistic regression on standardised EFPs: one linear layer, x [B, d] → logits [B]."""

    def __init__(self, n_features: int):
        super().__init__(n_features, width=1, depth=0)
