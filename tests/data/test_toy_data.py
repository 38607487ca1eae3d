import numpy as np
import pytest

from jetscale.data.toy import ToyPowerLaw
from jetscale.models.random_features import random_projection
from jetscale.theory.spectrum import power_law_spectrum, teacher_power, teacher_weights


def test_spectrum_and_teacher_follow_the_conventions():
    alpha, r, m = 1.3, 0.4, 50
    k = np.arange(1, m + 1)
    np.testing.assert_allclose(power_law_spectrum(alpha, m), k ** -alpha)
    np.testing.assert_allclose(power_law_spectrum(alpha, m) * teacher_weights(alpha, r, m) ** 2, k ** -(1 + 2 * alpha * r))
    np.testing.assert_allclose(teacher_power(alpha, r, m), k ** -(1 + 2 * alpha * r))


def test_sampling_is_reproducible_and_nested():
    source = ToyPowerLaw(alpha=1.5, r=0.3, latent_dim=40, noise=0.1)
    x1, y1 = source.sample(100, seed=3)
    x2, y2 = source.sample(100, seed=3)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    x_big, y_big = source.sample(400, seed=3)
    np.testing.assert_array_equal(x_big[:100], x1)  # a small data point never changes when the largest grows
    np.testing.assert_array_equal(y_big[:100], y1)
    x_other, _ = source.sample(100, seed=4)
    assert not np.allclose(x_other, x1)
    x_test, _ = source.sample(100, seed=3, split="test")
    assert not np.allclose(x_test, x1)


def test_samples_have_the_model_statistics():
    source = ToyPowerLaw(alpha=1.0, r=0.5, latent_dim=8, noise=0.25)
    x, y = source.sample(200_000, seed=0)
    np.testing.assert_allclose(x.var(axis=0), source.spectrum, rtol=0.02)
    residual = y - x @ source.teacher
    assert residual.var() == pytest.approx(0.25, rel=0.02)


def test_excess_error_is_zero_for_the_teacher_and_the_signal_for_zero():
    source = ToyPowerLaw(alpha=1.5, r=0.3, latent_dim=30)
    assert source.excess_error(source.teacher) == 0.0
    assert source.excess_error(np.zeros(30)) == pytest.approx(teacher_power(1.5, 0.3, 30).sum())


def test_random_projection_scale_and_nesting():
    f = random_projection(400, 300, seed=1)
    assert f.shape == (400, 300)
    assert np.mean(f**2) * 400 == pytest.approx(1.0, rel=0.02)  # iid N(0, 1/N)
    small = random_projection(100, 300, seed=1)
    np.testing.assert_allclose(small * np.sqrt(100), f[:100] * np.sqrt(400))


@pytest.mark.parametrize("kwargs, match", [
    (dict(alpha=-1.0, r=0.3, latent_dim=10), "alpha"),
    (dict(alpha=1.0, r=0.3, latent_dim=0), "latent_dim"),
    (dict(alpha=1.0, r=0.3, latent_dim=10, noise=-1), "noise"),
])
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ToyPowerLaw(**kwargs)


def test_bad_split_and_size_are_named():
    source = ToyPowerLaw(alpha=1.0, r=0.3, latent_dim=10)
    with pytest.raises(ValueError, match="split"):
        source.sample(10, 0, split="validation")
    with pytest.raises(ValueError, match="samples"):
        source.sample(0, 0)
