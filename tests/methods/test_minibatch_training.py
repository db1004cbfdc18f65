"""Mini-batch GRACE on sampled subgraphs: loss against a dense reference, training progress,
exact resume through the engine, other views, and layer-wise full-graph inference."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gcl.data.sampling import SubgraphLoader
from gcl.data.synthetic import power_law_graph
from gcl.methods import GRACE, GRACEConfig
from gcl.methods.minibatch import grace_batch_loss, train_epoch_on_batches
from gcl.nn.gcn_inference import gcn_layerwise
from gcl.train import TrainConfig, Trainer
from gcl.utils import seed_everything
from gcl.views import edge_perturb

CFG = GRACEConfig(hidden=16, proj_hidden=16, tau=0.5, lr=5e-3)


def _graph(n: int = 300, seed: int = 0):
    return power_law_graph(n, 6.0, 8, num_classes=3, generator=torch.Generator().manual_seed(seed))


def _dense_gcn_adj(edge_index: torch.Tensor, n: int) -> torch.Tensor:
    """D^-1/2 (A + I) D^-1/2 with A[dst, src] = 1 per edge (no self-loops in the input)."""
    a = torch.zeros(n, n)
    a.index_put_((edge_index[1], edge_index[0]), torch.ones(edge_index.size(1)), accumulate=True)
    a += torch.eye(n)
    d = a.sum(1).pow(-0.5)
    return d[:, None] * a * d[None, :]


def _dense_infonce(u: torch.Tensor, v: torch.Tensor, tau: float) -> torch.Tensor:
    """Symmetric GRACE loss by its formula, all pairs explicit."""
    def one_way(a, b):
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
        inter, intra = torch.exp(a @ b.T / tau), torch.exp(a @ a.T / tau)
        denom = inter.sum(1) + intra.sum(1) - intra.diagonal()
        return -torch.log(inter.diagonal() / denom)
    return 0.5 * (one_way(u, v).mean() + one_way(v, u).mean())


def test_batch_loss_equals_a_dense_reference_on_the_seed_rows():
    data = _graph()
    torch.manual_seed(0)
    model = GRACE(8, CFG)
    batch = next(iter(SubgraphLoader(data, [4, 3], batch_size=32, shuffle=True,
                                     generator=torch.Generator().manual_seed(1))))
    assert 32 < batch.num_nodes < data.num_nodes
    loss = grace_batch_loss(model, batch, torch.Generator().manual_seed(7))
    # the same views, then every product dense
    (m1, e1), (m2, e2) = model.views(batch.x, batch.edge_index, torch.Generator().manual_seed(7))
    l1, l2 = model.encoder.layers

    def dense_z(mask, edges):
        adj = _dense_gcn_adj(edges, batch.num_nodes)
        h = torch.relu(adj @ (batch.x * mask) @ l1.weight + l1.bias)
        h = torch.relu(adj @ h @ l2.weight + l2.bias)
        return model.projector(h[:batch.batch_size])

    ref = _dense_infonce(dense_z(m1, e1), dense_z(m2, e2), CFG.tau)
    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-5)
    # only the seeds count: the non-seed rows change nothing
    full = _dense_infonce(model.projector(model(batch.x, e1, m1)), model.projector(model(batch.x, e2, m2)), CFG.tau)
    assert not torch.allclose(full, ref)


def _setup(n: int, fanout: list[int], batch_size: int):
    """Graph, seeded model and optimiser, and a shuffled loader drawing from its own generator."""
    data = _graph(n)
    seed_everything(0)
    model = GRACE(8, CFG)
    opt = torch.optim.Adam(model.parameters(), lr=CFG.lr)
    gen = torch.Generator().manual_seed(0)
    return data, model, opt, gen, SubgraphLoader(data, fanout, batch_size=batch_size, shuffle=True,
                                                 generator=gen)


def test_a_few_minibatch_epochs_reduce_the_loss():
    data, model, opt, gen, loader = _setup(400, [5, 5], 100)
    probe = next(iter(SubgraphLoader(data, [5, 5], batch_size=100)))

    def probe_loss() -> float:
        with torch.no_grad():
            return float(grace_batch_loss(model, probe, torch.Generator().manual_seed(3)))

    before = probe_loss()
    records = [train_epoch_on_batches(loader, opt, lambda b: grace_batch_loss(model, b, gen))
               for _ in range(8)]
    assert records[0]["batches"] == 4 and records[0]["seeds"] == 400
    assert records[-1]["loss"] < records[0]["loss"]
    assert probe_loss() < before - 0.05


def _run(tmp_path, epochs: int, resume: bool = False):
    _, model, opt, gen, loader = _setup(200, [3, 3], 64)

    def train_epoch(epoch: int) -> dict[str, float]:
        return train_epoch_on_batches(loader, opt, lambda b: grace_batch_loss(model, b, gen))

    cfg = TrainConfig(epochs=epochs, out_dir=str(tmp_path), resume=resume, quiet=True, device="cpu")
    result = Trainer(model, opt, train_epoch, None, cfg, generators={"sampler": gen},
                     signature={"test": "minibatch"}).fit()
    return model, result


def test_resume_through_the_engine_is_exact(tmp_path):
    straight, res = _run(tmp_path / "a", 4)
    _run(tmp_path / "b", 2)
    resumed, res_b = _run(tmp_path / "b", 4, resume=True)
    for p, q in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(p, q)
    assert [r["loss"] for r in res.history] == [r["loss"] for r in res_b.history]


def test_edge_perturbation_views_on_the_subgraph():
    data = _graph()
    torch.manual_seed(0)
    model = GRACE(8, CFG)
    batch = next(iter(SubgraphLoader(data, [4, 3], batch_size=32)))
    views = (lambda b, g: edge_perturb(b, 0.2, undirected=False, generator=g),) * 2
    loss = grace_batch_loss(model, batch, torch.Generator().manual_seed(0), views=views)
    loss.backward()
    assert torch.isfinite(loss) and model.encoder.layers[0].weight.grad.abs().sum() > 0
    same = grace_batch_loss(model, batch, torch.Generator().manual_seed(0), views=views)
    torch.testing.assert_close(loss.detach(), same.detach())


def test_layerwise_inference_equals_the_full_graph_forward():
    data = _graph(500)
    torch.manual_seed(0)
    model = GRACE(8, CFG)
    expected = model.embed(data.x, data.edge_index)
    for x in (data.x, data.x.to_sparse()):
        got = gcn_layerwise(model.encoder, x, data.edge_index, block_size=77)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_bench_grace_trains_on_sampled_batches_when_batch_size_is_set(tmp_path):
    from pathlib import Path

    from gcl.bench.grace import run
    from gcl.bench.request import BenchRequest

    root = Path(__file__).resolve().parents[2] / "datasets"
    req = BenchRequest("grace", "cora", tmp_path, epochs=2, device="cpu", root=str(root), quiet=True,
                       overrides={"hidden": 16, "proj_hidden": 16, "eval_every": 1, "batch_size": 1024,
                                  "num_neighbors": [5, 5]})
    out = run(req)
    history = out.train.history
    assert [r["batches"] for r in history] == [3.0, 3.0] and history[0]["seeds"] == 2708.0
    assert out.config["batch_size"] == 1024 and 0.0 < out.metrics["test_acc"] <= 1.0
