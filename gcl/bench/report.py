"""Result files of a benchmark run: ``result.json`` and ``curve.png``."""
from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

import torch

from gcl.bench.request import BenchOutcome, BenchRequest
from gcl.train.distributed import world_size
from gcl.utils.atomic import atomic_write


def versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on."""
    import numpy
    import scipy
    import torch_geometric

    import gcl

    return {"gcl": gcl.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__}


def device_info(device: str) -> dict[str, Any]:
    info: dict[str, Any] = {"device": device, "platform": platform.platform(),
                            "cpu_threads": torch.get_num_threads()}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def result_record(req: BenchRequest, out: BenchOutcome, wall_s: float) -> dict[str, Any]:
    """Everything needed to read, plot or reproduce a run."""
    hist = out.train.history
    return {
        "method": req.method,
        "dataset": req.dataset,
        "protocol": out.protocol,
        "metrics": out.metrics,
        "selected_epoch": out.train.best_epoch,
        "epochs_run": out.train.epochs_run,
        "stopped_early": out.train.stopped_early,
        "config": out.config,
        "seed": req.seed,
        "timings": {
            "wall_s": wall_s,
            "epoch_s": [r["time_s"] for r in hist],
            "train_epoch_s": [r.get("train_time_s") for r in hist],
        },
        "history": hist,
        "versions": versions(),
        "device": device_info(out.device),
        "world_size": world_size(),  # processes of a torchrun launch (1 alone)
        "command": " ".join(sys.argv),
    }


def write_result(path: Path, record: dict[str, Any]) -> None:
    with atomic_write(path, "w") as fh:
        json.dump(record, fh, indent=2)
        fh.write("\n")


def plot_curve(path: Path, history: list[dict[str, Any]], title: str) -> None:
    """Training loss (left axis) and every validation metric (right axis) against epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    loss_keys = [k for k in history[0] if k.startswith("loss")] if history else []
    for k in loss_keys:
        ax.plot(epochs, [r[k] for r in history], label=k)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    val_keys = sorted({k for r in history for k in r if k.startswith("val_")})
    if val_keys:
        ax2 = ax.twinx()
        for k in val_keys:
            pts = [(r["epoch"], r[k]) for r in history if k in r]
            ax2.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color="tab:red", label=k)
        ax2.set_ylabel("validation metric")
        ax2.legend(loc="center right")
    ax.legend(loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
