"""The ``rambo`` task: a flow-matching generator of RAMBO phase space (data: :mod:`jetscale.data.rambo_dataset`).

:func:`evaluate` gives ``test_loss`` (the flow-matching objective with the fixed test noise: the
scaling-law loss), ``test_distance`` (pair-mass distance of generated to test events, units of √s),
``test_distance_floor`` (the same between two true samples) and ``test_momentum_imbalance``.
Their meaning and measured values: docs/tasks.md#the-metrics.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from jetscale.data.rambo_dataset import to_momenta
from jetscale.models.flow_matching import flow_matching_loss
from jetscale.models.inference import evaluation
from jetscale.physics.distances import pair_mass_distance, rambo_distance_floor
from jetscale.physics.observables import momentum_imbalance

SAMPLING_STREAM, FLOOR_STREAM = 6, 7  # after the data's event and noise streams 0-5


@cache
def distance_floor(n_particles: int, sqrt_s: float, n_generate: int, n_test: int, seed: int) -> float:
    """``test_distance_floor`` (docs/tasks.md#the-metrics): two RAMBO samples of ``n_generate`` and ``n_test``
    events from stream ``[seed, FLOOR_STREAM]``, computed once per process for each argument tuple."""
    return rambo_distance_floor(n_particles, sqrt_s, n_generate, n_test, [seed, FLOOR_STREAM])


def predict(net, datamodule) -> np.ndarray:
    """``datamodule.n_generate`` events [n_generate, n, 4] sampled from ``net`` with a fixed seed."""
    seed = int(np.random.default_rng([datamodule.seed, SAMPLING_STREAM]).integers(2**62))
    features = net.sample(datamodule.n_generate, datamodule.sample_steps, torch.Generator().manual_seed(seed))
    return to_momenta(features.cpu().double().numpy(), datamodule.sqrt_s)


def evaluate(net, datamodule) -> dict[str, float]:
    """Test metrics of a trained :class:`~jetscale.models.flow_matching.VelocityField` (docs/tasks.md#the-metrics)."""
    device = next(net.parameters()).device
    with evaluation(net):
        batch = tuple(tensor.to(device) for tensor in datamodule.fixed_noise_batch("test"))
        loss = float(flow_matching_loss(net, batch))
        generated = predict(net, datamodule)
    sqrt_s = datamodule.sqrt_s
    return {
        "test_loss": loss,
        "test_distance": pair_mass_distance(generated, datamodule.events("test"), sqrt_s),
        "test_distance_floor": distance_floor(datamodule.n_particles, sqrt_s, datamodule.n_generate,
                                              datamodule.n_test, datamodule.seed),
        "test_momentum_imbalance": float(momentum_imbalance(generated, sqrt_s).mean()),
    }


def theory_loss(datamodule, width: int, ridge: float) -> None:
    """No closed-form prediction for the generative task."""
    return None
