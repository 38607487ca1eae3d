"""How long a run's training loop took, over every attempt of it, and on which device (for :mod:`jetscale.throughput`).

:class:`TrainTimer` times the steps of a Lightning fit (``on_train_start`` → ``on_train_end``, validation excluded,
the device synchronised at each end) and saves ``{seconds, steps}`` in every checkpoint. A resumed run adds the
checkpoint's totals to its own: time after the last checkpoint of a killed attempt is lost with the steps done
in it, which the resumed attempt redoes and counts, so a step is never counted twice (docs/gpu.md#precision-and-mfu).
"""

from __future__ import annotations

import os
import time

import lightning as L
import torch

HIERARCHY_ENV = "ZE_FLAT_DEVICE_HIERARCHY"  # Level Zero: FLAT (default) exposes each GPU tile as a device
TILE_SUFFIX = " (tile)"


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "xpu":
        torch.xpu.synchronize(device)


def device_name(device: torch.device, environ=os.environ) -> str:
    """``cpu``, the CUDA device's name (``NVIDIA H200``), or the XPU's with `` (tile)`` appended when Level Zero
    exposes tiles as devices (``ZE_FLAT_DEVICE_HIERARCHY`` FLAT or unset; COMPOSITE: the whole GPU)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "xpu":
        name = torch.xpu.get_device_name(device)
        hierarchy = environ.get(HIERARCHY_ENV, "FLAT").upper()
        return name + TILE_SUFFIX if hierarchy == "FLAT" else name if hierarchy == "COMPOSITE" else \
            f"{name} ({HIERARCHY_ENV}={hierarchy})"
    return device.type


class TrainTimer(L.Callback):
    """Seconds and steps of the training loop (validation excluded), carried across resumes by the checkpoints."""

    def __init__(self):
        self.seconds_before, self.steps_before = 0.0, 0  # earlier attempts, up to the resumed checkpoint
        self._trainer: L.Trainer | None = None
        self._device = torch.device("cpu")
        self._started: float | None = None  # perf_counter() when this attempt's clock last (re)started
        self._seconds = 0.0                 # this attempt's timed seconds before _started
        self._first_step = 0
        self._validating = False

    def _clock(self) -> float:
        if self._started is None:
            return self._seconds
        synchronize(self._device)
        return self._seconds + time.perf_counter() - self._started

    def _pause(self) -> None:
        self._seconds, self._started = self._clock(), None

    def _resume(self) -> None:
        synchronize(self._device)
        self._started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.seconds_before + self._clock()

    @property
    def steps(self) -> int:
        done = self._trainer.global_step - self._first_step if self._trainer is not None else 0
        return self.steps_before + done

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._trainer, self._device, self._first_step = trainer, pl_module.device, trainer.global_step
        self._resume()

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._validating = self._started is not None  # a validation inside the timed loop
        if self._validating:
            self._pause()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._validating:
            self._validating = False
            self._resume()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause()

    def state_dict(self) -> dict:
        return {"seconds": self.seconds, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.seconds_before, self.steps_before = float(state["seconds"]), int(state["steps"])
