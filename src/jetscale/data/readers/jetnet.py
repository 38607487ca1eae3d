"""Reader for JetNet (Kansal et al., arXiv:2106.11535): one HDF5 file per jet type.

Reads ``particle_features`` [N, P, 4] (η_rel, φ_rel, pT_rel, mask) and ``jet_features`` [N, 4] (pT, η, mass,
n_particles) into shard arrays of massless particles (pT, η, φ, E), padded or cut to ``max_constituents``;
JetNet stores no jet φ, so every jet has φ = 0. The label comes from the caller or the file name (:data:`LABELS`).
Format and conversion: docs/jets.md#conversion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from jetscale.data.shards import ShardError
from jetscale.physics.kinematics import E, ETA, MAX_CONSTITUENTS, PHI, PT, massless_energy, pack_constituents

PARTICLES, JETS = "particle_features", "jet_features"
ETA_REL, PHI_REL, PT_REL, MASK = range(4)  # particle_features components
JET_PT, JET_ETA, JET_MASS, JET_N = range(4)  # jet_features components
LABELS = {"t": 1, "q": 0, "g": 0}  # file stem -> label (1 = top, 0 = QCD)


def label_for(path: str | Path, label: int | None = None) -> int:
    """The label of a JetNet file: ``label`` if given, else from the file stem (``t`` -> 1, ``q``/``g`` -> 0)."""
    path = Path(path)
    if label is None:
        if path.stem not in LABELS:
            raise ValueError(f"{path}: cannot tell the label from the file name; pass label=1 (top) or 0 (QCD)")
        return LABELS[path.stem]
    if label not in (0, 1):
        raise ValueError(f"label must be 0 (QCD) or 1 (top), got {label!r}")
    return int(label)


def convert_jets(particle_features, jet_features, label: int,
                 max_constituents: int = MAX_CONSTITUENTS) -> dict[str, np.ndarray]:
    """JetNet arrays ([n, P, 4] particles, [n, 4] jets) -> shard arrays (docs/jets.md#conversion)."""
    particles = np.asarray(particle_features, dtype=np.float64)
    jets = np.asarray(jet_features, dtype=np.float64)
    pt = particles[..., PT_REL] * jets[:, None, JET_PT]
    eta = particles[..., ETA_REL] + jets[:, None, JET_ETA]
    constituents = np.zeros(particles.shape[:2] + (4,))
    constituents[..., PT], constituents[..., ETA], constituents[..., PHI] = pt, eta, particles[..., PHI_REL]
    constituents[..., E] = massless_energy(pt, eta)
    packed, n_constituents = pack_constituents(constituents, particles[..., MASK] > 0, max_constituents)
    jet = np.stack([jets[:, JET_PT], jets[:, JET_ETA], np.zeros(len(jets)), jets[:, JET_MASS]], axis=-1)
    return {
        "constituents": packed,
        "n_constituents": n_constituents,
        "jet": jet.astype(np.float32),
        "label": np.full(len(jets), label, dtype=np.int8),
    }


def _check_layout(handle: h5py.File, path: Path) -> int:
    """Check the two datasets exist with matching jet counts and 4 features; return the jet count."""
    missing = [name for name in (PARTICLES, JETS) if name not in handle]
    if missing:
        raise ShardError(f"{path}: not a JetNet file, missing datasets {missing} (found {sorted(handle)})")
    particles, jets = handle[PARTICLES].shape, handle[JETS].shape
    if len(particles) != 3 or particles[2] != 4 or len(jets) != 2 or jets[1] != 4 or particles[0] != jets[0]:
        raise ShardError(f"{path}: {PARTICLES} has shape {particles} and {JETS} {jets}, expected (N, P, 4) and (N, 4)")
    return jets[0]


def read_chunks(path: str | Path, label: int | None = None, chunk_size: int = 10_000,
                max_constituents: int = MAX_CONSTITUENTS) -> Iterator[dict[str, np.ndarray]]:
    """Yield shard arrays for consecutive chunks of ``chunk_size`` jets (the last may be shorter)."""
    path = Path(path)
    label = label_for(path, label)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise ShardError(f"{path}: cannot open as HDF5 ({err})") from err
    with handle:
        n = _check_layout(handle, path)
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            yield convert_jets(handle[PARTICLES][start:stop], handle[JETS][start:stop], label, max_constituents)
