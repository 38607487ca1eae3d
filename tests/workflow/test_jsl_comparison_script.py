"""workflow/scripts/jsl_thrust_comparison.py: JSL's learning-curve protocol and its floor and slope."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "workflow" / "scripts" / "jsl_thrust_comparison.py"


def load_script():
    spec = importlib.util.spec_from_file_location("jsl_thrust_comparison", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_floor_and_slope_are_jsls_definitions():
    script = load_script()
    sizes = np.asarray(script.SIZES, dtype=float)
    mse = 3e-5 + 0.2 * sizes ** -1.5
    floor, slope = script.floor_and_slope(mse)
    rows = (sizes >= 100) & (sizes <= 8000)  # JSL: train_sizes_t[-12:-1]
    expected = np.polyfit(np.log(sizes[rows]), np.log(mse[rows] - mse[-1]), 1)[0]
    assert floor == mse[-1] and slope == np.float64(expected) and -1.7 < slope < -1.5
    flat = np.full(len(sizes), 1e-5)
    assert np.isnan(script.floor_and_slope(flat)[1])


def test_learning_curve_of_a_noiseless_linear_target_vanishes_and_noise_sets_the_floor():
    script = load_script()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20_100, 3)) * [1.0, 5.0, 0.1] + 2.0
    y = x @ [0.5, -1.0, 3.0] + 7.0
    clean = script.learning_curve(x, y, 1e-12, n_test=5000, repeats=2)
    assert np.all(clean < 1e-15)  # centred on the pool, y is linear in x without intercept: 3 events suffice
    noisy = script.learning_curve(x, y + 0.1 * rng.standard_normal(len(y)), 1e-12, n_test=5000, repeats=2)
    assert abs(noisy[-1] / 0.01 - 1) < 0.1  # the noise variance
