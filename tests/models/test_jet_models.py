"""Jet classifiers: shapes, PFN symmetries, the width knob, analytic vs torch-counted FLOPs, overfitting."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn.functional import binary_cross_entropy_with_logits
from torch.utils.flop_counter import FlopCounterMode

from jetscale.models.efp_models import EFPLinear, EFPMLP
from jetscale.models.pfn import PFN

D, B, C = 102, 16, 30


def make_jets(n: int, c: int = C, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Synthetic pT-ordered, zero-padded jets: class 1 is wider in (η, φ) and has more particles."""
    gen = torch.Generator().manual_seed(seed)
    label = (torch.arange(n) % 2).float()  # [n]
    counts = torch.randint(5, c // 2, (n,), generator=gen) + (label * (c // 2 - 1)).long()  # [n]
    mask = torch.arange(c)[None, :] < counts[:, None]  # [n, c]
    pt = torch.sort(torch.rand(n, c, generator=gen) * 100 + 1, dim=1, descending=True).values
    spread = (0.1 + 0.3 * label)[:, None]
    eta = 0.5 + spread * torch.randn(n, c, generator=gen)
    phi = math.pi - 0.05 + spread * torch.randn(n, c, generator=gen)  # a jet straddling φ = ±π
    phi = torch.remainder(phi + math.pi, 2 * math.pi) - math.pi
    energy = pt * torch.cosh(eta)
    constituents = torch.stack([pt, eta, phi, energy], -1) * mask[..., None]  # [n, c, 4], zero-padded
    return constituents, mask, label


def make_features(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    label = (torch.arange(n) % 2).float()
    x = torch.randn(n, D, generator=gen, dtype=torch.float64) * 3 + 5 + label[:, None].double() * 0.5
    return x, label


def efp_models():
    return [EFPLinear(D), EFPMLP(D, width=32, depth=2)]


def test_shapes_and_standardization():
    x, _ = make_features(B)
    for model in efp_models():
        assert model(x).shape == (B,)
    model = EFPLinear(D)
    std = x.std(0)
    std[0] = 0.0  # a constant feature must not divide by zero
    model.set_standardization(x.mean(0), std)
    assert torch.isfinite(model(x)).all()
    constituents, mask, _ = make_jets(B)
    assert PFN(width=8, depth=2)(constituents, mask).shape == (B,)


def test_pfn_preprocess_uses_the_jet_axis_across_phi_wrap():
    constituents, mask, _ = make_jets(B)
    p = PFN.preprocess(constituents, mask)  # [B, C, 4]
    assert (p[~mask] == 0).all()
    dphi = p[..., 3][mask]  # features (ln pT, ln E, Δη, Δφ)
    assert dphi.abs().max() < 2.5  # no 2π jumps for a jet sitting on φ = ±π
    weights = constituents[..., 0]
    assert ((weights * p[..., 2]).sum(1) / weights.sum(1)).abs().max() < 1e-5  # pT-weighted Δη centred


def test_pfn_ignores_padding_and_particle_order():
    torch.manual_seed(0)
    model = PFN(width=16, depth=2).double()
    constituents, mask, _ = make_jets(B)
    constituents = constituents.double()
    logits = model(constituents, mask)
    padded = torch.cat([constituents, torch.zeros(B, 7, 4, dtype=torch.float64)], 1)
    padded_mask = torch.cat([mask, torch.zeros(B, 7, dtype=torch.bool)], 1)
    torch.testing.assert_close(model(padded, padded_mask), logits)
    # garbage in the padding rows is masked out too
    noisy = constituents + 5.0 * (~mask)[..., None]
    torch.testing.assert_close(model(noisy, mask), logits)
    # any permutation of the rows (real and padding alike), shared across the batch
    perm = torch.randperm(C)
    torch.testing.assert_close(model(constituents[:, perm], mask[:, perm]), logits)


def test_width_knob_sets_n_params():
    d, w, depth = D, 24, 3
    assert EFPLinear(d).n_params == d + 1
    assert EFPMLP(d, w, depth).n_params == (d + 1) * w + (depth - 1) * (w + 1) * w + (w + 1)
    pfn = PFN(w, depth)
    phi = (4 + 1) * w + (depth - 1) * (w + 1) * w
    f = depth * (w + 1) * w + (w + 1)
    assert pfn.n_params == phi + f
    # doubling the width roughly quadruples the (w²-dominated) parameter count
    assert 3.5 < PFN(2 * 64, depth).n_params / PFN(64, depth).n_params < 4.1


def measured_train_flops(model, inputs, label) -> int:
    with FlopCounterMode(display=False) as counter:
        binary_cross_entropy_with_logits(model(*inputs), label).backward()
    return counter.get_total_flops()


@pytest.mark.parametrize("name", ["linear", "mlp", "pfn"])
def test_analytic_flops_match_torch_flop_counter(name):
    if name == "pfn":
        model = PFN(width=16, depth=3)
        constituents, mask, label = make_jets(B)
        inputs = (constituents, mask)
    else:
        model = EFPLinear(D) if name == "linear" else EFPMLP(D, width=32, depth=3)
        x, label = make_features(B)
        inputs = (x,)
    measured = measured_train_flops(model, inputs, label)
    analytic = B * model.train_flops_per_sample(C)
    assert measured == pytest.approx(analytic, rel=0.10)


def overfit(model, inputs, label, steps: int = 60, lr: float = 1e-2) -> tuple[float, float]:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = binary_cross_entropy_with_logits(model(*inputs), label)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


@pytest.mark.parametrize("name", ["linear", "mlp", "pfn"])
def test_models_overfit_a_small_batch(name):
    torch.manual_seed(0)
    if name == "pfn":
        model = PFN(width=32, depth=2)
        constituents, mask, label = make_jets(64)
        inputs = (constituents, mask)
    else:
        model = EFPLinear(D) if name == "linear" else EFPMLP(D, width=32, depth=2)
        x, label = make_features(64)
        model.set_standardization(x.mean(0), x.std(0))
        inputs = (x,)
    first, last = overfit(model, inputs, label)
    assert last < 0.5 * first and last < 0.35
