"""The compact Particle Transformer and its pairwise interaction features."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from jetscale.models.interactions import EPS, pair_features
from jetscale.models.particle_transformer import ParticleTransformer


def synthetic_jets(n_jets: int, width: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Zero-padded, pT-ordered massless jets: label 1 is three times wider in (η, φ) than label 0."""
    g = torch.Generator().manual_seed(seed)
    label = (torch.arange(n_jets) % 2).float()
    n_real = torch.randint(3, width + 1, (n_jets,), generator=g)
    mask = torch.arange(width) < n_real[:, None]  # [B, C]
    spread = (0.1 + 0.2 * label)[:, None]
    pt = (torch.rand(n_jets, width, generator=g) * 50 + 1).sort(-1, descending=True).values
    eta = 0.5 + spread * torch.randn(n_jets, width, generator=g)
    phi = 3.0 + spread * torch.randn(n_jets, width, generator=g)  # straddles φ = π
    phi = torch.remainder(phi + math.pi, 2 * math.pi) - math.pi
    constituents = torch.stack([pt, eta, phi, pt * torch.cosh(eta)], dim=-1) * mask[..., None]
    return constituents, mask, label


def test_pair_features_match_a_hand_computation_for_two_particles():
    pt_a, eta_a, phi_a = 10.0, 0.0, 3.0
    pt_b, eta_b, phi_b = 5.0, 0.3, 3.0 + 0.4 - 2 * math.pi  # Δφ = -0.4 across the ±π seam
    e_a, e_b = pt_a * math.cosh(eta_a), pt_b * math.cosh(eta_b)
    constituents = torch.tensor([[[pt_a, eta_a, phi_a, e_a], [pt_b, eta_b, phi_b, e_b], [0, 0, 0, 0]]])
    mask = torch.tensor([[True, True, False]])
    features = pair_features(constituents, mask)
    assert features.shape == (1, 4, 3, 3)

    delta_r = math.hypot(0.3, 0.4)  # 0.5
    p_sum = [pt_a * math.cos(phi_a) + pt_b * math.cos(phi_b), pt_a * math.sin(phi_a) + pt_b * math.sin(phi_b),
             pt_a * math.sinh(eta_a) + pt_b * math.sinh(eta_b)]
    m2 = (e_a + e_b) ** 2 - sum(p * p for p in p_sum)
    assert m2 == pytest.approx(2 * pt_a * pt_b * (math.cosh(0.3) - math.cos(0.4)))  # massless pair
    expected = [math.log(5.0 * delta_r), math.log(5.0 / 15.0), math.log(delta_r), math.log(m2)]
    torch.testing.assert_close(features[0, :, 0, 1], torch.tensor(expected), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(features[0, :, 1, 0], features[0, :, 0, 1])  # symmetric
    assert features[0, 0, 0, 0] == pytest.approx(math.log(EPS))  # ΔR = 0 on the diagonal: clamped, finite
    assert torch.isfinite(features).all()
    assert (features[0, :, 2, :] == 0).all() and (features[0, :, :, 2] == 0).all()  # padding


def test_shapes_and_finite_logits():
    constituents, mask, _ = synthetic_jets(5, 12)
    mask[0, 1:] = False  # a one-particle jet
    constituents[0, 1:] = 0
    logits = ParticleTransformer(width=16, depth=2, heads=4)(constituents, mask)
    assert logits.shape == (5,) and torch.isfinite(logits).all()


def test_padding_and_permutation_invariance():
    torch.manual_seed(0)
    net = ParticleTransformer(width=16, depth=2, heads=2).eval()
    constituents, mask, _ = synthetic_jets(6, 10)
    with torch.no_grad():
        logits = net(constituents, mask)
        padded = net(F.pad(constituents, (0, 0, 0, 7)), F.pad(mask, (0, 7)))
        torch.testing.assert_close(padded, logits, rtol=1e-5, atol=1e-5)

        permuted_c, permuted_m = constituents.clone(), mask.clone()
        for i, n in enumerate(mask.sum(-1).tolist()):  # shuffle the real particles, padding stays last
            order = torch.randperm(n)
            permuted_c[i, :n] = constituents[i, order]
        torch.testing.assert_close(net(permuted_c, permuted_m), logits, rtol=1e-5, atol=1e-5)


def test_width_and_depth_change_n_params():
    base = ParticleTransformer(width=16, depth=1, heads=2).n_params
    assert ParticleTransformer(width=32, depth=1, heads=2).n_params > base
    assert ParticleTransformer(width=16, depth=2, heads=2).n_params > base
    with pytest.raises(ValueError, match="divisible"):
        ParticleTransformer(width=10, depth=1, heads=4)


@pytest.mark.parametrize(("width", "depth", "heads", "n_particles"), [(16, 1, 2, 20), (32, 2, 4, 30)])
def test_analytic_flops_match_torch_flop_counter(width, depth, heads, n_particles):
    torch.manual_seed(0)
    net = ParticleTransformer(width=width, depth=depth, heads=heads)
    constituents, mask, label = synthetic_jets(4, n_particles)
    with FlopCounterMode(display=False) as counter:
        loss = F.binary_cross_entropy_with_logits(net(constituents, mask), label)
        loss.backward()
    assert counter.get_total_flops() == pytest.approx(4 * net.train_flops_per_sample(n_particles), rel=0.10)


def test_overfits_a_small_two_class_set():
    torch.manual_seed(0)
    net = ParticleTransformer(width=16, depth=1, heads=2)
    constituents, mask, label = synthetic_jets(32, 16, seed=1)
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(net(constituents, mask), label)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
