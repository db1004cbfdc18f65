"""``gcl bench graphcl|dsla|mol-scratch``: molecular pre-training, then fine-tuning on ogbg-mol*.

    gcl bench dsla --dataset ogbg-molbace [--pretrain-corpus A.csv,B.csv] [--pretrain-epochs N]
                   [--finetune-seeds K] [--finetune-epochs N] [--config FILE]

1. **Target**: the ``ogbg-mol*`` classification set in OGB's layout from the data roots (read
   offline), or, when no root holds it and ``GCL_OFFLINE`` is unset, OGB's own download
   (:func:`gcl.methods.mol_finetune.load_target`).
2. **Corpus** (``graphcl``, ``dsla``): the SMILES CSVs of ``pretrain_corpus`` (paths separated by
   ``,`` or ``os.pathsep``; default every ``moleculenet/*.csv`` of the data roots),
   de-duplicated by canonical SMILES, the target's molecules removed, bond-less molecules
   dropped (:func:`gcl.data.mol_corpus.build_mol_corpus`; needs rdkit, ``pip install gcl[chem]``).
3. **Pre-training** (:func:`gcl.methods.mol_pretrain.pretrain`) into ``OUT/pretrain/``; the
   encoder of the last epoch is saved to ``OUT/encoder.pt``.
4. **Fine-tuning** (:func:`gcl.methods.mol_finetune.finetune_seeds`): seeds ``0..K-1`` into
   ``OUT/finetune/seed<k>/``, selection on validation, test scored after selection; the
   per-seed figures go to ``OUT/finetune_runs.json``. ``mol-scratch`` runs this step alone
   with a fresh encoder of the same architecture (the no-pre-training baseline).

``result.json`` holds the mean and population std over seeds of the test score at the
selected epoch (primary), of the validation score and of the last-epoch test score; its
``history`` and ``curve.png`` are the pre-training epochs (``mol-scratch``: seed 0's
fine-tuning). ``--config`` keys: the method's config fields, ``finetune_<field>`` for every
:class:`~gcl.methods.mol_finetune.FinetuneConfig` field, ``pretrain_corpus``, ``corpus_limit``
(a seeded random subset of the corpus) and ``pretrain_max_batches`` (batches per epoch).
"""
from __future__ import annotations

import dataclasses
import json
import os
import typing
from pathlib import Path
from typing import Any, Mapping

import torch

from gcl.bench import OGB_MOL_CLASSIFICATION
from gcl.bench.request import BenchOutcome, BenchRequest
from gcl.methods.dsla import DSLA, DSLAConfig
from gcl.methods.graphcl import GraphCL, GraphCLConfig
from gcl.methods.mol_finetune import (
    FinetuneConfig,
    FinetuneSummary,
    finetune_seeds,
    load_target,
)
from gcl.methods.mol_pretrain import MolPretrainConfig, pretrain
from gcl.nn.mol_graph import MolGraphEncoder, encoder_checkpoint
from gcl.train import TrainResult, resolve_device
from gcl.utils import atomic_write, seed_everything

DATASETS = OGB_MOL_CLASSIFICATION
#: Pre-training method name -> (model class, config class).
PRETRAIN_METHODS: dict[str, tuple[type[torch.nn.Module], type[MolPretrainConfig]]] = {
    "graphcl": (GraphCL, GraphCLConfig),
    "dsla": (DSLA, DSLAConfig),
}
FINETUNE_PREFIX = "finetune_"
FINETUNE_PROTOCOL = (
    "fine-tuning on OGB's scaffold split, BCE over labelled entries, epoch selected on validation "
    "({metric}, OGB Evaluator), test scored once after selection; mean and population std over {seeds} "
    "fine-tuning seeds"
)
PROTOCOL = (
    "pre-training on the SMILES corpus (canonical-SMILES de-duplicated, target molecules and bond-less "
    "molecules removed), encoder of the last epoch; " + FINETUNE_PROTOCOL
)


@dataclasses.dataclass
class CorpusSettings:
    """Bench settings of the pre-training corpus.

    Attributes:
        pretrain_corpus: SMILES CSV paths separated by ``,`` or ``os.pathsep`` (default: every
            ``moleculenet/*.csv`` of the data roots).
        corpus_limit: keep a random subset of this many molecules (seed 0), for smoke runs.
        pretrain_max_batches: batches per pre-training epoch (default: all).
    """

    pretrain_corpus: str | None = None
    corpus_limit: int | None = None
    pretrain_max_batches: int | None = None


@dataclasses.dataclass
class EncoderSettings:
    """Bench settings of ``mol-scratch``'s fresh encoder (defaults from the preset).

    Attributes:
        emb_dim: GIN width (preset: 300 full, 128 cpu-scaled).
        num_layers: GIN layers (5).
        preset: ``"full"`` or ``"cpu-scaled"`` (also selects the fine-tuning preset).
    """

    emb_dim: int | None = None
    num_layers: int | None = None
    preset: str = "full"


def _fields(cls: type, prefix: str = "", skip: tuple[str, ...] = ()) -> list[tuple[str, Any, Any]]:
    hints = typing.get_type_hints(cls)
    return [(prefix + f.name, hints[f.name], dataclasses.field(default=f.default))
            for f in dataclasses.fields(cls) if f.name not in skip]


def _combined(name: str, *parts: list[tuple[str, Any, Any]]) -> type:
    """A flat dataclass of several configs' fields: what ``--config`` of a bench may hold."""
    return dataclasses.make_dataclass(name, [f for part in parts for f in part])


_FINETUNE_FIELDS = _fields(FinetuneConfig, FINETUNE_PREFIX, skip=("preset",))
#: ``--config`` schema of ``gcl bench graphcl``.
GraphCLBenchConfig = _combined("GraphCLBenchConfig", _fields(GraphCLConfig), _FINETUNE_FIELDS,
                               _fields(CorpusSettings))
#: ``--config`` schema of ``gcl bench dsla``.
DSLABenchConfig = _combined("DSLABenchConfig", _fields(DSLAConfig), _FINETUNE_FIELDS, _fields(CorpusSettings))
#: ``--config`` schema of ``gcl bench mol-scratch``.
ScratchBenchConfig = _combined("ScratchBenchConfig", _fields(EncoderSettings), _FINETUNE_FIELDS)


def split_overrides(values: Mapping[str, Any], method_cls: type | None) -> tuple[dict, dict, dict]:
    """``(method, finetune, corpus)`` parts of flat bench settings (``finetune_`` prefix stripped).

    Raises:
        ValueError: a key that belongs to none of them.
    """
    method_keys = {f.name for f in dataclasses.fields(method_cls or EncoderSettings)}
    corpus_keys = {f.name for f in dataclasses.fields(CorpusSettings)} if method_cls else set()
    ft_keys = {f.name for f in dataclasses.fields(FinetuneConfig)} - {"preset"}
    method, finetune, corpus = {}, {}, {}
    for key, value in values.items():
        if key in method_keys:
            method[key] = value
        elif key in corpus_keys:
            corpus[key] = value
        elif key.startswith(FINETUNE_PREFIX) and key[len(FINETUNE_PREFIX):] in ft_keys:
            finetune[key[len(FINETUNE_PREFIX):]] = value
        else:
            valid = sorted(method_keys | corpus_keys | {FINETUNE_PREFIX + k for k in ft_keys})
            raise ValueError(f"unknown molecular bench setting {key!r}; valid keys: {', '.join(valid)}")
    return method, finetune, corpus


def corpus_files(setting: str | None, root: str | None = None) -> list[Path] | None:
    """The CSV paths of ``pretrain_corpus`` (``None``: the default corpus).

    Raises:
        gcl.data.DatasetError: a listed file does not exist.
    """
    if not setting:
        return None
    from gcl.data import DatasetError

    paths = [Path(p.strip()).expanduser() for chunk in setting.split(",") for p in chunk.split(os.pathsep)
             if p.strip()]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DatasetError(missing[0], "pre-training corpus file not found (pretrain_corpus / --pretrain-corpus)")
    return paths


def _write_json(path: Path, payload: Any) -> None:
    with atomic_write(path, "w") as fh:
        json.dump(payload, fh, indent=2)
        fh.write("\n")


def pretrain_encoder(
    method: str,
    config: MolPretrainConfig,
    corpus: Any,
    *,
    seed: int = 0,
    device: str = "auto",
    out_dir: Path | None = None,
    resume: bool = False,
    quiet: bool = True,
    max_batches: int | None = None,
    signature: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], TrainResult]:
    """Pre-train ``method`` (``graphcl`` or ``dsla``) on ``corpus``.

    Returns:
        ``(saved encoder, engine result)``: the saved encoder as
        :func:`gcl.nn.mol_graph.encoder_checkpoint` gives it (also written to
        ``out_dir/encoder.pt`` when ``out_dir`` is given).
    """
    model_cls, _ = PRETRAIN_METHODS[method]
    seed_everything(seed)
    model = model_cls(config)
    if isinstance(model, DSLA) and config.added_edge_attr == "corpus":  # type: ignore[attr-defined]
        model.set_corpus_marginals(corpus._data.edge_attr)
    result = pretrain(model, corpus, config, seed=seed, device=device,
                      out_dir=None if out_dir is None else str(out_dir / "pretrain"), resume=resume,
                      quiet=quiet, max_batches=max_batches, signature=signature)
    saved = encoder_checkpoint(model.encoder, method=method, epochs=result.epochs_run)
    if out_dir is not None:
        with atomic_write(out_dir / "encoder.pt") as fh:
            torch.save(saved, fh)
    return saved, result


def _summary_record(summary: FinetuneSummary) -> dict[str, Any]:
    return {"dataset": summary.dataset, "metric": summary.metric, **summary.metrics(),
            "runs": [r.to_dict() for r in summary.runs]}


def run(req: BenchRequest) -> BenchOutcome:
    """``gcl bench graphcl|dsla``: build the corpus, pre-train, fine-tune over seeds."""
    model_cls, config_cls = PRETRAIN_METHODS[req.method]
    values = dict(req.overrides)
    if req.epochs is not None:
        values["epochs"] = req.epochs
    method_over, ft_over, corpus_over = split_overrides(values, config_cls)
    cfg = config_cls.for_dataset(req.dataset, method_over)
    ftcfg = FinetuneConfig.for_preset(cfg.preset, ft_over)
    settings = CorpusSettings(**corpus_over)
    device = str(resolve_device(req.device))

    from gcl.data.mol_corpus import build_mol_corpus

    target = load_target(req.dataset, req.root)
    corpus = build_mol_corpus(corpus_files(settings.pretrain_corpus, req.root), exclude=target,
                              limit=settings.corpus_limit, root=req.root)
    # the pre-training signature leaves out the epoch count, so a finished run can be extended
    signature = {"method": req.method, "dataset": req.dataset, "seed": req.seed,
                 "config": {k: v for k, v in cfg.to_dict().items() if k != "epochs"},
                 "corpus": corpus.stats, "max_batches": settings.pretrain_max_batches}
    saved, pre = pretrain_encoder(req.method, cfg, corpus, seed=req.seed, device=device, out_dir=req.out_dir,
                                  resume=req.resume, quiet=req.quiet, max_batches=settings.pretrain_max_batches,
                                  signature=signature)
    summary = finetune_seeds(target, ftcfg, lambda: MolGraphEncoder.from_saved(saved), device=device,
                             out_dir=str(req.out_dir / "finetune"), resume=req.resume, quiet=req.quiet,
                             signature={**signature, "pretrain_epochs": cfg.epochs, "finetune": ftcfg.to_dict()})
    _write_json(req.out_dir / "finetune_runs.json", _summary_record(summary))
    last = pre.history[-1] if pre.history else {}
    metrics = {**summary.metrics(), **{f"pretrain_{k}": float(v) for k, v in last.items()
                                       if k not in ("epoch", "time_s", "train_time_s")}}
    config = {**cfg.to_dict(), "finetune": ftcfg.to_dict(), "corpus": corpus.stats,
              "pretrain_max_batches": settings.pretrain_max_batches}
    protocol = PROTOCOL.format(metric=summary.metric, seeds=len(summary.runs))
    return BenchOutcome(protocol, config, metrics, pre, device)


def scratch_configs(values: Mapping[str, Any]) -> tuple[EncoderSettings, FinetuneConfig]:
    """The fresh encoder's and the fine-tuning settings of ``mol-scratch`` (preset defaults)."""
    enc_over, ft_over, _ = split_overrides(values, None)
    enc = EncoderSettings(**enc_over)
    arch = MolPretrainConfig.for_dataset(None, {"preset": enc.preset})
    enc.emb_dim = arch.emb_dim if enc.emb_dim is None else enc.emb_dim
    enc.num_layers = arch.num_layers if enc.num_layers is None else enc.num_layers
    return enc, FinetuneConfig.for_preset(enc.preset, ft_over)


def run_scratch(req: BenchRequest) -> BenchOutcome:
    """``gcl bench mol-scratch``: the no-pre-training baseline, same fine-tuning code."""
    values = dict(req.overrides)
    if req.epochs is not None:
        values["finetune_epochs"] = req.epochs
    enc, ftcfg = scratch_configs(values)
    device = str(resolve_device(req.device))
    target = load_target(req.dataset, req.root)
    signature = {"method": "mol-scratch", "dataset": req.dataset, "encoder": dataclasses.asdict(enc),
                 "finetune": ftcfg.to_dict()}
    summary = finetune_seeds(target, ftcfg, lambda: MolGraphEncoder(int(enc.num_layers), int(enc.emb_dim)),
                             device=device, out_dir=str(req.out_dir / "finetune"), resume=req.resume,
                             quiet=req.quiet, signature=signature)
    _write_json(req.out_dir / "finetune_runs.json", _summary_record(summary))
    config = {**dataclasses.asdict(enc), "finetune": ftcfg.to_dict()}
    protocol = "no pre-training (fresh encoder); " + FINETUNE_PROTOCOL.format(
        metric=summary.metric, seeds=len(summary.runs))
    return BenchOutcome(protocol, config, summary.metrics(), summary.runs[0].train, device)


__all__ = ["CorpusSettings", "DATASETS", "DSLABenchConfig", "EncoderSettings",
           "GraphCLBenchConfig", "PRETRAIN_METHODS", "ScratchBenchConfig", "corpus_files", "pretrain_encoder",
           "run", "run_scratch", "scratch_configs", "split_overrides"]
