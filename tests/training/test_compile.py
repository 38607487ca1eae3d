"""``compile.enabled``: `jetscale train` trains a torch.compile'd module (backend eager here: fast, same numbers)."""

import pytest
import torch

from jetscale.train import train, training_identity

SMALL = ["data.source.latent_dim=50", "n_samples=100", "width=16", "ridge=1e-2", "seed=3"]

SGD = ("task=toy_sgd", *SMALL, "model.optimizer.lr=0.05", "checkpoint_every_n_steps=20")
EAGER = ("compile.enabled=true", "compile.backend=eager")


def test_a_compiled_run_records_it_keeps_plain_checkpoint_keys_and_matches_the_eager_run(compose_train, tmp_path):
    plain = train(compose_train(*SGD, "trainer.max_steps=40"), tmp_path / "plain")
    run_dir = tmp_path / "compiled"
    compiled = train(compose_train(*SGD, *EAGER, "trainer.max_steps=40"), run_dir)
    assert compiled["compiled"] is True and plain["compiled"] is False
    assert compiled["config"]["compile"] == {"enabled": True, "backend": "eager", "mode": None}
    assert compiled["test_loss"] == pytest.approx(plain["test_loss"], rel=1e-6)  # evaluated with the trained weights
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    assert state and not [key for key in state if "_orig_mod" in key]  # loads into an uncompiled module
    assert state.keys() == torch.load(tmp_path / "plain" / "checkpoints" / "last.ckpt", map_location="cpu",
                                      weights_only=False)["state_dict"].keys()


def test_a_compiled_run_compiles_its_net_once_not_every_step(compose_train, tmp_path):
    """The training step reads the trainer's step counter: compiling it (not the net) recompiled every step."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    train(compose_train(*SGD, *EAGER, "trainer.max_steps=30"), tmp_path / "compiled")
    assert 1 <= counters["stats"]["unique_graphs"] <= 2, dict(counters["stats"])
    assert not counters["recompiles"], dict(counters["recompiles"])


def test_a_compiled_run_resumes_from_its_checkpoint(compose_train, tmp_path):
    straight = train(compose_train(*SGD, *EAGER, "trainer.max_steps=80"), tmp_path / "straight")
    run_dir = tmp_path / "resumed"
    train(compose_train(*SGD, *EAGER, "trainer.max_steps=40"), run_dir)  # a run cut off after 40 steps
    resumed = train(compose_train(*SGD, *EAGER, "trainer.max_steps=80"), run_dir)
    assert resumed["steps"] == 80 and resumed["compiled"] is True
    assert resumed["test_loss"] == pytest.approx(straight["test_loss"], rel=1e-5)
    assert len(sorted((run_dir / "csv").glob("version_*/metrics.csv"))) == 2  # two attempts: it did resume


def test_compiling_is_part_of_a_points_identity(compose_train):
    """A compiled step may round differently: its checkpoints are not another config's."""
    plain, compiled = (training_identity(compose_train(*SGD, *extra), 40) for extra in ((), EAGER))
    assert plain != compiled


def test_a_closed_form_point_is_never_compiled(compose_train, tmp_path):
    metrics = train(compose_train("task=toy", *SMALL, *EAGER), tmp_path / "closed")
    assert metrics["compiled"] is False
