"""Robust scaling-law fitting: Huber loss (delta 1e-3) on log L, L-BFGS-B from a grid of starts, best kept.

The method of Besiroglu et al. 2024 (arXiv:2404.10102) for the laws of :mod:`jetscale.fit.laws`, with the
positive coefficients in log space: ``theta`` is ``(e, a, alpha, b, beta)`` for the joint law, ``(e, b, beta)``
for the data law, ``(e, a, alpha)`` for the params law. Start grids, checks and stopping rules:
docs/results.md#the-huber-fit.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import huber as _scipy_huber

from jetscale.fit.laws import Law

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # optional: without it the fit is correct, only slower on a loaded machine
    threadpool_limits = None

DELTA = 1e-3
"""Huber threshold on log-loss residuals (Hoffmann et al. 2022; Besiroglu et al. 2024)."""

REPLICATION_GRID: dict[str, tuple[float, ...]] = {
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "coef": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "exponent": (0.0, 0.5, 1.0, 1.5, 2.0),
}
"""Start values of Besiroglu et al. 2024: ``e`` = log E, ``coef`` = log A or log B,
``exponent`` = alpha or beta (every combination is a start)."""

GRID: dict[str, tuple[float, ...]] = {
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "coef": (0.0, 10.0, 20.0),
    "exponent": (0.0, 0.5, 1.0),
}
"""Default start values: a thinned :data:`REPLICATION_GRID` (docs/results.md#the-huber-fit)."""


def huber_loss(r: np.ndarray, delta: float = DELTA) -> np.ndarray:
    """Elementwise Huber loss: ``r**2 / 2`` if ``|r| <= delta`` else ``delta * (|r| - delta / 2)``."""
    return _scipy_huber(delta, r)


def log_inputs(law: Law, data) -> np.ndarray:
    """``log`` of the law's input columns as an array of shape (n_terms, n_rows)."""
    columns = [np.asarray(data[c], dtype=float) for c in law.columns]
    return np.log(np.array(columns)).reshape(len(law.terms), -1)


def to_params(law: Law, theta: Sequence[float]) -> dict[str, float]:
    """Internal vector (log coefficients) -> ``{name: value}`` with E, A, B exponentiated."""
    out = {"E": float(np.exp(theta[0]))}
    for k, t in enumerate(law.terms):
        out[t.coef] = float(np.exp(theta[1 + 2 * k]))
        out[t.exponent] = float(theta[2 + 2 * k])
    return out


def to_theta(law: Law, params: Mapping[str, float]) -> np.ndarray:
    """Inverse of :func:`to_params`."""
    theta = [np.log(params["E"])]
    for t in law.terms:
        theta += [np.log(params[t.coef]), params[t.exponent]]
    return np.array(theta, dtype=float)


def objective(theta: np.ndarray, log_x: np.ndarray, log_y: np.ndarray, delta: float = DELTA):
    """Huber objective and its gradient for any number of terms.

    ``theta = (e, a_1, alpha_1, ..., a_K, alpha_K)``; ``log_x`` has shape (K, n);
    ``log_y = log L`` has shape (n,). Returns ``(value, gradient)`` for ``jac=True``.

    The log-sum-exp is written out (max-shifted, exactly as ``scipy.special.logsumexp``)
    because its softmax weights are also the gradient, and because scipy's version
    costs ~10x more per call, which matters over hundreds of starts.
    """
    coef, expo = theta[1::2], theta[2::2]
    z = np.empty((1 + len(coef), log_y.size))  # (K + 1, n): log of each additive term
    z[0] = theta[0]
    z[1:] = coef[:, None] - expo[:, None] * log_x
    zmax = z.max(axis=0)
    s = np.exp(z - zmax)
    total = s.sum(axis=0)
    r = zmax + np.log(total) - log_y  # logsumexp(z) - log L, shape (n,)
    dr = np.clip(r, -delta, delta) * (s / total)  # huber'(r) * d logsumexp / d z_k, (K + 1, n)
    grad = np.empty_like(theta)
    grad[0] = dr[0].sum()
    grad[1::2] = dr[1:].sum(axis=1)
    grad[2::2] = -(dr[1:] * log_x).sum(axis=1)
    return float(huber_loss(r, delta).sum()), grad


def start_grid(law: Law, grid: Mapping[str, Sequence[float]] = GRID) -> np.ndarray:
    """All grid starts for ``law`` as an array of shape (n_starts, n_params)."""
    axes = [grid["e"]] + [grid["coef"], grid["exponent"]] * len(law.terms)
    return np.array(list(itertools.product(*axes)), dtype=float)


LBFGSB_OPTIONS = {"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000}
"""Stopping rules for L-BFGS-B. scipy's defaults (ftol 2.2e-9 on the change of the
objective *relative to max(|f|, 1)*, gtol 1e-5) stop far from the minimum here because
the objective is ~1e-3 (a sum of Huber losses of ~1 % residuals with delta = 1e-3): a
bootstrap refit from the full-data optimum then barely moves and the intervals come
out ~100x too narrow. With these, the Chinchilla 95 % intervals match the published
ones (tests/fit/test_fit.py)."""


def quiet_numerics():
    """Context for a run of many tiny L-BFGS-B problems.

    Silences overflow warnings from far-off starts, and pins BLAS to one thread (with
    ``threadpoolctl``, when installed): L-BFGS-B's small LAPACK calls gain nothing from
    threads, and on a busy 2-core machine OpenBLAS's thread pool made them 5-25x slower.
    """
    stack = contextlib.ExitStack()
    stack.enter_context(np.errstate(over="ignore", invalid="ignore", divide="ignore"))
    if threadpool_limits is not None:
        stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
    return stack


def minimize_from(theta0, log_x, log_y, delta: float = DELTA):
    """One L-BFGS-B run of :func:`objective` from ``theta0`` (a scipy ``OptimizeResult``)."""
    return minimize(objective, np.asarray(theta0, dtype=float), args=(log_x, log_y, delta),
                    jac=True, method="L-BFGS-B", options=LBFGSB_OPTIONS)


@dataclass(frozen=True)
class HuberFit:
    """Best fit: internal vector ``theta``, objective ``loss`` and the start it came from."""

    theta: np.ndarray
    loss: float
    start: np.ndarray


def fit_huber(law: Law, log_x: np.ndarray, log_y: np.ndarray, starts: np.ndarray | None = None,
              delta: float = DELTA) -> HuberFit:
    """Minimise the Huber objective from every start (default :func:`start_grid`); keep the best."""
    starts = start_grid(law) if starts is None else np.atleast_2d(starts)
    best = None
    with quiet_numerics():
        for theta0 in starts:
            res = minimize_from(theta0, log_x, log_y, delta)
            if np.isfinite(res.fun) and np.all(np.isfinite(res.x)) and (best is None or res.fun < best.loss):
                best = HuberFit(theta=res.x, loss=float(res.fun), start=theta0)
    if best is None:
        raise RuntimeError(f"no finite fit of law {law.name!r} from {len(starts)} starts")
    return best
