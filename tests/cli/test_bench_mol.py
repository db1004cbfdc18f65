"""``gcl bench graphcl|dsla|mol-scratch`` end to end on the bundled ogbg-molbace (tiny encoder,
a tiny corpus, one pre-training epoch, one fine-tuning epoch)."""
from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import pytest

from gcl.bench import METHODS
from gcl.bench.mol import split_overrides
from gcl.cli.main import main
from gcl.methods.dsla import DSLAConfig
from gcl.methods.graphcl import GraphCLConfig

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "datasets"
CORPUS = ["CC(=O)Oc1ccccc1C(=O)O", "CN1CCC[C@H]1c1cccnc1", "c1ccc2ccccc2c1", "CCN(CC)CC", "OC1CCCCC1",
          "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "O=C(O)c1ccccc1O", "CCOC(=O)C", "C1CCNCC1", "Clc1ccc(Cl)cc1",
          "CC(=O)Nc1ccc(O)cc1", "c1ccncc1", "[Na+].[Cl-]"]
TINY = {"emb_dim": 8, "num_layers": 1, "batch_size": 8, "finetune_batch_size": 256}


def _run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("mol")
    corpus = d / "corpus.csv"
    corpus.write_text("smiles\n" + "\n".join(CORPUS) + "\n")
    config = d / "tiny.json"
    config.write_text(json.dumps(TINY))
    return corpus, config


def _bench(method: str, out: Path, files: tuple[Path, Path], *extra: str) -> tuple[int, str, str]:
    corpus, config = files
    return _run(["bench", method, "--dataset", "ogbg-molbace", "--root", str(BUNDLED), "--out", str(out),
                 "--quiet", "--device", "cpu", "--config", str(config), "--pretrain-corpus", str(corpus),
                 "--pretrain-epochs", "1", "--finetune-seeds", "1", "--finetune-epochs", "1", *extra])


def test_dsla_bench_writes_results_and_resumes(tmp_path: Path, files: tuple[Path, Path]) -> None:
    code, stdout, stderr = _bench("dsla", tmp_path / "run", files)
    assert code == 0, stderr
    assert "dsla on ogbg-molbace: test_rocauc_mean=" in stdout
    record = json.loads((tmp_path / "run" / "result.json").read_text())
    m = record["metrics"]
    assert 0.0 <= m["test_rocauc_mean"] <= 1.0 and m["test_rocauc_std"] == 0.0 and m["seeds"] == 1.0
    assert {"pretrain_gd", "pretrain_gd_acc", "pretrain_edit", "pretrain_margin"} <= set(m)
    cfg = record["config"]
    assert (cfg["emb_dim"], cfg["epochs"], cfg["finetune"]["epochs"], cfg["finetune"]["seeds"]) == (8, 1, 1, 1)
    assert cfg["corpus"]["molecules"] == 12 and cfg["corpus"]["bondless"] == 1  # the salt left out
    assert (tmp_path / "run" / "encoder.pt").is_file()
    runs = json.loads((tmp_path / "run" / "finetune_runs.json").read_text())
    assert runs["runs"][0]["test"] == pytest.approx(m["test_rocauc_mean"])
    code, _, stderr = _bench("dsla", tmp_path / "run", files, "--resume")
    assert code == 0, stderr
    again = json.loads((tmp_path / "run" / "result.json").read_text())["metrics"]
    assert again["test_rocauc_mean"] == m["test_rocauc_mean"]


def test_graphcl_and_scratch_benches(tmp_path: Path, files: tuple[Path, Path]) -> None:
    code, stdout, stderr = _bench("graphcl", tmp_path / "g", files)
    assert code == 0, stderr
    assert json.loads((tmp_path / "g" / "result.json").read_text())["config"]["tau"] == 0.1
    _, config = files
    code, stdout, stderr = _run(["bench", "mol-scratch", "--dataset", "ogbg-molbace", "--root", str(BUNDLED),
                                 "--out", str(tmp_path / "s"), "--quiet", "--device", "cpu",
                                 "--finetune-seeds", "1", "--epochs", "1", "--config", str(config)])
    assert code == 2 and "unknown mol-scratch config key 'batch_size'" in stderr
    scratch_cfg = tmp_path / "scratch.json"
    scratch_cfg.write_text(json.dumps({"emb_dim": 8, "num_layers": 1, "finetune_batch_size": 256}))
    code, stdout, stderr = _run(["bench", "mol-scratch", "--dataset", "ogbg-molbace", "--root", str(BUNDLED),
                                 "--out", str(tmp_path / "s"), "--quiet", "--device", "cpu",
                                 "--finetune-seeds", "1", "--epochs", "1", "--config", str(scratch_cfg)])
    assert code == 0, stderr
    record = json.loads((tmp_path / "s" / "result.json").read_text())
    assert record["protocol"].startswith("no pre-training") and record["config"]["finetune"]["epochs"] == 1


def test_usage_errors_are_one_line(tmp_path: Path, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = _run(["bench", "dsla", "--dataset", "cora", "--out", str(tmp_path / "x")])
    assert code == 2 and "valid datasets: ogbg-molbace" in err
    code, _, err = _bench("dsla", tmp_path / "y", files, "--pretrain-corpus", str(tmp_path / "none.csv"))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "none.csv" in err
    monkeypatch.setitem(sys.modules, "rdkit", None)
    code, _, err = _bench("dsla", tmp_path / "z", files)
    assert code == 1 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "pip install gcl[chem]" in lines[0]


def test_settings_split_and_registry() -> None:
    method, ft, corpus = split_overrides({"tau": 0.2, "finetune_lr": 1e-4, "corpus_limit": 5}, GraphCLConfig)
    assert (method, ft, corpus) == ({"tau": 0.2}, {"lr": 1e-4}, {"corpus_limit": 5})
    with pytest.raises(ValueError, match="unknown molecular bench setting 'finetune_preset'"):
        split_overrides({"finetune_preset": "full"}, DSLAConfig)
    assert {"graphcl", "dsla", "mol-scratch"} <= set(METHODS)
    assert "ogbg-molbbbp" in METHODS["dsla"].datasets
