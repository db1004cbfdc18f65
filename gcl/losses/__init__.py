"""Contrastive and self-supervised losses, each an ``nn.Module`` with a functional twin.

Every pairwise loss works on row blocks (``chunk_size``), so memory is bounded by
``chunk_size x N``; positives are aligned rows or index tensors, never dense N x N masks.
"""
from gcl.losses.adameow import AdaMEOWLoss, AdaMEOWWeightNet, adameow_loss
from gcl.losses.barlow_twins import BarlowTwinsLoss, barlow_twins_loss
from gcl.losses.bootstrap import BootstrapLoss, bootstrap_loss, symmetric_bootstrap_loss
from gcl.losses.bpr import BPRLoss, bpr_loss, embedding_l2
from gcl.losses.contrastive_regularizer import (
    ContrastiveRegularizer,
    contrastive_regularizer,
    regularizer_from_scores,
)
from gcl.losses.dcl import DecoupledContrastiveLoss, decoupled_contrastive_loss
from gcl.losses.debiased import DebiasedContrastiveLoss, debiased_info_nce
from gcl.losses.dec import DECLoss, dec_kl_loss, dec_target, student_t_assignment
from gcl.losses.distributed import gather_rows
from gcl.losses.dsla import (
    DSLALoss,
    dsla_discriminator_loss,
    dsla_edit_loss,
    dsla_margin_loss,
    to_molecule_major,
)
from gcl.losses.ema import EMATarget, cosine_momentum
from gcl.losses.hard_negative import HardNegativeContrastiveLoss, hard_negative_info_nce
from gcl.losses.infonce import InfoNCE, info_nce, symmetric_info_nce
from gcl.losses.nt_xent import NTXent, nt_xent, nt_xent_from_scores, two_view_scores
from gcl.losses.meow import (
    MEOWInfoNCE,
    cluster_disagreement_log_weights,
    cluster_disagreement_weights,
    meow_info_nce,
)
from gcl.losses.pamc import EmptyClusterError, PamCLoss, meta_nodes, pamc_loss
from gcl.losses.protonce import ProtoNCE, proto_nce, prototype_concentration
from gcl.losses.scgc import DenseSCGCStarLoss, SCGCStarLoss, scgc_star_loss, scgc_star_loss_dense
from gcl.losses.sharded import sharded_info_nce
from gcl.losses.temperature import Temperature
from gcl.losses.vicreg import VICRegLoss, vicreg_loss

__all__ = [
    "AdaMEOWLoss", "AdaMEOWWeightNet", "BPRLoss", "BarlowTwinsLoss", "BootstrapLoss", "DECLoss",
    "DSLALoss", "DebiasedContrastiveLoss", "DecoupledContrastiveLoss", "DenseSCGCStarLoss",
    "EMATarget", "EmptyClusterError", "HardNegativeContrastiveLoss", "InfoNCE", "MEOWInfoNCE",
    "PamCLoss", "ProtoNCE", "SCGCStarLoss", "Temperature", "VICRegLoss", "adameow_loss",
    "barlow_twins_loss", "bootstrap_loss", "bpr_loss", "cluster_disagreement_log_weights",
    "cluster_disagreement_weights", "cosine_momentum", "dec_kl_loss", "dec_target",
    "debiased_info_nce", "decoupled_contrastive_loss", "dsla_discriminator_loss",
    "dsla_edit_loss", "dsla_margin_loss", "embedding_l2", "gather_rows",
    "hard_negative_info_nce", "info_nce", "meow_info_nce", "meta_nodes", "pamc_loss",
    "proto_nce", "prototype_concentration", "scgc_star_loss", "scgc_star_loss_dense",
    "student_t_assignment", "symmetric_bootstrap_loss", "symmetric_info_nce",
    "to_molecule_major", "vicreg_loss",
    "ContrastiveRegularizer", "NTXent", "contrastive_regularizer", "nt_xent", "nt_xent_from_scores",
    "regularizer_from_scores", "two_view_scores",
]
__all__ += ["sharded_info_nce"]
