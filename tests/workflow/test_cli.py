"""The `jetscale` console script: theory JSON, aggregate, fit contract and its errors, figures."""

import json
import subprocess

import pandas as pd
import pytest

from jetscale.cli import main
from jetscale.results import TABLE_COLUMNS, write_json_atomic
from jetscale.theory import rf_test_error


def test_theory_command_prints_one_json_object(cli_env):
    proc = subprocess.run(
        ["jetscale", "theory", "--alpha", "1.5", "--r", "0.3", "--features", "200", "--samples", "400",
         "--ridge", "1e-4", "--latent-dim", "2000"],
        capture_output=True, text=True, env=cli_env, timeout=120, check=True,
    )
    payload = json.loads(proc.stdout)
    assert payload["test_error"] == pytest.approx(rf_test_error(1.5, 0.3, 200, 400, 1e-4, 2000).test_error)
    assert payload["regime"] == "signal-dominated"
    assert payload["n_exponent"] == pytest.approx(-0.9)


def test_theory_command_has_no_regime_above_the_interpolation_threshold(capsys):
    assert main(["theory", "--alpha", "1.5", "--r", "0.3", "--features", "400", "--samples", "200",
                 "--ridge", "1e-4", "--latent-dim", "2000", "--noise", "0.1"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["regime"] is None and payload["variance"] > 0
    assert main(["theory", "--alpha", "0.8", "--r", "0.3", "--features", "100", "--samples", "400",
                 "--ridge", "1e-4", "--latent-dim", "2000"]) == 0  # alpha <= 1: no regime table (infinite trace)
    assert "alpha > 1" in json.loads(capsys.readouterr().out)["regime_note"]


def fake_metrics(run_dir, n_samples, width, seed, loss):
    payload = {"run_id": run_dir.name, "task": "toy", "model": "random_features", "width": width,
               "n_params": width, "n_samples": n_samples, "seed": seed, "flops": 1e6, "test_loss": loss,
               "theory_loss": loss, "wall_s": 0.1, "solver": "closed_form", "config": {"nested": 1}}
    return write_json_atomic(run_dir / "metrics.json", payload)


def synthetic_runs(tmp_path):
    paths = []
    for n in (100, 200, 400, 800, 1600):
        for w in (8, 16, 32, 64):
            loss = 0.01 + 2.0 * w**-0.5 + 5.0 * n**-0.7
            paths.append(fake_metrics(tmp_path / f"n_samples={n}__width={w}__seed=0", n, w, 0, loss))
    return paths


def test_aggregate_then_fit_then_figures(tmp_path, capsys):
    paths = synthetic_runs(tmp_path / "runs")
    table_path = tmp_path / "table.csv"
    assert main(["aggregate", *map(str, paths), "--out", str(table_path)]) == 0
    table = pd.read_csv(table_path)
    assert list(table.columns[: len(TABLE_COLUMNS)]) == TABLE_COLUMNS
    assert "config" not in table.columns and len(table) == 20
    assert table["n_samples"].is_monotonic_increasing

    fit_path = tmp_path / "joint.json"
    assert main(["fit", "--table", str(table_path), "--law", "joint", "--bootstrap", "50", "--out", str(fit_path)]) == 0
    fit = json.loads(fit_path.read_text())
    assert set(fit) == {"law", "params", "ci95", "n_points", "loss", "n_boot", "resamples"}
    assert len(fit["resamples"]["alpha"]) == 50 and fit["ci95"]["alpha"][0] <= fit["params"]["alpha"]
    assert fit["params"]["alpha"] == pytest.approx(0.5, abs=0.02) and fit["params"]["beta"] == pytest.approx(0.7, abs=0.02)

    grouped = tmp_path / "data.json"
    assert main(["fit", "--table", str(table_path), "--law", "data", "--group-by", "width", "--bootstrap", "0",
                 "--out", str(grouped)]) == 0
    assert [f["where"]["width"] for f in json.loads(grouped.read_text())["fits"]] == [8, 16, 32, 64]

    merged = tmp_path / "fits.json"
    assert main(["merge-fits", str(fit_path), str(grouped), "--out", str(merged)]) == 0
    assert set(json.loads(merged.read_text())) == {"joint", "data"}
    assert main(["figures", "--table", str(table_path), "--fits", str(merged), "--out-dir", str(tmp_path / "fig")]) == 0
    assert {p.name for p in (tmp_path / "fig").iterdir()} == {
        f"{name}.{ext}" for name in ("loss_vs_n_samples", "loss_vs_width", "throughput_vs_n_params")
        for ext in ("png", "pdf")}


def test_fit_errors_name_the_problem(tmp_path, capsys):
    table = tmp_path / "t.csv"
    pd.DataFrame({"run_id": ["a", "b"], "n_samples": [10, 20], "test_loss": [0.1, -0.2]}).to_csv(table, index=False)
    assert main(["fit", "--table", str(table), "--law", "params", "--out", str(tmp_path / "f.json")]) == 2
    assert "n_params" in capsys.readouterr().err
    assert main(["fit", "--table", str(table), "--law", "data", "--out", str(tmp_path / "f.json")]) == 2
    err = capsys.readouterr().err
    assert "test_loss" in err and "-0.2" in err
    assert not (tmp_path / "f.json").exists()


def test_aggregate_names_a_broken_metrics_file(tmp_path, capsys):
    good = fake_metrics(tmp_path / "a", 10, 4, 0, 0.5)
    broken = tmp_path / "b" / "metrics.json"
    broken.parent.mkdir()
    broken.write_text('{"run_id": "b"')
    assert main(["aggregate", str(good), str(broken), "--out", str(tmp_path / "t.csv")]) == 2
    assert str(broken) in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_sweep_command_lists_points(capsys):
    assert main(["sweep", "toy-demo"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("sweep toy-demo")
    assert "n_samples=16__width=32__seed=0" in out


def test_train_help_lists_the_config_groups_and_top_level_keys(cli_env):
    proc = subprocess.run(["jetscale", "train", "--help"], capture_output=True, text=True, env=cli_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for line in ("jetscale train [GROUP=OPTION ...] [KEY=VALUE ...]", "task: jets, jets_efp_linear, jets_efp_mlp, rambo, rhm, shower, toy, toy_sgd",
                 "model: ", "n_samples: 1000", "ridge: ", "checkpoint_every_n_steps: "):
        assert line in proc.stdout, line


def test_a_training_log_holds_no_tips_or_known_harmless_warnings_and_says_what_it_trained(tmp_path, cli_env):
    """A gradient point on a compute budget: its log is the run, not library advertisements."""
    proc = subprocess.run(["jetscale", "train", "task=toy_sgd", "n_samples=64", "width=8",
                           "data.source.latent_dim=64", "data.batch_size=16", "compute=2e7",
                           f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, env=cli_env,
                          timeout=300)
    output = proc.stdout + proc.stderr + (tmp_path / "run" / "train.log").read_text()
    assert proc.returncode == 0, output[-3000:]
    assert "Tip:" not in output and "LeafSpec" not in output and "weights_only" not in output
    steps = json.loads((tmp_path / "run" / "metrics.json").read_text())["steps"]
    assert f"buys at most {steps} steps" in output and f"trained {steps} of at most {steps} steps" in output
