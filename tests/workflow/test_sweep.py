"""Sweep configs: expansion into points, and validation before anything is submitted."""

import subprocess

import pytest
import yaml

from conftest import REPO
from jetscale.sweep import SweepError, load_sweep, run_id, sweep_path


def write_sweep(tmp_path, **changes):
    raw = {
        "name": "tiny",
        "task": "toy",
        "axes": {"n_samples": [20, 40], "width": [4, 8], "seed": [0]},
        "overrides": {"data.source.latent_dim": 50},
    }
    for key, value in changes.items():
        section, _, sub = key.partition("__")
        if sub:
            raw[section][sub] = value
        else:
            raw[section] = value
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_demo_sweep_expands_to_the_cartesian_product():
    sweep = load_sweep(sweep_path("toy-demo"))
    points = sweep.points()
    sizes = [len(v) for v in sweep.axes.values()]
    assert len(points) == sizes[0] * sizes[1] * sizes[2]
    assert len({run_id(p) for p in points}) == len(points)


def test_run_id_is_readable_and_stable():
    assert run_id({"n_samples": 1000, "width": 64, "seed": 0}) == "n_samples=1000__width=64__seed=0"


def test_point_overrides_include_task_fixed_and_axis_values(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path))
    overrides = sweep.hydra_overrides({"n_samples": 20, "width": 4, "seed": 0})
    assert overrides == ["task=toy", "data.source.latent_dim=50", "n_samples=20", "width=4", "seed=0"]


@pytest.mark.parametrize("changes, expected", [
    ({"colour": "red"}, "colour"),                                # unknown top-level key
    ({"axes__depth": [1, 2]}, "depth"),                           # unknown axis
    ({"axes__n_samples": [100, -5]}, "axes.n_samples[1]: -5"),    # negative size, key and value named
    ({"axes__width": [0]}, "axes.width[0]: 0"),
    ({"axes__width": [4, 80]}, "axes.width = 80"),                # wider than latent_dim = 50
    ({"overrides": {"data.source.alpah": 1.5}}, "alpah"),         # typo in an override key
    ({"axes__compute": [1e9]}, "axes.compute"),                   # a FLOP budget for a closed-form solve
    ({"overrides__ridge": "abc"}, "overrides.ridge = 'abc': ridge must be a number"),
    ({"overrides__data.source.alpha": "one point five"}, "data.source.alpha must be a number"),
    ({"overrides__data.n_test": 2.5}, "data.n_test must be an integer"),
    ({"overrides__data.n_test": True}, "data.n_test must be an integer"),
])
def test_invalid_sweeps_are_rejected_naming_key_and_value(tmp_path, changes, expected):
    with pytest.raises(SweepError, match=None) as err:
        load_sweep(write_sweep(tmp_path, **changes))
    assert expected in str(err.value)
    assert "tiny.yaml" in str(err.value)


def test_compute_axis_is_accepted_for_gradient_training(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, task="toy_sgd", axes__compute=[1e9, 1e10]))
    assert len(sweep.points()) == 2 * 2 * 1 * 2


def test_missing_sweep_lists_the_available_ones():
    with pytest.raises(SweepError, match="toy-demo"):
        load_sweep(sweep_path("no-such-sweep"))


def test_invalid_sweep_stops_snakemake_before_any_job(tmp_path, cli_env):
    bad = write_sweep(tmp_path, axes__n_samples=[-5])
    results = tmp_path / "results"
    proc = subprocess.run(
        ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n", "--cores", "1",
         "--config", f"sweep={bad}", f"results_dir={results}"],
        capture_output=True, text=True, env=cli_env, timeout=120,
    )
    assert proc.returncode != 0
    assert "axes.n_samples[0]: -5" in proc.stdout + proc.stderr
    assert not results.exists()


def test_overrides_of_the_right_type_pass(tmp_path):
    """A YAML 1.1 float without a dot (a string to PyYAML), an int for a float, null, and any plain value for a
    string key (trainer.devices: auto or 2) are what Hydra would accept."""
    sweep = load_sweep(write_sweep(tmp_path, task="toy_sgd", overrides={
        "data.source.latent_dim": 50, "ridge": "1e-2", "data.source.alpha": 2, "data.batch_size": None,
        "trainer.devices": 1, "trainer.accelerator": "cpu", "logger": "csv"}))
    assert "ridge=1e-2" in sweep.common_overrides()


def test_every_wrongly_typed_override_is_named_at_once(tmp_path):
    with pytest.raises(SweepError) as err:
        load_sweep(write_sweep(tmp_path, overrides={"data.source.latent_dim": "fifty", "ridge": "small"}))
    assert "overrides.data.source.latent_dim = 'fifty'" in str(err.value) and "ridge must be a number" in str(err.value)


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\naxes:\n  width: [8, 16\n  seed: [0]\n")
    with pytest.raises(SweepError, match=r"broken\.yaml:\d+:\d+: invalid YAML"):
        load_sweep(path)


def test_a_sweep_named_by_a_relative_and_an_absolute_path_is_one_sweep(tmp_path, cli_env):
    """`--config sweep=configs/sweep/paper-pfn.yaml@small` names a sweep the paper scale also names."""
    (tmp_path / "configs").symlink_to(REPO / "configs")  # the workdir's configs/ (make sweep runs in the repo)
    proc = subprocess.run(
        ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n", "--quiet", "rules",
         "--config", "sweep=configs/sweep/paper-pfn.yaml@small", f"results_dir={tmp_path / 'results'}"],
        capture_output=True, text=True, env=cli_env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "two sweeps are named" not in proc.stdout + proc.stderr and "Job stats" in proc.stdout + proc.stderr


def test_a_paper_sweep_of_another_scale_says_how_to_run_it(tmp_path, cli_env):
    proc = subprocess.run(
        ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n", "--cores", "1",
         "--config", "sweep=paper-pfn@full", f"results_dir={tmp_path / 'results'}", f"data_dir={tmp_path / 'data'}"],
        capture_output=True, text=True, env=cli_env, timeout=300)
    assert proc.returncode != 0
    assert "it is a paper sweep: run it with `make paper SCALE=full`" in proc.stdout + proc.stderr


def write_scaled(tmp_path, **scales):
    raw = {"name": "grid", "task": "toy", "overrides": {"data.source.latent_dim": 50, "ridge": 1e-3},
           "fit": {"laws": ["data"], "bootstrap": 10},
           "scales": scales or {"small": {"axes": {"n_samples": [20, 40], "width": [4]}, "fit": {"bootstrap": 20}},
                                "big": {"axes": {"n_samples": [20, 40, 80], "width": [4, 8]},
                                        "overrides": {"ridge": 1e-4}, "resources": {"runtime": 60}}}}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_a_scale_is_the_common_part_with_its_own_entries_merged_in_and_its_own_name(tmp_path):
    path = write_scaled(tmp_path)
    small, big = load_sweep(f"{path}@small"), load_sweep(f"{path}@big")
    assert (small.name, big.name) == ("grid-small", "grid-big")  # results/grid-small/ and results/grid-big/
    assert (small.scale, small.ref) == ("small", f"{path}@small")
    assert len(small.points()) == 2 and len(big.points()) == 6
    assert small.overrides == {"data.source.latent_dim": 50, "ridge": 1e-3}
    assert big.overrides == {"data.source.latent_dim": 50, "ridge": 1e-4}
    assert small.fit == {"laws": ["data"], "bootstrap": 20} and big.fit == {"laws": ["data"], "bootstrap": 10}
    assert big.resources == {"runtime": 60} and small.resources == {}
    assert load_sweep(small.ref, check_config=False) == small  # the ref names it again (the workflow passes it)


def test_a_scaled_sweep_needs_a_scale_it_has(tmp_path):
    path = write_scaled(tmp_path)
    with pytest.raises(SweepError, match=r"grid.yaml has scales small, big: name one, e.g. grid@small"):
        load_sweep(path)
    with pytest.raises(SweepError, match=r"grid.yaml: no scale 'huge' under scales: it has small, big"):
        load_sweep(f"{path}@huge")
    with pytest.raises(SweepError, match=r"toy-demo.yaml: no scale 'small' under scales: it has no scales"):
        load_sweep("toy-demo@small")


@pytest.mark.parametrize("scales, expected", [
    ({"small": {"axes": {"n_samples": [20, -1]}}}, "scales.small.axes.n_samples[1]: -1"),
    ({"small": {"name": "other", "axes": {"n_samples": [20]}}}, "scales.small.name: unknown key"),
    ({"small": {"overrides": {"ridge": "abc"}, "axes": {"n_samples": [20]}}}, "overrides.ridge = 'abc'"),
    ({"small": {"fit": {"bootstrap": 10}}}, "'axes' is a required property"),
])
def test_a_bad_scale_is_refused_naming_file_scale_key_and_value(tmp_path, scales, expected):
    path = write_scaled(tmp_path, **scales)
    with pytest.raises(SweepError) as err:
        load_sweep(f"{path}@small")
    assert expected in str(err.value) and "grid.yaml" in str(err.value)
