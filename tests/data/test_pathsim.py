"""PathSim top-k pruning and MEOW's transposed normalisation against plain dense references."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import gcl.data
from gcl.data.pathsim import pathsim_scores, pathsim_topk, row_ranks, transposed_sym_norm

# Hand-made symmetric counts (M = H Hᵀ for a 5 x 4 incidence H).
H = torch.tensor([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 1], [0, 0, 0, 1], [2, 0, 0, 0]], dtype=torch.float64)
M = H @ H.T


def _sparse(dense: torch.Tensor) -> torch.Tensor:
    return dense.to_sparse().coalesce()


def test_pathsim_scores_equal_formula() -> None:
    m = _sparse(M)
    row, col = m.indices()
    expected = 2 * M[row, col] / (M.diagonal()[row] + M.diagonal()[col])
    torch.testing.assert_close(pathsim_scores(m), expected)
    # Hand-checked entries: s_01 = 2*1/(2+2), s_04 = 2*2/(2+4).
    s = dict(zip(zip(row.tolist(), col.tolist()), pathsim_scores(m).tolist()))
    assert s[(0, 1)] == pytest.approx(0.5) and s[(0, 4)] == pytest.approx(2 / 3)


def _reference_topk(dense: torch.Tensor, k: int) -> torch.Tensor:
    """Per-row loop: self-loop first, then the highest PathSim, ties by lower column."""
    d = dense.diagonal()
    out = torch.zeros_like(dense)
    for i in range(dense.size(0)):
        cols = dense[i].nonzero().view(-1).tolist()
        key = lambda j: (j != i, -float(2 * dense[i, j] / (d[i] + d[j])), j)  # noqa: E731
        for j in sorted(cols, key=key)[:k]:
            out[i, j] = dense[i, j]
    return out


@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_topk_equals_per_row_reference(k: int) -> None:
    got = pathsim_topk(_sparse(M), k, tie_break="index").to_dense().double()
    torch.testing.assert_close(got, _reference_topk(M, k))
    assert bool((got.diagonal() == M.diagonal()).all())              # self-loops kept
    counts = (got != 0).sum(1)
    assert counts.tolist() == torch.minimum((M != 0).sum(1), torch.tensor(k)).tolist()


def test_topk_without_self_loop_priority_and_random_ties() -> None:
    tied = torch.ones(6, 6, dtype=torch.float64)                      # every PathSim equals 1
    a = pathsim_topk(_sparse(tied), 3, keep_self_loop=False, generator=torch.Generator().manual_seed(0))
    b = pathsim_topk(_sparse(tied), 3, keep_self_loop=False, generator=torch.Generator().manual_seed(0))
    c = pathsim_topk(_sparse(tied), 3, keep_self_loop=False, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.indices(), b.indices())                      # seeded
    assert not torch.equal(a.indices(), c.indices())                  # the seed matters
    assert ((a.to_dense() != 0).sum(1) == 3).all()
    kept = pathsim_topk(_sparse(tied), 3, generator=torch.Generator().manual_seed(1)).to_dense()
    assert bool((kept.diagonal() == 1).all())


def test_row_ranks() -> None:
    assert row_ranks(torch.tensor([0, 0, 2, 2, 2, 3]), 4).tolist() == [0, 1, 0, 1, 2, 0]


def test_transposed_sym_norm_equals_dense() -> None:
    a = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [0.0, 0.0, 0.0]])   # not symmetric, a zero row
    deg = a.sum(1)
    inv = torch.where(deg > 0, deg.rsqrt(), torch.zeros_like(deg))
    expected = inv[:, None] * a.T * inv[None, :]
    torch.testing.assert_close(transposed_sym_norm(a.to_sparse()).to_dense(), expected)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="sparse COO"):
        pathsim_topk(M, 2)
    with pytest.raises(ValueError, match="k must be >= 1"):
        pathsim_topk(_sparse(M), 0)
    with pytest.raises(ValueError, match="tie_break"):
        pathsim_topk(_sparse(M), 2, tie_break="first")
    with pytest.raises(ValueError, match="M_ii"):
        pathsim_scores(_sparse(torch.tensor([[0.0, 1.0], [1.0, 0.0]])))
    with pytest.raises(ValueError, match="non-negative"):
        transposed_sym_norm(torch.tensor([[-1.0]]).to_sparse())


def test_acm_pap_pruning_keeps_57797(bundled_root: Path) -> None:
    data = gcl.data.load("acm", root=bundled_root)
    pap = data.metapaths.to_torch("PAP", torch.float64)
    pruned = pathsim_topk(pap, 110, generator=torch.Generator().manual_seed(0))
    assert pruned._nnz() == 57797
