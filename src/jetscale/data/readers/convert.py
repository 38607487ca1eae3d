"""Convert a public jet dataset file into project shards: ``jetscale import-data``.

    jetscale import-data --format toptagging --input train.h5 --out data/jets/toptagging-train
    jetscale import-data --format jetnet --input t.hdf5 --out data/jets/jetnet30
    jetscale import-data --format jetnet --input q.hdf5 --out data/jets/jetnet30 --append

Streams the source into atomic shards in its row order, then writes ``manifest.json``; ``--append`` adds a
second file's shards after the existing ones. A failed import removes the shards it wrote.
Attributes and details: docs/jets.md#conversion.
"""

from __future__ import annotations

import argparse
from importlib.metadata import version
from pathlib import Path

from jetscale.data.readers import jetnet, toptagging
from jetscale.data.shards import (
    MANIFEST, SHARD_PATTERN, ShardError, read_shard, sha256_file, shard_name, shard_paths,
    write_manifest, write_shard,
)
from jetscale.physics.kinematics import MAX_CONSTITUENTS

READERS = {"toptagging": toptagging.read_chunks, "jetnet": jetnet.read_chunks}
DEFAULT_JETS_PER_SHARD = 20_000  # ~64 MB of float32 constituents per shard at C = 200


def _reader_options(format: str, source: Path, label: int | None) -> dict:
    """Format-specific reader arguments (only JetNet takes a label; top tagging stores its own)."""
    if format not in READERS:
        raise ValueError(f"unknown format {format!r}; choose one of {sorted(READERS)}")
    if format == "jetnet":
        return {"label": jetnet.label_for(source, label)}
    if label is not None:
        raise ValueError(f"{source}: top-tagging files carry their own labels (is_signal_new); drop --label")
    return {}


def _first_shard_index(out_dir: Path, append: bool, max_constituents: int) -> int:
    """0 for a new dataset; with ``append``, the index after the last existing shard (same width required)."""
    existing = shard_paths(out_dir) if out_dir.is_dir() else []
    if not append:
        if existing or (out_dir / MANIFEST).exists():
            raise ValueError(f"{out_dir}: already holds a dataset; import into an empty directory or append "
                             "(--append) to add jets to it")
        return 0
    if not existing:
        return 0
    width = read_shard(existing[-1], 0, 1, fields=("constituents",))["constituents"].shape[1]
    if width != max_constituents:
        raise ValueError(f"{out_dir}: its shards have {width} constituents, this import {max_constituents}; "
                         f"pass max_constituents={width} (--max-constituents {width})")
    return int(SHARD_PATTERN.match(existing[-1].name).group(1)) + 1


def import_dataset(source_path: str | Path, format: str, out_dir: str | Path,
                   jets_per_shard: int = DEFAULT_JETS_PER_SHARD, label: int | None = None,
                   dataset: str | None = None, max_constituents: int = MAX_CONSTITUENTS,
                   append: bool = False) -> dict:
    """Stream ``source_path`` (``format`` = ``toptagging`` | ``jetnet``) into shards in ``out_dir``.

    Returns a summary ``{"out_dir", "manifest", "n_jets", "n_shards"}`` of this
    import.  ``dataset`` names the dataset in the manifest (default: ``out_dir``'s
    name); ``append`` adds to the dataset already in ``out_dir`` (module docstring).
    """
    source, out_dir = Path(source_path), Path(out_dir)
    options = _reader_options(format, source, label)
    if jets_per_shard < 1:
        raise ValueError(f"jets_per_shard must be >= 1, got {jets_per_shard}")
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such file")
    first = _first_shard_index(out_dir, append, max_constituents)
    settings = {"format": format, "source": source.name, "source_sha256": sha256_file(source),
                "label": options.get("label"), "max_constituents": max_constituents,
                "jets_per_shard": jets_per_shard}
    attrs = {"generator": f"{format}-import", "generator_version": version("jetscale"), "seed": -1}
    chunks = READERS[format](source, chunk_size=jets_per_shard, max_constituents=max_constituents, **options)
    written, start = [], 0
    try:
        for arrays in chunks:
            stop = start + len(arrays["label"])
            meta = {**attrs, "settings": {**settings, "source_rows": [start, stop]}}
            written.append(write_shard(out_dir / shard_name(first + len(written)), arrays, meta))
            start = stop
        if not written:
            raise ShardError(f"{source}: holds no jets")
        manifest = write_manifest(out_dir, dataset)
    except BaseException:  # leave no partial dataset behind: a rerun starts clean
        chunks.close()
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return {"out_dir": str(out_dir), "manifest": str(manifest), "n_jets": start, "n_shards": len(written)}


def cmd_import_data(args: argparse.Namespace) -> int:
    summary = import_dataset(args.input, args.format, args.out, args.jets_per_shard, args.label,
                             args.dataset, args.max_constituents, args.append)
    print(f"wrote {summary['n_jets']} jets in {summary['n_shards']} shards to {summary['out_dir']}")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``import-data`` subcommand to an argparse ``add_subparsers()`` object."""
    p = subparsers.add_parser("import-data", help="convert a Top Quark Tagging or JetNet file into jet shards")
    p.add_argument("--format", required=True, choices=sorted(READERS))
    p.add_argument("--input", required=True,
                   help="source file (top tagging: train.h5, val.h5, test.h5; JetNet: t.hdf5, q.hdf5, ...)")
    p.add_argument("--out", required=True, help="output dataset directory (empty unless --append)")
    p.add_argument("--jets-per-shard", type=int, default=DEFAULT_JETS_PER_SHARD)
    p.add_argument("--label", type=int, choices=[0, 1],
                   help="JetNet only: 1 = top, 0 = QCD (default: from the file name t/q/g)")
    p.add_argument("--max-constituents", type=int, default=MAX_CONSTITUENTS,
                   help="constituent axis of the shards (pad or cut, softest first)")
    p.add_argument("--dataset", help="dataset name in manifest.json (default: the --out directory name)")
    p.add_argument("--append", action="store_true",
                   help="add to the dataset in --out (e.g. JetNet q.hdf5 after t.hdf5) instead of requiring it empty")
    p.set_defaults(func=cmd_import_data)
    return p
