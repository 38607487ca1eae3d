"""PBS Pro at ALCF (profiles/polaris, profiles/aurora) against the fake PBS of tests/cluster/fake_pbs:
queue rules, the project check, status words, the job script, qsub lines and job scripts as snapshots,
and a sweep through Snakemake with one qsub per point."""

from __future__ import annotations

import argparse
import difflib
import getpass
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from conftest import FAKE_PBS, REPO
from jetscale.cluster import pbs

SNAPSHOTS = REPO / "tests" / "snapshots" / "pbs"
TEMPLATE = REPO / "profiles" / "pbs" / "jobscript.sh"
sys.path.insert(0, str(FAKE_PBS))
import fakepbs  # noqa: E402


def job_properties(rule="train", **resources) -> dict:
    return {"rule": rule, "wildcards": {"run_id": "n_samples=16__width=8"} if rule == "train" else {},
            "resources": {"nodes": 1, "runtime": 30, "queue": "debug", "account": "proj", **resources}}


def request(facility: str, **resources) -> pbs.Request:
    return pbs.job_request(job_properties(**resources), pbs.load_facility(facility), environ={})


def wait_for(job_id: str, timeout=30.0) -> str:
    deadline = time.time() + timeout
    while (state := pbs.status(job_id)) == "running" and time.time() < deadline:
        time.sleep(0.2)
    return state


def render_job_script(properties: dict, exec_job: str, path: Path) -> Path:
    """The profiles' job script as Snakemake writes it (str.format of the template)."""
    path.write_text(TEMPLATE.read_text().format(properties=json.dumps(properties), exec_job=exec_job))
    path.chmod(0o755)
    return path


# --------------------------------------------------------------------------- requests and queue rules


def test_walltimes_read_and_written_as_pbs_does():
    assert pbs.parse_walltime("01:30:00") == 5400 and pbs.parse_walltime("72:00:00") == 72 * 3600
    assert pbs.format_walltime(72 * 3600) == "72:00:00" and pbs.format_walltime(600) == "00:10:00"
    for ambiguous in ("1h", "01:00", 60, "60", "00:75:00"):  # PBS reads "01:00" and 60 as a minute or less
        with pytest.raises(pbs.PBSError, match="HH:MM:SS"):
            pbs.parse_walltime(ambiguous)


def test_request_takes_walltime_over_runtime_and_facility_defaults():
    req = request("polaris", runtime=90)
    assert (req.nodes, req.walltime, req.queue, req.filesystems) == (1, 5400, "debug", "home:eagle")
    assert request("polaris", walltime="00:20:00", runtime=90).walltime == 1200
    assert request("aurora", queue=None, filesystems="flare").filesystems == "flare"
    assert request("aurora", queue=None).queue == "debug" and request("aurora").filesystems == "home:flare"
    assert req.name == "train.n_samples-16__width-8"


@pytest.mark.parametrize(("facility", "resources", "expected"), [
    ("polaris", {"queue": "debug", "nodes": 3}, ["queue debug takes 1-2 nodes (at most 2)", "asks for 3",
                                                  "queues that take it: debug-scaling"]),
    ("polaris", {"queue": "debug", "walltime": "02:00:00"}, ["queue debug", "at most 01:00:00", "02:00:00"]),
    ("polaris", {"queue": "debug", "runtime": 2}, ["queue debug", "00:05:00-01:00:00"]),
    ("polaris", {"queue": "prod", "nodes": 4}, ["queue prod takes 10-496 nodes"]),
    ("polaris", {"queue": "prod", "nodes": 10, "walltime": "04:00:00"},
     ["queue prod routes 10 nodes to small", "at most 03:00:00"]),
    ("polaris", {"queue": "preemptable", "nodes": 11}, ["queue preemptable takes 1-10 nodes"]),
    ("aurora", {"queue": "debug-scaling", "nodes": 1}, ["queue debug-scaling takes 2-256 nodes"]),
    ("aurora", {"queue": "prod", "nodes": 600, "walltime": "16:00:00"},
     ["routes 600 nodes to small", "at most 12:00:00"]),
    # 2026: prod starts at 256 nodes; one node for a day goes to capacity
    ("aurora", {"queue": "prod", "nodes": 1, "walltime": "24:00:00"},
     ["queue prod takes 256-10624 nodes", "queues that take it: capacity (1-16 nodes, 00:05:00-168:00:00, 5 jobs "
      "per user)"]),
    ("aurora", {"queue": "prod-large", "nodes": 2000},
     ["unknown queue 'prod-large'", "debug, debug-scaling, capacity"]),
    ("aurora", {"queue": "preemptable"}, ["unknown queue 'preemptable'", "debug, debug-scaling, capacity, prod"]),
    ("polaris", {"queue": "capacity", "nodes": 5}, ["queue capacity takes 1-4 nodes"]),
])
def test_a_request_the_queue_cannot_take_fails_naming_queue_and_limit(facility, resources, expected):
    with pytest.raises(pbs.PBSError) as err:
        pbs.check_request(request(facility, **resources), pbs.load_facility(facility))
    for text in expected:
        assert text in str(err.value), str(err.value)


@pytest.mark.parametrize(("facility", "resources", "flags"), [
    ("polaris", {"queue": "debug", "nodes": 2}, []),
    ("polaris", {"queue": "preemptable", "nodes": 10, "walltime": "72:00:00"}, ["-r", "y"]),
    ("polaris", {"queue": "prod", "nodes": 100, "walltime": "24:00:00"}, []),
    ("aurora", {"queue": "prod", "nodes": 256, "walltime": "12:00:00"}, []),
    ("aurora", {"queue": "capacity", "nodes": 16, "walltime": "168:00:00"}, []),
    ("aurora", {"queue": "debug-scaling", "nodes": 256, "walltime": "01:00:00"}, []),
    ("polaris", {"queue": "capacity", "nodes": 4, "walltime": "168:00:00"}, []),
])
def test_requests_within_the_limits_pass(facility, resources, flags, tmp_path):
    fac = pbs.load_facility(facility)
    req = request(facility, **resources)
    command = pbs.qsub_command("job.sh", fac, req, pbs.check_request(req, fac), tmp_path, environ={})
    assert command[-1] == "job.sh" and (command[-3:-1] == flags if flags else "-r" not in command)
    assert f"select={req.nodes}:system={facility}" in command


def test_a_missing_project_is_a_clear_error():
    fac = pbs.load_facility("polaris")
    for unset in ("$JETSCALE_PBS_ACCOUNT", "", "<your-project>", None):
        props = job_properties(account=unset)
        with pytest.raises(pbs.PBSError, match="export JETSCALE_PBS_ACCOUNT=.*nothing was submitted"):
            pbs.job_request(props, fac, environ={})
        assert pbs.job_request(props, fac, environ={"JETSCALE_PBS_ACCOUNT": "fromenv"}).account == "fromenv"
    assert pbs.job_request(job_properties(account="res"), fac, environ={"JETSCALE_PBS_ACCOUNT": "env"}).account == "res"
    assert pbs.job_request(job_properties(account=None, project="proj2"), fac, environ={}).account == "proj2"


def test_values_reach_qsub_as_single_arguments_or_are_refused(tmp_path):
    fac = pbs.load_facility("polaris")
    with pytest.raises(pbs.PBSError, match="account"):
        request("polaris", account="proj; rm -rf ~")
    with pytest.raises(pbs.PBSError, match="filesystems"):
        request("polaris", filesystems="home eagle")
    odd = pbs.job_request({"rule": "train", "wildcards": {"run_id": "a b'c\"d;e"}, "resources": {"account": "p",
                                                                                                  "runtime": 10}},
                          fac, environ={})
    assert odd.name == "train.a-b-c-d-e"
    with pytest.raises(pbs.PBSError, match="commas"):
        pbs.job_variables(odd, fac, environ={"JETSCALE_ENV_FILE": "/a,b/env.sh"})
    workdir = tmp_path / "dir with space"
    command = pbs.qsub_command("/x/job.sh", fac, odd, fac.queue("debug"), workdir, environ={"WANDB_MODE": "offline"})
    assert command[command.index("-o") + 1] == f"{workdir}/logs/pbs/train.a-b-c-d-e.log"
    variables = dict(item.split("=", 1) for item in command[command.index("-v") + 1].split(","))
    assert variables["JETSCALE_ENV_FILE"] == str(REPO / "envs" / "polaris.sh") and variables["WANDB_MODE"] == "offline"


def test_a_missing_project_submits_nothing(tmp_path, pbs_env):
    script = render_job_script(job_properties(account="$JETSCALE_PBS_ACCOUNT"), "true", tmp_path / "job.sh")
    env = {k: v for k, v in pbs_env.items() if k != "JETSCALE_PBS_ACCOUNT"}
    proc = subprocess.run([sys.executable, "-m", "jetscale.cluster.pbs", "submit", "--facility", "polaris", str(script)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "no PBS project to charge: export JETSCALE_PBS_ACCOUNT=" in proc.stderr
    assert fakepbs.qsub_lines(tmp_path / "pbs") == []


# --------------------------------------------------------------------------- status and cancel


def qstat_json(**job) -> str:
    return json.dumps({"timestamp": 1, "pbs_version": "2022.1.1", "pbs_server": "s", "Jobs": {"42.s": job}})


@pytest.mark.parametrize(("text", "expected"), [
    (qstat_json(job_state="Q"), "running"),
    (qstat_json(job_state="R"), "running"),
    (qstat_json(job_state="H"), "running"),
    (qstat_json(job_state="E"), "running"),  # exiting: not finished yet
    (qstat_json(job_state="F", Exit_status=0), "success"),
    (qstat_json(job_state="F", Exit_status=1), "failed"),
    (qstat_json(job_state="F", Exit_status=271), "failed"),  # deleted or killed at the walltime
    (qstat_json(job_state="F", Exit_status=-29), "failed"),
    (qstat_json(job_state="F"), "failed"),  # deleted before it ran
    (json.dumps({"Jobs": {}}), "failed"),
    ('{"Jobs":{"42.s":{"Variable_List":{"A":"x\\,y"},"job_state":"F","Exit_status":0}}}', "success"),  # bad escape
])
def test_qstat_json_to_status_word(text, expected):
    assert pbs.status_from_qstat(text, "42.s") == expected


def test_status_when_qstat_fails():
    def qstat(code, err):
        return lambda *a, **k: SimpleNamespace(returncode=code, stdout="", stderr=err)

    assert pbs.status("7.s", run=qstat(153, "qstat: Unknown Job Id 7.s")) == "failed"
    assert pbs.status("7.s", run=qstat(1, "qstat: Unknown Job Id 7.s")) == "failed"
    assert pbs.status("7.s", run=qstat(2, "Connection refused")) == "running"  # asked again at the next poll


def test_status_and_cancel_of_fake_pbs_jobs(tmp_path, pbs_env):
    def qsub(body: str, name: str) -> str:
        script = tmp_path / f"{name}.sh"
        script.write_text(f"#!/bin/bash\n{body}\n")
        args = ["qsub", "-N", name, "-A", "p", "-l", "select=1", "-l", "walltime=00:01:00", "-l", "filesystems=home",
                "-j", "oe", "-o", str(tmp_path / f"{name}.log"), str(script)]
        return subprocess.run(args, capture_output=True, text=True, env=pbs_env, check=True).stdout.strip()

    ok, bad, slow = qsub("sleep 1", "ok"), qsub("exit 3", "bad"), qsub("sleep 60", "slow")
    assert pbs.status(ok) == "running"
    pbs_env["FAKE_PBS_VANISH"] = "gone"
    gone = qsub("true", "gone")
    assert (wait_for(ok), wait_for(bad)) == ("success", "failed")
    assert pbs.status(gone) == "failed" and pbs.status("999.fakepbs") == "failed"
    assert pbs.status(slow) == "running"
    cancel = subprocess.run([sys.executable, "-m", "jetscale.cluster.pbs", "cancel", slow], env=pbs_env, timeout=30)
    assert cancel.returncode == 0 and wait_for(slow, timeout=10) == "failed"
    assert [r["exit_status"] for r in fakepbs.read_table(tmp_path / "pbs")] == [0, 3, 271, None]


# --------------------------------------------------------------------------- the job script


def test_job_script_exports_the_layout_and_a_deadline_in_a_clean_environment(tmp_path, pbs_env):
    """The job sees only what qsub -v passes (no FAKE_PBS_DIR of the submitting shell), sources the env
    file, and gets NNODES, MASTER_ADDR/PORT, the facility's ranks and binding, and JETSCALE_DEADLINE."""
    dump = tmp_path / "job-env.txt"
    script = render_job_script(job_properties(nodes=2, runtime=10), f"env > {dump}", tmp_path / "job.sh")
    job_id = pbs.submit(script, pbs.load_facility("aurora"), environ=pbs_env, workdir=tmp_path)
    submitted = time.time()
    assert wait_for(job_id) == "success"
    env = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
    rank_zero = socket.gethostname().split(".")[0] + ".hsn.cm.aurora.alcf.anl.gov"  # Aurora's Slingshot name
    assert (env["NNODES"], env["MASTER_ADDR"], env["MASTER_PORT"]) == ("2", rank_zero, "29500")
    assert (env["RANKS_PER_NODE"], env["DEPTH"]) == ("12", "8") and env["CPU_BIND"].startswith("list:1-8:9-16:")
    assert "FAKE_PBS_DIR" not in env and env["PBS_JOBID"] == job_id
    assert abs(float(env["JETSCALE_DEADLINE"]) - (submitted + 600 - 300)) < 5
    output = (tmp_path / "logs" / "pbs" / "train.n_samples-16__width-8.log").read_text()
    assert "job env sourced" in output and f"PBS job {job_id}: 2 node(s) x 12 ranks" in output


def test_a_job_whose_environment_fails_stops_before_any_work(tmp_path, pbs_env):
    """A failed `module load` in the env file (it returns 1) ends the job at once, naming the file."""
    broken = tmp_path / "broken-env.sh"
    broken.write_text("echo loading modules\nfalse || return 1\necho never here\n")
    ran = tmp_path / "ran"
    script = render_job_script(job_properties(), f"touch {ran}", tmp_path / "job.sh")
    job_id = pbs.submit(script, pbs.load_facility("polaris"), environ={**pbs_env, "JETSCALE_ENV_FILE": str(broken)},
                        workdir=tmp_path)
    assert wait_for(job_id) == "failed" and not ran.exists()
    output = (tmp_path / "logs" / "pbs" / "train.n_samples-16__width-8.log").read_text()
    assert f"sourcing {broken} failed" in output and "never here" not in output


# --------------------------------------------------------------------------- through Snakemake


def toy_sweep(tmp_path, n_samples=(16, 32), widths=(8, 16)) -> Path:
    """Gradient-trained toy points (the `mpi` launcher applies to them; closed-form points run without it)."""
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({
        "name": "toy", "task": "toy_sgd",
        "axes": {"n_samples": list(n_samples), "width": list(widths)},
        "overrides": {"data.source.latent_dim": 64, "data.batch_size": 16, "trainer.max_steps": 10},
        "fit": {"laws": []},
    }, sort_keys=False))
    return path


def snakemake(tmp_path, profile: str, sweep: Path, env: dict, *extra, timeout=300, on_cpu=True):
    """The profile's Snakemake run of ``sweep``; ``on_cpu``: its gradient points train on the CPU, the fake PBS
    machine having no GPU (``accelerator=cpu`` replaces the profile's gpu/xpu)."""
    cmd = ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--profile", str(REPO / "profiles" / profile), "--seconds-between-status-checks", "1",
           "--config", f"sweep={sweep}", f"results_dir={tmp_path / 'results'}", *(["accelerator=cpu"] * on_cpu),
           *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def test_sweep_runs_through_the_polaris_profile_one_qsub_per_point(tmp_path, pbs_env):
    """One qsub per point, in the queue the sweep asks for; Polaris' capacity queue takes 2 jobs per user (queued or
    running): with --jobs 3, Snakemake still never has more than 2 of the sweep's 3 training jobs there."""
    path = toy_sweep(tmp_path, n_samples=(16,), widths=(4, 8, 16))
    raw = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**raw, "resources": {"queue": "capacity", "runtime": 10}}, sort_keys=False))
    proc = snakemake(tmp_path, "polaris", path, pbs_env, "--jobs", "3")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = pd.read_csv(tmp_path / "results" / "toy" / "table.csv")
    points = {f"n_samples=16__width={w}" for w in (4, 8, 16)}
    assert set(table["run_id"]) == points

    jobs = fakepbs.read_table(tmp_path / "pbs")
    train = [job for job in jobs if job["name"].startswith("train.")]
    # the job name: the rule, then its wildcards (the sweep, the point)
    assert sorted(job["name"] for job in train) == sorted(f"train.toy.{p.replace('=', '-')}" for p in points)
    assert len(fakepbs.qsub_lines(tmp_path / "pbs")) == len(jobs)  # every qsub was accepted
    assert {job["name"] for job in jobs} - {job["name"] for job in train} <= {"aggregate"}
    assert all(job["state"] == "F" and job["exit_status"] == 0 for job in jobs)
    assert all(job["account"] == "jetscale-test" for job in jobs) and {job["queue"] for job in train} == {"capacity"}
    in_queue = [(job["ctime"], job["obittime"]) for job in train]
    assert max(sum(start <= t < end for start, end in in_queue) for t, _ in in_queue) == 2, in_queue
    # the profile's `mpi` resource reached each training job's shell, expanded by the job script
    launches = (tmp_path / "mpiexec.log").read_text().splitlines()
    assert launches == ["mpiexec -n 4 --ppn 4 --depth 8 --cpu-bind depth"] * 3
    # the machine's accelerator (here the test's accelerator=cpu in place of the profile's gpu) on each command
    for job in train:
        command = next(line for line in Path(job["output"]).read_text().splitlines() if " jetscale train " in line)
        assert "trainer.accelerator=cpu" in command.split() and "trainer.accelerator=gpu" not in command


def test_a_failed_and_a_vanished_job_are_reported_failed(tmp_path, pbs_env):
    env = dict(pbs_env, FAKE_PBS_FAIL="*width-8", FAKE_PBS_VANISH="*width-16")
    proc = snakemake(tmp_path, "polaris", toy_sweep(tmp_path, n_samples=(16,)), env, "--jobs", "2", "--retries", "0")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    jobs = {job["name"]: job for job in fakepbs.read_table(tmp_path / "pbs")}
    assert set(jobs) == {"train.toy.n_samples-16__width-8", "train.toy.n_samples-16__width-16"}
    for job in jobs.values():
        assert re.search(rf"Error in rule train:.*?external_jobid: {re.escape(job['id'])}", out, re.S), out[-3000:]
    assert not (tmp_path / "results" / "toy" / "table.csv").exists()


# --------------------------------------------------------------------------- snapshots

SNAPSHOT_FLAGS = ("--snakefile", "--target-jobs", "--allowed-rules", "--config", "--set-resources", "--default-resources")
SNAPSHOT_RESOURCES = ("nodes", "runtime", "walltime", "queue", "account", "filesystems", "mpi")


def abbreviate_exec_job(line: str) -> str:
    """Snakemake's job command, with only the options the profile and workflow decide (base64 decoded)."""
    import base64

    tokens = shlex.split(line)
    start, end = tokens.index("snakemake") + 1, tokens.index("&&", tokens.index("snakemake"))
    kept, skipping = tokens[:start], False
    for token in tokens[start:end]:
        if token.startswith("--"):
            skipping = token not in SNAPSHOT_FLAGS
            if skipping and kept[-1] != "...":
                kept.append("...")
        if not skipping:
            kept.append(base64.b64decode(token[8:]).decode() if token.startswith("base64//") else token)
    words = [*kept, "...", *tokens[end:]] if kept[-1] != "..." else [*kept, *tokens[end:]]
    return " ".join(w if w in ("&&", "||", "...") else shlex.quote(w) for w in words)


def snapshot_text(job: dict, tmp_path: Path) -> str:
    argv, lines = job["argv"], []
    for i, word in enumerate(argv):  # one option and its value per line
        if i == 0 or word.startswith("-") or i == len(argv) - 1 or not argv[i - 1].startswith("-"):
            lines.append(word if i == 0 else f"  {word}")
        else:
            lines[-1] += f" {word}"
    script = []
    for line in (Path(job["script_copy"]).read_text().splitlines()):
        if line.startswith("# properties = "):
            props = json.loads(line.removeprefix("# properties = "))
            props = {"rule": props["rule"], "wildcards": props["wildcards"],
                     "resources": {k: v for k, v in props["resources"].items() if k in SNAPSHOT_RESOURCES}}
            line = f"# properties = {json.dumps(props)}  (abbreviated)"
        elif " -m snakemake " in line:
            line = abbreviate_exec_job(line)
        script.append(line)
    text = "\n".join(["## qsub", *lines, "", "## job script", *script]) + "\n"
    text = text.replace(str(tmp_path), "<WORKDIR>")
    text = re.sub(rf"{re.escape(str(Path(sys.executable).parent))}/python[0-9.]*", "<PYTHON>", text)
    text = re.sub(r"\.snakemake/tmp\.\w+", ".snakemake/tmp.<ID>", text)
    return text.replace(str(REPO), "<REPO>")


@pytest.mark.parametrize("facility", ["polaris", "aurora"])
def test_qsub_line_and_job_script_match_the_snapshot(facility, tmp_path, pbs_env):
    """The qsub command line and job script of one training job, as the profile submits them
    (FAKE_PBS_FAIL: the job does not run). Update after an intended change with
    JETSCALE_UPDATE_SNAPSHOTS=1 pytest tests/cluster/test_pbs.py -k snapshot, and review the diff."""
    env = {k: v for k, v in pbs_env.items() if k != "JETSCALE_ENV_FILE"}  # the facility's own env file
    env["FAKE_PBS_FAIL"] = "*"
    proc = snakemake(tmp_path, facility, toy_sweep(tmp_path, n_samples=(16,), widths=(8,)), env, "--retries", "0",
                     on_cpu=False)
    jobs = fakepbs.read_table(tmp_path / "pbs")
    assert proc.returncode != 0 and len(jobs) == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    job = dict(jobs[0], script_copy=tmp_path / "pbs" / "jobs" / "1" / "script")
    actual = snapshot_text(job, tmp_path)
    expected_path = SNAPSHOTS / f"{facility}.txt"
    header = (f"# Snapshot: what profiles/{facility} submits for one point of a toy sweep (tests/cluster/test_pbs.py).\n"
              "# <WORKDIR>: Snakemake's --directory; Snakemake's own lines are abbreviated (...).\n")
    if os.environ.get("JETSCALE_UPDATE_SNAPSHOTS"):
        expected_path.parent.mkdir(parents=True, exist_ok=True)
        expected_path.write_text(header + actual)
    expected = expected_path.read_text().removeprefix(header)
    diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                        f"tests/snapshots/pbs/{facility}.txt", "this run"))
    assert actual == expected, f"differs from the snapshot (JETSCALE_UPDATE_SNAPSHOTS=1 to accept):\n{diff}"


def test_register_adds_jetscale_pbs_commands():
    parser = argparse.ArgumentParser(prog="jetscale")
    pbs.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["pbs", "status", "1.polaris-pbs-01"])
    assert args.func is pbs.cmd_status and args.job_id == "1.polaris-pbs-01"
    assert parser.parse_args(["pbs", "cancel", "1.x", "2.x"]).job_ids == ["1.x", "2.x"]


def test_an_8_point_sweep_in_bundles_of_4_submits_2_jobs(tmp_path, pbs_env):
    """Bundling: 8 points, bundle_size=4 -> 2 qsubs (packed: the members differ only in seed), each point
    still with its own metrics file."""
    path = tmp_path / "bundled.yaml"
    path.write_text(yaml.safe_dump({
        "name": "bundled", "task": "toy_sgd", "axes": {"width": [4, 8], "seed": [0, 1, 2, 3]},
        "overrides": {"data.source.latent_dim": 40, "n_samples": 32, "data.batch_size": 16, "trainer.max_steps": 10},
        "fit": {"laws": []},
    }, sort_keys=False))
    proc = snakemake(tmp_path, "polaris", path, pbs_env, "bundle_size=4", "bundle_pack=True", "--jobs", "4")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = fakepbs.read_table(tmp_path / "pbs")
    assert len(jobs) == 2 and all(job["name"].startswith("train_bundle.") for job in jobs)
    assert all(job["state"] == "F" and job["exit_status"] == 0 for job in jobs)
    metrics = list((tmp_path / "results" / "bundled" / "runs").glob("*/metrics.json"))
    assert len(metrics) == 8 and {json.loads(m.read_text())["packed"] for m in metrics} == {4}
    assert len(pd.read_csv(tmp_path / "results" / "bundled" / "table.csv")) == 8


def server_queues(facility: str, **changes) -> dict:
    """What ``qstat -Qf -F json`` would answer for the facility's own table, with ``changes`` per queue."""
    queues = {}
    for queue in pbs.load_facility(facility).queues.values():
        raw = {"queue_type": "Route" if queue.routes else "Execution",
               "resources_min": {"nodect": queue.nodes[0], "walltime": pbs.format_walltime(queue.walltime[0])},
               "resources_max": {"nodect": queue.nodes[1], "walltime": pbs.format_walltime(queue.walltime[1])}}
        if queue.max_queued:
            raw["max_queued"] = f"[u:PBS_GENERIC={queue.max_queued}]"
        if queue.max_running:
            raw["max_run"] = f"[u:PBS_GENERIC={queue.max_running}]"
        queues[queue.name] = {**raw, **changes.get(queue.name, {})}
    return {"Queue": queues}


def test_the_live_check_names_each_limit_the_server_changed(tmp_path, pbs_env):
    same = tmp_path / "same.json"
    same.write_text(json.dumps(server_queues("aurora")))
    changed = tmp_path / "changed.json"
    answer = server_queues("aurora", capacity={"max_queued": "[u:PBS_GENERIC=3]",
                                               "resources_max": {"nodect": 8, "walltime": "168:00:00"}})
    del answer["Queue"]["visualization"]
    changed.write_text(json.dumps(answer))
    command = [sys.executable, "-m", "jetscale.cluster.pbs", "queues", "--facility", "aurora", "--live"]
    agrees = subprocess.run(command, env={**pbs_env, "FAKE_PBS_QUEUES": str(same)}, capture_output=True, text=True)
    assert agrees.returncode == 0 and "agrees with every limit" in agrees.stdout, agrees.stdout + agrees.stderr
    assert "capacity (1-16 nodes, 00:05:00-168:00:00, 5 jobs per user), 2 running" in agrees.stdout
    differs = subprocess.run(command, env={**pbs_env, "FAKE_PBS_QUEUES": str(changed)}, capture_output=True, text=True)
    assert differs.returncode == 1, differs.stdout + differs.stderr
    lines = [line for line in differs.stdout.splitlines() if line.startswith("differs: ")]
    assert len(lines) == 3, differs.stdout
    assert any("capacity: max nodes 16 in" in line and "8 on the server" in line for line in lines)
    assert any("capacity: max_queued 5 in" in line and "3 per user on the server" in line for line in lines)
    assert any("visualization: in" in line and "unknown to the PBS server" in line for line in lines)


def test_a_group_job_asks_one_node_and_a_full_queue_is_waited_for():
    """A group (many shards, one Snakemake) runs on its job's first node; Aurora's debug queue takes one job
    per user, so a second submission waits until the first is gone."""
    group = {"type": "group", "groupid": "jet_generation", "resources": {"nodes": 32, "runtime": 50,
                                                                         "account": "proj"}}
    assert pbs.job_request(group, pbs.load_facility("polaris"), environ={}).nodes == 1
    debug = pbs.load_facility("aurora").queue("debug")
    me = getpass.getuser()
    answers = [{"1.x": {"Job_Owner": f"{me}@l", "job_state": "R", "queue": "debug"},
                "2.x": {"Job_Owner": "other@l", "job_state": "Q", "queue": "debug"}},
               {"1.x": {"Job_Owner": f"{me}@l", "job_state": "F", "queue": "debug"},
                "3.x": {"Job_Owner": f"{me}@l", "job_state": "Q", "queue": "capacity"}}]
    asked, slept = [], []

    def qstat(command, **kwargs):
        asked.append(command)
        return SimpleNamespace(returncode=0, stdout=json.dumps({"Jobs": answers[len(asked) - 1]}), stderr="")

    pbs.wait_for_room(debug, environ={"JETSCALE_PBS_POLL_S": "7"}, run=qstat, sleep=slept.append)
    assert len(asked) == 2 and slept == [7.0]  # waited once, for the running job of this user in debug
    pbs.wait_for_room(pbs.load_facility("polaris").queue("debug"), environ={}, run=qstat, sleep=slept.append)
    assert len(asked) == 2  # no per-user limit: qstat is not asked


def test_the_jets_target_plans_grouped_shards_and_the_profiles_spectrum_launcher(tmp_path, pbs_env):
    proc = subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                           "--profile", str(REPO / "profiles" / "aurora"), "-n", "-p", "jets",
                           "--config", "jet_shards=3", "jets_per_shard=60"], capture_output=True, text=True,
                          env=pbs_env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("Group job jet_generation") == 1 and proc.stdout.count("Group job jet_features") == 1
    spectrum = [line for line in proc.stdout.splitlines() if "jetscale spectrum" in line]
    assert spectrum and "mpiexec -n $((NNODES*RANKS_PER_NODE)) --ppn $RANKS_PER_NODE" in spectrum[0]
    assert "queue=capacity" in proc.stdout and "runtime=12" in proc.stdout  # 60 jets: 10 + 2 min


@pytest.mark.slow  # 1.5 min: four PBS jobs, each a Snakemake start on this machine
def test_make_jets_through_the_polaris_profile_runs_many_shards_per_job(tmp_path, pbs_env):
    """`make jets PROFILE=polaris`: the shards of the dataset in one PBS job (the profile's group, one node),
    their EFPs in another, the spectrum under the profile's mpiexec line."""
    options = f"SNAKEMAKE_ARGS=--directory {tmp_path} --seconds-between-status-checks 1"
    done = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "jets", "PROFILE=polaris", "JET_SHARDS=3",
                           "JETS_PER_SHARD=60", options], env=pbs_env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    jobs = {job["name"]: job for job in fakepbs.read_table(tmp_path / "pbs")}
    assert sorted(jobs) == sorted(["jet_generation", "jet_features", "jet_manifest.toptag-pythia",
                                   "efp_spectrum.toptag-pythia.5.1"]), sorted(jobs)
    assert all(job["state"] == "F" and job["exit_status"] == 0 and job["nodes"] == 1 for job in jobs.values())
    assert len(list((tmp_path / "data" / "jets" / "toptag-pythia").glob("shard-*.efp-d5-b1.h5"))) == 3
    assert (tmp_path / "results" / "toptag-pythia" / "spectrum" / "efp-d5-b1" / "spectrum.json").is_file()
    assert (tmp_path / "mpiexec.log").read_text().splitlines() == ["mpiexec -n 4 --ppn 4 --depth 8 --cpu-bind depth"]


def test_the_live_check_away_from_a_pbs_server_says_where_to_run_it():
    def no_qstat(*args, **kwargs):
        raise FileNotFoundError("qstat")

    with pytest.raises(pbs.PBSError, match="no qstat here: --live asks the PBS server from a login node of aurora"):
        pbs.check_live(pbs.load_facility("aurora"), run=no_qstat)
