"""gcl.nn.gin and gcl.nn.mol_encoders: OGB equivalence of the embeddings, and the GIN layer and
encoder against a plain per-edge reference (values and gradients) on a tiny graph and on a real
ogbg-molbace batch, in both feature presets."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch_geometric.data import Batch

from gcl.nn.gin import GINConv, GINEncoder
from gcl.nn.mol_encoders import (
    OGB_ATOM_DIMS,
    OGB_BOND_DIMS,
    AtomEncoder,
    BondEncoder,
    CategoricalEmbedding,
    feature_groups,
    PretrainAtomEncoder,
    PretrainBondEncoder,
    ogb_atom_feature_dims,
    ogb_bond_feature_dims,
)

TOL = dict(atol=1e-5, rtol=1e-5)



@pytest.fixture(scope="module")
def molbace_batch(bundled_root: Path) -> Batch:
    import gcl.data as gdata

    ds = gdata.load("ogbg-molbace", root=bundled_root)
    return Batch.from_data_list([ds[i] for i in range(6)])


# ----------------------------------------------------------------------------- embeddings


def test_ogb_dims_constants_match_ogb() -> None:
    assert tuple(ogb_atom_feature_dims()) == OGB_ATOM_DIMS
    assert tuple(ogb_bond_feature_dims()) == OGB_BOND_DIMS


@pytest.mark.parametrize("kind", ["atom", "bond"])
def test_atom_bond_encoders_equal_ogb(kind: str, molbace_batch: Batch) -> None:
    from ogb.graphproppred.mol_encoder import AtomEncoder as OgbAtom, BondEncoder as OgbBond

    torch.manual_seed(0)
    ours = AtomEncoder(16) if kind == "atom" else BondEncoder(16)
    ref = OgbAtom(16) if kind == "atom" else OgbBond(16)
    tables = ref.atom_embedding_list if kind == "atom" else ref.bond_embedding_list
    with torch.no_grad():
        for f, emb in enumerate(tables):
            ours.table(f).copy_(emb.weight)
    x = molbace_batch.x if kind == "atom" else molbace_batch.edge_attr
    torch.testing.assert_close(ours(x), ref(x), **TOL)


def test_categorical_embedding_init_range_and_errors() -> None:
    torch.manual_seed(0)
    emb = CategoricalEmbedding([3, 50], 8)
    assert emb.weight.shape == (53, 8)
    # Xavier-uniform per table: bounds sqrt(6 / (3 + 8)) and sqrt(6 / (50 + 8)).
    assert emb.table(0).abs().max() <= (6 / 11) ** 0.5
    assert emb.table(1).abs().max() <= (6 / 58) ** 0.5
    assert emb.table(0).abs().max() > (6 / 58) ** 0.5  # the first table really is wider
    with pytest.raises(ValueError, match="vocabulary of feature"):
        emb(torch.tensor([[3, 0]]))  # 3 is outside feature 0's vocabulary (it would read T_1[0])
    with pytest.raises(ValueError, match="vocabulary"):
        emb(torch.tensor([[0, -1]]))
    with pytest.raises(ValueError, match="shape"):
        emb(torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="feature_dims"):
        CategoricalEmbedding([], 4)
    with pytest.raises(ValueError, match="feature_dims"):
        PretrainAtomEncoder(4, feature_dims=(120, 3, 2))


def test_feature_groups_pack_consecutive_features() -> None:
    assert feature_groups([120, 6, 13, 13, 11, 7, 7, 3, 3], 2048) == [(0, 2), (2, 5), (5, 9)]
    assert feature_groups([6, 6, 2], 2048) == [(0, 3)]
    assert feature_groups([5000, 2, 3], 2048) == [(0, 1), (1, 3)]  # a wide feature stands alone
    assert feature_groups([4, 4], 1) == [(0, 1), (1, 2)]


@pytest.mark.parametrize("dims", [(120, 6, 13, 13, 11, 7, 7, 3, 3), (6, 6, 2), (7,), (3, 5000, 2)])
def test_grouped_lookup_equals_per_feature_sum(dims: tuple[int, ...]) -> None:
    """The joint-table gathers give Σ_f T_f[x_f] and the same gradients as one gather per feature."""
    torch.manual_seed(0)
    grouped = CategoricalEmbedding(dims, 6).double()
    single = CategoricalEmbedding(dims, 6, max_group_rows=1).double()
    assert len(single.groups) == len(dims)
    with torch.no_grad():
        single.weight.copy_(grouped.weight)
    x = torch.stack([torch.randint(0, d, (300,)) for d in dims], 1)
    x[0] = torch.tensor(dims) - 1  # the last row of every table
    dense = sum(grouped.table(f)[x[:, f]] for f in range(len(dims)))
    out_g, out_s = grouped(x), single(x)
    torch.testing.assert_close(out_g, dense)
    torch.testing.assert_close(out_s, dense)
    w = torch.randn_like(dense)
    (out_g * w).sum().backward()
    (out_s * w).sum().backward()
    torch.testing.assert_close(grouped.weight.grad, single.weight.grad)
    assert grouped.weight.grad.abs().sum() > 0


def test_pretrain_encoders_sum_two_tables() -> None:
    torch.manual_seed(0)
    atom, bond = PretrainAtomEncoder(5), PretrainBondEncoder(5)
    assert atom.feature_dims == (120, 3) and bond.feature_dims == (6, 3)
    x = torch.tensor([[119, 2], [6, 0]])
    torch.testing.assert_close(atom(x), atom.table(0)[x[:, 0]] + atom.table(1)[x[:, 1]])


# ----------------------------------------------------------------------------- reference


def ref_conv(conv: GINConv, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
    """Per-edge loop: m_v = Σ_{(u→v)} φ(x_u + Σ_f T_f[e_f]) (+ self term), then the conv's MLP."""
    enc = conv.edge_encoder
    act = torch.relu if conv.message_relu else (lambda t: t)

    def bond(attr: list[int]) -> Tensor:
        return sum(enc.table(f)[a] for f, a in enumerate(attr))

    m = [torch.zeros_like(x[0]) for _ in range(x.size(0))]
    for k in range(edge_index.size(1)):
        u, v = int(edge_index[0, k]), int(edge_index[1, k])
        m[v] = m[v] + act(x[u] + bond(edge_attr[k].tolist()))
    for v in range(x.size(0)):
        if conv.self_loop_attr is not None:
            m[v] = m[v] + act(x[v] + bond(conv.self_loop_attr[0].tolist()))
        else:
            m[v] = m[v] + (1 + conv.eps[0]) * x[v]
    return conv.mlp(torch.stack(m))


def ref_encoder(model: GINEncoder, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
    atom = model.atom_encoder
    h = torch.stack([sum(atom.table(f)[a] for f, a in enumerate(row.tolist())) for row in x])
    hs = [h]
    for i, (conv, bn) in enumerate(zip(model.convs, model.batch_norms)):
        h = bn(ref_conv(conv, h, edge_index, edge_attr))
        if i < model.num_layers - 1:
            h = torch.relu(h)
        hs.append(h)
    if model.jk == "last":
        return h
    if model.jk == "concat":
        return torch.cat(hs, 1)
    st = torch.stack(hs)
    return st.sum(0) if model.jk == "sum" else st.max(0).values


def tiny_graph() -> tuple[Tensor, Tensor, Tensor]:
    """5 atoms: a 4-ring 0-1-2-3 with a pendant 4 on 2 (both directions), pretrain-style 2+2."""
    und = [(0, 1), (1, 2), (2, 3), (3, 0), (2, 4)]
    src = [a for a, b in und] + [b for a, b in und]
    dst = [b for a, b in und] + [a for a, b in und]
    edge_index = torch.tensor([src, dst])
    types = [0, 1, 3, 0, 2]
    dirs = [0, 1, 2, 0, 0]
    edge_attr = torch.tensor([[t, d] for t, d in zip(types, dirs)] * 2)
    x = torch.tensor([[5, 0], [6, 1], [7, 2], [119, 0], [0, 0]])
    return x, edge_index, edge_attr


# ----------------------------------------------------------------------------- layer


@pytest.mark.parametrize("mode", ["self_loop", "eps", "eps_relu"])
def test_conv_equals_per_edge_reference(mode: str) -> None:
    torch.manual_seed(0)
    _, edge_index, edge_attr = tiny_graph()
    kwargs = dict(self_loop_attr=(4, 0)) if mode == "self_loop" else dict(
        eps=0.3, train_eps=True, message_relu=mode == "eps_relu")
    conv = GINConv(6, PretrainBondEncoder(6), **kwargs).double()
    x = torch.randn(5, 6, dtype=torch.float64)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = conv(xa, edge_index, edge_attr)
    probe = torch.randn_like(ours)
    (ours * probe).sum().backward()
    grads = [p.grad.clone() for p in conv.parameters()]
    conv.zero_grad()
    ref = ref_conv(conv, xb, edge_index, edge_attr)
    (ref * probe).sum().backward()
    torch.testing.assert_close(ours, ref, **TOL)
    torch.testing.assert_close(xa.grad, xb.grad, **TOL)
    for g, p in zip(grads, conv.parameters()):
        torch.testing.assert_close(g, p.grad, **TOL)
    if mode != "self_loop":
        assert conv.eps.grad is not None and conv.eps.grad.abs() > 0


def test_conv_hand_computed_aggregation() -> None:
    # Identity MLP substitute: check the aggregate on a path 0 -> 1 <- 2 with one bond type.
    conv = GINConv(2, CategoricalEmbedding([2], 2), self_loop_attr=(1,))
    conv.mlp = torch.nn.Identity()
    with torch.no_grad():
        conv.edge_encoder.weight.copy_(torch.tensor([[10.0, 0.0], [0.0, 100.0]]))
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    out = conv(x, torch.tensor([[0, 2], [1, 1]]), torch.tensor([[0], [0]]))
    # node 1: (x0 + b0) + (x2 + b0) + (x1 + b_loop) = (1+5+3+20, 2+6+4+100)
    expected = torch.tensor([[1.0, 102.0], [29.0, 112.0], [5.0, 106.0]])
    torch.testing.assert_close(out, expected)


def test_conv_errors() -> None:
    with pytest.raises(ValueError, match="edge_encoder"):
        GINConv(4, None, self_loop_attr=(4, 0))
    with pytest.raises(ValueError, match="eps"):
        GINConv(4, PretrainBondEncoder(4), self_loop_attr=(4, 0), train_eps=True)
    conv = GINConv(4, PretrainBondEncoder(4), self_loop_attr=(4, 0))
    with pytest.raises(ValueError, match="edge_attr is required"):
        conv(torch.randn(3, 4), torch.tensor([[0], [1]]))
    with pytest.raises(ValueError, match="rows"):
        conv(torch.randn(3, 4), torch.tensor([[0], [1]]), torch.zeros(2, 2, dtype=torch.long))


# ----------------------------------------------------------------------------- encoder


@pytest.mark.parametrize("jk", ["last", "sum", "max", "concat"])
def test_encoder_tiny_graph_equals_reference(jk: str) -> None:
    torch.manual_seed(1)
    x, edge_index, edge_attr = tiny_graph()
    model = GINEncoder(3, 8, features="pretrain", jk=jk).double()
    ours = model(x, edge_index, edge_attr)
    assert ours.shape == (5, model.out_dim)
    assert model.out_dim == (32 if jk == "concat" else 8)
    torch.testing.assert_close(ours, ref_encoder(model, x, edge_index, edge_attr), **TOL)


def _pretrain_inputs(batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
    """OGB features reduced to the 2+2 layout: x[:, :2] and (bond type, direction 0); OGB's bond
    type 4 is its misc bucket, so the self-loop token is 5 and the table has 7 rows."""
    edge_attr = torch.stack([batch.edge_attr[:, 0], torch.zeros_like(batch.edge_attr[:, 0])], 1)
    return batch.x[:, :2], batch.edge_index, edge_attr


@pytest.mark.parametrize("features", ["pretrain", "ogb"])
def test_encoder_on_molbace_batch_equals_reference(features: str, molbace_batch: Batch) -> None:
    torch.manual_seed(2)
    if features == "pretrain":
        x, edge_index, edge_attr = _pretrain_inputs(molbace_batch)
        model = GINEncoder(5, 12, features="pretrain", atom_dims=(120, 5), bond_dims=(7, 3),
                           self_loop_attr=(5, 0)).double()
    else:
        x, edge_index, edge_attr = molbace_batch.x, molbace_batch.edge_index, molbace_batch.edge_attr
        model = GINEncoder(5, 12, features="ogb", message_relu=True, mlp_batch_norm=True).double()
        with torch.no_grad():
            for conv in model.convs:
                conv.eps.fill_(0.25)
    model.train()  # batch statistics in every BatchNorm
    ours = model(x, edge_index, edge_attr)
    probe = torch.randn_like(ours)
    (ours * probe).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    ref = ref_encoder(model, x, edge_index, edge_attr)
    (ref * probe).sum().backward()
    torch.testing.assert_close(ours, ref, **TOL)
    for n, p in model.named_parameters():
        torch.testing.assert_close(grads[n], p.grad, **TOL, msg=n)
    assert grads["atom_encoder.weight"].abs().sum() > 0


def test_encoder_defaults_dropout_and_errors(molbace_batch: Batch) -> None:
    model = GINEncoder(features="ogb", dropout=0.5)
    assert model.num_layers == 5 and model.emb_dim == 300 and model.out_dim == 300
    assert isinstance(model.convs[0].eps, torch.nn.Parameter)          # learnable eps for ogb
    assert GINEncoder(2, 4).convs[0].self_loop_attr.tolist() == [[4, 0]]  # pretrain self-loops
    b = molbace_batch
    model.eval()
    out1 = model(b.x, b.edge_index, b.edge_attr)
    out2 = model(b.x, b.edge_index, b.edge_attr)
    torch.testing.assert_close(out1, out2)  # no dropout in eval mode
    model.train()
    torch.manual_seed(0)
    tr = model(b.x, b.edge_index, b.edge_attr)
    assert (tr == 0).float().mean() > 0.3                               # dropout active
    with pytest.raises(ValueError, match="self_loop_attr"):
        GINEncoder(2, 4, bond_dims=(4, 3))  # the default self-loop token 4 is out of range
    with pytest.raises(ValueError, match="jk"):
        GINEncoder(2, 4, jk="mean")
    with pytest.raises(ValueError, match="features"):
        GINEncoder(2, 4, features="zinc")


def test_encoder_is_per_graph_and_order_free(molbace_batch: Batch) -> None:
    """A batch equals its graphs run one by one (in eval mode: BN uses running stats)."""
    torch.manual_seed(3)
    model = GINEncoder(3, 8, features="ogb").eval()
    b = molbace_batch
    out = model(b.x, b.edge_index, b.edge_attr)
    for g in range(2):
        data = b.get_example(g)
        torch.testing.assert_close(out[b.batch == g], model(data.x, data.edge_index, data.edge_attr), **TOL)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_device(device: str, molbace_batch: Batch) -> None:
    from gcl.nn.pooling import global_mean_pool

    b = molbace_batch.to(device)
    model = GINEncoder(2, 8, features="ogb").to(device)
    h = global_mean_pool(model(b.x, b.edge_index, b.edge_attr), b.batch, b.num_graphs)
    h.square().sum().backward()
    assert h.shape == (b.num_graphs, 8) and h.device.type == device
    x, ei, ea = _pretrain_inputs(b)
    pre = GINEncoder(2, 8, atom_dims=(120, 5), bond_dims=(7, 3), self_loop_attr=(5, 0)).to(device)
    assert pre(x, ei, ea).device.type == device


def test_encoder_checks_vocabularies() -> None:
    x, edge_index, edge_attr = tiny_graph()
    model = GINEncoder(2, 4)
    bad_bond = edge_attr.clone()
    bad_bond[0, 0] = 6   # 6 bond types in the pretrain table (0..5)
    with pytest.raises(ValueError, match="vocabulary"):
        model(x, edge_index, bad_bond)
    bad_atom = x.clone()
    bad_atom[0, 1] = 3   # 3 chirality tags
    with pytest.raises(ValueError, match="vocabulary"):
        model(bad_atom, edge_index, edge_attr)
    assert not GINEncoder(2, 4, check_inputs=False).atom_encoder.check_range
