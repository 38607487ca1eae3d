"""The solvable toy model: Gaussian data with a power-law covariance.

x ~ N(0, Σ) with Σ = diag(k^(-α)), k = 1..M; label y = w̄·x + ε, ε ~ N(0, σ²),
teacher power λ_k w̄_k² = k^(-(1+2αr)) (see ``jetscale.theory.spectrum``).

Sampling is reproducible from ``seed`` and *nested*: the first P₁ rows of a
P₂ > P₁ sample are the P₁ sample, so a data-size sweep never changes its
smaller points when the largest grows.  Train and test draw from independent
streams of the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from jetscale.theory.spectrum import power_law_spectrum, teacher_weights

SPLITS = {"train": 0, "test": 1}


@dataclass(frozen=True)
class ToyPowerLaw:
    """Sampler for the toy model. ``noise`` is the label-noise *variance* σ²."""

    alpha: float
    r: float
    latent_dim: int
    noise: float = 0.0

    def __post_init__(self):
        if self.noise < 0:
            raise ValueError(f"noise variance must be >= 0, got {self.noise}")
        power_law_spectrum(self.alpha, self.latent_dim)  # validates alpha and latent_dim

    @cached_property
    def spectrum(self) -> np.ndarray:
        return power_law_spectrum(self.alpha, self.latent_dim)

    @cached_property
    def teacher(self) -> np.ndarray:
        return teacher_weights(self.alpha, self.r, self.latent_dim)

    def sample(self, n: int, seed: int, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """Return (x [n, M], y [n]) in float64."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
        if n < 1:
            raise ValueError(f"number of samples must be >= 1, got {n}")
        stream = SPLITS[split]
        x = np.random.default_rng([seed, stream, 0]).standard_normal((n, self.latent_dim))
        x *= np.sqrt(self.spectrum)
        y = x @ self.teacher
        if self.noise > 0:
            y += np.sqrt(self.noise) * np.random.default_rng([seed, stream, 1]).standard_normal(n)
        return x, y

    def excess_error(self, effective_weights: np.ndarray) -> float:
        """E_g = (w̄ − w)ᵀ Σ (w̄ − w) for a linear predictor x ↦ w·x (label noise excluded)."""
        diff = self.teacher - np.asarray(effective_weights, dtype=np.float64)
        return float(np.sum(self.spectrum * diff**2))
