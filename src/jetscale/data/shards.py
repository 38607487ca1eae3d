"""The jet shard format: HDF5 shards plus a checksummed manifest (pure I/O, no physics).

A dataset directory holds ``shard-<i:05d>.h5`` (``constituents`` float32 [n, C, 4] (pT [GeV], η, φ, E [GeV]),
pT-ordered, zero-padded; ``n_constituents`` int32 [n]; ``jet`` float32 [n, 4] (pT, η, φ, mass); ``label``
int8 [n], 1 = top; attributes with the generator, seed, settings and git revision) and ``manifest.json``
(each shard's file, n_jets, n_signal and sha256). Shards are written atomically with Fletcher-32 checksums;
every problem raises :class:`ShardError` naming the file. The full schema: docs/jets.md#shard-file-format.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import h5py
import numpy as np

from jetscale.atomic import atomic_output
from jetscale.results import write_json_atomic

FORMAT_VERSION = 1
FIELDS = {  # name -> (dtype, shape after the jet axis; None = the constituent axis)
    "constituents": (np.float32, (None, 4)),
    "n_constituents": (np.int32, ()),
    "jet": (np.float32, (4,)),
    "label": (np.int8, ()),
}
SHARD_PATTERN = re.compile(r"^shard-(\d{5})\.h5$")
MANIFEST = "manifest.json"
CLASS_NAMES = {0: "QCD", 1: "top"}
"""A shard's labels and the class each names."""


class ShardError(ValueError):
    """A shard or manifest that must not be used; the message names the file."""


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.h5"


def check_shapes(shapes: dict[str, tuple], source: str) -> int:
    """Check that every field is present with the right rank and trailing shape; return the jet count."""
    missing = sorted(set(FIELDS) - set(shapes))
    if missing:
        raise ShardError(f"{source}: missing datasets {missing}")
    n = shapes["label"][0] if shapes["label"] else -1
    for name, (_, tail) in FIELDS.items():
        shape = tuple(shapes[name])
        if len(shape) != 1 + len(tail) or shape[0] != n or any(t is not None and s != t for s, t in zip(shape[1:], tail)):
            layout = ", ".join(["n"] + ["C" if t is None else str(t) for t in tail])
            raise ShardError(f"{source}: dataset {name!r} has shape {shape}, expected ({layout}) with n = {n} jets")
    return n


def validate_arrays(arrays: dict, source: str = "<arrays>") -> int:
    """Check a shard's arrays (shapes, labels, constituent counts) before writing; return the jet count."""
    n = check_shapes({name: np.shape(arrays[name]) for name in FIELDS if name in arrays}, source)
    labels = np.unique(arrays["label"])
    if not set(labels.tolist()) <= set(CLASS_NAMES):
        names = " or ".join(f"{label} ({name})" for label, name in CLASS_NAMES.items())
        raise ShardError(f"{source}: labels must be {names}, found {labels.tolist()}")
    counts = np.asarray(arrays["n_constituents"])
    n_max = np.shape(arrays["constituents"])[1]
    if n and (counts.min() < 0 or counts.max() > n_max):
        raise ShardError(f"{source}: n_constituents outside [0, {n_max}]")
    return n


def write_shard(path: str | Path, arrays: dict, attrs: dict) -> Path:
    """Write one shard atomically (``jetscale.atomic``). ``attrs['settings']`` may be a dict."""
    path = Path(path)
    validate_arrays(arrays, str(path))
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as handle:
        for name, (dtype, _) in FIELDS.items():
            values = np.asarray(arrays[name], dtype=dtype)
            # Fletcher-32 checksums per chunk: HDF5 refuses to read a chunk whose bytes changed.
            compress = {"fletcher32": True} if len(values) else {}
            if name == "constituents" and len(values):  # whole jets per chunk: shuffled reads touch few chunks
                compress.update(compression="gzip", compression_opts=1,
                                chunks=(min(len(values), 32), *values.shape[1:]))
            handle.create_dataset(name, data=values, **compress)
        handle.attrs["format_version"] = FORMAT_VERSION
        for key, value in attrs.items():
            handle.attrs[key] = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
    return path


def read_shard(path: str | Path, start: int | None = None, stop: int | None = None,
               fields: tuple[str, ...] = tuple(FIELDS)) -> dict[str, np.ndarray]:
    """Read rows [start, stop) of the given fields, validating the file's layout first."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as handle:
            check_layout(handle, path)
            return {name: handle[name][start:stop] for name in fields}
    except ShardError:
        raise
    except (OSError, KeyError, ValueError) as err:
        raise ShardError(f"{path}: unreadable shard ({err})") from err


def check_layout(handle: h5py.File, path: Path) -> int:
    """Validate an open shard's datasets (names, ranks, trailing shapes); return its jet count."""
    return check_shapes({name: handle[name].shape for name in FIELDS if name in handle}, str(path))


def shard_attrs(path: str | Path) -> dict:
    """The shard's attributes, JSON strings decoded."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as handle:
            raw = dict(handle.attrs)
    except OSError as err:
        raise ShardError(f"{path}: unreadable shard ({err})") from err
    out = {}
    for key, value in raw.items():
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(value, str) and value[:1] in "{[":
            value = json.loads(value)
        out[key] = value
    return out


def sha256_file(path: str | Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def shard_paths(directory: str | Path) -> list[Path]:
    """Complete shards in ``directory`` (temporary files are ignored), in index order."""
    return sorted(p for p in Path(directory).iterdir() if SHARD_PATTERN.match(p.name))


def write_manifest(directory: str | Path, dataset: str | None = None) -> Path:
    """Checksum and count every shard of ``directory`` into ``manifest.json`` (atomically).

    Every dataset of every shard is read in full and checked (:func:`validate_arrays`) before its checksum is
    taken: a shard with a damaged chunk is refused by name here, not blessed and found later by a training run.
    """
    directory = Path(directory)
    entries = []
    for path in shard_paths(directory):
        arrays = read_shard(path)  # every byte of every dataset: a damaged chunk fails to decompress here
        validate_arrays(arrays, str(path))
        labels = arrays.pop("label")
        del arrays
        entries.append({"file": path.name, "n_jets": int(len(labels)), "n_signal": int(labels.sum()),
                        "sha256": sha256_file(path)})
    if not entries:
        raise ShardError(f"{directory}: no shard-<i>.h5 files to list in a manifest")
    manifest = {"format_version": FORMAT_VERSION, "dataset": dataset or directory.name,
                "total_jets": sum(e["n_jets"] for e in entries), "shards": entries}
    return write_json_atomic(directory / MANIFEST, manifest)


def load_manifest(directory: str | Path, verify: bool = True) -> dict:
    """Read ``manifest.json``; with ``verify``, check every listed shard exists and matches its checksum."""
    directory = Path(directory)
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ShardError(f"{path}: no manifest; run `jetscale generate` or `jetscale manifest {directory}`") from None
    except json.JSONDecodeError as err:
        raise ShardError(f"{path}: corrupt manifest ({err})") from err
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ShardError(f"{path}: format_version {manifest.get('format_version')!r}, expected {FORMAT_VERSION}")
    if verify:
        for entry in manifest["shards"]:
            shard = directory / entry["file"]
            if not shard.exists():
                raise ShardError(f"{shard}: listed in {path} but missing")
            if sha256_file(shard) != entry["sha256"]:
                raise ShardError(f"{shard}: checksum mismatch with {path} (file changed or corrupt)")
    return manifest
