"""The scaling regimes of linear random-feature ridge regression (for N < P), ridge λ = N^(-l).

:func:`classify_regime` is the table derived from the deterministic equivalent
(:mod:`jetscale.theory.random_features`) for every (α, r, l); :func:`signal_exponents` gives its two
noiseless branches. :func:`classify_regime_seed` keeps the seed's four-regime table as a reference:
it saturates at min(r, 1/2) and is wrong for r > 1/2 with l < α. Derivation: docs/theory.md#four-regimes.
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


def _check_width(width: float, samples: float) -> None:
    if width >= samples:
        raise ValueError(f"the regime table holds for N < P, got N={width}, P={samples}")


def signal_exponents(alpha: float, r: float, ridge_exponent: float) -> tuple[float, float]:
    """Decay exponents (ridge bias, feature sampling) of the noiseless E_g in N at P → ∞, λ = N^(-l).

    With l_eff = min(l, α): the ridge bias falls as N^(-2 l_eff min(r, 1)), the feature-sampling term as
    N^(-(1 + l_eff min(1, 2r) − l_eff/α)); E_g falls as the smaller of the two (docs/theory.md#four-regimes).
    """
    if alpha <= 1 or r <= 0 or ridge_exponent <= 0:
        raise ValueError(f"need alpha > 1, r > 0, l > 0; got alpha={alpha}, r={r}, l={ridge_exponent}")
    effective = min(alpha, ridge_exponent)
    return 2 * effective * min(r, 1.0), 1 + effective * min(1.0, 2 * r) - effective / alpha


def _regime(beta: float, noise_dofs: float, names: tuple[str, str], noise: float, width: float,
            samples: float) -> Regime:
    """The larger of the signal term N^(-β) and the noise term σ² N^noise_dofs / P, as a :class:`Regime`."""
    signal = width ** (-beta)
    noise_term = noise * width**noise_dofs / samples
    if signal >= noise_term:
        return Regime(names[0], -beta, 0.0, signal, noise_term)
    return Regime(names[1], noise_dofs, -1.0, signal, noise_term)


def classify_regime(alpha: float, r: float, ridge_exponent: float, noise: float, width: float, samples: float) -> Regime:
    """Name the regime of (α, r, l, σ², N, P) and its exponents, from the deterministic equivalent.

    The signal term is N^(-β) with β the smaller branch of :func:`signal_exponents`; the noise term is
    σ² N^(l_eff/α) / P. Names: "signal-dominated" (l ≥ α: all N features fitted, β = 2α min(r, 1/2)),
    "ridge-dominated" (l < α, ridge bias binds), "feature-sampling-limited" (l < α, r > 1/2, the random
    features' sampling term binds), "noise-dominated" (l ≥ α) and "noise-mitigated" (l < α).
    """
    _check_width(width, samples)
    bias, sampling = signal_exponents(alpha, r, ridge_exponent)
    if alpha <= ridge_exponent:
        return _regime(min(bias, sampling), 1.0, ("signal-dominated", "noise-dominated"), noise, width, samples)
    name = "ridge-dominated" if bias <= sampling else "feature-sampling-limited"
    return _regime(min(bias, sampling), ridge_exponent / alpha, (name, "noise-mitigated"), noise, width, samples)


def classify_regime_seed(alpha: float, r: float, ridge_exponent: float, noise: float, width: float,
                         samples: float) -> Regime:
    """The seed's four-regime table, kept as a reference: signal exponent 2 min(α, l) min(r, 1/2).

    Wrong for r > 1/2 with l < α: the deterministic equivalent then falls as
    N^(-min(2l min(r, 1), 1 + l − l/α)), faster than the seed's N^(-l) (tests/physics/test_regimes.py).
    Right for r ≤ 1/2 and for l ≥ α, where it equals :func:`classify_regime`.
    """
    _check_width(width, samples)
    beta = 2 * min(alpha, ridge_exponent) * min(r, 0.5)
    if alpha < ridge_exponent:
        return _regime(beta, 1.0, ("signal-dominated", "noise-dominated"), noise, width, samples)
    return _regime(beta, ridge_exponent / alpha, ("ridge-dominated", "noise-mitigated"), noise, width, samples)
