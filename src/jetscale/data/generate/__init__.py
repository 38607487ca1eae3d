"""Jet generation: Pythia 8 top (signal) and QCD (background) jets, anti-kT, into HDF5 shards.

One job per module: ``settings`` (config -> Pythia settings, seeds), ``events``
(Pythia event loop and record), ``clustering`` (SlowJet or fastjet anti-kT),
``selection`` (pure numpy cuts, top containment, packing), ``ranks`` (MPI
rank/size), ``run`` (one shard, many shards, manifest), ``cli`` (``jetscale
generate``). The shard format is :mod:`jetscale.data.shards`; the settings are
``configs/generator/jets_pythia.yaml``. Importing this package is cheap: Pythia loads
with ``run``.
"""

from jetscale.data.generate.cli import register
from jetscale.data.generate.settings import ConfigError, load_config

__all__ = ["ConfigError", "load_config", "register"]
