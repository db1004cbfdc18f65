"""Transfer quality of molecular pre-training: no pre-training, GraphCL and D-SLA, fine-tuned on
ogbg-molbace and ogbg-molbbbp (test ROC-AUC, mean +- std over fine-tuning seeds).

    python benchmarks/mol/pretrain_finetune.py [--datasets ogbg-molbace ogbg-molbbbp]
        [--methods scratch graphcl dsla] [--preset full|cpu-scaled] [--device cuda]
        [--pretrain-epochs N] [--finetune-epochs N] [--seeds K] [--corpus-limit N]
        [--emb-dim D] [--num-layers L] [--pretrain-max-batches N] [--threads T] [--run-dir DIR]

Per dataset, the corpus is every ``moleculenet/*.csv`` of the data roots without the dataset's
molecules (:func:`gcl.data.mol_corpus.build_mol_corpus`); each pre-training method is trained
on it once (seed 0; ``gcl.bench.mol.pretrain_encoder``, checkpoints in ``--run-dir`` so an
interrupted pre-training resumes), then every method, ``scratch`` (a fresh encoder of the same
architecture) included, is fine-tuned with seeds ``0..K-1`` by the same code
(:class:`gcl.methods.mol_finetune.MolFinetuner`: scaffold split, selection on validation
ROC-AUC with OGB's Evaluator, test scored after selection). The JSON is rewritten after every
fine-tuning run and finished runs are skipped, so the benchmark continues where it stopped.

Protocols: ``--preset full`` (default; the papers' settings: GIN 5x300, 100 pre-training
epochs, batch 256, 100 fine-tuning epochs, 10 seeds; a GPU run) and ``--preset cpu-scaled``
(width 128, 20 pre-training epochs, 50 fine-tuning epochs, 3 seeds); the other flags shrink
further (smoke runs). The full protocol writes ``benchmarks/results/mol_quality.json``, the
unmodified ``cpu-scaled`` preset ``mol_quality_cpu_scaled.json`` and any other setting
``mol_quality_smoke.json``, unless ``--out`` says otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from gcl.bench.mol import PRETRAIN_METHODS, pretrain_encoder  # noqa: E402
from gcl.data.mol_corpus import build_mol_corpus  # noqa: E402
from gcl.methods.mol_finetune import FinetuneConfig, MolFinetuner, load_target, mean_std  # noqa: E402
from gcl.nn.mol_graph import MolGraphEncoder  # noqa: E402
from gcl.utils.atomic import atomic_write  # noqa: E402

METHODS = ("scratch", "graphcl", "dsla")
#: Literature anchors (ZINC-2M pre-training; secondary copies, unverified): test ROC-AUC %.
ANCHORS = {
    "ogbg-molbace": {"scratch": 70.1, "graphcl": 75.38, "dsla": 83.8},
    "ogbg-molbbbp": {"scratch": 65.8, "graphcl": 69.68, "dsla": 72.6},
}
ANCHOR_SOURCE = ("pretrain-gnns Table 1 (no pre-training), GraphCL transfer table, D-SLA paper "
                 "(all ZINC-2M pre-training, all unverified secondary copies)")


def settings_from(args: argparse.Namespace) -> dict:
    """The protocol actually run: the preset, then the flags."""
    from gcl.methods.mol_pretrain import MolPretrainConfig

    arch = MolPretrainConfig.for_dataset(None, {"preset": args.preset})
    ft = FinetuneConfig.for_preset(args.preset)
    return {
        "preset": args.preset,
        "emb_dim": args.emb_dim or arch.emb_dim,
        "num_layers": args.num_layers or arch.num_layers,
        "pretrain_epochs": args.pretrain_epochs or arch.epochs,
        "pretrain_batch_size": arch.batch_size,
        "pretrain_max_batches": args.pretrain_max_batches,
        "corpus_limit": args.corpus_limit,
        "finetune_epochs": args.finetune_epochs or ft.epochs,
        "finetune_batch_size": ft.batch_size,
        "finetune_lr": ft.lr,
        "finetune_dropout": ft.dropout,
        "seeds": args.seeds or ft.seeds,
    }


def preset_settings(preset: str) -> dict:
    """The settings of ``preset`` with no flag overriding it."""
    return settings_from(argparse.Namespace(preset=preset, emb_dim=None, num_layers=None, pretrain_epochs=None,
                                            pretrain_max_batches=None, corpus_limit=None, finetune_epochs=None,
                                            seeds=None))


def is_full(settings: dict) -> bool:
    return settings == preset_settings("full")


def summarise(entry: dict) -> None:
    """Mean and population std (in %) of the runs of one method on one dataset."""
    runs = entry["runs"]
    for key in ("test", "valid", "test_last"):
        mean, std = mean_std([100 * r[key] for r in runs])
        entry[f"{key}_mean"], entry[f"{key}_std"] = mean, std


def targets(result: dict) -> dict:
    """The issue's targets per dataset, where the three methods are complete."""
    out = {}
    for name, ds in result["datasets"].items():
        m = ds["methods"]
        if not all(k in m and len(m[k]["runs"]) == result["settings"]["seeds"] for k in METHODS):
            continue
        d, s, g = m["dsla"], m["scratch"], m["graphcl"]
        out[name] = {
            "dsla_beats_scratch_by_more_than_std": d["test_mean"] - s["test_mean"] > max(d["test_std"], s["test_std"]),
            "dsla_on_par_with_graphcl": d["test_mean"] >= g["test_mean"] - max(d["test_std"], g["test_std"]),
        }
    return out


def save(path: Path, result: dict) -> None:
    result["targets"] = targets(result)
    with atomic_write(path, "w") as fh:
        fh.write(json.dumps(result, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["ogbg-molbace", "ogbg-molbbbp"])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--preset", default="full", choices=["full", "cpu-scaled"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--pretrain-epochs", type=int, default=None)
    ap.add_argument("--pretrain-max-batches", type=int, default=None, help="batches per pre-training epoch")
    ap.add_argument("--finetune-epochs", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=None, help="fine-tuning seeds 0..K-1")
    ap.add_argument("--corpus-limit", type=int, default=None, help="random subset of the corpus (seed 0)")
    ap.add_argument("--emb-dim", type=int, default=None)
    ap.add_argument("--num-layers", type=int, default=None)
    ap.add_argument("--root", default=None, help="data root (default: $GCL_DATA, then bundled datasets/)")
    ap.add_argument("--run-dir", default="runs/mol_quality", help="pre-training checkpoints and encoders")
    ap.add_argument("--out", default=None)
    ap.add_argument("--fresh", action="store_true", help="discard finished runs in --out")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    settings = settings_from(args)
    full = is_full(settings)
    scaled = settings == preset_settings("cpu-scaled")
    default_name = "mol_quality.json" if full else "mol_quality_cpu_scaled.json" if scaled else "mol_quality_smoke.json"
    out = Path(args.out) if args.out else HERE.parent / "results" / default_name
    result = None
    if out.is_file() and not args.fresh:
        result = json.loads(out.read_text())
        if result.get("settings") != settings:
            sys.exit(f"{out} holds runs of other settings ({result.get('settings')}); pass --fresh or --out")
    if result is None:
        result = {"title": "Molecular pre-training transfer: test ROC-AUC (%) over fine-tuning seeds",
                  "settings": settings, "smoke": not full, "datasets": {},
                  "anchors": ANCHORS, "anchor_source": ANCHOR_SOURCE}
    result.update({
        "command": " ".join(["python benchmarks/mol/pretrain_finetune.py", *sys.argv[1:]]),
        "protocol": "corpus = moleculenet/*.csv without the target's molecules (canonical SMILES + graph "
                    "keys) and bond-less molecules; pre-training seed 0, encoder of the last epoch; "
                    "fine-tuning on OGB's scaffold split, BCE over labelled entries, Adam, dropout 0.5, "
                    "epoch selected on validation ROC-AUC (OGB Evaluator), test scored once after "
                    "selection; mean and population std over seeds",
        "device": str(torch.device(args.device) if args.device != "auto" else
                      ("cuda" if torch.cuda.is_available() else "cpu")),
        "device_name": torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu"
        else platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    })
    device = result["device"]
    run_dir = Path(args.run_dir)
    for name in args.datasets:
        target = load_target(name, args.root)
        ds = result["datasets"].setdefault(name, {"methods": {}})
        corpus = None
        ft = FinetuneConfig.for_preset(settings["preset"], {"epochs": settings["finetune_epochs"],
                                                            "seeds": settings["seeds"]})
        for method in args.methods:
            entry = ds["methods"].setdefault(method, {"runs": []})
            done = {r["seed"] for r in entry["runs"]}
            if len(done) >= settings["seeds"]:
                continue
            if method == "scratch":
                def factory(d=settings["emb_dim"], n=settings["num_layers"]) -> MolGraphEncoder:
                    return MolGraphEncoder(n, d)
            else:
                if corpus is None:
                    corpus = build_mol_corpus(exclude=target, limit=settings["corpus_limit"], root=args.root)
                    ds["corpus"] = corpus.stats
                _, cfg_cls = PRETRAIN_METHODS[method]
                cfg = cfg_cls.for_dataset(name, {"preset": settings["preset"], "emb_dim": settings["emb_dim"],
                                                 "num_layers": settings["num_layers"],
                                                 "epochs": settings["pretrain_epochs"]})
                t0 = time.perf_counter()
                saved, pre = pretrain_encoder(method, cfg, corpus, seed=0, device=device,
                                              out_dir=run_dir / name / method, resume=True,
                                              max_batches=settings["pretrain_max_batches"],
                                              signature={"dataset": name, "method": method, "settings": settings})
                entry["pretrain"] = {"wall_s": time.perf_counter() - t0, "history": pre.history}
                print(f"{name} {method}: pre-trained {pre.epochs_run} epochs, last "
                      + ", ".join(f"{k}={v:.4g}" for k, v in pre.history[-1].items() if k != "epoch"))

                def factory(saved=saved) -> MolGraphEncoder:
                    return MolGraphEncoder.from_saved(saved)
            tuner = MolFinetuner(target, ft, factory, device=device)
            for seed in range(settings["seeds"]):
                if seed in done:
                    continue
                t0 = time.perf_counter()
                run = tuner.run(seed)
                entry["runs"].append({**run.to_dict(), "wall_s": time.perf_counter() - t0,
                                      "epoch_s": sum(run.train.epoch_times) / max(len(run.train.epoch_times), 1)})
                entry["runs"].sort(key=lambda r: r["seed"])
                summarise(entry)
                save(out, result)
                print(f"{name} {method} seed {seed}: valid {run.valid:.4f} test {run.test:.4f} "
                      f"(epoch {run.best_epoch}) last {run.test_last:.4f}")
    save(out, result)
    for name, ds in result["datasets"].items():
        for method, entry in ds["methods"].items():
            if entry["runs"]:
                print(f"{name:14s} {method:8s} test {entry['test_mean']:.1f} +- {entry['test_std']:.1f} "
                      f"({len(entry['runs'])} seeds)")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
