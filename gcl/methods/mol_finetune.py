"""Fine-tuning a (pre-trained or fresh) molecule encoder on an ``ogbg-mol*`` classification set.

Protocol (pretrain-gnns / D-SLA / GraphCL transfer):

* data: the dataset in OGB's layout, OGB's scaffold split (``get_idx_split()``), OGB's 9+3
  features; :func:`load_target` reads it from the data roots or, where the folder is missing
  and ``GCL_OFFLINE`` is unset, through OGB's own download;
* model: :class:`gcl.nn.mol_graph.MolGraphEncoder` (GIN 5x300, dropout 0.5 while fine-tuning,
  mean pool) initialised from the pre-trained weights, or fresh (the no-pre-training
  baseline), and a linear head ``Linear(d, T)`` over the T tasks;
* loss: BCE-with-logits over the labelled entries only (NaN labels masked), mean over them;
* optimiser: Adam, lr 1e-3, no weight decay, batch 32, 100 epochs, shuffled batches;
* selection: after every epoch the validation split is scored with OGB's ``Evaluator``
  (ROC-AUC averaged over the tasks with both classes; AP for ``ogbg-molpcba``); the epoch with
  the best validation score is selected (ties: the earliest). The **test split is scored only
  after training ends**: once with the selected epoch's parameters (the primary figure) and
  once with the last epoch's (also logged; which one the papers report is not stated);
* seeds: seed ``k`` sets the head's initialisation (and a fresh encoder's) and the batch order;
  the split is fixed. :func:`finetune_seeds` runs seeds ``0 .. K-1`` and reports the mean and
  the population standard deviation (NumPy's ``std``, ddof 0, as the reference tables).

Runs go through :class:`gcl.train.Trainer` (checkpoint every epoch, exact resume).
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.loader import DataLoader

from gcl.methods.mol_pretrain import check_config
from gcl.nn.mol_graph import MolGraphEncoder
from gcl.train import TrainConfig, Trainer, TrainResult, record_step, resolve_device
from gcl.utils import seed_everything
from gcl.utils.presets import config_from_preset

_OFFLINE_VALUES = {"1", "true", "yes", "on"}


def offline() -> bool:
    """Whether ``GCL_OFFLINE`` forbids downloads (``1``, ``true``, ``yes`` or ``on``)."""
    return os.environ.get("GCL_OFFLINE", "").strip().lower() in _OFFLINE_VALUES


def load_target(name: str, root: str | None = None) -> Any:
    """An ``ogbg-mol*`` binary classification dataset: from the data roots (OGB's layout, read
    offline), or, when no root holds it and ``GCL_OFFLINE`` is unset, through OGB's own
    download into the cache (:func:`gcl.data.ogb.load_ogb` with ``download=True``).

    Raises:
        ValueError: the dataset is not a binary classification set (OGB's ``task_type``).
        gcl.data.DatasetError: not an OGB name, or a bad folder (the file is named).
        gcl.data.MissingDatasetError: not found, and downloads are off (``GCL_OFFLINE``).
    """
    from gcl.data.ogb import load_ogb

    dataset = load_ogb(name, root, download=not offline())
    task = str(getattr(dataset, "task_type", ""))
    if task != "binary classification":
        raise ValueError(f"{name!r} is a {task or 'non-graph'} dataset; molecular fine-tuning needs an "
                         "ogbg-mol* binary classification set (e.g. ogbg-molbace, ogbg-molbbbp)")
    return dataset


@dataclass
class FinetuneConfig:
    """Fine-tuning settings (the spec's defaults).

    Attributes:
        epochs: fine-tuning epochs (100).
        lr: Adam learning rate (1e-3).
        batch_size: molecules per step (32).
        dropout: encoder dropout (0.5).
        weight_decay: Adam weight decay (0).
        seeds: seeds ``0 .. seeds-1`` for :func:`finetune_seeds` (10).
        eval_batch_size: molecules per evaluation batch (no effect on the figures).
        preset: ``"full"`` or ``"cpu-scaled"`` (50 epochs, 3 seeds).
    """

    epochs: int = 100
    lr: float = 1e-3
    batch_size: int = 32
    dropout: float = 0.5
    weight_decay: float = 0.0
    seeds: int = 10
    eval_batch_size: int = 256
    preset: str = "full"

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"full": {}, "cpu-scaled": {"epochs": 50, "seeds": 3}}

    def __post_init__(self) -> None:
        check_config(self, counts=("epochs", "batch_size", "seeds", "eval_batch_size"))

    @classmethod
    def for_preset(cls, preset: str = "full", overrides: Mapping[str, Any] | None = None) -> "FinetuneConfig":
        """The preset's values (``overrides["preset"]`` or ``preset``), then ``overrides``.

        Raises:
            ValueError: an unknown key or preset.
        """
        return config_from_preset(cls, preset, overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MolClassifier(nn.Module):
    """Encoder + linear head: ``logits = W f(G) + b`` ``[B, T]``."""

    def __init__(self, encoder: MolGraphEncoder, num_tasks: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.emb_dim, num_tasks)

    def forward(self, data: Any) -> Tensor:
        return self.head(self.encoder.embed(data))


def masked_bce(logits: Tensor, y: Tensor) -> Tensor:
    """BCE-with-logits averaged over the labelled entries (``y`` NaN = unlabelled).

    Args:
        logits: ``[B, T]``.
        y: ``[B, T]`` labels in {0, 1} or NaN.
    """
    y = y.to(logits.dtype).view_as(logits)
    labelled = ~torch.isnan(y)
    losses = F.binary_cross_entropy_with_logits(logits, torch.where(labelled, y, torch.zeros_like(y)),
                                                reduction="none")
    return (losses * labelled).sum() / labelled.sum().clamp(min=1)


@dataclass
class FinetuneRun:
    """One seed's fine-tuning.

    Attributes:
        seed: the seed.
        metric: OGB's metric name (``rocauc``).
        best_epoch: the epoch selected on validation.
        valid: validation score at ``best_epoch``.
        test: test score of the selected parameters (primary).
        test_last: test score of the last epoch's parameters.
        train: the engine's result (per-epoch loss and validation score).
    """

    seed: int
    metric: str
    best_epoch: int
    valid: float
    test: float
    test_last: float
    train: TrainResult = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "metric": self.metric, "best_epoch": self.best_epoch, "valid": self.valid,
                "test": self.test, "test_last": self.test_last}


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation (ddof 0) of ``values``."""
    n = len(values)
    mean = sum(values) / n
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / n)


@dataclass
class FinetuneSummary:
    """Fine-tuning over several seeds: mean and population std of every figure, and the runs."""

    dataset: str
    metric: str
    runs: list[FinetuneRun]

    def metrics(self) -> dict[str, float]:
        """``{test_<m>_mean, test_<m>_std, valid_<m>_mean, ..., test_last_<m>_mean, ...}``."""
        out: dict[str, float] = {}
        for key in ("test", "valid", "test_last"):
            mean, std = mean_std([getattr(r, key) for r in self.runs])
            out[f"{key}_{self.metric}_mean"], out[f"{key}_{self.metric}_std"] = mean, std
        out["seeds"] = float(len(self.runs))
        return out


class MolFinetuner:
    """Fine-tunes one model on one dataset and scores the splits (module docstring).

    Args:
        dataset: an ``ogbg-mol*`` dataset object (OGB's class: ``get_idx_split()``,
            ``num_tasks``, ``name``).
        config: fine-tuning settings.
        encoder_factory: ``() -> MolGraphEncoder`` called after seeding: a pre-trained encoder
            (weights loaded) or a fresh one.
        device: ``cpu``, ``cuda``, ``auto``.
    """

    def __init__(self, dataset: Any, config: FinetuneConfig,
                 encoder_factory: Callable[[], MolGraphEncoder], device: str = "auto"):
        from gcl.data.ogb import evaluator

        self.dataset, self.config, self.encoder_factory = dataset, config, encoder_factory
        self.device = resolve_device(device)
        self.name = str(dataset.name)
        self.split = {k: torch.as_tensor(v) for k, v in dataset.get_idx_split().items()}
        self.evaluator = evaluator(self.name)
        self.metric = str(self.evaluator.eval_metric)

    def predict(self, model: nn.Module, split: str) -> tuple[Tensor, Tensor]:
        """``(y_true, logits)`` ``[n, T]`` of a split (model in eval mode)."""
        loader = DataLoader(self.dataset[self.split[split]], batch_size=self.config.eval_batch_size)
        model.eval()
        ys, preds = [], []
        with torch.no_grad():
            for batch in loader:
                batch = batch.to(self.device)
                preds.append(model(batch).cpu())
                ys.append(batch.y.view(preds[-1].shape).float().cpu())
        return torch.cat(ys), torch.cat(preds)

    def evaluate(self, model: nn.Module, split: str) -> float:
        """OGB's metric of ``model`` on ``split`` (``"train"``, ``"valid"`` or ``"test"``)."""
        y_true, y_pred = self.predict(model, split)
        return float(self.evaluator.eval({"y_true": y_true.numpy(), "y_pred": y_pred.numpy()})[self.metric])

    def run(self, seed: int, *, out_dir: str | None = None, resume: bool = False, quiet: bool = True,
            signature: Mapping[str, Any] | None = None, checkpoint_every: int = 1) -> FinetuneRun:
        """Fine-tune with ``seed``; select on validation; score test only at the end.

        Args:
            seed: the seed (initialisation and batch order).
            out_dir: the run's folder (``metrics.jsonl``, ``checkpoint.pt``), or ``None``.
            resume: continue from ``out_dir/checkpoint.pt``.
            quiet: no progress bar.
            signature: settings identifying the run.
            checkpoint_every: epochs between checkpoints (0: none).
        """
        cfg = self.config
        seed_everything(seed)
        encoder = self.encoder_factory()
        encoder.dropout = cfg.dropout
        model = MolClassifier(encoder, int(self.dataset.num_tasks)).to(self.device)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        order_gen = torch.Generator().manual_seed(seed)
        train_loader = DataLoader(self.dataset[self.split["train"]], batch_size=cfg.batch_size, shuffle=True,
                                  generator=order_gen)
        monitor = f"val_{self.metric}"

        def train_epoch(epoch: int) -> dict[str, float]:
            total, count = torch.zeros((), device=self.device), 0
            for batch in train_loader:
                batch = batch.to(self.device)
                loss = masked_bce(model(batch), batch.y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                record_step({"loss": loss.detach()})
                total, count = total + loss.detach(), count + 1
            return {"loss": float(total) / max(count, 1)}

        def validate(epoch: int) -> dict[str, float]:
            return {monitor: self.evaluate(model, "valid")}

        tcfg = TrainConfig(epochs=cfg.epochs, seed=seed, device=str(self.device), out_dir=out_dir,
                           monitor=monitor, mode="max", resume=resume, quiet=quiet, restore_best=False,
                           checkpoint_every=checkpoint_every)
        trainer = Trainer(model, opt, train_epoch, validate, tcfg, generators={"order": order_gen},
                          signature=signature)
        result = trainer.fit()
        # Selection is over: the test split is read only now, for the last and the selected epoch.
        test_last = self.evaluate(model, "test")
        if trainer.state.best_model is not None:
            model.load_state_dict(trainer.state.best_model)
        test = self.evaluate(model, "test")
        return FinetuneRun(seed=seed, metric=self.metric, best_epoch=result.best_epoch,
                           valid=float(result.best_metrics.get(monitor, float("nan"))), test=test,
                           test_last=test_last, train=result)


def finetune_seeds(
    dataset: Any,
    config: FinetuneConfig,
    encoder_factory: Callable[[], MolGraphEncoder],
    *,
    device: str = "auto",
    out_dir: str | None = None,
    resume: bool = False,
    quiet: bool = True,
    signature: Mapping[str, Any] | None = None,
    on_run: Callable[[FinetuneRun], None] | None = None,
    checkpoint_every: int = 1,
) -> FinetuneSummary:
    """Fine-tune with seeds ``0 .. config.seeds - 1`` (each in ``out_dir/seed<k>`` when given).

    Args:
        dataset, config, encoder_factory, device: see :class:`MolFinetuner`.
        out_dir: parent folder of the per-seed run folders (``None``: nothing written).
        resume: continue every seed from its checkpoint.
        quiet: no progress bars.
        signature: settings identifying the runs (the seed is added).
        on_run: called with every finished run (e.g. to save partial results).
        checkpoint_every: epochs between checkpoints of every run (0: none).

    Returns:
        The :class:`FinetuneSummary`.
    """
    tuner = MolFinetuner(dataset, config, encoder_factory, device)
    runs = []
    for seed in range(config.seeds):
        run_dir = None if out_dir is None else os.path.join(out_dir, f"seed{seed}")
        run = tuner.run(seed, out_dir=run_dir, resume=resume, quiet=quiet,
                        signature={**dict(signature or {}), "finetune_seed": seed},
                        checkpoint_every=checkpoint_every)
        runs.append(run)
        if on_run is not None:
            on_run(run)
    return FinetuneSummary(tuner.name, tuner.metric, runs)


__all__ = ["FinetuneConfig", "FinetuneRun", "FinetuneSummary", "MolClassifier", "MolFinetuner",
           "finetune_seeds", "load_target", "masked_bce", "mean_std", "offline"]
