"""Checkpoint identity: a rerun resumes only a checkpoint of its own config, sets any other aside naming the keys
that differ, and starts fresh; the launcher layout and the step budget's growth do not count."""

import json
import logging

import pytest
import torch

from jetscale.checkpoints import IDENTITY_KEY, LAST, resumable_checkpoint, stale_reason
from jetscale.identity import differences, flatten, run_identity
from jetscale.provenance import git_revision
from jetscale.train import train, training_identity

from conftest import train_cli

TOY = ["task=toy_sgd", "n_samples=64", "width=32", "data.batch_size=16", "data.source.latent_dim=200",
       "trainer.max_steps=30", "checkpoint_every_n_steps=5"]
COMPARED = ("test_loss", "steps", "flops", "n_params")


def same(a: dict, b: dict) -> bool:
    return {k: a[k] for k in COMPARED} == {k: b[k] for k in COMPARED}


# --- the pure part -------------------------------------------------------------------------------------------

def test_flatten_and_differences_name_dotted_keys():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": {}}) == {"a.b": 1, "a.c.d": [1, 2], "e": {}}
    assert differences({"ridge": 0.01, "x": 1}, {"ridge": 0.1, "y": "z"}) == [
        "ridge: 0.01 -> 0.1", "x: 1 -> (absent)", "y: (absent) -> \"z\""]
    many = differences({f"k{i}": i for i in range(12)}, {})
    assert len(many) == 9 and many[-1] == "... and 4 more"


def test_ignored_and_growable_keys_leave_the_fingerprint_alone():
    resolved = {"ridge": 0.1, "trainer": {"devices": 1, "max_steps": 10}, "logger": {"csv": {}}}
    base = run_identity(resolved, ["trainer.devices", "logger"], ["trainer.max_steps"], 10)
    moved = run_identity({**resolved, "trainer": {"devices": 4, "max_steps": 99}, "logger": {"wandb": {}}},
                         ["trainer.devices", "logger"], ["trainer.max_steps"], 99)
    changed = run_identity({**resolved, "ridge": 0.2}, ["trainer.devices", "logger"], ["trainer.max_steps"], 10)
    assert base.fingerprint == moved.fingerprint != changed.fingerprint
    assert set(base.config) == {"ridge"}


def test_the_launcher_layout_is_not_part_of_a_runs_identity(compose_train):
    plain = training_identity(compose_train(*TOY), 30)
    for layout in (["trainer.devices=2", "trainer.strategy=ddp"], ["trainer.num_nodes=2", "trainer.devices=4"],
                   ["trainer.accelerator=gpu"], ["logger=wandb"], ["checkpoint_every_n_steps=50"],
                   ["trainer.max_steps=300"]):
        assert training_identity(compose_train(*TOY, *layout), 30).fingerprint == plain.fingerprint, layout
    for change in (["ridge=0.1"], ["data.source.latent_dim=100"], ["data.batch_size=32"], ["seed=1"],
                   ["model.optimizer.lr=0.5"], ["trainer.precision=64-true"],
                   ["trainer.precision=bf16-mixed"], ["float32_matmul_precision=high"]):
        assert training_identity(compose_train(*TOY, *change), 30).fingerprint != plain.fingerprint, change


def test_a_checkpoint_without_an_identity_or_past_the_budget_is_stale(compose_train):
    identity = training_identity(compose_train(*TOY), 30)
    assert "no config fingerprint" in stale_reason({"global_step": 3}, identity)
    mine = {IDENTITY_KEY: identity.record(), "global_step": 30}
    assert stale_reason(mine, identity) is None
    assert "trained 30 steps, more than this run's budget of 20" in stale_reason(mine, training_identity(
        compose_train(*TOY, "trainer.max_steps=20"), 20))


# --- real runs -----------------------------------------------------------------------------------------------

def finished_then_rerun(compose_train, run_dir, first, second):
    """Train ``first`` to the end, drop its metrics (as Snakemake does when a point's params change), train
    ``second`` in the same run dir."""
    train(compose_train(*TOY, *first), run_dir)
    (run_dir / "metrics.json").unlink()
    return train(compose_train(*TOY, *second), run_dir)


@pytest.mark.parametrize("change", [["ridge=0.1"], ["data.source.latent_dim=100"]], ids=["value", "shape"])
def test_a_changed_config_sets_the_old_checkpoint_aside_and_trains_afresh(compose_train, tmp_path, caplog, change):
    reference = train(compose_train(*TOY, *change), tmp_path / "fresh")
    rerun = finished_then_rerun(compose_train, tmp_path / "point", [], change)
    assert same(rerun, reference)
    checkpoints = tmp_path / "point" / "checkpoints"
    (aside,) = checkpoints.glob(f"{LAST}.stale-*")
    assert torch.load(aside, weights_only=False)["global_step"] == 30  # the old run's, kept
    key = change[0].split("=")[0]
    assert "it was made with another config" in caplog.text and f"{key}: " in caplog.text
    changed = training_identity(compose_train(*TOY, *change), 30)
    assert resumable_checkpoint(checkpoints / LAST, changed, git_revision())


def test_a_larger_budget_resumes_and_ends_as_a_fresh_run_of_that_budget(compose_train, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="jetscale")
    reference = train(compose_train(*TOY, "trainer.max_steps=50"), tmp_path / "fresh")
    rerun = finished_then_rerun(compose_train, tmp_path / "point", [], ["trainer.max_steps=50"])
    assert "resuming from" in caplog.text and same(rerun, reference)
    smaller = finished_then_rerun(compose_train, tmp_path / "point2", [], ["trainer.max_steps=10"])
    assert smaller["steps"] == 10 and "more than this run's budget of 10" in caplog.text


def test_a_checkpoint_resumes_under_another_world_size(tmp_path, cli_env, compose_train):
    """One process trains 15 steps; the rerun, two DDP processes at the same global batch, resumes it."""
    run_dir = tmp_path / "point"
    train(compose_train(*TOY, "trainer.max_steps=15"), run_dir)
    (run_dir / "metrics.json").unlink()
    ddp = train_cli([*TOY, "trainer.devices=2", "trainer.strategy=ddp"], run_dir, cli_env)
    assert ddp.returncode == 0, ddp.stdout[-2000:] + ddp.stderr[-2000:]
    assert "resuming from" in ddp.stdout + ddp.stderr and not list(run_dir.glob("checkpoints/*.stale-*"))
    resumed = json.loads((run_dir / "metrics.json").read_text())
    reference = train(compose_train(*TOY), tmp_path / "fresh")
    assert resumed["world_size"] == 2 and resumed["steps"] == 30
    assert resumed["test_loss"] == pytest.approx(reference["test_loss"], rel=1e-5)  # gradients summed in another order


def test_a_checkpoint_of_other_code_resumes_with_a_warning_naming_both_revisions(compose_train, tmp_path, caplog):
    run_dir = tmp_path / "point"
    train(compose_train(*TOY, "trainer.max_steps=10"), run_dir)
    last = run_dir / "checkpoints" / LAST
    checkpoint = torch.load(last, weights_only=False)
    checkpoint[IDENTITY_KEY]["git_revision"] = "0123abc"
    torch.save(checkpoint, last)
    identity = training_identity(compose_train(*TOY), 30)
    assert resumable_checkpoint(last, identity, git_revision()) == last
    assert "made by jetscale 0123abc; this is jetscale" in caplog.text


def test_regenerated_shards_at_the_same_path_do_not_resume_the_old_checkpoint(tiny_jet_dir, tmp_path, compose_train,
                                                                              caplog):
    """Same config, same data.dataset_dir, other jets (a shard made again with another seed): the manifest's
    checksum is part of the identity, so the point trains afresh on the new jets."""
    import shutil

    from jetscale.cli import main

    jets = tmp_path / "jets"
    shutil.copytree(tiny_jet_dir, jets)
    point = ["task=jets", "n_samples=40", "data.n_test=20", "data.batch_size=20", "width=8",
             "trainer.max_steps=6", f"data.dataset_dir={jets}"]
    train(compose_train(*point), tmp_path / "point")
    (tmp_path / "point" / "metrics.json").unlink()
    assert main(["generate", "--shard", "1", "--jets-per-shard", "100", "--seed", "7", "--out", str(jets)]) == 0
    rerun = train(compose_train(*point), tmp_path / "point")
    assert "data_files.manifest_sha256" in caplog.text and rerun["steps"] == 6
    assert same(rerun, train(compose_train(*point), tmp_path / "fresh"))
    assert len(list((tmp_path / "point" / "checkpoints").glob(f"{LAST}.stale-*"))) == 1
