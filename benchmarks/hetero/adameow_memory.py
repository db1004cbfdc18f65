"""Peak memory and time of AdaMEOW's learned-weight loss: block form against the naive N² x d form (CPU).

    python benchmarks/hetero/adameow_memory.py [--sizes 500 1000 2000 4019] [--chunks 256 1024]

AdaMEOW's loss, with anchors ``f_i`` and candidates ``a_j`` (L2-normalised, positive ``a_i``) and
the pair-weight MLP ``w_ij = sigmoid(w2 . tanh(W1 (f_i + a_j) + b1) + b2)`` (d -> h = 16 -> 1),

    L = -(1/N) sum_i log( exp(f_i . a_i / tau) / sum_j w_ij exp(f_i . a_j / tau) ),

runs one forward + backward on random float32 inputs ``f, a`` in R^{N x d} (rows L2-normalised,
``requires_grad``) with the MLP's parameters trainable, d = 64, tau = 1.0, N up to 4,019 (ACM's
papers), in two forms that compute the same numbers:

- **block**: ``gcl.losses.adameow_loss(f, a, net, tau, chunk_size=B)``: ``W1 (f_i + a_j) + b1 =
  U_i + V_j``; B anchors at a time build a ``B x N x h`` hidden block under activation
  checkpointing (B >= N is one block without checkpointing);
- **naive**: the original's formulation: ``w = net.naive_weights(f, a)`` sends the ``N x N x d``
  input ``f_i + a_j`` through the MLP, then ``L = -mean_i (s_ii - logsumexp_j(s_ij + log w_ij))``
  with ``s = f a^T / tau``.

Every (form, N, chunk) case runs in fresh subprocesses with one torch thread; a warm-up on N = 8
loads every code path first. **Memory**: one forward + backward after building the inputs, with
the peak reset just before it (``/proc/self/clear_refs``); ``peak_mib`` is the growth of the
high-water mark VmHWM over VmRSS at that point (inputs excluded; the N x N x d input,
activations, gradients of f, a and the MLP parameters included). This run fixes glibc's mmap
threshold at 1 MiB (``MALLOC_MMAP_THRESHOLD_``): with the default dynamic threshold, freed
blocks of tens of MiB stay cached in the heap and the same block case varied up to two-fold
between processes; fixed, it repeats within about 1 %. **Time**: a second subprocess with the default
allocator: the first run (its peak is kept as ``peak_mib_default_malloc``), then the median of
``--repeats`` further runs. The naive case at the largest N runs once, in the memory run, whose
time is reported. A naive case is skipped when its estimated peak
(bytes per pair measured at the previous size, at first ``(2 d + 4 h + 4) x 4``) exceeds half of
``MemAvailable``; the JSON says why. Before the cases, both forms are checked to give the same loss
and gradients (f, a and every MLP parameter) at N = ``--check-n`` (blocks of
``--check-chunk``, checkpointed); the largest absolute
differences are recorded. Block and naive are also timed interleaved in one process at N =
``--ratio-n`` (same data, ``--ratio-runs`` alternating runs) for a noise-robust time ratio.

Writes ``benchmarks/results/adameow_memory.json`` and prints its RESULTS.md section.
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
BENCH = HERE.parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from _memory import MIB, mem_available, run_worker, track_peak

FORMS = ("block", "naive")
#: glibc's mmap threshold, fixed (no dynamic raise after frees) for the memory runs, so that blocks
#: above 1 MiB are returned to the system when freed and VmHWM tracks the live tensors.
FIXED_MMAP_THRESHOLD = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}


def build_inputs(n: int, dim: int, hidden: int, seed: int = 0, dtype=None):
    """Leaf tensors ``f, a`` [N, d] (rows L2-normalised, ``requires_grad``) and the weight net."""
    import torch
    import torch.nn.functional as F

    from gcl.losses.adameow import AdaMEOWWeightNet

    dtype = dtype or torch.float32
    g = torch.Generator().manual_seed(seed)
    f = F.normalize(torch.randn(n, dim, generator=g, dtype=dtype), dim=1).requires_grad_()
    a = F.normalize(torch.randn(n, dim, generator=g, dtype=dtype), dim=1).requires_grad_()
    torch.manual_seed(seed)
    net = AdaMEOWWeightNet(dim, hidden).to(dtype)
    return f, a, net


def naive_loss(f, a, net, tau: float):
    """The original's formulation: weights from the N x N x d input, then the weighted InfoNCE.

    ``L = -(1/N) sum_i (s_ii - logsumexp_j(s_ij + log w_ij))``, ``s = f a^T / tau``,
    ``w = net.naive_weights(f, a)`` (O(N² d) memory).
    """
    import torch

    s = f @ a.T / tau                                                          # [N, N]
    log_w = torch.log(net.naive_weights(f, a))                                 # [N, N]
    return -(s.diagonal() - torch.logsumexp(s + log_w, dim=1)).mean()


def make_step(form: str, f, a, net, tau: float, chunk: int | None):
    """A closure: zero the gradients, one forward + backward; returns the loss value."""
    from gcl.losses.adameow import adameow_loss

    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    leaves = [f, a, *net.parameters()]

    def step() -> float:
        for t in leaves:
            t.grad = None
        if form == "block":
            loss = adameow_loss(f, a, net, tau, chunk_size=chunk)
        else:
            loss = naive_loss(f, a, net, tau)
        loss.backward()
        return float(loss.detach())

    return step


def check_equal(n: int, dim: int, hidden: int, tau: float, chunk: int) -> dict:
    """Largest absolute differences between the block and naive forms (loss, grads) at N = n."""
    out = {"N": n, "chunk": chunk, "dtype": "float32"}
    results = {}
    for form in FORMS:
        f, a, net = build_inputs(n, dim, hidden, seed=1)
        value = make_step(form, f, a, net, tau, chunk)()
        results[form] = {"loss": value, "f": f.grad, "a": a.grad,
                         **{f"net.{k}": p.grad for k, p in net.named_parameters()}}
    b, nv = results["block"], results["naive"]
    out["loss_block"], out["loss_naive"] = b["loss"], nv["loss"]
    out["max_abs_diff"] = {"loss": abs(b["loss"] - nv["loss"]),
                           **{f"grad_{k}": float((b[k] - nv[k]).abs().max()) for k in b if k != "loss"}}
    out["max_abs_grad"] = {f"grad_{k}": float(nv[k].abs().max()) for k in nv if k != "loss"}
    return out


def worker(form: str, n: int, chunk: int | None, args: argparse.Namespace) -> dict:
    """One case in this (fresh) process: the peak of the first run, then timed repeats."""
    import torch

    torch.set_num_threads(1)
    tiny = build_inputs(8, args.dim, args.hidden)  # load every code path (checkpointing included) first
    make_step(form, *tiny, args.tau, None if chunk is None else 4)()
    del tiny
    f, a, net = build_inputs(n, args.dim, args.hidden)
    step = make_step(form, f, a, net, args.tau, chunk)
    with track_peak() as mem:
        t0 = time.perf_counter()
        value = step()
        first = time.perf_counter() - t0
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"form": form, "N": n, "chunk": chunk, "status": "ok", "loss": value, **mem, "first_s": first,
            "time_s": statistics.median(times) if times else first, "runs": len(times) or 1,
            "time_from": "median of repeats after the first" if times else "the single (first) run",
            "grad_finite": bool(all(torch.isfinite(t.grad).all() for t in (f, a, *net.parameters()))),
            "loadavg": list(os.getloadavg())}


def interleaved_worker(n: int, chunk: int, args: argparse.Namespace) -> dict:
    """Block and naive alternately in one process on the same data; median times and ratio."""
    import torch

    torch.set_num_threads(1)
    f, a, net = build_inputs(n, args.dim, args.hidden)
    steps = {"block": make_step("block", f, a, net, args.tau, chunk),
             "naive": make_step("naive", f, a, net, args.tau, None)}
    for s in steps.values():  # warm-up
        s()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(args.ratio_runs):
        for name, s in steps.items():
            t0 = time.perf_counter()
            s()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"N": n, "chunk": chunk, "runs": args.ratio_runs, "block_s": med["block"], "naive_s": med["naive"],
            "naive_over_block": med["naive"] / med["block"], "times_s": times, "loadavg": list(os.getloadavg())}


def _subprocess(extra: list[str], args: argparse.Namespace, env_extra: dict[str, str] | None = None) -> dict:
    common = ["--dim", str(args.dim), "--hidden", str(args.hidden), "--tau", str(args.tau),
              "--ratio-runs", str(args.ratio_runs)]
    return run_worker(Path(__file__).resolve(), extra + common, timeout=args.timeout, repo=REPO,
                      env_extra=env_extra)


def run_case(form: str, n: int, chunk: int | None, args: argparse.Namespace, *, timed: bool) -> dict:
    """Peak from a run under a fixed mmap threshold; time (and the default-allocator peak) from a
    second subprocess with ``--repeats`` runs, or, with ``timed=False``, from the memory run itself."""
    worker_args = ["--worker", form, str(n), "none" if chunk is None else str(chunk)]
    rec = _subprocess(worker_args + ["--repeats", "0"], args, FIXED_MMAP_THRESHOLD)
    rec.update({"form": form, "N": n, "chunk": chunk})
    if rec["status"] != "ok":
        return rec
    rec["peak_from"] = "MALLOC_MMAP_THRESHOLD_=" + FIXED_MMAP_THRESHOLD["MALLOC_MMAP_THRESHOLD_"]
    if timed:
        tim = _subprocess(worker_args + ["--repeats", str(args.repeats)], args)
        if tim["status"] != "ok":
            return {**rec, "status": tim["status"], "reason": "timing run: " + tim["reason"]}
        rec.update({k: tim[k] for k in ("first_s", "time_s", "runs", "time_from", "loadavg")})
        rec["peak_mib_default_malloc"] = tim["peak_mib"]
    else:
        rec["time_from"] += " (of the memory run)"
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4019])
    ap.add_argument("--chunks", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--tau", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs after the first (memory) run")
    ap.add_argument("--check-n", type=int, default=300)
    ap.add_argument("--check-chunk", type=int, default=64, help="block size of the equality check")
    ap.add_argument("--ratio-n", type=int, default=2000)
    ap.add_argument("--ratio-runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per subprocess")
    ap.add_argument("--out", type=Path, default=BENCH / "results" / "adameow_memory.json")
    ap.add_argument("--worker", nargs=3, metavar=("FORM", "N", "CHUNK"), help=argparse.SUPPRESS)
    ap.add_argument("--interleaved", nargs=2, type=int, metavar=("N", "CHUNK"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        form, n, chunk = args.worker
        print(json.dumps(worker(form, int(n), None if chunk == "none" else int(chunk), args)))
        return
    if args.interleaved:
        print(json.dumps(interleaved_worker(*args.interleaved, args)))
        return

    import torch

    t_start, load_start = time.perf_counter(), list(os.getloadavg())
    torch.set_num_threads(1)
    check = check_equal(args.check_n, args.dim, args.hidden, args.tau, chunk=args.check_chunk)
    print(json.dumps(check), flush=True)
    if max(check["max_abs_diff"].values()) > 1e-4:
        raise SystemExit(f"block and naive forms disagree at N = {args.check_n}: {check['max_abs_diff']}")

    sizes = sorted(args.sizes)
    rows: list[dict] = []
    pair_bytes = (2 * args.dim + 4 * args.hidden + 4) * 4.0  # a prior; replaced by the measured value
    for n in sizes:
        for chunk in sorted(args.chunks):
            rec = run_case("block", n, chunk, args, timed=True)
            rec["blocks"] = -(-n // chunk)
            rows.append(rec)
            print(json.dumps(rec), flush=True)
        estimate, available = pair_bytes * n * n, mem_available()
        if estimate > 0.5 * available:
            rec = {"status": "skipped", "estimated_peak_gib": round(estimate / 2 ** 30, 2),
                   "reason": (f"estimated peak {estimate / 2 ** 30:.1f} GiB ({pair_bytes:.0f} bytes per pair) "
                              f"exceeds half of the {available / 2 ** 30:.1f} GiB available")}
        else:
            rec = run_case("naive", n, None, args, timed=n != sizes[-1])  # the full-size naive case runs once
            rec["estimated_peak_gib"] = round(estimate / 2 ** 30, 2)
            if rec["status"] == "ok":
                pair_bytes = rec["peak_mib"] * MIB / n ** 2
        rec.update({"form": "naive", "N": n, "chunk": None, "input_gib": round(n * n * args.dim * 4 / 2 ** 30, 3)})
        rows.append(rec)
        print(json.dumps(rec), flush=True)

    ratio_chunk = max(args.chunks)
    ratio = _subprocess(["--interleaved", str(args.ratio_n), str(ratio_chunk)], args)
    print(json.dumps(ratio), flush=True)

    n_full = sizes[-1]
    at_full = {r["form"] + ("" if r["chunk"] is None else f"_{r['chunk']}"): r for r in rows if r["N"] == n_full}
    naive_full = at_full.get("naive")
    comparison = {"N": n_full, "naive_peak_mib": naive_full.get("peak_mib") if naive_full else None,
                  "naive_time_s": naive_full.get("time_s") if naive_full else None, "block": {}}
    for r in at_full.values():
        if r["form"] == "block" and r["status"] == "ok":
            entry = {"chunk": r["chunk"], "peak_mib": r["peak_mib"], "time_s": r["time_s"]}
            if naive_full and naive_full["status"] == "ok":
                entry["naive_over_block_peak"] = naive_full["peak_mib"] / r["peak_mib"]
                entry["naive_over_block_time"] = naive_full["time_s"] / r["time_s"]
            comparison["block"][str(r["chunk"])] = entry

    summary = {
        "title": "AdaMEOW learned-weight loss: block form vs naive N² x d form, peak memory and time (CPU)",
        "command": "python benchmarks/hetero/adameow_memory.py " + " ".join(sys.argv[1:]),
        "protocol": (f"adameow_loss(f, a, net, tau={args.tau:g}, chunk_size=B) (block) vs naive_weights(f, a) on the "
                     f"N x N x d input then -mean_i(s_ii - logsumexp_j(s_ij + log w_ij)) (naive); d = {args.dim}, "
                     f"weight-net hidden {args.hidden}, float32 random L2-normalised f, a with requires_grad, "
                     "MLP parameters trainable; one forward + backward per run; every case in a fresh subprocess "
                     "with 1 torch thread, warmed up on N = 8; peak_mib = VmHWM after minus VmRSS before the first run (peak reset via "
                     "/proc/self/clear_refs) under MALLOC_MMAP_THRESHOLD_=1048576, inputs excluded, activations and all "
                     f"gradients included; time = median of {args.repeats} runs after the first in a second "
                     "subprocess with the default allocator (the full-size naive case: its single memory run); "
                     "naive skipped when its estimated peak exceeds half of MemAvailable"),
        "settings": {"dim": args.dim, "hidden": args.hidden, "tau": args.tau, "sizes": sizes, "chunks": args.chunks,
                     "repeats": args.repeats, "dtype": "float32"},
        "device": {"device": "cpu", "torch_threads": 1, "machine": platform.machine(), "cpu_count": os.cpu_count(),
                   "shared_machine": True, "mem_available_gib_at_end": round(mem_available() / 2 ** 30, 1)},
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "equality_check": check,
        "rows": rows,
        "interleaved_time": ratio,
        "full_size": comparison,
        "loadavg_start": load_start,
        "loadavg_end": list(os.getloadavg()),
        "wall_s": time.perf_counter() - t_start,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2))
    tmp.replace(args.out)
    from results_md import _adameow_memory_section

    print("\n".join(_adameow_memory_section(summary)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
