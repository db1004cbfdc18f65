"""Segment primitives for the batched views: random draws, per-segment ranks, uniform
per-segment subsets and a batched sequential rejection sampler, all without a Python loop
over segments.

A *segment* (a graph of a batch, the pairs of a graph, ...) is a run of consecutive slots;
``sizes[g]`` slots for segment ``g``, laid out segment after segment, so segment ``g`` owns
slots ``ptr[g] .. ptr[g + 1] - 1`` with ``ptr = [0, cumsum(sizes)]``.

**Sequential rejection** (:func:`rejection_rounds`). To draw ``k`` of the acceptable
candidates of a segment uniformly without replacement, draw candidates i.i.d. uniformly and
keep each one that is acceptable and not yet kept, until ``k`` are kept: every ordered
``k``-sample is equally likely, so the kept set is a uniform ``k``-subset. All segments
draw together, in rounds sized so that one round almost always suffices; duplicates and
occupied slots are found with a dense :class:`SlotTable` (``scatter_reduce``), no sort.
Used where acceptable candidates are plentiful (at least half of the pool stays
acceptable), so that a draw is rejected with bounded probability.
"""
from __future__ import annotations

import torch
from torch import Tensor

_PACKABLE_KEYS = (torch.float32, torch.float16, torch.bfloat16)


def uniform(
    n: int,
    device: torch.device | str,
    generator: torch.Generator | None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """``n`` uniform [0, 1) numbers on ``device``, drawn on the generator's own device.

    Drawing on the generator's device and moving the result makes a CPU generator give the
    same numbers whatever the data's device.
    """
    if generator is None or generator.device == torch.device(device):
        return torch.rand(n, generator=generator, device=device, dtype=dtype)
    return torch.rand(n, generator=generator, device=generator.device, dtype=dtype).to(device)


def uniform_index(u: Tensor, size: Tensor) -> Tensor:
    """``floor(u * size)``: a uniform integer in ``[0, size)`` from float64 ``u`` in
    ``[0, 1)``, for integer ``1 <= size < 2^53``.

    No clamp is needed: ``u <= 1 - 2^-53`` and ``size (1 - 2^-53)`` is at least half an
    ulp below ``size`` (exactly representable when ``size`` is a power of 2), so the
    rounded product stays below ``size``.
    """
    return (u * size).long()


def ptr_from_counts(counts: Tensor) -> Tensor:
    """``[G + 1]`` long offsets ``[0, c_0, c_0 + c_1, ...]`` of ``[G]`` counts (or bools)."""
    ptr = torch.zeros(counts.numel() + 1, dtype=torch.long, device=counts.device)
    torch.cumsum(counts, 0, out=ptr[1:])
    return ptr


def segment_rank(group: Tensor, num_groups: int, keys: Tensor) -> Tensor:
    """Rank of every element among the elements of its group, in increasing ``keys``.

    With uniform random ``keys`` the ranks of each group are a uniform random permutation,
    so ``rank < k[group]`` picks ``k[g]`` elements of group ``g`` uniformly without
    replacement. Give ineligible elements a key above every other (e.g. 2.0) to rank them
    last.

    Float32/16 keys take one sort of the int64 key ``group * 2^32 + u(key)``, with ``u`` the
    order-preserving map of a float's bits to ``[0, 2^32)`` (``-0.0`` as ``+0.0``, NaN
    last, as ``torch.sort`` places it); other keys take two stable sorts (by key, then by
    group). Ties are broken by index either way.

    Args:
        group: ``[M]`` long, the group of every element, in ``[0, num_groups)``.
        num_groups: number of groups ``G``.
        keys: ``[M]`` float sort keys.

    Returns:
        ``[M]`` long: ``rank[i] = #{j : group[j] = group[i], (keys[j], j) < (keys[i], i)}``.
    """
    m = group.numel()
    if m == 0:
        return group.new_zeros(0)
    if keys.dtype in _PACKABLE_KEYS and num_groups <= 2**30:
        k32 = keys.to(torch.float32) + 0.0  # -0.0 -> +0.0
        bits = k32.view(torch.int32).to(torch.long)
        bits = torch.where(torch.isnan(k32), 0x7FC00000, bits)  # one NaN, above +inf
        # negative floats: flip the 31 low bits so that their signed order is the float order
        bits = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
        order = torch.argsort(group * 2**32 + (bits + 2**31), stable=True)
    else:
        order = torch.argsort(keys, stable=True)
        order = order[torch.argsort(group[order], stable=True)]
    counts = torch.bincount(group, minlength=num_groups)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(group)
    sorted_group = group[order]
    rank[order] = torch.arange(m, device=group.device) - starts[sorted_group]
    return rank


class SlotTable:
    """Occupancy of slots ``[0, size)`` for sequential rejection sampling, as a dense
    ``[size]`` integer table (int32, or int64 for the huge).

    An entry below ``occupied_below`` (``2^30`` in int32, ``2^62`` in int64) marks an
    occupied slot (the caller may store any such value in it, e.g. an edge column); a free
    slot holds ``free`` (the dtype's maximum) or a stale tag. :meth:`fresh` tags the slots
    drawn in a round with tags below every earlier tag (``scatter_reduce`` with ``amin``),
    so one pass finds the draws that hit a free slot first; stale tags need no clean-up.
    """

    def __init__(self, size: int, device: torch.device | str, dtype: torch.dtype) -> None:
        self.free = torch.iinfo(dtype).max
        self.occupied_below = 1 << (30 if dtype == torch.int32 else 62)
        self.table = torch.full((size,), self.free, dtype=dtype, device=device)
        self._next_tag = self.free

    def fresh(self, slots: Tensor) -> Tensor:
        """``[D]`` bool: ``slots[i]`` is free and does not occur in ``slots[:i]``."""
        d = slots.numel()
        if self._next_tag - d < self.occupied_below:  # out of tags: widen to int64
            stale = self.table >= self.occupied_below
            self.table = self.table.long().masked_fill_(stale, torch.iinfo(torch.long).max)
            self.free = self._next_tag = torch.iinfo(torch.long).max
            self.occupied_below = 1 << 62
        self._next_tag -= d
        tags = torch.arange(
            self._next_tag, self._next_tag + d, device=slots.device, dtype=self.table.dtype
        )
        self.table.scatter_reduce_(0, slots, tags, "amin")
        return self.table.index_select(0, slots) == tags

    def occupied(self, slots: Tensor) -> Tensor:
        """``[D]`` bool: ``slots[i]`` is occupied."""
        return self.table.index_select(0, slots) < self.occupied_below

    def mask(self) -> Tensor:
        """``[size]`` bool: the occupied slots."""
        return self.table < self.occupied_below

    def take(self, slots: Tensor) -> None:
        """Occupy the (free) ``slots``."""
        self.table.index_fill_(0, slots, -1)


class RejectionRounds:
    """Draws per segment for the rounds of a sequential rejection sampler.

    ``need[g]`` accepted draws are wanted from a pool of ``pool[g]`` candidates of which
    at least ``free[g] > 0`` stay acceptable until the end: about ``need * pool / free``
    draws are expected, and a round makes ``ceil(need * (pool / free + 1 / 2)) + 4``
    (0 where ``need == 0``), so that a further round is rare.
    """

    def __init__(self, pool: Tensor, free: Tensor) -> None:
        den = 2 * free.clamp(min=1)
        self.num = 2 * pool + free
        self.den = den
        self.bias = den - 1

    def draws(self, need: Tensor) -> Tensor:
        """``[G]`` draws for a round that still needs ``need``."""
        out = (need * self.num + self.bias) // self.den
        out += (need > 0).long() * 4
        return out


class RejectionFamily:
    """One kind of draw of :func:`rejection_rounds`, over ``G`` segments.

    Attributes (set by subclasses):
        need: ``[G]`` accepted draws wanted per segment.
        pool, free: ``[G]`` candidates per segment and a lower bound on those acceptable
            until the end (see :class:`RejectionRounds`); ``free > 0`` where ``need > 0``.
        width: uniforms per draw.
    """

    need: Tensor
    pool: Tensor
    free: Tensor
    width: int = 1

    def propose(self, seg: Tensor, u: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The slots of draws in segments ``seg`` ``[D]`` from uniforms ``u``
        ``[width, D]``, each uniform over its segment's candidates, and payload tensors
        ``[D]`` to return for the accepted draws."""
        raise NotImplementedError

    def fresh(self, slots: Tensor) -> Tensor:
        """``[D]`` bool: ``slots[i]`` is acceptable and not in ``slots[:i]``."""
        raise NotImplementedError

    def take(self, slots: Tensor) -> None:
        """Record the accepted (distinct) ``slots``: later draws of them are rejected."""
        raise NotImplementedError


def rejection_rounds(
    families: list[RejectionFamily], generator: torch.Generator | None
) -> list[list[tuple[Tensor, ...]]]:
    """Sequential rejection sampling for several families of segments at once.

    In segment ``g`` of a family, i.i.d. draws are proposed and the first ``need[g]``
    acceptable ones kept, every kept slot becoming unacceptable (``take``): the kept draws
    are a uniform sample without replacement of the acceptable candidates. A round draws
    for all segments of all families in one batch (one ``rand``, one ranking) and rounds
    repeat until every segment has its ``need``.

    Returns:
        Per family, per round, ``(seg, *payload)`` of the kept draws (grouped by segment).
    """
    device = families[0].need.device
    sizes = [f.need.numel() for f in families]
    seg_ptr = [0]
    for size in sizes:
        seg_ptr.append(seg_ptr[-1] + size)
    cat = (lambda ts: torch.cat(ts)) if len(families) > 1 else (lambda ts: ts[0])
    need = cat([f.need for f in families])
    rounds = RejectionRounds(cat([f.pool for f in families]), cat([f.free for f in families]))
    segments = torch.arange(seg_ptr[-1], device=device)
    out: list[list[tuple[Tensor, ...]]] = [[] for _ in families]
    while bool(need.any()):
        draws = rounds.draws(need)
        draw_ptr = ptr_from_counts(draws)
        gid = torch.repeat_interleave(segments, draws)
        starts = [0, *(int(draw_ptr[p]) for p in seg_ptr[1:-1]), gid.numel()]
        u = uniform(
            sum(f.width * (b - a) for f, a, b in zip(families, starts, starts[1:])),
            device, generator, torch.float64,
        )
        oks, props = [], []
        at = 0
        for f, first, a, b in zip(families, seg_ptr, starts, starts[1:]):
            seg = gid[a:b] - first if first else gid[a:b]
            slots, payload = f.propose(seg, u[at : at + f.width * (b - a)].view(f.width, -1))
            at += f.width * (b - a)
            oks.append(f.fresh(slots))
            props.append((seg, slots, payload))
        keep, got = _first_per_segment(cat(oks), gid, draw_ptr, need)
        for f, (seg, slots, payload), a, b, res in zip(families, props, starts, starts[1:], out):
            idx = keep[a:b].nonzero().view(-1)
            f.take(slots.index_select(0, idx))
            res.append((seg.index_select(0, idx), *(t.index_select(0, idx) for t in payload)))
        need = need - got
    return out


class SubsetFamily(RejectionFamily):
    """Uniform ``counts[g]``-subsets of the ``sizes[g]`` slots of every segment (slots laid
    out segment after segment); segments with ``counts[g] > sizes[g] / 2`` draw the
    ``sizes[g] - counts[g]`` slots left out instead (:meth:`mask` turns them round)."""

    def __init__(self, sizes: Tensor, counts: Tensor) -> None:
        self.sizes = sizes
        self.counts = counts
        self.need = torch.minimum(counts, sizes - counts)
        self.pool = sizes
        self.free = sizes - self.need
        self.ptr = ptr_from_counts(sizes)
        self.slots = SlotTable(int(self.ptr[-1]), sizes.device, torch.int32)

    def propose(self, seg: Tensor, u: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        size = self.sizes.index_select(0, seg)
        return uniform_index(u[0], size).add_(self.ptr.index_select(0, seg)), ()

    def fresh(self, slots: Tensor) -> Tensor:
        return self.slots.fresh(slots)

    def take(self, slots: Tensor) -> None:
        self.slots.take(slots)

    def mask(self) -> Tensor:
        """``[sum(sizes)]`` bool: the chosen slots (exactly ``counts[g]`` per segment)."""
        taken = self.slots.mask()
        flip = self.need < self.counts
        if bool(flip.any()):
            taken ^= torch.repeat_interleave(flip, self.sizes)
        return taken


def segment_subset_mask(
    sizes: Tensor, counts: Tensor, generator: torch.Generator | None
) -> Tensor:
    """A uniform random ``counts[g]``-subset of the ``sizes[g]`` slots of every segment.

    Segments with ``counts[g] <= sizes[g] / 2`` are sampled sequentially: i.i.d. uniform
    slots of the segment, each kept if it is not already chosen, until ``counts[g]`` are
    kept (the ordered result of that process is a uniform sample without replacement;
    :func:`rejection_rounds`, every draw rejected with probability at most 1/2). Segments
    with ``counts[g] > sizes[g] / 2`` sample the ``sizes[g] - counts[g]`` slots left out
    instead.

    Args:
        sizes: ``[G]`` long slots per segment.
        counts: ``[G]`` long, ``0 <= counts <= sizes``.
        generator: source of randomness.

    Returns:
        ``[sum(sizes)]`` bool, exactly ``counts[g]`` slots of segment ``g`` set.
    """
    family = SubsetFamily(sizes, counts)
    rejection_rounds([family], generator)
    return family.mask()


def _first_per_segment(
    ok: Tensor, gid: Tensor, draw_ptr: Tensor, need: Tensor
) -> tuple[Tensor, Tensor]:
    """Keep the first ``need[g]`` entries with ``ok`` of every segment (in index order).

    Args:
        ok: ``[D]`` bool; ``gid``: ``[D]`` segment of every entry (segment-major);
        draw_ptr: ``[G + 1]`` segment offsets; need: ``[G]``.

    Returns:
        ``(keep [D] bool, kept [G] long)``.
    """
    csum = ptr_from_counts(ok)  # csum[i] = #ok in entries [0, i)
    at_seg = csum.index_select(0, draw_ptr)  # ok entries before segment g
    before = at_seg[:-1]
    # entry i is kept if it is ok and at most need[g] ok entries of g end with it
    keep = csum[1:] <= (before + need).index_select(0, gid)
    keep &= ok
    return keep, torch.minimum(at_seg[1:] - before, need)


__all__ = [
    "RejectionFamily",
    "RejectionRounds",
    "SlotTable",
    "SubsetFamily",
    "ptr_from_counts",
    "rejection_rounds",
    "segment_rank",
    "segment_subset_mask",
    "uniform",
    "uniform_index",
]
