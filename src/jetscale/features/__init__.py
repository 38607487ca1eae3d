"""Jet features and the data-covariance spectrum.

* :mod:`.efp` -- Energy Flow Polynomials per jet (energyflow), cached per shard
  (``jetscale features``; the cache format: :mod:`jetscale.data.efp_cache`);
* :mod:`.covariance` -- streamed covariance accumulator (O(d^2) memory), its MPI
  reduction and eigenvalues;
* :mod:`.spectrum` -- eigen-spectrum of a dataset streamed from its shards, ``spectrum.json``
  (``jetscale spectrum``; also ``python -m jetscale.features.spectrum``, which is why this package
  does not import it); its power-law fits are :mod:`jetscale.fit.spectrum`.
"""

from jetscale.features.covariance import (
    CovarianceAccumulator,
    allreduce,
    constant_features,
    eigenvalues_desc,
    standardized_covariance,
)
from jetscale.features.efp import (
    cache_shard_efps,
    compute_efps,
    efp_set,
    n_efps,
)

__all__ = [
    "CovarianceAccumulator",
    "allreduce",
    "cache_shard_efps",
    "compute_efps",
    "constant_features",
    "efp_set",
    "eigenvalues_desc",
    "n_efps",
    "standardized_covariance",
]
