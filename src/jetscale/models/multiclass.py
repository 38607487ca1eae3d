"""LightningModule for n-class classifiers: :class:`JetClassifier`'s recipe with a cross-entropy objective.

Batches are dicts holding the net's inputs (the entries named by ``inputs``,
e.g. ``leaves`` float [B, T, v] of :mod:`jetscale.data.rhm_dataset`) and
``label`` int64 [B] in [0, n_classes); the net returns logits [B, n_classes]
and the objective is their mean cross-entropy (nats), the scaling-law loss of
multi-class tasks.  Training logs ``train_ce``; ``validation_step`` (inherited)
logs ``val_loss``, the validation cross-entropy.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from jetscale.models.classification import JetClassifier


class MultiClassifier(JetClassifier):
    train_loss_name = "train_ce"

    def __init__(self, net: nn.Module, optimizer: partial, name: str = "multiclass",
                 inputs: Sequence[str] = ("leaves",)):
        super().__init__(net, optimizer, name=name, inputs=inputs)

    def objective(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        return F.cross_entropy(logits, batch["label"])
