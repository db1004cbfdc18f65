"""Peak-memory helpers shared by the CPU memory benchmarks (Linux ``/proc``).

A case runs in a fresh subprocess (:func:`run_worker`), which builds its inputs and then measures
one computation under :func:`track_peak`: the peak resident set is reset to the current one
(``/proc/self/clear_refs``), and the growth of the high-water mark ``VmHWM`` over ``VmRSS`` at that
point is the memory the computation itself needed (its inputs excluded).
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

MIB = 1024 * 1024


def rss_status() -> dict[str, int]:
    """VmRSS and VmHWM of this process in bytes."""
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) * 1024
    return out


def mem_available() -> int:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes."""
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("MemAvailable not found in /proc/meminfo")


@contextlib.contextmanager
def track_peak() -> Iterator[dict[str, float]]:
    """Measure the peak memory of the enclosed block.

    Yields a dict that holds, once the block has ended, ``baseline_rss_mib`` (VmRSS at the start)
    and ``peak_mib`` (VmHWM at the end minus that baseline, in MiB).
    """
    with open("/proc/self/clear_refs", "w") as fh:  # reset VmHWM to the current VmRSS
        fh.write("5")
    before = rss_status()
    record: dict[str, float] = {}
    yield record
    after = rss_status()
    record["baseline_rss_mib"] = before["VmRSS"] / MIB
    record["peak_mib"] = (after["VmHWM"] - before["VmRSS"]) / MIB


def run_worker(script: Path, args: list[str], *, timeout: float, repo: Path,
               env_extra: dict[str, str] | None = None) -> dict:
    """Run ``python script *args`` in a fresh process (``repo`` on ``PYTHONPATH``, one OpenMP thread).

    Returns:
        the JSON object on the worker's last stdout line, or ``{"status": "skipped" | "failed",
        "reason": ...}`` when it timed out or exited with an error.
    """
    env = dict(os.environ, PYTHONPATH=str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", **(env_extra or {}))
    try:
        proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                              timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "skipped", "reason": f"exceeded the {timeout:.0f} s timeout"}
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        return {"status": "failed", "reason": f"exit code {proc.returncode}: {tail[0]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])
