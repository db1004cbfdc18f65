"""Training-epoch speed: gcl's LightGCN and SGL against RecBole 1.2.1's, side by side.

One process, one Gowalla split (LightGCN split, validation carved from train), the same
hyper-parameters on both sides: d 64, 3 layers, batch 2048, BPR with one uniform negative per
positive, Adam lr 1e-3, L2 1e-4; SGL edge dropout (ED) ratio 0.1, τ 0.2, λ_ssl 0.1 (the SGL
spec's Yelp2018 row), InfoNCE over all users / all items on both sides. RecBole reads the
same split from atomic files written by :func:`gcl.rec.recbole.atomic.write_interaction_splits`.

What is timed, per side and model:

* RecBole: its trainer's ``_train_epoch`` (``model.train()``, which redraws SGL's two views,
  then its data loader with per-batch negative sampling, loss, backward, Adam step);
* gcl: :func:`gcl.methods.cf.train_epoch` (``begin_epoch``, which redraws SGL's views, the
  epoch's shuffle and negatives, loss, backward, Adam step).

A whole Gowalla epoch takes minutes on a CPU, so by default each epoch function is run on
the first ``n`` batches of its own loader (RecBole's loader and gcl's ``bpr_batches`` cut
after ``n`` batches; the epoch's set-up still runs once), for ``n = --small`` and
``n = --batches``. The per-batch time is the slope ``(T(n2) - T(n1)) / (n2 - n1)``, the
epoch set-up the intercept, and the epoch estimate ``set-up + batches_per_epoch × per-batch``.
``--full-epoch`` times whole epochs instead. Runs are interleaved (model, batch count, side
in alternating order) and every figure is the median over ``--repeats``.

Run with the ``[rec]`` environment::

    GCL_DATA=/work/shared/datasets .venv-rec/bin/python benchmarks/rec/speed_recbole.py
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

import gcl.data  # noqa: E402
from gcl.methods import cf  # noqa: E402
from gcl.methods.lightgcn import LightGCN, LightGCNConfig  # noqa: E402
from gcl.methods.sgl import SGL, SGLConfig  # noqa: E402
from gcl.rec.recbole.atomic import recbole_split_config, write_interaction_splits  # noqa: E402
from gcl.rec.recbole.compat import import_recbole, recbole_workdir  # noqa: E402

sys.path.insert(0, str(HERE))
from _timing import (  # noqa: E402
    FirstBatches,
    add_timing_arguments,
    epoch_estimate,
    epoch_timing_text,
    first_batches,
    timed,
    write_record,
)

TARGET = 3.0
SHARED = dict(dim=64, num_layers=3, batch_size=2048, lr=1e-3, reg_weight=1e-4)
SGL_SETTINGS = dict(aug="ed", ratio=0.1, tau=0.2, ssl_weight=0.1, negatives="all")


def build_recbole(root: Path, name: str) -> dict[str, Any]:
    """RecBole's data loader and a trainer per model, on the atomic files under ``root``."""
    import_recbole()
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    base = dict(recbole_split_config(root, name), device="cpu", use_gpu=False, state="ERROR",
                checkpoint_dir=str(root / "saved"), show_progress=False, seed=0,
                reproducibility=True, train_batch_size=SHARED["batch_size"],
                learning_rate=SHARED["lr"], embedding_size=SHARED["dim"],
                n_layers=SHARED["num_layers"], reg_weight=SHARED["reg_weight"],
                train_neg_sample_args={"distribution": "uniform", "sample_num": 1,
                                       "alpha": 1.0, "dynamic": False, "candidate_num": 0},
                weight_decay=0.0, log_wandb=False, save_dataset=False, save_dataloaders=False)
    sgl_extra = dict(type="ED", drop_ratio=SGL_SETTINGS["ratio"], ssl_tau=SGL_SETTINGS["tau"],
                     ssl_weight=SGL_SETTINGS["ssl_weight"])
    out: dict[str, Any] = {}
    with recbole_workdir(root), warnings.catch_warnings():  # Config parses sys.argv; logs go to cwd
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        config = Config(model="LightGCN", config_dict=base)
        init_seed(config["seed"], config["reproducibility"])
        dataset = create_dataset(config)
        train_data, _, _ = data_preparation(config, dataset)
        out["load_s"] = time.perf_counter() - t0
        out["train_data"] = train_data
        out["n_train"] = len(train_data.dataset)
        for model, extra in (("LightGCN", {}), ("SGL", sgl_extra)):
            cfg = config if model == "LightGCN" else Config(model=model, config_dict={**base, **extra})
            torch.set_num_threads(torch.get_num_threads())  # Config may not touch threads
            net = get_model(model)(cfg, train_data.dataset)
            out[model] = get_trainer(cfg["MODEL_TYPE"], model)(cfg, net)
    return out


def build_ours(graph: gcl.data.InteractionGraph) -> dict[str, Any]:
    lg = LightGCN.from_graph(graph, LightGCNConfig.for_dataset("gowalla", dict(SHARED)))
    sgl = SGL.from_graph(graph, SGLConfig.for_dataset("gowalla", {**SHARED, **SGL_SETTINGS}))
    return {"LightGCN": (lg, lg.make_optimizer()), "SGL": (sgl, sgl.make_optimizer())}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="gowalla")
    add_timing_arguments(p, small=1, batches=5)
    p.add_argument("--full-epoch", action="store_true", help="time whole epochs instead")
    p.add_argument("--models", default="LightGCN,SGL")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "speed_recbole.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    models = [m.strip() for m in args.models.split(",") if m.strip()]

    graph = gcl.data.load(args.dataset)
    gen = torch.Generator().manual_seed(0)
    work = Path(tempfile.mkdtemp(prefix="gcl-recbole-"))
    write_interaction_splits(graph, work, "gowalla")
    rb = build_recbole(work, "gowalla")
    torch.set_num_threads(args.threads)
    ours = build_ours(graph)
    if rb["n_train"] != graph.n_train:
        raise RuntimeError(f"RecBole sees {rb['n_train']} training interactions, gcl {graph.n_train}")
    batches_per_epoch = math.ceil(graph.n_train / SHARED["batch_size"])
    counts = [None] if args.full_epoch else [args.small, args.batches]

    epoch_idx = itertools.count()

    def run(side: str, model: str, n: int | None) -> float:
        if side == "recbole":
            trainer = rb[model]
            with recbole_workdir(work), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return timed(lambda: trainer._train_epoch(FirstBatches(rb["train_data"], n),
                                                           next(epoch_idx)))
        net, opt = ours[model]
        with first_batches(n):
            return timed(lambda: cf.train_epoch(net, opt, graph, SHARED["batch_size"], gen))

    times: dict[str, dict[str, dict[str, list[float]]]] = {
        m: {s: {str(n): [] for n in counts} for s in ("recbole", "gcl")} for m in models}
    for m in models:  # warm-up (allocator, first sparse products), not recorded
        for side in ("recbole", "gcl"):
            run(side, m, 1 if not args.full_epoch else 1)
    for rep in range(args.repeats):
        for m in models:
            for n in counts:
                sides = ("recbole", "gcl") if rep % 2 == 0 else ("gcl", "recbole")
                for side in sides:
                    t = run(side, m, n)
                    times[m][side][str(n)].append(t)
                    print(f"rep {rep} {m:8s} {side:7s} batches={n or 'all'}: {t:.2f} s", flush=True)

    results: dict[str, Any] = {}
    for m in models:
        n1, n2 = (None, None) if args.full_epoch else (args.small, args.batches)
        per_side = {side: epoch_estimate(times[m][side], n1, n2, batches_per_epoch)
                    for side in ("recbole", "gcl")}
        ratio = per_side["recbole"]["epoch_s"] / per_side["gcl"]["epoch_s"]
        results[m] = {**per_side, "speedup": ratio,
                      "per_batch_speedup": per_side["recbole"]["per_batch_s"] / per_side["gcl"]["per_batch_s"],
                      "target_met": ratio >= TARGET}
        print(f"{m}: RecBole {per_side['recbole']['epoch_s']:.1f} s/epoch, gcl "
              f"{per_side['gcl']['epoch_s']:.1f} s/epoch -> {ratio:.2f}x (target >= {TARGET:g}x: "
              f"{'met' if ratio >= TARGET else 'MISSED'})", flush=True)

    import numpy, recbole, scipy  # noqa: E401
    out = {
        "title": "Training epoch time: gcl vs RecBole 1.2.1 (LightGCN, SGL)",
        "command": "GCL_DATA=/work/shared/datasets .venv-rec/bin/python benchmarks/rec/speed_recbole.py "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
        "dataset": {"name": args.dataset, "users": graph.n_users, "items": graph.n_items,
                    "train": graph.n_train, "valid": graph.n_valid, "test": graph.n_test,
                    "valid_origin": graph.valid_origin},
        "settings": {**SHARED, "negatives_per_positive": 1, "optimizer": "Adam",
                     "sgl": SGL_SETTINGS, "batches_per_epoch": batches_per_epoch},
        "timing": epoch_timing_text(args.full_epoch, args.small, args.batches, batches_per_epoch,
                                    args.repeats) + " after one warm-up call; evaluation excluded",
        "timed_functions": {"recbole": "Trainer._train_epoch (model.train() redraws SGL views; "
                                       "data loader with per-batch negative sampling)",
                            "gcl": "gcl.methods.cf.train_epoch (begin_epoch redraws SGL views; "
                                   "shuffle + negatives once per epoch)"},
        "recbole_load_s": rb["load_s"],
        "torch_threads": args.threads,
        "load_average": list(os.getloadavg()),
        "device": "cpu",
        "versions": {"torch": torch.__version__, "recbole": recbole.__version__,
                     "numpy": numpy.__version__, "scipy": scipy.__version__,
                     "python": platform.python_version()},
        "target_speedup": TARGET,
        "models": results,
    }
    write_record(args.out, out)
    return out


if __name__ == "__main__":
    main()
