"""Figure 4 on a small real closed-form toy sweep, run in-process: simulation vs theory, regime exponents."""

import numpy as np
import pandas as pd
import pytest

from conftest import draw_from_numbers_file
from jetscale.paper.sections import toy_phase as markdown

from jetscale.data.toy import ToyPowerLaw
from jetscale.models.ridge import simulate_excess_error
from jetscale.fit.paper.toy_regimes import (
    analyse, pooled_exponent, regime_lines, ridge_table, toy_phase_numbers, variance_exponent,
)
from jetscale.theory import rf_test_error

TOY = {"alpha": 1.5, "r": 0.25, "latent_dim": 2000, "noise": 0.0, "ridge": 1e-5}
SIZES = [32, 64, 128, 256, 512]


@pytest.fixture(scope="module")
def table():
    """5 x 5 grid x 2 seeds of the closed-form ridge readout (what `jetscale train task=toy` computes)."""
    source = ToyPowerLaw(TOY["alpha"], TOY["r"], TOY["latent_dim"], TOY["noise"])
    rows = [{"run_id": f"n_samples={p}__width={n}__seed={s}", "task": "toy", "model": "random_features",
             "width": n, "n_params": n, "n_samples": p, "seed": s,
             "test_loss": simulate_excess_error(source, n, p, TOY["ridge"], s),
             "theory_loss": rf_test_error(TOY["alpha"], TOY["r"], n, p, TOY["ridge"], TOY["latent_dim"]).test_error}
            for s in (0, 1) for p in SIZES for n in SIZES]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def numbers(table):
    return toy_phase_numbers(table, TOY, n_boot=100)


def test_simulation_follows_the_deterministic_equivalent(numbers):
    deviation = numbers["deviation"]
    assert deviation["n_points"] == 25 and deviation["n_separated"] == 12
    assert deviation["median_abs"] < 0.08 and deviation["separated_median_abs"] < 0.08
    assert deviation["separated_max_abs"] < 0.3  # the interpolation peak N = P is excluded here
    assert deviation["max_abs"] >= deviation["separated_max_abs"]


@pytest.mark.parametrize("key", ["resolution_N", "resolution_P"])
def test_resolution_limited_exponents_agree_with_theory_within_their_ci(numbers, key):
    regime = numbers["regimes"][key]
    lo, hi = regime["ci95"]
    assert np.isfinite([regime["measured"], lo, hi]).all() and lo <= regime["measured"] <= hi
    assert regime["theory_in_ci"] and hi - lo < 0.6 and regime["n_boot"] > 90
    assert regime["predicted"] == pytest.approx(0.75)  # 2 alpha min(r, 1/2) = 2 alpha min(r, 1) at r = 1/4
    assert regime["theory"] == pytest.approx(regime["predicted"], abs=0.2)  # finite grid: slowly approached


@pytest.mark.parametrize("key", ["variance_P", "variance_N"])
def test_variance_limited_exponents_have_finite_intervals(numbers, key):
    regime = numbers["regimes"][key]
    assert regime["predicted"] == 1.0 and np.isfinite(regime["ci95"]).all() and regime["measured"] > 0
    assert regime["theory"] == pytest.approx(1.0, abs=0.4)  # 4x separation: 1/(P - N) bends the curve
    assert regime["lines"] == [{"fixed": {"width" if key == "variance_P" else "n_samples": 32.0},
                                "x": [128.0, 256.0, 512.0]}]


def test_regime_table_at_the_width_limited_points(numbers):
    """The sweep's ridge 1e-5 is below N^-alpha on the resolution-in-N line (N <= 128): the table agrees with
    the ridgeless prediction; a larger ridge, or r > 1/2 with the ridge above N^-alpha, is named."""
    table = numbers["regimes"]["resolution_N"]["table"]
    assert table["regimes"] == ["signal-dominated"] and table["ridge_below_floor"]
    assert table["exponent"] == [pytest.approx(0.75)] * 2 and table["ridge_exponent"][0] == pytest.approx(5 / np.log10(128))
    lines = [{"fixed": 1000.0, "x": np.array([32.0, 100.0])}]
    binding = ridge_table(TOY | {"ridge": 1e-2}, lines)  # l = 2 / log10 N < alpha
    assert binding["regimes"] == ["ridge-dominated"] and not binding["ridge_below_floor"]
    assert binding["exponent"] == [pytest.approx(2 * 1.0 * 0.25), pytest.approx(2 * 2 / np.log10(32) * 0.25)]
    sampling = ridge_table(TOY | {"alpha": 2.0, "r": 0.75, "ridge": 1e-3}, [{"fixed": 1000.0, "x": np.array([100.0])}])
    assert sampling["regimes"] == ["feature-sampling-limited"] and sampling["exponent"] == [pytest.approx(1.75)] * 2
    assert ridge_table(TOY | {"ridge": 0.0}, lines) is None
    assert "ridge binds" in markdown({**numbers, "regimes": {**numbers["regimes"], "resolution_N": {
        **numbers["regimes"]["resolution_N"], "table": binding}}})


def test_regime_lines_and_estimators_on_exact_power_laws(table):
    assert [line["fixed"] for line in regime_lines(table, "resolution_N")] == [512.0]
    assert regime_lines(table, "resolution_P")[0]["x"].tolist() == [32.0, 64.0, 128.0]
    x = np.array([64.0, 128.0, 256.0, 512.0])
    curve = np.array([[0.3 + 2.0 / x], [0.5 + 5.0 / x]])[:, 0, :]  # two seeds: E_g(inf) differs, B too
    assert pooled_exponent("variance", [x], [curve]) == pytest.approx(1.0, abs=1e-4)
    assert pooled_exponent("resolution", [x, x[:3]], [3 * x[None] ** -0.6, x[None, :3] ** -0.6]) == pytest.approx(0.6)
    assert np.isnan(variance_exponent([(x[:2], x[1:3], np.array([-1.0, -2.0]))]))  # no positive difference


def test_figure_writes_its_numbers_and_report(table, tmp_path):
    result = analyse(table, TOY, sweep="toy", n_boot=20)
    paths = draw_from_numbers_file("fig4_toy_phase", result, tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)
    assert result["numbers"]["toy"] == TOY and result["numbers"]["n_runs"] == 50 and result["sweeps"] == ["toy"]
    text = markdown(result["numbers"])
    assert "resolution-limited in N" in text and "| variance-limited in P |" in text
    with pytest.raises(ValueError, match="ridge"):
        toy_phase_numbers(table, {k: v for k, v in TOY.items() if k != "ridge"})
