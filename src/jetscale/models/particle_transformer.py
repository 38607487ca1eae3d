"""A compact Particle Transformer (ParT; Qu, Li, Qian, arXiv:2202.03772) with width/depth knobs.

    constituents [B, C, 4] (pT, η, φ, E), mask [B, C]
      -> particle features [B, C, 4]: (ln pT, ln E, Δη, Δφ); Δη, Δφ relative to the
         pT-weighted jet axis (η_J = Σ pT·η / Σ pT, φ_J = arg Σ pT·e^{iφ}), standardized
         (see FEATURE_CENTER / FEATURE_SCALE), zero on padding
      -> particle embedding: Linear(4, W) · GELU · Linear(W, W)              x [B, C, W]
      -> interaction bias U [B, H, C, C]: pointwise MLP Linear(4, P) · GELU · Linear(P, H)
         on the pair features of :mod:`jetscale.models.interactions`, computed once, shared by all blocks
      -> depth × particle block: x += MHA(LN(x), bias U, key mask); x += FFN(LN(x))
      -> n_class_blocks × class block (CaiT): a learned class token attends to [cls, x]
      -> LN · Linear(W, 1) -> logits [B]

Attention is written out with matmuls and a softmax (no fused kernel), so
``torch.utils.flop_counter.FlopCounterMode`` sees every matmul and
:func:`part_train_flops_per_sample` can be checked against it.  Padded keys get
the most negative float as logit, so they carry zero weight and a jet's logit
does not depend on how much padding follows it.  ParT's BatchNorm on the
inputs, extra LayerNorms and head-scaling are left out.  No Lightning here.
"""

from __future__ import annotations

import torch
from torch import nn

from jetscale.models.flops import mlp_train_flops, self_attention_block_train_flops
from jetscale.models.interactions import pair_features
from jetscale.models.particle_features import relative_particle_features
from jetscale.physics.kinematics import MAX_CONSTITUENTS

N_PARTICLE_FEATURES = N_PAIR_FEATURES = 4
# (x − center)·scale per particle feature: ParT's top-tagging standardization of ln pT and
# ln E (pT, E in GeV), and angles in units of 0.2 rad, the size of a top jet's substructure.
# Without it the O(0.1) angles drown under the O(3) logs and training stalls.
FEATURE_CENTER = (1.7, 2.0, 0.0, 0.0)
FEATURE_SCALE = (0.7, 0.7, 5.0, 5.0)


def particle_features(constituents: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, C, 4] standardized (ln pT, ln E, Δη, Δφ), angles from the pT-weighted jet axis; 0 on padding."""
    features = relative_particle_features(constituents, mask)
    features = (features - features.new_tensor(FEATURE_CENTER)) * features.new_tensor(FEATURE_SCALE)
    return torch.where(mask.unsqueeze(-1), features, 0.0)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor,
           bias: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q kᵀ/√d + bias) v over unmasked keys; q [B, H, Q, d], k, v [B, H, K, d], key_mask [B, K]."""
    logits = q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5  # [B, H, Q, K]
    if bias is not None:
        logits = logits + bias
    logits = logits.masked_fill(~key_mask[:, None, None, :], torch.finfo(logits.dtype).min)
    return logits.softmax(-1) @ v  # [B, H, Q, d]


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[B, T, W] -> [B, H, T, W/H]."""
    b, t, w = x.shape
    return x.view(b, t, heads, w // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """[B, H, T, d] -> [B, T, H·d]."""
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


def feed_forward(width: int, mlp_ratio: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width))


class ParticleBlock(nn.Module):
    """Pre-LN self-attention over particles with an additive pair bias, then a feed-forward block."""

    def __init__(self, width: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.ffn = feed_forward(width, mlp_ratio)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        q, k, v = (split_heads(t, self.heads) for t in self.qkv(self.norm1(x)).chunk(3, dim=-1))  # [B, H, C, d]
        x = x + self.proj(merge_heads(attend(q, k, v, mask, bias)))  # [B, C, W]
        return x + self.ffn(self.norm2(x))


class ClassBlock(nn.Module):
    """CaiT class attention: the class token [B, 1, W] queries [cls, particles]; only the class token updates."""

    def __init__(self, width: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.q, self.kv, self.proj = nn.Linear(width, width), nn.Linear(width, 2 * width), nn.Linear(width, width)
        self.ffn = feed_forward(width, mlp_ratio)

    def forward(self, cls: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        u = self.norm1(torch.cat([cls, x], dim=1))  # [B, 1 + C, W]
        key_mask = torch.cat([mask.new_ones(mask.shape[0], 1), mask], dim=1)  # [B, 1 + C]
        q = split_heads(self.q(u[:, :1]), self.heads)  # [B, H, 1, d]
        k, v = (split_heads(t, self.heads) for t in self.kv(u).chunk(2, dim=-1))  # [B, H, 1 + C, d]
        cls = cls + self.proj(merge_heads(attend(q, k, v, key_mask)))  # [B, 1, W]
        return cls + self.ffn(self.norm2(cls))


class ParticleTransformer(nn.Module):
    """ParT binary classifier: ``forward(constituents [B, C, 4], mask [B, C]) -> logits [B]``.

    ``width`` is the embedding dimension W (divisible by ``heads``), ``depth`` the
    number of particle-attention blocks, ``pair_width`` the hidden width P of the
    pair-feature MLP, ``mlp_ratio`` the feed-forward expansion.
    """

    def __init__(self, width: int, depth: int, heads: int, pair_width: int = 16,
                 n_class_blocks: int = 2, mlp_ratio: int = 4, n_particles: int = MAX_CONSTITUENTS):
        super().__init__()
        self.n_particles = n_particles  # padded length C of the data, for the FLOP count
        if width < 1 or depth < 0 or heads < 1 or width % heads:
            raise ValueError(f"need width >= 1 divisible by heads >= 1 and depth >= 0, got "
                             f"width={width}, heads={heads}, depth={depth}")
        self.width, self.depth, self.heads = width, depth, heads
        self.pair_width, self.n_class_blocks, self.mlp_ratio = pair_width, n_class_blocks, mlp_ratio
        self.embed = nn.Sequential(nn.Linear(N_PARTICLE_FEATURES, width), nn.GELU(), nn.Linear(width, width))
        self.pair_embed = nn.Sequential(nn.Linear(N_PAIR_FEATURES, pair_width), nn.GELU(),
                                        nn.Linear(pair_width, heads))
        self.blocks = nn.ModuleList(ParticleBlock(width, heads, mlp_ratio) for _ in range(depth))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.class_blocks = nn.ModuleList(ClassBlock(width, heads, mlp_ratio) for _ in range(n_class_blocks))
        self.norm, self.head = nn.LayerNorm(width), nn.Linear(width, 1)

    def forward(self, constituents: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.bool()
        x = self.embed(particle_features(constituents, mask))  # [B, C, W]
        with torch.no_grad():
            pairs = pair_features(constituents, mask).permute(0, 2, 3, 1)  # [B, C, C, 4]
        bias = self.pair_embed(pairs).permute(0, 3, 1, 2)  # [B, H, C, C]
        bias = bias * (mask.unsqueeze(-1) & mask.unsqueeze(-2)).unsqueeze(1)  # no bias on padded pairs
        for block in self.blocks:
            x = block(x, mask, bias)
        x = x * mask.unsqueeze(-1)  # padded particles never act as keys; zeroed for tidiness
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # [B, 1, W]
        for block in self.class_blocks:
            cls = block(cls, x, mask)
        return self.head(self.norm(cls[:, 0])).squeeze(-1)  # [B]

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def train_flops_per_sample(self, n_particles: int | None = None) -> float:
        """Analytic training FLOPs per jet at padded length ``n_particles`` (default: the constructor's)."""
        n_particles = self.n_particles if n_particles is None else n_particles
        return part_train_flops_per_sample(n_particles, self.width, self.depth, self.heads, self.pair_width,
                                           self.n_class_blocks, self.mlp_ratio)


def part_train_flops_per_sample(n_particles: int, width: int, depth: int, heads: int, pair_width: int = 16,
                                n_class_blocks: int = 2, mlp_ratio: int = 4) -> float:
    """Analytic FLOPs per jet of one training step (forward + backward) at padded length C = n_particles.

    Counts matmuls only, a multiply-add as two FLOPs (as ``torch.utils.flop_counter``
    does); LayerNorm, softmax, GELU, biases, masking, the pair features and the
    optimizer update are elementwise or per step and ignored.  A matmul whose
    input needs a gradient costs 3× its forward (forward, grad of input, grad of
    weight); the first layers of the particle and pair embeddings see inputs
    without gradient, so they cost 2×.  Padded particles are computed like real ones.
    """
    c, w, h, p, r = n_particles, width, heads, pair_width, mlp_ratio
    embed = (mlp_train_flops(c, [N_PARTICLE_FEATURES, w, w])  # [C,4]@[4,W], [C,W]@[W,W]
             + mlp_train_flops(c * c, [N_PAIR_FEATURES, p, h]))  # [C²,4]@[4,P], [C²,P]@[P,H]
    particle_blocks = depth * self_attention_block_train_flops(c, w, r)
    keys = c + 1  # the class token attends to itself and the particles
    class_block = (2 * w * w  # q of the class token
                   + 2 * keys * w * 2 * w  # k, v
                   + 2 * keys * w * 2  # q kᵀ and attention · v
                   + 2 * w * w  # output projection
                   + 2 * 2 * w * r * w)  # feed-forward on the class token
    head = 2 * w
    return float(embed + particle_blocks + 3 * (n_class_blocks * class_block + head))
