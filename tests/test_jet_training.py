"""`jetscale train` on jet shards: a PFN tagger through Lightning writes the tagger metrics."""

import json

import numpy as np
import pytest

from jetscale.train import train


def test_pfn_trains_on_shards_and_reports_tagger_metrics(compose_train, tiny_jet_dir, tmp_path):
    cfg = compose_train("experiment=jets_pfn", f"data.dataset_dir={tiny_jet_dir}", "n_samples=100", "data.n_test=60",
                        "data.batch_size=50", "width=8", "trainer.max_steps=30", "checkpoint_every_n_steps=10")
    run_dir = tmp_path / "n_samples=100__width=8__seed=0"
    metrics = train(cfg, run_dir)
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk["task"] == "jets" and on_disk["model"] == "pfn" and on_disk["steps"] == 30
    assert on_disk["theory_loss"] is None
    for key in ("test_loss", "accuracy", "roc_auc", "rejection_at_0.3", "rejection_at_0.5"):
        assert np.isfinite(on_disk[key]) or on_disk[key] == float("inf"), key
    assert 0 < metrics["test_loss"] < 5 and 0 <= metrics["roc_auc"] <= 1
    per_sample = metrics["flops"] / (30 * 50)
    from jetscale.models import PFN
    assert per_sample == pytest.approx(PFN(width=8, depth=2).train_flops_per_sample(200))
    assert metrics["n_params"] == PFN(width=8, depth=2).n_params
    assert (run_dir / "checkpoints" / "last.ckpt").exists()


def test_closed_form_solver_is_refused_for_jets(compose_train, tiny_jet_dir, tmp_path):
    cfg = compose_train("experiment=jets_pfn", f"data.dataset_dir={tiny_jet_dir}", "n_samples=40", "data.n_test=20",
                        "solver=closed_form")
    with pytest.raises(ValueError, match="solver=lightning"):
        train(cfg, tmp_path / "bad")


def test_particle_transformer_trains_through_the_same_path(compose_train, tiny_jet_dir, tmp_path):
    cfg = compose_train("experiment=jets_pfn", "model=particle_transformer", f"data.dataset_dir={tiny_jet_dir}",
                        "n_samples=40", "data.n_test=40", "data.batch_size=20", "width=8", "trainer.max_steps=3")
    metrics = train(cfg, tmp_path / "part")
    assert metrics["model"] == "particle_transformer" and metrics["steps"] == 3
    assert np.isfinite(metrics["test_loss"]) and metrics["flops"] > 0
