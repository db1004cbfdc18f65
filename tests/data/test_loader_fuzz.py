"""Fuzz test of every dataset loader: malformed copies of tiny valid datasets.

For each layout :mod:`gcl.data` reads (Planetoid ``ind.*`` pickles, the Amazon npz zip, an
OGB folder, HeCo and MEOW folders, LightGCN text and pickled-matrix folders, one-line-per-user
sequence files, MoleculeNet CSVs) a tiny valid copy is written once; every case copies it,
corrupts one file and loads the copy with the layout's loader. Corruptions:

* binary files: truncation at several byte offsets, an empty file, a missing file, text in
  place of the binary format, and (for zip/gzip containers) flipped bytes;
* text files: random line mutations (a non-numeric token, a negative, fractional, too large
  or out-of-range id, a wrong delimiter, a missing or extra column, a garbage or blank line,
  NUL bytes), truncation at a random byte, empty and missing files;
* a few hand-made semantic errors per layout (ids out of range inside binary files,
  row counts that disagree between files, a pickle holding the wrong type).

Every case must either load or raise :class:`gcl.data.DatasetError` (or a subclass) whose
message names the corrupted file; a case whose corruption always breaks the format must
raise, and where the broken line is known the error must carry it. Anything else (a raw
``IndexError``, ``UnpicklingError``, ``BadZipFile``, ... from deep inside numpy, torch, pickle
or zipfile) fails the test. Mutation points come from a generator seeded per case, so the
sweep is random but the same on every run.
"""
from __future__ import annotations

import gzip
import io
import pickle
import random
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import scipy.sparse as sp

from gcl.data import DatasetError, OptionalDependencyError
from gcl.data.amazon import load_amazon
from gcl.data.hetero import load_hetero
from gcl.data.interactions import load_interactions
from gcl.data.ogb import load_ogb_folder
from gcl.data.planetoid import load_planetoid
from gcl.data.sequences import load_sequences
from gcl.data.smiles import load_smiles_csv

SEED = 9
# Corruptions that still load may warn on the way (a skipped SMILES, a duplicate split id);
# a numeric RuntimeWarning (an overflowing cast) means a value slipped through unchecked.
pytestmark = [
    pytest.mark.filterwarnings("ignore::gcl.data.smiles.InvalidSmilesWarning"),
    pytest.mark.filterwarnings("ignore::gcl.data.hetero.DuplicateSplitWarning"),
    pytest.mark.filterwarnings("error::RuntimeWarning"),
]
CLEAN_ERRORS = (DatasetError, OptionalDependencyError)

# ============================================================================ tiny valid sets


def _pickle(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=2))


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float64)[labels]


def write_planetoid(root: Path, folder: str = "Tiny", gaps: int = 0) -> Path:
    """``planetoid/<folder>/raw/ind.<folder lower>.*``: 560 nodes (PyG's public split needs
    500 validation nodes after the labelled ones), 20 labelled, 20 test nodes listed out of
    order; ``gaps`` test ids skipped (CiteSeer's isolated nodes, which PyG fills in)."""
    raw = root / "planetoid" / folder / "raw"
    name = folder.lower()
    rng = np.random.default_rng(0)
    n_all, n_test, n_train, feats, classes = 540, 20, 20, 6, 3
    n = n_all + n_test + gaps
    features = sp.csr_matrix((rng.random((n_all + n_test, feats)) < 0.3).astype(np.float32))
    labels = rng.integers(0, classes, n_all + n_test)
    _pickle(raw / f"ind.{name}.x", features[:n_train])
    _pickle(raw / f"ind.{name}.allx", features[:n_all])
    _pickle(raw / f"ind.{name}.tx", features[n_all:])
    _pickle(raw / f"ind.{name}.y", _one_hot(labels[:n_train], classes))
    _pickle(raw / f"ind.{name}.ally", _one_hot(labels[:n_all], classes))
    _pickle(raw / f"ind.{name}.ty", _one_hot(labels[n_all:], classes))
    graph = {i: [(i + 1) % n, (i - 1) % n] for i in range(n)}
    _pickle(raw / f"ind.{name}.graph", graph)
    test_ids = np.concatenate([np.arange(n_all, n_all + n_test - 1), [n - 1]])  # last id after the gap
    (raw / f"ind.{name}.test.index").write_text("".join(f"{i}\n" for i in rng.permutation(test_ids)))
    return raw.parent


def write_amazon(root: Path) -> Path:
    """``gnn-benchmark/amazon-photo.zip`` holding a 12-node npz in shchur's layout."""
    rng = np.random.default_rng(1)
    n, feats = 12, 7
    adj = sp.csr_matrix(sp.random(n, n, density=0.3, random_state=1, format="csr") > 0, dtype=np.float32)
    attr = sp.csr_matrix((rng.random((n, feats)) < 0.4).astype(np.float32))
    buf = io.BytesIO()
    np.savez(
        buf,
        adj_data=adj.data, adj_indices=adj.indices, adj_indptr=adj.indptr, adj_shape=adj.shape,
        attr_data=attr.data, attr_indices=attr.indices, attr_indptr=attr.indptr,
        attr_shape=attr.shape, labels=rng.integers(0, 3, n),
    )
    path = root / "gnn-benchmark" / "amazon-photo.zip"
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("amazon_electronics_photo.npz", buf.getvalue())
    return path


def _csv_gz(path: Path, rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(",".join(str(v) for v in row) + "\n" for row in np.atleast_2d(rows))
    path.write_bytes(gzip.compress(text.encode(), mtime=0))


def write_ogb(root: Path) -> Path:
    """``ogb/ogbg_molbace``: 4 molecules (3, 2, 4, 3 atoms) in OGB's raw layout."""
    folder = root / "ogb" / "ogbg_molbace"
    sizes = [3, 2, 4, 3]
    edges, n_edges = [], []
    for size in sizes:
        chain = np.stack([np.arange(size - 1), np.arange(1, size)], axis=1)
        edges.append(chain)
        n_edges.append(len(chain))
    rng = np.random.default_rng(2)
    _csv_gz(folder / "raw" / "edge.csv.gz", np.concatenate(edges))
    _csv_gz(folder / "raw" / "num-node-list.csv.gz", np.array(sizes)[:, None])
    _csv_gz(folder / "raw" / "num-edge-list.csv.gz", np.array(n_edges)[:, None])
    _csv_gz(folder / "raw" / "node-feat.csv.gz", rng.integers(0, 3, (sum(sizes), 9)))
    _csv_gz(folder / "raw" / "edge-feat.csv.gz", rng.integers(0, 2, (sum(n_edges), 3)))
    _csv_gz(folder / "raw" / "graph-label.csv.gz", np.array([[0], [1], [1], [0]]))
    split = folder / "split" / "scaffold"
    _csv_gz(split / "train.csv.gz", np.array([[0], [1]]))
    _csv_gz(split / "valid.csv.gz", np.array([[2]]))
    _csv_gz(split / "test.csv.gz", np.array([[3]]))
    return folder


def _save_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array)


def write_heco(root: Path) -> Path:
    """``hetero/heco/acm``: 9 papers, 6 authors, subjects among ACM's 60, 3 classes."""
    folder = root / "hetero" / "heco" / "acm"
    folder.mkdir(parents=True)
    (folder / "pa.txt").write_text("".join(f"{p}\t{a}\n" for p, a in
                                           [(0, 0), (0, 1), (1, 2), (2, 3), (3, 4), (4, 5),
                                            (5, 0), (6, 1), (7, 2), (8, 3)]))
    (folder / "ps.txt").write_text("".join(f"{p}\t{s}\n" for p, s in
                                           [(0, 3), (1, 3), (2, 7), (3, 7), (4, 59), (5, 59),
                                            (6, 3), (7, 7), (8, 11)]))
    sp.save_npz(folder / "p_feat.npz", sp.csr_matrix(np.eye(9, 5)))
    sp.save_npz(folder / "a_feat.npz", sp.csr_matrix(np.ones((6, 4))))
    _save_npy(folder / "labels.npy", np.array([0, 1, 2, 0, 1, 2, 0, 1, 2]))
    for rate in (20, 40, 60):
        _save_npy(folder / f"train_{rate}.npy", np.array([0, 1, 2]))
        _save_npy(folder / f"val_{rate}.npy", np.array([3, 4, 5]))
        _save_npy(folder / f"test_{rate}.npy", np.array([6, 7, 8]))
    return folder


def write_meow(root: Path) -> Path:
    """``hetero/meow/imdb``: 8 movies (classes counted from 1), actors, directors, keywords."""
    folder = root / "hetero" / "meow" / "imdb"
    folder.mkdir(parents=True)
    (folder / "ma.txt").write_text("".join(f"{m} {a}\n" for m, a in
                                           [(0, 0), (1, 1), (2, 0), (3, 2), (4, 3), (5, 1),
                                            (6, 4), (7, 2)]))
    (folder / "md.txt").write_text("".join(f"{m} {d}\n" for m, d in enumerate([0, 1, 0, 1, 2, 2, 0, 1])))
    (folder / "mk.txt").write_text("".join(f"{m} {k}\n" for m, k in
                                           [(0, 5), (1, 5), (2, 6), (3, 6), (4, 7), (5, 5),
                                            (6, 7), (7, 6), (0, 6)]))
    sp.save_npz(folder / "m_feat.npz", sp.csr_matrix(np.eye(8, 6)))
    _save_npy(folder / "labels.npy", np.array([1, 2, 3, 1, 2, 3, 1, 2]))
    for rate in (20, 40, 60):
        _save_npy(folder / f"train_{rate}.npy", np.array([0, 1, 2]))
        _save_npy(folder / f"val_{rate}.npy", np.array([3, 4]))
        _save_npy(folder / f"test_{rate}.npy", np.array([5, 6, 7]))
    return folder


def write_lightgcn(root: Path) -> Path:
    """``recsys/tiny``: 6 users, 10 items, LightGCN text files with id lists."""
    folder = root / "recsys" / "tiny"
    folder.mkdir(parents=True)
    (folder / "train.txt").write_text(
        "0 0 1 2 3\n1 2 3 4\n2 4 5 6 7\n3 6 7 8\n4 8 9 0 1\n5 1 3 5 7\n"
    )
    (folder / "valid.txt").write_text("0 4\n1 5\n2 8\n3 9\n4 2\n5 9\n")
    (folder / "test.txt").write_text("0 5\n1 6\n2 9\n3 0\n4 3\n5 0\n")
    (folder / "user_list.txt").write_text("org_id remap_id\n" + "".join(f"u{u} {u}\n" for u in range(6)))
    (folder / "item_list.txt").write_text("org_id remap_id\n" + "".join(f"i{i} {i}\n" for i in range(10)))
    return folder


def write_lightgcl(root: Path) -> Path:
    """``recsys/tinymat``: pickled 6 x 10 scipy matrices (LightGCL layout)."""
    folder = root / "recsys" / "tinymat"
    rng = np.random.default_rng(3)
    dense = rng.random((3, 6, 10))
    for name, k in (("trnMat.pkl", 0), ("valMat.pkl", 1), ("tstMat.pkl", 2)):
        matrix = sp.coo_matrix((dense[k] < (0.5 if k == 0 else 0.15)).astype(np.float32))
        _pickle(folder / name, matrix)
    return folder


def write_sequences(root: Path) -> Path:
    """``seqrec/Tiny.txt``: 6 users with 4 to 6 items each (1-based ids)."""
    path = root / "seqrec" / "Tiny.txt"
    path.parent.mkdir(parents=True)
    path.write_text("1 1 2 3 4\n2 2 3 4 5 6\n3 5 6 7 8\n4 1 3 5 7 9\n5 2 4 6 8\n6 9 8 7 6 5 4\n")
    return path


SMILES_ROWS = [("CCO", 0), ("c1ccccc1", 1), ("CC(=O)O", 0), ("CCN", 1), ("C1CC1", 0),
               ("O=C=O", 1), ("CC(C)O", 0)]


def write_molecules(root: Path) -> Path:
    """``moleculenet/tiny.csv``: 7 molecules, SMILES column ``smiles``, label ``y``."""
    path = root / "moleculenet" / "tiny.csv"
    path.parent.mkdir(parents=True)
    path.write_text("smiles,y\n" + "".join(f"{s},{y}\n" for s, y in SMILES_ROWS))
    return path


def write_molecules_gz(root: Path) -> Path:
    """``moleculenet/tinygz.csv.gz``: the same molecules, gzip-compressed."""
    path = root / "moleculenet" / "tinygz.csv.gz"
    path.parent.mkdir(parents=True)
    text = "smiles,y\n" + "".join(f"{s},{y}\n" for s, y in SMILES_ROWS)
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    return path


# ============================================================================ corruptions

# Text mutations of one line. Each maps (tokens of the line, separator, rng, numeric token
# positions) to the new line text; ``None`` means "not applicable to this line".
TEXT_OPS = ("non_numeric", "negative", "fraction", "huge", "out_of_range", "wrong_delimiter",
            "drop_token", "extra_token", "garbage_line", "blank_line", "nul_bytes", "truncate")
BINARY_OPS = ("truncate", "empty", "missing", "not_binary")
ZIP_OPS = ("flip",)


@dataclass(frozen=True)
class TextFile:
    """How a text file is laid out and which mutations must break it.

    Args:
        numeric: token positions holding numbers (``None``: every token).
        sep: the field separator (``" "`` or ``","``).
        header: the first line is a header (never mutated except by ``wrong_delimiter``).
        fail: mutations that must raise, with the mutated line named.
        fail_anywhere: mutations that must raise (the line need not be named).
        optional: the file may be absent (a missing copy loads).
        gz: the file is gzip-compressed text (mutated decompressed, then recompressed).
    """

    numeric: tuple[int, ...] | None = None
    sep: str = " "
    header: bool = False
    fail: frozenset[str] = frozenset()
    fail_anywhere: frozenset[str] = frozenset()
    optional: bool = False
    gz: bool = False


@dataclass(frozen=True)
class BinaryFile:
    """A binary file (pickle, npy, npz, zip, gzip); every corruption but ``flip`` must raise.

    Args:
        container: zip or gzip based, so single flipped bytes are a meaningful corruption.
        optional: the file may be absent.
    """

    container: bool = False
    optional: bool = False


@dataclass(frozen=True)
class Layout:
    """One dataset layout: how to write a valid copy and how to load it."""

    name: str
    write: Callable[[Path], Path]
    load: Callable[[Path], Any]
    files: dict[str, TextFile | BinaryFile]


@dataclass(frozen=True)
class Case:
    layout: str
    file: str
    op: str
    index: int = 0

    @property
    def id(self) -> str:
        return f"{self.layout}:{self.file}:{self.op}{self.index or ''}"


def _rng(case: Case) -> random.Random:
    return random.Random(f"{SEED}/{case.id}")


def _mutate_tokens(op: str, tokens: list[str], sep: str, numeric: list[int], rng: random.Random) -> str | None:
    if op in ("non_numeric", "negative", "fraction", "huge", "out_of_range"):
        if not numeric:
            return None
        pos = rng.choice(numeric)
        value = rng.randint(1, 9)
        tokens = list(tokens)
        tokens[pos] = {
            "non_numeric": f"x{value}",
            "negative": f"-{value}",
            "fraction": f"{value}.5",
            "huge": "9" * 25,
            "out_of_range": str(10**6 + value),
        }[op]
        return sep.join(tokens)
    if op == "wrong_delimiter":
        if len(tokens) < 2:
            return None
        return (";" if sep == "," else ",").join(tokens)
    if op == "drop_token":
        return sep.join(tokens[:-1])
    if op == "extra_token":
        return sep.join([*tokens, str(rng.randint(0, 3))])
    if op == "nul_bytes":
        if not numeric:
            return None
        pos = rng.choice(numeric)
        tokens = list(tokens)
        tokens[pos] = tokens[pos] + "\x00\x7f"
        return sep.join(tokens)
    raise AssertionError(op)


def _split(line: str, sep: str) -> list[str]:
    return line.split(sep) if sep == "," else line.split()


def mutate_text(text: str, spec: TextFile, op: str, rng: random.Random) -> tuple[str, int | None]:
    """Apply text mutation ``op`` at a random line; return the new text and the 1-based
    line the mutation is on (``None`` for ``truncate``)."""
    lines = text.split("\n")
    trailing = lines and lines[-1] == ""
    body = lines[:-1] if trailing else lines
    first = 1 if spec.header else 0
    candidates = [i for i in range(first, len(body)) if body[i].strip()]
    if op == "truncate":
        cut = rng.randrange(1, len(text))
        return text[:cut], None
    if op in ("garbage_line", "blank_line"):
        at = rng.randint(first, len(body))
        body.insert(at, "@@ ?? !!" if op == "garbage_line" else "")
        return "\n".join(body) + ("\n" if trailing else ""), at + 1
    rng.shuffle(candidates)
    for i in candidates:
        tokens = _split(body[i], spec.sep)
        if op == "wrong_delimiter" and len(tokens) == 1:  # one value a line: join two lines
            if i + 1 >= len(body) or not body[i + 1].strip():
                continue
            body[i : i + 2] = [(";" if spec.sep == "," else ",").join([body[i], body[i + 1]])]
            return "\n".join(body) + ("\n" if trailing else ""), i + 1
        numeric = list(range(len(tokens))) if spec.numeric is None else [
            p if p >= 0 else len(tokens) + p for p in spec.numeric if -len(tokens) <= p < len(tokens)
        ]
        new = _mutate_tokens(op, tokens, spec.sep, numeric, rng)
        if new is not None:
            body[i] = new
            return "\n".join(body) + ("\n" if trailing else ""), i + 1
    pytest.skip(f"mutation {op} does not apply to this file")


def corrupt(path: Path, case: Case, spec: TextFile | BinaryFile) -> int | None:
    """Corrupt the file ``path`` in place as ``case`` says; return the mutated line when
    there is one."""
    rng = _rng(case)
    if case.op == "missing":
        path.unlink()
        return None
    if case.op == "empty":
        path.write_bytes(b"")
        return None
    if isinstance(spec, BinaryFile):
        data = path.read_bytes()
        if case.op == "truncate":
            cut = {0: 1, 1: len(data) - 1}.get(case.index) or rng.randrange(2, len(data) - 1)
            path.write_bytes(data[:cut])
        elif case.op == "not_binary":
            path.write_text("this is not the expected binary format\n")
        elif case.op == "flip":
            buf = bytearray(data)
            for pos in rng.sample(range(len(buf)), k=max(1, len(buf) // 50)):
                buf[pos] ^= 0xFF
            path.write_bytes(bytes(buf))
        else:
            raise AssertionError(case.op)
        return None
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if spec.gz else raw).decode()
    if case.op == "truncate" and spec.gz and case.index == 1:  # the gzip stream itself
        path.write_bytes(raw[: rng.randrange(1, len(raw))])
        return None
    new, line = mutate_text(text, spec, case.op, rng)
    data = new.encode("utf-8", errors="surrogateescape")
    path.write_bytes(gzip.compress(data, mtime=0) if spec.gz else data)
    return line


def must_fail(spec: TextFile | BinaryFile, op: str) -> tuple[bool, bool]:
    """(must the case raise, must the error name the mutated line)."""
    if op == "missing":
        return not spec.optional, False
    if op == "empty":
        return True, False
    if isinstance(spec, BinaryFile):
        return op != "flip", False
    return op in spec.fail or op in spec.fail_anywhere, op in spec.fail


def cases_for(layout: Layout, truncations: int = 3, mutations: int = 1) -> list[Case]:
    out = []
    for file, spec in layout.files.items():
        if isinstance(spec, BinaryFile):
            out += [Case(layout.name, file, "truncate", i) for i in range(truncations)]
            out += [Case(layout.name, file, op) for op in ("empty", "missing", "not_binary")]
            if spec.container:
                out += [Case(layout.name, file, "flip", i) for i in range(2)]
        else:
            for op in TEXT_OPS:
                reps = 2 if op == "truncate" and spec.gz else mutations
                out += [Case(layout.name, file, op, i) for i in range(reps)]
            out += [Case(layout.name, file, op) for op in ("empty", "missing")]
    return out


# ============================================================================ the layouts

# Mutations no file of integer ids accepts, named at the mutated line.
_IDS = frozenset({"non_numeric", "negative", "fraction", "huge", "garbage_line", "nul_bytes"})

EDGE_LIST = TextFile(fail=_IDS | {"out_of_range", "wrong_delimiter", "drop_token", "extra_token"})
USER_LINES = TextFile(fail=_IDS | {"out_of_range", "wrong_delimiter"})
ID_LIST = TextFile(numeric=(-1,), header=True, fail=_IDS | {"wrong_delimiter", "drop_token"}, optional=True)


def _ogb_file(**kw: Any) -> TextFile:
    return TextFile(sep=",", gz=True, **kw)


LAYOUTS: dict[str, Layout] = {}


def _register(layout: Layout) -> None:
    LAYOUTS[layout.name] = layout


_PLANETOID_PICKLES = ("x", "ally", "graph")  # one read path for all seven; the rest: SEMANTIC
_register(Layout(
    "planetoid", write_planetoid, lambda p: load_planetoid(p, "tiny"),
    {**{f"raw/ind.tiny.{s}": BinaryFile() for s in _PLANETOID_PICKLES},
     "raw/ind.tiny.test.index": TextFile(
         fail=_IDS | {"out_of_range", "wrong_delimiter", "extra_token", "drop_token", "blank_line"},
         fail_anywhere=frozenset({"truncate"}))},
))
_register(Layout(
    "amazon", write_amazon, lambda p: load_amazon(p, "amazon-photo"),
    {".": BinaryFile(container=True)},
))
_OGB_BROKEN = frozenset({"non_numeric", "wrong_delimiter", "extra_token", "garbage_line", "nul_bytes"})
_register(Layout(
    "ogb", write_ogb, lambda p: load_ogb_folder(p, "ogbg-molbace"),
    {"raw/edge.csv.gz": _ogb_file(fail=_OGB_BROKEN | {"negative", "fraction", "huge", "out_of_range",
                                                      "drop_token"}),
     "raw/num-node-list.csv.gz": _ogb_file(fail=_OGB_BROKEN | {"negative", "fraction", "huge"},
                                           fail_anywhere=frozenset({"out_of_range", "drop_token"})),
     "raw/node-feat.csv.gz": _ogb_file(fail=_OGB_BROKEN | {"drop_token"}),
     "raw/graph-label.csv.gz": _ogb_file(fail=_OGB_BROKEN, fail_anywhere=frozenset({"drop_token"})),
     "split/scaffold/train.csv.gz": _ogb_file(fail=_OGB_BROKEN | {"negative", "fraction", "huge",
                                                                 "out_of_range"})},
))
_HETERO_SPLIT = BinaryFile()
_register(Layout(
    "heco", write_heco, lambda p: load_hetero(p, "acm"),
    {"pa.txt": EDGE_LIST, "ps.txt": EDGE_LIST, "p_feat.npz": BinaryFile(container=True),
     "a_feat.npz": BinaryFile(container=True), "labels.npy": BinaryFile(), "val_40.npy": _HETERO_SPLIT},
))
_register(Layout(
    "meow", write_meow, lambda p: load_hetero(p, "imdb"),
    {"ma.txt": EDGE_LIST, "m_feat.npz": BinaryFile(container=True),
     "labels.npy": BinaryFile(), "train_40.npy": _HETERO_SPLIT},
))
_register(Layout(
    "lightgcn", write_lightgcn, lambda p: load_interactions(p, "tiny"),
    {"train.txt": USER_LINES,
     "valid.txt": TextFile(fail=USER_LINES.fail, optional=True),
     "user_list.txt": ID_LIST, "item_list.txt": ID_LIST},
))
_register(Layout(
    "lightgcl", write_lightgcl, lambda p: load_interactions(p, "tinymat"),
    {"trnMat.pkl": BinaryFile(), "tstMat.pkl": BinaryFile(), "valMat.pkl": BinaryFile(optional=True)},
))
_register(Layout(
    "sequences", write_sequences, lambda p: load_sequences(p),
    {".": TextFile(fail=_IDS | {"wrong_delimiter"})},  # no item count to exceed
))
_SMILES_CSV = TextFile(numeric=(1,), sep=",", header=True, fail=frozenset({"non_numeric", "nul_bytes"}))
_register(Layout(
    "moleculenet", write_molecules, lambda p: load_smiles_csv(p, "tiny", labels=["y"]),
    {".": _SMILES_CSV},
))
_register(Layout(
    "moleculenet_gz", write_molecules_gz, lambda p: load_smiles_csv(p, "tinygz", labels=["y"]),
    {".": BinaryFile(container=True)},
))

CASES = [case for layout in LAYOUTS.values() for case in cases_for(layout)]


# ============================================================================ the sweep


@pytest.fixture(scope="module")
def valid_copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Each layout written once: name -> (its data root, the dataset path inside it)."""
    out = {}
    for name, layout in LAYOUTS.items():
        root = tmp_path_factory.mktemp(f"valid-{name}")
        out[name] = (root, layout.write(root))
    return out


def _fresh_copy(valid: tuple[Path, Path], dest: Path) -> Path:
    root, dataset = valid
    shutil.copytree(root, dest)
    return dest / dataset.relative_to(root)


def _target(dataset: Path, file: str) -> Path:
    """The file to corrupt: ``dataset`` itself (``"."``) or a file inside it."""
    return dataset if file == "." else dataset / file


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_valid_copy_loads(name: str, valid_copies: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    """The sweep starts from copies that load (so every failure below is the corruption's)."""
    dataset = _fresh_copy(valid_copies[name], tmp_path / "copy")
    assert LAYOUTS[name].load(dataset) is not None


def test_citeseer_test_ids_may_leave_gaps(tmp_path: Path) -> None:
    """PyG fills CiteSeer's missing test ids with empty rows; the consistency check allows it
    there (and only there: the same files under another name are refused)."""
    data = load_planetoid(write_planetoid(tmp_path / "a", "CiteSeer", gaps=2), "citeseer")
    assert data.num_nodes == 562
    with pytest.raises(DatasetError, match=r"ind\.tiny\.test\.index, line \d+: test node id 561 out of range"):
        load_planetoid(write_planetoid(tmp_path / "b", "Tiny", gaps=2), "tiny")


def check_clean_failure(exc: BaseException, file: Path, case: Case, line: int | None, need_line: bool) -> None:
    """The exception is a gcl data error naming ``file`` (and ``line`` when required)."""
    assert isinstance(exc, CLEAN_ERRORS), (
        f"{case.id}: raw {type(exc).__module__}.{type(exc).__name__} leaked: {exc}"
    )
    message = str(exc)
    assert file.name in message, f"{case.id}: the message does not name {file.name}: {message}"
    if need_line:
        assert isinstance(exc, DatasetError) and exc.line == line, (
            f"{case.id}: expected line {line} to be named: {message}"
        )
        assert f"line {line}" in message


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corrupted_copy_fails_cleanly(case: Case, valid_copies: dict[str, tuple[Path, Path]],
                                      tmp_path: Path) -> None:
    layout = LAYOUTS[case.layout]
    spec = layout.files[case.file]
    dataset = _fresh_copy(valid_copies[case.layout], tmp_path / "copy")
    file = _target(dataset, case.file)
    line = corrupt(file, case, spec)
    fail, need_line = must_fail(spec, case.op)
    try:
        layout.load(dataset)
    except Exception as exc:  # noqa: BLE001 - the point is to inspect whatever is raised
        check_clean_failure(exc, file, case, line, need_line)
    else:
        assert not fail, f"{case.id}: the corrupted copy loaded without an error"


# ============================================================================ semantic errors


def _rewrite_npz_in_zip(path: Path, edit: Callable[[dict[str, np.ndarray]], None]) -> None:
    with zipfile.ZipFile(path) as zf:
        member = zf.namelist()[0]
        with np.load(io.BytesIO(zf.read(member))) as npz:
            arrays = dict(npz)
    edit(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, buf.getvalue())


def _rewrite_csv_gz(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress(("\n".join(edit(lines)) + "\n").encode(), mtime=0))


def _unpickled(path: Path) -> Any:
    return pickle.loads(path.read_bytes())


def _pop(arrays: dict[str, np.ndarray], key: str) -> None:
    arrays.pop(key)


def _set(arrays: dict[str, np.ndarray], key: str, value: np.ndarray) -> None:
    arrays[key] = value


def _replace_line(lines: list[str], index: int, text: str) -> list[str]:
    return [*lines[:index], text, *lines[index + 1:]]


@dataclass(frozen=True)
class Semantic:
    """A hand-made error a byte or line mutation rarely produces: the file stays well formed
    but its content does not fit the rest of the dataset."""

    layout: str
    file: str
    what: str
    edit: Callable[[Path], None]
    line: int | None = None


SEMANTIC = [
    Semantic("planetoid", "raw/ind.tiny.graph", "neighbour id beyond the nodes",
             lambda f: _pickle(f, {**_unpickled(f), 3: [4, 10**6]})),
    Semantic("planetoid", "raw/ind.tiny.graph", "a list instead of a dict",
             lambda f: _pickle(f, list(_unpickled(f).values()))),
    Semantic("planetoid", "raw/ind.tiny.y", "one label row fewer than x",
             lambda f: _pickle(f, _unpickled(f)[:-1])),
    Semantic("planetoid", "raw/ind.tiny.ally", "a label column more",
             lambda f: _pickle(f, np.hstack([_unpickled(f), np.zeros((540, 1))]))),
    Semantic("planetoid", "raw/ind.tiny.tx", "a Python list instead of a matrix",
             lambda f: _pickle(f, [[0.0] * 6] * 20)),
    Semantic("planetoid", "raw/ind.tiny.test.index", "a test id inside the training rows",
             lambda f: f.write_text("5\n" + "".join(f.read_text().splitlines(True)[1:])), line=1),
    Semantic("amazon", ".", "npz without the labels array",
             lambda f: _rewrite_npz_in_zip(f, lambda a: _pop(a, "labels"))),
    Semantic("amazon", ".", "adjacency column id beyond the nodes",
             lambda f: _rewrite_npz_in_zip(f, lambda a: a["adj_indices"].__setitem__(0, 99))),
    Semantic("amazon", ".", "fewer labels than nodes",
             lambda f: _rewrite_npz_in_zip(f, lambda a: _set(a, "labels", a["labels"][:-2]))),
    Semantic("amazon", ".", "features for fewer nodes than the adjacency",
             lambda f: _rewrite_npz_in_zip(f, lambda a: _set(a, "attr_shape", np.array([11, 7])))),
    Semantic("ogb", "raw/num-edge-list.csv.gz", "edge counts not summing to the edges",
             lambda f: _rewrite_csv_gz(f, lambda ls: _replace_line(ls, 0, "1"))),
    Semantic("ogb", "raw/edge.csv.gz", "an id valid in a larger graph but not its own (2 nodes)",
             lambda f: _rewrite_csv_gz(f, lambda ls: _replace_line(ls, 2, "0,3")), line=3),
    Semantic("ogb", "raw/edge-feat.csv.gz", "one edge feature row missing",
             lambda f: _rewrite_csv_gz(f, lambda ls: ls[:-1])),
    Semantic("heco", "train_20.npy", "float node ids", lambda f: _save_npy(f, np.array([0.0, 1.0]))),
    Semantic("heco", "labels.npy", "labels as a 3 x 3 matrix", lambda f: _save_npy(f, np.zeros((3, 3), int))),
    Semantic("heco", "p_feat.npz", "a NaN feature",
             lambda f: sp.save_npz(f, sp.csr_matrix(np.full((9, 5), np.nan)))),
    Semantic("meow", "labels.npy", "class ids counted from 0 where the layout counts from 1",
             lambda f: _save_npy(f, np.array([0, 1, 2, 0, 1, 2, 0, 1]))),
    Semantic("lightgcn", "test.txt", "an item id beyond item_list.txt",
             lambda f: f.write_text("0 5\n1 10\n"), line=2),
    Semantic("lightgcl", "valMat.pkl", "a dense array instead of a sparse matrix",
             lambda f: _pickle(f, np.zeros((6, 10)))),
    Semantic("sequences", ".", "one user on two lines",
             lambda f: f.write_text(f.read_text() + "3 1 2 3\n"), line=7),
    Semantic("moleculenet", ".", "semicolons as the delimiter",
             lambda f: f.write_text(f.read_text().replace(",", ";"))),
    Semantic("moleculenet", ".", "a label that is text",
             lambda f: f.write_text(f.read_text().replace("CCN,1", "CCN,yes")), line=5),
]


@pytest.mark.parametrize("case", SEMANTIC, ids=[f"{c.layout}:{c.file}:{c.what}" for c in SEMANTIC])
def test_inconsistent_copy_fails_cleanly(case: Semantic, valid_copies: dict[str, tuple[Path, Path]],
                                         tmp_path: Path) -> None:
    dataset = _fresh_copy(valid_copies[case.layout], tmp_path / "copy")
    file = _target(dataset, case.file)
    case.edit(file)
    label = Case(case.layout, case.file, case.what)
    with pytest.raises(Exception) as info:  # noqa: PT011 - whatever is raised is inspected
        LAYOUTS[case.layout].load(dataset)
    check_clean_failure(info.value, file, label, case.line, case.line is not None)



def test_nul_bytes_are_refused_whatever_the_pandas_version(tmp_path: Path) -> None:
    # pandas < 3 ends a field at a NUL byte ("12\x00" reads as 12); the loaders' byte check
    # names the file and line before pandas sees the text
    import gzip

    from gcl.data.errors import DatasetError
    from gcl.data.text_bytes import read_text_bytes

    plain = tmp_path / "t.csv"
    plain.write_bytes(b"a,b\n1,2\n3\x00,4\n")
    with pytest.raises(DatasetError, match=r"t\.csv, line 3: NUL byte"):
        read_text_bytes(plain)
    packed = tmp_path / "t.csv.gz"
    packed.write_bytes(gzip.compress(b"1,2\n3,4\n"))
    assert read_text_bytes(packed) == b"1,2\n3,4\n"
    packed.write_bytes(gzip.compress(b"1,2\n3,4\n")[:-6])
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        read_text_bytes(packed)
