"""Molecular fine-tuning: masked BCE, selection on validation with test read only afterwards,
seeds, and the target loader's offline / download behaviour."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import gcl.data as gdata
from gcl.data import MissingDatasetError
from gcl.methods import mol_finetune
from gcl.methods.mol_finetune import FinetuneConfig, MolFinetuner, finetune_seeds, load_target, masked_bce
from gcl.nn.mol_graph import MolGraphEncoder
from gcl.train import load_checkpoint

TINY = {"epochs": 3, "batch_size": 128, "seeds": 2}


@pytest.fixture(scope="module")
def molbace(bundled_root: Path):
    return gdata.load("ogbg-molbace", root=bundled_root)


def tiny_encoder() -> MolGraphEncoder:
    return MolGraphEncoder(1, 8)


def test_masked_bce_equals_reference() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3, generator=g, dtype=torch.float64)
    y = torch.tensor([[1, 0, float("nan")], [0, float("nan"), float("nan")], [1, 1, 0],
                      [float("nan")] * 3, [0, 0, 1], [1, float("nan"), 0]], dtype=torch.float64)
    terms = [F.binary_cross_entropy_with_logits(logits[i, j], y[i, j])
             for i in range(6) for j in range(3) if not torch.isnan(y[i, j])]
    torch.testing.assert_close(masked_bce(logits, y), torch.stack(terms).mean())


class SplitLog(MolFinetuner):
    """Records which split every evaluation reads, and the epoch the engine is at."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reads: list[tuple[str, float]] = []

    def evaluate(self, model, split):
        score = super().evaluate(model, split)
        self.reads.append((split, score))
        return score


def test_selection_reads_test_only_after_training(molbace) -> None:
    tuner = SplitLog(molbace, FinetuneConfig(**TINY), tiny_encoder, device="cpu")
    run = tuner.run(0)
    splits = [s for s, _ in tuner.reads]
    # one validation per epoch, then the two test scores, never a test read in between
    assert splits == ["valid"] * 3 + ["test", "test"]
    valid = [v for s, v in tuner.reads if s == "valid"]
    assert run.best_epoch == 1 + max(range(3), key=lambda i: (valid[i], -i))
    assert run.valid == valid[run.best_epoch - 1]
    assert (run.test_last, run.test) == (tuner.reads[3][1], tuner.reads[4][1])
    history = [r["val_rocauc"] for r in run.train.history]
    assert history == valid and all("test" not in k for r in run.train.history for k in r)


def test_selected_parameters_are_the_best_validation_epoch(molbace, tmp_path: Path) -> None:
    """The test score is that of the selected epoch's parameters: rescoring a model restored
    from the checkpoint's best state gives the same test value."""
    tuner = MolFinetuner(molbace, FinetuneConfig(**TINY), tiny_encoder, device="cpu")
    run = tuner.run(1, out_dir=str(tmp_path))
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    torch.manual_seed(1)
    model = mol_finetune.MolClassifier(tiny_encoder(), 1)
    model.load_state_dict(ckpt["best_model"])
    assert tuner.evaluate(model, "test") == pytest.approx(run.test)
    model.load_state_dict(ckpt["model"])
    assert tuner.evaluate(model, "test") == pytest.approx(run.test_last)
    again = tuner.run(1, out_dir=str(tmp_path), resume=True)  # a finished run resumes to the same figures
    assert (again.test, again.test_last, again.best_epoch) == (run.test, run.test_last, run.best_epoch)


def test_seeds_summary(molbace) -> None:
    summary = finetune_seeds(molbace, FinetuneConfig(**{**TINY, "epochs": 1}), tiny_encoder, device="cpu")
    tests = [r.test for r in summary.runs]
    assert [r.seed for r in summary.runs] == [0, 1] and tests[0] != tests[1]
    m = summary.metrics()
    mean = sum(tests) / 2
    assert m["test_rocauc_mean"] == pytest.approx(mean)
    assert m["test_rocauc_std"] == pytest.approx(abs(tests[0] - tests[1]) / 2)  # population std
    assert m["seeds"] == 2.0 and 0.0 < m["valid_rocauc_mean"] < 1.0


def test_config_presets_and_checks() -> None:
    assert (FinetuneConfig().epochs, FinetuneConfig().batch_size, FinetuneConfig().dropout) == (100, 32, 0.5)
    cpu = FinetuneConfig.for_preset("cpu-scaled", {"lr": 5e-4})
    assert (cpu.epochs, cpu.seeds, cpu.lr) == (50, 3, 5e-4)
    with pytest.raises(ValueError, match="unknown FinetuneConfig keys"):
        FinetuneConfig.for_preset("full", {"epoch": 3})
    with pytest.raises(ValueError, match="dropout"):
        FinetuneConfig(dropout=1.0)


def test_target_loader_offline_and_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            bundled_root: Path) -> None:
    assert load_target("ogbg-molbace", str(bundled_root)).task_type == "binary classification"
    monkeypatch.setenv("GCL_OFFLINE", "1")
    with pytest.raises(MissingDatasetError, match="download=True"):
        load_target("ogbg-molbbbp", str(tmp_path))
    monkeypatch.delenv("GCL_OFFLINE")
    import gcl.data.ogb as ogb_mod

    calls = []
    monkeypatch.setattr(ogb_mod, "_download", lambda name, transform: calls.append(name) or
                        type("D", (), {"task_type": "binary classification"})())
    load_target("ogbg-molbbbp", str(tmp_path))
    assert calls == ["ogbg-molbbbp"]
    monkeypatch.setattr(ogb_mod, "_download", lambda name, transform: type("D", (), {"task_type": "regression"})())
    with pytest.raises(ValueError, match="binary classification"):
        load_target("ogbg-molesol", str(tmp_path))
