"""Failure-proof runs: a NaN stops the run naming epoch, step and term and keeps the last good
checkpoint; a diverged state never reaches a checkpoint; a full disk and an unreadable
checkpoint give clear errors naming the file (see also test_engine.py and
tests/cli/test_kill_resume.py for atomic checkpoints and SIGKILL + resume)."""
from __future__ import annotations

import errno
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import gcl.train.metrics_log as metrics_log
import gcl.utils.atomic as atomic
from gcl.train import (
    CheckpointError,
    NonFiniteLossError,
    NonFiniteStateError,
    TrainConfig,
    Trainer,
    load_checkpoint,
    record_step,
    save_checkpoint,
)
from gcl.utils import seed_everything

STEPS = 4


class _Run:
    """A linear regression trained in ``STEPS`` steps per epoch, reporting two terms a step.

    Args:
        nan_at: ``(epoch, step, term)`` whose recorded value is replaced by NaN.
        as_float: record Python floats (checked at once) instead of tensors (checked at the
            end of the epoch).
        record: report per-step terms at all.
        steps: optimiser steps per epoch.
        blow_up: ``(epoch, what)``: after that epoch's last step, put an infinity into the
            parameters (``"param"``) or Adam's moment estimate (``"moment"``), while the
            reported loss stays finite.
    """

    def __init__(self, nan_at: tuple[int, int, str] | None = None, as_float: bool = False,
                 record: bool = True, steps: int = STEPS, blow_up: tuple[int, str] | None = None):
        seed_everything(0)
        self.model = nn.Linear(4, 1)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=0.05)
        self.gen = torch.Generator().manual_seed(1)
        self.nan_at, self.as_float, self.record, self.steps, self.blow_up = nan_at, as_float, record, steps, blow_up
        self.out: Path | None = None
        self.checkpoint_at_start: dict[int, bytes] = {}  # epoch -> checkpoint bytes when it began

    def train_epoch(self, epoch: int) -> dict[str, float]:
        if self.out is not None and (self.out / "checkpoint.pt").is_file():
            self.checkpoint_at_start[epoch] = (self.out / "checkpoint.pt").read_bytes()
        total = 0.0
        for step in range(1, self.steps + 1):
            x = torch.randn(8, 4, generator=self.gen)
            mse = ((self.model(x) - x.sum(1, keepdim=True)) ** 2).mean()
            cl = 0.01 * self.model.weight.pow(2).sum()
            terms = {"loss": mse.detach() + cl.detach(), "cl": cl.detach()}
            if self.nan_at is not None and self.nan_at[:2] == (epoch, step):
                terms[self.nan_at[2]] = torch.tensor(float("nan"))
            if self.record:
                record_step({k: float(v) for k, v in terms.items()} if self.as_float else terms)
            self.opt.zero_grad()
            (mse + cl).backward()
            self.opt.step()
            total += float(terms["loss"])
        if self.blow_up is not None and self.blow_up[0] == epoch:
            with torch.no_grad():
                if self.blow_up[1] == "param":
                    self.model.bias.fill_(float("inf"))
                else:
                    self.opt.state[self.model.weight]["exp_avg"][0, 1] = float("-inf")
        return {"loss": total / self.steps}

    def validate(self, epoch: int) -> dict[str, float]:
        x = torch.linspace(-1, 1, 16).view(4, 4)
        return {"val_mse": float(((self.model(x) - x.sum(1, keepdim=True)) ** 2).mean())}

    def trainer(self, out: Path, **cfg: Any) -> Trainer:
        self.out = out
        config = TrainConfig(**{"epochs": 5, "out_dir": str(out), "monitor": "val_mse", "mode": "min",
                                "quiet": True, **cfg})
        return Trainer(self.model, self.opt, self.train_epoch, self.validate, config,
                       generators={"data": self.gen}, signature={"run": "toy"})


def _epochs_logged(out: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------ NaN / Inf in a loss


@pytest.mark.parametrize("as_float", [False, True], ids=["tensor-terms", "float-terms"])
def test_nan_at_a_step_names_epoch_step_and_term_and_keeps_the_checkpoint(tmp_path: Path, as_float: bool) -> None:
    out = tmp_path / "run"
    run = _Run(nan_at=(3, 2, "cl"), as_float=as_float)
    with pytest.raises(NonFiniteLossError, match=r"'cl' is nan at epoch 3, step 2") as info:
        run.trainer(out).fit()
    assert (info.value.epoch, info.value.step, info.value.term) == (3, 2, "cl")
    # The checkpoint written after epoch 2 is kept byte for byte; epoch 3 left no trace.
    assert (out / "checkpoint.pt").read_bytes() == run.checkpoint_at_start[3]
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 2
    assert _epochs_logged(out) == [1, 2]


def test_earliest_bad_step_is_named_across_terms(tmp_path: Path) -> None:
    run = _Run(nan_at=(2, 3, "cl"))
    original = run.train_epoch

    def train_epoch(epoch: int) -> dict[str, float]:  # a second NaN, later, in another term
        if epoch == 2:
            record_step({"loss": torch.tensor(float("inf"))})
        return original(epoch)

    run.train_epoch = train_epoch  # type: ignore[method-assign]
    with pytest.raises(NonFiniteLossError) as info:
        run.trainer(tmp_path).fit()
    assert (info.value.epoch, info.value.step, info.value.term) == (2, 1, "loss")
    assert info.value.value == float("inf")


def test_single_step_epochs_name_step_one_without_records(tmp_path: Path) -> None:
    run = _Run(record=False, steps=1)
    original = run.train_epoch
    run.train_epoch = lambda epoch: {**original(epoch), **({"loss": float("nan")} if epoch == 2 else {})}  # type: ignore[method-assign]
    with pytest.raises(NonFiniteLossError, match=r"'loss' is nan at epoch 2, step 1"):
        run.trainer(tmp_path).fit()
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 1


def test_multi_step_epoch_without_records_names_the_epoch(tmp_path: Path) -> None:
    run = _Run(record=False)
    original = run.train_epoch
    run.train_epoch = lambda epoch: {"loss": float("-inf")} if epoch == 2 else original(epoch)  # type: ignore[method-assign]
    with pytest.raises(NonFiniteLossError, match=r"'loss' is -inf at epoch 2;") as info:
        run.trainer(tmp_path).fit()
    assert info.value.step is None


def test_resume_after_a_nan_stop_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    """The kept checkpoint is a good state: resuming from it (once the cause is gone) gives
    exactly the run that never saw the NaN."""
    clean = _Run()
    result_clean = clean.trainer(tmp_path / "clean").fit()
    with pytest.raises(NonFiniteLossError):
        _Run(nan_at=(4, 3, "loss")).trainer(tmp_path / "nan").fit()
    resumed = _Run()
    result = resumed.trainer(tmp_path / "nan", resume=True).fit()
    strip = lambda h: [{k: v for k, v in r.items() if "time" not in k} for r in h]  # noqa: E731
    assert strip(result.history) == strip(result_clean.history)
    for a, b in zip(clean.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


def test_record_step_outside_a_run_does_nothing() -> None:
    record_step({"loss": float("nan")})  # no Trainer.fit running: nothing to stop


def test_record_step_refuses_a_tensor_of_many_values(tmp_path: Path) -> None:
    run = _Run()
    run.train_epoch = lambda epoch: record_step({"loss": torch.zeros(3)}) or {"loss": 0.0}  # type: ignore[method-assign]
    with pytest.raises(ValueError, match=r"'loss' of step 1 has shape \(3,\)"):
        run.trainer(tmp_path).fit()


# ------------------------------------------------------------------ a diverged state


@pytest.mark.parametrize(("what", "name"), [("param", "bias"), ("moment", "optimizer.state.0.exp_avg")])
def test_diverged_state_never_replaces_the_last_good_checkpoint(tmp_path: Path, what: str, name: str) -> None:
    out = tmp_path / "run"
    run = _Run(blow_up=(3, what))
    with pytest.raises(NonFiniteStateError, match=rf"'{name}' holds -?inf after epoch 3") as info:
        run.trainer(out).fit()
    assert isinstance(info.value, NonFiniteLossError)  # caught wherever a NaN loss is
    assert (info.value.epoch, info.value.term) == (3, name)
    assert (out / "checkpoint.pt").read_bytes() == run.checkpoint_at_start[3]
    assert all(torch.isfinite(t).all() for t in load_checkpoint(out / "checkpoint.pt")["model"].values())
    assert _epochs_logged(out) == [1, 2]


def test_state_is_not_checked_without_checkpoints(tmp_path: Path) -> None:
    run = _Run(blow_up=(1, "param"), steps=1)
    run.trainer(tmp_path, epochs=1, checkpoint_every=0, monitor=None).fit()  # nothing to protect


# ------------------------------------------------------------------ a full disk


def _fill_disk_while_writing(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Make the next checkpoint write fail with ENOSPC: half-way through the data, or when
    the data is flushed to disk."""
    if where == "write":
        real_save = torch.save

        def half_then_full(obj: Any, fh: Any, *args: Any, **kwargs: Any) -> None:
            import io

            buf = io.BytesIO()
            real_save(obj, buf)
            fh.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(torch, "save", half_then_full)
    else:
        real_fsync = os.fsync
        if not Path("/proc/self/fd").is_dir():
            pytest.skip("needs /proc to tell the checkpoint's file descriptor")

        def no_space(fd: int) -> None:
            if "checkpoint.pt" in os.readlink(f"/proc/self/fd/{fd}"):
                raise OSError(errno.ENOSPC, "No space left on device")
            real_fsync(fd)

        monkeypatch.setattr(atomic.os, "fsync", no_space)


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_disk_full_mid_checkpoint_names_the_file_and_keeps_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    _Run().trainer(tmp_path, epochs=2).fit()
    path = tmp_path / "checkpoint.pt"
    before = path.read_bytes()
    _fill_disk_while_writing(monkeypatch, where)
    with pytest.raises(CheckpointError, match="disk full") as info:
        _Run().trainer(tmp_path, epochs=3, resume=True).fit()
    assert str(path) in str(info.value)
    assert info.value.path == path
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_checkpoint(path)["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "metrics.jsonl"]


def test_disk_full_on_the_metrics_log_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _Run().trainer(tmp_path, epochs=1).fit()
    before = (tmp_path / "checkpoint.pt").read_bytes()

    class _FullFile:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def __enter__(self) -> "_FullFile":
            return self

        def __exit__(self, *args: Any) -> None:
            pass

        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(metrics_log, "open", _FullFile, raising=False)
    with pytest.raises(OSError, match="metrics log") as info:
        _Run().trainer(tmp_path, epochs=2, resume=True).fit()
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(tmp_path / "metrics.jsonl")
    assert str(tmp_path / "metrics.jsonl") in str(info.value)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before


def test_disk_full_rewriting_the_metrics_log_on_resume_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _Run().trainer(tmp_path, epochs=2).fit()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    with pytest.raises(OSError, match="cannot rewrite the metrics log") as info:
        _Run().trainer(tmp_path, epochs=3, resume=True).fit()
    assert info.value.filename == str(tmp_path / "metrics.jsonl")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# ------------------------------------------------------------------ an unreadable checkpoint


def _good_checkpoint(out: Path) -> Path:
    _Run().trainer(out, epochs=2).fit()
    return out / "checkpoint.pt"


def _truncate(path: Path, fraction: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


_RNG = random.Random(9)
_CUTS = sorted(_RNG.uniform(0.01, 0.99) for _ in range(4))


def _missing_model(path: Path) -> None:
    state = load_checkpoint(path)
    del state["model"], state["format_version"]
    save_checkpoint(path, state)


def _other_shapes(path: Path) -> None:
    state = load_checkpoint(path)
    state["model"] = {"weight": torch.zeros(3, 7), "bias": torch.zeros(3)}
    del state["format_version"]
    save_checkpoint(path, state)


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


CORRUPTIONS = {
    "empty": lambda p: p.write_bytes(b""),
    "garbage": lambda p: p.write_bytes(bytes(_RNG.randrange(256) for _ in range(4096))),
    "text": lambda p: p.write_text("not a checkpoint\n"),
    **{f"truncated-{cut:.2f}": (lambda p, cut=cut: _truncate(p, cut)) for cut in _CUTS},
    "missing-field": _missing_model,
    "other-model": _other_shapes,
    "folder": _folder,
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_unreadable_checkpoint_on_resume_names_the_file(tmp_path: Path, kind: str) -> None:
    path = _good_checkpoint(tmp_path)
    CORRUPTIONS[kind](path)
    with pytest.raises(CheckpointError) as info:
        _Run().trainer(tmp_path, epochs=4, resume=True).fit()
    assert str(path) in str(info.value)
    assert info.value.path == path


# ------------------------------------------------------------------ devices

_DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"))]


@pytest.mark.parametrize("device", _DEVICES)
def test_checks_on_device_tensors(device: str) -> None:
    """Tensors on the model's device, Adam's step counters on the CPU: both are checked."""
    from gcl.train.finite import first_non_finite
    from gcl.train.steps import StepLog

    model = nn.Linear(3, 1).to(device)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(2, 3, device=device)).sum().backward()
    opt.step()
    assert first_non_finite(model.state_dict()) is None
    assert first_non_finite(opt.state_dict(), "optimizer") is None
    opt.state[model.weight]["exp_avg_sq"][0, 2] = float("nan")
    assert first_non_finite(opt.state_dict(), "optimizer")[0] == "optimizer.state.0.exp_avg_sq"

    log = StepLog(epoch=7)
    for value in (1.0, float("inf"), float("nan")):
        log.record({"loss": torch.tensor(value, device=device)})
    with pytest.raises(NonFiniteLossError, match=r"'loss' is inf at epoch 7, step 2"):
        log.check()
