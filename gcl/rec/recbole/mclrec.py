"""gcl's SASRec, CL4SRec and MCLRec as RecBole 1.2.x sequential models, with their own trainer.

Importing this module imports RecBole (through :func:`gcl.rec.recbole.compat.import_recbole`,
which applies the compatibility fixes first); it raises
:class:`gcl.data.OptionalDependencyError` when RecBole is not installed.

**Models.** :class:`GCLSASRec`, :class:`GCLCL4SRec` and :class:`GCLMCLRec` are RecBole
``SequentialRecommender`` s that hold the native model (:class:`gcl.methods.SASRec`,
:class:`gcl.methods.CL4SRec`, :class:`gcl.methods.MCLRec`) as the submodule ``method``, so the
encoder, the augmenters (``method.augmenters``) and every loss are gcl's own code; the adapter
only converts RecBole's batches. RecBole's fields ``item_id_list`` ``[B, L]`` (right-padded),
``item_length`` ``[B]`` and ``item_id`` ``[B]`` become gcl's left-padded input
(:func:`gcl.views.sequence.right_to_left_padding`) and targets. RecBole's item ids (its
``n_items`` counts the padding id 0) index the item table directly: the native model is built
with ``n_items − 1`` real items.

* ``forward(item_seq, item_seq_len)`` -> ``h`` ``[B, d]`` (output at the last item);
* ``calculate_loss(interaction)``: the method's encoder objective for a plain RecBole trainer
  (SASRec: CE; CL4SRec: CE + λ NT-Xent; MCLRec: ``L0``, views drawn from torch's global
  generator, augmenters trained along with θ);
* ``predict`` -> ``[B]`` scores ``h · E[item_id]``; ``full_sort_predict`` -> ``[B, n_items]``
  scores of every RecBole item id, the padding column 0 included (RecBole sets it to −inf).

**Hyper-parameters** come from the RecBole config under gcl's names (the fields of
:class:`gcl.methods.MCLRecConfig` etc.: ``cl_lambda``, ``cl_beta``, ``dim``, ``num_layers``,
``heads``, ``hidden_dropout``, ``joint`` ...) on top of ``Config.for_dataset(<RecBole dataset
name>)``; only keys set by the caller (config files, ``config_dict``, command line) are read, so
RecBole's own defaults never leak in. From RecBole's names: ``MAX_ITEM_LIST_LENGTH`` ->
``max_len``, ``learning_rate`` -> ``lr``, ``weight_decay``, ``train_batch_size`` -> ``batch_size``,
``clip_grad_norm: {max_norm: c}`` -> ``clip_grad_norm = c`` (L2 norm only).

**Trainer.** :class:`SeqRecTrainer` (a RecBole ``Trainer``): ``optimizer`` is built by RecBole's
``_build_optimizer`` (``learner``, ``learning_rate``, ``weight_decay``) over θ only (the encoder,
**excluding** the augmenters), ``optimizer_phi`` likewise over φ (the augmenters; ``None`` for
SASRec / CL4SRec). ``_train_epoch`` runs the native per-batch update ``method.train_step``:
for MCLRec the three steps of :func:`gcl.methods.mclrec.alternating_update` (L0 on θ with φ
frozen, L1 on φ, L0 on θ; one joint step with ``joint: True``), with θ's gradient norm clipped
by ``clip_grad_norm`` in the θ steps (φ is not clipped, as natively); it returns the summed
step-1 loss of the epoch. The views come from ``view_generator`` (on the training device,
seeded with ``seed + 1``). Checkpoints hold RecBole's entries plus ``optimizer_phi`` and the
generator state, written atomically with torch's default pickle protocol;
``evaluate(load_best_model=True)`` and ``resume_checkpoint`` read them through
:func:`gcl.rec.recbole.compat.load_recbole_checkpoint` (so they work on torch >= 2.6).

**Running.** :func:`run_recbole` converts a one-line-per-user file
(:func:`gcl.rec.recbole.sequences.write_sequence_inter`) and runs RecBole's ``Config`` ->
``init_seed`` -> ``create_dataset`` -> ``data_preparation`` -> model -> ``fit`` -> ``evaluate``
without ``recbole.quick_start`` (which imports ray) under :data:`SEQREC_RECBOLE_CONFIG`
(leave-one-out, full ranking, history not masked, Hit / NDCG / MRR @ 5, 10, 20, selection on
MRR@10). :func:`to_native` turns a trained adapter model into a native gcl model indexed by the
file's item ids, for :mod:`gcl.eval.next_item` or further native training.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from gcl.methods.cl4srec import CL4SRec
from gcl.methods.mclrec import MCLRec
from gcl.methods.sasrec import SASRec
from gcl.methods.seqrec import SeqRecConfig, SeqRecMethod
from gcl.rec.recbole.compat import evaluate_best, import_recbole, load_recbole_checkpoint, recbole_workdir
from gcl.rec.recbole.sequences import sequence_data_config, write_sequence_inter
from gcl.train.optim_group import OptimizerGroup
from gcl.utils.atomic import atomic_write
from gcl.views.sequence import right_to_left_padding

import_recbole()
from recbole.model.abstract_recommender import SequentialRecommender  # noqa: E402
from recbole.trainer import Trainer  # noqa: E402
from recbole.utils import InputType  # noqa: E402

#: The RecBole settings of the MCLRec protocol (docs/methods/mclrec.md): leave-one-out on the
#: time order, full ranking (history not masked), CE over all items, selection on MRR@10.
SEQREC_RECBOLE_CONFIG: dict[str, Any] = {
    "MAX_ITEM_LIST_LENGTH": 50,
    "loss_type": "CE",
    "train_neg_sample_args": None,
    "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"},
    "metrics": ["Hit", "NDCG", "MRR"],
    "topk": [5, 10, 20],
    "valid_metric": "MRR@10",
    "train_batch_size": 256,
    "learning_rate": 1e-3,
    "weight_decay": 0.0,
    "epochs": 100,
    "stopping_step": 10,
    "eval_step": 1,
    "seed": 2020,
    "reproducibility": True,
    "show_progress": False,
    "state": "ERROR",
    "log_wandb": False,
    "save_dataset": False,
    "save_dataloaders": False,
}

#: gcl config field <- RecBole config key (read when the caller set the RecBole key)
RECBOLE_KEYS: dict[str, str] = {
    "max_len": "MAX_ITEM_LIST_LENGTH",
    "lr": "learning_rate",
    "weight_decay": "weight_decay",
    "batch_size": "train_batch_size",
}


def _caller_keys(config: Any) -> Mapping[str, Any]:
    """The entries the caller set (config files, ``config_dict``, command line), not RecBole's
    defaults."""
    return getattr(config, "external_config_dict", None) or {}


def _clip_norm(value: Any) -> float | None:
    """RecBole's ``clip_grad_norm`` (``None`` or kwargs of ``clip_grad_norm_``) as a max L2 norm."""
    if not value:
        return None
    if not isinstance(value, Mapping) or "max_norm" not in value:
        raise ValueError(f"clip_grad_norm must be None or a dict with 'max_norm', got {value!r}")
    unknown = sorted(set(value) - {"max_norm", "norm_type"})
    if unknown or float(value.get("norm_type", 2.0)) != 2.0:
        raise ValueError(f"clip_grad_norm supports max_norm with the L2 norm only, got {dict(value)!r}")
    return float(value["max_norm"])


def method_config(config_cls: type[SeqRecConfig], config: Any) -> SeqRecConfig:
    """gcl's config of a RecBole run (module docstring: which keys are read).

    Args:
        config_cls: e.g. :class:`gcl.methods.MCLRecConfig`.
        config: RecBole's ``Config`` (or a mapping with the same keys).

    Returns:
        ``config_cls.for_dataset(config["dataset"], overrides)``.
    """
    given = _caller_keys(config) if not isinstance(config, Mapping) else config
    fields = {f.name for f in dataclasses.fields(config_cls)}
    overrides = {name: given[name] for name in fields if name in given and name != "clip_grad_norm"}
    for name, key in RECBOLE_KEYS.items():
        if config[key] is not None:
            overrides[name] = config[key]
    overrides["clip_grad_norm"] = _clip_norm(config["clip_grad_norm"])
    return config_cls.for_dataset(str(config["dataset"] or ""), overrides)


class GCLSeqRecommender(SequentialRecommender):
    """Base of the adapters: a native :class:`gcl.methods.seqrec.SeqRecMethod` as ``self.method``.

    Args:
        config: RecBole's ``Config``; ``loss_type`` must be ``CE`` (or unset).
        dataset: RecBole's (training) dataset.
    """

    input_type = InputType.POINTWISE
    method_class: ClassVar[type[SeqRecMethod]] = SASRec

    def __init__(self, config: Any, dataset: Any):
        super().__init__(config, dataset)
        if config["loss_type"] not in (None, "CE"):
            raise ValueError(f"{type(self).__name__} trains with full-softmax cross-entropy; "
                             f"loss_type must be 'CE', got {config['loss_type']!r}")
        self.method = self.method_class(self.n_items - 1, method_config(self.method_class.config_class, config))

    # ------------------------------------------------------------------ batches
    def batch_inputs(self, interaction: Any) -> tuple[Tensor, Tensor]:
        """``(seqs [B, L] left-padded, lengths [B])`` from RecBole's right-padded fields."""
        lengths = interaction[self.ITEM_SEQ_LEN].long()
        return right_to_left_padding(interaction[self.ITEM_SEQ], lengths), lengths

    def forward(self, item_seq: Tensor, item_seq_len: Tensor) -> Tensor:
        """``h`` ``[B, d]``: the encoder output at each sequence's last item.

        Args:
            item_seq: ``[B, L]`` right-padded item ids (RecBole's layout).
            item_seq_len: ``[B]`` number of items per row.
        """
        lengths = item_seq_len.long()
        return self.method.encode(right_to_left_padding(item_seq, lengths), lengths)

    # ------------------------------------------------------------------ RecBole API
    def objective(self, seqs: Tensor, targets: Tensor) -> Tensor:
        """The encoder objective of a batch (left-padded ``seqs``, ``targets``)."""
        return self.method.loss(seqs, targets)  # type: ignore[attr-defined]

    def calculate_loss(self, interaction: Any) -> Tensor:
        """The method's encoder objective (module docstring), for plain RecBole trainers."""
        seqs, _ = self.batch_inputs(interaction)
        return self.objective(seqs, interaction[self.POS_ITEM_ID])

    def predict(self, interaction: Any) -> Tensor:
        """``[B]`` scores ``h · E[item_id]`` of the candidate items."""
        h = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        items = self.method.encoder.item_emb(interaction[self.ITEM_ID])
        return (h * items).sum(-1)

    def full_sort_predict(self, interaction: Any) -> Tensor:
        """``[B, n_items]`` scores of every RecBole item id (column 0 = padding, unmasked here)."""
        h = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return self.method.item_logits(h)

    # ------------------------------------------------------------------ parameter sets
    def theta_parameters(self) -> list[nn.Parameter]:
        """θ: the encoder's parameters (what :class:`SeqRecTrainer`'s ``optimizer`` updates)."""
        return self.method.theta_parameters()

    def phi_parameters(self) -> list[nn.Parameter]:
        """φ: the augmenters' parameters (empty for SASRec and CL4SRec)."""
        phi = getattr(self.method, "phi_parameters", None)
        return phi() if phi is not None else []


class GCLSASRec(GCLSeqRecommender):
    """SASRec with full-softmax CE over all items (:class:`gcl.methods.SASRec`)."""

    method_class = SASRec


class GCLCL4SRec(GCLSeqRecommender):
    """CL4SRec: CE + λ NT-Xent between two crop / mask / reorder views (:class:`gcl.methods.CL4SRec`)."""

    method_class = CL4SRec

    def objective(self, seqs: Tensor, targets: Tensor) -> Tensor:
        views = self.method.augment(seqs)  # type: ignore[attr-defined]
        return self.method.loss(seqs, targets, views)[0]  # type: ignore[attr-defined]


class GCLMCLRec(GCLSeqRecommender):
    """MCLRec (:class:`gcl.methods.MCLRec`); the augmenters are ``method.augmenters``.

    ``calculate_loss`` returns ``L0``; the three-step update needs :class:`SeqRecTrainer`.
    """

    method_class = MCLRec

    @property
    def augmenters(self) -> nn.ModuleList:
        """The two learnable augmenters w_φ1, w_φ2 (one when ``shared_augmenter``)."""
        return self.method.augmenters  # type: ignore[return-value]

    def objective(self, seqs: Tensor, targets: Tensor) -> Tensor:
        views = self.method.augment(seqs)  # type: ignore[attr-defined]
        return self.method.loss0(seqs, targets, views)[0]  # type: ignore[attr-defined]


#: ``run_recbole`` model names -> adapter classes
MODELS: dict[str, type[GCLSeqRecommender]] = {
    "SASRec": GCLSASRec,
    "CL4SRec": GCLCL4SRec,
    "MCLRec": GCLMCLRec,
}


class SeqRecTrainer(Trainer):
    """RecBole ``Trainer`` for the adapters: θ / φ optimisers and the native update (module docstring).

    Args:
        config: RecBole's ``Config``.
        model: a :class:`GCLSeqRecommender`.

    Attributes:
        optimizer: over θ (the encoder).
        optimizer_phi: over φ (the augmenters), ``None`` without augmenters.
        view_generator: randomness of the views, on ``config["device"]``.
    """

    def __init__(self, config: Any, model: GCLSeqRecommender):
        if not isinstance(model, GCLSeqRecommender):
            raise TypeError(f"SeqRecTrainer trains gcl's adapters, got {type(model).__name__}")
        if config["enable_amp"]:
            raise ValueError("SeqRecTrainer does not support enable_amp")
        if not config["single_spec"]:
            raise ValueError("SeqRecTrainer does not support distributed training")
        super().__init__(config, model)
        phi = model.phi_parameters()
        self.optimizer_phi = self._build_optimizer(params=phi) if phi else None
        device = torch.device(self.device)
        self.view_generator = torch.Generator(device=device).manual_seed(int(config["seed"] or 0) + 1)

    def _build_optimizer(self, **kwargs: Any) -> torch.optim.Optimizer:
        """RecBole's optimiser, over θ unless ``params`` is given."""
        kwargs.setdefault("params", self.model.theta_parameters())
        return super()._build_optimizer(**kwargs)

    @property
    def optimizers(self) -> OptimizerGroup:
        """``{"theta": optimizer, "phi": optimizer_phi}`` (``phi`` only when there are augmenters)."""
        named = {"theta": self.optimizer}
        if self.optimizer_phi is not None:
            named["phi"] = self.optimizer_phi
        return OptimizerGroup(named)

    def _train_epoch(self, train_data: Any, epoch_idx: int, loss_func: Any = None,
                     show_progress: bool = False) -> float:
        """One pass of the native ``method.train_step`` over RecBole's batches.

        Returns:
            The sum over batches of the first step's loss (MCLRec: ``L0`` of step 1).

        Raises:
            ValueError: ``loss_func`` is given (the update is the method's own), or the loss is NaN.
        """
        if loss_func is not None:
            raise ValueError("SeqRecTrainer runs the method's own update; loss_func is not supported")
        model: GCLSeqRecommender = self.model
        model.train()
        optimizers = self.optimizers
        batches = train_data
        if show_progress:
            from tqdm import tqdm
            batches = tqdm(train_data, total=len(train_data), ncols=100, desc=f"Train {epoch_idx:>5}")
        total = torch.zeros((), device=self.device)
        for interaction in batches:
            interaction = interaction.to(self.device)
            seqs, _ = model.batch_inputs(interaction)
            terms = model.method.train_step(seqs, interaction[model.POS_ITEM_ID], optimizers, self.view_generator)
            total += terms["loss"]
        total_loss = float(total)
        if not np.isfinite(total_loss):
            raise ValueError(f"training loss is {total_loss} in epoch {epoch_idx}")
        return total_loss

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(self, epoch: int, verbose: bool = True, **kwargs: Any) -> None:
        """RecBole's checkpoint entries plus ``optimizer_phi`` and ``view_generator``, written
        atomically with torch's default pickle protocol."""
        path = kwargs.pop("saved_model_file", self.saved_model_file)
        state = {
            "config": self.config,
            "epoch": epoch,
            "cur_step": self.cur_step,
            "best_valid_score": self.best_valid_score,
            "state_dict": self.model.state_dict(),
            "other_parameter": self.model.other_parameter(),
            "optimizer": self.optimizer.state_dict(),
            "optimizer_phi": None if self.optimizer_phi is None else self.optimizer_phi.state_dict(),
            "view_generator": self.view_generator.get_state(),
        }
        with atomic_write(Path(path), "wb") as fh:
            torch.save(state, fh)
        if verbose:
            self.logger.info(f"Saving current: {path}")

    def resume_checkpoint(self, resume_file: str | os.PathLike, *, trusted: bool = False) -> None:
        """Continue from a checkpoint of :meth:`_save_checkpoint` (model, both optimisers,
        generator, epoch, early-stopping state).

        Args:
            resume_file: the ``.pth`` file.
            trusted: allow a full unpickle when the weights-only load fails (the file holds
                RecBole's ``Config``); pass it only for files your own run wrote.
        """
        checkpoint = load_recbole_checkpoint(resume_file, map_location=self.device, trusted=trusted)
        self.saved_model_file = str(resume_file)
        self.start_epoch = checkpoint["epoch"] + 1
        self.cur_step = checkpoint["cur_step"]
        self.best_valid_score = checkpoint["best_valid_score"]
        self.model.load_state_dict(checkpoint["state_dict"])
        self.model.load_other_parameter(checkpoint.get("other_parameter"))
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if self.optimizer_phi is not None:
            if checkpoint.get("optimizer_phi") is None:
                raise ValueError(f"{resume_file}: the checkpoint holds no optimizer_phi state")
            self.optimizer_phi.load_state_dict(checkpoint["optimizer_phi"])
        if checkpoint.get("view_generator") is not None:
            self.view_generator.set_state(checkpoint["view_generator"].cpu())

    def evaluate(self, eval_data: Any, load_best_model: bool = True, model_file: Any = None,
                 show_progress: bool = False) -> Any:
        """RecBole's evaluation; ``load_best_model`` reloads the checkpoint through
        :func:`gcl.rec.recbole.compat.evaluate_best` (works on torch >= 2.6)."""
        if load_best_model and eval_data:
            return evaluate_best(self, eval_data, model_file, show_progress)
        return super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)


# ---------------------------------------------------------------------- native <-> RecBole ids
def recbole_item_ids(dataset: Any) -> Tensor:
    """``[n_items]`` int64: the file's item id of every RecBole item id (entry 0 = padding = 0).

    RecBole remaps item tokens to ids in order of first appearance; the tokens written by
    :func:`gcl.rec.recbole.sequences.write_sequence_inter` are gcl's item ids.
    """
    tokens = dataset.field2id_token[dataset.iid_field]
    return torch.from_numpy(np.concatenate([[0], np.asarray(tokens[1:]).astype(np.int64)]))


def to_native(model: GCLSeqRecommender, dataset: Any, n_items: int | None = None) -> SeqRecMethod:
    """A native gcl model with the adapter's weights, indexed by the file's item ids.

    Row ``r`` of the adapter's item table (RecBole id ``r``) becomes row
    ``recbole_item_ids(dataset)[r]``; rows of ids that RecBole never saw are zero; extra rows
    (a dedicated mask token) follow the real items. Every other parameter is copied as is.

    Args:
        model: a trained adapter.
        dataset: the RecBole dataset the model was built on.
        n_items: real items of the native model (default: the largest item id).

    Returns:
        A ``type(model.method)`` on the adapter's device whose ``score`` on the same
        (left-padded, gcl-id) inputs equals ``full_sort_predict`` with the columns permuted.
    """
    ids = recbole_item_ids(dataset)
    n_native = int(ids.max()) if n_items is None else int(n_items)
    if n_native < int(ids.max()):
        raise ValueError(f"n_items ({n_native}) is smaller than the largest item id ({int(ids.max())})")
    method = model.method
    native = type(method)(n_native, copy.deepcopy(method.config)).to(next(method.parameters()).device)
    state = method.state_dict()
    key = "encoder.item_emb.weight"
    table = state[key]
    extra = table.size(0) - ids.numel()
    rows = torch.cat([ids, n_native + 1 + torch.arange(extra, dtype=torch.int64)]).to(table.device)
    new = table.new_zeros(n_native + 1 + extra, table.size(1))
    new[rows] = table
    native.load_state_dict({**state, key: new})
    return native


# ---------------------------------------------------------------------- running
@dataclass
class RecBoleRun:
    """What :func:`run_recbole` returns.

    Attributes:
        valid_score: best validation ``valid_metric``.
        valid: RecBole's validation metrics at the selected epoch.
        test: RecBole's test metrics of the selected parameters (evaluated once).
        model: the adapter (selected parameters loaded when checkpoints were saved).
        trainer: the :class:`SeqRecTrainer`.
        dataset: RecBole's dataset (``recbole_item_ids(dataset)`` maps ids back).
        config: RecBole's ``Config``.
        work_dir: where the data, checkpoints and ``log_tensorboard/`` were written.
    """

    valid_score: float
    valid: dict[str, float]
    test: dict[str, float]
    model: GCLSeqRecommender
    trainer: SeqRecTrainer
    dataset: Any
    config: Any
    work_dir: Path


def prepare_recbole(dataset_file: str | os.PathLike, model: str | type[GCLSeqRecommender] = "MCLRec",
                    config_overrides: Mapping[str, Any] | None = None, *, name: str | None = None,
                    work_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Convert the file and build RecBole's config, dataset, loaders, model and trainer.

    Arguments as :func:`run_recbole`. Returns ``{"config", "dataset", "train", "valid", "test",
    "model", "trainer", "work_dir"}``. RecBole runs inside ``work_dir``
    (:func:`gcl.rec.recbole.compat.recbole_workdir`).
    """
    model_cls = MODELS[model] if isinstance(model, str) else model
    if isinstance(model, str) and model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)} or an adapter class, got {model!r}")
    work = Path(tempfile.mkdtemp(prefix="gcl-recbole-") if work_dir is None else work_dir).resolve()
    name = Path(dataset_file).stem if name is None else name
    write_sequence_inter(dataset_file, work / "data", name)
    values = {**SEQREC_RECBOLE_CONFIG, **sequence_data_config(work / "data", name),
              "checkpoint_dir": str(work / "saved"), **dict(config_overrides or {})}
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import init_seed

    with recbole_workdir(work):
        config = Config(model=model_cls, dataset=name, config_dict=values)
        init_seed(config["seed"], config["reproducibility"])
        dataset = create_dataset(config)
        train, valid, test = data_preparation(config, dataset)
        init_seed(config["seed"], config["reproducibility"])
        net = model_cls(config, train.dataset).to(config["device"])
        trainer = SeqRecTrainer(config, net)
    return {"config": config, "dataset": dataset, "train": train, "valid": valid, "test": test,
            "model": net, "trainer": trainer, "work_dir": work}


def run_recbole(dataset_file: str | os.PathLike, model: str | type[GCLSeqRecommender] = "MCLRec",
                config_overrides: Mapping[str, Any] | None = None, *, name: str | None = None,
                work_dir: str | os.PathLike | None = None, saved: bool = True,
                verbose: bool = False) -> RecBoleRun:
    """Train and test a gcl sequential model through RecBole 1.2.x, without ``quick_start``.

    Config = :data:`SEQREC_RECBOLE_CONFIG` + :func:`sequence_data_config` + ``config_overrides``
    (RecBole keys and gcl hyper-parameter names, e.g. ``{"cl_beta": 0.1, "epochs": 50}``).

    Args:
        dataset_file: a one-line-per-user file (``user item item ...``).
        model: ``"MCLRec"``, ``"CL4SRec"``, ``"SASRec"`` (gcl's, CE) or an adapter class.
        config_overrides: extra RecBole config entries.
        name: RecBole dataset name (default: the file's stem); also picks the per-dataset
            preset (``beauty``, ``toys``, ``sports``, ``yelp``, ``ml-1m``).
        work_dir: where data, checkpoints and logs go (default: a new temporary folder).
        saved: save the best checkpoint and test it (else test the last parameters).
        verbose: RecBole's per-epoch log lines.

    Returns:
        A :class:`RecBoleRun`.
    """
    run = prepare_recbole(dataset_file, model, config_overrides, name=name, work_dir=work_dir)
    trainer: SeqRecTrainer = run["trainer"]
    with recbole_workdir(run["work_dir"]):
        score, valid = trainer.fit(run["train"], run["valid"], verbose=verbose, saved=saved,
                                   show_progress=bool(run["config"]["show_progress"]))
        test = trainer.evaluate(run["test"], load_best_model=saved)
    return RecBoleRun(float(score), {k: float(v) for k, v in (valid or {}).items()},
                      {k: float(v) for k, v in (test or {}).items()}, run["model"], trainer,
                      run["dataset"], run["config"], run["work_dir"])


__all__ = ["GCLCL4SRec", "GCLMCLRec", "GCLSASRec", "GCLSeqRecommender", "MODELS", "RECBOLE_KEYS",
           "RecBoleRun", "SEQREC_RECBOLE_CONFIG", "SeqRecTrainer", "method_config", "prepare_recbole",
           "recbole_item_ids", "run_recbole", "to_native"]
