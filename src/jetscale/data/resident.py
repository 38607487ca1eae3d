"""A small training set held on the training device: read once, then every batch gathered there by index.

:func:`resident_batches` turns the loader of :func:`jetscale.data.sampling.training_loader` into the same
batches (structure, dtypes, shapes, values, order: the loader's ``StreamSampler`` stream) gathered from the
whole training set stacked on ``device``, or None (with an info line) when the set is over ``max_bytes``, over
half the device's free memory, or not made of tensors by the default collate. :class:`ResidentData` carries
the ``resident_data`` setting to ``training_loader`` through a Trainer's callbacks. Rules: docs/gpu.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, default_collate

log = logging.getLogger(__name__)
READ_BATCH = 1024  # items per read of the training set
FREE_SHARE = 0.5  # the data may take at most this share of the device's free memory (the rest: model, steps)
PROGRESS_S = 10.0  # a read that takes longer logs its progress this often
MB = 2**20


def tree_map(fn: Callable[[torch.Tensor], torch.Tensor], tree):
    """``tree`` (tensors in dicts, lists and tuples, as ``default_collate`` makes them) with ``fn`` applied to
    every tensor; TypeError on anything else."""
    if isinstance(tree, torch.Tensor):
        return fn(tree)
    if type(tree) is dict:
        return {key: tree_map(fn, value) for key, value in tree.items()}
    if type(tree) in (list, tuple):
        return type(tree)(tree_map(fn, value) for value in tree)
    raise TypeError(f"a batch entry of type {type(tree).__name__} cannot be gathered on a device")


def tensors(tree) -> list[torch.Tensor]:
    """The tensors of ``tree`` (see :func:`tree_map`), in order."""
    found = []
    tree_map(found.append, tree)
    return found


def index_batches(orders: Iterator[np.ndarray], batch_size: int, device: torch.device) -> Iterator[torch.Tensor]:
    """Consecutive ``batch_size``-long slices of the concatenated ``orders`` (a batch may straddle two), as
    int64 tensors on ``device``; each order is moved there once."""
    pending = torch.empty(0, dtype=torch.int64, device=device)
    for order in orders:
        pending = torch.cat([pending, torch.as_tensor(np.ascontiguousarray(order), dtype=torch.int64).to(device)])
        whole = len(pending) // batch_size * batch_size
        if whole:  # (split of an empty tensor gives one empty batch)
            yield from pending[:whole].split(batch_size)
        pending = pending[whole:]


class ResidentBatches:
    """The batches of a ``StreamSampler`` stream gathered from ``stacked`` (the whole training set, collated,
    on one device). Each ``iter`` starts at the sampler's ``start``, as a DataLoader's does."""

    def __init__(self, stacked, sampler, batch_size: int):
        self.stacked, self.sampler, self.batch_size = stacked, sampler, batch_size
        self.device = tensors(stacked)[0].device

    def __iter__(self):
        for index in index_batches(self.sampler.rank_orders(), self.batch_size, self.device):
            yield tree_map(lambda values: values.index_select(0, index), self.stacked)


def free_bytes(device: torch.device) -> int | None:
    """Free memory of an accelerator (None on the CPU, or where torch cannot tell)."""
    backend = getattr(torch, device.type, None)
    if device.type == "cpu" or not hasattr(backend, "mem_get_info"):
        return None
    return int(backend.mem_get_info(device)[0])


def refusal(n_bytes: int, max_bytes: int, device: torch.device) -> str | None:
    """Why a training set of ``n_bytes`` may not go to ``device`` (None: it may)."""
    if n_bytes > max_bytes:
        return f"the training set takes {n_bytes / MB:.1f} MB, over resident_data.max_mb={max_bytes / MB:g}"
    free = free_bytes(device)
    if free is not None and n_bytes > FREE_SHARE * free:
        return (f"the training set takes {n_bytes / MB:.1f} MB, over {FREE_SHARE:.0%} of the {free / MB:.0f} MB "
                f"free on {device}")
    return None


def stack(loader: DataLoader, device: torch.device, first):
    """The whole of ``loader.dataset`` collated in item order on ``device`` (read with the loader's workers),
    laid out like ``first`` (one collated item)."""
    dataset, n = loader.dataset, len(loader.dataset)
    stacked = tree_map(lambda t: torch.empty((n, *t.shape[1:]), dtype=t.dtype, device=device), first)
    reader = DataLoader(dataset, batch_size=READ_BATCH, shuffle=False, num_workers=loader.num_workers)
    start = last_report = time.monotonic()
    done = 0
    for chunk in reader:
        size = len(tensors(chunk)[0])
        for whole, part in zip(tensors(stacked), tensors(chunk)):
            whole[done:done + size].copy_(part)
        done += size
        if time.monotonic() - last_report > PROGRESS_S:
            last_report = time.monotonic()
            log.info("resident data: read %d of %d training items (%.0f%%, %.0f s)", done, n, 100 * done / n,
                     last_report - start)
    return stacked


def resident_batches(loader: DataLoader, device: torch.device | str, max_bytes: int) -> ResidentBatches | None:
    """``loader``'s batches (a :func:`~jetscale.data.sampling.training_loader`) gathered on ``device`` from its
    whole dataset held there, or None (logged) where they cannot be: see the module docstring."""
    device = torch.device(device)
    if loader.collate_fn is not default_collate:
        log.info("resident data: this loader has its own collate_fn (%s); batches come through the DataLoader",
                 type(loader.collate_fn).__name__)
        return None
    first = default_collate([loader.dataset[0]])
    try:
        n_bytes = len(loader.dataset) * sum(t.numel() * t.element_size() for t in tensors(first))
    except TypeError as err:
        log.info("resident data: %s; batches come through the DataLoader", err)
        return None
    why = refusal(n_bytes, max_bytes, device)
    if why:
        log.info("resident data: %s; batches come through the DataLoader", why)
        return None
    start = time.monotonic()
    stacked = stack(loader, device, first)
    log.info("resident data: %d training items (%.1f MB) on %s in %.1f s; batches are gathered there",
             len(loader.dataset), n_bytes / MB, device, time.monotonic() - start)
    return ResidentBatches(stacked, loader.sampler, loader.batch_size)


class ResidentData(L.Callback):
    """The ``resident_data`` setting, for :func:`~jetscale.data.sampling.training_loader` to find among a
    Trainer's callbacks: training sets of at most ``max_mb`` (0 or None: never) go to an accelerator, and to
    the CPU too with ``on_cpu``. ``data_on_device`` says whether they did."""

    def __init__(self, max_mb: float | None = 4096, on_cpu: bool = False):
        if max_mb is not None and max_mb < 0:
            raise ValueError(f"resident_data.max_mb must be >= 0 (0 or null: off), got {max_mb}")
        self.max_mb, self.on_cpu = max_mb, bool(on_cpu)
        self.data_on_device = False

    def batches(self, loader: DataLoader, device: torch.device) -> ResidentBatches | None:
        """:func:`resident_batches` of ``loader`` on ``device`` if this setting sends data there, else None."""
        if not self.max_mb or (device.type == "cpu" and not self.on_cpu):
            return None
        resident = resident_batches(loader, device, int(self.max_mb * MB))
        self.data_on_device = resident is not None
        return resident


def resident_setting(trainer) -> ResidentData | None:
    """The :class:`ResidentData` among ``trainer``'s callbacks (None: no trainer, or none there)."""
    return next((c for c in getattr(trainer, "callbacks", ()) if isinstance(c, ResidentData)), None)
