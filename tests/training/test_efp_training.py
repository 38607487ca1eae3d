"""`jetscale train` with the EFP taggers: EFPDataModule's jets, its cache checks, and both models trained."""

import shutil

import h5py
import numpy as np
import pytest
import torch

from jetscale.cli import main
from jetscale.data import EFPDataModule, JetDataModule
from jetscale.data.efp_cache import efp_cache_path, read_efp_cache
from jetscale.data.shards import ShardError
from jetscale.models import EFPLinear, EFPMLP
from jetscale.tasks import jets as jets_task
from jetscale.train import train

N_TRAIN, N_TEST, BATCH = 200, 100, 50  # 2 shards x 150 jets: 150 top and 150 QCD, all used
TAGGER_METRICS = ("test_loss", "accuracy", "roc_auc", "rejection_at_0.3", "rejection_at_0.5")


@pytest.fixture(scope="module")
def jet_dir(tmp_path_factory):
    """Two generated shards with their d<=5 EFP caches, made by the commands docs/jets.md names."""
    out = tmp_path_factory.mktemp("jets") / "toptag-pythia"
    assert main(["generate", "--shards", "0-1", "--jets-per-shard", "150", "--out", str(out)]) == 0
    for shard in sorted(out.glob("shard-*.h5")):
        assert main(["features", "--shard", str(shard)]) == 0
    return out


def all_efps(directory) -> np.ndarray:
    """Every jet's EFPs in canonical order (shard order, then row), straight from the caches."""
    return np.concatenate([read_efp_cache(efp_cache_path(directory / f"shard-0000{s}.h5"))["efp"] for s in (0, 1)])


def copy_of(jet_dir, tmp_path):
    return shutil.copytree(jet_dir, tmp_path / jet_dir.name)


def efp_data(directory, **options) -> EFPDataModule:
    return EFPDataModule(directory, N_TRAIN, N_TEST, batch_size=BATCH, **options)


def test_efp_items_are_the_jet_datamodules_jets(jet_dir):
    efp, jets = efp_data(jet_dir, n_features=102), JetDataModule(jet_dir, N_TRAIN, N_TEST, batch_size=BATCH)
    efp.setup()
    everything = all_efps(jet_dir)
    for split in ("train", "test"):
        ours, theirs = efp.dataset(split), jets.dataset(split)
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices)
        np.testing.assert_array_equal(ours.labels.numpy(), theirs.labels)
        np.testing.assert_allclose(ours.efp.numpy(), everything[theirs.indices], rtol=1e-6)
        assert ours[3]["efp"].shape == (102,) and ours[3]["efp"].dtype == torch.float32
    first = next(iter(efp.train_dataloader())), next(iter(jets.train_dataloader()))
    assert torch.equal(first[0]["index"], first[1]["index"])  # the same training stream
    mean, std = efp.feature_moments()
    np.testing.assert_allclose(mean, everything[jets.dataset("train").indices].mean(axis=0), rtol=1e-12)
    assert mean.dtype == std.dtype == np.float64 and mean.shape == std.shape == (102,)


def test_missing_cache_names_the_file_and_the_command(jet_dir, tmp_path):
    directory = copy_of(jet_dir, tmp_path)
    cache = efp_cache_path(directory / "shard-00001.h5")
    cache.unlink()
    with pytest.raises(ShardError, match=rf"{cache}: no EFP cache.*`jetscale features --shard \S*shard-00001\.h5"):
        efp_data(directory).setup()


def test_cache_of_another_shard_is_refused(jet_dir, tmp_path):
    directory = copy_of(jet_dir, tmp_path)
    cache = efp_cache_path(directory / "shard-00000.h5")
    with h5py.File(cache, "r+") as handle:
        handle.attrs["source_sha256"] = "0" * 64
    with pytest.raises(ShardError, match=rf"{cache}: made from a shard with sha256 0+, .*lists \S*shard-00000\.h5"):
        efp_data(directory).setup()


def test_n_features_must_match_the_caches(jet_dir):
    with pytest.raises(ShardError, match="hold 102 features, but n_features=314"):
        efp_data(jet_dir, n_features=314).feature_moments()


def compose_efp(compose_train, jet_dir, task, *overrides):
    return compose_train(f"task={task}", f"data.dataset_dir={jet_dir}", f"n_samples={N_TRAIN}",
                         f"data.n_test={N_TEST}", f"data.batch_size={BATCH}", *overrides)


def test_efp_linear_learns_with_standardised_inputs(compose_train, jet_dir, tmp_path):
    steps = 200
    cfg = compose_efp(compose_train, jet_dir, "jets_efp_linear", f"trainer.max_steps={steps}")
    run_dir = tmp_path / "efp_linear"
    metrics = train(cfg, run_dir)
    assert metrics["task"] == "jets" and metrics["model"] == "efp_linear" and metrics["steps"] == steps
    assert metrics["theory_loss"] is None
    for key in TAGGER_METRICS:
        assert np.isfinite(metrics[key]) or metrics[key] == float("inf"), key
    assert metrics["flops"] == steps * BATCH * EFPLinear(102).train_flops_per_sample() == steps * BATCH * 4 * 102
    assert metrics["n_params"] == EFPLinear(102).n_params == 103
    assert metrics["roc_auc"] > 0.7  # top vs QCD from EFPs alone: about 0.9 here
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    training = all_efps(jet_dir)[JetDataModule(jet_dir, N_TRAIN, N_TEST).dataset("train").indices]
    np.testing.assert_allclose(state["net.mean"].numpy(), training.mean(axis=0), rtol=1e-6)


def test_efp_mlp_trains_and_resumes(compose_train, jet_dir, tmp_path):
    options = ("width=8", "checkpoint_every_n_steps=5")
    run_dir = tmp_path / "efp_mlp"
    metrics = train(compose_efp(compose_train, jet_dir, "jets_efp_mlp", *options, "trainer.max_steps=10"), run_dir)
    assert metrics["model"] == "efp_mlp" and metrics["steps"] == 10 and np.isfinite(metrics["test_loss"])
    assert metrics["n_params"] == EFPMLP(102, width=8, depth=2).n_params
    assert metrics["flops"] == 10 * BATCH * EFPMLP(102, width=8, depth=2).train_flops_per_sample()
    resumed = train(compose_efp(compose_train, jet_dir, "jets_efp_mlp", *options, "trainer.max_steps=15"), run_dir)
    assert resumed["steps"] == 15  # restored from last.ckpt (plain hyperparameters load with weights_only)


def test_efp_validation_jets_are_the_jet_datamodules_and_stop_training_early(compose_train, jet_dir, tmp_path):
    sizes = dict(n_train=100, n_test=N_TEST, n_val=100, batch_size=BATCH)  # 50 + 50 + 50 jets of each class
    efp, jets = EFPDataModule(jet_dir, n_features=102, **sizes), JetDataModule(jet_dir, **sizes)
    ours, theirs = efp.dataset("val"), jets.dataset("val")
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices)
    np.testing.assert_allclose(ours.efp.numpy(), all_efps(jet_dir)[theirs.indices], rtol=1e-6)
    every, patience = 5, 3
    cfg = compose_efp(compose_train, jet_dir, "jets_efp_linear", "n_samples=100", "data.n_val=100",
                      "model.optimizer.lr=0.1", f"early_stopping.val_every_n_steps={every}",
                      f"early_stopping.patience={patience}", "trainer.max_steps=1000")
    metrics = train(cfg, tmp_path / "efp_linear")
    assert metrics["best_step"] % every == 0 and metrics["steps"] == metrics["best_step"] + patience * every < 1000
    best = torch.load(tmp_path / "efp_linear" / "checkpoints" / "best.ckpt", weights_only=True)
    net = EFPLinear(102)
    net.load_state_dict({k.removeprefix("net."): v for k, v in best["state_dict"].items() if k.startswith("net.")})
    assert metrics["test_loss"] == pytest.approx(jets_task.evaluate(net, efp)["test_loss"], rel=1e-9)
