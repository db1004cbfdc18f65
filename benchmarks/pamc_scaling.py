"""Loss-level scaling of PamC against the dense SCGC* loss it approximates and a dense NT-Xent (CPU).

    python benchmarks/pamc_scaling.py [--max-n 1048576] [--repeats 20] [--cell-budget 30]

For N = 2^10 .. ``--max-n`` a synthetic graph (5 random out-links per node, symmetrised, plus
I, row-normalised: r = 1, about 11 non-zeros per node), d = 10, K = 10, float32 random
embeddings Z [N, d] and centroids mu [K, d] with ``requires_grad``; one forward + backward of

- ``pamc``: ``KL(P || Q) + pamc_loss(Z, Â, argmax Q)`` (Student-t Q, meta-node negatives);
- ``scgc_chunked``: the exact row-chunked SCGC* loss (chunk 1024), O(N² d) time, O(chunk N) memory;
- ``scgc_dense``: the naive dense SCGC* (dense Â and N x N cosines), O(N²) memory;
- ``ntxent_dense``: dense one-direction NT-Xent (``info_nce``, intra-view negatives, one N x N block)
  between Z and a second random view.

Every (loss, N) cell runs in a fresh subprocess with one torch thread. **Memory**: the first
forward + backward after building the inputs, with the peak reset just before it
(``/proc/self/clear_refs``), reporting the growth of the high-water mark VmHWM over VmRSS at
that point (inputs excluded; gradients and all intermediates included). **Time**: after that
first run (the warm-up), the median of ``--repeats`` runs, fewer for slow cells so that a cell
takes about ``--cell-budget`` seconds (at least 3; the count is stated per row). Dense cells
are skipped when their estimated peak (the measured bytes per N² of the previous size) exceeds
half the available memory, and any cell is skipped when its estimated single-run time (the
previous size scaled by the loss's expected exponent) exceeds ``--max-run-s``; the reason is
written in the JSON. The ratios at N = 16,384 come from one extra subprocess that runs PamC and
dense SCGC* interleaved (same process, same data). Log-log slopes are fitted for N >= 8,192.

Writes ``benchmarks/results/pamc_scaling.json`` and ``benchmarks/results/pamc_scaling.png``.
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from _memory import MIB, run_worker  # noqa: E402  (same /proc readers and worker runner)
from _memory import mem_available as _mem_available, rss_status as _status  # noqa: E402

LOSSES = ("pamc", "scgc_chunked", "scgc_dense", "ntxent_dense")
EXPONENT = {"pamc": 1.0, "scgc_chunked": 2.0, "scgc_dense": 2.0, "ntxent_dense": 2.0}
DIM, K, CHUNK = 10, 10, 1024


def build_inputs(n: int, seed: int = 0):
    """Synthetic operator (r = 1) and leaf tensors Z, Z2 [N, d], mu [K, d]."""
    import torch

    from gcl.nn.influence import row_normalized_adjacency

    g = torch.Generator().manual_seed(seed)
    src = torch.arange(n).repeat_interleave(5)
    edge_index = torch.stack([src, torch.randint(0, n, (5 * n,), generator=g)])
    adj = row_normalized_adjacency(edge_index, n).to_sparse_coo().coalesce()
    adj = (adj.indices(), adj.values())
    z = torch.randn(n, DIM, generator=g).requires_grad_()
    z2 = torch.randn(n, DIM, generator=g).requires_grad_()
    mu = torch.randn(K, DIM, generator=g).requires_grad_()
    return adj, z, z2, mu


def make_step(name: str, adj, z, z2, mu):
    """A closure running one forward + backward of loss ``name``."""
    from gcl.losses import (
        dec_kl_loss,
        dec_target,
        info_nce,
        pamc_loss,
        scgc_star_loss,
        scgc_star_loss_dense,
        student_t_assignment,
    )

    def step() -> float:
        for t in (z, z2, mu):
            t.grad = None
        if name == "pamc":
            q = student_t_assignment(z, mu)
            loss = dec_kl_loss(dec_target(q), q) + pamc_loss(z, adj, q.detach().argmax(1), 1.0,
                                                              num_clusters=K)
        elif name == "scgc_chunked":
            loss = scgc_star_loss(z, adj, 1.0, chunk_size=CHUNK)
        elif name == "scgc_dense":
            loss = scgc_star_loss_dense(z, adj, 1.0)
        elif name == "ntxent_dense":
            loss = info_nce(z, z2, 0.5, intra_view=True, chunk_size=None)
        else:
            raise ValueError(f"unknown loss {name!r}")
        loss.backward()
        return float(loss)

    return step


def worker(name: str, n: int, repeats: int, budget: float) -> dict:
    import torch

    torch.set_num_threads(1)
    adj, z, z2, mu = build_inputs(n)
    step = make_step(name, adj, z, z2, mu)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before = _status()
    t0 = time.perf_counter()
    value = step()
    first = time.perf_counter() - t0
    peak = (_status()["VmHWM"] - before["VmRSS"]) / MIB
    reps = repeats if first * repeats <= budget else max(3, min(repeats, int(budget / max(first, 1e-9))))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"loss": name, "N": n, "status": "ok", "value": value, "peak_mib": peak, "first_s": first,
            "time_s": statistics.median(times), "runs": reps, "nnz": int(adj[1].numel())}


def interleaved_worker(n: int, reps: int) -> dict:
    """PamC and dense SCGC* alternately in one process on the same data."""
    import torch

    torch.set_num_threads(1)
    adj, z, z2, mu = build_inputs(n)
    steps = {name: make_step(name, adj, z, z2, mu) for name in ("pamc", "scgc_dense")}
    for s in steps.values():  # warm-up
        s()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(reps):
        for name, s in steps.items():
            t0 = time.perf_counter()
            s()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"N": n, "runs": reps, "pamc_s": med["pamc"], "scgc_dense_s": med["scgc_dense"],
            "time_ratio": med["scgc_dense"] / med["pamc"],
            "per_run_ratio": [d / p for p, d in zip(times["pamc"], times["scgc_dense"])]}


def _subprocess(args: list[str], timeout: float) -> dict:
    return run_worker(Path(__file__).resolve(), args, timeout=timeout, repo=REPO)


def fit_slope(rows: list[dict], key: str, min_n: int = 8192) -> float | None:
    import numpy as np

    pts = [(r["N"], r[key]) for r in rows if r["status"] == "ok" and r["N"] >= min_n and r[key] > 0]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-n", type=int, default=2 ** 20)
    ap.add_argument("--min-n", type=int, default=2 ** 10)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--cell-budget", type=float, default=30.0, help="seconds of timed runs per cell")
    ap.add_argument("--max-run-s", type=float, default=60.0, help="skip cells whose one run would exceed this")
    ap.add_argument("--ratio-n", type=int, default=16384)
    ap.add_argument("--ratio-runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "pamc_scaling.json")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--interleaved", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.repeats, args.cell_budget)))
        return
    if args.interleaved:
        print(json.dumps(interleaved_worker(args.interleaved, args.ratio_runs)))
        return

    t_start = time.perf_counter()
    sizes = [2 ** p for p in range(args.min_n.bit_length() - 1, args.max_n.bit_length()) if 2 ** p >= args.min_n]
    rows: list[dict] = []
    last: dict[str, dict] = {}
    for n in sizes:
        for name in LOSSES:
            prev = last.get(name)
            reason = None
            if prev is not None and prev["status"] != "ok":
                reason = (prev["reason"] if prev["reason"].startswith("not run: ") else
                          f"not run: N = {prev['N']:,} was {prev['status']} ({prev['reason']})")
            elif prev is not None:
                scale = (n / prev["N"]) ** EXPONENT[name]
                est_t = prev["first_s"] * scale
                if est_t > args.max_run_s:
                    reason = (f"estimated {est_t:.0f} s per run (N = {prev['N']:,}: {prev['first_s']:.1f} s, "
                              f"x {scale:.0f}) exceeds --max-run-s {args.max_run_s:g}")
                elif name != "pamc":
                    est_mem = prev["peak_mib"] * MIB / prev["N"] ** 2 * n ** 2
                    avail = _mem_available()
                    if est_mem > 0.5 * avail:
                        reason = (f"estimated peak {est_mem / 2 ** 30:.1f} GiB exceeds half of the "
                                  f"{avail / 2 ** 30:.1f} GiB available")
            if reason is not None:
                rec = {"loss": name, "N": n, "status": "skipped", "reason": reason}
            else:
                rec = _subprocess(["--worker", name, str(n), "--repeats", str(args.repeats),
                                   "--cell-budget", str(args.cell_budget)],
                                  timeout=args.max_run_s * (args.repeats + 2) + 600)
                rec.update({"loss": name, "N": n})
            rows.append(rec)
            last[name] = rec
            print(json.dumps(rec), flush=True)

    ratio = None
    dense16 = [r for r in rows if r["loss"] == "scgc_dense" and r["N"] == args.ratio_n and r["status"] == "ok"]
    pamc16 = [r for r in rows if r["loss"] == "pamc" and r["N"] == args.ratio_n and r["status"] == "ok"]
    if dense16 and pamc16:
        ratio = _subprocess(["--interleaved", str(args.ratio_n), "--ratio-runs", str(args.ratio_runs)],
                            timeout=3600)
        ratio["memory_ratio"] = dense16[0]["peak_mib"] / pamc16[0]["peak_mib"]
        print(json.dumps(ratio), flush=True)

    slopes = {name: {"time": fit_slope([r for r in rows if r["loss"] == name], "time_s"),
                     "memory": fit_slope([r for r in rows if r["loss"] == name], "peak_mib")}
              for name in LOSSES}
    one_m = [r for r in rows if r["loss"] == "pamc" and r["N"] == 2 ** 20 and r["status"] == "ok"]
    targets = {
        "PamC time slope <= 1.2": slopes["pamc"]["time"] is not None and slopes["pamc"]["time"] <= 1.2,
        f"N = {args.ratio_n:,}: PamC >= 10x faster than dense SCGC*": bool(ratio and ratio["time_ratio"] >= 10),
        f"N = {args.ratio_n:,}: PamC >= 10x less peak memory than dense SCGC*":
            bool(ratio and ratio["memory_ratio"] >= 10),
        "N = 1,048,576 runs on this 24 GiB CPU machine": bool(one_m),
    }
    import torch

    record = {
        "title": "PamC loss scaling against dense SCGC* and dense NT-Xent (CPU, forward + backward)",
        "command": "python benchmarks/pamc_scaling.py " + " ".join(sys.argv[1:]),
        "protocol": ("synthetic graphs with 5 random out-links per node, symmetrised, + I, row-normalised "
                     "(r = 1); d = 10, K = 10; float32; one torch thread; one fresh subprocess per cell; "
                     "peak memory = VmHWM growth over VmRSS during the first forward + backward after the "
                     "inputs were built (peak reset by /proc/self/clear_refs; inputs excluded); time = median "
                     "of the later runs ('runs' per row); PamC includes the DEC head (Q, P, KL); the 16k ratio "
                     "is measured interleaved in one process"),
        "device": {"device": "cpu", "torch_threads": 1, "machine": platform.machine(),
                   "cpu_count": os.cpu_count(), "shared_machine": True},
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "load_average_end": os.getloadavg(),
        "wall_s": time.perf_counter() - t_start,
        "rows": rows, "slopes_n_ge_8192": slopes, "ratio_16k": ratio, "targets": targets,
        "paper_claim": "2-3x training time and 5x GPU memory reduction over SCGC* (end to end, GPU)",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(args.out)
    from plots import pamc_scaling as plot_scaling  # the figure results_md.py also draws

    plot_scaling(record, args.out.with_suffix(".png"))
    print(json.dumps({"slopes": slopes, "ratio": ratio, "targets": targets}, indent=1))


if __name__ == "__main__":
    main()
