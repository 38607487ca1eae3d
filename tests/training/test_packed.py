"""`jetscale train-packed`: a pack of small runs writes the metrics that separate `jetscale train` runs write."""

import json
import os
import shutil

import pytest
import torch

from jetscale.cli import main
from jetscale.devices import Visible
from jetscale.packed import (Member, Placement, on_device, pack_placement, stacked_batches, train_packed,
                             use_deterministic)
from jetscale.train import train

TOY = ["task=toy_sgd", "data.source.latent_dim=50", "width=16", "ridge=1e-2", "data.batch_size=32",
       "trainer.max_steps=30", "checkpoint_every_n_steps=1000"]


def run_id(n_samples: int, seed: int) -> str:
    return f"n_samples={n_samples}__seed={seed}"


def separate_and_packed(compose_train, tmp_path, common, points):
    """Metrics of each point trained alone (``train``) and all of them as one pack (``train_packed``)."""
    cfgs = [compose_train(*common, f"n_samples={n}", f"seed={s}") for n, s in points]
    separate = [train(cfg, tmp_path / "separate" / run_id(*p)) for cfg, p in zip(cfgs, points)]
    packed = train_packed(cfgs, [tmp_path / "packed" / run_id(*p) for p in points])
    return separate, packed


PACK_ONLY = {"packed"}
TIMES = {"wall_s", "train_s", "train_flops_per_s", "mfu"}  # measured, not computed: they may differ


def assert_same_run(separate: dict, packed: dict, tolerances: dict) -> None:
    """Same keys (plus ``packed``), same values; evaluation metrics within ``tolerances`` (pytest.approx kwargs)."""
    assert set(separate) <= set(packed) and set(packed) - set(separate) <= PACK_ONLY
    precision = separate.get("precision", separate["config"]["trainer"].get("precision", "32-true"))
    assert packed["precision"] == precision and packed["train_s"] > 0
    # a member's speed is the pack's: its FLOPs over its share of the pack's training time
    assert packed["train_flops_per_s"] == pytest.approx(packed["flops"] / packed["train_s"], rel=1e-9)
    for key, value in separate.items():
        if key in tolerances:
            assert packed[key] == pytest.approx(value, **tolerances[key]), key
        elif key not in TIMES:
            assert packed[key] == value, key


def test_packed_toy_runs_match_separate_runs(compose_train, tmp_path):
    points = [(n, s) for n in (48, 64) for s in (0, 1)]  # two seeds x two data sizes
    separate, packed = separate_and_packed(compose_train, tmp_path, TOY, points)
    for one, many, point in zip(separate, packed, points):
        assert_same_run(one, many, {"test_loss": {"rel": 1e-5}, "test_mse": {"rel": 1e-5}})
        assert many["packed"] == 4 and many["steps"] == 30 and many["wall_s"] > 0
        on_disk = json.loads((tmp_path / "packed" / run_id(*point) / "metrics.json").read_text())
        assert on_disk == json.loads(json.dumps(many))
    assert len({m["test_loss"] for m in packed}) == 4  # the members really are different runs
    assert list((tmp_path / "packed" / run_id(48, 0) / "csv").glob("version_*/metrics.csv"))


def test_packed_pfn_runs_match_separate_runs(compose_train, tiny_jet_dir, tmp_path):
    common = ["task=jets", f"data.dataset_dir={tiny_jet_dir}", "data.n_test=40", "data.batch_size=20",
              "width=8", "trainer.max_steps=8", "checkpoint_every_n_steps=1000"]
    separate, packed = separate_and_packed(compose_train, tmp_path, common, [(40, 0), (50, 1)])
    tolerances = {"test_loss": {"rel": 1e-5}, "roc_auc": {"abs": 2e-3}}
    for one, many in zip(separate, packed):
        evaluation_only = {k: {"rel": 1e-3, "abs": 1e-3} for k in one if k.startswith(("accuracy", "rejection"))}
        assert_same_run(one, many, {**evaluation_only, **tolerances})
        assert many["task"] == "jets" and many["packed"] == 2


def test_a_pack_with_its_training_sets_on_the_device_trains_what_one_through_the_loader_trains(
        compose_train, tiny_jet_dir, tmp_path):
    common = ["task=jets", f"data.dataset_dir={tiny_jet_dir}", "data.n_test=40", "data.batch_size=20",
              "width=8", "trainer.max_steps=8"]
    points = [(40, 0), (50, 1)]
    runs = {}
    for name, extra in (("loader", []), ("resident", ["resident_data.on_cpu=true"])):
        cfgs = [compose_train(*common, *extra, f"n_samples={n}", f"seed={s}") for n, s in points]
        runs[name] = train_packed(cfgs, [tmp_path / name / run_id(*p) for p in points])
    for loader, resident in zip(runs["loader"], runs["resident"]):
        assert not loader["data_on_device"] and resident["data_on_device"]
        differ = {k for k in loader if loader[k] != resident[k]} - TIMES - {"run_id", "config", "data_on_device"}
        assert not differ, {k: (loader[k], resident[k]) for k in differ}


def test_members_must_share_everything_but_seed_and_n_samples(compose_train, tmp_path):
    cfgs = [compose_train(*TOY, "width=16"), compose_train(*TOY, "width=8", "seed=1")]
    with pytest.raises(ValueError, match="width"):
        train_packed(cfgs, [tmp_path / "a", tmp_path / "b"])
    assert not list(tmp_path.rglob("metrics.json"))


def test_full_batch_points_of_different_sizes_are_refused(compose_train, tmp_path):
    cfgs = [compose_train(*TOY, "data.batch_size=null", f"n_samples={n}") for n in (48, 64)]
    with pytest.raises(ValueError, match=r"batch size.*n_samples=48.*set data\.batch_size"):
        train_packed(cfgs, [tmp_path / run_id(48, 0), tmp_path / run_id(64, 0)])


def test_finished_points_are_skipped(compose_train, tmp_path):
    first, second = tmp_path / run_id(64, 0), tmp_path / run_id(64, 1)
    cfgs = [compose_train(*TOY, "n_samples=64", f"seed={s}") for s in (0, 1)]
    [alone] = train_packed(cfgs[:1], [first])
    written = (first / "metrics.json").read_text()
    both = train_packed(cfgs, [first, second])
    assert (first / "metrics.json").read_text() == written  # not retrained
    assert both[0] == json.loads(written) and both[1]["packed"] == 1 and alone["packed"] == 1


def test_cli_writes_one_metrics_file_per_run_dir(tmp_path, capsys):
    run_dirs = [tmp_path / run_id(64, s) for s in (0, 1)]
    args = ["train-packed", *(arg for d in run_dirs for arg in ("--run-dir", str(d))), *TOY]
    assert main(args) == 0
    for seed, run_dir in enumerate(run_dirs):
        metrics = json.loads((run_dir / "metrics.json").read_text())
        point = (metrics["run_id"], metrics["seed"], metrics["n_samples"], metrics["packed"])
        assert point == (run_dir.name, seed, 64, 2)
    assert capsys.readouterr().out.count("test_loss=") == 2
    assert main(["train-packed", "--run-dir", str(tmp_path / "adhoc"), *TOY]) == 2
    assert "not a sweep run id" in capsys.readouterr().err


def test_packs_with_early_stopping_are_refused(compose_train, tiny_jet_dir, tmp_path):
    common = ["task=jets", f"data.dataset_dir={tiny_jet_dir}", "data.n_test=40", "data.n_val=20",
              "data.batch_size=20", "width=8", "trainer.max_steps=8"]
    cfgs = [compose_train(*common, "n_samples=40", f"seed={s}") for s in (0, 1)]
    with pytest.raises(ValueError, match=r"cannot stop early, but early_stopping is set and data\.n_val=20"):
        train_packed(cfgs, [tmp_path / run_id(40, s) for s in (0, 1)])
    assert not list(tmp_path.rglob("metrics.json"))


# -- device, precision, compile -----------------------------------------------------------------

BF16 = "++trainer.precision=bf16-mixed"  # ++: also once configs/trainer sets trainer.precision


def test_a_bf16_mixed_pack_matches_separate_bf16_mixed_runs(compose_train, tmp_path):
    """Autocast on the CPU as Lightning's bf16-mixed does (float32 parameters, bfloat16 matrix products)."""
    points = [(48, 0), (64, 1)]
    separate, packed = separate_and_packed(compose_train, tmp_path, [*TOY, BF16], points)
    for one, many in zip(separate, packed):
        assert_same_run(one, many, {"test_loss": {"rel": 1e-5}, "test_mse": {"rel": 1e-5}})
        assert many["precision"] == "bf16-mixed"
    full = train_packed([compose_train(*TOY, f"n_samples={n}", f"seed={s}") for n, s in points],
                        [tmp_path / "fp32" / run_id(*p) for p in points])
    shift = max(abs(b["test_loss"] / f["test_loss"] - 1) for b, f in zip(packed, full))
    assert shift > 1e-4, "autocast had no effect: bf16-mixed trained what 32-true trains"
    assert {m["precision"] for m in full} == {"32-true"}


def test_a_compiled_pack_matches_separate_compiled_runs(compose_train, tmp_path):
    compile_eager = ["compile.enabled=true", "compile.backend=eager"]
    separate, packed = separate_and_packed(compose_train, tmp_path, [*TOY, *compile_eager], [(48, 0), (64, 1)])
    for one, many in zip(separate, packed):
        assert_same_run(one, many, {"test_loss": {"rel": 1e-5}, "test_mse": {"rel": 1e-5}})
        assert many["compiled"] is True


@pytest.mark.slow  # inductor generates and compiles C++ for the CPU: tens of seconds
@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="inductor needs a C compiler")
def test_an_inductor_compiled_pack_trains_what_an_eager_pack_trains(compose_train, tmp_path):
    points = [(48, 0), (64, 1)]
    cfgs = {name: [compose_train(*TOY, *extra, f"n_samples={n}", f"seed={s}") for n, s in points]
            for name, extra in (("eager", []), ("inductor", ["compile.enabled=true"]))}
    eager, compiled = (train_packed(c, [tmp_path / name / run_id(*p) for p in points]) for name, c in cfgs.items())
    for one, many in zip(eager, compiled):
        assert many["compiled"] is True and many["config"]["compile"]["backend"] == "inductor"
        assert many["test_loss"] == pytest.approx(one["test_loss"], rel=1e-4)


def placement_of(compose_train, *overrides, visible=Visible(), environ=None):
    return pack_placement(compose_train(*TOY, *overrides), visible, environ or {})


def test_a_pack_trains_on_the_one_device_its_accelerator_names(compose_train):
    assert placement_of(compose_train) == Placement(torch.device("cpu"))
    for accelerator, visible, device in [("gpu", Visible(cuda=2), "cuda:0"), ("cuda", Visible(cuda=1), "cuda:0"),
                                         ("auto", Visible(cuda=4), "cuda:0"), ("xpu", Visible(xpu=12), "xpu:0"),
                                         ("auto", Visible(xpu=12), "xpu:0"), ("auto", Visible(), "cpu")]:
        placement = placement_of(compose_train, f"trainer.accelerator={accelerator}", visible=visible)
        assert placement.device == torch.device(device), accelerator
    placement = placement_of(compose_train, BF16, "compile.enabled=true", "compile.mode=max-autotune")
    assert (placement.precision, placement.autocast) == ("bf16-mixed", torch.bfloat16)
    assert placement.compile == {"backend": "inductor", "mode": "max-autotune"}


@pytest.mark.parametrize("overrides, visible, environ, message", [
    (["trainer.accelerator=gpu"], Visible(), {"CUDA_VISIBLE_DEVICES": ""}, "sees no cuda.*CUDA_VISIBLE_DEVICES="),
    (["trainer.accelerator=xpu"], Visible(cuda=1), {}, "sees no xpu device.*ZE_AFFINITY_MASK=<unset>"),
    (["trainer.accelerator=mps"], Visible(), {}, "cpu, gpu.*got trainer.accelerator=mps"),
    (["trainer.accelerator=gpu", "trainer.devices=2"], Visible(cuda=2), {}, "one device.*trainer.devices=2.*--pack"),
    (["trainer.accelerator=cpu"], Visible(cuda=4), {"SLURM_JOB_ID": "9"}, "trains on the CPU: Slurm job 9 sees 4"),
    (["++trainer.precision=16-mixed"], Visible(), {}, "got 16-mixed.*gradient scaler.*bf16-mixed"),
    (["++trainer.precision=bf16-true"], Visible(), {}, "32-true or bf16-mixed, got bf16-true"),
])
def test_a_pack_refuses_what_it_cannot_train_on(compose_train, overrides, visible, environ, message):
    with pytest.raises(ValueError, match=message):
        placement_of(compose_train, *overrides, visible=visible, environ=environ)


def test_a_pack_takes_trainer_deterministic_as_a_separate_run_does(compose_train, tmp_path, monkeypatch):
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    try:
        torch.use_deterministic_algorithms(False)
        train_packed([compose_train(*TOY, "trainer.max_steps=2")], [tmp_path / run_id(64, 0)])
        assert torch.are_deterministic_algorithms_enabled() and os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        use_deterministic("warn")
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        use_deterministic(False)
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def test_a_packs_batches_reach_its_device_stacked_along_the_member_axis():
    """The seam through which a pack's data enter: the members' own next batches, [K, B, ...], moved to the device
    ("meta" stands in for an accelerator: the same copy path, no data)."""
    members = [Member(None, None, batches=iter([(torch.full((3, 2), float(k)), torch.arange(3) + k)] * 2))
               for k in range(4)]
    x, y = next(stacked_batches(members, torch.device("cpu")))
    assert x.shape == (4, 3, 2) and [float(x[k, 0, 0]) for k in range(4)] == [0, 1, 2, 3]
    assert y.tolist() == [[k, k + 1, k + 2] for k in range(4)]
    x, y = next(stacked_batches(members, torch.device("meta")))
    assert x.is_meta and y.is_meta and x.shape == (4, 3, 2) and y.dtype == torch.int64
    there = torch.zeros(3, 2, device="meta")  # a batch already on the device (never pinned or copied again)
    assert on_device(there, torch.device("meta")) is there and on_device(x, torch.device("meta")) is x


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_pack_on_a_gpu_matches_separate_gpu_runs(compose_train, tmp_path):
    on_gpu = [*TOY, "trainer.accelerator=gpu"]
    for extra in ([], [BF16]):
        separate, packed = separate_and_packed(compose_train, tmp_path / str(len(extra)), [*on_gpu, *extra],
                                               [(48, 0), (64, 1)])
        for one, many in zip(separate, packed):
            assert_same_run(one, many, {"test_loss": {"rel": 1e-3}, "test_mse": {"rel": 1e-3}})
