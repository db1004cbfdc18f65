"""Quality parity: the RecBole-adapter model (gcl.rec.recbole) against the same gcl model trained
standalone (benchmarks/rec/run_mclrec.py's loop), same data, same settings, several seeds each.

Data: the first ``--users`` lines of a one-line-per-user file with the items renumbered
``1..n`` in order of first appearance, written as its own dataset, so that both sides rank the
same catalogue (RecBole keeps only the items that occur; the standalone loader ranks every id
up to the largest). Both sides: leave-one-out, full ranking over all items, history not
masked, validation MRR@10 every epoch, the best epoch restored, test evaluated once; early
stopping after ``--patience`` epochs without a gain (gcl: a strictly better score resets it;
RecBole: an equal score resets it too, and it stops one epoch later). The native side's
per-epoch time is training only; RecBole's (wall time / epochs) includes its validation.

Verdict per metric: the two means are "within noise" when ``|m_native − m_recbole| <= 2 SE``,
``SE = sqrt(s_native² / n + s_recbole² / n)`` (sample std over seeds).

    GCL_DATA=/work/shared/datasets python benchmarks/rec/recbole_parity.py --method mclrec \\
        --users 3000 --seeds 0 1 2 --epochs 30 --threads 1

The two sides can run as two processes (``--sides native`` and ``--sides recbole`` with the
same ``--out``): each side's runs are merged into the file when its settings match.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from gcl.data import DatasetError, UnknownDatasetError, locate  # noqa: E402
from gcl.utils.atomic import atomic_write  # noqa: E402
from run_mclrec import one_seed, summarize  # noqa: E402

RECBOLE_MODELS = {"sasrec": "SASRec", "cl4srec": "CL4SRec", "mclrec": "MCLRec"}
KEYS = ("hr@5", "hr@10", "hr@20", "ndcg@5", "ndcg@10", "ndcg@20", "mrr@10")


def write_slice(source: Path, users: int, target: Path) -> dict[str, int]:
    """The first ``users`` lines of ``source`` with items renumbered by first appearance."""
    lines = source.read_text().splitlines()[:users]
    ids: dict[str, int] = {}
    out = []
    for line in lines:  # data preparation of a benchmark, once
        user, *items = line.split()
        out.append(" ".join([user, *(str(ids.setdefault(i, len(ids) + 1)) for i in items)]))
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target, "w") as fh:
        fh.write("\n".join(out) + "\n")
    return {"users": len(out), "items": len(ids), "actions": sum(len(x.split()) - 1 for x in out)}


def native_run(args: argparse.Namespace, root: Path, name: str, seed: int) -> dict:
    ns = argparse.Namespace(dataset=name, root=str(root), method=args.method, epochs=args.epochs,
                            mask_history=False, set=[f"patience={args.patience}"], users=0, device="cpu")
    t0 = time.perf_counter()
    run = one_seed(ns, seed)
    return {"seed": seed, "test": {k: run["test"][k] for k in KEYS}, "selected_epoch": run["selected_epoch"],
            "epochs_run": run["epochs_run"], "s_per_epoch": run["train_s_per_epoch"],
            "wall_s": time.perf_counter() - t0}


def recbole_run(args: argparse.Namespace, file: Path, name: str, seed: int) -> dict:
    from gcl.rec.recbole.mclrec import run_recbole

    t0 = time.perf_counter()
    run = run_recbole(file, RECBOLE_MODELS[args.method], {"epochs": args.epochs, "stopping_step": args.patience,
                                                          "seed": seed, "device": "cpu"},
                      name=name, work_dir=Path(tempfile.mkdtemp(prefix="gcl-parity-")))
    test = {k.replace("hit@", "hr@"): v for k, v in run.test.items()}
    epochs_run = len(run.trainer.train_loss_dict)
    wall = time.perf_counter() - t0
    # RecBole's early stopping counts the evaluations since the best one in cur_step (eval_step 1)
    return {"seed": seed, "test": {k: test[k] for k in KEYS}, "selected_epoch": epochs_run - run.trainer.cur_step,
            "epochs_run": epochs_run, "s_per_epoch": wall / max(epochs_run, 1), "wall_s": wall}


def verdict(record: dict) -> dict[str, dict]:
    sides = record["sides"]
    if not all(sides.get(s, {}).get("runs") for s in ("native", "recbole")):
        return {}
    a, b = summarize(sides["native"]["runs"]), summarize(sides["recbole"]["runs"])
    na, nb = len(sides["native"]["runs"]), len(sides["recbole"]["runs"])
    out = {}
    for k in KEYS:
        se = math.sqrt(a[k]["std"] ** 2 / na + b[k]["std"] ** 2 / nb)
        diff = a[k]["mean"] - b[k]["mean"]
        out[k] = {"diff": diff, "se": se, "within_noise": abs(diff) <= 2 * se if se > 0 else diff == 0}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="beauty", help="a registered one-line-per-user dataset (beauty, toys, ...)")
    ap.add_argument("--method", default="mclrec", choices=sorted(RECBOLE_MODELS))
    ap.add_argument("--users", type=int, default=3000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=30, help="epoch cap on both sides")
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--sides", nargs="+", default=["native", "recbole"], choices=["native", "recbole"])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--root", default=None, help="data root (default: $GCL_DATA, then bundled datasets/)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.users < 10:
        ap.error(f"--users must be >= 10, got {args.users}")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        source = locate(args.dataset, args.root)
    except (DatasetError, UnknownDatasetError) as exc:
        ap.error(str(exc))
    work = Path(tempfile.mkdtemp(prefix="gcl-parity-data-"))
    name = f"{args.dataset}-u{args.users}"
    file = work / "seqrec" / f"{name}.txt"
    data = write_slice(source, args.users, file)
    settings = {"dataset": args.dataset, "method": args.method, "users": args.users, "epochs": args.epochs,
                "patience": args.patience, "seeds": args.seeds}
    out = Path(args.out or HERE.parent / "results" / f"recbole_parity_{args.method}.json")
    record = json.loads(out.read_text()) if out.is_file() else None
    if record is None or record.get("settings") != settings:
        record = {"title": "RecBole adapter vs standalone", "settings": settings, "sides": {}}
    record.update({"data": data, "device": "cpu", "torch_threads": torch.get_num_threads(),
                   "torch": torch.__version__,
                   "command": "python benchmarks/rec/recbole_parity.py " + " ".join(
                       a for a in sys.argv[1:] if a not in ("native", "recbole", "--sides")),
                   "criterion": "|mean_native - mean_recbole| <= 2 sqrt(s_n^2/n + s_r^2/n), sample std over seeds"})
    for side in args.sides:
        runs = []
        for seed in args.seeds:
            run = native_run(args, work, name, seed) if side == "native" else recbole_run(args, file, name, seed)
            runs.append(run)
            print(f"{side} seed {seed}: " + ", ".join(f"{k} {run['test'][k]:.4f}" for k in KEYS)
                  + f" (epoch {run['selected_epoch']} of {run['epochs_run']}, {run['s_per_epoch']:.1f} s/epoch)",
                  flush=True)
            save_side(out, record, settings, side, runs)  # every finished seed is kept
    report(out)


def save_side(out: Path, record: dict, settings: dict, side: str, runs: list[dict]) -> None:
    """Write ``side``'s runs into ``out``, keeping the other side's runs of the same settings."""
    if out.is_file():  # another process may have written the other side meanwhile
        latest = json.loads(out.read_text())
        if latest.get("settings") == settings:
            record["sides"].update(latest["sides"])
    record["sides"][side] = {"runs": runs, "test_mean_std": summarize(runs)}
    record["verdict"] = verdict(record)
    with atomic_write(out, "w") as fh:
        fh.write(json.dumps(record, indent=2) + "\n")


def report(out: Path) -> None:
    """Print the verdict of the file."""
    record = json.loads(out.read_text())
    for k, v in record.get("verdict", {}).items():
        print(f"{k}: native - recbole = {v['diff']:+.4f} (2 SE {2 * v['se']:.4f}): "
              f"{'within noise' if v['within_noise'] else 'OUTSIDE noise'}")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
