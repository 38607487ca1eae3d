"""Classification metrics of a jet tagger, as pure numpy functions of logits and labels.

Conventions: ``labels`` are 1 for signal (top) and 0 for background (QCD);
``logits`` are the classifier's real-valued scores (higher = more signal-like),
so the predicted signal probability is sigmoid(logit).

* ``bce``: mean binary cross-entropy of the logits, the scaling-law loss;
* ``roc_auc``: P(score of a random signal jet > score of a random background jet),
  ties counting one half (the Mann-Whitney U statistic);
* ``background_rejection``: 1/ε_B at the threshold that keeps a fraction ε_S of
  the signal (inf when no background passes).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

SIGNAL_EFFICIENCIES = (0.3, 0.5)


def _check(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    logits, labels = np.asarray(logits, dtype=np.float64).ravel(), np.asarray(labels).ravel()
    if logits.shape != labels.shape:
        raise ValueError(f"logits {logits.shape} and labels {labels.shape} differ in length")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 (background) or 1 (signal)")
    return logits, labels.astype(np.int64)


def bce(logits, labels) -> float:
    """Mean binary cross-entropy with logits: mean(log(1 + e^z) − y·z), computed stably."""
    z, y = _check(logits, labels)
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def accuracy(logits, labels) -> float:
    z, y = _check(logits, labels)
    return float(np.mean((z > 0) == (y == 1)))


def roc_auc(logits, labels) -> float:
    z, y = _check(logits, labels)
    n_signal, n_background = int(y.sum()), int((1 - y).sum())
    if not n_signal or not n_background:
        raise ValueError("ROC AUC needs both signal and background jets")
    ranks = rankdata(z)
    return float((ranks[y == 1].sum() - n_signal * (n_signal + 1) / 2) / (n_signal * n_background))


def background_rejection(logits, labels, signal_efficiency: float) -> float:
    """1/ε_B at the score threshold passing a fraction ``signal_efficiency`` of the signal."""
    if not 0 < signal_efficiency <= 1:
        raise ValueError(f"signal efficiency must be in (0, 1], got {signal_efficiency}")
    z, y = _check(logits, labels)
    threshold = np.quantile(z[y == 1], 1 - signal_efficiency)
    passed = np.mean(z[y == 0] >= threshold)
    return float(np.inf) if passed == 0 else float(1.0 / passed)


def classification_metrics(logits, labels) -> dict[str, float]:
    """The tagger metrics stored per run: bce, accuracy, roc_auc, rejection at ε_S = 0.3 and 0.5."""
    metrics = {"bce": bce(logits, labels), "accuracy": accuracy(logits, labels), "roc_auc": roc_auc(logits, labels)}
    for eff in SIGNAL_EFFICIENCIES:
        metrics[f"rejection_at_{eff:g}"] = background_rejection(logits, labels, eff)
    return metrics
