"""Training speed on Beauty: gcl's SASRec against RecBole 1.2.1's ``SASRec``, and gcl's MCLRec
against gcl's SASRec, in one process.

Equal model size on every side (the issue's speed setting): 2 blocks, 2 heads, d 64, FFN 256,
max length 50, batch 256, GELU, hidden and attention dropout 0.5, LayerNorm eps 1e-12, full-softmax
cross-entropy over all items (RecBole ``loss_type: CE``, ``train_neg_sample_args: ~``), Adam lr 1e-3.
RecBole reads the same sequences from the ``.inter`` file written by
:func:`gcl.rec.recbole.sequences.write_sequence_inter` and must find the same 131,413 training
prefixes. gcl's MCLRec uses Beauty's λ 0, β 0.05 with the regulariser (three steps per batch).

Two measurements, both interleaved (sides in alternating / rotated order), medians:

1. **step** (the model's own cost): the same ``--max-batches`` training batches, taken from
   RecBole's loader, are given to every side; per batch and side one training step is timed:
   RecBole's ``Trainer._train_epoch`` on that one batch (``calculate_loss``, backward, Adam step),
   gcl's ``method.train_step`` (SASRec: CE, backward, Adam step; MCLRec: the three steps) on
   the same examples converted to gcl's left padding (conversion included). Median over batches.
2. **epoch** (with each side's own data loading): RecBole's ``Trainer._train_epoch`` on its
   own loader against :func:`gcl.methods.seq_training.train_epoch` on gcl's ``PrefixLoader``,
   each cut after ``--small`` and ``--batches`` batches (per-batch = slope, set-up = intercept,
   epoch = set-up + 514 x per-batch; :mod:`_timing`), median of ``--repeats``; or whole epochs
   with ``--full-epoch``.

Run with the ``[rec]`` environment (a few minutes with the defaults on one CPU thread)::

    .venv-rec/bin/python benchmarks/rec/speed_seqrec_recbole.py
    .venv-rec/bin/python benchmarks/rec/speed_seqrec_recbole.py --max-batches 20 --batches 10 --repeats 5

Writes ``benchmarks/results/speed_seqrec_recbole.json`` (render with ``benchmarks/results_md.py``).
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from gcl.data import load  # noqa: E402
from gcl.methods.mclrec import MCLRec, MCLRecConfig  # noqa: E402
from gcl.methods.sasrec import SASRec, SASRecConfig  # noqa: E402
from gcl.methods.seq_training import train_epoch  # noqa: E402
from gcl.rec.recbole.compat import recbole_workdir  # noqa: E402
from gcl.rec.recbole.mclrec import SEQREC_RECBOLE_CONFIG  # noqa: E402  (imports RecBole)
from gcl.rec.recbole.sequences import sequence_data_config, write_sequence_inter  # noqa: E402
from gcl.utils import seed_everything  # noqa: E402
from gcl.views.sequence import right_to_left_padding  # noqa: E402

sys.path.insert(0, str(HERE))
import _timing  # noqa: E402
from _timing import FirstBatches, epoch_estimate, timed  # noqa: E402

TARGET = 3.0
#: gcl's names of the shared model size
SIZE = dict(dim=64, num_layers=2, heads=2, ffn_dim=256, max_len=50, batch_size=256,
            hidden_dropout=0.5, attn_dropout=0.5, layer_norm_eps=1e-12, init_std=0.02, lr=1e-3)
#: the same settings under RecBole's SASRec names
RECBOLE_SIZE = dict(hidden_size=64, n_layers=2, n_heads=2, inner_size=256, MAX_ITEM_LIST_LENGTH=50,
                    train_batch_size=256, hidden_dropout_prob=0.5, attn_dropout_prob=0.5,
                    hidden_act="gelu", layer_norm_eps=1e-12, initializer_range=0.02,
                    learning_rate=1e-3, loss_type="CE")
SIDES = ("recbole", "sasrec", "mclrec")


def build_recbole(work: Path, data: Any, seed: int) -> dict[str, Any]:
    """RecBole's SASRec, its trainer and its training loader on the converted sequences."""
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    write_sequence_inter(data, work / "data", "beauty")
    values = {**SEQREC_RECBOLE_CONFIG, **sequence_data_config(work / "data", "beauty"), **RECBOLE_SIZE,
              "checkpoint_dir": str(work / "saved"), "device": "cpu", "use_gpu": False, "seed": seed}
    with recbole_workdir(work), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        config = Config(model="SASRec", config_dict=values)
        init_seed(config["seed"], config["reproducibility"])
        dataset = create_dataset(config)
        train_data, _, _ = data_preparation(config, dataset)
        load_s = time.perf_counter() - t0
        model = get_model("SASRec")(config, train_data.dataset)
        trainer = get_trainer(config["MODEL_TYPE"], "SASRec")(config, model)
    return {"trainer": trainer, "model": model, "train_data": train_data, "load_s": load_s,
            "n_train": len(train_data.dataset), "n_items": dataset.item_num}


def build_ours(n_items: int, seed: int) -> dict[str, Any]:
    """gcl's SASRec and MCLRec with their optimisers and view generators."""
    out = {}
    for name, cls, cfg_cls in (("sasrec", SASRec, SASRecConfig), ("mclrec", MCLRec, MCLRecConfig)):
        seed_everything(seed)
        model = cls(n_items, cfg_cls.for_dataset("beauty", dict(SIZE))).train()
        out[name] = {"model": model, "optimizers": model.make_optimizers(),
                     "generator": torch.Generator().manual_seed(seed + 1)}
    return out


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="beauty")
    p.add_argument("--root", default=None, help="data root (default: $GCL_DATA, then bundled datasets/)")
    p.add_argument("--max-batches", type=int, default=10, help="batches of the step measurement")
    _timing.add_timing_arguments(p, small=1, batches=5)
    p.add_argument("--full-epoch", action="store_true", help="epoch measurement on whole epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "speed_seqrec_recbole.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_start = list(os.getloadavg())

    data = load(args.dataset, root=args.root, max_len=SIZE["max_len"])
    work = Path(tempfile.mkdtemp(prefix="gcl-seqrec-recbole-"))
    rb = build_recbole(work, data, args.seed)
    torch.set_num_threads(args.threads)
    if rb["n_train"] != data.n_train_examples or rb["n_items"] != data.n_items + 1:
        raise RuntimeError(f"RecBole sees {rb['n_train']} prefixes / {rb['n_items']} items, gcl "
                           f"{data.n_train_examples} / {data.n_items + 1}")
    ours = build_ours(data.n_items, args.seed)
    loader = data.train_loader(batch_size=SIZE["batch_size"], generator=torch.Generator().manual_seed(args.seed))
    batches_per_epoch = len(loader)
    trainer = rb["trainer"]
    epoch_idx = itertools.count()

    def recbole_epoch(batches: Any) -> None:
        with recbole_workdir(work), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer._train_epoch(batches, next(epoch_idx))

    # ---- 1. step: the same batches on every side
    step_batches = list(itertools.islice(iter(rb["train_data"]), 2 + args.max_batches))

    def step(side: str, inter: Any) -> float:
        if side == "recbole":
            return timed(lambda: recbole_epoch([inter]))
        o = ours[side]

        def one() -> None:
            seqs = right_to_left_padding(inter["item_id_list"], inter["item_length"])
            o["model"].train_step(seqs, inter["item_id"], o["optimizers"], o["generator"])
        return timed(one)

    for inter in step_batches[:2]:                     # warm-up, not recorded
        for side in SIDES:
            step(side, inter)
    step_times: dict[str, list[float]] = {s: [] for s in SIDES}
    for i, inter in enumerate(step_batches[2:]):
        for side in SIDES[i % 3:] + SIDES[: i % 3]:
            step_times[side].append(step(side, inter))
        print(f"step batch {i}: " + "  ".join(f"{s} {step_times[s][-1]:.3f} s" for s in SIDES), flush=True)
    step_med = {s: statistics.median(v) for s, v in step_times.items()}

    # ---- 2. epoch: each side with its own loader
    counts = [None] if args.full_epoch else [args.small, args.batches]

    def epoch_fn(side: str, n: int | None) -> Callable[[], Any]:
        if side == "recbole":
            return lambda: recbole_epoch(FirstBatches(rb["train_data"], n))
        o = ours[side]
        return lambda: train_epoch(o["model"], loader, o["optimizers"], o["generator"], max_batches=n)

    epoch_times: dict[str, dict[str, list[float]]] = {s: {str(n): [] for n in counts} for s in SIDES}
    for rep in range(args.repeats):
        for n in counts:
            for side in (SIDES if rep % 2 == 0 else SIDES[::-1]):
                t = timed(epoch_fn(side, n))
                epoch_times[side][str(n)].append(t)
                print(f"rep {rep} {side:7s} batches={n or 'all'}: {t:.2f} s", flush=True)
    n1, n2 = (None, None) if args.full_epoch else (args.small, args.batches)
    epoch = {s: epoch_estimate(epoch_times[s], n1, n2, batches_per_epoch) for s in SIDES}

    speedup = epoch["recbole"]["epoch_s"] / epoch["sasrec"]["epoch_s"]
    results = {
        "step": {s: {"per_batch_s": step_med[s], "times_s": step_times[s]} for s in SIDES},
        "epoch": epoch,
        "speedup_epoch": speedup,
        "speedup_step": step_med["recbole"] / step_med["sasrec"],
        "mclrec_vs_sasrec_epoch": epoch["mclrec"]["epoch_s"] / epoch["sasrec"]["epoch_s"],
        "mclrec_vs_sasrec_step": step_med["mclrec"] / step_med["sasrec"],
        "target_met": speedup >= TARGET,
    }
    print(f"SASRec epoch: RecBole {epoch['recbole']['epoch_s']:.1f} s, gcl {epoch['sasrec']['epoch_s']:.1f} s "
          f"-> {speedup:.2f}x (target >= {TARGET:g}x: {'met' if speedup >= TARGET else 'MISSED'}); "
          f"step {results['speedup_step']:.2f}x; gcl MCLRec / SASRec epoch "
          f"{results['mclrec_vs_sasrec_epoch']:.2f}x", flush=True)

    import numpy
    import recbole
    record = {
        "title": "Training speed on Beauty: gcl SASRec vs RecBole 1.2.1 SASRec; gcl MCLRec vs gcl SASRec",
        "command": ".venv-rec/bin/python benchmarks/rec/speed_seqrec_recbole.py "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
        "dataset": {"name": data.name, "users": data.n_users, "items": data.n_items,
                    "train_prefixes": data.n_train_examples, "recbole_items_incl_pad": rb["n_items"]},
        "settings": {**SIZE, "loss": "full-softmax CE over all items", "optimizer": "Adam",
                     "batches_per_epoch": batches_per_epoch, "mclrec": "beauty: cl_lambda 0, cl_beta 0.05, "
                     "regulariser on, three steps per batch",
                     "params": {"recbole": n_params(rb["model"]), "sasrec": n_params(ours["sasrec"]["model"]),
                                "mclrec": n_params(ours["mclrec"]["model"])}},
        "timing": {
            "step": f"the same {args.max_batches} batches of RecBole's loader on every side after 2 warm-up "
                    "batches, rotated order; one training step per batch and side (RecBole: "
                    "Trainer._train_epoch on the batch; gcl: method.train_step after converting to left "
                    "padding); median",
            "epoch": _timing.epoch_timing_text(args.full_epoch, args.small, args.batches, batches_per_epoch,
                                       args.repeats),
        },
        "timed_functions": {"recbole": "recbole.trainer.Trainer._train_epoch with RecBole's SASRec",
                            "sasrec": "gcl.methods.seq_training.train_epoch(SASRec) on PrefixLoader",
                            "mclrec": "gcl.methods.seq_training.train_epoch(MCLRec) on PrefixLoader"},
        "autograd_anomaly_mode": torch.is_anomaly_enabled(),
        "note": "RecBole 1.2.1 switches autograd anomaly detection on for the whole process when its "
                "sequential models are imported (sine.py); gcl.rec.recbole.compat.keep_anomaly_mode "
                "(applied by import_recbole) keeps it off, so both sides run without it",
        "recbole_load_s": rb["load_s"],
        "torch_threads": args.threads,
        "load_average": {"start": load_start, "end": list(os.getloadavg())},
        "device": "cpu",
        "versions": {"torch": torch.__version__, "recbole": recbole.__version__, "numpy": numpy.__version__,
                     "python": platform.python_version()},
        "target_speedup": TARGET,
        "results": results,
    }
    _timing.write_record(args.out, record)
    return record


if __name__ == "__main__":
    main()
