"""Interrupted training resumes to the same result: SIGTERM/SIGUSR1, deadlines and corrupt checkpoints, with real
`jetscale train` processes (SIGKILL at any moment: test_kill_anywhere.py)."""

import json
import shutil
import signal
import subprocess
import time

import pytest

import torch

from jetscale.checkpoints import PREEMPTED_EXIT, deadline_from_env
from jetscale.train import train

from conftest import BIN, JETS_POINT

TOY = ["task=toy_sgd", "n_samples=64", "width=32", "data.batch_size=16", "data.source.latent_dim=200",
       "trainer.max_steps=40", "checkpoint_every_n_steps=5"]
COMPARED = ("test_loss", "accuracy", "roc_auc", "steps", "flops", "epochs", "n_params", "val_loss", "best_step")
JETS = JETS_POINT


def start(overrides, run_dir, env):
    cmd = [str(BIN / "jetscale"), "train", *overrides, f"hydra.run.dir={run_dir}"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(path, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"training ended before {path.name} appeared:\n{process.stdout.read()}"
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.05)


def rerun(overrides, run_dir, env):
    done = subprocess.run([str(BIN / "jetscale"), "train", *overrides, f"hydra.run.dir={run_dir}"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((run_dir / "metrics.json").read_text()), done.stdout + done.stderr


def assert_same_metrics(resumed, reference):
    """Exactly equal: a resumed run repeats the uninterrupted one's arithmetic, step for step."""
    assert {key: resumed[key] for key in COMPARED} == {key: reference[key] for key in COMPARED}


def test_sigterm_checkpoints_exits_75_and_the_rerun_matches(tiny_jet_dir, jets_reference, tmp_path, cli_env):
    overrides = [*JETS, f"data.dataset_dir={tiny_jet_dir}"]
    run_dir = tmp_path / "point"
    process = start(overrides, run_dir, cli_env)
    wait_for(run_dir / "checkpoints" / "last.ckpt", process)  # step 5: training runs, the handlers are set
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == PREEMPTED_EXIT, out
    assert "stopped by SIGTERM at step" in out and (run_dir / "checkpoints" / "last.ckpt").exists()
    assert not (run_dir / "metrics.json").exists()
    resumed, log = rerun(overrides, run_dir, cli_env)
    assert "resuming from" in log
    assert_same_metrics(resumed, jets_reference)


def test_sigusr1_also_checkpoints_and_exits_75(tmp_path, cli_env):
    run_dir = tmp_path / "point"
    overrides = [*TOY, "trainer.max_steps=100000"]
    process = start(overrides, run_dir, cli_env)
    wait_for(run_dir / "checkpoints" / "last.ckpt", process)
    process.send_signal(signal.SIGUSR1)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == PREEMPTED_EXIT, out
    assert "stopped by SIGUSR1" in out and (run_dir / "checkpoints" / "last.ckpt").exists()


def test_deadline_checkpoints_exits_75_and_the_rerun_finishes(compose_train, tmp_path, cli_env):
    """JETSCALE_DEADLINE (set by the PBS job scripts from the walltime) acts like the warning signal."""
    run_dir = tmp_path / "point"
    done = subprocess.run([str(BIN / "jetscale"), "train", *TOY, "trainer.max_steps=100000", f"hydra.run.dir={run_dir}"],
                          env={**cli_env, "JETSCALE_DEADLINE": f"{time.time() + 8:.0f}"}, capture_output=True,
                          text=True, timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == PREEMPTED_EXIT, out
    assert "stopped by JETSCALE_DEADLINE=" in out and not (run_dir / "metrics.json").exists()
    stopped_at = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)["global_step"]
    assert 0 < stopped_at < 100000
    resumed, _ = rerun([*TOY, f"trainer.max_steps={stopped_at + 5}"], run_dir, cli_env)
    assert resumed["steps"] == stopped_at + 5


def test_a_malformed_deadline_is_named():
    with pytest.raises(ValueError, match="JETSCALE_DEADLINE='tomorrow'"):
        deadline_from_env({"JETSCALE_DEADLINE": "tomorrow"})
    assert deadline_from_env({}) is None and deadline_from_env({"JETSCALE_DEADLINE": "12.5"}) == 12.5


def test_inside_a_slurm_job_the_deadline_is_its_end_time_less_a_margin():
    ends = {"42": 10_000.0}
    assert deadline_from_env({"SLURM_JOB_ID": "42"}, ends.get) == 9_700.0
    assert deadline_from_env({"SLURM_JOB_ID": "42", "JETSCALE_DEADLINE_MARGIN_S": "60"}, ends.get) == 9_940.0
    assert deadline_from_env({"SLURM_JOB_ID": "7"}, ends.get) is None  # unlimited or unknown: no deadline
    assert deadline_from_env({"SLURM_JOB_ID": "42", "JETSCALE_DEADLINE": "5"}, ends.get) == 5.0  # explicit wins


@pytest.mark.slurm
@pytest.mark.skipif(not shutil.which("srun") or subprocess.run(["sinfo"], capture_output=True).returncode != 0,
                    reason="no local Slurm (tests/cluster/start_slurm.sh starts one, as root)")
def test_the_slurm_end_time_comes_from_squeue(cli_env):
    """A real 3-minute job: its deadline is within seconds of now + 3 min - 300 s."""
    code = "from jetscale.checkpoints import deadline_from_env; print(deadline_from_env())"
    done = subprocess.run(["srun", "-n1", "-t", "3", str(BIN / "python"), "-c", code], env=cli_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip()) == pytest.approx(time.time() + 180 - 300, abs=30)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_checkpoint_is_kept_aside_and_the_point_starts_afresh(compose_train, tmp_path, caplog, damage):
    cfg = compose_train(*TOY)
    reference = train(cfg, tmp_path / "reference")
    run_dir = tmp_path / "point"
    last = run_dir / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    good = (tmp_path / "reference" / "checkpoints" / "last.ckpt").read_bytes()
    bad = b"not a checkpoint" if damage == "garbage" else good[: len(good) // 2]
    last.write_bytes(bad)
    metrics = train(cfg, run_dir)
    assert metrics["steps"] == 40 and metrics["test_loss"] == pytest.approx(reference["test_loss"], rel=1e-9)
    kept = list(last.parent.glob("last.ckpt.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == bad
    assert "starting this point afresh" in caplog.text


def test_random_states_travel_with_the_checkpoint():
    import random

    import numpy as np
    import torch

    from jetscale.checkpoints import RandomState

    state = RandomState().state_dict()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.random(), np.random.rand(), torch.rand(1)  # the run goes on drawing
    RandomState().load_state_dict(state)  # resume
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
