"""D-SLA losses (Kim, Baek, Hwang, NeurIPS 2022): graph discrimination, edit-distance and margin.

Per molecule a, C candidates with graph embeddings ``h_c^a`` (candidate 0 is the "original"),
discriminator scores ``S_c^a`` and edit distances ``e_c^a`` (c >= 1); B molecules per batch.

- Graph discrimination: ``L_GD = mean_a -log( exp S_0 / sum_c exp S_c )``, cross-entropy with
  target 0 over the candidates of the same molecule.
- Edit distance: ``d_c = ||h_c - h_0||``, ``r_c = d_c / e_c`` for c = 1..C-1 (strong candidate
  included); ``L_edit = mean over molecules and pairs c < c' of (r_c - r_c')^2``. Candidates with
  ``e_c = 0`` are left out (their pairs do not count).
- Margin (strong candidate excluded by the caller): ``L_margin = mean over a, b != a,
  c in 1..C'-1 of max(0, alpha + ||h_0^a - h_c^a|| - ||h_0^a - h_0^b||)``.
- ``L = L_GD + lambda1 L_edit + lambda2 L_margin``; official chem weights lambda1 = 0.7,
  lambda2 = 0.5, alpha = 5 (the code's means, not the paper's sums).

Inputs are molecule-major ``[B, C, ...]``; :func:`to_molecule_major` reshapes a flat
``[C * B, ...]`` batch from either ordering.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def to_molecule_major(x: Tensor, num_candidates: int, layout: str = "candidate") -> Tensor:
    """Reshape a flat [C * B, ...] tensor to [B, C, ...].

    Args:
        x: per-graph values, C * B rows.
        num_candidates: C.
        layout: ``"candidate"`` (rows ``[c0 of all molecules, c1 of all, ...]``, view(C, B).T) or
            ``"molecule"`` (rows ``[m0c0, m0c1, ..., m1c0, ...]``, view(B, C)).
    """
    c = int(num_candidates)
    if c < 1 or x.size(0) % c:
        raise ValueError(f"x has {x.size(0)} rows, not a multiple of num_candidates={num_candidates}")
    b = x.size(0) // c
    rest = tuple(x.shape[1:])
    if layout == "candidate":
        return x.reshape((c, b) + rest).transpose(0, 1)
    if layout == "molecule":
        return x.reshape((b, c) + rest)
    raise ValueError(f"layout must be 'candidate' or 'molecule', got {layout!r}")


def dsla_discriminator_loss(scores: Tensor) -> Tensor:
    """``L_GD``: cross-entropy with target 0 over each row of scores [B, C]."""
    if scores.dim() != 2 or scores.size(1) < 2:
        raise ValueError(f"scores must be [B, C] with C >= 2, got {tuple(scores.shape)}")
    target = torch.zeros(scores.size(0), dtype=torch.long, device=scores.device)
    return F.cross_entropy(scores, target)


def dsla_edit_loss(h: Tensor, edit: Tensor) -> Tensor:
    """``L_edit`` from embeddings h [B, C, d] and edit distances [B, C-1] of candidates 1..C-1.

    Pairs with a zero edit distance are left out; with no valid pair the loss is 0.
    """
    if h.dim() != 3 or h.size(1) < 3:
        raise ValueError(f"h must be [B, C, d] with C >= 3, got {tuple(h.shape)}")
    if edit.shape != (h.size(0), h.size(1) - 1):
        raise ValueError(f"edit must be [B, C-1] = [{h.size(0)}, {h.size(1) - 1}] (candidates 1..C-1), "
                         f"got {tuple(edit.shape)}")
    dist = (h[:, 1:] - h[:, :1]).norm(dim=-1)                                # [B, C-1]
    e = edit.to(h.dtype)
    valid = e > 0
    ratio = dist / torch.where(valid, e, torch.ones_like(e))
    i, j = torch.triu_indices(e.size(1), e.size(1), offset=1, device=h.device)
    pair_valid = valid[:, i] & valid[:, j]
    sq = (ratio[:, i] - ratio[:, j]).pow(2)
    count = pair_valid.sum()
    return torch.where(pair_valid, sq, torch.zeros_like(sq)).sum() / count.clamp_min(1)


def dsla_margin_loss(h: Tensor, margin: float = 5.0) -> Tensor:
    """``L_margin`` from embeddings h [B, C', d] (candidate 0 first, strong candidate removed)."""
    if h.dim() != 3 or h.size(1) < 2:
        raise ValueError(f"h must be [B, C', d] with C' >= 2, got {tuple(h.shape)}")
    b = h.size(0)
    if b < 2:
        return h.sum() * 0.0  # no other molecule to serve as a negative
    pos = (h[:, 1:] - h[:, :1]).norm(dim=-1)                                 # [B, C'-1]
    orig = h[:, 0]
    neg = torch.cdist(orig, orig)                                            # [B, B]
    off = ~torch.eye(b, dtype=torch.bool, device=h.device)
    hinge = F.relu(margin + pos[:, None, :] - neg[:, :, None])               # [B, B, C'-1]
    return (hinge * off[:, :, None]).sum() / (b * (b - 1) * pos.size(1))


class DSLALoss(nn.Module):
    """``L_GD + edit_weight L_edit + margin_weight L_margin`` (official chem defaults).

    ``forward(scores [B, C], h [B, C, d], edit [B, C-1])``; with ``strong=True`` the last
    candidate is the strongly perturbed one, used by ``L_GD`` and ``L_edit`` but not ``L_margin``.

    Args:
        edit_weight: lambda1 (0.7).
        margin_weight: lambda2 (0.5).
        margin: alpha (5.0).
        strong: the last candidate is the strong perturbation.
    """

    def __init__(self, edit_weight: float = 0.7, margin_weight: float = 0.5, margin: float = 5.0, *,
                 strong: bool = True):
        super().__init__()
        self.edit_weight, self.margin_weight, self.margin, self.strong = edit_weight, margin_weight, margin, strong

    def parts(self, scores: Tensor, h: Tensor, edit: Tensor) -> dict[str, Tensor]:
        """The three unweighted terms and the discriminator accuracy (argmax = candidate 0)."""
        if scores.shape != h.shape[:2]:
            raise ValueError(f"scores {tuple(scores.shape)} and h {tuple(h.shape)} disagree on [B, C]")
        h_margin = h[:, :-1] if self.strong else h
        return {"gd": dsla_discriminator_loss(scores), "edit": dsla_edit_loss(h, edit),
                "margin": dsla_margin_loss(h_margin, self.margin),
                "gd_acc": (scores.detach().argmax(dim=1) == 0).float().mean()}

    def forward(self, scores: Tensor, h: Tensor, edit: Tensor) -> Tensor:
        p = self.parts(scores, h, edit)
        return p["gd"] + self.edit_weight * p["edit"] + self.margin_weight * p["margin"]

    def extra_repr(self) -> str:
        return (f"edit_weight={self.edit_weight}, margin_weight={self.margin_weight}, "
                f"margin={self.margin}, strong={self.strong}")
