"""Closed-form ridge solve of the random-feature readout (pure numpy).

v = argmin (1/P) ‖y − Z v‖² + λ‖v‖² = (ZᵀZ + Pλ I)^(-1) Zᵀ y
  = Zᵀ (Z Zᵀ + Pλ I)^(-1) y      (dual form, used when N > P).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.linalg import lstsq, solve

from jetscale.models.random_features import random_projection


def ridge_readout(features: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge solution v for features Z [P, N] and labels y [P] (ridge = 0: minimum-norm least squares)."""
    n_samples, width = features.shape
    if ridge == 0:
        return lstsq(features, y)[0]
    if width <= n_samples:
        gram = features.T @ features + n_samples * ridge * np.eye(width)
        return solve(gram, features.T @ y, assume_a="pos")
    kernel = features @ features.T + n_samples * ridge * np.eye(n_samples)
    return features.T @ solve(kernel, y, assume_a="pos")


def ridge_flops(n_samples: int, width: int, latent_dim: int) -> float:
    """Analytic FLOPs of the closed-form fit.

    features Z = X Fᵀ: 2·P·N·M; Gram (primal ZᵀZ or dual ZZᵀ): 2·P·N·min(N, P);
    Cholesky solve of the m×m system, m = min(N, P): m³/3 + 2m²; right-hand side
    and back-projection: 4·P·N.  Multiply-adds count as two FLOPs.
    """
    m = min(width, n_samples)
    return float(2 * n_samples * width * latent_dim + 2 * n_samples * width * m + m**3 / 3 + 2 * m**2 + 4 * n_samples * width)


def solve_readout(net, x: np.ndarray, y: np.ndarray, ridge: float) -> float:
    """Set ``net.readout`` (a ``RandomFeatureRegressor``) to the ridge solution; return its FLOPs."""
    projection = net.projection.double().cpu().numpy()
    readout = ridge_readout(x @ projection.T, y, ridge)
    net.readout.data.copy_(torch.from_numpy(readout))
    return ridge_flops(len(y), net.width, net.latent_dim)


def simulate_excess_error(source, width: int, n_samples: int, ridge: float, seed: int) -> float:
    """One direct simulation of the toy model: sample, project, solve, return E_g.

    ``source`` is a ``jetscale.data.toy.ToyPowerLaw``; data and features share ``seed``
    exactly as a ``jetscale train`` run with that seed does.
    """
    x, y = source.sample(n_samples, seed, "train")
    projection = random_projection(width, source.latent_dim, seed)
    readout = ridge_readout(x @ projection.T, y, ridge)
    return source.excess_error(projection.T @ readout)
