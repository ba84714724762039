"""negsamp on Spark: the single-machine output, computed where the interactions live.

    from negsamp import spark as ns
    out = ns.sample(events, "user", "item", "ts", feature_cols=["price"],
                    strategy="popularity", ratio=4, seed=42, history=20)
    out.write.parquet("train/")

How a run is laid out, and why its rows equal ``negsamp sample``'s:

* The item catalog fixes every item's index, and with it every draw. It is `items`
  (a path to an id-per-line file, as ``ingest --items`` takes, or a list of ids) or,
  by default, the distinct item ids sorted by value — from the same aggregation as
  the counts, independent of partitioning. Popularity weights are the catalog's interaction counts (distinct
  (user, item) pairs) through the engine's own ``count ** alpha``
  (:func:`negsamp.popularity_weights`). Both are broadcast.
* Users are hashed into `buckets` groups; each group's rows are sorted by
  (user, time, item, features) and sampled on one executor by the same engine (a
  store per group), each user from its own stream keyed by (seed, user id). A user's
  draws depend only on the seed, its id, its positives, the catalog and the
  parameters — never on the group, the partitioning or the input's row order.
* So the union of the output equals, row for row, ``negsamp sample`` over a store
  ingested from the same rows sorted by (user, time, item) with ``--items`` the
  catalog (sorting fixes which of two duplicate (user, item) rows is kept and how
  anchors with equal timestamps are ordered).

Output rows: `user_col` and `item_col` (original ids, their input types; the item is
the negative's or the positive's own), ``label`` (1 positive, 0 negative),
``anchor_item`` (the positive the row is paired with), `time_col` and every
`feature_cols` column from that anchor (the article's merge), ``history`` (with
``history=N``: the user's up to N item ids before the anchor, oldest first),
``log_q`` (with ``log_q=True``); in the wide layout ``negatives`` (the row's item
ids) replaces the long layout's one-negative rows.

Limits: a group's rows are held in one executor's memory (pandas), so a user's
positives must fit there; a user with more than `max_user_rows` rows stops the run
before any sampling, naming the user. The parameters are :func:`negsamp.sample`'s,
except the ones about files (``out``, ``format``, ``shards``, ``overwrite``,
``fsync``, ``original_ids``), ``split_at`` (filter the output on the time column),
``exclude``/``skip_unknown`` and ``weights``/``carry`` (use `feature_cols`). The
framework-neutral part (the plan, one group's sampling) is `negsamp._groups`, shared
with :mod:`negsamp.ray`.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Union

from . import ConfigError, PathLike
from . import _groups

__all__ = ["sample"]


def sample(
    df,
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
    """Negative samples of every user of the Spark DataFrame `df`, as a Spark
    DataFrame (lazy; see the module's docs for its rows and the equality with
    ``negsamp sample``). `params` are :func:`negsamp.sample`'s (``strategy``,
    ``ratio``, ``seed``, ``with_replacement``, ``history``, ``layout``, …); `threads`
    are the engine's threads per task; `buckets` the number of user groups (default:
    the input's partition count)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    names = (user_col, item_col, time_col, list(feature_cols))
    columns = [user_col, item_col] + ([time_col] if time_col else []) + names[3]
    _check_columns(df.schema, columns, user_col, item_col, time_col)
    _groups.check_request(params, columns, has_time=time_col is not None)

    df = df.select(*columns)
    if max_user_rows is not None:
        largest = df.groupBy(user_col).count().orderBy(F.desc("count")).first()
        if largest is not None:
            _groups.user_limit(largest[user_col], largest["count"], max_user_rows)
    # One job for the catalog and the popularity counts: distinct (user, item) pairs
    # counted by item. Python orders ints numerically and str by code point — Spark's
    # own order for these types.
    counted = df.select(user_col, item_col).distinct().groupBy(item_col).count().collect()
    counted = [(r[0], r[1]) for r in counted if r[0] is not None]
    if items is None:
        ids = sorted(item for item, _ in counted)
    else:
        ids = _groups.catalog_from(items, not isinstance(df.schema[item_col].dataType, T.StringType))
    found = dict(zip(_groups.as_text(item for item, _ in counted), (n for _, n in counted)))
    plan = df.sparkSession.sparkContext.broadcast(
        _groups.make_plan(names, ids, _groups.catalog_counts(found, ids), params, threads)
    )
    schema = _output_schema(df.schema, names, params)

    def run(pdf):
        return _groups.sample_group(pdf.drop(columns="__negsamp_bucket"), plan.value)

    buckets = buckets or max(1, df.rdd.getNumPartitions())
    bucket = F.pmod(F.xxhash64(F.col(user_col).cast("string")), F.lit(buckets))
    return df.withColumn("__negsamp_bucket", bucket).groupBy("__negsamp_bucket").applyInPandas(run, schema)


def _check_columns(schema, columns: List[str], user_col: str, item_col: str, time_col: Optional[str]) -> None:
    """The named columns exist and have types the engine reads the way one machine's
    ingest does."""
    from pyspark.sql import types as T

    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise ConfigError(f"no column named {missing[0]!r} (columns: {', '.join(schema.names)})")
    id_types = (T.StringType, T.IntegerType, T.LongType, T.ShortType, T.ByteType)
    for col in (user_col, item_col):
        if not isinstance(schema[col].dataType, id_types):
            raise ConfigError(f"{col}: ids must be strings or integers, not {schema[col].dataType.simpleString()}")
    time_types = (T.IntegerType, T.LongType, T.TimestampType, T.TimestampNTZType, T.DateType)
    if time_col and not isinstance(schema[time_col].dataType, time_types):
        raise ConfigError(f"{time_col}: times must be integers, timestamps or dates")


def _output_schema(schema, names, params):
    from pyspark.sql import types as T

    item_type = schema[names[1]].dataType
    kinds = {
        "label": lambda name: T.StructField(name, T.ByteType(), False),
        "item": lambda name: T.StructField(name, item_type, False),
        "items": lambda name: T.StructField(name, T.ArrayType(item_type, False), False),
        "log_q": lambda name: T.StructField(name, T.FloatType(), True),
    }
    return T.StructType(
        [kinds[kind](name) if kind in kinds else schema[name] for name, kind in _groups.output_columns(names, params)]
    )
