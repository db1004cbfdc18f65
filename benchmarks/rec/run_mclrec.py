"""Train SASRec, CL4SRec, MCLRec or MCLRec-J on a one-line-per-user dataset; report HR/NDCG/MRR.

A plain script to copy and adapt: load the sequences, build the model with the dataset's
preset, train epoch by epoch, validate (full ranking, MRR@10), keep the best validation epoch
(patience 10), test it once; repeat for every seed and write mean ± std to a JSON file.

    GCL_DATA=/work/shared/datasets python benchmarks/rec/run_mclrec.py --dataset beauty \\
        --method mclrec --seeds 0 1 2 --device cuda

    # a 1-epoch smoke run on the first 300 users of the bundled Beauty
    python benchmarks/rec/run_mclrec.py --dataset beauty --users 300 --epochs 1 --seeds 0

Your own data: put ``<Name>.txt`` (``user_id item item ...``, chronological, 1-based item ids)
in ``DIR/seqrec/`` and pass ``--root DIR --dataset <name>``. Hyper-parameters: ``--set
cl_beta=0.1 --set regularizer=false`` (any field of the method's config class).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from gcl.bench.seqrec import VARIANTS as METHODS  # noqa: E402  (name -> model, config, fixed values)
from gcl.data import load  # noqa: E402
from gcl.methods.seq_training import evaluate, protocol, train_epoch  # noqa: E402
from gcl.utils import seed_everything  # noqa: E402
from gcl.utils.atomic import atomic_write  # noqa: E402


def parse_value(text: str) -> object:
    """``--set`` values: JSON literals (numbers, true/false, null), else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def one_seed(args: argparse.Namespace, seed: int) -> dict:
    model_cls, config_cls, fixed = METHODS[args.method]
    overrides = {**fixed, **dict((k, parse_value(v)) for k, v in (s.split("=", 1) for s in args.set))}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.mask_history:
        overrides["mask_history"] = True
    cfg = config_cls.for_dataset(args.dataset, overrides)

    # 1. data: leave-one-out split, inputs cut to the last max_len items
    data = load(args.dataset, root=args.root, max_len=cfg.max_len)
    if args.users:
        data = data.select(torch.arange(min(args.users, data.n_users)))
    data = data.to(args.device)

    # 2. model and optimisers (MCLRec has two: encoder θ and augmenters φ)
    seed_everything(seed)
    model = model_cls(data.n_items, cfg).to(args.device)
    optimizers = model.make_optimizers()
    shuffle = torch.Generator().manual_seed(seed)
    views = torch.Generator(device=args.device).manual_seed(seed + 1)
    loader = data.train_loader(batch_size=cfg.batch_size, generator=shuffle)

    # 3. train; select the epoch on validation MRR@10; stop after `patience` epochs without gain
    best, best_epoch, best_state, curve, epoch_s = -1.0, 0, None, [], []
    stop = f"epoch cap {cfg.epochs}"
    started = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        losses = train_epoch(model, loader, optimizers, views)
        epoch_s.append(time.perf_counter() - t0)
        valid = evaluate(model, data, "valid")
        curve.append({"epoch": epoch, **losses, **{f"val_{k}": v for k, v in valid.items()}})
        print(f"seed {seed} epoch {epoch}: loss {losses['loss']:.4f}, valid MRR@10 {valid['mrr@10']:.4f} "
              f"({epoch_s[-1]:.1f} s)", flush=True)
        if valid[cfg.monitor] > best:
            best, best_epoch, best_state = valid[cfg.monitor], epoch, copy.deepcopy(model.state_dict())
        elif cfg.patience is not None and epoch - best_epoch >= cfg.patience:
            stop = f"patience {cfg.patience}"
            break
        if args.max_minutes is not None and time.perf_counter() - started > 60 * args.max_minutes:
            stop = f"time budget {args.max_minutes:g} min"
            break

    # 4. test once, with the selected parameters
    model.load_state_dict(best_state)
    test = evaluate(model, data, "test")
    return {"seed": seed, "selected_epoch": best_epoch, "epochs_run": len(curve), "stopped_by": stop,
            "valid": curve[best_epoch - 1], "test": test, "train_s_per_epoch": statistics.mean(epoch_s),
            "curve": curve, "config": cfg.to_dict(), "protocol": protocol(cfg, data),
            "data": {"name": data.name, "users": data.n_users, "items": data.n_items,
                     "actions": data.n_actions, "train_prefixes": data.n_train_examples}}


def summarize(runs: list[dict]) -> dict[str, dict[str, float]]:
    """Mean and (sample) standard deviation over seeds of every test metric."""
    out = {}
    for key in runs[0]["test"]:
        if key == "n_users":
            continue
        values = [r["test"][key] for r in runs]
        out[key] = {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="Sequential recommendation: SASRec / CL4SRec / MCLRec")
    ap.add_argument("--dataset", default="beauty", help="registered name, e.g. beauty, toys, or your own file's")
    ap.add_argument("--method", default="mclrec", choices=sorted(METHODS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None, help="default: the config's (100, early stopping)")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="per seed: stop training after the epoch that passes this wall-clock budget, "
                         "then test the best validation epoch (the JSON records why training stopped)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--users", type=int, default=0, help="keep the first N users only (smoke runs)")
    ap.add_argument("--mask-history", action="store_true", help="exclude history items when ranking")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    ap.add_argument("--root", default=None, help="data root (default: $GCL_DATA, then bundled datasets/)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--out", default=None, help="result JSON (default benchmarks/results/rec_METHOD_DATASET.json)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    runs = [one_seed(args, seed) for seed in args.seeds]
    summary = summarize(runs)
    record = {"method": args.method, "dataset": args.dataset, "seeds": args.seeds, "protocol": runs[0]["protocol"],
              "mask_history": runs[0]["config"]["mask_history"], "users": args.users or None,
              "test_mean_std": summary, "runs": runs, "device": args.device,
              "torch": torch.__version__, "loadavg": list(os.getloadavg()), "command": " ".join(sys.argv)}
    out = Path(args.out or REPO / "benchmarks" / "results" / f"rec_{args.method}_{args.dataset}.json")
    with atomic_write(out, "w") as fh:
        json.dump(record, fh, indent=2)
    for key in ("hr@5", "hr@20", "ndcg@5", "ndcg@20"):
        print(f"test {key}: {summary[key]['mean']:.4f} ± {summary[key]['std']:.4f} over {len(runs)} seed(s)")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
