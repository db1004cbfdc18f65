"""Neighbour sampling for mini-batch training on large graphs.

:class:`SubgraphLoader` yields PyG ``Data`` batches of sampled k-hop subgraphs (the batches of
PyG's ``NeighborLoader``) with a native, vectorised torch sampler; :func:`neighbor_loader` uses
``NeighborLoader`` itself where its compiled backend (``pyg-lib`` or ``torch-sparse``) imports.
"""
from gcl.data.sampling.backend import (
    BACKENDS,
    SamplingBackendError,
    neighbor_loader,
    pyg_sampling_available,
    resolve_backend,
)
from gcl.data.sampling.csc import CSCGraph, to_csc
from gcl.data.sampling.neighbor_sampler import NeighborSampler, SampledSubgraph, sample_k_subsets
from gcl.data.sampling.subgraph_loader import SubgraphLoader

__all__ = [
    "BACKENDS",
    "CSCGraph",
    "NeighborSampler",
    "SampledSubgraph",
    "SamplingBackendError",
    "SubgraphLoader",
    "neighbor_loader",
    "pyg_sampling_available",
    "resolve_backend",
    "sample_k_subsets",
    "to_csc",
]
