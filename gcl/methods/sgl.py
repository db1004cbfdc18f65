"""SGL: self-supervised graph learning for recommendation (Wu et al., SIGIR 2021).

LightGCN (mean over layers 0..L, see :mod:`gcl.methods.lightgcn`) trained with BPR on the full
training graph, plus an InfoNCE term between two stochastic views of the graph drawn **once
per epoch** (:meth:`SGL.begin_epoch`, two independent draws shared by all of the epoch's
batches, :class:`gcl.views.interaction.InteractionViews`):

* ``aug="ed"``: edge dropout, ``floor((1-ρ)|R|)`` interactions kept, renormalised;
* ``aug="nd"``: node dropout, ``floor(ρI)`` users and ``floor(ρJ)`` items removed;
* ``aug="rw"``: an independent edge-dropout graph per layer ("random walk").

Per batch ``(u, i⁺, i⁻)`` with ``z'``, ``z''`` the row-L2-normalised final embeddings of the
two views:

    ℓ_u = LSE_{v ∈ N}(z'_u · z''_v / τ) − z'_u · z''_u / τ     (batch users, duplicates kept)
    ℓ_i = the same for the batch positive items over items   (ssl_mode = both sides)
    L = mean BPR + ssl_weight (mean_u ℓ_u + mean_i ℓ_i) + reg_weight · ½(‖e⁰_u‖²+‖e⁰_{i⁺}‖²+‖e⁰_{i⁻}‖²)/B

``N`` is every user (item) with ``negatives="all"`` (the official setting; the log-sum-exp is
streamed over column blocks, :func:`gcl.losses.node_contrast.node_contrast`), a shared uniform
sample of ``num_negatives`` plus the positive with ``"sampled"``, or the batch's distinct
users (items) with ``"in_batch"``.

**Reduction.** The official code sums BPR, the SSL terms and the L2 term over the batch; we
take means of all three (the L2 term divided by B as in LightGCN). The ratios between the
terms are unchanged, so ``ssl_weight`` keeps its meaning, and Adam is nearly invariant to the
overall scale.

Defaults (official README/config, Yelp2018 row): ED, ρ 0.1, τ 0.2, λ_ssl 0.1, reg 1e-4, L 3,
d 64, lr 1e-3, batch 2048, Xavier-uniform init. Gowalla is not in the paper: it uses the
Yelp2018 row. Preset ``cpu``: L 2, 30 epochs, sampled negatives (4,096 per side) and
LightGCN's N(0, 0.1²) initialisation instead of Xavier, so that the scaled comparison with
the ``cpu`` LightGCN differs only by the contrastive term. With Xavier-uniform on tables of
~40k rows the initial embeddings are about ten times smaller; the normalised InfoNCE
gradient (∝ 1/‖e‖) then dominates Adam's steps and BPR barely moves in the first epochs
(5,000-user Gowalla subsample, epoch 5: validation Recall@20 0.042 with Xavier, 0.096 with
N(0, 0.1²), LightGCN 0.089).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from gcl.data.interactions import InteractionGraph
from gcl.losses.node_contrast import check_negatives, node_contrast
from gcl.methods.lightgcn import CPU_PRESET, LightGCN, LightGCNConfig
from gcl.nn.lightgcn import SparseOperator
from gcl.views.interaction import InteractionViews

AUGMENTATIONS = ("ed", "nd", "rw")

_SGL_ROWS: dict[str, dict[str, Any]] = {
    "yelp2018": {},
    "gowalla": {},  # not in the paper: the Yelp2018 row
    "amazon-book": dict(ssl_weight=0.5),
    "alibaba-ifashion": dict(ratio=0.4, tau=0.5, ssl_weight=0.02, reg_weight=1e-3),
}


@dataclass
class SGLConfig(LightGCNConfig):
    """Hyper-parameters of SGL (official Yelp2018 settings).

    These come on top of the :class:`~gcl.methods.lightgcn.LightGCNConfig` fields (init is
    Xavier here).

    Attributes:
        aug: ``"ed"``, ``"nd"`` or ``"rw"``.
        ratio: drop ratio ρ.
        tau: InfoNCE temperature.
        ssl_weight: λ_ssl.
        negatives: ``"all"`` (official), ``"sampled"`` or ``"in_batch"``.
        num_negatives: sample size per side for ``"sampled"``.
        chunk_size: candidate columns per block of the streamed log-sum-exp.
    """

    init: str = "xavier"
    aug: str = "ed"
    ratio: float = 0.1
    tau: float = 0.2
    ssl_weight: float = 0.1
    negatives: str = "all"
    num_negatives: int = 4096
    chunk_size: int = 4096

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "default": {},
        "cpu": dict(CPU_PRESET, negatives="sampled", num_negatives=4096, init="normal"),
    }
    DATASET_ROWS: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {
        "default": _SGL_ROWS, "cpu": _SGL_ROWS}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.aug not in AUGMENTATIONS:
            raise ValueError(f"aug must be one of {AUGMENTATIONS}, got {self.aug!r}")
        if not 0.0 <= self.ratio < 1.0:
            raise ValueError(f"ratio must lie in [0, 1), got {self.ratio}")
        if not self.tau > 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")
        if self.num_layers < 1:
            raise ValueError(f"SGL needs num_layers >= 1, got {self.num_layers}")
        check_negatives(self.negatives, self.num_negatives)


def _symmetric_operator(adj: Tensor) -> SparseOperator:
    """A :class:`SparseOperator` of a symmetric CSR matrix: its own transpose, no sort."""
    perm = torch.arange(adj.values().numel(), device=adj.device)
    return SparseOperator(adj, _transpose=(adj, perm))


def propagate_layers(ops: list[SparseOperator], emb: Tensor) -> Tensor:
    """``1/(L+1) Σ_l E^(l)`` with ``E^(l) = A_l E^(l-1)``: one operator per layer.

    Args:
        ops: L square operators [N, N] (the same object repeated for ED/ND).
        emb: [N, d] layer-0 embeddings.

    Returns:
        [N, d].
    """
    h, out = emb, emb
    for op in ops:
        h = op @ h
        out = out + h
    return out / (len(ops) + 1)


class SGL(LightGCN):
    """SGL on a LightGCN backbone (module docstring); a :class:`~gcl.methods.cf.CFMethod`.

    Attributes:
        views: the view generator bound to the training interactions.
        view_ops: the current epoch's two views as per-layer operator lists.
    """

    config_class = SGLConfig
    config: SGLConfig

    def __init__(self, graph: InteractionGraph, config: SGLConfig):
        super().__init__(graph, config)
        self._train = graph.train
        self.views = InteractionViews(graph.train)
        self.view_ops: tuple[list[SparseOperator], list[SparseOperator]] | None = None

    def _draw_view(self, generator: torch.Generator | None) -> list[SparseOperator]:
        c = self.config
        adjs = self.views.view(c.aug, c.ratio, c.num_layers, generator)
        ops: dict[int, SparseOperator] = {}  # ED/ND repeat one adjacency: one operator
        return [ops.setdefault(id(a), _symmetric_operator(a)) for a in adjs]

    def begin_epoch(self, generator: torch.Generator | None = None) -> None:
        """Draw the epoch's two independent views."""
        self.view_ops = (self._draw_view(generator), self._draw_view(generator))

    def _apply(self, fn, *args, **kwargs):  # keep the view generator on the parameters' device
        out = super()._apply(fn, *args, **kwargs)
        dev = self.encoder.user_emb.device
        if self._train.device != dev:
            self._train = self._train.to(dev)
            self.views = InteractionViews(self._train)
            self.view_ops = None
        return out

    def view_embeddings(self) -> tuple[Tensor, Tensor]:
        """Final embeddings [I+J, d] of the two current views (users first)."""
        if self.view_ops is None:
            raise RuntimeError("no views drawn yet: call begin_epoch(generator) first")
        emb = torch.cat([self.encoder.user_emb, self.encoder.item_emb])
        return propagate_layers(self.view_ops[0], emb), propagate_layers(self.view_ops[1], emb)

    def loss(self, users: Tensor, pos_items: Tensor, neg_items: Tensor,
             generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, float]]:
        """BPR + λ_ssl (user + item InfoNCE) + batch L2; parts ``bpr``, ``cl``, ``reg``."""
        if self.view_ops is None:
            self.begin_epoch(generator)
        rec, parts = super().loss(users, pos_items, neg_items, generator)
        c = self.config
        v1, v2 = self.view_embeddings()
        z1, z2 = F.normalize(v1, dim=1), F.normalize(v2, dim=1)
        n_u = self.n_users
        kw = dict(negatives=c.negatives, num_negatives=c.num_negatives, chunk_size=c.chunk_size,
                  generator=generator)
        cl = (node_contrast(z1[:n_u], z2[:n_u], users, c.tau, **kw)
              + node_contrast(z1[n_u:], z2[n_u:], pos_items, c.tau, **kw))
        parts["cl"] = float(cl.detach())
        return rec + c.ssl_weight * cl, parts


__all__ = ["AUGMENTATIONS", "SGL", "SGLConfig", "propagate_layers"]
