"""CL4SRec (Xie et al., ICDE 2022) in the form MCLRec compares against: SASRec-CE plus NT-Xent between
two augmented views of every training sequence.

**Views.** Per sequence of length ``len > 1`` two **different** operators are drawn uniformly
from {crop, mask, reorder} (view 1 uses the first, view 2 the second); a sequence of length 1
keeps the original in both views (:func:`gcl.views.sequence.seq_augment_pair`, vectorised on the
input's device with an explicit ``torch.Generator``; the input is never modified):

* crop: ``⌊0.5·len⌋`` contiguous items from a uniform start (the view is that long);
* mask: ``⌊0.5·len⌋`` distinct positions set to the mask token, length unchanged;
* reorder: a contiguous block of ``⌊0.8·len⌋`` items shuffled.

The mask token is the padding id 0 by default (MCLRec's code: masked items are key-masked
too); ``mask_token="dedicated"`` uses an extra id ``n_items + 1`` with its own embedding row
(the CL4SRec paper), which is never scored.

**Loss** per batch, with ``h̃1 = f_θ(S̃1)``, ``h̃2 = f_θ(S̃2)`` (not normalised):

    L = CE(h · Eᵀ, target) + λ · NT-Xent(h̃1, h̃2; t, sim)

NT-Xent over the ``2B`` rows (:func:`gcl.losses.nt_xent`), dot product, ``t = 1``. One Adam
step per batch on θ. Default ``λ = 0.1`` (CL4SRec paper; DuoRec's CL4SRec configuration).
The original sequence and both views go through the encoder in one ``[3B, L]`` call.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gcl.losses.nt_xent import nt_xent
from gcl.methods.seqrec import SeqRecConfig, SeqRecMethod
from gcl.train.optim_group import OptimizerGroup
from gcl.views.sequence import (
    SeqViewPair,
    seq_augment_pair,
    seq_lengths,
    seq_view_lengths,
)

MASK_TOKENS = ("pad", "dedicated")
SIMILARITIES = ("dot", "cos")


@dataclass
class CL4SRecConfig(SeqRecConfig):
    """Hyper-parameters of CL4SRec (plus the :class:`SeqRecConfig` fields).

    Attributes:
        cl_lambda: λ, weight of NT-Xent between the two views (0.1).
        tau: NT-Xent temperature (1).
        similarity: ``"dot"`` (default) or ``"cos"``.
        crop_ratio, mask_ratio, reorder_ratio: the operators' fractions (0.5, 0.5, 0.8).
        mask_token: ``"pad"`` (id 0, default) or ``"dedicated"`` (id ``n_items + 1``).
    """

    cl_lambda: float = 0.1
    tau: float = 1.0
    similarity: str = "dot"
    crop_ratio: float = 0.5
    mask_ratio: float = 0.5
    reorder_ratio: float = 0.8
    mask_token: str = "pad"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cl_lambda < 0:
            raise ValueError(f"cl_lambda must be >= 0, got {self.cl_lambda}")
        if not self.tau > 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {self.similarity!r}")
        for name in ("crop_ratio", "mask_ratio", "reorder_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.mask_token not in MASK_TOKENS:
            raise ValueError(f"mask_token must be one of {MASK_TOKENS}, got {self.mask_token!r}")


class CL4SRec(SeqRecMethod):
    """SASRec-CE + λ · NT-Xent between two augmented views (module docstring)."""

    config_class = CL4SRecConfig
    config: CL4SRecConfig

    @staticmethod
    def extra_tokens(config: SeqRecConfig) -> int:
        return 1 if getattr(config, "mask_token", "pad") == "dedicated" else 0

    @property
    def mask_token(self) -> int:
        """Id written by the mask operator: 0, or ``n_items + 1`` with a dedicated token."""
        return self.n_items + 1 if self.config.mask_token == "dedicated" else 0

    def augment(self, seqs: Tensor, generator: torch.Generator | None = None) -> SeqViewPair:
        """Two views per sequence with different operators, and their lengths (module docstring).

        Args:
            seqs: ``[B, L]`` left-padded inputs (untouched).
            generator: source of randomness; on the device of ``seqs`` for on-device draws.
        """
        cfg = self.config
        v1, v2, ops = seq_augment_pair(seqs, self.mask_token, eta=cfg.crop_ratio, gamma=cfg.mask_ratio,
                                       beta=cfg.reorder_ratio, generator=generator, return_ops=True)
        lengths = seq_view_lengths(seqs, ops, cfg.crop_ratio)
        return SeqViewPair(v1, lengths[:, 0], v2, lengths[:, 1], ops)

    def encode_with_views(self, seqs: Tensor, views: SeqViewPair) -> tuple[Tensor, Tensor, Tensor]:
        """``(h, h̃1, h̃2)`` of the originals and both views, in one encoder call on ``[3B, L]``."""
        b = seqs.size(0)
        items = torch.cat([seqs, views.view1, views.view2])
        lengths = torch.cat([seq_lengths(seqs), views.length1, views.length2])
        h = self.encode(items, lengths)
        return h[:b], h[b:2 * b], h[2 * b:]

    def encode_views(self, views: SeqViewPair) -> tuple[Tensor, Tensor]:
        """``(h̃1, h̃2)`` of both views, in one encoder call on ``[2B, L]``."""
        b = views.view1.size(0)
        h = self.encode(torch.cat([views.view1, views.view2]), torch.cat([views.length1, views.length2]))
        return h[:b], h[b:]

    def view_loss(self, h1: Tensor, h2: Tensor) -> Tensor:
        """``NT-Xent(h̃1, h̃2)`` with the config's temperature and similarity."""
        return nt_xent(h1, h2, self.config.tau, similarity=self.config.similarity)  # type: ignore[arg-type]

    def loss(self, seqs: Tensor, targets: Tensor, views: SeqViewPair) -> tuple[Tensor, dict[str, Tensor]]:
        """``L = CE + λ · NT-Xent(h̃1, h̃2)``; returns ``(L, {"loss_rec", "loss_cl"})`` (detached parts)."""
        h, h1, h2 = self.encode_with_views(seqs, views)
        rec = self.rec_loss(h, targets)
        cl = self.view_loss(h1, h2)
        return rec + self.config.cl_lambda * cl, {"loss_rec": rec.detach(), "loss_cl": cl.detach()}

    def train_step(self, seqs: Tensor, targets: Tensor, optimizers: OptimizerGroup,
                   generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Draw the views, one Adam step on θ; returns ``{"loss", "loss_rec", "loss_cl"}``."""
        views = self.augment(seqs, generator)
        opt = optimizers["theta"]
        opt.zero_grad(set_to_none=True)
        loss, parts = self.loss(seqs, targets, views)
        loss.backward()
        self.clip_theta()
        opt.step()
        return {"loss": loss.detach(), **parts}


__all__ = ["CL4SRec", "CL4SRecConfig"]
