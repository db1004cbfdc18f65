"""MEOW (Yu & Li, SDM 2023): heterogeneous graph contrastive learning with meta-path contexts
and cluster-weighted negatives.

The encoder (:class:`~gcl.nn.meow_encoder.MEOWEncoder`) gives a fine-grained view ``z`` (the
output embedding) and a coarse view ``z^c``; with the shared projection ``π``, anchors
``a = π(z^c)`` and candidates ``f = π(z)``. **Every epoch:**

1. **Clustering** of the detached ``f``: M k-means (``num_clusters`` = K_1..K_M; 20 Lloyd
   iterations, 5 restarts keeping the best, inner-product assignment, random initial
   centroids as faiss does, seed m) give labels ``c_m`` and centroids ``μ_m``, then
   concentrations ``φ_{m,k} = mean_{i∈k} sqrt(max(f_i·μ_k, 0)) / log(n_k + 5)`` (``n_k ≤ 1``:
   max φ; clipped to the [10, 90] percentiles; rescaled to mean τ).
2. **Weights** ``w_ij = Σ_m 1[c_m(i) ≠ c_m(j)]`` (``w_ii = 0``; pairs sharing every cluster drop
   out). Ablation ``weights="uniform"``: ``w_ij = 1[i ≠ j]``.
3. **Loss** ``L = L_info + λ_proto L_proto`` with

       L_info  = −(1/N) Σ_i [ a_i·f_i/τ − log Σ_j w_ij exp(a_i·f_j/τ) ]
       L_proto = (1/M) Σ_m (1/N) Σ_i [ −a_i·ĉ_{m,c_m(i)}/φ_{m,c_m(i)} + log Σ_k exp(a_i·ĉ_{m,k}/φ_{m,k}) ]

   (:func:`gcl.losses.meow.meow_info_nce`, :func:`gcl.losses.protonce.proto_nce`; the
   original's constant ``log(N/K_m)`` is left out), one full-batch Adam step.

Training stops when the loss has not decreased for ``patience`` epochs (MEOW's label-free rule).

**Presets** (:attr:`MEOWConfig.PRESETS`): the official ACM and IMDB rows. DBLP, AMiner and
Freebase have none; they use the ACM row with top-k 100 per meta-path and 100 / 300 clusters
(our choice, not tuned).

**Deviations, flagged**: PathSim ties are broken by a seeded random order and the self-loop is
always kept; k-means keeps the best of 5 restarts by the inner-product objective with the
torch implementation (no faiss); embeddings are extracted in eval mode (``embed_mode="train"``
gives the original's training-mode forward).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from gcl.data.metapath_graphs import MetaPathGraphs
from gcl.eval.clustering import kmeans
from gcl.losses.meow import meow_info_nce
from gcl.losses.protonce import proto_nce, prototype_concentration
from gcl.methods.metapath_base import MetaPathConfig, MetaPathRun, build_encoder, fit
from gcl.nn.lightgcn import SparseOperator
from gcl.utils import seed_everything

WEIGHTS = ("cluster", "uniform")


@dataclass
class MEOWConfig(MetaPathConfig):
    """MEOW hyper-parameters (defaults: the official ACM row; fields of
    :class:`~gcl.methods.metapath_base.MetaPathConfig` plus the ones below).

    Attributes:
        num_clusters: K_m of each k-means clustering ((100, 300) on ACM).
        lambda_proto: weight of ProtoNCE (0: ablation "no ProtoNCE").
        kmeans_iters, kmeans_restarts: Lloyd iterations and restarts per clustering.
        weights: ``"cluster"`` (MEOW) or ``"uniform"`` (``w ≡ 1`` off the diagonal; ablation).
    """

    num_clusters: tuple[int, ...] = (100, 300)
    lambda_proto: float = 1.0
    kmeans_iters: int = 20
    kmeans_restarts: int = 5
    weights: str = "cluster"

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "acm": dict(lr=7e-4, weight_decay=0.0, dropout=0.2, tau=0.4, feat_mask=0.3, adj_mask=(0.3, 0.2),
                    topk=(110, 700), num_clusters=(100, 300), lambda_proto=1.0, patience=30, probe_lr=0.03),
        "imdb": dict(lr=1e-4, weight_decay=1e-3, dropout=0.2, tau=0.9, feat_mask=0.3, adj_mask=(0.1,),
                     topk=(70, 10, 70), num_clusters=(500, 700), lambda_proto=1.0, patience=15, probe_lr=0.01),
    }
    DEFAULT_PRESET: ClassVar[dict[str, Any]] = dict(adj_mask=(0.2,), topk=(100,))

    def __post_init__(self) -> None:
        super().__post_init__()
        self.num_clusters = tuple(int(k) for k in (self.num_clusters if isinstance(self.num_clusters, (list, tuple))
                                                   else (self.num_clusters,)))
        if not self.num_clusters or min(self.num_clusters) < 2:
            raise ValueError(f"num_clusters must hold values >= 2, got {self.num_clusters}")
        if self.weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {WEIGHTS}, got {self.weights!r}")
        if self.lambda_proto < 0 or self.kmeans_iters < 1 or self.kmeans_restarts < 1:
            raise ValueError("lambda_proto must be >= 0, kmeans_iters and kmeans_restarts >= 1")


@dataclass
class Clustering:
    """The per-epoch clusterings of the candidates: labels [M, N], centroids and φ per clustering."""

    labels: Tensor
    centroids: list[Tensor]
    concentrations: list[Tensor]


class MEOW(nn.Module):
    """MEOW: the two-view encoder trained with weighted InfoNCE + ProtoNCE.

    Args:
        graphs: the prepared inputs (sizes the encoder).
        config: hyper-parameters.

    Shapes:
        ``loss(graphs, x_aug, adjs_aug) -> (L [], parts)``; ``encoder(...)`` gives ``z`` [N, d].
    """

    def __init__(self, graphs: MetaPathGraphs, config: MEOWConfig | None = None):
        super().__init__()
        self.config = cfg = config or MEOWConfig()
        if max(cfg.num_clusters) > graphs.num_nodes:
            raise ValueError(f"num_clusters {cfg.num_clusters} exceeds the {graphs.num_nodes} target nodes")
        self.encoder = build_encoder(graphs, cfg)

    @torch.no_grad()
    def cluster(self, f: Tensor) -> Clustering:
        """M k-means clusterings of the detached candidates ``f`` [N, d] (step 1)."""
        cfg = self.config
        f = f.detach()
        labels, cents, phis = [], [], []
        for m, k in enumerate(cfg.num_clusters):  # a loop over the M (= 2) clusterings
            gen = torch.Generator(device=f.device).manual_seed(m)
            res = kmeans(f, k, n_init=cfg.kmeans_restarts, max_iter=cfg.kmeans_iters, tol=0.0,
                         metric="inner_product", init="random", generator=gen)
            labels.append(res.labels)
            cents.append(res.centroids)
            phis.append(prototype_concentration(f, res.labels, res.centroids, cfg.tau))
        return Clustering(torch.stack(labels), cents, phis)

    def loss(self, graphs: MetaPathGraphs, x_aug: Tensor, adjs_aug: list[SparseOperator]
             ) -> tuple[Tensor, dict[str, Any]]:
        """``L_info + λ L_proto`` for one full-batch forward, with timings of its parts."""
        cfg = self.config
        t0 = time.perf_counter()
        views = self.encoder(graphs, x_aug, adjs_aug)
        a, f = self.encoder.project(views.z_coarse), self.encoder.project(views.z)
        t1 = time.perf_counter()
        clus = self.cluster(f)
        t2 = time.perf_counter()
        labels = clus.labels if cfg.weights == "cluster" else torch.arange(f.size(0), device=f.device)
        info = meow_info_nce(a, f, labels, cfg.tau, chunk_size=cfg.chunk_size)
        proto = (proto_nce(a, clus.centroids, clus.concentrations, clus.labels) if cfg.lambda_proto > 0
                 else info.new_zeros(()))
        total = info + cfg.lambda_proto * proto
        t3 = time.perf_counter()
        return total, {"info": info, "proto": proto, "beta": views.beta.detach(),
                       "t_encoder": t1 - t0, "t_kmeans": t2 - t1, "t_loss": t3 - t2}


def train_meow(graphs: MetaPathGraphs, cfg: MEOWConfig, seed: int, *, device: str | torch.device = "cpu",
               out_dir: str | None = None, resume: bool = False, quiet: bool = True) -> MetaPathRun:
    """Train MEOW for one seed on prepared inputs (selection per ``cfg.selection``)."""
    seed_everything(seed)
    model = MEOW(graphs, cfg).to(device)

    def terms(parts: dict[str, Any], epoch: int) -> dict[str, float]:
        return {"info": float(parts["info"].detach()), "proto": float(parts["proto"].detach()),
                "t_kmeans": parts["t_kmeans"]}

    return fit(model, graphs, cfg, seed, "meow", terms, device=device, out_dir=out_dir, resume=resume,
               quiet=quiet)
