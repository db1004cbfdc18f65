"""Training and evaluation of the sequential recommenders on the engine (:class:`gcl.train.Trainer`).

Protocol (MCLRec / RecBole): leave-one-out split of :class:`gcl.data.SequenceDataset`; an
epoch is one pass over the shuffled training prefixes in batches of ``batch_size``, one
``method.train_step`` per batch (its own optimisers and view draws); every ``eval_every``
epochs full-ranking validation (HR / NDCG / MRR @ 5, 10, 20, :mod:`gcl.eval.next_item`); the
epoch with the best validation ``monitor`` (MRR@10) is selected, training stops after
``patience`` epochs without improvement, the selected parameters are restored and the test
split is evaluated once. History items are masked only with ``mask_history`` (default off,
the paper's protocol); the result says which.

Randomness: the caller seeds the global RNGs before building the model
(:func:`run_sequential` does); the shuffle uses a CPU ``torch.Generator`` seeded with ``seed``,
the views a generator on the training device seeded with ``seed + 1``. Both are checkpointed
by the engine, so ``resume`` continues exactly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import torch

from gcl.data.sequences import PrefixLoader, SequenceDataset
from gcl.eval.next_item import evaluate_next_item
from gcl.methods.seqrec import SeqRecConfig, SeqRecMethod
from gcl.train import TrainConfig, Trainer, TrainResult, resolve_device
from gcl.train.optim_group import OptimizerGroup
from gcl.train.steps import record_step
from gcl.utils import seed_everything

KS: tuple[int, ...] = (5, 10, 20)


def train_epoch(method: SeqRecMethod, batches: Iterable[Any], optimizers: OptimizerGroup,
                generator: torch.Generator | None = None, max_batches: int | None = None) -> dict[str, float]:
    """One pass of ``method.train_step`` over ``batches``; returns the mean of every loss term.

    Args:
        method: the model (put in training mode here).
        batches: :class:`gcl.data.sequences.SeqBatch` objects (``inputs``, ``targets``).
        optimizers: from ``method.make_optimizers()``.
        generator: randomness of the views.
        max_batches: stop after this many batches (timing runs); ``None`` for all.
    """
    method.train()
    sums: dict[str, torch.Tensor] = {}
    n = 0
    for i, batch in enumerate(batches):
        if max_batches is not None and i >= max_batches:
            break
        terms = method.train_step(batch.inputs, batch.targets, optimizers, generator)
        record_step(terms)  # the engine names the step of a NaN (checked at the epoch's end)
        for key, value in terms.items():
            sums[key] = sums[key] + value if key in sums else value.clone()
        n += 1
    return {key: float(value) / max(n, 1) for key, value in sums.items()}


def evaluate(method: SeqRecMethod, dataset: SequenceDataset, split: str, *, ks: Sequence[int] = KS,
             mask_history: bool | None = None, batch_size: int | None = None) -> dict[str, float]:
    """HR / NDCG / MRR @ ``ks`` of ``split`` (``"valid"`` or ``"test"``), model in eval mode.

    ``mask_history`` and ``batch_size`` default to the method's config.
    """
    cfg = method.config
    method.eval()
    with torch.no_grad():
        return evaluate_next_item(method.score, dataset, split, ks=ks,
                                  mask_history=cfg.mask_history if mask_history is None else mask_history,
                                  batch_size=cfg.eval_batch_size if batch_size is None else batch_size)


def protocol(config: SeqRecConfig, dataset: SequenceDataset) -> str:
    """One sentence stating how the numbers of a run were obtained."""
    masking = ("history items masked (not the paper's protocol)" if config.mask_history
               else "history items not masked (the paper's protocol)")
    return (f"leave-one-out per user (test = last item, valid = second last, train = every earlier "
            f"prefix, inputs cut to the last {config.max_len}); full ranking over all {dataset.n_items} "
            f"items, padding excluded, {masking}, pessimistic ties; validation {config.monitor} every "
            f"{config.eval_every} epoch(s), patience {config.patience}, best epoch restored, test "
            f"evaluated once")


@dataclass
class SeqRunResult:
    """What :func:`fit` returns.

    Attributes:
        train: the engine's result (history, selected epoch, early stop).
        valid: validation metrics at the selected epoch (``val_`` prefixed).
        test: test metrics of the selected parameters (evaluated once).
        protocol: the protocol sentence.
        mask_history: whether history items were masked.
        eval_seconds: seconds of each validation.
        test_seconds: seconds of the test evaluation.
    """

    train: TrainResult
    valid: dict[str, float]
    test: dict[str, float]
    protocol: str
    mask_history: bool
    eval_seconds: list[float] = field(default_factory=list)
    test_seconds: float = 0.0

    def metrics(self) -> dict[str, float]:
        """Flat figures: ``val_*`` at the selected epoch, ``test_*``, ``best_epoch``, timings."""
        train_s = [r["train_time_s"] for r in self.train.history]
        return {**self.valid, **{f"test_{k}": v for k, v in self.test.items() if k != "n_users"},
                "test_users": self.test.get("n_users", float("nan")),
                "best_epoch": float(self.train.best_epoch),
                "train_s_per_epoch": sum(train_s) / max(1, len(train_s)),
                "eval_s_mean": sum(self.eval_seconds) / max(1, len(self.eval_seconds)),
                "test_eval_s": self.test_seconds}


def fit(method: SeqRecMethod, dataset: SequenceDataset, *, seed: int = 0,
        device: str | torch.device = "auto", out_dir: str | None = None, resume: bool = False,
        quiet: bool = False, progress: bool | None = None, signature: Mapping[str, Any] | None = None,
        ks: Sequence[int] = KS) -> SeqRunResult:
    """Train ``method`` on ``dataset`` with validation selection; test the selected epoch once.

    Args:
        method: a freshly built model (seed the global RNGs before building it).
        dataset: the sequences; moved to ``device`` here.
        seed: seed of the shuffle (``seed``) and view (``seed + 1``) generators.
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
        out_dir: where the engine writes ``metrics.jsonl`` and checkpoints (``None``: nothing).
        resume: continue from ``out_dir``'s checkpoint.
        quiet, progress: the engine's progress-bar settings.
        signature: settings identifying the run (a checkpoint of other settings is refused).
        ks: metric cut-offs.
    """
    cfg = method.config
    dev = resolve_device(device)
    dataset = dataset.to(dev)
    method.to(dev)
    optimizers = method.make_optimizers()
    shuffle_gen = torch.Generator().manual_seed(seed)
    view_gen = torch.Generator(device=dev).manual_seed(seed + 1)
    loader = PrefixLoader(dataset, cfg.batch_size, shuffle=True, generator=shuffle_gen)
    eval_seconds: list[float] = []

    def one_epoch(epoch: int) -> dict[str, float]:
        return train_epoch(method, loader, optimizers, view_gen)

    def validate(epoch: int) -> dict[str, float]:
        t0 = time.perf_counter()
        res = evaluate(method, dataset, "valid", ks=ks)
        eval_seconds.append(time.perf_counter() - t0)
        return {f"val_{k}": v for k, v in res.items() if k != "n_users"}

    tcfg = TrainConfig(epochs=cfg.epochs, seed=seed, device=str(dev), out_dir=out_dir,
                       eval_every=cfg.eval_every, monitor=f"val_{cfg.monitor}", mode="max",
                       patience=cfg.patience, resume=resume, quiet=quiet, progress=progress)
    result = Trainer(method, optimizers, one_epoch, validate, tcfg,  # type: ignore[arg-type]
                     generators={"shuffle": shuffle_gen, "views": view_gen}, signature=signature).fit()
    t0 = time.perf_counter()
    test = evaluate(method, dataset, "test", ks=ks)
    return SeqRunResult(result, dict(result.best_metrics), test, protocol(cfg, dataset), cfg.mask_history,
                        eval_seconds, time.perf_counter() - t0)


def run_sequential(method_cls: type[SeqRecMethod], dataset: SequenceDataset, config: SeqRecConfig, *,
                   seed: int = 0, **kwargs: Any) -> tuple[SeqRecMethod, SeqRunResult]:
    """Seed every RNG, build ``method_cls(dataset.n_items, config)`` and :func:`fit` it.

    Returns:
        ``(model with the selected parameters, result)``.
    """
    seed_everything(seed)
    method = method_cls.from_dataset(dataset, config)
    return method, fit(method, dataset, seed=seed, **kwargs)


__all__ = ["KS", "SeqRunResult", "evaluate", "fit", "protocol", "run_sequential", "train_epoch"]
