"""The training engine: exact resume, selection, early stopping, NaN and checkpoint errors."""
from __future__ import annotations

import errno
import json

import pytest
import torch
from torch import nn

from gcl.train import CheckpointError, NonFiniteLossError, TrainConfig, Trainer, load_checkpoint
from gcl.utils import seed_everything


class _Toy:
    """A tiny regression task drawing from the global RNG and an explicit generator."""

    def __init__(self, seed: int = 0, nan_at: int | None = None):
        seed_everything(seed)
        self.model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 1))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=0.05)
        self.sched = torch.optim.lr_scheduler.StepLR(self.opt, step_size=2, gamma=0.5)
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.w = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
        self.nan_at = nan_at

    def train_epoch(self, epoch: int) -> dict[str, float]:
        total = 0.0
        for _ in range(3):
            x = torch.randn(16, 4, generator=self.gen)
            noise = 0.1 * torch.randn(16, 1)  # global RNG
            loss = ((self.model(x) - (x @ self.w + noise)) ** 2).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            total += loss.item()
        self.sched.step()
        if self.nan_at == epoch:
            return {"loss": float("nan"), "aux": 1.0}
        return {"loss": total / 3}

    def validate(self, epoch: int) -> dict[str, float]:
        x = torch.linspace(-1, 1, 32).view(8, 4)
        return {"val_mse": float(((self.model(x) - x @ self.w) ** 2).mean())}

    def trainer(self, **cfg) -> Trainer:
        config = TrainConfig(**{"monitor": "val_mse", "mode": "min", "quiet": True, **cfg})
        return Trainer(self.model, self.opt, self.train_epoch, self.validate, config,
                       scheduler=self.sched, generators={"data": self.gen}, signature={"toy": 1})


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_resume_continues_exactly(tmp_path):
    full = _Toy()
    res_full = full.trainer(epochs=6, out_dir=str(tmp_path / "full"), restore_best=False).fit()

    first = _Toy()
    first.trainer(epochs=3, out_dir=str(tmp_path / "split")).fit()
    second = _Toy(seed=123)  # different initial state: everything must come from the checkpoint
    res_split = second.trainer(epochs=6, out_dir=str(tmp_path / "split"), resume=True,
                               restore_best=False).fit()

    for a, b in zip(_params(full.model), _params(second.model)):
        assert torch.equal(a, b)
    strip = lambda h: [{k: v for k, v in r.items() if "time" not in k} for r in h]  # noqa: E731
    assert strip(res_full.history) == strip(res_split.history)
    assert res_full.best_epoch == res_split.best_epoch
    lines = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3, 4, 5, 6]


def test_resume_drops_log_records_after_the_checkpoint(tmp_path):
    toy = _Toy()
    toy.trainer(epochs=4, out_dir=str(tmp_path), checkpoint_every=2).fit()
    # Pretend the run was killed after logging epoch 5 but before its checkpoint.
    with open(tmp_path / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"epoch": 5, "loss": 0.0}) + "\n")
    res = _Toy().trainer(epochs=5, out_dir=str(tmp_path), resume=True).fit()
    epochs = [json.loads(x)["epoch"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4, 5]
    assert res.history[-1]["loss"] != 0.0


def test_selection_restores_best_and_early_stopping(tmp_path):
    toy = _Toy()
    vals = iter([5.0, 3.0, 4.0, 4.5, 6.0, 1.0])
    snapshots = {}

    def validate(epoch):
        snapshots[epoch] = _params(toy.model)
        return {"val_mse": next(vals)}

    cfg = TrainConfig(epochs=6, monitor="val_mse", mode="min", patience=2, quiet=True)
    res = Trainer(toy.model, toy.opt, toy.train_epoch, validate, cfg).fit()
    assert res.best_epoch == 2 and res.stopped_early and res.epochs_run == 4
    for a, b in zip(_params(toy.model), snapshots[2]):
        assert torch.equal(a, b)


def test_monitor_must_be_a_validation_metric():
    toy = _Toy()
    cfg = TrainConfig(epochs=1, monitor="val_acc", quiet=True)
    with pytest.raises(KeyError, match="val_acc.*val_mse"):
        Trainer(toy.model, toy.opt, toy.train_epoch, toy.validate, cfg).fit()


def test_nan_loss_names_epoch_and_term_and_keeps_last_checkpoint(tmp_path):
    toy = _Toy(nan_at=3)
    with pytest.raises(NonFiniteLossError, match=r"'loss' is nan at epoch 3"):
        toy.trainer(epochs=5, out_dir=str(tmp_path)).fit()
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 2


def test_truncated_checkpoint_gives_clear_error(tmp_path):
    _Toy().trainer(epochs=2, out_dir=str(tmp_path)).fit()
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="checkpoint.pt: unreadable checkpoint"):
        _Toy().trainer(epochs=4, out_dir=str(tmp_path), resume=True).fit()


def test_foreign_file_is_not_a_checkpoint(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="not a gcl checkpoint"):
        _Toy().trainer(epochs=2, out_dir=str(tmp_path), resume=True).fit()


def test_checkpoint_from_other_settings_is_refused(tmp_path):
    _Toy().trainer(epochs=2, out_dir=str(tmp_path)).fit()
    toy = _Toy()
    cfg = TrainConfig(epochs=3, out_dir=str(tmp_path), resume=True, quiet=True, monitor="val_mse", mode="min")
    t = Trainer(toy.model, toy.opt, toy.train_epoch, toy.validate, cfg, generators={"data": toy.gen},
                signature={"toy": 2})
    with pytest.raises(CheckpointError, match="other settings"):
        t.fit()


def test_disk_full_keeps_previous_checkpoint(tmp_path, monkeypatch):
    _Toy().trainer(epochs=2, out_dir=str(tmp_path)).fit()
    before = (tmp_path / "checkpoint.pt").read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointError, match="disk full.*previous one is kept"):
        _Toy().trainer(epochs=3, out_dir=str(tmp_path), resume=True).fit()
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_config_validation():
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="mode must be"):
        TrainConfig(mode="up")
    with pytest.raises(ValueError, match="resume=True needs out_dir"):
        TrainConfig(resume=True)
