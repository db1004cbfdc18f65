"""Data-parallel training with ``torch.distributed``: process group, ranks, shards, DDP.

A run launched by ``torchrun --nproc_per_node W ...`` has W processes (ranks), told apart by
the environment variables ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``. :func:`init_distributed`
reads them, binds the process to its local device (``cuda:LOCAL_RANK`` for ``cuda``/``auto``
on a GPU machine) and opens the default process group with the backend torch pairs with that
device: NCCL for CUDA, gloo for the CPU. Outside ``torchrun`` nothing is initialised and every
helper here answers as for a single process (rank 0 of 1), so the same code runs either way.

What each rank does and what is shared:

- parameters start equal on every rank (:func:`data_parallel` wraps the module in
  :class:`~torch.nn.parallel.DistributedDataParallel`, which broadcasts rank 0's parameters
  and buffers when it is built, then averages gradients over the ranks in the backward pass);
- data are split by :func:`shard`: the same permutation on every rank, a contiguous slice of
  it per rank;
- results are written by rank 0 only (:func:`is_main_process`), and whatever rank 0 alone
  decides or reads reaches the other ranks through :func:`on_main` / :func:`broadcast_object`.
"""
from __future__ import annotations

import contextlib
import io
import os
import pickle
from datetime import timedelta
from typing import Any, Callable, Iterator, Mapping, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from gcl.losses.distributed import is_distributed
from gcl.train.device import resolve_device

T = TypeVar("T")

#: Environment variables ``torchrun`` sets for each process it starts.
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")

#: Ways :func:`shard` makes shards of a length that ``world_size`` does not divide.
SHARD_MODES = ("pad", "truncate", "split")

_owned_group = False  # whether init_distributed opened the default group (and must close it)


# ---------------------------------------------------------------------------- process group
def launched_by_torchrun(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process was started by ``torchrun`` (all of :data:`TORCHRUN_ENV` are set)."""
    env = os.environ if environ is None else environ
    return all(name in env for name in TORCHRUN_ENV)


def backend_for(device: torch.device) -> str:
    """The process-group backend for tensors on ``device``: ``"nccl"`` for CUDA, ``"gloo"`` for
    the CPU (torch's own pairing, :func:`torch.distributed.get_default_backend_for_device`,
    where that exists)."""
    pick = getattr(dist, "get_default_backend_for_device", None)
    if pick is not None:
        return pick(device)
    return "nccl" if device.type == "cuda" else "gloo"  # torch < 2.6


def init_distributed(device: str | torch.device = "auto", *,
                     timeout: timedelta | None = None) -> torch.device:
    """Open the default process group when launched by ``torchrun``; return this rank's device.

    Args:
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (as :func:`gcl.train.resolve_device`).
            An accelerator given without an index becomes ``<type>:LOCAL_RANK`` under
            ``torchrun`` (one device per local rank); an explicit index is kept as given.
        timeout: collective timeout (``None``: torch's default).

    Returns:
        The device this process should compute on. Outside ``torchrun``, or when a group is
        already initialised (by the caller), no group is opened here.

    Raises:
        ValueError: ``device`` is not a device, or names CUDA where none is available.
    """
    global _owned_group
    dev = resolve_device(device)
    if not launched_by_torchrun():
        return dev
    if dev.type != "cpu" and dev.index is None:
        dev = torch.device(dev.type, local_rank())
    if not (dist.is_available() and dist.is_initialized()):
        if dev.index is not None:  # object collectives (NCCL) use the current device
            torch.get_device_module(dev.type).set_device(dev.index)
        kwargs = {} if timeout is None else {"timeout": timeout}
        dist.init_process_group(backend_for(dev), **kwargs)
        _owned_group = True
    return dev


def cleanup() -> None:
    """Destroy the default process group if :func:`init_distributed` opened it."""
    global _owned_group
    if _owned_group and dist.is_initialized():
        dist.destroy_process_group()
    _owned_group = False


@contextlib.contextmanager
def distributed_session(device: str | torch.device = "auto") -> Iterator[torch.device]:
    """``init_distributed(device)`` for the block; the group it opened is destroyed after the
    block (also on errors). Sessions nest: inside an open group (an outer session, or a group
    the caller opened) nothing is opened or destroyed.

    Open one session per process rather than one after another: re-opening the default group
    under ``torchrun`` reuses the launcher's store, where a rank may still read the previous
    group's addresses of its peers.
    """
    global _owned_group
    opens = launched_by_torchrun() and not (dist.is_available() and dist.is_initialized())
    dev = init_distributed(device)
    try:
        yield dev
    finally:
        if opens and dist.is_initialized():
            dist.destroy_process_group()
            _owned_group = False


def rank() -> int:
    """This process's rank: from the process group, else ``RANK`` (set by ``torchrun``, so
    known before the group opens and after it closes), else 0."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", 0)) if launched_by_torchrun() else 0


def world_size() -> int:
    """Number of ranks of the open process group (1 without one)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def local_rank() -> int:
    """Rank within this machine (``LOCAL_RANK``; 0 outside ``torchrun``)."""
    return int(os.environ.get("LOCAL_RANK", 0)) if launched_by_torchrun() else 0


def is_main_process() -> bool:
    """True on rank 0, the rank that writes files and logs (and in a single process)."""
    return rank() == 0


def barrier() -> None:
    """Wait for every rank (nothing to wait for without a group of more than one rank)."""
    if is_distributed():
        dist.barrier()


# ---------------------------------------------------------------------------- collectives
def _pack(obj: Any) -> bytes:
    """``obj`` serialised with ``torch.save``: tensors inside it travel as CPU data (tensors
    pickled by the object collectives themselves fail to load in some torch versions)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _unpack(data: bytes) -> Any:
    # Full unpickling is needed for arbitrary objects; the bytes come from this job's ranks.
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)


def broadcast_object(obj: T, src: int = 0) -> T:
    """Rank ``src``'s ``obj`` (any picklable Python object, tensors included, which arrive on
    the CPU) on every rank; ``obj`` itself without a group. Every rank must call it; the other
    ranks' ``obj`` is ignored."""
    if not is_distributed():
        return obj
    box = [_pack(obj) if rank() == src else None]
    dist.broadcast_object_list(box, src=src)
    return obj if rank() == src else _unpack(box[0])


def all_gather_object(obj: T) -> list[T]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``[obj]`` without a group);
    tensors inside arrive on the CPU."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, _pack(obj))
    return [_unpack(data) for data in out]


def all_reduce_mean(values: Mapping[str, float], device: torch.device | str = "cpu") -> dict[str, float]:
    """The mean over ranks of each named number (in one float64 all-reduce on ``device``).

    Every rank must pass the same names; the values are summed in sorted-name order and
    divided by the world size. Without a group the values come back unchanged.
    """
    if not is_distributed():
        return dict(values)
    names = sorted(values)
    packed = torch.tensor([float(values[k]) for k in names], dtype=torch.float64, device=device)
    dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    packed /= world_size()
    return dict(zip(names, packed.tolist()))


def _portable(exc: BaseException) -> tuple:
    """``exc`` in a form that survives pickling: itself when it round-trips, else (class,
    args, attributes), for classes whose ``__init__`` takes other arguments than their
    ``args`` (e.g. ``CheckpointError``)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return (exc,)
    except Exception:  # unpicklable: rebuilt from its parts by _rebuild
        return type(exc), exc.args, dict(vars(exc))


def _rebuild(*parts: Any) -> BaseException:
    if len(parts) == 1:
        return parts[0]
    cls, args, attrs = parts
    exc = cls.__new__(cls)
    BaseException.__init__(exc, *args)
    exc.__dict__.update(attrs)
    return exc


def on_main(fn: Callable[[], T]) -> T:
    """Run ``fn()`` on rank 0 only and give its result to every rank.

    An exception raised by ``fn`` on rank 0 is raised on every rank (the original on rank 0,
    a copy of the same class and message elsewhere), so no rank is left waiting in a later
    collective. Every rank must call it. Without a group it is just ``fn()``.
    """
    if not is_distributed():
        return fn()
    result: Any = None
    error: BaseException | None = None
    if is_main_process():
        try:
            result = fn()
        except Exception as exc:  # handed to every rank below
            error = exc
    result, shared = broadcast_object((result, None if error is None else _portable(error)))
    if error is not None:
        raise error
    if shared is not None:
        raise _rebuild(*shared)
    return result


def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers into ``module`` on every rank, in place."""
    if not is_distributed():
        return
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=src)


# ---------------------------------------------------------------------------- sharding
def shard(items: int | Tensor, generator: torch.Generator | None = None, *, mode: str = "pad",
          rank: int | None = None, world_size: int | None = None) -> Tensor:
    """This rank's share of ``items``, like :class:`torch.utils.data.DistributedSampler`.

    The items are put in the order ``randperm(n, generator=generator)`` (``0..n-1`` without a
    generator). That order is the same on every rank when every rank passes a generator in the
    same state (e.g. ``torch.Generator().manual_seed(seed)``; draw a new order per epoch by
    advancing it, or seeding with ``seed + epoch``, identically everywhere). The order is
    then cut into ``world_size`` contiguous slices and rank r takes slice r. ``mode`` says what
    happens when ``world_size`` does not divide ``n``:

    - ``"pad"``: every shard has ``ceil(n / W)`` items; the order is extended by repeating its
      beginning (as ``DistributedSampler`` does), so every item is used and a few twice;
    - ``"truncate"``: every shard has ``floor(n / W)`` items; the last ``n mod W`` items of the
      order are left out (``drop_last=True``);
    - ``"split"``: disjoint shards covering every item exactly once; the first ``n mod W``
      ranks get ``ceil(n / W)`` items, the others ``floor(n / W)``. Losses that must equal the
      single-process loss (:func:`gcl.losses.sharded_info_nce`) need this mode.

    Equal shard sizes (``pad``, ``truncate``) keep every rank at the same number of steps;
    ``split`` trades that for exact coverage.

    Args:
        items: ``n`` (shard ``range(n)``) or a 1-D tensor (shard its entries, e.g. node ids).
        generator: CPU generator of the permutation (``None``: no shuffling).
        mode: ``"pad"``, ``"truncate"`` or ``"split"``.
        rank, world_size: default to this process's (:func:`rank`, :func:`world_size`).

    Returns:
        [n_r] long indices into ``range(n)``, or the entries of ``items`` at those indices.

    Raises:
        ValueError: unknown ``mode``, a negative ``n`` or a rank outside ``0..world_size-1``
            (no items give empty shards in every mode).
    """
    if mode not in SHARD_MODES:
        raise ValueError(f"shard mode must be one of {SHARD_MODES}, got {mode!r}")
    if isinstance(items, Tensor):
        if items.dim() != 1:
            raise ValueError(f"shard items must be a count or a 1-D tensor, got shape {tuple(items.shape)}")
        n = items.numel()
    else:
        n = int(items)
        if n < 0:
            raise ValueError(f"shard needs n >= 0 items, got {n}")
    world = _world_size_default() if world_size is None else int(world_size)
    r = _rank_default() if rank is None else int(rank)
    if world < 1 or not 0 <= r < world:
        raise ValueError(f"shard needs 0 <= rank < world_size, got rank={r}, world_size={world}")
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    if mode == "split":
        base, extra = divmod(n, world)
        start = r * base + min(r, extra)
        idx = order[start:start + base + (1 if r < extra else 0)]
    else:
        size = -(-n // world) if mode == "pad" else n // world
        if mode == "pad" and size * world > n:  # n > 0 here
            order = order[torch.arange(size * world) % n]
        idx = order[r * size:(r + 1) * size]
    return items[idx.to(items.device)] if isinstance(items, Tensor) else idx


_rank_default, _world_size_default = rank, world_size  # shard's keyword arguments shadow them


# ---------------------------------------------------------------------------- DDP
class MethodAsForward(nn.Module):
    """A module whose ``forward`` is ``module.<method>``.

    :class:`~torch.nn.parallel.DistributedDataParallel` synchronises gradients only for
    computations that go through its ``forward``; a method's training loss is usually another
    method (``model.loss(...)``), which this wrapper exposes as ``forward``.

    Args:
        module: the model (its parameters are those of this wrapper).
        method: the name of the method to call.
    """

    def __init__(self, module: nn.Module, method: str = "forward"):
        super().__init__()
        if not callable(getattr(module, method, None)):
            raise ValueError(f"{type(module).__name__} has no method {method!r} to wrap")
        self.module = module
        self.method = method

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.module, self.method)(*args, **kwargs)


def data_parallel(module: nn.Module, method: str = "forward", **ddp_kwargs: Any) -> nn.Module:
    """``module.<method>`` as a callable module, under DDP when several ranks run.

    With a process group of more than one rank the result is
    ``DistributedDataParallel(MethodAsForward(module, method), device_ids=None, ...)``:
    building it broadcasts rank 0's parameters and buffers, and each backward pass through
    its output averages the parameter gradients over the ranks (a mean, so a rank's loss
    should be scaled such that the mean over ranks is the intended objective). With
    ``device_ids=None`` DDP uses the device the module is on, so the same call serves CPU
    (gloo) and GPU (NCCL) runs. Without such a group it is ``MethodAsForward`` alone.

    Args:
        module: the model, already on its device.
        method: the method computing the training loss (``"forward"``, ``"loss"``, ...).
        ddp_kwargs: further arguments of ``DistributedDataParallel``
            (e.g. ``find_unused_parameters=True``).
    """
    wrapped = MethodAsForward(module, method)
    if not is_distributed():
        return wrapped
    return DistributedDataParallel(wrapped, device_ids=None, **ddp_kwargs)


def unwrap(module: nn.Module) -> nn.Module:
    """The model inside any ``DistributedDataParallel`` / :class:`MethodAsForward` layers (its
    ``state_dict`` has the keys of a single-process run, so checkpoints are interchangeable)."""
    while isinstance(module, (DistributedDataParallel, MethodAsForward)):
        module = module.module
    return module


__all__ = [
    "MethodAsForward", "SHARD_MODES", "TORCHRUN_ENV", "all_gather_object", "all_reduce_mean",
    "backend_for", "barrier", "broadcast_module", "broadcast_object", "cleanup", "data_parallel",
    "distributed_session", "init_distributed", "is_distributed", "is_main_process",
    "launched_by_torchrun", "local_rank", "on_main", "rank", "shard", "unwrap", "world_size",
]
