"""Coarse, validation-only choice of PamC's r, tau and beta on a graph without an official row.

    python benchmarks/pamc_tune.py [--dataset cora] [--seeds 0 1] [--epochs 60] [--params r tau beta]

Coordinate search from the official Citeseer row (alpha 2, beta 2.5, r 3, tau 0.5, lr 1e-3):
first r in {1, 2, 3}, then tau in {0.25, 0.5, 1} at the best r, then beta in {0.1, 0.5, 2.5}
at the best (r, tau). Score: ACC of argmax Q at the last epoch on the seeded 10 % validation
node subset only (``gcl.bench.pamc.validation_nodes``), mean over the seeds. The labels of the
other 90 % are never read. Each seed pretrains (or loads) its own autoencoder. ``--params``
limits the search to some coordinates (the others keep the starting values). Trials are saved
to the JSON as they finish and reused by a later run with the same epochs and seeds.

Writes ``benchmarks/results/pamc_tune.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gcl.bench.pamc import load_graph, run_seed  # noqa: E402
from gcl.methods.pamc import PamCConfig  # noqa: E402

GRID = {"r": (1, 2, 3), "tau": (0.25, 0.5, 1.0), "beta": (0.1, 0.5, 2.5)}
START = dict(alpha=2.0, beta=2.5, r=3, tau=0.5, lr=1e-3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="cora")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--params", nargs="+", default=list(GRID), choices=list(GRID))
    ap.add_argument("--out", type=Path, default=HERE / "results" / "pamc_tune.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    graph = load_graph(args.dataset)
    old = json.loads(args.out.read_text()).get("trials", []) if args.out.exists() else []
    trials: list[dict] = [t for t in old if t.get("epochs") == args.epochs]
    cache: dict[tuple, float] = {}

    def save(extra: dict) -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({**extra, "trials": trials}, indent=2))
        tmp.replace(args.out)

    def score(params: dict) -> float:
        key = tuple(sorted(params.items()))
        if key not in cache:
            vals = []
            for seed in args.seeds:
                done = [t for t in trials if t["seed"] == seed
                        and all(t[k] == v for k, v in params.items())]
                if done:
                    vals.append(done[0]["val_acc_last"])
                    continue
                cfg = PamCConfig(**{**params, "epochs": args.epochs})
                t0 = time.perf_counter()
                out = run_seed(graph, cfg, seed)
                vals.append(out.train.history[-1]["val_acc"])
                trials.append({**params, "seed": seed, "epochs": args.epochs, "val_acc_last": vals[-1],
                               "seconds": time.perf_counter() - t0})
                print(json.dumps(trials[-1]), flush=True)
                save({"partial": True})
            cache[key] = sum(vals) / len(vals)
        return cache[key]

    best = dict(START)
    steps = []
    for name, values in GRID.items():
        if name not in args.params:
            steps.append({"parameter": name, "searched": False, "chosen": best[name]})
            continue
        results = {v: score({**best, name: v}) for v in values}
        best[name] = max(values, key=lambda v: (results[v], v == START[name]))
        steps.append({"parameter": name, "mean_val_acc": {str(v): s for v, s in results.items()},
                      "chosen": best[name]})
    record = {
        "title": f"PamC hyper-parameter choice on {args.dataset} (validation nodes only)",
        "command": "python benchmarks/pamc_tune.py " + " ".join(sys.argv[1:]),
        "protocol": ("coordinate search from the Citeseer row, r then tau then beta; score = last-epoch "
                     "ACC of argmax Q on the seeded 10% validation node subset, mean over seeds; "
                     f"{args.epochs} epochs per trial (the final runs use 200); searched: "
                     + ", ".join(args.params)),
        "dataset": args.dataset, "seeds": args.seeds, "epochs": args.epochs, "start": START,
        "steps": steps, "chosen": best, "searched": args.params,
        "load_average": os.getloadavg(), "torch_threads": args.threads,
    }
    save(record)
    print(json.dumps({"chosen": best, "steps": steps}, indent=1))


if __name__ == "__main__":
    main()
