"""Classifiers of Random Hierarchy Model data (:mod:`jetscale.data.rhm`): one-hot leaves → class logits.

Every model maps ``leaves`` float [B, T, v] (T = s^L positions, as :func:`jetscale.data.rhm.one_hot` makes
them) to logits [B, n_c]; ``width`` is the sweep's parameter knob. :class:`RHMMLP`, the paper's
:class:`HierarchicalCNN` (kernel = stride = s) and :class:`RHMTransformer`. No Lightning here.
Architectures and FLOP counts: docs/tasks.md#models.
"""

from __future__ import annotations

import torch
from torch import nn

from jetscale.models.efp_models import count_params, mlp
from jetscale.models.flops import dense_train_flops, mlp_train_flops, self_attention_block_train_flops
from jetscale.models.particle_transformer import ParticleBlock


def _check_sizes(**sizes: int) -> None:
    """Raise ValueError naming the first size below 1."""
    for name, value in sizes.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


class RHMMLP(nn.Module):
    """Fully connected: leaves [B, T, v] → flatten [B, T·v] → ``depth`` × (Linear, ReLU) → logits [B, n_c]."""

    def __init__(self, vocab: int, s: int, L: int, width: int, depth: int, n_classes: int):
        super().__init__()
        _check_sizes(vocab=vocab, s=s, L=L, width=width, depth=depth, n_classes=n_classes)
        self.sizes = [s ** L * vocab] + [width] * depth + [n_classes]
        self.net = mlp(self.sizes)

    def forward(self, leaves: torch.Tensor) -> torch.Tensor:
        return self.net(leaves.flatten(1))

    @property
    def n_params(self) -> int:
        return count_params(self)

    def train_flops_per_sample(self) -> float:
        return float(mlp_train_flops(1, self.sizes))


class HierarchicalCNN(nn.Module):
    """L × (convolution with kernel = stride = s, ReLU) over the s^L positions, then Linear(width, n_c).

    A convolution whose kernel equals its stride sees disjoint patches of s positions, so it is one
    Linear(s·c_in, width) shared by all patches: layer l reshapes [B, T_l, c] → [B, T_l/s, s·c] and
    applies it (exactly ``Conv1d(c, width, s, stride=s)``, but a plain matmul: on CPU several times
    faster, and unaffected by ``torch.use_deterministic_algorithms``, which slows Conv1d five-fold).
    """

    def __init__(self, vocab: int, s: int, L: int, width: int, n_classes: int):
        super().__init__()
        _check_sizes(vocab=vocab, s=s, L=L, width=width, n_classes=n_classes)
        self.vocab, self.width, self.s, self.L = vocab, width, s, L
        self.patches = nn.ModuleList(nn.Linear(s * channels, width) for channels in [vocab] + [width] * (L - 1))
        self.readout = nn.Linear(width, n_classes)

    def forward(self, leaves: torch.Tensor) -> torch.Tensor:
        h = leaves  # [B, s^L, v]
        for patch in self.patches:
            h = torch.relu(patch(h.reshape(h.shape[0], -1, self.s * h.shape[-1])))  # [B, T/s, w]
        return self.readout(h.squeeze(1))  # [B, 1, w] -> [B, n_c]

    @property
    def n_params(self) -> int:
        return count_params(self)

    def train_flops_per_sample(self) -> float:
        convs = [(self.s ** (self.L - 1 - l), (self.vocab if l == 0 else self.width) * self.s, self.width)
                 for l in range(self.L)]  # layer l: s^(L-1-l) patches of fan-in c_in·s
        return float(dense_train_flops([*convs, (1, self.width, self.readout.out_features)]))


class RHMTransformer(nn.Module):
    """Encoder over the T leaves: embed + positions → ``depth`` attention blocks → LN → mean → Linear."""

    def __init__(self, vocab: int, s: int, L: int, width: int, depth: int, heads: int, n_classes: int,
                 mlp_ratio: int = 4):
        super().__init__()
        n_leaves = s ** L
        _check_sizes(vocab=vocab, s=s, L=L, width=width, depth=depth, heads=heads, n_classes=n_classes,
                     mlp_ratio=mlp_ratio)
        if width % heads:
            raise ValueError(f"width must be divisible by heads, got width={width}, heads={heads}")
        self.n_leaves, self.vocab, self.width, self.depth, self.mlp_ratio = n_leaves, vocab, width, depth, mlp_ratio
        self.embed = nn.Linear(vocab, width)
        self.positions = nn.Parameter(torch.zeros(1, n_leaves, width))
        nn.init.trunc_normal_(self.positions, std=0.02)
        self.blocks = nn.ModuleList(ParticleBlock(width, heads, mlp_ratio) for _ in range(depth))
        self.norm, self.readout = nn.LayerNorm(width), nn.Linear(width, n_classes)

    def forward(self, leaves: torch.Tensor) -> torch.Tensor:
        x = self.embed(leaves) + self.positions  # [B, T, w]
        every = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)  # no padding
        for block in self.blocks:
            x = block(x, every, None)
        return self.readout(self.norm(x).mean(1))  # [B, n_c]

    @property
    def n_params(self) -> int:
        return count_params(self)

    def train_flops_per_sample(self) -> float:
        t, w = self.n_leaves, self.width
        ends = dense_train_flops([(t, self.vocab, w), (1, w, self.readout.out_features)])  # embedding, readout
        return float(ends + self.depth * self_attention_block_train_flops(t, w, self.mlp_ratio))
