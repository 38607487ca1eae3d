"""The jet shard format: round trips, atomic writes, manifests and errors that name the file."""

import json

import h5py
import numpy as np
import pytest

from jetscale.cli import main
from jetscale.data.shards import (
    MANIFEST, ShardError, load_manifest, read_shard, shard_attrs, shard_name, shard_paths, write_manifest, write_shard,
)


def fake_jets(n, n_max=200, seed=0):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, n_max + 1, n)
    constituents = np.zeros((n, n_max, 4), np.float32)
    for i, c in enumerate(counts):
        pt = np.sort(rng.exponential(10.0, c))[::-1]
        constituents[i, :c] = np.stack([pt, rng.normal(0, 0.3, c), rng.normal(0, 0.3, c), pt * 1.1], axis=1)
    return {"constituents": constituents, "n_constituents": counts, "jet": rng.random((n, 4)),
            "label": np.arange(n) % 2}


def test_round_trip_keeps_arrays_and_attributes(tmp_path):
    arrays = fake_jets(12)
    path = write_shard(tmp_path / shard_name(3), arrays, {"generator": "test", "seed": 7, "settings": {"R": 0.8}})
    back = read_shard(path)
    for name, values in arrays.items():
        np.testing.assert_allclose(back[name], values, rtol=1e-6)
    assert back["constituents"].dtype == np.float32 and back["label"].dtype == np.int8
    assert shard_attrs(path) == {"format_version": 1, "generator": "test", "seed": 7, "settings": {"R": 0.8}}
    np.testing.assert_array_equal(read_shard(path, 4, 6, fields=("label",))["label"], [0, 1])


def test_a_failed_write_leaves_no_shard(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(h5py.File, "create_dataset", broken)
    with pytest.raises(RuntimeError):
        write_shard(tmp_path / shard_name(0), fake_jets(4), {})
    assert shard_paths(tmp_path) == []  # at most a .tmp file, which nothing accepts


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(jet=a["jet"][:, :3]), "'jet' has shape (5, 3)"),
    (lambda a: a.update(label=np.full(5, 2)), "labels must be 0"),
    (lambda a: a.pop("n_constituents"), "missing datasets ['n_constituents']"),
])
def test_bad_arrays_are_refused_naming_the_file(tmp_path, change, message):
    arrays = fake_jets(5)
    change(arrays)
    with pytest.raises(ShardError) as err:
        write_shard(tmp_path / shard_name(0), arrays, {})
    assert message in str(err.value) and shard_name(0) in str(err.value)


def test_manifest_lists_and_verifies_shards(tmp_path, capsys):
    for i in range(3):
        write_shard(tmp_path / shard_name(i), fake_jets(6 + i, seed=i), {})
    (tmp_path / "shard-00009.h5.tmp").write_bytes(b"half a shard")
    assert main(["manifest", str(tmp_path), "--dataset", "demo"]) == 0
    manifest = load_manifest(tmp_path)
    assert manifest["dataset"] == "demo" and manifest["total_jets"] == 6 + 7 + 8
    assert [e["file"] for e in manifest["shards"]] == [shard_name(i) for i in range(3)]
    assert manifest["shards"][1]["n_signal"] == 3


def test_checksum_mismatch_truncation_and_missing_shards_name_the_file(tmp_path):
    for i in range(2):
        write_shard(tmp_path / shard_name(i), fake_jets(8, seed=i), {})
    write_manifest(tmp_path)
    second = tmp_path / shard_name(1)
    data = bytearray(second.read_bytes())
    data[len(data) // 2] ^= 0xFF
    second.write_bytes(bytes(data))
    with pytest.raises(ShardError, match=f"{second}: checksum mismatch"):
        load_manifest(tmp_path)
    second.write_bytes(bytes(data[: len(data) // 3]))
    with pytest.raises(ShardError, match=str(second)):
        read_shard(second)
    second.unlink()
    with pytest.raises(ShardError, match="missing"):
        load_manifest(tmp_path)
    np.testing.assert_array_equal(read_shard(tmp_path / shard_name(0))["label"], np.arange(8) % 2)  # the other shard is intact


def test_wrong_shape_on_disk_and_bad_manifest_are_named(tmp_path):
    path = tmp_path / shard_name(0)
    with h5py.File(path, "w") as handle:
        handle["constituents"] = np.zeros((4, 200, 3), np.float32)
        handle["n_constituents"] = np.zeros(4, np.int32)
        handle["jet"] = np.zeros((4, 4), np.float32)
        handle["label"] = np.zeros(4, np.int8)
    with pytest.raises(ShardError, match="'constituents' has shape"):
        read_shard(path)
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(ShardError, match="corrupt manifest"):
        load_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ShardError, match="format_version 99"):
        load_manifest(tmp_path)


@pytest.mark.parametrize("dataset", ["constituents", "label"])  # gzip-compressed, and stored plain
def test_manifest_refuses_a_shard_with_flipped_bytes_naming_it(tmp_path, dataset):
    good = write_shard(tmp_path / shard_name(0), fake_jets(40, seed=1), {"seed": 1})
    bad = write_shard(tmp_path / shard_name(1), fake_jets(40, seed=2), {"seed": 2})
    with h5py.File(bad, "r") as handle:
        chunks = handle[dataset].id.get_num_chunks()
        info = handle[dataset].id.get_chunk_info(chunks - 1)  # the last chunk: a reader of the first rows never sees it
    with open(bad, "r+b") as raw:
        raw.seek(info.byte_offset + info.size // 2)
        byte = raw.read(1)
        raw.seek(-1, 1)
        raw.write(bytes([byte[0] ^ 0xFF]))
    read_shard(good)
    with pytest.raises(ShardError, match=rf"{bad.name}: unreadable shard"):
        write_manifest(tmp_path)
    assert not (tmp_path / MANIFEST).exists()
