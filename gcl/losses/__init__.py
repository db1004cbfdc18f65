"""Contrastive losses, each an ``nn.Module`` with a functional twin."""
from gcl.losses.infonce import InfoNCE, info_nce

__all__ = ["InfoNCE", "info_nce"]
