"""SASRec, CL4SRec and MCLRec: views, the three-step update, presets, a short run, devices, ``gcl bench``."""
from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import pytest
import torch

from gcl.data import SequenceDataset, load
from gcl.methods import (
    CL4SRec,
    CL4SRecConfig,
    MCLRec,
    MCLRecConfig,
    SASRec,
    SASRecConfig,
)
from gcl.methods.mclrec import augmenter_step, encoder_step, frozen, joint_step
from gcl.methods.seq_training import evaluate, fit, run_sequential, train_epoch
from gcl.views.sequence import (
    CROP,
    MASK,
    REORDER,
    right_to_left_padding,
    seq_lengths,
    seq_view_lengths,
)

#: a small model so that every test here runs in about a second
SMALL = dict(dim=16, heads=2, ffn_dim=32, num_layers=1, max_len=20, eval_batch_size=300)
METHODS = [(SASRec, SASRecConfig), (CL4SRec, CL4SRecConfig), (MCLRec, MCLRecConfig)]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def beauty300(bundled_root: Path) -> SequenceDataset:
    """The first 300 users of the bundled Beauty, inputs cut to 20 items."""
    return load("beauty", root=bundled_root, max_len=SMALL["max_len"]).select(torch.arange(300))


def batch_of(ds: SequenceDataset, n: int = 256, seed: int = 0):
    return next(iter(ds.train_loader(batch_size=n, generator=torch.Generator().manual_seed(seed))))


def small(config_cls, **extra):
    return config_cls.for_dataset("beauty", {**SMALL, **extra})


# --------------------------------------------------------------------------- views


def test_views_lengths_padding_and_input_untouched(beauty300: SequenceDataset) -> None:
    model = CL4SRec(beauty300.n_items, small(CL4SRecConfig))
    seqs = torch.cat([batch_of(beauty300).inputs, beauty300.valid_batch().inputs])
    before = seqs.clone()
    views = model.augment(seqs, torch.Generator().manual_seed(3))
    assert torch.equal(seqs, before)
    length = seq_lengths(seqs)
    assert torch.equal(length, (seqs != 0).sum(1))
    short = length <= 1
    masked_first = 0
    for view, vlen, op in ((views.view1, views.length1, views.ops[:, 0]), (views.view2, views.length2, views.ops[:, 1])):
        crop, mask, reorder = op == CROP, op == MASK, op == REORDER
        assert torch.equal(vlen[crop], torch.div(length[crop], 2, rounding_mode="floor"))
        assert torch.equal(vlen[~crop], length[~crop])
        # left padding: nothing but padding before the view's first item, and no item beyond it
        cols = torch.arange(seqs.size(1))
        outside = cols < (seqs.size(1) - vlen).unsqueeze(1)
        assert not bool(view[outside].any())
        assert bool((view[crop] != 0)[~outside[crop]].all())
        # mask: exactly floor(len / 2) items set to the padding id, inside the row
        assert torch.equal(((view == 0) & ~outside).sum(1)[mask], torch.div(length[mask], 2, rounding_mode="floor"))
        # reorder: the same multiset of items
        assert torch.equal(view[reorder].sort(1).values, seqs[reorder].sort(1).values)
        masked_first += int((mask & (seq_lengths(view) < vlen)).sum())
        assert torch.equal(view[short], seqs[short])
    assert masked_first > 0  # the ids alone would under-count these rows: lengths must come from the ops
    long_rows = length >= 3
    differ = (views.view1 != views.view2).any(1)
    assert float(differ[long_rows].float().mean()) > 0.95


def test_views_seed_determinism_and_right_padding(beauty300: SequenceDataset) -> None:
    model = MCLRec(beauty300.n_items, small(MCLRecConfig))
    seqs = batch_of(beauty300).inputs
    a = model.augment(seqs, torch.Generator().manual_seed(7))
    b = model.augment(seqs, torch.Generator().manual_seed(7))
    c = model.augment(seqs, torch.Generator().manual_seed(8))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a.view1, c.view1)
    assert torch.equal(seq_view_lengths(seqs, a.ops[:, 1]), a.length2)
    with pytest.raises(ValueError, match="one row per sequence"):
        seq_view_lengths(seqs, a.ops[:3])
    # RecBole's right-padded layout converts to ours
    length = seq_lengths(seqs)
    right = torch.zeros_like(seqs)
    for r in range(seqs.size(0)):
        n = int(length[r])
        right[r, :n] = seqs[r, seqs.size(1) - n:]
    assert torch.equal(right_to_left_padding(right, length), seqs)
    with pytest.raises(ValueError, match="lengths must lie"):
        right_to_left_padding(right, length + seqs.size(1))


def test_masked_first_item_keeps_positions(beauty300: SequenceDataset) -> None:
    """A view whose first item was masked to 0 is encoded with its true length: the same output
    as the right-padded encoder reading the same row with RecBole's item_seq_len."""
    from gcl.nn import SASRecEncoder

    model = MCLRec(beauty300.n_items, small(MCLRecConfig, hidden_dropout=0.0, attn_dropout=0.0)).eval()
    seqs = torch.tensor([[0, 0, 5, 6, 7, 8]])
    masked = torch.tensor([[0, 0, 0, 6, 0, 8]])
    right = SASRecEncoder(beauty300.n_items, 16, 1, 2, 32, 20, hidden_dropout=0.0, attn_dropout=0.0)
    right.load_state_dict(model.encoder.state_dict())
    right.padding_side = "right"
    want = right(torch.tensor([[0, 6, 0, 8, 0, 0]]), torch.tensor([4])).last
    got = model.encode(masked, seq_lengths(seqs))
    torch.testing.assert_close(got, want)
    assert not torch.allclose(model.encode(masked), want)  # counting from the first non-pad id is wrong


# --------------------------------------------------------------------------- three-step update


def _snapshot(params) -> list[torch.Tensor]:
    return [p.detach().clone() for p in params]


def _changed(params, before) -> list[bool]:
    return [not torch.equal(p.detach(), b) for p, b in zip(params, before)]


def test_three_steps_touch_only_their_parameters(beauty300: SequenceDataset) -> None:
    torch.manual_seed(0)
    model = MCLRec(beauty300.n_items, small(MCLRecConfig, cl_lambda=0.1))
    model.train()
    opts = model.make_optimizers()
    batch = batch_of(beauty300, 64)
    views = model.augment(batch.inputs, torch.Generator().manual_seed(0))
    theta, phi = model.theta_parameters(), model.phi_parameters()
    assert theta and phi and not {id(p) for p in theta} & {id(p) for p in phi}

    # step 1: gradients and updates for θ only
    t0, p0 = _snapshot(theta), _snapshot(phi)
    encoder_step(model, batch.inputs, batch.targets, views, opts["theta"])
    assert all(p.grad is None for p in phi)
    assert all(p.requires_grad for p in phi)                 # unfrozen again afterwards
    assert sum(p.grad is not None for p in theta) >= len(theta) - 1   # the padding row may have none
    assert not any(_changed(phi, p0)) and all(_changed([theta[0]], [t0[0]]))

    # step 2: gradients and updates for φ only; θ's gradients stay those of step 1
    theta_grads = [None if p.grad is None else p.grad.clone() for p in theta]
    t1, p1 = _snapshot(theta), _snapshot(phi)
    augmenter_step(model, views, opts["phi"])
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in phi)
    assert all((g is None and p.grad is None) or torch.equal(g, p.grad) for g, p in zip(theta_grads, theta))
    assert not any(_changed(theta, t1)) and all(_changed(phi, p1))

    # step 3: θ again, φ untouched
    t2, p2 = _snapshot(theta), _snapshot(phi)
    opts["phi"].zero_grad(set_to_none=True)
    encoder_step(model, batch.inputs, batch.targets, views, opts["theta"])
    assert all(p.grad is None for p in phi)
    assert not any(_changed(phi, p2)) and any(_changed(theta, t2))

    # joint (MCLRec-J): both move
    t3, p3 = _snapshot(theta), _snapshot(phi)
    joint_step(model, batch.inputs, batch.targets, views, opts)
    assert any(_changed(theta, t3)) and all(_changed(phi, p3))


def test_step_one_gradient_flows_through_frozen_augmenters(beauty300: SequenceDataset) -> None:
    """With φ frozen, θ's gradient still includes β·(L_cl2 + R), which reads w_φ(h̃)."""
    batch = batch_of(beauty300, 32)
    grads = {}
    for beta in (0.0, 0.05):
        torch.manual_seed(0)
        model = MCLRec(beauty300.n_items, small(MCLRecConfig, cl_beta=beta, hidden_dropout=0.0, attn_dropout=0.0))
        views = model.augment(batch.inputs, torch.Generator().manual_seed(0))
        with frozen(model.phi_parameters()):
            loss, parts = model.loss0(batch.inputs, batch.targets, views)
            loss.backward()
        grads[beta] = model.encoder.blocks[0].query.weight.grad.clone()
        assert all(float(v) >= 0 and math.isfinite(float(v)) for v in parts.values())
    assert not torch.allclose(grads[0.0], grads[0.05])


def test_ablations_change_the_loss(beauty300: SequenceDataset) -> None:
    batch = batch_of(beauty300, 32)
    values = {}
    for name, extra in {"full": {}, "no_reg": {"regularizer": False}, "shared": {"shared_augmenter": True}}.items():
        torch.manual_seed(0)
        model = MCLRec(beauty300.n_items, small(MCLRecConfig, hidden_dropout=0.0, attn_dropout=0.0, **extra))
        views = model.augment(batch.inputs, torch.Generator().manual_seed(0))
        _, parts = model.loss0(batch.inputs, batch.targets, views)
        values[name] = parts
        assert len(model.augmenters) == (1 if name == "shared" else 2)
    assert float(values["no_reg"]["loss_reg"]) == 0.0 and float(values["full"]["loss_reg"]) > 0
    assert float(values["full"]["loss_cl2"]) != float(values["shared"]["loss_cl2"])


# --------------------------------------------------------------------------- configs


@pytest.mark.parametrize("mask_token", ["pad", "dedicated"])
def test_rec_loss_equals_cross_entropy_over_item_logits(mask_token: str) -> None:
    """The streamed log-sum-exp CE = F.cross_entropy(item_logits(h), target), values and
    gradients; the padding column is in the softmax, a dedicated mask token's row is not."""
    torch.manual_seed(0)
    model = CL4SRec(2500, small(CL4SRecConfig, mask_token=mask_token)).double()
    h = torch.randn(37, 16, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(1, 2501, (37,))
    fast = model.rec_loss(h, targets)
    ref = torch.nn.functional.cross_entropy(model.item_logits(h), targets)
    torch.testing.assert_close(fast, ref, atol=1e-12, rtol=1e-12)
    params = [h, model.encoder.item_emb.weight]
    for a, b in zip(torch.autograd.grad(fast, params), torch.autograd.grad(ref, params)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


def test_presets_follow_the_spec_table() -> None:
    rows = {"beauty": (0.0, 0.05, 0.5), "sports": (0.04, 0.4, 0.5), "yelp": (0.03, 0.1, 0.5),
            "toys": (0.01, 0.1, 0.5), "ml-1m": (0.0, 0.01, 0.1), "ML_1M": (0.0, 0.01, 0.1)}
    for name, (lmd, beta, drop) in rows.items():
        c = MCLRecConfig.for_dataset(name)
        assert (c.cl_lambda, c.cl_beta, c.hidden_dropout, c.attn_dropout) == (lmd, beta, drop, drop)
    c = MCLRecConfig.for_dataset("beauty")
    assert (c.dim, c.num_layers, c.heads, c.ffn_dim, c.max_len, c.batch_size, c.lr, c.tau) == \
        (64, 2, 2, 256, 50, 256, 1e-3, 1.0)
    assert (c.patience, c.monitor, c.mask_history, c.regularizer_weight, c.joint) == (10, "mrr@10", False, 0.1, False)
    assert SASRecConfig.for_dataset("ml-1m").hidden_dropout == 0.1
    assert MCLRecConfig.for_dataset("beauty", {"joint": True}).joint
    with pytest.raises(ValueError, match="unknown MCLRecConfig keys"):
        MCLRecConfig.for_dataset("beauty", {"lmd": 0.1})
    with pytest.raises(ValueError, match="monitor"):
        SASRecConfig(monitor="auc")
    with pytest.raises(ValueError, match="mask_token"):
        CL4SRecConfig(mask_token="unk")


# --------------------------------------------------------------------------- short runs


@pytest.mark.parametrize("method_cls, config_cls", [METHODS[0], METHODS[2]], ids=["sasrec", "mclrec"])
def test_one_epoch_on_300_beauty_users(beauty300: SequenceDataset, method_cls, config_cls) -> None:
    cfg = small(config_cls, epochs=1, batch_size=512)
    model, res = run_sequential(method_cls, beauty300, cfg, seed=0, device="cpu", quiet=True)
    m = res.metrics()
    for k in (5, 10, 20):
        for name in ("hr", "ndcg", "mrr"):
            assert 0.0 <= m[f"test_{name}@{k}"] <= 1.0 and math.isfinite(m[f"val_{name}@{k}"])
    assert m["test_users"] == 300 and res.train.best_epoch == 1 and not res.mask_history
    assert "not masked" in res.protocol
    losses = res.train.history[0]
    assert all(math.isfinite(v) for k, v in losses.items() if k.startswith("loss"))
    # masking the history can only raise the metrics (same scores, fewer competitors)
    masked = evaluate(model, beauty300, "test", mask_history=True)
    plain = evaluate(model, beauty300, "test")
    assert plain == pytest.approx({k: v for k, v in res.test.items()})
    assert all(masked[k] >= plain[k] for k in plain)


def test_steps_lower_the_loss_and_optimizer_state(beauty300: SequenceDataset) -> None:
    torch.manual_seed(0)
    model = MCLRec(beauty300.n_items, small(MCLRecConfig, lr=1e-2, hidden_dropout=0.0, attn_dropout=0.0))
    opts = model.make_optimizers()
    batch = batch_of(beauty300, 64)
    gen = torch.Generator().manual_seed(1)
    losses = [float(model.train_step(batch.inputs, batch.targets, opts, gen)["loss_rec"]) for _ in range(6)]
    assert losses[-1] < losses[0] - 0.1
    state = opts.state_dict()
    assert set(state) == {"theta", "phi"} and state["phi"]["state"]  # φ's Adam moments are checkpointed
    fresh = MCLRec(beauty300.n_items, small(MCLRecConfig)).make_optimizers()
    fresh.load_state_dict(state)
    with pytest.raises(ValueError, match="optimizer state holds"):
        fresh.load_state_dict({"theta": state["theta"]})
    # train_epoch averages the terms over the batches it ran
    terms = train_epoch(model, beauty300.train_loader(64, generator=torch.Generator().manual_seed(0)), opts,
                        gen, max_batches=2)
    assert set(terms) >= {"loss", "loss_rec", "loss_cl1", "loss_cl2", "loss_reg", "loss_phi", "loss_step3"}


def test_resume_continues_exactly(beauty300: SequenceDataset, tmp_path: Path) -> None:
    """Two epochs in one go equal one epoch, a checkpoint, and a resumed second epoch (both
    optimisers, both generators and the augmenters are checkpointed)."""
    from gcl.train import load_checkpoint

    data = beauty300.select(torch.arange(60))

    def run(epochs: int, out: Path, resume: bool = False) -> dict:
        torch.manual_seed(0)
        model = MCLRec(data.n_items, small(MCLRecConfig, epochs=epochs, batch_size=128))
        fit(model, data, seed=0, device="cpu", out_dir=str(out), resume=resume, quiet=True,
            signature={"test": 1})
        return load_checkpoint(out / "checkpoint.pt")   # the state after the last epoch

    straight = run(2, tmp_path / "a")
    first = run(1, tmp_path / "b")
    assert set(first["optimizer"]) == {"theta", "phi"} and first["optimizer"]["phi"]["state"]
    assert any(k.startswith("augmenters.") for k in first["model"])
    assert set(first["rng"]["generators"]) == {"shuffle", "views"}
    resumed = run(2, tmp_path / "b", resume=True)
    assert resumed["epoch"] == straight["epoch"] == 2
    for name, a in straight["model"].items():
        assert torch.equal(a, resumed["model"][name]), name
        assert not torch.equal(a, first["model"][name]) or name.endswith("pos_emb.weight"), name
    for opt in ("theta", "phi"):
        for k, st in straight["optimizer"][opt]["state"].items():
            assert torch.equal(st["exp_avg"], resumed["optimizer"][opt]["state"][k]["exp_avg"])


# --------------------------------------------------------------------------- devices


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method_cls, config_cls", METHODS, ids=["sasrec", "cl4srec", "mclrec"])
def test_train_step_on_device(beauty300: SequenceDataset, device: str, method_cls, config_cls) -> None:
    torch.manual_seed(0)
    ds = beauty300.to(device)
    model = method_cls(ds.n_items, small(config_cls)).to(device)
    opts = model.make_optimizers()
    gen = torch.Generator(device=device).manual_seed(0)
    batch = batch_of(ds, 64)
    before = batch.inputs.clone()
    terms = model.train_step(batch.inputs, batch.targets, opts, gen)
    assert torch.equal(batch.inputs, before)
    assert all(v.device.type == device and math.isfinite(float(v)) for v in terms.values())
    res = evaluate(model, ds, "valid")
    assert 0.0 <= res["hr@20"] <= 1.0


# --------------------------------------------------------------------------- gcl bench


def test_gcl_bench_on_an_own_sequence_file(tmp_path: Path) -> None:
    from gcl.cli.main import main

    g = torch.Generator().manual_seed(0)
    lines = [" ".join(map(str, [u, *torch.randint(1, 40, (int(torch.randint(3, 12, (1,), generator=g)),),
                                                  generator=g).tolist()])) for u in range(1, 61)]
    (tmp_path / "data" / "seqrec").mkdir(parents=True)
    (tmp_path / "data" / "seqrec" / "My_Shop.txt").write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "small.json"
    cfg.write_text(json.dumps({**SMALL, "cl_beta": 0.1}))
    out = tmp_path / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["bench", "mclrec", "--dataset", "my-shop", "--root", str(tmp_path / "data"), "--epochs", "2",
                     "--config", str(cfg), "--out", str(out), "--quiet", "--device", "cpu"])
    assert code == 0, stderr.getvalue()
    record = json.loads((out / "result.json").read_text())
    assert record["method"] == "mclrec" and record["config"]["cl_beta"] == 0.1
    assert record["config"]["mask_history"] is False and "not masked" in record["protocol"]
    assert 0.0 <= record["metrics"]["test_ndcg@20"] <= 1.0 and record["epochs_run"] == 2
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr := io.StringIO()):
        code = main(["bench", "sasrec", "--dataset", "cora", "--out", str(out), "--quiet"])
    assert code == 2 and "any sequences dataset" in stderr.getvalue()
