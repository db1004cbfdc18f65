"""Molecule-level encoder for self-supervised pre-training and fine-tuning: GIN over OGB
atom/bond features, then mean pooling.

The encoder is the pretrain-gnns GIN (Hu et al., 2020; used by GraphCL's transfer code and by
D-SLA): 5 layers, 300 dimensions, self-loops carrying their own bond attributes, identity
messages ``m_v = Σ_{u ∈ N(v) ∪ {v}} (h_u + B_l(e_uv))``, ``MLP = Linear(d, 2d)–ReLU–Linear(2d, d)``,
BatchNorm and ReLU after every layer but the last, JK = last, then
``h_G = mean_{v ∈ G} h_v`` (see :class:`gcl.nn.GINEncoder`).

**Features.** The inputs are OGB's 9 atom and 3 bond features (``ogb.utils.smiles2graph``; the
``ogbg-mol*`` sets and :mod:`gcl.data.smiles` both produce them), embedded by OGB-style
sums of per-feature tables (:class:`gcl.nn.CategoricalEmbedding`). The special tokens the
pre-training views need come *after* OGB's vocabularies (OGB's own indices, "misc" buckets
included, are all real values):

* **atom mask token**: every atom column ``f`` gets one extra index ``OGB_ATOM_DIMS[f]``; a
  masked atom is the row :data:`MOL_MASK_ATOM` (all nine tokens), the analogue of
  pretrain-gnns' ``[119, 0]`` row, which replaces the whole atom description;
* **self-loop bond**: bond type gets one extra index ``OGB_BOND_DIMS[0] = 5`` (OGB's 4 is its
  "misc" bucket, which collides with pretrain-gnns' self-loop index 4), so the self-loops
  carry :data:`MOL_SELF_LOOP_BOND` ``= (5, 0, 0)`` (no stereo, not conjugated).

Pre-training and fine-tuning use the same vocabularies, so a pre-trained state dict loads
into a fine-tuning encoder unchanged.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor, nn

from gcl.nn.gin import GINEncoder
from gcl.nn.mol_encoders import OGB_ATOM_DIMS, OGB_BOND_DIMS
from gcl.nn.pooling import global_mean_pool

#: Atom vocabularies: OGB's nine plus one mask token each.
MOL_ATOM_DIMS: tuple[int, ...] = tuple(d + 1 for d in OGB_ATOM_DIMS)
#: The masked-atom row: the extra (last) index of every atom column.
MOL_MASK_ATOM: tuple[int, ...] = tuple(OGB_ATOM_DIMS)
#: Bond vocabularies: OGB's bond type plus the self-loop type; stereo and conjugation as OGB.
MOL_BOND_DIMS: tuple[int, ...] = (OGB_BOND_DIMS[0] + 1, *OGB_BOND_DIMS[1:])
#: Attributes of the self-loops added in every layer.
MOL_SELF_LOOP_BOND: tuple[int, ...] = (OGB_BOND_DIMS[0], 0, 0)


class MolGraphEncoder(nn.Module):
    """GIN (pretrain-gnns layer, OGB features + special tokens) and mean pooling.

    Args:
        num_layers: GIN layers L (default 5).
        emb_dim: width d (default 300).
        dropout: dropout after every layer (0 for pre-training, 0.5 for fine-tuning).
        check_inputs: raise :class:`ValueError` on atom / bond values outside the
            vocabularies (a device synchronisation per forward).

    Shapes:
        ``forward(x [N, 9] long, edge_index [2, E], edge_attr [E, 3] long, batch [N], num_graphs G)
        -> [G, d]``; a graph without nodes gets a zero row.
    """

    def __init__(self, num_layers: int = 5, emb_dim: int = 300, *, dropout: float = 0.0,
                 check_inputs: bool = True):
        super().__init__()
        self.num_layers, self.emb_dim = int(num_layers), int(emb_dim)
        self.gnn = GINEncoder(
            num_layers, emb_dim, features="ogb", atom_dims=MOL_ATOM_DIMS, bond_dims=MOL_BOND_DIMS,
            self_loop_attr=MOL_SELF_LOOP_BOND, train_eps=False, dropout=dropout, jk="last",
            check_inputs=check_inputs,
        )

    @property
    def dropout(self) -> float:
        return self.gnn.dropout

    @dropout.setter
    def dropout(self, value: float) -> None:
        if not 0.0 <= value < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {value}")
        self.gnn.dropout = float(value)

    def node_embeddings(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        """``[N, d]`` node states of the last layer."""
        return self.gnn(x, edge_index, edge_attr)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor,
                num_graphs: int) -> Tensor:
        return global_mean_pool(self.node_embeddings(x, edge_index, edge_attr), batch, num_graphs)

    def embed(self, data: Any) -> Tensor:
        """``[B, d]`` graph embeddings of a PyG ``Batch`` (or one ``Data``)."""
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(data.num_nodes, dtype=torch.long, device=data.x.device)
        num_graphs = int(getattr(data, "num_graphs", 1))
        return self(data.x, data.edge_index, data.edge_attr, batch, num_graphs)

    def architecture(self) -> dict[str, int]:
        """What is needed to rebuild this encoder: ``{"num_layers", "emb_dim"}``."""
        return {"num_layers": self.num_layers, "emb_dim": self.emb_dim}

    @classmethod
    def from_saved(cls, saved: Mapping[str, Any], *, dropout: float = 0.0) -> "MolGraphEncoder":
        """Rebuild an encoder from :func:`encoder_checkpoint` output (weights loaded).

        Raises:
            ValueError: ``saved`` lacks the architecture or the state dict does not fit it.
        """
        missing = [k for k in ("num_layers", "emb_dim", "state_dict") if k not in saved]
        if missing:
            raise ValueError(f"saved encoder lacks {missing}; expected encoder_checkpoint(...) output")
        enc = cls(int(saved["num_layers"]), int(saved["emb_dim"]), dropout=dropout)
        try:
            enc.load_state_dict(saved["state_dict"])
        except RuntimeError as exc:
            raise ValueError(f"saved encoder weights do not fit a {saved['num_layers']}-layer, "
                             f"{saved['emb_dim']}-dim encoder: {exc}") from exc
        return enc


def encoder_checkpoint(encoder: MolGraphEncoder, **meta: Any) -> dict[str, Any]:
    """The encoder weights and architecture (plus ``meta``, e.g. the method), for ``torch.save``
    and :meth:`MolGraphEncoder.from_saved`. Only the encoder is kept (pretrain-gnns saves
    only encoder weights; heads are discarded)."""
    return {**encoder.architecture(), "state_dict": {k: v.detach().cpu() for k, v in
                                                     encoder.state_dict().items()}, **meta}


__all__ = ["MOL_ATOM_DIMS", "MOL_BOND_DIMS", "MOL_MASK_ATOM", "MOL_SELF_LOOP_BOND", "MolGraphEncoder",
           "encoder_checkpoint"]
