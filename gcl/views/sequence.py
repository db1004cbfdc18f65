"""Sequence views (CL4SRec / MCLRec): crop, mask and reorder on padded item sequences.

Layout (SASRec, :meth:`gcl.data.sequences.SequenceDataset.padded_inputs`): ``seqs`` is a
``[B, L]`` long tensor, ``pad`` (0) is padding, and every row is **left-padded**: its
``len_b`` items fill the last ``len_b`` columns, the most recent item in the last column.
A row's length is ``L`` minus the column of its first non-pad item (a pad-valued mask token
inside a row, as MCLRec's masking leaves, does not shorten it).

Every operator works on each row with its own length, all rows at once (no loop over
sequences), returns a new left-padded tensor and leaves the input untouched. Randomness
comes from ``generator`` (``None``: torch's global generator). Defaults are
CL4SRec/MCLRec's: crop ``eta = 0.5``, mask ``gamma = 0.5``, reorder ``beta = 0.8``.

- crop: keep ``floor(eta * len)`` contiguous items from a uniform start (at least one item
  of a non-empty row);
- mask: set ``floor(gamma * len)`` distinct uniformly chosen positions to ``mask_token``
  (MCLRec passes the padding id 0, CL4SRec a dedicated id such as ``n_items + 1``);
- reorder: shuffle (uniform permutation) a contiguous window of ``floor(beta * len)`` items
  starting at a uniform position.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

#: Operator codes used by :func:`seq_random_augment` (``IDENTITY`` leaves a row as is).
IDENTITY, CROP, MASK, REORDER = -1, 0, 1, 2
NUM_SEQ_OPS = 3


def _check_seqs(seqs: Tensor) -> None:
    if not isinstance(seqs, Tensor) or seqs.dim() != 2:
        shape = tuple(seqs.shape) if isinstance(seqs, Tensor) else type(seqs).__name__
        raise ValueError(f"seqs must be a [B, L] tensor, got {shape}")
    if torch.is_floating_point(seqs) or seqs.dtype == torch.bool:
        raise ValueError(f"seqs must hold integer item ids, got {seqs.dtype}")


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def _rand(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    dev = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, device=dev, dtype=torch.float64).to(like.device)


def _uniform_int(high: Tensor, like: Tensor, generator: torch.Generator | None) -> Tensor:
    """A uniform integer in ``[0, high)`` per entry of ``high`` (0 where ``high <= 0``)."""
    u = _rand(tuple(high.shape), like, generator)
    return torch.minimum((u * high.to(torch.float64)).long(), (high - 1).clamp(min=0))


def _floor(ratio: float, lengths: Tensor) -> Tensor:
    return torch.floor(lengths.to(torch.float64) * ratio).long()


def seq_lengths(seqs: Tensor, pad: int = 0) -> Tensor:
    """``[B]`` length of every left-padded row: ``L`` minus its first non-pad column."""
    _check_seqs(seqs)
    real = seqs != pad
    first = real.to(torch.uint8).argmax(dim=1)
    return torch.where(real.any(dim=1), seqs.size(1) - first, torch.zeros_like(first))


def seq_crop(
    seqs: Tensor,
    eta: float = 0.5,
    *,
    pad: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Keep a random contiguous window of ``max(1, floor(eta * len))`` items of every row.

    The window start is uniform in ``[0, len - keep]``; the kept items end up right-aligned
    (left-padded). CL4SRec's ``floor`` can give an empty sequence when ``eta * len < 1``;
    here a non-empty row keeps at least one item (with ``eta = 0.5`` only ``len = 1`` is
    affected, where MCLRec keeps the original anyway).

    Args:
        seqs: ``[B, L]`` left-padded item ids.
        eta: kept fraction, in [0, 1].

    Returns:
        ``[B, L]`` left-padded crops.
    """
    _check_seqs(seqs)
    _check_fraction("eta", eta)
    length = seq_lengths(seqs, pad)
    width = seqs.size(1)
    keep = torch.where(length > 0, _floor(eta, length).clamp(min=1), torch.zeros_like(length))
    start = _uniform_int(length - keep + 1, seqs, generator)
    cols = torch.arange(width, device=seqs.device)
    first_out = (width - keep).unsqueeze(1)
    src = (width - length + start).unsqueeze(1) + (cols - first_out)
    real = cols >= first_out
    items = seqs.gather(1, src.clamp(0, max(width - 1, 0)))
    return torch.where(real, items, torch.full_like(seqs, pad))


def seq_mask(
    seqs: Tensor,
    mask_token: int,
    gamma: float = 0.5,
    *,
    pad: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Replace ``floor(gamma * len)`` distinct uniformly chosen items of every row.

    Args:
        seqs: ``[B, L]`` left-padded item ids.
        mask_token: the id written at masked positions.
        gamma: masked fraction, in [0, 1].

    Returns:
        ``[B, L]``: the same rows with masked positions set to ``mask_token``.
    """
    _check_seqs(seqs)
    _check_fraction("gamma", gamma)
    length = seq_lengths(seqs, pad)
    width = seqs.size(1)
    cols = torch.arange(width, device=seqs.device)
    real = cols >= (width - length).unsqueeze(1)
    keys = torch.where(real, _rand(tuple(seqs.shape), seqs, generator), 2.0)
    order = torch.argsort(keys, dim=1, stable=True)
    rank = torch.empty_like(order).scatter_(1, order, cols.expand_as(order).contiguous())
    masked = rank < _floor(gamma, length).unsqueeze(1)
    return torch.where(masked, torch.full_like(seqs, mask_token), seqs)


def seq_reorder(
    seqs: Tensor,
    beta: float = 0.8,
    *,
    pad: int = 0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Shuffle a random contiguous window of ``floor(beta * len)`` items of every row.

    The window start is uniform in ``[0, len - w]``; its items get a uniform random
    permutation (sorting i.i.d. keys), everything else stays in place.

    Args:
        seqs: ``[B, L]`` left-padded item ids.
        beta: window fraction, in [0, 1].

    Returns:
        ``[B, L]`` with the same items per row, in the same columns outside the window.
    """
    _check_seqs(seqs)
    _check_fraction("beta", beta)
    length = seq_lengths(seqs, pad)
    width = seqs.size(1)
    w = _floor(beta, length)
    start = (width - length) + _uniform_int(length - w + 1, seqs, generator)
    cols = torch.arange(width, device=seqs.device)
    in_window = (cols >= start.unsqueeze(1)) & (cols < (start + w).unsqueeze(1))
    # Window keys lie in [start, start + w), disjoint from the other columns' own indices.
    u = _rand(tuple(seqs.shape), seqs, generator)
    inside = start.unsqueeze(1).to(torch.float64) + u * w.unsqueeze(1)
    keys = torch.where(in_window, inside, cols.to(torch.float64).expand(seqs.shape))
    return seqs.gather(1, torch.argsort(keys, dim=1, stable=True))


def _apply_ops(
    seqs: Tensor,
    ops: Tensor,
    mask_token: int,
    eta: float,
    gamma: float,
    beta: float,
    pad: int,
    generator: torch.Generator | None,
) -> Tensor:
    out = seqs.clone()
    for code in (CROP, MASK, REORDER):
        rows = (ops == code).nonzero().view(-1)
        if rows.numel() == 0:
            continue
        sub = seqs.index_select(0, rows)
        if code == CROP:
            view = seq_crop(sub, eta, pad=pad, generator=generator)
        elif code == MASK:
            view = seq_mask(sub, mask_token, gamma, pad=pad, generator=generator)
        else:
            view = seq_reorder(sub, beta, pad=pad, generator=generator)
        out[rows] = view
    return out


def seq_random_augment(
    seqs: Tensor,
    mask_token: int,
    *,
    eta: float = 0.5,
    gamma: float = 0.5,
    beta: float = 0.8,
    ops: Tensor | None = None,
    pad: int = 0,
    generator: torch.Generator | None = None,
    return_ops: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Apply one of crop / mask / reorder to every row, chosen uniformly per row.

    Args:
        seqs: ``[B, L]`` left-padded item ids.
        mask_token: id written by the mask operator.
        eta, gamma, beta: crop, mask and reorder fractions.
        ops: ``[B]`` operator per row (``CROP``, ``MASK``, ``REORDER`` or ``IDENTITY``)
            instead of a uniform draw.
        return_ops: also return the ``[B]`` operator codes used.
    """
    _check_seqs(seqs)
    for name, value in (("eta", eta), ("gamma", gamma), ("beta", beta)):
        _check_fraction(name, value)
    if ops is None:
        choices = torch.full((seqs.size(0),), NUM_SEQ_OPS, device=seqs.device)
        ops = _uniform_int(choices, seqs, generator)
    else:
        ops = torch.as_tensor(ops, dtype=torch.long, device=seqs.device).view(-1)
        if ops.numel() != seqs.size(0):
            raise ValueError(f"ops must hold one code per row ({seqs.size(0)}), got {ops.numel()}")
        if bool(((ops < IDENTITY) | (ops >= NUM_SEQ_OPS)).any()):
            raise ValueError("ops codes must be IDENTITY (-1), CROP (0), MASK (1) or REORDER (2)")
    out = _apply_ops(seqs, ops, mask_token, eta, gamma, beta, pad, generator)
    return (out, ops) if return_ops else out


def seq_augment_pair(
    seqs: Tensor,
    mask_token: int,
    *,
    eta: float = 0.5,
    gamma: float = 0.5,
    beta: float = 0.8,
    pad: int = 0,
    generator: torch.Generator | None = None,
    return_ops: bool = False,
) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]:
    """Two views per row with two **different** operators (MCLRec / CL4SRec-style).

    For every row longer than one item, an ordered pair of distinct operators is drawn
    uniformly (without replacement from {crop, mask, reorder}); view 1 applies the first,
    view 2 the second. Rows of length <= 1 are returned unchanged in both views.

    Returns:
        ``(view1, view2)`` ``[B, L]`` each, and with ``return_ops`` the ``[B, 2]`` codes.
    """
    _check_seqs(seqs)
    b = seqs.size(0)
    first = _uniform_int(torch.full((b,), NUM_SEQ_OPS, device=seqs.device), seqs, generator)
    shift = 1 + _uniform_int(torch.full((b,), 2, device=seqs.device), seqs, generator)
    second = (first + shift) % NUM_SEQ_OPS
    short = seq_lengths(seqs, pad) <= 1
    ops = torch.stack([first, second], 1).masked_fill(short.unsqueeze(1), IDENTITY)
    kwargs = dict(eta=eta, gamma=gamma, beta=beta, pad=pad, generator=generator)
    v1 = seq_random_augment(seqs, mask_token, ops=ops[:, 0], **kwargs)
    v2 = seq_random_augment(seqs, mask_token, ops=ops[:, 1], **kwargs)
    return (v1, v2, ops) if return_ops else (v1, v2)


class SeqViewPair(NamedTuple):
    """Two augmented views of a batch with the length of every view row
    (:func:`seq_augment_pair` + :func:`seq_view_lengths`).

    Attributes:
        view1, view2: ``[B, L]`` left-padded item ids.
        length1, length2: ``[B]`` int64 number of items of each view row, counting masked
            items (which may equal the padding id, so they cannot be read off the ids).
        ops: ``[B, 2]`` operator codes of view 1 and view 2 (``IDENTITY`` for rows of length <= 1).
    """

    view1: Tensor
    length1: Tensor
    view2: Tensor
    length2: Tensor
    ops: Tensor


def seq_view_lengths(seqs: Tensor, ops: Tensor, eta: float = 0.5, pad: int = 0) -> Tensor:
    """Length of every view row made by the operators ``ops`` (e.g. of :func:`seq_augment_pair`).

    A crop has ``max(1, floor(eta * len))`` items; mask, reorder and identity keep ``len``. The
    lengths come from the operators, not from the ids, so a mask written with the padding id
    (MCLRec) does not shorten a row even when it hits the row's first item. ``seqs`` (the
    input of the views) must hold no padding inside a row, as
    :meth:`gcl.data.SequenceDataset.padded_inputs` guarantees.

    Args:
        seqs: ``[B, L]`` left-padded input of the views.
        ops: ``[B]`` or ``[B, V]`` operator codes.
        eta: the crop fraction the views were made with.

    Returns:
        int64 lengths of the shape of ``ops``.
    """
    _check_seqs(seqs)
    _check_fraction("eta", eta)
    length = seq_lengths(seqs, pad)
    if ops.shape[:1] != length.shape:
        raise ValueError(f"ops must have one row per sequence ({seqs.size(0)}), got {tuple(ops.shape)}")
    length = length.view(-1, *([1] * (ops.dim() - 1)))
    crop_length = torch.where(length > 0, _floor(eta, length).clamp(min=1), length)
    return torch.where(ops.to(seqs.device) == CROP, crop_length, length)


def right_to_left_padding(seqs: Tensor, lengths: Tensor, pad: int = 0) -> Tensor:
    """Move every row's first ``lengths[b]`` items (right-padded, RecBole's layout) to the end.

    Args:
        seqs: ``[B, L]`` item ids, row ``b`` holding its items in columns ``0 .. lengths[b] - 1``.
        lengths: ``[B]`` number of items per row (``0 <= lengths <= L``).
        pad: padding id written before the items.

    Returns:
        ``[B, L]`` left-padded rows (items in columns ``L - lengths[b] .. L - 1``, same order).
    """
    _check_seqs(seqs)
    width = seqs.size(1)
    lengths = lengths.to(seqs.device).long()
    if lengths.shape != (seqs.size(0),):
        raise ValueError(f"lengths must have shape [{seqs.size(0)}], got {tuple(lengths.shape)}")
    if seqs.size(0) and (int(lengths.min()) < 0 or int(lengths.max()) > width):
        raise ValueError(f"lengths must lie in [0, {width}]")
    cols = torch.arange(width, device=seqs.device)
    shift = (width - lengths).unsqueeze(1)
    src = (cols - shift).clamp(min=0)
    out = seqs.gather(1, src)
    return out.masked_fill(cols < shift, pad)


__all__ = [
    "CROP",
    "IDENTITY",
    "MASK",
    "REORDER",
    "seq_augment_pair",
    "seq_crop",
    "seq_lengths",
    "seq_mask",
    "seq_random_augment",
    "seq_reorder",
    "SeqViewPair",
    "right_to_left_padding",
    "seq_view_lengths",
]
