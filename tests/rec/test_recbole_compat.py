"""The RecBole compatibility fixes, tested without RecBole (except the checkpoint test)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from gcl.data.errors import OptionalDependencyError
from gcl.rec.recbole import compat


def _fake_numpy(**extra: object) -> types.SimpleNamespace:
    return types.SimpleNamespace(float64=np.float64, complex128=np.complex128, str_=np.str_,
                                 bool_=np.bool_, **extra)


def test_numpy_aliases_restored_once_and_existing_kept() -> None:
    fake = _fake_numpy()
    assert compat.restore_numpy_aliases(fake) == ["float_", "complex_", "unicode_", "bool8"]
    assert fake.float_ is np.float64 and fake.complex_ is np.complex128
    assert fake.unicode_ is np.str_ and fake.bool8 is np.bool_
    assert compat.restore_numpy_aliases(fake) == []          # idempotent
    sentinel = object()
    kept = _fake_numpy(float_=sentinel)
    assert "float_" not in compat.restore_numpy_aliases(kept)
    assert kept.float_ is sentinel                            # never overwritten


def test_dok_update_shim_sets_entries_and_is_idempotent() -> None:
    class Dok(sp.dok_matrix):
        pass

    installed = compat.restore_dok_update(Dok)
    assert installed == (not hasattr(sp.dok_matrix, "_update"))
    assert compat.restore_dok_update(Dok) is False
    m = Dok((3, 4), dtype=np.float32)
    m._update({(0, 1): 1.0, (np.int32(2), np.int32(3)): 2.0})
    np.testing.assert_array_equal(m.toarray(), [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 2]])

    def own(self, data):  # an existing method is never replaced
        raise AssertionError

    class HasUpdate(sp.dok_matrix):
        _update = own

    assert compat.restore_dok_update(HasUpdate) is False and HasUpdate._update is own


def test_missing_pkg_resources_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pkg_resources", None)   # import now fails
    with pytest.raises(OptionalDependencyError, match="setuptools<82"):
        compat.check_pkg_resources()


def test_missing_recbole_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(compat.importlib.util, "find_spec",
                        lambda name, *a: None if name == "recbole" else real(name, *a))
    with pytest.raises(OptionalDependencyError, match=r"gcl\[rec\]"):
        compat.import_recbole()


def test_importing_the_adapter_does_not_import_recbole() -> None:
    code = ("import sys, gcl.rec, gcl.rec.recbole as r; "
            "assert 'recbole' not in sys.modules and 'gcl.rec.recbole.compat' not in sys.modules; "
            "assert callable(r.write_interaction_splits); assert 'recbole' not in sys.modules; "
            "from gcl.rec.recbole.compat import restore_numpy_aliases as n, restore_dok_update as d; "
            "a = (n(), d()); b = (n(), d()); "
            "import numpy as np; assert np.float_ is np.float64 and np.bool8 is np.bool_; "
            "import scipy.sparse as sp; assert hasattr(sp.dok_matrix, '_update'); "
            "assert b == ([], False), b; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


@pytest.mark.skipif(importlib.util.find_spec("recbole") is None, reason="RecBole not installed")
def test_recbole_checkpoint_needs_trust(tmp_path: Path) -> None:
    import torch

    compat.import_recbole()
    from recbole.config import Config

    config = Config.__new__(Config)        # a RecBole Config object, as its trainer pickles it
    config.final_config_dict = {"model": "BPR"}
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": {"w": torch.ones(2)}, "config": config}, path, pickle_protocol=4)
    with pytest.raises(compat.UntrustedCheckpointError, match="trusted=True"):
        compat.load_recbole_checkpoint(path)
    ckpt = compat.load_recbole_checkpoint(path, trusted=True)
    assert torch.equal(ckpt["state_dict"]["w"], torch.ones(2))
    # a plain weights-only file loads without trust
    torch.save({"state_dict": {"w": torch.zeros(1)}, "epoch": 3}, tmp_path / "plain.pth")
    assert compat.load_recbole_checkpoint(tmp_path / "plain.pth")["epoch"] == 3
