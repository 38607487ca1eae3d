"""Who does which shard: MPI rank/size under ``mpiexec``/``srun``, else one process doing them all.

Shared by every MPI-aware command (``jetscale generate``, ``jetscale spectrum``).
mpi4py is imported (which initialises MPI) only when a launcher's environment
variables say this process is an MPI rank, so a plain or Snakemake-launched
command never touches MPI.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Set by MPICH/Hydra, Intel MPI, Slurm's PMI-2 (PMI_*), Open MPI (OMPI_*), MVAPICH (MV2_*) and PMIx launchers.
MPI_ENV_VARS = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_RANK")
POLL_S = 0.05  # waiting ranks sleep between polls instead of spinning a core


MPI_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def launched_by_mpi(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this process is one of several MPI ranks. A world of one needs no MPI, and must not
    touch it: Snakemake's Slurm plugin runs each job as ``srun -n1 ... snakemake``, whose PMI
    variables (PMI_SIZE=1, PMI_FD) reach the rule's command without the PMI socket, so MPI_Init fails."""
    if any(environ.get(name, "").strip() == "1" for name in MPI_SIZE_VARS):
        return False
    return any(name in environ for name in MPI_ENV_VARS)


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    size: int = 1
    comm: Any = None  # mpi4py communicator, or None without MPI

    def share(self, items: list) -> list:
        """This rank's items: rank r of K takes items r, r + K, r + 2K, ..."""
        return list(items)[self.rank :: self.size]

    def all_succeeded(self, ok: bool) -> bool:
        """Wait for every rank (sleeping, not spinning) and tell whether all of them succeeded."""
        if self.comm is None:
            return ok
        request = self.comm.Ibarrier()
        while not request.Test():
            time.sleep(POLL_S)
        return bool(self.comm.allreduce(int(ok), op=_mpi().MIN))


def _mpi():
    from mpi4py import MPI

    return MPI


def current_ranks(environ: Mapping[str, str] = os.environ) -> Ranks:
    """MPI_COMM_WORLD's rank and size when launched by MPI, else rank 0 of 1."""
    if not launched_by_mpi(environ):
        return Ranks()
    comm = _mpi().COMM_WORLD
    return Ranks(rank=comm.Get_rank(), size=comm.Get_size(), comm=comm)
