"""The engine on groups of users: what a distributed run (`negsamp.spark`,
`negsamp.ray`) does on the driver and on each worker, whatever the framework.

A run's rows equal one machine's because everything a user's draws depend on is fixed
before the data is split: the item catalog (every item's index), the popularity
weights (the catalog's interaction counts through the engine's own ``count ** alpha``)
and the parameters travel in a `Plan`; each group's rows are put in one canonical
order, ingested as a store with that catalog and sampled by the engine, each user from
its stream keyed by (seed, user id).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import ConfigError, Error, PathLike, ingest, load, popularity_weights
from . import sample as _sample_store

# Parameters of negsamp.sample that do not apply to a distributed run, and why.
NOT_DISTRIBUTED = {
    "out": "the result is a distributed table: write it with its own writer",
    "format": "the result is a distributed table: write it with its own writer",
    "shards": "the framework partitions the result",
    "overwrite": "the result is a distributed table",
    "fsync": "the result is a distributed table",
    "original_ids": "the ids are the input's columns already",
    "split_at": "filter the result on the time column",
    "exclude": "not supported on distributed runs yet (negsamp.sample on one machine takes it)",
    "skip_unknown": "exclude is not supported on distributed runs yet",
    "weights": "not supported on distributed runs yet; popularity weights come from the data",
    "carry": "name the columns in feature_cols",
    "user_emb": "hard negatives need the store's row order; not supported on distributed runs yet",
    "item_emb": "hard negatives need the store's row order; not supported on distributed runs yet",
}
NOT_DISTRIBUTED.update(
    dict.fromkeys(
        ["candidates", "base", "skip_top", "pick", "temperature", "hard_fraction", "metric"]
        + ["user_emb_ids", "item_emb_ids", "query_emb"],
        "hard negatives are not supported on distributed runs yet",
    )
)

# Engine columns holding item indices, padded with the catalog size.
ITEM_LISTS = ("history", "negatives")

# The rows' columns besides the input's, with what each holds.
ADDED_COLUMNS = ("label", "anchor_item", "history", "negatives", "log_q")

Names = Tuple[str, str, Optional[str], List[str]]


@dataclass(frozen=True)
class Plan:
    """What every group needs: fixed on the driver, sent to the workers."""

    names: Names  # user, item, time (or None), features
    catalog_text: bytes  # items.txt: the catalog's ids, one per line
    item_values: list  # the catalog's ids, in the item column's type
    weights: Optional[np.ndarray]  # popularity weights by item index, or None
    params: Dict[str, Any]  # negsamp.sample's keyword arguments (alpha folded into weights)
    threads: int


def check_request(params: Mapping[str, Any], columns: Sequence[str], has_time: bool) -> None:
    """Parameters that apply, input columns that do not collide with the output's, and
    the parameters validated on the driver with the command line's messages (by
    sampling a one-row store): a mistake fails here, not inside a worker."""
    for name in params:
        if name in NOT_DISTRIBUTED:
            raise ConfigError(f"{name}= does not apply here: {NOT_DISTRIBUTED[name]}")
    taken = sorted(set(ADDED_COLUMNS) & set(columns))
    if taken:
        raise ConfigError(f"column {taken[0]!r} would collide with an output column; rename it first")
    with tempfile.TemporaryDirectory(prefix="negsamp-groups-") as tmp:
        path = _write(tmp, "one.csv", b"user,item,timestamp\nu,a,0\n" if has_time else b"user,item\nu,a\n")
        ingest(path, os.path.join(tmp, "s.store"), items=_write(tmp, "items.txt", b"a\nb\n"))
        _sample_store(os.path.join(tmp, "s.store"), os.path.join(tmp, "out"), **params)


def catalog_from(items: Union[PathLike, Sequence[Any]], integers: bool) -> List[Any]:
    """A given catalog (a file, one id per line, as ``ingest --items`` takes, or a list),
    in the item column's type."""
    if isinstance(items, (str, os.PathLike)):
        with open(items, encoding="utf-8") as f:
            ids = [line.rstrip("\n") for line in f]
    else:
        ids = list(items)
    if not integers:
        return [str(i) for i in ids]
    try:
        return [int(i) for i in ids]
    except ValueError as e:
        raise ConfigError(f"items=: {e}; the item column holds integers") from None


def as_text(ids: Iterable[Any]) -> List[str]:
    """Ids as the engine spells them (Arrow's text form: what ingest reads)."""
    import pyarrow as pa

    return pa.array(list(ids)).cast(pa.string()).to_pylist()


def catalog_counts(found: Mapping[str, int], ids: Sequence[Any]) -> np.ndarray:
    """Each catalog item's interaction count (distinct users), from the counts `found`
    in the data keyed by id text; an item of the data outside the catalog is an error."""
    index = {text: i for i, text in enumerate(as_text(ids))}
    unknown = sorted(item for item in found if item not in index)
    if unknown:
        raise ConfigError(
            f"{len(unknown)} items of the data are not in the catalog (items=), {unknown[0]!r} first: "
            "add them, or filter their rows out"
        )
    counts = np.zeros(len(index), dtype=np.uint64)
    for item, count in found.items():
        counts[index[item]] = count
    return counts


def make_plan(names: Names, ids: Sequence[Any], counts: np.ndarray, params: Dict[str, Any], threads: int) -> Plan:
    params = dict(params)
    weights = None
    if params.get("strategy") == "popularity":
        alpha = params.pop("alpha", None)
        weights = popularity_weights(counts, 1.0 if alpha is None else float(alpha))
    catalog_text = "".join(f"{text}\n" for text in as_text(ids)).encode()
    return Plan(names, catalog_text, list(ids), weights, params, threads)


def user_limit(user: Any, rows: int, max_user_rows: int) -> None:
    if rows > max_user_rows:
        raise ConfigError(
            f"user {user!r} has {rows} rows, more than max_user_rows={max_user_rows}: "
            "a user's rows are sampled in one worker's memory; raise max_user_rows if they fit there, "
            "or filter that user out"
        )


def output_columns(names: Names, params: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """The rows' columns in order, each with what it holds: ``user``, ``item`` (an
    id of the item column), ``label``, ``time``/``feature`` (the input's column),
    ``items`` (a list of item ids) or ``log_q``."""
    user_col, item_col, time_col, feature_cols = names
    columns = [(user_col, "user"), (item_col, "item")]
    wide = params.get("layout") == "wide"
    if not wide:
        columns += [("label", "label"), ("anchor_item", "item")]
    columns += [(time_col, "time")] if time_col else []
    columns += [(c, "feature") for c in feature_cols]
    if params.get("history"):
        columns.append(("history", "items"))
    if wide:
        columns.append(("negatives", "items"))
    if params.get("log_q"):
        columns.append(("log_q", "log_q"))
    return columns


def sample_group(pdf, plan: Plan):
    """One group of users, on a worker: its rows as a store (canonical order, the run's
    catalog), sampled by the engine, decoded back to the input's values."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    user_col, item_col, time_col, feature_cols = plan.names
    times = [time_col] if time_col else []
    for col in [user_col, item_col] + times:
        nulls = pdf[col].isna()
        if nulls.any():
            raise Error(f"{col} is null in {int(nulls.sum())} rows: filter them out or fill them before sampling")
    pdf = pdf.sort_values(_sort_keys(pdf, plan.names), kind="mergesort").reset_index(drop=True)
    params = dict(plan.params)
    with tempfile.TemporaryDirectory(prefix="negsamp-group-") as tmp:
        rows = os.path.join(tmp, "rows.parquet")
        pq.write_table(pa.Table.from_pandas(pdf[[user_col, item_col] + times], preserve_index=False), rows)
        store = os.path.join(tmp, "s.store")
        options = dict(user_col=user_col, item_col=item_col, items=_write(tmp, "items.txt", plan.catalog_text))
        options.update(time_col=time_col) if time_col else options.update(no_time=True)
        ingest(rows, store, threads=plan.threads, **options)
        if plan.weights is not None:
            params["weights"] = os.path.join(tmp, "weights.npy")
            np.save(params["weights"], plan.weights)
        _sample_store(store, os.path.join(tmp, "out"), threads=plan.threads, **params)
        cols = load(os.path.join(tmp, "out"), as_="numpy", memory_map=False, ids=False)

    integers = pd.api.types.is_integer_dtype(pdf[item_col])
    # (NumPy's own dtype: Ray hands over Arrow-backed columns.)
    item_values = np.asarray(plan.item_values, dtype=pdf[item_col].to_numpy().dtype if integers else object)
    # Every row's anchor is a row of the group's file: its user, time and features.
    anchor = pdf.iloc[cols["anchor"].astype(np.int64)].reset_index(drop=True)
    out = {user_col: anchor[user_col]}
    if "label" in cols:
        out[item_col] = pd.Series(item_values[cols["item"]])
        out["label"] = pd.Series(cols["label"].astype(np.int8))
        out["anchor_item"] = anchor[item_col]
    else:  # wide: the row is its positive
        out[item_col] = anchor[item_col]
    for col in times + list(feature_cols):
        out[col] = anchor[col]
    for name in ITEM_LISTS:
        if name in cols:
            out[name] = _item_lists(cols[name], item_values, len(item_values))
    if "log_q" in cols:
        out["log_q"] = pd.Series(cols["log_q"])
    return pd.DataFrame(out)


def _sort_keys(pdf, names: Names) -> List[str]:
    """(user, time, item), then the orderable features: fixes which of two duplicate
    (user, item) rows is kept, whatever order the shuffle delivered them in."""
    from pandas.api import types as pt

    user_col, item_col, time_col, feature_cols = names
    orderable = [
        c
        for c in feature_cols
        if pt.is_numeric_dtype(pdf[c]) or pt.is_datetime64_any_dtype(pdf[c]) or pt.is_string_dtype(pdf[c])
    ]
    return [user_col] + ([time_col] if time_col else []) + [item_col] + orderable


def _item_lists(padded: np.ndarray, item_values: np.ndarray, pad: int):
    """A padded [rows, N] index matrix as one list of item ids per row."""
    import pandas as pd

    padded = padded.reshape(len(padded), -1)
    present = padded != pad
    flat = item_values[padded[present]]
    return pd.Series(np.split(flat, np.cumsum(present.sum(axis=1))[:-1]))


def _write(directory: str, name: str, data: bytes) -> str:
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(data)
    return path
