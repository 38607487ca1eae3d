"""JetShardDataset and JetDataModule on small synthetic shard directories (3 shards x 40 jets)."""

from __future__ import annotations
import itertools

import json
import pickle

import h5py
import numpy as np
import pytest
import torch

from jetscale.data.jet_dataset import DEFAULT_BLOCK_ROWS, JetDataModule, JetShardDataset
from jetscale.data.shards import ShardError, read_shard, sha256_file, shard_name, write_manifest, write_shard
from jetscale.tasks import jets

N_SHARDS, PER_SHARD, WIDTH = 3, 40, 16


def synthetic_arrays(n: int, seed: int, width: int = WIDTH) -> dict:
    """Random jets in the shard layout: pT-ordered, zero-padded constituents, labels mixed."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, width + 1, n).astype(np.int32)
    constituents = np.zeros((n, width, 4), np.float32)
    for i, c in enumerate(counts):
        pt = np.sort(rng.exponential(50.0, c))[::-1]
        constituents[i, :c] = np.stack([pt, rng.normal(0, 1, c), rng.uniform(-np.pi, np.pi, c), pt * 1.5], -1)
    return {"constituents": constituents, "n_constituents": counts,
            "jet": rng.normal(100, 10, (n, 4)).astype(np.float32),
            "label": (rng.random(n) < 0.5).astype(np.int8)}


def make_dataset(directory, n_shards: int = N_SHARDS, per_shard: int = PER_SHARD):
    for s in range(n_shards):
        write_shard(directory / shard_name(s), synthetic_arrays(per_shard, seed=s), {"generator": "test"})
    write_manifest(directory)
    return directory


def all_labels(directory) -> np.ndarray:
    return np.concatenate([read_shard(directory / shard_name(s), fields=("label",))["label"] for s in range(N_SHARDS)])


@pytest.fixture
def shards(tmp_path):
    return make_dataset(tmp_path / "jets")


def test_train_subset_is_first_jets_of_each_class_interleaved(shards):
    labels = all_labels(shards)
    ds = JetShardDataset(shards, n_jets=30)
    assert len(ds) == 30
    expected = np.stack([np.flatnonzero(labels == 0)[:15], np.flatnonzero(labels == 1)[:15]], 1).reshape(-1)
    np.testing.assert_array_equal(ds.indices, expected)
    np.testing.assert_array_equal(ds.labels, np.tile([0, 1], 15))
    assert [float(ds[i]["label"]) for i in range(4)] == [0.0, 1.0, 0.0, 1.0]


def test_subsets_are_nested_prefixes(shards):
    big = JetShardDataset(shards, n_jets=50)
    for n in (2, 10, 30):
        small = JetShardDataset(shards, n_jets=n)
        np.testing.assert_array_equal(small.indices, big.indices[:n])
        assert set(small.indices) <= set(big.indices)
        for i in (0, n - 1):
            torch.testing.assert_close(small[i], big[i])


def test_test_split_takes_the_last_jets_and_is_nested(shards):
    labels = all_labels(shards)
    test = JetShardDataset(shards, n_jets=10, split="test")
    last = [np.flatnonzero(labels == c)[::-1][:5] for c in (0, 1)]
    np.testing.assert_array_equal(test.indices, np.stack(last, 1).reshape(-1))
    np.testing.assert_array_equal(JetShardDataset(shards, n_jets=4, split="test").indices, test.indices[:4])


def test_holdout_keeps_train_and_test_disjoint_and_errors_name_the_class(shards):
    labels = all_labels(shards)
    per_class = {c: int((labels == c).sum()) for c in (0, 1)}
    smaller = min(per_class.values())
    test = JetShardDataset(shards, n_jets=10, split="test")
    train = JetShardDataset(shards, n_jets=2 * smaller - 10, n_holdout=10)
    assert not set(train.indices) & set(test.indices)
    name = "QCD" if per_class[0] == smaller else "top"
    with pytest.raises(ValueError, match=rf"jets.*needs {smaller - 4} {name} jets but only {smaller - 5}") as err:
        JetShardDataset(shards, n_jets=2 * smaller - 8, n_holdout=10)
    assert f"{per_class[0]} QCD and {per_class[1]} top" in str(err.value)


def test_default_size_is_largest_balanced_subset(shards):
    labels = all_labels(shards)
    assert len(JetShardDataset(shards)) == 2 * min((labels == 0).sum(), (labels == 1).sum())


@pytest.mark.parametrize("n_jets", [0, 7, -2, 10.5])
def test_odd_or_non_positive_size_is_an_error(shards, n_jets):
    with pytest.raises(ValueError, match="positive even"):
        JetShardDataset(shards, n_jets=n_jets)


def test_items_match_the_shard_rows(shards):
    ds = JetShardDataset(shards, n_jets=60, block_rows=7)
    for i in (0, 1, 17, 59, -1):
        item, canonical = ds[i], int(ds.indices[i])
        shard, row = divmod(canonical, PER_SHARD)
        ref = read_shard(shards / shard_name(shard), row, row + 1)
        torch.testing.assert_close(item["constituents"], torch.from_numpy(ref["constituents"][0]))
        torch.testing.assert_close(item["jet"], torch.from_numpy(ref["jet"][0]))
        n = int(ref["n_constituents"][0])
        assert item["n_constituents"].item() == n and item["mask"].sum().item() == n and item["mask"][:n].all()
        assert item["label"].dtype == torch.float32 and item["label"].item() == ref["label"][0]
        assert item["index"].item() == canonical
    with pytest.raises(IndexError):
        ds[60]


def rechunk(directory, chunks: tuple) -> None:
    """Rewrite every shard with these HDF5 chunks of ``constituents``."""
    for s in range(N_SHARDS):
        arrays = read_shard(directory / shard_name(s))
        with h5py.File(directory / shard_name(s), "w") as handle:
            for name, values in arrays.items():
                handle.create_dataset(name, data=values, chunks=chunks if name == "constituents" else None)
    write_manifest(directory)


def recorded_reads(monkeypatch, ds) -> list:
    """Every h5py read made while reading all items of ``ds``."""
    reads, original = [], h5py.Dataset.__getitem__

    def recording(self, key):
        reads.append((self.name, key))
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", recording)
    for i in range(len(ds)):
        ds[i]
    monkeypatch.undo()
    return reads


@pytest.mark.parametrize("block_rows, chunks, expected", [
    (8, None, 8),                             # explicit
    (None, (10, WIDTH, 4), 10),               # row-aligned chunks: one chunk's rows
    (None, (5, 4, 4), DEFAULT_BLOCK_ROWS),    # chunks that split a jet: the default
])
def test_reads_are_block_bounded_never_a_whole_shard(shards, monkeypatch, block_rows, chunks, expected):
    if chunks:
        rechunk(shards, chunks)
    ds = JetShardDataset(shards, n_jets=60, block_rows=block_rows)
    reads = recorded_reads(monkeypatch, ds)
    assert {name for name, _ in reads} == {"/constituents"}  # the scalars were read at construction
    assert all(isinstance(key, slice) for _, key in reads)
    assert max(key.stop - key.start for _, key in reads) == expected < PER_SHARD


def test_dataloader_workers_give_the_same_batches(shards):
    module = JetDataModule(shards, n_train=40, n_test=10, batch_size=8, num_workers=0, seed=3)
    serial = list(itertools.islice(module.train_dataloader(), 12))  # opens HDF5 handles in this process ...
    module.num_workers = 2
    parallel = list(itertools.islice(module.train_dataloader(), 12))  # ... which forked workers must not reuse
    assert len(serial) == len(parallel) == 12  # the training stream is endless: 2.4 epochs here
    for a, b in zip(serial, parallel):
        torch.testing.assert_close(a, b)


def test_dataset_pickles_after_reading(shards):
    ds = JetShardDataset(shards, n_jets=10)
    first = ds[0]
    clone = pickle.loads(pickle.dumps(ds))
    torch.testing.assert_close(clone[0], first)
    ds.close()
    torch.testing.assert_close(ds[0], first)


def test_datamodule_splits_are_disjoint_seeded_and_report_the_task(shards):
    module = JetDataModule(shards, n_train=40, n_test=20, batch_size=16, seed=0)
    module.setup()
    assert module.task == "jets" and jets.theory_loss(module, 8, 1e-3) is None
    assert not set(module.dataset("train").indices) & set(module.dataset("test").indices)
    first = [b["index"] for b in itertools.islice(module.train_dataloader(), 5)]
    again = [b["index"] for b in itertools.islice(JetDataModule(shards, 40, 20, 16, seed=0).train_dataloader(), 5)]
    other = [b["index"] for b in itertools.islice(JetDataModule(shards, 40, 20, 16, seed=1).train_dataloader(), 5)]
    assert sorted(torch.cat(first)[:40].tolist()) == sorted(module.dataset("train").indices.tolist())  # one epoch
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    test = torch.cat([b["index"] for b in module.test_dataloader()])
    np.testing.assert_array_equal(test.numpy(), module.dataset("test").indices)


def checksums(directory) -> dict:
    return {p.name: sha256_file(p) for p in sorted(directory.iterdir())}


def test_flipped_byte_is_a_checksum_error_naming_the_file(shards):
    victim = shards / shard_name(1)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    before = checksums(shards)
    with pytest.raises(ShardError, match=rf"{victim}.*checksum mismatch"):
        JetShardDataset(shards, n_jets=4)
    assert checksums(shards) == before


def test_truncated_shard_fails_only_when_read_and_names_the_file(shards):
    victim = shards / shard_name(2)
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    before = checksums(shards)
    small = JetShardDataset(shards, n_jets=10, verify=False)  # lives in shard 0: shard 2 is never opened
    assert all(small.indices < PER_SHARD) and small[9]["index"] < PER_SHARD
    with pytest.raises(ShardError, match=rf"{victim}"):
        JetShardDataset(shards, verify=False)
    assert checksums(shards) == before


def test_wrong_width_or_count_is_an_error_naming_the_file(shards):
    write_shard(shards / shard_name(1), synthetic_arrays(PER_SHARD, seed=1, width=WIDTH + 2), {"generator": "test"})
    write_manifest(shards)
    with pytest.raises(ShardError, match=rf"{shards / shard_name(1)}: constituent axis {WIDTH + 2}"):
        JetShardDataset(shards, n_jets=2 * PER_SHARD)

    write_shard(shards / shard_name(1), synthetic_arrays(PER_SHARD, seed=1), {"generator": "test"})
    write_manifest(shards)
    manifest = json.loads((shards / "manifest.json").read_text())
    manifest["shards"][1]["n_jets"] += 1
    (shards / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ShardError, match=rf"{shards / shard_name(1)}: holds {PER_SHARD} jets but the manifest lists"):
        JetShardDataset(shards, n_jets=2 * PER_SHARD, verify=False)


def test_wrong_rank_is_an_error_naming_the_file(shards):
    victim = shards / shard_name(0)
    with h5py.File(victim, "a") as handle:
        del handle["jet"]
        handle["jet"] = np.zeros((PER_SHARD, 3), np.float32)
    with pytest.raises(ShardError, match=rf"{victim}: dataset 'jet' has shape \({PER_SHARD}, 3\)"):
        JetShardDataset(shards, n_jets=4, verify=False)


# -- validation split ---------------------------------------------------------------------------


def from_the_end(labels: np.ndarray, skip: int, k: int) -> np.ndarray:
    """Interleaved canonical indices of the k jets of each class before the last ``skip`` of that class."""
    return np.stack([np.flatnonzero(labels == c)[::-1][skip : skip + k] for c in (0, 1)], 1).reshape(-1)


def test_validation_jets_sit_just_before_the_test_jets_and_ignore_n_train(shards):
    labels = all_labels(shards)
    modules = [JetDataModule(shards, n_train=n, n_test=10, n_val=12, batch_size=8) for n in (4, 30)]
    for module in modules:
        module.setup()
        train, val, test = (set(module.dataset(s).indices) for s in ("train", "val", "test"))
        assert not (train & val or train & test or val & test)
    val = modules[0].dataset("val")
    np.testing.assert_array_equal(val.indices, from_the_end(labels, skip=5, k=6))
    np.testing.assert_array_equal(val.labels, np.tile([0, 1], 6))
    np.testing.assert_array_equal(modules[1].dataset("val").indices, val.indices)  # same jets at every n_train
    smaller = JetDataModule(shards, n_train=30, n_test=10, n_val=4).dataset("val")
    np.testing.assert_array_equal(smaller.indices, val.indices[:4])  # nested in n_val
    np.testing.assert_array_equal(modules[1].dataset("train").indices, JetShardDataset(shards, 30).indices)
    batches = list(modules[0].val_dataloader())
    np.testing.assert_array_equal(torch.cat([b["index"] for b in batches]).numpy(), val.indices)


def test_train_may_not_reach_into_the_validation_jets(shards):
    labels = all_labels(shards)
    smaller = min((labels == c).sum() for c in (0, 1))
    fits = JetDataModule(shards, n_train=2 * smaller - 20, n_test=10, n_val=10)
    assert len(fits.dataset("train")) == 2 * smaller - 20
    too_many = JetDataModule(shards, n_train=2 * smaller - 18, n_test=10, n_val=10)
    with pytest.raises(ValueError, match=rf"{shards}: split 'train' needs {smaller - 9} .* only {smaller - 10} .*"
                                         r"10 held out at the end for the validation and test splits"):
        too_many.dataset("train")
    with pytest.raises(ValueError, match=r"split 'val' needs .* held out at the end for the test split"):
        JetDataModule(shards, n_train=2, n_test=10, n_val=2 * smaller).dataset("val")
    with pytest.raises(ValueError, match="n_val must be 0"):
        JetDataModule(shards, n_train=2, n_test=10, n_val=3)
    with pytest.raises(ValueError, match=r"no 'val' split .*data\.n_val"):
        JetDataModule(shards, n_train=2, n_test=10).dataset("val")


# -- max_constituents and trimmed batches ------------------------------------------------------


def test_max_constituents_keeps_the_hardest_particles_and_a_consistent_mask(shards):
    full, cut = JetShardDataset(shards, n_jets=60), JetShardDataset(shards, n_jets=60, max_constituents=5)
    assert (full.n_particles, cut.n_particles, cut.width) == (WIDTH, 5, WIDTH)
    assert JetShardDataset(shards, n_jets=4, max_constituents=1000).n_particles == WIDTH
    np.testing.assert_array_equal(cut.indices, full.indices)
    counts = np.array([int(full[i]["n_constituents"]) for i in range(60)])
    assert counts.min() < 5 < counts.max()  # both kinds of jets are here
    for i in range(60):
        item, whole = cut[i], full[i]
        n = min(counts[i], 5)
        assert item["constituents"].shape == (5, 4) and item["mask"].shape == (5,)
        torch.testing.assert_close(item["constituents"], whole["constituents"][:5])
        assert int(item["n_constituents"]) == n and item["mask"].sum() == n and item["mask"][:n].all()
    with pytest.raises(ValueError, match="max_constituents must be a positive integer"):
        JetShardDataset(shards, n_jets=4, max_constituents=0)


def test_trimmed_batches_lose_only_padding_columns(shards):
    from jetscale.data.jet_dataset import trim_batch

    module = JetDataModule(shards, n_train=40, n_test=10, batch_size=4, seed=0)
    for batch in itertools.islice(module.train_dataloader(), 10):
        trimmed = trim_batch(batch)
        longest = int(batch["n_constituents"].max())
        assert trimmed["constituents"].shape == (4, longest, 4) and trimmed["mask"].shape == (4, longest)
        assert not batch["mask"][:, longest:].any() and not batch["constituents"][:, longest:].any()
        torch.testing.assert_close(trimmed["constituents"], batch["constituents"][:, :longest])
        assert torch.equal(trimmed["label"], batch["label"]) and torch.equal(trimmed["index"], batch["index"])
    efp_like = {"efp": torch.ones(3, 5), "label": torch.zeros(3)}
    assert trim_batch(efp_like) is efp_like
