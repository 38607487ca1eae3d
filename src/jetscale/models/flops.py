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


def dense_train_flops(layers: Sequence[tuple[int, int, int]], input_requires_grad: bool = False) -> int:
    """Forward + backward FLOPs of dense layers (rows, fan_in, fan_out) applied in turn, each on its own rows:
    3 × forward, less the first layer's input gradient unless ``input_requires_grad``
    (the layers sit on top of another trained module)."""
    forward = [linear_flops(*layer) for layer in layers]
    return 3 * sum(forward) - (0 if input_requires_grad else forward[0])


def mlp_train_flops(rows: int, sizes: Sequence[int], input_requires_grad: bool = False) -> int:
    """:func:`dense_train_flops` of an MLP with layer sizes ``sizes``, every layer on the same ``rows``."""
    return dense_train_flops([(rows, fan_in, fan_out) for fan_in, fan_out in zip(sizes[:-1], sizes[1:])],
                             input_requires_grad)


def self_attention_block_train_flops(tokens: int, width: int, mlp_ratio: int) -> int:
    """Forward + backward FLOPs of one pre-norm self-attention block on ``tokens`` tokens of ``width``.

    Dense layers: qkv projection (w → 3w), output projection (w → w), feed-forward (w → r·w → w);
    attention matmuls q·kᵀ and attention·v, each 2·T²·w with all heads together (so the head
    count does not enter).  The block's input needs a gradient, so everything costs 3× forward.
    """
    t, w, r = tokens, width, mlp_ratio
    dense = [(t, w, 3 * w), (t, w, w), (t, w, r * w), (t, r * w, w)]
    attention = 2 * linear_flops(t, t, w)  # [T, d]@[d, T] and [T, T]@[T, d] per head, summed over heads
    return dense_train_flops(dense, input_requires_grad=True) + 3 * attention


def ridge_flops(n_samples: int, width: int, latent_dim: int) -> float:
    """Analytic FLOPs of a closed-form ridge fit of N features on P samples (jetscale.models.ridge).

    features Z = X Fᵀ when they are a projection of M inputs: 2·P·N·M (M = 0: the features are given); Gram (primal ZᵀZ or dual ZZᵀ): 2·P·N·min(N, P);
    Cholesky solve of the m×m system, m = min(N, P): m³/3 + 2m²; right-hand side
    and back-projection: 4·P·N.  Multiply-adds count as two FLOPs.
    """
    m = min(width, n_samples)
    return float(2 * n_samples * width * latent_dim + 2 * n_samples * width * m + m**3 / 3 + 2 * m**2 + 4 * n_samples * width)
