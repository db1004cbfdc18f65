"""LightGCL's SVD view: propagation through a rank-q truncated SVD of the interaction matrix.

LightGCL (Cai et al., ICLR 2023) adds a global view to LightGCN: the user-item matrix
(``I x J``) is factorised once, ``Â ≈ U diag(S) V^T`` with ``U`` ``[I, q]``, ``S`` ``[q]``,
``V`` ``[J, q]``, and every layer propagates the main view's previous-layer embeddings
through the low-rank reconstruction as two thin products, never forming the dense ``I x J``
matrix:

    G_u = (U S) (V^T E_i)        # [I, d], cost O(q (I + J) d)
    G_i = (V S) (U^T E_u)        # [J, d]

``Â`` is the normalised bipartite block ``D_u^{-1/2} A D_i^{-1/2}`` (the ``repo`` preset) or the
raw binary ``A`` (the ``paper`` preset); see :func:`normalized_interaction_matrix`.

The factorisation is :func:`torch.svd_lowrank` (a randomized range finder with ``niter`` power
iterations; the official call uses ``q = 5``, ``niter = 2`` and no oversampling). With
``oversample = p`` it computes ``q + p`` components and keeps the leading ``q``, which makes
the retained ones more accurate. ``solver="arpack"`` computes the exact leading ``q`` triplets
with SciPy's sparse ``svds`` (CPU, for small data). Randomness comes from ``generator``: a seed
drawn from it seeds torch's RNG inside :func:`torch.random.fork_rng`, so the global RNG state is
left as it was and the same generator state gives the same factors. The factors are computed
on first use and cached on the object, together with ``U S``, ``V S``, ``U^T`` and ``V^T``.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from gcl.data.interactions import InteractionGraph
from gcl.nn.lightgcn import normalized_bipartite_adjacency


def normalized_interaction_matrix(graph: InteractionGraph | Tensor, normalize: bool = True) -> Tensor:
    """The user-item block ``Â = D_u^{-1/2} A D_i^{-1/2}`` as a sparse CSR tensor.

    ``d_u`` / ``d_i`` are the user / item degrees in ``A``; zero-degree rows and columns stay 0.
    No self-loops, no ``(I+J) x (I+J)`` matrix.

    Args:
        graph: an :class:`InteractionGraph` (its training split) or a binary ``[I, J]`` sparse
            CSR tensor.
        normalize: ``False`` returns the binary ``A`` itself (values 1, float32).

    Returns:
        float32 sparse CSR ``[I, J]``.
    """
    train = graph.train if isinstance(graph, InteractionGraph) else graph
    if not (isinstance(train, Tensor) and train.layout == torch.sparse_csr and train.dim() == 2):
        raise ValueError("graph must be an InteractionGraph or a 2-D sparse CSR user x item tensor")
    if normalize:
        return normalized_bipartite_adjacency(train)
    crow, col = train.crow_indices(), train.col_indices()
    n_users, n_items = int(train.size(0)), int(train.size(1))
    val = torch.ones(col.numel(), dtype=torch.float32, device=col.device)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
        return torch.sparse_csr_tensor(crow, col, val, size=(n_users, n_items), check_invariants=False)


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's RNG for ``device`` inside the block; restore the previous state after."""
    devices = [] if device.type == "cpu" else [device]
    kwargs = {} if device.type == "cpu" else {"device_type": device.type}
    with torch.random.fork_rng(devices=devices, **kwargs):
        torch.manual_seed(seed)
        yield


class SVDView:
    """Rank-``q`` SVD view of a user-item matrix, factorised once and cached (LightGCL).

    Args:
        matrix: ``[I, J]`` matrix to factorise: sparse CSR (preferred), sparse COO or dense.
        rank: ``q`` components kept (``q <= min(I, J)``).
        niter: power iterations of the randomized SVD (official: 2).
        oversample: extra components ``p`` computed and discarded (official: 0);
            ``q + p <= min(I, J)``.
        solver: ``"randomized"`` (:func:`torch.svd_lowrank`) or ``"arpack"`` (exact leading
            triplets via SciPy ``svds`` on the CPU; for small data).
        generator: source of the random test matrix (``None``: torch's global RNG, used
            directly).

    Shapes: ``u`` ``[I, q]``, ``s`` ``[q]`` (descending), ``v`` ``[J, q]``; ``us = U diag(S)``,
    ``vs = V diag(S)``, ``ut = U^T``, ``vt = V^T`` (contiguous). The factors carry no gradient.
    """

    def __init__(
        self,
        matrix: Tensor,
        rank: int = 5,
        *,
        niter: int = 2,
        oversample: int = 0,
        solver: str = "randomized",
        generator: torch.Generator | None = None,
    ) -> None:
        if not isinstance(matrix, Tensor) or matrix.dim() != 2:
            raise ValueError("matrix must be a 2-D tensor (sparse CSR, sparse COO or dense)")
        n_rows, n_cols = int(matrix.size(0)), int(matrix.size(1))
        if not 1 <= rank <= min(n_rows, n_cols):
            raise ValueError(f"rank must lie in [1, min(I, J) = {min(n_rows, n_cols)}], got {rank}")
        if niter < 0:
            raise ValueError(f"niter must be >= 0, got {niter}")
        if oversample < 0 or rank + oversample > min(n_rows, n_cols):
            raise ValueError(
                f"oversample must be >= 0 with rank + oversample <= {min(n_rows, n_cols)}, got {oversample}"
            )
        if solver not in ("randomized", "arpack"):
            raise ValueError(f"solver must be 'randomized' or 'arpack', got {solver!r}")
        self.matrix = matrix
        self.rank, self.niter, self.oversample, self.solver = rank, niter, oversample, solver
        self.generator = generator
        self.num_factorizations = 0
        self._factors: tuple[Tensor, Tensor, Tensor] | None = None
        self._cache: dict[str, Tensor] = {}

    @classmethod
    def from_interactions(
        cls, graph: InteractionGraph | Tensor, rank: int = 5, *, normalize: bool = True, **kwargs: object
    ) -> "SVDView":
        """The view of an interaction graph's training matrix: ``normalize=True`` factorises
        ``D_u^{-1/2} A D_i^{-1/2}`` (``repo`` preset), ``False`` the binary ``A`` (``paper``)."""
        return cls(normalized_interaction_matrix(graph, normalize), rank, **kwargs)  # type: ignore[arg-type]

    # --- factorisation -------------------------------------------------------------------

    def _seed(self) -> int:
        gdev = self.generator.device
        return int(torch.randint(0, 2**62, (1,), generator=self.generator, device=gdev))

    def _randomized(self) -> tuple[Tensor, Tensor, Tensor]:
        q = self.rank + self.oversample
        if self.generator is None:
            return torch.svd_lowrank(self.matrix, q=q, niter=self.niter)
        with _seeded(self._seed(), self.matrix.device):
            return torch.svd_lowrank(self.matrix, q=q, niter=self.niter)

    def _arpack(self) -> tuple[Tensor, Tensor, Tensor]:
        import scipy.sparse as sp
        from scipy.sparse.linalg import svds

        m = self.matrix
        if m.layout == torch.sparse_csr:
            mat = sp.csr_matrix(
                (m.values().detach().cpu().double().numpy(), m.col_indices().cpu().numpy(),
                 m.crow_indices().cpu().numpy()), shape=tuple(m.shape))
        elif m.layout == torch.sparse_coo:
            c = m.coalesce()
            idx = c.indices().cpu().numpy()
            mat = sp.csr_matrix((c.values().detach().cpu().double().numpy(), (idx[0], idx[1])), shape=tuple(m.shape))
        else:
            mat = m.detach().cpu().double().numpy()
        q = self.rank + self.oversample
        seed = self._seed() if self.generator is not None else int(torch.randint(0, 2**62, (1,)))
        v0 = np.random.default_rng(seed).standard_normal(min(mat.shape))
        if q < min(mat.shape):
            u, s, vt = svds(mat, k=q, v0=v0)
        else:  # svds needs k < min(I, J): the full dense SVD
            dense = mat.toarray() if sp.issparse(mat) else mat
            u, s, vt = np.linalg.svd(dense, full_matrices=False)
        order = np.argsort(-s)
        dt = m.dtype if m.dtype.is_floating_point else torch.float32
        to = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device=m.device, dtype=dt)  # noqa: E731
        return to(u[:, order]), to(s[order]), to(vt[order].T)

    def compute(self) -> "SVDView":
        """Factorise (once; later calls return at once). Returns ``self``."""
        if self._factors is not None:
            return self
        with torch.no_grad():
            u, s, v = self._randomized() if self.solver == "randomized" else self._arpack()
        q = self.rank
        u, s, v = u[:, :q].contiguous(), s[:q].contiguous(), v[:, :q].contiguous()
        self._factors = (u, s, v)
        self._cache = {
            "us": (u * s).contiguous(),
            "vs": (v * s).contiguous(),
            "ut": u.T.contiguous(),
            "vt": v.T.contiguous(),
        }
        self.num_factorizations += 1
        return self

    @property
    def is_computed(self) -> bool:
        return self._factors is not None

    @property
    def u(self) -> Tensor:
        """``[I, q]`` left singular vectors."""
        return self.compute()._factors[0]  # type: ignore[index]

    @property
    def s(self) -> Tensor:
        """``[q]`` singular values, descending."""
        return self.compute()._factors[1]  # type: ignore[index]

    @property
    def v(self) -> Tensor:
        """``[J, q]`` right singular vectors."""
        return self.compute()._factors[2]  # type: ignore[index]

    @property
    def us(self) -> Tensor:
        """``[I, q]`` ``U diag(S)``."""
        return self.compute()._cache["us"]

    @property
    def vs(self) -> Tensor:
        """``[J, q]`` ``V diag(S)``."""
        return self.compute()._cache["vs"]

    @property
    def ut(self) -> Tensor:
        """``[q, I]`` ``U^T``."""
        return self.compute()._cache["ut"]

    @property
    def vt(self) -> Tensor:
        """``[q, J]`` ``V^T``."""
        return self.compute()._cache["vt"]

    # --- propagation -----------------------------------------------------------------------

    def propagate_users(self, item_emb: Tensor) -> Tensor:
        """``G_u = (U S)(V^T E_i)``: users' SVD-view embeddings from item embeddings.

        Args:
            item_emb: ``[J, d]``.

        Returns:
            ``[I, d]``; differentiable with respect to ``item_emb``.
        """
        if item_emb.dim() != 2 or item_emb.size(0) != self.matrix.size(1):
            raise ValueError(f"item_emb must have shape [{self.matrix.size(1)}, d], got {tuple(item_emb.shape)}")
        return self.us @ (self.vt @ item_emb)

    def propagate_items(self, user_emb: Tensor) -> Tensor:
        """``G_i = (V S)(U^T E_u)``: items' SVD-view embeddings from user embeddings.

        Args:
            user_emb: ``[I, d]``.

        Returns:
            ``[J, d]``; differentiable with respect to ``user_emb``.
        """
        if user_emb.dim() != 2 or user_emb.size(0) != self.matrix.size(0):
            raise ValueError(f"user_emb must have shape [{self.matrix.size(0)}, d], got {tuple(user_emb.shape)}")
        return self.vs @ (self.ut @ user_emb)

    def propagate(self, user_emb: Tensor, item_emb: Tensor) -> tuple[Tensor, Tensor]:
        """One SVD-view layer: ``(G_u, G_i) = ((U S)(V^T E_i), (V S)(U^T E_u))``."""
        return self.propagate_users(item_emb), self.propagate_items(user_emb)

    __call__ = propagate

    def reconstruct(self) -> Tensor:
        """Dense ``U diag(S) V^T`` ``[I, J]`` (for checks on small matrices only)."""
        return self.us @ self.vt

    def to(self, device: str | torch.device) -> "SVDView":
        """A copy on ``device`` (cached factors moved, not recomputed)."""
        out = SVDView.__new__(SVDView)
        out.__dict__.update(self.__dict__)
        out.matrix = self.matrix.to(device)
        if self._factors is not None:
            out._factors = tuple(t.to(device) for t in self._factors)  # type: ignore[assignment]
            out._cache = {k: t.to(device) for k, t in self._cache.items()}
        return out

    def __repr__(self) -> str:
        return (f"SVDView(shape={tuple(self.matrix.shape)}, rank={self.rank}, niter={self.niter}, "
                f"oversample={self.oversample}, solver={self.solver!r}, computed={self.is_computed})")


__all__ = ["SVDView", "normalized_interaction_matrix"]
