"""`jetscale train` with the training set held on the device (resident_data.on_cpu=true on the CPU) computes
exactly what the DataLoader path computes: whole runs, resumed runs, and runs that switch path when resumed."""

import logging
import signal

import pytest

from jetscale.checkpoints import PREEMPTED_EXIT
from jetscale.train import train, training_identity

from conftest import JETS_POINT
from test_resume import assert_same_metrics, rerun, start, wait_for

ON = "resident_data.on_cpu=true"
TOY = ["task=toy_sgd", "n_samples=64", "width=32", "data.batch_size=24", "data.source.latent_dim=200",
       "trainer.max_steps=40", "checkpoint_every_n_steps=5"]  # 24 does not divide 64: batches straddle epochs
WHERE_AND_WHEN = {"run_id", "wall_s", "config", "data_on_device", "train_s", "train_flops_per_s", "mfu"}  # may differ


def test_where_the_data_are_held_is_not_part_of_a_runs_identity(compose_train):
    plain = training_identity(compose_train(*TOY), 40).fingerprint
    for setting in ([ON], ["resident_data.max_mb=0"], [ON, "resident_data.max_mb=1"]):
        assert training_identity(compose_train(*TOY, *setting), 40).fingerprint == plain, setting


def test_a_toy_run_on_the_device_equals_the_dataloader_run(compose_train, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="jetscale")
    loader = train(compose_train(*TOY), tmp_path / "loader")
    resident = train(compose_train(*TOY, ON), tmp_path / "resident")
    assert "batches are gathered there" in caplog.text
    assert resident["data_on_device"] is True and loader["data_on_device"] is False
    differ = {key for key in loader if resident[key] != loader[key]}
    assert "test_loss" in loader and "data_on_device" in differ and differ <= WHERE_AND_WHEN, differ


def test_a_run_resumed_on_the_other_path_equals_the_uninterrupted_one(compose_train, tmp_path, caplog):
    """15 steps on the device, then the budget grows to 40 and the rerun resumes through the DataLoader (and the
    other way round): the stream continues at step 15 either way."""
    caplog.set_level(logging.INFO, logger="jetscale")
    reference = train(compose_train(*TOY), tmp_path / "fresh")
    for first, second, name in (([ON], [], "device-then-loader"), ([], [ON], "loader-then-device")):
        run_dir = tmp_path / name
        train(compose_train(*TOY, "trainer.max_steps=15", *first), run_dir)
        (run_dir / "metrics.json").unlink()
        caplog.clear()
        resumed = train(compose_train(*TOY, *second), run_dir)
        assert "resuming from" in caplog.text, name
        assert resumed["test_loss"] == reference["test_loss"] and resumed["steps"] == 40, name


def test_a_jet_point_on_the_device_equals_the_reference(tiny_jet_dir, jets_reference, tmp_path, cli_env):
    whole, log = rerun([*JETS_POINT, f"data.dataset_dir={tiny_jet_dir}", ON], tmp_path / "whole", cli_env)
    assert "batches are gathered there" in log
    assert whole["data_on_device"] is True and jets_reference["data_on_device"] is False
    assert_same_metrics(whole, jets_reference)


@pytest.mark.slow  # two more jet runs (~20 s); the toy test above resumes on the device in the default suite
def test_a_jet_point_on_the_device_killed_by_sigterm_resumes_to_the_reference(tiny_jet_dir, jets_reference,
                                                                             tmp_path, cli_env):
    overrides = [*JETS_POINT, f"data.dataset_dir={tiny_jet_dir}", ON]
    run_dir = tmp_path / "killed"
    process = start(overrides, run_dir, cli_env)
    wait_for(run_dir / "checkpoints" / "last.ckpt", process)  # step 5: training runs
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == PREEMPTED_EXIT, out
    resumed, log = rerun(overrides, run_dir, cli_env)
    assert "resuming from" in log and resumed["data_on_device"] is True
    assert_same_metrics(resumed, jets_reference)


@pytest.mark.slow  # two DDP runs of two processes each (~30 s)
def test_two_ddp_ranks_on_the_device_equal_two_ranks_through_the_dataloader(tmp_path, cli_env):
    ddp = [*TOY, "trainer.devices=2", "trainer.strategy=ddp"]
    loader, _ = rerun(ddp, tmp_path / "loader", cli_env)
    resident, log = rerun([*ddp, ON], tmp_path / "resident", cli_env)
    assert log.count("batches are gathered there") == 2  # each rank holds the set
    assert resident["world_size"] == 2 and resident["data_on_device"] is True
    assert {key: resident[key] for key in ("test_loss", "steps", "flops", "epochs")} == {
        key: loader[key] for key in ("test_loss", "steps", "flops", "epochs")}
