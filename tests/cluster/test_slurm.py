"""Sweeps through the real one-node Slurm of tests/cluster/start_slurm.sh with profiles/slurm-local: every point
an `sbatch` job; a cancelled job fails and reruns; a SIGKILLed Snakemake is resumed without rerunning finished
points or leaving jobs behind; SIGUSR1 (what `--signal=USR1@T` sends before the walltime) checkpoints a running
point, which its retry resumes. Also: profiles/slurm resolves to the resources its comments promise.

Each Slurm round trip costs the plugin's status-check latency (3-40 s), so the sweeps are a few tiny points.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO
from jetscale.cluster.resume import lock_files, scan_processes
from test_resume_cli import (finished_points, metrics_files, resume_cmd, snakemake_args, start_sweep, started_points,
                             toy_sweep, wait_for, write_sweep)


def slurm_is_up() -> bool:
    """squeue answers and the node is usable (busy counts: other tests may hold its CPUs)."""
    if not (shutil.which("sinfo") and shutil.which("squeue")):
        return False
    state = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True)
    return state.returncode == 0 and any(s.startswith(("idle", "mix", "alloc", "comp")) for s in state.stdout.split())


pytestmark = [pytest.mark.slurm,
              pytest.mark.skipif(not slurm_is_up(), reason="no local Slurm (tests/cluster/start_slurm.sh starts one, "
                                                           "as root)")]
PROFILE = "profiles/slurm-local"
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")


def jobs_in(workdir: Path, states: str = "all") -> dict[str, str]:
    """Slurm job id -> state of this workdir's jobs that squeue lists (finished ones stay MinJobAge = 300 s)."""
    out = subprocess.run(["squeue", "-h", "-t", states, "-o", "%i|%T|%Z"], capture_output=True, text=True,
                         check=True).stdout
    return {i: s for i, s, d in (line.split("|", 2) for line in out.splitlines()) if Path(d) == workdir}


def job_field(job_id: str, field: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True).stdout
    return re.search(rf"\b{field}=(\S*)", out).group(1)


def processes_of(directory: Path) -> list[int]:
    return [p.pid for p in scan_processes() if any(str(directory) in arg for arg in p.argv)]


@pytest.fixture
def workdir(tmp_path):
    """Snakemake's working directory; afterwards none of its Slurm jobs or processes is left."""
    yield tmp_path
    active = list(jobs_in(tmp_path, "PENDING,RUNNING,SUSPENDED,COMPLETING"))
    if active:
        subprocess.run(["scancel", *active], capture_output=True)
    deadline = time.time() + 120
    while jobs_in(tmp_path, "PENDING,RUNNING,SUSPENDED,COMPLETING") and time.time() < deadline:
        time.sleep(0.5)
    # Processes of ended jobs get a few seconds to exit. A job cancelled as it started can leave its Snakemake job
    # step behind, untracked by Slurm (proctrack/linuxproc), waiting for its files (--wait-for-files) up to the
    # latency wait: it never starts a trainer, and it is killed here rather than waited for (120 s under load).
    grace = time.time() + 10
    while processes_of(tmp_path) and time.time() < grace:
        time.sleep(0.5)
    for pid in processes_of(tmp_path):  # an orphan Slurm no longer tracks (proctrack/linuxproc)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not jobs_in(tmp_path, "PENDING,RUNNING,SUSPENDED,COMPLETING"), "the test left Slurm jobs behind"


def snakemake(workdir: Path, sweep: Path, env: dict, *extra: str, timeout: int = 400) -> subprocess.CompletedProcess:
    cmd = ["snakemake", "--profile", str(REPO / PROFILE), "--directory", str(workdir),
           *snakemake_args(workdir, sweep, *extra)]
    return subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text()[-chars:] if path.exists() else f"({path} does not exist)"


def submitted(output: str) -> dict[str, str]:
    """Snakemake job id -> Slurm job id (of its last attempt)."""
    return dict(SUBMITTED.findall(output))


def test_sweep_runs_every_point_as_a_slurm_job(workdir, cli_env):
    sweep = toy_sweep(workdir, n_samples=(16,), widths=(8, 16))  # two points: both fit the node's 2 CPUs at once
    done = snakemake(workdir, sweep, cli_env)
    assert done.returncode == 0, done.stdout[-4000:]

    points = {f"n_samples=16__width={w}" for w in (8, 16)}
    table = pd.read_csv(workdir / "results" / "toy" / "table.csv")
    assert set(table["run_id"]) == points and len(table) == 2
    started = started_points(done.stdout)
    train_jobs = {job: started[s] for s, job in submitted(done.stdout).items() if s in started}
    assert set(train_jobs.values()) == points, "one sbatch per point"
    for job in train_jobs:
        assert job_field(job, "JobState") == "COMPLETED"
        assert Path(job_field(job, "WorkDir")) == workdir
    logs = {p.stem: p.parent.name for p in (workdir / ".snakemake" / "slurm_logs" / "rule_train").glob("*/*.log")}
    # the plugin's log dir per job: its wildcard values (sweep, run id) joined by "_"
    assert logs == {job: f"toy_{rid}" for job, rid in train_jobs.items()}, "one Slurm log per point, named by its job id"


@pytest.mark.slow  # 40 s; runs with -m slurm
def test_cancelled_job_fails_the_run_and_its_point_reruns_next_time(workdir, cli_env):
    sweep = toy_sweep(workdir, n_samples=(16,), widths=(8, 16))
    log = workdir / "first.log"
    proc = start_sweep(workdir, sweep, log, cli_env, PROFILE, "--retries", "0")
    try:
        wait_for(lambda: len(submitted(log.read_text())) == 2, 120, "both points submitted")
        snakemake_job, victim = sorted(submitted(log.read_text()).items())[0]
        wait_for(lambda: jobs_in(workdir).get(victim) == "RUNNING", 240, f"job {victim} running")
        subprocess.run(["scancel", victim], check=True)
        assert proc.wait(timeout=300) != 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    first = log.read_text()
    cancelled = started_points(first)[snakemake_job]
    assert f"SLURM-job '{victim}' failed, SLURM status is: 'CANCELLED'" in first
    runs = workdir / "results" / "toy" / "runs"
    assert not (runs / cancelled / "metrics.json").exists()
    assert any(runs.glob("*/metrics.json")), "the other point finishes (keep-going)"
    assert not (workdir / "results" / "toy" / "table.csv").exists()

    rerun = snakemake(workdir, sweep, cli_env)
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert set(started_points(rerun.stdout).values()) == {cancelled}, "only the cancelled point reruns"
    assert len(pd.read_csv(workdir / "results" / "toy" / "table.csv")) == 2


def test_killed_snakemake_resumes_without_rerunning_finished_points(workdir, cli_env):
    """SIGKILL of Snakemake while jobs are queued: `jetscale resume` refuses while they are, cancels them on request,
    unlocks and reruns only what Snakemake had not recorded as finished."""
    sweep = toy_sweep(workdir)  # 4 points
    log = workdir / "first.log"
    proc = start_sweep(workdir, sweep, log, cli_env, PROFILE)
    try:
        # The node runs 2 of the 4 points at once; the 2 others are held as soon as all are submitted, so that
        # they are still queued when Snakemake records a finished point, however slowly the machine runs: the
        # plugin's status checks back off by 10 s per check that saw no job end (3, 13, 23 ... 180 s apart).
        running = lambda: list(jobs_in(workdir).values()).count("RUNNING")  # noqa: E731
        wait_for(lambda: len(submitted(log.read_text())) == 4 and running() == 2, 300,
                 "the 4 points to be submitted and 2 of them to run")
        pending = [j for j, s in jobs_in(workdir).items() if s == "PENDING"]
        subprocess.run(["scontrol", "hold", *pending], capture_output=True)  # they stay queued: orphans
        wait_for(lambda: finished_points(log.read_text()), 600, "a finished point while others are held")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    held = [j for j, s in jobs_in(workdir).items() if s == "PENDING"]
    assert held, "the kill should leave queued jobs behind"
    finished = finished_points(log.read_text())
    kept = {p: v for p, v in metrics_files(workdir / "results" / "toy" / "runs").items() if p.parent.name in finished}
    assert len(kept) == len(finished) >= 1 and lock_files(workdir)
    never_ran = {started_points(log.read_text())[s] for s, j in submitted(log.read_text()).items() if j in held}

    refused = subprocess.run(resume_cmd(workdir, sweep, PROFILE), capture_output=True, text=True, env=cli_env,
                             cwd=REPO, timeout=120)
    assert refused.returncode == 2
    assert all(j in refused.stderr for j in held) and "--cancel-orphans" in refused.stderr
    assert lock_files(workdir), "a refused resume changes nothing"

    done = subprocess.run(resume_cmd(workdir, sweep, PROFILE, "--cancel-orphans"), capture_output=True, text=True,
                          env=cli_env, cwd=REPO, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert not jobs_in(workdir, "PENDING,RUNNING") and not lock_files(workdir)
    assert len(pd.read_csv(workdir / "results" / "toy" / "table.csv")) == 4
    assert {p: v for p, v in metrics_files(workdir / "results" / "toy" / "runs").items() if p in kept} == kept
    rerun = set(started_points(output).values())
    assert not rerun & finished and never_ran <= rerun


def usr1_sweep(workdir: Path, max_steps: int) -> Path:
    return write_sweep(workdir, "sgd", "toy_sgd", {"n_samples": [64], "width": [16]},
                       {"data.source.latent_dim": 64, "trainer.max_steps": max_steps,
                        "checkpoint_every_n_steps": 10 * max_steps})


# A point as the plugin runs it (`srun -n1 python -m snakemake ...` job step around `jetscale train`), and as a
# launcher resource runs it (`srun jetscale train`: the ranks are the step, Snakemake stays in the batch script).
# Both are marked slow (~45 s and ~75 s; the default suite must stay under 10 min on 2 cores, and the process
# side of SIGUSR1/SIGTERM is tested in test_resume.py): `make test PYTEST_ARGS="-m slurm"` runs them.
LAUNCHES = {
    "jobstep": [],
    "srun": ["--set-resources", "train:tasks_per_node=2", "train:mpi=srun --ntasks-per-node=2 --cpus-per-task=1"],
}


@pytest.mark.slow
@pytest.mark.parametrize("launch", list(LAUNCHES))
def test_sigusr1_saves_last_ckpt_and_the_retry_resumes(launch, workdir, cli_env):
    """What `--signal=USR1@T` does before the walltime: the point saves last.ckpt and its job fails; the profile's
    `retries` submits it again, and the new job resumes from the checkpoint."""
    max_steps = 3000  # ~5 s of training: the signal comes ~0.5 s after the loop has started
    sweep = usr1_sweep(workdir, max_steps)
    run_dir = workdir / "results" / "sgd" / "runs" / "n_samples=64__width=16"
    train_log = workdir / "results" / "sgd" / "logs" / "train" / f"{run_dir.name}.log"
    log = workdir / "snakemake.log"
    proc = start_sweep(workdir, sweep, log, cli_env, PROFILE, *LAUNCHES[launch])
    try:
        # metrics.csv is first written after some steps: the loop (and jetscale's signal handler) is running
        wait_for(lambda: (run_dir / "csv" / "version_0" / "metrics.csv").exists() or proc.poll() is not None, 240,
                 "training to start")
        assert proc.poll() is None, tail(log) + tail(train_log)
        (first,) = submitted(log.read_text()).values()
        subprocess.run(["scancel", "--signal=USR1", first], check=True)
        wait_for(lambda: jobs_in(workdir).get(first) == "FAILED", 60, f"job {first} to fail")
        # read before the retry's `jetscale train` starts the log afresh (the next status check is >= 5 s away)
        wait_for(lambda: "stopped by SIGUSR1" in train_log.read_text(), 30, "the point to stop")
        stops = [int(step) for step in re.findall(r"stopped by SIGUSR1 at step (\d+)", train_log.read_text())]
        assert (run_dir / "checkpoints" / "last.ckpt").exists() and not (run_dir / "metrics.json").exists()
        assert proc.wait(timeout=300) == 0, tail(log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    output = log.read_text()
    assert f"SLURM-job '{first}' failed" in output
    assert len(SUBMITTED.findall(output)) == 2, "the point's job and its retry"
    stopped_at = stops[0]
    assert 0 < stopped_at < max_steps
    if launch == "srun":
        assert len(stops) == 2 and len(set(stops)) == 1, "both ranks stop at the same step"
    assert "resuming from" in train_log.read_text() and "last.ckpt" in train_log.read_text()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["steps"] == max_steps
    assert metrics["world_size"] == (2 if launch == "srun" else 1)
    retry = pd.read_csv(run_dir / "csv" / "version_1" / "metrics.csv")
    assert retry["step"].min() >= stopped_at - 10, "the retry continued from the checkpoint"


def test_real_cluster_profile_resolves_its_resources(tmp_path, cli_env):
    """profiles/slurm (Perlmutter) as Snakemake reads it: the account from the environment, GPU training jobs,
    CPU jobs for the rest, whole nodes for bundles, its workflow.yaml merged and --config still winning."""
    sweep = toy_sweep(tmp_path)

    def dry_run(*extra, account="m1234", targets=()):
        env = {**cli_env, "JETSCALE_SLURM_ACCOUNT": account} if account else {
            k: v for k, v in cli_env.items() if k != "JETSCALE_SLURM_ACCOUNT"}
        cmd = ["snakemake", "--profile", str(REPO / "profiles" / "slurm"), "--directory", str(tmp_path), "-n",
               *targets, *snakemake_args(tmp_path, sweep, *extra)]
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return {rule: dict(kv.split("=", 1) for kv in res.split(", "))
                for rule, res in re.findall(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", done.stdout, re.M)}

    resources = dry_run()
    train = resources["train"]
    assert {k: train[k] for k in ("slurm_account", "constraint", "qos", "gpu", "cpus_per_task", "slurm_extra")} == {
        "slurm_account": "m1234", "constraint": "gpu", "qos": "shared", "gpu": "1", "cpus_per_task": "32",
        "slurm_extra": "--signal=USR1@300"}
    assert "mpi" not in train, "single-process points: no launcher"
    assert "train_bundle" not in resources, "workflow.yaml: bundle_size 1"
    jets = dry_run("jet_shards=2", "jets_per_shard=10", f"data_dir={tmp_path / 'data'}", targets=["jets"])
    assert {(jets["generate_shard"][k], jets["efp_features"][k]) for k in ("constraint", "gpu")} == {
        ("cpu", "cpu"), ("0", "0")}, "jet data on CPU nodes"
    assert dry_run(account=None)["train"]["slurm_account"] == "SET_JETSCALE_SLURM_ACCOUNT"
    bundle = dry_run("bundle_size=4")["train_bundle"]
    assert (bundle["qos"], bundle["gpu"], bundle["cpus_per_task"]) == ("regular", "4", "128")


@pytest.mark.slow  # ~2 min: a Slurm job per shard, per EFP cache, the manifest and the spectrum
def test_make_jets_runs_through_the_local_slurm(workdir, cli_env):
    """`make jets PROFILE=slurm-local`: every data step an sbatch job, the spectrum under its MPI launcher."""
    done = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "jets", "PROFILE=slurm-local",
                           "JET_SHARDS=2", "JETS_PER_SHARD=60", f"SNAKEMAKE_ARGS=--directory {workdir}"],
                          env=cli_env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rules = re.findall(r"Job \d+ has been submitted with SLURM jobid \d+", done.stdout + done.stderr)
    assert len(rules) >= 2 + 2 + 1 + 1, done.stdout[-3000:]  # shards, EFP caches, manifest, spectrum
    assert len(list((workdir / "data" / "jets" / "toptag-pythia").glob("shard-*.efp-d5-b1.h5"))) == 2
    assert json.loads((workdir / "results" / "toptag-pythia" / "spectrum" / "efp-d5-b1" / "spectrum.json").read_text())


@pytest.mark.slow  # <= 1 h on 2 cores: the whole small paper, every job through the local Slurm
def test_make_paper_small_runs_end_to_end_through_the_local_slurm(workdir, cli_env):
    """`make paper SCALE=small PROFILE=slurm-local`: shards, EFP caches, spectra under their MPI launcher and every
    sweep point (bundles of 6) as sbatch jobs; the figures and report on the login side."""
    from jetscale.paper.config import PAPER_FIGURES

    done = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "paper", "SCALE=small",
                           "PROFILE=slurm-local", "CONFIG=bundle_size=6", f"SNAKEMAKE_ARGS=--directory {workdir}"],
                          env=cli_env, capture_output=True, text=True, timeout=3 * 3600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    report = workdir / "results" / "paper" / "small" / "report.md"
    assert report.is_file() and all((report.parent / f"{figure}.pdf").is_file() for figure in PAPER_FIGURES)
    slurm_logs = workdir / ".snakemake" / "slurm_logs"
    jobs = {rule.name.removeprefix("rule_"): len(list(rule.rglob("*.log"))) for rule in slurm_logs.iterdir()}
    assert jobs.get("generate_shard") == 6 and jobs.get("efp_features") == 6, jobs  # configs/paper/small.yaml
    assert jobs.get("efp_spectrum", 0) >= 1 and jobs.get("constituent_spectrum", 0) >= 1, jobs
    assert jobs.get("train_bundle", 0) >= 136 // 6, jobs  # every sweep point in a Slurm job
    assert not re.search(r"^localrule (train|train_bundle|generate_shard|efp_features)\b", output, re.M)
