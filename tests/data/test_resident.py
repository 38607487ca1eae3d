"""A training set held on the device gives the DataLoader path's batches, element for element, or falls back."""

import itertools
import logging
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from jetscale.cli import main
from jetscale.data import EFPDataModule, JetDataModule
from jetscale.data import resident
from jetscale.data.datamodule import ToyDataModule
from jetscale.data.rambo_dataset import RamboDataModule
from jetscale.data.resident import ResidentBatches, ResidentData, index_batches, resident_batches
from jetscale.data.rhm_dataset import RHMDataModule
from jetscale.data.sampling import StreamSampler, training_loader
from jetscale.data.shower_dataset import ShowerDataModule
from jetscale.data.toy import ToyPowerLaw

POSITIONS = [(0, 1, 0), (0, 1, 7), (1, 2, 3)]  # (rank, world size, global step): fresh, resumed, rank 1 of 2


class Trainer:
    """What training_loader reads of a Lightning Trainer."""

    def __init__(self, rank=0, world=1, step=0, callbacks=()):
        self.global_rank, self.world_size, self.global_step, self.callbacks = rank, world, step, list(callbacks)
        self.strategy = type("Strategy", (), {"root_device": torch.device("cpu")})()


def assert_same_batch(got, want):
    """Same structure, and every tensor equal in dtype, shape and values."""
    assert type(got) is type(want)
    if isinstance(want, torch.Tensor):
        assert got.dtype == want.dtype and got.shape == want.shape and torch.equal(got, want)
    elif isinstance(want, dict):
        assert list(got) == list(want)
        for key in want:
            assert_same_batch(got[key], want[key])
    else:
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert_same_batch(a, b)


def assert_resident_equals_loader(module, n_batches=7):
    """For each stream position: the resident path's first batches are the DataLoader path's."""
    for rank, world, step in POSITIONS:
        module.trainer = Trainer(rank, world, step)
        loader = module.train_dataloader()
        assert isinstance(loader, DataLoader)
        setting = ResidentData(on_cpu=True)
        module.trainer = Trainer(rank, world, step, [setting])
        on_device = module.train_dataloader()
        assert isinstance(on_device, ResidentBatches) and setting.data_on_device
        for got, want in zip(itertools.islice(on_device, n_batches), itertools.islice(loader, n_batches)):
            assert_same_batch(got, want)


# --------------------------------------------------------------------------- the index stream


@pytest.mark.parametrize("n, rank, world, start", [(10, 0, 1, 0), (10, 0, 1, 23), (7, 1, 2, 5), (9, 2, 4, 1)])
def test_rank_orders_are_the_sampler_stream_as_arrays(n, rank, world, start):
    sampler = StreamSampler(n, seed=3, rank=rank, world_size=world, start=start)
    arrays = np.concatenate(list(itertools.islice(sampler.rank_orders(), 6)))
    assert arrays.tolist() == list(itertools.islice(iter(sampler), len(arrays)))


@pytest.mark.parametrize("batch", [1, 3, 4, 25])
def test_index_batches_cut_the_stream_into_batches_across_epochs(batch):
    sampler = StreamSampler(10, seed=1, start=3)
    got = list(itertools.islice(index_batches(sampler.rank_orders(), batch, torch.device("cpu")), 12))
    flat = list(itertools.islice(iter(sampler), 12 * batch))
    assert [b.tolist() for b in got] == [flat[i:i + batch] for i in range(0, 12 * batch, batch)]
    assert all(b.dtype == torch.int64 for b in got)


# --------------------------------------------------------------------------- each datamodule


def test_toy_batches():
    assert_resident_equals_loader(ToyDataModule(ToyPowerLaw(latent_dim=50, alpha=1.5, r=0.5), n_train=30, n_test=10, seed=2,
                                                batch_size=8))


def test_jet_batches(tiny_jet_dir):
    module = JetDataModule(tiny_jet_dir, n_train=120, n_test=40, batch_size=20, seed=1)
    assert_resident_equals_loader(module)


def test_jet_batches_read_with_workers(tiny_jet_dir):
    module = JetDataModule(tiny_jet_dir, n_train=120, n_test=40, batch_size=20, seed=1, num_workers=2)
    assert_resident_equals_loader(module, n_batches=3)


def test_efp_batches(tiny_jet_dir, tmp_path):
    jets = shutil.copytree(tiny_jet_dir, tmp_path / tiny_jet_dir.name)
    for shard in sorted(jets.glob("shard-*.h5")):
        assert main(["features", "--shard", str(shard)]) == 0
    assert_resident_equals_loader(EFPDataModule(jets, n_train=120, n_test=40, batch_size=20, seed=1))


def test_shower_batches(tmp_path):
    snapshots = tmp_path / "snapshots.h5"
    snapshots.touch()  # the features function below stands in for the file's EFPs

    def features(path, k, dmax, beta):
        rng = np.random.default_rng(k)
        return {"efp": rng.normal(size=(300, 5)), "thrust": rng.random(300), "event_id": np.arange(300)}

    module = ShowerDataModule(snapshots, k=2, n_train=90, n_test=50, seed=4, batch_size=12, theory=None,
                              features=features)
    assert_resident_equals_loader(module)


def test_rhm_batches():
    module = RHMDataModule(v=8, m=4, s=2, L=3, n_c=8, n_train=40, n_test=10, seed=0, batch_size=8)
    assert_resident_equals_loader(module)


# --------------------------------------------------------------------------- when the DataLoader stays


def test_rambo_with_its_own_collate_keeps_the_dataloader(caplog):
    module = RamboDataModule(n_particles=3, sqrt_s=100.0, n_train=20, n_test=10, seed=0, batch_size=4)
    setting = ResidentData(on_cpu=True)
    module.trainer = Trainer(callbacks=[setting])
    with caplog.at_level(logging.INFO, logger="jetscale.data.resident"):
        loader = module.train_dataloader()
    assert isinstance(loader, DataLoader) and not setting.data_on_device
    assert "own collate_fn (NoisyBatches)" in caplog.text


def test_over_the_threshold_falls_back_with_the_sizes_named(caplog):
    dataset = TensorDataset(torch.zeros(1000, 64))  # 256,000 bytes = 0.24 MB
    setting = ResidentData(max_mb=0.2, on_cpu=True)
    with caplog.at_level(logging.INFO, logger="jetscale.data.resident"):
        loader = training_loader(dataset, 10, 0, Trainer(callbacks=[setting]))
    assert isinstance(loader, DataLoader) and not setting.data_on_device
    assert "takes 0.2 MB, over resident_data.max_mb=0.2" in caplog.text
    assert isinstance(training_loader(dataset, 10, 0, Trainer(callbacks=[ResidentData(0.3, True)])),
                      ResidentBatches)


def test_a_set_over_half_the_free_device_memory_falls_back(monkeypatch):
    monkeypatch.setattr(resident, "free_bytes", lambda device: 1000)
    assert "over 50% of the 0 MB free" in resident.refusal(501, 10**9, torch.device("cpu"))
    assert resident.refusal(500, 10**9, torch.device("cpu")) is None
    loader = training_loader(TensorDataset(torch.zeros(200)), 10, 0)  # 800 bytes
    assert resident_batches(loader, "cpu", 10**9) is None


def test_off_by_default_on_the_cpu_and_with_max_mb_zero_or_null():
    dataset = TensorDataset(torch.arange(20.0))
    for setting in (ResidentData(), ResidentData(0, True), ResidentData(None, True)):
        assert isinstance(training_loader(dataset, 4, 0, Trainer(callbacks=[setting])), DataLoader)
    with pytest.raises(ValueError, match="resident_data.max_mb must be >= 0"):
        ResidentData(-1)


def test_items_that_are_not_tensors_keep_the_dataloader(caplog):
    class Named(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return {"x": torch.tensor(float(i)), "name": f"item {i}"}

    with caplog.at_level(logging.INFO, logger="jetscale.data.resident"):
        assert resident_batches(training_loader(Named(), 2, 0), "cpu", 10**9) is None
    assert "of type str cannot be gathered" in caplog.text


def test_outside_a_trainer_the_core_gives_the_loaders_batches_with_python_numbers():
    class Numbers(Dataset):
        def __len__(self):
            return 11

        def __getitem__(self, i):
            return (torch.full((2, 3), i, dtype=torch.float16), float(i) / 3, i, np.int32(i))

    loader = training_loader(Numbers(), 4, seed=9)
    batches = resident_batches(loader, "cpu", 10**6)
    for got, want in zip(itertools.islice(batches, 8), itertools.islice(loader, 8)):
        assert_same_batch(got, want)


def test_an_accelerator_takes_the_data_without_on_cpu_and_its_free_memory_counts(monkeypatch):
    calls = []
    monkeypatch.setattr(resident, "resident_batches", lambda loader, device, max_bytes: calls.append(
        (device.type, max_bytes)) or "batches")
    loader = training_loader(TensorDataset(torch.zeros(10)), 2, 0)
    assert ResidentData(max_mb=3).batches(loader, torch.device("cuda")) == "batches"
    assert ResidentData(max_mb=3).batches(loader, torch.device("cpu")) is None
    assert calls == [("cuda", 3 * 2**20)]
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (1000, 5000))
    assert resident.free_bytes(torch.device("cuda")) == 1000
    assert resident.free_bytes(torch.device("cpu")) is None


def test_a_long_read_logs_its_progress(monkeypatch, caplog):
    monkeypatch.setattr(resident, "PROGRESS_S", -1.0)
    monkeypatch.setattr(resident, "READ_BATCH", 4)
    with caplog.at_level(logging.INFO, logger="jetscale.data.resident"):
        resident_batches(training_loader(TensorDataset(torch.arange(10.0)), 2, 0), "cpu", 10**6)
    assert "read 4 of 10 training items (40%" in caplog.text and "read 10 of 10" in caplog.text
