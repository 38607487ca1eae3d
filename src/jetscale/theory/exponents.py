"""Scaling exponents of the toy model in its limits: pure functions of (α, r).

Conventions of :mod:`jetscale.theory.spectrum`: λ_k = k^(-α), u_k² = λ_k w̄_k² = k^(-(1+2αr)),
noiseless labels, ridge → 0, M → ∞. An exponent β means E_g ∝ x^(-β).

* :func:`data_exponent` -- P samples, N → ∞ (ridge regression on x itself): β_P = 2α min(r, 1).
  Ridgeless, the renormalised ridge κ of :mod:`jetscale.theory.random_features` solves
  df₁(κ) = P, so κ ≍ P^(-α) and modes k ≲ P are learned. Then
  E_g ≍ Σ_{k>P} u_k² + κ² Σ_{k<P} u_k²/λ_k² ≍ P^(-2αr) + P^(-2α) P^(2α(1-r))₊:
  the tail of the teacher gives P^(-2αr); for r > 1 the head term κ² Σ u_k²/λ_k² converges
  and P^(-2α) wins. This is the noiseless rate of Cui, Loureiro, Krzakala & Zdeborová,
  "Generalization error rates in kernel regression" (arXiv:2105.15004), in the same (α, r)
  convention (their source condition r, capacity α); see also Spigler, Geiger & Wyart
  (arXiv:1905.10843) and Bordelon, Canatar & Pehlevan (arXiv:2002.02561).
* :func:`width_exponent` -- N random features, P → ∞: β_N = 2α min(r, 1/2). With P → ∞ the
  renormalised ridge solves df₁(κ₂) = N and E_g = κ₂ T(κ₂) = κ₂ Σ u_k²/(λ_k + κ₂)
  (first-order, not second-order, in κ), so the head term saturates already at r = 1/2: the
  randomness of F costs ≍ N^(-α) (the "signal-dominated" row of :mod:`jetscale.theory.regimes`;
  Maloney, Roberts & Sully arXiv:2210.16859, Atanasov, Zavatone-Veth & Pehlevan arXiv:2405.00592).
* ``VARIANCE_EXPONENT`` = 1 -- the variance-limited exponents of Bahri, Dyer, Kaplan, Lee &
  Sharma, "Explaining neural scaling laws" (arXiv:2102.06701): at fixed N ≪ P,
  E_g(N, P) − E_g(N, ∞) ∝ 1/P (the target part that N features cannot express acts as label
  noise, amplified by 1/(1 − γ) with γ ≍ N/P); at fixed P ≪ N, E_g(N, P) − E_g(∞, P) ∝ 1/N.

:func:`bahri_regimes` names the four regimes with these exponents. The exponents are limits:
at finite N, P, M the deterministic equivalent's local slope approaches them slowly (finite
ratios N/P, the 1/(1 − N/P) factor, the last modes below M); tests/test_theory.py checks them
against :func:`jetscale.theory.rf_test_error`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

VARIANCE_EXPONENT = 1.0


def data_exponent(alpha: float, r: float) -> float:
    """β_P = 2α min(r, 1): E_g ∝ P^(-β_P) for N → ∞, vanishing ridge, noiseless (module docstring)."""
    _check(alpha, r)
    return 2.0 * alpha * min(r, 1.0)


def width_exponent(alpha: float, r: float) -> float:
    """β_N = 2α min(r, 1/2): E_g ∝ N^(-β_N) for P → ∞, vanishing ridge, noiseless (module docstring)."""
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
