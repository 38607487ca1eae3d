"""One trainer per point (a run-dir lock the kernel releases with its holder), trainers that die with the Snakemake
that started them, attempts counted across kills, and `jetscale resume` waiting for live trainers."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import BIN, REPO, train_cli
from jetscale.cluster.resume import ResumeRefused, config_value, live_trainers, pbs_workdir_jobs, resume
from jetscale.launch import is_first_process
from jetscale.lifetime import LOCK_NAME, POINT_BUSY_EXIT, PointBusy, hold_point, live_holder, previous_attempts
from jetscale.processes import nearest_snakemake

LONG_TOY = ["task=toy_sgd", "n_samples=64", "width=8", "data.source.latent_dim=64", "trainer.max_steps=10000000",
            "checkpoint_every_n_steps=50"]
HOLD = "import sys, time; from jetscale.lifetime import hold_point\nwith hold_point(sys.argv[1]):\n" \
       "    print('held', flush=True); time.sleep(600)"


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f} s waiting for {what}"
        time.sleep(0.1)
    return value


def holder_process(run_dir: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


# --- the lock ------------------------------------------------------------------------------------------------

def test_a_held_point_is_refused_naming_its_holder_and_freed_by_kill_9(tmp_path):
    holder = holder_process(tmp_path / "point")
    try:
        assert live_holder(tmp_path / "point")["pid"] == holder.pid
        with pytest.raises(PointBusy) as busy:
            with hold_point(tmp_path / "point", wait_s=0.3):
                pass
        assert busy.value.code == POINT_BUSY_EXIT
        assert f"PID {holder.pid} on {socket.gethostname()}" in busy.value.message
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert live_holder(tmp_path / "point") is None  # the kernel released it: never a stale lock
    with hold_point(tmp_path / "point", wait_s=0):
        assert json.loads((tmp_path / "point" / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_only_the_first_process_of_a_run_takes_the_lock():
    assert is_first_process({}) and is_first_process({"RANK": "0", "LOCAL_RANK": "0"})
    for environ in ({"RANK": "3"}, {"PMI_RANK": "1"}, {"OMPI_COMM_WORLD_RANK": "2"}, {"LOCAL_RANK": "1"},
                    {"SLURM_STEP_ID": "0", "SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "4"}):
        assert not is_first_process(environ), environ
    assert is_first_process({"SLURM_PROCID": "3"})  # a batch script's own task is no srun step


def test_a_second_trainer_of_a_live_point_exits_at_once_with_its_own_code(tmp_path, cli_env):
    run_dir = tmp_path / "point"
    holder = holder_process(run_dir)  # as a live trainer holds its point
    try:
        second = train_cli([*LONG_TOY, "ridge=0.5"], run_dir, cli_env, timeout=120)
        assert second.returncode == POINT_BUSY_EXIT
        assert f"is being trained by PID {holder.pid} on {socket.gethostname()}" in second.stderr
        assert sorted(p.name for p in run_dir.iterdir()) == [LOCK_NAME], "the refused trainer wrote into the run"
        assert holder.poll() is None
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


# --- dying with Snakemake ------------------------------------------------------------------------------------

def test_the_nearest_snakemake_ancestor_is_found_through_proc(tmp_path):
    def fake(pid, ppid, argv):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (x) S {ppid} 1 1 0 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 42 0\n")
        (tmp_path / str(pid) / "cmdline").write_bytes("\0".join(argv).encode() + b"\0")

    fake(10, 1, ["/venv/bin/python3", "/venv/bin/snakemake", "--profile", "profiles/local"])
    fake(11, 10, ["/bin/bash", "-c", "jetscale train ..."])
    fake(12, 11, ["/venv/bin/python3", "/venv/bin/jetscale", "train"])
    assert nearest_snakemake(12, tmp_path).pid == 10
    assert nearest_snakemake(10, tmp_path) is None


def test_killing_snakemake_with_9_stops_its_trainer_which_saves_and_exits(tmp_path, cli_env):
    sweep = tmp_path / "long.yaml"
    sweep.write_text(yaml.safe_dump({"name": "long", "task": "toy_sgd", "axes": {"n_samples": [64], "width": [8]},
                                     "overrides": {"data.source.latent_dim": 64, "trainer.max_steps": 10000000},
                                     "fit": {"laws": []}}))
    run_dir = tmp_path / "results" / "long" / "runs" / "n_samples=64__width=8"
    snakemake = subprocess.Popen(
        ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--profile",
         str(REPO / "profiles" / "local"), "--config", f"sweep={sweep}", f"results_dir={tmp_path / 'results'}"],
        env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        holder = wait_for(lambda: live_holder(run_dir), 180, "the trainer to hold its point")
        wait_for(lambda: (run_dir / "checkpoints" / "last.ckpt").exists(), 120, "a first checkpoint")
        snakemake.send_signal(signal.SIGKILL)  # Snakemake alone: its job's processes are left behind
        snakemake.wait()
        wait_for(lambda: live_holder(run_dir) is None, 60, f"trainer PID {holder['pid']} to stop")
    finally:
        os.killpg(snakemake.pid, signal.SIGKILL)
    log = (tmp_path / "results" / "long" / "logs" / "train" / "n_samples=64__width=8.log").read_text()
    assert "the Snakemake that started this point" in log and "stopped by SIGTERM" in log
    assert (run_dir / "checkpoints" / "last.ckpt").exists() and not (run_dir / "metrics.json").exists()


# --- attempts and resume -------------------------------------------------------------------------------------

def test_attempts_and_their_wall_time_add_up_across_a_kill(tmp_path, cli_env):
    run_dir = tmp_path / "point"
    fast_beat = "hydra.callbacks.lifetime.heartbeat_s=0.2"
    first = subprocess.Popen([str(BIN / "jetscale"), "train", *LONG_TOY, fast_beat, f"hydra.run.dir={run_dir}"],
                             env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: (run_dir / "checkpoints" / "last.ckpt").exists(), 120, "a checkpoint")
    time.sleep(1.0)
    first.send_signal(signal.SIGKILL)
    first.wait()
    count, seconds = previous_attempts(run_dir)
    assert count == 1 and seconds > 0.5
    done = train_cli([*LONG_TOY, "trainer.max_steps=100", fast_beat], run_dir, cli_env)  # a smaller budget: fresh
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["attempts"] == 2 and metrics["wall_s"] > seconds
    assert f"run dir {run_dir}" in done.stdout and f"metrics in {run_dir / 'metrics.json'}" in done.stdout


def test_resume_refuses_while_a_trainer_lives_and_waits_for_it_with_wait(tmp_path, cli_env):
    sweep = tmp_path / "one.yaml"
    sweep.write_text(yaml.safe_dump({"name": "one", "task": "toy", "axes": {"n_samples": [16], "width": [8]},
                                     "overrides": {"data.source.latent_dim": 32}, "fit": {"laws": []}}))
    run_dir = tmp_path / "results" / "one" / "runs" / "n_samples=16__width=8"
    args = ["--snakefile", str(REPO / "Snakefile"), "--config", f"sweep={sweep}", f"results_dir={tmp_path / 'results'}"]
    assert config_value(args, "results_dir") == str(tmp_path / "results") and config_value(args, "x", 1) == 1
    holder = holder_process(run_dir)
    try:
        with pytest.raises(ResumeRefused, match=rf"still being trained(.|\n)*PID {holder.pid} on .*n_samples=16"):
            resume(str(REPO / "profiles" / "local"), tmp_path, args)
        assert [d for d, _ in live_trainers(tmp_path / "results")] == [run_dir]
        waiting = subprocess.Popen([sys.executable, "-m", "jetscale.cluster.resume", "--profile",
                                    str(REPO / "profiles" / "local"), "--directory", str(tmp_path), "--wait", "--",
                                    *args, "-n"], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, cwd=REPO)  # -n: after the wait, the rerun's plan is enough
        time.sleep(2)
        assert waiting.poll() is None, waiting.stdout.read()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    out, _ = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, out[-3000:]
    assert "waiting for 1 live trainers" in out and "Job stats" in out


def test_pbs_jobs_of_the_workdir_are_found_in_qstat_json():
    qstat = {"Jobs": {
        "101.polaris-pbs-01": {"Job_Owner": "me@polaris-login-02", "job_state": "R",
                               "Variable_List": {"PBS_O_WORKDIR": "/eagle/proj/sweeps"}},
        "102.polaris-pbs-01": {"Job_Owner": "me@polaris-login-02", "job_state": "Q",
                               "Variable_List": {"PBS_O_WORKDIR": "/eagle/proj/other"}},
        "103.polaris-pbs-01": {"Job_Owner": "you@polaris-login-01", "job_state": "R",
                               "Variable_List": {"PBS_O_WORKDIR": "/eagle/proj/sweeps"}},
        "104.polaris-pbs-01": {"Job_Owner": "me@polaris-login-02", "job_state": "F",
                               "Variable_List": {"PBS_O_WORKDIR": "/eagle/proj/sweeps"}}}}
    assert pbs_workdir_jobs(json.dumps(qstat), Path("/eagle/proj/sweeps"), "me") == ["101.polaris-pbs-01"]


def test_resume_refuses_while_pbs_still_runs_jobs_of_the_workdir(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    qstat = {"Jobs": {"7.pbs": {"Job_Owner": f"{os.environ.get('USER', 'root')}@login", "job_state": "R",
                                "Variable_List": {"PBS_O_WORKDIR": str(tmp_path.resolve())}}}}
    (bin_dir / "qstat").write_text(f"#!/bin/sh\nprintf '%s\\n' '{json.dumps(qstat)}'\n")
    (bin_dir / "qstat").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))  # this qstat only (CI's real Slurm would answer first)
    monkeypatch.setenv("USER", os.environ.get("USER", "root"))
    monkeypatch.setattr("getpass.getuser", lambda: os.environ.get("USER", "root"))
    with pytest.raises(ResumeRefused, match=r"PBS jobs 7.pbs of the interrupted run(.|\n)*qdel 7.pbs"):
        resume("profiles/local", tmp_path, ["--config", "sweep=toy-demo"])
