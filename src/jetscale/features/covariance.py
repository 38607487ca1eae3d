"""Streamed data covariance in O(d^2) memory, its MPI reduction, and its eigen-spectrum.

:class:`CovarianceAccumulator` holds, in float64, n, the mean [d] and the centred M2 [d, d]; batches and
accumulators merge in any order (Chan, Golub & LeVeque), :func:`allreduce` combines MPI ranks, and the
sample covariance is M2 / (n - ddof), ddof = 1. Accumulating rows [x, y] gives Cov(x, y) and Var(y) in the
same pass (:func:`split_target`, :func:`standardized_target`). :func:`moment_matrix` gives either centring
(covariance, or Batson & Kahn's uncentred (1/n) sum x x^T). Method: docs/spectrum.md#streaming-covariance.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jetscale.data.moments import is_constant


class CovarianceAccumulator:
    """Running (n, mean, M2) of rows x [d]; ``update`` with batches [m, d], ``merge`` two of them.

    An empty accumulator (n = 0) has no dimension yet; the first batch sets d.
    """

    def __init__(self, n: int = 0, mean: np.ndarray | None = None, m2: np.ndarray | None = None):
        self.n = int(n)
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.m2 = None if m2 is None else np.asarray(m2, dtype=np.float64)
        if self.n and (self.mean is None or self.m2 is None or self.m2.shape != (self.mean.size,) * 2):
            raise ValueError(f"an accumulator of {self.n} rows needs mean [d] and m2 [d, d]")

    @classmethod
    def from_batch(cls, batch: np.ndarray) -> CovarianceAccumulator:
        """The accumulator of the rows of ``batch`` [m, d] (any float dtype; summed in float64)."""
        x = np.asarray(batch, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"a batch must be [rows, features], got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"batch of shape {x.shape} has non-finite values")
        if len(x) == 0:
            return cls()
        mean = x.mean(axis=0)
        centred = x - mean
        return cls(len(x), mean, centred.T @ centred)

    @property
    def d(self) -> int | None:
        return None if self.mean is None else self.mean.size

    @property
    def sum(self) -> np.ndarray:
        """sum_i x_i [d]."""
        return self.n * self.mean

    @property
    def sum_outer(self) -> np.ndarray:
        """sum_i x_i x_i^T [d, d]."""
        return self.m2 + self.n * np.outer(self.mean, self.mean)

    def merge(self, other: CovarianceAccumulator) -> CovarianceAccumulator:
        """A new accumulator of the rows of both (Chan et al. pairwise update); inputs unchanged."""
        if other.n == 0:
            return self.copy()
        if self.n == 0:
            return other.copy()
        if other.d != self.d:
            raise ValueError(f"cannot merge {other.d} features into an accumulator of {self.d}")
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2 = self.m2 + other.m2 + np.outer(delta, delta) * (self.n * other.n / n)
        return CovarianceAccumulator(n, mean, m2)

    def update(self, batch: np.ndarray) -> CovarianceAccumulator:
        """Add the rows of ``batch`` [m, d] in place; returns ``self``."""
        merged = self.merge(CovarianceAccumulator.from_batch(batch))
        self.n, self.mean, self.m2 = merged.n, merged.mean, merged.m2
        return self

    def copy(self) -> CovarianceAccumulator:
        return CovarianceAccumulator(self.n, None if self.mean is None else self.mean.copy(),
                                     None if self.m2 is None else self.m2.copy())

    def covariance(self, ddof: int = 1) -> np.ndarray:
        """Sample covariance M2 / (n - ddof) [d, d]."""
        if self.n <= ddof:
            raise ValueError(f"covariance needs more than {ddof} rows, have {self.n}")
        return self.m2 / (self.n - ddof)


def allreduce(acc: CovarianceAccumulator, comm) -> CovarianceAccumulator:
    """The accumulator of all ranks' rows, on every rank (``comm``: an mpi4py communicator).

    Ranks without rows (more ranks than shards) take part with n = 0. All ranks with
    rows must agree on d.
    """
    dims = {d for d in comm.allgather(acc.d) if d is not None}
    if len(dims) > 1:
        raise ValueError(f"ranks disagree on the number of features: {sorted(dims)}")
    if not dims:
        return CovarianceAccumulator()
    (d,) = dims
    n = comm.allreduce(acc.n)
    local_mean = acc.mean if acc.n else np.zeros(d)
    total = np.empty(d)
    comm.Allreduce(np.ascontiguousarray(acc.n * local_mean), total)  # default op: SUM
    mean = total / n
    shift = local_mean - mean
    local_m2 = (acc.m2 if acc.n else np.zeros((d, d))) + acc.n * np.outer(shift, shift)
    m2 = np.empty((d, d))
    comm.Allreduce(np.ascontiguousarray(local_m2), m2)
    return CovarianceAccumulator(n, mean, m2)


def eigenvalues_desc(matrix: np.ndarray) -> np.ndarray:
    """Eigenvalues of a symmetric matrix in descending order (``numpy.linalg.eigvalsh``)."""
    return np.linalg.eigvalsh(np.asarray(matrix, dtype=np.float64))[::-1].copy()


def eigh_desc(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues [d] (descending) and unit eigenvectors [d, d] (column k for eigenvalue k) of a symmetric matrix."""
    values, vectors = np.linalg.eigh(np.asarray(matrix, dtype=np.float64))
    return values[::-1].copy(), vectors[:, ::-1].copy()


def split_target(acc: CovarianceAccumulator, ddof: int = 1) -> tuple[CovarianceAccumulator, np.ndarray, float]:
    """Accumulator of rows [x, y] -> (accumulator of x, Cov(x, y) [d], Var(y)), both with ``ddof``."""
    if acc.d is None or acc.d < 2:
        raise ValueError(f"split_target needs rows [x, y] with at least one feature, got d = {acc.d}")
    if acc.n <= ddof:
        raise ValueError(f"covariance needs more than {ddof} rows, have {acc.n}")
    features = CovarianceAccumulator(acc.n, acc.mean[:-1].copy(), acc.m2[:-1, :-1].copy())
    return features, acc.m2[:-1, -1] / (acc.n - ddof), float(acc.m2[-1, -1] / (acc.n - ddof))


def constant_features(acc: CovarianceAccumulator) -> np.ndarray:
    """Boolean mask [d] of the accumulated features that do not vary (:func:`is_constant`, population std)."""
    return is_constant(acc.mean, np.sqrt(np.clip(np.diag(acc.m2), 0.0, None) / acc.n))


CENTRINGS = ("covariance", "second-moment")
"""``covariance``: M2 / (n - ddof); ``second-moment``: (1/n) sum_i x_i x_i^T, uncentred (docs/spectrum.md#conventions)."""


def second_moment(acc: CovarianceAccumulator) -> np.ndarray:
    """The uncentred second moment (1/n) sum_i x_i x_i^T [d, d] (Batson & Kahn's Eq. 8)."""
    if acc.n == 0:
        raise ValueError("a second moment needs at least one row, have 0")
    return acc.sum_outer / acc.n


def moment_matrix(acc: CovarianceAccumulator, centring: str, ddof: int = 1) -> np.ndarray:
    """The covariance (``ddof``) or the uncentred second moment of the rows, by ``centring`` (:data:`CENTRINGS`)."""
    if centring == "covariance":
        return acc.covariance(ddof)
    if centring == "second-moment":
        return second_moment(acc)
    raise ValueError(f"unknown centring {centring!r}; choose from {list(CENTRINGS)}")


def scaled_moment(acc: CovarianceAccumulator, centring: str, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """:func:`moment_matrix` of the standardized features x_j / std_j (std with ``ddof``) and the mask of kept features.

    Constant features (:func:`constant_features`) have no standard deviation and are dropped; the matrix is
    [k, k] over the k kept features. With ``covariance`` it is the correlation matrix.
    """
    keep = ~constant_features(acc)
    scale = 1.0 / np.sqrt(np.diag(acc.covariance(ddof))[keep])
    return moment_matrix(acc, centring, ddof)[np.ix_(keep, keep)] * np.outer(scale, scale), keep


def standardized_covariance(acc: CovarianceAccumulator, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Covariance of the standardized features (the correlation matrix) and the mask of kept features
    (:func:`scaled_moment` with ``covariance``)."""
    return scaled_moment(acc, "covariance", ddof)


class StandardizedTarget(NamedTuple):
    """Second moments of the features and the label from one accumulator of rows [x, y] (:func:`standardized_target`)."""

    features: CovarianceAccumulator
    """Accumulator of x alone."""
    cross: np.ndarray
    """Cov(x, y) [d]."""
    label_variance: float
    """Var(y)."""
    corr: np.ndarray
    """Correlation matrix [k, k] of the k kept (non-constant) features (:func:`standardized_covariance`)."""
    keep: np.ndarray
    """Boolean mask [d] of the kept features."""
    scaled_cross: np.ndarray
    """Cov(x~, y) [k] of the standardized kept features x~_j = x_j / std_j: cross[keep] / std[keep]."""


def standardized_target(acc: CovarianceAccumulator, ddof: int = 1) -> StandardizedTarget:
    """Accumulator of rows [x, y] -> the standardized spectrum of x with its label cross-covariance (``ddof``).

    :func:`split_target`, then :func:`standardized_covariance` of x and Cov(x, y) of the kept features in
    standardized units. A constant label is not special-cased here (Cov(x, y) = 0, Var(y) = 0)."""
    features, cross, label_variance = split_target(acc, ddof)
    corr, keep = standardized_covariance(features, ddof)
    scaled_cross = cross[keep] / np.sqrt(np.diag(features.covariance(ddof))[keep])
    return StandardizedTarget(features, cross, label_variance, corr, keep, scaled_cross)
