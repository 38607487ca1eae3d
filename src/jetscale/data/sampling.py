"""The order in which training items are seen: one endless, resumable, rank-sharded stream per run.

Epoch e is a permutation of the n training items drawn from ``(seed, e)``
alone, so the order never depends on how a run was interrupted or on how many
processes share it:

* **Stream.** Epochs follow each other without a break, and every batch holds
  exactly ``batch_size`` items (a batch may straddle two epochs).  One training
  step = one batch, so ``global_step`` says where in the stream a run is.
* **Resume.** A run restored at global step t starts reading at item
  t × (per-rank batch) of its rank's stream: the same items, in the same
  order, as the uninterrupted run.
* **DDP.** ``batch_size`` is the *global* batch.  With W ranks, each epoch's
  permutation is padded to a multiple of W by repeating its first items
  (as ``DistributedSampler`` does; no padding when W divides n) and rank r
  takes every W-th item from r; each rank's batch is ``batch_size / W``.  When
  W divides n the W rank batches of a step are exactly the single-process
  batch of that step, so DDP and one process compute the same gradient.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from torch.utils.data import DataLoader, Dataset, Sampler

from jetscale.data.resident import ResidentBatches, resident_setting


def epoch_order(n_items: int, seed: int, epoch: int) -> np.ndarray:
    """The permutation of epoch ``epoch``: a function of ``(seed, epoch)`` only."""
    return np.random.default_rng([seed, epoch]).permutation(n_items)


class StreamSampler(Sampler[int]):
    """Endless stream of item indices for rank ``rank`` of ``world_size``, starting at position ``start``.

    It has no length: training length is set by the number of steps.
    """

    def __init__(self, n_items: int, seed: int, rank: int = 0, world_size: int = 1, start: int = 0):
        if n_items < 1:
            raise ValueError(f"a training stream needs at least one item, got {n_items}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in a world of {world_size}")
        self.n_items, self.seed, self.rank, self.world_size, self.start = n_items, seed, rank, world_size, start

    def rank_orders(self) -> Iterator[np.ndarray]:
        """The stream as arrays: this rank's items of each epoch in turn (int64), the first from ``start``."""
        per_rank = math.ceil(self.n_items / self.world_size)
        epoch, offset = divmod(self.start, per_rank)
        while True:
            order = epoch_order(self.n_items, self.seed, epoch)
            padded = np.resize(order, per_rank * self.world_size)  # repeats the first items to pad
            yield padded[self.rank :: self.world_size][offset:]
            epoch, offset = epoch + 1, 0

    def __iter__(self) -> Iterator[int]:
        for order in self.rank_orders():
            yield from order.tolist()


def per_rank_batch(batch_size: int, world_size: int) -> int:
    """``batch_size`` (global) / ``world_size``; it must divide."""
    if batch_size % world_size:
        raise ValueError(f"data.batch_size={batch_size} is the global batch and must be divisible by the "
                         f"{world_size} training processes; choose a multiple of {world_size}")
    return batch_size // world_size


def stream_position(trainer=None) -> tuple[int, int, int]:
    """(rank, world size, global step) of ``trainer`` (a Lightning Trainer, or None outside one, where a
    run is rank 0 of 1 at its start): where a run stands in its stream."""
    return (trainer.global_rank, trainer.world_size, trainer.global_step) if trainer else (0, 1, 0)


def training_loader(dataset: Dataset, batch_size: int, seed: int, trainer=None,
                    **options) -> DataLoader | ResidentBatches:
    """A DataLoader over ``dataset`` reading this rank's stream from where ``trainer`` stands
    (:func:`stream_position`: the rank, the world size and the restored ``global_step``).

    With a :class:`~jetscale.data.resident.ResidentData` among the trainer's callbacks and a training set
    that fits, the same batches gathered on the trainer's device instead (:mod:`jetscale.data.resident`).
    """
    rank, world, step = stream_position(trainer)
    rank_batch = per_rank_batch(batch_size, world)
    sampler = StreamSampler(len(dataset), seed, rank, world, start=step * rank_batch)
    loader = DataLoader(dataset, batch_size=rank_batch, sampler=sampler, **options)
    setting = resident_setting(trainer)
    return (setting and setting.batches(loader, trainer.strategy.root_device)) or loader
