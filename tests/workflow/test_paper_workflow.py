"""The workflow's `paper` target: one DAG from nothing (jets, spectra, every sweep) to the paper figures,
and the paper scale files it reads (jetscale.paper.config)."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from jetscale.paper.config import (
    PAPER_FIGURES, PaperConfigError, load_paper_config, paper_config_path, spectrum_path, sweep_name, table_path,
)
from jetscale.sweep import load_sweep


def dry_run(tmp_path, env, *config):
    cmd = ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n", "--cores", "2",
           "paper", "--config", f"results_dir={tmp_path / 'results'}", f"data_dir={tmp_path / 'data'}", *config]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def job_counts(stdout: str) -> dict[str, int]:
    stats = stdout.split("Job stats:", 1)[1]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", stats, re.M) if rule != "total"}


def test_paper_target_plans_every_sweep_the_jets_and_both_spectra(tmp_path, cli_env):
    paper = load_paper_config("small")
    # the scale's jet sweeps train on the scale's dataset, which lives under data_dir: point them at tmp
    proc = dry_run(tmp_path, cli_env, "data_dir=data/jets", "paper_scale=small")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    n_points = sum(len(load_sweep(name).points()) for name in paper.sweeps())
    bk = paper.bk_spectrum  # figure 2's spectrum in B&K's convention, its options from the scale file
    efp_sets = {(paper.efp_dmax, paper.efp_beta), (bk["dmax"], bk["beta"])}  # one EFP cache per shard and set
    assert counts == {
        "generate_shard": paper.jets.n_shards, "jet_manifest": 1, "efp_features": paper.jets.n_shards * len(efp_sets),
        "efp_spectrum": 1, "constituent_spectrum": 1, "efp_spectrum_convention": 1,
        "train": n_points, "aggregate": len(paper.sweeps()),
        "paper_numbers": len(PAPER_FIGURES), "paper_figure": len(PAPER_FIGURES), "paper_report": 1, "paper": 1,
    }
    for name in paper.sweeps():
        assert str(table_path(tmp_path / "results", name)) in proc.stdout
    assert f"spectrum/efp-d{bk['dmax']}-b1-second-moment-per-class-raw/spectrum.json" in proc.stdout
    assert f"data/jets/{paper.jets.dataset}/shard-{paper.jets.n_shards - 1:05d}.h5" in proc.stdout
    for figure in PAPER_FIGURES:
        assert f"results/paper/small/{figure}.pdf" in proc.stdout


# Points per sweep of each scale, as the separate paper-<scale>-<sweep>.yaml files had them before the scales of
# a sweep became one file: the same points (and results/<sweep>-<scale>/ per scale).
POINTS = {
    "small": {"efp-linear": 12, "efp-mlp": 12, "pfn": 12, "transformer": 6, "pfn-width": 10, "isoflop": 12,
              "toy": 72},
    "full": {"efp-linear": 21, "efp-mlp": 21, "pfn": 21, "transformer": 21, "pfn-width": 16, "isoflop": 35,
             "toy": 324},
}


@pytest.mark.parametrize("scale", sorted(POINTS))
def test_each_scale_plans_the_points_it_always_had_in_a_directory_of_its_own(scale):
    paper = load_paper_config(scale)
    sweeps = {ref: load_sweep(ref, check_config=False) for ref in paper.sweeps()}
    assert {s.name: len(s.points()) for s in sweeps.values()} == {
        f"paper-{name}-{scale}": n for name, n in POINTS[scale].items()}
    assert all(str(table_path("results", ref)) == f"results/{s.name}/table.csv" for ref, s in sweeps.items())


PAPER_RULES = ["paper_numbers", "paper_figure", "paper_report", "paper"]


def made_paper(root, paper):
    """Every file of a made paper in ``root/results``, oldest first: inputs, numbers files, drawings, report."""
    from jetscale.paper.figures import figure_inputs, numbers_path

    results, out = root / "results", root / "results" / "paper" / paper.scale
    stages = [
        {path for name in PAPER_FIGURES for label, path in figure_inputs(paper, results, name).items()
         if not label.startswith("numbers:")},
        {numbers_path(results, paper.scale, name) for name in PAPER_FIGURES},
        {out / f"{name}.{ext}" for name in PAPER_FIGURES for ext in ("png", "pdf")},
        {out / "report.md", out / "numbers.json"},
    ]
    for age, paths in enumerate(stages):
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("{}")
            os.utime(path, (1e9 + 100 * age, 1e9 + 100 * age))


def paper_jobs(root, env, *rules_given) -> dict[str, int]:
    proc = subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(root), "-n",
                           "--cores", "1", "paper", "--allowed-rules", *PAPER_RULES, "--config",
                           f"results_dir={root / 'results'}", f"data_dir={root / 'data'}", "paper_scale=small"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return job_counts(proc.stdout) if "Job stats:" in proc.stdout else {}


def test_a_figure_reruns_alone_when_its_inputs_change(tmp_path, cli_env):
    """Analysis, drawing and report meet at files: a newer toy table remakes figure 4 and the report only, a newer
    figure-1 numbers file remakes figure 2 (which reads it) and the report, a made paper nothing."""
    paper = load_paper_config("small")
    made_paper(tmp_path, paper)
    assert paper_jobs(tmp_path, cli_env) == {}
    toy_table = table_path(tmp_path / "results", paper.toy_sweep)
    os.utime(toy_table, (1e9 + 1000, 1e9 + 1000))
    assert paper_jobs(tmp_path, cli_env) == {"paper_numbers": 1, "paper_figure": 1, "paper_report": 1, "paper": 1}
    made_paper(tmp_path, paper)
    fig1 = tmp_path / "results" / "paper" / "small" / "numbers" / "fig1_data_scaling.json"
    os.utime(fig1, (1e9 + 1000, 1e9 + 1000))
    counts = paper_jobs(tmp_path, cli_env)
    assert counts == {"paper_numbers": 1, "paper_figure": 2, "paper_report": 1, "paper": 1}, counts


def test_the_report_of_a_made_paper_holds_its_figures_report_numbers_and_every_sweeps_table(tmp_path, cli_env):
    """`snakemake paper --report` (make paper-report) on a made paper: the five figures (PNG and PDF) with their own
    captions, report.md (its text in its caption), numbers.json, and every sweep's table with its git revisions."""
    paper = load_paper_config("small")
    made_paper(tmp_path, paper)
    (tmp_path / "results" / "paper" / "small" / "report.md").write_text("# Paper report (small)\n")
    for name in paper.sweeps():
        revision = f"rev-{sweep_name(name)}"
        table_path(tmp_path / "results", name).write_text(f"run_id,git_revision\na,{revision}\nb,{revision}\n")
    report = tmp_path / "report.html"
    proc = subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                           "--cores", "1", "paper", "--report", str(report), "--config",
                           # data_dir: where the scale's jet sweeps read their jets (else their tables have no job)
                           f"results_dir={tmp_path / 'results'}", "data_dir=data/jets", "paper_scale=small"],
                          capture_output=True, text=True, env=cli_env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = report.read_text()
    for index, figure in enumerate(PAPER_FIGURES, start=1):
        for ext in ("png", "pdf"):
            assert f'"name": "{figure}.{ext}"' in html
        assert f"<strong>Figure {index}: " in html
    assert '"name": "report.md"' in html and '"name": "numbers.json"' in html
    assert "# Paper report (small)" in html
    for name in paper.sweeps():
        assert f'"sweep": "{sweep_name(name)}", "runs": "2", "git revision(s)": "rev-{sweep_name(name)}"' in html


def tiny_scale(tmp_path, dataset_dir="data/jets/tiny-jets", dataset="tiny-jets"):
    """A paper scale in tmp whose sweeps are tmp files (one jet sweep, one toy sweep) with a scale `tiny`."""
    jets = tmp_path / "paper-jets.yaml"
    jets.write_text(yaml.safe_dump({
        "name": "paper-jets", "task": "jets", "overrides": {"data.n_test": 40},
        "scales": {"tiny": {"axes": {"n_samples": [40, 80], "seed": [0]},
                            "overrides": {"data.dataset_dir": dataset_dir}}}}))
    toy = tmp_path / "paper-toy.yaml"
    toy.write_text(yaml.safe_dump({
        "name": "paper-toy", "task": "toy", "overrides": {"data.source.latent_dim": 100},
        "scales": {"tiny": {"axes": {"n_samples": [40], "width": [8, 16], "seed": [0]}}}}))
    scale = tmp_path / "tiny.yaml"
    scale.write_text(yaml.safe_dump({
        "scale": "tiny", "jets": {"config": "jets_pythia", "dataset": dataset, "n_shards": 2, "jets_per_shard": 100},
        "efp": {"dmax": 3, "beta": 1}, "sweeps": {"classifiers": {"pfn": str(jets)}, "width": str(jets),
                                                   "isoflop": str(jets), "toy": str(toy)}}))
    return scale


@pytest.mark.slow  # the same planning as the real scale above, from files outside configs/
def test_a_scale_of_tmp_files_plans_its_own_dataset(tmp_path, cli_env):
    proc = dry_run(tmp_path, cli_env, "data_dir=data/jets", f"paper_scale={tiny_scale(tmp_path)}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    assert counts["generate_shard"] == 2 and counts["train"] == 2 + 2 and counts["aggregate"] == 2
    assert "results/tiny-jets/spectrum/efp-d3-b1/spectrum.json" in proc.stdout


def test_a_paper_jet_sweep_on_another_dataset_is_refused_naming_both(tmp_path, cli_env):
    proc = dry_run(tmp_path, cli_env, "data_dir=data/jets",
                   f"paper_scale={tiny_scale(tmp_path, dataset_dir='data/jets/elsewhere')}")
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert "paper-jets.yaml" in message and "data/jets/elsewhere" in message and "data/jets/tiny-jets" in message


def test_the_paper_dataset_may_not_reuse_the_workflow_datasets_name_with_other_sizes(tmp_path, cli_env):
    proc = dry_run(tmp_path, cli_env, "data_dir=data/jets", "jet_shards=3",
                   f"paper_scale={tiny_scale(tmp_path, 'data/jets/toptag-pythia', 'toptag-pythia')}")
    assert proc.returncode != 0
    assert "toptag-pythia" in proc.stdout + proc.stderr and "its own name" in proc.stdout + proc.stderr


def test_scale_files_are_checked_naming_file_and_key(tmp_path):
    with pytest.raises(PaperConfigError, match=r"known scales: \[.*'small'"):
        load_paper_config("nonexistent")
    good = yaml.safe_load(paper_config_path("small").read_text())
    for change, message in [
        ({"colour": "red"}, r"colour: unknown key"),
        ({"scale": "other"}, "must equal the file name"),
        ({"jets": {**good["jets"], "n_shards": "many"}}, "jets.n_shards: 'many' is not of type 'integer'"),
        ({"sweeps": {**good["sweeps"], "toy": None}}, "sweeps.toy: None is not of type 'string'"),
        ({"sweeps": {**good["sweeps"], "toy": "paper-toy@full"}}, "sweeps.toy: 'paper-toy@full' does not match"),
        ({"extrapolation": {"holdout": 0}}, "extrapolation.holdout: 0 is less than the minimum of 1"),
        ({"bk_spectrum": {**good["bk_spectrum"], "centring": "centred"}}, "bk_spectrum.centring: 'centred' is not one of"),
        ({"bk_spectrum": {**good["bk_spectrum"], "dmax": 8}}, "bk_spectrum.dmax: 8 is greater than the maximum of 7"),
    ]:
        path = tmp_path / "small.yaml"
        path.write_text(yaml.safe_dump({**good, **change}))
        with pytest.raises(PaperConfigError, match=message) as err:
            load_paper_config(path)
        assert str(path) in str(err.value)


def test_every_scale_names_existing_sweeps_whose_name_is_their_file():
    for path in sorted((REPO / "configs" / "paper").glob("*.yaml")):
        paper = load_paper_config(path)
        for entry in paper.sweeps():
            sweep = load_sweep(entry, check_config=False)
            assert sweep.name == sweep_name(entry) == f"{Path(sweep.source).stem}-{paper.scale}", f"{path}: {entry}"


def test_path_conventions():
    assert table_path("r", "a/b/pfn.yaml") == table_path("r", "pfn") == Path("r/pfn/table.csv")
    assert table_path("r", "a/b/pfn.yaml@small") == table_path("r", "pfn@small") == Path("r/pfn-small/table.csv")
    assert str(spectrum_path("r", "ds", "efp", 5, 1.0)).endswith("r/ds/spectrum/efp-d5-b1/spectrum.json")
    assert str(spectrum_path("r", "ds", "constituents")).endswith("r/ds/spectrum/constituents/spectrum.json")
    with pytest.raises(ValueError, match="unknown spectrum features"):
        spectrum_path("r", "ds", "pixels")
    bk = {"centring": "second-moment", "classes": "per-class", "scale": "raw"}
    assert str(spectrum_path("r", "ds", "efp", 6, 1.0, bk)).endswith(
        "r/ds/spectrum/efp-d6-b1-second-moment-per-class-raw/spectrum.json")
    with pytest.raises(ValueError, match="EFP spectra only"):
        spectrum_path("r", "ds", "constituents", convention=bk)


@pytest.mark.slow  # ~40 min on 2 cores: the whole small paper, every job through the fake PBS
def test_make_paper_small_runs_end_to_end_through_the_fake_pbs(tmp_path, pbs_env):
    """`make paper SCALE=small PROFILE=polaris`: jets (grouped shards), spectra, every sweep in PBS jobs (bundles
    of 6, on the CPU: the fake machine has no GPU), then the figures and report on the login side."""
    import sys

    from conftest import FAKE_PBS

    sys.path.insert(0, str(FAKE_PBS))
    import fakepbs

    done = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "paper", "SCALE=small", "PROFILE=polaris",
                           "CONFIG=accelerator=cpu bundle_size=6",
                           f"SNAKEMAKE_ARGS=--directory {tmp_path} --jobs 4 --seconds-between-status-checks 2"],
                          env=pbs_env, capture_output=True, text=True, timeout=3 * 3600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    report = tmp_path / "results" / "paper" / "small" / "report.md"
    assert report.is_file() and all((report.parent / f"{figure}.pdf").is_file() for figure in PAPER_FIGURES)
    names = [job["name"] for job in fakepbs.read_table(tmp_path / "pbs")]
    assert {"jet_generation", "jet_features"} <= set(names)  # the shards of the dataset, grouped
    assert sum(name.startswith("train_bundle.") for name in names) >= 136 // 6  # every sweep point in a PBS job
