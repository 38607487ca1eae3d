"""Tests for jetscale.fit: Chinchilla replication, synthetic recovery, bootstrap, input errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad

from conftest import shared_dir
from jetscale.fit import (
    LAWS,
    FitInputError,
    LawFit,
    fit_groups,
    fit_law,
    fit_rows,
    percentile_ci,
    load_table,
    objective,
    predict,
    validate_for_law,
)


CHINCHILLA_CSV = (shared_dir() or Path("/nonexistent")) / "reference" / "chinchilla_svg_extracted_data.csv"

# Besiroglu et al. 2024, L-BFGS from a grid (shared/reference/README.md).
PUBLISHED = {"E": 1.817, "A": 477.8, "alpha": 0.3473, "B": 2143.9, "beta": 0.3672}
PUBLISHED_CI = {"E": (1.769, 1.871), "A": (285.2, 743.6), "alpha": (0.317, 0.373),
                "B": (1042.4, 5810.3), "beta": (0.331, 0.415)}

TRUE = {
    "data": {"E": 0.25, "B": 40.0, "beta": 0.45},
    "params": {"E": 0.25, "A": 15.0, "alpha": 0.35},
    "joint": {"E": 0.25, "A": 15.0, "alpha": 0.35, "B": 40.0, "beta": 0.45},
}


def synthetic_table(law: str, true: dict, noise: float = 0.01, seed: int = 0, n_grid: int = 6,
                    n_seeds: int = 2) -> pd.DataFrame:
    """Points of ``law`` on a log grid (n_params x n_samples x seeds), times log-normal noise."""
    rng = np.random.default_rng(seed)
    grid = np.logspace(4, 7, n_grid)
    n, d, s = np.meshgrid(grid, grid, np.arange(n_seeds), indexing="ij")
    df = pd.DataFrame({"n_params": n.ravel(), "n_samples": d.ravel(), "seed": s.ravel()})
    df["run_id"] = [f"run{i:03d}" for i in range(len(df))]
    df["test_loss"] = predict(law, true, df) * np.exp(noise * rng.standard_normal(len(df)))
    return df


# --- pure functions -------------------------------------------------------------------


def test_predict_matches_formula():
    n, d = np.array([1e4, 1e6]), np.array([1e5, 1e7])
    p = TRUE["joint"]
    expected = p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"]
    np.testing.assert_allclose(predict("joint", p, {"n_params": n, "n_samples": d}), expected)
    np.testing.assert_allclose(predict("data", TRUE["data"], {"n_samples": d}),
                               0.25 + 40.0 * d ** -0.45)
    assert LAWS["joint"].param_names == ("E", "A", "alpha", "B", "beta")
    assert LAWS["data"].param_names == ("E", "B", "beta")
    assert LAWS["params"].param_names == ("E", "A", "alpha")


@pytest.mark.parametrize("n_terms", [1, 2])
def test_objective_gradient_matches_finite_differences(n_terms):
    rng = np.random.default_rng(3)
    log_x = rng.uniform(9, 16, size=(n_terms, 50))
    log_y = rng.normal(-1, 0.3, size=50)
    theta = np.array([-1.0] + [3.0, 0.4] * n_terms)
    value, grad = objective(theta, log_x, log_y)
    assert value > 0 and grad.shape == theta.shape
    err = check_grad(lambda t: objective(t, log_x, log_y)[0], lambda t: objective(t, log_x, log_y)[1], theta)
    assert err < 1e-6 * max(1.0, np.linalg.norm(grad))


# --- 1. Chinchilla replication --------------------------------------------------------


@pytest.fixture(scope="module")
def chinchilla() -> pd.DataFrame:
    # A failure, not a skip: the replication is the fitter's reference check, and CI has shared/ beside the clone.
    if not CHINCHILLA_CSV.is_file():
        pytest.fail(f"Chinchilla reference data not found at {CHINCHILLA_CSV} "
                    "(put shared/ beside the repository or set JETSCALE_SHARED)")
    raw = pd.read_csv(CHINCHILLA_CSV)
    df = pd.DataFrame({"n_params": raw["Model Size"],
                       "n_samples": raw["Training FLOP"] / (6 * raw["Model Size"]),
                       "loss": raw["loss"]})
    return df.drop(df["loss"].nlargest(5).index)  # the replication excludes the 5 highest losses


@pytest.fixture(scope="module")
def chinchilla_fit(chinchilla) -> dict:
    return fit_law(chinchilla, "joint", loss_col="loss", n_boot=0)


def test_chinchilla_replication(chinchilla_fit):
    result = chinchilla_fit
    p = result["params"]
    assert set(result) == {"law", "params", "ci95", "n_points", "loss", "n_boot", "resamples"}
    assert result["n_boot"] == 0 and result["resamples"] == {name: [] for name in p}
    assert result["law"] == "joint" and result["n_points"] == 240
    assert list(p) == ["E", "A", "alpha", "B", "beta"]
    for name in ("E", "alpha", "beta"):
        assert abs(p[name] - PUBLISHED[name]) < 0.01, (name, p[name])
    # The published grid numbers reproduce to well within 1 % (not just the 10 % asked).
    for name in ("A", "B"):
        assert p[name] == pytest.approx(PUBLISHED[name], rel=0.01), (name, p[name])
    assert result["ci95"] == {name: [None, None] for name in p}
    assert 0 < result["loss"] < 0.01
    json.dumps(result)


def test_chinchilla_bootstrap_matches_published_intervals(chinchilla, chinchilla_fit):
    # Published: 4000 resamples; here 400 from the best fit, so allow for Monte Carlo
    # noise in the percentiles (B's upper tail is long: ~20 % between seeds).
    fit = fit_rows(chinchilla, "joint", loss_col="loss", n_boot=400, seed=0)
    assert fit.params == pytest.approx(chinchilla_fit["params"])
    ci = fit.ci95
    for name, (lo, hi) in PUBLISHED_CI.items():
        tol = {"A": 0.1, "B": 0.25}.get(name)
        if tol is None:
            assert ci[name] == pytest.approx([lo, hi], abs=0.01), name
        else:
            assert ci[name] == pytest.approx([lo, hi], rel=tol), name


# --- 2. synthetic recovery -------------------------------------------------------------


@pytest.mark.parametrize("law", ["data", "params", "joint"])
def test_synthetic_recovery_inside_bootstrap_ci(law):
    # Fixed data and bootstrap seeds: each 95 % interval would miss its true value for
    # ~5 % of noise draws, so a new seed may legitimately fail one check.
    true = TRUE[law]
    df = synthetic_table(law, true, noise=0.01, seed=11)
    result = fit_law(df, law, n_boot=200, seed=0)
    assert list(result["params"]) == list(true)
    assert result["n_points"] == len(df) == 72
    for name, value in true.items():
        lo, hi = result["ci95"][name]
        assert math.isfinite(lo) and math.isfinite(hi) and hi > lo, (name, lo, hi)
        assert lo <= value <= hi, (law, name, value, lo, hi)
        assert lo <= result["params"][name] <= hi, (law, name)
    json.dumps(result)


# --- 3. bootstrap reproducibility ------------------------------------------------------


def test_bootstrap_reproducible_for_fixed_seed():
    df = synthetic_table("params", TRUE["params"], noise=0.02, seed=5)
    first = fit_law(df, "params", n_boot=40, seed=1)
    again = fit_law(df, "params", n_boot=40, seed=1)
    other = fit_law(df, "params", n_boot=40, seed=2)
    assert first == again
    assert first["params"] == other["params"]
    assert first["ci95"] != other["ci95"]


def test_a_fit_file_keeps_its_resamples_and_reads_back_to_the_same_fit(tmp_path):
    """fits/<law>.json holds the bootstrap resamples: its ci95 is their percentile interval, and a LawFit read
    back from the file gives the same bands and derived intervals as the one in memory."""
    df = synthetic_table("data", TRUE["data"], noise=0.02, seed=3)
    fit = fit_rows(df, "data", n_boot=60, seed=4)
    path = tmp_path / "data.json"
    path.write_text(json.dumps(fit.to_json()))
    payload = json.loads(path.read_text())
    assert len(payload["resamples"]["beta"]) == len(fit.resamples) > 50 and payload["n_boot"] == 60
    assert payload["ci95"]["beta"] == percentile_ci(payload["resamples"]["beta"])
    back = LawFit.from_json(payload, source=str(path))
    np.testing.assert_array_equal(back.resamples, fit.resamples)
    dense = {"n_samples": np.geomspace(100, 1e5, 7)}
    np.testing.assert_array_equal(back.band(dense)[0], fit.band(dense)[0])
    assert back.derived(lambda p: p["E"] + p["B"]) == fit.derived(lambda p: p["E"] + p["B"])
    assert fit_law(df, "data", n_boot=60, seed=4) == payload  # the CLI's fit is the same fit
    del payload["resamples"]
    with pytest.raises(ValueError, match=f"{path}.*no 'resamples'"):
        LawFit.from_json(payload, source=str(path))


# --- 4. bad tables -------------------------------------------------------------------


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "results.csv"
    synthetic_table("params", TRUE["params"]).drop(columns="n_samples").to_csv(path, index=False)
    with pytest.raises(FitInputError) as err:
        fit_law(load_table(path), "joint", n_boot=0)
    message = str(err.value)
    assert "n_samples" in message and "n_params" in message and str(path) in message


def test_non_positive_loss_names_column_row_and_value():
    df = synthetic_table("params", TRUE["params"])
    df.loc[7, "test_loss"] = -0.5
    with pytest.raises(FitInputError) as err:
        fit_law(df, "params", n_boot=0)
    message = str(err.value)
    assert "test_loss" in message and "-0.5" in message and "run007" in message


def test_non_finite_value_without_run_id_names_row_index():
    df = synthetic_table("data", TRUE["data"]).drop(columns="run_id")
    df.loc[3, "n_samples"] = np.inf
    with pytest.raises(FitInputError) as err:
        validate_for_law(df, LAWS["data"])
    message = str(err.value)
    assert "n_samples" in message and "row 3" in message and "inf" in message


def test_too_few_points_gives_counts():
    df = synthetic_table("joint", TRUE["joint"]).head(3)
    with pytest.raises(FitInputError) as err:
        fit_law(df, "joint", n_boot=0)
    message = str(err.value)
    assert "3 point" in message and "5 parameters" in message


def test_where_filter_leaving_no_rows_is_named():
    df = synthetic_table("data", TRUE["data"]).assign(width=64)
    with pytest.raises(FitInputError) as err:
        fit_law(df, "data", n_boot=0, where={"width": 999})
    assert "width" in str(err.value) and "999" in str(err.value)
    with pytest.raises(FitInputError, match="depth"):
        fit_law(df, "data", n_boot=0, where={"depth": 2})


# --- 5. groups -------------------------------------------------------------------------


def test_fit_groups_two_widths():
    truths = {128: {"E": 0.2, "B": 30.0, "beta": 0.5}, 64: {"E": 0.3, "B": 20.0, "beta": 0.4}}
    df = pd.concat([synthetic_table("data", t, seed=w).assign(width=w) for w, t in truths.items()],
                   ignore_index=True)
    out = fit_groups(df, "data", "width", n_boot=0)
    assert out["law"] == "data" and out["group_by"] == "width"
    assert [f["where"] for f in out["fits"]] == [{"width": 64}, {"width": 128}]
    for fit in out["fits"]:
        true = truths[fit["where"]["width"]]
        assert fit["n_points"] == 72
        assert fit["params"]["beta"] == pytest.approx(true["beta"], abs=0.05)
        assert fit["params"]["E"] == pytest.approx(true["E"], rel=0.05)
    json.dumps(out)

    # A group too small for the law is skipped with a warning naming it ...
    tiny = df.head(2).assign(width=32)
    with pytest.warns(UserWarning, match="width=32"):
        out = fit_groups(pd.concat([df, tiny], ignore_index=True), "data", "width", n_boot=0)
    assert [f["where"]["width"] for f in out["fits"]] == [64, 128]
    # ... and if every group is too small, that is an error.
    with pytest.raises(FitInputError, match="width=32"):
        fit_groups(tiny, "data", "width", n_boot=0)


# --- 6. precisions ---------------------------------------------------------------------


def test_a_fit_across_precisions_is_refused_with_the_counts_and_the_fix(tmp_path):
    df = synthetic_table("data", TRUE["data"])
    df["precision"] = ["bf16-mixed" if i % 3 == 0 else "32-true" for i in range(len(df))]
    path = tmp_path / "table.csv"
    df.to_csv(path, index=False)
    with pytest.raises(FitInputError) as err:
        fit_law(load_table(path), "data", n_boot=0)
    message = str(err.value)
    n_bf16 = int((df["precision"] == "bf16-mixed").sum())
    for text in (str(path), f"{len(df) - n_bf16} at 32-true", f"{n_bf16} at bf16-mixed",
                 "--where precision=32-true", "--group-by precision"):
        assert text in message, message
    one = fit_law(df, "data", n_boot=0, where={"precision": "32-true"})
    assert one["n_points"] == len(df) - n_bf16
    both = fit_groups(df, "data", "precision", n_boot=0)
    assert [f["where"]["precision"] for f in both["fits"]] == ["32-true", "bf16-mixed"]
    unrecorded = df.assign(precision=[None] + ["32-true"] * (len(df) - 1))
    with pytest.raises(FitInputError, match=r"1 at \(not recorded\)"):
        fit_law(unrecorded, "data", n_boot=0)
    fit_law(df.drop(columns="precision"), "data", n_boot=0)  # tables from before the column fit as before
