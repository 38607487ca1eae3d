"""This host's processes as /proc shows them: who they are, where they run, who started them (Linux only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Process:
    pid: int
    argv: tuple[str, ...]
    cwd: str | None  # None: not readable (another user's process)


def is_snakemake(argv: tuple[str, ...]) -> bool:
    """``snakemake ...``, ``python .../bin/snakemake ...`` or ``python -m snakemake ...``."""
    if not argv:
        return False
    if Path(argv[0]).name == "snakemake":
        return True
    if not Path(argv[0]).name.startswith("python"):
        return False
    return (len(argv) > 1 and Path(argv[1]).name == "snakemake") or tuple(argv[1:3]) == ("-m", "snakemake")


def read_process(pid: int, proc: Path = PROC) -> Process | None:
    """argv and working directory of ``pid``; None when it is gone or not ours to read."""
    entry = proc / str(pid)
    try:
        argv = tuple(a for a in (entry / "cmdline").read_bytes().decode(errors="replace").split("\0") if a)
    except OSError:
        return None
    try:
        cwd = os.readlink(entry / "cwd")
    except OSError:
        cwd = None
    return Process(pid, argv, cwd) if argv else None


def scan_processes(proc: Path = PROC) -> list[Process]:
    """Every readable process on this host but this one."""
    found = (read_process(int(e.name), proc) for e in proc.iterdir() if e.name.isdigit() and int(e.name) != os.getpid())
    return [p for p in found if p is not None]


def _stat_field(pid: int, index: int, proc: Path) -> int | None:
    """Field ``index`` of ``/proc/<pid>/stat`` counted after "pid (comm)" (0: state, 1: ppid, 19: start time);
    None when the process is gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[index])


def parent_pid(pid: int, proc: Path = PROC) -> int | None:
    """The parent of ``pid`` (None when it is gone)."""
    return _stat_field(pid, 1, proc)


def start_time(pid: int, proc: Path = PROC) -> int | None:
    """``pid``'s start time in clock ticks since boot (with the PID, it names one process for good)."""
    return _stat_field(pid, 19, proc)


def nearest_snakemake(pid: int | None = None, proc: Path = PROC) -> Process | None:
    """The closest ancestor of ``pid`` (default: this process) that is a Snakemake, or None."""
    current = parent_pid(os.getpid() if pid is None else pid, proc)
    while current and current > 1:
        process = read_process(current, proc)
        if process is not None and is_snakemake(process.argv):
            return process
        current = parent_pid(current, proc)
    return None
