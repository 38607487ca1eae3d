import numpy as np
import pytest

from jetscale.metrics import accuracy, background_rejection, bce, classification_metrics, roc_auc


def test_perfect_random_and_inverted_taggers():
    labels = np.array([0, 0, 1, 1])
    assert roc_auc([0.1, 0.2, 0.8, 0.9], labels) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], labels) == 0.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], labels) == 0.5  # ties count one half
    assert accuracy([-1.0, -2.0, 3.0, 0.5], labels) == 1.0


def test_auc_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = rng.normal(labels * 1.0, 1.0)
    sig, bkg = scores[labels == 1], scores[labels == 0]
    pairwise = np.mean(sig[:, None] > bkg[None, :]) + 0.5 * np.mean(sig[:, None] == bkg[None, :])
    assert roc_auc(scores, labels) == pytest.approx(pairwise)


def test_bce_is_the_cross_entropy_of_the_sigmoid_and_stable():
    z, y = np.array([-2.0, 0.0, 3.0]), np.array([0, 1, 1])
    p = 1 / (1 + np.exp(-z))
    assert bce(z, y) == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    assert np.isfinite(bce([1000.0, -1000.0], [0, 1])) and bce([1000.0, -1000.0], [0, 1]) == pytest.approx(1000.0)


def test_background_rejection_at_fixed_signal_efficiency():
    signal = np.arange(101) / 100  # scores 0.00 .. 1.00
    background = np.arange(-100, 100) / 100  # scores -1.00 .. 0.99
    scores, labels = np.concatenate([signal, background]), np.r_[np.ones(101), np.zeros(200)].astype(int)
    # keeping the top 50 % of the signal means score >= 0.5: 50 of the 200 background jets pass
    assert background_rejection(scores, labels, 0.5) == pytest.approx(200 / 50)
    assert background_rejection(scores, labels, 0.3) == pytest.approx(200 / 30)  # score >= 0.7
    assert background_rejection([1.0, 2.0, 0.0], [1, 1, 0], 0.5) == np.inf
    with pytest.raises(ValueError, match="efficiency"):
        background_rejection(scores, labels, 0.0)


def test_metrics_bundle_and_bad_input():
    metrics = classification_metrics([-1.0, 1.0, 2.0, -0.5], [0, 1, 1, 0])
    assert set(metrics) == {"bce", "accuracy", "roc_auc", "rejection_at_0.3", "rejection_at_0.5"}
    with pytest.raises(ValueError, match="labels"):
        bce([0.0, 1.0], [0, 2])
    with pytest.raises(ValueError, match="differ"):
        bce([0.0, 1.0], [0])
