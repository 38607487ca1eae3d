"""Linear random-feature regressor: a fixed projection z = F x and a trainable readout v.

F ∈ R^{N×M} has iid N(0, 1/N) entries drawn from ``feature_seed``; row-major
draws make the features nested in N (the first N₁ rows of the N₂ matrix are the
N₁ matrix up to the 1/√N scale).  Prediction: ŷ = v·(F x).  No Lightning here.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from jetscale.models.flops import ridge_flops


def random_projection(width: int, latent_dim: int, seed: int) -> np.ndarray:
    """F with iid N(0, 1/N) entries, shape [N, M], float64."""
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    raw = np.random.default_rng([seed, 2]).standard_normal((width, latent_dim))
    return raw / np.sqrt(width)


class RandomFeatureRegressor(nn.Module):
    """ŷ = v·(F x) with F a frozen buffer [N, M] and v a trainable vector [N]."""

    def __init__(self, latent_dim: int, width: int, feature_seed: int = 0):
        super().__init__()
        self.latent_dim, self.width = latent_dim, width
        projection = torch.from_numpy(random_projection(width, latent_dim, feature_seed))
        self.register_buffer("projection", projection.float())
        self.readout = nn.Parameter(torch.zeros(width))

    def fixed_features(self, x: np.ndarray) -> np.ndarray:
        """Z = X Fᵀ [P, N] in float64, the design matrix of the closed-form ridge solve."""
        return x @ self.projection.double().cpu().numpy().T

    def readout_flops(self, n_samples: int) -> float:
        return ridge_flops(n_samples, self.width, self.latent_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.projection.T  # [B, M] @ [M, N] -> [B, N]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x) @ self.readout  # [B]

    def effective_weights(self) -> np.ndarray:
        """Fᵀv ∈ R^M: the student as a linear predictor of x."""
        return (self.projection.double().T @ self.readout.detach().double()).cpu().numpy()

    def train_flops_per_sample(self) -> float:
        return sgd_flops_per_sample(self.width, self.latent_dim)

    @property
    def n_params(self) -> int:
        """Trainable parameters (the readout); the fixed projection is not counted."""
        return self.width


def sgd_flops_per_sample(width: int, latent_dim: int) -> float:
    """Analytic training FLOPs per sample per step of gradient training.

    Forward: features F x (2·N·M, recomputed every step because F is not cached)
    and readout v·z (2·N).  Backward: only v is trained and x needs no gradient,
    so d/dv = residual·z costs 2·N plus 2·N for the residual scaling.  The
    optimizer update is O(N) per step, not per sample, and is ignored.
    Multiply-adds count as two FLOPs, as in ``torch.utils.flop_counter``.
    """
    return float(2 * width * latent_dim + 6 * width)
