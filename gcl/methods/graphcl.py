"""GraphCL: graph contrastive learning with augmentations (You et al., NeurIPS 2020), chem transfer.

For every molecule ``G_i`` of a batch of ``B``, two views are drawn independently,
``G_i' = a'(G_i)`` and ``G_i'' = a''(G_i)``, each augmentation chosen **per molecule** uniformly
from the pool (official ``--aug1 random --aug2 random``: node dropping or subgraph). The
views are batch-vectorized (:mod:`gcl.views`: exact per-graph counts, no loop over graphs):

* ``node_drop``: remove ``floor(r n)`` uniformly chosen atoms and their bonds;
* ``edge_perturb``: remove ``floor(r m)`` bonds and add as many between non-bonded atom pairs of
  the same molecule, symmetrically, a new bond copying the attributes of a random bond of the
  molecule (the official chem code adds directed pairs without attributes, see the spec);
* ``attr_mask``: replace ``floor(r n)`` atom rows by the mask row
  (:data:`gcl.nn.mol_graph.MOL_MASK_ATOM`);
* ``subgraph``: grow a connected set from a uniform seed atom, one uniformly chosen frontier
  atom at a time, up to ``floor(r n) + 1`` atoms (the transfer code's target), keep the induced
  subgraph (``faithful_subgraph_bug=True`` reproduces the official frontier bug).

Encoder ``f``: :class:`gcl.nn.mol_graph.MolGraphEncoder` (GIN 5x300, mean pool); projection
``g = Linear(d, d)–ReLU–Linear(d, d)``; ``z' = g(f(G'))``, ``z'' = g(f(G''))``. Loss, NT-Xent with
cosine similarity ``s`` in **one direction** (view-1 anchors, view-2 candidates) with the
positive **excluded** from the denominator (the official code):

    ℓ_i = −s(z_i', z_i'')/τ + log Σ_{j ≠ i} exp(s(z_i', z_j'')/τ),     L = (1/B) Σ_i ℓ_i

It can be negative. Options: ``symmetric`` (mean of both directions) and
``include_positive`` (the positive also in the denominator, i.e. InfoNCE). Defaults
(chem transfer): r = 0.2, τ = 0.1, batch 256, 100 epochs, Adam lr 1e-3, no weight decay,
dropout 0. After pre-training only the encoder is kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor, nn

from gcl.losses.dcl import decoupled_contrastive_loss
from gcl.losses.infonce import info_nce
from gcl.methods.mol_pretrain import MolPretrainConfig
from gcl.nn.mol_graph import MOL_MASK_ATOM, MolGraphEncoder
from gcl.views.transforms import EdgePerturb, FeatureMask, GrowSubgraph, NodeDrop, RandomChoice

#: Augmentation name -> view factory ``(ratio, faithful_subgraph_bug) -> view``.
AUGMENTATIONS: dict[str, Callable[[float, bool], Callable[..., Any]]] = {
    "node_drop": lambda r, _bug: NodeDrop(r),
    "edge_perturb": lambda r, _bug: EdgePerturb(r),
    "attr_mask": lambda r, _bug: FeatureMask(r, value=torch.tensor(MOL_MASK_ATOM)),
    "subgraph": lambda r, bug: GrowSubgraph(r, extra_nodes=1, faithful_subgraph_bug=bug),
}


@dataclass
class GraphCLConfig(MolPretrainConfig):
    """GraphCL hyper-parameters (chem transfer defaults), besides :class:`MolPretrainConfig`'s.

    Attributes:
        augmentations: comma-separated pool, each view picks one per molecule uniformly
            (``node_drop``, ``edge_perturb``, ``attr_mask``, ``subgraph``); default
            ``"node_drop,subgraph"`` (the official chem ``random``).
        aug_ratio: r (0.2).
        tau: temperature (0.1).
        symmetric: average the two directions (official: one direction).
        include_positive: keep the positive in the denominator (official: excluded).
        faithful_subgraph_bug: the official subgraph (seed plus direct neighbours only).
    """

    augmentations: str = "node_drop,subgraph"
    aug_ratio: float = 0.2
    tau: float = 0.1
    symmetric: bool = False
    include_positive: bool = False
    faithful_subgraph_bug: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        names = self.augmentation_list()
        bad = [a for a in names if a not in AUGMENTATIONS]
        if not names or bad:
            raise ValueError(f"augmentations must name some of {sorted(AUGMENTATIONS)}, got {self.augmentations!r}")
        if not 0.0 <= self.aug_ratio < 1.0:
            raise ValueError(f"aug_ratio must be in [0, 1), got {self.aug_ratio}")
        if not self.tau > 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")

    def augmentation_list(self) -> list[str]:
        return [a.strip() for a in self.augmentations.split(",") if a.strip()]


def graphcl_loss(z1: Tensor, z2: Tensor, tau: float = 0.1, *, symmetric: bool = False,
                 include_positive: bool = False) -> Tensor:
    """GraphCL's NT-Xent (module docstring) of two row-aligned views ``[B, d]`` (B >= 2).

    Default: one direction, cosine similarity, positive excluded from the denominator
    (:func:`gcl.losses.decoupled_contrastive_loss` without intra-view negatives); with
    ``include_positive``, :func:`gcl.losses.info_nce` without intra-view negatives.
    """
    if z1.dim() != 2 or z1.shape != z2.shape or z1.size(0) < 2:
        raise ValueError(f"z1 and z2 must both be [B, d] with B >= 2, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if include_positive:
        loss = info_nce(z1, z2, tau, intra_view=False)
        return 0.5 * (loss + info_nce(z2, z1, tau, intra_view=False)) if symmetric else loss
    return decoupled_contrastive_loss(z1, z2, tau, intra_view=False, normalize=True, symmetric=symmetric)


class GraphCL(nn.Module):
    """GraphCL model for molecules: encoder, projection head, two views, NT-Xent.

    Args:
        config: hyper-parameters.
        check_inputs: let the encoder check atom / bond vocabularies.

    ``loss_terms(batch, generator) -> {"loss"}``; ``encoder`` is what pre-training produces.
    """

    def __init__(self, config: GraphCLConfig | None = None, *, check_inputs: bool = True):
        super().__init__()
        self.config = cfg = config or GraphCLConfig()
        self.encoder = MolGraphEncoder(cfg.num_layers, cfg.emb_dim, dropout=cfg.dropout,
                                       check_inputs=check_inputs)
        d = cfg.emb_dim
        self.projector = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))
        pool = [AUGMENTATIONS[a](cfg.aug_ratio, cfg.faithful_subgraph_bug) for a in cfg.augmentation_list()]
        self.augment = pool[0] if len(pool) == 1 else RandomChoice(pool, per_graph=True)

    def views(self, batch: Any, generator: torch.Generator | None = None) -> tuple[Any, Any]:
        """Two independent augmented copies of ``batch`` (the input is not modified)."""
        return self.augment(batch, generator=generator), self.augment(batch, generator=generator)

    def project(self, view: Any) -> Tensor:
        """``z = g(f(view))``: ``[B, d]``."""
        return self.projector(self.encoder.embed(view))

    def loss_terms(self, batch: Any, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        v1, v2 = self.views(batch, generator)
        cfg = self.config
        loss = graphcl_loss(self.project(v1), self.project(v2), cfg.tau, symmetric=cfg.symmetric,
                            include_positive=cfg.include_positive)
        return {"loss": loss}


__all__ = ["AUGMENTATIONS", "GraphCL", "GraphCLConfig", "graphcl_loss"]
