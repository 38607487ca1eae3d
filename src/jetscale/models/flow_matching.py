"""Conditional flow matching: a velocity-field MLP (:class:`VelocityField`, no Lightning) and its LightningModule.

Batches are ``(x1 [B, d], x0 [B, d], t [B])``, noise and times drawn by the datamodule, so the forward
pass has no randomness. The loss is the mean over batch and components of
‖v_θ(x_t, t) − (x₁ − x₀)‖² on the linear path x_t = (1 − t)·x₀ + t·x₁ (its minimum is positive);
:meth:`VelocityField.sample` integrates with the explicit midpoint rule.
Objective, network, FLOPs: docs/tasks.md#the-model.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from jetscale.models.efp_models import count_params, mlp
from jetscale.models.flops import mlp_train_flops
from jetscale.models.lightning_base import ValidatedRecipe


class VelocityField(nn.Module):
    """v_θ(x [B, d], t [B]) → [B, d] (docs/tasks.md#the-model) for events of ``n_particles`` particles with
    ``components`` numbers each: d = n_particles · components."""

    def __init__(self, n_particles: int, width: int, depth: int, components: int = 3, n_frequencies: int = 4):
        super().__init__()
        sizes = {"n_particles": n_particles, "width": width, "depth": depth, "components": components,
                 "n_frequencies": n_frequencies}
        bad = {key: value for key, value in sizes.items() if value < 1}
        if bad:
            raise ValueError(f"VelocityField sizes must be >= 1, got {bad}")
        self.dim, self.width, self.depth = n_particles * components, width, depth
        dim = self.dim
        self.register_buffer("frequencies", math.pi * 2.0 ** torch.arange(n_frequencies))  # [F]
        self.sizes = [dim + 2 * n_frequencies] + [width] * depth + [dim]
        self.net = mlp(self.sizes)

    def time_features(self, t: torch.Tensor) -> torch.Tensor:
        """τ(t): [B] → [B, 2F]."""
        angle = t[..., None] * self.frequencies  # [B, F]
        return torch.cat([torch.sin(angle), torch.cos(angle)], -1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, self.time_features(t.to(x.dtype))], -1))  # [B, d]

    @property
    def n_params(self) -> int:
        return count_params(self)

    def train_flops_per_sample(self) -> float:
        """Analytic forward + backward FLOPs per training sample (docs/tasks.md#the-model)."""
        return float(mlp_train_flops(1, self.sizes))

    @torch.no_grad()
    def sample(self, n: int, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples [n, d]: midpoint-rule integration of the flow from N(0, I) in ``steps`` steps."""
        if n < 0 or steps < 1:
            raise ValueError(f"need n >= 0 and steps >= 1, got n={n}, steps={steps}")
        reference = self.frequencies
        x = torch.randn(n, self.dim, generator=generator, dtype=reference.dtype).to(reference.device)
        h = 1.0 / steps
        for k in range(steps):
            t = torch.full((n,), k * h, dtype=x.dtype, device=x.device)
            half = x + 0.5 * h * self(x, t)
            x = x + h * self(half, t + 0.5 * h)
        return x


def path_inputs(batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t = (1 − t) x₀ + t x₁, t) of a batch (x1, x0, t)."""
    x1, x0, t = batch
    return (1 - t[..., None]) * x0 + t[..., None] * x1, t


def velocity_mse(velocity: torch.Tensor, batch) -> torch.Tensor:
    """Mean over batch and components of (v − (x₁ − x₀))²."""
    x1, x0, _ = batch
    return torch.mean((velocity - (x1 - x0)) ** 2)


def flow_matching_loss(net: nn.Module, batch) -> torch.Tensor:
    """The flow-matching objective of ``net`` on a batch (x1, x0, t)."""
    return velocity_mse(net(*path_inputs(batch)), batch)


class FlowMatching(ValidatedRecipe):
    """Trains a :class:`VelocityField` ``net`` by conditional flow matching (docs/tasks.md#the-model): the recipe of
    :mod:`jetscale.models.lightning_base` with no weight decay; training logs ``train_loss``."""

    def __init__(self, net: nn.Module, optimizer: partial, name: str = "flow_matching"):
        super().__init__(net, optimizer, name)

    def prepare(self, datamodule) -> None:
        """Nothing to set up; checks that the data's events have the net's dimension."""
        dim = getattr(datamodule, "dim", self.net.dim)
        if dim != self.net.dim:
            raise ValueError(f"the data's events have {dim} components but the velocity field takes "
                             f"{self.net.dim}: set model.net.n_particles to data.n_particles")

    def net_inputs(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        return path_inputs(batch)

    def objective(self, velocity: torch.Tensor, batch) -> torch.Tensor:
        return velocity_mse(velocity, batch)

    def batch_size_of(self, batch) -> int:
        return len(batch[0])
