"""LightningModule wrapping a plain regression component with a ridge penalty.

The objective is the toy model's: (1/B) Σ (y − ŷ)² + λ‖v‖².  Its gradient in v
is the MSE gradient plus 2λv, so the optimizer runs with weight decay 2λ on the
readout ("weight decay = ridge"); full-batch training converges to the
closed-form solution of ``jetscale.models.ridge``.  Batches are (x [B, ...], y [B]);
training logs ``train_mse``.

The rest of the recipe is :class:`~jetscale.models.lightning_base.LightningRecipe`'s.
There is no ``validation_step`` (the toy task has no validation split);
:class:`~jetscale.models.feature_regression.FeatureRegression` adds one.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from jetscale.models.lightning_base import LightningRecipe


class RegressionModule(LightningRecipe):
    train_loss_name = "train_mse"

    def __init__(self, net: nn.Module, ridge: float, optimizer: partial, name: str = "regression"):
        super().__init__(net, optimizer, name)
        self.ridge = ridge

    def net_inputs(self, batch) -> tuple[torch.Tensor, ...]:
        x, _ = batch
        return (x,)

    def objective(self, prediction: torch.Tensor, batch) -> torch.Tensor:
        _, y = batch
        return torch.mean((prediction - y) ** 2)

    def batch_size_of(self, batch) -> int:
        return len(batch[1])

    def optimizer_options(self) -> dict:
        return {"weight_decay": 2 * self.ridge}
