"""Make RecBole 1.2.1 import and run on current numpy, scipy, setuptools and torch.

RecBole 1.2.1 (2023) and the ray 2.6.3 it imports predate numpy 2, scipy 1.13, setuptools 82
and torch 2.6. Each breakage below has one small named fix; :func:`patch_environment`
applies all of them, idempotently, and :func:`import_recbole` applies them and imports
RecBole. Every fix changes only what is missing: an attribute that already exists is never
overwritten.

Breakage -> fix:

* numpy 2 removed ``np.float_``, ``np.complex_``, ``np.unicode_`` (RecBole's ``Config``) and
  ``np.bool8`` (ray, at import) -> :func:`restore_numpy_aliases` puts the missing aliases back
  (``float64``, ``complex128``, ``str_``, ``bool_``) before RecBole is imported.
* scipy >= 1.13 rewrote ``dok_matrix`` and dropped ``_update`` (RecBole's LightGCN, NGCF
  adjacency) -> :func:`restore_dok_update` adds ``_update(d)``, a bulk ``dict.update`` of the
  matrix's entries, as the old method did (without checks).
* setuptools >= 82 removed ``pkg_resources`` (ray imports it) -> not patchable:
  :func:`check_pkg_resources` raises with the ``setuptools<82`` hint; the ``[rec]`` extra
  pins it.
* torch >= 2.6 loads with ``weights_only=True``; RecBole pickles its ``Config`` with protocol
  4, so its trainer cannot reload its own checkpoints -> :func:`load_recbole_checkpoint`
  reads weights-only when it can and fully only for files marked trusted;
  :func:`evaluate_best` replaces ``evaluate(load_best_model=True)`` for the checkpoint the
  trainer itself just wrote.
* pandas 3 silently disables RecBole's missing-value filling -> not patchable: the ``[rec]``
  extra pins ``pandas<3`` (:func:`check_pandas` warns).
* RecBole's ``sine.py`` switches on ``torch.autograd`` anomaly detection for the whole process
  when its sequential models are imported (any ``get_model``), making every backward pass
  slower -> :func:`keep_anomaly_mode`, applied by :func:`import_recbole` after the import.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

from gcl.data.errors import OptionalDependencyError

RECBOLE_VERSION = "1.2.1"

#: numpy aliases removed in numpy 2 and the types they named.
NUMPY_ALIASES: dict[str, str] = {
    "float_": "float64",
    "complex_": "complex128",
    "unicode_": "str_",
    "bool8": "bool_",
}


def restore_numpy_aliases(numpy_module: ModuleType | None = None) -> list[str]:
    """Fix: numpy 2 removed ``np.float_``, ``np.complex_``, ``np.unicode_`` and ``np.bool8``.

    RecBole's ``Config.compatibility_settings`` reads the first three and ray 2.6.3 reads
    ``np.bool8`` at import time, so both fail with ``AttributeError`` on numpy 2. Each alias
    that is missing is set to the type it named in numpy 1; an existing attribute is left
    alone.

    Args:
        numpy_module: the module to patch (default: ``numpy``).

    Returns:
        The alias names that were added by this call (empty on numpy 1 or a second call).
    """
    if numpy_module is None:
        import numpy as numpy_module
    np = numpy_module

    added = []
    for alias, target in NUMPY_ALIASES.items():
        try:
            getattr(np, alias)
        except AttributeError:
            setattr(np, alias, getattr(np, target))
            added.append(alias)
    return added


def _dok_update(self: Any, data: dict) -> None:
    """Bulk-set entries ``{(row, col): value}`` of a ``dok_matrix`` without index checks
    (the behaviour of scipy's old private ``_update``)."""
    self._dict.update(data)


def restore_dok_update(dok_class: type | None = None) -> bool:
    """Fix: scipy >= 1.13 removed the private ``dok_matrix._update``.

    RecBole's ``LightGCN`` (and NGCF, ...) build the normalised adjacency with
    ``A._update(dict_of_entries)`` and fail with ``AttributeError``. The shim stores the
    entries in the matrix's ``_dict`` as the old method did. Nothing is changed when the
    method exists.

    Args:
        dok_class: the class to patch (default: ``scipy.sparse.dok_matrix``).

    Returns:
        True when the shim was installed by this call.

    Raises:
        RuntimeError: a ``dok_matrix`` with neither ``_update`` nor a ``_dict`` store.
    """
    if dok_class is None:
        from scipy.sparse import dok_matrix as dok_class
    if hasattr(dok_class, "_update"):
        return False
    if not isinstance(getattr(dok_class((1, 1)), "_dict", None), dict):
        raise RuntimeError(
            f"{dok_class.__name__} has neither _update nor a _dict store; this scipy "
            "version is not supported by gcl.rec.recbole.compat"
        )
    dok_class._update = _dok_update
    return True


def check_pkg_resources() -> None:
    """Check for the breakage from setuptools >= 82, which removed ``pkg_resources``.

    ray 2.6.3 (imported by RecBole) does ``import pkg_resources``; there is no safe shim,
    so this raises with the fix instead of letting ray fail deep inside RecBole's import.

    Raises:
        OptionalDependencyError: ``pkg_resources`` cannot be imported.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            importlib.import_module("pkg_resources")
        except ImportError as exc:
            raise OptionalDependencyError(
                "setuptools<82", "rec",
                "RecBole's ray dependency imports pkg_resources, which setuptools>=82 removed; it",
            ) from exc


def check_pandas() -> bool:
    """Check for the breakage from pandas 3, which silently disables RecBole's missing-value
    filling (no error is raised, so the check warns).

    Returns:
        True when pandas is older than 3.
    """
    import pandas as pd

    ok = int(pd.__version__.split(".")[0]) < 3
    if not ok:
        warnings.warn(
            f"pandas {pd.__version__} silently disables RecBole's missing-value filling; "
            "install pandas<3 (pip install 'gcl[rec]')",
            RuntimeWarning,
            stacklevel=2,
        )
    return ok


def _checkpoint_globals() -> list[Any]:
    """The classes a RecBole 1.2.1 checkpoint pickles besides tensors: its ``Config``, the
    enums stored in the config, and the numpy scalar types of its values."""
    import numpy as np
    from recbole.config.configurator import Config
    from recbole.utils import enum_type

    enums = [getattr(enum_type, n) for n in dir(enum_type)
             if isinstance(getattr(enum_type, n), type) and n[:1].isupper()
             and getattr(enum_type, n).__module__ == enum_type.__name__]
    numpy_types: list[Any] = [np.dtype, np.ndarray, np.int64, np.int32, np.float64,
                              np.float32, np.bool_]
    numpy_types += [type(np.dtype(t)) for t in ("int64", "int32", "float64", "float32", "bool")]
    try:  # numpy 2 moved the array reconstructor
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1
        from numpy.core.multiarray import _reconstruct, scalar
    numpy_types += [_reconstruct, scalar]
    return [Config, *enums, *numpy_types]


class UntrustedCheckpointError(ValueError):
    """A RecBole checkpoint cannot be read weights-only and was not marked as trusted."""


def load_recbole_checkpoint(
    path: str | os.PathLike, map_location: Any = "cpu", *, trusted: bool = False
) -> dict:
    """Fix: torch >= 2.6 loads with ``weights_only=True``, and RecBole cannot reload its own
    checkpoints.

    A RecBole 1.2.1 checkpoint pickles its ``Config`` and is written with pickle protocol 4,
    whose framing the weights-only unpickler rejects ("Unsupported operand 149") whatever
    globals are allowed. So this first tries a weights-only load with RecBole's ``Config``,
    enums and numpy types allowed (enough for a checkpoint re-saved with torch's default
    protocol); if that fails, a full unpickle happens only with ``trusted=True``: pass it only
    for files your own run wrote (unpickling runs arbitrary code from the file).

    Args:
        path: the ``.pth`` file.
        map_location: as in ``torch.load``.
        trusted: allow the full (not weights-only) unpickle.

    Returns:
        The checkpoint dict (``state_dict``, ``other_parameter``, ``config``, ``epoch``, ...).

    Raises:
        UntrustedCheckpointError: the weights-only load failed and ``trusted`` is False.
    """
    import pickle

    import torch

    try:
        with torch.serialization.safe_globals(_checkpoint_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if not trusted:
            raise UntrustedCheckpointError(
                f"{path}: cannot be read weights-only ({str(exc).splitlines()[-1] or exc}); "
                "RecBole writes checkpoints with pickle protocol 4 and its Config object. "
                "Pass trusted=True only for a file your own run wrote."
            ) from exc
    return torch.load(path, map_location=map_location, weights_only=False)


def evaluate_best(trainer: Any, eval_data: Any, model_file: str | os.PathLike | None = None,
                  show_progress: bool = False) -> Any:
    """``trainer.evaluate(eval_data, load_best_model=True)`` that works on torch >= 2.6.

    Loads the checkpoint the trainer itself saved (``trainer.saved_model_file``, trusted
    because this run wrote it; or ``model_file``, also treated as trusted, so pass only your
    own files) with :func:`load_recbole_checkpoint`, restores the model as RecBole does, then
    evaluates without RecBole's own ``torch.load``.

    Returns:
        RecBole's result dict.
    """
    checkpoint = load_recbole_checkpoint(
        model_file or trainer.saved_model_file, map_location=trainer.device, trusted=True
    )
    trainer.model.load_state_dict(checkpoint["state_dict"])
    trainer.model.load_other_parameter(checkpoint.get("other_parameter"))
    return trainer.evaluate(eval_data, load_best_model=False, show_progress=show_progress)


@contextlib.contextmanager
def recbole_workdir(path: str | os.PathLike) -> Iterator[None]:
    """Run RecBole code inside ``path`` with an empty command line.

    Two RecBole habits that are not breakages but surprise a library caller: its ``Config``
    parses ``sys.argv`` (``--key=value`` entries override the config, anything else is
    reported), and its ``Trainer`` writes ``log_tensorboard/`` into the working directory.
    Inside the block the working directory is ``path`` (created if missing) and ``sys.argv``
    holds only the program name; both are restored afterwards. Not thread-safe (it changes
    process-wide state), like RecBole itself.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    before, argv = Path.cwd(), sys.argv
    os.chdir(path)
    sys.argv = argv[:1]
    try:
        yield
    finally:
        sys.argv = argv
        os.chdir(before)


def keep_anomaly_mode() -> bool:
    """Fix: importing RecBole's sequential models turns on autograd anomaly detection for the
    whole process.

    ``recbole/model/sequential_recommender/sine.py`` calls
    ``torch.autograd.set_detect_anomaly(True)`` at import time, and the package
    ``recbole.model.sequential_recommender`` imports it; ``get_model`` and ``Config`` with a
    model name import that package. From then on every autograd operation in the process (any
    model, not only RecBole's) records a stack trace and every backward checks for NaN: measured
    here, gcl's SASRec training step became 2.3-2.7x slower. The fix imports the package once,
    with the anomaly mode saved before and restored after, so later imports change nothing.

    Returns:
        True when the import had switched the mode and it was restored.
    """
    import torch

    before = torch.is_anomaly_enabled()
    before_nan = torch.is_anomaly_check_nan_enabled()
    import recbole.model.sequential_recommender  # noqa: F401

    changed = torch.is_anomaly_enabled() != before
    torch.autograd.set_detect_anomaly(before, check_nan=before_nan)
    return changed


#: The fixes :func:`import_recbole` applies right after importing RecBole, in order.
POST_IMPORT_FIXES: tuple[Callable[[], Any], ...] = (keep_anomaly_mode,)


#: The fixes :func:`patch_environment` applies before RecBole is imported, in order.
PRE_IMPORT_FIXES: tuple[Callable[[], Any], ...] = (
    restore_numpy_aliases,
    restore_dok_update,
    check_pkg_resources,
)


def patch_environment() -> dict[str, Any]:
    """Apply every fix that must precede ``import recbole`` (idempotent).

    Returns:
        ``{fix name: its return value}``.
    """
    return {fix.__name__: fix() for fix in PRE_IMPORT_FIXES}


def import_recbole() -> ModuleType:
    """Patch the environment, import RecBole, then apply :data:`POST_IMPORT_FIXES`.

    ray's ``pkg_resources`` deprecation warning is silenced during the import.

    Returns:
        The ``recbole`` package (``recbole.quick_start``, ``recbole.trainer`` and
        ``recbole.config`` imported).

    Raises:
        OptionalDependencyError: RecBole is not installed, or an unfixable dependency
            (setuptools >= 82) is present; the message says what to install.
    """
    if importlib.util.find_spec("recbole") is None:
        raise OptionalDependencyError(
            f"recbole=={RECBOLE_VERSION}", "rec", "the RecBole adapter (gcl.rec.recbole)"
        )
    patch_environment()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pkg_resources.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import recbole
        import recbole.config  # noqa: F401
        import recbole.quick_start  # noqa: F401
        import recbole.trainer  # noqa: F401
        for fix in POST_IMPORT_FIXES:
            fix()
    check_pandas()
    return recbole


__all__ = [
    "NUMPY_ALIASES",
    "POST_IMPORT_FIXES",
    "PRE_IMPORT_FIXES",
    "RECBOLE_VERSION",
    "UntrustedCheckpointError",
    "check_pandas",
    "check_pkg_resources",
    "evaluate_best",
    "import_recbole",
    "keep_anomaly_mode",
    "load_recbole_checkpoint",
    "patch_environment",
    "recbole_workdir",
    "restore_dok_update",
    "restore_numpy_aliases",
]
