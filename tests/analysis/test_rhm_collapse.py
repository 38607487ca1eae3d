"""The RHM collapse's path: tables of several grammars' sweeps -> `jetscale sample-complexity` (numbers file) ->
`jetscale sample-complexity-figure` (collapse.png/pdf), and the workflow's `collapse` target over them, on tiny fake
tables whose crossings are known."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from jetscale.cli import main
from jetscale.data.rhm import RandomHierarchy
from jetscale.data.rhm_dataset import RULES_FILE
from jetscale.sweep import load_sweep, sweep_scales

C = 2.5  # P* = C·n_c·m^L in the fake tables
SYNONYMS = {"m3": 3, "m4": 4, "m5": 5, "m6": 6}


def fake_sweep(results, name, m, seeds=(0, 1), n_c=8, depth=3):
    """results/<name>/table.csv and each run's rhm_rules.json: test error linear in ln P (slope −0.25, positive on
    the grid), crossing 0.1 at C·n_c·m^L·(0.95, 1/0.95) for the two seeds."""
    out = results / name
    grammar = RandomHierarchy(v=8, m=m, s=2, L=depth, n_c=n_c)
    law = n_c * m ** depth
    rows = []
    for seed, factor in zip(seeds, (0.95, 1 / 0.95)):
        for p in np.round(law * 2.0 ** (np.arange(-2, 7) / 2)).astype(int):
            run = f"width=64__seed={seed}__n_samples={p}"
            grammar.save_rules(out / "runs" / run / RULES_FILE)
            rows.append({"run_id": run, "n_samples": p, "seed": seed, "width": 64,
                         "test_error": 0.1 - 0.25 * np.log(p / (C * law * factor))})
    (out / "table.csv").parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out / "table.csv", index=False)
    return out / "table.csv"


def test_the_commands_write_the_collapse_numbers_and_figure(tmp_path, capsys):
    tables = [fake_sweep(tmp_path, f"rhm-synonyms-{scale}", m) for scale, m in SYNONYMS.items()]
    numbers_path = tmp_path / "collapse.json"
    assert main(["sample-complexity", *map(str, tables), "--out", str(numbers_path)]) == 0
    numbers = json.loads(numbers_path.read_text())
    assert [g["m"] for g in numbers["grammars"]] == [3, 4, 5, 6]
    assert numbers["collapse"]["c"] == pytest.approx(C)
    assert numbers["exponent"]["b"] == pytest.approx(1.0) and numbers["threshold_rule"].startswith("paper")
    assert main(["sample-complexity-figure", str(numbers_path), "--out-dir", str(tmp_path / "fig")]) == 0
    for ext in ("png", "pdf"):
        assert (tmp_path / "fig" / f"collapse.{ext}").stat().st_size > 1000
    # the earlier convention, half of chance (0.4375), is crossed earlier, at ln(P/P*) = −0.3375/0.25
    assert main(["sample-complexity", *map(str, tables), "--chance-fraction", "0.5", "--out", str(numbers_path)]) == 0
    assert json.loads(numbers_path.read_text())["collapse"]["c"] == pytest.approx(C * np.exp(-1.35))


def test_a_table_of_several_grammars_is_refused(tmp_path, capsys):
    table = fake_sweep(tmp_path, "mixed", 4)
    RandomHierarchy(v=8, m=3, s=2, L=3, n_c=8).save_rules(tmp_path / "mixed" / "runs" /
                                                         "width=64__seed=1__n_samples=256" / RULES_FILE)
    assert main(["sample-complexity", str(table), str(fake_sweep(tmp_path, "other", 3)),
                 "--out", str(tmp_path / "c.json")]) != 0
    assert re.search(r"mixed/table.csv: its runs trained on different grammars", capsys.readouterr().err)


def test_the_synonym_sweep_plans_one_grammar_per_scale_bracketing_its_law():
    assert sweep_scales("rhm-synonyms") == list(SYNONYMS)
    for scale, m in SYNONYMS.items():
        sweep = load_sweep(f"rhm-synonyms@{scale}", check_config=False)
        assert sweep.name == f"rhm-synonyms-{scale}" and sweep.task == "rhm" and sweep.overrides == {"data.m": m}
        law = 8 * m ** 3  # configs/data/rhm.yaml: n_c = 8, L = 3
        sizes = sorted(point["n_samples"] for point in sweep.points() if point["seed"] == 0)
        assert sizes[0] == pytest.approx(law / 2, rel=0.01) and sizes[-1] == pytest.approx(8 * law, rel=0.01)
        assert len(sweep.points()) == 18


def collapse_target(tmp_path, env, *extra):
    """`snakemake collapse --config collapse=rhm-synonyms` on fake tables of its four sweeps."""
    results = tmp_path / "results"
    for scale, m in SYNONYMS.items():
        fake_sweep(results, f"rhm-synonyms-{scale}", m)
    cmd = ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--cores", "1",
           "collapse", "--allowed-rules", "sample_complexity", "sample_complexity_figure", "collapse",
           "--config", f"results_dir={results}", "collapse=rhm-synonyms", *extra]
    return results, subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_the_collapse_target_plans_the_analysis_then_the_drawing(tmp_path, cli_env):
    _, proc = collapse_target(tmp_path, cli_env, "-n", "--quiet", "rules")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for rule in ("sample_complexity", "sample_complexity_figure", "collapse"):
        assert re.search(rf"^{rule}\s+1$", proc.stdout, re.M), (rule, proc.stdout)


@pytest.mark.slow
def test_the_collapse_target_runs_on_the_tables_of_the_sweeps_of_a_file(tmp_path, cli_env):
    results, proc = collapse_target(tmp_path, cli_env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    numbers = json.loads((results / "rhm-synonyms" / "collapse.json").read_text())
    assert numbers["collapse"]["c"] == pytest.approx(C)
    assert (results / "rhm-synonyms" / "collapse.png").stat().st_size > 1000
