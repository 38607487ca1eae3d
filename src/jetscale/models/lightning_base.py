"""The training recipe every jetscale LightningModule shares, written once.

A module wraps a plain ``nn.Module`` ``net`` (no Lightning inside) and an optimizer factory
(``functools.partial`` of a ``torch.optim`` class, from Hydra's ``_partial_: true``).  A subclass
says only what differs between tasks:

* ``net_inputs(batch)`` -> the tuple the net is called with, and ``objective(output, batch)`` ->
  the scalar loss.  Together they are the whole recipe, so the packed ensemble
  (:mod:`jetscale.packed`) trains exactly what ``training_step`` trains.
* ``train_loss_name``: the name the training loss is logged under (``train_bce``, ``train_ce``,
  ``train_mse``; ``train_loss`` by default), every ``trainer.log_every_n_steps`` steps
  (:func:`~jetscale.models.step_logging.log_training_loss`).
* ``batch_size_of(batch)``: the number of items in a batch, which weights ``val_loss``.
* ``optimizer_options()``: extra keyword arguments of the optimizer (the ridge's weight decay);
  none by default, so the configured optimizer keeps its own defaults.

Hyperparameters are the concrete class's constructor arguments other than ``net`` and
``optimizer`` (plain values only, so checkpoints load with ``weights_only=True``).

:class:`ValidatedRecipe` adds ``validation_step``: it logs ``val_loss``, the objective on the
validation split, once per validation run and weighted by batch size (so it is the loss of the
whole split), which :func:`jetscale.train.fit_lightning`'s early stopping monitors.  Every rank
reads the whole split, so every rank logs the same value.  A module without it has no validation
(``jetscale.tasks.check_task`` refuses ``data.n_val > 0`` for it).
"""

from __future__ import annotations

import inspect
from functools import partial

import lightning as L
import torch
from torch import nn

from jetscale.models.step_logging import log_training_loss

NOT_HYPERPARAMETERS = ("self", "net", "optimizer")  # modules and factories: not plain values


class LightningRecipe(L.LightningModule):
    """Trains ``net`` on ``objective(net(*net_inputs(batch)), batch)`` with ``optimizer`` (module docstring)."""

    train_loss_name = "train_loss"

    def __init__(self, net: nn.Module, optimizer: partial, name: str):
        super().__init__()
        # Lightning reads the values from the constructors' frames; where two constructors share an
        # argument, the most derived one's value is kept.
        arguments = inspect.signature(type(self).__init__).parameters
        self.save_hyperparameters(*(key for key in arguments if key not in NOT_HYPERPARAMETERS))
        self.net, self.optimizer_factory, self.name = net, optimizer, name

    def prepare(self, datamodule) -> None:
        """Untrained, data-dependent setup of the net, called before training; nothing by default."""

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.net(*inputs)

    def loss(self, batch) -> torch.Tensor:
        return self.objective(self.net(*self.net_inputs(batch)), batch)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        log_training_loss(self, self.train_loss_name, loss)
        return loss

    def optimizer_options(self) -> dict:
        return {}

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        return self.optimizer_factory(params, **self.optimizer_options())

    def configure_optimizers(self):
        return self.make_optimizer(self.net.parameters())


class ValidatedRecipe(LightningRecipe):
    """:class:`LightningRecipe` that logs ``val_loss`` on the validation split (module docstring)."""

    def validation_step(self, batch, batch_idx: int) -> None:
        self.log("val_loss", self.loss(batch), on_step=False, on_epoch=True, batch_size=self.batch_size_of(batch),
                 sync_dist=True)
