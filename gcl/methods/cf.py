"""Shared collaborative-filtering training pieces: negatives, BPR batches, one epoch, evaluation.

Every recommendation method (:class:`gcl.methods.LightGCN`, :class:`gcl.methods.SGL`,
:class:`gcl.methods.LightGCL`) is a :class:`CFMethod` trained the same way:

* an epoch is one pass over the shuffled training interactions ``(u, i⁺)`` in batches of
  ``batch_size``; each interaction gets one negative ``i⁻`` drawn uniformly from the items
  ``u`` never interacted with in train, drawn once per epoch for all interactions at once
  (:func:`sample_negatives`: uniform draw, rejection by membership in the sorted CSR keys
  ``u·J + i``, redraw of the rejects only);
* before the first batch the method's :meth:`CFMethod.begin_epoch` runs (SGL draws its two
  views there; a no-op for the others);
* per batch ``loss, parts = model.loss(u, i⁺, i⁻, generator)``, backward, optimizer step;
* evaluation is full ranking over all items with the user's training items (and validation
  items when testing) masked to −∞ by index (:mod:`gcl.eval.ranking`); Recall@K has the
  denominator ``|T_u|``, NDCG@K the ideal DCG over ``min(K, |T_u|)`` hits, both averaged over
  users with held-out items.

Configs (:class:`CFConfig` subclasses) hold the paper / official defaults with named presets
and per-dataset rows: ``Config.for_dataset(dataset, {"preset": ..., **overrides})``.

Nothing here loops over users or interactions in Python; everything runs on the device of the
graph (move it first with ``graph.to(device)``; build the model from the moved graph).
"""
from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Iterator, Mapping

import torch
from torch import Tensor, nn

from gcl.data.interactions import InteractionGraph
from gcl.eval.ranking import rank_by_embeddings
from gcl.train.steps import record_step
from gcl.utils.presets import config_from_preset

#: rejection rounds of :func:`sample_negatives` before giving up (each round redraws only the
#: rejects, whose number shrinks geometrically unless a user has almost every item).
MAX_REJECTION_ROUNDS = 1000


# ----------------------------------------------------------------------------------------
# Configs
# ----------------------------------------------------------------------------------------


@dataclass
class CFConfig:
    """Fields shared by every recommendation method's config.

    Attributes:
        dim: embedding size d.
        num_layers: propagation layers L.
        batch_size: training interactions per step.
        lr: Adam learning rate.
        epochs: training epochs.
        eval_every: epochs between validations (the last epoch is always validated).
        preset: the named setting the defaults came from (see the subclass's ``PRESETS``).

    Subclasses set ``PRESETS`` (preset name -> field values over the dataclass defaults) and
    ``DATASET_ROWS`` (preset name -> dataset name -> field values).
    """

    dim: int = 64
    num_layers: int = 3
    batch_size: int = 2048
    lr: float = 1e-3
    epochs: int = 1000
    eval_every: int = 3
    preset: str = "default"

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"default": {}}
    DATASET_ROWS: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {}

    def __post_init__(self) -> None:
        for name in ("dim", "batch_size", "epochs", "eval_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_layers < 0:
            raise ValueError(f"num_layers must be >= 0, got {self.num_layers}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.preset not in self.PRESETS:
            raise ValueError(f"preset must be one of {sorted(self.PRESETS)}, got {self.preset!r}")

    @classmethod
    def for_dataset(cls, name: str, overrides: Mapping[str, Any] | None = None) -> "CFConfig":
        """Defaults of the preset (``overrides["preset"]`` or the class default), then its row
        for dataset ``name`` (if any), then ``overrides``.

        Raises:
            ValueError: an unknown key or preset.
        """
        default_preset = next(f.default for f in fields(cls) if f.name == "preset")
        return config_from_preset(cls, default_preset, overrides, dataset=name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------------------
# Method base class
# ----------------------------------------------------------------------------------------


def check_graph(graph: InteractionGraph) -> None:
    """Raise ``ValueError`` unless ``graph`` is an :class:`InteractionGraph` with training data
    whose split matrices all have shape ``[n_users, n_items]``."""
    if not isinstance(graph, InteractionGraph):
        raise ValueError(f"graph must be an InteractionGraph, got {type(graph).__name__}")
    for split in ("train", "valid", "test"):
        shape = tuple(graph.split(split).shape)
        if shape != (graph.n_users, graph.n_items):
            raise ValueError(f"the {split} matrix has shape {shape}, expected "
                             f"({graph.n_users}, {graph.n_items}) = (n_users, n_items)")
    if graph.n_train == 0:
        raise ValueError("the training split is empty: nothing to train on")


class CFMethod(nn.Module):
    """Base of the recommendation methods (an ``nn.Module``).

    Subclasses implement :meth:`loss` and :meth:`propagate`; :meth:`begin_epoch` is a hook
    run before every epoch's first batch.

    Attributes:
        config: the method's :class:`CFConfig`.
        n_users, n_items: I and J of the training graph.
    """

    config_class: ClassVar[type[CFConfig]] = CFConfig

    def __init__(self, graph: InteractionGraph, config: CFConfig):
        super().__init__()
        check_graph(graph)
        if not isinstance(config, self.config_class):
            raise ValueError(f"config must be a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config
        self.n_users, self.n_items = graph.n_users, graph.n_items

    @classmethod
    def from_graph(cls, graph: InteractionGraph, config: CFConfig | None = None) -> "CFMethod":
        """Build the method for ``graph`` (on ``graph.device``) with ``config`` (default: the
        config class's defaults)."""
        model = cls(graph, config if config is not None else cls.config_class())
        return model.to(graph.device)

    def begin_epoch(self, generator: torch.Generator | None = None) -> None:
        """Hook run once before every epoch (no-op by default)."""

    def propagate(self) -> tuple[Tensor, Tensor]:
        """Final user [I, d] and item [J, d] embeddings of the main graph (differentiable)."""
        raise NotImplementedError

    def loss(self, users: Tensor, pos_items: Tensor, neg_items: Tensor,
             generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, float]]:
        """The training loss of one batch and its parts as floats."""
        raise NotImplementedError

    @torch.no_grad()
    def embeddings(self) -> tuple[Tensor, Tensor]:
        """User [I, d] and item [J, d] embeddings for scoring ``s(u, i) = e_u · e_i`` (no grad)."""
        was_training = self.training
        self.eval()
        try:
            u, i = self.propagate()
        finally:
            self.train(was_training)
        return u.detach(), i.detach()

    def make_optimizer(self) -> torch.optim.Optimizer:
        """Adam with the config's ``lr`` (and ``weight_decay`` when the config has one)."""
        return torch.optim.Adam(self.parameters(), lr=self.config.lr,
                                weight_decay=float(getattr(self.config, "weight_decay", 0.0)))

    def make_scheduler(self, optimizer: torch.optim.Optimizer) -> Any | None:
        """A per-epoch learning-rate scheduler, or ``None`` (the default)."""
        return None

    def check_batch(self, users: Tensor, pos_items: Tensor, neg_items: Tensor) -> None:
        """Raise ``ValueError`` for batches of unequal length or ids out of range."""
        if not (users.shape == pos_items.shape == neg_items.shape) or users.dim() != 1:
            raise ValueError(f"users, pos_items, neg_items must be 1-D of one length, got "
                             f"{tuple(users.shape)}, {tuple(pos_items.shape)}, {tuple(neg_items.shape)}")
        if users.numel() == 0:
            raise ValueError("empty batch")
        _check_range("users", users, self.n_users)
        _check_range("pos_items", pos_items, self.n_items)
        _check_range("neg_items", neg_items, self.n_items)


def _check_range(name: str, ids: Tensor, n: int) -> None:
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= n):
        raise ValueError(f"{name} ids must lie in [0, {n}), got range [{int(ids.min())}, {int(ids.max())}]")


# ----------------------------------------------------------------------------------------
# Sampling
# ----------------------------------------------------------------------------------------


def _draw_device(generator: torch.Generator | None, fallback: torch.device) -> torch.device:
    return generator.device if generator is not None else fallback


def sample_negatives(train: Tensor, users: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One uniform item per user among the items it never interacted with in ``train``.

    Vectorized rejection: draw ``j ~ U{0..J-1}`` for every entry, look the key ``u·J + j`` up
    in the sorted keys of ``train`` (CSR order is row-major with sorted columns, so the keys
    are sorted) with ``searchsorted``, redraw the entries that hit, repeat on the rejects only.

    Args:
        train: [I, J] sparse CSR of training interactions (columns sorted within rows).
        users: [B] long user ids (duplicates allowed).
        generator: source of randomness (its device is where the draws happen).

    Returns:
        [B] long item ids on ``users.device``.

    Raises:
        ValueError: user ids out of range, or a user who interacted with every item.
    """
    if not (isinstance(train, Tensor) and train.layout == torch.sparse_csr and train.dim() == 2):
        raise ValueError("train must be a 2-D sparse CSR user x item tensor")
    n_users, n_items = int(train.size(0)), int(train.size(1))
    crow, col = train.crow_indices(), train.col_indices()
    users = users.to(crow.device).long()
    _check_range("users", users, n_users)
    deg = crow[1:] - crow[:-1]
    if users.numel() and int(deg.index_select(0, users).max()) >= n_items:
        full = users[deg.index_select(0, users) >= n_items][0]
        raise ValueError(f"user {int(full)} interacted with all {n_items} items: no negative exists")
    rows = torch.repeat_interleave(torch.arange(n_users, device=crow.device), deg)
    keys = rows * n_items + col
    gdev = _draw_device(generator, crow.device)
    neg = torch.randint(0, n_items, users.shape, generator=generator, device=gdev).to(crow.device)
    todo = torch.arange(users.numel(), device=crow.device)
    for _ in range(MAX_REJECTION_ROUNDS):
        if todo.numel() == 0 or keys.numel() == 0:
            return neg
        q = users.index_select(0, todo) * n_items + neg.index_select(0, todo)
        pos = torch.searchsorted(keys, q).clamp_(max=keys.numel() - 1)
        todo = todo[keys.index_select(0, pos) == q]
        if todo.numel():
            redraw = torch.randint(0, n_items, todo.shape, generator=generator, device=gdev)
            neg.index_copy_(0, todo, redraw.to(crow.device))
    raise RuntimeError(f"negative sampling did not finish in {MAX_REJECTION_ROUNDS} rounds")


def bpr_batches(graph: InteractionGraph, batch_size: int, generator: torch.Generator | None = None
                ) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """One pass over the shuffled training interactions as ``(users, pos_items, neg_items)``.

    The permutation and every interaction's negative are drawn once, before the first batch.

    Args:
        graph: the interaction graph (its ``train`` split).
        batch_size: interactions per batch (the last batch may be smaller).
        generator: source of randomness.

    Yields:
        three [b] long tensors on ``graph.device``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    users, items = graph.train_pairs()
    n = users.numel()
    if n == 0:
        raise ValueError("the training split is empty: nothing to train on")
    perm = torch.randperm(n, generator=generator, device=_draw_device(generator, users.device)).to(users.device)
    users, items = users.index_select(0, perm), items.index_select(0, perm)
    negs = sample_negatives(graph.train, users, generator)
    for s in range(0, n, batch_size):
        yield users[s:s + batch_size], items[s:s + batch_size], negs[s:s + batch_size]


# ----------------------------------------------------------------------------------------
# Training and evaluation
# ----------------------------------------------------------------------------------------


def train_epoch(model: CFMethod, optimizer: torch.optim.Optimizer, graph: InteractionGraph,
                batch_size: int, generator: torch.Generator | None = None) -> dict[str, float]:
    """One epoch: ``model.begin_epoch``, then a loss / backward / step per BPR batch.

    Each batch's terms are reported with :func:`gcl.train.record_step`, so the engine names
    the step (batch) of a NaN.

    Returns:
        the mean over batches of ``loss`` and of every part the model reports
        (e.g. ``{"loss", "bpr", "cl", "reg"}``).
    """
    model.train()
    model.begin_epoch(generator)
    sums: dict[str, float] = {}
    n_batches = 0
    for users, pos, neg in bpr_batches(graph, batch_size, generator):
        optimizer.zero_grad(set_to_none=True)
        loss, parts = model.loss(users, pos, neg, generator)
        record_step({"loss": loss.detach(), **parts})
        loss.backward()
        optimizer.step()
        sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + float(v)
        n_batches += 1
    return {k: v / n_batches for k, v in sums.items()}


_SEEN: "weakref.WeakKeyDictionary[InteractionGraph, Tensor]" = weakref.WeakKeyDictionary()


def _excluded(graph: InteractionGraph, split: str) -> Tensor:
    """Items masked when ranking for ``split`` (train; train + valid for test), cached."""
    if split == "valid" or graph.n_valid == 0:
        return graph.train
    if graph not in _SEEN:
        _SEEN[graph] = graph.seen_before(split)
    return _SEEN[graph]


@torch.no_grad()
def evaluate(model: CFMethod, graph: InteractionGraph, split: str = "valid", ks: tuple[int, ...] = (20, 40),
             batch_size: int = 1024) -> dict[str, float]:
    """Full-ranking Recall@K and NDCG@K on ``split`` with seen items masked by index.

    Args:
        model: a trained :class:`CFMethod` (its :meth:`~CFMethod.embeddings` are scored).
        graph: the graph it was trained on.
        split: ``"valid"`` (train items masked) or ``"test"`` (train and valid items masked).
        ks: cut-offs.
        batch_size: users scored per block ([batch, J] scores at a time).

    Returns:
        ``{"recall@20": ..., "ndcg@20": ..., "recall@40": ..., "ndcg@40": ..., "n_users": ...}``.

    Raises:
        ValueError: an unknown or empty split.
    """
    if split not in ("valid", "test"):
        raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
    truth = graph.split(split)
    if truth.col_indices().numel() == 0:
        raise ValueError(f"the {split} split of {graph.name or 'the graph'} is empty: nothing to evaluate")
    if (model.n_users, model.n_items) != (graph.n_users, graph.n_items):
        raise ValueError(f"the model was built for {model.n_users} users x {model.n_items} items, the "
                         f"graph has {graph.n_users} x {graph.n_items}")
    user_emb, item_emb = model.embeddings()
    return rank_by_embeddings(user_emb, item_emb, truth, exclude=_excluded(graph, split), ks=ks,
                              metrics=("recall", "ndcg"), batch_size=batch_size)


__all__ = ["CFConfig", "CFMethod", "bpr_batches", "check_graph", "evaluate", "sample_negatives",
           "train_epoch"]
