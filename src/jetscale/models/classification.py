"""LightningModule wrapping a plain jet-classifier component (EFP models, PFN, Particle Transformer).

The component maps the batch entries named by ``inputs`` (``constituents`` [B, C, 4]
and ``mask`` [B, C] for particle models, ``efp`` [B, d] for EFP models) to
logits [B]; the loss is binary cross-entropy with logits against ``label``
(1 = top), the scaling-law loss of the jet task.  Training logs ``train_bce``;
``validation_step`` logs ``val_loss``, the BCE of the whole validation split
(:mod:`jetscale.models.lightning_base`, which holds the rest of the recipe).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from jetscale.models.lightning_base import ValidatedRecipe

PARTICLE_INPUTS = ("constituents", "mask")


class JetClassifier(ValidatedRecipe):
    train_loss_name = "train_bce"

    def __init__(self, net: nn.Module, optimizer: partial, name: str = "classifier",
                 inputs: Sequence[str] = PARTICLE_INPUTS):
        inputs = tuple(inputs)  # a plain tuple, not Hydra's ListConfig, is what the checkpoint records
        super().__init__(net, optimizer, name)
        self.inputs = inputs

    def prepare(self, datamodule) -> None:
        """Data-dependent setup that is not trained, identical for every run of a point: the EFP models'
        input standardisation (``datamodule.feature_moments()``), and the particle models' padded length
        C for their FLOP count (``datamodule.n_particles``), where both sides have them."""
        moments = getattr(datamodule, "feature_moments", None)
        if moments is not None and hasattr(self.net, "set_standardization"):
            self.net.set_standardization(*moments())
        if hasattr(self.net, "n_particles") and hasattr(datamodule, "n_particles"):
            self.net.n_particles = datamodule.n_particles

    def setup(self, stage: str) -> None:
        if self.trainer is not None and self.trainer.datamodule is not None:
            self.prepare(self.trainer.datamodule)

    def net_inputs(self, batch: dict) -> tuple[torch.Tensor, ...]:
        return tuple(batch[key] for key in self.inputs)

    def objective(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, batch["label"])

    def batch_size_of(self, batch: dict) -> int:
        return len(batch["label"])

    def forward(self, batch: dict) -> torch.Tensor:
        return self.net(*self.net_inputs(batch))  # [B]
