"""Lightning DataModule for the toy model (its evaluation: :mod:`jetscale.tasks.toy`)."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from jetscale.data.sampling import training_loader
from jetscale.data.toy import ToyPowerLaw


class ToyDataModule(L.LightningDataModule):
    """Train/test splits of ``source`` drawn from ``seed`` (nested in ``n_train``).

    ``batch_size`` is the global batch (``None``: full batch, one step per epoch); the
    training order is :mod:`jetscale.data.sampling`'s resumable stream.
    """

    task = "toy"
    n_val = 0  # no validation split: the toy model trains its steps or is solved in closed form

    def __init__(self, source: ToyPowerLaw, n_train: int, n_test: int, seed: int, batch_size: int | None = None):
        super().__init__()
        if n_train < 1 or n_test < 1:
            raise ValueError(f"n_train and n_test must be >= 1, got {n_train}, {n_test}")
        self.source, self.n_train, self.n_test, self.seed = source, n_train, n_test, seed
        self.batch_size = batch_size or n_train
        self._splits: dict[str, tuple] = {}

    def split(self, name: str):
        """(x, y) numpy float64 arrays of split ``train`` or ``test``, sampled once."""
        if name not in self._splits:
            size = self.n_train if name == "train" else self.n_test
            self._splits[name] = self.source.sample(size, self.seed, name)
        return self._splits[name]

    def train_dataloader(self) -> DataLoader:
        x, y = self.split("train")
        dataset = TensorDataset(torch.from_numpy(x).float(), torch.from_numpy(y).float())
        return training_loader(dataset, self.batch_size, self.seed, self.trainer)
