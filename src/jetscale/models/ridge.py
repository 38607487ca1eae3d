"""Closed-form ridge solve of a readout on fixed features (pure numpy): the toy's random features, or any
closed-form net of :mod:`jetscale.tasks`.

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


def solve_readout(net, x: np.ndarray, y: np.ndarray, ridge: float) -> float:
    """Set ``net.readout`` to the ridge solution on ``net.fixed_features(x)``; return ``net.readout_flops(P)``.

    ``net`` is any closed-form net of :mod:`jetscale.tasks`: everything before its trainable
    ``readout`` [N] is fixed (the toy's random projection, a shower regressor's standardised features).
    A net with a fixed ``intercept`` (FeatureRidge) is fitted to y - intercept: its features need not be
    centred on the training rows (``data.standardize_on=nontest``).
    """
    offset = float(net.intercept) if hasattr(net, "intercept") else 0.0
    readout = ridge_readout(net.fixed_features(x), np.asarray(y, dtype=np.float64) - offset, ridge)
    net.readout.data.copy_(torch.from_numpy(readout))
    return net.readout_flops(len(y))


def simulate_excess_error(source, width: int, n_samples: int, ridge: float, seed: int) -> float:
    """One direct simulation of the toy model: sample, project, solve, return E_g.

    ``source`` is a ``jetscale.data.toy.ToyPowerLaw``; data and features share ``seed``
    exactly as a ``jetscale train`` run with that seed does.
    """
    x, y = source.sample(n_samples, seed, "train")
    projection = random_projection(width, source.latent_dim, seed)
    readout = ridge_readout(x @ projection.T, y, ridge)
    return source.excess_error(projection.T @ readout)
