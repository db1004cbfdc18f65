"""Shared parts of molecular self-supervised pre-training (GraphCL, D-SLA): the config fields
every method has, and the training loop on a corpus of molecules.

Every pre-training model is an ``nn.Module`` with an ``encoder``
(:class:`gcl.nn.mol_graph.MolGraphEncoder`) and ``loss_terms(batch, generator) -> {"loss":
scalar tensor, other terms...}``. :func:`pretrain` runs it on the training engine
(:class:`gcl.train.Trainer`: checkpoints every epoch, exact resume, NaN detection): one epoch
is one pass over the shuffled corpus in mini-batches, Adam on every parameter, and the epoch's
record holds the mean of every term over its batches. There is no validation and no selection:
the encoder of the last epoch is the pre-trained one (pretrain-gnns saves epoch 100).

Randomness: the batch order comes from one ``torch.Generator`` (CPU) and the views from another
(on the model's device), both seeded from the run's seed and checkpointed with the run.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Mapping

import torch
from torch import nn
from torch_geometric.loader import DataLoader

from gcl.train import TrainConfig, Trainer, TrainResult, record_step, resolve_device
from gcl.utils.presets import config_from_preset


@dataclass
class MolPretrainConfig:
    """Fields shared by the molecular pre-training methods (pretrain-gnns chem defaults).

    Attributes:
        emb_dim: GIN width d (300).
        num_layers: GIN layers (5).
        dropout: encoder dropout during pre-training (0).
        batch_size: molecules per step (256).
        epochs: pre-training epochs (100).
        lr: Adam learning rate (1e-3).
        weight_decay: Adam weight decay (0).
        preset: ``"full"`` (the paper's settings) or ``"cpu-scaled"`` (the spec's CPU
            protocol: width 128, 20 epochs).

    Subclasses may extend ``PRESETS`` (preset name -> field values over the defaults).
    """

    emb_dim: int = 300
    num_layers: int = 5
    dropout: float = 0.0
    batch_size: int = 256
    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 0.0
    preset: str = "full"

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "full": {},
        "cpu-scaled": {"emb_dim": 128, "epochs": 20},
    }

    def __post_init__(self) -> None:
        check_config(self, counts=("emb_dim", "num_layers", "batch_size", "epochs"))

    @classmethod
    def for_dataset(cls, name: str | None = None, overrides: Mapping[str, Any] | None = None):
        """The preset's values (``overrides["preset"]`` or ``"full"``), then ``overrides``.

        The chem settings do not depend on the downstream dataset (the same corpus and
        pre-training serve every target); ``name`` is accepted for a uniform interface.

        Raises:
            ValueError: an unknown key or preset.
        """
        del name
        return config_from_preset(cls, "full", overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_config(cfg: Any, counts: tuple[str, ...]) -> None:
    """Shared checks of the molecular configs: ``counts`` >= 1, ``lr`` > 0, ``weight_decay`` >= 0,
    ``dropout`` in [0, 1), ``preset`` among ``PRESETS``.

    Raises:
        ValueError: naming the field and its value.
    """
    for name in counts:
        if int(getattr(cfg, name)) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    if not cfg.lr > 0:
        raise ValueError(f"lr must be > 0, got {cfg.lr}")
    if cfg.weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {cfg.weight_decay}")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {cfg.dropout}")
    if cfg.preset not in cfg.PRESETS:
        raise ValueError(f"preset must be one of {sorted(cfg.PRESETS)}, got {cfg.preset!r}")


def pretrain(
    model: nn.Module,
    corpus: Any,
    config: MolPretrainConfig,
    *,
    seed: int = 0,
    device: str = "auto",
    out_dir: str | None = None,
    resume: bool = False,
    quiet: bool = True,
    max_batches: int | None = None,
    signature: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Pre-train ``model`` on ``corpus`` (module docstring) and return the engine's result.

    Args:
        model: a pre-training model (``loss_terms(batch, generator)``), moved to ``device``.
        corpus: a PyG dataset of molecules (e.g. :func:`gcl.data.mol_corpus.build_mol_corpus`).
        config: ``batch_size``, ``epochs``, ``lr``, ``weight_decay`` are read.
        seed: seeds the batch order and the views.
        device: ``cpu``, ``cuda``, ``auto``.
        out_dir: where ``metrics.jsonl`` and ``checkpoint.pt`` go (``None``: nothing written).
        resume: continue from ``out_dir/checkpoint.pt``.
        quiet: no progress bar.
        max_batches: stop every epoch after this many batches (speed measurements, smoke runs).
        signature: settings identifying the run (a checkpoint of other settings is refused).

    Returns:
        The engine's :class:`gcl.train.TrainResult`; every history record holds ``loss`` and
        the model's other terms averaged over the epoch's batches, and ``batches``.
    """
    dev = resolve_device(device)
    model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    order_gen = torch.Generator().manual_seed(seed)
    view_gen = torch.Generator(device=dev).manual_seed(seed + 1)
    loader = DataLoader(corpus, batch_size=config.batch_size, shuffle=True, generator=order_gen)

    def train_epoch(epoch: int) -> dict[str, float]:
        sums: dict[str, torch.Tensor] = {}
        count = 0
        for step, batch in enumerate(loader):
            if max_batches is not None and step >= max_batches:
                break
            if batch.num_graphs < 2:  # a lone last molecule has no negative to contrast with
                continue
            batch = batch.to(dev)
            terms = model.loss_terms(batch, view_gen)
            opt.zero_grad()
            terms["loss"].backward()
            opt.step()
            detached = {k: v.detach() for k, v in terms.items()}
            record_step(detached)
            for k, v in detached.items():  # device sums: one synchronisation per epoch
                sums[k] = sums[k] + v if k in sums else v.clone()
            count += 1
        if count == 0:
            raise ValueError(f"the corpus gave no batch of >= 2 molecules (size {len(corpus)}, "
                             f"batch_size {config.batch_size})")
        return {**{k: float(v) / count for k, v in sums.items()}, "batches": float(count)}

    tcfg = TrainConfig(epochs=config.epochs, seed=seed, device=str(dev), out_dir=out_dir, resume=resume,
                       quiet=quiet, monitor=None, restore_best=False)
    return Trainer(model, opt, train_epoch, None, tcfg, generators={"order": order_gen, "views": view_gen},
                   signature=signature).fit()


__all__ = ["MolPretrainConfig", "check_config", "pretrain"]
