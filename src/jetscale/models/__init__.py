"""Models: plain nn.Module components, the LightningModule wrapper, closed-form solvers."""

from jetscale.models.random_features import RandomFeatureRegressor
from jetscale.models.regression import RegressionModule

__all__ = ["RandomFeatureRegressor", "RegressionModule"]
