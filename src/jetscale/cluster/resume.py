"""Resume a sweep whose Snakemake was killed (lost login session, SIGKILL, node reboot).

    jetscale resume --profile profiles/slurm [--directory DIR] [--cancel-orphans] [-- SNAKEMAKE_ARGS ...]

A killed Snakemake leaves its lock in ``<workdir>/.snakemake/locks``, so the next run
refuses to start until ``snakemake --unlock``; unlocking while another Snakemake is
still running there would let two of them write the same files.  ``jetscale resume``:

1. decides whether the lock is *stale* (:func:`lock_verdict`): it is when no Snakemake
   that takes locks (its cluster jobs run with ``--nolock`` and do not count) runs on
   this host with the workdir as its working directory.  A live one is named by PID
   and left alone: resume refuses.
2. looks for Slurm jobs of the killed run still queued or running (``squeue``: same
   user, same working directory; :func:`workdir_jobs`).  Nothing watches them, and a
   rerun would start their points a second time beside them, so resume refuses and
   names them, unless ``--cancel-orphans`` (``scancel``, then wait until they left
   the queue; a training point saves ``last.ckpt`` on the SIGTERM and resumes).
3. runs ``snakemake --unlock`` when the lock is stale, then
   ``snakemake --profile P --rerun-incomplete SNAKEMAKE_ARGS``: points whose
   ``metrics.json`` Snakemake recorded as finished are kept, the others rerun (a
   gradient point from its ``last.ckpt``).  Nothing is ever forced: ``--forceall``,
   ``--forcerun`` and the like are refused.

The process scan sees this host only: on a cluster with several login nodes, run
resume where the sweep ran (the Slurm check also catches a Snakemake elsewhere that is
still submitting: its jobs are in the queue).
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from jetscale.subcommand import run_alone

LOCK_DIR = Path(".snakemake") / "locks"
# Snakemake options that rerun finished points or delete results: never part of a resume.
FORCING_OPTIONS = ("-F", "--forceall", "-R", "--forcerun", "-f", "--force", "--delete-all-output",
                   "--delete-temp-output", "--touch", "-t")


class ResumeRefused(RuntimeError):
    """Resuming now could harm the sweep; the message says what to do instead."""


@dataclass(frozen=True)
class Process:
    pid: int
    argv: tuple[str, ...]
    cwd: str | None  # None: not readable (another user's process)


@dataclass(frozen=True)
class LockVerdict:
    state: str  # "unlocked" (no lock files) | "stale" (nobody holds them) | "held" (holders run)
    holders: tuple[int, ...] = ()


def is_snakemake(argv: tuple[str, ...]) -> bool:
    """``snakemake ...``, ``python .../bin/snakemake ...`` or ``python -m snakemake ...``."""
    if not argv:
        return False
    if Path(argv[0]).name == "snakemake":
        return True
    if not Path(argv[0]).name.startswith("python"):
        return False
    return (len(argv) > 1 and Path(argv[1]).name == "snakemake") or tuple(argv[1:3]) == ("-m", "snakemake")


def holds_lock(process: Process, workdir: Path) -> bool:
    """A Snakemake running in ``workdir`` that takes locks (not a ``--nolock`` job, not an ``--unlock``)."""
    return (process.cwd is not None and Path(process.cwd) == workdir and is_snakemake(process.argv)
            and "--nolock" not in process.argv and "--unlock" not in process.argv)


def lock_verdict(lock_files: list[str], workdir: Path, processes: list[Process]) -> LockVerdict:
    """Whether ``workdir``'s Snakemake lock is absent, stale or held (with the holders' PIDs)."""
    if not lock_files:
        return LockVerdict("unlocked")
    holders = tuple(sorted(p.pid for p in processes if holds_lock(p, workdir)))
    return LockVerdict("held", holders) if holders else LockVerdict("stale")


def workdir_jobs(squeue_output: str, workdir: Path) -> list[str]:
    """Job ids of ``squeue -h -o '%i|%Z'`` lines whose working directory is ``workdir``."""
    jobs = []
    for line in squeue_output.splitlines():
        job_id, sep, job_dir = line.strip().partition("|")
        if sep and Path(job_dir) == workdir:
            jobs.append(job_id)
    return jobs


def forcing_options(snakemake_args: list[str]) -> list[str]:
    """The arguments that would make Snakemake rerun finished points or delete results."""
    return [a for a in snakemake_args if a.split("=", 1)[0] in FORCING_OPTIONS]


# --- the edges: /proc, squeue/scancel, snakemake ---------------------------------------------

def scan_processes(proc: Path = Path("/proc")) -> list[Process]:
    """Every readable process on this host but this one: argv and working directory."""
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = tuple(a for a in (entry / "cmdline").read_bytes().decode(errors="replace").split("\0") if a)
        except OSError:  # gone meanwhile, or not ours to read
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            cwd = None
        if argv:
            found.append(Process(int(entry.name), argv, cwd))
    return found


def lock_files(workdir: Path) -> list[str]:
    locks = workdir / LOCK_DIR
    return sorted(p.name for p in locks.iterdir()) if locks.is_dir() else []


def queued_jobs(workdir: Path) -> list[str]:
    """This user's Slurm jobs (queued or running) whose working directory is ``workdir``; [] without Slurm."""
    if not shutil.which("squeue"):
        return []
    out = subprocess.run(["squeue", "-h", "-u", getpass.getuser(), "-o", "%i|%Z"], capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        raise ResumeRefused(f"squeue failed ({out.stderr.strip()}); cannot tell whether jobs of the interrupted "
                            "run are still queued")
    return workdir_jobs(out.stdout, workdir)


def cancel_jobs(jobs: list[str], workdir: Path, timeout_s: float = 300) -> None:
    """scancel ``jobs`` and wait until none of them is queued or running any more."""
    done = subprocess.run(["scancel", *jobs], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise ResumeRefused(f"scancel {' '.join(jobs)} failed: {done.stderr.strip()}")
    deadline = time.monotonic() + timeout_s
    while set(jobs) & set(queued_jobs(workdir)):
        if time.monotonic() > deadline:
            raise ResumeRefused(f"Slurm jobs {' '.join(jobs)} were cancelled but are still in the queue after "
                                f"{timeout_s:.0f} s; run jetscale resume again once squeue no longer lists them")
        time.sleep(1)


def snakemake_env() -> dict:
    """This environment with this Python's scripts (snakemake, jetscale) first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def resume(profile: str, workdir: Path, snakemake_args: list[str], cancel_orphans: bool = False) -> int:
    """Check, unlock if stale, rerun; return Snakemake's exit status (ResumeRefused: nothing was changed)."""
    forcing = forcing_options(snakemake_args)
    if forcing:
        raise ResumeRefused(f"{' '.join(forcing)} would rerun finished points or delete results; resume only "
                            "runs what is unfinished (run snakemake itself to force)")
    workdir = workdir.resolve()
    host = socket.gethostname()
    verdict = lock_verdict(lock_files(workdir), workdir, scan_processes())
    if verdict.state == "held":
        pids = ", ".join(map(str, verdict.holders))
        raise ResumeRefused(f"Snakemake (PID {pids}) is still running in {workdir} on {host} and holds its lock; "
                            f"let it finish, or stop it first (kill {verdict.holders[0]}). Nothing was unlocked.")
    orphans = queued_jobs(workdir)
    if orphans and not cancel_orphans:
        ids = " ".join(orphans)
        raise ResumeRefused(
            f"Slurm jobs {ids} of the interrupted run in {workdir} are still queued or running, and a rerun would "
            f"start their points a second time. If the Snakemake that submitted them still runs (another login "
            f"node?), leave it. Otherwise cancel them (scancel {ids}) or use --cancel-orphans.")
    if orphans:
        print(f"jetscale resume: cancelling Slurm jobs {' '.join(orphans)} of the interrupted run", flush=True)
        cancel_jobs(orphans, workdir)
    base = [sys.executable, "-m", "snakemake", "--profile", profile, "--directory", str(workdir)]
    env = snakemake_env()
    if verdict.state == "stale":
        print(f"jetscale resume: no Snakemake runs in {workdir} on {host}; removing its stale lock", flush=True)
        unlock = subprocess.run([*base, *snakemake_args, "--unlock"], env=env)
        if unlock.returncode != 0:
            raise ResumeRefused(f"snakemake --unlock failed (exit {unlock.returncode}); see its output above")
    return subprocess.run([*base, "--rerun-incomplete", *snakemake_args], env=env).returncode


def cmd_resume(args: argparse.Namespace) -> int:
    extra = list(args.snakemake_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    return resume(args.profile, Path(args.directory), extra, cancel_orphans=args.cancel_orphans)


def register(sub) -> None:
    """Add ``jetscale resume --profile P [--directory DIR] [--cancel-orphans] [-- SNAKEMAKE_ARGS ...]``."""
    p = sub.add_parser(
        "resume", help="rerun the unfinished points of a sweep whose Snakemake was killed",
        description="Unlock Snakemake's lock only if no Snakemake runs in the working directory (else refuse, naming "
                    "its PID), refuse while Slurm jobs of the interrupted run are still queued (unless "
                    "--cancel-orphans), then run snakemake --profile P --rerun-incomplete SNAKEMAKE_ARGS. Finished "
                    "points are kept; forcing options are refused. Example: jetscale resume --profile profiles/slurm "
                    "-- --config sweep=toy-demo")
    p.add_argument("--profile", required=True, help="the Snakemake profile of the sweep, e.g. profiles/slurm")
    p.add_argument("--directory", "-d", default=".", help="Snakemake's working directory (default: here)")
    p.add_argument("--cancel-orphans", action="store_true",
                   help="scancel the interrupted run's Slurm jobs that are still queued or running, then resume")
    p.add_argument("snakemake_args", nargs=argparse.REMAINDER, metavar="-- SNAKEMAKE_ARGS",
                   help="passed to snakemake (e.g. --config sweep=NAME); the same for --unlock and the rerun")
    p.set_defaults(func=cmd_resume)


def main(argv: list[str] | None = None) -> int:
    """``python -m jetscale.cluster.resume ...``: the same command without the jetscale CLI."""
    return run_alone("resume", register, argv, errors=(ResumeRefused,))


if __name__ == "__main__":
    sys.exit(main())
