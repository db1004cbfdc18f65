"""``gcl bench meow`` / ``gcl bench adameow``: heterogeneous GCL on HeCo-layout datasets.

One seed = prepare the meta-path inputs (PathSim top-k, contexts, operators), train with the
method's selection rule (MEOW: early stop on the training loss; AdaMEOW: fixed budget), then
evaluate the frozen embedding once with the HeCo protocol at every label rate and k-means.
"""
from __future__ import annotations

from typing import Any

import torch

from gcl.bench.request import BenchOutcome, BenchRequest
from gcl.data.metapath_graphs import MetaPathGraphs, prepare_metapath_graphs
from gcl.methods.adameow import AdaMEOWConfig, train_adameow
from gcl.methods.meow import MEOWConfig, train_meow
from gcl.methods.metapath_base import MetaPathConfig, MetaPathRun, evaluate_embeddings, extract_embeddings
from gcl.train import resolve_device

DATASETS = ("acm", "imdb", "dblp", "aminer", "freebase")
PROTOCOL = (
    "HeCo protocol on the frozen output embedding z ({mode} mode): a linear probe (Adam lr {lr}, "
    "200 full-batch epochs) trained 50 times per label rate (20/40/60 per class, the dataset's "
    "split files); per run Macro-F1 at the epoch of best validation Macro-F1, Micro-F1 and AUC at "
    "the epoch of best validation Micro-F1; mean and std over the 50 runs. K-means (k = #classes, "
    "n_init 10) on z, NMI / ARI mean over 10 runs. Training selection: {selection}. One seed"
)
SELECTION_TEXT = {
    "loss": "early stopping on the training loss (patience {patience}), label-free",
    "budget": "fixed budget of {epochs} epochs, last parameters",
    "val": "probe validation Macro-F1 every {eval_every} epochs (test split unused)",
}


def prepare(dataset: str, cfg: MetaPathConfig, *, root: str | None = None, seed: int = 0,
            device: str | torch.device = "cpu") -> MetaPathGraphs:
    """Load ``dataset`` and build its meta-path inputs with ``cfg``'s PathSim settings."""
    from gcl.data import load

    data = load(dataset, root=root)
    topk = cfg.per_metapath(cfg.topk, len(data.metapaths), "topk")
    return prepare_metapath_graphs(data, topk, keep_self_loop=cfg.keep_self_loop, tie_break=cfg.tie_break,
                                   seed=seed, device=device)


def protocol(cfg: MetaPathConfig) -> str:
    """The protocol sentence of a configuration."""
    sel = SELECTION_TEXT[cfg.selection].format(patience=cfg.patience, epochs=cfg.epochs,
                                               eval_every=cfg.eval_every)
    return PROTOCOL.format(mode=cfg.embed_mode, lr=cfg.probe_lr, selection=sel)


def summarize(run: MetaPathRun, graphs: MetaPathGraphs, cfg: MetaPathConfig, seed: int) -> dict[str, float]:
    """Evaluation of the selected encoder plus training facts (stop epoch, mean epoch times)."""
    z = extract_embeddings(run.model.encoder, graphs, run.views, cfg.embed_mode)["z"]
    metrics = evaluate_embeddings(z, graphs, probe_lr=cfg.probe_lr, probe_weight_decay=cfg.probe_weight_decay,
                                  seed=seed)
    hist = run.train.history
    metrics["selected_epoch"] = float(run.train.best_epoch)
    metrics["epochs_run"] = float(run.train.epochs_run)
    for key in ("t_encoder", "t_kmeans", "t_loss", "t_backward", "train_time_s"):
        vals = [r[key] for r in hist[1:] if key in r] or [r[key] for r in hist if key in r]
        if vals:
            metrics[f"mean_{key}"] = sum(vals) / len(vals)
    return metrics


def _run(req: BenchRequest, config_cls: type[MetaPathConfig], train: Any) -> BenchOutcome:
    overrides = dict(req.overrides)
    if req.epochs is not None:
        overrides["epochs"] = req.epochs
    cfg = config_cls.for_dataset(req.dataset, overrides)
    device = resolve_device(req.device)
    graphs = prepare(req.dataset, cfg, root=req.root, seed=req.seed, device=device)
    run = train(graphs, cfg, req.seed, device=device, out_dir=str(req.out_dir), resume=req.resume,
                quiet=req.quiet)
    metrics = summarize(run, graphs, cfg, req.seed)
    return BenchOutcome(protocol(cfg), cfg.to_dict(), metrics, run.train, str(device))


def run(req: BenchRequest) -> BenchOutcome:
    """``gcl bench meow``."""
    return _run(req, MEOWConfig, train_meow)


def run_adameow(req: BenchRequest) -> BenchOutcome:
    """``gcl bench adameow``."""
    return _run(req, AdaMEOWConfig, train_adameow)
