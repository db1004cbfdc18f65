"""Train LightGCL on a recommendation dataset and report full-ranking Recall/NDCG.

A plain script to copy and adapt: load the data, build the model, loop over epochs,
validate, keep the best validation epoch, test it once.

    GCL_DATA=/work/shared/datasets python benchmarks/rec/run_lightgcl.py --dataset gowalla \\
        --preset cpu --users 5000 --epochs 30

Your own data: ``--data DIR`` with ``train.txt``/``test.txt`` (LightGCN layout, one line per
user ``uid iid iid ...``) or pickled scipy matrices ``trnMat.pkl``/``tstMat.pkl`` (LightGCL
layout). Unpickle only files you trust.
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from gcl.data import load
from gcl.data.interaction_subsets import split_hash, subsample_users
from gcl.data.interactions import load_interactions
from gcl.methods import LightGCL, LightGCLConfig
from gcl.methods.cf import evaluate, train_epoch


def main() -> None:
    ap = argparse.ArgumentParser(description="LightGCL with full-ranking evaluation")
    ap.add_argument("--dataset", default="gowalla", help="registered name (for data and presets)")
    ap.add_argument("--data", default=None, help="a folder with your own interaction files")
    ap.add_argument("--preset", default="repo", choices=sorted(LightGCLConfig.PRESETS))
    ap.add_argument("--users", type=int, default=0, help="seeded user subsample (0: all users)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    # 1. data: train / test as shipped, validation carved from train (10 % per user, seeded)
    if args.data:
        graph = load_interactions(args.data, valid_ratio=0.1, seed=0)
    else:
        graph = load(args.dataset, valid_ratio=0.1, seed=0)
    if args.users:
        graph = subsample_users(graph, args.users, seed=0)
    graph = graph.to(args.device)
    print(graph, "split", split_hash(graph))

    # 2. model and optimiser with the preset's settings for this dataset
    overrides = {"preset": args.preset}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    cfg = LightGCLConfig.for_dataset(args.dataset, overrides)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = LightGCL.from_graph(graph, cfg)
    optimizer = model.make_optimizer()
    scheduler = model.make_scheduler(optimizer)
    print(cfg)
    print(f"SVD (rank {cfg.rank}) took {model.svd_seconds:.2f}s")

    # 3. train; validate every eval_every epochs; keep the best validation Recall@20
    best_recall, best_epoch, best_state = -1.0, 0, None
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        losses = train_epoch(model, optimizer, graph, cfg.batch_size, gen)
        if scheduler is not None:
            scheduler.step()
        line = f"epoch {epoch:3d} {time.perf_counter() - t0:6.1f}s " + " ".join(
            f"{k} {v:.4f}" for k, v in losses.items())
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            val = evaluate(model, graph, "valid")
            line += f" | valid R@20 {val['recall@20']:.4f} N@20 {val['ndcg@20']:.4f}"
            if val["recall@20"] > best_recall:
                best_recall, best_epoch = val["recall@20"], epoch
                best_state = copy.deepcopy(model.state_dict())
        print(line, flush=True)

    # 4. test once, at the selected epoch
    model.load_state_dict(best_state)
    test = evaluate(model, graph, "test")
    print(f"selected epoch {best_epoch} (valid R@20 {best_recall:.4f}); test "
          + " ".join(f"{k} {v:.4f}" for k, v in test.items() if k != "n_users"))


if __name__ == "__main__":
    main()
