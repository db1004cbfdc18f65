"""MCLRec: meta-optimized contrastive learning for sequential recommendation (Qin et al., SIGIR 2023),
following the official code where it differs from the paper (``docs/methods/mclrec.md``).

**Model.** The SASRec encoder ``f_θ`` and the two CL4SRec-style views ``S̃1, S̃2`` of
:class:`gcl.methods.CL4SRec`, plus two learnable augmenters ``w_φ1, w_φ2``
(:class:`gcl.nn.LearnableAugmenter`: MLP ``[d, d/2, d/4, d]`` with GELU, L2-normalised output;
independent unless ``shared_augmenter``) on the pooled representations:

    h̃1 = f_θ(S̃1),  h̃2 = f_θ(S̃2),  z̃1 = w_φ1(h̃1),  z̃2 = w_φ2(h̃2)

**Losses** (``L_con`` = NT-Xent over ``2B`` rows, :func:`gcl.losses.nt_xent`; ``R`` = the
regulariser of :func:`gcl.losses.contrastive_regularizer`):

    L_cl1 = L_con(h̃1, h̃2)                                  t = tau, config similarity
    L_cl2 = L_con(h̃1, z̃2) + L_con(h̃2, z̃1) + L_con(z̃1, z̃2)  t = 1, dot (fixed, as in the code)
    R_tot = 0.1 · (R(h̃1, z̃2) + R(h̃2, z̃1) + R(z̃1, z̃2))      t = tau, dot
    L0 = L_rec + λ · L_cl1 + β · (L_cl2 + R_tot)              (encoder objective)
    L1 = λ · L_cl1 + L_cl2 + R_tot                          (augmenter objective)

Each pair's ``[2B, 2B]`` score matrix is computed once and serves both ``L_con`` and ``R``
(``R`` at temperature ``tau`` is ``R`` at 1 divided by ``tau``). ``regularizer=False`` drops
``R_tot`` (the "w/o R" ablation); with a batch of a single sequence ``R_tot`` is 0 (no
negatives exist).

**Three-step update per mini-batch** (:func:`alternating_update`; two Adam optimisers: ``θ``
over the encoder, ``φ`` over the augmenters; the same two augmented sequences in all steps;
every step re-encodes, so dropout differs):

1. freeze ``φ`` (``requires_grad`` off; gradients still flow *through* ``w_φ`` into ``θ``);
   ``L0`` → backward → step ``θ`` (:func:`encoder_step`);
2. ``L1`` with the updated ``θ'`` → backward → step ``φ`` (:func:`augmenter_step`). ``L_rec``
   is skipped; the views are encoded under ``torch.no_grad()``, so no gradient reaches ``θ``
   (the official code computes and then discards it, and also encodes the unused original
   sequence: same ``φ`` gradient, fewer operations);
3. as step 1 with ``θ'``, ``φ'``.

``joint=True`` (MCLRec-J) instead takes one step on ``θ ∪ φ`` with ``L0``
(:func:`joint_step`; two Adams stepped together equal one Adam over the union). No
second-order gradients anywhere. Inference is plain SASRec (the augmenters are unused).

**Weights** (``cl_lambda`` = λ, ``cl_beta`` = β; official scripts, paper §4.5.2): Beauty
0 / 0.05, Sports 0.04 / 0.4, Yelp 0.03 / 0.1, Toys 0.01 / 0.1 (the official Toys script runs
Beauty by mistake: unverified), ML-1M 0 / 0.01 with dropout 0.1. Other datasets get Beauty's.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Iterator, NamedTuple

import torch
from torch import Tensor, nn

from gcl.losses.contrastive_regularizer import regularizer_from_scores
from gcl.losses.nt_xent import nt_xent_from_scores, two_view_scores
from gcl.methods.cl4srec import CL4SRec, CL4SRecConfig
from gcl.methods.seqrec import ML1M_DROPOUT
from gcl.nn.augmenter import LearnableAugmenter
from gcl.train.optim_group import OptimizerGroup
from gcl.views.sequence import SeqViewPair

#: λ (``cl_lambda``) and β (``cl_beta``) per dataset, official scripts
MCLREC_WEIGHTS: dict[str, dict[str, Any]] = {
    "beauty": dict(cl_lambda=0.0, cl_beta=0.05),
    "sports": dict(cl_lambda=0.04, cl_beta=0.4),
    "yelp": dict(cl_lambda=0.03, cl_beta=0.1),
    "toys": dict(cl_lambda=0.01, cl_beta=0.1),
    "ml-1m": dict(cl_lambda=0.0, cl_beta=0.01, **ML1M_DROPOUT),
}
#: the fixed temperature of L_cl2 in the official code
CL2_TAU = 1.0


@dataclass
class MCLRecConfig(CL4SRecConfig):
    """Hyper-parameters of MCLRec (plus the :class:`CL4SRecConfig` fields).

    Attributes:
        cl_lambda: λ, weight of ``L_cl1`` (Beauty: 0).
        cl_beta: β, weight of ``L_cl2 + R_tot`` in ``L0`` (Beauty: 0.05).
        tau: temperature of ``L_cl1`` and ``R`` (1).
        similarity: similarity of ``L_cl1`` (``"dot"``); ``L_cl2`` and ``R`` always use dot.
        regularizer: include ``R_tot`` (False: the "w/o R" ablation).
        regularizer_weight: the factor of ``R_tot`` (0.1, i.e. ``γ = 0.1 β``).
        shared_augmenter: one augmenter for both views (ablation).
        joint: MCLRec-J, one joint step on θ ∪ φ with ``L0`` instead of the three steps.
        mask_token: ``"pad"`` (MCLRec) or ``"dedicated"``.
    """

    cl_lambda: float = 0.0
    cl_beta: float = 0.05
    regularizer: bool = True
    regularizer_weight: float = 0.1
    shared_augmenter: bool = False
    joint: bool = False

    DATASET_ROWS: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {"default": MCLREC_WEIGHTS}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cl_beta < 0:
            raise ValueError(f"cl_beta must be >= 0, got {self.cl_beta}")
        if self.regularizer_weight < 0:
            raise ValueError(f"regularizer_weight must be >= 0, got {self.regularizer_weight}")
        if self.dim % 4:
            raise ValueError(f"dim must be divisible by 4 for the [d, d/2, d/4, d] augmenters, got {self.dim}")


class MCLRecTerms(NamedTuple):
    """The contrastive terms of one batch (scalars): ``L_cl1``, ``L_cl2``, ``R_tot`` (weighted by 0.1)."""

    cl1: Tensor
    cl2: Tensor
    reg: Tensor


class MCLRec(CL4SRec):
    """SASRec encoder + CL4SRec views + two learnable augmenters (module docstring).

    Attributes:
        encoder: the SASRec encoder (θ).
        augmenters: ``nn.ModuleList`` of the two augmenters (φ), one when ``shared_augmenter``.
    """

    config_class = MCLRecConfig
    config: MCLRecConfig

    def __init__(self, n_items: int, config: MCLRecConfig):
        super().__init__(n_items, config)
        count = 1 if config.shared_augmenter else 2
        self.augmenters = nn.ModuleList(LearnableAugmenter(config.dim) for _ in range(count))

    @property
    def augmenter_1(self) -> LearnableAugmenter:
        return self.augmenters[0]  # type: ignore[return-value]

    @property
    def augmenter_2(self) -> LearnableAugmenter:
        return self.augmenters[-1]  # type: ignore[return-value]

    def phi_parameters(self) -> list[nn.Parameter]:
        """The augmenters' parameters φ."""
        return list(self.augmenters.parameters())

    def make_optimizers(self) -> OptimizerGroup:
        """``{"theta": Adam(θ), "phi": Adam(φ)}`` with the config's learning rate and weight decay."""
        return OptimizerGroup({"theta": self._adam(self.theta_parameters()),
                               "phi": self._adam(self.phi_parameters())})

    # ------------------------------------------------------------------ losses
    def contrastive_terms(self, h1: Tensor, h2: Tensor) -> MCLRecTerms:
        """``L_cl1``, ``L_cl2`` and ``R_tot`` from the encoded views ``h̃1, h̃2`` ``[B, d]``."""
        cfg = self.config
        z1, z2 = self.augmenter_1(h1), self.augmenter_2(h2)
        cl1 = self.view_loss(h1, h2)
        cl2 = h1.new_zeros(())
        reg = h1.new_zeros(())
        with_reg = cfg.regularizer and h1.size(0) >= 2
        for x, y in ((h1, z2), (h2, z1), (z1, z2)):
            scores = two_view_scores(x, y, CL2_TAU)
            cl2 = cl2 + nt_xent_from_scores(scores)
            if with_reg:
                reg = reg + regularizer_from_scores(scores)
        # R is positively homogeneous in the scores: R at temperature tau = R at 1 / tau
        return MCLRecTerms(cl1, cl2, (cfg.regularizer_weight / cfg.tau) * reg)

    def loss0(self, seqs: Tensor, targets: Tensor, views: SeqViewPair) -> tuple[Tensor, dict[str, Tensor]]:
        """Encoder objective ``L0 = L_rec + λ L_cl1 + β (L_cl2 + R_tot)``.

        Returns:
            ``(L0, {"loss_rec", "loss_cl1", "loss_cl2", "loss_reg"})`` (parts detached).
        """
        cfg = self.config
        h, h1, h2 = self.encode_with_views(seqs, views)
        rec = self.rec_loss(h, targets)
        t = self.contrastive_terms(h1, h2)
        loss = rec + cfg.cl_lambda * t.cl1 + cfg.cl_beta * (t.cl2 + t.reg)
        return loss, {"loss_rec": rec.detach(), "loss_cl1": t.cl1.detach(), "loss_cl2": t.cl2.detach(),
                      "loss_reg": t.reg.detach()}

    def loss1(self, views: SeqViewPair) -> tuple[Tensor, dict[str, Tensor]]:
        """Augmenter objective ``L1 = λ L_cl1 + L_cl2 + R_tot`` (views encoded without gradient).

        Returns:
            ``(L1, {"loss_cl1", "loss_cl2", "loss_reg"})`` (parts detached).
        """
        with torch.no_grad():
            h1, h2 = self.encode_views(views)
        t = self.contrastive_terms(h1, h2)
        loss = self.config.cl_lambda * t.cl1 + t.cl2 + t.reg
        return loss, {"loss_cl1": t.cl1.detach(), "loss_cl2": t.cl2.detach(), "loss_reg": t.reg.detach()}

    # ------------------------------------------------------------------ training
    def train_step(self, seqs: Tensor, targets: Tensor, optimizers: OptimizerGroup,
                   generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Draw the views once, then :func:`alternating_update` (or the joint step)."""
        views = self.augment(seqs, generator)
        return alternating_update(self, seqs, targets, views, optimizers, joint=self.config.joint)


@contextlib.contextmanager
def frozen(params: Iterable[nn.Parameter]) -> Iterator[None]:
    """Turn ``requires_grad`` off for ``params`` inside the block (restored afterwards).

    Gradients still flow *through* the frozen modules into earlier parameters.
    """
    params = list(params)
    before = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, before):
            p.requires_grad_(flag)


def encoder_step(model: MCLRec, seqs: Tensor, targets: Tensor, views: SeqViewPair,
                 opt_theta: torch.optim.Optimizer) -> dict[str, Tensor]:
    """Steps 1 and 3: ``L0`` with φ frozen, backward, clip θ (``config.clip_grad_norm``), step θ.

    Returns:
        ``{"loss": L0, "loss_rec", "loss_cl1", "loss_cl2", "loss_reg"}`` (detached).
    """
    opt_theta.zero_grad(set_to_none=True)
    with frozen(model.phi_parameters()):
        loss, parts = model.loss0(seqs, targets, views)
        loss.backward()
    model.clip_theta()
    opt_theta.step()
    return {"loss": loss.detach(), **parts}


def augmenter_step(model: MCLRec, views: SeqViewPair, opt_phi: torch.optim.Optimizer) -> dict[str, Tensor]:
    """Step 2: ``L1`` (no gradient reaches θ), backward, step φ.

    Returns:
        ``{"loss": L1, "loss_cl1", "loss_cl2", "loss_reg"}`` (detached).
    """
    opt_phi.zero_grad(set_to_none=True)
    loss, parts = model.loss1(views)
    loss.backward()
    opt_phi.step()
    return {"loss": loss.detach(), **parts}


def joint_step(model: MCLRec, seqs: Tensor, targets: Tensor, views: SeqViewPair,
               optimizers: OptimizerGroup) -> dict[str, Tensor]:
    """MCLRec-J: one step on θ ∪ φ with ``L0`` (θ clipped by ``config.clip_grad_norm``)."""
    optimizers.zero_grad(set_to_none=True)
    loss, parts = model.loss0(seqs, targets, views)
    loss.backward()
    model.clip_theta()
    optimizers["theta"].step()
    optimizers["phi"].step()
    return {"loss": loss.detach(), **parts}


def alternating_update(model: MCLRec, seqs: Tensor, targets: Tensor, views: SeqViewPair,
                       optimizers: OptimizerGroup, *, joint: bool = False) -> dict[str, Tensor]:
    """MCLRec's per-batch update: steps 1-3 (module docstring), or :func:`joint_step`.

    Args:
        model: the MCLRec model (in training mode).
        seqs: ``[B, L]`` left-padded inputs; targets: ``[B]`` next items.
        views: the batch's two augmented sequences (:meth:`MCLRec.augment`), used by all steps.
        optimizers: ``{"theta", "phi"}`` from :meth:`MCLRec.make_optimizers`.
        joint: MCLRec-J.

    Returns:
        Detached terms: ``loss`` (step 1's ``L0``), ``loss_rec``, ``loss_cl1``, ``loss_cl2``,
        ``loss_reg`` (step 1), ``loss_phi`` (step 2's ``L1``), ``loss_step3`` (step 3's ``L0``);
        only the first five with ``joint``.
    """
    if joint:
        return joint_step(model, seqs, targets, views, optimizers)
    first = encoder_step(model, seqs, targets, views, optimizers["theta"])
    second = augmenter_step(model, views, optimizers["phi"])
    third = encoder_step(model, seqs, targets, views, optimizers["theta"])
    return {**first, "loss_phi": second["loss"], "loss_step3": third["loss"]}


__all__ = ["CL2_TAU", "MCLREC_WEIGHTS", "MCLRec", "MCLRecConfig", "MCLRecTerms", "alternating_update",
           "augmenter_step", "encoder_step", "frozen", "joint_step"]
