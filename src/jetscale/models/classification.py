"""LightningModule wrapping a plain jet-classifier component (EFP models, PFN, Particle Transformer).

The component maps the batch entries named by ``inputs`` (``constituents`` [B, C, 4]
and ``mask`` [B, C] for particle models, ``efp`` [B, d] for EFP models) to
logits [B]; the loss is binary cross-entropy with logits against ``label``
(1 = top), the scaling-law loss of the jet task.

``net_inputs`` and ``objective`` are the whole training recipe, so the packed
ensemble (:mod:`jetscale.packed`) trains exactly what ``training_step`` trains.
``validation_step`` logs ``val_loss``, the mean BCE over the validation split
(weighted by batch size, so it is the BCE of the whole split), which
:func:`jetscale.train.fit_lightning`'s early stopping monitors.  Every rank
reads the whole split, so every rank logs the same value.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

from jetscale.models.step_logging import log_training_loss

PARTICLE_INPUTS = ("constituents", "mask")


class JetClassifier(L.LightningModule):
    def __init__(self, net: nn.Module, optimizer: partial, name: str = "classifier",
                 inputs: Sequence[str] = PARTICLE_INPUTS):
        super().__init__()
        inputs = tuple(inputs)  # a plain tuple, not Hydra's ListConfig, is what the checkpoint records
        self.save_hyperparameters(ignore=["net", "optimizer"])  # plain values only: checkpoints load weights_only
        self.net, self.optimizer_factory, self.name, self.inputs = net, optimizer, name, inputs

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

    def forward(self, batch: dict) -> torch.Tensor:
        return self.net(*self.net_inputs(batch))  # [B]

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.objective(self(batch), batch)
        log_training_loss(self, "train_bce", loss)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss = self.objective(self(batch), batch)
        self.log("val_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["label"]), sync_dist=True)

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        return self.optimizer_factory(params)

    def configure_optimizers(self):
        return self.make_optimizer(self.net.parameters())
