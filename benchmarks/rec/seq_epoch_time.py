"""Training-epoch time of gcl's SASRec, CL4SRec, MCLRec and MCLRec-J on Beauty, as ratios to SASRec.

One process, one dataset, equal model size for every method (2 blocks, 2 heads, d 64, FFN 256,
max length 50, batch 256, dropout 0.5, Adam lr 1e-3): the official MCLRec settings; CL4SRec
λ 0.1; MCLRec Beauty's λ 0, β 0.05 with the regulariser. What is timed is one
``method.train_step`` per batch (view drawing on the device, every forward/backward, every
optimiser step: one for SASRec and CL4SRec, three for MCLRec, one joint for MCLRec-J).

Timing is interleaved at batch granularity: for each of ``--max-batches`` training batches (the
same batches for every method), every method takes one step on it, in an order rotated from
batch to batch, after ``--warmup`` untimed steps each. Per-batch figures are medians over the
batches; the epoch estimate is ``median per-batch x batches per epoch + batch building``, with
the loader's own per-batch time (measured on the same batches, shared by all methods) added.
``--max-batches 0`` times every batch of an epoch. Peak memory is recorded on CUDA only.

    python benchmarks/rec/seq_epoch_time.py --max-batches 20          # CPU, 1 thread
    python benchmarks/rec/seq_epoch_time.py --device cuda --max-batches 100 --threads 4

Writes ``benchmarks/results/seq_epoch_time.json`` (render with ``benchmarks/results_md.py``).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from gcl.bench.seqrec import VARIANTS as MODELS  # noqa: E402  (sasrec, cl4srec, mclrec, mclrec-j)
from gcl.data import load  # noqa: E402
from gcl.utils import seed_everything  # noqa: E402
from gcl.utils.atomic import atomic_write  # noqa: E402

#: equal model size for every method (the issue's speed setting)
SIZE = dict(dim=64, num_layers=2, heads=2, ffn_dim=256, max_len=50, batch_size=256)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="beauty")
    ap.add_argument("--root", default=None, help="data root (default: $GCL_DATA, then bundled datasets/)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--max-batches", type=int, default=20, help="timed batches per method (0: a whole epoch)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per method first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "seq_epoch_time.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load_start = list(os.getloadavg())

    data = load(args.dataset, root=args.root, max_len=SIZE["max_len"]).to(device)
    loader = data.train_loader(batch_size=SIZE["batch_size"], generator=torch.Generator().manual_seed(args.seed))
    batches_per_epoch = len(loader)
    n_timed = batches_per_epoch if args.max_batches <= 0 else min(args.max_batches, batches_per_epoch)

    # the loader's own cost per batch (shared by every method)
    t0 = time.perf_counter()
    batches = list(itertools.islice(iter(loader), args.warmup + n_timed))
    sync(device)
    loader_per_batch = (time.perf_counter() - t0) / len(batches)

    models, optimizers, generators, configs = {}, {}, {}, {}
    for name, (model_cls, config_cls, extra) in MODELS.items():
        seed_everything(args.seed)
        cfg = config_cls.for_dataset(args.dataset, {**SIZE, **extra})
        models[name] = model_cls(data.n_items, cfg).to(device).train()
        optimizers[name] = models[name].make_optimizers()
        generators[name] = torch.Generator(device=device).manual_seed(args.seed + 1)
        configs[name] = cfg.to_dict()

    def step(name: str, batch: Any) -> float:
        sync(device)
        t = time.perf_counter()
        models[name].train_step(batch.inputs, batch.targets, optimizers[name], generators[name])
        sync(device)
        return time.perf_counter() - t

    names = list(MODELS)
    for batch in batches[: args.warmup]:
        for name in names:
            step(name, batch)
    times: dict[str, list[float]] = {name: [] for name in names}
    peak: dict[str, int | None] = {name: None for name in names}
    t_all = time.perf_counter()
    for i, batch in enumerate(batches[args.warmup:]):
        order = names[i % len(names):] + names[: i % len(names)]
        for name in order:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            times[name].append(step(name, batch))
            if device.type == "cuda":
                peak[name] = max(peak[name] or 0, torch.cuda.max_memory_allocated(device))
    timed_s = time.perf_counter() - t_all

    per_batch = {name: statistics.median(v) for name, v in times.items()}
    results = {}
    for name in names:
        results[name] = {
            "per_batch_s": per_batch[name],
            "per_batch_iqr_s": [statistics.quantiles(times[name], n=4)[0], statistics.quantiles(times[name], n=4)[2]]
            if len(times[name]) >= 2 else None,
            "epoch_s_estimate": (per_batch[name] + loader_per_batch) * batches_per_epoch,
            "ratio_vs_sasrec": per_batch[name] / per_batch["sasrec"],
            "ratio_vs_cl4srec": per_batch[name] / per_batch["cl4srec"],
            "peak_memory_mb": None if peak[name] is None else peak[name] / 2**20,
            "times_s": times[name],
        }
    record = {
        "title": "Epoch time of the sequential recommenders (gcl), as ratios to gcl's SASRec",
        "dataset": {"name": data.name, "users": data.n_users, "items": data.n_items,
                    "train_prefixes": data.n_train_examples},
        "settings": {**SIZE, "batches_per_epoch": batches_per_epoch, "timed_batches": n_timed,
                     "max_batches_option": args.max_batches, "warmup": args.warmup,
                     "cl4srec_lambda": configs["cl4srec"]["cl_lambda"],
                     "mclrec_lambda_beta": [configs["mclrec"]["cl_lambda"], configs["mclrec"]["cl_beta"]],
                     "dropout": configs["sasrec"]["hidden_dropout"]},
        "timing": (f"interleaved per batch (rotated order), {n_timed} timed batches per method after "
                   f"{args.warmup} warm-up steps, median per-batch time; epoch estimate = (median "
                   f"step + loader per batch) x {batches_per_epoch} batches"),
        "loader_per_batch_s": loader_per_batch,
        "models": results,
        "reference": "the official MCLRec code costs about 3x CL4SRec per epoch (spec: 9 encoder "
                     "forwards and 3 backwards per batch); no public epoch timings exist",
        "device": str(device), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
        "torch": torch.__version__, "timed_wall_s": timed_s,
        "loadavg_start": load_start, "loadavg_end": list(os.getloadavg()),
        "command": "python " + " ".join(sys.argv),
    }
    with atomic_write(Path(args.out), "w") as fh:
        json.dump(record, fh, indent=2)
    for name, r in results.items():
        print(f"{name:9s} {r['per_batch_s'] * 1e3:8.1f} ms/batch  epoch ~{r['epoch_s_estimate']:7.1f} s  "
              f"{r['ratio_vs_sasrec']:.2f}x SASRec  {r['ratio_vs_cl4srec']:.2f}x CL4SRec")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
