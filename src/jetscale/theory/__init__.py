"""Closed-form theory of the toy power-law model (no Monte Carlo)."""

from jetscale.theory.exponents import (
    VARIANCE_EXPONENT, ScalingRegime, bahri_regimes, data_exponent, width_exponent,
)
from jetscale.theory.random_features import RandomFeatureTheory, rf_test_error, spectrum_test_error
from jetscale.theory.regimes import Regime, classify_regime, classify_regime_seed, signal_exponents

__all__ = [
    "RandomFeatureTheory", "rf_test_error", "spectrum_test_error", "Regime", "classify_regime",
    "classify_regime_seed", "signal_exponents",
    "VARIANCE_EXPONENT", "ScalingRegime", "bahri_regimes", "data_exponent", "width_exponent",
]
