"""Training-loss logging that costs nothing on the steps the logger does not write.

``LightningModule.log`` costs about 0.5 ms a call on CPU (Lightning's result
bookkeeping), a few per cent of a small model's step. The CSV/W&B loggers only
write every ``trainer.log_every_n_steps`` steps, at the steps where
``(global_step + 1) % log_every_n_steps == 0``, so the loss is handed to
Lightning on those steps only; what is written is unchanged.
"""

from __future__ import annotations

import lightning as L
import torch


def log_training_loss(module: L.LightningModule, name: str, loss: torch.Tensor) -> None:
    trainer = module.trainer
    if (trainer.global_step + 1) % max(1, trainer.log_every_n_steps) == 0:
        module.log(name, loss, on_step=True, on_epoch=False)
