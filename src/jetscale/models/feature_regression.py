"""Regressors on a fixed feature vector x [B, d] (the e+e- EFPs of a shower snapshot), and their module.

Both nets standardise x with buffers set from the training split (constant features become 0) and
predict y [B]: :class:`FeatureRidge`, a linear readout on the first N = width features (float64,
closed form or gradient), and :class:`FeatureMLP`, an ``EFPMLP`` with a de-standardised output.
:class:`FeatureRegression` trains them on the MSE (+ ridge) and logs ``val_loss``. No Lightning in the
nets. Details and FLOPs: docs/tasks.md#shower-models.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from jetscale.models.efp_models import EFPMLP, feature_moments
from jetscale.models.flops import mlp_train_flops, ridge_flops
from jetscale.models.lightning_base import ValidatedRecipe
from jetscale.models.regression import RegressionModule


class FeatureRidge(nn.Module):
    """y^ = intercept + readout . ((x - mean) / std)[:, :width]: x [B, d] -> y^ [B] (float64)."""

    def __init__(self, n_features: int, width: int):
        super().__init__()
        if not 1 <= width <= n_features:
            raise ValueError(f"width (the number of features used) must be in [1, n_features = {n_features}], "
                             f"got width={width}")
        self.n_features, self.width = n_features, width
        self.register_buffer("mean", torch.zeros(width, dtype=torch.float64))
        self.register_buffer("std", torch.ones(width, dtype=torch.float64))
        self.register_buffer("intercept", torch.zeros((), dtype=torch.float64))
        self.readout = nn.Parameter(torch.zeros(width, dtype=torch.float64))

    def set_standardization(self, mean, std) -> None:
        """Feature moments of all d features ([d] each); the first ``width`` are kept. A feature with std 0
        gets std = inf: its standardised value is exactly 0, so it adds nothing to the readout."""
        mean, std = feature_moments(mean, std, self.n_features)
        self.mean.copy_(mean[:self.width])
        self.std.copy_(torch.where(std > 0, std, torch.full_like(std, torch.inf))[:self.width])

    def set_target(self, mean: float, std: float) -> None:
        """The intercept is the training mean of y (``std`` is not needed: ridge is linear in y)."""
        self.intercept.fill_(float(mean))

    def standardized(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, :self.width].to(torch.float64) - self.mean) / self.std  # [B, N]

    def fixed_features(self, x: np.ndarray) -> np.ndarray:
        """The closed-form design matrix x~[:, :N]: float64 [P, N]."""
        with torch.no_grad():
            return self.standardized(torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.intercept + self.standardized(x) @ self.readout  # [B]

    def readout_flops(self, n_samples: int) -> float:
        return ridge_flops(n_samples, self.width, 0)  # no projection: latent_dim 0 drops the 2 P N M term

    def train_flops_per_sample(self) -> float:
        return float(mlp_train_flops(1, [self.width, 1]))

    @property
    def n_params(self) -> int:
        """The readout's N weights (intercept and standardisation are fixed buffers)."""
        return self.width


class FeatureMLP(EFPMLP):
    """:class:`EFPMLP` with a de-standardised output: y^ = y_mean + y_std * EFPMLP(x), x [B, d] -> [B]."""

    def __init__(self, n_features: int, width: int, depth: int):
        super().__init__(n_features, width, depth)
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_std", torch.ones(()))

    def set_target(self, mean: float, std: float) -> None:
        self.target_mean.fill_(float(mean))
        self.target_std.fill_(float(std) if std > 0 else 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.target_mean + self.target_std * super().forward(x)


class FeatureRegression(ValidatedRecipe, RegressionModule):
    """:class:`RegressionModule` that validates and whose ``prepare`` sets the net's feature and target
    standardisation."""

    def prepare(self, datamodule) -> None:
        """Feature moments [d] and target moments of the training split (``datamodule.feature_moments()``,
        ``datamodule.target_moments()``) into the net's buffers."""
        self.net.set_standardization(*datamodule.feature_moments())
        self.net.set_target(*datamodule.target_moments())
