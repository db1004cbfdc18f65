"""gather_distributed: a 2-process gloo group gives each rank the loss of its anchors against
all candidates, and gradients that sum the ranks' contributions on each local shard."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gcl.losses.distributed import gather_rows
from gcl.losses.infonce import InfoNCE, info_nce
from loss_helpers import TOL

WORLD = 2
SIZES = (5, 7)  # unequal shards: the gather pads and unpads
D = 4


def full_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    n = sum(SIZES)
    z1 = torch.randn(n, D, generator=g, dtype=torch.float64)
    z2 = torch.randn(n, D, generator=g, dtype=torch.float64)
    pos = torch.cat([torch.randperm(s, generator=g) for s in SIZES])  # local positive ids
    return z1, z2, pos


def shard(rank: int) -> slice:
    return slice(sum(SIZES[:rank]), sum(SIZES[: rank + 1]))


CASES = [  # (name, kwargs)
    ("intra_chunked", dict(intra_view=True, chunk_size=3)),
    ("intra_whole", dict(intra_view=True, chunk_size=None)),
    ("pos_index", dict(intra_view=False, chunk_size=2, use_pos=True)),
]


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD,
                            timeout=timedelta(seconds=60))
    try:
        z1, z2, pos = full_data()
        results = {}
        for impl in ("torch", "own"):  # the raw gather: rank r weights the gathered rows by (r + 1)
            x = z1[shard(rank)].clone().requires_grad_()
            y, offset = gather_rows(x, impl=impl)
            ((rank + 1) * (y * z2).sum()).backward()
            results[impl] = (y.detach(), offset, x.grad)
        for name, kw in CASES:
            kw = dict(kw)
            use_pos = kw.pop("use_pos", False)
            a = z1[shard(rank)].clone().requires_grad_()
            b = z2[shard(rank)].clone().requires_grad_()
            loss = info_nce(a, b, 0.5, gather_distributed=True,
                            pos_index=pos[shard(rank)] if use_pos else None, **kw)
            loss.backward()
            results[name] = (loss.detach(), a.grad, b.grad)
        a = z1[shard(rank)].clone().requires_grad_()
        b = z2[shard(rank)].clone().requires_grad_()
        module_loss = InfoNCE(0.5, symmetric=True, gather_distributed=True, chunk_size=4)(a, b)
        module_loss.backward()
        results["module"] = (module_loss.detach(), a.grad, b.grad)
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def reference(z1, z2, pos, rank, **kw):
    """Loss of rank ``rank``'s anchors against all rows (dense, one process)."""
    sl = shard(rank)
    n = z1.size(0)
    a, c = z1 / z1.norm(dim=1, keepdim=True), z2 / z2.norm(dim=1, keepdim=True)
    e = torch.exp(a[sl] @ c.T / 0.5)
    p = (pos[sl] + sl.start) if kw.get("use_pos") else torch.arange(n)[sl]
    denom = e.sum(dim=1)
    if kw.get("intra_view"):
        not_self = torch.ones(sl.stop - sl.start, n, dtype=z1.dtype)
        not_self[torch.arange(sl.stop - sl.start), torch.arange(n)[sl]] = 0
        ei = torch.exp(a[sl] @ a.T / 0.5) * not_self
        denom = denom + ei.sum(dim=1)
    return -torch.log(e[torch.arange(sl.stop - sl.start), p] / denom).mean()


@pytest.mark.slow  # two fresh processes importing torch: ~8-20 s on a busy 2-core machine
def test_gather_distributed_two_process_gloo(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    got = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    z1, z2, pos = full_data()
    for impl in ("torch", "own"):
        for r in range(WORLD):
            y, offset, grad = got[r][impl]
            torch.testing.assert_close(y, z1)
            assert offset == shard(r).start
            torch.testing.assert_close(grad, sum(k + 1 for k in range(WORLD)) * z2[shard(r)])
    for name, kw in CASES + [("module", dict(intra_view=True))]:
        a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        if name == "module":  # symmetric: mean of both directions, each with gathered candidates
            per_rank = [0.5 * (reference(a, b, pos, r, **kw) + reference(b, a, pos, r, **kw)) for r in range(WORLD)]
        else:
            per_rank = [reference(a, b, pos, r, **kw) for r in range(WORLD)]
        sum(per_rank).backward()  # each shard's gradient sums every rank's loss
        for r in range(WORLD):
            loss, ga, gb = got[r][name]
            torch.testing.assert_close(loss, per_rank[r].detach(), **TOL)
            torch.testing.assert_close(ga, a.grad[shard(r)], **TOL)
            torch.testing.assert_close(gb, b.grad[shard(r)], **TOL)


def test_without_process_group_gather_is_identity() -> None:
    z = torch.randn(4, 3)
    out, offset = gather_rows(z)
    assert out is z and offset == 0
    torch.testing.assert_close(info_nce(z, z + 1, 0.5, gather_distributed=True), info_nce(z, z + 1, 0.5))
    with pytest.raises(ValueError, match="impl must be"):
        gather_rows(z, impl="nccl")
