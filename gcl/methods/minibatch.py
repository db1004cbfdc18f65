"""Mini-batch training of node-level contrastive methods on sampled subgraphs.

On a graph too large for a full-batch step, every step takes one batch of a neighbour loader
(:func:`gcl.data.sampling.neighbor_loader`: ``B`` seed nodes and their sampled k-hop subgraph,
seeds first), draws the views **on the subgraph**, encodes the subgraph and computes the loss on
the seed rows only. For GRACE (:func:`grace_batch_loss`), with ``S`` the seeds and ``G_S`` their
sampled subgraph:

    (m_k, A_k) = view_k(G_S),  H_k = f(X_S ⊙ m_k, A_k)[:B],  Z_k = g(H_k)   (k = 1, 2)
    L = InfoNCE(Z_1, Z_2)   (symmetric, intra- and inter-view negatives among the B seeds)

i.e. GRACE's loss with the batch's seeds as the node set: each seed's negatives are the other
seeds of its batch. The encoder sees the sampled neighbourhood only, and its GCN normalisation
uses the degrees inside the view of the subgraph (as PyG's ``GCNConv`` on a ``NeighborLoader``
batch does), so ``H_k`` approximates the full-graph encoding (GraphSAGE-style sampling).
Step memory is O(B^2 + sampled nodes + sampled edges), independent of N.

Other views that keep the node set and its order can replace GRACE's edge drop and
feature-column mask, e.g. edge perturbation (:func:`gcl.views.edge_perturb`), through ``views``.
:func:`train_epoch_on_batches` is the generic epoch (any ``batch_loss``) for
:class:`gcl.train.Trainer`; register the loader's generator in the trainer's ``generators`` so
that a resumed run replays the same batches.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

import torch
from torch import Tensor
from torch_geometric.data import Data

from gcl.methods.grace import GRACE
from gcl.train.steps import record_step

#: A view of a sampled subgraph: ``view(batch, generator) -> Data`` with the same nodes, in order.
SubgraphView = Callable[[Data, "torch.Generator | None"], Data]
#: The loss of one batch: ``batch_loss(batch) -> scalar`` (or ``(scalar, {term: value})``).
BatchLoss = Callable[[Data], "Tensor | tuple[Tensor, Mapping[str, Tensor]]"]


def seed_count(batch: Data) -> int:
    """The number of seed nodes of a neighbour-loader batch (its first rows)."""
    size = getattr(batch, "batch_size", None)
    if size is None:
        raise ValueError("batch has no batch_size: it does not come from a neighbour loader")
    return int(size)


def _encode_seeds(model: GRACE, x: Tensor, edge_index: Tensor, size: int,
                  input_mask: Tensor | None = None) -> Tensor:
    return model.projector(model(x, edge_index, input_mask)[:size])


def grace_batch_loss(model: GRACE, batch: Data, generator: torch.Generator | None = None,
                     views: tuple[SubgraphView, SubgraphView] | None = None) -> Tensor:
    """GRACE's symmetric InfoNCE on the seed nodes of one sampled subgraph (module docstring).

    Args:
        model: the GRACE model.
        batch: a neighbour-loader batch (``x``, local ``edge_index``, ``batch_size``; seeds first).
        generator: randomness of the views.
        views: two view functions on the subgraph; ``None``: GRACE's own edge drop and
            feature-column masks (:meth:`GRACE.views`) with the model's probabilities.

    Returns:
        scalar loss.
    """
    size = seed_count(batch)
    if views is None:
        (m1, e1), (m2, e2) = model.views(batch.x, batch.edge_index, generator)
        z1 = _encode_seeds(model, batch.x, e1, size, m1)
        z2 = _encode_seeds(model, batch.x, e2, size, m2)
    else:
        outs = []
        for view in views:
            v = view(batch, generator)
            if v.num_nodes != batch.num_nodes:
                raise ValueError(f"a subgraph view must keep the {batch.num_nodes} nodes of the batch "
                                 f"in order, got {v.num_nodes}")
            outs.append(_encode_seeds(model, v.x, v.edge_index, size))
        z1, z2 = outs
    return model.criterion(z1, z2)


def train_epoch_on_batches(loader: Iterable[Data], optimizer: torch.optim.Optimizer,
                           batch_loss: BatchLoss) -> dict[str, float]:
    """One pass over ``loader``: one optimiser step per batch.

    Each step's terms go to :func:`gcl.train.record_step` (so a NaN names its step).

    Args:
        loader: batches with ``batch_size`` (a neighbour loader).
        optimizer: the optimiser.
        batch_loss: the loss of one batch, a scalar or ``(scalar, {term: value})``.

    Returns:
        ``{"loss": seed-weighted mean loss, other terms likewise, "batches", "seeds"}``.
    """
    sums: dict[str, Tensor] = {}
    seeds, batches = 0, 0
    for batch in loader:
        optimizer.zero_grad()
        out = batch_loss(batch)
        loss, parts = (out, {}) if isinstance(out, Tensor) else (out[0], dict(out[1]))
        terms = {"loss": loss.detach(), **{k: torch.as_tensor(v).detach() for k, v in parts.items()}}
        record_step(terms)
        loss.backward()
        optimizer.step()
        n = seed_count(batch)
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + v.float() * n
        seeds += n
        batches += 1
    if seeds == 0:
        raise ValueError("the loader yielded no batch")
    return {**{k: float(v) / seeds for k, v in sums.items()}, "batches": float(batches),
            "seeds": float(seeds)}
