"""Resume a sweep whose Snakemake was killed (lost login session, SIGKILL, node reboot).

    jetscale resume --profile profiles/slurm [--directory DIR] [--cancel-orphans] [--wait] [-- SNAKEMAKE_ARGS ...]

Refuses while a Snakemake holds the lock, a trainer of the results dir lives (``--wait`` waits) or a
Slurm/PBS job of the workdir is queued or running (``--cancel-orphans`` cancels them); then unlocks a
stale lock and reruns with ``--rerun-incomplete``, never forcing. The checks: docs/resuming.md#one-trainer-per-point.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from jetscale.cluster.pbs import unfinished_jobs_of
from jetscale.lifetime import LOCK_NAME, live_holder
from jetscale.paths import WORKFLOW_CONFIG
from jetscale.processes import Process, is_snakemake, scan_processes
from jetscale.subcommand import run_alone
from jetscale.yamlfile import read_yaml

LOCK_DIR = Path(".snakemake") / "locks"
# Snakemake options that rerun finished points or delete results: never part of a resume.
FORCING_OPTIONS = ("-F", "--forceall", "-R", "--forcerun", "-f", "--force", "--delete-all-output",
                   "--delete-temp-output", "--touch", "-t")


class ResumeRefused(RuntimeError):
    """Resuming now could harm the sweep; the message says what to do instead."""


@dataclass(frozen=True)
class LockVerdict:
    state: str  # "unlocked" (no lock files) | "stale" (nobody holds them) | "held" (holders run)
    holders: tuple[int, ...] = ()


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


def pbs_workdir_jobs(qstat_json: str, workdir: Path, user: str) -> list[str]:
    """Job ids of ``qstat -f -F json`` owned by ``user``, not finished, submitted from ``workdir``."""
    try:
        jobs = json.loads(qstat_json, strict=False).get("Jobs") or {}
    except json.JSONDecodeError as err:
        raise ResumeRefused(f"cannot read qstat's JSON ({err}); cannot tell whether jobs of the interrupted run "
                            "are still queued") from None
    return [job_id for job_id, job in unfinished_jobs_of(jobs, user).items()
            if Path(str((job.get("Variable_List") or {}).get("PBS_O_WORKDIR", ""))) == workdir]


def config_value(snakemake_args: list[str], key: str, default=None):
    """``KEY``'s value among the ``--config KEY=VALUE ...`` items of ``snakemake_args`` (else ``default``)."""
    found, in_config = default, False
    for arg in snakemake_args:
        if arg in ("--config", "-C"):
            in_config = True
        elif arg.startswith("-"):
            in_config = False
        elif in_config and arg.partition("=")[0] == key:
            found = arg.partition("=")[2]
    return found


def results_dir(workdir: Path, snakemake_args: list[str]) -> Path:
    """The workflow's results dir: ``--config results_dir=...``, else workflow/config.yaml's."""
    default = (read_yaml(WORKFLOW_CONFIG) or {}).get("results_dir", "results")
    return workdir / config_value(snakemake_args, "results_dir", default)


def live_trainers(results: Path) -> list[tuple[Path, dict]]:
    """(run dir, holder) of every point under ``results`` (``<sweep>/runs/<run id>``) that a process trains now."""
    found = []
    for lock in sorted(results.glob(f"*/runs/*/{LOCK_NAME}")):
        holder = live_holder(lock.parent)
        if holder is not None:
            found.append((lock.parent, holder))
    return found


def describe_trainers(trainers: list[tuple[Path, dict]], shown: int = 10) -> str:
    lines = [f"  PID {h.get('pid', '?')} on {h.get('host', '?')}: {d}" for d, h in trainers[:shown]]
    more = [f"  ... and {len(trainers) - shown} more"] if len(trainers) > shown else []
    return "\n".join(lines + more)


def forcing_options(snakemake_args: list[str]) -> list[str]:
    """The arguments that would make Snakemake rerun finished points or delete results."""
    return [a for a in snakemake_args if a.split("=", 1)[0] in FORCING_OPTIONS]


# --- the edges: /proc, squeue/scancel, snakemake ---------------------------------------------

def lock_files(workdir: Path) -> list[str]:
    locks = workdir / LOCK_DIR
    return sorted(p.name for p in locks.iterdir()) if locks.is_dir() else []


def queued_jobs(workdir: Path) -> tuple[str, list[str]]:
    """(scheduler, job ids): this user's Slurm or PBS jobs (queued or running) whose working directory is
    ``workdir``; ("", []) without a scheduler."""
    if shutil.which("squeue"):
        out = subprocess.run(["squeue", "-h", "-u", getpass.getuser(), "-o", "%i|%Z"], capture_output=True,
                             text=True, timeout=60)
        if out.returncode != 0:
            raise ResumeRefused(f"squeue failed ({out.stderr.strip()}); cannot tell whether jobs of the interrupted "
                                "run are still queued")
        return "Slurm", workdir_jobs(out.stdout, workdir)
    if shutil.which("qstat"):
        out = subprocess.run(["qstat", "-f", "-F", "json"], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise ResumeRefused(f"qstat failed ({out.stderr.strip()}); cannot tell whether jobs of the interrupted "
                                "run are still queued")
        return "PBS", pbs_workdir_jobs(out.stdout, workdir, getpass.getuser())
    return "", []


CANCEL = {"Slurm": "scancel", "PBS": "qdel"}


def cancel_jobs(scheduler: str, jobs: list[str], workdir: Path, timeout_s: float = 300) -> None:
    """scancel/qdel ``jobs`` and wait until none of them is queued or running any more."""
    done = subprocess.run([CANCEL[scheduler], *jobs], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise ResumeRefused(f"{CANCEL[scheduler]} {' '.join(jobs)} failed: {done.stderr.strip()}")
    deadline = time.monotonic() + timeout_s
    while set(jobs) & set(queued_jobs(workdir)[1]):
        if time.monotonic() > deadline:
            raise ResumeRefused(f"{scheduler} jobs {' '.join(jobs)} were cancelled but are still in the queue after "
                                f"{timeout_s:.0f} s; run jetscale resume again once they left the queue")
        time.sleep(1)


def wait_for_trainers(results: Path, trainers: list[tuple[Path, dict]], poll_s: float = 10.0) -> None:
    """Block until no point under ``results`` is trained any more, saying which still are now and then."""
    print(f"jetscale resume: waiting for {len(trainers)} live trainers to end:\n{describe_trainers(trainers)}",
          flush=True)
    last_report = time.monotonic()
    while trainers := live_trainers(results):
        if time.monotonic() - last_report > 60:
            print(f"jetscale resume: still waiting for {len(trainers)} trainers", flush=True)
            last_report = time.monotonic()
        time.sleep(poll_s)


def snakemake_env() -> dict:
    """This environment with this Python's scripts (snakemake, jetscale) first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def resume(profile: str, workdir: Path, snakemake_args: list[str], cancel_orphans: bool = False,
           wait: bool = False) -> int:
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
    results = results_dir(workdir, snakemake_args)
    trainers = live_trainers(results)
    if trainers and not wait:
        raise ResumeRefused(
            f"{len(trainers)} points under {results} are still being trained, and no Snakemake runs them here; "
            f"a rerun would start them a second time:\n{describe_trainers(trainers)}\nLet them finish and save "
            "(jetscale resume --wait), or stop them (kill PID: they save last.ckpt and exit). Nothing was unlocked.")
    if trainers:
        wait_for_trainers(results, trainers)
    scheduler, orphans = queued_jobs(workdir)
    if orphans and not cancel_orphans:
        ids = " ".join(orphans)
        raise ResumeRefused(
            f"{scheduler} jobs {ids} of the interrupted run in {workdir} are still queued or running, and a rerun "
            f"would start their points a second time. If the Snakemake that submitted them still runs (another "
            f"login node?), leave it. Otherwise cancel them ({CANCEL[scheduler]} {ids}) or use --cancel-orphans.")
    if orphans:
        print(f"jetscale resume: cancelling {scheduler} jobs {' '.join(orphans)} of the interrupted run", flush=True)
        cancel_jobs(scheduler, orphans, workdir)
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
    return resume(args.profile, Path(args.directory), extra, cancel_orphans=args.cancel_orphans, wait=args.wait)


def register(sub) -> None:
    """Add ``jetscale resume --profile P [--directory DIR] [--cancel-orphans] [-- SNAKEMAKE_ARGS ...]``."""
    p = sub.add_parser(
        "resume", help="rerun the unfinished points of a sweep whose Snakemake was killed",
        description="Unlock Snakemake's lock only if no Snakemake runs in the working directory (else refuse, naming "
                    "its PID), refuse while trainers of the interrupted run still train (unless --wait) or its "
                    "Slurm/PBS jobs are still queued (unless --cancel-orphans), then run snakemake --profile P "
                    "--rerun-incomplete SNAKEMAKE_ARGS. Finished points are kept; forcing options are refused. Example: jetscale resume --profile profiles/slurm "
                    "-- --config sweep=toy-demo")
    p.add_argument("--profile", required=True, help="the Snakemake profile of the sweep, e.g. profiles/slurm")
    p.add_argument("--directory", "-d", default=".", help="Snakemake's working directory (default: here)")
    p.add_argument("--cancel-orphans", action="store_true",
                   help="scancel/qdel the interrupted run's Slurm or PBS jobs still queued or running, then resume")
    p.add_argument("--wait", action="store_true",
                   help="wait until the live trainers of the results dir end (instead of refusing), then resume")
    p.add_argument("snakemake_args", nargs=argparse.REMAINDER, metavar="-- SNAKEMAKE_ARGS",
                   help="passed to snakemake (e.g. --config sweep=NAME); the same for --unlock and the rerun")
    p.set_defaults(func=cmd_resume)


def main(argv: list[str] | None = None) -> int:
    """``python -m jetscale.cluster.resume ...``: the same command without the jetscale CLI."""
    return run_alone("resume", register, argv, errors=(ResumeRefused,))


if __name__ == "__main__":
    sys.exit(main())
