"""Distributed training: a real 2-process gloo job on the CPU (the CI job) against one process.

``torchrun --standalone --nproc_per_node 2 dist_worker.py`` runs ``gcl bench grace`` on Cora
(full, and split into two invocations with ``--resume``), a resume with other settings, and a
DDP toy whose ranks draw different data (see ``dist_worker.py``). The same ``gcl bench grace``
also runs here in one process. Checked:

(a) 2 processes match 1 process within the stated tolerance: every epoch's loss within
    ``LOSS_RTOL`` (relative), the final parameters within ``PARAM_ATOL`` (one fifth of one
    Adam step at lr 5e-4), the probe accuracies within ``ACC_ATOL`` (5 of Cora's 1000 test
    nodes: the embeddings differ by round-off, which can move a node across the probe's
    boundary), the same selected epoch;
(b) only rank 0 wrote files, and each file once (one log line per epoch, one report line per
    run);
(c) a run stopped and resumed ends bit-identical to the uninterrupted 2-process run, also
    when the ranks' RNG streams differ (the toy: every rank's RNG states are checkpointed);
    a resume with other settings fails on both ranks with exit code 1;
(d) ``shard`` gives disjoint, covering (``split``) or equal-sized (``pad``/``truncate``)
    shards, the same on every rank.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import dist_worker as worker
from gcl.cli.main import main as cli
from gcl.losses import InfoNCE, sharded_info_nce
from gcl.train.checkpoint import load_checkpoint
from gcl.train.distributed import (
    all_reduce_mean,
    broadcast_object,
    data_parallel,
    init_distributed,
    launched_by_torchrun,
    on_main,
    rank,
    shard,
    unwrap,
    world_size,
)

WORLD = 2
LOSS_RTOL = 1e-5
PARAM_ATOL = 1e-4
ACC_ATOL = 0.005
TIMEOUT_S = 300  # generous: the machine may be shared
TIMING_KEYS = {"time_s", "train_time_s"}
RESULT_FILES = {"checkpoint.pt", "metrics.jsonl", "result.json", "curve.png"}


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the 2-process job and the 1-process reference once for the module's tests."""
    root = tmp_path_factory.mktemp("dist")
    (root / "config.json").write_text(json.dumps(worker.CONFIG))
    (root / "other.json").write_text(json.dumps(worker.OTHER_CONFIG))
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(WORLD),
           str(Path(worker.__file__)), str(root)]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    # The single-process reference, here (no torchrun variables in this process).
    assert cli(worker.bench_args(root / "config.json", root / "single", worker.EPOCHS)) == 0
    reports = [torch.load(root / "report" / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]
    return {"root": root, "stdout": proc.stdout, "reports": reports}


def _result(path: Path) -> dict:
    return json.loads((path / "result.json").read_text())


def _history(result: dict) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in result["history"]]


# ---------------------------------------------------------------------------- (a)
@pytest.mark.slow  # a torchrun job of two fresh processes: ~15-30 s on a busy 2-core machine
def test_two_processes_match_one_process(job: dict) -> None:
    root = job["root"]
    one, two = _result(root / "single"), _result(root / "out" / "full")
    assert one["world_size"] == 1 and two["world_size"] == WORLD
    losses_1 = [r["loss"] for r in one["history"]]
    losses_2 = [r["loss"] for r in two["history"]]
    assert len(losses_1) == len(losses_2) == worker.EPOCHS
    torch.testing.assert_close(torch.tensor(losses_2, dtype=torch.float64),
                               torch.tensor(losses_1, dtype=torch.float64), rtol=LOSS_RTOL, atol=0.0)
    for key in ("val_acc", "test_acc"):
        assert abs(two["metrics"][key] - one["metrics"][key]) <= ACC_ATOL, key
    assert two["selected_epoch"] == one["selected_epoch"]
    p1 = load_checkpoint(root / "single" / "checkpoint.pt")["model"]
    p2 = load_checkpoint(root / "out" / "full" / "checkpoint.pt")["model"]
    assert p1.keys() == p2.keys()
    for name in p1:
        torch.testing.assert_close(p2[name], p1[name], rtol=0.0, atol=PARAM_ATOL, msg=name)


# ---------------------------------------------------------------------------- (b)
@pytest.mark.slow
def test_only_rank_zero_writes(job: dict) -> None:
    root, (r0, r1) = job["root"], job["reports"]
    assert r1["writes"] == [], f"rank 1 wrote {r1['writes'][:5]}"
    written = {Path(p).name for _, p in r0["writes"]}
    assert {"metrics.jsonl", "result.json", "curve.png"} <= written  # the hook saw rank 0 write
    for run in ("full", "split"):
        files = {p.name for p in (root / "out" / run).iterdir()}
        assert files == RESULT_FILES, files  # no temporary file left
        assert len((root / "out" / run / "metrics.jsonl").read_text().splitlines()) == worker.EPOCHS
    # One report line per successful run, printed by rank 0 only.
    assert job["stdout"].count("grace on cora:") == 3
    ckpt = load_checkpoint(root / "out" / "full" / "checkpoint.pt")
    assert len(ckpt["rng_ranks"]) == WORLD


# ---------------------------------------------------------------------------- (c)
@pytest.mark.slow
def test_resumed_run_is_identical_to_uninterrupted(job: dict) -> None:
    root, reports = job["root"], job["reports"]
    for r in reports:
        assert r["codes"]["full"] == r["codes"]["split_first"] == r["codes"]["split_resume"] == 0
    full, split = _result(root / "out" / "full"), _result(root / "out" / "split")
    assert split["metrics"] == full["metrics"]
    assert _history(split) == _history(full)
    a = load_checkpoint(root / "out" / "full" / "checkpoint.pt")
    b = load_checkpoint(root / "out" / "split" / "checkpoint.pt")
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name


@pytest.mark.slow
def test_resume_with_other_settings_fails_on_every_rank(job: dict) -> None:
    assert [r["codes"]["mismatch"] for r in job["reports"]] == [1] * WORLD


@pytest.mark.slow
def test_per_rank_rng_resumes_exactly(job: dict) -> None:
    (r0, r1), root = job["reports"], job["root"]
    ckpt = load_checkpoint(root / "out" / "toy_full" / "checkpoint.pt")
    states = [s["generators"]["data"] for s in ckpt["rng_ranks"]]
    assert not torch.equal(states[0], states[1])  # the ranks' streams do differ
    for report in (r0, r1):
        for name, value in report["toy_full"]["params"].items():
            assert torch.equal(report["toy_split"]["params"][name], value), name
        strip = lambda h: [{k: v for k, v in e.items() if k not in TIMING_KEYS} for e in h]  # noqa: E731
        assert strip(report["toy_split"]["history"]) == strip(report["toy_full"]["history"])
    for name, value in r0["toy_full"]["params"].items():  # DDP kept the ranks in sync
        assert torch.equal(r1["toy_full"]["params"][name], value), name


# ---------------------------------------------------------------------------- (d)
@pytest.mark.parametrize("n", [0, 1, 7, 10, 13])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shard_split_is_a_partition(n: int, world: int) -> None:
    shards = [shard(n, torch.Generator().manual_seed(5), mode="split", rank=r, world_size=world)
              for r in range(world)]
    joined = torch.cat(shards)
    assert sorted(joined.tolist()) == list(range(n))  # disjoint and covering
    sizes = [s.numel() for s in shards]
    assert max(sizes) - min(sizes) <= 1
    expected = torch.randperm(n, generator=torch.Generator().manual_seed(5))
    assert torch.equal(joined, expected)  # the same permutation on every rank, cut in order


@pytest.mark.parametrize("n", [1, 7, 10, 13])
@pytest.mark.parametrize("world", [2, 3, 4])
def test_shard_pad_and_truncate_have_equal_sizes(n: int, world: int) -> None:
    pad = [shard(n, torch.Generator().manual_seed(1), rank=r, world_size=world) for r in range(world)]
    assert all(s.numel() == -(-n // world) for s in pad)
    assert set(torch.cat(pad).tolist()) == set(range(n))  # everything used, a few twice
    trunc = [shard(n, torch.Generator().manual_seed(1), mode="truncate", rank=r, world_size=world)
             for r in range(world)]
    joined = torch.cat(trunc)
    assert all(s.numel() == n // world for s in trunc)
    assert len(set(joined.tolist())) == joined.numel() == (n // world) * world  # disjoint


def test_shard_of_a_tensor_and_errors() -> None:
    ids = torch.tensor([10, 11, 12, 13, 14])
    assert shard(ids, rank=1, world_size=2, mode="split").tolist() == [13, 14]
    assert shard(ids, rank=1, world_size=2).tolist() == [13, 14, 10]  # padded from the start
    assert torch.equal(shard(5), torch.arange(5))  # one process: everything, in order
    with pytest.raises(ValueError, match="shard mode"):
        shard(5, mode="cyclic")
    with pytest.raises(ValueError, match="rank < world_size"):
        shard(5, rank=2, world_size=2)
    assert all(shard(0, mode=m, rank=1, world_size=2).numel() == 0 for m in ("pad", "truncate", "split"))
    with pytest.raises(ValueError, match="n >= 0"):
        shard(-1)
    with pytest.raises(ValueError, match="1-D"):
        shard(torch.zeros(2, 2))


# ---------------------------------------------------------------------------- single process
def test_helpers_without_a_process_group(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert not launched_by_torchrun()
    assert (rank(), world_size()) == (0, 1)
    assert init_distributed("cpu") == torch.device("cpu")  # nothing opened outside torchrun
    assert broadcast_object({"a": 1}) == {"a": 1}
    assert all_reduce_mean({"b": 2.0, "a": 1.0}) == {"b": 2.0, "a": 1.0}
    assert on_main(lambda: 3) == 3
    model = torch.nn.Linear(2, 1)
    wrapped = data_parallel(model, "forward")
    assert unwrap(wrapped) is model
    x = torch.randn(3, 2)
    torch.testing.assert_close(wrapped(x), model(x))
    with pytest.raises(ValueError, match="no method 'loss'"):
        data_parallel(model, "loss")
    assert launched_by_torchrun({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})


def test_errors_reach_other_ranks_with_their_class_and_message() -> None:
    """What on_main sends when rank 0 fails: also exceptions whose __init__ does not take
    their args (CheckpointError), which plain pickling cannot rebuild."""
    import pickle

    from gcl.train.distributed import _portable, _rebuild
    from gcl.train.errors import CheckpointError

    for exc in (CheckpointError(Path("/runs/a/checkpoint.pt"), "disk full"), KeyError("val_acc")):
        copy = _rebuild(*pickle.loads(pickle.dumps(_portable(exc))))
        assert type(copy) is type(exc) and str(copy) == str(exc)
    assert _rebuild(*pickle.loads(pickle.dumps(_portable(CheckpointError(Path("c.pt"), "x"))))).path == Path("c.pt")


def test_sharded_info_nce_alone_is_the_full_loss() -> None:
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(9, 4, generator=g, dtype=torch.float64), torch.randn(9, 4, generator=g, dtype=torch.float64)
    for criterion in (InfoNCE(0.5), InfoNCE(0.5, chunk_size=4), InfoNCE(0.5, symmetric=False, intra_view=False)):
        anchors = torch.randperm(9, generator=g)
        torch.testing.assert_close(sharded_info_nce(criterion, z1, z2, anchors), criterion(z1, z2))
    with pytest.raises(ValueError, match="both be"):
        sharded_info_nce(InfoNCE(0.5), z1, z2[:3], torch.arange(3))
