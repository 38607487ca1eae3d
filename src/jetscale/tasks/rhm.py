"""The ``rhm`` task: classify the root of a random hierarchy model's data (:mod:`jetscale.data.rhm_dataset`).

``test_loss`` = mean cross-entropy of the logits in nats (the training objective), ``test_error`` =
misclassification rate (chance: 1 - 1/n_c).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from jetscale.data.rhm_dataset import EVAL_BATCH
from jetscale.models.inference import evaluation


def predict(net, datamodule, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
    """Logits float [n, n_c] of ``net`` (in eval mode) and labels int64 [n] of ``split``."""
    leaves, labels = (torch.from_numpy(a) for a in datamodule.split_data(split))
    vocab = datamodule.grammar.v
    with evaluation(net):
        logits = torch.cat([net(F.one_hot(chunk, vocab).float()) for chunk in leaves.split(EVAL_BATCH)])
    return logits, labels


def evaluate(net, datamodule) -> dict[str, float]:
    """``test_loss``: mean cross-entropy (nats) on the test split; ``test_error``: misclassification rate."""
    logits, labels = predict(net, datamodule, "test")
    return {"test_loss": float(F.cross_entropy(logits.double(), labels)),
            "test_error": float((logits.argmax(1) != labels).double().mean())}


def theory_loss(datamodule, width: int, ridge: float) -> None:
    """No closed-form learning curve for the RHM: the table's ``theory_loss`` stays empty."""
    return None
