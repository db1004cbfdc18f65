"""The ``gcl`` command.

    gcl bench METHOD --dataset NAME [--epochs N] [--device cpu|cuda|auto] [--seed S]
                     [--out DIR] [--config FILE] [--resume] [--quiet] [--root DIR]
                     [--pretrain-corpus CSVS] [--pretrain-epochs N] [--finetune-seeds K]
                     [--finetune-epochs N]        (molecular methods)
    gcl datasets [--root DIR]

Under ``torchrun --nproc_per_node W -m gcl.cli bench ...`` the W processes train together
(DistributedDataParallel; gloo on the CPU, NCCL on GPUs) and rank 0 alone writes the results.

Exit codes: 0 success; 1 a run failed (bad data file, NaN loss, unreadable checkpoint: the
message names the cause); 2 bad usage (unknown method or dataset, bad option).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gcl", description="Graph and recommender contrastive learning")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("bench", help="train and evaluate a method on a dataset")
    b.add_argument("method", help="method to run (an unknown name prints the valid ones)")
    b.add_argument("--dataset", required=True, help="dataset name (see `gcl datasets`)")
    b.add_argument("--epochs", type=int, default=None, help="override the method's epoch count")
    b.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", default=None, help="output directory (default runs/METHOD-DATASET-sSEED)")
    b.add_argument("--config", default=None, help="JSON or TOML file of method hyper-parameters")
    b.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument("--root", default=None, help="data root (default: $GCL_DATA, then bundled datasets/)")
    mol = b.add_argument_group("molecular pre-training (graphcl, dsla, mol-scratch)")
    mol.add_argument("--pretrain-corpus", default=None,
                     help="SMILES CSVs of the pre-training corpus, comma-separated (default: moleculenet/*.csv)")
    mol.add_argument("--pretrain-epochs", type=int, default=None, help="pre-training epochs (as --epochs)")
    mol.add_argument("--finetune-seeds", type=int, default=None, help="fine-tuning seeds 0..K-1 (default 10)")
    mol.add_argument("--finetune-epochs", type=int, default=None, help="fine-tuning epochs (default 100)")

    d = sub.add_parser("datasets", help="list known datasets and where they are")
    d.add_argument("--root", default=None, help="data root to inspect instead of the defaults")
    return p


def _fail(code: int, message: str) -> int:
    print(f"gcl: error: {message}", file=sys.stderr)
    return code


def _bench(args: argparse.Namespace) -> int:
    from gcl.bench import BenchRequest, BenchUsageError, check_request, run_benchmark
    from gcl.cli.config_file import ConfigFileError, read_config
    from gcl.data import DatasetError, OptionalDependencyError, UnknownDatasetError
    from gcl.train import CheckpointError, NonFiniteLossError
    from gcl.train.distributed import distributed_session, is_main_process, launched_by_torchrun

    out = Path(args.out) if args.out else Path("runs") / f"{args.method}-{args.dataset}-s{args.seed}"
    try:
        overrides = read_config(args.config) if args.config else {}
    except ConfigFileError as exc:
        return _fail(2, str(exc))
    for flag, key in (("pretrain_corpus", "pretrain_corpus"), ("pretrain_epochs", "epochs"),
                      ("finetune_seeds", "finetune_seeds"), ("finetune_epochs", "finetune_epochs")):
        if getattr(args, flag, None) is not None:  # molecular flags become config keys
            overrides[key] = getattr(args, flag)
    req = BenchRequest(method=args.method, dataset=args.dataset, out_dir=out, epochs=args.epochs,
                       device=args.device, seed=args.seed, root=args.root, overrides=overrides,
                       resume=args.resume, quiet=args.quiet)
    try:
        check_request(req)
    except BenchUsageError as exc:
        return _fail(2, str(exc))
    try:
        with distributed_session(req.device) as device:  # under torchrun: one process per rank
            if launched_by_torchrun():
                req.device = str(device)  # this rank's device (cuda:LOCAL_RANK for cuda/auto)
            record = run_benchmark(req)
    except UnknownDatasetError as exc:
        return _fail(2, str(exc))
    except (ValueError, KeyError) as exc:
        if isinstance(exc, (DatasetError,)):
            return _fail(1, str(exc))
        return _fail(2, str(exc))
    except (CheckpointError, NonFiniteLossError, OSError) as exc:
        return _fail(1, str(exc))
    except OptionalDependencyError as exc:  # one line: what to install
        return _fail(1, str(exc))
    if not is_main_process():
        return 0  # rank 0 reports
    m = record["metrics"]
    shown = ", ".join(f"{k}={v:.4f}" for k, v in m.items() if isinstance(v, float))
    print(f"{args.method} on {args.dataset}: {shown} (selected epoch {record['selected_epoch']}, "
          f"{record['timings']['wall_s']:.1f} s) -> {out / 'result.json'}")
    return 0


def _datasets(args: argparse.Namespace) -> int:
    from gcl.data import available, data_roots

    roots = data_roots(args.root)
    print("data roots searched: " + (", ".join(str(r) for r in roots) or "(none)"))
    rows = available(args.root)
    width = max((len(r.name) for r in rows), default=4)
    for r in rows:
        where = str(r.path) if r.path is not None else "(not found)"
        print(f"{r.name:<{width}}  {r.kind:<12}  {where}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "bench":
        return _bench(args)
    return _datasets(args)


if __name__ == "__main__":
    sys.exit(main())
