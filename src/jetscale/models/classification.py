"""LightningModule wrapping a plain jet-classifier component (PFN, Particle Transformer).

The component maps a batch's ``constituents`` [B, C, 4] and ``mask`` [B, C] to
logits [B]; the loss is binary cross-entropy with logits against ``label``
(1 = top), the scaling-law loss of the jet task.
"""

from __future__ import annotations

from functools import partial

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F


class JetClassifier(L.LightningModule):
    def __init__(self, net: nn.Module, optimizer: partial, name: str = "classifier"):
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer"])  # plain values only: checkpoints load weights_only
        self.net, self.optimizer_factory, self.name = net, optimizer, name

    def forward(self, batch: dict) -> torch.Tensor:
        return self.net(batch["constituents"], batch["mask"])  # [B]

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = F.binary_cross_entropy_with_logits(self(batch), batch["label"])
        self.log("train_bce", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def configure_optimizers(self):
        return self.optimizer_factory(self.net.parameters())
