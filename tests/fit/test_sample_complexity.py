"""The random hierarchy model's sample complexity from learning curves (the paper's threshold) and the collapse
of several grammars' crossings, on synthetic learning curves whose crossings are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jetscale.fit.sample_complexity import (
    PAPER_ERROR, chance_error, error_crossing, grammar_crossings, synonym_collapse, threshold_of,
)

N_C, DEPTH = 8, 3
HALF_OCTAVES = 2.0 ** (np.arange(-2, 7) / 2)  # P / (n_c·m^L) of configs/sweep/rhm-synonyms.yaml


def linear_curve(p, p_star, threshold=PAPER_ERROR, slope=0.1):
    """A learning curve linear in ln P that crosses ``threshold`` at exactly ``p_star`` (between 0 and chance on the
    grids used here, so log-linear interpolation recovers ``p_star`` exactly)."""
    return threshold - slope * np.log(np.asarray(p, dtype=float) / p_star)


def synthetic_curve(m, law_of, jitter, seeds=(0, 1, 2)):
    """Learning curves of grammar m whose seed crossings are law_of(n_c·m^L)·exp(jitter·(−1, 0, 1))."""
    law = N_C * m ** DEPTH
    grid = np.round(law * HALF_OCTAVES)
    factors = np.exp(jitter * (np.arange(len(seeds)) - (len(seeds) - 1) / 2))
    rows = [(p, linear_curve(p, law_of(law) * factor), seed) for seed, factor in zip(seeds, factors) for p in grid]
    n_samples, errors, seed_col = (list(col) for col in zip(*rows))
    return {"m": m, "n_c": N_C, "L": DEPTH, "n_samples": n_samples, "test_error": errors, "seed": seed_col}


def test_the_paper_threshold_is_a_test_error_of_ten_percent_and_half_of_chance_stays_an_option():
    assert PAPER_ERROR == 0.1 and threshold_of(8) == 0.1
    assert chance_error(8) == pytest.approx(0.875)
    assert threshold_of(8, chance_fraction=0.5) == pytest.approx(0.4375)


def test_error_crossing_recovers_a_known_crossing_and_averages_seeds():
    grid = 16 * 2.0 ** (np.arange(20) / 2)  # 16 ... 10^4.4
    assert error_crossing(grid, linear_curve(grid, 1234.5)) == pytest.approx(1234.5)
    # the other threshold moves the crossing where the curve says: e = 0.4375 at ln(P/1234.5) = −3.375
    assert error_crossing(grid, linear_curve(grid, 1234.5), threshold_of(8, 0.5)) == \
        pytest.approx(1234.5 * math.exp(-3.375))
    # two seeds at P = 1000 (0.1, 0.3) average to 0.2: threshold 0.1 crossed between 1000 (0.2) and 10^4 (0.0)
    assert error_crossing([100, 1000, 1000, 10000], [0.8, 0.1, 0.3, 0.0]) == pytest.approx(10 ** 3.5)
    assert math.isnan(error_crossing([100, 1000], [0.8, 0.7]))  # never below
    assert math.isnan(error_crossing([100, 1000], [0.05, 0.0]))  # below from the start


def test_the_collapse_recovers_the_constant_and_the_exponent_one_of_the_law():
    c = 2.7
    curves = [synthetic_curve(m, lambda law: c * law, jitter=0.05 * m) for m in (3, 4, 5, 6)]
    numbers = synonym_collapse(curves)
    for grammar, m in zip(numbers["grammars"], (3, 4, 5, 6)):
        assert grammar["m"] == m and grammar["law"] == N_C * m ** DEPTH
        expected = c * grammar["law"] * np.exp(0.05 * m * np.array([-1, 0, 1]))
        assert list(grammar["crossings"].values()) == pytest.approx(expected)
        assert grammar["p_star"] == pytest.approx(c * grammar["law"])
        assert grammar["ratio_ci"][0] < c < grammar["ratio_ci"][1]
    assert numbers["collapse"]["c"] == pytest.approx(c)
    assert numbers["collapse"]["spread"] == pytest.approx(1.0)
    exponent = numbers["exponent"]
    assert exponent["b"] == pytest.approx(1.0) and exponent["b_m"] == pytest.approx(DEPTH)
    assert exponent["n_points"] == 12 and exponent["ci"][0] < 1.0 < exponent["ci"][1]


def test_a_law_that_is_not_linear_in_n_c_m_to_the_l_is_seen():
    numbers = synonym_collapse([synthetic_curve(m, lambda law: law * (law / 512) ** 0.5, jitter=0.02)
                                for m in (3, 4, 6)])
    assert numbers["exponent"]["b"] == pytest.approx(1.5)
    assert numbers["collapse"]["spread"] == pytest.approx((6 / 3) ** (0.5 * DEPTH))  # ratio ∝ (n_c·m^L)^0.5


def test_a_seed_that_does_not_cross_is_refused_naming_the_grammar_and_seed():
    curve = synthetic_curve(4, lambda law: 100.0 * law, jitter=0.0)  # every crossing beyond the largest P
    with pytest.raises(ValueError, match=r"m=4, n_c=8, L=3, seed 0: .* do not cross 0.1"):
        grammar_crossings(curve)
    with pytest.raises(ValueError, match="at least two different n_c·m\\^L"):
        synonym_collapse([synthetic_curve(4, lambda law: law, 0.0)] * 2)
