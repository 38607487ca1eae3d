"""Data sources: the toy power-law model (jets come in a later stage)."""

from jetscale.data.datamodule import ToyDataModule
from jetscale.data.toy import ToyPowerLaw

__all__ = ["ToyDataModule", "ToyPowerLaw"]
