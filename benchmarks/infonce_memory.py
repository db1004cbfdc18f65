"""Peak memory and time of chunked InfoNCE against the dense N x N form, forward + backward, CPU.

    python benchmarks/infonce_memory.py [--sizes 10000 50000 200000] [--dim 128] [--chunk auto]

For each N, ``gcl.losses.info_nce(z1, z2, tau=0.5, intra_view=False)`` (one direction, row-aligned
positives, cosine similarity) runs forward and backward once on random float32 inputs
z1, z2 in R^{N x d} with ``requires_grad``:

- **chunked**: ``chunk_size`` anchors per block under activation checkpointing;
- **dense**: ``chunk_size=None``, one N x N block (the plain formulation).

Every case runs in a fresh subprocess, which resets its peak RSS (``/proc/self/clear_refs``) after
building the inputs and reports the growth of the high-water mark ``VmHWM`` over the resident set
``VmRSS`` at that point: the memory the loss itself needed (gradients of the inputs, the
normalised copies and all intermediates included). A dense case is skipped when its estimated
peak (3 float32 N x N matrices; the 10k case measures the factor) exceeds half the available
memory of this shared machine; the JSON says so. The chunk size is picked so that about five
``chunk x N`` float32 blocks fit in 1.5 GiB (rounded down to a power of two, at most 4096).

Writes ``benchmarks/results/infonce_memory.json`` and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from _memory import MIB, track_peak
from _memory import mem_available as _mem_available


def worker(n: int, d: int, chunk: int | None, threads: int) -> dict:
    """One forward + backward in this (fresh) process; returns the measurements."""
    import torch

    from gcl.losses import infonce

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(n, d, generator=g).requires_grad_()
    z2 = torch.randn(n, d, generator=g).requires_grad_()
    with track_peak() as mem:
        t0 = time.perf_counter()
        loss = infonce.info_nce(z1, z2, 0.5, intra_view=False, chunk_size=chunk)
        t_fwd = time.perf_counter() - t0
        loss.backward()
        elapsed = time.perf_counter() - t0
    return {"N": n, "d": d, "chunk": chunk, "loss": float(loss), "time_s": elapsed, "forward_s": t_fwd,
            "backward_s": elapsed - t_fwd, "baseline_rss_mib": mem["baseline_rss_mib"],
            "peak_mib": mem["peak_mib"], "grad_finite": bool(
                torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all())}


def run_case(n: int, d: int, chunk: int | None, threads: int, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--sizes", str(n), "--dim", str(d),
           "--chunk", "none" if chunk is None else str(chunk), "--threads", str(threads)]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        return {"N": n, "d": d, "chunk": chunk, "status": "failed",
                "reason": f"exit code {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"}
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    rec["status"] = "ok"
    return rec


def auto_chunk(n: int, budget_bytes: float = 1.5 * 1024 ** 3, blocks: float = 5.0) -> int:
    """Largest power of two c <= 4096 with ``blocks * c * n * 4`` bytes within the budget."""
    c = 4096
    while c > 1 and blocks * c * n * 4 > budget_bytes:
        c //= 2
    return c


def table(rows: list[dict]) -> str:
    lines = ["| N | d | mode | chunk | peak MiB | time s | note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] == "ok":
            lines.append(f"| {r['N']:,} | {r['d']} | {r['mode']} | {r['chunk'] or '-'} | {r['peak_mib']:.0f} | "
                         f"{r['time_s']:.1f} | |")
        else:
            lines.append(f"| {r['N']:,} | {r['d']} | {r['mode']} | {r['chunk'] or '-'} | - | - | "
                         f"{r['status']}: {r['reason']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--chunk", default="auto", help="'auto', 'none' or an integer")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per case")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "infonce_memory.json")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    fixed_chunk = None if args.chunk == "none" else (None if args.chunk == "auto" else int(args.chunk))

    if args.worker:
        print(json.dumps(worker(args.sizes[0], args.dim, fixed_chunk, args.threads)))
        return

    rows: list[dict] = []
    dense_factor = 3.0  # float32 N x N matrices at the dense peak; replaced by the measured value
    for n in args.sizes:
        chunk = auto_chunk(n) if args.chunk == "auto" else fixed_chunk
        rec = run_case(n, args.dim, chunk, args.threads, args.timeout)
        rec["mode"] = "chunked"
        rows.append(rec)
        print(json.dumps(rec), flush=True)

        estimate = dense_factor * n * n * 4
        available = _mem_available()
        if estimate > 0.5 * available:
            rec = {"N": n, "d": args.dim, "chunk": None, "mode": "dense", "status": "skipped",
                   "estimated_peak_gib": round(estimate / 1024 ** 3, 1),
                   "reason": (f"estimated peak {estimate / 1024 ** 3:.0f} GiB ({dense_factor:.1f} float32 "
                              f"N x N matrices; one alone is {n * n * 4 / 1e9:.0f} GB) exceeds half of the "
                              f"{available / 1024 ** 3:.0f} GiB available")}
        else:
            rec = run_case(n, args.dim, None, args.threads, args.timeout)
            rec["mode"] = "dense"
            if rec["status"] == "ok":
                dense_factor = max(dense_factor, rec["peak_mib"] * MIB / (n * n * 4))
        rows.append(rec)
        print(json.dumps(rec), flush=True)

    import torch

    summary = {
        "title": "Chunked vs dense InfoNCE: peak memory and time, forward + backward (CPU)",
        "command": "python benchmarks/infonce_memory.py " + " ".join(sys.argv[1:]),
        "protocol": ("info_nce(z1, z2, tau=0.5, intra_view=False), one direction, row-aligned positives, cosine; "
                     "float32 inputs N x d with requires_grad; one forward + backward per fresh subprocess; "
                     "peak_mib = VmHWM after minus VmRSS before the loss (peak reset via /proc/self/clear_refs), "
                     "so it includes input gradients and normalised copies (4 N d floats)"),
        "device": {"device": "cpu", "cpu_threads": args.threads, "machine": platform.machine(),
                   "cpu_count": os.cpu_count(), "shared_machine": True},
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "target": "chunked N = 200,000 within 3 GiB",
        "rows": rows,
    }
    big = [r for r in rows if r["mode"] == "chunked" and r["N"] == 200_000 and r["status"] == "ok"]
    if big:
        summary["target_met"] = big[0]["peak_mib"] <= 3 * 1024
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2))
    tmp.replace(args.out)
    print(table(rows))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
