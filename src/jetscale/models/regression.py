"""LightningModule wrapping a plain regression component with a ridge penalty.

The objective is the toy model's: (1/B) Σ (y − ŷ)² + λ‖v‖².  Its gradient in v
is the MSE gradient plus 2λv, so the optimizer runs with weight decay 2λ on the
readout ("weight decay = ridge"); full-batch training converges to the
closed-form solution of ``jetscale.models.ridge``.

``net_inputs``, ``objective`` and ``make_optimizer`` are the whole training
recipe, so the packed ensemble (:mod:`jetscale.packed`) trains exactly what
``training_step`` trains.
"""

from __future__ import annotations

from functools import partial

import lightning as L
import torch
from torch import nn

from jetscale.models.step_logging import log_training_loss


class RegressionModule(L.LightningModule):
    def __init__(self, net: nn.Module, ridge: float, optimizer: partial, name: str = "regression"):
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer"])  # plain values only: checkpoints load weights_only
        self.net, self.ridge, self.optimizer_factory, self.name = net, ridge, optimizer, name

    def prepare(self, datamodule) -> None:
        """Nothing data-dependent to set up (see ``JetClassifier.prepare``)."""

    def net_inputs(self, batch) -> tuple[torch.Tensor, ...]:
        x, _ = batch
        return (x,)

    def objective(self, prediction: torch.Tensor, batch) -> torch.Tensor:
        _, y = batch
        return torch.mean((prediction - y) ** 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        mse = self.objective(self.net(*self.net_inputs(batch)), batch)
        log_training_loss(self, "train_mse", mse)
        return mse

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        return self.optimizer_factory(params, weight_decay=2 * self.ridge)

    def configure_optimizers(self):
        return self.make_optimizer(self.net.parameters())
