"""`jetscale resume`: unlock Snakemake's lock only when it is stale, then rerun only the unfinished points.

The decision is a pure function of the lock files and the processes (tested directly); the command is tested
on real Snakemake processes with the local profile: a SIGKILLed sweep is resumed, a live one is left alone.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO
from jetscale.cluster.resume import (LockVerdict, Process, ResumeRefused, forcing_options, lock_files, lock_verdict,
                                     register, resume, workdir_jobs)

WORKDIR = Path("/scratch/sweeps")
SNAKEMAKE = ("/venv/bin/python3", "/venv/bin/snakemake", "--profile", "profiles/slurm")
SNAKEMAKE_JOB = ("/venv/bin/python3", "-m", "snakemake", "--target-jobs", "train:run_id=a", "--nolock")


# --- helpers shared with test_slurm.py ------------------------------------------------------------

def write_sweep(directory: Path, name: str, task: str, axes: dict, overrides: dict) -> Path:
    """A sweep file that stops at the table (no fits)."""
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "task": task, "axes": axes, "overrides": overrides,
                                    "fit": {"laws": []}}, sort_keys=False))
    return path


def toy_sweep(directory: Path, name: str = "toy", n_samples=(16, 32), widths=(8, 16)) -> Path:
    """Closed-form toy points: each job is a few seconds of Python start-up and a small solve."""
    return write_sweep(directory, name, "toy", {"n_samples": list(n_samples), "width": list(widths)},
                       {"data.source.latent_dim": 64})


def started_points(log: str, rule: str = "train") -> dict[str, str]:
    """Snakemake job id -> run id of every `rule`/`localrule` job the log shows starting."""
    points, jobid = {}, None
    for line in log.splitlines():
        if re.match(rf"(local)?rule {rule}:$", line):
            jobid = None
        elif m := re.match(r"\s+jobid: (\d+)$", line):
            jobid = m.group(1)
        elif (m := re.match(r"\s+wildcards: sweep=[^,]+, run_id=(\S+)$", line)) and jobid is not None:
            points[jobid] = m.group(1)
    return points


def finished_points(log: str, rule: str = "train") -> set[str]:
    """Run ids whose job Snakemake recorded as finished."""
    points = started_points(log, rule)
    return {points[j] for j in re.findall(rf"Finished jobid: (\d+) \(Rule: {rule}\)", log) if j in points}


def snakemake_args(workdir: Path, sweep: Path, *extra: str) -> list[str]:
    return ["--snakefile", str(REPO / "Snakefile"), "--config", f"sweep={sweep}", f"results_dir={workdir / 'results'}",
            *extra]


def metrics_files(run_dir: Path) -> dict[Path, tuple[int, bytes]]:
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in run_dir.glob("*/metrics.json")}


# --- the decision --------------------------------------------------------------------------------

def test_no_lock_files_means_unlocked():
    assert lock_verdict([], WORKDIR, [Process(10, SNAKEMAKE, str(WORKDIR))]) == LockVerdict("unlocked")


def test_a_snakemake_running_in_the_workdir_holds_the_lock():
    processes = [Process(10, SNAKEMAKE, str(WORKDIR)), Process(11, ("bash",), str(WORKDIR)),
                 Process(12, ("/usr/bin/python3", "-m", "snakemake", "-j", "4"), str(WORKDIR))]
    assert lock_verdict(["0.input.lock"], WORKDIR, processes) == LockVerdict("held", (10, 12))


def test_lock_is_stale_without_a_locking_snakemake_in_the_workdir():
    processes = [
        Process(10, SNAKEMAKE, "/somewhere/else"),             # another sweep's Snakemake
        Process(11, SNAKEMAKE_JOB, str(WORKDIR)),              # a cluster job of the killed run: --nolock
        Process(12, (*SNAKEMAKE, "--unlock"), str(WORKDIR)),   # someone unlocking
        Process(13, ("vim", "snakemake"), str(WORKDIR)),       # not Snakemake itself
        Process(14, SNAKEMAKE, None),                          # another user's: cwd unreadable
    ]
    assert lock_verdict(["0.input.lock", "0.output.lock"], WORKDIR, processes) == LockVerdict("stale")


def test_jobs_are_matched_by_working_directory():
    squeue = f"101|{WORKDIR}\n102|/other\n103|{WORKDIR}/\n104_3|{WORKDIR}\n"
    assert workdir_jobs(squeue, WORKDIR) == ["101", "103", "104_3"]


def test_forcing_options_are_found():
    args = ["--config", "sweep=forceall", "-F", "--forcerun=train", "--rerun-incomplete", "-n"]
    assert forcing_options(args) == ["-F", "--forcerun=train"]


def test_forcing_options_are_refused_before_anything_runs(tmp_path):
    with pytest.raises(ResumeRefused, match="--forceall would rerun finished points"):
        resume("profiles/local", tmp_path, ["--forceall"])


def test_registered_command_parses_profile_directory_and_snakemake_args():
    parser = argparse.ArgumentParser(prog="jetscale")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["resume", "--profile", "profiles/slurm", "-d", "/tmp/w", "--cancel-orphans",
                              "--", "--config", "sweep=toy-demo"])
    assert (args.profile, args.directory, args.cancel_orphans) == ("profiles/slurm", "/tmp/w", True)
    assert args.snakemake_args[-2:] == ["--config", "sweep=toy-demo"]
    assert args.func.__name__ == "cmd_resume"


# --- real processes ----------------------------------------------------------------------------------

def resume_cmd(workdir: Path, sweep: Path, profile: str = "profiles/local", *options: str) -> list[str]:
    return [sys.executable, "-m", "jetscale.cluster.resume", "--profile", str(REPO / profile), "--directory",
            str(workdir), *options, "--", *snakemake_args(workdir, sweep)]


def start_sweep(workdir: Path, sweep: Path, log: Path, env: dict, profile: str = "profiles/local", *extra: str):
    cmd = ["snakemake", "--profile", str(REPO / profile), "--directory", str(workdir),
           *snakemake_args(workdir, sweep, *extra)]
    with open(log, "w") as out:  # its own session: killpg takes Snakemake and its local jobs, as a lost login would
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True)


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.time() + timeout_s
    while not condition():
        assert time.time() < deadline, f"timed out after {timeout_s:.0f} s waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow  # the same path runs through the real Slurm in tests/cluster/test_slurm.py (and without resume, test_workflow)
def test_resume_after_sigkill_unlocks_and_reruns_only_unfinished_points(tmp_path, cli_env):
    sweep = toy_sweep(tmp_path, n_samples=(16, 32, 64))
    runs = tmp_path / "results" / "toy" / "runs"
    log = tmp_path / "first.log"
    proc = start_sweep(tmp_path, sweep, log, cli_env, "profiles/local", "--cores", "1")
    try:
        wait_for(lambda: finished_points(log.read_text()), 300, "the first finished point")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = finished_points(log.read_text())
    kept = {p: v for p, v in metrics_files(runs).items() if p.parent.name in finished}
    assert len(kept) == len(finished) and 1 <= len(finished) < 6, "the kill should land mid-sweep"
    assert lock_files(tmp_path), "a SIGKILLed Snakemake leaves its lock"

    done = subprocess.run(resume_cmd(tmp_path, sweep), capture_output=True, text=True, env=cli_env, cwd=REPO,
                          timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "removing its stale lock" in output
    assert not lock_files(tmp_path)
    assert len(pd.read_csv(tmp_path / "results" / "toy" / "table.csv")) == 6
    assert {p: v for p, v in metrics_files(runs).items() if p in kept} == kept, "finished points must not rerun"
    assert not set(started_points(output).values()) & finished


def test_resume_refuses_while_snakemake_still_runs_and_names_it(tmp_path, cli_env):
    sweep = write_sweep(tmp_path, "long", "toy_sgd", {"n_samples": [64], "width": [8]},
                        {"data.source.latent_dim": 64, "trainer.max_steps": 1000000})
    proc = start_sweep(tmp_path, sweep, tmp_path / "live.log", cli_env)
    try:
        wait_for(lambda: lock_files(tmp_path), 120, "Snakemake's lock")
        done = subprocess.run(resume_cmd(tmp_path, sweep), capture_output=True, text=True, env=cli_env, cwd=REPO,
                              timeout=120)
        assert done.returncode == 2
        assert f"Snakemake (PID {proc.pid}) is still running in {tmp_path}" in done.stderr
        assert "Nothing was unlocked" in done.stderr
        assert lock_files(tmp_path) and proc.poll() is None, "the live run must be left alone"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
