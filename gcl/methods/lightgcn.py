"""LightGCN (He et al., SIGIR 2020) trained with BPR: the baseline of SGL and LightGCL.

Propagation on the training graph with ``Ā = D^{-1/2} [[0, R], [Rᵀ, 0]] D^{-1/2}``:

    E^(l) = Ā E^(l-1),   E = 1/(L+1) Σ_{l=0..L} E^(l),   s(u, i) = e_u · e_i

computed on the user-item block ``R̂ = D_u^{-1/2} R D_i^{-1/2}`` only (``E_u^(l) = R̂ E_i^(l-1)``,
``E_i^(l) = R̂ᵀ E_u^(l-1)``; the same numbers at half the non-zeros) with a precomputed CSR
transpose for the backward pass (:class:`gcl.nn.SparseOperator`).

Loss per batch of B interactions with one uniform negative each (LightGCN-PyTorch):

    L = mean_b −log σ(s(u_b, i⁺_b) − s(u_b, i⁻_b))
        + reg_weight · ½ (‖e⁰_u‖² + ‖e⁰_{i⁺}‖² + ‖e⁰_{i⁻}‖²) / B      (batch rows of layer 0)

Defaults (LightGCN-PyTorch baseline): d 64, L 3, lr 1e-3, batch 2048, N(0, 0.1²) init,
reg 1e-4, 1000 epochs. Preset ``cpu``: L 2, 30 epochs (the scaled CPU comparison, equal
settings with SGL / LightGCL's ``cpu`` presets).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from gcl.data.interactions import InteractionGraph
from gcl.losses.bpr import bpr_loss, embedding_l2
from gcl.methods.cf import CFConfig, CFMethod
from gcl.nn.lightgcn import LightGCN as LightGCNEncoder
from gcl.nn.lightgcn import SparseOperator, normalized_bipartite_adjacency

#: the scaled CPU setting shared by the three recommendation methods
CPU_PRESET: dict[str, Any] = dict(num_layers=2, epochs=30, eval_every=3)


@dataclass
class LightGCNConfig(CFConfig):
    """Hyper-parameters of LightGCN (LightGCN-PyTorch defaults).

    Attributes:
        dim, num_layers, batch_size, lr, epochs, eval_every, preset: see :class:`CFConfig`.
        reg_weight: weight of the batch layer-0 L2 term.
        init: ``"normal"`` (N(0, init_std²)) or ``"xavier"``.
        init_std: standard deviation of the normal initialisation.
    """

    num_layers: int = 3
    reg_weight: float = 1e-4
    init: str = "normal"
    init_std: float = 0.1
    preset: str = "default"

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"default": {}, "cpu": dict(CPU_PRESET)}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reg_weight < 0:
            raise ValueError(f"reg_weight must be >= 0, got {self.reg_weight}")


class LightGCN(CFMethod):
    """LightGCN + BPR as a :class:`~gcl.methods.cf.CFMethod`.

    Build with ``LightGCN.from_graph(graph, LightGCNConfig.for_dataset("gowalla"))``.
    """

    config_class = LightGCNConfig
    config: LightGCNConfig

    def __init__(self, graph: InteractionGraph, config: LightGCNConfig):
        super().__init__(graph, config)
        self.encoder = LightGCNEncoder(graph.n_users, graph.n_items, config.dim, config.num_layers,
                                       layer_combination="mean", init=config.init,  # type: ignore[arg-type]
                                       init_std=config.init_std)
        self.adj = SparseOperator(normalized_bipartite_adjacency(graph.train))

    def _apply(self, fn, *args, **kwargs):  # keep the sparse operator on the parameters' device
        out = super()._apply(fn, *args, **kwargs)
        self.adj = self.adj.to(self.encoder.user_emb.device)
        return out

    def propagate(self) -> tuple[Tensor, Tensor]:
        return self.encoder(self.adj)

    def loss(self, users: Tensor, pos_items: Tensor, neg_items: Tensor,
             generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, float]]:
        """BPR + batch L2 (module docstring); parts ``bpr``, ``reg``."""
        self.check_batch(users, pos_items, neg_items)
        eu, ei = self.propagate()
        u, p, n = eu[users], ei[pos_items], ei[neg_items]
        bpr = bpr_loss((u * p).sum(1), (u * n).sum(1))
        enc = self.encoder
        reg = self.config.reg_weight * embedding_l2(
            [enc.user_emb[users], enc.item_emb[pos_items], enc.item_emb[neg_items]],
            style="lightgcn", batch_size=users.numel())
        return bpr + reg, {"bpr": float(bpr.detach()), "reg": float(reg.detach())}


__all__ = ["CPU_PRESET", "LightGCN", "LightGCNConfig"]
