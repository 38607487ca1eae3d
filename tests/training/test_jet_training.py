"""`jetscale train` on jet shards: a PFN tagger through Lightning writes the tagger metrics."""

import json

import numpy as np
import pytest

from jetscale.models import PFN
from jetscale.train import train


def test_pfn_trains_on_shards_and_reports_tagger_metrics(compose_train, tiny_jet_dir, tmp_path):
    cfg = compose_train("task=jets", f"data.dataset_dir={tiny_jet_dir}", "n_samples=100", "data.n_test=60",
                        "data.batch_size=50", "width=8", "trainer.max_steps=30", "checkpoint_every_n_steps=10")
    run_dir = tmp_path / "n_samples=100__width=8__seed=0"
    metrics = train(cfg, run_dir)
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk["task"] == "jets" and on_disk["model"] == "pfn" and on_disk["steps"] == 30
    assert on_disk["theory_loss"] is None
    assert on_disk["val_loss"] is None and on_disk["best_step"] is None  # data.n_val=0: no early stopping
    assert not (run_dir / "checkpoints" / "best.ckpt").exists()
    for key in ("test_loss", "accuracy", "roc_auc", "rejection_at_0.3", "rejection_at_0.5"):
        assert np.isfinite(on_disk[key]) or on_disk[key] == float("inf"), key
    assert 0 < metrics["test_loss"] < 5 and 0 <= metrics["roc_auc"] <= 1
    per_sample = metrics["flops"] / (30 * 50)
    assert per_sample == pytest.approx(PFN(width=8, depth=2).train_flops_per_sample(200))
    assert metrics["n_params"] == PFN(width=8, depth=2).n_params
    assert (run_dir / "checkpoints" / "last.ckpt").exists()


def test_closed_form_solver_is_refused_for_jets(compose_train, tiny_jet_dir, tmp_path):
    cfg = compose_train("task=jets", f"data.dataset_dir={tiny_jet_dir}", "n_samples=40", "data.n_test=20",
                        "solver=closed_form")
    with pytest.raises(ValueError, match="solver=lightning"):
        train(cfg, tmp_path / "bad")


def test_particle_transformer_trains_through_the_same_path(compose_train, tiny_jet_dir, tmp_path):
    cfg = compose_train("task=jets", "model=particle_transformer", f"data.dataset_dir={tiny_jet_dir}",
                        "n_samples=40", "data.n_test=40", "data.batch_size=20", "width=8", "trainer.max_steps=3")
    metrics = train(cfg, tmp_path / "part")
    assert metrics["model"] == "particle_transformer" and metrics["steps"] == 3
    assert np.isfinite(metrics["test_loss"]) and metrics["flops"] > 0


@pytest.mark.parametrize("net", ["pfn", "particle_transformer"])
def test_short_jets_get_the_same_logits_with_max_constituents_and_trimmed_batches(tiny_jet_dir, net):
    """Cutting constituents a jet does not have, or padding columns, changes none of its logits."""
    import torch

    from jetscale.data import JetDataModule
    from jetscale.data.jet_dataset import trim_batch
    from jetscale.models import ParticleTransformer

    torch.manual_seed(0)
    model = PFN(width=8, depth=2) if net == "pfn" else ParticleTransformer(width=8, depth=1, heads=2)
    model.eval()
    full, cut = (JetDataModule(tiny_jet_dir, 40, 60, batch_size=40, max_constituents=c, trim_padding=False)
                 for c in (None, 64))
    batch, short = next(iter(full.train_dataloader())), next(iter(cut.train_dataloader()))
    assert batch["mask"].shape[1] == 200 and short["mask"].shape[1] == 64
    fits = batch["n_constituents"] <= 64
    assert 0 < fits.sum() < len(fits)  # jets that fit and jets that are cut
    with torch.no_grad():
        reference = model(batch["constituents"], batch["mask"])
        trimmed = trim_batch(batch)
        assert trimmed["mask"].shape[1] == int(batch["n_constituents"].max()) < 200
        torch.testing.assert_close(model(trimmed["constituents"], trimmed["mask"]), reference, rtol=1e-5, atol=1e-6)
        truncated = model(short["constituents"], short["mask"])
    torch.testing.assert_close(truncated[fits], reference[fits], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(truncated[~fits], reference[~fits], rtol=1e-5, atol=1e-6)


def test_max_constituents_sets_the_flop_count_and_trimming_keeps_the_result(compose_train, tiny_jet_dir, tmp_path):
    common = ("task=jets", f"data.dataset_dir={tiny_jet_dir}", "n_samples=40", "data.n_test=40",
              "data.batch_size=20", "width=8", "trainer.max_steps=5")
    trimmed, padded = (train(compose_train(*common, f"data.trim_padding={trim}"), tmp_path / f"trim={trim}")
                       for trim in ("true", "false"))
    assert trimmed["test_loss"] == pytest.approx(padded["test_loss"], rel=1e-5)
    assert trimmed["flops"] == padded["flops"] == 5 * 20 * PFN(8, 2).train_flops_per_sample(200)  # nominal C
    cut = train(compose_train(*common, "data.max_constituents=32"), tmp_path / "cut")
    assert cut["flops"] == 5 * 20 * PFN(8, 2).train_flops_per_sample(32)
    assert cut["test_loss"] != pytest.approx(padded["test_loss"], rel=1e-5)


def test_batches_reach_the_model_trimmed_under_a_trainer(compose_train, tiny_jet_dir):
    import lightning as L
    from hydra.utils import instantiate

    widths = []

    class Record(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            widths.append((batch["mask"].shape[1], int(batch["n_constituents"].max())))

    cfg = compose_train("task=jets", f"data.dataset_dir={tiny_jet_dir}", "n_samples=40", "data.n_test=40",
                        "data.batch_size=20", "width=8")
    trainer = L.Trainer(accelerator="cpu", max_steps=3, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
                        limit_val_batches=0, callbacks=[Record()])
    trainer.fit(instantiate(cfg.model), datamodule=instantiate(cfg.data))
    assert len(widths) == 3 and all(width == longest < 200 for width, longest in widths)
