"""Readers for public jet datasets, converting on read to the shard arrays of :mod:`jetscale.data.shards`.

Each reader module has ``read_chunks(path, ..., chunk_size, max_constituents)``
yielding dicts ``{constituents, n_constituents, jet, label}`` exactly as a shard
holds them, chunk by chunk (memory bounded by ``chunk_size``), and a pure
``convert_*`` function from the source arrays:

* :mod:`.toptagging`: Top Quark Tagging reference dataset (pandas HDFStore);
* :mod:`.jetnet`: JetNet (``particle_features`` / ``jet_features`` HDF5);
* :mod:`.convert`: :func:`import_dataset` streams a reader into shards plus a
  manifest, and :func:`register` adds ``jetscale import-data`` to a CLI.
"""

from jetscale.data.readers import jetnet, toptagging
from jetscale.data.readers.convert import READERS, import_dataset, register

__all__ = ["READERS", "import_dataset", "jetnet", "register", "toptagging"]
