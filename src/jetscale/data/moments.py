"""Which features are constant: the one rule shared by the datamodules' standardisation moments and the
feature spectra (:mod:`jetscale.features.covariance`)."""

from __future__ import annotations

import numpy as np

CONSTANT_RTOL = 1e-9
"""A feature with std <= CONSTANT_RTOL * |mean| (including std = mean = 0) is constant."""


def is_constant(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Boolean mask [d] of features whose spread is at rounding level: std <= CONSTANT_RTOL |mean|."""
    return std <= CONSTANT_RTOL * np.abs(mean)
