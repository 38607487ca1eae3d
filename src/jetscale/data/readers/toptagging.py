"""Reader for the Top Quark Tagging reference dataset (Kasieczka et al., arXiv:1902.09914).

The files ``train.h5``, ``val.h5`` and ``test.h5`` (Zenodo record 2603256) are
pandas HDFStores with one DataFrame under the key ``table``, one row per jet:

* ``E_i, PX_i, PY_i, PZ_i`` for i = 0..199: constituent four-momenta [GeV],
  pT-ordered and zero-padded;
* ``truthE, truthPX, truthPY, truthPZ``: the matched top parton (unused);
* ``ttv``: 0 = train, 1 = test, 2 = validation (the file already says which; unused);
* ``is_signal_new``: 1 = top, 0 = QCD -> the shard ``label``.

Both pandas layouts (``format="fixed"`` and ``format="table"``) are read, in
row chunks (``HDFStore.select(start=, stop=)``), never the whole file.
Conversion (see :mod:`jetscale.physics.kinematics`): constituents become
(pT, η, φ, E); a constituent is real where E > 0 (``n_constituents`` counts
them); the jet is (pT, η, φ, mass) of the sum of all real constituents, computed
before any truncation to ``max_constituents``.  Reading pandas HDFStores needs
PyTables (the ``tables`` package).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from jetscale.data.shards import ShardError
from jetscale.physics.kinematics import MAX_CONSTITUENTS, constituents_from_cartesian, jet_kinematics, pack_constituents

KEY = "table"
LABEL_COLUMN = "is_signal_new"
COMPONENTS = ("E", "PX", "PY", "PZ")


def n_source_constituents(columns) -> int:
    """Number of constituent slots in a frame: the count of consecutive ``E_0, E_1, ...`` columns."""
    names = set(columns)
    n = 0
    while f"E_{n}" in names:
        n += 1
    return n


def convert_frame(frame: pd.DataFrame, max_constituents: int = MAX_CONSTITUENTS,
                  source: str = "<frame>") -> dict[str, np.ndarray]:
    """One chunk of top-tagging rows -> shard arrays (``constituents, n_constituents, jet, label``)."""
    width = n_source_constituents(frame.columns)
    wanted = [f"{c}_{i}" for c in COMPONENTS for i in range(max(width, 1))] + [LABEL_COLUMN]
    missing = [name for name in wanted if name not in frame.columns]
    if missing:
        raise ShardError(f"{source}: not a top-tagging table, missing columns {missing[:8]}")
    e, px, py, pz = (frame[[f"{c}_{i}" for i in range(width)]].to_numpy(np.float64) for c in COMPONENTS)
    constituents = constituents_from_cartesian(e, px, py, pz)
    real = e > 0
    packed, n_constituents = pack_constituents(constituents, real, max_constituents)
    return {
        "constituents": packed,
        "n_constituents": n_constituents,
        "jet": jet_kinematics(np.where(real[..., None], constituents, 0.0)).astype(np.float32),
        "label": frame[LABEL_COLUMN].to_numpy().astype(np.int8),
    }


def read_chunks(path: str | Path, chunk_size: int = 10_000,
                max_constituents: int = MAX_CONSTITUENTS) -> Iterator[dict[str, np.ndarray]]:
    """Yield shard arrays for consecutive chunks of ``chunk_size`` jets (the last may be shorter)."""
    path = Path(path)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    try:
        store = pd.HDFStore(path, mode="r")
    except (OSError, ValueError) as err:  # missing file, not HDF5
        raise ShardError(f"{path}: cannot open as a pandas HDFStore ({err})") from err
    with store:
        if f"/{KEY}" not in store.keys():
            raise ShardError(f"{path}: no key {KEY!r} (found {store.keys()}); not a top-tagging file")
        start = 0
        while True:
            frame = store.select(KEY, start=start, stop=start + chunk_size)
            if frame.empty:
                return
            yield convert_frame(frame, max_constituents, f"{path} rows {start}-{start + len(frame)}")
            if len(frame) < chunk_size:
                return
            start += chunk_size
