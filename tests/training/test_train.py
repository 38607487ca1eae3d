"""`jetscale train` in-process: the metrics contract, both solvers, resume, compute budgets, loggers."""

import json
import re

import pytest

from jetscale.data.toy import ToyPowerLaw
from jetscale.models.ridge import simulate_excess_error
from jetscale.provenance import git_revision
from jetscale.results import TABLE_COLUMNS
from jetscale.train import train

SMALL = ["data.source.latent_dim=50", "n_samples=100", "width=16", "ridge=1e-2", "seed=3"]


def test_closed_form_writes_the_metrics_contract(compose_train, tmp_path):
    cfg = compose_train("task=toy", *SMALL)
    run_dir = tmp_path / "n_samples=100__width=16__seed=3"
    metrics = train(cfg, run_dir)
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk["run_id"] == run_dir.name
    assert set(TABLE_COLUMNS) <= set(on_disk)
    assert on_disk["n_params"] == 16 and on_disk["n_samples"] == 100 and on_disk["task"] == "toy"
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", on_disk["git_revision"])  # the code that trained it
    assert on_disk["git_revision"].split("+")[0] == git_revision().split("+")[0]
    assert on_disk["val_loss"] is None and on_disk["best_step"] is None  # no validation for the toy model
    assert on_disk["flops"] > 2 * 100 * 16 * 50
    assert not list(run_dir.glob(".metrics.json.*"))  # atomic write leaves no temp file
    # the same point simulated directly (float64 projection): the stored float32 projection changes little
    source = ToyPowerLaw(1.5, 0.3, 50)
    assert metrics["test_loss"] == pytest.approx(simulate_excess_error(source, 16, 100, 1e-2, 3), rel=1e-3)
    assert metrics["theory_loss"] > 0
    assert list((run_dir / "csv").glob("version_*/metrics.csv"))


def test_lightning_run_approaches_the_closed_form(compose_train, tmp_path):
    exact = train(compose_train("task=toy", *SMALL), tmp_path / "exact")
    sgd = train(compose_train("task=toy_sgd", *SMALL, "trainer.max_steps=400", "model.optimizer.lr=0.05"),
                tmp_path / "sgd")
    assert sgd["solver"] == "lightning" and sgd["steps"] == 400
    assert sgd["test_loss"] == pytest.approx(exact["test_loss"], rel=0.03)
    first_steps = train(compose_train("task=toy_sgd", *SMALL, "trainer.max_steps=5", "model.optimizer.lr=0.05"),
                        tmp_path / "early")
    assert abs(first_steps["test_loss"] - exact["test_loss"]) > 5 * abs(sgd["test_loss"] - exact["test_loss"])


def test_rerun_resumes_from_the_last_checkpoint(compose_train, tmp_path):
    args = ("task=toy_sgd", *SMALL, "model.optimizer.lr=0.05", "checkpoint_every_n_steps=20")
    straight = train(compose_train(*args, "trainer.max_steps=120"), tmp_path / "straight")
    run_dir = tmp_path / "resumed"
    train(compose_train(*args, "trainer.max_steps=60"), run_dir)  # a run cut off after 60 steps
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    resumed = train(compose_train(*args, "trainer.max_steps=120"), run_dir)
    assert resumed["steps"] == 120  # the global step continued, not restarted
    assert resumed["test_loss"] == pytest.approx(straight["test_loss"], rel=1e-5)
    assert resumed["flops"] == pytest.approx(straight["flops"])
    logs = sorted((run_dir / "csv").glob("version_*/metrics.csv"))
    assert len(logs) == 2, "the first attempt's training log must survive the resume"


def test_compute_budget_sets_the_number_of_steps(compose_train, tmp_path):
    from jetscale.models.random_features import sgd_flops_per_sample

    per_step = sgd_flops_per_sample(16, 50) * 100  # full batch of 100 samples
    metrics = train(compose_train("task=toy_sgd", *SMALL, f"compute={per_step * 37.5}"), tmp_path / "budget")
    assert metrics["steps"] == 37
    assert metrics["flops"] == pytest.approx(37 * per_step)
    assert metrics["flops"] <= per_step * 37.5


def test_analytic_flops_match_torch_flop_counter():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from jetscale.models.random_features import RandomFeatureRegressor

    net = RandomFeatureRegressor(latent_dim=60, width=24)
    x, y = torch.randn(32, 60), torch.randn(32)
    with FlopCounterMode(display=False) as counter:
        loss = torch.mean((net(x) - y) ** 2)
        loss.backward()
    assert counter.get_total_flops() == pytest.approx(32 * net.train_flops_per_sample(), rel=0.10)


def test_unknown_solver_and_useless_budget_are_named(compose_train, tmp_path):
    with pytest.raises(ValueError, match="newton"):
        train(compose_train("task=toy", *SMALL, "solver=newton"), tmp_path / "bad")
    with pytest.raises(ValueError, match="compute=1000"):
        train(compose_train("task=toy", *SMALL, "compute=1000"), tmp_path / "bad")
    assert not (tmp_path / "bad" / "metrics.json").exists()


def test_wandb_logger_runs_offline_and_writes_no_api_key(compose_train, tmp_path, monkeypatch):
    secret = "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setenv("WANDB_API_KEY", secret)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = tmp_path / "wandb-run"
    train(compose_train("task=toy", *SMALL, "logger=wandb"), run_dir)
    assert (run_dir / "metrics.json").exists() and list((run_dir / "csv").glob("version_*/metrics.csv"))
    assert list((run_dir / "wandb").glob("offline-run-*")), "wandb should keep an offline run to sync later"
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"API key leaked into {path}"


def test_training_loss_is_logged_every_log_every_n_steps(compose_train, tmp_path):
    import pandas as pd

    cfg = compose_train("task=toy_sgd", "trainer.max_steps=30", "trainer.log_every_n_steps=10",
                        "data.source.latent_dim=100", "width=16", "n_samples=64")
    train(cfg, tmp_path / "point")
    log = pd.read_csv(next((tmp_path / "point" / "csv").glob("version_*/metrics.csv")))
    logged = log.dropna(subset=["train_mse"])
    assert logged["step"].tolist() == [9, 19, 29] and (logged["train_mse"] > 0).all()


# (model config, task [and data] overrides, recorded hyperparameters, training-log name, weight decay, validates)
MODULES = [
    ("pfn", "jets", {"name": "pfn", "inputs": ("constituents", "mask")}, "train_bce", 0, True),
    ("efp_linear", "jets data=jets_efp", {"name": "efp_linear", "inputs": ("efp",)}, "train_bce", 0, True),
    ("particle_transformer", "jets", {"name": "particle_transformer", "inputs": ("constituents", "mask")},
     "train_bce", 0.01, True),  # AdamW keeps its own default weight decay
    ("rhm_cnn", "rhm", {"name": "rhm_cnn", "inputs": ("leaves",)}, "train_ce", 0, True),
    ("random_features", "toy", {"ridge": 1e-4, "name": "random_features"}, "train_mse", 2e-4, False),
    ("shower_ridge", "shower", {"ridge": 1e-4, "name": "shower_ridge"}, "train_mse", 2e-4, True),
    ("flow_matching", "rambo", {"name": "flow_matching"}, "train_loss", 0, True),
]


@pytest.mark.parametrize(("model", "task", "hparams", "log_name", "weight_decay", "validates"), MODULES,
                         ids=[case[0] for case in MODULES])
def test_every_module_shares_one_recipe(compose_train, model, task, hparams, log_name, weight_decay, validates):
    """The modules of every task (jetscale.models.lightning_base): plain hyperparameters in constructor order
    that load with weights_only, their training-log name, the optimizer's weight decay, and val_loss."""
    import io

    import torch
    from hydra.utils import instantiate

    from jetscale import tasks

    cfg = compose_train(*f"task={task}".split(), f"model={model}", "width=4", "ridge=1e-4")
    module = instantiate(cfg.model)
    assert list(module.hparams.items()) == list(hparams.items()) and module.name == hparams["name"]
    buffer = io.BytesIO()
    torch.save({"hyper_parameters": dict(module.hparams)}, buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True)["hyper_parameters"] == hparams
    assert module.train_loss_name == log_name
    assert module.configure_optimizers().defaults["weight_decay"] == pytest.approx(weight_decay)
    assert tasks.overrides(module, "validation_step") == validates
