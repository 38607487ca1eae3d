"""Closed-form theory of the toy power-law model (no Monte Carlo)."""

from jetscale.theory.random_features import RandomFeatureTheory, rf_test_error
from jetscale.theory.regimes import Regime, classify_regime

__all__ = ["RandomFeatureTheory", "rf_test_error", "Regime", "classify_regime"]
