"""negsamp: exact, fast, reproducible negative sampling for implicit-feedback data.

The engine is Rust (`negsamp._negsamp`); every parameter has the name, default and
validation of the `negsamp` command line (``with_replacement=True`` is
``--with-replacement``). Long calls release the GIL.

    import negsamp
    negsamp.ingest("events.csv", "s.store", keep=["price"])
    negsamp.sample("s.store", "train/", strategy="popularity", ratio=4, seed=42, format="parquet")
    df = negsamp.load("train/")                      # every part, original ids decoded
    cols = negsamp.sample("s.store", ratio=4)        # no `out`: the columns in memory

On Spark, :func:`negsamp.spark.sample` gives the same rows from a DataFrame.
"""

from __future__ import annotations

import datetime as _dt
import json as _json
import os as _os
import tempfile as _tempfile
from pathlib import Path as _Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import numpy as _np

from . import _negsamp
from ._negsamp import BusyError, ConfigError, Error, Store

__all__ = [
    "Error",
    "ConfigError",
    "BusyError",
    "Store",
    "Dataset",
    "ingest",
    "sample",
    "sample_csr",
    "load",
    "popularity_weights",
]

PathLike = Union[str, "_os.PathLike[str]"]


def _params(params: Dict[str, Any]) -> Dict[str, Any]:
    """Python values the command line understands: dates as ISO-8601 text."""
    out = {}
    for key, value in params.items():
        if isinstance(value, (_dt.date, _dt.datetime)):
            value = value.isoformat()
        out[key] = value
    return out


def ingest(input: PathLike, out: PathLike, *, threads: Optional[int] = None, **params: Any) -> dict:
    """Builds the store `out` from `input` (CSV/TSV, gzip/zstd, Parquet file or
    directory), like ``negsamp ingest INPUT --out OUT``; keyword arguments are its
    options (``user_col="u"``, ``keep=["price"]``, ``overwrite=True``). Returns the
    summary (rows, users, items, interactions, …)."""
    return _json.loads(_negsamp.ingest(_os.fspath(input), _os.fspath(out), _params(params), threads))


def sample(
    store: Union[PathLike, Store],
    out: Optional[PathLike] = None,
    *,
    threads: Optional[int] = None,
    as_: str = "numpy",
    **params: Any,
):
    """Samples every user of `store`, like ``negsamp sample STORE --out OUT``.

    With `out`, writes the dataset exactly as the command line would (the same bytes)
    and returns the run's summary (a list: one entry per dataset, two with
    ``split_at``). Without `out`, returns the columns in memory: a dict of NumPy
    arrays (``as_="numpy"``), a pandas DataFrame (``"pandas"``) or an Arrow table
    (``"arrow"``), with ``user_id``/``item_id`` holding the original ids.
    """
    store_path = store.path if isinstance(store, Store) else _os.fspath(store)
    params = _params(params)
    if out is not None:
        return _json.loads(_negsamp.sample(store_path, _os.fspath(out), params, threads))
    if params.get("split_at") is not None:
        raise ConfigError("split_at writes two datasets: give `out` and load(out + '/train'), load(out + '/test')")
    with _tempfile.TemporaryDirectory(prefix="negsamp-") as tmp:
        target = _os.path.join(tmp, "ds")
        _negsamp.sample(store_path, target, params, threads)
        return load(target, as_=as_, memory_map=False)


def sample_csr(
    indptr,
    indices,
    n_items: int,
    out: Optional[PathLike] = None,
    *,
    user_ids: Optional[Sequence[Any]] = None,
    item_ids: Optional[Sequence[Any]] = None,
    store_dir: Optional[PathLike] = None,
    threads: Optional[int] = None,
    as_: str = "numpy",
    **params: Any,
):
    """Samples a CSR matrix (``scipy.sparse.csr_matrix`` parts or NumPy arrays): rows
    are users, columns items, stored entries positives; indices must be sorted and
    distinct per row (scipy: ``sort_indices()``, ``sum_duplicates()``).

    Users are named by `user_ids` (else their row numbers) and items by `item_ids`
    (else their column numbers); a user's draws depend on its id, so with the ids of a
    store the output equals ``sample(store)``'s for those users. Anchors are entry
    positions (row-major); there are no timestamps. `out`, `as_` and the keyword
    parameters are as in :func:`sample`; the matrix's store goes to `store_dir` (kept)
    or a temporary directory.
    """
    indptr = _np.ascontiguousarray(indptr, dtype=_np.uint64)
    indices = _np.ascontiguousarray(indices, dtype=_np.uint32)
    names = lambda ids: None if ids is None else [str(i) for i in ids]  # noqa: E731
    params = _params(params)
    store_dir = None if store_dir is None else _os.fspath(store_dir)

    def run(target: str) -> str:
        return _negsamp.sample_csr(
            indptr, indices, int(n_items), target, names(user_ids), names(item_ids), store_dir, params, threads
        )

    if out is not None:
        return _json.loads(run(_os.fspath(out)))
    with _tempfile.TemporaryDirectory(prefix="negsamp-") as tmp:
        target = _os.path.join(tmp, "ds")
        run(target)
        return load(target, as_=as_, memory_map=False)


def popularity_weights(counts, alpha: float = 1.0) -> _np.ndarray:
    """The popularity strategy's item weights from per-item interaction counts:
    ``count ** alpha``, 0 for an item nobody touched — computed by the engine itself,
    so counts aggregated elsewhere (:mod:`negsamp.spark`) give a store's draws."""
    return _negsamp.popularity_weights(_np.ascontiguousarray(counts, dtype=_np.uint64), float(alpha))


def _read_ids(path: _Path) -> _np.ndarray:
    """An id file (one id per line, UTF-8, no quoting) as an object array of str —
    exactly: `Smith, John`, `NA` and `007` stay what they are."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return _np.array([line.decode("utf-8") for line in lines], dtype=object)


class Dataset:
    """A dataset written by ``negsamp sample``: its manifest, parts and id maps."""

    def __init__(self, path: PathLike):
        self.path = _Path(path)
        manifest = self.path / "manifest.json"
        self.format = "npy"
        if not manifest.exists():
            manifest = self.path / "_manifest.json"
            self.format = "parquet"
        if not manifest.exists():
            sides = [self.path / s for s in ("train", "test")]
            if all((s / "manifest.json").exists() or (s / "_manifest.json").exists() for s in sides):
                raise Error(f"{self.path} holds a split: load {sides[0]} and {sides[1]}")
            raise Error(f"{self.path} is not a negsamp dataset (no manifest.json)")
        self.manifest: dict = _json.loads(manifest.read_text())
        self._prefix = "_" if self.format == "parquet" else ""

    @property
    def columns(self) -> List[str]:
        return [c["name"] for c in self.manifest["columns"]]

    @property
    def parts(self) -> List[dict]:
        return self.manifest["parts"]

    def user_ids(self) -> _np.ndarray:
        """Original user ids by user index (object array of str)."""
        return _read_ids(self.path / f"{self._prefix}users.txt")

    def item_ids(self) -> _np.ndarray:
        """Original item ids by item index (object array of str)."""
        return _read_ids(self.path / f"{self._prefix}items.txt")

    def part(self, index: int, memory_map: bool = True) -> Dict[str, _np.ndarray]:
        """Part `index` as NumPy arrays (`.npy`: memory-mapped read-only views unless
        ``memory_map=False``; Parquet: read with pyarrow)."""
        part = self.parts[index]
        if self.format == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(self.path / f"{part['name']}.parquet")
            return {name: _column_to_numpy(table.column(name)) for name in table.column_names}
        mode = "r" if memory_map else None
        return {
            name: _np.load(self.path / part["name"] / f"{name}.npy", mmap_mode=mode) for name in self.columns
        }

    def __iter__(self) -> Iterator[Dict[str, _np.ndarray]]:
        for index in range(len(self.parts)):
            yield self.part(index)

    def __len__(self) -> int:
        return int(self.manifest["totals"]["rows"])

    def __repr__(self) -> str:
        return f"negsamp.Dataset({str(self.path)!r}: {len(self)} rows in {len(self.parts)} parts, {self.format})"


def _column_to_numpy(column) -> _np.ndarray:
    try:
        return column.to_numpy()
    except Exception:  # lists and dictionaries: as object arrays
        return _np.array(column.to_pylist(), dtype=object)


def load(path: PathLike, as_: str = "pandas", memory_map: bool = True, ids: bool = True):
    """Every part of the dataset at `path`, concatenated: a pandas DataFrame
    (``as_="pandas"``), an Arrow table (``"arrow"``) or a dict of NumPy arrays
    (``"numpy"``; `.npy` parts of one part stay memory-mapped views). With `ids`,
    ``user_id`` and ``item_id`` hold the original ids, decoded exactly."""
    ds = Dataset(path)
    if as_ not in ("pandas", "arrow", "numpy"):
        raise ConfigError(f"as_={as_!r}: choose 'pandas', 'arrow' or 'numpy'")
    parts = [ds.part(i, memory_map=memory_map) for i in range(len(ds.parts))]
    names = list(parts[0]) if parts else ds.columns
    columns: Dict[str, _np.ndarray] = {}
    for name in names:
        arrays = [p[name] for p in parts]
        columns[name] = arrays[0] if len(arrays) == 1 else _np.concatenate(arrays)
    if ids and "user_id" not in columns:
        if "user" in columns:
            columns["user_id"] = ds.user_ids()[_np.asarray(columns["user"], dtype=_np.int64)]
        if "item" in columns:
            columns["item_id"] = ds.item_ids()[_np.asarray(columns["item"], dtype=_np.int64)]
    if as_ == "numpy":
        return columns
    if as_ == "arrow":
        import pyarrow as pa

        return pa.table({k: pa.array(list(v)) if v.ndim > 1 else v for k, v in columns.items()})
    import pandas as pd

    return pd.DataFrame({k: list(v) if v.ndim > 1 else v for k, v in columns.items()})
