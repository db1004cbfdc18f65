"""Molecular pre-training speed: epoch time of GraphCL and D-SLA, and per-batch view generation
against a per-graph Python loop.

    python benchmarks/mol/pretrain_speed.py [--device cpu] [--threads 1] [--batches 3]
        [--runs 10] [--loop-runs 3] [--emb-dim 300] [--num-layers 5]

Corpus: the MoleculeNet CSVs of the data roots without ogbg-molbace's molecules
(:func:`gcl.data.mol_corpus.build_mol_corpus`), batches of 256 molecules (the chem default).

* **Epoch time** (``gcl.methods.mol_pretrain.pretrain``, GIN 5x300 by default): a whole epoch
  on CPU takes minutes, so the pre-training loop is run on the first ``n`` batches for
  ``n = 1`` and ``n = 1 + batches``; the per-batch time is the slope
  ``(T(1 + k) - T(1)) / k`` (so the first batch's warm-up cancels) and the epoch estimate is
  ``batches_per_epoch x slope``. ``--batches 0`` times one whole epoch instead.
* **Views per batch** on the first batch of the corpus (256 molecules), ours against a per-graph
  loop, timed in alternation (``benchmarks/views.py``'s ``interleaved_ms``):
  - D-SLA candidates as pre-training draws them (``DSLA.candidates``: OGB features, 5
    candidates) vs ``benchmarks/views.py``'s ``dsla_loop`` (same sampling one molecule at a time;
    it writes the 2-column pretrain-gnns bond attributes, so it gets the batch in that layout);
  - GraphCL's two views (node drop or subgraph per molecule, r = 0.2) vs
    :func:`graphcl_views_loop` (one molecule at a time: a coin, then ``randperm`` node drop or
    a Python frontier loop, ``torch_geometric.utils.subgraph`` per molecule);
  - GraphCL edge perturbation (``gcl.views.edge_perturb``) vs ``views.py``'s ``edge_perturb_loop``.

Writes ``benchmarks/results/mol_speed.json`` (median times, speed-up ratios, the target 20x).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import warnings
from pathlib import Path

import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from torch_geometric.utils import subgraph

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent))

import gcl.data  # noqa: E402
from gcl.data.mol_corpus import build_mol_corpus  # noqa: E402
from gcl.methods.dsla import DSLA, DSLAConfig  # noqa: E402
from gcl.methods.graphcl import GraphCL, GraphCLConfig  # noqa: E402
from gcl.methods.mol_pretrain import pretrain  # noqa: E402
from gcl.utils.atomic import atomic_write  # noqa: E402
from gcl.views.graph import edge_perturb  # noqa: E402
from views import dsla_loop, edge_perturb_loop, interleaved_ms, summary  # noqa: E402

TARGET = 20.0
RATIO = 0.2


def graphcl_views_loop(graphs: list[Data], g: torch.Generator) -> list[Data]:
    """GraphCL's two views one molecule at a time: per view and molecule, a fair coin picks node
    dropping (``floor(0.2 n)`` atoms by ``randperm``) or the frontier subgraph (``floor(0.2 n) + 1``
    atoms grown one random frontier atom at a time); ``subgraph`` keeps the induced bonds."""
    out = []
    for _ in range(2):
        for d in graphs:
            n, ei = d.num_nodes, d.edge_index
            if torch.rand(1, generator=g).item() < 0.5:
                keep = torch.randperm(n, generator=g)[math.floor(RATIO * n):]
            else:
                target = min(n, math.floor(RATIO * n) + 1)
                chosen = {int(torch.randint(0, n, (1,), generator=g))}
                while len(chosen) < target:
                    sel = torch.zeros(n, dtype=torch.bool)
                    sel[list(chosen)] = True
                    frontier = ei[1][sel[ei[0]] & ~sel[ei[1]]].unique()
                    if frontier.numel() == 0:
                        break
                    chosen.add(int(frontier[torch.randint(0, frontier.numel(), (1,), generator=g)]))
                keep = torch.tensor(sorted(chosen))
            e2, a2 = subgraph(keep, ei, d.edge_attr, relabel_nodes=True, num_nodes=n)
            out.append(Data(x=d.x[keep], edge_index=e2, edge_attr=a2, num_nodes=keep.numel()))
    return out


def epoch_seconds(model: torch.nn.Module, corpus, cfg, k: int, device: str) -> dict:
    """Per-batch slope and epoch estimate of the pre-training loop (module docstring)."""
    n_batches = math.ceil(len(corpus) / cfg.batch_size)

    def timed(n: int | None) -> float:
        cfg.epochs = 1
        res = pretrain(model, corpus, cfg, seed=0, device=device, max_batches=n)
        return float(res.history[-1]["train_time_s"])

    if k == 0:
        t = timed(None)
        return {"measured": "whole epoch", "epoch_s": t, "batch_s": t / n_batches, "batches_per_epoch": n_batches}
    t1, t2 = timed(1), timed(1 + k)
    slope = max(t2 - t1, 0.0) / k
    return {"measured": f"slope over batches 2..{1 + k} (T(1)={t1:.2f} s, T({1 + k})={t2:.2f} s)",
            "batch_s": slope, "epoch_s": slope * n_batches, "batches_per_epoch": n_batches}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", type=int, default=3, help="timed batches per method (0: a whole epoch)")
    ap.add_argument("--runs", type=int, default=10, help="timed runs of the batched views")
    ap.add_argument("--loop-runs", type=int, default=3, help="timed runs of the per-graph loops")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--emb-dim", type=int, default=300)
    ap.add_argument("--num-layers", type=int, default=5)
    ap.add_argument("--out", default=str(HERE.parent / "results" / "mol_speed.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    device = torch.device(args.device)

    target = gcl.data.load("ogbg-molbace")
    corpus = build_mol_corpus(exclude=target)
    first = next(iter(DataLoader(corpus, batch_size=256)))
    graphs = first.to_data_list()
    g, g_loop = torch.Generator(device=device).manual_seed(0), torch.Generator().manual_seed(0)
    batch = first.to(device)
    views: dict[str, dict] = {}

    dsla = DSLA(DSLAConfig(emb_dim=args.emb_dim, num_layers=args.num_layers)).to(device)
    pg = [Data(x=d.x[:, :2].clone(), edge_index=d.edge_index,
               edge_attr=torch.stack([d.edge_attr[:, 0], torch.zeros_like(d.edge_attr[:, 0])], 1),
               num_nodes=d.num_nodes) for d in graphs]
    t_ours, t_loop = interleaved_ms(lambda: dsla.candidates(batch, g), lambda: dsla_loop(pg, g_loop),
                                    args.runs, args.loop_runs, args.warmup, device)
    views["dsla_candidates"] = summary("dsla_candidates", "gcl.methods.dsla.DSLA.candidates",
                                       "C=5, hops 3, mask 0.8, edit 0.2, strong 0.8; OGB 9+3 features",
                                       t_ours, t_loop)

    graphcl = GraphCL(GraphCLConfig(emb_dim=args.emb_dim, num_layers=args.num_layers)).to(device)
    t_ours, t_loop = interleaved_ms(lambda: graphcl.views(batch, g), lambda: graphcl_views_loop(graphs, g_loop),
                                    args.runs, args.loop_runs, args.warmup, device)
    views["graphcl_views"] = summary("graphcl_views", "gcl.methods.graphcl.GraphCL.views",
                                     "two views, node drop or subgraph per molecule, r=0.2", t_ours, t_loop)

    t_ours, t_loop = interleaved_ms(lambda: edge_perturb(batch, RATIO, generator=g),
                                    lambda: edge_perturb_loop(graphs, RATIO, g_loop),
                                    args.runs, args.loop_runs, args.warmup, device)
    views["edge_perturb"] = summary("edge_perturb", "gcl.views.edge_perturb",
                                    f"drop floor({RATIO} m) + add as many, attributes copied", t_ours, t_loop)

    epochs: dict[str, dict] = {}
    for name, model, cfg_cls in (("graphcl", graphcl, GraphCLConfig), ("dsla", dsla, DSLAConfig)):
        cfg = cfg_cls(emb_dim=args.emb_dim, num_layers=args.num_layers)
        epochs[name] = epoch_seconds(model, corpus, cfg, args.batches, args.device)
        print(f"{name}: {epochs[name]['batch_s']:.2f} s per batch of 256, "
              f"epoch ~{epochs[name]['epoch_s']:.0f} s ({epochs[name]['batches_per_epoch']} batches)")

    result = {
        "title": "Molecular pre-training speed (corpus without ogbg-molbace, batches of 256)",
        "command": " ".join(["python benchmarks/mol/pretrain_speed.py", *sys.argv[1:]]),
        "corpus_molecules": len(corpus),
        "batch_size": 256,
        "encoder": f"GIN {args.num_layers}x{args.emb_dim}, mean pool",
        "device": str(device),
        "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                        else platform.processor() or platform.machine()),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "torch_threads": args.threads,
        "torch": torch.__version__,
        "epoch": epochs,
        "views": views,
        "view_timing": f"median of {args.runs} runs (ours) and {args.loop_runs} (loop), in alternation "
                       f"after {args.warmup} warm-up runs",
        "baseline": "per-graph Python loops (benchmarks/views.py's dsla_loop and edge_perturb_loop; "
                    "graphcl_views_loop in this script)",
        "target_speedup": TARGET,
        "targets": {f"{k} >= {TARGET:g}x": v["speedup"] >= TARGET for k, v in views.items()},
    }
    for name in epochs:
        key = "dsla_candidates" if name == "dsla" else "graphcl_views"
        epochs[name]["view_share"] = views[key]["ours_ms"] / 1e3 / max(epochs[name]["batch_s"], 1e-9)
    path = Path(args.out)
    with atomic_write(path, "w") as fh:
        fh.write(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
