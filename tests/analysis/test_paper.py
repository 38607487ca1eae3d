"""The paper figures check the numbers behind them: fits of synthetic tables drawn from known laws.

Figure 1 recovers a data-law exponent and the ordering of two classifiers; figure 3 recovers the
compute-optimal exponents a = beta/(alpha+beta), b = alpha/(alpha+beta) by approaches 2 and 3; figure 5
passes an exact power law and flags one with a kink; the report names every sweep's git revision;
``jetscale paper`` runs end to end and its numbers.json holds the fits.
"""

from __future__ import annotations

import json
import types

import numpy as np
import pandas as pd
import pytest
import yaml

from jetscale.cli import main
from jetscale.fit import fit_law
from conftest import REPO, draw_from_numbers_file
from test_paper_spectrum import bk_payload
from jetscale.fit.paper import compute_optimal, data_scaling
from jetscale.fit.paper.compute_optimal import (
    budget_optimum, isoflop_rows, joint_frame, parabola_vertex,
)
from jetscale.fit.paper.data_scaling import classifier_scaling
from jetscale.fit.paper.extrapolation import extrapolation_check
from jetscale.paper import sections
from jetscale.paper.report import git_revisions, revision_warnings, sweep_provenance, write_report

N_BOOT = 40
T_SIZES = (250, 500, 1000, 2000, 4000, 8000)
# The joint law of the IsoFLOP tests: a = beta / (alpha + beta) = 0.4615, b = 0.5385.
JOINT = {"E": 0.2, "A": 20.0, "alpha": 0.35, "B": 30.0, "beta": 0.3}
BUDGETS = (6e9, 6e10, 6e11)  # C = 6 N D: optima at N ~ 1e4, 3e4, 8e4
ISO_WIDTHS = (12, 20, 32, 50, 80, 130, 200)  # N = 12 w^2 from 1.7e3 to 4.8e5


def n_params_of(width):
    return 12 * width * width


def data_table(model, E, B, beta, sizes=T_SIZES, seeds=(0, 1, 2), noise=0.01, seed=0, kink=1.0, width=None):
    """L = E + B T^-beta with multiplicative Gaussian noise; the largest T multiplied by ``kink``."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in sizes:
        for s in seeds:
            loss = (E + B * t**-beta) * (1 + noise * rng.standard_normal()) * (kink if t == max(sizes) else 1.0)
            rows.append(dict(run_id=f"n_samples={t}__seed={s}", task="jets", model=model, width=width,
                             n_params=1000, n_samples=t, seed=s, flops=1e9, test_loss=loss, epochs=10.0))
    return pd.DataFrame(rows)


def isoflop_table(noise=0.005, seed=3, budgets=BUDGETS, widths=ISO_WIDTHS):
    """The joint law sampled on IsoFLOP lines C = 6 N D, two seeds, plus worse runs on a smaller training set."""
    rng = np.random.default_rng(seed)
    p = JOINT
    rows = []
    for c in budgets:
        for w in widths:
            n = n_params_of(w)
            d = c / (6 * n)
            for n_samples, penalty in ((d / 4, 1.05), (d, 1.0)):
                for s in (0, 1):
                    loss = (p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"]) * penalty
                    rows.append(dict(run_id=f"compute={c:g}__width={w}__n_samples={n_samples:g}__seed={s}",
                                     task="jets", model="pfn", width=w, n_params=n, n_samples=n_samples, seed=s,
                                     flops=c, compute=c, epochs=d / n_samples,
                                     test_loss=loss * (1 + noise * rng.standard_normal())))
    return pd.DataFrame(rows)


def width_table(seed=2):
    rng = np.random.default_rng(seed)
    rows = []
    for w in (8, 16, 32, 64, 128):
        for s in (0, 1):
            n = n_params_of(w)
            rows.append(dict(run_id=f"width={w}__seed={s}", task="jets", model="pfn", width=w, n_params=n,
                             n_samples=8000, seed=s, flops=1e9, epochs=10.0,
                             test_loss=(0.3 + 20 * n**-0.4) * (1 + 0.01 * rng.standard_normal())))
    return pd.DataFrame(rows)


def toy_table():
    """The toy-demo grid (configs/sweep/toy-demo.yaml) at its deterministic equivalent, with 3 % seed scatter."""
    from jetscale.theory import rf_test_error

    rng = np.random.default_rng(3)
    rows = []
    for p in (16, 64, 256, 1024):
        for w in (32, 64, 128, 256):
            theory = rf_test_error(1.5, 0.3, w, p, 3e-3, 2000).test_error
            for s in (0, 1):
                rows.append(dict(run_id=f"n_samples={p}__width={w}__seed={s}", task="toy", model="random_features",
                                 width=w, n_params=w, n_samples=p, seed=s, flops=1e6, theory_loss=theory,
                                 test_loss=theory * np.exp(0.03 * rng.standard_normal()), ridge=3e-3))
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ figure 1

def test_fig1_recovers_the_exponent_and_orders_the_classifiers(tmp_path):
    tables = {"s-lin": data_table("efp_linear", 0.2, 3.0, 0.5), "s-pfn": data_table("pfn", 0.1, 4.0, 0.5, seed=1)}
    result = data_scaling.analyse({"efp_linear": "s-lin", "pfn": "s-pfn"}, tables, n_boot=N_BOOT)
    numbers, text = result["numbers"], sections.data_scaling(result["numbers"])
    lin = numbers["classifiers"]["efp_linear"]
    lo, hi = lin["ci95"]["alpha"]
    assert np.isfinite([lo, hi]).all() and 0 < lo < 0.5 < hi < 1.0
    assert lin["alpha"] > 0 and lin["alpha"] == pytest.approx(0.5, abs=0.1)
    assert lin["C"] == pytest.approx(0.2, abs=0.03) and lin["n_points"] == 18
    # the paper's names are jetscale's data law (A = B, alpha = beta, C = E)
    direct = fit_law(tables["s-lin"], "data", n_boot=0)["params"]
    assert (lin["A"], lin["alpha"], lin["C"]) == pytest.approx((direct["B"], direct["beta"], direct["E"]))
    order = numbers["ordering"]
    assert order["at_T"] == 8000 and [e["model"] for e in order["by_loss"]] == ["pfn", "efp_linear"]
    assert order["resolved"] == [True]
    assert [e["model"] for e in order["by_C"]] == ["pfn", "efp_linear"] and order["C_separated"] == [True]
    assert "PFN" in text and "EFP linear" in text and "α [95 % CI]" in text
    assert numbers["warnings"] == [] and result["sweeps"] == ["s-lin", "s-pfn"]
    # the drawing reads the fits back from the file, bootstrap resamples included
    fit = result["plot"]["classifiers"][0]["fit"]
    assert len(fit["resamples"]["beta"]) == lin["n_boot_ok"] > 0 and fit["ci95"]["beta"] == lin["ci95"]["alpha"]
    paths = draw_from_numbers_file("fig1_data_scaling", result, tmp_path)
    assert sorted(p.name for p in paths) == ["fig1_data_scaling.pdf", "fig1_data_scaling.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    mislabelled = data_scaling.analyse({"particle_transformer": "s-pfn"}, tables, n_boot=0)
    assert "trained pfn" in mislabelled["numbers"]["warnings"][0]
    assert "> **Warning**" in sections.data_scaling(mislabelled["numbers"])


def test_fig1_fits_a_multi_width_sweep_per_width_and_shows_the_largest():
    table = pd.concat([data_table("pfn", 0.2, 3.0, 0.5, width=16), data_table("pfn", 0.1, 3.0, 0.4, width=64)])
    scaling = classifier_scaling("pfn", "s", table, n_boot=0)
    assert scaling.width == 64 and set(scaling.fits) == {16, 64}
    assert scaling.fit.params["beta"] == pytest.approx(0.4, abs=0.05)
    assert set(scaling.rows["width"]) == {64}


# ------------------------------------------------------------------ figure 3

def test_isoflop_optima_recover_the_compute_optimal_exponents(tmp_path):
    result = compute_optimal.analyse(width_table(), isoflop_table(), width_sweep="w", isoflop_sweep="iso",
                                     n_boot=N_BOOT)
    numbers = result["numbers"]
    paths = draw_from_numbers_file("fig3_compute_optimal", result, tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)
    a_true = JOINT["beta"] / (JOINT["alpha"] + JOINT["beta"])
    a2, a3 = numbers["approach2"], numbers["approach3"]
    assert all(b["bracketed"] for b in numbers["isoflop"]["budgets"])
    assert not a2["uses_edge_optima"] and a2["a"] == pytest.approx(a_true, abs=0.03)
    assert a2["b"] == pytest.approx(1 - a2["a"])
    assert a3["a_ci"][0] < a_true < a3["a_ci"][1] and a3["a"] == pytest.approx(a_true, abs=0.02)
    assert a3["b"] == pytest.approx(1 - a_true, abs=0.02)
    assert abs(a2["a"] - a3["a"]) < 0.03 and numbers["agreement"]["ci_overlap"]
    assert numbers["k_flops"]["k"] == pytest.approx(6.0)
    # N_opt(C) of the true law: G (C/6)^a
    g = (JOINT["alpha"] * JOINT["A"] / (JOINT["beta"] * JOINT["B"])) ** (1 / (JOINT["alpha"] + JOINT["beta"]))
    for budget, frontier in zip(numbers["isoflop"]["budgets"], a3["frontier"]):
        truth = g * (budget["compute"] / 6) ** a_true
        assert budget["N_opt"] == pytest.approx(truth, rel=0.15) and frontier["N_opt"] == pytest.approx(truth, rel=0.1)
    # the joint law is fitted on samples seen, at the largest training set of each (budget, width)
    rows = isoflop_rows(isoflop_table())
    assert len(rows) == len(BUDGETS) * len(ISO_WIDTHS) * 2 and (rows["epochs"] == 1).all()
    assert a3["n_points"] == len(rows)
    assert numbers["width_scaling"]["8000"]["params"]["alpha"] == pytest.approx(0.4, abs=0.1)


def test_an_optimum_at_the_edge_of_the_width_grid_is_flagged():
    table = isoflop_table(budgets=(6e9,), widths=(80, 130, 200, 320))  # optimum N ~ 1e4 lies below the grid
    optimum = budget_optimum(isoflop_rows(table), 20, np.random.default_rng(0))
    assert not optimum.bracketed and any("smallest width" in f for f in optimum.flags)
    assert np.isnan(parabola_vertex(np.log([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 0.0]) * -1)[0])  # concave


# ------------------------------------------------------------------ figure 5

def test_an_exact_power_law_extrapolates_and_a_kink_is_flagged():
    exact = data_table("efp_linear", 0.2, 3.0, 0.5, noise=0.0)
    exact.loc[exact["seed"] == 1, "test_loss"] *= 1.005  # a seed spread, so a standard error exists
    exact.loc[exact["seed"] == 2, "test_loss"] *= 0.995
    good, _ = extrapolation_check(exact, "data", "n_samples", holdout=1, n_boot=N_BOOT)
    assert good["held_out_values"] == [8000.0] and good["verdict"] == "extrapolates"
    assert abs(good["points"][0]["rel_error"]) < 2e-3 and good["points"][0]["consistent"]

    kinked = data_table("efp_linear", 0.2, 3.0, 0.5, kink=1.15)
    bad, _ = extrapolation_check(kinked, "data", "n_samples", holdout=1, n_boot=N_BOOT)
    point = bad["points"][0]
    assert bad["verdict"] == "misses" and not point["consistent"]
    assert point["rel_error"] == pytest.approx(1 / 1.15 - 1, abs=0.03)
    assert point["rel_error_ci"][1] < 0

    few, fit = extrapolation_check(exact[exact["n_samples"] <= 1000], "data", "n_samples", holdout=1)
    assert fit is None and few["verdict"] == "not checked"


# ------------------------------------------------------------------ report

def test_the_report_lists_every_sweep_with_its_revision_and_flags_mixed_or_dirty_ones(tmp_path):
    clean = pd.DataFrame({"run_id": ["a", "b"], "git_revision": ["abc123", "abc123"]})
    mixed = pd.DataFrame({"run_id": ["a", "b", "c"], "git_revision": ["abc123", "def456+dirty", None]})
    old = pd.DataFrame({"run_id": ["a"]})  # a table from before the git_revision column
    assert git_revisions(mixed) == ["abc123", "def456+dirty", "unknown"] and git_revisions(old) == ["unknown"]
    assert revision_warnings(["abc123"]) == []
    analysed = data_scaling.analyse({"efp_linear": "clean"}, {"clean": data_table("efp_linear", 0.2, 3.0, 0.5)},
                                    n_boot=0)
    figure = {"figure": "fig1_data_scaling", "title": "Data scaling", "sweeps": ["clean", "mixed"],
              "provenance": sweep_provenance({"clean": clean, "mixed": mixed, "old": old}),
              "numbers": {**analysed["numbers"], "missing": float("nan")}, "plot": analysed["plot"]}
    (tmp_path / "fig1_data_scaling.png").write_bytes(b"png")  # drawn by its own rule; the report links it
    report, numbers = write_report([figure], tmp_path, scale="small", config="configs/paper/small.yaml",
                                   generated="2025-01-01T00:00:00+00:00")
    text = report.read_text()
    assert "scale `small`" in text and "configs/paper/small.yaml" in text and "2025-01-01" in text
    assert "| `clean` | 2 | `abc123` |" in text and "`def456+dirty`" in text
    warnings = [line for line in text.splitlines() if line.startswith("> **Warning**")]
    assert any("`mixed` mixes 3 git revisions" in w for w in warnings)
    assert any("`mixed`" in w and "+dirty" in w for w in warnings)
    assert any("`old` has runs of unknown" in w for w in warnings)
    assert not any("`clean`" in w for w in warnings)
    assert "![Figure 1: Data scaling](fig1_data_scaling.png)" in text and "PDF:" not in text
    assert sections.table_markdown(analysed["numbers"]["classifiers"]) in text  # the text is made from the numbers
    payload = json.loads(numbers.read_text())
    assert payload["figures"]["fig1_data_scaling"]["numbers"]["missing"] is None
    assert payload["figures"]["fig1_data_scaling"]["files"] == ["fig1_data_scaling.png"]
    assert payload["sweeps"]["mixed"]["git_revisions"] == ["abc123", "def456+dirty", "unknown"]
    assert payload["sweeps"]["clean"]["runs"] == 2 and payload["scale"] == "small"


# ------------------------------------------------------------------ jetscale paper

TOY_CONFIG = {"data": {"source": {"alpha": 1.5, "r": 0.3, "latent_dim": 2000, "noise": 0.0}}, "ridge": 3e-3}


def write_toy_metrics(run_dir, **change):
    config = {**TOY_CONFIG, "data": {"source": {**TOY_CONFIG["data"]["source"]}}}
    config.update({k: v for k, v in change.items() if k == "ridge"})
    config["data"]["source"].update({k: v for k, v in change.items() if k != "ridge"})
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.json").write_text(json.dumps({"config": config}))


def _paper_inputs(root):
    results = root / "results"
    sweeps = {"efp_linear": "t-efp-linear", "pfn": "t-pfn"}
    paper = {"scale": "small", "description": "test",
             "jets": {"config": "jets_pythia", "dataset": "toy-jets", "n_shards": 1, "jets_per_shard": 100},
             "efp": {"dmax": 5, "beta": 1},
             "bk_spectrum": {"dmax": 6, "beta": 1, "centring": "second-moment", "classes": "per-class", "scale": "raw"},
             "sweeps": {"classifiers": sweeps, "width": "t-width", "isoflop": "t-iso",
                        "toy": str(root / "t-toy.yaml")},
             "fit": {"bootstrap": N_BOOT, "seed": 0}, "extrapolation": {"holdout": 1}}
    demo = yaml.safe_load((REPO / "configs" / "sweep" / "toy-demo.yaml").read_text())  # toy_table's settings
    scales = {"small": {"axes": demo.pop("axes")}}
    (root / "t-toy.yaml").write_text(yaml.safe_dump({**demo, "name": "t-toy", "scales": scales}))
    (root / "paper").mkdir()
    (root / "paper" / "small.yaml").write_text(yaml.safe_dump(paper))
    revision = {"git_revision": "abc123"}
    tables = {"t-efp-linear-small": data_table("efp_linear", 0.2, 3.0, 0.5).assign(**revision),
              "t-pfn-small": data_table("pfn", 0.1, 4.0, 0.5, seed=1).assign(**revision),
              "t-width-small": width_table().assign(**revision),
              "t-iso-small": isoflop_table().assign(git_revision="abc123+dirty"),
              "t-toy-small": toy_table()}
    for sweep, table in tables.items():
        (results / sweep).mkdir(parents=True)
        table.to_csv(results / sweep / "table.csv", index=False)
    for run_id in tables["t-toy-small"]["run_id"]:  # the resolved config each toy run saved (figure 4 reads it)
        write_toy_metrics(results / "t-toy-small" / "runs" / run_id)
    spectrum_dir = results / "toy-jets" / "spectrum" / "efp-d5-b1"
    spectrum_dir.mkdir(parents=True)
    (spectrum_dir / "spectrum.json").write_text(json.dumps(power_law_spectrum()))
    bk_dir = results / "toy-jets" / "spectrum" / "efp-d6-b1-second-moment-per-class-raw"  # the scale's bk_spectrum
    bk_dir.mkdir(parents=True)
    (bk_dir / "spectrum.json").write_text(json.dumps(bk_payload()))
    return root / "paper" / "small.yaml", results, tables


def power_law_spectrum(d=40, alpha=1.5, r=0.3, n=1000):
    """A ``spectrum.json`` payload (as ``jetscale spectrum`` writes it): eigenvalues k^-alpha, target power
    lambda_k w_k^2 = k^-(1 + 2 alpha r), both with 2 % scatter, 10 % label noise; the standardized spectrum is the
    same."""
    from jetscale.features.spectrum import spectrum_entry

    k = np.arange(1, d + 1, dtype=float)
    scatter = np.exp(0.02 * np.random.default_rng(0).standard_normal((2, d)))
    lam, target = k**-alpha * scatter[0], k ** -(1 + 2 * alpha * r) * scatter[1]
    entry = spectrum_entry(np.diag(lam), 2, None, np.sqrt(lam * target), 1.1 * target.sum(), n)
    return {"dataset": "toy-jets", "features": "efp", "n": n, "d": d, **entry,
            "standardized": {**entry, "d": d, "constant_features": []}}


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    """``jetscale paper`` once on synthetic tables."""
    root = tmp_path_factory.mktemp("paper")
    config, results, tables = _paper_inputs(root)
    out = root / "out"
    assert main(["paper", "--config", str(config), "--results-dir", str(results), "--out-dir", str(out)]) == 0
    return types.SimpleNamespace(out=out, tables=tables, results=results, config=config,
                                 numbers=json.loads((out / "numbers.json").read_text()))


@pytest.mark.slow  # ~30 s on 2 cores: three joint-law fits and all five figures
def test_jetscale_paper_writes_every_figure_and_the_numbers_of_its_fits(paper_run):
    from jetscale.paper.config import PAPER_FIGURES

    out, payload, tables = paper_run.out, paper_run.numbers, paper_run.tables
    for name in PAPER_FIGURES:
        for ext in ("png", "pdf"):
            assert (out / f"{name}.{ext}").stat().st_size > 1000, f"{name}.{ext}"
    assert list(payload["figures"]) == list(PAPER_FIGURES)
    fig1 = payload["figures"]["fig1_data_scaling"]["numbers"]["classifiers"]["efp_linear"]
    direct = fit_law(tables["t-efp-linear-small"], "data", n_boot=0)["params"]
    assert (fig1["A"], fig1["alpha"], fig1["C"]) == pytest.approx((direct["B"], direct["beta"], direct["E"]), rel=1e-6)
    assert np.isfinite(fig1["ci95"]["alpha"]).all() and fig1["alpha"] > 0
    fig3 = payload["figures"]["fig3_compute_optimal"]["numbers"]["approach3"]
    joint = fit_law(joint_frame(isoflop_rows(tables["t-iso-small"])), "joint", n_boot=0)["params"]
    assert fig3["params"] == pytest.approx(joint, rel=1e-6)
    assert fig3["a"] == pytest.approx(joint["beta"] / (joint["alpha"] + joint["beta"]), rel=1e-6)
    fig5 = payload["figures"]["fig5_extrapolation"]["numbers"]["laws"]
    assert set(fig5) == {"data:efp_linear", "data:pfn", "params:T=8000", "joint:isoflop"}
    assert fig5["data:efp_linear"]["held_out_values"] == [8000.0]
    assert payload["sweeps"]["t-iso-small"]["git_revisions"] == ["abc123+dirty"]
    report = (out / "report.md").read_text()
    assert "uncommitted changes" in report and "## Figure 5: Extrapolation check" in report
    assert all(f"![Figure {i}" in report for i in range(1, 6))
    # figure 2 read figure 1's numbers file: its measured exponent and T range
    numbers_dir = paper_run.results / "paper" / "small" / "numbers"
    fig2 = json.loads((numbers_dir / "fig2_spectrum.json").read_text())
    assert fig2["numbers"]["measured"]["beta"] == pytest.approx(fig1["alpha"])
    assert fig2["numbers"]["prediction"]["finite_d"]["t_range"] == [250, 8000]
    assert fig2["inputs"]["numbers:fig1_data_scaling"]["path"] == str(numbers_dir / "fig1_data_scaling.json")
    assert fig2["inputs"]["spectrum:constituents"] is None  # optional, and absent here
    assert fig2["inputs"]["spectrum:bk"]["path"].endswith("efp-d6-b1-second-moment-per-class-raw/spectrum.json")
    assert list(fig2["numbers"]["bk"]["classes"]) == ["QCD", "top"] and "Batson & Kahn's convention" in report
    fig4 = json.loads((numbers_dir / "fig4_toy_phase.json").read_text())
    assert fig4["numbers"]["toy"] == {"alpha": 1.5, "r": 0.3, "latent_dim": 2000, "noise": 0.0, "ridge": 3e-3}
    fig3_file = json.loads((numbers_dir / "fig3_compute_optimal.json").read_text())
    iso = fig3_file["inputs"]["table:t-iso-small"]
    assert iso["path"] == str(paper_run.results / "t-iso-small" / "table.csv") and len(iso["sha256"]) == 64


def test_figure_4_refuses_toy_runs_trained_with_different_settings(tmp_path, capsys):
    """The toy settings of figure 4's theory are read from the configs the runs saved, not from today's files:
    runs that disagree (a ridge changed between runs) are refused, naming both runs, rather than compared with one
    theory."""
    config, results, tables = _paper_inputs(tmp_path)
    changed = tables["t-toy-small"]["run_id"].iloc[-1]
    write_toy_metrics(results / "t-toy-small" / "runs" / changed, ridge=1e-2)
    args = ["paper-numbers", "--config", str(config), "--results-dir", str(results), "--figure", "fig4_toy_phase"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "different settings" in err and "'ridge': (0.003, 0.01)" in err and changed in err
    write_toy_metrics(results / "t-toy-small" / "runs" / changed)
    assert main(args) == 0
    fig4 = json.loads((results / "paper" / "small" / "numbers" / "fig4_toy_phase.json").read_text())
    assert fig4["numbers"]["toy"] == {"alpha": 1.5, "r": 0.3, "latent_dim": 2000, "noise": 0.0, "ridge": 3e-3}


def test_jetscale_paper_names_a_missing_table_and_how_to_make_it(tmp_path, capsys):
    config, results, _ = _paper_inputs(tmp_path)
    (results / "t-pfn-small" / "table.csv").unlink()
    assert main(["paper", "--config", str(config), "--results-dir", str(results)]) == 2
    err = capsys.readouterr().err
    assert "'t-pfn-small'" in err and str(results / "t-pfn-small" / "table.csv") in err
    assert "make paper SCALE=small" in err
