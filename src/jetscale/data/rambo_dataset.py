"""Data of the generative task ``rambo``: massless RAMBO events at √s for a flow-matching model.

An event is x ∈ R^(3n), its particles' (px, py, pz) divided by √s / n (:func:`to_momenta` maps back,
E_i = |p⃗_i|). Training events are nested (stream ``[seed, 0]``); test and validation events and noise
come from their own streams, so ``test_loss`` and ``val_loss`` are deterministic functions of the
weights. Batches are (x₁, x₀, t) (:mod:`jetscale.models.flow_matching`). Representation, splits, noise
streams: docs/tasks.md#the-data.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from jetscale.data.checks import global_batch, require_integers
from jetscale.data.sampling import stream_position, training_loader
from jetscale.physics.rambo import check_kinematics, rambo

EVENT_STREAM = {"train": 0, "test": 1, "val": 2}  # rambo(seed=[seed, stream])
NOISE_STREAM = {"test": 3, "val": 4, "train": 5}


def to_features(momenta: np.ndarray, sqrt_s: float) -> np.ndarray:
    """Events [N, n, 4] (E, px, py, pz) → float32 [N, 3n] of p⃗ / (√s / n)."""
    n = momenta.shape[-2]
    return (momenta[..., 1:] * (n / sqrt_s)).reshape(len(momenta), 3 * n).astype(np.float32)


def to_momenta(features: np.ndarray, sqrt_s: float) -> np.ndarray:
    """Inverse of :func:`to_features` with massless energies E = |p⃗|: [N, 3n] → float64 [N, n, 4]."""
    x = np.asarray(features, dtype=np.float64)
    n = x.shape[-1] // 3
    p = x.reshape(len(x), n, 3) * (sqrt_s / n)
    return np.concatenate([np.linalg.norm(p, axis=-1, keepdims=True), p], axis=-1)


def noise(shape: tuple[int, int], seed) -> tuple[torch.Tensor, torch.Tensor]:
    """(x₀ ~ N(0, I) float32 ``shape``, t ~ U[0, 1) float32 [shape[0]]) from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    x0 = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
    return x0, torch.from_numpy(rng.random(shape[0], dtype=np.float32))


class NoisyBatches:
    """``collate_fn`` turning items ``(x1,)`` into a flow-matching batch (x1, x0, t): batch k of rank
    ``rank`` draws its noise from ``[seed, 5, rank, k]``, k counting from ``start_step``."""

    def __init__(self, seed: int, rank: int, start_step: int):
        self.seed, self.rank, self.step = seed, rank, start_step

    def __call__(self, items) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x1 = torch.stack([item[0] for item in items])  # [B, d]
        x0, t = noise(tuple(x1.shape), [self.seed, NOISE_STREAM["train"], self.rank, self.step])
        self.step += 1
        return x1, x0, t


class RamboDataModule(L.LightningDataModule):
    """Massless RAMBO events as flow-matching data (docs/tasks.md#the-data); ``batch_size`` None = full batch."""

    task = "rambo"

    def __init__(self, n_particles: int, sqrt_s: float, n_train: int, n_test: int, seed: int, n_val: int = 0,
                 batch_size: int | None = None, n_generate: int = 2000, sample_steps: int = 32):
        super().__init__()
        check_kinematics(n_particles, sqrt_s, None)
        require_integers(("n_train", n_train, 1), ("n_test", n_test, 1), ("n_val", n_val, 0),
                         ("n_generate", n_generate, 1), ("sample_steps", sample_steps, 1))
        self.n_particles, self.sqrt_s, self.seed = int(n_particles), float(sqrt_s), seed
        self.n_train, self.n_test, self.n_val = int(n_train), int(n_test), int(n_val)
        self.n_generate, self.sample_steps = int(n_generate), int(sample_steps)
        self.batch_size = global_batch(batch_size, self.n_train)
        self._events: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        """Dimension 3n of an event's representation."""
        return 3 * self.n_particles

    def events(self, split: str) -> np.ndarray:
        """Four-momenta float64 [N, n, 4] of split ``train``, ``val`` or ``test``, generated once."""
        if split not in EVENT_STREAM:
            raise ValueError(f"no RAMBO split {split!r}; splits: {list(EVENT_STREAM)}")
        if split not in self._events:
            size = {"train": self.n_train, "val": self.n_val, "test": self.n_test}[split]
            self._events[split], _ = rambo(self.n_particles, self.sqrt_s, size, [self.seed, EVENT_STREAM[split]])
        return self._events[split]

    def features(self, split: str) -> torch.Tensor:
        return torch.from_numpy(to_features(self.events(split), self.sqrt_s))

    def fixed_noise_batch(self, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x1, x0, t) of a held-out split with its fixed noise."""
        x1 = self.features(split)
        return (x1, *noise(tuple(x1.shape), [self.seed, NOISE_STREAM[split]]))

    def train_dataloader(self) -> DataLoader:
        rank, _, step = stream_position(self.trainer)
        return training_loader(TensorDataset(self.features("train")), self.batch_size, self.seed, self.trainer,
                               collate_fn=NoisyBatches(self.seed, rank, step))

    def val_dataloader(self) -> DataLoader:
        """The validation split (x1, x0, t) with its fixed noise; there is none when data.n_val = 0."""
        if not self.n_val:
            raise ValueError("no RAMBO validation split: set data.n_val > 0")
        return DataLoader(TensorDataset(*self.fixed_noise_batch("val")), batch_size=self.batch_size)
