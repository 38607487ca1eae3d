"""The machine a profile describes (jetscale.machine): its accelerator reaches every gradient point, and a
global batch that the ranks of a point do not divide is refused before any job exists. Every shipped sweep
passes on every cluster profile, as that profile ships."""

import pytest
import yaml

from conftest import REPO
from jetscale.machine import Machine, check_sweep, global_batches, machine_of, machine_overrides
from jetscale.results import override_mismatch
from jetscale.sweep import Sweep, SweepError, check_against_config, compose_point, largest_point, load_sweep

CLUSTER_PROFILES = ["slurm", "polaris", "aurora"]


def workflow_config(profile: str) -> dict:
    """workflow/config.yaml with the profile's workflow.yaml merged over it, as Snakemake merges them."""
    config = yaml.safe_load((REPO / "workflow" / "config.yaml").read_text())
    return {**config, **yaml.safe_load((REPO / "profiles" / profile / "workflow.yaml").read_text())}


def gradient_sweep(tmp_path, batch=16, nodes=None, overrides=None) -> Sweep:
    raw = {"name": "sgd", "task": "toy_sgd", "axes": {"n_samples": [24, 48], "width": [8]},
           "overrides": {"data.source.latent_dim": 64, "data.batch_size": batch, **(overrides or {})}}
    if nodes:
        raw["resources"] = {"nodes": nodes}
    path = tmp_path / "sgd.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_sweep(path, check_config=False)


def test_each_cluster_profile_names_its_machine():
    machines = {profile: machine_of(workflow_config(profile)) for profile in CLUSTER_PROFILES}
    assert machines["aurora"] == Machine("aurora", "xpu", 12, "bf16-mixed")
    assert machines["polaris"] == Machine("polaris", "gpu", 4, "bf16-mixed")
    assert (machines["slurm"].accelerator, machines["slurm"].ranks_per_node) == ("gpu", 1)
    assert machines["slurm"].precision == "bf16-mixed"
    local = machine_of(yaml.safe_load((REPO / "workflow" / "config.yaml").read_text()))
    assert (local.accelerator, local.ranks_per_node, local.precision) == (None, 1, None)


def test_ranks_per_node_may_not_contradict_the_facility():
    with pytest.raises(SweepError, match="ranks_per_node=8 contradicts facility aurora .* ranks_per_node 12"):
        machine_of({"facility": "aurora", "ranks_per_node": 8})


def test_the_accelerator_goes_to_gradient_points_unless_the_sweep_chooses(tmp_path):
    gpu = Machine("polaris", "gpu", 4)
    assert machine_overrides(gpu, gradient_sweep(tmp_path), "lightning") == ["trainer.accelerator=gpu"]
    assert machine_overrides(gpu, gradient_sweep(tmp_path), "closed_form") == []
    assert machine_overrides(Machine(), gradient_sweep(tmp_path), "lightning") == []
    chooses = gradient_sweep(tmp_path, overrides={"trainer.accelerator": "cpu"})
    assert machine_overrides(gpu, chooses, "lightning") == []


def test_the_precision_goes_with_the_accelerator_unless_the_sweep_sets_it(tmp_path, compose_train):
    gpu = Machine("polaris", "gpu", 4, "bf16-mixed")
    overrides = machine_overrides(gpu, gradient_sweep(tmp_path), "lightning")
    assert overrides == ["trainer.accelerator=gpu", "trainer.precision=bf16-mixed"]
    assert compose_train("task=toy_sgd", *overrides).trainer.precision == "bf16-mixed"
    assert machine_overrides(gpu, gradient_sweep(tmp_path), "closed_form") == []
    own = gradient_sweep(tmp_path, overrides={"trainer.precision": "32-true"})
    assert machine_overrides(gpu, own, "lightning") == ["trainer.accelerator=gpu"]
    on_cpu = gradient_sweep(tmp_path, overrides={"trainer.accelerator": "cpu"})
    assert machine_overrides(gpu, on_cpu, "lightning") == []  # a sweep on its own device keeps its precision
    assert machine_overrides(Machine("x", "gpu", 1), gradient_sweep(tmp_path), "lightning") == \
        ["trainer.accelerator=gpu"]


def test_the_workflow_schema_takes_a_precision_and_refuses_a_typo():
    import jsonschema

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    for profile in CLUSTER_PROFILES:
        jsonschema.validate(workflow_config(profile), schema)
    with pytest.raises(jsonschema.ValidationError, match="bf16"):
        jsonschema.validate({**workflow_config("polaris"), "precision": "bf16"}, schema)


def test_the_composed_config_of_an_aurora_point_trains_on_xpu(tmp_path):
    sweep = gradient_sweep(tmp_path)
    machine = machine_of(workflow_config("aurora"))
    point = largest_point(sweep)
    on_aurora = {**sweep.overrides, "trainer.accelerator": "xpu", "trainer.precision": "bf16-mixed"}
    cfg = compose_point(Sweep(**{**sweep.__dict__, "overrides": on_aurora}), point)
    assert machine_overrides(machine, sweep, cfg.solver) == ["trainer.accelerator=xpu", "trainer.precision=bf16-mixed"]
    assert cfg.trainer.accelerator == "xpu" and cfg.trainer.devices == "auto" and cfg.solver == "lightning"
    assert cfg.trainer.precision == "bf16-mixed"


def test_a_batch_the_ranks_do_not_divide_is_refused_naming_both(tmp_path):
    sweep = gradient_sweep(tmp_path, batch=16)
    cfg = check_against_config(sweep)
    aurora = Machine("aurora", "xpu", 12)
    with pytest.raises(SweepError) as err:
        check_sweep(sweep, cfg, aurora, bundled=False)
    message = str(err.value)
    for text in ("sgd.yaml", "data.batch_size=16", "12 ranks of one point on aurora", "12 or 24", "bundle_size"):
        assert text in message, message
    check_sweep(sweep, cfg, aurora, bundled=True)  # one process per tile: nothing to divide
    check_sweep(sweep, cfg, Machine("polaris", "gpu", 4), bundled=False)  # 4 divides 16
    with pytest.raises(SweepError, match=r"8 ranks .*\(4 ranks per node x 2 nodes\)"):
        two_nodes = gradient_sweep(tmp_path, batch=12, nodes=2)
        check_sweep(two_nodes, check_against_config(two_nodes), Machine("polaris", "gpu", 4), bundled=False)


def test_a_full_batch_is_each_training_set(tmp_path):
    sweep = gradient_sweep(tmp_path, batch=None)
    cfg = check_against_config(sweep)
    assert global_batches(sweep, cfg) == {24: 24, 48: 48}
    check_sweep(sweep, cfg, Machine("x", None, 12), bundled=False)  # 12 divides 24 and 48
    with pytest.raises(SweepError, match=r"full batch \(data.batch_size=null\) of n_samples \[24\]"):
        check_sweep(sweep, cfg, Machine("x", None, 16), bundled=False)


def test_every_shipped_sweep_runs_on_every_cluster_profile():
    configs = {profile: workflow_config(profile) for profile in CLUSTER_PROFILES}
    for path in sorted((REPO / "configs" / "sweep").glob("*.yaml")):
        scales = yaml.safe_load(path.read_text()).get("scales") or {None: None}
        for scale in scales:  # every scale of a paper sweep
            sweep = load_sweep(f"{path}@{scale}" if scale else path, check_config=False)
            cfg = check_against_config(sweep)
            for config in configs.values():
                check_sweep(sweep, cfg, machine_of(config), bundled=config["bundle_size"] > 1)


def test_a_run_on_a_gpu_profile_is_the_sweeps_point_in_the_table():
    """The machine's accelerator is a layout key (resume.ignore): the table takes the run; a changed value is
    still refused."""
    payload = {"overrides": ["ridge=0.1", "n_samples=8", "trainer.accelerator=gpu"],
               "config": {"resume": {"ignore": ["trainer.accelerator", "logger"]}}}
    assert override_mismatch(payload, ["ridge=0.1", "n_samples=8"]) is None
    assert "ridge=0.2" in override_mismatch(payload, ["ridge=0.2", "n_samples=8"])
    assert override_mismatch({**payload, "config": {}}, ["ridge=0.1", "n_samples=8"]) is not None


def test_the_machines_precision_is_the_sweeps_point_but_a_sweeps_own_precision_is_compared():
    """The profile's trainer.precision is recorded (the table's precision column; fits refuse a mix); a sweep that
    sets trainer.precision itself still refuses a run of another."""
    payload = {"overrides": ["ridge=0.1", "trainer.accelerator=gpu", "trainer.precision=bf16-mixed"],
               "config": {"resume": {"ignore": ["trainer.accelerator"]}}}
    assert override_mismatch(payload, ["ridge=0.1"]) is None
    assert override_mismatch(payload, ["ridge=0.1", "trainer.precision=bf16-mixed"]) is None
    assert "trainer.precision=32-true" in override_mismatch(payload, ["ridge=0.1", "trainer.precision=32-true"])


def dry_run(tmp_path, profile, sweep, *config):
    import subprocess

    from conftest import BIN

    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--profile", str(REPO / "profiles" / profile), "-n", "-p", "--config", f"sweep={sweep.source}",
           f"results_dir={tmp_path / 'results'}", *config]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_aurora_bundles_its_points_on_the_gpu_tiles(tmp_path):
    """Polaris' `trainer.accelerator=...` on each training command: tests/cluster/test_pbs.py (a sweep through it)."""
    aurora = dry_run(tmp_path, "aurora", gradient_sweep(tmp_path, batch=24))
    bundled = [line for line in aurora.stdout.splitlines() if "jetscale train-bundle" in line]
    assert aurora.returncode == 0 and len(bundled) == 1, aurora.stdout[-2000:] + aurora.stderr[-2000:]
    assert "--bundle-size 12" in bundled[0] and "--accelerator xpu --precision bf16-mixed" in bundled[0]


def test_aurora_refuses_a_ddp_sweep_whose_batch_12_does_not_divide_before_any_job(tmp_path):
    refused = dry_run(tmp_path, "aurora", gradient_sweep(tmp_path, batch=16), "bundle_size=1")
    assert refused.returncode != 0
    assert "data.batch_size=16 is not divisible by the 12 ranks of one point on aurora" in refused.stdout
    assert "jetscale train " not in refused.stdout
