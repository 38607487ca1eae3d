"""Lightning DataModule of the Random Hierarchy Model task (``task=rhm``; grammar: :mod:`jetscale.data.rhm`).

``rules_seed`` draws the grammar (fixed for a sweep), ``seed`` the data. One distinct sample is split into
test, validation and (nested) training data. Items are dicts: ``leaves`` float32 [s^L, v] one-hot and
``label`` int64 []. The grammar goes to ``rhm_rules.json`` (:meth:`write_artifacts`).
Seeds and splits: docs/tasks.md#the-datamodule.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from jetscale.data.checks import global_batch, require_integers
from jetscale.data.rhm import RandomHierarchy
from jetscale.data.sampling import training_loader

RULES_FILE = "rhm_rules.json"
EVAL_BATCH = 4096  # data per forward pass in evaluation and validation
SPLIT_ORDER = ("test", "val", "train")  # consecutive blocks of the one distinct sample


class OneHotLeaves(Dataset):
    """Items ``{"leaves": one-hot float32 [T, v], "label": int64 []}`` of int leaves [n, T] and labels [n]."""

    def __init__(self, leaves: np.ndarray, labels: np.ndarray, vocab: int):
        self.leaves, self.labels, self.vocab = torch.from_numpy(leaves), torch.from_numpy(labels), vocab

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"leaves": F.one_hot(self.leaves[i], self.vocab).float(), "label": self.labels[i]}


class RHMDataModule(L.LightningDataModule):
    """Distinct, disjoint, nested train/val/test samples of an RHM grammar (docs/tasks.md#the-datamodule).

    ``batch_size`` is the global training batch (``None``: full batch); ``n_val=0``: no validation split.
    """

    task = "rhm"

    def __init__(self, v: int, m: int, s: int, L: int, n_c: int, n_train: int, n_test: int, seed: int = 0,
                 rules_seed: int = 0, n_val: int = 0, batch_size: int | None = 128):
        super().__init__()
        n_val = n_val or 0
        require_integers(("n_train", n_train, 1), ("n_test", n_test, 1), ("n_val", n_val, 0))
        self.grammar = RandomHierarchy(v=v, m=m, s=s, L=L, n_c=n_c, seed=rules_seed)
        total = n_train + n_val + n_test
        if total > self.grammar.n_data:
            raise ValueError(f"data.n_train={n_train} + data.n_val={n_val} + data.n_test={n_test} = {total} "
                             f"exceeds the {self.grammar.n_data} distinct data of the grammar "
                             f"(v={v}, m={m}, s={s}, L={L}, n_c={n_c})")
        self.n_train, self.n_val, self.n_test, self.seed = int(n_train), int(n_val), int(n_test), seed
        self.batch_size = global_batch(batch_size, self.n_train)
        self._splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def split_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Leaves int [n, s^L] and labels int [n] of split ``name`` (train, val or test), sampled once."""
        if not self._splits:
            sizes = {"test": self.n_test, "val": self.n_val, "train": self.n_train}
            leaves, labels = self.grammar.sample(sum(sizes.values()), self.seed)
            bounds = np.cumsum([0] + [sizes[split] for split in SPLIT_ORDER])
            for split, start, stop in zip(SPLIT_ORDER, bounds[:-1], bounds[1:]):
                self._splits[split] = leaves[start:stop], labels[start:stop]
        if name not in self._splits:
            raise ValueError(f"no RHM split {name!r}; splits: {SPLIT_ORDER}")
        return self._splits[name]

    def dataset(self, name: str) -> OneHotLeaves:
        return OneHotLeaves(*self.split_data(name), self.grammar.v)

    def train_dataloader(self) -> DataLoader:
        return training_loader(self.dataset("train"), self.batch_size, self.seed, self.trainer)

    def val_dataloader(self) -> DataLoader:
        """The whole validation split on every rank: every rank computes the same loss."""
        if not self.n_val:
            raise ValueError("no RHM validation split: set data.n_val > 0")
        return DataLoader(self.dataset("val"), batch_size=EVAL_BATCH, shuffle=False)

    def write_artifacts(self, run_dir: Path) -> None:
        """``rhm_rules.json``: the grammar (parameters, rules seed, n_data, sample complexity, rules)."""
        self.grammar.save_rules(Path(run_dir) / RULES_FILE)
