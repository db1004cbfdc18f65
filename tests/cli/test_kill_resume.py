"""A ``gcl bench`` run killed with SIGKILL and resumed ends exactly like an uninterrupted one.

Three real processes on the bundled Cora: run A uninterrupted; run B killed (SIGKILL) right
after its 4th epoch is logged, which is while its checkpoint for that epoch is being written;
B resumed with ``--resume``. A and the resumed B must agree bit for bit on the final metrics,
every per-epoch loss and validation figure, and the final parameters.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gcl.train.checkpoint import load_checkpoint

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"),
]

EPOCHS = 12
KILL_AFTER = 4  # records in metrics.jsonl before the kill; far from EPOCHS, so the kill lands mid-run
CONFIG = {"hidden": 32, "proj_hidden": 32, "eval_every": 2}
TIMEOUT_S = 300  # generous: the machine may be shared
TIMING_KEYS = {"time_s", "train_time_s"}


def _command(config: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gcl.cli", "bench", "grace", "--dataset", "cora",
            "--epochs", str(EPOCHS), "--config", str(config), "--out", str(out), "--quiet",
            "--device", "cpu", "--seed", "0", *extra]


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=dict(os.environ), capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stderr}"


def _complete_lines(path: Path) -> list[str]:
    """The fully written lines of a JSON-lines file (a half-written last line is left out)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return text.splitlines()[: text.count("\n")]


def _without_timings(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in TIMING_KEYS}


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    config = tmp_path / "small.json"
    config.write_text(json.dumps(CONFIG))
    out_a, out_b = tmp_path / "A", tmp_path / "B"

    # A: uninterrupted.
    _run(_command(config, out_a), tmp_path)
    result_a = json.loads((out_a / "result.json").read_text())

    # B: killed with SIGKILL as soon as KILL_AFTER epochs are logged.
    log_b = out_b / "metrics.jsonl"
    with open(tmp_path / "b.stdout", "w") as so, open(tmp_path / "b.stderr", "w") as se:
        proc = subprocess.Popen(_command(config, out_b), cwd=tmp_path, env=dict(os.environ),
                                stdout=so, stderr=se)
        try:
            deadline = time.monotonic() + TIMEOUT_S
            while len(_complete_lines(log_b)) < KILL_AFTER:
                if proc.poll() is not None:
                    pytest.fail(f"run B exited ({proc.returncode}) before {KILL_AFTER} epochs were "
                                f"logged:\n{(tmp_path / 'b.stderr').read_text()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"run B logged fewer than {KILL_AFTER} epochs in {TIMEOUT_S} s")
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == -signal.SIGKILL, "run B was not ended by the signal"

    # The kill landed mid-run: no result yet, some epochs still to go, a readable checkpoint.
    assert not (out_b / "result.json").exists()
    logged = _complete_lines(log_b)
    assert KILL_AFTER <= len(logged) < EPOCHS, f"run B logged {len(logged)} epochs before the kill"
    ckpt = load_checkpoint(out_b / "checkpoint.pt")  # never truncated, whenever the kill lands
    saved_epoch = int(ckpt["epoch"])
    assert KILL_AFTER - 1 <= saved_epoch <= len(logged) < EPOCHS

    # B resumed.
    _run(_command(config, out_b, "--resume"), tmp_path)
    result_b = json.loads((out_b / "result.json").read_text())

    # It continued from the checkpoint rather than starting over: the epochs the checkpoint
    # holds keep the records (timings included) written before the kill.
    lines_b = (out_b / "metrics.jsonl").read_text().splitlines()
    assert lines_b[:saved_epoch] == logged[:saved_epoch]

    # Same figures as the uninterrupted run, bit for bit.
    assert result_b["metrics"] == result_a["metrics"]
    assert result_b["metrics"]["val_acc"] == result_a["metrics"]["val_acc"]
    assert result_b["metrics"]["test_acc"] == result_a["metrics"]["test_acc"]
    assert result_b["selected_epoch"] == result_a["selected_epoch"]
    assert result_b["epochs_run"] == result_a["epochs_run"] == EPOCHS
    assert result_b["config"] == result_a["config"]
    hist_a = [_without_timings(r) for r in result_a["history"]]
    hist_b = [_without_timings(r) for r in result_b["history"]]
    assert [r["loss"] for r in hist_b] == [r["loss"] for r in hist_a]
    assert hist_b == hist_a
    assert len(result_b["timings"]["epoch_s"]) == EPOCHS

    # Every epoch logged exactly once, in order, with A's values.
    records_b = [json.loads(line) for line in lines_b]
    assert [r["epoch"] for r in records_b] == list(range(1, EPOCHS + 1))
    records_a = [json.loads(line) for line in (out_a / "metrics.jsonl").read_text().splitlines()]
    assert [_without_timings(r) for r in records_b] == [_without_timings(r) for r in records_a]

    # And the same final parameters (last and selected).
    final_a, final_b = load_checkpoint(out_a / "checkpoint.pt"), load_checkpoint(out_b / "checkpoint.pt")
    assert final_a["epoch"] == final_b["epoch"] == EPOCHS
    for part in ("model", "best_model"):
        assert final_a[part].keys() == final_b[part].keys()
        for name, tensor in final_a[part].items():
            assert torch.equal(tensor, final_b[part][name]), f"{part}.{name} differs"
