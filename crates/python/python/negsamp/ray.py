"""negsamp on Ray Data: the single-machine output from a Ray Dataset.

    import ray
    from negsamp import ray as nr
    out = nr.sample(ray.data.read_parquet("events/"), "user", "item", "ts",
                    strategy="popularity", ratio=4, seed=42)
    out.write_parquet("train/")

The same run as :mod:`negsamp.spark` (its docs say what the rows are, why they equal
``negsamp sample``'s and what does not apply): the catalog and the popularity counts
come from one aggregation on the cluster, users are hashed into `buckets` groups
(``map_groups`` over user-grouped batches), and each group is sampled by the engine
(`negsamp._groups`).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

from . import ConfigError, PathLike
from . import _groups

__all__ = ["sample"]

_BUCKET = "__negsamp_bucket"


def sample(
    ds,
    user_col: str = "user",
    item_col: str = "item",
    time_col: Optional[str] = None,
    *,
    feature_cols: Sequence[str] = (),
    items: Union[None, PathLike, Sequence[Any]] = None,
    buckets: Optional[int] = None,
    max_user_rows: Optional[int] = 20_000_000,
    threads: int = 1,
    **params: Any,
):
    """Negative samples of every user of the Ray Dataset `ds`, as a Ray Dataset (lazy).
    Arguments as :func:`negsamp.spark.sample`; `buckets` defaults to the cluster's
    CPU count."""
    import pyarrow as pa

    names = (user_col, item_col, time_col, list(feature_cols))
    columns = [user_col, item_col] + ([time_col] if time_col else []) + names[3]
    schema = ds.schema()
    types = dict(zip(schema.names, schema.types))
    missing = [c for c in columns if c not in types]
    if missing:
        raise ConfigError(f"no column named {missing[0]!r} (columns: {', '.join(schema.names)})")
    for col in (user_col, item_col):
        if not (pa.types.is_integer(types[col]) or pa.types.is_string(types[col]) or pa.types.is_large_string(types[col])):
            raise ConfigError(f"{col}: ids must be strings or integers, not {types[col]}")
    if time_col and not any(
        check(types[time_col]) for check in (pa.types.is_integer, pa.types.is_timestamp, pa.types.is_date)
    ):
        raise ConfigError(f"{time_col}: times must be integers, timestamps or dates")
    _groups.check_request(params, columns, has_time=time_col is not None)

    ds = ds.select_columns(columns)
    if max_user_rows is not None:
        largest = ds.groupby(user_col).count().sort("count()", descending=True).take(1)
        if largest:
            _groups.user_limit(largest[0][user_col], largest[0]["count()"], max_user_rows)
    # One aggregation for the catalog and the popularity counts: distinct (user, item)
    # pairs counted by item.
    counted = ds.groupby([user_col, item_col]).count().groupby(item_col).count().to_pandas()
    counted = counted[counted[item_col].notna()]
    if items is None:
        ids = sorted(counted[item_col].tolist())
    else:
        ids = _groups.catalog_from(items, pa.types.is_integer(types[item_col]))
    found = dict(zip(_groups.as_text(counted[item_col].tolist()), counted["count()"].tolist()))
    plan = _groups.make_plan(names, ids, _groups.catalog_counts(found, ids), params, threads)

    if buckets is None:
        import ray

        buckets = max(1, int(ray.cluster_resources().get("CPU", 1)))

    def bucket(batch):
        import pandas as pd

        text = batch[user_col].astype(str)
        batch[_BUCKET] = (pd.util.hash_pandas_object(text, index=False).to_numpy() % buckets).astype("int64")
        return batch

    def run(pdf):
        return _groups.sample_group(pdf.drop(columns=_BUCKET), plan)

    grouped = ds.map_batches(bucket, batch_format="pandas").groupby(_BUCKET)
    return grouped.map_groups(run, batch_format="pandas")
