"""`jetscale status`: every point of a sweep in exactly one state, from its files, its lock and the scheduler."""

import json
import subprocess
import sys
import time

import yaml

from conftest import BIN
from jetscale.cluster import pbs
from jetscale.cluster.status import job_keys, pbs_jobs, slurm_jobs, sweep_status
from jetscale.sweep import load_sweep
from test_pbs import render_job_script


def tiny_sweep(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({"name": "tiny", "task": "toy", "axes": {"n_samples": [8, 16, 32],
                                    "width": [4, 8]}, "overrides": {"data.source.latent_dim": 40}}))
    return load_sweep(path, check_config=False)


def status(sweep, tmp_path, *args, env=None):
    return subprocess.run([str(BIN / "jetscale"), "status", sweep.source, "--results-dir", str(tmp_path / "results"),
                           *args], capture_output=True, text=True, timeout=120, env=env)


def test_each_point_is_in_one_state_and_failed_ones_show_their_log(tmp_path, cli_env):
    sweep = tiny_sweep(tmp_path)
    runs, logs = tmp_path / "results" / "tiny" / "runs", tmp_path / "results" / "tiny" / "logs" / "train"
    trained = subprocess.run([str(BIN / "jetscale"), "train", *sweep.hydra_overrides({"n_samples": 8, "width": 4}),
                              f'hydra.run.dir="{runs / "n_samples=8__width=4"}"'], env=cli_env, capture_output=True)
    assert trained.returncode == 0, trained.stderr[-2000:]
    stale = runs / "n_samples=8__width=8"  # trained before the sweep's latent_dim changed
    stale.mkdir(parents=True)
    payload = json.loads((runs / "n_samples=8__width=4" / "metrics.json").read_text())
    (stale / "metrics.json").write_text(json.dumps({**payload, "run_id": stale.name, "overrides": [
        "task=toy", "data.source.latent_dim=20", "n_samples=8", "width=8"]}))
    logs.mkdir(parents=True)
    (logs / "n_samples=16__width=4.log").write_text("loading\n\nValueError: data.batch_size must be an integer\n")
    busy = runs / "n_samples=16__width=8"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from jetscale.lifetime import hold_point\n"
                               "with hold_point(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)",
                               str(busy)], stdout=subprocess.PIPE, text=True, env=cli_env)
    try:
        assert holder.stdout.readline().strip() == "held"
        jobs = slurm_jobs(f"PENDING|{job_keys('slurm', 'tiny', 'train', 'run_id', 'n_samples=32__width=4')}\n"
                          "RUNNING|rule_train_wildcards_other_n_samples=32__width=8\n")
        states = {p.run_id: p for p in sweep_status(sweep, tmp_path / "results", jobs, "slurm")}
        done = status(sweep, tmp_path, env=cli_env)
    finally:
        holder.kill()
        holder.wait()
    assert {rid: p.state for rid, p in states.items()} == {
        "n_samples=8__width=4": "done", "n_samples=8__width=8": "stale", "n_samples=16__width=4": "failed",
        "n_samples=16__width=8": "running", "n_samples=32__width=4": "queued", "n_samples=32__width=8": "not started"}
    assert "data.source.latent_dim=20" in states["n_samples=8__width=8"].detail
    assert states["n_samples=16__width=4"].log_tail == ["loading", "ValueError: data.batch_size must be an integer"]
    assert done.returncode == 0, done.stderr
    assert "done 1, running 1, queued 0, failed 1, stale 1, not started 2" in done.stdout  # no scheduler asked
    assert "failed: n_samples=16__width=4\n    | loading\n    | ValueError" in done.stdout


def test_pbs_jobs_are_matched_by_the_names_pbs_submit_gives(tmp_path):
    name = pbs.job_name({"rule": "train", "wildcards": {"sweep": "tiny", "run_id": "n_samples=8__width=4"}})
    qstat = {"Jobs": {"1.x": {"Job_Name": name, "Job_Owner": "me@login", "job_state": "Q"},
                      "2.x": {"Job_Name": "train_bundle.tiny.bundle-001", "Job_Owner": "me@login", "job_state": "R"},
                      "3.x": {"Job_Name": "train.tiny.n_samples-16__width-4", "Job_Owner": "me@x", "job_state": "F"},
                      "4.x": {"Job_Name": "train.tiny.n_samples-16__width-8", "Job_Owner": "you@x", "job_state": "R"}}}
    jobs = pbs_jobs(json.dumps(qstat), "me")
    assert jobs == {name: "queued", "train_bundle.tiny.bundle-001": "running"}
    sweep = tiny_sweep(tmp_path)
    states = {p.run_id: p.state for p in sweep_status(sweep, tmp_path / "results", jobs, "pbs", bundle_size=2)}
    assert states["n_samples=8__width=4"] == "queued"
    assert [states[r] for r in ("n_samples=16__width=4", "n_samples=16__width=8")] == ["running"] * 2  # bundle-001


def test_status_asks_pbs_through_the_polaris_profile(tmp_path, pbs_env):
    """A training job of the sweep that PBS runs (the fake PBS) shows its point as running."""
    sweep = tiny_sweep(tmp_path)
    properties = {"rule": "train", "wildcards": {"sweep": "tiny", "run_id": "n_samples=32__width=8"},
                  "resources": {"nodes": 1, "runtime": 10, "queue": "debug", "account": "proj"}}
    script = render_job_script(properties, "sleep 30", tmp_path / "job.sh")
    job_id = pbs.submit(script, pbs.load_facility("polaris"), environ=pbs_env, workdir=tmp_path)
    try:
        deadline = time.time() + 30
        while pbs.status(job_id) != "running" and time.time() < deadline:
            time.sleep(0.2)
        shown = status(sweep, tmp_path, "--profile", "polaris", "--list", "running", env=pbs_env)
    finally:
        subprocess.run(["qdel", job_id], env=pbs_env, capture_output=True)
    assert shown.returncode == 0, shown.stderr
    assert "asked pbs" in shown.stdout and "running 1" in shown.stdout
    assert "n_samples=32__width=8  its scheduler job running" in shown.stdout
