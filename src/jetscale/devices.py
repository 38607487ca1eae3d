"""Which devices a gradient point trains on: ``trainer.accelerator`` checked against what the job was given.

* ``cpu``, ``gpu``/``cuda``, ``auto``: Lightning's own choice, except that ``auto`` on a machine with Intel
  GPUs and no CUDA device means ``xpu`` (Lightning's ``auto`` would train on the CPU there).
* ``xpu``: :mod:`jetscale.xpu`'s accelerator, with the DDP strategy ``ddp_xpu`` for more than one process
  (``strategy: auto`` or ``ddp``) and one device otherwise.
* A scheduler job (Slurm, PBS) that sees GPUs but would train on the CPU stops before any work
  (:func:`idle_devices_error`), naming the setting to use: on a cluster the GPUs are charged either way.
  ``allow_idle_accelerators=true`` trains on the CPU on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from jetscale.launch import LaunchError


@dataclass(frozen=True)
class Visible:
    """Accelerator devices this process sees."""

    cuda: int = 0
    xpu: int = 0


def visible_devices() -> Visible:
    import torch

    from jetscale.xpu import xpu_count

    return Visible(cuda=torch.cuda.device_count(), xpu=xpu_count())


def scheduler_job(environ: Mapping[str, str] = os.environ) -> str | None:
    """``Slurm job 123`` / ``PBS job 45.server`` when this process runs inside a batch job, else None."""
    if environ.get("SLURM_JOB_ID"):
        return f"Slurm job {environ['SLURM_JOB_ID']}"
    if environ.get("PBS_JOBID"):
        return f"PBS job {environ['PBS_JOBID']}"
    return None


def idle_devices_error(accelerator: str, visible: Visible, environ: Mapping[str, str] = os.environ) -> str | None:
    """Why a job must not train on the CPU (None: it may): it runs under a scheduler and sees GPUs."""
    job = scheduler_job(environ)
    if job is None or str(accelerator) != "cpu" or not (visible.cuda or visible.xpu):
        return None
    kind, setting = (("NVIDIA GPU(s)", "gpu") if visible.cuda else ("Intel GPU tile(s)", "xpu"))
    count = visible.cuda or visible.xpu
    return (f"{job} sees {count} {kind}, but trainer.accelerator=cpu would leave them idle while the allocation is "
            f"charged. Set trainer.accelerator={setting} (a cluster profile sets `accelerator: {setting}` in its "
            "workflow.yaml for every gradient point; a sweep's own trainer.accelerator wins), or "
            "allow_idle_accelerators=true to train on the CPU on purpose")


def device_settings(trainer_cfg, layout: dict, visible: Visible, environ: Mapping[str, str] = os.environ,
                    allow_idle: bool = False) -> dict:
    """``accelerator``, ``strategy`` and ``devices`` for ``lightning.Trainer``, on top of ``layout``
    (:func:`jetscale.launch.trainer_settings`: ``devices``, ``num_nodes``). ``devices: auto`` without a launcher is
    one device (Lightning's ``auto`` would take every GPU). LaunchError for an XPU request on a machine without
    XPUs, or a scheduler job that would leave its GPUs idle."""
    accelerator = str(trainer_cfg.accelerator)
    if accelerator == "auto" and visible.xpu and not visible.cuda:
        accelerator = "xpu"
    if not allow_idle:
        problem = idle_devices_error(accelerator, visible, environ)
        if problem:
            raise LaunchError(problem)
    from jetscale.xpu import register

    register()  # also `trainer.strategy=ddp_xpu` on other devices (tests run its code path on CPU over gloo)
    devices = 1 if layout["devices"] == "auto" else layout["devices"]
    if accelerator != "xpu":
        return {"devices": devices}
    from lightning.pytorch.strategies import SingleDeviceStrategy

    from jetscale.xpu import DDP_NAME, parse_xpu_ids

    if not visible.xpu:
        import torch

        raise LaunchError(f"trainer.accelerator=xpu, but torch {torch.__version__} sees no XPU device (Aurora: "
                          "`module load frameworks` for an XPU build of torch; ZE_AFFINITY_MASK may hide the tiles)")
    ids = parse_xpu_ids(devices, visible.xpu)
    strategy = trainer_cfg.strategy
    if strategy in ("auto", "ddp"):
        processes = len(ids) * int(layout["num_nodes"])
        strategy = DDP_NAME if processes > 1 else SingleDeviceStrategy(device=f"xpu:{ids[0]}")
    return {"accelerator": "xpu", "strategy": strategy, "devices": devices}
