"""Sweep configs: expansion into points, and validation before anything is submitted."""

import subprocess

import pytest
import yaml

from conftest import REPO
from jetscale.sweep import SweepError, load_sweep, run_id, sweep_path


def write_sweep(tmp_path, **changes):
    raw = {
        "name": "tiny",
        "experiment": "toy",
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


def test_point_overrides_include_experiment_fixed_and_axis_values(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path))
    overrides = sweep.hydra_overrides({"n_samples": 20, "width": 4, "seed": 0})
    assert overrides == ["experiment=toy", "data.source.latent_dim=50", "n_samples=20", "width=4", "seed=0"]


@pytest.mark.parametrize("changes, expected", [
    ({"colour": "red"}, "colour"),                                # unknown top-level key
    ({"axes__depth": [1, 2]}, "depth"),                           # unknown axis
    ({"axes__n_samples": [100, -5]}, "axes.n_samples[1]: -5"),    # negative size, key and value named
    ({"axes__width": [0]}, "axes.width[0]: 0"),
    ({"axes__width": [4, 80]}, "axes.width = 80"),                # wider than latent_dim = 50
    ({"overrides": {"data.source.alpah": 1.5}}, "alpah"),         # typo in an override key
    ({"axes__compute": [1e9]}, "axes.compute"),                   # a FLOP budget for a closed-form solve
])
def test_invalid_sweeps_are_rejected_naming_key_and_value(tmp_path, changes, expected):
    with pytest.raises(SweepError, match=None) as err:
        load_sweep(write_sweep(tmp_path, **changes))
    assert expected in str(err.value)
    assert "tiny.yaml" in str(err.value)


def test_compute_axis_is_accepted_for_gradient_training(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, experiment="toy_sgd", axes__compute=[1e9, 1e10]))
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
