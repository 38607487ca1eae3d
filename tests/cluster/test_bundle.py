"""Bundles: K points per scheduler job, one per device slot or packed, resumable per point."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from jetscale.cluster import bundle as bundle_module
from jetscale.cluster.bundle import (THREAD_VARIABLES, XPU_MASK, Member, bundle_exit, bundles, device_packs,
                                   device_slots, member_env, run_bundle, train_command)
from jetscale.results import TABLE_COLUMNS
from jetscale.sweep import run_id

from conftest import REPO

POINTS = {run_id(p): p for p in ({"width": w, "seed": s} for w in (8, 16) for s in (0, 1, 2))}


def test_bundles_chunk_in_sweep_order_and_pack_only_compatible_points():
    plain = bundles(POINTS, 4)
    assert list(plain) == ["bundle-000", "bundle-001"]
    assert [rid for members in plain.values() for rid in members] == list(POINTS)
    assert [len(m) for m in plain.values()] == [4, 2]
    packed = bundles(POINTS, 4, pack=True)  # seed may differ inside a pack, width may not
    assert [len(m) for m in packed.values()] == [3, 3]
    assert all(len({POINTS[rid]["width"] for rid in members}) == 1 for members in packed.values())
    assert bundles(POINTS, 1) == {f"bundle-{i:03d}": [rid] for i, rid in enumerate(POINTS)}
    with pytest.raises(ValueError, match="bundle_size must be at least 1, got 0"):
        bundles(POINTS, 0)


def test_device_slots_are_the_allocations_gpus_else_cpu_slots():
    assert device_slots({"CUDA_VISIBLE_DEVICES": "0,1, 3"}) == ["0", "1", "3"]
    assert device_slots({"CUDA_VISIBLE_DEVICES": ""}, cpu_slots=2) == [None, None]  # GPUs hidden on purpose
    assert device_slots({}, gpu_count=lambda: 4) == ["0", "1", "2", "3"]  # PBS: every GPU of the node
    assert device_slots({}) == [None]  # this machine: no GPU


def test_cpu_members_share_the_jobs_cores_in_every_thread_pool():
    """Snakemake exports the job's threads to every pool; a CPU member gets its share in each (MKL's too, which
    torch's BLAS reads), else 2 members x 2 threads oversubscribe a 2-core job."""
    job_env = {"PATH": "/bin", **dict.fromkeys(THREAD_VARIABLES, "8")}
    env = member_env(None, 4, job_env, cores=8)
    assert {name: env[name] for name in THREAD_VARIABLES} == dict.fromkeys(THREAD_VARIABLES, "2")
    assert {"MKL_NUM_THREADS", "OMP_NUM_THREADS"} <= set(THREAD_VARIABLES)
    assert member_env(None, 12, job_env, cores=8)["MKL_NUM_THREADS"] == "1"
    assert member_env("0", 4, job_env, cores=8)["MKL_NUM_THREADS"] == "8", "a GPU member keeps the job's"


def test_on_aurora_each_member_gets_one_gpu_tile():
    assert device_slots({XPU_MASK: "4,5"}, variable=XPU_MASK) == ["4", "5"]
    assert device_slots({"CUDA_VISIBLE_DEVICES": "0"}, gpu_count=lambda: 12, variable=XPU_MASK) == [
        str(i) for i in range(12)]  # every tile of the node; CUDA's variable says nothing about them
    env = member_env("7", 12, {"PATH": "/bin"}, variable=XPU_MASK)
    assert env[XPU_MASK] == "7" and "CUDA_VISIBLE_DEVICES" not in env


def test_the_profiles_accelerator_reaches_every_member_unless_the_sweep_sets_one(tmp_path, monkeypatch):
    import argparse

    calls = []
    monkeypatch.setattr(bundle_module, "device_slots", lambda cpu_slots, variable: calls.append(variable) or ["0"])
    monkeypatch.setattr(bundle_module, "run_bundle", lambda members, slots, variable: calls.append(members) or {})

    def run(*overrides):
        args = argparse.Namespace(sweep=None, run_dir=[str(tmp_path / "seed=0")], overrides=list(overrides),
                                  accelerator="xpu", precision="bf16-mixed", pack=False, cpu_slots=1)
        assert bundle_module.cmd_train_bundle(args) == 0
        return calls[-1][0].command

    command = run("ridge=0.1")
    assert "trainer.accelerator=xpu" in command and "trainer.precision=bf16-mixed" in command and calls[0] == XPU_MASK
    command = run("trainer.accelerator=cpu")
    assert "trainer.accelerator=xpu" not in command and "trainer.precision=bf16-mixed" not in command
    command = run("trainer.precision=32-true")  # the sweep's own precision wins
    assert "trainer.accelerator=xpu" in command and "trainer.precision=bf16-mixed" not in command


def recorder(run_dir: Path) -> Member:
    """A member whose 'training' records the GPU it was given and when it ran."""
    script = ('import json, os, sys, time; start = time.time(); time.sleep(0.5); '
              'json.dump({"device": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.time()}, '
              'open(sys.argv[1], "w"))')
    return Member(run_dir, [sys.executable, "-c", script, str(run_dir / "metrics.json")])


def test_members_run_one_per_gpu_concurrently_and_finished_ones_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    members = [recorder(tmp_path / f"point-{i}") for i in range(4)]
    finished = tmp_path / "done-before"
    finished.mkdir()
    (finished / "metrics.json").write_text("{}")
    status = run_bundle([*members, recorder(finished)], device_slots(), poll_s=0.05)
    assert set(status) == {m.run_dir for m in members} and bundle_exit(status) == 0
    assert (finished / "metrics.json").read_text() == "{}"  # not rerun
    runs = [json.loads((m.run_dir / "metrics.json").read_text()) for m in members]
    assert sorted(r["device"] for r in runs) == ["0", "0", "1", "1"]
    for a in runs:  # members that overlapped in time had different GPUs; never more than two at once
        overlapping = [b for b in runs if b["start"] < a["end"] and a["start"] < b["end"]]
        assert len(overlapping) <= 2 and len({b["device"] for b in overlapping}) == len(overlapping)
    assert all((m.run_dir / "train.log").exists() for m in members)


def test_a_member_is_finished_only_if_trained_with_its_overrides(tmp_path):
    run_dir = tmp_path / "n_samples=64__seed=1"
    run_dir.mkdir()
    member = Member(run_dir, ["true"], ["ridge=0.1", "n_samples=64", "seed=1"])
    assert not member.done
    metrics = {key: 1 for key in TABLE_COLUMNS} | {"overrides": ["ridge=0.01", "n_samples=64", "seed=1"]}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    assert not member.done  # trained with another ridge: the rerun trains it again
    (run_dir / "metrics.json").write_text(json.dumps(metrics | {"overrides": member.overrides}))
    assert member.done


def test_a_failed_member_fails_the_bundle_and_a_preempted_one_asks_for_a_rerun(tmp_path):
    def exits(rc, name):
        return Member(tmp_path / name, [sys.executable, "-c", f"raise SystemExit({rc})"])

    status = run_bundle([exits(0, "ok"), exits(3, "broken")], [None])
    assert bundle_exit(status) == 1
    status = run_bundle([exits(75, "preempted"), exits(3, "broken-too")], [None, None])
    assert bundle_exit(status) == 75


def finished(run_dir: Path, overrides: list[str]) -> None:
    run_dir.mkdir(parents=True)
    point = bundle_module.point_overrides(run_dir.name)
    metrics = {key: 1 for key in TABLE_COLUMNS} | {"overrides": [*overrides, *point]}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


def test_a_packed_bundle_is_cut_into_one_pack_per_device_of_its_unfinished_points(tmp_path):
    run_dirs = [tmp_path / run_id({"seed": s}) for s in range(8)]
    finished(run_dirs[2], ["task=toy_sgd"])
    packs = device_packs(run_dirs, ["task=toy_sgd"], n_slots=3)
    assert [[p.run_dir for p in pack.points] for pack in packs] == [run_dirs[:2], run_dirs[3:5], run_dirs[5:]]
    assert packs[1].run_dir == run_dirs[3] and not any(pack.done for pack in packs)  # its train.log: first point's
    assert packs[1].command == ["jetscale", "train-packed", "--run-dir", str(run_dirs[3]), "--run-dir",
                                str(run_dirs[4]), "task=toy_sgd"]
    assert [len(pack.points) for pack in device_packs(run_dirs[:2], [], n_slots=4)] == [1, 1]  # never an empty pack
    assert device_packs(run_dirs[2:3], ["task=toy_sgd"], n_slots=4) == []


def pack_recorder(run_dirs: list[Path]) -> list[str]:
    """A fake `jetscale train-packed`: writes each point's metrics with the GPU it was given and when it ran."""
    script = ('import json, os, sys, time; start = time.time(); time.sleep(0.5); '
              '[os.makedirs(d, exist_ok=True) or json.dump({"device": os.environ.get("CUDA_VISIBLE_DEVICES"), '
              '"start": start, "end": time.time()}, open(d + "/metrics.json", "w")) for d in sys.argv[1:]]')
    return [sys.executable, "-c", script, *map(str, run_dirs)]


def test_a_packed_bundle_on_two_gpus_runs_one_pack_process_per_gpu(tmp_path, monkeypatch):
    import argparse

    run_dirs = [tmp_path / run_id({"seed": s}) for s in range(5)]
    finished(run_dirs[0], ["ridge=0.1", "trainer.accelerator=gpu"])
    started = []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    monkeypatch.setattr(bundle_module, "packed_command", lambda dirs, overrides: started.append(
        (dirs, overrides)) or pack_recorder(dirs))
    args = argparse.Namespace(sweep=None, run_dir=list(map(str, run_dirs)), overrides=["ridge=0.1"],
                              accelerator="gpu", precision=None, pack=True, cpu_slots=1)
    assert bundle_module.cmd_train_bundle(args) == 0
    assert started == [(run_dirs[1:3], ["ridge=0.1", "trainer.accelerator=gpu"]),
                       (run_dirs[3:], ["ridge=0.1", "trainer.accelerator=gpu"])]
    runs = [json.loads((d / "metrics.json").read_text()) for d in run_dirs[1:]]
    assert [r["device"] for r in runs] == ["2", "2", "5", "5"]  # a pack's points share its GPU
    assert runs[0]["start"] < runs[2]["end"] and runs[2]["start"] < runs[0]["end"], "the packs ran side by side"
    assert (run_dirs[1] / "train.log").exists() and (run_dirs[3] / "train.log").exists()
    assert "device" not in json.loads((run_dirs[0] / "metrics.json").read_text())  # finished before: not rerun


@pytest.mark.parametrize("accelerator, visible, overrides", [
    ("gpu", "0", []),  # one GPU: the pack trains in this process, on it
    (None, "0,1", []),  # no accelerator: a CPU pack, however many GPUs the node has
    ("gpu", "0,1", ["trainer.accelerator=cpu"]),  # the sweep's own accelerator wins: one pack, as it says
])
def test_a_packed_bundle_on_one_device_or_the_cpu_is_one_pack_here(tmp_path, monkeypatch, accelerator, visible,
                                                                   overrides):
    import argparse

    from jetscale import packed

    calls = []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    monkeypatch.setattr(packed, "train_run_dirs", lambda run_dirs, overrides: calls.append((run_dirs, overrides)))
    monkeypatch.setattr(bundle_module, "run_bundle", lambda *a, **k: pytest.fail("no member processes"))
    run_dirs = [tmp_path / run_id({"seed": s}) for s in range(3)]
    args = argparse.Namespace(sweep=None, run_dir=list(map(str, run_dirs)), overrides=overrides,
                              accelerator=accelerator, precision=None, pack=True, cpu_slots=4)
    assert bundle_module.cmd_train_bundle(args) == 0
    assert calls == [(run_dirs, overrides + ([f"trainer.accelerator={accelerator}"] if accelerator and not overrides
                                            else []))]


def test_train_command_takes_the_points_overrides_from_its_run_dir():
    cmd = train_command(Path("out/runs/n_samples=64__seed=1"), ["task=toy"])
    assert cmd == ["jetscale", "train", "task=toy", "n_samples=64", "seed=1",
                   'hydra.run.dir="out/runs/n_samples=64__seed=1"']


def write_sweep(tmp_path, widths, seeds) -> Path:
    sweep = {"name": "bundled", "task": "toy_sgd", "axes": {"width": widths, "seed": seeds},
             "overrides": {"data.source.latent_dim": 40, "n_samples": 32, "data.batch_size": 16,
                           "trainer.max_steps": 20},
             "fit": {"laws": []}}
    path = tmp_path / "bundled.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def snakemake(tmp_path, sweep, cli_env, *extra):
    cmd = [str(Path(sys.executable).parent / "snakemake"), "--profile", "profiles/local", "--config",
           f"sweep={sweep}", f"results_dir={tmp_path / 'results'}", *extra]
    done = subprocess.run(cmd, cwd=REPO, env=cli_env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def test_packed_bundles_run_one_job_each_and_resume_per_point(tmp_path, cli_env):
    sweep = write_sweep(tmp_path, widths=[4, 6], seeds=[0, 1, 2, 3])  # 16 points in 4 PBS jobs: tests/cluster/test_pbs.py
    log = snakemake(tmp_path, sweep, cli_env, "bundle_size=4", "bundle_pack=True")
    out = tmp_path / "results" / "bundled"
    assert log.count("rule train_bundle:") == 2 and "rule train:" not in log
    assert sorted(p.name for p in (out / "bundles").iterdir()) == ["bundle-000.done", "bundle-001.done"]
    metrics = sorted(out.glob("runs/*/metrics.json"))
    assert len(metrics) == 8 and all(json.loads(m.read_text())["packed"] == 4 for m in metrics)
    assert len((out / "table.csv").read_text().splitlines()) == 9

    # As if the sweep had been cut off while bundle 0 ran: no table, no flag, one member unfinished.
    # The rerun trains that member alone and leaves every finished metrics file as it was.
    lost = out / "runs" / "width=4__seed=2" / "metrics.json"
    kept = {m: m.stat().st_mtime_ns for m in metrics if m != lost}
    for path in (lost, out / "bundles" / "bundle-000.done", out / "table.csv"):
        path.unlink()
    log = snakemake(tmp_path, sweep, cli_env, "bundle_size=4", "bundle_pack=True")
    assert log.count("rule train_bundle:") == 1 and lost.exists()
    assert {m: m.stat().st_mtime_ns for m in kept} == kept
    assert len((out / "table.csv").read_text().splitlines()) == 9

    # The user changes an override: every bundle reruns and trains its members again, none is kept as it was.
    sweep.write_text(sweep.read_text().replace("trainer.max_steps: 20", "trainer.max_steps: 25"))
    log = snakemake(tmp_path, sweep, cli_env, "bundle_size=4", "bundle_pack=True")
    assert log.count("rule train_bundle:") == 2
    assert {json.loads(m.read_text())["steps"] for m in metrics} == {25}
    assert set(pd.read_csv(out / "table.csv")["steps"]) == {25}
