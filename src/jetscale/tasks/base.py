"""The interface of a task: evaluate a trained net on its datamodule's data (a task module implements it)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Task(Protocol):
    """What ``jetscale train`` asks of a task once the net is trained; modules ``jetscale.tasks.<name>``
    implement it with plain functions (some also have ``predict``: the net's raw outputs on a split)."""

    def evaluate(self, net, datamodule) -> dict[str, float]:
        """Test metrics of ``net`` on ``datamodule``'s test split: ``test_loss`` (the scaling-law loss,
        the training objective on the test split) and other ``test_*`` floats."""

    def theory_loss(self, datamodule, width: int, ridge: float) -> float | None:
        """Predicted ``test_loss`` at this point, or None where the task has no theory (or it diverges)."""
