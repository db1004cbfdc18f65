"""``gcl bench sasrec|cl4srec|mclrec``: sequential recommenders on one-line-per-user datasets.

Datasets: ``beauty``, ``toys``, and any other name :func:`gcl.data.load` resolves to a
one-line-per-user sequence file (``seqrec/<Name>.txt`` under a data root). Hyper-parameters:
``Config.for_dataset(dataset)`` (the spec's per-dataset rows), then ``--config`` overrides and
``--epochs``. Protocol: :mod:`gcl.methods.seq_training` (leave-one-out, full ranking, history
not masked unless ``mask_history``, selection on validation MRR@10 with patience 10, test once).
"""
from __future__ import annotations

from typing import Any

from gcl.bench.request import BenchOutcome, BenchRequest
from gcl.data.sequences import SequenceDataset
from gcl.methods.cl4srec import CL4SRec, CL4SRecConfig
from gcl.methods.mclrec import MCLRec, MCLRecConfig
from gcl.methods.sasrec import SASRec, SASRecConfig
from gcl.methods.seq_training import run_sequential
from gcl.methods.seqrec import SeqRecConfig, SeqRecMethod

DATASETS = ("beauty", "toys")
METHOD_CLASSES: dict[str, tuple[type[SeqRecMethod], type[SeqRecConfig]]] = {
    "sasrec": (SASRec, SASRecConfig),
    "cl4srec": (CL4SRec, CL4SRecConfig),
    "mclrec": (MCLRec, MCLRecConfig),
}
#: named variants for experiment scripts: model class, config class, fixed config values
VARIANTS: dict[str, tuple[type[SeqRecMethod], type[SeqRecConfig], dict[str, Any]]] = {
    **{name: (*classes, {}) for name, classes in METHOD_CLASSES.items()},
    "mclrec-j": (MCLRec, MCLRecConfig, {"joint": True}),
}


def load_dataset(name: str, max_len: int, root: str | None = None) -> SequenceDataset:
    """The sequence dataset ``name`` with inputs cut to ``max_len``.

    Raises:
        ValueError: ``name`` is a registered dataset of another kind (not one line per user).
    """
    from gcl.data import load

    data = load(name, root=root, max_len=max_len)
    if not isinstance(data, SequenceDataset):
        raise ValueError(f"dataset {name!r} is not a one-line-per-user sequence dataset "
                         f"(got {type(data).__name__})")
    return data


def build_config(method: str, dataset: str, overrides: dict[str, Any], epochs: int | None = None) -> SeqRecConfig:
    """``Config.for_dataset(dataset, overrides)`` of ``method``, with ``epochs`` when given."""
    _, config_cls = METHOD_CLASSES[method]
    values = dict(overrides)
    if epochs is not None:
        values["epochs"] = epochs
    return config_cls.for_dataset(dataset, values)


def run(req: BenchRequest) -> BenchOutcome:
    """Train the requested method on the engine, select on validation, test once."""
    method_cls, _ = METHOD_CLASSES[req.method]
    cfg = build_config(req.method, req.dataset, req.overrides, req.epochs)
    data = load_dataset(req.dataset, cfg.max_len, req.root)
    signature = {"method": req.method, "dataset": req.dataset, "seed": req.seed,
                 "config": {k: v for k, v in cfg.to_dict().items() if k != "epochs"}}
    model, res = run_sequential(method_cls, data, cfg, seed=req.seed, device=req.device,
                                out_dir=str(req.out_dir), resume=req.resume, quiet=req.quiet,
                                signature=signature)
    config = {**cfg.to_dict(), "n_users": data.n_users, "n_items": data.n_items,
              "n_actions": data.n_actions, "n_train_prefixes": data.n_train_examples,
              "mask_history": res.mask_history}
    device = str(next(model.parameters()).device)
    return BenchOutcome(res.protocol + "; one seed", config, res.metrics(), res.train, device)


__all__ = ["DATASETS", "METHOD_CLASSES", "VARIANTS", "build_config", "load_dataset", "run"]
