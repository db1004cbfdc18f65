"""GraphCL and D-SLA for molecules: the loss against a dense reference, the candidates as
pre-training draws them (OGB features), training steps, the encoder's saved weights."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Batch

from gcl.data.smiles import smiles_to_dataset
from gcl.methods.dsla import DSLA, DSLAConfig, official_ogb_bond_probs
from gcl.methods.graphcl import GraphCL, GraphCLConfig, graphcl_loss
from gcl.methods.mol_pretrain import pretrain
from gcl.nn.mol_graph import MOL_ATOM_DIMS, MOL_MASK_ATOM, MolGraphEncoder, encoder_checkpoint

SMILES = [
    "CC(=O)Oc1ccccc1C(=O)O", "CN1CCC[C@H]1c1cccnc1", "c1ccc2ccccc2c1", "CCN(CC)CC", "OC1CCCCC1",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "O=C(O)c1ccccc1O", "CCOC(=O)C", "C1CCNCC1", "Clc1ccc(Cl)cc1",
    "CC(=O)Nc1ccc(O)cc1", "c1ccncc1",
]
TINY = dict(emb_dim=16, num_layers=2, batch_size=6)


@pytest.fixture(scope="module")
def mols():
    return smiles_to_dataset(SMILES)


@pytest.fixture(scope="module")
def batch(mols) -> Batch:
    return Batch.from_data_list([mols[i] for i in range(len(mols))])


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- GraphCL loss


def dense_graphcl(z1, z2, tau, symmetric=False, include_positive=False):
    """Per-anchor loop over the official formula: cosine scores, view-1 anchors."""
    def one(a, b):
        terms = []
        for i in range(a.size(0)):
            s = [F.cosine_similarity(a[i], b[j], dim=0) / tau for j in range(b.size(0))]
            den = [torch.exp(s[j]) for j in range(b.size(0)) if include_positive or j != i]
            terms.append(-torch.log(torch.exp(s[i]) / torch.stack(den).sum()))
        return torch.stack(terms).mean()
    return 0.5 * (one(z1, z2) + one(z2, z1)) if symmetric else one(z1, z2)


@pytest.mark.parametrize("symmetric,include_positive", [(False, False), (True, False), (False, True), (True, True)])
def test_graphcl_loss_equals_dense_reference(symmetric: bool, include_positive: bool) -> None:
    g = gen(1)
    z1 = torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True)
    ours = graphcl_loss(z1, z2, 0.1, symmetric=symmetric, include_positive=include_positive)
    ref = dense_graphcl(z1, z2, 0.1, symmetric, include_positive)
    torch.testing.assert_close(ours, ref)
    g_ours = torch.autograd.grad(ours, (z1, z2))
    g_ref = torch.autograd.grad(ref, (z1, z2))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b)
    if not include_positive:  # the official form is unbounded below: aligned views give < 0
        same = graphcl_loss(z1.detach(), z1.detach(), 0.1)
        assert float(same) < 0


def test_graphcl_loss_needs_two_rows() -> None:
    with pytest.raises(ValueError, match="B >= 2"):
        graphcl_loss(torch.randn(1, 3), torch.randn(1, 3))


def test_graphcl_views_keep_graphs_apart_and_use_the_pool(batch: Batch) -> None:
    n = batch.ptr.diff()
    for aug, expected in (("node_drop", n - torch.floor(0.2 * n).long()),
                          ("subgraph", None)):
        model = GraphCL(GraphCLConfig(**TINY, augmentations=aug))
        v1, v2 = model.views(batch, gen(2))
        for v in (v1, v2):
            assert v.num_graphs == batch.num_graphs
            assert bool((v.batch[v.edge_index[0]] == v.batch[v.edge_index[1]]).all())
            kept = torch.bincount(v.batch, minlength=batch.num_graphs)
            if expected is not None:
                assert torch.equal(kept, expected)
            else:
                assert bool((kept <= torch.floor(0.2 * n).long() + 1).all()) and bool((kept >= 1).all())
    masked = GraphCL(GraphCLConfig(**TINY, augmentations="attr_mask")).views(batch, gen(3))[0]
    rows = (masked.x == torch.tensor(MOL_MASK_ATOM)).all(1)
    assert torch.equal(torch.bincount(masked.batch[rows], minlength=batch.num_graphs), torch.floor(0.2 * n).long())
    with pytest.raises(ValueError, match="augmentations must name"):
        GraphCLConfig(augmentations="node_drop,rotate")


def test_graphcl_training_lowers_the_loss(batch: Batch) -> None:
    torch.manual_seed(0)
    model = GraphCL(GraphCLConfig(**TINY))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):  # the same views every step (the generator is reseeded)
        loss = model.loss_terms(batch, gen(5))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0] - 0.5


def test_pretrain_loop_resumes_exactly(mols, tmp_path) -> None:
    def run(epochs: int, out: str | None, resume: bool = False):
        torch.manual_seed(0)
        model = GraphCL(GraphCLConfig(**TINY, epochs=epochs))
        res = pretrain(model, mols, model.config, seed=3, device="cpu", out_dir=out, resume=resume)
        return model, res

    straight, res = run(3, None)
    assert [r["batches"] for r in res.history] == [2.0, 2.0, 2.0]
    run(2, str(tmp_path))
    resumed, res2 = run(3, str(tmp_path), resume=True)
    assert [round(r["loss"], 6) for r in res2.history] == [round(r["loss"], 6) for r in res.history]
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b)


# --------------------------------------------------------------------------- D-SLA candidates


def undirected(ei: torch.Tensor) -> set[tuple[int, int]]:
    return {(min(u, v), max(u, v)) for u, v in ei.T.tolist()}


def test_dsla_edit_counts_equal_the_real_edge_difference(batch: Batch) -> None:
    model = DSLA(DSLAConfig(**TINY))
    out = model.candidates(batch, gen(4))
    C, B, N = out.num_candidates, out.batch_size, batch.num_nodes
    src, dst = out.edge_index
    assert bool((out.graph_id[src] == out.graph_id[dst]).all()), "an edge joins two candidate graphs"
    originals = [undirected(batch[b].edge_index) for b in range(B)]
    for c in range(C):
        for b in range(B):
            gid = c * B + b
            lo = c * N + int(batch.ptr[b])
            sel = out.graph_id[src] == gid
            edges = undirected(out.edge_index[:, sel] - lo)
            diff = len(edges ^ originals[b])
            assert diff == int(out.n_deleted[gid] + out.n_added[gid])
            assert float(out.edit[gid]) == diff / 2
            if c == 0:
                assert diff == 0
    # masked atoms carry the mask row; added bonds follow the official OGB-layout probabilities
    assert bool((out.x[out.masked] == torch.tensor(MOL_MASK_ATOM)).all())
    assert bool((out.x[~out.masked] < torch.tensor(MOL_ATOM_DIMS) - 1).all())
    assert int(out.n_added.sum()) > 0
    attr = out.edge_attr
    assert bool((attr[:, 0] <= 4).all())
    known = {tuple(r) for r in batch.edge_attr.tolist()}
    new = [tuple(r) for r in attr.tolist() if tuple(r) not in known]
    assert all(r[0] < 4 and r[1] == 0 and r[2] == 0 for r in new)
    probs = official_ogb_bond_probs()
    assert [p.numel() for p in probs] == [5, 6, 2] and all(abs(float(p.sum()) - 1) < 1e-9 for p in probs)


def test_dsla_corpus_marginals_need_setting(batch: Batch) -> None:
    model = DSLA(DSLAConfig(**TINY, added_edge_attr="corpus"))
    with pytest.raises(ValueError, match="set_corpus_marginals"):
        model.candidates(batch, gen(0))
    model.set_corpus_marginals(batch.edge_attr)
    out = model.candidates(batch, gen(0))
    assert out.edge_attr.size(1) == 3


def _fixed_candidate_steps(model: DSLA, batch: Batch, steps: int, lr: float) -> list[dict[str, float]]:
    """Adam steps on the same candidates (the generator is reseeded every step)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    out = []
    for _ in range(steps):
        terms = model.loss_terms(batch, gen(7))
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
        out.append({k: float(v.detach()) for k, v in terms.items()})
    return out


def test_dsla_training_step_lowers_the_loss(batch: Batch) -> None:
    torch.manual_seed(0)
    model = DSLA(DSLAConfig(**TINY))
    hist = _fixed_candidate_steps(model, batch, 12, 1e-2)
    assert all(math.isfinite(h["loss"]) for h in hist)
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert set(hist[0]) == {"loss", "gd", "edit", "margin", "gd_acc", "capped"}
    torch.testing.assert_close(torch.tensor(hist[0]["loss"]),
                               torch.tensor(hist[0]["gd"] + 0.7 * hist[0]["edit"] + 0.5 * hist[0]["margin"]))


def test_discriminator_learns_to_pick_the_original(batch: Batch) -> None:
    """Toy case: on fixed candidates of 12 molecules the discriminator ends up scoring the
    original highest for every molecule (chance: 1 in 5)."""
    torch.manual_seed(0)
    model = DSLA(DSLAConfig(**TINY, edit_weight=0.0, margin_weight=0.0))
    hist = _fixed_candidate_steps(model, batch, 40, 1e-2)
    model.eval()
    with torch.no_grad():
        scores, _, _ = model.score(model.candidates(batch, gen(7)))
    assert bool((scores.argmax(1) == 0).all())
    assert hist[-1]["gd"] < hist[0]["gd"]


def test_dsla_config_checks() -> None:
    with pytest.raises(ValueError, match="num_candidates must be >= 3"):
        DSLAConfig(num_candidates=2)
    with pytest.raises(ValueError, match="added_edge_attr"):
        DSLAConfig(added_edge_attr="zinc")
    cfg = DSLAConfig.for_dataset("ogbg-molbace", {"preset": "cpu-scaled"})
    assert (cfg.emb_dim, cfg.epochs, cfg.edit_weight, cfg.margin_weight, cfg.margin) == (128, 20, 0.7, 0.5, 5.0)
    with pytest.raises(ValueError, match="unknown DSLAConfig keys"):
        DSLAConfig.for_dataset("ogbg-molbace", {"tau": 0.1})


# --------------------------------------------------------------------------- encoder


def test_saved_encoder_round_trip(batch: Batch) -> None:
    enc = MolGraphEncoder(2, 16)
    enc.eval()
    saved = encoder_checkpoint(enc, method="dsla")
    again = MolGraphEncoder.from_saved(saved, dropout=0.5)
    again.eval()
    torch.testing.assert_close(enc.embed(batch), again.embed(batch))
    assert again.dropout == 0.5 and saved["method"] == "dsla"
    with pytest.raises(ValueError, match="do not fit"):
        MolGraphEncoder.from_saved({**saved, "emb_dim": 8})
