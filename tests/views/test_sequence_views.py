"""gcl.views.sequence: crop / mask / reorder on left-padded [B, L] item sequences."""
from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcl.views.sequence import (
    CROP,
    IDENTITY,
    MASK,
    REORDER,
    seq_augment_pair,
    seq_crop,
    seq_lengths,
    seq_mask,
    seq_random_augment,
    seq_reorder,
)

MASK_ID = 999



def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def left_padded(rows: list[list[int]], width: int) -> torch.Tensor:
    out = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            out[i, width - len(r):] = torch.tensor(r)
    return out


@st.composite
def seq_batches(draw) -> tuple[torch.Tensor, list[list[int]]]:
    """Left-padded rows of distinct items (so a window can be located), lengths 0..L."""
    width = draw(st.integers(1, 12))
    lengths = draw(st.lists(st.integers(0, width), min_size=1, max_size=8))
    rows = [
        draw(st.lists(st.integers(1, 60), min_size=n, max_size=n, unique=True)) for n in lengths
    ]
    return left_padded(rows, width), rows


def real_part(row: torch.Tensor) -> list[int]:
    """Items after the left padding; asserts nothing but padding precedes them."""
    nz = (row != 0).nonzero().view(-1)
    if nz.numel() == 0:
        return []
    first = int(nz[0])
    return row[first:].tolist()


def assert_left_padded(out: torch.Tensor, lengths: list[int]) -> None:
    width = out.size(1)
    for row, n in zip(out, lengths):
        assert torch.all(row[: width - n] == 0)
        assert torch.all(row[width - n :] != 0)


# --------------------------------------------------------------------------- lengths


def test_seq_lengths_counts_from_the_first_item() -> None:
    seqs = torch.tensor([[0, 0, 3, 4], [0, 0, 0, 0], [5, 0, 6, 7], [1, 2, 3, 4]])
    assert seq_lengths(seqs).tolist() == [2, 0, 4, 4]
    assert seq_lengths(torch.tensor([[9, 9, 1]]), pad=9).tolist() == [1]


# --------------------------------------------------------------------------- crop


@settings(max_examples=60, deadline=None)
@given(batch=seq_batches(), eta=st.sampled_from([0.0, 0.3, 0.5, 0.6, 1.0]), seed=st.integers(0, 2**31 - 1))
def test_crop_keeps_a_contiguous_window(batch, eta: float, seed: int) -> None:
    seqs, rows = batch
    before = seqs.clone()
    out = seq_crop(seqs, eta, generator=gen(seed))
    assert torch.equal(seqs, before)
    keep = [max(1, math.floor(eta * len(r))) if r else 0 for r in rows]
    assert_left_padded(out, keep)
    for row, r, k in zip(out, rows, keep):
        got = real_part(row)
        assert len(got) == k
        if k:
            s = r.index(got[0])
            assert got == r[s : s + k]


def test_crop_start_is_uniform_and_seeded() -> None:
    seqs = left_padded([list(range(1, 11))] * 3000, 12)
    out = seq_crop(seqs, 0.5, generator=gen(0))
    starts = Counter(int(row[-5]) - 1 for row in out)  # first kept item - 1 = start
    assert set(starts) == set(range(6))
    assert all(abs(c / 3000 - 1 / 6) < 0.03 for c in starts.values())
    assert torch.equal(out, seq_crop(seqs, 0.5, generator=gen(0)))
    assert not torch.equal(out, seq_crop(seqs, 0.5, generator=gen(1)))


# --------------------------------------------------------------------------- mask


@settings(max_examples=60, deadline=None)
@given(batch=seq_batches(), gamma=st.sampled_from([0.0, 0.2, 0.5, 1.0]), seed=st.integers(0, 2**31 - 1))
def test_mask_replaces_exactly_floor_gamma_len_items(batch, gamma: float, seed: int) -> None:
    seqs, rows = batch
    before = seqs.clone()
    out = seq_mask(seqs, MASK_ID, gamma, generator=gen(seed))
    assert torch.equal(seqs, before)
    assert_left_padded(out, [len(r) for r in rows])
    changed = out != seqs
    assert torch.all(out[changed] == MASK_ID)
    assert changed.sum(1).tolist() == [math.floor(gamma * len(r)) for r in rows]


def test_mask_positions_uniform_and_pad_token() -> None:
    seqs = left_padded([list(range(1, 9))] * 4000, 10)
    out = seq_mask(seqs, MASK_ID, 0.25, generator=gen(3))
    freq = (out == MASK_ID).float().mean(0)
    assert torch.all(freq[:2] == 0)
    assert torch.all((freq[2:] - 0.25).abs() < 0.03)
    # MCLRec masks with the padding id itself: masked items become 0
    out = seq_mask(seqs[:5], 0, 0.5, generator=gen(0))
    assert ((out == 0).sum(1) - 2).tolist() == [4] * 5


# --------------------------------------------------------------------------- reorder


@settings(max_examples=60, deadline=None)
@given(batch=seq_batches(), beta=st.sampled_from([0.0, 0.5, 0.8, 1.0]), seed=st.integers(0, 2**31 - 1))
def test_reorder_shuffles_one_window(batch, beta: float, seed: int) -> None:
    seqs, rows = batch
    before = seqs.clone()
    out = seq_reorder(seqs, beta, generator=gen(seed))
    assert torch.equal(seqs, before)
    assert_left_padded(out, [len(r) for r in rows])
    for row, r in zip(out, rows):
        got = real_part(row)
        assert sorted(got) == sorted(r)
        moved = [i for i, (a, b) in enumerate(zip(got, r)) if a != b]
        if moved:  # all moved positions fit in one window of floor(beta * len)
            assert moved[-1] - moved[0] + 1 <= math.floor(beta * len(r))


def test_reorder_window_permutation_is_uniform() -> None:
    # len 4, beta 0.8: a window of 3 at start 0 or 1 (1/2 each), shuffled uniformly (1/6)
    from itertools import permutations

    seqs = left_padded([[1, 2, 3, 4]] * 6000, 4)
    out = seq_reorder(seqs, 0.8, generator=gen(5))
    expected: Counter = Counter()
    for p in permutations([1, 2, 3]):
        expected[(*p, 4)] += 1 / 12
    for p in permutations([2, 3, 4]):
        expected[(1, *p)] += 1 / 12
    counts = Counter(tuple(r) for r in out.tolist())
    assert set(counts) == set(expected)  # 10 rows: (1,2,3,4) and (1,3,2,4) come from both
    for row, p in expected.items():
        assert abs(counts[row] / 6000 - p) < 0.015, (row, counts[row] / 6000, p)


# --------------------------------------------------------------------------- random choice


@settings(max_examples=40, deadline=None)
@given(batch=seq_batches(), seed=st.integers(0, 2**31 - 1))
def test_random_augment_applies_the_chosen_op_per_row(batch, seed: int) -> None:
    seqs, rows = batch
    before = seqs.clone()
    out, ops = seq_random_augment(seqs, MASK_ID, generator=gen(seed), return_ops=True)
    assert torch.equal(seqs, before)
    for row, r, op in zip(out, rows, ops.tolist()):
        got = real_part(row)
        if op == CROP:
            k = max(1, math.floor(0.5 * len(r))) if r else 0
            assert len(got) == k and (k == 0 or got == r[r.index(got[0]) : r.index(got[0]) + k])
        elif op == MASK:
            assert len(got) == len(r)
            assert sum(a != b for a, b in zip(got, r)) == math.floor(0.5 * len(r))
        else:
            assert op == REORDER and sorted(got) == sorted(r)


def test_random_augment_choice_frequencies_and_forced_ops() -> None:
    seqs = left_padded([list(range(1, 11))] * 3000, 10)
    out, ops = seq_random_augment(seqs, MASK_ID, generator=gen(0), return_ops=True)
    freq = torch.bincount(ops, minlength=3).float() / 3000
    assert torch.all((freq - 1 / 3).abs() < 0.03)
    forced = torch.tensor([IDENTITY, CROP, MASK, REORDER])
    out = seq_random_augment(seqs[:4], MASK_ID, ops=forced, generator=gen(0))
    assert torch.equal(out[0], seqs[0])
    assert int((out[1] != 0).sum()) == 5
    assert int((out[2] == MASK_ID).sum()) == 5
    with pytest.raises(ValueError, match="ops codes"):
        seq_random_augment(seqs[:2], MASK_ID, ops=torch.tensor([0, 5]))


def test_augment_pair_uses_two_different_ops() -> None:
    rows = [list(range(1, 1 + n)) for n in [0, 1, 2, 5, 9, 12] * 200]
    seqs = left_padded(rows, 12)
    v1, v2, ops = seq_augment_pair(seqs, MASK_ID, generator=gen(1), return_ops=True)
    short = seq_lengths(seqs) <= 1
    assert torch.all(ops[short] == IDENTITY)
    assert torch.equal(v1[short], seqs[short]) and torch.equal(v2[short], seqs[short])
    long_ops = ops[~short]
    assert torch.all(long_ops[:, 0] != long_ops[:, 1])
    pairs = Counter(map(tuple, long_ops.tolist()))
    assert len(pairs) == 6 and all(abs(c / len(long_ops) - 1 / 6) < 0.04 for c in pairs.values())
    a = seq_augment_pair(seqs, MASK_ID, generator=gen(1))
    assert torch.equal(a[0], v1) and torch.equal(a[1], v2)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: seq_crop(s, 1.5), r"eta must be in \[0, 1\]"),
        (lambda s: seq_mask(s, 1, -0.1), r"gamma must be in \[0, 1\]"),
        (lambda s: seq_reorder(s, 2.0), r"beta must be in \[0, 1\]"),
        (lambda s: seq_crop(s[0], 0.5), r"seqs must be a \[B, L\] tensor"),
        (lambda s: seq_crop(s.float(), 0.5), "integer item ids"),
    ],
)
def test_bad_arguments(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(left_padded([[1, 2, 3]], 4))


# --------------------------------------------------------------------------- real data


def test_beauty_training_batch() -> None:
    from gcl.data import load

    ds = load("beauty")
    batch = next(iter(ds.train_loader(batch_size=256, generator=gen(0))))
    seqs = batch.inputs
    before = seqs.clone()
    lengths = seq_lengths(seqs)
    assert torch.equal(lengths, (seqs != 0).sum(1))  # SequenceDataset rows are left-padded
    v1, v2, ops = seq_augment_pair(seqs, 0, generator=gen(2), return_ops=True)
    assert torch.equal(seqs, before)
    for view, op in ((v1, ops[:, 0]), (v2, ops[:, 1])):
        crop = op == CROP
        expected = torch.where(lengths > 0, torch.floor(lengths * 0.5).long().clamp(min=1), 0)
        assert torch.equal(seq_lengths(view[crop]), expected[crop])
        masked = op == MASK
        assert torch.equal((view[masked] == 0).sum(1) - (seqs[masked] == 0).sum(1),
                           torch.floor(lengths[masked] * 0.5).long())
        re = op == REORDER
        assert torch.equal(view[re].sort(1).values, seqs[re].sort(1).values)
        # every item of a view comes from its own input row
        for row, src in zip(view.tolist(), seqs.tolist()):
            assert set(row) - {0} <= set(src)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_sequence_views_equal_cpu_with_a_cpu_generator() -> None:
    rows = [list(range(1, 1 + n)) for n in [0, 1, 2, 5, 9, 12] * 20]
    seqs = left_padded(rows, 12)
    a = seq_augment_pair(seqs, MASK_ID, generator=gen(1))
    b = seq_augment_pair(seqs.cuda(), MASK_ID, generator=gen(1))
    assert torch.equal(a[0], b[0].cpu()) and torch.equal(a[1], b[1].cpu())
