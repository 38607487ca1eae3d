"""The Snakemake workflow end to end on a tiny sweep, its HTML report, and resuming after Snakemake is killed."""

import base64
import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, subprocess_env
from jetscale.results import TABLE_COLUMNS


def tiny_sweep(tmp_path, n_samples=(40, 80), widths=(8, 16), seeds=(0, 1)):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({
        "name": "tiny",
        "task": "toy",
        "axes": {"n_samples": list(n_samples), "width": list(widths), "seed": list(seeds)},
        "overrides": {"data.source.latent_dim": 100, "ridge": 1e-2},
        "fit": {"bootstrap": 20},
    }, sort_keys=False))
    return path


def snakemake_cmd(tmp_path, sweep, *extra):
    return ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
            "--profile", str(REPO / "profiles" / "local"),
            "--config", f"sweep={sweep}", f"results_dir={tmp_path / 'results'}", *extra]


@pytest.fixture(scope="module")
def finished_tiny_sweep(tmp_path_factory):
    """The tiny sweep run to its figures (about a minute on 2 cores): its directory and sweep file."""
    root = tmp_path_factory.mktemp("tiny-sweep")
    sweep = tiny_sweep(root)
    proc = subprocess.run(snakemake_cmd(root, sweep), capture_output=True, text=True, env=subprocess_env(),
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root, sweep


def test_tiny_sweep_end_to_end(finished_tiny_sweep):
    out = finished_tiny_sweep[0] / "results" / "tiny"
    table = pd.read_csv(out / "table.csv")
    assert list(table.columns[: len(TABLE_COLUMNS)]) == TABLE_COLUMNS
    assert len(table) == 8
    assert set(table["run_id"]) == {f"n_samples={n}__width={w}__seed={s}" for n in (40, 80) for w in (8, 16) for s in (0, 1)}
    assert (table["test_loss"] > 0).all() and (table["theory_loss"] > 0).all()
    fits = json.loads((out / "fits.json").read_text())
    assert set(fits) == {"data", "params", "joint"}
    assert fits["joint"]["n_points"] == 8 and set(fits["joint"]["params"]) == {"E", "A", "alpha", "B", "beta"}
    assert fits["data"]["group_by"] == "width"
    for name in ("loss_vs_n_samples", "loss_vs_width", "throughput_vs_n_params"):
        for ext in ("png", "pdf"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 1000
    # each run kept Hydra's record of its config beside the metrics
    assert (out / "runs" / "n_samples=40__width=8__seed=0" / ".hydra" / "overrides.yaml").exists()


def test_the_html_report_of_a_finished_sweep_is_one_file_with_its_figures_table_and_revisions(finished_tiny_sweep,
                                                                                              cli_env):
    """`snakemake --report x.html` (make report): one self-contained HTML file, written without running a job, that
    holds the figures with their captions, the results table with its git revisions, the fits and the front page."""
    root, sweep = finished_tiny_sweep
    out, report = root / "results" / "tiny", root / "report.html"
    made = {path: path.stat().st_mtime_ns for path in out.rglob("*") if path.is_file()}
    proc = subprocess.run(snakemake_cmd(root, sweep, "--report", str(report)), capture_output=True, text=True,
                          env=cli_env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*") if path.is_file()} == made  # nothing ran
    html = report.read_text()
    assert html.lstrip().lower().startswith("<!doctype html")  # not a zip: the files are inside
    embedded = [out / "table.csv", out / "fits.json",
                *(out / "figures" / f"{name}.{ext}" for name in ("loss_vs_n_samples", "loss_vs_width",
                                                                 "throughput_vs_n_params") for ext in ("png", "pdf"))]
    for path in embedded:
        assert base64.b64encode(path.read_bytes()).decode() in html, path.name
    assert "one colour per width" in html and "one colour per number of training samples" in html  # captions
    assert "model FLOPs utilisation" in html
    assert "The results table of sweep" in html and "neural scaling laws for jet physics" in html
    revisions = sorted(set(pd.read_csv(out / "table.csv", dtype={"git_revision": str})["git_revision"]))
    assert f'"git revision(s)": "{", ".join(revisions)}"' in html


def test_a_report_of_a_sweep_not_yet_run_names_the_missing_file(tmp_path, cli_env):
    sweep = tiny_sweep(tmp_path, n_samples=(40,), widths=(8,), seeds=(0,))
    proc = subprocess.run(snakemake_cmd(tmp_path, sweep, "--report", str(tmp_path / "report.html")),
                          capture_output=True, text=True, env=cli_env, timeout=300)
    assert proc.returncode != 0 and not (tmp_path / "report.html").exists()
    assert "table.csv marked for report but does not exist" in proc.stdout + proc.stderr


def test_killed_sweep_resumes_only_the_unfinished_points(tmp_path, cli_env):
    sweep = tiny_sweep(tmp_path, n_samples=(40, 80), widths=(8, 16), seeds=(0,))
    runs = tmp_path / "results" / "tiny" / "runs"
    cmd = snakemake_cmd(tmp_path, sweep, "--cores", "1", "--until", "train")
    log = tmp_path / "first-attempt.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=cli_env, start_new_session=True)
    try:
        deadline = time.time() + 300
        # kill once Snakemake has recorded the first finished point; the next one (~5 s) is then mid-run
        while not re.search(r"\b1 of \d+ steps", log.read_text()) and time.time() < deadline:
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and its running job, as a lost allocation would
        proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in runs.glob("*/metrics.json")}
    assert 1 <= len(finished) < 4, "the kill should land mid-sweep"

    subprocess.run(snakemake_cmd(tmp_path, sweep, "--unlock"), env=cli_env, capture_output=True, timeout=120)
    rerun = subprocess.run(snakemake_cmd(tmp_path, sweep, "--cores", "2", "--until", "train"),
                           capture_output=True, text=True, env=cli_env, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert len(list(runs.glob("*/metrics.json"))) == 4
    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime, f"{path.parent.name} was finished and must not rerun"
    assert rerun.stdout.count("localrule train:") + rerun.stderr.count("localrule train:") == 4 - len(finished)


def test_a_changed_override_retrains_a_finished_sweep_from_scratch(tmp_path, cli_env):
    """A finished gradient sweep, then ridge 0.01 -> 0.1 in the sweep file and the same command: the point
    trains again, from a fresh start (its old checkpoint, already at max_steps, is set aside, never resumed),
    and the table holds what a fresh ridge-0.1 run gives."""
    sweep = tmp_path / "sgd.yaml"

    def run(ridge):
        sweep.write_text(yaml.safe_dump({"name": "sgd", "task": "toy_sgd", "axes": {"n_samples": [64]},
                                         "overrides": {"data.source.latent_dim": 64, "width": 8, "ridge": ridge,
                                                       "trainer.max_steps": 30}, "fit": {"laws": []}}))
        proc = subprocess.run(snakemake_cmd(tmp_path, sweep, "--until", "aggregate"), capture_output=True, text=True,
                              env=cli_env, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return pd.read_csv(tmp_path / "results" / "sgd" / "table.csv").set_index("run_id")

    before, after = run(0.01), run(0.1)
    fresh = tmp_path / "fresh"
    done = subprocess.run(["jetscale", "train", "task=toy_sgd", "data.source.latent_dim=64", "width=8",
                           "ridge=0.1", "trainer.max_steps=30", "n_samples=64", f"hydra.run.dir={fresh}"],
                          capture_output=True, text=True, env=cli_env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    reference = json.loads((fresh / "metrics.json").read_text())
    assert list(after["ridge"]) == [0.1] and list(after["steps"]) == [30]
    assert after.loc["n_samples=64", "test_loss"] == reference["test_loss"]
    assert (after["test_loss"] != before["test_loss"]).all()
    for run_dir in (tmp_path / "results" / "sgd" / "runs").iterdir():
        assert len(list(run_dir.glob("checkpoints/last.ckpt.stale-*"))) == 1, run_dir.name


def test_jets_target_generates_shards_features_and_spectrum(tmp_path, cli_env):
    from jetscale.data.shards import load_manifest

    data, results = tmp_path / "data", tmp_path / "results"
    cmd = ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--profile", str(REPO / "profiles" / "local"), "jets",
           "--config", "jet_shards=2", "jets_per_shard=60", f"data_dir={data}", f"results_dir={results}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=cli_env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    dataset = data / "toptag-pythia"
    manifest = load_manifest(dataset)  # checksums verified
    assert manifest["total_jets"] == 120 and [s["n_signal"] for s in manifest["shards"]] == [30, 30]
    assert sorted(p.name for p in dataset.glob("*.efp-d5-b1.h5")) == ["shard-00000.efp-d5-b1.h5", "shard-00001.efp-d5-b1.h5"]
    spectrum = json.loads((results / "toptag-pythia" / "spectrum" / "efp-d5-b1" / "spectrum.json").read_text())
    assert spectrum["n"] == 120 and spectrum["d"] == 102 and spectrum["n_ranks"] == 2
    eigenvalues = np.array(spectrum["eigenvalues"])
    assert np.all(np.diff(eigenvalues) <= 0) and spectrum["fit"]["alpha"] > 0


def test_jet_isoflop_sweep_generates_its_data_and_sets_steps_from_compute(tmp_path, cli_env):
    """From nothing: shards → manifest → EFP caches → EFP-linear points at two FLOP budgets → table (no fits)."""
    from jetscale.models import EFPLinear

    data, results = tmp_path / "data", tmp_path / "results"
    sweep = tmp_path / "jets-iso.yaml"
    budgets = [2.0e6, 6.0e6]
    sweep.write_text(yaml.safe_dump({
        "name": "jets-iso", "task": "jets_efp_linear",
        "axes": {"compute": budgets, "n_samples": [40], "seed": [0]},
        "overrides": {"data.dataset_dir": str(data / "toptag-pythia"), "data.n_test": 40, "data.batch_size": 20},
        "fit": {"laws": []},
    }, sort_keys=False))
    dry = subprocess.run(snakemake_cmd(tmp_path, sweep, "jet_shards=2", "jets_per_shard=40", f"data_dir={data}", "-n"),
                         capture_output=True, text=True, env=cli_env, timeout=300)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    for rule in ("generate_shard", "jet_manifest", "efp_features", "train", "aggregate"):
        assert re.search(rf"^{rule}\s+\d+", dry.stdout, re.M), rule
    assert not re.search(r"^fit_law\s", dry.stdout, re.M)
    proc = subprocess.run(snakemake_cmd(tmp_path, sweep, "jet_shards=2", "jets_per_shard=40", f"data_dir={data}"),
                          capture_output=True, text=True, env=cli_env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = pd.read_csv(results / "jets-iso" / "table.csv").sort_values("compute")
    per_step = EFPLinear(102).train_flops_per_sample() * 20
    assert table["steps"].tolist() == [int(c // per_step) for c in budgets]
    assert (table["flops"] <= table["compute"]).all() and (table["flops"] > 0.9 * table["compute"]).all()
    assert table["model"].eq("efp_linear").all() and table["roc_auc"].between(0, 1).all()


def dry_run_shell(tmp_path, sweep, cli_env, *extra) -> str:
    proc = subprocess.run(snakemake_cmd(tmp_path, sweep, "-n", "-p", *extra), capture_output=True, text=True,
                          env=cli_env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_training_resources_rule_defaults_then_sweep_then_profile_and_the_mpi_launcher(tmp_path, cli_env):
    """The train job's resources: rule defaults < the sweep's `resources:` < a profile's set-resources.
    The `mpi` resource (srun, a PBS mpiexec line) prefixes `jetscale train`."""
    plain = dry_run_shell(tmp_path, tiny_sweep(tmp_path, n_samples=(40,), widths=(8,), seeds=(0,)), cli_env)
    assert "Shell command: jetscale train task=toy" in plain and "runtime=30" in plain

    sweep = yaml.safe_load((tmp_path / "tiny.yaml").read_text())
    sweep["resources"] = {"runtime": 77, "nodes": 2}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(sweep, sort_keys=False))
    launcher = ("--set-resources", "train:mpi='mpiexec -n 8 --ppn 4'")
    closed_form = dry_run_shell(tmp_path, tmp_path / "tiny.yaml", cli_env, *launcher)
    assert "runtime=77" in closed_form and "nodes=2" in closed_form
    assert "Shell command: jetscale train task=toy" in closed_form  # no ranks to launch: no prefix

    sweep.update(task="toy_sgd", overrides={"data.source.latent_dim": 100})
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(sweep, sort_keys=False))
    multi_node = dry_run_shell(tmp_path, tmp_path / "tiny.yaml", cli_env, *launcher)
    assert "mpiexec -n 8 --ppn 4 jetscale train task=toy_sgd" in multi_node

    profile_wins = dry_run_shell(tmp_path, tmp_path / "tiny.yaml", cli_env, "--set-resources", "train:mpi='srun'",
                                 "train:runtime=5")
    assert "srun jetscale train task=toy_sgd" in profile_wins and "runtime=5," in profile_wins


def test_a_sweep_may_not_set_the_unquoted_mpi_launcher(tmp_path):
    from jetscale.sweep import SweepError, load_sweep

    sweep = yaml.safe_load(tiny_sweep(tmp_path).read_text())
    sweep["resources"] = {"mpi": "srun; touch pwned"}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(sweep))
    with pytest.raises(SweepError, match="resources"):
        load_sweep(tmp_path / "tiny.yaml")


def test_a_bad_bundle_setting_is_refused_naming_the_key(tmp_path, cli_env):
    sweep = tiny_sweep(tmp_path, n_samples=(40,), widths=(8,), seeds=(0,))
    proc = subprocess.run(snakemake_cmd(tmp_path, sweep, "bundle_size=0", "-n"), capture_output=True, text=True,
                          env=cli_env, timeout=300)
    assert proc.returncode != 0 and "bundle_size" in proc.stdout + proc.stderr


def test_a_sweep_without_laws_still_gets_figures_of_its_points(tmp_path, cli_env):
    """`fit: {laws: []}` (a transition, not a power law): no fit jobs, but the table's figures."""
    sweep = tiny_sweep(tmp_path, n_samples=(40,), widths=(8,), seeds=(0,))
    raw = yaml.safe_load(sweep.read_text())
    sweep.write_text(yaml.safe_dump({**raw, "fit": {"laws": []}}))
    dry = subprocess.run(snakemake_cmd(tmp_path, sweep, "-n"), capture_output=True, text=True, env=cli_env,
                         timeout=120)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    for rule in ("train", "aggregate", "merge_fits", "figures"):
        assert re.search(rf"^{rule}\s+1", dry.stdout, re.M), rule
    assert not re.search(r"^fit_law\s", dry.stdout, re.M)
