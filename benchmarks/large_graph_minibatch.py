"""Mini-batch GRACE on synthetic power-law graphs up to 2M nodes: bounded memory and throughput (CPU).

    python benchmarks/large_graph_minibatch.py [--sizes 250000,500000,1000000,2000000] [--batches 20]
        [--batch-size 1024] [--fanout 10,10] [--full-batch-n 8192] [--inference-n 2000000]

Graphs: :func:`gcl.data.synthetic.power_law_graph` (Chung–Lu, gamma 2.5, mean degree ``--avg-degree``,
undirected, ``--features`` Gaussian features), seed 0. Model: GRACE with the paper's Cora
settings (GCN 64-256-128, projection 128, edge drop 0.2/0.4, feature mask 0.3/0.4, tau 0.4,
Adam lr 5e-4), float32, one torch thread, each case in a fresh subprocess.

- ``minibatch`` at every size: the native :class:`gcl.data.sampling.SubgraphLoader` (fan-out
  ``--fanout``, ``--batch-size`` seeds, shuffled), then ``--warmup`` + ``--batches`` steps of
  :func:`gcl.methods.minibatch.grace_batch_loss` (views drawn on each subgraph, loss on the seeds).
  **Graph storage** = RSS growth from building the graph, the sampler's CSC layout and the model
  (also given as tensor bytes); **training peak** = the highest high-water mark VmHWM over the VmRSS
  before the first step (``/proc/self/clear_refs`` resets VmHWM before every step), i.e. the memory
  training needs on top of the stored graph (the epoch's seed permutation, 8 N bytes, included).
  Memory comes from workers with glibc's mmap threshold fixed at 128 KiB (freed tensors leave RSS),
  times from a second run of every case with glibc's defaults. Throughput = seeds / (sampling + step time)
  over the timed steps; sampling and step times are also given apart.
- ``fullbatch`` at ``--full-batch-n``: GRACE's full-graph step (InfoNCE over all N nodes,
  row-chunked by ``--chunk``), peak as above over the first step, time = median of ``--full-steps``
  later steps, throughput = N / step time; compared with ``minibatch`` on the same graph in the same run.
- ``inference`` at ``--inference-n``: exact full-graph embeddings by
  :func:`gcl.nn.gcn_inference.gcn_layerwise` (no autograd, row blocks), peak as above.

Writes ``benchmarks/results/large_graph_minibatch.json`` and its figure ``large_graph_minibatch.png``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Mapping

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from _memory import MIB, mem_available, rss_status, run_worker, track_peak  # noqa: E402

GAMMA = 2.5
#: A fixed glibc mmap threshold: every block of 128 KiB or more is its own mapping, returned to the
#: system when freed, so RSS follows the live tensors (glibc's adaptive threshold would otherwise
#: keep freed tensor memory in the heap and make the peaks depend on the allocation history).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}
#: Every case runs twice: memory figures come from the run with ``MALLOC_ENV``, times from a run
#: with glibc's defaults (the fixed threshold costs time: every large tensor is a fresh mapping).
PASSES = {"memory": MALLOC_ENV, "speed": {}}
SPEED_KEYS = ("seeds_per_s", "sample_s_mean", "step_s_mean", "first_step_s", "step_s", "steps", "time_s",
              "nodes_per_s")


def _merge(memory: dict, speed: dict) -> dict:
    """One row: the memory run's figures with the speed run's times (both runs kept)."""
    if memory["status"] != "ok" or speed["status"] != "ok":
        bad = memory if memory["status"] != "ok" else speed
        return {"status": bad["status"], "reason": bad["reason"]}
    return {**memory, **{k: speed[k] for k in SPEED_KEYS if k in speed},
            "memory_run": memory, "speed_run": speed}


def _graph(n: int, args: argparse.Namespace):
    import torch

    from gcl.data.synthetic import power_law_graph

    return power_law_graph(n, args.avg_degree, args.features, gamma=GAMMA,
                           generator=torch.Generator().manual_seed(0))


def _model(args: argparse.Namespace, **overrides: Any):
    from gcl.methods import GRACE, GRACEConfig
    from gcl.utils import seed_everything

    seed_everything(0)
    model = GRACE(args.features, GRACEConfig(**overrides))
    import torch

    return model, torch.optim.Adam(model.parameters(), lr=model.config.lr,
                                   weight_decay=model.config.weight_decay)


def _fanout(args: argparse.Namespace) -> list[int]:
    return [int(k) for k in args.fanout.split(",")]


def _node_bound(args: argparse.Namespace) -> int:
    """Most nodes a batch can hold whatever N: ``B (1 + k_1 + k_1 k_2 + ...)``."""
    total, width = args.batch_size, args.batch_size
    for k in _fanout(args):
        width *= k
        total += width
    return total


def minibatch_worker(n: int, args: argparse.Namespace) -> dict:
    import torch

    from gcl.data.sampling import SubgraphLoader
    from gcl.methods.minibatch import grace_batch_loss

    torch.set_num_threads(1)
    base = rss_status()["VmRSS"]
    t0 = time.perf_counter()
    data = _graph(n, args)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(0)
    loader = SubgraphLoader(data, _fanout(args), batch_size=args.batch_size, shuffle=True, generator=gen)

    def endless():  # later epochs when a small graph has fewer batches than asked for
        while True:
            yield from loader  # each epoch starts by drawing its seed permutation (8 N bytes)

    batches = endless()
    csc_s = time.perf_counter() - t0
    csc = loader.sampler.csc
    tensors = {"x": data.x.nbytes, "edge_index": data.edge_index.nbytes, "y": data.y.nbytes,
               "csc": csc.colptr.nbytes + csc.row.nbytes + csc.perm.nbytes}
    model, opt = _model(args)
    storage_mib = (rss_status()["VmRSS"] - base) / MIB
    sample_s, step_s, nodes, edges, losses, step_peaks = [], [], [], [], [], []
    start_rss = rss_status()["VmRSS"] / MIB
    top = start_rss
    for i in range(args.warmup + args.batches):
        with track_peak() as mem:  # one batch: sampling + forward + backward + update
            t0 = time.perf_counter()
            batch = next(batches)
            t1 = time.perf_counter()
            opt.zero_grad()
            loss = grace_batch_loss(model, batch, gen)
            loss.backward()
            opt.step()
            t2 = time.perf_counter()
        top = max(top, mem["baseline_rss_mib"] + mem["peak_mib"])
        step_peaks.append(mem["peak_mib"])
        if i >= args.warmup:
            sample_s.append(t1 - t0)
            step_s.append(t2 - t1)
            nodes.append(batch.num_nodes)
            edges.append(batch.edge_index.size(1))
            losses.append(float(loss.detach()))
        del batch, loss
    seeds = args.batch_size * len(step_s)
    return {"case": "minibatch", "N": n, "status": "ok", "E": int(data.edge_index.size(1)),
            "max_degree": int(csc.in_degree().max()), "graph_build_s": gen_s, "sampler_build_s": csc_s,
            "storage_rss_mib": storage_mib, "storage_tensor_mib": sum(tensors.values()) / MIB,
            "storage_tensors_mib": {k: v / MIB for k, v in tensors.items()},
            "train_peak_mib": top - start_rss, "rss_before_train_mib": start_rss,
            "step_peak_mib_max": max(step_peaks), "step_peak_mib_median": statistics.median(step_peaks),
            "rss_after_train_mib": rss_status()["VmRSS"] / MIB,
            "timed_batches": len(step_s), "warmup_batches": args.warmup,
            "sample_s_mean": statistics.mean(sample_s), "step_s_mean": statistics.mean(step_s),
            "seeds_per_s": seeds / (sum(sample_s) + sum(step_s)),
            "subgraph_nodes_mean": statistics.mean(nodes), "subgraph_edges_mean": statistics.mean(edges),
            "subgraph_nodes_max": max(nodes), "subgraph_nodes_bound": _node_bound(args),
            "loss_first": losses[0], "loss_last": losses[-1]}


def fullbatch_worker(n: int, args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(1)
    data = _graph(n, args)
    model, opt = _model(args, chunk_size=args.chunk)
    gen = torch.Generator().manual_seed(0)

    def step() -> float:
        opt.zero_grad()
        loss = model.loss(data.x, data.edge_index, gen)
        loss.backward()
        opt.step()
        return float(loss.detach())

    with track_peak() as mem:
        t0 = time.perf_counter()
        step()
        first = time.perf_counter() - t0
    times = []
    for _ in range(args.full_steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    step_s = statistics.median(times)
    return {"case": "fullbatch", "N": n, "status": "ok", "E": int(data.edge_index.size(1)),
            "chunk": args.chunk, "train_peak_mib": mem["peak_mib"], "first_step_s": first,
            "step_s": step_s, "steps": len(times), "nodes_per_s": n / step_s}


def inference_worker(n: int, args: argparse.Namespace) -> dict:
    import torch

    from gcl.nn.gcn_inference import gcn_layerwise

    torch.set_num_threads(1)
    data = _graph(n, args)
    model, _ = _model(args)
    model.eval()
    with track_peak() as mem:
        t0 = time.perf_counter()
        emb = gcn_layerwise(model.encoder, data.x, data.edge_index, block_size=args.block)
        elapsed = time.perf_counter() - t0
    return {"case": "inference", "N": n, "status": "ok", "E": int(data.edge_index.size(1)),
            "block_size": args.block, "peak_mib": mem["peak_mib"], "time_s": elapsed,
            "output_mib": emb.nbytes / MIB, "nodes_per_s": n / elapsed}


WORKERS = {"minibatch": minibatch_worker, "fullbatch": fullbatch_worker, "inference": inference_worker}


def plot(r: Mapping[str, Any], path: Path) -> str | None:
    """Graph storage and training peak against N (left), mini-batch throughput (right)."""
    rows = [x for x in r["rows"] if x["case"] == "minibatch" and x["status"] == "ok"
            and x["N"] in r["settings"]["sizes"]]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [x["N"] for x in rows]
    fig, (ax_mem, ax_thr) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    ax_mem.plot(ns, [x["storage_rss_mib"] for x in rows], "o-", label="graph storage (RSS growth)")
    ax_mem.plot(ns, [x["train_peak_mib"] for x in rows], "s-", label="mini-batch training peak")
    full = [x for x in r["rows"] if x["case"] == "fullbatch" and x["status"] == "ok"]
    for x in full:
        ax_mem.plot([x["N"]], [x["train_peak_mib"]], "^", color="C3",
                    label=f"full-batch training peak (N = {x['N']:,})")
    peers = [x for x in r["rows"] if x["case"] == "minibatch" and x["status"] == "ok"
             and x["N"] not in r["settings"]["sizes"]]
    for x in peers:
        ax_mem.plot([x["N"]], [x["train_peak_mib"]], "s", mfc="none", color="C1",
                    label=f"mini-batch training peak (N = {x['N']:,})")
    ax_mem.set(xscale="log", yscale="log", xlabel="N (nodes)", ylabel="MiB", title="memory")
    ax_thr.plot(ns, [x["seeds_per_s"] for x in rows], "o-", label="mini-batch (seeds/s)")
    for x in full:
        ax_thr.plot([x["N"]], [x["nodes_per_s"]], "^", color="C3", label=f"full batch (nodes/s, N = {x['N']:,})")
    for x in peers:
        ax_thr.plot([x["N"]], [x["seeds_per_s"]], "o", mfc="none", color="C0",
                    label=f"mini-batch (seeds/s, N = {x['N']:,})")
    ax_thr.set(xscale="log", xlabel="N (nodes)", ylabel="training nodes / s", title="throughput", ylim=(0, None))
    for ax in (ax_mem, ax_thr):
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
    s = r["settings"]
    fig.suptitle(f"GRACE mini-batch on power-law graphs: batch {s['batch_size']}, fan-out {s['fanout']}, "
                 f"1 thread", fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return (f"mini-batch GRACE on Chung–Lu graphs (gamma {GAMMA}, mean degree {s['avg_degree']:g}, "
            f"{s['features']} features): graph storage grows with N, the training peak does not; "
            "one torch thread, fresh subprocess per point")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="250000,500000,1000000,2000000")
    ap.add_argument("--avg-degree", type=float, default=8.0)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--fanout", default="10,10")
    ap.add_argument("--batches", type=int, default=15, help="timed mini-batch steps per size")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--full-batch-n", type=int, default=8192, help="0: no full-batch comparison")
    ap.add_argument("--full-steps", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=2048, help="InfoNCE row chunk of the full-batch step")
    ap.add_argument("--inference-n", type=int, default=2_000_000, help="0: no inference case")
    ap.add_argument("--block", type=int, default=65536, help="row block of layer-wise inference")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "large_graph_minibatch.json")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker[0]](int(args.worker[1]), args)))
        return

    t_start = time.perf_counter()
    sizes = [int(s) for s in args.sizes.split(",")]
    settings = ["--avg-degree", str(args.avg_degree), "--features", str(args.features),
                "--batch-size", str(args.batch_size), "--fanout", args.fanout, "--batches", str(args.batches),
                "--warmup", str(args.warmup), "--full-steps", str(args.full_steps), "--chunk", str(args.chunk),
                "--block", str(args.block)]
    cases = [("minibatch", n) for n in sizes]
    if args.full_batch_n:
        cases += [("fullbatch", args.full_batch_n), ("minibatch", args.full_batch_n)]
    if args.inference_n:
        cases.append(("inference", args.inference_n))
    rows = []
    for case, n in cases:
        passes = {name: run_worker(Path(__file__).resolve(), [*settings, "--worker", case, str(n)],
                                   timeout=args.timeout, repo=REPO, env_extra=env)
                  for name, env in PASSES.items()}
        rec = _merge(passes["memory"], passes["speed"])
        rec.update({"case": case, "N": n})
        rows.append(rec)
        print(json.dumps(rec), flush=True)

    mb = {x["N"]: x for x in rows if x["case"] == "minibatch" and x["status"] == "ok"}
    fb = next((x for x in rows if x["case"] == "fullbatch" and x["status"] == "ok"), None)
    comparison = None
    if fb is not None and fb["N"] in mb:
        m = mb[fb["N"]]
        comparison = {"N": fb["N"], "minibatch_seeds_per_s": m["seeds_per_s"],
                      "fullbatch_nodes_per_s": fb["nodes_per_s"],
                      "throughput_ratio": m["seeds_per_s"] / fb["nodes_per_s"],
                      "minibatch_peak_mib": m["train_peak_mib"], "fullbatch_peak_mib": fb["train_peak_mib"],
                      "memory_ratio": fb["train_peak_mib"] / m["train_peak_mib"]}
    scaled = [mb[n] for n in sizes if n in mb]
    bounded = None
    if len(scaled) >= 2:
        peaks = [x["train_peak_mib"] for x in scaled]
        bounded = {"N_min": scaled[0]["N"], "N_max": scaled[-1]["N"], "node_ratio": scaled[-1]["N"] / scaled[0]["N"],
                   "train_peak_min_mib": min(peaks), "train_peak_max_mib": max(peaks),
                   "train_peak_ratio": max(peaks) / min(peaks),
                   "storage_ratio": scaled[-1]["storage_rss_mib"] / scaled[0]["storage_rss_mib"]}
    import torch

    record = {
        "title": "Mini-batch GRACE on large synthetic power-law graphs (CPU)",
        "command": "python benchmarks/large_graph_minibatch.py " + " ".join(sys.argv[1:]),
        "protocol": (f"Chung–Lu graphs (gamma {GAMMA}, mean degree {args.avg_degree:g}, undirected, "
                     f"{args.features} Gaussian features, seed 0); GRACE with the paper's Cora settings "
                     "(GCN F-256-128, projection 128, tau 0.4, Adam lr 5e-4), float32, one torch thread, every "
                     "case in a fresh subprocess; mini-batch: native SubgraphLoader, views drawn per subgraph, "
                     f"InfoNCE on the seeds, {args.warmup} warm-up + {args.batches} timed steps; graph storage = "
                     "RSS growth from building the graph, the sampler's CSC layout and the model; training peak = "
                     "the highest VmHWM over the VmRSS before the first step, the peak reset by /proc/self/clear_refs "
                     "before every step (the epoch's seed permutation, 8 N bytes, included); glibc's mmap threshold "
                     "fixed at 128 KiB (MALLOC_MMAP_THRESHOLD_) so that freed tensors leave RSS, and every time taken "
                     "from a second run of the same case with glibc's defaults; throughput = seeds / (sampling + step time); full batch: InfoNCE "
                     f"over all N nodes row-chunked by {args.chunk}, peak over the first step, time = median of "
                     f"{args.full_steps} later steps, throughput = N / step time; inference: layer-wise "
                     f"full-graph embeddings in row blocks of {args.block}"),
        "settings": {"sizes": sizes, "avg_degree": args.avg_degree, "gamma": GAMMA, "features": args.features,
                     "batch_size": args.batch_size, "fanout": _fanout(args), "batches": args.batches,
                     "warmup": args.warmup, "full_batch_n": args.full_batch_n, "chunk": args.chunk,
                     "inference_n": args.inference_n, "block": args.block, "sampler": "native"},
        "device": {"device": "cpu", "torch_threads": 1, "machine": platform.machine(),
                   "cpu_count": os.cpu_count(), "shared_machine": True,
                   "mem_available_gib_end": mem_available() / 2 ** 30},
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "load_average_end": os.getloadavg(), "wall_s": time.perf_counter() - t_start,
        "rows": rows, "comparison": comparison, "bounded": bounded,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(args.out)
    plot(record, args.out.with_suffix(".png"))
    print(json.dumps({"comparison": comparison, "bounded": bounded}, indent=1))


if __name__ == "__main__":
    main()
