"""LightningModule wrapping a plain regression component with a ridge penalty.

The objective is the toy model's: (1/B) Σ (y − ŷ)² + λ‖v‖².  Its gradient in v
is the MSE gradient plus 2λv, so the optimizer runs with weight decay 2λ on the
readout ("weight decay = ridge"); full-batch training converges to the
closed-form solution of ``jetscale.models.ridge``.
"""

from __future__ import annotations

from functools import partial

import lightning as L
import torch
from torch import nn


class RegressionModule(L.LightningModule):
    def __init__(self, net: nn.Module, ridge: float, optimizer: partial, name: str = "regression"):
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer"])  # plain values only: checkpoints load weights_only
        self.net, self.ridge, self.optimizer_factory, self.name = net, ridge, optimizer, name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        mse = torch.mean((self(x) - y) ** 2)
        self.log("train_mse", mse, prog_bar=True, on_step=True, on_epoch=False)
        return mse

    def configure_optimizers(self):
        return self.optimizer_factory(self.net.parameters(), weight_decay=2 * self.ridge)
