"""The peak-memory helpers of the memory benchmarks (``benchmarks/_memory.py``)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_memory_module():
    spec = importlib.util.spec_from_file_location("bench_memory", REPO / "benchmarks" / "_memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


memory = _load_memory_module()
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_track_peak_sees_a_freed_allocation_but_not_the_baseline(tmp_path: Path) -> None:
    # Measured in a fresh process: the test runner's own threads and allocations would
    # otherwise show up in the peak.
    script = tmp_path / "peak.py"
    script.write_text(
        "import importlib.util, json\n"
        f"spec = importlib.util.spec_from_file_location('m', {str(REPO / 'benchmarks' / '_memory.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "held = bytearray(8 * m.MIB)\n"
        "with m.track_peak() as big:\n"
        "    buf = bytearray(48 * m.MIB)\n"
        "    del buf\n"
        "with m.track_peak() as small:\n"
        "    pass\n"
        "print(json.dumps({'big': big, 'small': small}))\n")
    out = memory.run_worker(script, [], timeout=60, repo=REPO)
    assert "status" not in out, out
    assert 40 <= out["big"]["peak_mib"] < 48 + 16          # the freed 48 MiB block is seen
    assert out["big"]["baseline_rss_mib"] >= 8              # memory held before is baseline
    assert out["small"]["peak_mib"] < 8                     # not counted as peak


def test_mem_available_is_positive_bytes() -> None:
    assert memory.mem_available() > memory.MIB


def test_run_worker_returns_last_json_line_and_reports_failures(tmp_path: Path) -> None:
    ok = tmp_path / "ok.py"
    ok.write_text("import json, os, sys\nprint('noise')\n"
                  "print(json.dumps({'args': sys.argv[1:], 'x': os.environ['X'], "
                  "'omp': os.environ['OMP_NUM_THREADS'], 'path': os.environ['PYTHONPATH']}))\n")
    out = memory.run_worker(ok, ["a", "1"], timeout=30, repo=tmp_path, env_extra={"X": "y"})
    assert out["args"] == ["a", "1"] and out["x"] == "y" and out["omp"] == "1"
    assert out["path"].split(":")[0] == str(tmp_path)

    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nsys.stderr.write('first\\nboom\\n')\nsys.exit(3)\n")
    assert memory.run_worker(bad, [], timeout=30, repo=tmp_path) == {
        "status": "failed", "reason": "exit code 3: boom"}

    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(10)\n")
    res = memory.run_worker(slow, [], timeout=0.5, repo=tmp_path)
    assert res["status"] == "skipped" and "timeout" in res["reason"]
