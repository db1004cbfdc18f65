"""AdaMEOW: InfoNCE with learned per-pair negative weights (Yu, Ge, Li, Zhou; TKDE 2024).

A small MLP scores each (anchor, candidate) pair from the sum of their embeddings:

    w_ij = sigmoid( w2 . tanh(W1 (f_i + a_j) + b1) + b2 ),    W1: d -> h (h = 16)

and the loss, with anchors ``f_i`` (fine view) and candidates ``a_j`` (coarse view), both
already L2-normalised, is

    L = -(1/N) sum_i log( exp(f_i . a_i / tau) / sum_j w_ij exp(f_i . a_j / tau) )

(the positive is in the denominator, weighted by ``w_ii``).

**Block form (exact).** ``W1 (f_i + a_j) + b1 = U_i + V_j`` with ``U = f W1^T`` and
``V = a W1^T + b1``. Anchor rows are processed in blocks of B: ``tanh(U_blk[:, None] + V[None])``
is ``B x N x h``, giving the log-weights ``log w = logsigmoid(...)``, then
``logsumexp(f . a / tau + log w)``. Each block is checkpointed, so forward and backward stay
within O(B x N x h) memory, never the O(N^2 x d) input of the naive form
(:meth:`AdaMEOWWeightNet.naive_weights`, kept as a small-N reference).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gcl.losses._chunk import checkpointed_rows, row_blocks
from gcl.losses.infonce import info_nce
from gcl.losses.temperature import check_tau


class AdaMEOWWeightNet(nn.Module):
    """The pair-weight MLP ``w(f_i, a_j) = sigmoid(w2 . tanh(W1 (f_i + a_j) + b1) + b2)``.

    Args:
        dim: embedding size d.
        hidden: hidden size h (16 in AdaMEOW).
    """

    def __init__(self, dim: int = 64, hidden: int = 16):
        super().__init__()
        self.lin1 = nn.Linear(dim, hidden)
        self.lin2 = nn.Linear(hidden, 1)

    def _check(self, f: Tensor, a: Tensor) -> None:
        d = self.lin1.in_features
        if f.dim() != 2 or a.dim() != 2 or f.size(1) != d or a.size(1) != d:
            raise ValueError(f"f and a must be [N, {d}] and [M, {d}], got {tuple(f.shape)} and {tuple(a.shape)}")

    def log_weight_provider(self, f: Tensor, a: Tensor) -> Callable[[int, int], Tensor]:
        """``fn(start, stop) -> log w [stop - start, M]`` by the block form ``U_i + V_j``.

        ``U`` [N, h] and ``V`` [M, h] are computed once; each call builds one ``B x M x h`` block.
        """
        self._check(f, a)
        u = f @ self.lin1.weight.T                                            # [N, h]
        v = a @ self.lin1.weight.T + self.lin1.bias                           # [M, h]
        w2, b2 = self.lin2.weight.squeeze(0), self.lin2.bias

        def log_w(start: int, stop: int) -> Tensor:
            hid = torch.tanh(u[start:stop, None, :] + v[None, :, :])          # [B, M, h]
            return F.logsigmoid(hid @ w2 + b2)                                # [B, M]

        return log_w

    def forward(self, f: Tensor, a: Tensor, *, chunk_size: int | None = None) -> Tensor:
        """The weights w [N, M] (block form; the output itself is N x M: moderate N only)."""
        log_w = self.log_weight_provider(f, a)
        return checkpointed_rows(lambda s, e: log_w(s, e).exp(), f.size(0), chunk_size)

    def naive_weights(self, f: Tensor, a: Tensor) -> Tensor:
        """Reference form: the N x M x d input ``f_i + a_j`` through the MLP, **O(N M d) memory**."""
        self._check(f, a)
        x = f[:, None, :] + a[None, :, :]                                     # [N, M, d]
        return torch.sigmoid(self.lin2(torch.tanh(self.lin1(x)))).squeeze(-1)

    @torch.no_grad()
    def stats(self, f: Tensor, a: Tensor, *, chunk_size: int | None = 1024) -> dict[str, float]:
        """Mean, standard deviation, min and max of w over all pairs (chunked, no gradient).

        The AdaMEOW loss has no regulariser on w, so these are worth logging during training.
        """
        log_w = self.log_weight_provider(f, a)
        total = sq = 0.0
        lo, hi, count = float("inf"), float("-inf"), 0
        for start, stop in row_blocks(f.size(0), chunk_size):  # a loop over row blocks
            blk = log_w(start, stop).exp().double()
            total += float(blk.sum())
            sq += float((blk * blk).sum())
            lo, hi, count = min(lo, float(blk.min())), max(hi, float(blk.max())), count + blk.numel()
        mean = total / count
        return {"mean": mean, "std": max(sq / count - mean * mean, 0.0) ** 0.5, "min": lo, "max": hi}


def adameow_loss(f: Tensor, a: Tensor, net: AdaMEOWWeightNet, tau: float | Tensor = 1.0, *,
                 chunk_size: int | None = None) -> Tensor:
    """AdaMEOW's weighted InfoNCE (see the module docstring).

    Args:
        f: [N, d] anchors (fine view), already L2-normalised (not renormalised here).
        a: [N, d] candidates (coarse view), already L2-normalised; ``a_i`` is f_i's positive.
        net: the weight MLP; gradients reach its parameters.
        tau: temperature.
        chunk_size: anchors per checkpointed block (memory O(chunk x N x h)).
    """
    check_tau(tau)
    return info_nce(f, a, tau, intra_view=False, normalize=False, chunk_size=chunk_size,
                    log_weight=net.log_weight_provider(f, a))


class AdaMEOWLoss(nn.Module):
    """AdaMEOW loss holding its weight net: ``forward(f, a)``.

    Args:
        dim: embedding size d.
        hidden: weight-net hidden size.
        tau: temperature.
        chunk_size: anchors per block.
    """

    def __init__(self, dim: int = 64, hidden: int = 16, *, tau: float = 1.0, chunk_size: int | None = None):
        super().__init__()
        check_tau(tau)
        self.weight_net = AdaMEOWWeightNet(dim, hidden)
        self.tau, self.chunk_size = tau, chunk_size

    def forward(self, f: Tensor, a: Tensor) -> Tensor:
        return adameow_loss(f, a, self.weight_net, self.tau, chunk_size=self.chunk_size)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, chunk_size={self.chunk_size}"
