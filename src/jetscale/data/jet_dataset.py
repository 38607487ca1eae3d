"""Lazy, memory-bounded access to a jet shard directory (:mod:`jetscale.data.shards`), with nested, balanced subsets.

:class:`JetShardDataset` gives split ``"train"``, ``"val"`` or ``"test"`` of ``n_jets`` (even: half QCD,
half top, interleaved QCD first), nested in every larger subset of the same split; validation and test
jets come from the end and never depend on ``n_train``. Items are dicts: ``constituents`` float32 [C, 4]
(pT, η, φ, E), ``mask``, ``n_constituents``, ``jet`` (pT, η, φ, mass), ``label`` (1.0 top), ``index``.
Any bad shard raises :class:`ShardError` naming the file; files are opened read-only.
Splits, items and memory: docs/jets.md#reading-shards.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import h5py
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from jetscale.data.sampling import training_loader
from jetscale.data.shards import CLASS_NAMES, MANIFEST, ShardError, check_layout, load_manifest, sha256_file

CLASSES = (0, 1)  # item order within each interleaved pair: QCD, then top
SPLITS = ("train", "val", "test")
FROM_THE_END = ("val", "test")  # splits counted from the end of each class
SCALAR_FIELDS = ("label", "n_constituents", "jet")  # read at construction; constituents lazily
DEFAULT_BLOCK_ROWS, MAX_BLOCK_ROWS = 16, 256  # block_rows=None: without row-aligned chunks; cap with them


def jets_per_class(n_jets: int) -> int:
    """k = n_jets / 2; ``n_jets`` must be a positive even integer (classes are balanced)."""
    if n_jets != int(n_jets) or n_jets < 2 or n_jets % 2:
        raise ValueError(f"n_jets must be a positive even number (half top, half QCD), got {n_jets}")
    return int(n_jets) // 2


def interleave(per_class: list[np.ndarray]) -> np.ndarray:
    """[a0, b0, a1, b1, ...] from equal-length arrays [a, b]."""
    return np.stack(per_class, axis=1).reshape(-1)


def trim_batch(batch: dict) -> dict:
    """``batch`` with the padding columns beyond its longest jet cut off ``constituents`` [B, C, 4] and
    ``mask`` [B, C] (at least one column kept); a batch without ``mask`` (EFPs) is returned as it is."""
    if "mask" not in batch:
        return batch
    n = max(1, int(batch["mask"].sum(1).max()))
    return {**batch, "constituents": batch["constituents"][:, :n], "mask": batch["mask"][:, :n]}


class JetShardDataset(Dataset):
    """A balanced, nested subset of a shard directory (rules: docs/jets.md#subsets-and-splits).

    ``n_jets=None`` takes the largest balanced subset available.  Attributes:
    ``indices`` (canonical index of each item), ``labels`` (int8 per item),
    ``width`` (the shards' constituent axis), ``n_particles`` (the items'
    constituent axis C: ``width`` or ``max_constituents`` if smaller),
    ``paths`` (shards in canonical order).
    """

    def __init__(self, directory: str | Path, n_jets: int | None = None, split: str = "train",
                 n_holdout: int = 0, verify: bool = True, block_rows: int | None = None, cached_blocks: int = 8,
                 max_constituents: int | None = None):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if split == "test" and n_holdout:
            raise ValueError("n_holdout reserves jets at the end for later splits; it has no meaning for split='test'")
        if max_constituents is not None and (max_constituents != int(max_constituents) or max_constituents < 1):
            raise ValueError(f"max_constituents must be a positive integer or None (all), got {max_constituents}")
        self.directory, self.split = Path(directory), split
        self.max_constituents = None if max_constituents is None else int(max_constituents)
        self.block_rows, self.cached_blocks = block_rows, max(1, cached_blocks)
        self._block_rows: dict[int, int] = {}  # shard -> rows per block, set when the shard is first opened
        manifest = load_manifest(self.directory, verify=verify)
        self._entries = manifest["shards"]
        self.paths = [self.directory / entry["file"] for entry in self._entries]
        self.offsets = np.concatenate([[0], np.cumsum([entry["n_jets"] for entry in self._entries])]).astype(np.int64)
        self.width: int | None = None  # constituent axis C, set by the first shard opened
        self._reset_process_state()
        held = jets_per_class(n_holdout) if n_holdout else 0
        picked, scalars = self._pick(self._jets_per_class(n_jets, held), skip=held if split in FROM_THE_END else 0)
        self.indices = interleave(picked)
        self._shard = np.searchsorted(self.offsets, self.indices, side="right") - 1
        self._row = self.indices - self.offsets[self._shard]
        per_item = {name: np.empty((len(self),) + values.shape[1:], values.dtype)
                    for name, values in next(iter(scalars.values())).items()}
        for shard, columns in scalars.items():
            here = self._shard == shard
            for name, values in columns.items():
                per_item[name][here] = values[self._row[here]]
        self.labels, self._jet = per_item["label"], per_item["jet"]
        self._n_constituents = np.minimum(per_item["n_constituents"], self.n_particles)  # real rows kept

    @property
    def n_particles(self) -> int:
        """The items' constituent axis C: the shards' width, capped at ``max_constituents``."""
        return self.width if self.max_constituents is None else min(self.width, self.max_constituents)

    # -- subset selection (construction) -------------------------------------------------------

    def class_totals(self) -> dict[int, int]:
        """Jets of each class in the whole dataset, from the manifest."""
        top = sum(entry["n_signal"] for entry in self._entries)
        return {0: int(self.offsets[-1]) - top, 1: top}

    def _jets_per_class(self, n_jets: int | None, held: int) -> int:
        """k for this split, with ``held`` jets of each class reserved at the end for later splits."""
        totals = self.class_totals()
        available = {c: totals[c] - held for c in CLASSES}
        k = min(available.values()) if n_jets is None else jets_per_class(n_jets)
        later = "the test split" if self.split == "val" else "the validation and test splits"
        for c in CLASSES:
            if k > available[c] or k < 1:
                raise ValueError(
                    f"{self.directory}: split {self.split!r} needs {max(k, 1)} {CLASS_NAMES[c]} jets but only "
                    f"{max(available[c], 0)} are available ({totals[c]} in the dataset, {held} held out at the end "
                    f"for {later}); the dataset has {totals[0]} QCD and {totals[1]} top jets")
        return k

    def _pick(self, k: int, skip: int = 0) -> tuple[list[np.ndarray], dict[int, dict[str, np.ndarray]]]:
        """Canonical indices of the first (train) or last (val, test) k jets of each class, in that
        order, after skipping ``skip`` jets of each class from the end (val), and the scalars of every
        shard read on the way."""
        reverse = self.split in FROM_THE_END
        need = dict.fromkeys(CLASSES, k + skip)
        found: dict[int, list[np.ndarray]] = {c: [] for c in CLASSES}
        scalars = {}
        shards = range(len(self.paths) - 1, -1, -1) if reverse else range(len(self.paths))
        for s in shards:
            if not any(need.values()):
                break
            scalars[s] = self._read_scalars(s)
            labels = scalars[s]["label"]
            rows = np.arange(len(labels))[::-1] if reverse else np.arange(len(labels))
            for c in CLASSES:
                hits = rows[labels[rows] == c][: need[c]]
                found[c].append(self.offsets[s] + hits)
                need[c] -= len(hits)
        return [np.concatenate(found[c])[skip:] for c in CLASSES], scalars

    def _read_scalars(self, s: int) -> dict[str, np.ndarray]:
        """``label``, ``n_constituents`` and ``jet`` of a whole shard, checked against the manifest."""
        path, entry = self.paths[s], self._entries[s]
        with self._open(s) as handle:
            try:
                columns = {name: handle[name][:] for name in SCALAR_FIELDS}
            except (OSError, ValueError, KeyError) as err:
                raise ShardError(f"{path}: unreadable shard ({err})") from err
        labels, counts = columns["label"], columns["n_constituents"]
        if not np.isin(labels, CLASSES).all():
            raise ShardError(f"{path}: labels outside {{0, 1}}")
        if int(labels.sum()) != entry["n_signal"]:
            raise ShardError(f"{path}: holds {int(labels.sum())} top jets but the manifest lists {entry['n_signal']}")
        if len(counts) and (counts.min() < 0 or counts.max() > self.width):
            raise ShardError(f"{path}: n_constituents outside [0, {self.width}]")
        return columns

    # -- shard access ---------------------------------------------------------------------------

    def _open(self, s: int) -> h5py.File:
        """Open shard ``s`` read-only, checked by :meth:`_check`; note its block rows."""
        try:
            handle = h5py.File(self.paths[s], "r")
        except OSError as err:
            raise ShardError(f"{self.paths[s]}: unreadable shard ({err})") from err
        try:
            self.width = self._check(s, handle)
        except BaseException:
            handle.close()
            raise
        if s not in self._block_rows:
            shape, chunks = handle["constituents"].shape, handle["constituents"].chunks
            row_aligned = chunks is not None and chunks[1:] == shape[1:]
            auto = min(chunks[0], MAX_BLOCK_ROWS) if row_aligned else DEFAULT_BLOCK_ROWS
            self._block_rows[s] = max(1, self.block_rows or auto)
        return handle

    def _check(self, s: int, handle: h5py.File) -> int:
        """Layout, jet count (against the manifest) and width (against other shards); return the width."""
        path, listed = self.paths[s], self._entries[s]["n_jets"]
        try:
            n, width = check_layout(handle, path), handle["constituents"].shape[1]
        except (OSError, KeyError) as err:
            raise ShardError(f"{path}: unreadable shard ({err})") from err
        if n != listed:
            raise ShardError(f"{path}: holds {n} jets but the manifest lists {listed}")
        if self.width not in (None, width):
            raise ShardError(f"{path}: constituent axis {width}, but other shards of {self.directory} have "
                             f"{self.width}; one dataset needs one width")
        return width

    def _reset_process_state(self) -> None:
        self._pid, self._constituents, self._blocks = os.getpid(), {}, OrderedDict()

    def _block(self, s: int, b: int) -> np.ndarray:
        """Constituents of block ``b`` of shard ``s`` (rows [b·B, (b+1)·B)), via a small per-process LRU cache."""
        if self._pid != os.getpid():  # forked: inherited HDF5 handles must not be used here
            self._reset_process_state()
        key = (s, b)
        if key in self._blocks:
            self._blocks.move_to_end(key)
            return self._blocks[key]
        if s not in self._constituents:
            self._constituents[s] = self._open(s)["constituents"]
        rows = self._block_rows[s]
        start, stop = b * rows, min((b + 1) * rows, int(self._entries[s]["n_jets"]))
        try:
            block = self._constituents[s][start:stop]
        except (OSError, ValueError) as err:
            raise ShardError(f"{self.paths[s]}: unreadable constituents rows [{start}, {stop}) ({err})") from err
        self._blocks[key] = block
        if len(self._blocks) > self.cached_blocks:
            self._blocks.popitem(last=False)
        return block

    def close(self) -> None:
        """Close this process's open shard handles (they reopen on the next read)."""
        if self._pid == os.getpid():
            for dataset in self._constituents.values():
                dataset.file.close()
        self._reset_process_state()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_pid=None, _constituents={}, _blocks=OrderedDict())  # h5py handles cannot be pickled
        return state

    # -- Dataset ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.indices)

    def locations(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each item lives: its shard (an index into ``paths``) and its row there, each int64 [len]."""
        return self._shard, self._row

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        i = range(len(self))[i]  # negative indices; IndexError past the end
        s, row = int(self._shard[i]), int(self._row[i])
        b, j = divmod(row, self._block_rows[s])  # every shard holding an item was opened at construction
        n, width = int(self._n_constituents[i]), self.n_particles
        return {
            "constituents": torch.tensor(self._block(s, b)[j, :width]),
            "mask": torch.arange(width) < n,
            "n_constituents": torch.tensor(n),
            "jet": torch.tensor(self._jet[i]),
            "label": torch.tensor(float(self.labels[i])),
            "index": torch.tensor(int(self.indices[i])),
        }


class JetDataModule(L.LightningDataModule):
    """Train/validation/test loaders over a shard directory: nested, balanced, disjoint (see
    :class:`JetShardDataset`; ``n_val=0``: no validation split).

    Training batches follow :mod:`jetscale.data.sampling`'s resumable stream seeded with ``seed``;
    ``batch_size`` is the global batch (``None``: full batch). Items keep at most ``max_constituents``
    constituents (``None``: all); with ``trim_padding`` every batch a Trainer sees (the
    ``on_after_batch_transfer`` hook) and every batch the task evaluates (:mod:`jetscale.tasks.jets`)
    is cut to its longest jet (:func:`trim_batch`). Checksums are verified once, when the first split is built.
    """

    task = "jets"
    inputs = ("constituents", "mask")  # the batch entries the tagger takes, in order (jetscale.tasks.jets)

    def __init__(self, dataset_dir: str | Path, n_train: int, n_test: int, batch_size: int | None = 256,
                 num_workers: int = 0, seed: int = 0, verify: bool = True, n_val: int = 0,
                 max_constituents: int | None = None, trim_padding: bool = True):
        super().__init__()
        n_val = n_val or 0
        if n_val != int(n_val) or n_val < 0 or n_val % 2:
            raise ValueError(f"n_val must be 0 (no validation split) or a positive even number, got {n_val}")
        self.dataset_dir, self.n_train, self.n_val, self.n_test = Path(dataset_dir), n_train, int(n_val), n_test
        self.batch_size, self.num_workers, self.seed, self.verify = batch_size or n_train, num_workers, seed, verify
        self.max_constituents, self.trim_padding = max_constituents, trim_padding
        self._jets: dict[str, JetShardDataset] = {}

    def data_files(self) -> dict[str, str]:
        """What the data files hold, for a checkpoint's identity (:func:`jetscale.train.training_identity`): the
        manifest's checksum, which lists every shard's, so regenerated shards at the same path never resume a
        checkpoint trained on the old ones."""
        return {"manifest_sha256": sha256_file(self.dataset_dir / MANIFEST)}

    def splits(self) -> tuple[str, ...]:
        """The splits this module has: train, val (if ``n_val``), test."""
        return tuple(split for split in SPLITS if split != "val" or self.n_val)

    def jets(self, split: str) -> JetShardDataset:
        """The split's jet selection, built once (train: ``n_holdout = n_val + n_test``; val: ``n_test``)."""
        if split not in self.splits():
            raise ValueError(f"{self.dataset_dir}: no {split!r} split (splits: {self.splits()}; "
                             "set data.n_val > 0 for a validation split)")
        if split not in self._jets:
            size, held = {"train": (self.n_train, self.n_val + self.n_test), "val": (self.n_val, self.n_test),
                          "test": (self.n_test, 0)}[split]
            self._jets[split] = JetShardDataset(self.dataset_dir, size, split, n_holdout=held,
                                                verify=self.verify and not self._jets,
                                                max_constituents=self.max_constituents)
        return self._jets[split]

    def dataset(self, split: str) -> Dataset:
        """The items of ``split`` (here the :class:`JetShardDataset` itself)."""
        return self.jets(split)

    @property
    def n_particles(self) -> int:
        """The constituent axis C of the items (shards' width, capped at ``max_constituents``)."""
        return self.jets("train").n_particles

    def setup(self, stage: str | None = None) -> None:
        for split in self.splits():
            self.dataset(split)

    def ordered_loader(self, split: str) -> DataLoader:
        """The items of ``split`` in item order (validation, test, evaluation)."""
        return DataLoader(self.dataset(split), batch_size=self.batch_size, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0, shuffle=False)

    def train_dataloader(self) -> DataLoader:
        return training_loader(self.dataset("train"), self.batch_size, self.seed, self.trainer,
                               num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self) -> DataLoader:
        """The whole validation split on every rank (no distributed sampler): every rank computes the same loss."""
        return self.ordered_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self.ordered_loader("test")

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        return trim_batch(batch) if self.trim_padding else batch
