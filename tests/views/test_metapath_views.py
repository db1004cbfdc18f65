"""MEOW's augmentations: exact counts, inputs untouched, seeded."""
from __future__ import annotations

import pytest
import torch

from gcl.views.metapath import mask_nonzero_features, metapath_edge_drop


@pytest.mark.parametrize("sparse", [False, True])
def test_mask_nonzero_features_counts(sparse: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(30, 12, generator=gen) < 0.3).float() * torch.rand(30, 12, generator=gen)
    inp = x.to_sparse() if sparse else x
    before = inp.clone()
    out = mask_nonzero_features(inp, 0.3, torch.Generator().manual_seed(1))
    dense = out.to_dense() if sparse else out
    nnz = int((x != 0).sum())
    assert int((dense != 0).sum()) == nnz - int(0.3 * nnz)
    kept = dense != 0
    assert torch.equal(dense[kept], x[kept])                      # survivors unchanged
    assert bool(((x != 0) | ~kept).all())                         # nothing new appears
    assert torch.equal(inp.to_dense() if sparse else inp, before.to_dense() if sparse else before)
    again = mask_nonzero_features(inp, 0.3, torch.Generator().manual_seed(1))
    assert torch.equal(again.to_dense() if sparse else again, dense)


def test_metapath_edge_drop() -> None:
    gen = torch.Generator().manual_seed(0)
    dense = (torch.rand(20, 20, generator=gen) < 0.3).float() * 3
    dense.fill_diagonal_(0)
    dense[0, 0] = 5.0
    adj = dense.to_sparse()
    out = metapath_edge_drop(adj, 0.25, torch.Generator().manual_seed(2)).to_dense()
    off = int((dense != 0).sum()) - 1
    assert torch.equal(out.diagonal(), torch.ones(20))            # full identity added
    out_off = out.clone().fill_diagonal_(0)
    assert int((out_off != 0).sum()) == off - int(0.25 * off)
    assert bool((out_off[out_off != 0] == 1).all())               # survivors set to 1
    assert bool((dense[out_off != 0] != 0).all())                 # a subset of the original
    assert torch.equal(adj.to_dense(), dense)                     # input untouched


def test_fraction_checked() -> None:
    with pytest.raises(ValueError, match="p must be in"):
        mask_nonzero_features(torch.ones(2, 2), 1.5)
    with pytest.raises(ValueError, match="square sparse COO"):
        metapath_edge_drop(torch.ones(2, 2), 0.1)
