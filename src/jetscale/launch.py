"""Which launcher started this ``jetscale train`` process, and the Trainer settings that follow from it.

The process layout comes from the launcher's environment (torchrun, srun, mpiexec, or none):
:func:`trainer_settings` fills ``trainer.devices`` (ranks per host) and ``trainer.num_nodes`` (hosts)
where they are ``auto``, and raises :class:`LaunchError`, naming what to set, where an explicit value
contradicts the launcher. Under mpiexec ``MASTER_ADDR``/``MASTER_PORT`` come from the job script or
are broadcast from rank 0. Launchers and how each is recognised: docs/clusters.md#distributed-training.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from lightning.fabric.plugins.environments.lightning import find_free_network_port
from lightning.pytorch.plugins.environments import MPIEnvironment as LightningMPIEnvironment
from lightning.pytorch.plugins.environments import LightningEnvironment, SLURMEnvironment, TorchElasticEnvironment

from jetscale.parallel import launched_by_mpi

AUTO = "auto"
LOCAL_SIZE_VARS = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "PALS_LOCAL_SIZE", "MV2_COMM_WORLD_LOCAL_SIZE")
WORLD_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


class LaunchError(ValueError):
    """The config contradicts the launcher's process layout."""


@dataclass(frozen=True)
class Launch:
    """Process layout given by the launcher: ``world_size`` = ``ranks_per_node`` × ``num_nodes``."""

    launcher: str = "none"  # none | torchrun | srun | mpiexec
    world_size: int = 1
    ranks_per_node: int = 1
    num_nodes: int = 1

    @property
    def external(self) -> bool:
        """True when the launcher, not Lightning, created the processes."""
        return self.launcher != "none"


def _layout(launcher: str, world_size: int, ranks_per_node: int) -> Launch:
    if world_size < 1 or ranks_per_node < 1 or world_size % ranks_per_node:
        raise LaunchError(f"{launcher}: {world_size} ranks cannot be split into hosts of {ranks_per_node} ranks "
                          "each; jetscale needs the same number of ranks on every host")
    return Launch(launcher, world_size, ranks_per_node, world_size // ranks_per_node)


def _first_int(environ: Mapping[str, str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if environ.get(name, "").strip().isdigit():
            return int(environ[name])
    return None


def is_srun_step(environ: Mapping[str, str] = os.environ) -> bool:
    tasks = environ.get("SLURM_STEP_NUM_TASKS", "1")
    return "SLURM_STEP_ID" in environ and "SLURM_PROCID" in environ and tasks.isdigit() and int(tasks) > 1


def _slurm_tasks_per_node(environ: Mapping[str, str]) -> int:
    """Tasks per node of this step: ``SLURM_STEP_TASKS_PER_NODE`` looks like ``4(x2)`` or ``4,4``."""
    raw = environ.get("SLURM_STEP_TASKS_PER_NODE") or environ.get("SLURM_TASKS_PER_NODE", "1")
    counts = {int(part.split("(")[0]) for part in raw.split(",")}
    if len(counts) != 1:
        raise LaunchError(f"srun: tasks per node differ between hosts ({raw}); jetscale needs the same number on "
                          "every host (use --ntasks-per-node)")
    return counts.pop()


def detect_launch(environ: Mapping[str, str] = os.environ, mpi_local_size=None) -> Launch:
    """The launcher and layout of this process, from its environment.

    ``mpi_local_size`` is called for the ranks per host under an MPI launcher
    that does not export them (default: an MPI shared-memory split).
    """
    if "TORCHELASTIC_RUN_ID" in environ:
        return _layout("torchrun", int(environ["WORLD_SIZE"]), int(environ["LOCAL_WORLD_SIZE"]))
    if is_srun_step(environ):
        return _layout("srun", int(environ["SLURM_STEP_NUM_TASKS"]), _slurm_tasks_per_node(environ))
    if launched_by_mpi(environ):
        world = _first_int(environ, WORLD_SIZE_VARS)
        local = _first_int(environ, LOCAL_SIZE_VARS)
        if world is None or local is None:
            world_from_mpi, local_from_mpi = (mpi_local_size or _mpi_sizes)()
            world, local = world or world_from_mpi, local or local_from_mpi
        if world > 1:
            return _layout("mpiexec", world, local)
    return Launch()


# Global rank variables of the launchers above, and the local rank Lightning gives the processes it starts.
RANK_VARS = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK", "LOCAL_RANK", "NODE_RANK")


def is_first_process(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this is the first process of its run (global rank 0; one process runs are their own first),
    known from the environment before any process group exists."""
    ranks = [environ[name] for name in RANK_VARS if environ.get(name, "").strip().isdigit()]
    if is_srun_step(environ):
        ranks.append(environ["SLURM_PROCID"])
    return all(int(rank) == 0 for rank in ranks)


def _mpi_sizes() -> tuple[int, int]:
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    return world.Get_size(), world.Split_type(MPI.COMM_TYPE_SHARED).Get_size()


def _resolve(key: str, configured, derived: int, launch: Launch) -> int:
    if configured in (None, AUTO):
        return derived
    if int(configured) != derived:
        raise LaunchError(
            f"trainer.{key}={configured} contradicts {launch.launcher}: {launch.world_size} ranks on "
            f"{launch.num_nodes} host(s), {launch.ranks_per_node} per host. Set trainer.devices={launch.ranks_per_node} "
            f"trainer.num_nodes={launch.num_nodes}, or leave both at auto")
    return derived


def trainer_settings(devices, num_nodes, launch: Launch) -> dict:
    """``devices``, ``num_nodes`` and ``plugins`` (the cluster environment) for ``lightning.Trainer``.

    Without a launcher, ``devices`` is passed on as configured (Lightning starts
    that many local processes for a DDP strategy) and ``num_nodes=auto`` means 1.
    """
    if not launch.external:
        if num_nodes not in (None, AUTO, 1, "1"):
            raise LaunchError(f"trainer.num_nodes={num_nodes} needs a launcher (srun, mpiexec or torchrun) that "
                              "starts the processes on every host; this process was started alone")
        # Lightning's own environment, stated rather than auto-detected: a job script that runs
        # `jetscale train` without srun must not be taken for a Slurm task.
        return {"devices": AUTO if devices is None else devices, "num_nodes": 1, "plugins": [LightningEnvironment()]}
    return {
        "devices": _resolve("devices", devices, launch.ranks_per_node, launch),
        "num_nodes": _resolve("num_nodes", num_nodes, launch.num_nodes, launch),
        "plugins": [cluster_environment(launch)],
    }


def cluster_environment(launch: Launch):
    """Lightning's cluster environment for an external launcher (chosen here, not auto-detected:
    an mpiexec inside a Slurm allocation must not be mistaken for srun)."""
    if launch.launcher == "torchrun":
        return TorchElasticEnvironment()
    if launch.launcher == "srun":
        return SLURMEnvironment(auto_requeue=False)
    return MPIEnvironment()


class MPIEnvironment(LightningMPIEnvironment):
    """Lightning's MPI environment, except that a job script's ``MASTER_ADDR``/``MASTER_PORT`` (rank 0's)
    win over rank 0's host name and a free port; either way rank 0's choice is broadcast."""

    def _get_main_address(self) -> str:
        return self._comm_world.bcast(os.environ.get("MASTER_ADDR") or socket.gethostname(), root=0)

    def _get_main_port(self) -> int:
        port = os.environ.get("MASTER_PORT")
        return self._comm_world.bcast(int(port) if port else find_free_network_port(), root=0)
