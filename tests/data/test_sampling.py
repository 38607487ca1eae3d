"""The training stream: deterministic per (seed, epoch), resumable at any step, sharded across ranks."""

import itertools

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from jetscale.data.sampling import StreamSampler, epoch_order, per_rank_batch, training_loader


def take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_epochs_are_permutations_that_depend_on_seed_and_epoch_only():
    stream = take(StreamSampler(10, seed=3), 30)
    for e in range(3):
        assert stream[10 * e : 10 * (e + 1)] == epoch_order(10, 3, e).tolist()
        assert sorted(stream[10 * e : 10 * (e + 1)]) == list(range(10))
    assert stream[:10] != stream[10:20]
    assert take(StreamSampler(10, seed=4), 10) != stream[:10]


@pytest.mark.parametrize("start", [0, 7, 10, 23])
def test_a_resumed_stream_continues_the_uninterrupted_one(start):
    full = take(StreamSampler(10, seed=1), 60)
    assert take(StreamSampler(10, seed=1, start=start), 60 - start) == full[start:]


def test_two_ranks_together_read_the_single_process_batches():
    n, batch, world = 12, 4, 2
    single = take(StreamSampler(n, seed=0), 5 * batch)
    ranks = [take(StreamSampler(n, seed=0, rank=r, world_size=world), 5 * batch // world) for r in range(world)]
    for step in range(5):
        per_rank = [ranks[r][step * batch // world : (step + 1) * batch // world] for r in range(world)]
        assert sorted(sum(per_rank, [])) == sorted(single[step * batch : (step + 1) * batch])


def test_uneven_split_pads_by_repeating_the_first_items():
    per_rank = [take(StreamSampler(5, seed=0, rank=r, world_size=2), 3) for r in range(2)]
    order = epoch_order(5, 0, 0).tolist()
    assert sorted(per_rank[0] + per_rank[1]) == sorted(order + order[:1])


def test_global_batch_must_divide_among_ranks():
    assert per_rank_batch(64, 4) == 16
    with pytest.raises(ValueError, match="data.batch_size=10 .* multiple of 4"):
        per_rank_batch(10, 4)


def test_loader_starts_where_the_trainer_stands():
    dataset = TensorDataset(torch.arange(20))

    class Trainer:
        global_rank, world_size, global_step = 1, 2, 3

    batches = iter(training_loader(dataset, batch_size=4, seed=5, trainer=Trainer()))
    first = next(batches)[0].tolist()
    rank_stream = np.resize(epoch_order(20, 5, 0), 20)[1::2].tolist()
    assert first == rank_stream[3 * 2 : 4 * 2]
    assert next(iter(training_loader(dataset, 4, 5)))[0].tolist() == epoch_order(20, 5, 0)[:4].tolist()
