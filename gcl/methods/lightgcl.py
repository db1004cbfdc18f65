"""LightGCL: graph contrastive learning with an SVD view (Cai et al., ICLR 2023).

Notation: I users, J items, ``Â = D_u^{-1/2} A D_i^{-1/2}`` (I×J CSR, zero-degree rows and
columns stay 0), ``Â ≈ U S Vᵀ`` the rank-q truncated SVD (:class:`gcl.views.svd.SVDView`,
computed once; of ``Â`` in the ``repo`` preset, of the binary ``A`` in ``paper``).

**Forward** (whole graph, every step), ``drop_p`` = edge dropout on the stored values with two
independent masks (identity for p = 0, and always in eval mode)::

    for l in 1..L:
        Zu[l] = drop_p(Â) Ei[l-1]          Zi[l] = drop_p(Â)ᵀ Eu[l-1]
        Gu[l] = (U S)(Vᵀ Ei[l-1])          Gi[l] = (V S)(Uᵀ Eu[l-1])     # never I×J dense
        repo:  Eu[l] = Zu[l]
        paper: Z, G ← LeakyReLU_0.5(Z), LeakyReLU_0.5(G);  Eu[l] = Zu[l] + Eu[l-1]
    Eu = Σ_{l=0..L} Eu[l],   Gu = Eu[0] + Σ_{l=1..L} Gu[l]     (sums; items alike)
    s(u, i) = Eu[u] · Ei[i]

**Loss, ``style="repo"``** (the official repository root), per batch of B interactions
``(u, i⁺)`` with a uniform negative ``i⁻``:

    L_r = mean_b −log σ(s(u,i⁺) − s(u,i⁻))
    L_s = mean_{u ∈ batch users} [LSE_{v ∈ N_u}(Gu[u]·Eu[v]/τ) − clip(Gu[u]·Eu[u]/τ, −5, 5)]
        + mean_{j ∈ cat(i⁺, i⁻)}   [LSE_{k ∈ N_j}(Gi[j]·Ei[k]/τ) − clip(Gi[j]·Ei[j]/τ, −5, 5)]
    L   = L_r + λ1 L_s + λ2 (‖E_u⁰‖²_F + ‖E_i⁰‖²_F)          (full tables, Adam without decay)

The SVD view is the anchor and the main view the candidates, without L2 normalisation;
duplicates in the batch are kept. The denominator holds the unclipped positive. ``N`` is
every user / item (``negatives="all"``, the official setting; streamed log-sum-exp, never
``exp().sum()``, memory ``B x chunk_size``), a shared uniform sample of ``num_negatives`` plus
the positive (``"sampled"``), or the batch's distinct users / items (``"in_batch"``), see
:func:`gcl.losses.node_contrast.node_contrast`.

**Loss, ``style="paper"``** (the ``old_setting`` code): hinge ranking loss
``Σ_b max(0, 1 − s(u,i⁺) + s(u,i⁻))`` divided by the number of distinct batch users, and a
per-layer InfoNCE on ``Z[l]``, ``G[l]`` (not the sums): ``z = normalize(Z[l][x])``,
``g = normalize(G[l][x]) W_l`` with a learnable d×d ``W_l`` per layer (shared by users and
items), in-batch candidates (the distinct batch users; the distinct items of ``cat(i⁺, i⁻)``),
each anchor kept with probability ½, summed over anchors and layers; ``L = L_rec + λ1 L_s``,
L2 through Adam's ``weight_decay``, learning rate × 0.98 per epoch with floor 5e-4.
Deviation: the official ``paper`` code samples per epoch up to 30,000 users in batches of 256
with up to 40 positives each; here batches are the shared BPR interaction batches
(:func:`gcl.methods.cf.bpr_batches`).

**Presets** (``LightGCLConfig.for_dataset(name, {"preset": ...})``):

* ``repo`` (default): d 64, q 5, L 2, p 0, lr 1e-3, batch 4096, 100 epochs, λ1 0.2, λ2 1e-7,
  τ 0.2, all negatives; per dataset Gowalla λ2 0; ML-10M τ 0.5; Tmall L 1;
  Amazon-book L 1, λ2 0, τ 0.1.
* ``paper``: d 32, q 5, L 2, p 0.25, λ1 1e-7, τ 0.5, weight decay 1e-4, lr 1e-3 decayed;
  Gowalla weight decay 1e-5, τ 0.3; ML-10M τ 10; Amazon λ1 1e-5, τ 0.1; Tmall λ1 1e-6, τ 0.3, p 0.
* ``cpu``: ``repo`` with L 2, 30 epochs and sampled negatives (4,096 users + 4,096 items per
  step, shared by the batch); the scaled CPU setting of the specification.

The randomized SVD keeps the official call (q 5, 2 power iterations, no oversampling) with a
seed (``svd_seed``); ``svd_oversample`` and ``svd_solver="arpack"`` (exact, small data) are
options.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gcl.data.interactions import InteractionGraph
from gcl.losses.bpr import bpr_loss
from gcl.losses.node_contrast import check_negatives, node_contrast
from gcl.methods.cf import CFConfig, CFMethod
from gcl.methods.lightgcn import CPU_PRESET
from gcl.nn.lightgcn import SparseOperator, normalized_bipartite_adjacency
from gcl.views.svd import SVDView

STYLES = ("repo", "paper")

_REPO_ROWS: dict[str, dict[str, Any]] = {
    "yelp": {},
    "yelp2018": {},
    "gowalla": dict(lambda2=0.0),
    "ml-10m": dict(tau=0.5),
    "tmall": dict(num_layers=1),
    "amazon-book": dict(num_layers=1, lambda2=0.0, tau=0.1),
}
_PAPER_ROWS: dict[str, dict[str, Any]] = {
    "gowalla": dict(weight_decay=1e-5, tau=0.3),
    "ml-10m": dict(tau=10.0),
    "amazon-book": dict(lambda1=1e-5, tau=0.1),
    "tmall": dict(lambda1=1e-6, tau=0.3, dropout=0.0),
}


@dataclass
class LightGCLConfig(CFConfig):
    """Hyper-parameters of LightGCL (``repo`` preset defaults; see the module docstring).

    Attributes:
        dim, num_layers, batch_size, lr, epochs, eval_every, preset: see :class:`CFConfig`.
        style: ``"repo"`` or ``"paper"`` (structure and loss).
        rank: SVD rank q.
        svd_niter, svd_oversample, svd_solver, svd_seed: the factorisation
            (:class:`gcl.views.svd.SVDView`).
        svd_normalize: factorise ``Â`` (True, repo) or the binary ``A`` (False, paper).
        dropout: edge dropout p on ``Â`` in the main view (training only).
        lambda1: weight of the contrastive loss.
        lambda2: weight of the full-table L2 term (repo style).
        weight_decay: Adam weight decay (paper style's L2).
        tau: temperature.
        negatives: ``"all"`` (official), ``"sampled"`` or ``"in_batch"`` (repo style).
        num_negatives: sample size per side for ``"sampled"``.
        pos_clip: clip of the positive logit in the numerator (``None``: off).
        chunk_size: candidate columns per block of the streamed log-sum-exp.
        lr_decay, lr_floor: per-epoch learning-rate factor and floor (paper: 0.98, 5e-4).
        anchor_keep: probability an anchor enters the paper-style contrastive loss.
    """

    num_layers: int = 2
    batch_size: int = 4096
    epochs: int = 100
    preset: str = "repo"
    style: str = "repo"
    rank: int = 5
    svd_niter: int = 2
    svd_oversample: int = 0
    svd_solver: str = "randomized"
    svd_seed: int = 0
    svd_normalize: bool = True
    dropout: float = 0.0
    lambda1: float = 0.2
    lambda2: float = 1e-7
    weight_decay: float = 0.0
    tau: float = 0.2
    negatives: str = "all"
    num_negatives: int = 4096
    pos_clip: float | None = 5.0
    chunk_size: int = 4096
    lr_decay: float = 1.0
    lr_floor: float = 0.0
    anchor_keep: float = 0.5

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "repo": {},
        "paper": dict(style="paper", dim=32, dropout=0.25, lambda1=1e-7, tau=0.5, lambda2=0.0,
                      weight_decay=1e-4, svd_normalize=False, negatives="in_batch", pos_clip=None,
                      lr_decay=0.98, lr_floor=5e-4),
        "cpu": dict(CPU_PRESET, negatives="sampled", num_negatives=4096),
    }
    DATASET_ROWS: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {
        "repo": _REPO_ROWS, "cpu": {k: {kk: vv for kk, vv in v.items() if kk != "num_layers"}
                                    for k, v in _REPO_ROWS.items()},
        "paper": _PAPER_ROWS,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {self.style!r}")
        if self.num_layers < 1:
            raise ValueError(f"LightGCL needs num_layers >= 1, got {self.num_layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if not self.tau > 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")
        for name in ("lambda1", "lambda2", "weight_decay", "lr_floor"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ValueError(f"lr_decay must lie in (0, 1], got {self.lr_decay}")
        if not 0.0 < self.anchor_keep <= 1.0:
            raise ValueError(f"anchor_keep must lie in (0, 1], got {self.anchor_keep}")
        check_negatives(self.negatives, self.num_negatives)


class LightGCL(CFMethod):
    """LightGCL as a :class:`~gcl.methods.cf.CFMethod` (module docstring).

    Attributes:
        adj: ``Â`` as a :class:`~gcl.nn.SparseOperator` (CSR with precomputed transpose).
        svd: the :class:`~gcl.views.svd.SVDView` (factorised at construction).
        svd_seconds: wall-clock seconds of the factorisation.
    """

    config_class = LightGCLConfig
    config: LightGCLConfig

    def __init__(self, graph: InteractionGraph, config: LightGCLConfig):
        super().__init__(graph, config)
        c = config
        if c.rank > min(graph.n_users, graph.n_items):
            raise ValueError(f"rank {c.rank} exceeds min(n_users, n_items) = "
                             f"{min(graph.n_users, graph.n_items)}")
        self.user_emb = nn.Parameter(torch.empty(graph.n_users, c.dim))
        self.item_emb = nn.Parameter(torch.empty(graph.n_items, c.dim))
        nn.init.xavier_uniform_(self.user_emb)
        nn.init.xavier_uniform_(self.item_emb)
        self.layer_w = nn.ParameterList(
            [nn.Parameter(nn.init.xavier_uniform_(torch.empty(c.dim, c.dim))) for _ in range(c.num_layers)]
        ) if c.style == "paper" else nn.ParameterList()
        self.adj = SparseOperator(normalized_bipartite_adjacency(graph.train))
        gen = torch.Generator(device="cpu").manual_seed(c.svd_seed)
        t0 = time.perf_counter()
        self.svd = SVDView.from_interactions(graph, c.rank, normalize=c.svd_normalize, niter=c.svd_niter,
                                             oversample=c.svd_oversample, solver=c.svd_solver,
                                             generator=gen).compute()
        if graph.device.type == "cuda":
            torch.cuda.synchronize(graph.device)
        self.svd_seconds = time.perf_counter() - t0

    def _apply(self, fn, *args, **kwargs):  # keep the operator and the factors with the parameters
        out = super()._apply(fn, *args, **kwargs)
        dev = self.user_emb.device
        if self.adj.device != dev:
            self.adj = self.adj.to(dev)
            self.svd = self.svd.to(dev)
        return out

    # --- forward ------------------------------------------------------------------------

    def _layers(self, generator: torch.Generator | None = None
                ) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor], list[tuple[Tensor, Tensor]]]:
        """Per-layer embeddings: main view ``Eu[l], Ei[l]`` (l = 0..L), SVD view ``Gu[l], Gi[l]``
        (l = 1..L) and the paper style's activated ``(Zu[l], Zi[l])`` before the residual
        (empty for the repo style, where ``Eu[l] = Zu[l]``)."""
        c = self.config
        p = c.dropout if self.training else 0.0
        paper = c.style == "paper"
        eu, ei = [self.user_emb], [self.item_emb]
        gu: list[Tensor] = []
        gi: list[Tensor] = []
        zs: list[tuple[Tensor, Tensor]] = []
        for _ in range(c.num_layers):
            zu = self.adj.dropout(p, generator) @ ei[-1]
            zi = self.adj.dropout(p, generator).T @ eu[-1]
            g_u, g_i = self.svd.propagate(eu[-1], ei[-1])
            if paper:
                zu, zi = F.leaky_relu(zu, 0.5), F.leaky_relu(zi, 0.5)
                g_u, g_i = F.leaky_relu(g_u, 0.5), F.leaky_relu(g_i, 0.5)
                zs.append((zu, zi))
                zu, zi = zu + eu[-1], zi + ei[-1]
            eu.append(zu)
            ei.append(zi)
            gu.append(g_u)
            gi.append(g_i)
        return eu, ei, gu, gi, zs

    def forward_views(self, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(Eu [I, d], Ei [J, d], Gu [I, d], Gi [J, d])``: the main view and the SVD view."""
        eu, ei, gu, gi, _ = self._layers(generator)
        return (torch.stack(eu).sum(0), torch.stack(ei).sum(0),
                eu[0] + torch.stack(gu).sum(0), ei[0] + torch.stack(gi).sum(0))

    def propagate(self) -> tuple[Tensor, Tensor]:
        eu, ei, _, _, _ = self._layers()
        return torch.stack(eu).sum(0), torch.stack(ei).sum(0)

    # --- losses -------------------------------------------------------------------------

    def loss(self, users: Tensor, pos_items: Tensor, neg_items: Tensor,
             generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, float]]:
        """The batch loss of the configured style; parts ``bpr`` (or ``rank``), ``cl``, ``reg``."""
        self.check_batch(users, pos_items, neg_items)
        if self.config.style == "paper":
            return self._paper_loss(users, pos_items, neg_items, generator)
        c = self.config
        eu, ei, gu, gi = self.forward_views(generator)
        u = eu.index_select(0, users)
        bpr = bpr_loss((u * ei.index_select(0, pos_items)).sum(1), (u * ei.index_select(0, neg_items)).sum(1))
        kw = dict(negatives=c.negatives, num_negatives=c.num_negatives, pos_clip=c.pos_clip,
                  chunk_size=c.chunk_size, generator=generator)
        cl = (node_contrast(gu, eu, users, c.tau, **kw)
              + node_contrast(gi, ei, torch.cat([pos_items, neg_items]), c.tau, **kw))
        reg = c.lambda2 * (self.user_emb.pow(2).sum() + self.item_emb.pow(2).sum())
        total = bpr + c.lambda1 * cl + reg
        return total, {"bpr": float(bpr.detach()), "cl": float(cl.detach()), "reg": float(reg.detach())}

    def _paper_loss(self, users: Tensor, pos_items: Tensor, neg_items: Tensor,
                    generator: torch.Generator | None) -> tuple[Tensor, dict[str, float]]:
        c = self.config
        eu_l, ei_l, gu_l, gi_l, zs = self._layers(generator)
        eu, ei = torch.stack(eu_l).sum(0), torch.stack(ei_l).sum(0)
        u = eu.index_select(0, users)
        margin = 1.0 - (u * ei.index_select(0, pos_items)).sum(1) + (u * ei.index_select(0, neg_items)).sum(1)
        uniq_u = torch.unique(users)
        rank = margin.clamp(min=0).sum() / uniq_u.numel()
        uniq_i = torch.unique(torch.cat([pos_items, neg_items]))
        gdev = generator.device if generator is not None else users.device
        cl = eu.new_zeros(())
        for layer, ((zu, zi), g_u, g_i) in enumerate(zip(zs, gu_l, gi_l)):
            w = self.layer_w[layer]
            for z_all, g_all, ids in ((zu, g_u, uniq_u), (zi, g_i, uniq_i)):
                z = F.normalize(z_all.index_select(0, ids), dim=1)
                g = F.normalize(g_all.index_select(0, ids), dim=1) @ w
                logits = z @ g.T / c.tau                                   # [n, n] in-batch
                per = torch.logsumexp(logits, dim=1) - logits.diagonal()
                keep = torch.rand(ids.shape, generator=generator, device=gdev).to(ids.device) < c.anchor_keep
                cl = cl + (per * keep).sum()
        total = rank + c.lambda1 * cl
        return total, {"rank": float(rank.detach()), "cl": float(cl.detach()), "reg": 0.0}

    def make_scheduler(self, optimizer: torch.optim.Optimizer) -> Any | None:
        """Per-epoch ``lr ← max(lr · lr_decay, lr_floor)`` (paper preset), else ``None``."""
        c = self.config
        if c.lr_decay == 1.0:
            return None
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: max(c.lr_decay ** epoch, c.lr_floor / c.lr))


__all__ = ["LightGCL", "LightGCLConfig", "STYLES"]
