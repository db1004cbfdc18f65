"""gcl's sequential models through RecBole 1.2.1 (skipped without RecBole).

One fresh process (RecBole's import patches numpy and scipy, see gcl.rec.recbole.compat) trains
each adapter for one epoch on a 300-user slice of Beauty (item ids made contiguous, so both sides
rank the same item set) with a small model, then compares it with the native model holding the
same weights: full-ranking scores, and the metrics of RecBole's evaluator against
gcl.eval.next_item on the same split.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("recbole") is None, reason="RecBole not installed")

N_USERS = 300

_SCRIPT = r"""
import json, sys, time
import numpy as np, torch
T0 = time.perf_counter()
torch.set_num_threads(1)
from gcl.data.sequences import load_sequences
from gcl.methods.seq_training import evaluate
from gcl.rec.recbole.compat import recbole_workdir
from gcl.rec.recbole.mclrec import prepare_recbole, recbole_item_ids, to_native
from gcl.views.sequence import right_to_left_padding

src, work = sys.argv[1], sys.argv[2]
native_data = load_sequences(src, name="beauty", max_len=20)
small = {"dim": 32, "num_layers": 1, "heads": 2, "ffn_dim": 64, "MAX_ITEM_LIST_LENGTH": 20,
         "epochs": 1, "metric_decimal_place": 12, "eval_batch_size": 128, "seed": 7,
         "topk": [5, 10, 20, 500]}
out = {"n_train_native": native_data.n_train_examples, "n_users": native_data.n_users,
       "n_items_native": native_data.n_items}
for model in ("MCLRec", "CL4SRec", "SASRec"):
    run = prepare_recbole(src, model, small, name="beauty", work_dir=f"{work}/{model}")
    trainer, net, ds = run["trainer"], run["model"], run["dataset"]
    res = {"n_train": len(run["train"].dataset), "n_valid": len(run["valid"].dataset),
           "n_items": ds.item_num}
    theta = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    phi = set() if trainer.optimizer_phi is None else {
        id(p) for g in trainer.optimizer_phi.param_groups for p in g["params"]}
    aug = {id(p) for n, p in net.named_parameters() if ".augmenters." in n}
    res["theta_is_encoder"] = theta == {id(p) for p in net.method.encoder.parameters()}
    res["phi_is_augmenters"] = phi == aug
    res["n_augmenter_params"] = len(aug)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    with recbole_workdir(run["work_dir"]):
        score, _ = trainer.fit(run["train"], run["valid"], verbose=False, saved=True)
        rb = {split: trainer.evaluate(run[split], load_best_model=(split == "test"))
              for split in ("valid", "test")}
    res["train_loss"] = trainer.train_loss_dict[0]
    res["changed"] = sorted({n.split(".")[1] for n, p in net.named_parameters()
                             if not torch.equal(before[n], p.detach())})
    ids = recbole_item_ids(ds)
    native = to_native(net, ds, native_data.n_items).eval()
    net.eval()
    # full_sort_predict against the native scores, batch by batch of RecBole's test loader
    max_diff, same_inputs, users_seen = 0.0, True, 0
    row_of_user = {int(u): r for r, u in enumerate(native_data.user_ids.tolist())}
    with torch.no_grad():
        for inter, *_ in run["test"]:
            scores = net.full_sort_predict(inter)
            tokens = ds.id2token(ds.uid_field, inter[ds.uid_field].numpy()).astype(np.int64)
            rows = torch.tensor([row_of_user[int(t)] for t in tokens])
            batch = native_data.test_batch(rows)
            seqs = right_to_left_padding(ids[inter["item_id_list"]], inter["item_length"])
            same_inputs &= torch.equal(seqs, batch.inputs)
            want = native.score(batch.inputs)[:, ids]
            max_diff = max(max_diff, float((scores - want)[:, 1:].abs().max()))
            users_seen += len(tokens)
    res["max_score_diff"], res["same_inputs"], res["users_seen"] = max_diff, same_inputs, users_seen
    res["recbole"] = {s: {k: float(v) for k, v in m.items()} for s, m in rb.items()}
    res["native"] = {s: evaluate(native, native_data, s, ks=(5, 10, 20, 500), mask_history=False)
                     for s in ("valid", "test")}
    if trainer.optimizer_phi is not None:   # the checkpoint restores both optimisers
        again = prepare_recbole(src, model, small, name="beauty", work_dir=f"{work}/{model}-resume")["trainer"]
        again.resume_checkpoint(trainer.saved_model_file, trusted=True)
        s1, s2 = trainer.optimizer_phi.state_dict()["state"], again.optimizer_phi.state_dict()["state"]
        res["phi_state_restored"] = len(s1) > 0 and all(
            torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"]) for k in s1)
        res["start_epoch"] = again.start_epoch
    out[model] = res
    res["elapsed_s"] = time.perf_counter() - T0
from recbole.utils import get_model
get_model("SASRec")          # imports RecBole's sequential models (sine.py enables anomaly mode)
out["anomaly_mode"] = torch.is_anomaly_enabled()
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def runs(bundled_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("recbole-seq")
    lines = (bundled_root / "seqrec" / "Beauty.txt").read_text().splitlines()[:N_USERS]
    tokens = [line.split() for line in lines]
    items = np.array([int(t) for tok in tokens for t in tok[1:]])
    _, compact = np.unique(items, return_inverse=True)       # ids 1..n without gaps
    it = iter((compact + 1).tolist())
    src = work / "beauty300.txt"
    src.write_text("\n".join(" ".join([tok[0], *(str(next(it)) for _ in tok[1:])]) for tok in tokens) + "\n")
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(src), str(work)], capture_output=True,
                         text=True, cwd=work, env={**os.environ, "PYTHONWARNINGS": "ignore"}, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_recbole_split_matches_the_native_one(runs: dict[str, Any]) -> None:
    res = runs["MCLRec"]
    assert res["n_train"] == runs["n_train_native"] > 1000
    assert res["n_valid"] == runs["n_users"] == N_USERS
    assert res["n_items"] == runs["n_items_native"] + 1           # RecBole counts the padding id


def test_trainer_splits_theta_and_phi_and_trains_both(runs: dict[str, Any]) -> None:
    mcl = runs["MCLRec"]
    assert mcl["theta_is_encoder"] and mcl["phi_is_augmenters"] and mcl["n_augmenter_params"] == 12
    assert mcl["changed"] == ["augmenters", "encoder"]
    for name in ("CL4SRec", "SASRec"):
        assert runs[name]["theta_is_encoder"] and runs[name]["n_augmenter_params"] == 0
        assert runs[name]["changed"] == ["encoder"]
    assert all(np.isfinite(runs[m]["train_loss"]) and runs[m]["train_loss"] > 0 for m in ("MCLRec", "CL4SRec", "SASRec"))


@pytest.mark.parametrize("model", ["MCLRec", "CL4SRec", "SASRec"])
def test_full_sort_predict_equals_the_native_model(runs: dict[str, Any], model: str) -> None:
    res = runs[model]
    assert res["users_seen"] == N_USERS and res["same_inputs"]
    assert res["max_score_diff"] < 1e-4


@pytest.mark.parametrize("model", ["MCLRec", "CL4SRec", "SASRec"])
def test_recbole_metrics_equal_the_native_evaluator(runs: dict[str, Any], model: str) -> None:
    res = runs[model]
    for split in ("valid", "test"):
        rb, ours = res["recbole"][split], res["native"][split]
        for k in (5, 10, 20, 500):
            for rb_name, name in (("hit", "hr"), ("ndcg", "ndcg"), ("mrr", "mrr")):
                assert rb[f"{rb_name}@{k}"] == pytest.approx(ours[f"{name}@{k}"], abs=1e-9), (split, name, k)
    assert res["native"]["test"]["hr@500"] > 0.1   # not a vacuous comparison of zeros


def test_checkpoint_restores_the_augmenter_optimizer(runs: dict[str, Any]) -> None:
    assert runs["MCLRec"]["phi_state_restored"] and runs["MCLRec"]["start_epoch"] == 1


def test_recbole_import_leaves_autograd_anomaly_mode_off(runs: dict[str, Any]) -> None:
    assert runs["anomaly_mode"] is False
