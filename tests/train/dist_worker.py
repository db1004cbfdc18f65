"""One rank of the 2-process gloo job of ``test_distributed.py`` (started by ``torchrun``).

    torchrun --standalone --nproc_per_node 2 dist_worker.py ROOT

Every rank runs, in order, under ``ROOT/out`` (the only place results may be written):

1. ``gcl bench grace`` on Cora for ``EPOCHS`` epochs into ``out/full``;
2. the same run stopped after ``SPLIT`` epochs into ``out/split``, then resumed to ``EPOCHS``;
3. a resume of ``out/split`` with other hyper-parameters (must fail on every rank, exit 1);
4. a toy regression through :class:`gcl.train.Trainer` under DDP whose ranks draw different
   data from their global and explicit RNGs: ``TOY_EPOCHS`` epochs into ``out/toy_full``, and
   ``TOY_SPLIT`` + resume into ``out/toy_split``.

An audit hook records every file this rank opens for writing, renames, removes or creates
under ``ROOT/out``; the rank's exit codes, write events and toy parameters go to
``ROOT/report/rank{R}.pt``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from torch import nn

EPOCHS = 4
SPLIT = 2  # a multiple of CONFIG["eval_every"], so the split run validates where the full one does
CONFIG = {"hidden": 32, "proj_hidden": 32, "eval_every": 2}
OTHER_CONFIG = {**CONFIG, "hidden": 16}
TOY_EPOCHS, TOY_SPLIT = 6, 3

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def bench_args(config: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    """``gcl bench grace`` arguments (shared with the single-process reference run)."""
    return ["bench", "grace", "--dataset", "cora", "--epochs", str(epochs), "--config", str(config),
            "--out", str(out), "--quiet", "--device", "cpu", "--seed", "0", *extra]


def _audit(out_root: str, events: list[tuple[str, str]]):
    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS)
            paths = [path] if writing else []
        elif event in ("os.rename", "os.replace"):
            paths = list(args[:2])
        elif event in ("os.remove", "os.mkdir", "os.rmdir", "os.truncate"):
            paths = [args[0]]
        else:
            return
        for p in paths:
            if isinstance(p, (str, bytes, os.PathLike)):
                p = os.fsdecode(p)
                if os.path.abspath(p).startswith(out_root):
                    events.append((event, p))

    return hook


class _Toy:
    """Regression on data each rank draws from its own generators (global and explicit)."""

    def __init__(self, rank: int):
        from gcl.train.distributed import data_parallel
        from gcl.utils import seed_everything

        seed_everything(0)  # the same initial model on every rank
        self.model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 1))
        self.ddp = data_parallel(self.model)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=0.05)
        torch.manual_seed(100 + rank)  # per-rank global RNG: dropout masks and noise differ by rank
        self.gen = torch.Generator().manual_seed(200 + rank)  # per-rank data
        self.w = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])

    def train_epoch(self, epoch: int) -> dict[str, float]:
        x = torch.randn(16, 4, generator=self.gen)
        noise = 0.1 * torch.randn(16, 1)
        loss = ((self.ddp(x) - (x @ self.w + noise)) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    def validate(self, epoch: int) -> dict[str, float]:
        x = torch.linspace(-1, 1, 32).view(8, 4)
        return {"val_mse": float(((self.model(x) - x @ self.w) ** 2).mean())}

    def fit(self, out: Path, epochs: int, resume: bool) -> dict:
        from gcl.train import TrainConfig, Trainer

        cfg = TrainConfig(epochs=epochs, out_dir=str(out), monitor="val_mse", mode="min", quiet=True,
                          resume=resume, restore_best=False)
        result = Trainer(self.ddp, self.opt, self.train_epoch, self.validate, cfg,
                         generators={"data": self.gen}, signature={"toy": 1}).fit()
        return {"history": result.history, "params": {k: v.clone() for k, v in self.model.state_dict().items()}}


def main(root: Path) -> None:
    from gcl.cli.main import main as cli
    from gcl.train.distributed import distributed_session, rank

    out = root / "out"
    events: list[tuple[str, str]] = []
    sys.addaudithook(_audit(str(out.resolve()), events))
    config, other = root / "config.json", root / "other.json"
    # One process group for all runs (each CLI call nests in it; see distributed_session).
    with distributed_session("cpu"):
        codes = {
            "full": cli(bench_args(config, out / "full", EPOCHS)),
            "split_first": cli(bench_args(config, out / "split", SPLIT)),
            "split_resume": cli(bench_args(config, out / "split", EPOCHS, "--resume")),
            "mismatch": cli(bench_args(other, out / "split", EPOCHS, "--resume")),
        }
        r = rank()
        toy_full = _Toy(r).fit(out / "toy_full", TOY_EPOCHS, resume=False)
        _Toy(r).fit(out / "toy_split", TOY_SPLIT, resume=False)
        toy_split = _Toy(r).fit(out / "toy_split", TOY_EPOCHS, resume=True)
    report = {"codes": codes, "writes": list(events), "toy_full": toy_full, "toy_split": toy_split}
    (root / "report").mkdir(exist_ok=True)
    torch.save(report, root / "report" / f"rank{r}.pt")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(Path(sys.argv[1]))
