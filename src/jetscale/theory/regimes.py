"""The four scaling regimes of linear random-feature ridge regression (for N < P).

With the ridge λ = N^(-l) and label noise σ², the deterministic equivalent (:mod:`jetscale.theory.random_features`)
is a single power law in each regime: signal-dominated, ridge-dominated, noise-dominated, noise-mitigated.
Conditions and laws: docs/theory.md#four-regimes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Regime:
    """A named regime and the exponents of E_g ∝ N^n_exponent · P^p_exponent (at N ≪ P)."""

    name: str
    n_exponent: float
    p_exponent: float
    signal_term: float  # the signal (or ridge) power law at this (N, P)
    noise_term: float  # the noise power law at this (N, P)

    def as_dict(self) -> dict:
        return asdict(self)


def classify_regime(alpha: float, r: float, ridge_exponent: float, noise: float, width: float, samples: float) -> Regime:
    """Name the regime of (α, r, l, σ², N, P) and its predicted exponents.

    The regime is whichever of the signal and noise terms of the table is larger
    at this point; the ridge is λ = N^(-l) with l = ``ridge_exponent``.
    """
    if width >= samples:
        raise ValueError(f"the regime table holds for N < P, got N={width}, P={samples}")
    m = min(r, 0.5)
    effective = min(alpha, ridge_exponent)
    signal = width ** (-2 * effective * m)
    if alpha < ridge_exponent:
        noise_dofs, names = 1.0, ("signal-dominated", "noise-dominated")
    else:
        noise_dofs, names = ridge_exponent / alpha, ("ridge-dominated", "noise-mitigated")
    noise_term = noise * width**noise_dofs / samples
    if signal >= noise_term:
        return Regime(names[0], -2 * effective * m, 0.0, signal, noise_term)
    return Regime(names[1], noise_dofs, -1.0, signal, noise_term)
