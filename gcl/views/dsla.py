"""D-SLA candidate graphs: masked and edge-perturbed copies of every graph of a batch.

D-SLA (Kim, Baek, Hwang, NeurIPS 2022) compares each graph with perturbed copies of itself
whose edit distance is known. For every graph ``g`` of a PyG ``Batch`` (``n`` nodes, ``m``
undirected edges) :func:`dsla_candidates` builds ``C`` candidates (default 5), index 0 being
the anchor the others are compared with:

1. **Ball.** A center node is drawn uniformly among the nodes of degree >= 1 (among all nodes
   when the graph has no edge) and ``S`` = the nodes within ``num_hops`` hops of it.
2. **Masking (every candidate, the anchor included).** ``floor(mask_ratio * |S|)`` nodes of
   ``S``, drawn uniformly without replacement and independently per candidate, get the mask
   token in ``x``. The strong candidate masks ``floor(mask_ratio * n)`` nodes of the whole graph.
3. **Edge perturbation (candidates c = 1 .. C-2, or 1 .. C-1 without a strong one).** With
   ``m_S`` the edges with both ends in ``S`` and ``p_c = max(1, floor(edit_ratio * c * m_S))``:
   delete ``min(p_c, m_S)`` uniformly chosen edges of ``S``, then add
   ``min(p_c, #free pairs)`` new edges between distinct node pairs of ``S`` chosen uniformly
   among the pairs that are not edges of the anchor (so a deleted edge never comes back, unless
   ``faithful_readd=True``, which forbids only the edges left after deletion, as the official
   code does).
4. **Strong candidate (last index, ``strong=True``).** The same over the whole graph with
   ``p = max(1, floor(strong_edit_ratio * m))``.
5. **Edit distance.** The anchor's edge set ``E_0`` is the input's. For every candidate the
   returned ``n_deleted = |E_0 \\ E_c|`` and ``n_added = |E_c \\ E_0|`` count undirected edges
   once, so ``n_deleted + n_added = |E_c Δ E_0|`` exactly. The edit distance is
   ``e_c = (n_deleted + n_added) / 2`` ("swaps", the official scale, ``e_c = p_c`` when nothing
   was capped); ``edit_unit="edits"`` gives ``n_deleted + n_added`` (the bio / social scale).
   With ``faithful_readd=True`` the edit distance is the number of sampled deletions and
   additions (the official claim, which counts a re-added edge twice), while ``n_deleted`` /
   ``n_added`` still report the true set difference.

New edges get attributes drawn per edge: ``"official"`` uses the official chem constants, bond
type ~ Cat(single .375, double .296, triple .011, aromatic .318) in column 0 and, when there is
a column 1, direction ~ Cat(none, up-right, down-right) = (.8723, .0867, .0410) for single,
(.9893, .0092, .0015) for aromatic, none otherwise; further columns get 0. A sequence of
per-column probability vectors (e.g. :func:`edge_attr_marginals` of a corpus) draws every
column independently from its marginal.

**Layout.** The ``C * B`` candidate graphs are candidate-major: node ``i`` of the batch in
candidate ``c`` is node ``c * N + i``; graph ``g`` of candidate ``c`` has id ``c * B + g``.
Per-graph outputs have shape ``[C * B]``; ``view(C, B).T`` gives molecule-major ``[B, C]``.

**Vectorisation.** The whole batch is processed at once: a random index per graph for the
centers, a frontier scatter per hop for the balls, one random sort per "k of n without
replacement" choice (segment rank) for the masks and deletions, and rejection sampling of
node pairs for the additions (i.i.d. pairs per candidate graph, the first free distinct ones
in draw order kept; a further round for the few candidate graphs left short, and a last round
that enumerates the free pairs of those still short, so the counts are always exact). There is
no Python loop over graphs, nodes or edges.

Deviations from the official code (named in ``dsla.md``): centers are drawn among nodes of
degree >= 1 (the official code may pick an isolated atom and crash), deletions and additions
are capped at what the ball allows, and a deleted edge is never re-added by default.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

#: Official D-SLA / pretrain-gnns bond-type probabilities of an added bond
#: (single, double, triple, aromatic).
OFFICIAL_BOND_TYPE_PROBS: tuple[float, ...] = (0.375, 0.296, 0.011, 0.318)
#: Official bond-direction probabilities (none, up-right, down-right) given the bond type.
OFFICIAL_BOND_DIRECTION_PROBS: tuple[tuple[float, ...], ...] = (
    (0.8723, 0.0867, 0.0410),  # single
    (1.0, 0.0, 0.0),  # double
    (1.0, 0.0, 0.0),  # triple
    (0.9893, 0.0092, 0.0015),  # aromatic
)
#: pretrain-gnns mask token for the atom type (one past the 119 atom types).
MASK_ATOM_TYPE: int = 119

_KEY_BITS = 30  # random key width of the segment ranks
_MAX_BITMAP = 1 << 25  # largest pair bitmap (bytes) used for edge membership


class DSLACandidates(NamedTuple):
    """Output of :func:`dsla_candidates` (``C`` candidates of ``B`` graphs, ``N`` nodes).

    The first seven fields are ``(x, edge_index, edge_attr, graph_id, edit, n_deleted,
    n_added)``, so ``x, ei, ea, gid, e, *_ = dsla_candidates(...)`` unpacks them.

    Attributes:
        x: ``[C*N, *]`` node features with the mask token on masked nodes (``None`` if the
            input has no ``x``).
        edge_index: ``[2, E']`` symmetric edges, no self-loops, no duplicates; node ids are
            candidate-major (``c * N + i``). Order: the ``u < v`` direction of every edge
            (the anchors' edges, the kept edges of candidates 1.., the added edges), then the
            same edges reversed, so edge ``e`` and edge ``e + E'/2`` are the two directions.
        edge_attr: ``[E', D]`` attributes aligned with ``edge_index`` (``None`` if the input
            has none); both directions of an edge carry the same row.
        graph_id: ``[C*N]`` graph of every node, ``c * B + g``.
        edit: ``[C*B]`` float edit distance ``e_c`` (0 for the anchors).
        n_deleted: ``[C*B]`` long, anchor edges missing from the candidate.
        n_added: ``[C*B]`` long, candidate edges that are not anchor edges.
        target: ``[C*B]`` long, the requested number ``p_c`` of deletions (= additions).
        capped: ``[C*B]`` bool, fewer deletions or additions than ``p_c`` were possible.
        masked: ``[C*N]`` bool, nodes that got the mask token.
        center: ``[B]`` long, center node of every graph (batch ids; -1 for an empty graph).
        in_ball: ``[N]`` bool, the ball ``S`` of every graph.
        num_candidates: ``C``.
        batch_size: ``B``.
    """

    x: Tensor | None
    edge_index: Tensor
    edge_attr: Tensor | None
    graph_id: Tensor
    edit: Tensor
    n_deleted: Tensor
    n_added: Tensor
    target: Tensor
    capped: Tensor
    masked: Tensor
    center: Tensor
    in_ball: Tensor
    num_candidates: int
    batch_size: int


# ----------------------------------------------------------------------------------------
# Random primitives
# ----------------------------------------------------------------------------------------


def _rand(n: int, device: torch.device, generator: torch.Generator | None) -> Tensor:
    """``[n]`` float32 uniform in [0, 1), drawn on the generator's device, moved to ``device``."""
    gdev = generator.device if generator is not None else device
    return torch.rand(n, generator=generator, device=gdev).to(device)


def _randbits(n: int, device: torch.device, generator: torch.Generator | None) -> Tensor:
    """``[n]`` int64 uniform in ``[0, 2^30)``."""
    gdev = generator.device if generator is not None else device
    return torch.randint(0, 1 << _KEY_BITS, (n,), generator=generator, device=gdev).to(device)


def _uniform_index(size: Tensor, generator: torch.Generator | None) -> Tensor:
    """``floor(u * size)`` per entry with ``u ~ U[0, 1)`` from 31 random bits: a uniform index
    in ``[0, size)`` (0 where ``size`` is 0; ``size < 2^32``); the bias is below ``size / 2^31``."""
    gdev = generator.device if generator is not None else size.device
    bits = torch.randint(0, 1 << 31, (size.numel(),), generator=generator, device=gdev).to(size.device)
    return (bits * size) >> 31


def _segment_rank(group: Tensor, num_groups: int, generator: torch.Generator | None) -> Tensor:
    """Rank of every element within its group in a uniformly random order.

    ``rank < k[group]`` then picks ``k[g]`` elements of every group ``g`` uniformly without
    replacement. One sort of ``M`` int64 keys ``group * 2^32 + 30 random bits`` (ties, of
    probability ~2^-30 per pair, fall back to the input order).

    Args:
        group: ``[M]`` long group ids in ``[0, num_groups)`` (``num_groups < 2^31``).
        num_groups: number of groups.

    Returns:
        ``[M]`` long rank, 0-based, within the group.
    """
    m = group.numel()
    key = (group << 32) | _randbits(m, group.device, generator)
    order = torch.argsort(key, stable=True)
    counts = torch.bincount(group, minlength=num_groups)
    start = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(group)
    rank[order] = torch.arange(m, device=group.device) - start[group[order]]
    return rank


def _categorical(
    probs: Tensor, n: int, generator: torch.Generator | None, rows: Tensor | None = None
) -> Tensor:
    """``[n]`` draws by inverse CDF: from ``probs`` ``[K]``, or, with ``rows`` ``[n]``, draw
    ``i`` from the row ``probs[rows[i]]`` of a ``[T, K]`` table. The index is the number of
    CDF entries ``<= u`` (capped at ``K - 1``)."""
    cdf = torch.cumsum(probs / probs.sum(-1, keepdim=True), -1)
    u = _rand(n, probs.device, generator).to(cdf.dtype)
    if rows is None:
        idx = torch.searchsorted(cdf, u, right=True)
    else:
        idx = torch.zeros(n, dtype=torch.long, device=probs.device)
        for k in range(cdf.size(1) - 1):  # K - 1 thresholds per row
            idx += (cdf[:, k][rows] <= u).long()
    return idx.clamp_(max=probs.size(-1) - 1)


def _isin_sorted(sorted_keys: Tensor, query: Tensor) -> tuple[Tensor, Tensor]:
    """Membership of ``query`` in the ascending ``sorted_keys``; also the matching position."""
    if sorted_keys.numel() == 0:
        return torch.zeros_like(query, dtype=torch.bool), torch.zeros_like(query)
    pos = torch.searchsorted(sorted_keys, query).clamp_(max=sorted_keys.numel() - 1)
    return sorted_keys[pos] == query, pos


# ----------------------------------------------------------------------------------------
# Attributes of added edges
# ----------------------------------------------------------------------------------------


def edge_attr_marginals(edge_attr: Tensor, num_classes: Sequence[int] | None = None) -> list[Tensor]:
    """Per-column category frequencies of integer edge attributes (the ``"corpus"`` marginals).

    Args:
        edge_attr: ``[E, D]`` (or ``[E]``) non-negative integer attributes of a corpus.
        num_classes: categories per column (default: the column maximum + 1).

    Returns:
        ``D`` float tensors, column ``j``'s ``[K_j]`` frequencies (summing to 1), to pass as
        ``added_edge_attr`` of :func:`dsla_candidates`.
    """
    ea = edge_attr.view(-1, 1) if edge_attr.dim() == 1 else edge_attr
    if ea.is_floating_point():
        raise ValueError("edge_attr must hold integer categories to estimate marginals")
    if ea.numel() and int(ea.min()) < 0:
        raise ValueError("edge_attr must hold non-negative categories")
    if num_classes is not None and len(num_classes) != ea.size(1):
        raise ValueError(f"num_classes has {len(num_classes)} entries for {ea.size(1)} columns")
    out = []
    for j in range(ea.size(1)):
        k = int(num_classes[j]) if num_classes is not None else int(ea[:, j].max()) + 1 if ea.size(0) else 1
        counts = torch.bincount(ea[:, j], minlength=k).double()
        if counts.numel() > k:
            raise ValueError(f"column {j} holds category {counts.numel() - 1} >= num_classes {k}")
        out.append(counts / counts.sum().clamp(min=1))
    return out


def _sample_edge_attr(
    spec: str | Sequence[Tensor],
    n: int,
    like: Tensor,
    generator: torch.Generator | None,
) -> Tensor:
    """``[n, D]`` attributes for new edges, dtype and width of ``like`` (``[E, D]``)."""
    dev, width = like.device, like.size(1)
    out = torch.zeros(n, width, dtype=torch.long, device=dev)
    if isinstance(spec, str):
        if spec != "official":
            raise ValueError(f"added_edge_attr must be 'official' or per-column probabilities, got {spec!r}")
        bond = _categorical(torch.tensor(OFFICIAL_BOND_TYPE_PROBS, device=dev), n, generator)
        out[:, 0] = bond
        if width > 1:
            table = torch.tensor(OFFICIAL_BOND_DIRECTION_PROBS, device=dev)
            out[:, 1] = _categorical(table, n, generator, rows=bond)
    else:
        if len(spec) != width:
            raise ValueError(f"added_edge_attr has {len(spec)} columns of probabilities, edge_attr has {width}")
        for j, probs in enumerate(spec):
            probs = torch.as_tensor(probs, dtype=torch.float64, device=dev)
            if probs.dim() != 1 or probs.numel() == 0 or bool((probs < 0).any()) or float(probs.sum()) <= 0:
                raise ValueError(f"added_edge_attr[{j}] must be a non-empty 1-D vector of probabilities")
            out[:, j] = _categorical(probs, n, generator)
    return out.to(like.dtype)


# ----------------------------------------------------------------------------------------
# The sampler
# ----------------------------------------------------------------------------------------


def _batch_vector(data: Data | Batch, num_nodes: int, device: torch.device) -> tuple[Tensor, int]:
    bvec = getattr(data, "batch", None)
    if isinstance(data, Batch) and bvec is not None:
        return bvec, int(data.num_graphs)
    if bvec is not None:
        return bvec, (int(bvec.max()) + 1 if bvec.numel() else 0)
    return torch.zeros(num_nodes, dtype=torch.long, device=device), 1


def _mask_token(x: Tensor, mask_token: Tensor | Sequence[float] | float | None) -> Tensor:
    if mask_token is None:
        token = torch.zeros(x.shape[1:], dtype=x.dtype, device=x.device)
        if not x.is_floating_point():
            token.view(-1)[0] = MASK_ATOM_TYPE
        return token
    token = torch.as_tensor(mask_token, dtype=x.dtype, device=x.device)
    try:
        return torch.broadcast_to(token, x.shape[1:]).clone()
    except RuntimeError as exc:
        raise ValueError(
            f"mask_token of shape {tuple(token.shape)} does not broadcast to a node row {tuple(x.shape[1:])}"
        ) from exc


def _check_edges(ei: Tensor, bvec: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """Validate a symmetric, loop-free, duplicate-free, per-graph edge list; return the
    ``u < v`` half as positions into ``edge_index`` sorted by ``u * N + v``, and those keys."""
    if ei.dim() != 2 or ei.size(0) != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {tuple(ei.shape)}")
    if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= num_nodes):
        raise ValueError(f"edge_index holds node ids outside [0, {num_nodes})")
    row, col = ei[0], ei[1]
    if bool((row == col).any()):
        raise ValueError("edge_index must not contain self-loops")
    if bool((bvec[row] != bvec[col]).any()):
        raise ValueError("edge_index joins nodes of different graphs")
    upper = torch.nonzero(row < col).squeeze(1)
    lower = torch.nonzero(row > col).squeeze(1)
    up_key, order = torch.sort(row[upper] * num_nodes + col[upper])
    if up_key.numel() > 1 and bool((up_key[1:] == up_key[:-1]).any()):
        raise ValueError("edge_index must not contain duplicate edges")
    low_key, _ = torch.sort(col[lower] * num_nodes + row[lower])
    if up_key.numel() != low_key.numel() or not torch.equal(up_key, low_key):
        raise ValueError("edge_index must be symmetric (every edge (u, v) with its reverse (v, u))")
    return upper[order], up_key


def dsla_candidates(
    batch: Data | Batch,
    *,
    num_candidates: int = 5,
    num_hops: int = 3,
    mask_ratio: float = 0.8,
    edit_ratio: float = 0.2,
    strong: bool = True,
    strong_edit_ratio: float = 0.8,
    mask_token: Tensor | Sequence[float] | float | None = None,
    added_edge_attr: str | Sequence[Tensor] = "official",
    faithful_readd: bool = False,
    edit_unit: str = "swaps",
    max_rounds: int = 4,
    generator: torch.Generator | None = None,
) -> DSLACandidates:
    """D-SLA candidates (anchor, perturbed copies, strong copy) of every graph of ``batch``.

    See the module docstring for the sampling. With ``C = num_candidates`` and the strong
    candidate on, candidate ``c`` in ``1 .. C-2`` edits ``p_c = max(1, floor(edit_ratio * c *
    m_S))`` edges inside the ball and candidate ``C-1`` edits ``max(1, floor(strong_edit_ratio *
    m))`` edges of the whole graph; ``n_deleted + n_added = |E_c Δ E_0|`` (undirected edges
    counted once) and ``edit = (n_deleted + n_added) / 2``.

    Args:
        batch: a PyG ``Batch`` (or one ``Data``) with ``x`` ``[N, F]`` (or ``[N]``) and a
            symmetric ``edge_index`` ``[2, E]`` without self-loops or duplicates; optional
            ``edge_attr`` ``[E, D]`` (the ``u < v`` direction's row is used for both directions).
            The batch vector must be sorted (as ``Batch.from_data_list`` makes it).
        num_candidates: ``C`` >= 1 (>= 2 with ``strong``); candidate 0 is the anchor.
        num_hops: radius of the ball around the center.
        mask_ratio: fraction of the eligible nodes masked in every candidate.
        edit_ratio: per-level edge edit fraction of the ball's edges (level ``c`` edits
            ``edit_ratio * c``).
        strong: make the last candidate the strong one (whole graph).
        strong_edit_ratio: edge edit fraction of the strong candidate.
        mask_token: value written into masked rows of ``x`` (broadcast to a row). Default:
            the pretrain-gnns token, ``119`` in column 0 and ``0`` elsewhere for integer
            features, all zeros for float features.
        added_edge_attr: ``"official"`` or one probability vector per attribute column.
        faithful_readd: allow a deleted edge to be re-added (official sampling).
        edit_unit: ``"swaps"`` (``(deleted + added) / 2``) or ``"edits"`` (``deleted + added``).
        max_rounds: rejection-sampling rounds for the additions; the last round enumerates the
            free pairs of the candidate graphs still short, so the count is always exact.
        generator: source of randomness (``None``: torch's global generator).

    Returns:
        :class:`DSLACandidates`; ``batch`` is not modified.

    Raises:
        ValueError: bad arguments, or an edge list that is not symmetric, has self-loops,
            duplicates or edges between graphs.
    """
    C = int(num_candidates)
    if C < (2 if strong else 1):
        raise ValueError(f"num_candidates must be >= {2 if strong else 1}, got {num_candidates}")
    if num_hops < 0:
        raise ValueError(f"num_hops must be >= 0, got {num_hops}")
    for name, val in (("mask_ratio", mask_ratio), ("edit_ratio", edit_ratio), ("strong_edit_ratio", strong_edit_ratio)):
        if not 0.0 <= val <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {val}")
    if edit_unit not in ("swaps", "edits"):
        raise ValueError(f"edit_unit must be 'swaps' or 'edits', got {edit_unit!r}")
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")

    ei = batch.edge_index
    x = batch.x
    ea = batch.edge_attr if "edge_attr" in batch else None
    N = int(batch.num_nodes)
    dev = ei.device
    bvec, B = _batch_vector(batch, N, dev)
    if bvec.numel() != N:
        raise ValueError(f"batch vector has {bvec.numel()} entries for {N} nodes")
    if N and bool((bvec[1:] < bvec[:-1]).any()):
        raise ValueError("the batch vector must be sorted (nodes grouped by graph)")
    if x is not None and x.size(0) != N:
        raise ValueError(f"x has {x.size(0)} rows for {N} nodes")
    if ea is not None and ea.size(0) != ei.size(1):
        raise ValueError(f"edge_attr has {ea.size(0)} rows for {ei.size(1)} edges")
    half_pos, _ = _check_edges(ei, bvec, N)
    hu, hv = ei[0, half_pos], ei[1, half_pos]  # sorted by hu * N + hv
    ha = None
    if ea is not None:
        ha = ea[half_pos]
        if ha.dim() == 1:
            ha = ha.unsqueeze(1)
    m = hu.numel()
    K = C - 1  # edited candidates
    CB = C * B
    arange_c = torch.arange(C, device=dev)

    # --- 1. centers and balls ----------------------------------------------------------
    # uniform among the nodes of degree >= 1 (all nodes of an edgeless graph): the r-th
    # such node of every graph, r drawn per graph
    n_nodes = torch.bincount(bvec, minlength=B)
    ptr = torch.cumsum(n_nodes, 0) - n_nodes
    has_edge = torch.bincount(ei[0], minlength=N) > 0
    linked = torch.nonzero(has_edge).squeeze(1)  # grouped by graph
    n_linked = torch.bincount(bvec[linked], minlength=B)
    pool = torch.where(n_linked > 0, n_linked, n_nodes)
    pick = _uniform_index(pool, generator)
    linked_start = torch.cumsum(n_linked, 0) - n_linked
    from_linked = linked[(linked_start + pick).clamp(max=max(linked.numel() - 1, 0))] if linked.numel() else pick
    center = torch.where(n_linked > 0, from_linked, ptr + pick)
    center = torch.where(n_nodes > 0, center, torch.full_like(center, -1))
    in_ball = torch.zeros(N, dtype=torch.bool, device=dev)
    in_ball[center[n_nodes > 0]] = True
    for _ in range(num_hops):
        reach = in_ball.clone()
        reach[ei[1][in_ball[ei[0]]]] = True
        in_ball = reach

    # Eligible nodes per candidate: the ball, or the whole graph for the strong candidate.
    whole = torch.zeros(C, dtype=torch.bool, device=dev)
    if strong:
        whole[C - 1] = True
    elig_flat = (in_ball.unsqueeze(0) | whole.unsqueeze(1)).reshape(-1)  # [C*N]
    node_group = (arange_c.unsqueeze(1) * B + bvec.unsqueeze(0)).reshape(-1)  # [C*N]
    enodes = torch.nonzero(elig_flat).squeeze(1)  # eligible candidate nodes, grouped by graph
    enode_group = node_group[enodes]
    n_elig = torch.bincount(enode_group, minlength=CB)

    # --- 2. masking -------------------------------------------------------------------
    n_mask = torch.floor(mask_ratio * n_elig.double()).long()
    chosen = enodes[_segment_rank(enode_group, CB, generator) < n_mask[enode_group]]
    masked = torch.zeros(C * N, dtype=torch.bool, device=dev)
    masked[chosen] = True
    x_out = None
    if x is not None:
        x_out = x.repeat(C, *([1] * (x.dim() - 1)))
        x_out[chosen] = _mask_token(x, mask_token).to(x_out.dtype)

    # --- 3. deletions (candidates 1..C-1 on the u<v half) ------------------------------
    level = arange_c.double()
    ratio = edit_ratio * level
    if strong:
        ratio[C - 1] = strong_edit_ratio
    e_elig = (in_ball[hu] & in_ball[hv]).unsqueeze(0) | whole[1:].unsqueeze(1)  # [K, m]
    e_idx = torch.nonzero(e_elig.reshape(-1)).squeeze(1)  # eligible positions in [K*m]
    e_group = (torch.div(e_idx, max(m, 1), rounding_mode="floor") + 1) * B + bvec[hu][e_idx % max(m, 1)]
    m_elig = torch.bincount(e_group, minlength=CB)
    cand_of_group = torch.arange(CB, device=dev) // max(B, 1)
    target = torch.clamp(torch.floor(ratio[cand_of_group] * m_elig.double()).long(), min=1)
    target[cand_of_group == 0] = 0
    n_del = torch.minimum(target, m_elig)
    deleted = torch.zeros(K * m, dtype=torch.bool, device=dev)
    deleted[e_idx[_segment_rank(e_group, CB, generator) < n_del[e_group]]] = True

    # --- 4. additions -------------------------------------------------------------------
    # A pair (a, b), a < b, of graph g in candidate c has the key
    # (c * B + g) * nmax^2 + a_loc * nmax + b_loc, with local node ids a_loc, b_loc < nmax.
    pairs_total = n_elig * (n_elig - 1) // 2
    forbidden = m_elig - n_del if faithful_readd else m_elig
    n_add = torch.minimum(target, (pairs_total - forbidden).clamp(min=0))
    need = n_add.clone()
    nmax = max(int(n_nodes.max()) if B else 1, 1)
    S2 = nmax * nmax
    GS = B * S2
    if CB * S2 >= 2**62:
        raise ValueError("graphs too large for the pair keys of the edge additions")
    local = torch.arange(N, device=dev) - ptr[bvec]
    lkeys = bvec[hu] * S2 + local[hu] * nmax + local[hv]  # ascending, as (hu, hv) are
    eloc = local[enodes % max(N, 1)]
    estart = torch.cumsum(n_elig, 0) - n_elig
    deleted_km = deleted.view(K, m)
    accepted = torch.empty(0, dtype=torch.long, device=dev)  # sorted keys of added pairs

    # anchor-edge membership: a bitmap over the local pair keys when it is small, else a
    # binary search in the sorted keys
    anchor_map = None
    if not faithful_readd and GS <= _MAX_BITMAP:
        anchor_map = torch.zeros(GS, dtype=torch.bool, device=dev)
        anchor_map[lkeys] = True

    def _free(key: Tensor, grp: Tensor) -> Tensor:
        """Pairs that are neither anchor edges (or, with faithful_readd, remaining edges)
        nor already added."""
        if anchor_map is not None:
            hit = anchor_map[key % GS]
        else:
            hit, pos = _isin_sorted(lkeys, key % GS)
            if faithful_readd and m:
                hit &= ~deleted_km[(torch.div(grp, B, rounding_mode="floor") - 1).clamp(min=0), pos]
        if accepted.numel():
            hit |= _isin_sorted(accepted, key)[0]
        return ~hit

    for rnd in range(max_rounds):
        active = need > 0
        if not bool(active.any()):
            break
        ne = n_elig
        free_left = (pairs_total - forbidden) - (n_add - need)
        # expected fraction of useful ordered draws: distinct nodes x free pair
        q = (1.0 - 1.0 / ne.clamp(min=1).double()) * free_left.double() / pairs_total.clamp(min=1).double()
        draws = torch.ceil(1.5 * need.double() / q.clamp(min=1e-12)).long() + 4
        exact = active & ((draws >= ne * ne) | (rnd == max_rounds - 1))
        sampled = active & ~exact
        new_keys = []
        g_s = torch.nonzero(sampled).squeeze(1)
        if g_s.numel():
            # i.i.d. ordered pairs; the first `need` distinct free ones in draw order are a
            # uniform subset of the free pairs
            t = draws[g_s]
            grp = torch.repeat_interleave(g_s, t)
            tot = grp.numel()
            size, base = ne[grp], estart[grp]
            a = eloc[base + _uniform_index(size, generator)]
            b = eloc[base + _uniform_index(size, generator)]
            key = grp * S2 + torch.minimum(a, b) * nmax + torch.maximum(a, b)
            ok = (a != b) & _free(key, grp)
            order = torch.argsort(key, stable=True)
            ks = key[order]
            first = torch.ones(tot, dtype=torch.bool, device=dev)
            first[1:] = ks[1:] != ks[:-1]
            first &= ok[order]
            is_first = torch.zeros(tot, dtype=torch.bool, device=dev)
            is_first[order[first]] = True
            cs = torch.cumsum(is_first.long(), 0)
            before = torch.cumsum(t, 0) - t  # first draw of every sampled group
            cs_before = torch.where(before > 0, cs[(before - 1).clamp(min=0)], torch.zeros_like(before))
            rank = cs - 1 - torch.repeat_interleave(cs_before, t)
            take = is_first & (rank < need[grp])
            new_keys.append(key[take])
        g_e = torch.nonzero(exact).squeeze(1)
        if g_e.numel():
            # every pair of the group's eligible nodes, then a uniform choice among the free
            sq = ne[g_e] * ne[g_e]
            grp = torch.repeat_interleave(g_e, sq)
            off = torch.cumsum(sq, 0) - sq
            t_loc = torch.arange(grp.numel(), device=dev) - torch.repeat_interleave(off, sq)
            n_g = ne[grp]
            i, j = torch.div(t_loc, n_g, rounding_mode="floor"), t_loc % n_g
            keep = i < j
            grp, i, j = grp[keep], i[keep], j[keep]
            a, b = eloc[estart[grp] + i], eloc[estart[grp] + j]
            key = grp * S2 + torch.minimum(a, b) * nmax + torch.maximum(a, b)
            ok = _free(key, grp)
            key, grp = key[ok], grp[ok]
            take = _segment_rank(grp, CB, generator) < need[grp]
            new_keys.append(key[take])
        new = torch.cat(new_keys)
        need = need - torch.bincount(torch.div(new, S2, rounding_mode="floor"), minlength=CB)
        accepted, _ = torch.sort(torch.cat([accepted, new]))
    if bool((need != 0).any()):  # pragma: no cover - the last round is exhaustive
        raise RuntimeError("D-SLA edge addition fell short of its exact count")

    add_group = torch.div(accepted, S2, rounding_mode="floor")
    rest = accepted - add_group * S2
    a_loc = torch.div(rest, nmax, rounding_mode="floor")
    b_loc = rest - a_loc * nmax
    add_c = torch.div(add_group, max(B, 1), rounding_mode="floor")
    first_node = add_c * N + ptr[add_group - add_c * B]
    add_lo, add_hi = first_node + a_loc, first_node + b_loc

    # --- 5. edit counts -----------------------------------------------------------------
    if faithful_readd:
        readd, _ = _isin_sorted(lkeys, accepted % GS)
        n_readd = torch.bincount(add_group[readd], minlength=CB)
    else:
        n_readd = torch.zeros_like(n_add)
    n_deleted = n_del - n_readd
    n_added = n_add - n_readd
    claimed = (n_del + n_add) if faithful_readd else (n_deleted + n_added)
    edit = claimed.float() if edit_unit == "edits" else claimed.float() / 2
    capped = (n_del < target) | (n_add < target)

    # --- 6. assemble and symmetrise -------------------------------------------------------
    # Written into preallocated outputs: [u<v halves | their reverses].
    kept = torch.nonzero(~deleted).squeeze(1)  # positions in the [K, m] replicated half
    kept_pos = kept.remainder(max(m, 1))
    kept_off = torch.div(kept, max(m, 1), rounding_mode="floor").add_(1).mul_(N)
    nk, na = kept.numel(), accepted.numel()
    H = m + nk + na
    edge_index = torch.empty(2, 2 * H, dtype=ei.dtype, device=dev)
    src, dst = edge_index[0, :H], edge_index[1, :H]
    src[:m], dst[:m] = hu, hv
    torch.index_select(hu, 0, kept_pos, out=src[m:m + nk])
    torch.index_select(hv, 0, kept_pos, out=dst[m:m + nk])
    src[m:m + nk] += kept_off
    dst[m:m + nk] += kept_off
    src[m + nk:], dst[m + nk:] = add_lo, add_hi
    edge_index[0, H:], edge_index[1, H:] = dst, src
    edge_attr = None
    if ha is not None:
        edge_attr = torch.empty(2 * H, ha.size(1), dtype=ha.dtype, device=dev)
        edge_attr[:m] = ha
        torch.index_select(ha, 0, kept_pos, out=edge_attr[m:m + nk])
        edge_attr[m + nk:H] = _sample_edge_attr(added_edge_attr, na, ha, generator)
        edge_attr[H:] = edge_attr[:H]
        if ea is not None and ea.dim() == 1:
            edge_attr = edge_attr.squeeze(1)

    return DSLACandidates(
        x=x_out,
        edge_index=edge_index,
        edge_attr=edge_attr,
        graph_id=node_group,
        edit=edit,
        n_deleted=n_deleted,
        n_added=n_added,
        target=target,
        capped=capped,
        masked=masked,
        center=center,
        in_ball=in_ball,
        num_candidates=C,
        batch_size=B,
    )


class DSLAPerturbation:
    """Callable wrapper of :func:`dsla_candidates` holding its settings.

    ``DSLAPerturbation(num_candidates=5, ...)(batch, generator=g)`` equals
    ``dsla_candidates(batch, num_candidates=5, ..., generator=g)``.
    """

    def __init__(self, **kwargs: object) -> None:
        if "generator" in kwargs:
            raise ValueError("pass generator at call time, not to the constructor")
        self.kwargs = kwargs

    def __call__(self, batch: Data | Batch, generator: torch.Generator | None = None) -> DSLACandidates:
        return dsla_candidates(batch, generator=generator, **self.kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{type(self).__name__}({args})"


__all__ = [
    "DSLACandidates",
    "DSLAPerturbation",
    "MASK_ATOM_TYPE",
    "OFFICIAL_BOND_DIRECTION_PROBS",
    "OFFICIAL_BOND_TYPE_PROBS",
    "dsla_candidates",
    "edge_attr_marginals",
]
