"""The ``gcl`` command line: ``gcl bench`` result files, usage errors and ``gcl datasets``.

Most tests call :func:`gcl.cli.main.main` in-process; one runs the installed console script.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gcl.cli.main import main

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "datasets"
SMALL = {"hidden": 16, "proj_hidden": 16, "eval_every": 1}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _write_json(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


def _one_line_error(err: str) -> str:
    """The single ``gcl: error: ...`` line of ``err`` (fails on tracebacks or extra lines)."""
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert lines[0].startswith("gcl: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def small_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_json(tmp_path_factory.mktemp("cfg") / "small.json", SMALL)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory, small_config: Path) -> tuple[int, str, str, Path]:
    """One 3-epoch GRACE run on the bundled Cora: (exit code, stdout, stderr, out dir)."""
    out = tmp_path_factory.mktemp("bench") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["bench", "grace", "--dataset", "cora", "--epochs", "3", "--config", str(small_config),
                     "--out", str(out), "--quiet", "--device", "cpu", "--root", str(BUNDLED)])
    return code, stdout.getvalue(), stderr.getvalue(), out


# ---------------------------------------------------------------------------- gcl bench


def test_bench_writes_result_files(bench_run: tuple[int, str, str, Path]) -> None:
    code, stdout, stderr, out = bench_run
    assert code == 0, stderr
    assert "grace on cora" in stdout and str(out / "result.json") in stdout

    record = json.loads((out / "result.json").read_text())
    assert record["method"] == "grace"
    assert record["dataset"] == "cora"
    assert "Planetoid public split" in record["protocol"]
    metrics = record["metrics"]
    for key in ("val_acc", "test_acc"):
        assert isinstance(metrics[key], float) and 0.0 <= metrics[key] <= 1.0
    # Seven classes: even three epochs of a small encoder beat chance by far.
    assert metrics["test_acc"] > 1 / 7
    config = record["config"]
    assert config["hidden"] == 16 and config["proj_hidden"] == 16
    assert config["epochs"] == 3 and config["eval_every"] == 1
    assert config["tau"] == 0.4  # untouched keys keep the method's defaults
    epoch_s = record["timings"]["epoch_s"]
    assert len(epoch_s) == 3 and all(t > 0 for t in epoch_s)
    assert record["timings"]["wall_s"] >= sum(epoch_s) * 0.99
    assert record["versions"]["torch"] == torch.__version__
    assert record["versions"]["gcl"]
    assert record["device"]["device"] == "cpu"
    history = record["history"]
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert all("loss" in r and "val_acc" in r for r in history)
    assert record["selected_epoch"] in (1, 2, 3)
    assert record["epochs_run"] == 3

    assert (out / "curve.png").read_bytes()[:8] == PNG_MAGIC
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    assert [json.loads(line)["loss"] for line in lines] == [r["loss"] for r in history]
    assert (out / "checkpoint.pt").stat().st_size > 0


def test_unknown_method(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["bench", "nosuchmethod", "--dataset", "cora", "--out", str(out)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "unknown method 'nosuchmethod'" in line and "grace" in line
    assert not out.exists()  # a usage error writes nothing


def test_unknown_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "grace", "--dataset", "nosuchset", "--out", str(tmp_path / "run")]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "'nosuchset'" in line
    assert "valid datasets: cora, citeseer, pubmed" in line


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    assert main(["bench", "grace", "--dataset", "cora", "--config", str(missing),
                 "--out", str(tmp_path / "run")]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert str(missing) in line and "not found" in line


@pytest.mark.parametrize("text, problem", [
    ("{hidden: 16", "cannot parse config"),
    ("[16, 32]", "expected a table"),
])
def test_config_file_not_a_json_table(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      text: str, problem: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    assert main(["bench", "grace", "--dataset", "cora", "--config", str(bad),
                 "--out", str(tmp_path / "run")]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert str(bad) in line and problem in line


def test_unknown_config_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write_json(tmp_path / "c.json", {"hiden": 16})
    out = tmp_path / "run"
    assert main(["bench", "grace", "--dataset", "cora", "--config", str(cfg), "--out", str(out)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "'hiden'" in line
    valid = line.split("valid keys:")[1]
    for key in ("hidden", "proj_hidden", "tau", "lr", "epochs", "eval_every"):
        assert key in valid
    assert not out.exists()


@pytest.mark.parametrize("value, got", [("abc", "str"), (True, "bool"), (1.5, "float")])
def test_config_value_of_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    value: object, got: str) -> None:
    cfg = _write_json(tmp_path / "c.json", {"hidden": value})
    assert main(["bench", "grace", "--dataset", "cora", "--config", str(cfg),
                 "--out", str(tmp_path / "run")]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "'hidden' must be int" in line and got in line


def test_invalid_config_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _write_json(tmp_path / "c.json", {"activation": "swish"})
    assert main(["bench", "grace", "--dataset", "cora", "--config", str(cfg),
                 "--out", str(tmp_path / "run"), "--device", "cpu"]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "activation" in line and "'swish'" in line


@pytest.mark.parametrize("text, problem", [
    ("hidden = 8\nhiden = 8\n", "unknown grace config key 'hiden'"),  # parsed as TOML
    ("hidden = \n", "cannot parse config"),
])
def test_toml_config(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    assert main(["bench", "grace", "--dataset", "cora", "--config", str(cfg),
                 "--out", str(tmp_path / "run")]) == 2
    assert problem in _one_line_error(capsys.readouterr().err)


def test_zero_epochs_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "grace", "--dataset", "cora", "--epochs", "0", "--device", "cpu",
                 "--out", str(tmp_path / "run")]) == 2
    assert "epochs must be >= 1" in _one_line_error(capsys.readouterr().err)


def test_not_a_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "grace", "--dataset", "cora", "--device", "gpu0",
                 "--out", str(tmp_path / "run")]) == 2
    assert "'gpu0' is not a device" in _one_line_error(capsys.readouterr().err)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_requested_without_cuda(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "grace", "--dataset", "cora", "--device", "cuda",
                 "--out", str(tmp_path / "run")]) == 2
    assert "CUDA is not available" in _one_line_error(capsys.readouterr().err)


def test_dataset_missing_from_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["bench", "grace", "--dataset", "cora", "--device", "cpu", "--root", str(empty),
                 "--out", str(tmp_path / "run")]) == 1
    line = _one_line_error(capsys.readouterr().err)
    assert "not found" in line and str(empty / "planetoid" / "Cora") in line


def test_missing_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "usage: gcl" in capsys.readouterr().err


def test_resume_from_truncated_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          bench_run: tuple[int, str, str, Path],
                                          small_config: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(bench_run[3], out)
    ckpt = out / "checkpoint.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    code = main(["bench", "grace", "--dataset", "cora", "--epochs", "3", "--config", str(small_config),
                 "--out", str(out), "--quiet", "--resume", "--device", "cpu", "--root", str(BUNDLED)])
    assert code == 1
    line = _one_line_error(capsys.readouterr().err)
    assert str(ckpt) in line and "truncated or corrupt" in line


def test_resume_with_other_settings_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               bench_run: tuple[int, str, str, Path]) -> None:
    out = tmp_path / "run"
    shutil.copytree(bench_run[3], out)
    other = _write_json(tmp_path / "other.json", {**SMALL, "tau": 0.9})
    code = main(["bench", "grace", "--dataset", "cora", "--epochs", "3", "--config", str(other),
                 "--out", str(out), "--quiet", "--resume", "--device", "cpu", "--root", str(BUNDLED)])
    assert code == 1
    line = _one_line_error(capsys.readouterr().err)
    assert str(out / "checkpoint.pt") in line and "other settings" in line


def test_console_script_exit_code_and_message(tmp_path: Path) -> None:
    """The installed ``gcl`` script (or ``python -m gcl.cli``) exits 2 with one line on stderr."""
    script = Path(sys.executable).with_name("gcl")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "gcl.cli"]
    proc = subprocess.run(cmd + ["bench", "nosuchmethod", "--dataset", "cora"], cwd=tmp_path,
                          env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    line = _one_line_error(proc.stderr)
    assert "valid methods: " in line and "grace" in line.split("valid methods: ")[1]
    assert proc.stdout == ""
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------- gcl datasets


def _datasets_table(stdout: str) -> dict[str, tuple[str, str]]:
    """``gcl datasets`` output as ``{name: (kind, path or "(not found)")}``."""
    lines = stdout.strip().splitlines()
    assert lines[0].startswith("data roots searched:")
    table = {}
    for line in lines[1:]:
        name, kind, where = line.split(maxsplit=2)
        table[name] = (kind, where)
    return table


def test_datasets_lists_bundled_sets(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GCL_DATA", raising=False)
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"data roots searched: {BUNDLED}"
    table = _datasets_table(out)
    assert table["cora"] == ("node", str(BUNDLED / "planetoid" / "Cora"))
    assert table["acm"] == ("hetero", str(BUNDLED / "hetero" / "heco" / "acm"))
    assert table["beauty"] == ("sequences", str(BUNDLED / "seqrec" / "Beauty.txt"))
    assert table["ogbg-molbace"] == ("graph", str(BUNDLED / "ogb" / "ogbg_molbace"))
    assert table["pubmed"] == ("node", "(not found)")  # registered, not bundled


def test_datasets_in_empty_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"data roots searched: {tmp_path}"
    table = _datasets_table(out)
    for name in ("cora", "acm", "beauty", "ogbg-molbace"):
        assert table[name][1] == "(not found)"
    assert all(where == "(not found)" for _, where in table.values())


def test_datasets_lists_a_users_own_sequence_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import gcl.data

    root = tmp_path / "mydata"
    (root / "seqrec").mkdir(parents=True)
    shop = root / "seqrec" / "MyShop.txt"
    shop.write_text("1 1 2 3 4\n2 5 6 7\n3 2 5 8 9 1\n")

    monkeypatch.setenv("GCL_DATA", str(root))
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"data roots searched: {root}, {BUNDLED}"
    table = _datasets_table(out)
    assert table["myshop"] == ("sequences", str(shop))
    assert table["cora"] == ("node", str(BUNDLED / "planetoid" / "Cora"))  # defaults still searched

    via_env = gcl.data.load("myshop")
    # An explicit root is the only root searched, and open-ended names resolve in it.
    monkeypatch.delenv("GCL_DATA")
    ds = gcl.data.load("MyShop", root=root)
    for d in (via_env, ds):
        assert d.n_users == 3
        assert d.n_items == 9
        assert d.user_ids.tolist() == [1, 2, 3]
        assert d.items.tolist() == [1, 2, 3, 4, 5, 6, 7, 2, 5, 8, 9, 1]
    assert "myshop" not in gcl.data.known_names()  # gone once GCL_DATA no longer names the root
