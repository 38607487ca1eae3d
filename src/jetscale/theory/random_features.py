"""Deterministic-equivalent test error of linear random-feature ridge regression (no Monte Carlo).

The toy model of :mod:`jetscale.data.toy`: latent Σ = diag(λ_k), teacher w̄, N random features
F (iid N(0, 1/N)), P samples, ridge λ, label noise σ²; the result is the excess test error
E_g = (w̄ − Fᵀv)ᵀ Σ (w̄ − Fᵀv). Model and derivation: docs/theory.md#derivation.
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

    The same deterministic equivalent (docs/theory.md#derivation) with the M = len(eigenvalues)
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
