"""Physics check across stages: generated jets -> EFPs -> a linear classifier separates top from QCD."""

import numpy as np
import pytest
from scipy.optimize import minimize

from jetscale.cli import main
from jetscale.data.efp_cache import read_efp_cache
from jetscale.features.efp import cache_shard_efps
from jetscale.metrics import roc_auc


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """L2-regularised logistic regression (weights incl. bias) by L-BFGS."""
    design = np.hstack([x, np.ones((len(x), 1))])

    def loss(w):
        z = design @ w
        value = np.mean(np.logaddexp(0, z) - y * z) + l2 * w[:-1] @ w[:-1]
        grad = design.T @ (1 / (1 + np.exp(-z)) - y) / len(y)
        grad[:-1] += 2 * l2 * w[:-1]
        return value, grad

    return minimize(loss, np.zeros(design.shape[1]), jac=True, method="L-BFGS-B").x


def test_linear_classifier_on_efps_separates_top_from_qcd(tmp_path):
    out = tmp_path / "jets"
    assert main(["generate", "--shards", "0-1", "--jets-per-shard", "300", "--out", str(out)]) == 0
    efps, labels = [], []
    for shard in sorted(out.glob("shard-*.h5")):
        if ".efp" in shard.name:
            continue
        cache = read_efp_cache(cache_shard_efps(shard, dmax=5, beta=1.0))
        efps.append(cache["efp"])
        labels.append(cache["label"])
    (x_train, x_test), (y_train, y_test) = efps, labels  # train on shard 0, test on shard 1
    assert y_train.mean() == pytest.approx(0.5) and y_test.mean() == pytest.approx(0.5)
    keep = x_train.std(axis=0) > 0  # the degree-0 EFP is constant
    log_train, log_test = np.log(x_train[:, keep] + 1e-12), np.log(x_test[:, keep] + 1e-12)
    mean, std = log_train.mean(axis=0), log_train.std(axis=0)
    weights = fit_logistic((log_train - mean) / std, y_train.astype(float))
    scores = np.hstack([(log_test - mean) / std, np.ones((len(log_test), 1))]) @ weights
    auc = roc_auc(scores, y_test)
    print(f"EFP-linear AUC on {len(y_test)} held-out jets: {auc:.3f}")
    assert auc > 0.9
