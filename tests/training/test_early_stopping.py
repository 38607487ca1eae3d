"""Early stopping on the validation BCE: the best-validation weights make the reported metrics, the steps
and FLOPs are those trained, and a run cut short resumes to the same best step."""

import json

import pandas as pd
import pytest
import torch

from jetscale.data import JetDataModule
from jetscale.metrics import bce
from jetscale.models import PFN
from jetscale.tasks import jets
from jetscale.train import train

EVERY, PATIENCE, BATCH = 5, 3, 20
# 40 training jets and lr 1e-2: the PFN overfits within ~100 steps, so early stopping ends the run.
POINT = ["task=jets", "n_samples=40", "data.n_val=40", "data.n_test=60", f"data.batch_size={BATCH}",
         "width=16", "model.optimizer.lr=1e-2", f"early_stopping.val_every_n_steps={EVERY}",
         f"early_stopping.patience={PATIENCE}", "trainer.max_steps=300"]


def compose_point(tiny_jet_dir, *extra):
    from hydra import compose, initialize_config_dir

    from jetscale.paths import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=[*POINT, f"data.dataset_dir={tiny_jet_dir}", *extra])


@pytest.fixture(scope="module")
def stopped(tiny_jet_dir, tmp_path_factory):
    """The uninterrupted run: its metrics and run dir."""
    run_dir = tmp_path_factory.mktemp("early-stopping") / "point"
    return train(compose_point(tiny_jet_dir), run_dir), run_dir


def load_net(checkpoint) -> tuple[PFN, int]:
    """The PFN saved in a Lightning checkpoint, and the checkpoint's global step."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    net = PFN(width=16, depth=2)
    net.load_state_dict({k.removeprefix("net."): v for k, v in saved["state_dict"].items() if k.startswith("net.")})
    return net, saved["global_step"]


def test_the_reported_metrics_are_the_best_validation_weights(stopped, tiny_jet_dir):
    metrics, run_dir = stopped
    steps, best_step = metrics["steps"], metrics["best_step"]
    assert best_step % EVERY == 0 and steps == best_step + PATIENCE * EVERY < 300  # stopped by patience
    assert metrics["flops"] == steps * BATCH * PFN(16, 2).train_flops_per_sample(200)  # the steps trained
    assert metrics["epochs"] == steps * BATCH / 40
    data = JetDataModule(tiny_jet_dir, 40, 60, n_val=40, batch_size=BATCH)
    best, at = load_net(run_dir / "checkpoints" / "best.ckpt")
    assert at == best_step
    assert metrics["test_loss"] == pytest.approx(jets.evaluate(best, data)["test_loss"], rel=1e-9)
    assert metrics["roc_auc"] == pytest.approx(jets.evaluate(best, data)["roc_auc"], rel=1e-9)
    assert metrics["val_loss"] == pytest.approx(bce(*jets.predict(best, data, "val")), rel=1e-5)
    last, at = load_net(run_dir / "checkpoints" / "last.ckpt")
    assert at == steps
    overfit = jets.evaluate(last, data)["test_loss"]
    assert abs(overfit - metrics["test_loss"]) > 1e-3, "the last weights must not be the reported ones"
    log = pd.read_csv(next((run_dir / "csv").glob("version_*/metrics.csv"))).dropna(subset=["val_loss"])
    validations = log[log["step"] < steps]["val_loss"]  # the final row is write_run's summary
    assert len(validations) == steps // EVERY and validations.min() == pytest.approx(metrics["val_loss"])
    assert json.loads((run_dir / "metrics.json").read_text())["best_step"] == best_step


def test_a_run_cut_short_resumes_to_the_same_best_step_and_a_rerun_stays_stopped(stopped, tiny_jet_dir, tmp_path):
    reference, _ = stopped
    assert reference["best_step"] >= 2 * EVERY, "the point should validate a few times before its best"
    cut = reference["best_step"] - 2  # after several validations, between two of them, before the best
    run_dir = tmp_path / "point"
    first = train(compose_point(tiny_jet_dir, f"trainer.max_steps={cut}"), run_dir)
    assert first["steps"] == cut and first["best_step"] < cut
    resumed = train(compose_point(tiny_jet_dir), run_dir)
    for key in ("steps", "best_step", "val_loss", "test_loss", "flops", "roc_auc"):
        assert resumed[key] == pytest.approx(reference[key], rel=1e-6), key
    (run_dir / "metrics.json").unlink()  # killed after stopping, before its metrics were written
    again = train(compose_point(tiny_jet_dir), run_dir)
    assert (again["steps"], again["best_step"]) == (reference["steps"], reference["best_step"])
    assert again["test_loss"] == pytest.approx(reference["test_loss"], rel=1e-6)


@pytest.mark.slow
def test_two_ddp_ranks_stop_where_one_process_stops(stopped, tiny_jet_dir, tmp_path, cli_env):
    import subprocess

    from conftest import BIN

    reference, _ = stopped
    run_dir = tmp_path / "point"
    cmd = [str(BIN / "jetscale"), "train", *POINT, f"data.dataset_dir={tiny_jet_dir}", "trainer.devices=2",
           "trainer.strategy=ddp", f"hydra.run.dir={run_dir}"]
    done = subprocess.run(cmd, env=cli_env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert (metrics["steps"], metrics["best_step"]) == (reference["steps"], reference["best_step"])
    assert metrics["val_loss"] == pytest.approx(reference["val_loss"], rel=1e-4)
    assert metrics["test_loss"] == pytest.approx(reference["test_loss"], rel=1e-4)
