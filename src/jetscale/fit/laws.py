"""Scaling laws: the three functional forms fitted by jetscale, as pure numpy.

Conventions (stated once, used everywhere in :mod:`jetscale.fit`):

* ``n_params``  -- N, number of trainable model parameters (column ``n_params``);
* ``n_samples`` -- D, number of training samples (jets) seen (column ``n_samples``);
* ``L``         -- the loss being modelled (default column ``test_loss``).

Every law is an irreducible loss ``E`` plus a sum of power-law *terms*
``coef * x**(-exponent)``, one per resource::

    data:    L = E                    + B * D**(-beta)
    params:  L = E + A * N**(-alpha)
    joint:   L = E + A * N**(-alpha)  + B * D**(-beta)       (Hoffmann et al. 2022)

A :class:`Law` is therefore just ``E`` and a tuple of :class:`Term`; the fitter
(:mod:`jetscale.fit.huber`) handles any subset of terms with one generic objective.
Parameters are named, and always ordered, as ``E`` then ``(coef, exponent)`` per term,
e.g. ``("E", "A", "alpha", "B", "beta")`` for the joint law.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

N_PARAMS = "n_params"
N_SAMPLES = "n_samples"


@dataclass(frozen=True)
class Term:
    """One power-law term ``coef * column**(-exponent)``."""

    coef: str
    exponent: str
    column: str


@dataclass(frozen=True)
class Law:
    """A scaling law ``L = E + sum_k coef_k * x_k**(-exponent_k)``."""

    name: str
    terms: tuple[Term, ...]
    description: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        """Input columns the law reads (one per term, in term order)."""
        return tuple(t.column for t in self.terms)

    @property
    def param_names(self) -> tuple[str, ...]:
        """``("E", coef_1, exponent_1, coef_2, exponent_2, ...)``."""
        names = ["E"]
        for t in self.terms:
            names += [t.coef, t.exponent]
        return tuple(names)


PARAMS_TERM = Term(coef="A", exponent="alpha", column=N_PARAMS)
SAMPLES_TERM = Term(coef="B", exponent="beta", column=N_SAMPLES)

LAWS: dict[str, Law] = {
    "data": Law("data", (SAMPLES_TERM,), "L = E + B * n_samples**(-beta)"),
    "params": Law("params", (PARAMS_TERM,), "L = E + A * n_params**(-alpha)"),
    "joint": Law(
        "joint",
        (PARAMS_TERM, SAMPLES_TERM),
        "L = E + A * n_params**(-alpha) + B * n_samples**(-beta)",
    ),
}


def get_law(law: str | Law) -> Law:
    """Return the :class:`Law` named ``law`` (a :class:`Law` is passed through)."""
    if isinstance(law, Law):
        return law
    try:
        return LAWS[law]
    except KeyError:
        raise ValueError(f"unknown law {law!r}; known laws: {sorted(LAWS)}") from None


def predict(law: str | Law, params: Mapping[str, float], data) -> np.ndarray:
    """Evaluate ``law`` with ``params`` (dict by parameter name) on ``data``.

    ``data`` is anything indexable by column name -- a pandas DataFrame or a dict of
    arrays -- holding the law's columns (``law.columns``). Returns a float array.
    """
    law = get_law(law)
    loss = np.asarray(params["E"], dtype=float)
    for t in law.terms:
        x = np.asarray(data[t.column], dtype=float)
        loss = loss + params[t.coef] * x ** (-params[t.exponent])
    return loss
