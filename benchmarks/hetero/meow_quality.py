"""MEOW / AdaMEOW quality on ACM (or IMDB) under the HeCo protocol, with ablations and epoch-time split.

    python benchmarks/hetero/meow_quality.py [--dataset acm] [--seeds 0 1 2 3 4]
        [--variants meow meow-uniform-w meow-no-proto meow-no-context meow-resample adameow]
        [--adameow-epochs 1200] [--max-epochs 10000] [--threads 1] [--run-dir runs/meow]

Per variant and seed (``gcl.bench.meow``): meta-path inputs prepared once (PathSim top-k of the
preset, seeded tie-break), training with the method's rule (MEOW: early stop on the training
loss, patience from the preset; AdaMEOW: fixed budget), then the frozen embedding is evaluated
**once** by the HeCo protocol (linear probe trained 50 times per label rate, selection on
validation) and k-means NMI / ARI (10 runs, n_init 10). Three read-outs of every MEOW model are
evaluated: ``eval`` (our default: the fine view in eval mode), ``train`` (one training-mode
forward, as the original returns) and ``coarse`` (the coarse-view embedding; ablation "coarse
view only"). Ablations that need their own training: ``meow-uniform-w`` (w = 1 off the
diagonal), ``meow-no-proto`` (λ_proto = 0), ``meow-no-context``, ``meow-resample`` (augmentation
redrawn every epoch). A ``raw-features`` row probes the row-normalised input features.

Epoch time is split into encoder forward, k-means, loss and backward (means over each run's
epochs after the first), with the thread count and load average recorded.

The JSON (``benchmarks/results/meow_<dataset>.json``) is rewritten after every run and finished
runs are skipped, so an interrupted benchmark continues where it stopped.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from gcl.bench.meow import prepare, protocol  # noqa: E402
from gcl.methods.adameow import AdaMEOWConfig, train_adameow  # noqa: E402
from gcl.methods.meow import MEOWConfig, train_meow  # noqa: E402
from gcl.methods.metapath_base import evaluate_embeddings, extract_embeddings  # noqa: E402

VARIANTS = {
    "meow": ("meow", {}),
    "meow-uniform-w": ("meow", {"weights": "uniform"}),
    "meow-no-proto": ("meow", {"lambda_proto": 0.0}),
    "meow-no-context": ("meow", {"use_context": False}),
    "meow-resample": ("meow", {"resample_views": True}),
    "adameow": ("adameow", {}),
}
SCORE_KEYS = ("macro_f1", "micro_f1", "auc")


def _aggregate(records: list[dict]) -> dict:
    """Mean and population std over seeds of every metric (in %), per read-out."""
    out: dict = {"seeds": [r["seed"] for r in records]}
    for readout in records[0]["metrics"]:
        keys = [k for k in records[0]["metrics"][readout] if not k.endswith("_std")]
        out[readout] = {}
        for k in keys:
            vals = np.array([r["metrics"][readout][k] for r in records]) * 100
            out[readout][k] = {"mean": float(vals.mean()), "std": float(vals.std())}
    for key in ("epochs_run", "selected_epoch", "t_encoder", "t_kmeans", "t_loss", "t_backward", "epoch_s"):
        vals = [r["train"][key] for r in records if key in r.get("train", {})]
        if vals:
            out[key] = float(np.mean(vals))
    return out


def run_variant(name: str, dataset: str, seed: int, graphs_cache: dict, args) -> dict:
    method, overrides = VARIANTS[name]
    overrides = dict(overrides)
    if method == "adameow":
        cfg_cls, train = AdaMEOWConfig, train_adameow
        if args.adameow_epochs:
            overrides["epochs"] = args.adameow_epochs
    else:
        cfg_cls, train = MEOWConfig, train_meow
        overrides["epochs"] = args.max_epochs
    cfg = cfg_cls.for_dataset(dataset, overrides)
    key = (method, cfg.topk, cfg.keep_self_loop, cfg.tie_break)
    if key not in graphs_cache:
        graphs_cache[key] = prepare(dataset, cfg, seed=0)
    graphs = graphs_cache[key]
    t0 = time.perf_counter()
    run_dir = None if args.run_dir is None else str(args.run_dir / dataset / name / str(seed))
    run = train(graphs, cfg, seed, out_dir=run_dir, quiet=not sys.stderr.isatty())
    wall = time.perf_counter() - t0
    hist = run.train.history[1:] or run.train.history
    train_facts = {"epochs_run": run.train.epochs_run, "selected_epoch": run.train.best_epoch,
                   "stopped_early": run.train.stopped_early, "wall_s": wall,
                   "epoch_s": float(np.mean([r["train_time_s"] for r in hist]))}
    for k in ("t_encoder", "t_kmeans", "t_loss", "t_backward"):
        if k in hist[0]:
            train_facts[k] = float(np.mean([r[k] for r in hist]))
    if method == "adameow":
        w_rows = [{k: r[k] for k in r if k.startswith("w_") or k == "epoch"} for r in run.train.history
                  if "w_mean" in r]
        train_facts["w_stats"] = w_rows
    eval_views = extract_embeddings(run.model.encoder, graphs, run.views, "eval")
    readouts = {"eval": eval_views["z"]}
    if name == "meow":
        readouts["train"] = extract_embeddings(run.model.encoder, graphs, run.views, "train")["z"]
        readouts["coarse"] = eval_views["z_coarse"]
    metrics = {r: evaluate_embeddings(z, graphs, probe_lr=cfg.probe_lr, probe_weight_decay=cfg.probe_weight_decay,
                                      seed=seed) for r, z in readouts.items()}
    return {"seed": seed, "config": cfg.to_dict(), "protocol": protocol(cfg), "train": train_facts,
            "metrics": metrics, "loadavg": os.getloadavg()}


def raw_feature_row(dataset: str, seed: int = 0) -> dict:
    cfg = MEOWConfig.for_dataset(dataset)
    graphs = prepare(dataset, cfg, seed=0)
    x = graphs.x.to_dense() if graphs.x.is_sparse else graphs.x
    return {"seed": seed, "metrics": {"eval": evaluate_embeddings(x, graphs, probe_lr=cfg.probe_lr, seed=seed)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="acm")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--adameow-epochs", type=int, default=None,
                        help="override AdaMEOW's fixed budget (preset: 1200 on ACM)")
    parser.add_argument("--max-epochs", type=int, default=10000, help="MEOW's epoch cap (preset 10000)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="engine output per run (metrics.jsonl to follow progress, checkpoints)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--no-raw-features", action="store_true", help="skip the raw-feature probe row")
    parser.add_argument("--merge-from", type=Path, nargs="*", default=[],
                        help="JSON files of other runs of this script (e.g. ablations run in parallel) whose "
                             "runs are merged into --out before anything else")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = args.out or HERE.parent / "results" / f"meow_{args.dataset}.json"
    result = json.loads(out.read_text()) if out.exists() else {}
    result.update({"dataset": args.dataset, "threads": args.threads, "device": "cpu"})
    command = "python benchmarks/hetero/meow_quality.py " + " ".join(sys.argv[1:])
    if command not in result.setdefault("commands", []):
        result["commands"].append(command)
    result.setdefault("runs", {})
    result.setdefault("summary", {})

    def save() -> None:
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1))
        os.replace(tmp, out)

    for other in args.merge_from:
        for name, seeds in json.loads(other.read_text())["runs"].items():
            result["runs"].setdefault(name, {}).update(seeds)
    for name, done in result["runs"].items():
        if done:
            result["summary"][name] = _aggregate([done[s] for s in sorted(done, key=int)])
    save()
    if "raw-features" not in result["runs"] and not args.no_raw_features:
        result["runs"]["raw-features"] = {"0": raw_feature_row(args.dataset)}
        result["summary"]["raw-features"] = _aggregate(list(result["runs"]["raw-features"].values()))
        save()
    if args.merge_from:
        return
    graphs_cache: dict = {}
    for seed in args.seeds:
        for name in args.variants:
            done = result["runs"].setdefault(name, {})
            if str(seed) in done:
                continue
            print(f"[{args.dataset}] {name} seed {seed}", flush=True)
            done[str(seed)] = run_variant(name, args.dataset, seed, graphs_cache, args)
            result["summary"][name] = _aggregate([done[s] for s in sorted(done, key=int)])
            save()
            m = done[str(seed)]["metrics"]["eval"]
            print(f"  Ma-F1@20 {m['20_macro_f1'] * 100:.2f}  epochs {done[str(seed)]['train']['epochs_run']}  "
                  f"{done[str(seed)]['train']['wall_s']:.0f}s", flush=True)


if __name__ == "__main__":
    main()
