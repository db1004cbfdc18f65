"""Meta-path encoder for heterogeneous graphs (MEOW / HeCo): one GCN shared by every meta-path
graph and view, fused by HAN-style semantic attention.

**Shared GCN** ``g`` (MEOW): two layers without bias on a meta-path operator ``Â_p``,

    H = PReLU(Â_p · Dropout(U W₁)),      Z = Â_p · Dropout(H W₂),

then ``Z`` is standardised **as one whole matrix** (no affine parameters):
``(Z − mean(Z)) / sqrt(var(Z) + 1e−5)`` over all ``N·d`` entries (biased variance). Weights are
drawn from ``U(±1/sqrt(fan_out))``. ``Â_p`` need not be symmetric (MEOW's normaliser transposes).

**Semantic attention** over M branch embeddings ``z^1 .. z^M`` (each [N, d]):

    e_m = qᵀ · (1/N) Σ_i tanh(W_a z_i^m + b_a),   β = softmax(e),   z = Σ_m β_m z^m,

with dropout on ``q`` (HAN, HeCo, MEOW). ``W_a`` and ``q`` are Xavier-normal with gain 1.414.

Operators may be sparse tensors or :class:`~gcl.nn.lightgcn.SparseOperator` (constant values,
precomputed transpose for the backward pass). Everything is a sparse-dense product or a dense
op on [M, N, d]; no N × N dense matrix.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gcl.nn.lightgcn import SparseOperator

Operator = Tensor | SparseOperator


def _propagate(adj: Operator, h: Tensor) -> Tensor:
    if isinstance(adj, SparseOperator):
        return adj @ h
    if adj.layout == torch.strided:
        return adj @ h
    return torch.sparse.mm(adj, h)


def _check_square(adj: Operator, n: int, name: str) -> None:
    if tuple(adj.shape) != (n, n):
        raise ValueError(f"{name} must have shape ({n}, {n}), got {tuple(adj.shape)}")


def whole_matrix_standardize(z: Tensor, eps: float = 1e-5) -> Tensor:
    """``(Z − mean(Z)) / sqrt(var(Z) + eps)`` over every entry of ``Z`` (biased variance).

    Equal to ``nn.LayerNorm(Z.shape, elementwise_affine=False)(Z)``, MEOW's normalisation.
    """
    return F.layer_norm(z, z.shape, eps=eps)


class MetaPathGCN(nn.Module):
    """The shared two-layer GCN ``g`` of MEOW (formula in the module docstring).

    Args:
        in_channels: input size F.
        hidden_channels: width of the first layer (default 64).
        out_channels: output size d (default 64).
        dropout: dropout on ``U W₁`` and on ``H W₂``.
        standardize: apply the whole-matrix standardisation to ``Z``.

    Shapes:
        x: [N, F], adj: [N, N] sparse or :class:`SparseOperator` -> [N, d]
    """

    def __init__(self, in_channels: int, hidden_channels: int = 64, out_channels: int = 64,
                 dropout: float = 0.0, standardize: bool = True):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.weight1 = nn.Parameter(torch.empty(in_channels, hidden_channels))
        self.weight2 = nn.Parameter(torch.empty(hidden_channels, out_channels))
        self.act = nn.PReLU()
        self.dropout = dropout
        self.standardize = standardize
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w in (self.weight1, self.weight2):
            bound = 1.0 / math.sqrt(w.size(1))
            nn.init.uniform_(w, -bound, bound)
        self.act.reset_parameters()

    def forward(self, x: Tensor, adj: Operator) -> Tensor:
        _check_square(adj, x.size(0), "adj")
        h = F.dropout(x @ self.weight1, self.dropout, self.training)
        h = self.act(_propagate(adj, h))
        z = _propagate(adj, F.dropout(h @ self.weight2, self.dropout, self.training))
        return whole_matrix_standardize(z) if self.standardize else z


class SemanticAttention(nn.Module):
    """HAN-style attention over M embeddings of the same N nodes (formula in the module docstring).

    Args:
        dim: embedding size d (``W_a`` is d × d with bias, ``q`` ∈ R^d).
        attn_dropout: dropout on ``q``.

    Shapes:
        embeds: [M, N, d] tensor or a sequence of M [N, d] tensors -> ``(z [N, d], beta [M])``
    """

    def __init__(self, dim: int, attn_dropout: float = 0.0):
        super().__init__()
        if not 0.0 <= attn_dropout < 1.0:
            raise ValueError(f"attn_dropout must be in [0, 1), got {attn_dropout}")
        self.fc = nn.Linear(dim, dim, bias=True)
        self.att = nn.Parameter(torch.empty(1, dim))
        self.attn_dropout = attn_dropout
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.fc.reset_parameters()
        nn.init.xavier_normal_(self.fc.weight, gain=1.414)
        nn.init.xavier_normal_(self.att, gain=1.414)

    def scores(self, embeds: Tensor) -> Tensor:
        """The logits ``e`` [M] for stacked ``embeds`` [M, N, d]."""
        q = F.dropout(self.att, self.attn_dropout, self.training).view(-1)
        summary = torch.tanh(self.fc(embeds)).mean(dim=1)          # [M, d]
        return summary @ q

    def forward(self, embeds: Tensor | Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        e = embeds if isinstance(embeds, Tensor) else torch.stack(list(embeds))
        if e.dim() != 3:
            raise ValueError(f"embeds must be [M, N, d] or M tensors [N, d], got shape {tuple(e.shape)}")
        beta = torch.softmax(self.scores(e), dim=0)
        return torch.einsum("m,mnd->nd", beta, e), beta


class MetaPathEncoder(nn.Module):
    """Per-meta-path (and per-view) embeddings from one shared :class:`MetaPathGCN`, fused by
    :class:`SemanticAttention`.

    Branch ``m`` computes ``z^m = g(x_m, Â_m)``, optionally L2-normalised per row (MEOW's
    fine-grained view); the output is ``z = Σ_m β_m z^m``. The same GCN serves any number of
    branches, so a method passes P meta-paths, or 2P branches for original + augmented views,
    and can call :attr:`gcn` directly for a coarse view.

    Args:
        in_channels, hidden_channels, out_channels, dropout: for the shared GCN.
        attn_dropout: dropout on the attention vector.
        normalize: L2-normalise each branch's rows before the attention.
        standardize: whole-matrix standardisation inside the GCN.

    Shapes:
        ``forward(xs, adjs) -> (z [N, d], beta [M])`` with ``xs`` one [N, F] tensor shared by all
        branches or a sequence of M such tensors, ``adjs`` a sequence of M [N, N] operators.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 64, out_channels: int = 64, *,
                 dropout: float = 0.0, attn_dropout: float = 0.0, normalize: bool = True,
                 standardize: bool = True):
        super().__init__()
        self.gcn = MetaPathGCN(in_channels, hidden_channels, out_channels, dropout, standardize)
        self.attention = SemanticAttention(out_channels, attn_dropout)
        self.normalize = normalize

    def reset_parameters(self) -> None:
        self.gcn.reset_parameters()
        self.attention.reset_parameters()

    def branches(self, xs: Tensor | Sequence[Tensor], adjs: Sequence[Operator]) -> Tensor:
        """The stacked branch embeddings [M, N, d] (normalised if ``normalize``)."""
        adjs = list(adjs)
        if not adjs:
            raise ValueError("adjs must hold at least one meta-path operator")
        inputs = [xs] * len(adjs) if isinstance(xs, Tensor) else list(xs)
        if len(inputs) != len(adjs):
            raise ValueError(f"xs has {len(inputs)} tensors for {len(adjs)} operators in adjs")
        out = torch.stack([self.gcn(x, a) for x, a in zip(inputs, adjs)])
        return F.normalize(out, dim=-1) if self.normalize else out

    def forward(self, xs: Tensor | Sequence[Tensor], adjs: Sequence[Operator]) -> tuple[Tensor, Tensor]:
        return self.attention(self.branches(xs, adjs))
