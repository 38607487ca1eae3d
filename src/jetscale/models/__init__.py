"""Models: plain nn.Module components, the LightningModule wrapper, closed-form solvers.

Components (no Lightning inside): ``RandomFeatureRegressor`` (toy model),
``EFPLinear``, ``EFPMLP``, ``PFN``, ``ParticleTransformer`` (jets). Analytic FLOP conventions: ``jetscale.models.flops``.
"""

from jetscale.models.classification import JetClassifier
from jetscale.models.efp_models import EFPLinear, EFPMLP
from jetscale.models.particle_transformer import ParticleTransformer
from jetscale.models.pfn import PFN
from jetscale.models.random_features import RandomFeatureRegressor
from jetscale.models.regression import RegressionModule

__all__ = ["JetClassifier", "EFPLinear", "EFPMLP", "PFN", "ParticleTransformer", "RandomFeatureRegressor", "RegressionModule"]
