"""Evaluating a trained component: eval mode and no gradients, restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def evaluation(net: nn.Module) -> Iterator[nn.Module]:
    """``net`` in eval mode under ``torch.no_grad()`` for the block; its training flag is restored after,
    also when the block raises."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            yield net
    finally:
        net.train(was_training)
