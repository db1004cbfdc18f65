"""Mini-batches of sampled subgraphs, shaped like the batches of PyG's ``NeighborLoader``.

Iterating a :class:`SubgraphLoader` splits the input (seed) nodes into batches of
``batch_size`` (a fresh permutation per pass when ``shuffle``), samples the k-hop subgraph of
each batch with :class:`gcl.data.sampling.neighbor_sampler.NeighborSampler` and yields a PyG
``Data`` with the attributes of a ``NeighborLoader`` batch:

- node-level attributes of the graph (``x``, ``y``, masks, ...) sliced to the sampled nodes,
  edge-level ones (``edge_attr``, ...) sliced to the sampled edges;
- ``edge_index`` [2, e]: local ids (rows of ``x``), ``(source, target)`` as in the graph;
- ``n_id`` [n]: global node ids, the ``batch_size`` seeds first; ``e_id`` [e]: global edge ids;
- ``batch_size``: the number of seeds; ``input_id`` [batch_size]: each seed's position in
  ``input_nodes`` (its global id when ``input_nodes`` is a boolean mask, as in PyG);
- ``num_sampled_nodes`` ``[batch_size, hop 1, ..., hop L]`` and ``num_sampled_edges``
  ``[hop 1, ..., hop L]``.

Losses on seed nodes take the first ``batch_size`` rows. One ``torch.Generator`` drives both
the shuffling and the sampling, so saving and restoring its state (the engine's
``generators``) replays the same batches.
"""
from __future__ import annotations

import math
from typing import Iterator

import torch
from torch import Tensor
from torch_geometric.data import Data

from gcl.data.sampling.neighbor_sampler import NeighborSampler, SampledSubgraph

_SKIP = {"edge_index", "num_nodes"}


def _input_nodes(input_nodes: Tensor | None, num_nodes: int) -> tuple[Tensor, Tensor | None]:
    """``(seed node ids, input_id of every seed or None = its position)`` as in PyG."""
    if input_nodes is None:
        return torch.arange(num_nodes), None
    if input_nodes.dtype == torch.bool:
        if input_nodes.shape != (num_nodes,):
            raise ValueError(f"a boolean input_nodes mask must have shape [{num_nodes}], "
                             f"got {tuple(input_nodes.shape)}")
        nodes = input_nodes.nonzero().view(-1)
        return nodes, nodes
    if input_nodes.dim() != 1 or input_nodes.is_floating_point():
        raise ValueError(f"input_nodes must be a 1-D index tensor or a boolean mask, got "
                         f"{input_nodes.dtype} of shape {tuple(input_nodes.shape)}")
    return input_nodes.long(), None


class SubgraphLoader:
    """Iterate over sampled-subgraph batches of ``data`` (see the module docstring).

    Args:
        data: the graph (``x``, ``edge_index``, any node- or edge-level attributes).
        num_neighbors: fan-out per hop ``[k_1, ..., k_L]`` (``-1``: all neighbours).
        batch_size: seed nodes per batch.
        shuffle: a new random order of the seeds every pass.
        input_nodes: the seeds: ``None`` (every node), an index tensor or a boolean mask.
        drop_last: skip the last batch when it has fewer than ``batch_size`` seeds.
        generator: source of randomness for shuffling and sampling (``None``: torch's global one).

    Example::

        loader = SubgraphLoader(data, num_neighbors=[10, 10], batch_size=1024, shuffle=True,
                                generator=torch.Generator().manual_seed(0))
        for batch in loader:
            h = encoder(batch.x, batch.edge_index)[:batch.batch_size]
    """

    def __init__(self, data: Data, num_neighbors: list[int] | tuple[int, ...], batch_size: int = 1,
                 shuffle: bool = False, input_nodes: Tensor | None = None, drop_last: bool = False,
                 generator: torch.Generator | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if data.edge_index is None:
            raise ValueError("data has no edge_index to sample from")
        self.data = data
        self.sampler = NeighborSampler(data.edge_index, data.num_nodes, num_neighbors)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.input_nodes, self.input_id = _input_nodes(input_nodes, data.num_nodes)
        # decided once: which attributes follow the nodes and which follow the edges
        self._node_keys = [k for k in data.node_attrs() if k not in _SKIP]
        self._edge_keys = [k for k in data.edge_attrs() if k not in _SKIP]

    @property
    def num_neighbors(self) -> list[int]:
        return self.sampler.num_neighbors

    def __len__(self) -> int:
        n = self.input_nodes.numel()
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Data]:
        n = self.input_nodes.numel()
        if self.shuffle:
            dev = self.generator.device if self.generator is not None else torch.device("cpu")
            order = torch.randperm(n, generator=self.generator, device=dev).cpu()
        else:
            order = torch.arange(n)
        for index in order.split(self.batch_size):
            if self.drop_last and index.numel() < self.batch_size:
                break
            yield self.sample(index)

    def sample(self, index: Tensor) -> Data:
        """The batch whose seeds are ``input_nodes[index]`` (positions in ``input_nodes``)."""
        seeds = self.input_nodes[index]
        input_id = index if self.input_id is None else self.input_id[index]
        return self.to_batch(self.sampler.sample(seeds, self.generator), input_id)

    def to_batch(self, out: SampledSubgraph, input_id: Tensor) -> Data:
        """Join a sampled subgraph with the graph's attributes into a ``Data`` batch."""
        data = self.data
        batch = Data(edge_index=torch.stack([out.row, out.col]))
        for key in self._node_keys:
            value = data[key]
            batch[key] = value[out.node.to(value.device)]
        for key in self._edge_keys:
            value = data[key]
            batch[key] = value[out.edge.to(value.device)]
        batch.num_nodes = out.node.numel()
        batch.n_id = out.node
        batch.e_id = out.edge
        batch.input_id = input_id
        batch.batch_size = int(input_id.numel())
        batch.num_sampled_nodes = out.num_sampled_nodes
        batch.num_sampled_edges = out.num_sampled_edges
        return batch
