"""SASRec (Kang & McAuley, 2018) transformer encoder for next-item recommendation, in the form of
RecBole's ``TransformerEncoder`` (used by MCLRec, DuoRec, CL4SRec).

Input: ``x⁰ = Dropout(LayerNorm(E[s_t] + P[pos_t]))`` with item embeddings ``E`` (row 0 =
padding) and learned positions ``P``. Each block is **post-LayerNorm** (the original
Transformer / BERT / RecBole placement):

    a = Dropout_h(W_o · MHA(x))                   attention probabilities with Dropout_a
    x = LayerNorm(x + a)
    f = Dropout_h(W_2 · GELU(W_1 x + b_1) + b_2)  (no dropout between W_1 and W_2)
    x = LayerNorm(x + f)

``MHA`` is scaled dot-product attention with ``heads`` heads. Query position ``t`` may attend to
key ``u`` iff ``u <= t`` (causal) and ``s_u != 0`` (key padding; items set to 0 by a mask
augmentation are masked the same way). A query that would see no key at all (a padding
position before every item) attends to itself only, so every output depends on no later item;
RecBole instead gives such rows a uniform mix, which no real position ever reads.

Defaults are MCLRec's: d = 64, 2 blocks, 2 heads, FFN 256, GELU (erf form), dropout 0.5 on
hidden states and attention, LayerNorm eps 1e-12, all weights N(0, 0.02), biases 0, max length 50.

Padding side: ``'right'`` (RecBole: items left-aligned, the representation is the output at
position ``len − 1``) or ``'left'`` (``gcl.data.SequenceDataset``: items right-aligned, the
representation is the last column). Positions count from the first item of the sequence in both
layouts, so the same sequence gives the same outputs whichever layout or padding width is used.

Speed: :meth:`SASRecEncoder.last` (what the recommenders call) computes only the sequence
representation: rows are grouped into power-of-two length buckets and each bucket runs on just
the columns its rows occupy (on Beauty, 17% of a 50-column batch holds items), and the last
block computes only the last item's query row. Same outputs as ``forward(...).last``.
"""
from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Inverted dropout, ``x · m / (1 − p)`` with ``m_i ~ Bernoulli(1 − p)`` drawn as
    ``u_i >= p``, ``u_i ~ U[0, 1)`` (``torch.rand_like``, torch's global generator).

    The distribution of ``F.dropout``; drawing the mask from uniforms is several times faster on
    CPU than the ``bernoulli_`` kernel ``F.dropout`` uses (the masks differ draw by draw).
    Identity when not ``training`` or ``p == 0``.
    """
    if not training or p == 0.0:
        return x
    keep = torch.rand_like(x) >= p
    return x * keep.to(x.dtype).mul_(1.0 / (1.0 - p))


class SASRecOutput(NamedTuple):
    """Outputs of :class:`SASRecEncoder`.

    Attributes:
        hidden: [B, L, d] output at every position (meaningless where the input is padding).
        last: [B, d] output at the last item of each sequence (the sequence representation).
    """

    hidden: Tensor
    last: Tensor


class SASRecBlock(nn.Module):
    """One post-LayerNorm transformer block (formula in the module docstring).

    Args:
        dim: d; heads: number of heads (divides d); ffn_dim: FFN width.
        hidden_dropout: dropout on the attention output and on the FFN output.
        attn_dropout: dropout on the attention probabilities.
        layer_norm_eps: LayerNorm epsilon.

    Shapes:
        x: [B, L, d], allowed: [B, 1, L, L] bool (True = query may attend to key) -> [B, L, d]
    """

    def __init__(self, dim: int, heads: int, ffn_dim: int, hidden_dropout: float,
                 attn_dropout: float, layer_norm_eps: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"heads ({heads}) must divide the hidden size ({dim})")
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.attn_norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.ffn_in = nn.Linear(dim, ffn_dim)
        self.ffn_out = nn.Linear(ffn_dim, dim)
        self.ffn_norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.hidden_dropout = hidden_dropout
        self.attn_dropout = attn_dropout

    def _split(self, t: Tensor) -> Tensor:
        b, l, d = t.shape
        return t.view(b, l, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x: Tensor, allowed: Tensor, query: Tensor | None = None) -> Tensor:
        """Run the block; with ``query`` only one query row per sequence.

        Args:
            x: [B, L, d] inputs (queries, keys and values).
            allowed: [B, 1, L, L] bool attention mask.
            query: [B] long, the one position whose output is wanted per sequence (``None``:
                every position). Keys and values still come from all ``L`` positions, so the
                output row equals row ``query[b]`` of the full computation.

        Returns:
            [B, L, d], or [B, 1, d] with ``query``.
        """
        b, l, d = x.shape
        xq = x
        if query is not None:
            xq = x.gather(1, query.view(b, 1, 1).expand(b, 1, d))
            allowed = allowed.gather(2, query.view(b, 1, 1, 1).expand(b, allowed.size(1), 1, l))
        q, k, v = self._split(self.query(xq)), self._split(self.key(x)), self._split(self.value(x))
        ctx = F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed, dropout_p=self.attn_dropout if self.training else 0.0)
        a = self.out(ctx.transpose(1, 2).reshape(b, xq.size(1), d))
        x = self.attn_norm(xq + dropout(a, self.hidden_dropout, self.training))
        f = self.ffn_out(F.gelu(self.ffn_in(x)))
        return self.ffn_norm(x + dropout(f, self.hidden_dropout, self.training))


class SASRecEncoder(nn.Module):
    """Item + position embeddings and a stack of causal :class:`SASRecBlock`s.

    Args:
        num_items: number of real items; ids are ``1 .. num_items`` and 0 is padding, so the item
            table has ``num_items + 1`` rows (row 0 gets no gradient).
        dim: hidden size d (64).
        num_layers: blocks (2).
        heads: attention heads (2).
        ffn_dim: FFN width (256).
        max_len: longest input L (50): the number of position embeddings.
        hidden_dropout: dropout on the embeddings and hidden states (0.5).
        attn_dropout: dropout on the attention probabilities (0.5).
        layer_norm_eps: 1e-12.
        init_std: standard deviation of the normal initialisation (0.02).
        padding_side: ``'right'`` or ``'left'`` (see the module docstring).

    Shapes:
        ``forward(items [B, L] long, lengths [B] long | None) -> SASRecOutput(hidden [B, L, d],
        last [B, d])``. ``lengths`` (the number of items, counting items masked to 0) defaults to
        the span up to the last (right padding) or from the first (left padding) non-zero item.
    """

    def __init__(self, num_items: int, dim: int = 64, num_layers: int = 2, heads: int = 2,
                 ffn_dim: int = 256, max_len: int = 50, *, hidden_dropout: float = 0.5,
                 attn_dropout: float = 0.5, layer_norm_eps: float = 1e-12, init_std: float = 0.02,
                 padding_side: Literal["right", "left"] = "right"):
        super().__init__()
        if num_items < 1:
            raise ValueError(f"num_items must be >= 1, got {num_items}")
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
        self.num_items = num_items
        self.max_len = max_len
        self.padding_side = padding_side
        self.init_std = init_std
        self.hidden_dropout = hidden_dropout
        self.item_emb = nn.Embedding(num_items + 1, dim, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, dim)
        self.input_norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.blocks = nn.ModuleList(
            SASRecBlock(dim, heads, ffn_dim, hidden_dropout, attn_dropout, layer_norm_eps)
            for _ in range(num_layers)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """N(0, init_std²) for every Linear and Embedding weight (the padding row included, as
        RecBole does), zero biases, LayerNorm weight 1 and bias 0."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, self.init_std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
            if isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _lengths(self, items: Tensor) -> Tensor:
        nz = items != 0
        cols = torch.arange(items.size(1), device=items.device)
        if self.padding_side == "right":
            return torch.where(nz, cols + 1, torch.zeros_like(cols)).amax(1)
        return torch.where(nz, items.size(1) - cols, torch.zeros_like(cols)).amax(1)

    def attention_mask(self, items: Tensor) -> Tensor:
        """[B, 1, L, L] bool: query t may attend to key u iff u <= t and items[u] != 0, or u == t
        when no such key exists."""
        l = items.size(1)
        causal = torch.ones(l, l, dtype=torch.bool, device=items.device).tril()
        allowed = causal & (items != 0).unsqueeze(1)                       # [B, L, L]
        empty = ~allowed.any(-1, keepdim=True)                              # [B, L, 1]
        eye = torch.eye(l, dtype=torch.bool, device=items.device)
        return (allowed | (empty & eye)).unsqueeze(1)

    def positions(self, items: Tensor, lengths: Tensor) -> Tensor:
        """[B, L] position index of every column, counted from the sequence's first item."""
        cols = torch.arange(items.size(1), device=items.device).expand_as(items)
        if self.padding_side == "right":
            return cols
        return (cols - (items.size(1) - lengths).unsqueeze(1)).clamp(min=0)

    def _check(self, items: Tensor, lengths: Tensor | None) -> Tensor:
        """Validate the inputs; return ``lengths`` (counted from the items when ``None``)."""
        if items.dim() != 2:
            raise ValueError(f"items must have shape [B, L], got {tuple(items.shape)}")
        b, l = items.shape
        if l > self.max_len:
            raise ValueError(f"items has {l} columns, more than max_len = {self.max_len}")
        lengths = self._lengths(items) if lengths is None else lengths.to(items.device).long()
        if lengths.shape != (b,):
            raise ValueError(f"lengths must have shape [{b}], got {tuple(lengths.shape)}")
        return lengths

    def _embed(self, items: Tensor, lengths: Tensor, item_vectors: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Block input ``x⁰`` [B, L, d] and the attention mask [B, 1, L, L]; ``item_vectors``
        ([B, L, d]) are ``item_emb(items)`` when the caller looked them up already."""
        e = self.item_emb(items) if item_vectors is None else item_vectors
        x = e + self.pos_emb(self.positions(items, lengths))
        return dropout(self.input_norm(x), self.hidden_dropout, self.training), self.attention_mask(items)

    def _last_index(self, items: Tensor, lengths: Tensor) -> Tensor:
        """[B] column of each sequence's last item."""
        if self.padding_side == "right":
            return (lengths - 1).clamp(min=0)
        return torch.full_like(lengths, items.size(1) - 1)

    def forward(self, items: Tensor, lengths: Tensor | None = None) -> SASRecOutput:
        lengths = self._check(items, lengths)
        b = items.size(0)
        x, allowed = self._embed(items, lengths)
        for block in self.blocks:
            x = block(x, allowed)
        idx = self._last_index(items, lengths)
        last = x.gather(1, idx.view(b, 1, 1).expand(b, 1, x.size(-1))).squeeze(1)
        return SASRecOutput(x, last)

    def _last_one_width(self, items: Tensor, lengths: Tensor, item_vectors: Tensor | None = None) -> Tensor:
        """``forward(items, lengths).last`` computing only what it needs: the last block runs
        its one query row (:meth:`SASRecBlock.forward` with ``query``)."""
        x, allowed = self._embed(items, lengths, item_vectors)
        for block in self.blocks[:-1]:
            x = block(x, allowed)
        return self.blocks[-1](x, allowed, self._last_index(items, lengths)).squeeze(1)

    def bucket_widths(self, width: int) -> list[int]:
        """The column counts :meth:`last` cuts a ``width``-column batch to: powers of two below
        ``width``, then ``width``."""
        return [2 ** k for k in range(max(width - 1, 1).bit_length()) if 2 ** k < width] + [width]

    def last(self, items: Tensor, lengths: Tensor | None = None) -> Tensor:
        """[B, d] output at each sequence's last item: ``forward(items, lengths).last``, faster.

        Rows are grouped by the columns they occupy (their span: ``lengths``, or the non-pad
        items when they reach further) into buckets of :meth:`bucket_widths`; each bucket runs
        the encoder on only that many columns (the leading columns of left padding, the trailing
        ones of right padding, which hold nothing the row can attend to), and the last block
        computes only the last item's query row. Outputs equal ``forward(...).last`` (same
        positions, same visible keys; up to float rounding); in training the dropout masks are
        drawn only for the computed entries (same distribution, fewer draws). Buckets are a loop
        over at most ``log2(L) + 1`` groups, never over sequences; the item vectors of all
        buckets are looked up in one call (one dense gradient of the item table, not one per
        bucket).

        Shapes:
            items [B, L] long, lengths [B] long | None -> [B, d].
        """
        lengths = self._check(items, lengths)
        b, l = items.shape
        span = torch.maximum(lengths, self._lengths(items)).clamp(min=1)
        widths = self.bucket_widths(l)
        bucket = torch.bucketize(span, torch.tensor(widths, device=items.device))
        present = torch.unique(bucket).tolist()
        if len(present) == 1:
            w = widths[present[0]]
            cut = items[:, l - w:] if self.padding_side == "left" else items[:, :w]
            return self._last_one_width(cut, lengths)
        rows, subs = [], []
        for k in present:
            idx = (bucket == k).nonzero().squeeze(1)
            w = widths[k]
            sub = items.index_select(0, idx)
            rows.append(idx)
            subs.append(sub[:, l - w:] if self.padding_side == "left" else sub[:, :w])
        vectors = self.item_emb(torch.cat([sub.reshape(-1) for sub in subs]))
        vectors = vectors.split([sub.numel() for sub in subs])
        outs = [self._last_one_width(sub, lengths.index_select(0, idx), vec.view(*sub.shape, -1))
                for idx, sub, vec in zip(rows, subs, vectors)]
        return torch.cat(outs).index_select(0, torch.argsort(torch.cat(rows)))

    def item_scores(self, h: Tensor) -> Tensor:
        """``h · Eᵀ`` against every row of the item table (tied embeddings).

        Args:
            h: [B, d] sequence representations.

        Returns:
            [B, num_items + 1]; column 0 is the padding item (mask it for ranking).
        """
        return h @ self.item_emb.weight.t()
