import numpy as np
import pytest

from jetscale.models.flops import ridge_flops
from jetscale.models.ridge import ridge_readout


def _objective(z, y, v, ridge):
    return np.mean((y - z @ v) ** 2) + ridge * v @ v


@pytest.mark.parametrize("shape", [(50, 10), (10, 50)])  # primal (N <= P) and dual (N > P) forms
def test_ridge_readout_minimises_the_objective(shape):
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal(shape), rng.standard_normal(shape[0])
    ridge = 0.05
    v = ridge_readout(z, y, ridge)
    gradient = -2 * z.T @ (y - z @ v) / len(y) + 2 * ridge * v
    np.testing.assert_allclose(gradient, 0, atol=1e-10)
    for _ in range(5):
        assert _objective(z, y, v, ridge) < _objective(z, y, v + 1e-3 * rng.standard_normal(shape[1]), ridge)


def test_ridgeless_limit_is_minimum_norm_least_squares():
    rng = np.random.default_rng(1)
    z, y = rng.standard_normal((8, 20)), rng.standard_normal(8)
    np.testing.assert_allclose(ridge_readout(z, y, 0.0), np.linalg.pinv(z) @ y, atol=1e-10)
    np.testing.assert_allclose(ridge_readout(z, y, 1e-10), ridge_readout(z, y, 0.0), atol=1e-5)


def test_ridge_flops_grow_with_each_size():
    base = ridge_flops(100, 10, 50)
    assert ridge_flops(200, 10, 50) > base and ridge_flops(100, 20, 50) > base and ridge_flops(100, 10, 100) > base
    assert base >= 2 * 100 * 10 * 50  # at least the feature projection
