"""GRACE on Cora in one process against two gloo processes (``torchrun``) on the CPU.

Runs ``gcl bench grace --dataset cora --epochs N --device cpu`` three times in fresh
processes: one process with 1 intra-op thread, one process with 2 threads (the peer: the same
cores as the pair), and ``torchrun --standalone --nproc_per_node 2`` (two ranks of 1 thread,
gradients averaged by DDP over gloo, InfoNCE negatives gathered across the ranks). Writes
``benchmarks/results/distributed_grace.json``: the median training time per epoch (validation
excluded) of each run and the pair's speed ratio against the 2-thread process, the final
metrics of each, and how far the pair is from the single process (largest loss difference
over the epochs, absolute and relative; largest parameter difference at the end).

    python benchmarks/distributed_grace.py [--epochs 50]

The full-batch GRACE step under ``torchrun`` runs the encoder on the whole graph on every
rank and splits the InfoNCE anchors between the ranks, so only the O(N^2) loss is divided.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
TIMING_KEYS = {"time_s", "train_time_s"}


def _run(cmd: list[str], out: Path, threads: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = str(threads)
    t0 = time.perf_counter()
    subprocess.run(cmd + ["--out", str(out)], check=True, env=env)
    wall = time.perf_counter() - t0
    rec = json.loads((out / "result.json").read_text())
    params = torch.load(out / "checkpoint.pt", weights_only=True)["model"]
    return {"record": rec, "params": params, "process_wall_s": wall}


def _summary(run: dict, threads: int, processes: int) -> dict:
    rec = run["record"]
    train_s = [r["train_time_s"] for r in rec["history"]]
    return {"processes": processes, "threads_per_process": threads, "world_size": rec.get("world_size", 1),
            "median_train_epoch_s": statistics.median(train_s), "process_wall_s": run["process_wall_s"],
            "metrics": rec["metrics"], "selected_epoch": rec["selected_epoch"],
            "loss_per_epoch": [r["loss"] for r in rec["history"]]}


def distributed_grace_section(r: dict) -> list[str]:
    """The RESULTS.md section of ``distributed_grace.json``."""
    rows = ["| run | median training s / epoch | val acc | test acc | selected epoch |", "|---|---|---|---|---|"]
    for name, s in r["runs"].items():
        m = s["metrics"]
        rows.append(f"| {name} | {s['median_train_epoch_s']:.3f} | {m['val_acc']:.4f} | {m['test_acc']:.4f} "
                    f"| {s['selected_epoch']} |")
    d = r["difference"]
    return [f"## {r['title']}", "", f"Command: `{r['command']}`. {r['protocol']}", "", *rows, "",
            f"Speed of the two gloo processes (training time per epoch): "
            f"{r['speed_ratio_vs_1_thread']:.2f}x one process of one thread, "
            f"{r['speed_ratio_vs_2_threads']:.2f}x one process of two threads (the same cores; intra-op "
            f"threads suffer most when other work shares the cores). Against the single process the pair's "
            f"per-epoch loss differs by at most {d['max_abs_loss']:.2e} ({d['max_rel_loss']:.2e} relative) "
            f"and its final parameters by at most {d['max_abs_param']:.2e}.", ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=50)
    args = ap.parse_args()
    bench = ["bench", "grace", "--dataset", "cora", "--epochs", str(args.epochs), "--device", "cpu",
             "--seed", "0", "--quiet"]
    single = [sys.executable, "-m", "gcl.cli", *bench]
    pair = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "gcl.cli", *bench]
    with tempfile.TemporaryDirectory() as tmp:
        one_1 = _run(single, Path(tmp) / "one_1", threads=1)
        one_2 = _run(single, Path(tmp) / "one_2", threads=2)
        two = _run(pair, Path(tmp) / "two", threads=1)
    runs = {"1 process x 1 thread": _summary(one_1, 1, 1), "1 process x 2 threads": _summary(one_2, 2, 1),
            "2 processes x 1 thread (torchrun, gloo)": _summary(two, 1, 2)}
    ref, dist_run = runs["1 process x 1 thread"], runs["2 processes x 1 thread (torchrun, gloo)"]
    loss_diffs = [abs(a - b) for a, b in zip(ref["loss_per_epoch"], dist_run["loss_per_epoch"])]
    rel_diffs = [d / abs(a) for d, a in zip(loss_diffs, ref["loss_per_epoch"])]
    param_diff = max(float((one_1["params"][k] - two["params"][k]).abs().max()) for k in one_1["params"])
    rec = two["record"]
    summary = {
        "title": "Distributed GRACE on Cora: 2 gloo processes against 1 process (CPU)",
        "command": f"python benchmarks/distributed_grace.py --epochs {args.epochs}",
        "protocol": (f"{args.epochs} epochs, GRACE's Cora settings, seed 0; training time per epoch excludes "
                     "validation; the pair is `torchrun --standalone --nproc_per_node 2 -m gcl.cli bench grace`. "
                     + rec["protocol"]),
        "device": rec["device"],
        "versions": rec["versions"],
        "config": rec["config"],
        "runs": runs,
        "speed_ratio_vs_2_threads": runs["1 process x 2 threads"]["median_train_epoch_s"]
        / dist_run["median_train_epoch_s"],
        "speed_ratio_vs_1_thread": ref["median_train_epoch_s"] / dist_run["median_train_epoch_s"],
        "difference": {"max_abs_loss": max(loss_diffs), "max_rel_loss": max(rel_diffs),
                       "max_abs_param": param_diff,
                       "val_acc": dist_run["metrics"]["val_acc"] - ref["metrics"]["val_acc"],
                       "test_acc": dist_run["metrics"]["test_acc"] - ref["metrics"]["test_acc"]},
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "distributed_grace.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: summary[k] for k in ("speed_ratio_vs_2_threads", "speed_ratio_vs_1_thread", "difference")},
                     indent=2))
    sys.path.insert(0, str(HERE))
    from results_md import write_results_md  # here: results_md imports this module's section

    write_results_md()


if __name__ == "__main__":
    main()
