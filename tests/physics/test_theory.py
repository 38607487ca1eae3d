"""The deterministic equivalent against direct simulation, and the four regimes."""

import numpy as np
import pytest

from jetscale.data.toy import ToyPowerLaw
from jetscale.models.ridge import simulate_excess_error
from jetscale.theory import (
    VARIANCE_EXPONENT, bahri_regimes, classify_regime, data_exponent, rf_test_error, spectrum_test_error,
    width_exponent,
)
from jetscale.theory.spectrum import power_law_spectrum, teacher_power


def simulated(alpha, r, width, samples, ridge, latent_dim, noise=0.0, seeds=20):
    source = ToyPowerLaw(alpha, r, latent_dim, noise)
    return np.mean([simulate_excess_error(source, width, samples, ridge, seed) for seed in range(seeds)])


def slope(xs, ys):
    return np.polyfit(np.log(xs), np.log(ys), 1)[0]


@pytest.mark.parametrize("alpha, r, width, samples, ridge, latent_dim, noise", [
    (1.5, 0.3, 50, 200, 1e-3, 1000, 0.0),    # N < P
    (1.5, 0.3, 200, 50, 1e-3, 1000, 0.0),    # N > P
    (1.2, 0.6, 100, 100, 1e-3, 1000, 0.1),   # N = P, with label noise
    (2.0, 1.0, 100, 400, 1e-4, 1000, 0.01),  # r > 1/2
    (1.5, 0.3, 100, 400, 1e-6, 2000, 0.0),   # nearly ridgeless
    (1.5, 0.3, 64, 256, 1e-2, 200, 0.0),     # strong ridge, small latent space
])
def test_theory_matches_simulation_within_10_percent(alpha, r, width, samples, ridge, latent_dim, noise):
    theory = rf_test_error(alpha, r, width, samples, ridge, latent_dim, noise)
    assert theory.test_error == pytest.approx(theory.bias + theory.variance)
    assert 0 < theory.gamma < 1 and theory.kappa2 > 0
    assert simulated(alpha, r, width, samples, ridge, latent_dim, noise) == pytest.approx(theory.test_error, rel=0.10)


def test_infinite_width_reduces_to_plain_ridge_regression():
    alpha, r, samples, ridge, m = 1.5, 0.4, 300, 1e-3, 500
    lam, u2 = power_law_spectrum(alpha, m), teacher_power(alpha, r, m)
    # plain ridge on x: λ = κ(1 − df₁(κ)/P), E_g = κ² Σ u²/(λ+κ)² / (1 − df₂/P)
    theory = rf_test_error(alpha, r, 10**9, samples, ridge, m)
    kappa = theory.kappa2
    df1, df2 = np.sum(lam / (lam + kappa)), np.sum(lam**2 / (lam + kappa) ** 2)
    assert ridge == pytest.approx(kappa * (1 - df1 / samples), rel=1e-6)
    expected = kappa**2 * np.sum(u2 / (lam + kappa) ** 2) / (1 - df2 / samples)
    assert theory.test_error == pytest.approx(expected, rel=1e-5)


def test_label_noise_only_adds_variance():
    clean = rf_test_error(1.5, 0.3, 50, 200, 1e-3, 500, 0.0)
    noisy = rf_test_error(1.5, 0.3, 50, 200, 1e-3, 500, 0.5)
    assert noisy.bias == pytest.approx(clean.bias)
    assert noisy.variance == pytest.approx(0.5 * noisy.gamma / (1 - noisy.gamma))


def test_double_descent_peak_at_the_interpolation_threshold():
    errors = {n: rf_test_error(1.5, 0.3, n, 100, 1e-8, 1000, 0.1).test_error for n in (50, 100, 200)}
    assert errors[100] > 10 * max(errors[50], errors[200])
    with pytest.raises(ValueError, match="diverges"):
        rf_test_error(1.5, 0.3, 100, 100, 0.0, 1000)


@pytest.mark.parametrize("kwargs, match", [
    (dict(width=0), "width"), (dict(ridge=-1.0), "ridge"), (dict(noise=-1.0), "noise"),
])
def test_bad_inputs_are_named(kwargs, match):
    args = dict(alpha=1.5, r=0.3, width=10, samples=20, ridge=1e-3, latent_dim=100, noise=0.0) | kwargs
    with pytest.raises(ValueError, match=match):
        rf_test_error(**args)


def test_n_exponent_saturates_near_alpha_once_r_exceeds_one_half():
    """With P ≫ N the error decays as N^(-2α min(r, 1/2)): r = 1 and r = 2 both give about N^(-α)."""
    widths = [20, 63, 200]
    for r in (1.0, 2.0):
        errors = [rf_test_error(1.5, r, n, 100 * n, n**-3.0, 20_000).test_error for n in widths]
        assert slope(widths, errors) == pytest.approx(-1.5, abs=0.1)
    sim = [simulated(1.5, 1.0, n, 20 * n, n**-3.0, 2000, seeds=10) for n in widths]
    assert slope(widths, sim) == pytest.approx(-1.5, abs=0.15)


# One case per regime of the table (N < P, ridge λ = N^(-l)): (α, r, l, σ², points along one decade of N, M, seeds).
# Signal- and ridge-dominated keep P/N fixed (so 1/(1 − N/P) is constant); the noise regimes fix P ≫ N.
REGIME_CASES = {
    "signal-dominated": (1.5, 0.3, 3.0, 0.0, [(n, 10 * n) for n in (20, 63, 200)], 2000, 20),
    "ridge-dominated": (2.0, 0.3, 0.5, 0.0, [(n, 10 * n) for n in (20, 63, 200)], 2000, 20),
    "noise-dominated": (1.5, 0.5, 3.0, 1e3, [(n, 4000) for n in (10, 32, 100)], 500, 40),
    "noise-mitigated": (1.5, 0.5, 0.75, 1e4, [(n, 4000) for n in (10, 32, 100)], 500, 40),
}


@pytest.mark.parametrize("name", list(REGIME_CASES))
def test_each_regime_shows_its_predicted_slope_in_theory_and_simulation(name):
    alpha, r, l, noise, points, latent_dim, seeds = REGIME_CASES[name]
    regimes = {classify_regime(alpha, r, l, noise, n, p) for n, p in points}
    assert {reg.name for reg in regimes} == {name}
    predicted = regimes.pop().n_exponent
    widths = [n for n, _ in points]
    theory = [rf_test_error(alpha, r, n, p, n ** -l, latent_dim, noise).test_error for n, p in points]
    sim = [simulated(alpha, r, n, p, n ** -l, latent_dim, noise, seeds=seeds) for n, p in points]
    assert slope(widths, theory) == pytest.approx(predicted, abs=0.1)
    assert slope(widths, sim) == pytest.approx(predicted, abs=0.15)


@pytest.mark.parametrize("name, p_exponent", [("noise-dominated", -1.0), ("noise-mitigated", -1.0)])
def test_noise_regimes_fall_as_one_over_p(name, p_exponent):
    alpha, r, l, noise, _, latent_dim, _ = REGIME_CASES[name]
    width, samples = 20, [400, 1265, 4000]
    assert all(classify_regime(alpha, r, l, noise, width, p).name == name for p in samples)
    theory = [rf_test_error(alpha, r, width, p, width ** -l, latent_dim, noise).test_error for p in samples]
    sim = [simulated(alpha, r, width, p, width ** -l, latent_dim, noise, seeds=20) for p in samples]
    assert slope(samples, theory) == pytest.approx(p_exponent, abs=0.1)
    assert slope(samples, sim) == pytest.approx(p_exponent, abs=0.15)


def test_classify_regime_names_and_exponents():
    assert classify_regime(1.5, 0.3, 3.0, 0.0, 100, 1000).name == "signal-dominated"
    assert classify_regime(1.5, 0.3, 3.0, 0.0, 100, 1000).n_exponent == pytest.approx(-0.9)
    reg = classify_regime(1.5, 0.3, 0.5, 0.0, 100, 1000)
    assert (reg.name, reg.n_exponent) == ("ridge-dominated", pytest.approx(-0.3))
    reg = classify_regime(1.5, 0.3, 3.0, 100.0, 100, 1000)
    assert (reg.name, reg.n_exponent, reg.p_exponent) == ("noise-dominated", 1.0, -1.0)
    reg = classify_regime(1.5, 0.3, 0.75, 100.0, 100, 1000)
    assert (reg.name, reg.n_exponent) == ("noise-mitigated", pytest.approx(0.5))
    with pytest.raises(ValueError, match="N < P"):
        classify_regime(1.5, 0.3, 1.0, 0.0, 100, 100)


def test_any_spectrum_gives_the_power_law_answer_and_infinite_width_is_plain_ridge():
    alpha, r, m = 1.5, 0.4, 500
    lam, u2 = power_law_spectrum(alpha, m), teacher_power(alpha, r, m)
    for width in (50, 400):
        expected = rf_test_error(alpha, r, width, 200, 1e-3, m, 0.1)
        assert spectrum_test_error(lam, u2, width, 200, 1e-3, 0.1) == expected
    plain = spectrum_test_error(lam, u2, np.inf, 300, 1e-3)
    assert plain.test_error == pytest.approx(rf_test_error(alpha, r, 10**12, 300, 1e-3, m).test_error, rel=1e-6)
    assert plain.kappa1 == plain.kappa2
    ridgeless = spectrum_test_error(lam[:50], u2[:50], np.inf, 200, 0.0, noise=0.3)  # d = 50 < P: OLS
    assert ridgeless.bias == pytest.approx(0.0, abs=1e-12) and ridgeless.variance == pytest.approx(0.3 * 50 / 150)
    with pytest.raises(ValueError, match="diverges"):
        spectrum_test_error(lam[:50], u2[:50], np.inf, 50, 0.0)
    with pytest.raises(ValueError, match="one length"):
        spectrum_test_error(lam, u2[:10], np.inf, 50, 0.0)


@pytest.mark.parametrize("alpha, r", [(1.5, 0.3), (1.2, 2.0), (2.0, 0.75)])
def test_limit_exponents_match_the_slopes_of_the_deterministic_equivalent(alpha, r):
    """Ridgeless, M = 2e5 modes: slope in P at N = inf is 2 alpha min(r, 1), in N at P = inf 2 alpha min(r, 1/2)."""
    sizes = [100, 200, 400, 800]
    in_p = [rf_test_error(alpha, r, np.inf, p, 0.0, 200_000).test_error for p in sizes]
    in_n = [rf_test_error(alpha, r, n, 1e10, 0.0, 200_000).test_error for n in sizes]
    assert -slope(sizes, in_p) == pytest.approx(data_exponent(alpha, r), abs=0.1)
    assert -slope(sizes, in_n) == pytest.approx(width_exponent(alpha, r), abs=0.1)
    assert data_exponent(alpha, r) == 2 * alpha * min(r, 1) and width_exponent(alpha, r) == 2 * alpha * min(r, 0.5)


def test_variance_limited_regimes_fall_as_one_over_the_other_resource():
    """Bahri et al.: E_g(N, P) - E_g(N, inf) ~ 1/P for P >> N, E_g(N, P) - E_g(inf, P) ~ 1/N for N >> P."""
    alpha, r, m, ridge, small, large = 1.5, 0.25, 8000, 1e-6, 16, [512, 1024, 2048, 4096]
    def error(n, p):
        return rf_test_error(alpha, r, n, p, ridge, m).test_error

    in_p = [error(small, p) - error(small, 1e12) for p in large]
    in_n = [error(n, small) - error(1e12, small) for n in large]
    assert -slope(large, in_p) == pytest.approx(VARIANCE_EXPONENT, abs=0.05)
    assert -slope(large, in_n) == pytest.approx(VARIANCE_EXPONENT, abs=0.05)
    regimes = bahri_regimes(alpha, r)
    assert list(regimes) == ["resolution_N", "variance_P", "resolution_P", "variance_N"]
    assert regimes["resolution_N"].exponent == width_exponent(alpha, r) and regimes["variance_N"].axis == "width"
    assert regimes["resolution_P"].limited_by == "n_samples" and regimes["variance_P"].exponent == 1.0
    with pytest.raises(ValueError, match="alpha and r"):
        data_exponent(1.0, 0.0)
