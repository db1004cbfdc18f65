"""The training loop every method runs on.

One epoch = ``train_epoch(epoch)`` (the method's own optimisation over its batches), then,
every ``eval_every`` epochs, ``validate(epoch)``; the engine does the rest:

- seeds and device selection;
- a tqdm progress bar (only on a TTY, never with ``quiet``);
- a JSON-lines log ``metrics.jsonl`` (losses, validation metrics, seconds per epoch);
- model selection and early stopping on a validation metric (``monitor``, ``mode``,
  ``patience`` in epochs);
- a checkpoint every ``checkpoint_every`` epochs, written atomically, holding the model,
  optimizer and scheduler states, every RNG state and the engine's own state, so that
  ``resume=True`` continues exactly: a run killed at any point (even with SIGKILL) and resumed
  ends with the same parameters and metrics as one that was never interrupted;
- NaN/Inf detection on the loss terms, naming the epoch, the step and the term (steps are
  named when the method reports them with :func:`gcl.train.record_step`, or when an epoch is
  a single optimiser step), and a NaN/Inf check of the parameters and optimiser state before
  each checkpoint: a bad state stops the run and the last good checkpoint is kept.

Under ``torchrun`` (a process group of W > 1 ranks, see :mod:`gcl.train.distributed`) every
rank runs the same loop in lockstep and the engine keeps the ranks in agreement:

- at the start of :meth:`Trainer.fit` rank 0's parameters and buffers are broadcast (after a
  resume as well), so every rank starts from the same state;
- the loss terms an epoch returns are averaged over the ranks (one all-reduce) before they
  are checked and logged, so the log holds the mean loss, the objective whose gradient DDP's
  average applies;
- ``validate`` runs on rank 0 only and its metrics are broadcast, so model selection, the
  patience counter and early stopping are the same decision on every rank (``validate`` must
  therefore use no collectives; the other ranks wait meanwhile);
- rank 0 alone writes ``metrics.jsonl`` and checkpoints and shows the progress bar; the
  others keep the history in memory;
- a checkpoint holds every rank's RNG states (gathered to rank 0; a rank's global and
  explicit generators may differ, e.g. dropout or per-rank sampling), and on resume rank 0
  reads the checkpoint and broadcasts it, so every rank restores the same model, optimizer and
  engine state and its own RNG states and the run continues exactly. A checkpoint from
  another number of ranks resumes too, each rank then taking rank 0's RNG states (a valid
  continuation, not a bit-identical one);
- an error raised on rank 0 while validating, saving or loading a checkpoint is raised on
  every rank.

The model may be given as is or wrapped (``DistributedDataParallel``,
:func:`gcl.train.distributed.data_parallel`): checkpoints hold the unwrapped model's state, the
same keys as a single-process run.
"""
from __future__ import annotations

import copy
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from tqdm.auto import tqdm

from gcl.train.checkpoint import load_checkpoint, save_checkpoint
from gcl.train.device import resolve_device
from gcl.train.distributed import (
    all_gather_object,
    all_reduce_mean,
    broadcast_module,
    is_main_process,
    on_main,
    rank,
    unwrap,
    world_size,
)
from gcl.train.errors import CheckpointError
from gcl.train.finite import check_finite, check_state_finite
from gcl.train.metrics_log import MetricsLog
from gcl.train.rng import capture_rng_state, restore_rng_state
from gcl.train.steps import count_optimizer_steps, epoch_steps

CHECKPOINT_NAME = "checkpoint.pt"
METRICS_NAME = "metrics.jsonl"


@dataclass
class TrainConfig:
    """Settings of the training loop (not of the method).

    Args:
        epochs: number of epochs to run (a resumed run continues up to this number).
        seed: seed for every RNG (set by :func:`gcl.utils.seed_everything` before building
            the model; the engine records it).
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
        out_dir: where ``metrics.jsonl`` and ``checkpoint.pt`` go; ``None`` writes nothing.
        checkpoint_every: epochs between checkpoints (0 disables them).
        eval_every: epochs between validations (the last epoch is always validated).
        monitor: the validation metric used for model selection and early stopping.
        mode: ``"max"`` or ``"min"``: whether a larger ``monitor`` value is better.
        patience: stop after this many epochs without improvement (``None``: never).
        resume: continue from ``out_dir/checkpoint.pt`` when it exists.
        progress: show a progress bar; ``None`` means "when stderr is a terminal".
        quiet: no progress bar and no per-epoch printing.
        restore_best: load the selected (best-validation) parameters into the model at the end.
    """

    epochs: int = 100
    seed: int = 0
    device: str = "auto"
    out_dir: str | None = None
    checkpoint_every: int = 1
    eval_every: int = 1
    monitor: str | None = None
    mode: str = "max"
    patience: int | None = None
    resume: bool = False
    progress: bool | None = None
    quiet: bool = False
    restore_best: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {self.mode!r}")
        if self.eval_every < 1:
            raise ValueError(f"eval_every must be >= 1, got {self.eval_every}")
        if self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {self.checkpoint_every}")
        if self.resume and self.out_dir is None:
            raise ValueError("resume=True needs out_dir (where the checkpoint is)")


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes:
        history: one record per epoch (``epoch``, loss terms, validation metrics, ``time_s``).
        best_epoch: the epoch selected on ``monitor`` (the last epoch without a monitor).
        best_metrics: validation metrics at ``best_epoch``.
        stopped_early: whether patience ran out before ``epochs``.
        epochs_run: the last epoch trained.
    """

    history: list[dict[str, Any]]
    best_epoch: int
    best_metrics: dict[str, float]
    stopped_early: bool
    epochs_run: int

    @property
    def epoch_times(self) -> list[float]:
        return [r["time_s"] for r in self.history]


@dataclass
class _State:
    epoch: int = 0
    best_value: float | None = None
    best_epoch: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)
    best_model: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    stopped_early: bool = False


class Trainer:
    """Runs ``train_epoch``/``validate`` with logging, selection, checkpoints and resume.

    Args:
        model: the module whose parameters are trained and checkpointed (a DDP-wrapped
            module is unwrapped for its state; see the module docstring for ``torchrun``).
        optimizer: its optimizer (checkpointed).
        train_epoch: ``train_epoch(epoch) -> {loss term: value}``, one epoch of training.
        validate: ``validate(epoch) -> {metric: value}`` on validation data, or ``None``.
        config: loop settings.
        scheduler: optional LR scheduler (checkpointed; stepped by ``train_epoch``).
        generators: explicit ``torch.Generator`` objects the method draws from (views,
            samplers); their states are checkpointed and restored.
        signature: plain settings identifying the run (method config, dataset, seed); a
            checkpoint whose signature differs is refused on resume.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        train_epoch: Callable[[int], Mapping[str, float]],
        validate: Callable[[int], Mapping[str, float]] | None = None,
        config: TrainConfig | None = None,
        scheduler: Any | None = None,
        generators: Mapping[str, torch.Generator] | None = None,
        signature: Mapping[str, Any] | None = None,
    ):
        self.model = model
        self.module = unwrap(model)  # whose state_dict is checkpointed
        self.optimizer = optimizer
        self.train_epoch = train_epoch
        self.validate = validate
        self.config = config or TrainConfig()
        self.scheduler = scheduler
        self.generators = dict(generators or {})
        self.signature = json.loads(json.dumps(dict(signature or {})))  # plain JSON types
        self.device = resolve_device(self.config.device)
        out = self.config.out_dir
        self.out_dir = Path(out) if out is not None else None
        self.log = MetricsLog(self.out_dir / METRICS_NAME if self.out_dir and is_main_process() else None)
        self.state = _State()

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_path(self) -> Path | None:
        return self.out_dir / CHECKPOINT_NAME if self.out_dir else None

    def _checkpoint_state(self, rng_ranks: list[dict[str, Any]]) -> dict[str, Any]:
        s = self.state
        return {
            "epoch": s.epoch,
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": rng_ranks[0],
            "rng_ranks": rng_ranks if len(rng_ranks) > 1 else None,
            "engine": {
                "best_value": s.best_value,
                "best_epoch": s.best_epoch,
                "best_metrics": s.best_metrics,
                "bad_epochs": s.bad_epochs,
                "stopped_early": s.stopped_early,
                "history": self.log.records,
                "config": asdict(self.config),
            },
            "best_model": s.best_model,
            "signature": self.signature,
        }

    def _save(self) -> None:
        path = self.checkpoint_path
        if path is None:
            return
        rng_ranks = all_gather_object(capture_rng_state(self.generators))  # every rank's RNGs
        # Rank 0 writes; a failed write is raised on every rank (and doubles as a barrier).
        on_main(lambda: save_checkpoint(path, self._checkpoint_state(rng_ranks)))

    def _read_checkpoint(self, path: Path) -> dict[str, Any] | None:
        """Rank 0's checkpoint (``None`` when there is none) on every rank."""

        def read() -> dict[str, Any] | None:
            for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a kill mid-write
                stale.unlink(missing_ok=True)
            if not path.exists():
                return None  # nothing to resume: a fresh run
            # On the CPU: load_state_dict moves tensors to the parameters' devices, the RNG
            # states must stay CPU tensors, and other ranks must not receive rank 0's device.
            return load_checkpoint(path, map_location="cpu")

        return on_main(read)

    @property
    def _checkpointing(self) -> bool:
        return self.checkpoint_path is not None and self.config.checkpoint_every > 0

    def _resume(self) -> None:
        path = self.checkpoint_path
        assert path is not None
        ckpt = self._read_checkpoint(path)
        if ckpt is None:
            return
        if ckpt.get("signature", {}) != self.signature:
            raise CheckpointError(
                path,
                "checkpoint comes from a run with other settings "
                f"({ckpt.get('signature')} != {self.signature}); use another --out or drop --resume",
            )
        try:
            self.module.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.scheduler is not None and ckpt.get("scheduler") is not None:
                self.scheduler.load_state_dict(ckpt["scheduler"])
            rng_ranks = ckpt.get("rng_ranks") or [ckpt["rng"]]
            same_world = len(rng_ranks) == world_size()
            restore_rng_state(rng_ranks[rank()] if same_world else ckpt["rng"], self.generators)
            eng = ckpt["engine"]
            state = _State(
                epoch=int(ckpt["epoch"]),
                best_value=eng["best_value"],
                best_epoch=int(eng["best_epoch"]),
                best_metrics=dict(eng["best_metrics"]),
                best_model=ckpt.get("best_model"),
                bad_epochs=int(eng["bad_epochs"]),
                stopped_early=bool(eng["stopped_early"]),
            )
            history = list(eng["history"])
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            # a field missing, or states that do not fit this model/optimizer/generators
            raise CheckpointError(
                path, f"incomplete or incompatible checkpoint ({type(exc).__name__}: {exc})"
            ) from exc
        self.state = state
        # Epochs logged after the checkpoint was taken are re-run, so drop their records.
        self.log.reset_to(history)

    # ------------------------------------------------------------------ selection
    def _improved(self, value: float) -> bool:
        best = self.state.best_value
        if best is None:
            return True
        return value > best if self.config.mode == "max" else value < best

    def _select(self, epoch: int, metrics: Mapping[str, float]) -> None:
        cfg, s = self.config, self.state
        if cfg.monitor is None:
            s.best_epoch, s.best_metrics = epoch, dict(metrics)
            return
        if cfg.monitor not in metrics:
            if metrics:
                raise KeyError(
                    f"monitor {cfg.monitor!r} is not among the validation metrics {sorted(metrics)}"
                )
            return  # not a validation epoch
        value = float(metrics[cfg.monitor])
        if self._improved(value):
            s.best_value, s.best_epoch, s.best_metrics = value, epoch, dict(metrics)
            s.best_model = copy.deepcopy(self.module.state_dict())
            s.bad_epochs = 0
        else:
            s.bad_epochs = epoch - s.best_epoch
        if cfg.patience is not None and s.bad_epochs >= cfg.patience:
            s.stopped_early = True

    # ------------------------------------------------------------------ loop
    def _validate(self, epoch: int) -> dict[str, float]:
        assert self.validate is not None
        with torch.no_grad():
            return {k: float(v) for k, v in self.validate(epoch).items()}

    def _show_progress(self) -> bool:
        cfg = self.config
        if cfg.quiet or not is_main_process():
            return False
        if cfg.progress is not None:
            return cfg.progress
        return sys.stderr.isatty()

    def fit(self) -> TrainResult:
        """Train until ``epochs`` or early stopping; return the history and the selection."""
        cfg = self.config
        if cfg.resume:
            self._resume()
        elif self.checkpoint_path is not None and self.log.path is not None and self.log.path.exists():
            self.log.reset_to([])  # a fresh run in an old directory starts a fresh log
        broadcast_module(self.module)  # every rank starts from rank 0's state (no-op alone)
        start = self.state.epoch + 1
        bar = tqdm(
            total=cfg.epochs,
            initial=self.state.epoch,
            disable=not self._show_progress(),
            desc="train",
            unit="epoch",
            dynamic_ncols=True,
        )
        try:
            for epoch in range(start, cfg.epochs + 1):
                if self.state.stopped_early:
                    break
                t0 = time.perf_counter()
                self.model.train()
                with epoch_steps(epoch) as steps, count_optimizer_steps(self.optimizer):
                    terms = {k: float(v) for k, v in self.train_epoch(epoch).items()}
                terms = all_reduce_mean(terms, self.device)  # the mean over ranks (as is alone)
                steps.check()  # the first non-finite step the method recorded
                check_finite(terms, epoch, steps.single_step())
                train_time = time.perf_counter() - t0
                if self._checkpointing:  # never let a diverged state reach a checkpoint
                    check_state_finite(self.module.state_dict(), self.optimizer.state_dict(), epoch)
                metrics: dict[str, float] = {}
                if self.validate is not None and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs):
                    self.model.eval()
                    metrics = on_main(lambda: self._validate(epoch))  # one decision for all ranks
                self._select(epoch, metrics)
                self.state.epoch = epoch
                record = {"epoch": epoch, **terms, **metrics,
                          "train_time_s": train_time, "time_s": time.perf_counter() - t0}
                self.log.append(record)
                if cfg.checkpoint_every and (
                    epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs or self.state.stopped_early
                ):
                    self._save()
                bar.update(1)
                bar.set_postfix({k: f"{v:.4g}" for k, v in {**terms, **metrics}.items()}, refresh=False)
        finally:
            bar.close()
        s = self.state
        if cfg.restore_best and s.best_model is not None:
            self.module.load_state_dict(s.best_model)
        return TrainResult(
            history=list(self.log.records),
            best_epoch=s.best_epoch,
            best_metrics=dict(s.best_metrics),
            stopped_early=s.stopped_early,
            epochs_run=s.epoch,
        )
