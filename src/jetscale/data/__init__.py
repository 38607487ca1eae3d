"""Data sources: the toy power-law model, jet shards and their readers, the random hierarchy model,
RAMBO phase space and parton-shower snapshots.

The Lightning datamodules are imported lazily, so that light users (shard I/O,
the generator, feature jobs under mpiexec) do not pay for importing torch.
"""

from importlib import import_module

_LAZY = {
    "ToyDataModule": "jetscale.data.datamodule",
    "ToyPowerLaw": "jetscale.data.toy",
    "JetDataModule": "jetscale.data.jet_dataset",
    "JetShardDataset": "jetscale.data.jet_dataset",
    "EFPDataModule": "jetscale.data.efp_dataset",
    "RHMDataModule": "jetscale.data.rhm_dataset",
    "RamboDataModule": "jetscale.data.rambo_dataset",
    "ShowerDataModule": "jetscale.data.shower_dataset",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'jetscale.data' has no attribute {name!r}")
