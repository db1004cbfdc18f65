"""D-SLA: graph self-supervised learning with accurate discrepancy learning (Kim, Baek, Hwang,
NeurIPS 2022), the official chem setting.

Per molecule of a batch of ``B``, ``C = 5`` candidates (:func:`gcl.views.dsla.dsla_candidates`,
batch-vectorized): index 0 is the masked original; candidates 1–3 perturb 20/40/60 % of the
bonds inside a 3-hop ball around a center atom (deletions, then as many additions between
non-bonded pairs); candidate 4 is the strong copy (80 % of all bonds). Every candidate masks
80 % of its eligible atoms (the ball, or the whole molecule for the strong copy) with the mask
row :data:`gcl.nn.mol_graph.MOL_MASK_ATOM`. The edit distance ``e_c`` is the exact
``(deleted + added) / 2`` of the candidate against the original ("swaps", the official scale).

Encoder ``f`` (:class:`gcl.nn.mol_graph.MolGraphEncoder`, GIN 5x300, mean pool) gives
``h_c ∈ R^d``; the discriminator head ``s = Linear(d, d)–ReLU–Linear(d, d)–ReLU–Linear(d, 1)``
gives ``S_c``. No projection head. Loss (:class:`gcl.losses.DSLALoss`, the official means):

* ``L_GD = mean_a −log softmax_c(S^a)_0`` (the discriminator must pick the original);
* ``L_edit = mean over molecules and pairs c < c' of (d_c/e_c − d_{c'}/e_{c'})²``, ``d_c = ‖h_c − h_0‖``,
  candidates 1..4 (strong included; ``e_c = 0`` left out);
* ``L_margin = mean over a, b ≠ a, c ∈ 1..3 of max(0, α + ‖h_0^a − h_c^a‖ − ‖h_0^a − h_0^b‖)``;
* ``L = L_GD + λ1 L_edit + λ2 L_margin`` with λ1 = 0.7, λ2 = 0.5, α = 5.

Defaults: batch 256, 100 epochs, Adam lr 1e-3, no weight decay, dropout 0; only the encoder is
kept after pre-training.

**Added bonds in OGB features.** The official constants draw the bond type (single .375,
double .296, triple .011, aromatic .318; OGB's type indices 0–3 in the same order) and a bond
*direction*, a pretrain-gnns feature OGB does not have. OGB's other two bond columns are
stereo and conjugation; an added bond gets stereo ``STEREONONE`` (0) and "not conjugated" (0)
(choice: a random bond has no defined stereo, and conjugation cannot be drawn jointly with
the type from per-column marginals). ``added_edge_attr="corpus"`` instead draws every column
from the corpus's marginals (set by :meth:`DSLA.set_corpus_marginals`). Which one ran is in
the config.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gcl.losses.dsla import DSLALoss, to_molecule_major
from gcl.methods.mol_pretrain import MolPretrainConfig
from gcl.nn.mol_encoders import OGB_BOND_DIMS
from gcl.nn.mol_graph import MOL_MASK_ATOM, MolGraphEncoder
from gcl.views.dsla import OFFICIAL_BOND_TYPE_PROBS, DSLACandidates, dsla_candidates, edge_attr_marginals

_ADDED_EDGE_ATTR = ("official", "corpus")


def official_ogb_bond_probs() -> list[Tensor]:
    """Per-column probabilities of an added bond in OGB's 3 bond features (module docstring):
    the official bond-type constants (OGB's "misc" type never drawn), stereo 0, not conjugated."""
    bond_type = torch.zeros(OGB_BOND_DIMS[0], dtype=torch.float64)
    bond_type[: len(OFFICIAL_BOND_TYPE_PROBS)] = torch.tensor(OFFICIAL_BOND_TYPE_PROBS, dtype=torch.float64)
    rest = []
    for size in OGB_BOND_DIMS[1:]:
        p = torch.zeros(size, dtype=torch.float64)
        p[0] = 1.0
        rest.append(p)
    return [bond_type, *rest]


@dataclass
class DSLAConfig(MolPretrainConfig):
    """D-SLA hyper-parameters (official chem defaults), besides :class:`MolPretrainConfig`'s.

    Attributes:
        num_candidates: C, the original included (5).
        num_hops: radius k of the perturbed ball (3).
        mask_ratio: fraction of eligible atoms masked in every candidate (0.8).
        edit_ratio: bond edit fraction per level inside the ball (0.2: 20/40/60 %).
        strong: the last candidate is the strong whole-molecule perturbation (True).
        strong_edit_ratio: its bond edit fraction (0.8).
        edit_weight: λ1 (0.7).
        margin_weight: λ2 (0.5).
        margin: α (5.0).
        added_edge_attr: ``"official"`` or ``"corpus"`` (module docstring).
        faithful_readd: let a deleted bond come back (official sampling; the edit count then
            over-counts, see the spec's pitfall 1).
    """

    num_candidates: int = 5
    num_hops: int = 3
    mask_ratio: float = 0.8
    edit_ratio: float = 0.2
    strong: bool = True
    strong_edit_ratio: float = 0.8
    edit_weight: float = 0.7
    margin_weight: float = 0.5
    margin: float = 5.0
    added_edge_attr: str = "official"
    faithful_readd: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_candidates < 3:
            raise ValueError(f"num_candidates must be >= 3 (the edit loss compares two perturbed "
                             f"copies), got {self.num_candidates}")
        if self.added_edge_attr not in _ADDED_EDGE_ATTR:
            raise ValueError(f"added_edge_attr must be one of {_ADDED_EDGE_ATTR}, got {self.added_edge_attr!r}")
        for name in ("mask_ratio", "edit_ratio", "strong_edit_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")


class DSLA(nn.Module):
    """D-SLA model for molecules: encoder, discriminator head, candidates, three losses.

    Args:
        config: hyper-parameters.
        check_inputs: let the encoder check atom / bond vocabularies.

    ``loss_terms(batch, generator) -> {"loss", "gd", "gd_acc", "edit", "margin", "capped"}``
    (``capped``: candidates of the batch whose edits were capped by their ball).
    """

    def __init__(self, config: DSLAConfig | None = None, *, check_inputs: bool = True):
        super().__init__()
        self.config = cfg = config or DSLAConfig()
        self.encoder = MolGraphEncoder(cfg.num_layers, cfg.emb_dim, dropout=cfg.dropout,
                                       check_inputs=check_inputs)
        d = cfg.emb_dim
        self.head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 1))
        self.criterion = DSLALoss(cfg.edit_weight, cfg.margin_weight, cfg.margin, strong=cfg.strong)
        self._edge_probs: list[Tensor] | None = official_ogb_bond_probs() if cfg.added_edge_attr == "official" else None

    def set_corpus_marginals(self, edge_attr: Tensor) -> None:
        """Use the per-column bond marginals of a corpus (``[E, 3]``) for added bonds."""
        self._edge_probs = edge_attr_marginals(edge_attr, OGB_BOND_DIMS)

    def candidates(self, batch: Any, generator: torch.Generator | None = None) -> DSLACandidates:
        """The ``C * B`` candidates of ``batch`` (candidate-major)."""
        if self._edge_probs is None:
            raise ValueError("added_edge_attr='corpus' needs set_corpus_marginals(corpus edge_attr) first")
        cfg = self.config
        token = torch.tensor(MOL_MASK_ATOM, dtype=batch.x.dtype, device=batch.x.device)
        return dsla_candidates(
            batch, num_candidates=cfg.num_candidates, num_hops=cfg.num_hops, mask_ratio=cfg.mask_ratio,
            edit_ratio=cfg.edit_ratio, strong=cfg.strong, strong_edit_ratio=cfg.strong_edit_ratio,
            mask_token=token, added_edge_attr=self._edge_probs, faithful_readd=cfg.faithful_readd,
            edit_unit="swaps", generator=generator,
        )

    def score(self, cand: DSLACandidates) -> tuple[Tensor, Tensor, Tensor]:
        """Molecule-major scores ``[B, C]``, embeddings ``[B, C, d]`` and edits ``[B, C-1]``."""
        C, B = cand.num_candidates, cand.batch_size
        h = self.encoder(cand.x, cand.edge_index, cand.edge_attr, cand.graph_id, C * B)
        hm = to_molecule_major(h, C)
        return self.head(hm).squeeze(-1), hm, to_molecule_major(cand.edit, C)[:, 1:]

    def loss_terms(self, batch: Any, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        cand = self.candidates(batch, generator)
        scores, h, edit = self.score(cand)
        parts = self.criterion.parts(scores, h, edit.to(h.dtype))
        cfg = self.config
        loss = parts["gd"] + cfg.edit_weight * parts["edit"] + cfg.margin_weight * parts["margin"]
        return {"loss": loss, **parts, "capped": cand.capped.sum().float()}


__all__ = ["DSLA", "DSLAConfig", "official_ogb_bond_probs"]
