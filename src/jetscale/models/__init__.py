"""Models: plain nn.Module components, the LightningModule wrappers, closed-form solvers.

Components (no Lightning inside): ``RandomFeatureRegressor`` (toy model), ``EFPLinear``,
``EFPMLP``, ``PFN``, ``ParticleTransformer`` (jets), ``RHMMLP``, ``HierarchicalCNN``,
``RHMTransformer`` (random hierarchy model), ``VelocityField`` (RAMBO flow matching),
``FeatureRidge``, ``FeatureMLP`` (shower regression). Wrappers: ``JetClassifier`` (BCE),
``MultiClassifier`` (cross-entropy), ``RegressionModule`` / ``FeatureRegression`` (MSE),
``FlowMatching``. Analytic FLOP conventions: ``jetscale.models.flops``.
"""

from jetscale.models.classification import JetClassifier
from jetscale.models.efp_models import EFPLinear, EFPMLP
from jetscale.models.feature_regression import FeatureMLP, FeatureRegression, FeatureRidge
from jetscale.models.flow_matching import FlowMatching, VelocityField
from jetscale.models.multiclass import MultiClassifier
from jetscale.models.particle_transformer import ParticleTransformer
from jetscale.models.pfn import PFN
from jetscale.models.random_features import RandomFeatureRegressor
from jetscale.models.regression import RegressionModule
from jetscale.models.rhm_models import HierarchicalCNN, RHMMLP, RHMTransformer

__all__ = ["JetClassifier", "EFPLinear", "EFPMLP", "FeatureMLP", "FeatureRegression", "FeatureRidge", "FlowMatching",
           "HierarchicalCNN", "MultiClassifier", "PFN", "ParticleTransformer", "RHMMLP", "RHMTransformer",
           "RandomFeatureRegressor", "RegressionModule", "VelocityField"]
