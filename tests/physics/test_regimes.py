"""The regime table against the deterministic equivalent's local slopes at P → ∞, for every branch of
min(2 l_eff min(r, 1), 1 + l_eff − l_eff/α), and the seed's table where it fails (r > 1/2, l < α)."""

import numpy as np
import pytest
from scipy.special import zeta

from jetscale.theory import classify_regime, classify_regime_seed, signal_exponents, spectrum_test_error
from jetscale.theory.spectrum import power_law_spectrum, teacher_power, teacher_weights

N1, N2 = 1e5, 1e6
DF_TAIL, U_TAIL = 0.02, 0.01  # largest share of df₁ and of E_g the modes beyond M may carry


def modes_needed(alpha, r, l):
    """Modes M whose tail beyond M carries < DF_TAIL of df₁ and < U_TAIL of E_g at N ≤ N2 (power-law
    estimates: λ ≪ κ beyond M), M ≥ 10 N_eff, and M ≥ 2 N2 when l ≥ α (every feature is fitted); never
    M = N2, where the factor 1 − df₁/N of the root find vanishes at its lower bracket."""
    effective = min(l, alpha)
    n_eff, kappa = N2 ** (effective / alpha), N2 ** -effective
    beta = min(signal_exponents(alpha, r, l))
    m_df = (DF_TAIL * (alpha - 1) * kappa * n_eff) ** (1 / (1 - alpha))
    m_u = (U_TAIL * 2 * alpha * r * N2**-beta) ** (-1 / (2 * alpha * r))
    m = int(max(m_df, m_u, 10 * n_eff, 2 * N2 if l >= alpha else 0))
    return m - 1 if m == int(N2) else m


def de_slope(alpha, r, l):
    """-d log E_g / d log N of the deterministic equivalent between N1 and N2 (P = inf, λ = N^(-l), noiseless),
    after checking that the truncation at M modes is negligible."""
    m = modes_needed(alpha, r, l)
    lam, u2 = power_law_spectrum(alpha, m), teacher_power(alpha, r, m)
    points = [spectrum_test_error(lam, u2, n, np.inf, n**-l) for n in (N1, N2)]
    for point in points:  # tails beyond M: Σ_{k>M} λ_k / κ₂ against df₁, Σ_{k>M} u_k² against E_g
        assert zeta(alpha, m + 1) / point.kappa2 < 2 * DF_TAIL * point.df1, (alpha, r, l, m)
        assert zeta(1 + 2 * alpha * r, m + 1) < 2 * U_TAIL * point.test_error, (alpha, r, l, m)
        assert point.gamma == 0 and point.variance == 0
    return -np.log(points[1].test_error / points[0].test_error) / np.log(N2 / N1)


# (α, r, l, the branch that binds): r < 1/2, 1/2 < r < 1 and r > 1 with l < α (either branch), and l > α
# (one case: a root find over M > N2 modes costs seconds; SLOW_GRID has the rest).
DEFAULT_CASES = [
    (2.0, 0.3, 1.0, "bias"),
    (2.5, 0.75, 1.0, "bias"),
    (3.0, 0.75, 1.5, "sampling"),
    (4.0, 0.75, 4.5, "l >= alpha"),
    (1.5, 2.0, 0.5, "bias"),
    (2.0, 1.5, 1.0, "sampling"),
]


@pytest.mark.parametrize("alpha, r, l, binds", DEFAULT_CASES)
def test_table_exponent_is_the_local_slope_of_the_deterministic_equivalent(alpha, r, l, binds):
    bias, sampling = signal_exponents(alpha, r, l)
    assert {"bias": bias < sampling, "sampling": sampling < bias, "l >= alpha": l >= alpha}[binds]
    regime = classify_regime(alpha, r, l, 0.0, N2, np.inf)
    assert regime.n_exponent == -min(bias, sampling) and regime.p_exponent == 0.0
    assert de_slope(alpha, r, l) == pytest.approx(min(bias, sampling), abs=0.1)


SLOW_GRID = ([(alpha, r, f * alpha) for alpha in (2.0, 3.0) for r in (0.25, 0.5, 0.75, 1.0, 1.5, 3.0)
              for f in (0.3, 0.6, 0.9)]
             + [(alpha, r, alpha + d) for alpha in (3.0, 4.0) for r in (0.4, 0.5, 0.75, 2.0) for d in (0.0, 0.5)])


@pytest.mark.slow
@pytest.mark.parametrize("alpha, r, l", SLOW_GRID)
def test_table_exponent_on_a_grid_of_alpha_r_l(alpha, r, l):
    """Boundaries included: r = 1/2 and r = 1 (log corrections, ≈ 1/ln N ≈ 0.08 in the slope) and l = α."""
    assert de_slope(alpha, r, l) == pytest.approx(min(signal_exponents(alpha, r, l)), abs=0.1)


@pytest.mark.parametrize("alpha, r, l", [(2.5, 0.75, 1.0), (3.0, 0.75, 1.5), (1.5, 2.0, 0.5), (2.0, 1.5, 1.0)])
def test_seed_table_fails_for_r_above_one_half_below_the_spectrum(alpha, r, l):
    """The seed's 2 l min(r, 1/2) misses the deterministic equivalent's slope by > 0.3 where r > 1/2, l < α."""
    seed = -classify_regime_seed(alpha, r, l, 0.0, N2, np.inf).n_exponent
    assert seed == pytest.approx(2 * l * 0.5)
    assert abs(de_slope(alpha, r, l) - seed) > 0.3


@pytest.mark.parametrize("alpha, r, l", [(2.0, 0.3, 1.0), (4.0, 0.75, 4.5), (2.0, 0.5, 0.7), (1.5, 0.3, 3.0)])
def test_seed_table_agrees_for_r_up_to_one_half_or_l_above_alpha(alpha, r, l):
    for noise, samples in ((0.0, 1e7), (1e4, 1e4)):
        assert classify_regime_seed(alpha, r, l, noise, 100, samples) == classify_regime(alpha, r, l, noise, 100,
                                                                                         samples)


@pytest.mark.parametrize("alpha, r, l, dofs", [(2.0, 0.75, 1.0, 0.5), (3.0, 2.0, 1.5, 0.5), (4.0, 0.75, 4.5, 1.0)])
def test_noise_term_grows_as_n_to_the_fitted_modes_over_p(alpha, r, l, dofs):
    """The variance γσ²/(1 − γ) of the deterministic equivalent ∝ σ² N^(l_eff/α) / P, at N ≪ P."""
    m = 100_000
    lam, u2 = power_law_spectrum(alpha, m), teacher_power(alpha, r, m)

    def variance(n, p):
        return spectrum_test_error(lam, u2, n, p, n**-l, noise=1.0).variance

    widths, samples = [1e3, 1e4], [1e10, 1e11]
    in_n = np.log(variance(widths[1], 1e10) / variance(widths[0], 1e10)) / np.log(10)
    in_p = np.log(variance(1e3, samples[1]) / variance(1e3, samples[0])) / np.log(10)
    assert in_n == pytest.approx(dofs, abs=0.1) and in_p == pytest.approx(-1.0, abs=1e-3)
    regime = classify_regime(alpha, r, l, 1e3, 1e3, 1e4)
    assert regime.name.startswith("noise") and (regime.n_exponent, regime.p_exponent) == (dofs, -1.0)


def test_classify_regime_names_each_branch():
    assert classify_regime(1.5, 0.8, 0.5, 0.0, 100, 1000).name == "ridge-dominated"  # 2 l r = 0.8 < 7/6
    assert classify_regime(1.5, 0.8, 0.5, 0.0, 100, 1000).n_exponent == pytest.approx(-0.8)
    reg = classify_regime(2.0, 1.5, 1.0, 0.0, 100, 1000)  # 1 + l - l/α = 1.5 < 2 l = 2
    assert (reg.name, reg.n_exponent) == ("feature-sampling-limited", pytest.approx(-1.5))
    reg = classify_regime(2.0, 1.5, 3.0, 0.0, 100, 1000)
    assert (reg.name, reg.n_exponent) == ("signal-dominated", pytest.approx(-2.0))  # 2 α min(r, 1/2)
    assert classify_regime(2.0, 1.5, 1.0, 1e3, 100, 1000).name == "noise-mitigated"
    with pytest.raises(ValueError, match="alpha > 1"):
        signal_exponents(1.0, 0.5, 0.5)
    with pytest.raises(ValueError, match="N < P"):
        classify_regime_seed(1.5, 0.3, 1.0, 0.0, 100, 100)


def population_rf_error(alpha, r, width, ridge, latent_dim, seed):
    """E_g of ridge on N random features at P = inf, one draw of F: v = (FΣFᵀ + λ)^(-1) FΣw̄ (direct, no theory)."""
    rng = np.random.default_rng(seed)
    lam, w = power_law_spectrum(alpha, latent_dim), teacher_weights(alpha, r, latent_dim)
    f = rng.standard_normal((width, latent_dim)) / np.sqrt(width)
    v = np.linalg.solve((f * lam) @ f.T + ridge * np.eye(width), (f * lam) @ w)
    residual = w - f.T @ v
    return float(residual @ (lam * residual))


@pytest.mark.slow
def test_simulated_slope_in_the_feature_sampling_regime():
    """α = 2, r = 3/2, l = 1: direct simulation and the deterministic equivalent fall alike (table 1.5, seed 1.0)."""
    alpha, r, l, m, widths = 2.0, 1.5, 1.0, 4000, [32, 64, 128, 256]
    sim = [np.mean([population_rf_error(alpha, r, n, n**-l, m, s) for s in range(20)]) for n in widths]
    theory = [spectrum_test_error(power_law_spectrum(alpha, m), teacher_power(alpha, r, m), n, np.inf, n**-l).test_error
              for n in widths]

    def beta(errors):
        return -np.polyfit(np.log(widths), np.log(errors), 1)[0]

    assert beta(sim) == pytest.approx(beta(theory), abs=0.1)
    assert beta(sim) == pytest.approx(min(signal_exponents(alpha, r, l)), abs=0.2)  # small N: approached slowly
    assert beta(sim) - -classify_regime_seed(alpha, r, l, 0.0, 256, np.inf).n_exponent > 0.4
