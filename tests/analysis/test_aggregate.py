"""Aggregating a sweep from its own file: every point read, each checked against the overrides the sweep sets now,
and no point ever passed as an argument (a sweep of 10⁵ points aggregates as one of ten)."""

import json
import re
import shlex
import subprocess

import pandas as pd
import pytest
import yaml

from conftest import REPO
from jetscale.aggregate import sweep_metrics
from jetscale.cli import main
from jetscale.results import TABLE_COLUMNS
from jetscale.sweep import load_sweep, run_id


def write_sweep(tmp_path, ridge=0.01, widths=(8, 16)):
    path = tmp_path / "agg.yaml"
    path.write_text(yaml.safe_dump({"name": "agg", "task": "toy", "axes": {"n_samples": [16, 32],
                                    "width": list(widths)}, "overrides": {"ridge": ridge}, "fit": {"laws": []}}))
    return path


def fake_runs(sweep_file, runs, **changes):
    """A metrics.json per point, as a trained point writes it (overrides recorded)."""
    sweep = load_sweep(sweep_file, check_config=False)
    for point in sweep.points():
        rid = run_id(point)
        payload = {key: 1.0 for key in TABLE_COLUMNS} | {"task": "toy", "model": "rf", "seed": 0, **point,
                                                         "run_id": rid, "overrides": sweep.hydra_overrides(point),
                                                         "config": {"ridge": 0.01}}
        payload.update(changes.get(rid, {}))
        (runs / rid).mkdir(parents=True, exist_ok=True)
        (runs / rid / "metrics.json").write_text(json.dumps(payload))
    return sweep


def test_a_sweep_aggregates_from_its_file_one_row_per_point(tmp_path, capsys):
    sweep_file = write_sweep(tmp_path)
    fake_runs(sweep_file, tmp_path / "runs")
    (tmp_path / "runs" / "n_samples=64__width=8").mkdir()  # a run dir of an earlier version of the sweep
    out = tmp_path / "table.csv"
    assert main(["aggregate", "--sweep", str(sweep_file), "--runs-dir", str(tmp_path / "runs"), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == 4 and set(table["width"]) == {8, 16} and "overrides" not in table.columns
    assert "read 4/4 metrics files" in capsys.readouterr().err


def test_points_trained_with_other_overrides_or_missing_are_refused_by_name(tmp_path):
    runs = tmp_path / "runs"
    fake_runs(write_sweep(tmp_path, ridge=0.01), runs)  # trained with ridge 0.01
    (runs / "n_samples=32__width=16" / "metrics.json").unlink()
    edited = load_sweep(write_sweep(tmp_path, ridge=0.1), check_config=False)  # the sweep file edited since
    with pytest.raises(ValueError) as err:
        sweep_metrics(edited, runs)
    message = str(err.value)
    assert "4 of 4 points cannot be aggregated" in message
    assert "trained with ['ridge=0.01'], the sweep now sets ['ridge=0.1']" in message
    assert "n_samples=32__width=16/metrics.json: missing" in message


def test_older_metrics_without_overrides_are_checked_against_their_config(tmp_path):
    """Metrics of a jetscale that did not record overrides: the values the sweep sets are read from the config."""
    sweep_file = write_sweep(tmp_path)
    old = {"overrides": None, "config": {"ridge": 0.01, "n_samples": 16, "width": 8, "data": {"batch_size": None}}}
    sweep = fake_runs(sweep_file, tmp_path / "runs", **{
        "n_samples=16__width=8": old,
        "n_samples=16__width=16": {**old, "config": {**old["config"], "ridge": 0.1}},
        "n_samples=32__width=8": {"run_id": "n_samples=16__width=99"}})
    with pytest.raises(ValueError) as err:
        sweep_metrics(sweep, tmp_path / "runs")
    message = str(err.value)
    assert "2 of 4 points cannot be aggregated" in message
    assert "n_samples=16__width=16/metrics.json: its config has ridge=0.1, the sweep now sets 0.01" in message
    assert "its run_id is 'n_samples=16__width=99'" in message


def test_no_rule_passes_one_argument_per_point(tmp_path, cli_env):
    """The dry run of a 600-point sweep in bundles of 50: every command is as short as for a 6-point one."""
    def longest_command(n_samples, *extra):
        sweep = tmp_path / f"s{len(n_samples)}.yaml"
        sweep.write_text(yaml.safe_dump({"name": sweep.stem, "task": "toy", "axes": {
            "n_samples": list(n_samples), "width": [8, 16], "seed": [0, 1, 2]}, "fit": {"laws": ["data"]}}))
        proc = subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                               "-n", "-p", "--cores", "1", "--config", f"sweep={sweep}",
                               f"results_dir={tmp_path / 'results'}", *extra],
                              capture_output=True, text=True, env=cli_env, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        commands = [line.removeprefix("Shell command: ") for line in proc.stdout.splitlines()
                    if line.startswith("Shell command: jetscale ")]
        assert any(c.startswith("jetscale aggregate --sweep") for c in commands)
        assert any(c.startswith("jetscale train-bundle ") and " --sweep " in c for c in commands)
        return max(len(shlex.split(c)) for c in commands)

    assert longest_command(range(1, 101), "bundle_size=50") == longest_command([1], "bundle_size=50")


def test_the_dry_run_of_make_prints_a_summary_not_a_block_per_job(tmp_path, cli_env):
    """The flags of `make dry-run` (read from the Makefile) on a 60-point sweep: the job counts per rule, no job."""
    (flags,) = re.findall(r"^dry-run:.*\n\t.*--config \$\(SWEEP_CONFIG\) (.*)$", (REPO / "Makefile").read_text(), re.M)
    sweep = tmp_path / "summary.yaml"
    sweep.write_text(yaml.safe_dump({"name": "summary", "task": "toy", "axes": {
        "n_samples": list(range(1, 31)), "width": [8, 16]}, "fit": {"laws": ["data"]}}))
    proc = subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                           "--profile", str(REPO / "profiles" / "local"), "--config", f"sweep={sweep}",
                           f"results_dir={tmp_path / 'results'}", *shlex.split(flags)],
                          capture_output=True, text=True, env=cli_env, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert re.search(r"^train\s+60$", output, re.M) and "rule train:" not in output and "jetscale train" not in output
    assert len(output.splitlines()) < 60
