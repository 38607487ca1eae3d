"""Precision, timing and MFU in every metrics file: in-process toy runs on the CPU, and TrainTimer's resume rule."""

from types import SimpleNamespace

import pytest
import torch

from jetscale.checkpoints import LAST
from jetscale.timing import TrainTimer, device_name
from jetscale.train import train

TOY = ["task=toy_sgd", "data.source.latent_dim=50", "n_samples=100", "width=16", "ridge=1e-2", "seed=3",
       "model.optimizer.lr=0.05", "checkpoint_every_n_steps=20"]
SPEED_KEYS = ("precision", "device_name", "n_devices", "train_s", "train_flops_per_s", "peak_flops_per_s", "mfu")


@pytest.fixture(autouse=True)
def default_matmul_precision():
    yield
    torch.set_float32_matmul_precision("highest")  # train() sets it per run: leave the process as it was


def timer_state(run_dir):
    return torch.load(run_dir / "checkpoints" / LAST, weights_only=False)["callbacks"]["TrainTimer"]


def test_gradient_and_closed_form_points_record_precision_speed_and_no_mfu_on_cpu(compose_train, tmp_path):
    sgd = train(compose_train(*TOY, "trainer.max_steps=30"), tmp_path / "sgd")
    assert {k: sgd[k] for k in ("precision", "device_name", "n_devices", "peak_flops_per_s", "mfu")} == \
        {"precision": "32-true", "device_name": "cpu", "n_devices": 1, "peak_flops_per_s": None, "mfu": None}
    assert 0 < sgd["train_s"] < sgd["wall_s"]
    assert sgd["train_flops_per_s"] == pytest.approx(sgd["flops"] / sgd["train_s"])
    exact = train(compose_train("task=toy", *TOY[1:6]), tmp_path / "exact")
    assert all(key in exact for key in SPEED_KEYS)
    assert exact["precision"] == "64-true" and exact["mfu"] is None and exact["steps"] == 0
    assert exact["train_flops_per_s"] == pytest.approx(exact["flops"] / exact["train_s"])


def test_closed_form_really_solves_in_float64(compose_train):
    from hydra.utils import instantiate

    cfg = compose_train("task=toy", *TOY[1:6])
    datamodule, model = instantiate(cfg.data), instantiate(cfg.model)
    model.prepare(datamodule)
    x, _ = datamodule.split("train")
    assert model.net.fixed_features(x).dtype == "float64"  # what the metrics' precision "64-true" states


def test_bf16_mixed_trains_on_cpu_with_the_same_flops(compose_train, tmp_path):
    fp32 = train(compose_train(*TOY, "trainer.max_steps=10"), tmp_path / "fp32")
    bf16 = train(compose_train(*TOY, "trainer.max_steps=10", "trainer.precision=bf16-mixed"), tmp_path / "bf16")
    assert bf16["precision"] == "bf16-mixed" and bf16["config"]["trainer"]["precision"] == "bf16-mixed"
    assert bf16["flops"] == fp32["flops"] and bf16["steps"] == fp32["steps"] == 10
    assert bf16["test_loss"] != fp32["test_loss"]  # it did compute in bf16


def test_a_resumed_run_reports_the_time_and_steps_of_both_attempts(compose_train, tmp_path):
    run_dir = tmp_path / "point"
    first = train(compose_train(*TOY, "trainer.max_steps=40"), run_dir)
    saved = timer_state(run_dir)
    assert saved == {"seconds": first["train_s"], "steps": 40}  # the final checkpoint holds the whole attempt
    resumed = train(compose_train(*TOY, "trainer.max_steps=80"), run_dir)
    assert resumed["steps"] == 80 and resumed["train_s"] > first["train_s"]
    assert timer_state(run_dir) == {"seconds": resumed["train_s"], "steps": 80}
    assert resumed["train_flops_per_s"] == pytest.approx(resumed["flops"] / resumed["train_s"])


def test_a_pfn_trains_in_bf16_mixed_on_cpu_with_the_same_flops(compose_train, tmp_path, tiny_jet_dir):
    """What the GPU profiles run (bf16 autocast) works through the jet model's masked pooling too."""
    point = ["task=jets", "model=pfn", "n_samples=120", "data.n_test=60", "data.n_val=0", "data.batch_size=20",
             "width=16", "trainer.max_steps=5", f"data.dataset_dir={tiny_jet_dir}"]
    fp32 = train(compose_train(*point), tmp_path / "fp32")
    bf16 = train(compose_train(*point, "trainer.precision=bf16-mixed"), tmp_path / "bf16")
    assert (bf16["precision"], fp32["precision"]) == ("bf16-mixed", "32-true")
    assert bf16["flops"] == fp32["flops"] > 0 and bf16["test_loss"] == pytest.approx(fp32["test_loss"], rel=0.05)
    assert bf16["train_flops_per_s"] == pytest.approx(bf16["flops"] / bf16["train_s"])


@pytest.mark.parametrize("change", ["trainer.precision=bf16-mixed", "float32_matmul_precision=high"])
def test_a_checkpoint_of_another_precision_is_set_aside(compose_train, tmp_path, caplog, change):
    run_dir = tmp_path / "point"
    train(compose_train(*TOY, "trainer.max_steps=20"), run_dir)
    rerun = train(compose_train(*TOY, "trainer.max_steps=20", change), run_dir)
    key = change.split("=")[0]
    assert list((run_dir / "checkpoints").glob(f"{LAST}.stale-*")), "the 32-true/highest checkpoint was resumed"
    assert "it was made with another config" in caplog.text and f"{key}: " in caplog.text
    assert rerun["steps"] == 20 and timer_state(run_dir)["steps"] == 20  # trained afresh, all 20 steps timed


def fake_fit(timer, first_step):
    trainer = SimpleNamespace(global_step=first_step)
    timer.on_train_start(trainer, SimpleNamespace(device=torch.device("cpu")))
    return trainer


def test_steps_after_the_last_checkpoint_of_a_killed_attempt_count_once():
    killed = TrainTimer()
    trainer = fake_fit(killed, 0)
    trainer.global_step = 40
    checkpoint = killed.state_dict()  # last.ckpt at step 40
    trainer.global_step = 55          # then killed: steps 41-55 and their time are lost with the process
    assert checkpoint["steps"] == 40 and checkpoint["seconds"] > 0
    resumed = TrainTimer()
    resumed.load_state_dict(checkpoint)
    trainer = fake_fit(resumed, 40)   # Lightning restores global_step 40 and redoes 41-55
    trainer.global_step = 100
    resumed.on_validation_start(trainer, None)
    paused = resumed.seconds
    assert resumed.seconds == paused, "validation is not timed"
    resumed.on_validation_end(trainer, None)
    resumed.on_train_end(trainer, None)
    assert resumed.steps == 100 and resumed.seconds > checkpoint["seconds"]  # not 115: 41-55 count once
    assert resumed.state_dict() == {"seconds": resumed.seconds, "steps": 100}


def test_device_names_match_the_peak_table(monkeypatch):
    assert device_name(torch.device("cpu")) == "cpu"
    monkeypatch.setattr(torch, "xpu", SimpleNamespace(get_device_name=lambda d: "Intel(R) Data Center GPU Max 1550"),
                        raising=False)
    xpu = torch.device("xpu", 0)
    assert device_name(xpu, {}) == "Intel(R) Data Center GPU Max 1550 (tile)"  # Level Zero's default: FLAT
    assert device_name(xpu, {"ZE_FLAT_DEVICE_HIERARCHY": "FLAT"}) == "Intel(R) Data Center GPU Max 1550 (tile)"
    assert device_name(xpu, {"ZE_FLAT_DEVICE_HIERARCHY": "COMPOSITE"}) == "Intel(R) Data Center GPU Max 1550"
    assert "COMBINED" in device_name(xpu, {"ZE_FLAT_DEVICE_HIERARCHY": "COMBINED"})  # not in the table: no mfu
