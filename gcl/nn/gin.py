"""Graph isomorphism network (Xu et al., 2019) with bond features, as in the pre-training
literature (pretrain-gnns, Hu et al., 2020; the OGB molecule baselines).

One layer aggregates messages that add a bond embedding to the neighbour's state
(pretrain-gnns: ``message = h_u + e_uv``) and passes the sum through an MLP. Two ways of
counting the node itself are offered:

* **self-loop** (pretrain-gnns, ``self_loop_attr=(4, 0)``): every node gets a self-loop with
  the given bond attributes, so
  ``m_v = Σ_{u ∈ N(v) ∪ {v}} φ(h_u + B_l(e_uv))``;
* **eps** (GIN / OGB): ``m_v = (1 + ε) h_v + Σ_{u ∈ N(v)} φ(h_u + B_l(e_uv))`` with a fixed or
  learnable ε.

``φ`` is the identity (pretrain-gnns) or ReLU (OGB's example GIN, ``message_relu=True``).
Then ``h_v' = MLP_l(m_v)`` with ``MLP = Linear(d, 2d) – [BatchNorm] – ReLU – Linear(2d, d)``
(the inner BatchNorm only with ``mlp_batch_norm=True``, as in OGB's example).

Messages are gathered along the edge list and summed with ``index_add_``: O(E d) per layer,
no Python loop over nodes or edges, same code on CPU and CUDA. Edges follow PyG's flow: column
``(u, v)`` of ``edge_index`` carries a message from source ``u`` to target ``v``.
"""
from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gcl.nn.mol_encoders import (
    OGB_ATOM_DIMS,
    OGB_BOND_DIMS,
    PRETRAIN_ATOM_DIMS,
    PRETRAIN_BOND_DIMS,
    PRETRAIN_SELF_LOOP_BOND,
    CategoricalEmbedding,
)

_UNSET: object = object()


class GINConv(nn.Module):
    """One GIN layer with bond features (no outer BatchNorm/activation; see :class:`GINEncoder`).

    Formula (self-loop mode, ``self_loop_attr`` given):
        ``h_v' = MLP( Σ_{u ∈ N(v) ∪ {v}} φ(h_u + B(e_uv)) )`` with ``e_vv = self_loop_attr``.
    Formula (eps mode, ``self_loop_attr=None``):
        ``h_v' = MLP( (1 + ε) h_v + Σ_{u ∈ N(v)} φ(h_u + B(e_uv)) )``.

    Args:
        emb_dim: node state size d (input = output).
        edge_encoder: module mapping ``edge_attr [E, F_e]`` to ``[E, d]`` (``B`` above), or None
            for no bond features (``message = φ(h_u)``).
        hidden_dim: MLP hidden width (default ``2 * emb_dim``).
        self_loop_attr: bond attributes of the added self-loops (self-loop mode); needs an
            ``edge_encoder``. None selects eps mode.
        eps: initial ε (eps mode only).
        train_eps: learn ε (eps mode only).
        message_relu: ``φ = ReLU`` instead of the identity.
        mlp_batch_norm: BatchNorm between the two MLP layers.

    Shapes:
        x: [N, d], edge_index: [2, E] long, edge_attr: [E, F_e] long (or None) -> [N, d]
    """

    def __init__(
        self,
        emb_dim: int,
        edge_encoder: nn.Module | None = None,
        *,
        hidden_dim: int | None = None,
        self_loop_attr: Sequence[int] | None = None,
        eps: float = 0.0,
        train_eps: bool = False,
        message_relu: bool = False,
        mlp_batch_norm: bool = False,
    ):
        super().__init__()
        if self_loop_attr is not None and edge_encoder is None:
            raise ValueError("self_loop_attr needs an edge_encoder (the self-loop bond embedding)")
        if self_loop_attr is not None and (train_eps or eps != 0.0):
            raise ValueError("eps/train_eps apply only without self-loops (self_loop_attr=None)")
        hidden = 2 * emb_dim if hidden_dim is None else hidden_dim
        layers: list[nn.Module] = [nn.Linear(emb_dim, hidden)]
        if mlp_batch_norm:
            layers.append(nn.BatchNorm1d(hidden))
        layers += [nn.ReLU(), nn.Linear(hidden, emb_dim)]
        self.mlp = nn.Sequential(*layers)
        self.edge_encoder = edge_encoder
        self.message_relu = message_relu
        if self_loop_attr is None:
            self.register_buffer("self_loop_attr", None)
            if train_eps:
                self.eps = nn.Parameter(torch.tensor([float(eps)]))
            else:
                self.register_buffer("eps", torch.tensor([float(eps)]))
        else:
            self.register_buffer("self_loop_attr", torch.tensor([list(self_loop_attr)], dtype=torch.long))
            self.eps = None

    def reset_parameters(self) -> None:
        for m in self.mlp:
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
        if self.edge_encoder is not None and hasattr(self.edge_encoder, "reset_parameters"):
            self.edge_encoder.reset_parameters()
        if isinstance(self.eps, nn.Parameter):
            with torch.no_grad():
                self.eps.zero_()

    def _act(self, m: Tensor) -> Tensor:
        return F.relu(m) if self.message_relu else m

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"edge_index must have shape [2, E], got {tuple(edge_index.shape)}")
        src, dst = edge_index[0], edge_index[1]
        msg = x.index_select(0, src)
        if self.edge_encoder is not None:
            if edge_attr is None:
                raise ValueError("edge_attr is required: this GINConv has an edge_encoder")
            if edge_attr.size(0) != src.numel():
                raise ValueError(
                    f"edge_attr has {edge_attr.size(0)} rows for {src.numel()} edges in edge_index"
                )
            msg = msg + self.edge_encoder(edge_attr)
        agg = torch.zeros_like(x).index_add_(0, dst, self._act(msg))
        if self.self_loop_attr is not None:
            loop = self.edge_encoder(self.self_loop_attr)          # [1, d], the same for all nodes
            agg = agg + self._act(x + loop)
        else:
            agg = agg + (1 + self.eps) * x
        return self.mlp(agg)


class GINEncoder(nn.Module):
    """A stack of GIN layers over embedded atom features (node embeddings out; pool separately).

    Layer ``l = 1..L``: ``h^l = Dropout(ReLU(BN_l(GINConv_l(h^{l-1}))))``, with no ReLU after the
    last layer (pretrain-gnns / OGB). ``h⁰`` is the atom embedding. Every layer has its own bond
    embedding. The output is chosen by ``jk``: ``'last'`` gives ``h^L``; ``'sum'``/``'max'``
    reduce ``h⁰ .. h^L`` element-wise; ``'concat'`` concatenates them (width ``(L + 1) d``).

    Presets:
        * ``features='pretrain'`` (default, D-SLA / pretrain-gnns): atom type + chirality,
          bond type + direction, self-loops with bond attributes (4, 0), identity messages.
          ``x = [atom type, chirality]``, ``edge_attr = [bond type, direction]``.
        * ``features='ogb'``: OGB's 9 atom / 3 bond features, eps mode with learnable ε (init 0).
          OGB's example GIN is ``features='ogb', message_relu=True, mlp_batch_norm=True``.

    Args:
        num_layers: L >= 1 (default 5).
        emb_dim: d (default 300).
        features: ``'pretrain'`` or ``'ogb'``.
        atom_dims, bond_dims: vocabulary sizes (defaults from the preset; pass data-sized ones
            with the special tokens after them).
        self_loop_attr: bond attributes of the self-loops, or None for eps mode (default from
            the preset: ``(4, 0)`` for pretrain, None for ogb).
        train_eps: learn ε in eps mode (default: True for ogb).
        message_relu, mlp_batch_norm: see :class:`GINConv`.
        dropout: dropout after every layer (pretrain-gnns: 0 for pre-training, 0.5 fine-tuning).
        jk: ``'last' | 'sum' | 'max' | 'concat'``.
        check_inputs: raise :class:`ValueError` for atom / bond values outside their
            vocabularies (two device synchronisations per forward; off for the fastest path).

    Shapes:
        ``forward(x [N, F_a] long, edge_index [2, E] long, edge_attr [E, F_b] long) -> [N, out_dim]``
    """

    def __init__(
        self,
        num_layers: int = 5,
        emb_dim: int = 300,
        *,
        features: Literal["pretrain", "ogb"] = "pretrain",
        atom_dims: Sequence[int] | None = None,
        bond_dims: Sequence[int] | None = None,
        self_loop_attr: Sequence[int] | None | object = _UNSET,
        train_eps: bool | None = None,
        message_relu: bool = False,
        mlp_batch_norm: bool = False,
        dropout: float = 0.0,
        jk: Literal["last", "sum", "max", "concat"] = "last",
        check_inputs: bool = True,
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if features not in ("pretrain", "ogb"):
            raise ValueError(f"features must be 'pretrain' or 'ogb', got {features!r}")
        if jk not in ("last", "sum", "max", "concat"):
            raise ValueError(f"jk must be 'last', 'sum', 'max' or 'concat', got {jk!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        pretrain = features == "pretrain"
        atom_dims = (PRETRAIN_ATOM_DIMS if pretrain else OGB_ATOM_DIMS) if atom_dims is None else atom_dims
        bond_dims = (PRETRAIN_BOND_DIMS if pretrain else OGB_BOND_DIMS) if bond_dims is None else bond_dims
        if self_loop_attr is _UNSET:
            self_loop_attr = PRETRAIN_SELF_LOOP_BOND if pretrain else None
        if train_eps is None:
            train_eps = self_loop_attr is None and not pretrain
        if self_loop_attr is not None:
            loop = list(self_loop_attr)  # type: ignore[arg-type]
            if len(loop) != len(bond_dims) or any(not 0 <= a < s for a, s in zip(loop, bond_dims)):
                raise ValueError(
                    f"self_loop_attr {loop} does not fit the bond vocabularies {list(bond_dims)}"
                )
        self.features = features
        self.num_layers = num_layers
        self.emb_dim = emb_dim
        self.dropout = dropout
        self.jk = jk
        self.atom_encoder = CategoricalEmbedding(atom_dims, emb_dim, check_range=check_inputs)
        # Every layer sees the same edge_attr: only the first layer's bond embedding checks it.
        self.convs = nn.ModuleList(
            GINConv(
                emb_dim,
                CategoricalEmbedding(bond_dims, emb_dim, check_range=check_inputs and i == 0),
                self_loop_attr=self_loop_attr,  # type: ignore[arg-type]
                train_eps=train_eps,
                message_relu=message_relu,
                mlp_batch_norm=mlp_batch_norm,
            )
            for i in range(num_layers)
        )
        self.batch_norms = nn.ModuleList(nn.BatchNorm1d(emb_dim) for _ in range(num_layers))

    @property
    def out_dim(self) -> int:
        """Width of the output: ``(L + 1) d`` for ``jk='concat'``, d otherwise."""
        return (self.num_layers + 1) * self.emb_dim if self.jk == "concat" else self.emb_dim

    def reset_parameters(self) -> None:
        self.atom_encoder.reset_parameters()
        for conv, bn in zip(self.convs, self.batch_norms):
            conv.reset_parameters()
            bn.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        h = self.atom_encoder(x)
        hs = [h]
        for i, (conv, bn) in enumerate(zip(self.convs, self.batch_norms)):
            h = bn(conv(h, edge_index, edge_attr))
            if i < self.num_layers - 1:
                h = F.relu(h)
            h = F.dropout(h, self.dropout, self.training)
            hs.append(h)
        if self.jk == "last":
            return h
        if self.jk == "concat":
            return torch.cat(hs, dim=1)
        stacked = torch.stack(hs, dim=0)
        return stacked.sum(0) if self.jk == "sum" else stacked.max(0).values
