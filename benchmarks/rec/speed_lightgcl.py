"""LightGCL speed: gcl's :class:`~gcl.methods.LightGCL` against an official-style implementation.

The baseline is :mod:`lightgcl_reference` (COO sparse products with a dropout copy and a
transpose per call, per-entry Python normalisation, ``exp().sum()`` loss over all users / all
items, a Python negative-sampling loop per epoch, dense-mask + full-argsort evaluation with a
per-user metric loop). Both sides use the ``repo`` preset with the Gowalla row (d 64, L 2,
q 5, batch 4096, λ1 0.2, λ2 0, τ 0.2, p 0, all-user / all-item negatives, Adam lr 1e-3).

Steps:

1. **Parity** on a tiny random graph: the reference, given gcl's SVD factors and parameters,
   gives the same loss on the same batch (and the same gradients); the run stops otherwise.
2. **Evaluation** (test split, full ranking, K = 20, 40): both sides start from the same
   parameters, so their Recall/NDCG must agree (checked); times are medians over
   ``--eval-repeats`` interleaved runs. The reference's time is also split into ranking
   (scores, dense mask, argsort) and its per-user metric loop.
3. **Training epoch**: ``gcl.methods.cf.train_epoch`` against the reference's epoch
   (negative-sampling loop + batches), each on the first ``--small`` and ``--batches``
   batches of its own loader; per-batch slope, set-up intercept, epoch estimate (see
   ``_timing.py``); medians over ``--repeats`` interleaved runs. ``--subsample-users N`` runs
   on a seeded N-user subsample instead of the whole graph.

Run::

    GCL_DATA=/work/shared/datasets .venv/bin/python benchmarks/rec/speed_lightgcl.py
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
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

import gcl.data  # noqa: E402
from gcl.data.interaction_subsets import split_hash, subsample_users  # noqa: E402
from gcl.methods import cf  # noqa: E402
from gcl.methods.lightgcl import LightGCL, LightGCLConfig  # noqa: E402
from gcl.utils.atomic import atomic_write  # noqa: E402

import lightgcl_reference as ref  # noqa: E402
from _timing import add_timing_arguments, epoch_estimate, first_batches, timed  # noqa: E402

EPOCH_TARGET = 3.0
EVAL_TARGET = 10.0
KS = (20, 40)


def build_reference(ours: LightGCL, graph: gcl.data.InteractionGraph) -> ref.OfficialStyleLightGCL:
    """The reference with gcl's SVD factors and a copy of gcl's current parameters."""
    c = ours.config
    model = ref.OfficialStyleLightGCL(
        ref.scipy_csr(graph.train), c.dim, c.num_layers, c.tau, c.lambda1, c.lambda2, c.dropout,
        c.rank, factors=(ours.svd.u, ours.svd.s, ours.svd.v))
    with torch.no_grad():
        model.E_u_0.copy_(ours.user_emb)
        model.E_i_0.copy_(ours.item_emb)
    return model


def parity_check(seed: int = 0) -> dict[str, float]:
    """Same loss and gradients from both sides on a tiny graph (I = 50, J = 60)."""
    rng = np.random.default_rng(seed)
    n_u, n_i = 50, 60
    u = np.concatenate([np.arange(n_u), rng.integers(0, n_u, 400)])
    i = np.concatenate([rng.integers(0, n_i, n_u), rng.integers(0, n_i, 400)])
    graph = gcl.data.InteractionGraph.from_pairs(n_u, n_i, (u, i), (u[:30], (i[:30] + 1) % n_i))
    out = {}
    for lambda2 in (0.0, 1e-3):
        config = LightGCLConfig.for_dataset("gowalla", {"preset": "repo", "lambda2": lambda2})
        ours = LightGCL.from_graph(graph, config)
        base = build_reference(ours, graph)
        users, pos = (t[:64] for t in graph.train_pairs())
        neg = torch.from_numpy(rng.integers(0, n_i, users.numel()))
        loss_ours, _ = ours.loss(users, pos, neg)
        loss_ref, _, _ = base(users, torch.cat([pos, neg]), pos, neg)
        loss_ours.backward()
        loss_ref.backward()
        diff = abs(float(loss_ours.detach()) - float(loss_ref.detach()))
        grad = max(float((ours.user_emb.grad - base.E_u_0.grad).abs().max()),
                   float((ours.item_emb.grad - base.E_i_0.grad).abs().max()))
        if diff > 1e-4 * max(1.0, abs(float(loss_ref))) or grad > 1e-5:
            raise RuntimeError(f"reference and gcl disagree (lambda2={lambda2}): loss "
                               f"{float(loss_ours)} vs {float(loss_ref)}, max grad diff {grad}")
        out[f"lambda2={lambda2:g}"] = {"loss_gcl": float(loss_ours.detach()),
                                       "loss_reference": float(loss_ref.detach()),
                                       "abs_diff": diff, "max_grad_diff": grad}
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="gowalla")
    p.add_argument("--subsample-users", type=int, default=0, help="0: the whole graph")
    add_timing_arguments(p, small=1, batches=3)
    p.add_argument("--eval-repeats", type=int, default=2)
    p.add_argument("--skip-train", action="store_true")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "speed_lightgcl.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load_start = os.getloadavg()

    parity = parity_check()
    print("parity:", json.dumps(parity), flush=True)

    graph = gcl.data.load(args.dataset)
    if args.subsample_users:
        graph = subsample_users(graph, args.subsample_users, seed=0)
    config = LightGCLConfig.for_dataset(args.dataset, {"preset": "repo"})
    ours = LightGCL.from_graph(graph, config)
    base = build_reference(ours, graph)
    print(graph, f"\nreference per-entry normalisation {base.normalize_seconds:.1f} s, gcl SVD "
          f"{ours.svd_seconds:.2f} s", flush=True)

    # --- evaluation: same parameters on both sides ---------------------------------------
    excluded = ref.scipy_csr(graph.seen_before("test"))
    truth = ref.scipy_csr(graph.test)
    eval_runs: dict[str, list[float]] = {"reference": [], "reference_ranking": [], "gcl": []}
    metrics: dict[str, dict[str, float]] = {}
    for rep in range(args.eval_repeats):
        for side in (("reference", "gcl") if rep % 2 == 0 else ("gcl", "reference")):
            if side == "gcl":
                t0 = time.perf_counter()
                metrics["gcl"] = cf.evaluate(ours, graph, "test", ks=KS)
                eval_runs["gcl"].append(time.perf_counter() - t0)
            else:
                t0 = time.perf_counter()
                parts: dict[str, float] = {}
                metrics["reference"] = ref.evaluate(base, excluded, truth, ks=KS, timings=parts)
                eval_runs["reference"].append(time.perf_counter() - t0)
                eval_runs["reference_ranking"].append(parts["ranking_s"])
            print(f"eval rep {rep} {side}: {eval_runs[side][-1]:.1f} s", flush=True)
    for key in metrics["reference"]:
        if abs(metrics["reference"][key] - metrics["gcl"][key]) > 1e-4:
            raise RuntimeError(f"evaluation differs on {key}: reference {metrics['reference'][key]} "
                               f"vs gcl {metrics['gcl'][key]}")
    ev = {k: statistics.median(v) for k, v in eval_runs.items()}
    evaluation = {"gcl_s": ev["gcl"], "reference_s": ev["reference"],
                  "reference_ranking_only_s": ev["reference_ranking"],
                  "speedup": ev["reference"] / ev["gcl"],
                  "speedup_vs_ranking_only": ev["reference_ranking"] / ev["gcl"],
                  "target_met": ev["reference"] / ev["gcl"] >= EVAL_TARGET,
                  "metrics_gcl": metrics["gcl"], "metrics_reference": metrics["reference"],
                  "runs_s": eval_runs}
    print(f"evaluation: reference {ev['reference']:.1f} s (ranking only {ev['reference_ranking']:.1f} s), "
          f"gcl {ev['gcl']:.2f} s -> {evaluation['speedup']:.1f}x", flush=True)

    # --- training epoch -------------------------------------------------------------------
    training: dict[str, Any] | None = None
    if not args.skip_train:
        bs = config.batch_size
        batches_per_epoch = math.ceil(graph.n_train / bs)
        loader = ref.make_loader(ref.scipy_csr(graph.train), bs)
        ref_opt = torch.optim.Adam(base.parameters(), lr=config.lr)
        opt = ours.make_optimizer()
        gen = torch.Generator().manual_seed(0)
        neg_loop_s = timed(loader.dataset.neg_sampling)

        def run(side: str, n: int) -> float:
            if side == "reference":
                return timed(lambda: ref.train_epoch(base, ref_opt, loader, max_batches=n))
            with first_batches(n):
                return timed(lambda: cf.train_epoch(ours, opt, graph, bs, gen))

        runs = {s: {str(n): [] for n in (args.small, args.batches)} for s in ("reference", "gcl")}
        for side in ("reference", "gcl"):
            run(side, 1)  # warm-up
        for rep in range(args.repeats):
            for n in (args.small, args.batches):
                for side in (("reference", "gcl") if rep % 2 == 0 else ("gcl", "reference")):
                    runs[side][str(n)].append(run(side, n))
                    print(f"train rep {rep} {side:9s} batches={n}: {runs[side][str(n)][-1]:.2f} s", flush=True)
        est = {s: epoch_estimate(runs[s], args.small, args.batches, batches_per_epoch) for s in runs}
        ratio = est["reference"]["epoch_s"] / est["gcl"]["epoch_s"]
        training = {**est, "batches_per_epoch": batches_per_epoch, "speedup": ratio,
                    "per_batch_speedup": est["reference"]["per_batch_s"] / est["gcl"]["per_batch_s"],
                    "reference_negative_loop_s": neg_loop_s, "target_met": ratio >= EPOCH_TARGET}
        print(f"epoch: reference {est['reference']['epoch_s']:.0f} s, gcl {est['gcl']['epoch_s']:.0f} s "
              f"-> {ratio:.2f}x (per batch {training['per_batch_speedup']:.2f}x)", flush=True)

    out = {
        "title": "LightGCL: gcl vs an official-style implementation (epoch and full-ranking evaluation)",
        "command": "GCL_DATA=/work/shared/datasets .venv/bin/python benchmarks/rec/speed_lightgcl.py "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
        "dataset": {"name": args.dataset, "subsample_users": args.subsample_users or None,
                    "users": graph.n_users, "items": graph.n_items, "train": graph.n_train,
                    "valid": graph.n_valid, "test": graph.n_test, "split_hash": split_hash(graph)},
        "config": config.to_dict(),
        "parity": parity,
        "preprocessing_s": {"reference_per_entry_normalisation": base.normalize_seconds,
                            "gcl_svd": ours.svd_seconds},
        "timing": (f"training: each side's epoch function on the first {args.small} and {args.batches} "
                   f"batches of its own loader, per-batch = slope, epoch = set-up + batches x slope, "
                   f"median of {args.repeats} interleaved repeats after a warm-up; evaluation: whole "
                   f"test split (K = {', '.join(map(str, KS))}), median of {args.eval_repeats} "
                   "interleaved runs; the reference's ranking part (propagation, scores, dense "
                   "mask, argsort) is timed inside the same runs, the rest is its per-user metric "
                   "loop"),
        "evaluation": evaluation,
        "training": training,
        "torch_threads": args.threads,
        "load_average_start": list(load_start),
        "load_average": list(os.getloadavg()),
        "device": "cpu",
        "versions": {"torch": torch.__version__, "numpy": np.__version__,
                     "scipy": sp.__name__ and __import__("scipy").__version__,
                     "python": platform.python_version()},
        "targets": {"epoch": EPOCH_TARGET, "evaluation": EVAL_TARGET},
    }
    with atomic_write(Path(args.out), "w") as fh:
        fh.write(json.dumps(out, indent=2))
    print(args.out)
    return out


if __name__ == "__main__":
    main()
