"""gcl.nn.gcn against PyG's GCNConv: the operator, values and gradients, sparse input, masks."""
from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import GCNConv

from gcl.nn.gcn import GCNEncoder, GCNLayer, gcn_adjacency

TOL = dict(atol=1e-5, rtol=1e-5)


def random_graph(
    seed: int,
    num_nodes: int = 15,
    num_edges: int = 40,
    *,
    duplicates: bool = True,
    self_loops: bool = True,
    isolated: int = 0,
) -> tuple[torch.Tensor, int]:
    """Random directed edges on the first ``num_nodes`` nodes (plus ``isolated`` unused ones),
    with some edges repeated and a self-loop on some (distinct) nodes."""
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, num_nodes, (2, num_edges), generator=g)
    ei = ei[:, ei[0] != ei[1]]
    parts = [ei]
    if duplicates:
        parts.append(ei[:, torch.randperm(ei.size(1), generator=g)[:10]])
    if self_loops:
        nodes = torch.randperm(num_nodes, generator=g)[:5]
        parts.append(torch.stack([nodes, nodes]))
    ei = torch.cat(parts, dim=1)
    ei = ei[:, torch.randperm(ei.size(1), generator=g)]
    return ei, num_nodes + isolated


def layer_like(conv: GCNConv) -> GCNLayer:
    layer = GCNLayer(conv.in_channels, conv.out_channels)
    with torch.no_grad():
        layer.weight.copy_(conv.lin.weight.T)
        layer.bias.copy_(conv.bias)
    return layer


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "graph",
    [
        dict(duplicates=True, self_loops=True),
        dict(duplicates=False, self_loops=False),
        dict(duplicates=True, self_loops=True, isolated=3),
    ],
    ids=["dup+loops", "simple", "isolated"],
)
def test_layer_equals_pyg_gcnconv_values_and_gradients(weighted: bool, graph: dict) -> None:
    torch.manual_seed(0)
    ei, n = random_graph(1, **graph)
    x = torch.randn(n, 6)
    w = torch.rand(ei.size(1)) + 0.1 if weighted else None
    conv = GCNConv(6, 4)
    torch.nn.init.normal_(conv.bias)  # a non-zero bias, so that it is really compared
    layer = layer_like(conv)

    x_ref = x.clone().requires_grad_()
    x_ours = x.clone().requires_grad_()
    w_ref = w.clone().requires_grad_() if weighted else None
    w_ours = w.clone().requires_grad_() if weighted else None
    ref = conv(x_ref, ei, w_ref)
    ours = layer(x_ours, gcn_adjacency(ei, n, w_ours))
    assert ours.shape == (n, 4)
    torch.testing.assert_close(ours, ref, **TOL)

    probe = torch.randn(n, 4)
    (ref * probe).sum().backward()
    (ours * probe).sum().backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, **TOL)
    torch.testing.assert_close(layer.weight.grad, conv.lin.weight.grad.T, **TOL)
    torch.testing.assert_close(layer.bias.grad, conv.bias.grad, **TOL)
    if weighted:
        torch.testing.assert_close(w_ours.grad, w_ref.grad, **TOL)


def test_adjacency_on_a_hand_computed_graph() -> None:
    # 0 -> 1 twice (summed), 1 -> 1 self-loop of weight 3 (kept), node 2 isolated (loop 1).
    ei = torch.tensor([[0, 0, 1], [1, 1, 1]])
    w = torch.tensor([1.0, 2.0, 3.0])
    adj = gcn_adjacency(ei, 3, w).to_dense()
    # in-degrees of A + I: node 0: 1 (its loop), node 1: 3 + 3 = 6, node 2: 1
    expected = torch.tensor(
        [
            [1.0, 0.0, 0.0],
            [3.0 / 6**0.5, 3.0 / 6, 0.0],
            [0.0, 0.0, 1.0],
        ]
    )
    torch.testing.assert_close(adj, expected)
    assert gcn_adjacency(ei, 3, w).layout == torch.sparse_csr


def test_adjacency_without_self_loops_matches_pyg() -> None:
    ei, n = random_graph(2, self_loops=False)
    x = torch.randn(n, 5)
    conv = GCNConv(5, 3, add_self_loops=False)
    layer = layer_like(conv)
    torch.testing.assert_close(
        layer(x, gcn_adjacency(ei, n, add_self_loops=False)), conv(x, ei), **TOL
    )


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_sparse_features_give_the_dense_result(layout: str) -> None:
    torch.manual_seed(3)
    ei, n = random_graph(3)
    x = torch.randn(n, 8) * (torch.rand(n, 8) < 0.3)  # mostly zeros, like bag-of-words
    xs = x.to_sparse() if layout == "coo" else x.to_sparse_csr()
    adj = gcn_adjacency(ei, n)
    layer = GCNLayer(8, 4)
    dense_out = layer(x, adj)
    (dense_out**2).sum().backward()
    grad_dense = layer.weight.grad.clone()
    layer.weight.grad = None
    sparse_out = layer(xs, adj)
    (sparse_out**2).sum().backward()
    torch.testing.assert_close(sparse_out, dense_out, **TOL)
    torch.testing.assert_close(layer.weight.grad, grad_dense, **TOL)

    enc = GCNEncoder(8, 4, num_layers=2)
    torch.testing.assert_close(enc(xs, ei), enc(x, ei), **TOL)


def test_input_mask_equals_masking_columns() -> None:
    torch.manual_seed(4)
    ei, n = random_graph(4)
    x = torch.randn(n, 10)
    mask = (torch.rand(10) < 0.5).float()
    assert 0 < mask.sum() < 10
    adj = gcn_adjacency(ei, n)
    layer = GCNLayer(10, 4)
    torch.testing.assert_close(layer(x, adj, mask), layer(x * mask, adj), **TOL)
    torch.testing.assert_close(
        layer(x.to_sparse(), adj, mask), layer(x * mask, adj), **TOL
    )
    enc = GCNEncoder(10, 4, num_layers=3)
    torch.testing.assert_close(enc(x, ei, input_mask=mask), enc(x * mask, ei), **TOL)
    # the mask really matters (otherwise the checks above would hold trivially)
    assert not torch.allclose(layer(x, adj, mask), layer(x, adj))


def test_encoder_equals_stacked_pyg_convs() -> None:
    torch.manual_seed(5)
    ei, n = random_graph(5)
    x = torch.randn(n, 7)
    w = torch.rand(ei.size(1)) + 0.5
    convs = [GCNConv(7, 12), GCNConv(12, 6)]
    enc = GCNEncoder(7, 6, num_layers=2, activation=torch.nn.PReLU(), dropout=0.5)
    enc.eval()  # no dropout
    for layer, conv in zip(enc.layers, convs):
        torch.nn.init.normal_(conv.bias)
        with torch.no_grad():
            layer.weight.copy_(conv.lin.weight.T)
            layer.bias.copy_(conv.bias)
    act = enc.activation
    ref = act(convs[1](act(convs[0](x, ei, w)), ei, w))
    torch.testing.assert_close(enc(x, ei, edge_weight=w), ref, **TOL)
    torch.testing.assert_close(enc(x, adj=gcn_adjacency(ei, n, w)), ref, **TOL)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_encoder_shapes(num_layers: int) -> None:
    ei, n = random_graph(6)
    enc = GCNEncoder(9, 5, num_layers=num_layers)
    assert len(enc.layers) == num_layers
    sizes = [tuple(layer.weight.shape) for layer in enc.layers]
    expected = [9] + [10] * (num_layers - 1) + [5]  # hidden width defaults to 2 * out
    assert sizes == list(zip(expected[:-1], expected[1:]))
    assert enc(torch.randn(n, 9), ei).shape == (n, 5)
    wide = GCNEncoder(9, 5, num_layers=num_layers, hidden_channels=3)
    assert wide(torch.randn(n, 9), ei).shape == (n, 5)
    if num_layers > 1:
        assert wide.layers[0].weight.shape == (9, 3)


def test_encoder_errors() -> None:
    enc = GCNEncoder(4, 2)
    with pytest.raises(ValueError, match="needs edge_index or adj"):
        enc(torch.randn(3, 4))
    with pytest.raises(ValueError, match="num_layers must be >= 1, got 0"):
        GCNEncoder(4, 2, num_layers=0)
