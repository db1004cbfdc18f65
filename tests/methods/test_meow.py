"""MEOW / AdaMEOW: prepared inputs, encoder, per-epoch clustering, training and evaluation."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import gcl.data
from gcl.bench import BenchRequest, run_benchmark
from gcl.data.hetero import load_hetero
from gcl.data.metapath_graphs import prepare_metapath_graphs, row_normalize
from gcl.eval.heco_probe import heco_probe
from gcl.losses.meow import meow_info_nce
from gcl.losses.protonce import proto_nce
from gcl.methods import AdaMEOW, AdaMEOWConfig, MEOW, MEOWConfig
from gcl.methods.adameow import train_adameow
from gcl.methods.meow import train_meow
from gcl.methods.metapath_base import AugmentationSource, evaluate_embeddings, extract_embeddings


def write_toy_acm(folder: Path, n_per_class: int = 20, seed: int = 0) -> Path:
    """An ACM-layout folder with 3 classes: papers cite authors and a subject of their class."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n = 3 * n_per_class
    y = np.repeat(np.arange(3), n_per_class)
    n_auth = 30
    pa = [(p, int(y[p] * 10 + a)) for p in range(n) for a in rng.choice(10, 2, replace=False)]
    ps = [(p, int(y[p] * 2 + rng.integers(2))) for p in range(n)]
    (folder / "pa.txt").write_text("".join(f"{p}\t{a}\n" for p, a in pa))
    (folder / "ps.txt").write_text("".join(f"{p}\t{s}\n" for p, s in ps))
    feat = (rng.random((n, 24)) < 0.15).astype(float)
    feat[np.arange(n), y * 8 + rng.integers(8, size=n)] = 1.0
    sp.save_npz(folder / "p_feat.npz", sp.csr_matrix(feat))
    sp.save_npz(folder / "a_feat.npz", sp.csr_matrix((rng.random((n_auth, 24)) < 0.2).astype(float)))
    np.save(folder / "labels.npy", y)
    perm = rng.permutation(n)
    for rate in (20, 40, 60):
        np.save(folder / f"train_{rate}.npy", np.sort(perm[:15]))
        np.save(folder / f"val_{rate}.npy", np.sort(perm[15:30]))
        np.save(folder / f"test_{rate}.npy", np.sort(perm[30:]))
    return folder


@pytest.fixture
def toy(tmp_path: Path):
    data = load_hetero(write_toy_acm(tmp_path / "acm"), "acm", num_nodes={"subject": 6, "author": 30})
    return data, prepare_metapath_graphs(data, [8, 12], seed=0)


def small_meow(**kw) -> MEOWConfig:
    base = dict(hidden=16, num_clusters=(4, 6), epochs=5, patience=3, lr=5e-3, topk=(8, 12), adj_mask=(0.2,))
    return MEOWConfig(**{**base, **kw})


def test_prepared_inputs_match_dense_references(toy) -> None:
    data, g = toy
    n = data["paper"].num_nodes
    # Context operators: the mean over the distinct intermediate neighbours.
    b = torch.zeros(n, 30)
    ei = data["paper", "to", "author"].edge_index
    b[ei[0], ei[1]] = 1.0
    (t_a, r_a), = g.contexts[0]
    assert t_a == "author"
    torch.testing.assert_close(r_a.to_dense(), b / b.sum(1, keepdim=True).clamp_min(1))
    # Features are row-normalised; the coarse operator is the mean of the meta-path operators.
    x = data["paper"].x.to_dense()
    torch.testing.assert_close(g.x.to_dense() if g.x.is_sparse else g.x, x / x.sum(1, keepdim=True))
    mean = sum(op.matrix.to_dense() for op in g.adjs) / 2
    torch.testing.assert_close(g.coarse.matrix.to_dense(), mean)
    assert g.topk == (8, 12) and g.splits[20][0].numel() == 15
    # Augmentation: exact fractions, seeded.
    x_aug, adjs = g.augmented(0.5, [0.2, 0.2], torch.Generator().manual_seed(0))
    x_nnz = int((x != 0).sum())
    assert int((x_aug.to_dense() != 0).sum()) == x_nnz - int(0.5 * x_nnz)
    with pytest.raises(ValueError, match="adj_mask has 1 values for 2 meta-paths"):
        g.augmented(0.1, [0.2])


def test_row_normalize_keeps_zero_rows() -> None:
    x = torch.tensor([[1.0, 3.0], [0.0, 0.0]])
    torch.testing.assert_close(row_normalize(x), torch.tensor([[0.25, 0.75], [0.0, 0.0]]))
    torch.testing.assert_close(row_normalize(x.to_sparse()).to_dense(), row_normalize(x))


def test_encoder_views_and_context_ablation(toy) -> None:
    _, g = toy
    torch.manual_seed(0)
    model = MEOW(g, small_meow())
    x_aug, adjs = g.augmented(0.3, [0.2, 0.2], torch.Generator().manual_seed(0))
    model.eval()
    out = model.encoder(g, x_aug, adjs)
    assert out.z.shape == (60, 16) and out.z_coarse.shape == (60, 16) and out.beta.shape == (4,)
    torch.testing.assert_close(out.beta.sum(), torch.tensor(1.0))
    f = model.encoder.project(out.z)
    torch.testing.assert_close(f.norm(dim=1), torch.ones(60))
    # The coarse view is the shared GCN on h over the mean operator.
    h = torch.nn.functional.elu(model.encoder.target_proj(g.x.to_dense() if g.x.is_sparse else g.x))
    torch.testing.assert_close(out.z_coarse, model.encoder.encoder.gcn(h, g.coarse))
    no_ctx = MEOW(g, small_meow(use_context=False))
    no_ctx.load_state_dict(model.state_dict())
    no_ctx.eval()
    assert not torch.allclose(no_ctx.encoder(g, x_aug, adjs).z, out.z)


def test_clustering_and_loss_composition(toy) -> None:
    _, g = toy
    torch.manual_seed(0)
    model = MEOW(g, small_meow(lambda_proto=0.5))
    x_aug, adjs = g.augmented(0.3, [0.2, 0.2], torch.Generator().manual_seed(0))
    model.eval()
    loss, parts = model.loss(g, x_aug, adjs)
    views = model.encoder(g, x_aug, adjs)
    a, f = model.encoder.project(views.z_coarse), model.encoder.project(views.z)
    clus = model.cluster(f)
    assert clus.labels.shape == (2, 60) and [c.size(0) for c in clus.centroids] == [4, 6]
    torch.testing.assert_close(clus.concentrations[0].mean(), torch.tensor(model.config.tau))
    expected = meow_info_nce(a, f, clus.labels, 0.4) + 0.5 * proto_nce(a, clus.centroids, clus.concentrations,
                                                                        clus.labels)
    torch.testing.assert_close(loss, expected)
    assert model.cluster(f).labels.equal(clus.labels)              # seeded per clustering
    uniform = MEOW(g, small_meow(weights="uniform", lambda_proto=0.0))
    uniform.load_state_dict(model.state_dict())
    uniform.eval()
    loss_u, _ = uniform.loss(g, x_aug, adjs)
    torch.testing.assert_close(loss_u, meow_info_nce(a, f, torch.arange(60), 0.4))


def test_training_lowers_loss_and_stops_on_patience(toy) -> None:
    _, g = toy
    run = train_meow(g, small_meow(epochs=40, patience=3, lr=1e-2), seed=0)
    hist = run.train.history
    assert hist[-1]["epoch"] == run.train.epochs_run
    best = min(r["loss"] for r in hist)
    assert best < hist[0]["loss"]
    if run.train.stopped_early:
        assert run.train.epochs_run - run.train.best_epoch == 3
    assert {"t_encoder", "t_kmeans", "t_loss", "t_backward"} <= set(hist[0])
    z = extract_embeddings(run.model.encoder, g, run.views)["z"]
    z_train = extract_embeddings(run.model.encoder, g, run.views, "train")["z"]
    assert z.shape == z_train.shape and not torch.allclose(z, z_train)   # dropout on in train mode


def test_resampled_views_change_each_epoch(toy) -> None:
    _, g = toy
    fixed = AugmentationSource(g, small_meow(), torch.Generator().manual_seed(0))
    assert fixed.next()[0] is fixed.next()[0]
    moving = AugmentationSource(g, small_meow(resample_views=True), torch.Generator().manual_seed(0))
    first = moving.next()[0].to_dense()
    assert not torch.equal(first, moving.next()[0].to_dense())


def test_adameow_budget_and_weight_stats(toy) -> None:
    _, g = toy
    cfg = AdaMEOWConfig(hidden=16, topk=(8, 12), adj_mask=(0.2,), epochs=4, selection="budget", stats_every=2,
                        chunk_size=16, lr=1e-3)
    run = train_adameow(g, cfg, seed=0)
    hist = run.train.history
    assert run.train.epochs_run == 4 and run.train.best_epoch == 4
    stats = [r for r in hist if "w_mean" in r]
    assert [r["epoch"] for r in stats] == [1, 2, 4]
    assert all(0 < r["w_min"] <= r["w_mean"] <= r["w_max"] < 1 for r in stats)
    assert isinstance(run.model, AdaMEOW)


def test_val_selection_never_reads_test(toy, monkeypatch) -> None:
    _, g = toy
    seen: list[torch.Tensor] = []
    import gcl.methods.metapath_base as base

    real = base.heco_probe

    def spy(z, y, tr, va, te, **kw):
        seen.append(te)
        return real(z, y, tr, va, te, **kw)

    monkeypatch.setattr(base, "heco_probe", spy)
    run = train_meow(g, small_meow(epochs=4, selection="val", eval_every=2, selection_runs=2), seed=0)
    assert len(seen) == 2 and all(torch.equal(t, g.splits[20][1]) for t in seen)
    assert run.train.best_epoch in (2, 4)


def test_presets_and_config_errors() -> None:
    acm = MEOWConfig.for_dataset("acm")
    assert acm.topk == (110, 700) and acm.num_clusters == (100, 300) and acm.lr == 7e-4
    imdb = MEOWConfig.for_dataset("imdb")
    assert imdb.topk == (70, 10, 70) and imdb.probe_lr == 0.01 and imdb.patience == 15
    assert AdaMEOWConfig.for_dataset("acm").epochs == 1200
    assert MEOWConfig.for_dataset("dblp").topk == (100,)
    with pytest.raises(ValueError, match="unknown MEOWConfig keys"):
        MEOWConfig.for_dataset("acm", {"nei_max": 3})
    with pytest.raises(ValueError, match="weights must be one of"):
        MEOWConfig(weights="soft")
    with pytest.raises(ValueError, match="selection must be one of"):
        MEOWConfig(selection="test")


def test_bench_runner_writes_result(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_toy_acm(root / "hetero" / "heco" / "acm")
    # The toy folder has 6 subjects / 30 authors, not ACM's upstream 60 / 7167.
    import gcl.data.hetero as hetero
    schema = hetero.SCHEMAS["acm"]
    import dataclasses
    toy_schema = dataclasses.replace(schema, num_nodes={"paper": 60, "author": 30, "subject": 6})
    old = hetero.SCHEMAS["acm"]
    hetero.SCHEMAS["acm"] = toy_schema
    try:
        req = BenchRequest("meow", "acm", tmp_path / "out", epochs=2, device="cpu", root=str(root), quiet=True,
                           overrides={"hidden": 16, "num_clusters": [4, 6], "topk": [8, 12]})
        run_benchmark(req)
    finally:
        hetero.SCHEMAS["acm"] = old
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert "20_macro_f1" in result["metrics"] and "nmi" in result["metrics"]
    assert "HeCo protocol" in result["protocol"]


def test_short_acm_run_beats_raw_feature_probe(bundled_root: Path) -> None:
    data = gcl.data.load("acm", root=bundled_root)
    cfg = MEOWConfig.for_dataset("acm", {"epochs": 3})
    g = prepare_metapath_graphs(data, cfg.topk, seed=0)
    run = train_meow(g, cfg, seed=0)
    z = extract_embeddings(run.model.encoder, g, run.views)["z"]
    tr, va, te = g.splits[20]
    raw = g.x.to_dense() if g.x.is_sparse else g.x
    kw = dict(lr=cfg.probe_lr, runs=3, generator=torch.Generator().manual_seed(0))
    ours = heco_probe(z, g.y, tr, va, te, **kw)
    base = heco_probe(raw, g.y, tr, va, te, **kw)
    assert ours.macro_f1 > base.macro_f1 + 0.02, (ours.macro_f1, base.macro_f1)


def test_evaluate_embeddings_keys(toy) -> None:
    _, g = toy
    z = torch.nn.functional.one_hot(g.y, 3).float() + 0.01 * torch.randn(60, 3, generator=torch.Generator().manual_seed(0))
    out = evaluate_embeddings(z, g, probe_lr=0.05, runs=2, cluster_runs=2)
    assert out["20_macro_f1"] > 0.95 and out["nmi"] > 0.9
    assert {"40_auc", "60_micro_f1_std", "ari"} <= set(out)
