"""MEOW's two-view encoder (shared by MEOW and AdaMEOW): coarse and fine-grained views of the
target nodes of a heterogeneous graph.

With ``d`` the hidden size, dropout rate ``ρ`` and :class:`~gcl.data.metapath_graphs.MetaPathGraphs`
inputs (target features ``X``, masked copy ``X′``, operators ``Â_p``, ``Â_p^drop``, ``Ā``):

1. **Projections**: ``h = ELU(Dropout(W₀ x + b₀))`` for the targets, ``h′`` the same layer on
   ``X′``; ``g_Y = ELU(Dropout(W_Y x_Y + b_Y))`` for every intermediate type ``Y``.
2. **Meta-path context**: ``ctx^p`` = mean over the prefixes of ``p`` of ``R_j g_{Y_j}`` (the
   mean of the projected intermediate neighbours; one prefix for length-2 paths), then

       u^p = ELU(h + Dropout(V_p ctx^p)),    u′^p = ELU(h′ + Dropout(V_p ctx^p))

   with ``V_p ∈ R^{d×d}`` without bias and two separate dropout draws. Without context
   (ablation) ``u^p = h`` and ``u′^p = h′``.
3. **Fine-grained view**: one shared :class:`~gcl.nn.metapath.MetaPathGCN` ``g`` gives
   ``z^p = g(u^p, Â_p)`` and ``z′^p = g(u′^p, Â_p^drop)``; each row is L2-normalised and the
   2P embeddings are fused by semantic attention into ``z`` (**the output embedding**).
4. **Coarse view**: ``z^c = g(h, Ā)``.
5. **Projection** (shared): ``π(x) = L2norm(tanh(W_π x + b_π))``.

Linear layers use Xavier-normal weights with gain 1.414 and zero biases (HeCo / MEOW); the
GCN and the attention keep their own initialisations.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gcl.nn.lightgcn import SparseOperator
from gcl.nn.metapath import MetaPathEncoder

__all__ = ["MEOWEncoder", "MEOWViews"]


class MEOWViews(NamedTuple):
    """Output of :meth:`MEOWEncoder.forward`.

    Attributes:
        z: [N, d] fine-grained (output) embedding.
        z_coarse: [N, d] coarse-view embedding.
        beta: [2P] semantic-attention weights (original branches first, then augmented).
    """

    z: Tensor
    z_coarse: Tensor
    beta: Tensor


def _linear(in_dim: int, out_dim: int, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(in_dim, out_dim, bias=bias)
    nn.init.xavier_normal_(layer.weight, gain=1.414)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


def _apply(layer: nn.Linear, x: Tensor) -> Tensor:
    """``layer(x)`` for dense or sparse COO ``x``."""
    if x.layout == torch.sparse_coo:
        out = torch.sparse.mm(x, layer.weight.T)
        return out + layer.bias if layer.bias is not None else out
    return layer(x)


class MEOWEncoder(nn.Module):
    """The encoder of the module docstring.

    Args:
        in_dim: target feature size F.
        neighbor_dims: intermediate node type -> its feature size.
        context_types: per meta-path, the node types of its prefixes (``[["author"], ["subject"]]``).
        hidden: d (64).
        dropout: ρ, used by every dropout (projections, context, GCN, attention vector).
        use_context: add the meta-path contexts (``False``: ablation "no context").

    Shapes:
        ``forward(graphs, x_aug, adjs_aug) -> MEOWViews`` with ``z``, ``z_coarse`` [N, d].
    """

    def __init__(self, in_dim: int, neighbor_dims: dict[str, int], context_types: Sequence[Sequence[str]],
                 hidden: int = 64, *, dropout: float = 0.0, use_context: bool = True):
        super().__init__()
        if not context_types:
            raise ValueError("context_types must list the prefix types of at least one meta-path")
        missing = sorted({t for types in context_types for t in types} - set(neighbor_dims))
        if missing:
            raise ValueError(f"neighbor_dims lacks the context node types {missing}")
        self.dropout = dropout
        self.use_context = use_context
        self.context_types = [list(t) for t in context_types]
        self.target_proj = _linear(in_dim, hidden)
        self.neighbor_proj = nn.ModuleDict({t: _linear(f, hidden) for t, f in neighbor_dims.items()})
        self.context_proj = nn.ModuleList([_linear(hidden, hidden, bias=False) for _ in context_types])
        self.encoder = MetaPathEncoder(hidden, hidden, hidden, dropout=dropout, attn_dropout=dropout,
                                       normalize=True, standardize=True)
        self.projection = _linear(hidden, hidden)

    @property
    def num_metapaths(self) -> int:
        return len(self.context_types)

    def _project(self, layer: nn.Linear, x: Tensor) -> Tensor:
        return F.elu(F.dropout(_apply(layer, x), self.dropout, self.training))

    def contexts(self, graphs) -> list[Tensor]:
        """``V_p ctx^p`` before dropout, one [N, d] tensor per meta-path."""
        g = {t: self._project(self.neighbor_proj[t], x) for t, x in graphs.neighbor_x.items()
             if t in self.neighbor_proj}
        out = []
        for prefixes, v in zip(graphs.contexts, self.context_proj):  # a loop over the P meta-paths
            ctx = sum(torch.sparse.mm(op, g[t]) for t, op in prefixes) / len(prefixes)
            out.append(v(ctx))
        return out

    def forward(self, graphs, x_aug: Tensor, adjs_aug: Sequence[SparseOperator]) -> MEOWViews:
        """Both views of the targets.

        Args:
            graphs: :class:`~gcl.data.metapath_graphs.MetaPathGraphs` (``x``, ``adjs``,
                ``coarse``, ``neighbor_x``, ``contexts``).
            x_aug: [N, F] masked target features ``X′``.
            adjs_aug: P edge-dropped operators ``Â_p^drop``.
        """
        if len(graphs.adjs) != self.num_metapaths or len(adjs_aug) != self.num_metapaths:
            raise ValueError(f"expected {self.num_metapaths} meta-path operators, got "
                             f"{len(graphs.adjs)} and {len(adjs_aug)} augmented")
        h = self._project(self.target_proj, graphs.x)
        h_aug = self._project(self.target_proj, x_aug)
        if self.use_context:
            ctx = self.contexts(graphs)
            u = [F.elu(h + F.dropout(c, self.dropout, self.training)) for c in ctx]
            u_aug = [F.elu(h_aug + F.dropout(c, self.dropout, self.training)) for c in ctx]
        else:
            u = [h] * self.num_metapaths
            u_aug = [h_aug] * self.num_metapaths
        z, beta = self.encoder(u + u_aug, list(graphs.adjs) + list(adjs_aug))
        z_coarse = self.encoder.gcn(h, graphs.coarse)
        return MEOWViews(z, z_coarse, beta)

    def project(self, z: Tensor) -> Tensor:
        """The shared projection ``π(z) = L2norm(tanh(W_π z + b_π))``."""
        return F.normalize(torch.tanh(self.projection(z)), dim=-1)
