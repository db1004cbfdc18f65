"""gcl.nn.pooling against PyG's pools and hand-computed values, empty graphs, gradients."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.nn import global_add_pool as pyg_add
from torch_geometric.nn import global_max_pool as pyg_max
from torch_geometric.nn import global_mean_pool as pyg_mean

from gcl.nn.pooling import global_add_pool, global_max_pool, global_mean_pool, global_pool


def test_hand_computed() -> None:
    x = torch.tensor([[1.0, -2.0], [3.0, 4.0], [5.0, 0.0], [-1.0, -1.0]])
    batch = torch.tensor([0, 0, 2, 0])  # graph 1 has no nodes
    torch.testing.assert_close(global_add_pool(x, batch), torch.tensor([[3.0, 1.0], [0, 0], [5, 0]]))
    torch.testing.assert_close(global_mean_pool(x, batch), torch.tensor([[1.0, 1 / 3], [0, 0], [5, 0]]))
    torch.testing.assert_close(global_max_pool(x, batch), torch.tensor([[3.0, 4.0], [0, 0], [5, 0]]))
    assert global_pool(x, batch, "sum", size=4).shape == (4, 2)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=30), st.integers(0, 10_000))
def test_equal_to_pyg(batch_list: list[int], seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    batch = torch.tensor(sorted(batch_list))
    x = torch.randn(batch.numel(), 3, generator=g)
    size = int(batch.max()) + 1
    present = torch.bincount(batch, minlength=size) > 0
    torch.testing.assert_close(global_add_pool(x, batch), pyg_add(x, batch, size))
    torch.testing.assert_close(global_mean_pool(x, batch), pyg_mean(x, batch, size))
    torch.testing.assert_close(global_max_pool(x, batch)[present], pyg_max(x, batch, size)[present])


def test_gradients_and_unsorted_batch() -> None:
    x = torch.tensor([[1.0], [4.0], [2.0], [4.0]], requires_grad=True)
    batch = torch.tensor([1, 0, 1, 0])
    out = global_mean_pool(x, batch).sum() + global_max_pool(x, batch).sum()
    out.backward()
    # mean: 1/2 each; max: graph 1 -> node 2 (value 2), graph 0 ties 4/4 -> split 1/2 each.
    torch.testing.assert_close(x.grad, torch.tensor([[0.5], [1.0], [1.5], [1.0]]))


def test_errors() -> None:
    with pytest.raises(ValueError, match="batch"):
        global_add_pool(torch.randn(3, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="reduce"):
        global_pool(torch.randn(3, 2), torch.tensor([0, 0, 1]), "min")
