"""Validation of an OGB dataset folder's CSV tables before OGB's classes process them.

OGB reads its headerless ``raw/*.csv.gz`` tables with pandas and casts them without checks:
a fractional id is truncated, a negative or too large edge id, a split id beyond the graphs
and a short row (read as NaN) all pass silently, and a non-numeric token surfaces as a bare
``ValueError`` that names no file. :func:`check_csv_tables` reads the same tables once (only
when a processed cache is built) and raises :class:`~gcl.data.errors.DatasetError` naming the
file and line of the first problem:

* every table: gzip-readable, not empty, numeric, the same number of fields on every line;
* ``edge.csv.gz``: two integer columns; ``num-node-list`` / ``num-edge-list``: one
  non-negative integer a line, summing to the rows of ``node-feat`` / ``edge.csv.gz``;
* edge ids lie in ``[0, n)`` for the node count ``n`` of the graph the edge belongs to (edges
  are assigned to graphs in file order by ``num-edge-list``; ids are local to their graph);
* ``node-feat`` / ``edge-feat``: no missing value, one row per node / edge;
* ``graph-label`` (one row per graph) / ``node-label`` (one row per node): numeric, missing
  values allowed (multi-task sets leave unknown labels empty);
* ``split/<type>/{train,valid,test}.csv.gz``: non-negative integer ids below the number of
  graphs (``ogbg``) or nodes (``ogbn``).

Only homogeneous, non-binary sets are checked (binary ``data.npz`` sets and heterogeneous
sets have other layouts; link splits are ``.pt`` files). Blank lines are skipped, as OGB's
reader skips them; line numbers are 1-based file lines, blank ones counted (the tables have
no header).
"""
from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path
from typing import Mapping

import numpy as np

from gcl.data.errors import DatasetError
from gcl.data.text_bytes import text_buffer

_INT64_MAX = float(np.iinfo(np.int64).max)


def line_of_row(path: Path, row: int) -> int:
    """The 1-based file line of table row ``row`` (0-based; blank lines are no rows).

    Decompresses the file again: meant for the error path only.
    """
    seen = -1
    with gzip.open(path, "rt", errors="replace") as fh:
        for number, text in enumerate(fh, start=1):
            if text.strip():
                seen += 1
                if seen == row:
                    return number
    return number if seen >= 0 else 1


def read_table(path: Path) -> np.ndarray:
    """One headerless numeric CSV (gzip) as a 2-D float64 array (NaN where a field is empty).

    Raises:
        DatasetError: unreadable or truncated gzip, an empty table, a line with more fields
            than the first, or a token that is not a number (file and line named).
    """
    import pandas as pd

    try:
        frame = pd.read_csv(text_buffer(path, compressed=True), compression=None, header=None)
    except pd.errors.EmptyDataError as exc:
        raise DatasetError(path, "empty table (no rows after decompression)") from exc
    except pd.errors.ParserError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise DatasetError(
            path, f"inconsistent number of fields ({exc})".replace("\n", " ").strip(),
            line=int(found.group(1)) if found else None,
        ) from exc
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise DatasetError(path, f"truncated or corrupt file ({type(exc).__name__}: {exc})") from exc
    columns = []
    for col in frame.columns:
        raw = frame[col]
        if not pd.api.types.is_numeric_dtype(raw):  # a token pandas could not read as a number
            number = pd.to_numeric(raw, errors="coerce")
            bad = np.flatnonzero(raw.notna().to_numpy() & number.isna().to_numpy())
            if bad.size == 0:  # every token converts, but one is beyond 64-bit integers
                bad = np.flatnonzero(np.abs(number.to_numpy(dtype=np.float64)) >= _INT64_MAX)
            row = int(bad[0]) if bad.size else 0
            raise DatasetError(
                path, f"field {col + 1}: {str(raw.iloc[row])[:30]!r} is not a number",
                line=line_of_row(path, row),
            )
        columns.append(raw.to_numpy(dtype=np.float64, na_value=np.nan))
    return np.stack(columns, axis=1)


def _integers(path: Path, table: np.ndarray, what: str, columns: int | None = None) -> np.ndarray:
    """``table`` as int64, checking the column count and that every value is a whole number >= 0."""
    if columns is not None and table.shape[1] != columns:
        raise DatasetError(path, f"expected {columns} column(s) of {what}, found {table.shape[1]}",
                           line=line_of_row(path, 0))
    checks = (
        (np.isnan(table), "missing value (a short line?)"),
        (~np.isnan(table) & (table != np.floor(table)), "not a whole number"),
        (table < 0, "negative"),
        (table >= _INT64_MAX, "too large"),
    )
    for mask, problem in checks:
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size:
            r = int(rows[0])
            value = table[r][mask[r]][0]
            raise DatasetError(path, f"{what}: {value:g} is {problem}", line=line_of_row(path, r))
    return table.astype(np.int64)


def _rows(path: Path, table: np.ndarray, expected: int, per: str, source: str) -> None:
    if table.shape[0] != expected:
        raise DatasetError(
            path, f"{table.shape[0]} rows, expected one per {per}: {expected} per {source}"
        )


def _no_missing(path: Path, table: np.ndarray, what: str) -> None:
    rows = np.flatnonzero(np.isnan(table).any(axis=1))
    if rows.size:
        raise DatasetError(path, f"missing {what} value (a short line?)", line=line_of_row(path, int(rows[0])))


def _first(folder: Path, *names: str) -> Path | None:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return None


def check_csv_tables(folder: Path, prefix: str, meta: Mapping[str, str]) -> None:
    """Check the CSV tables of an OGB dataset folder (see the module docstring).

    Args:
        folder: the dataset folder (``ogb/ogbg_molbace``).
        prefix: ``"ogbg"``, ``"ogbn"`` or ``"ogbl"``.
        meta: the dataset's column of OGB's ``master.csv``.

    Raises:
        DatasetError: the first problem found, naming the file (and line where there is one).
    """
    if meta.get("binary") == "True" or meta.get("is hetero", "False") == "True":
        return
    raw = folder / "raw"
    edge_path = raw / "edge.csv.gz"
    edges = _integers(edge_path, read_table(edge_path), "node ids", columns=2)
    nn_path, ne_path = raw / "num-node-list.csv.gz", raw / "num-edge-list.csv.gz"
    num_nodes = _integers(nn_path, read_table(nn_path), "node counts", columns=1)[:, 0]
    num_edges = _integers(ne_path, read_table(ne_path), "edge counts", columns=1)[:, 0]
    graphs = num_nodes.shape[0]
    if num_edges.shape[0] != graphs:
        raise DatasetError(ne_path, f"{num_edges.shape[0]} rows but {nn_path.name} has {graphs} (one per graph)")
    if int(num_edges.sum()) != edges.shape[0]:
        raise DatasetError(
            ne_path, f"edge counts sum to {int(num_edges.sum())} but {edge_path.name} has {edges.shape[0]} edges"
        )
    total_nodes = int(num_nodes.sum())

    # Edge ids are local to their graph: row r belongs to graph searchsorted(cumsum, r).
    owner = np.repeat(np.arange(graphs), num_edges)
    bad = np.flatnonzero((edges >= num_nodes[owner][:, None]).any(axis=1))
    if bad.size:
        r = int(bad[0])
        g = int(owner[r])
        within = f" of graph {g}" if graphs > 1 else ""
        raise DatasetError(
            edge_path,
            f"node id {int(edges[r].max())} out of range: the {int(num_nodes[g])} nodes{within} "
            f"(per {nn_path.name}) have ids 0..{int(num_nodes[g]) - 1}",
            line=line_of_row(edge_path, r),
        )

    node_source = f"the sum of {nn_path.name}"
    edge_source = f"the rows of {edge_path.name}"
    for name, rows, per, source in (("node-feat", total_nodes, "node", node_source),
                                    ("edge-feat", edges.shape[0], "edge", edge_source)):
        path = raw / f"{name}.csv.gz"
        if path.is_file():
            table = read_table(path)
            _no_missing(path, table, "feature")
            _rows(path, table, rows, per, source)
    for column, rows, per, source in (("additional node files", total_nodes, "node", node_source),
                                      ("additional edge files", edges.shape[0], "edge", edge_source)):
        if meta.get(column, "None") != "None":
            for extra in meta[column].split(","):
                path = _first(raw, f"{extra}.csv.gz", "species.csv.gz" if extra == "node_species" else "")
                if path is not None:
                    _rows(path, read_table(path), rows, per, source)

    label, count, per, source = {"ogbg": ("graph-label", graphs, "graph", f"the rows of {nn_path.name}"),
                                 "ogbn": ("node-label", total_nodes, "node", node_source)
                                 }.get(prefix, (None, 0, "", ""))
    if label is not None and (raw / f"{label}.csv.gz").is_file():
        path = raw / f"{label}.csv.gz"
        _rows(path, read_table(path), count, per, source)
        split_dir = folder / "split" / meta.get("split", "")
        for part in ("train", "valid", "test"):
            path = split_dir / f"{part}.csv.gz"
            if path.is_file():
                ids = _integers(path, read_table(path), f"{per} ids", columns=1)[:, 0]
                over = np.flatnonzero(ids >= count)
                if over.size:
                    raise DatasetError(
                        path, f"{per} id {int(ids[over[0]])} out of range: there are {count} {per}s "
                        f"(ids 0..{count - 1})", line=line_of_row(path, int(over[0])),
                    )
