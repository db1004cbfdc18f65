"""``benchmarks/rec/run_mclrec.py``: what stops training is recorded, and the test metrics are
those of the selected (best validation) epoch."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "rec" / "run_mclrec.py"


def _run(tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "result.json"
    cmd = [sys.executable, str(SCRIPT), "--dataset", "beauty", "--method", "sasrec", "--users", "60",
           "--seeds", "0", "--threads", "1", "--root", str(REPO / "datasets"), "--out", str(out), *extra]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
    return json.loads(out.read_text())


def _expected_stop(values: list[float], cap: int, patience: int | None) -> tuple[int, str]:
    """Epochs run and the reason, by the script's rule: keep the first strictly best epoch, stop
    once ``patience`` epochs have passed without a new best."""
    best, best_epoch = -1.0, 0
    for epoch, value in enumerate(values, start=1):
        if value > best:
            best, best_epoch = value, epoch
        elif patience is not None and epoch - best_epoch >= patience:
            return epoch, f"patience {patience}"
    return len(values), f"epoch cap {cap}"


@pytest.mark.parametrize(("extra", "cap", "patience"), [
    (("--epochs", "2"), 2, 10),
    (("--epochs", "5", "--set", "patience=1"), 5, 1),
    (("--epochs", "3", "--max-minutes", "0"), 3, 10),
])
def test_stop_reason_and_selected_epoch(tmp_path: Path, extra: tuple[str, ...], cap: int, patience: int) -> None:
    r = _run(tmp_path, *extra)
    run = r["runs"][0]
    curve = run["curve"]
    values = [c["val_mrr@10"] for c in curve]
    assert len(curve) == run["epochs_run"]
    if "--max-minutes" in extra:
        # a zero budget is spent by the first epoch, whatever the cap and the patience
        assert (run["epochs_run"], run["stopped_by"]) == (1, "time budget 0 min")
    else:
        assert (run["epochs_run"], run["stopped_by"]) == _expected_stop(values, cap, patience)
    # the reported validation row is the best one (the first of equal values), and it was tested
    assert run["selected_epoch"] == values.index(max(values)) + 1
    assert run["valid"] == curve[run["selected_epoch"] - 1]
    assert set(r["test_mean_std"]) >= {"hr@5", "hr@20", "ndcg@5", "ndcg@20"}
