"""Deterministic-equivalent test error of linear random-feature ridge regression.

Model (the project's toy conventions, see ``jetscale.data.toy``):

* latent x ~ N(0, Σ), Σ = diag(λ_k), λ_k = k^(-α), k = 1..M;
* teacher w̄ with λ_k w̄_k² = k^(-(1+2αr)); label y = w̄·x + ε, ε ~ N(0, σ²);
* features z = F x, F ∈ R^{N×M} with iid N(0, 1/N) entries;
* student v = argmin (1/P) Σ_μ (y_μ − v·z_μ)² + λ‖v‖²;
* excess test error E_g = (w̄ − Fᵀv)ᵀ Σ (w̄ − Fᵀv).

Derivation (two nested deterministic equivalents; Bach arXiv:2303.01372,
Atanasov, Zavatone-Veth & Pehlevan arXiv:2405.00592).

1. *Given F*, this is ridge regression on Gaussian features with covariance
   Σ_F = FΣFᵀ.  Write w̄·x = v*·z + e with e independent of z.  The usual ridge
   equivalent with P samples gives a renormalised ridge κ₁,
   ``λ = κ₁ (1 − df¹_{Σ_F}(κ₁)/P)``, and

       E_g | F = [E_pop(κ₁) + γ σ²] / (1 − γ),   γ = df²_{Σ_F}(κ₁)/P,

   where E_pop(κ) = κ² uᵀ(Σ̂ + κ)^(-2) u is the error of the population
   (P → ∞) ridge predictor at ridge κ, u = Σ^{1/2} w̄ and Σ̂ = Σ^{1/2}FᵀFΣ^{1/2}
   (push-through identity).  Its first part is the bias, the γσ² part the
   variance; the part of the target that no v can express (e) sits inside
   E_pop and is amplified by 1/(1 − γ) like noise.
2. *Over F*, Σ̂ is a sample covariance of Σ with N samples, so
   ``κ (Σ̂ + κ)^(-1) ≃ κ₂ (Σ + κ₂)^(-1)`` with ``κ = κ₂ (1 − df₁(κ₂)/N)``,
   df₁(κ) = Σ_k λ_k/(λ_k + κ).  Hence df¹_{Σ_F}(κ₁) ≃ df₁(κ₂) and combining the
   two equations

       λ = κ₂ (1 − df₁(κ₂)/N) (1 − df₁(κ₂)/P),    κ₁ = κ₂ (1 − df₁(κ₂)/N).

   Second-order traces follow by differentiating first-order ones in κ₁:
   df²_{Σ_F}(κ₁) = d + κ₁ df₁'(κ₂) κ₂',  and with T(κ) = Σ_k u_k²/(λ_k + κ),
   uᵀ(Σ̂+κ₁)^(-1)u ≃ (κ₂/κ₁) T(κ₂), so
   E_pop(κ₁) = −κ₁² d/dκ₁[(κ₂/κ₁) T(κ₂)] = κ₂ T − κ₁ κ₂' (T + κ₂ T'),
   where κ₂' = dκ₂/dκ₁ = 1 / (1 − d/N − κ₂ df₁'(κ₂)/N).

Everything is a finite sum over the M latent modes plus one scalar root find:
no Monte Carlo.  For N → ∞ the formulas reduce to ordinary ridge regression on
x (κ₁ = κ₂, E_pop = κ² Σ u_k²/(λ_k+κ)²).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import brentq

from jetscale.theory.spectrum import power_law_spectrum, teacher_power


@dataclass(frozen=True)
class RandomFeatureTheory:
    """Deterministic-equivalent prediction at one (N, P, λ) point."""

    test_error: float  # excess test error E_g = bias + variance
    bias: float
    variance: float
    kappa2: float  # renormalised ridge of the latent problem
    kappa1: float  # renormalised ridge of the feature problem
    gamma: float  # df²_{Σ_F}(κ₁)/P, the variance amplification 1/(1 − γ)
    df1: float  # df₁(κ₂), effective number of modes learned

    def as_dict(self) -> dict:
        return asdict(self)


def _df1(lam: np.ndarray, kappa: float) -> float:
    return float(np.sum(lam / (lam + kappa)))


def _renormalised_ridge(lam: np.ndarray, width: float, samples: float, ridge: float) -> float:
    """Solve λ = κ (1 − df₁(κ)/N)(1 − df₁(κ)/P) for the root κ₂ with df₁ < min(N, P)."""
    limit = min(width, samples)
    m = lam.size
    if m <= limit:  # every mode fits: the ridgeless root is κ = 0
        kappa_lo = 0.0
    else:  # df₁(κ_lo) = min(N, P): below it the factors change sign
        log_k = brentq(lambda t: _df1(lam, np.exp(t)) - limit, -700.0, 700.0, xtol=1e-13, maxiter=500)
        kappa_lo = float(np.exp(log_k))
    if ridge == 0.0:
        return kappa_lo

    def excess(log_kappa: float) -> float:
        k = np.exp(log_kappa)
        d = _df1(lam, k)
        return np.log(k * (1 - d / width) * (1 - d / samples)) - np.log(ridge)

    lo = np.log(kappa_lo) if kappa_lo > 0 else np.log(ridge) - 50.0
    lo += 1e-12 * max(1.0, abs(lo))
    hi = max(np.log(ridge), lo) + 5.0
    while excess(hi) < 0:
        hi += 5.0
    return float(np.exp(brentq(excess, lo, hi, xtol=1e-14, rtol=1e-14)))


def rf_test_error(
    alpha: float,
    r: float,
    width: int,
    samples: int,
    ridge: float,
    latent_dim: int,
    noise: float = 0.0,
) -> RandomFeatureTheory:
    """Deterministic-equivalent excess test error of linear random-feature ridge regression.

    Parameters follow the toy conventions of ``jetscale.data.toy``: ``alpha`` the
    spectral decay, ``r`` the source exponent, ``width`` N, ``samples`` P,
    ``ridge`` λ ≥ 0, ``latent_dim`` M, ``noise`` the label-noise variance σ².
    """
    if latent_dim < 1:
        raise ValueError(f"width, samples and latent_dim must be >= 1, got {width}, {samples}, {latent_dim}")
    return spectrum_test_error(power_law_spectrum(alpha, latent_dim), teacher_power(alpha, r, latent_dim),
                               width, samples, ridge, noise)


def spectrum_test_error(
    eigenvalues: np.ndarray,
    target_power: np.ndarray,
    width: float,
    samples: float,
    ridge: float,
    noise: float = 0.0,
) -> RandomFeatureTheory:
    """:func:`rf_test_error` for any spectrum: λ_k = ``eigenvalues``, u_k² = λ_k w̄_k² = ``target_power``.

    The same deterministic equivalent (module docstring) with the M = len(eigenvalues)
    modes given explicitly, e.g. a measured covariance spectrum and the label's power
    per eigen-direction (:mod:`jetscale.features.spectrum`). ``width`` may be
    ``numpy.inf``: plain ridge regression on x (no random features).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    u2 = np.asarray(target_power, dtype=np.float64)
    if lam.ndim != 1 or lam.shape != u2.shape or lam.size == 0:
        raise ValueError(f"eigenvalues and target_power must be 1-d arrays of one length, got {lam.shape}, {u2.shape}")
    if np.any(lam <= 0) or np.any(u2 < 0):
        raise ValueError("eigenvalues must be > 0 and target_power >= 0")
    latent_dim = lam.size
    if width < 1 or samples < 1:
        raise ValueError(f"width, samples and latent_dim must be >= 1, got {width}, {samples}, {latent_dim}")
    if ridge < 0 or noise < 0:
        raise ValueError(f"ridge and noise must be >= 0, got ridge={ridge}, noise={noise}")
    if ridge == 0 and (width == samples <= latent_dim or samples == latent_dim <= width):
        raise ValueError("ridgeless interpolation threshold N = P (or P = M <= N): the test error diverges")

    k2 = _renormalised_ridge(lam, width, samples, ridge)
    d = _df1(lam, k2)
    d_prime = -float(np.sum(lam / (lam + k2) ** 2))  # df₁'(κ₂)
    k1 = k2 * (1 - d / width)
    dk2_dk1 = 1.0 / (1 - d / width - k2 * d_prime / width)
    gamma = (d + k1 * d_prime * dk2_dk1) / samples
    t = float(np.sum(u2 / (lam + k2)))
    t_prime = -float(np.sum(u2 / (lam + k2) ** 2))
    e_pop = k2 * t - k1 * dk2_dk1 * (t + k2 * t_prime)
    bias = e_pop / (1 - gamma)
    variance = gamma * noise / (1 - gamma)
    return RandomFeatureTheory(
        test_error=bias + variance,
        bias=bias,
        variance=variance,
        kappa2=k2,
        kappa1=k1,
        gamma=gamma,
        df1=d,
    )
