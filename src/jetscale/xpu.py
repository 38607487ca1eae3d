"""Intel GPUs (Aurora's Data Center GPU Max tiles) in Lightning: ``trainer.accelerator=xpu``.

Lightning (2.6) knows CUDA, MPS and XLA devices only.  torch >= 2.8 has ``torch.xpu`` and the
``xccl`` process-group backend, which Lightning already picks for ``xpu`` devices
(``torch.distributed.Backend.default_device_backend_map``); what it lacks is

* :class:`XPUAccelerator`: device parsing (``devices: 2``, ``[0, 3]``, ``"0,3"``, ``auto``/``-1``: all),
  ``torch.xpu.set_device`` and the device count;
* :class:`XPUDDPStrategy` (``ddp_xpu``): Lightning's DDP, which wraps the model under a
  ``torch.cuda.stream`` whenever it has device ids, wraps it under a ``torch.xpu`` stream instead.

:func:`register` puts both in Lightning's registries (``xpu``, ``ddp_xpu``); :mod:`jetscale.devices` calls it and
chooses the strategy.  With ``ZE_FLAT_DEVICE_HIERARCHY=FLAT`` (``envs/aurora.sh``) each tile is one device:
12 per Aurora node, rank r of a node on ``xpu:<r>``.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from lightning.pytorch.accelerators import Accelerator, AcceleratorRegistry
from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry
from lightning.pytorch.utilities.exceptions import MisconfigurationException

NAME = "xpu"
DDP_NAME = "ddp_xpu"


def xpu_count() -> int:
    """Devices ``torch.xpu`` sees (0 on a torch without XPU support)."""
    xpu = getattr(torch, "xpu", None)
    return xpu.device_count() if xpu is not None and xpu.is_available() else 0


def parse_xpu_ids(devices, available: int) -> list[int]:
    """``trainer.devices`` -> the XPU indices to use, out of ``available``.

    ``auto``/``-1``: all; an integer N: the first N; a list or ``"0,3"``: those. A request for more devices than
    exist, a duplicate or an index out of range is a :class:`MisconfigurationException` naming both."""
    if isinstance(devices, str):
        text = devices.strip()
        if text in ("auto", "-1"):
            devices = -1
        elif "," in text or text.startswith("["):
            devices = [int(part) for part in text.strip("[]").split(",") if part.strip()]
        elif text.lstrip("-").isdigit():
            devices = int(text)
        else:
            raise MisconfigurationException(f"trainer.devices={devices!r}: expected auto, -1, N, or a list of indices")
    if isinstance(devices, bool):
        raise MisconfigurationException(f"trainer.devices={devices!r}: expected auto, -1, N, or a list of indices")
    if isinstance(devices, int):
        if devices == -1:
            devices = available
        if devices < 1:
            raise MisconfigurationException(f"trainer.devices={devices}: an XPU run needs at least one device")
        if devices > available:
            raise MisconfigurationException(f"trainer.devices={devices} XPUs requested, {available} visible "
                                            "(ZE_AFFINITY_MASK and ZE_FLAT_DEVICE_HIERARCHY decide which)")
        return list(range(devices))
    ids = [int(i) for i in devices]
    if len(set(ids)) != len(ids):
        raise MisconfigurationException(f"trainer.devices={ids}: each XPU may be listed once")
    outside = [i for i in ids if not 0 <= i < available]
    if not ids or outside:
        raise MisconfigurationException(f"trainer.devices={ids}: XPU indices must lie in 0..{available - 1} "
                                        f"({available} visible)")
    return ids


class XPUAccelerator(Accelerator):
    """One Intel GPU device (a tile, with ``ZE_FLAT_DEVICE_HIERARCHY=FLAT``) per process."""

    def setup_device(self, device: torch.device) -> None:
        if device.type != NAME:
            raise MisconfigurationException(f"the XPU accelerator needs an xpu device, got {device}")
        torch.xpu.set_device(device)

    def get_device_stats(self, device) -> dict:
        return dict(torch.xpu.memory_stats(device))

    def teardown(self) -> None:
        if xpu_count():
            torch.xpu.empty_cache()

    @staticmethod
    def parse_devices(devices) -> list[int]:
        return parse_xpu_ids(devices, xpu_count())

    @staticmethod
    def get_parallel_devices(devices) -> list[torch.device]:
        return [torch.device(NAME, i) for i in devices]

    @staticmethod
    def auto_device_count() -> int:
        return xpu_count()

    @staticmethod
    def is_available() -> bool:
        return xpu_count() > 0

    @staticmethod
    def name() -> str:
        return NAME

    @classmethod
    def register_accelerators(cls, accelerator_registry) -> None:
        accelerator_registry.register(NAME, cls, description="Intel GPUs through torch.xpu (jetscale.xpu)")


class XPUDDPStrategy(DDPStrategy):
    """Lightning's DDP strategy with the model wrapped under an XPU stream (``xccl`` comes from the device)."""

    strategy_name = DDP_NAME

    def _setup_model(self, model):
        from torch.nn.parallel.distributed import DistributedDataParallel

        device_ids = self.determine_ddp_device_ids()
        on_xpu = device_ids is not None and self.root_device.type == NAME
        with torch.xpu.stream(torch.xpu.Stream()) if on_xpu else nullcontext():
            return DistributedDataParallel(module=model, device_ids=device_ids, **self._ddp_kwargs)

    @classmethod
    def register_strategies(cls, strategy_registry) -> None:
        strategy_registry.register(DDP_NAME, cls, description="DDP on Intel GPUs over xccl (jetscale.xpu)")


def register() -> None:
    """Make ``accelerator="xpu"`` and ``strategy="ddp_xpu"`` known to Lightning (again: a no-op)."""
    if NAME not in AcceleratorRegistry:
        XPUAccelerator.register_accelerators(AcceleratorRegistry)
    if DDP_NAME not in StrategyRegistry:
        XPUDDPStrategy.register_strategies(StrategyRegistry)
