"""LightGCN vs SGL-ED vs LightGCL on Gowalla under the same CPU training budget.

Protocol (also written into the JSON):

* data: Gowalla (LightGCN split), validation carved from train (seeded 10 % per user, split
  seed 0), then a seeded 5,000-user subsample (``--users``; 0 = full Gowalla) because a full
  Gowalla epoch of the contrastive methods takes far too long on a shared 2-core CPU;
* methods: the ``cpu`` presets (:class:`gcl.methods.LightGCNConfig` etc.: d 64, L 2, sampled
  contrastive negatives 4,096 per side, SGL-ED ρ 0.1 τ 0.2 λ 0.1, LightGCL Gowalla row
  λ1 0.2 λ2 0 τ 0.2 q 5);
* budget: ``--budget-minutes`` of **process CPU time** spent in training (evaluation excluded),
  one torch thread per method. CPU time instead of wall time because the machine is shared:
  wall time would measure the other tenants' load. Each method trains whole epochs until the
  budget is used up (the epoch that crosses it is completed) and at least ``--equal-epochs``;
* evaluation: full ranking over all items, train items masked (valid items too at test),
  Recall/NDCG@20,40 on validation after every epoch (and at epoch 0, the untrained model);
  best validation Recall@20 selected, test once at that epoch; and, for the equal-epochs
  comparison, validation and test at epoch ``--equal-epochs`` for every method.

Run (about 25 minutes of wall time on the shared machine with the defaults)::

    GCL_DATA=/work/shared/datasets .venv/bin/python benchmarks/rec/gowalla_quality.py

Writes ``benchmarks/results/gowalla_quality.json`` and ``benchmarks/results/gowalla_quality.png``.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from gcl.bench.cf import KS, METHOD_CLASSES, SPLIT_SEED, VALID_RATIO
from gcl.data import load
from gcl.data.interaction_subsets import split_hash, subsample_users
from gcl.methods.cf import evaluate, train_epoch
from gcl.utils import seed_everything

RESULTS = Path(__file__).resolve().parents[1] / "results"
sys.path.insert(0, str(RESULTS.parent))  # benchmarks/: plots.py
RUNS = {  # label -> (method, config overrides on top of the cpu preset)
    "LightGCN": ("lightgcn", {}),
    "SGL-ED": ("sgl", {"aug": "ed"}),
    "LightGCL": ("lightgcl", {}),
}


def load_data(users: int):
    graph = load("gowalla", valid_ratio=VALID_RATIO, seed=SPLIT_SEED)
    return subsample_users(graph, users, seed=SPLIT_SEED) if users else graph


def run_one(label: str, users: int, budget_s: float, equal_epochs: int, max_epochs: int,
            seed: int) -> dict[str, Any]:
    """Train one method under the CPU budget; return its curve and test figures."""
    torch.set_num_threads(1)
    method, overrides = RUNS[label]
    model_cls, config_cls = METHOD_CLASSES[method]
    graph = load_data(users)
    cfg = config_cls.for_dataset("gowalla", {"preset": "cpu", **overrides})
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    model = model_cls.from_graph(graph, cfg)
    opt = model.make_optimizer()

    def val() -> dict[str, float]:
        return {k: v for k, v in evaluate(model, graph, "valid", KS).items() if k != "n_users"}

    curve = [{"epoch": 0, "cpu_s": 0.0, **{f"val_{k}": v for k, v in val().items()}}]
    best = (curve[0]["val_recall@20"], 0, copy.deepcopy(model.state_dict()))
    equal: dict[str, float] = {}
    used, epoch = 0.0, 0
    while epoch < max_epochs and (used < budget_s or epoch < equal_epochs):
        c0, w0 = time.process_time(), time.perf_counter()
        parts = train_epoch(model, opt, graph, cfg.batch_size, gen)
        used += time.process_time() - c0
        wall = time.perf_counter() - w0
        epoch += 1
        v = val()
        curve.append({"epoch": epoch, "cpu_s": used, "epoch_wall_s": wall, **parts,
                      **{f"val_{k}": x for k, x in v.items()}})
        if v["recall@20"] > best[0]:
            best = (v["recall@20"], epoch, copy.deepcopy(model.state_dict()))
        if epoch == equal_epochs:
            t = evaluate(model, graph, "test", KS)
            equal = {**{f"val_{k}": x for k, x in v.items()},
                     **{f"test_{k}": x for k, x in t.items() if k != "n_users"}}
        print(f"{label} epoch {epoch} cpu {used:.0f}s val R@20 {v['recall@20']:.4f} loss {parts['loss']:.4f}",
              flush=True)
    model.load_state_dict(best[2])
    test = {k: v for k, v in evaluate(model, graph, "test", KS).items() if k != "n_users"}
    return {
        "method": method, "config": cfg.to_dict(), "curve": curve, "epochs_run": epoch,
        "cpu_s_train": used, "within_budget_epochs": sum(1 for r in curve[1:] if r["cpu_s"] <= budget_s),
        "selected_epoch": best[1], "val_at_selected": next(r for r in curve if r["epoch"] == best[1]),
        "test_at_selected": test, "equal_epochs": equal,
        "svd_s": float(getattr(model, "svd_seconds", 0.0)),
        "graph": {"n_users": graph.n_users, "n_items": graph.n_items, "n_train": graph.n_train,
                  "n_valid": graph.n_valid, "n_test": graph.n_test, "split_hash": split_hash(graph)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget-minutes", type=float, default=6.0, help="training CPU minutes per method")
    ap.add_argument("--users", type=int, default=5000, help="seeded user subsample (0: full Gowalla)")
    ap.add_argument("--equal-epochs", type=int, default=5)
    ap.add_argument("--max-epochs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sequential", action="store_true", help="one method after the other")
    ap.add_argument("--out", type=Path, default=RESULTS / "gowalla_quality.json")
    args = ap.parse_args()
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    jobs = {label: (label, args.users, args.budget_minutes * 60, args.equal_epochs, args.max_epochs, args.seed)
            for label in RUNS}
    if args.sequential:
        runs = {label: run_one(*a) for label, a in jobs.items()}
    else:  # CPU-time budgets make parallel runs fair; they only share the wall clock
        with ProcessPoolExecutor(len(jobs)) as ex:
            futures = {label: ex.submit(run_one, *a) for label, a in jobs.items()}
            runs = {label: f.result() for label, f in futures.items()}
    result = {
        "benchmark": "gowalla_quality",
        "protocol": __doc__.split("Run (")[0].split("Protocol (also written into the JSON):")[1].strip(),
        "settings": {"budget_minutes": args.budget_minutes, "budget_kind": "process CPU seconds in training",
                     "users": args.users, "equal_epochs": args.equal_epochs, "seed": args.seed,
                     "torch_threads_per_method": 1, "parallel": not args.sequential},
        "anchors": {"LightGCN paper, full Gowalla (this split, no validation carve)": {"recall@20": 0.1830,
                                                                                      "ndcg@20": 0.1554},
                    "LightGCL paper, its own Gowalla split": {"recall@20": 0.1578, "ndcg@20": 0.0935}},
        "runs": runs,
        "loadavg_start": load0, "loadavg_end": os.getloadavg(),
        "wall_s": time.perf_counter() - t0, "device": "cpu", "torch": torch.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    from plots import gowalla_quality as plot  # the figure results_md.py also draws

    plot(result, args.out.with_suffix(".png"))
    for label, r in runs.items():
        print(f"{label}: epochs {r['epochs_run']}, selected {r['selected_epoch']}, "
              f"test R@20 {r['test_at_selected']['recall@20']:.4f} N@20 {r['test_at_selected']['ndcg@20']:.4f}; "
              f"equal-epoch test R@20 {r['equal_epochs'].get('test_recall@20', float('nan')):.4f}")


if __name__ == "__main__":
    main()
