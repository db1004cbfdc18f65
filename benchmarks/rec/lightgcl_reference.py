"""An official-style LightGCL training step and evaluation: the speed baseline.

Written for the benchmark from the description of the official code (HKUDS/LightGCL, repository
root, i.e. the ``repo`` preset) in ``docs/methods/lightgcl.md``; it keeps the official code's
costs on purpose, so that :mod:`speed_lightgcl` measures what gcl's :class:`~gcl.methods.LightGCL`
saves:

* preprocessing: a scipy COO matrix of the training pairs normalised **one stored entry at a
  time in a Python loop** (``data[k] / sqrt(d_u[row[k]] · d_i[col[k]])``), turned into a
  torch sparse COO tensor; ``torch.svd_lowrank(Â, q)`` (or given factors, for the parity
  check);
* negatives: per epoch, one Python ``while`` loop per training interaction drawing uniform
  items until one is not in the user's training set (a ``dok_matrix`` membership test);
* batches: a ``torch.utils.data.DataLoader`` over a per-interaction ``Dataset``
  (``__getitem__`` returns ``(u, i⁺, i⁻)``; default collation), shuffled;
* forward, every step: for each layer ``torch.spmm(dropout_copy(Â), E_i)`` and
  ``torch.spmm(dropout_copy(Â).transpose(0, 1), E_u)`` on COO tensors (a fresh sparse
  tensor with dropped-out values and a fresh transpose per call), the SVD view as
  ``(U S)(Vᵀ E)``; sums over layers;
* loss: ``log(exp(Gu[u]·Euᵀ/τ).sum(1) + 1e-8).mean()`` over **all** users (and all items for
  ``cat(i⁺, i⁻)``) minus the clamped positive, BPR, ``λ2 Σ_params ‖p‖²``; Adam;
* evaluation: per batch of users ``E_u[batch] @ E_iᵀ``, the excluded items as a **dense**
  ``batch × items`` mask from ``csr[batch].toarray()``, ``scores·(1−mask) − 1e8·mask``, a
  **full** ``argsort``, then Recall/NDCG@K per user in a Python loop (``prediction.index``).

Deviation from the official evaluation, for a like-for-like comparison: the mask holds the
items gcl excludes (train, plus validation when ranking test), and the metrics are averaged
over users (the official code averages per-batch means).
"""
from __future__ import annotations

import math
import time
import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn


def normalize_per_entry(train: sp.coo_matrix) -> sp.coo_matrix:
    """``Â = D_u^{-1/2} A D_i^{-1/2}``, one stored entry at a time (the official loop)."""
    train = train.tocoo().astype(np.float32)
    row_d = np.array(train.sum(1)).squeeze()
    col_d = np.array(train.sum(0)).squeeze()
    for k in range(len(train.data)):
        train.data[k] = train.data[k] / pow(row_d[train.row[k]] * col_d[train.col[k]], 0.5)
    return train


def to_torch_coo(mat: sp.coo_matrix) -> Tensor:
    mat = mat.tocoo().astype(np.float32)
    idx = torch.from_numpy(np.vstack((mat.row, mat.col)).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.from_numpy(mat.data), mat.shape).coalesce()


def sparse_dropout(mat: Tensor, p: float) -> Tensor:
    """A new COO tensor with dropped-out values (a copy on every call, as in the official code)."""
    values = F.dropout(mat.values(), p=p)
    return torch.sparse_coo_tensor(mat.indices(), values, mat.size())


class TrainData(torch.utils.data.Dataset):
    """Per-interaction training set with the official per-epoch negative sampling loop."""

    def __init__(self, coo: sp.coo_matrix, seed: int = 0):
        self.rows, self.cols = coo.row, coo.col
        self.dok = coo.todok()
        self.negs = np.zeros(len(self.rows), dtype=np.int32)
        self.rng = np.random.RandomState(seed)

    def neg_sampling(self) -> None:
        n_items = self.dok.shape[1]
        for k in range(len(self.rows)):
            u = self.rows[k]
            while True:
                j = self.rng.randint(n_items)
                if (u, j) not in self.dok:
                    break
            self.negs[k] = j

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, k: int) -> tuple[int, int, int]:
        return self.rows[k], self.cols[k], self.negs[k]


class OfficialStyleLightGCL(nn.Module):
    """The official LightGCL model (repository root), written plainly.

    Args:
        train: ``[I, J]`` binary training matrix (scipy).
        dim, num_layers, tau, lambda1, lambda2, dropout: the ``repo`` hyper-parameters.
        rank: SVD rank q (``torch.svd_lowrank``, used when ``factors`` is None).
        factors: optional ``(U [I, q], S [q], V [J, q])`` to use instead of computing them.
    """

    def __init__(self, train: sp.spmatrix, dim: int, num_layers: int, tau: float, lambda1: float,
                 lambda2: float, dropout: float = 0.0, rank: int = 5,
                 factors: tuple[Tensor, Tensor, Tensor] | None = None):
        super().__init__()
        t0 = time.perf_counter()
        self.adj_norm = to_torch_coo(normalize_per_entry(sp.coo_matrix(train)))
        self.normalize_seconds = time.perf_counter() - t0
        if factors is None:
            u, s, v = torch.svd_lowrank(self.adj_norm, q=rank)
        else:
            u, s, v = factors
        self.u_mul_s, self.v_mul_s = u @ torch.diag(s), v @ torch.diag(s)
        self.ut, self.vt = u.T, v.T
        n_users, n_items = train.shape
        self.E_u_0 = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n_users, dim)))
        self.E_i_0 = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n_items, dim)))
        self.l, self.temp, self.dropout = num_layers, tau, dropout
        self.lambda_1, self.lambda_2 = lambda1, lambda2
        self.E_u = self.E_i = None

    def _propagate(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        e_u, e_i = [self.E_u_0], [self.E_i_0]
        g_u, g_i = [self.E_u_0], [self.E_i_0]
        for layer in range(1, self.l + 1):
            z_u = torch.spmm(sparse_dropout(self.adj_norm, self.dropout), e_i[layer - 1])
            z_i = torch.spmm(sparse_dropout(self.adj_norm, self.dropout).transpose(0, 1), e_u[layer - 1])
            g_u.append(self.u_mul_s @ (self.vt @ e_i[layer - 1]))
            g_i.append(self.v_mul_s @ (self.ut @ e_u[layer - 1]))
            e_u.append(z_u)
            e_i.append(z_i)
        return sum(e_u), sum(e_i), sum(g_u), sum(g_i)

    def forward(self, uids: Tensor, iids: Tensor, pos: Tensor, neg: Tensor
                ) -> tuple[Tensor, Tensor, Tensor]:
        """``(loss, loss_r, loss_s)`` of one batch (official formulas, ``exp().sum()``)."""
        e_u, e_i, g_u, g_i = self._propagate()
        self.E_u, self.E_i = e_u, e_i
        neg_score = torch.log(torch.exp(g_u[uids] @ e_u.T / self.temp).sum(1) + 1e-8).mean()
        neg_score = neg_score + torch.log(torch.exp(g_i[iids] @ e_i.T / self.temp).sum(1) + 1e-8).mean()
        pos_score = (torch.clamp((g_u[uids] * e_u[uids]).sum(1) / self.temp, -5.0, 5.0)).mean() + (
            torch.clamp((g_i[iids] * e_i[iids]).sum(1) / self.temp, -5.0, 5.0)).mean()
        loss_s = -pos_score + neg_score
        u_emb, pos_emb, neg_emb = e_u[uids], e_i[pos], e_i[neg]
        pos_scores, neg_scores = (u_emb * pos_emb).sum(-1), (u_emb * neg_emb).sum(-1)
        loss_r = -(pos_scores - neg_scores).sigmoid().log().mean()
        loss_reg = 0
        for param in self.parameters():
            loss_reg = loss_reg + param.norm(2).square()
        loss_reg = loss_reg * self.lambda_2
        return loss_r + self.lambda_1 * loss_s + loss_reg, loss_r, self.lambda_1 * loss_s

    @torch.no_grad()
    def rank_all(self, uids: np.ndarray, excluded: sp.csr_matrix) -> np.ndarray:
        """Every item ranked for the users ``uids``: dense mask, full argsort."""
        if self.E_u is None:
            self.E_u, self.E_i, _, _ = self._propagate()
        preds = self.E_u[torch.from_numpy(uids)] @ self.E_i.T
        mask = torch.Tensor(excluded[uids].toarray())
        preds = preds * (1 - mask) - 1e8 * mask
        return preds.argsort(descending=True).numpy()


def train_epoch(model: OfficialStyleLightGCL, optimizer: torch.optim.Optimizer,
                loader: torch.utils.data.DataLoader, max_batches: int | None = None) -> float:
    """One official-style epoch: the negative-sampling loop, then loss / backward / step per
    batch (the first ``max_batches`` batches only, when given). Returns the mean loss."""
    loader.dataset.neg_sampling()
    total, n = 0.0, 0
    for k, (uids, pos, neg) in enumerate(loader):
        if max_batches is not None and k >= max_batches:
            break
        uids, pos, neg = uids.long(), pos.long(), neg.long()
        iids = torch.concat([pos, neg], dim=0)
        optimizer.zero_grad()
        loss, _, _ = model(uids, iids, pos, neg)
        loss.backward()
        optimizer.step()
        total += loss.cpu().item()
        n += 1
    return total / max(n, 1)


def _metrics(uids: np.ndarray, predictions: np.ndarray, topk: int, labels: list[list[int]]
             ) -> tuple[float, float, int]:
    """Summed Recall@K and NDCG@K over the users with labels, one user at a time."""
    all_recall = all_ndcg = 0.0
    n = 0
    for k in range(len(uids)):
        prediction = list(predictions[k][:topk])
        label = labels[uids[k]]
        if len(label) > 0:
            hit = 0
            idcg = np.sum([np.reciprocal(np.log2(loc + 2)) for loc in range(min(topk, len(label)))])
            dcg = 0.0
            for item in label:
                if item in prediction:
                    hit += 1
                    dcg = dcg + np.reciprocal(np.log2(prediction.index(item) + 2))
            all_recall += hit / len(label)
            all_ndcg += dcg / idcg
            n += 1
    return all_recall, all_ndcg, n


def evaluate(model: OfficialStyleLightGCL, excluded: sp.csr_matrix, truth: sp.csr_matrix,
             ks: tuple[int, ...] = (20, 40), batch_users: int = 256,
             users: np.ndarray | None = None, timings: dict[str, float] | None = None
             ) -> dict[str, float]:
    """Official-style full-ranking evaluation over ``users`` (default: users with held-out
    items), in batches of ``batch_users``; means over users. ``timings["ranking_s"]``, when
    given, receives the seconds spent in :meth:`OfficialStyleLightGCL.rank_all` (propagation,
    scores, dense mask, argsort); the rest is the per-user metric loop."""
    model.E_u = None
    labels = [truth.indices[truth.indptr[u]:truth.indptr[u + 1]].tolist() for u in range(truth.shape[0])]
    if users is None:
        users = np.flatnonzero(np.diff(truth.indptr) > 0)
    sums = {f"{m}@{k}": 0.0 for k in ks for m in ("recall", "ndcg")}
    n_users = 0
    for b in range(math.ceil(len(users) / batch_users)):
        uids = users[b * batch_users:(b + 1) * batch_users]
        t0 = time.perf_counter()
        predictions = model.rank_all(uids, excluded)
        if timings is not None:
            timings["ranking_s"] = timings.get("ranking_s", 0.0) + time.perf_counter() - t0
        for k in ks:
            r, nd, n = _metrics(uids, predictions, k, labels)
            sums[f"recall@{k}"] += r
            sums[f"ndcg@{k}"] += nd
        n_users += n
    return {key: v / max(n_users, 1) for key, v in sums.items()}


def make_loader(train: sp.spmatrix, batch_size: int, seed: int = 0) -> torch.utils.data.DataLoader:
    data = TrainData(sp.coo_matrix(train), seed)
    return torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True, num_workers=0,
                                       generator=torch.Generator().manual_seed(seed))


def scipy_csr(mat: Tensor) -> sp.csr_matrix:
    """A torch sparse CSR tensor as a scipy CSR matrix."""
    return sp.csr_matrix((mat.values().numpy(), mat.col_indices().numpy(), mat.crow_indices().numpy()),
                         shape=tuple(mat.shape))
