"""EFP features of the jets that :class:`~jetscale.data.jet_dataset.JetDataModule` selects, for the EFP taggers.

:class:`EFPDataModule` picks exactly ``JetDataModule``'s train, validation and test jets, in the same
order, and reads their rows from each shard's EFP cache (``<shard stem>.efp-d<dmax>-b<beta>.h5``, made by
``jetscale features``). Items: ``efp`` float32 [E] (E = 102 for dmax 5), ``label`` (1.0 top), ``index``.
A missing, mismatched or foreign cache raises :class:`~jetscale.data.shards.ShardError` naming the files.
Details: docs/jets.md#the-efp-taggers-data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from jetscale.data.efp_cache import check_efp_cache, efp_cache_path, features_command, read_efp_cache
from jetscale.data.jet_dataset import JetDataModule, JetShardDataset
from jetscale.data.shards import ShardError, load_manifest


def read_selected_efps(jets: JetShardDataset, checksums: list[str], dmax: int = 5,
                       beta: float = 1.0) -> np.ndarray:
    """EFPs of the items of ``jets``, in item order: float64 [len(jets), E], from the checked caches.

    ``checksums[s]`` is the manifest's sha256 of ``jets.paths[s]``.
    """
    shard_of, row_of = jets.locations()
    efp: np.ndarray | None = None
    for s in np.unique(shard_of):
        here = np.flatnonzero(shard_of == s)
        rows = row_of[here]
        shard = jets.paths[s]
        cache = efp_cache_path(shard, dmax, beta)
        check_efp_cache(cache, shard, checksums[s], int(jets.offsets[s + 1] - jets.offsets[s]), dmax, beta)
        lo = int(rows.min())
        block = read_efp_cache(cache, lo, int(rows.max()) + 1)
        if not np.array_equal(block["label"][rows - lo], jets.labels[here]):
            raise ShardError(f"{cache}: labels disagree with {shard}; remake it with "
                             f"{features_command(shard, dmax, beta)}")
        if efp is None:
            efp = np.empty((len(jets), block["efp"].shape[1]))
        efp[here] = block["efp"][rows - lo]
    return efp


class EFPDataset(Dataset):
    """In-memory EFP items (see the module docstring) from float64 features [n, E], labels and indices."""

    def __init__(self, efp: np.ndarray, labels: np.ndarray, indices: np.ndarray):
        if not len(efp) == len(labels) == len(indices):
            raise ValueError(f"efp, labels and indices differ in length: {len(efp)}, {len(labels)}, {len(indices)}")
        self.mean, self.std = efp.mean(axis=0), efp.std(axis=0)  # float64 [E], before the float32 copy
        self.efp = torch.as_tensor(efp, dtype=torch.float32)
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.float32)
        self.indices = torch.as_tensor(np.asarray(indices), dtype=torch.int64)

    @property
    def n_features(self) -> int:
        return self.efp.shape[1]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"efp": self.efp[i], "label": self.labels[i], "index": self.indices[i]}


class EFPDataModule(JetDataModule):
    """:class:`JetDataModule`'s train/validation/test jets (loaders, ``task``) with EFP items.

    ``n_features``, if given, must equal the caches' EFP count (102, 314, 1000 for
    ``dmax`` 5, 6, 7): the config passes the same value to the model.  ``options``
    go to :class:`JetDataModule` (``batch_size``, ``n_val``, ``seed``, ...;
    ``max_constituents`` and ``trim_padding`` change nothing here: EFP items
    have no constituents).
    """

    inputs = ("efp",)

    def __init__(self, dataset_dir: str | Path, n_train: int, n_test: int, dmax: int = 5, beta: float = 1.0,
                 n_features: int | None = None, **options):
        super().__init__(dataset_dir, n_train, n_test, **options)
        self.dmax, self.beta, self.n_features = int(dmax), float(beta), n_features
        self._features: dict[str, EFPDataset] = {}

    def dataset(self, split: str) -> EFPDataset:
        """The ``train``, ``val`` or ``test`` :class:`EFPDataset` of :meth:`jets`, read once."""
        if split not in self._features:
            jets = self.jets(split)
            checksums = [entry["sha256"] for entry in load_manifest(self.dataset_dir, verify=False)["shards"]]
            built = EFPDataset(read_selected_efps(jets, checksums, self.dmax, self.beta), jets.labels, jets.indices)
            if self.n_features is not None and built.n_features != self.n_features:
                raise ShardError(f"{self.dataset_dir}: the d<={self.dmax} EFP caches hold {built.n_features} features, "
                                 f"but n_features={self.n_features} (set data.n_features={built.n_features})")
            self._features[split] = built
        return self._features[split]

    def feature_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the training EFPs: float64 [E] each."""
        train = self.dataset("train")
        return train.mean, train.std
