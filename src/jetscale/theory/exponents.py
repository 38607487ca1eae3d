"""Scaling exponents of the toy model in its limits: pure functions of (α, r).

Conventions of :mod:`jetscale.theory.spectrum` (λ_k = k^(-α), u_k² = k^(-(1+2αr)), noiseless, ridge → 0,
M → ∞); β means E_g ∝ x^(-β). :func:`data_exponent` β_P = 2α min(r, 1), :func:`width_exponent`
β_N = 2α min(r, 1/2), ``VARIANCE_EXPONENT`` = 1, and :func:`bahri_regimes`. Derivations and references:
docs/theory.md#limiting-exponents.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

VARIANCE_EXPONENT = 1.0


def data_exponent(alpha: float, r: float) -> float:
    """β_P = 2α min(r, 1): E_g ∝ P^(-β_P) for N → ∞, ridge → 0, noiseless (derivation: docs/theory.md)."""
    _check(alpha, r)
    return 2.0 * alpha * min(r, 1.0)


def width_exponent(alpha: float, r: float) -> float:
    """β_N = 2α min(r, 1/2): E_g ∝ N^(-β_N) for P → ∞, ridge → 0, noiseless (derivation: docs/theory.md)."""
    _check(alpha, r)
    return 2.0 * alpha * min(r, 0.5)


def _check(alpha: float, r: float) -> None:
    if alpha <= 0 or r <= 0:
        raise ValueError(f"alpha and r must be > 0, got alpha={alpha}, r={r}")


@dataclass(frozen=True)
class ScalingRegime:
    """One of Bahri et al.'s four regimes: E_g − E_g(limit) ∝ ``axis``^(-exponent) where ``limited_by`` binds."""

    name: str  # e.g. "resolution-limited in N"
    axis: str  # the resource varied: "width" (N) or "n_samples" (P)
    kind: str  # "resolution" or "variance"
    limited_by: str  # the scarce resource: "width" (P ≫ N) or "n_samples" (N ≫ P)
    exponent: float

    def as_dict(self) -> dict:
        return asdict(self)


def bahri_regimes(alpha: float, r: float) -> dict[str, ScalingRegime]:
    """The four regimes and their predicted exponents, keyed ``resolution_N``, ``variance_P``
    (P ≫ N, width-limited), ``resolution_P``, ``variance_N`` (N ≫ P, data-limited)."""
    return {
        "resolution_N": ScalingRegime("resolution-limited in N", "width", "resolution", "width",
                                      width_exponent(alpha, r)),
        "variance_P": ScalingRegime("variance-limited in P", "n_samples", "variance", "width", VARIANCE_EXPONENT),
        "resolution_P": ScalingRegime("resolution-limited in P", "n_samples", "resolution", "n_samples",
                                      data_exponent(alpha, r)),
        "variance_N": ScalingRegime("variance-limited in N", "width", "variance", "n_samples", VARIANCE_EXPONENT),
    }
