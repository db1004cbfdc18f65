"""SASRec (Kang & McAuley, ICDM 2018) trained with full-softmax cross-entropy (RecBole's ``SASRec``
with ``loss_type: CE``), the encoder and baseline of CL4SRec / DuoRec / MCLRec.

Per training prefix ``s_1 .. s_{t−1} -> s_t`` (inputs cut to the last ``max_len``):

    h = f_θ(s_1 .. s_{t−1})                       (SASRec output at the last item, [B, d])
    L = mean_b CE(softmax(h_b · Eᵀ), s_t)         (E: the tied item table, padding row included)

Defaults: the official MCLRec / RecBole settings of :class:`gcl.methods.seqrec.SeqRecConfig`
(d 64, 2 blocks, 2 heads, FFN 256, dropout 0.5, Adam lr 1e-3, batch 256, max length 50).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gcl.methods.seqrec import SeqRecConfig, SeqRecMethod
from gcl.train.optim_group import OptimizerGroup


@dataclass
class SASRecConfig(SeqRecConfig):
    """Hyper-parameters of SASRec-CE (all fields from :class:`SeqRecConfig`)."""


class SASRec(SeqRecMethod):
    """SASRec with cross-entropy over all items and tied embeddings.

    Build with ``SASRec.from_dataset(dataset)`` or ``SASRec(n_items, SASRecConfig.for_dataset(name))``.
    """

    config_class = SASRecConfig

    def loss(self, seqs: Tensor, targets: Tensor) -> Tensor:
        """``CE(h · Eᵀ, target)`` of a batch of left-padded inputs."""
        return self.rec_loss(self.encode(seqs), targets)

    def train_step(self, seqs: Tensor, targets: Tensor, optimizers: OptimizerGroup,
                   generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """One Adam step on the cross-entropy; returns ``{"loss": ...}``."""
        opt = optimizers["theta"]
        opt.zero_grad(set_to_none=True)
        loss = self.loss(seqs, targets)
        loss.backward()
        self.clip_theta()
        opt.step()
        return {"loss": loss.detach()}


__all__ = ["SASRec", "SASRecConfig"]
