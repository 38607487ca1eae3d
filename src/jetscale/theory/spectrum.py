"""Power-law spectra of the toy model (pure functions, shared by data and theory).

Conventions (fixed project-wide so results are comparable):
λ_k = k^(-α) for k = 1..M is the data covariance spectrum and the teacher's
power per mode is u_k² = λ_k w̄_k² = k^(-(1 + 2αr)), with r the source exponent.
"""

from __future__ import annotations

import numpy as np


def _modes(latent_dim: int) -> np.ndarray:
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
    return np.arange(1, latent_dim + 1, dtype=np.float64)


def power_law_spectrum(alpha: float, latent_dim: int) -> np.ndarray:
    """Eigenvalues λ_k = k^(-α), k = 1..M."""
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    return _modes(latent_dim) ** (-alpha)


def teacher_power(alpha: float, r: float, latent_dim: int) -> np.ndarray:
    """Teacher power per mode u_k² = λ_k w̄_k² = k^(-(1 + 2αr))."""
    return _modes(latent_dim) ** (-(1.0 + 2.0 * alpha * r))


def teacher_weights(alpha: float, r: float, latent_dim: int) -> np.ndarray:
    """Teacher w̄_k = sqrt(u_k² / λ_k) (all positive: the sign carries no information)."""
    return np.sqrt(teacher_power(alpha, r, latent_dim) / power_law_spectrum(alpha, latent_dim))
