"""Analytic FLOP counts for the dense layers of the jet classifiers.

Convention (the one ``torch.utils.flop_counter.FlopCounterMode`` uses): a
multiply-add is 2 FLOPs, so ``x @ W.T`` with x [rows, fan_in] and W
[fan_out, fan_in] costs 2·rows·fan_in·fan_out.  Elementwise work (bias, ReLU,
standardisation, masking, the sum over particles, the loss) is ignored: torch
does not count it either and it is O(rows·fan_out), small next to the matmuls.

One training step = forward + backward.  For each linear layer the backward
pass computes the gradient wrt the weights (one more matmul of the forward's
size) and the gradient wrt the layer input (one more), so a step costs
3 × forward — except for the first layer, whose input is data that needs no
gradient: autograd skips that matmul and torch does not count it, and neither
do we.  So train = 3·Σ_l f_l − f_1 with f_l = 2·rows·n_{l-1}·n_l.
The optimizer update (O(n_params) per step, not per sample) is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence


def linear_flops(batch_rows: int, fan_in: int, fan_out: int) -> int:
    """Forward FLOPs of one dense layer on ``batch_rows`` rows: 2·rows·fan_in·fan_out."""
    return 2 * batch_rows * fan_in * fan_out


def mlp_flops(rows: int, sizes: Sequence[int]) -> int:
    """Forward FLOPs of an MLP with layer sizes ``sizes`` = (n_0 = input, n_1, ..., n_L = output)."""
    return sum(linear_flops(rows, fan_in, fan_out) for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))


def mlp_train_flops(rows: int, sizes: Sequence[int], input_requires_grad: bool = False) -> int:
    """Forward + backward FLOPs: 3 × forward, less the first layer's input gradient
    unless ``input_requires_grad`` (the MLP sits on top of another trained module)."""
    skipped = 0 if input_requires_grad else linear_flops(rows, sizes[0], sizes[1])
    return 3 * mlp_flops(rows, sizes) - skipped


def ridge_flops(n_samples: int, width: int, latent_dim: int) -> float:
    """Analytic FLOPs of a closed-form ridge fit of N features on P samples (jetscale.models.ridge).

    features Z = X Fᵀ when they are a projection of M inputs: 2·P·N·M (M = 0: the features are given); Gram (primal ZᵀZ or dual ZZᵀ): 2·P·N·min(N, P);
    Cholesky solve of the m×m system, m = min(N, P): m³/3 + 2m²; right-hand side
    and back-projection: 4·P·N.  Multiply-adds count as two FLOPs.
    """
    m = min(width, n_samples)
    return float(2 * n_samples * width * latent_dim + 2 * n_samples * width * m + m**3 / 3 + 2 * m**2 + 4 * n_samples * width)
