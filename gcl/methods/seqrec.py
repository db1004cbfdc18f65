"""Shared base of the sequential recommenders (:class:`gcl.methods.SASRec`, :class:`gcl.methods.CL4SRec`,
:class:`gcl.methods.MCLRec`): config fields, the SASRec encoder with tied item embeddings, the
next-item loss, the optimisers.

**Layout.** Inputs are ``[B, L]`` item ids, **left-padded** with 0 (the layout of
:class:`gcl.data.SequenceDataset`); the representation is the encoder output at the last
column (= position ``len − 1`` of the right-padded RecBole layout; the encoder counts positions
from the first item, so both layouts give the same numbers). Data in RecBole's right-padded
layout is converted with :func:`gcl.views.sequence.right_to_left_padding`.

**Next-item loss.** ``h = f_θ(s)`` ``[B, d]``, logits ``h · Eᵀ`` against every row of the item
table ``E`` ``[n_items + 1, d]`` (tied with the input embeddings; row 0 is the padding item),
and full-softmax cross-entropy with the target item. Like RecBole / the official MCLRec code
(``item_embedding.weight[:n_items]`` with RecBole's ``n_items`` counting the padding id), the
softmax includes the padding column, which is never a target. For ranking the padding column
is excluded (:mod:`gcl.eval.next_item`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import torch
from torch import Tensor, nn

from gcl.losses.streaming_lse import streaming_logsumexp
from gcl.methods.cf import CFConfig
from gcl.nn.sasrec import SASRecEncoder
from gcl.train.optim_group import OptimizerGroup

#: items per block of the streamed log-sum-exp of :meth:`SeqRecMethod.rec_loss`
CE_CHUNK = 1024
#: MovieLens-1M's official dropout (the other datasets use 0.5)
ML1M_DROPOUT: dict[str, Any] = dict(hidden_dropout=0.1, attn_dropout=0.1)


@dataclass
class SeqRecConfig(CFConfig):
    """Hyper-parameters shared by the sequential recommenders (official MCLRec / RecBole values).

    Attributes:
        dim: hidden size d (64).
        num_layers: transformer blocks (2).
        heads: attention heads (2).
        ffn_dim: feed-forward width (256).
        max_len: longest input; older items are cut (50).
        hidden_dropout, attn_dropout: dropout on hidden states and attention (0.5).
        layer_norm_eps, init_std: LayerNorm epsilon (1e-12), N(0, init_std²) initialisation (0.02).
        batch_size: training prefixes per step (256).
        lr, weight_decay: Adam settings (1e-3, 0).
        clip_grad_norm: max gradient norm of the encoder, ``None`` for no clipping (default).
        epochs: training epochs (100).
        eval_every: epochs between validations (1).
        patience: early stopping after this many epochs without a better validation ``monitor``
            (10; ``None`` never stops).
        monitor: validation metric used for selection (``mrr@10``).
        mask_history: exclude history items when ranking (default False, the paper's protocol).
        eval_batch_size: users per evaluation batch.
        preset: the named setting the defaults came from.
    """

    dim: int = 64
    num_layers: int = 2
    heads: int = 2
    ffn_dim: int = 256
    max_len: int = 50
    hidden_dropout: float = 0.5
    attn_dropout: float = 0.5
    layer_norm_eps: float = 1e-12
    init_std: float = 0.02
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    clip_grad_norm: float | None = None
    epochs: int = 100
    eval_every: int = 1
    patience: int | None = 10
    monitor: str = "mrr@10"
    mask_history: bool = False
    eval_batch_size: int = 512
    preset: str = "default"

    DATASET_ROWS: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {"default": {"ml-1m": dict(ML1M_DROPOUT)}}

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("heads", "ffn_dim", "max_len", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {self.num_layers}")
        if self.dim % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide dim ({self.dim})")
        for name in ("hidden_dropout", "attn_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.clip_grad_norm is not None and not self.clip_grad_norm > 0:
            raise ValueError(f"clip_grad_norm must be > 0 or None, got {self.clip_grad_norm}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience}")
        metric, _, k = self.monitor.partition("@")
        if metric not in ("hr", "ndcg", "mrr") or not k.isdigit():
            raise ValueError(f"monitor must be hr@K, ndcg@K or mrr@K, got {self.monitor!r}")


class SeqRecMethod(nn.Module):
    """SASRec encoder with tied item embeddings; base of the sequential methods.

    Args:
        n_items: number of real items (ids ``1 .. n_items``; 0 is padding).
        config: hyper-parameters.

    Subclasses implement :meth:`train_step`. The encoder's parameters are ``θ``
    (:meth:`theta_parameters`); methods with more parameter sets override
    :meth:`make_optimizers`.
    """

    config_class: ClassVar[type[SeqRecConfig]] = SeqRecConfig

    def __init__(self, n_items: int, config: SeqRecConfig):
        super().__init__()
        if n_items < 1:
            raise ValueError(f"n_items must be >= 1, got {n_items}")
        self.config = config
        self.n_items = n_items
        self.encoder = SASRecEncoder(
            n_items + self.extra_tokens(config), config.dim, config.num_layers, config.heads, config.ffn_dim, config.max_len,
            hidden_dropout=config.hidden_dropout, attn_dropout=config.attn_dropout,
            layer_norm_eps=config.layer_norm_eps, init_std=config.init_std, padding_side="left")

    @classmethod
    def from_dataset(cls, dataset: Any, config: SeqRecConfig | None = None,
                     overrides: Mapping[str, Any] | None = None) -> "SeqRecMethod":
        """Build for a :class:`gcl.data.SequenceDataset` (its ``n_items``); the config defaults to
        ``config_class.for_dataset(dataset.name, overrides)``."""
        if config is None:
            config = cls.config_class.for_dataset(dataset.name or "", overrides)
        if config.max_len != dataset.max_len:
            raise ValueError(f"config.max_len ({config.max_len}) differs from the dataset's max_len "
                             f"({dataset.max_len}); load the dataset with max_len={config.max_len}")
        return cls(dataset.n_items, config)

    # ------------------------------------------------------------------ model
    @staticmethod
    def extra_tokens(config: SeqRecConfig) -> int:
        """Item-table rows beyond ``n_items + 1`` (a dedicated mask token); never scored."""
        return 0

    def encode(self, seqs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``h = f_θ(seqs)`` ``[B, d]``: the output at each sequence's last item.

        Args:
            seqs: ``[B, L]`` left-padded item ids (``L <= max_len``).
            lengths: ``[B]`` number of items (default: counted from the first non-pad item;
                pass it for views whose masked items hold the padding id).

        Runs :meth:`gcl.nn.SASRecEncoder.last` (rows bucketed by length, only the last query
        row in the last block): the numbers of ``encoder(seqs, lengths).last``.
        """
        return self.encoder.last(seqs, lengths)

    def item_logits(self, h: Tensor) -> Tensor:
        """``[B, n_items + 1]`` tied scores ``h · E[j]`` for ``j = 0 .. n_items`` (0 = padding)."""
        return h @ self.encoder.item_emb.weight[: self.n_items + 1].T

    def rec_loss(self, h: Tensor, targets: Tensor) -> Tensor:
        """Full-softmax cross-entropy of the target item (module docstring):

            L = mean_b [ log Σ_{j=0..n_items} exp(h_b · E_j) − h_b · E_{target_b} ]

        ``= F.cross_entropy(self.item_logits(h), targets)``; the log-sum-exp is streamed over
        blocks of :data:`CE_CHUNK` items (:func:`gcl.losses.streaming_lse.streaming_logsumexp`),
        so no ``[B, n_items]`` logit matrix is written, read back and differentiated (each block
        stays in cache; faster on CPU, same values and gradients up to float rounding).
        """
        items = self.encoder.item_emb.weight[: self.n_items + 1]
        lse = streaming_logsumexp(h, items, chunk_size=CE_CHUNK, max_saved=0)
        return (lse - (h * items.index_select(0, targets)).sum(-1)).mean()

    def score(self, seqs: Tensor) -> Tensor:
        """``[B, n_items + 1]`` ranking scores of every item for left-padded inputs."""
        return self.item_logits(self.encode(seqs))

    # ------------------------------------------------------------------ training
    def theta_parameters(self) -> list[nn.Parameter]:
        """The encoder's parameters θ (item and position embeddings, blocks)."""
        return list(self.encoder.parameters())

    def _adam(self, params: list[nn.Parameter]) -> torch.optim.Adam:
        """Adam with the config's settings; the fused kernel where torch has one (CPU, CUDA): the
        same update as the default implementation, one kernel instead of a dozen per tensor."""
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
        return torch.optim.Adam(params, lr=self.config.lr, weight_decay=self.config.weight_decay,
                                fused=fused or None)

    def make_optimizers(self) -> OptimizerGroup:
        """``{"theta": Adam(θ)}`` with the config's learning rate and weight decay."""
        return OptimizerGroup({"theta": self._adam(self.theta_parameters())})

    def clip_theta(self) -> None:
        """Clip θ's gradient norm to ``config.clip_grad_norm`` (no-op when ``None``)."""
        if self.config.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.theta_parameters(), self.config.clip_grad_norm)

    def train_step(self, seqs: Tensor, targets: Tensor, optimizers: OptimizerGroup,
                   generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """One optimisation step on a batch; returns the detached loss terms (keys ``loss*``).

        Args:
            seqs: ``[B, L]`` left-padded inputs.
            targets: ``[B]`` next items.
            optimizers: from :meth:`make_optimizers`.
            generator: randomness of the views (methods without views ignore it).
        """
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"n_items={self.n_items}"


__all__ = ["CE_CHUNK", "ML1M_DROPOUT", "SeqRecConfig", "SeqRecMethod"]
