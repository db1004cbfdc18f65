"""Speed of the batched graph views against a per-graph Python loop on ogbg-molbace.

Two operations on one batch of the first 256 ogbg-molbace molecules
(``Batch.from_data_list``):

* **edge perturbation** (GraphCL, ratio 0.2): per graph, drop ``floor(0.2 m)`` undirected
  edges and add as many new ones between non-adjacent atom pairs, symmetrically, new edges
  copying the attributes of a random existing edge. Ours: ``gcl.views.graph.edge_perturb``.
* **D-SLA candidates** (5 candidates: anchor, 3 ball levels, strong; 3 hops, mask 0.8, edit
  0.2, strong 0.8). Ours: ``gcl.views.dsla.dsla_candidates``. Input in the pretrain-gnns
  layout built from the OGB features (``x[:, :2]``, ``[bond type, direction 0]``).

The peer for each is a per-graph loop written here: what typical original code does (one
graph at a time, torch ops per graph, a dense ``n x n`` adjacency to find free pairs), ending
with one concatenation of the per-graph results with node offsets (no PyG collation, which
would only slow the loop down further). Timings: warm-up runs, then the median of repeated
``time.perf_counter`` runs; one torch thread by default (on a shared machine multi-threaded
timings of small ops are dominated by scheduling noise), ``--threads`` to change it. The two
implementations are timed in alternation so that both see the same machine load.

    python benchmarks/views.py [--runs 30] [--loop-runs 10] [--threads 1] [--device cpu]

Writes ``benchmarks/results/views.json``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import gcl.data  # noqa: E402
from gcl.views.dsla import (  # noqa: E402
    MASK_ATOM_TYPE,
    OFFICIAL_BOND_DIRECTION_PROBS,
    OFFICIAL_BOND_TYPE_PROBS,
    dsla_candidates,
)

RATIO = 0.2
BATCH = 256
C, HOPS, MASK, EDIT, STRONG_EDIT = 5, 3, 0.8, 0.2, 0.8


# ----------------------------------------------------------------------------------------
# Per-graph loop baselines
# ----------------------------------------------------------------------------------------


def _free_pairs(n: int, und: Tensor, nodes: Tensor, device: torch.device) -> Tensor:
    """``[2, F]`` node pairs (a < b) among ``nodes`` that are not edges, via a dense mask."""
    adj = torch.zeros(n, n, dtype=torch.bool, device=device)
    adj[und[0], und[1]] = True
    adj[und[1], und[0]] = True
    sub = ~adj[nodes][:, nodes]
    sub &= torch.ones_like(sub).triu(1)
    a, b = sub.nonzero().T
    return torch.stack([nodes[a], nodes[b]])


def edge_perturb_loop(graphs: list[Data], ratio: float, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """GraphCL edge perturbation one graph at a time; returns the concatenated edges."""
    out_ei, out_ea, offset = [], [], 0
    for d in graphs:
        ei, ea, n = d.edge_index, d.edge_attr, d.num_nodes
        dev = ei.device
        upper = ei[0] < ei[1]
        und, und_a = ei[:, upper], ea[upper]
        m = und.size(1)
        k = math.floor(ratio * m)
        keep = torch.ones(m, dtype=torch.bool, device=dev)
        keep[torch.randperm(m, generator=g)[:k]] = False
        free = _free_pairs(n, und, torch.arange(n, device=dev), dev)
        pick = torch.randperm(free.size(1), generator=g)[: min(k, free.size(1))]
        new = free[:, pick]
        new_a = ea[torch.randint(0, max(ea.size(0), 1), (new.size(1),), generator=g)] if ea.size(0) else \
            torch.zeros(new.size(1), ea.size(1), dtype=ea.dtype)
        half = torch.cat([und[:, keep], new], 1)
        half_a = torch.cat([und_a[keep], new_a])
        out_ei.append(torch.cat([half, half.flip(0)], 1) + offset)
        out_ea.append(torch.cat([half_a, half_a]))
        offset += n
    return torch.cat(out_ei, 1), torch.cat(out_ea)


def _draw_bond_attr(k: int, g: torch.Generator) -> Tensor:
    if k == 0:  # a ball without a free pair (multinomial refuses zero samples)
        return torch.zeros(0, 2, dtype=torch.long)
    bond = torch.multinomial(torch.tensor(OFFICIAL_BOND_TYPE_PROBS), k, replacement=True, generator=g)
    direction = torch.multinomial(torch.tensor(OFFICIAL_BOND_DIRECTION_PROBS)[bond], 1, generator=g).view(-1) \
        if k else torch.zeros(0, dtype=torch.long)
    return torch.stack([bond, direction], 1)


def dsla_loop(graphs: list[Data], g: torch.Generator) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """D-SLA candidates one graph at a time (same sampling as ``dsla_candidates``).

    Returns candidate-major ``(x, edge_index, edge_attr, graph_id, edit)`` like the batched op.
    """
    B = len(graphs)
    xs = [[None] * B for _ in range(C)]
    eis = [[None] * B for _ in range(C)]
    eas = [[None] * B for _ in range(C)]
    edits = torch.zeros(C, B)
    for j, d in enumerate(graphs):
        x, ei, ea, n = d.x, d.edge_index, d.edge_attr, d.num_nodes
        dev = ei.device
        upper = ei[0] < ei[1]
        und, und_a = ei[:, upper], ea[upper]
        m = und.size(1)
        deg = torch.bincount(ei[0], minlength=n)
        pool = (deg > 0).nonzero().view(-1) if m else torch.arange(n, device=dev)
        center = pool[torch.randint(0, pool.numel(), (1,), generator=g)]
        reach = torch.zeros(n, dtype=torch.bool, device=dev)
        reach[center] = True
        for _ in range(HOPS):
            nxt = reach.clone()
            nxt[ei[1][reach[ei[0]]]] = True
            reach = nxt
        ball = reach.nonzero().view(-1)
        token = torch.zeros(x.size(1), dtype=x.dtype)
        token[0] = MASK_ATOM_TYPE
        for c in range(C):
            strong = c == C - 1
            nodes = torch.arange(n, device=dev) if strong else ball
            xc = x.clone()
            masked = nodes[torch.randperm(nodes.numel(), generator=g)[: math.floor(MASK * nodes.numel())]]
            xc[masked] = token
            xs[c][j] = xc
            if c == 0:
                eis[c][j], eas[c][j] = ei, ea
                continue
            e_in = torch.ones(m, dtype=torch.bool) if strong else reach[und[0]] & reach[und[1]]
            m_e = int(e_in.sum())
            p = max(1, math.floor((STRONG_EDIT if strong else EDIT * c) * m_e))
            ids = e_in.nonzero().view(-1)
            gone = ids[torch.randperm(ids.numel(), generator=g)[: min(p, m_e)]]
            keep = torch.ones(m, dtype=torch.bool)
            keep[gone] = False
            free = _free_pairs(n, und, nodes, dev)  # deleted pairs stay forbidden
            new = free[:, torch.randperm(free.size(1), generator=g)[: min(p, free.size(1))]]
            half = torch.cat([und[:, keep], new], 1)
            half_a = torch.cat([und_a[keep], _draw_bond_attr(new.size(1), g).to(ea.dtype)])
            eis[c][j] = torch.cat([half, half.flip(0)], 1)
            eas[c][j] = torch.cat([half_a, half_a])
            edits[c, j] = (gone.numel() + new.size(1)) / 2
    sizes = torch.tensor([d.num_nodes for d in graphs])
    N = int(sizes.sum())
    starts = torch.cumsum(sizes, 0) - sizes
    ei_all = torch.cat([eis[c][j] + (c * N + int(starts[j])) for c in range(C) for j in range(B)], 1)
    ea_all = torch.cat([eas[c][j] for c in range(C) for j in range(B)])
    x_all = torch.cat([xs[c][j] for c in range(C) for j in range(B)])
    gid = torch.repeat_interleave(torch.arange(C * B), sizes.repeat(C))
    return x_all, ei_all, ea_all, gid, edits.view(-1)


# ----------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_ms(
    ours: Callable[[], object], loop: Callable[[], object], runs: int, loop_runs: int, warmup: int,
    device: torch.device,
) -> tuple[list[float], list[float]]:
    """Per-call wall times (ms) of ``ours`` and ``loop``, measured in alternation (``loop_runs``
    rounds of ``runs / loop_runs`` calls of ``ours`` and one of ``loop``), so that both see
    the same machine load."""
    for _ in range(warmup):
        ours()
    loop()
    _sync(device)
    t_ours, t_loop = [], []
    per_round = max(1, -(-runs // loop_runs))
    for _ in range(loop_runs):
        for _ in range(per_round):
            t0 = time.perf_counter()
            ours()
            _sync(device)
            t_ours.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        loop()
        _sync(device)
        t_loop.append((time.perf_counter() - t0) * 1e3)
    return t_ours, t_loop


def summary(name: str, impl: str, settings: str, t_ours: list[float], t_loop: list[float]) -> dict:
    ours, loop = statistics.median(t_ours), statistics.median(t_loop)
    print(f"{name}: ours {ours:.2f} ms, per-graph loop {loop:.1f} ms, speedup {loop / ours:.1f}x")
    return {"ours": impl, "settings": settings, "ours_ms": ours, "loop_ms": loop, "speedup": loop / ours,
            "ours_runs_ms": t_ours, "loop_runs_ms": t_loop}


def load_batch(device: torch.device) -> tuple[list[Data], list[Data], Batch, Batch]:
    ds = gcl.data.load("ogbg-molbace")
    graphs = [ds[i] for i in range(BATCH)]
    ogb = [Data(x=d.x, edge_index=d.edge_index, edge_attr=d.edge_attr, num_nodes=d.num_nodes).to(device)
           for d in graphs]
    # pretrain-gnns layout for D-SLA: [atom type, chirality], [bond type, direction]
    pg = [Data(x=d.x[:, :2].clone(), edge_index=d.edge_index,
               edge_attr=torch.stack([d.edge_attr[:, 0], torch.zeros_like(d.edge_attr[:, 0])], 1),
               num_nodes=d.num_nodes).to(device) for d in graphs]
    return ogb, pg, Batch.from_data_list(ogb), Batch.from_data_list(pg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30, help="timed runs of the batched ops")
    ap.add_argument("--loop-runs", type=int, default=10, help="timed runs of the per-graph loops")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(HERE / "results" / "views.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    ogb, pg, ogb_batch, pg_batch = load_batch(device)
    g = torch.Generator(device=device).manual_seed(0)
    g_loop = torch.Generator().manual_seed(0)
    ops: dict[str, dict] = {}

    # --- D-SLA ------------------------------------------------------------------------
    out = dsla_candidates(pg_batch, generator=g)
    lx, lei, lea, lgid, ledit = dsla_loop(pg, g_loop)
    assert out.x.shape == lx.shape and torch.equal(out.graph_id.cpu(), lgid)
    assert torch.all(out.edit.view(C, -1)[0] == 0) and torch.all(ledit.view(C, -1)[0] == 0)
    t_ours, t_loop = interleaved_ms(lambda: dsla_candidates(pg_batch, generator=g), lambda: dsla_loop(pg, g_loop),
                                    args.runs, args.loop_runs, args.warmup, device)
    ops["dsla_candidates"] = summary(
        "dsla_candidates", "gcl.views.dsla.dsla_candidates",
        f"C={C} (anchor, 3 ball levels, strong), hops={HOPS}, mask={MASK}, edit={EDIT}, "
        f"strong={STRONG_EDIT}; input: OGB x[:, :2], edge_attr [bond type, direction 0]",
        t_ours, t_loop)
    ops["dsla_candidates"].update(output_edges=int(out.edge_index.size(1)), loop_output_edges=int(lei.size(1)))

    # --- edge perturbation -----------------------------------------------------------
    try:
        from gcl.views.graph import edge_perturb
    except ImportError as exc:  # the batched op is missing: record it, keep the D-SLA figure
        ops["edge_perturb"] = {"error": f"gcl.views.graph.edge_perturb unavailable: {exc}"}
        print(ops["edge_perturb"]["error"])
    else:
        view = edge_perturb(ogb_batch, RATIO, generator=g)
        lei2, _ = edge_perturb_loop(ogb, RATIO, g_loop)
        assert view.edge_index.size(1) == lei2.size(1), "loop and batched op disagree on edge counts"
        t_ours, t_loop = interleaved_ms(lambda: edge_perturb(ogb_batch, RATIO, generator=g),
                                        lambda: edge_perturb_loop(ogb, RATIO, g_loop),
                                        args.runs, args.loop_runs, args.warmup, device)
        ops["edge_perturb"] = summary(
            "edge_perturb", "gcl.views.graph.edge_perturb",
            f"drop floor({RATIO} m_g) + add as many, undirected, attributes copied", t_ours, t_loop)
        ops["edge_perturb"]["output_edges"] = int(view.edge_index.size(1))

    result = {
        "title": "Batched graph views vs a per-graph Python loop (ogbg-molbace, 256 molecules)",
        "command": " ".join(["python benchmarks/views.py", *sys.argv[1:]]),
        "dataset": "ogbg-molbace (first 256 graphs, Batch.from_data_list)",
        "batch_size": BATCH,
        "num_nodes": int(ogb_batch.num_nodes),
        "num_edges": int(ogb_batch.edge_index.size(1)),
        "device": str(device),
        "device_name": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "torch_threads": args.threads,
        "torch": torch.__version__,
        "timing": f"wall time (time.perf_counter), median of {args.runs} runs of ours and "
                  f"{args.loop_runs} of the loop, measured in alternation after {args.warmup} "
                  "warm-up runs",
        "baseline": "per-graph Python loop written in benchmarks/views.py (torch ops per graph, "
                    "dense n x n adjacency per graph, one final concatenation)",
        "ops": ops,
        "target_speedup": 20.0,
        "targets": {f"{k} >= 20x": v["speedup"] >= 20.0 for k, v in ops.items() if "speedup" in v},
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
