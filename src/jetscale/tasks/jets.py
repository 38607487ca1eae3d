"""The ``jets`` task: top-vs-QCD taggers on the jets of :class:`~jetscale.data.jet_dataset.JetDataModule`
(particle items, or EFP items of :class:`~jetscale.data.efp_dataset.EFPDataModule`)."""

from __future__ import annotations

import numpy as np
import torch

from jetscale.metrics import classification_metrics
from jetscale.models.inference import evaluation


def predict(net, datamodule, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Logits of ``net`` (in eval mode) and labels of ``split``, in item order: float64 [n], int64 [n]."""
    logits, labels = [], []
    with evaluation(net):
        for batch in datamodule.ordered_loader(split):
            batch = datamodule.on_after_batch_transfer(batch, 0)  # what a Trainer's loops apply
            logits.append(net(*(batch[key] for key in datamodule.inputs)))
            labels.append(batch["label"])
    return torch.cat(logits).double().numpy(), torch.cat(labels).numpy().astype(np.int64)


def evaluate(net, datamodule) -> dict[str, float]:
    """Tagger metrics of ``net`` on the test split: ``test_loss`` is the BCE (see jetscale.metrics)."""
    metrics = classification_metrics(*predict(net, datamodule, "test"))
    return {"test_loss": metrics.pop("bce"), **metrics}


def theory_loss(datamodule, width: int, ridge: float) -> None:
    """Jets have no closed-form theory: the table's ``theory_loss`` stays empty."""
    return None
