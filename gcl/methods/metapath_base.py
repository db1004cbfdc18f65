"""What MEOW and AdaMEOW share: the configuration fields of the two-view encoder, its fixed or
per-epoch augmentation, embedding extraction, the training driver and the HeCo evaluation.

**Selection** (``selection``), all label-free or validation-only:

* ``"loss"``: early stopping on the training loss with ``patience`` (MEOW's rule), keeping the
  parameters after the step of the lowest-loss epoch;
* ``"budget"``: a fixed number of epochs, last parameters (AdaMEOW's rule);
* ``"val"``: every ``eval_every`` epochs, the HeCo probe (``selection_runs`` runs) at the
  smallest label rate, selecting on the mean best **validation** Macro-F1 (the test split is
  not touched during training; AdaMEOW's original picks among checkpoints by *test* AUC).

**Evaluation** (:func:`evaluate_embeddings`): the HeCo protocol at every label rate (linear
probe trained 50 times, Macro-F1 / Micro-F1 / AUC selected on validation) and k-means
(k = #classes, ``n_init = 10``) NMI / ARI averaged over 10 runs.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Mapping

import torch
from torch import Tensor, nn

from gcl.data.metapath_graphs import MetaPathGraphs
from gcl.eval.clustering import kmeans_clustering_eval
from gcl.eval.heco_probe import heco_probe
from gcl.nn.lightgcn import SparseOperator
from gcl.nn.meow_encoder import MEOWEncoder
from gcl.train import TrainConfig, Trainer, TrainResult

SELECTIONS = ("loss", "budget", "val")
EMBED_MODES = ("eval", "train")


@dataclass
class MetaPathConfig:
    """Fields shared by :class:`~gcl.methods.meow.MEOWConfig` and
    :class:`~gcl.methods.adameow.AdaMEOWConfig`.

    Attributes:
        hidden: embedding size d (64).
        lr, weight_decay: Adam settings (MEOW's ``l2`` is Adam's weight decay).
        dropout: every dropout of the encoder.
        tau: temperature.
        feat_mask: fraction of the non-zeros of X masked in the augmented branch.
        adj_mask: per meta-path fraction of off-diagonal entries dropped (one value: all).
        topk: PathSim columns kept per row, per meta-path (one value: all; ``None``: no pruning).
        epochs: the maximum (``"loss"``) or exact (``"budget"``, ``"val"``) number of epochs.
        patience: epochs without a lower training loss before stopping (``"loss"``).
        selection: ``"loss"``, ``"budget"`` or ``"val"`` (module docstring).
        eval_every, selection_runs: validation schedule and probe runs for ``"val"``.
        use_context: meta-path contexts on (off: ablation).
        resample_views: draw the augmentation again every epoch (MEOW draws it once).
        embed_mode: ``"eval"`` (dropout off, our default) or ``"train"`` (one forward in
            training mode after selection, as the original returns the last training forward).
        keep_self_loop, tie_break: PathSim options (:func:`gcl.data.pathsim.pathsim_topk`).
        probe_lr, probe_weight_decay: the HeCo probe's Adam settings (``eva_lr``, ``eva_wd``).
        chunk_size: anchor rows per block of the loss (``None``: one block).
        checkpoint_every: epochs between engine checkpoints when an output folder is given.
    """

    hidden: int = 64
    lr: float = 7e-4
    weight_decay: float = 0.0
    dropout: float = 0.2
    tau: float = 0.4
    feat_mask: float = 0.3
    adj_mask: tuple[float, ...] = (0.3, 0.2)
    topk: tuple[int, ...] | None = (110, 700)
    epochs: int = 10000
    patience: int = 30
    selection: str = "loss"
    eval_every: int = 50
    selection_runs: int = 10
    use_context: bool = True
    resample_views: bool = False
    embed_mode: str = "eval"
    keep_self_loop: bool = True
    tie_break: str = "random"
    probe_lr: float = 0.03
    probe_weight_decay: float = 0.0
    chunk_size: int | None = None
    checkpoint_every: int = 50

    def __post_init__(self) -> None:
        self.adj_mask = tuple(float(a) for a in (self.adj_mask if isinstance(self.adj_mask, (list, tuple))
                                                 else (self.adj_mask,)))
        if self.topk is not None:
            self.topk = tuple(int(k) for k in (self.topk if isinstance(self.topk, (list, tuple))
                                               else (self.topk,)))
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}")
        if self.embed_mode not in EMBED_MODES:
            raise ValueError(f"embed_mode must be one of {EMBED_MODES}, got {self.embed_mode!r}")
        if self.epochs < 1 or self.patience < 1 or self.eval_every < 1 or self.hidden < 1:
            raise ValueError("epochs, patience, eval_every and hidden must be >= 1")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.feat_mask <= 1.0:
            raise ValueError(f"dropout must be in [0, 1) and feat_mask in [0, 1], got "
                             f"{self.dropout}, {self.feat_mask}")
        if not self.tau > 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")

    def per_metapath(self, values: tuple | None, p: int, name: str) -> list | None:
        """Broadcast a one-value setting to ``p`` meta-paths; check a per-path one."""
        if values is None:
            return None
        if len(values) == 1:
            return list(values) * p
        if len(values) != p:
            raise ValueError(f"{name} has {len(values)} values for {p} meta-paths")
        return list(values)

    @classmethod
    def for_dataset(cls, name: str, overrides: Mapping[str, Any] | None = None):
        """The preset of ``name`` (``cls.PRESETS``, else ``cls.DEFAULT_PRESET``), then ``overrides``."""
        presets: Mapping[str, Mapping[str, Any]] = getattr(cls, "PRESETS", {})
        values = {**getattr(cls, "DEFAULT_PRESET", {}), **presets.get(name.lower(), {}), **dict(overrides or {})}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys {unknown}; valid keys: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("adj_mask", "topk", "num_clusters"):
            if isinstance(out.get(key), tuple):
                out[key] = list(out[key])
        return out


def build_encoder(graphs: MetaPathGraphs, cfg: MetaPathConfig) -> MEOWEncoder:
    """The two-view encoder sized for ``graphs``."""
    dims = {t: x.size(1) for t, x in graphs.neighbor_x.items()}
    types = [[t for t, _ in prefixes] for prefixes in graphs.contexts]
    return MEOWEncoder(graphs.x.size(1), dims, types, cfg.hidden, dropout=cfg.dropout,
                       use_context=cfg.use_context)


class AugmentationSource:
    """MEOW's augmentation ``(X′, [Â_p^drop])``: drawn once, or again at every :meth:`next`.

    Args:
        graphs: the prepared inputs.
        cfg: ``feat_mask``, ``adj_mask``, ``resample_views``.
        generator: source of the draws (checkpointed by the engine).
    """

    def __init__(self, graphs: MetaPathGraphs, cfg: MetaPathConfig, generator: torch.Generator):
        self.graphs, self.cfg, self.generator = graphs, cfg, generator
        self.adj_mask = cfg.per_metapath(cfg.adj_mask, graphs.num_metapaths, "adj_mask")
        self.current = self._draw()

    def _draw(self) -> tuple[Tensor, list[SparseOperator]]:
        return self.graphs.augmented(self.cfg.feat_mask, self.adj_mask, self.generator)

    def next(self) -> tuple[Tensor, list[SparseOperator]]:
        """The augmentation of the coming epoch."""
        if self.cfg.resample_views:
            self.current = self._draw()
        return self.current


@torch.no_grad()
def extract_embeddings(encoder: MEOWEncoder, graphs: MetaPathGraphs,
                       views: tuple[Tensor, list[SparseOperator]], mode: str = "eval") -> dict[str, Tensor]:
    """``{"z": fine-view output [N, d], "z_coarse": [N, d]}`` in eval or train mode."""
    if mode not in EMBED_MODES:
        raise ValueError(f"mode must be one of {EMBED_MODES}, got {mode!r}")
    was_training = encoder.training
    encoder.train(mode == "train")
    out = encoder(graphs, *views)
    encoder.train(was_training)
    return {"z": out.z.detach(), "z_coarse": out.z_coarse.detach()}


def evaluate_embeddings(z: Tensor, graphs: MetaPathGraphs, *, probe_lr: float, probe_weight_decay: float = 0.0,
                        runs: int = 50, cluster_runs: int = 10, seed: int = 0,
                        prefix: str = "") -> dict[str, float]:
    """The HeCo protocol at every label rate plus k-means NMI / ARI (fractions, not %).

    Keys: ``{prefix}{rate}_{macro_f1|micro_f1|auc}[_std]``, ``{prefix}nmi``, ``{prefix}ari``
    (and their ``_std``).
    """
    gen = torch.Generator(device="cpu").manual_seed(seed)
    out: dict[str, float] = {}
    for rate, (tr, va, te) in graphs.splits.items():
        res = heco_probe(z, graphs.y, tr, va, te, lr=probe_lr, weight_decay=probe_weight_decay, runs=runs,
                         generator=gen)
        out.update(res.as_dict(f"{prefix}{rate}_"))
    clus = kmeans_clustering_eval(z.float(), graphs.y, graphs.num_classes, runs=cluster_runs, n_init=10,
                                  generator=torch.Generator(device=z.device).manual_seed(seed))
    for key in ("nmi", "nmi_std", "ari", "ari_std"):
        out[f"{prefix}{key}"] = clus[key]
    return out


def validation_score(encoder: MEOWEncoder, graphs: MetaPathGraphs, views, cfg: MetaPathConfig,
                     seed: int) -> float:
    """Mean best validation Macro-F1 of the probe at the smallest label rate (no test data)."""
    rate = min(graphs.splits)
    tr, va, _ = graphs.splits[rate]
    z = extract_embeddings(encoder, graphs, views, cfg.embed_mode)["z"]
    res = heco_probe(z, graphs.y, tr, va, va, lr=cfg.probe_lr, weight_decay=cfg.probe_weight_decay,
                     runs=cfg.selection_runs, generator=torch.Generator().manual_seed(seed))
    return res.val_macro_f1


@dataclass
class MetaPathRun:
    """One trained seed: the engine's result, the encoder (selected parameters) and the
    augmentation it was trained with."""

    train: TrainResult
    model: nn.Module
    views: tuple[Tensor, list[SparseOperator]]


def fit(model: nn.Module, graphs: MetaPathGraphs, cfg: MetaPathConfig, seed: int, name: str,
        extra_terms: Callable[[dict[str, Any], int], dict[str, float]] | None = None, *,
        device: str | torch.device = "cpu", out_dir: str | None = None, resume: bool = False,
        quiet: bool = True) -> MetaPathRun:
    """Train ``model`` (a module with ``.encoder`` and ``.loss(graphs, x_aug, adjs_aug) ->
    (loss, parts)``) with full-batch Adam on the engine, selecting per ``cfg.selection``.

    Args:
        model: the method's module, already on ``device``.
        graphs: prepared inputs; cfg: hyper-parameters; seed: seed of the augmentation draws.
        name: method name recorded in the checkpoint signature.
        extra_terms: ``fn(parts, epoch) -> {name: value}`` logged beside the loss and timings.
        device, out_dir, resume, quiet: engine settings.
    """
    encoder: MEOWEncoder = model.encoder
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    views = AugmentationSource(graphs, cfg, generator)
    last: dict[str, float] = {}

    def train_epoch(epoch: int) -> dict[str, float]:
        t0 = time.perf_counter()
        current = views.next()
        t1 = time.perf_counter()
        loss, parts = model.loss(graphs, *current)
        t2 = time.perf_counter()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        terms = {"loss": float(loss.detach()), "t_augment": t1 - t0, "t_encoder": parts["t_encoder"],
                 "t_loss": parts["t_loss"], "t_backward": time.perf_counter() - t2}
        if extra_terms is not None:
            terms.update(extra_terms(parts, epoch))
        last.update(terms)
        return terms

    def validate(epoch: int) -> dict[str, float]:
        if cfg.selection == "loss":  # the engine selects on validate()'s values: pass the loss on
            return {"train_loss": last["loss"]}
        if cfg.selection == "val":
            return {"val_macro_f1": validation_score(encoder, graphs, views.current, cfg, seed)}
        return {}

    monitor = {"loss": "train_loss", "val": "val_macro_f1", "budget": None}[cfg.selection]
    tcfg = TrainConfig(epochs=cfg.epochs, seed=seed, device=str(device), out_dir=out_dir,
                       checkpoint_every=cfg.checkpoint_every if out_dir is not None else 0,
                       eval_every=cfg.eval_every if cfg.selection == "val" else 1,
                       monitor=monitor, mode="min" if cfg.selection == "loss" else "max",
                       patience=cfg.patience if cfg.selection == "loss" else None,
                       resume=resume, quiet=quiet, restore_best=True)
    signature = {"method": name, "seed": seed, "nodes": graphs.num_nodes,
                 "config": {k: v for k, v in cfg.to_dict().items() if k != "epochs"}}
    result = Trainer(model, optimizer, train_epoch, validate if monitor else None, tcfg,
                     generators={"views": generator}, signature=signature).fit()
    return MetaPathRun(result, model, views.current)
