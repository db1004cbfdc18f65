"""``gcl bench lightgcn|sgl|lightgcl``: recommendation methods with full-ranking evaluation.

Protocol: the dataset's train / test split with a validation split carved from train (per user
with >= 2 training items, a seeded 10 %, at least one, see
:func:`gcl.data.interactions.carve_validation`; split seed 0, independent of the training
seed); training on the engine, validation Recall@20 every ``eval_every`` epochs (and at the
last), the best validation epoch selected and restored, test evaluated once on it. Full ranking
over all items with training items (and validation items at test) masked by index.

Datasets: ``gowalla``, ``yelp2018``, ``amazon-book`` (LightGCN text layout under
``recsys/``), and ``gowalla-5k``: a seeded 5,000-user subsample of Gowalla (seed 0) for CPU runs.
"""
from __future__ import annotations

import time
from typing import Any

import torch

from gcl.bench.request import BenchOutcome, BenchRequest
from gcl.data.interaction_subsets import split_hash, subsample_users
from gcl.data.interactions import InteractionGraph
from gcl.methods.cf import CFMethod, evaluate, train_epoch
from gcl.methods.lightgcl import LightGCL, LightGCLConfig
from gcl.methods.lightgcn import LightGCN, LightGCNConfig
from gcl.methods.sgl import SGL, SGLConfig
from gcl.train import TrainConfig, Trainer, resolve_device
from gcl.utils import seed_everything

DATASETS = ("gowalla", "gowalla-5k", "yelp2018", "amazon-book")
METHOD_CLASSES: dict[str, tuple[type[CFMethod], type]] = {
    "lightgcn": (LightGCN, LightGCNConfig),
    "sgl": (SGL, SGLConfig),
    "lightgcl": (LightGCL, LightGCLConfig),
}
SUBSAMPLES = {"gowalla-5k": ("gowalla", 5000)}
SPLIT_SEED = 0
VALID_RATIO = 0.1
KS = (20, 40)


def load_graph(dataset: str, root: str | None = None) -> InteractionGraph:
    """The dataset with its carved validation split (and the subsample for ``*-5k`` names)."""
    from gcl.data import load

    base, n_users = SUBSAMPLES.get(dataset, (dataset, None))
    graph = load(base, root=root, valid_ratio=VALID_RATIO, seed=SPLIT_SEED)
    if n_users is not None:
        graph = subsample_users(graph, n_users, seed=SPLIT_SEED)
    return graph


def protocol(dataset: str, cfg: Any) -> str:
    sub = (f"seeded {SUBSAMPLES[dataset][1]}-user subsample (seed {SPLIT_SEED}) of {SUBSAMPLES[dataset][0]}; "
           if dataset in SUBSAMPLES else "")
    return (f"{sub}train/test as shipped, validation = seeded {int(VALID_RATIO * 100)}% per user carved from "
            f"train (split seed {SPLIT_SEED}); full ranking over all items, train (+valid at test) items "
            f"masked; Recall/NDCG@20,40 averaged over users with held-out items; validation every "
            f"{cfg.eval_every} epochs, best validation Recall@20 selected, test once at that epoch; "
            f"preset {cfg.preset!r}; one seed")


def run(req: BenchRequest) -> BenchOutcome:
    """Train the requested recommendation method on the engine and test the selected epoch."""
    model_cls, config_cls = METHOD_CLASSES[req.method]
    overrides = dict(req.overrides)
    if req.epochs is not None:
        overrides["epochs"] = req.epochs
    cfg = config_cls.for_dataset(SUBSAMPLES.get(req.dataset, (req.dataset,))[0], overrides)
    device = resolve_device(req.device)
    graph = load_graph(req.dataset, req.root).to(device)

    seed_everything(req.seed)
    gen = torch.Generator(device="cpu").manual_seed(req.seed)
    model = model_cls.from_graph(graph, cfg)
    opt = model.make_optimizer()
    scheduler = model.make_scheduler(opt)
    eval_seconds: list[float] = []

    def one_epoch(epoch: int) -> dict[str, float]:
        out = train_epoch(model, opt, graph, cfg.batch_size, gen)
        if scheduler is not None:
            scheduler.step()
        return out

    def validate(epoch: int) -> dict[str, float]:
        t0 = time.perf_counter()
        res = evaluate(model, graph, "valid", KS)
        eval_seconds.append(time.perf_counter() - t0)
        return {f"val_{k}": v for k, v in res.items() if k != "n_users"}

    tcfg = TrainConfig(epochs=cfg.epochs, seed=req.seed, device=str(device), out_dir=str(req.out_dir),
                       eval_every=cfg.eval_every, monitor="val_recall@20", mode="max",
                       resume=req.resume, quiet=req.quiet)
    signature = {"method": req.method, "dataset": req.dataset, "seed": req.seed,
                 "config": {k: v for k, v in cfg.to_dict().items() if k != "epochs"}}
    result = Trainer(model, opt, one_epoch, validate, tcfg, scheduler=scheduler,
                     generators={"sampling": gen}, signature=signature).fit()

    t0 = time.perf_counter()
    test = evaluate(model, graph, "test", KS)  # the restored best-validation parameters
    test_seconds = time.perf_counter() - t0
    train_s = [r["train_time_s"] for r in result.history]
    metrics: dict[str, float] = {**{k: float(v) for k, v in result.best_metrics.items()},
                                 **{f"test_{k}": float(v) for k, v in test.items() if k != "n_users"},
                                 "best_epoch": float(result.best_epoch),
                                 "train_s_per_epoch": sum(train_s) / max(1, len(train_s)),
                                 "eval_s_mean": sum(eval_seconds) / max(1, len(eval_seconds)),
                                 "test_eval_s": test_seconds,
                                 "svd_s": float(getattr(model, "svd_seconds", 0.0))}
    config = {**cfg.to_dict(), "split_hash": split_hash(graph), "split_seed": SPLIT_SEED,
              "valid_ratio": VALID_RATIO, "n_users": graph.n_users, "n_items": graph.n_items,
              "n_train": graph.n_train, "n_valid": graph.n_valid, "n_test": graph.n_test}
    return BenchOutcome(protocol(req.dataset, cfg), config, metrics, result, str(device))
