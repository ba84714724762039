"""negsamp.spark against one machine: for 1, 3 and 8 partitions and a shuffled input,
the union of the Spark output equals, row for row, `negsamp sample` over a store
ingested from the same rows (sorted by user, time, item) with the same catalog —
uniform and popularity, with and without replacement, carried features and history,
string ids and the wide layout. Spark runs in local mode (local[2])."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

import negsamp
from negsamp import spark as ns
from one_machine import canonical, events, single_machine

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def spark():
    session = (
        SparkSession.builder.master("local[2]")
        .appName("negsamp-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def assert_same_rows(spark_out, reference):
    pd.testing.assert_frame_equal(canonical(spark_out.toPandas()), canonical(reference), check_dtype=False)


def never_a_positive(out, rows):
    positives = set(zip(rows.user, rows.item))
    negatives = out[out.label == 0]
    assert len(negatives) > 0
    assert not any(pair in positives for pair in zip(negatives.user, negatives.item))


@pytest.mark.parametrize("partitions", [1, 3, 8])
@pytest.mark.parametrize(
    "params",
    [
        dict(seed=5, ratio=2, history=3),
        dict(seed=5, ratio=2, with_replacement=True),
        dict(seed=6, strategy="popularity", ratio=3, log_q=True, history=2),
        dict(seed=6, strategy="popularity", alpha=0.75, per_user=5, with_replacement=True),
    ],
    ids=["uniform", "uniform-replace", "popularity", "popularity-replace"],
)
def test_spark_equals_one_machine(spark, tmp_path, partitions, params):
    rows = events()
    shuffled = rows.sample(frac=1, random_state=partitions)  # any input order
    df = spark.createDataFrame(shuffled).repartition(partitions)
    out = ns.sample(df, "user", "item", "ts", feature_cols=["price"], **params)
    ids = sorted(rows.item.unique())
    reference = single_machine(rows, tmp_path, ids, "user", "item", "ts", ["price"], **params)
    assert_same_rows(out, reference)
    never_a_positive(reference, rows)


def test_string_ids_a_given_catalog_and_the_wide_layout(spark, tmp_path):
    rows = events(seed=3, users=60, items=120, rows=900)
    names = ["Smith, John", 'say "hi"', "NA", "007", "Zoë"]
    rows["user"] = [names[u % 5] + f"-{u}" if u % 7 else names[u % 5] for u in rows.user]
    rows["item"] = [f"i{i:03d}" for i in rows.item]
    ids = [f"i{i:03d}" for i in range(130)]  # a catalog wider than the data: untouched items
    (tmp_path / "catalog.txt").write_text("".join(f"{i}\n" for i in ids[::-1]))
    catalog = tmp_path / "catalog.txt"
    df = spark.createDataFrame(rows[["user", "item"]]).repartition(3)
    for params in (dict(seed=2, strategy="popularity", ratio=2), dict(seed=2, layout="wide", ratio=3)):
        out = ns.sample(df, "user", "item", items=catalog, **params)
        reference = tmp_path / params.get("layout", "long")
        reference.mkdir()
        want = single_machine(rows[["user", "item"]], reference, ids[::-1], "user", "item", None, [], **params)
        assert_same_rows(out, want)


def test_timestamp_times_come_back_as_timestamps(spark, tmp_path):
    rows = events(seed=4, users=40, items=100, rows=600)
    rows["ts"] = pd.Timestamp("2024-05-01") + pd.to_timedelta(rows.ts * 3600, unit="s")
    df = spark.createDataFrame(rows).repartition(3)
    params = dict(seed=9, strategy="popularity", ratio=2, history=2)
    out = ns.sample(df, "user", "item", "ts", feature_cols=["price"], **params)
    assert dict(out.dtypes)["ts"] == "timestamp"
    ids = sorted(rows.item.unique())
    assert_same_rows(out, single_machine(rows, tmp_path, ids, "user", "item", "ts", ["price"], **params))


def test_spark_errors_name_the_fix(spark):
    rows = events(users=20, rows=200)
    df = spark.createDataFrame(rows)
    with pytest.raises(negsamp.ConfigError, match="did you mean `ratio`"):
        ns.sample(df, "user", "item", ratoi=2)
    with pytest.raises(negsamp.ConfigError, match="out= does not apply here: .* write it with its own writer"):
        ns.sample(df, "user", "item", out="x")
    with pytest.raises(negsamp.ConfigError, match="user_emb= does not apply here"):
        ns.sample(df, "user", "item", strategy="hard", user_emb="u.npy", item_emb="i.npy", candidates=4)
    with pytest.raises(negsamp.ConfigError, match="no column named 'when'"):
        ns.sample(df, "user", "item", "when")
    with pytest.raises(negsamp.ConfigError, match=r"user 20 has 398 rows, more than max_user_rows=100"):
        ns.sample(df, "user", "item", max_user_rows=100)
    with pytest.raises(negsamp.ConfigError, match=f"{rows.item.nunique() - 5} items of the data are not in the catalog .*'10' first"):
        ns.sample(df, "user", "item", items=[str(i) for i in range(5)])


def test_the_readmes_spark_example_runs(spark, tmp_path):
    readme = (REPO / "README.md").read_text()
    section = readme.split("### On Spark\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    rng = np.random.default_rng(0)
    pd.DataFrame(
        {"user": rng.integers(0, 50, 500), "item": rng.integers(0, 80, 500), "ts": rng.integers(0, 99, 500), "price": 1.5}
    ).to_parquet(tmp_path / "events.parquet")
    # The JVM resolves relative paths against its own working directory (the one the
    # session started in), so the example's paths are made absolute here.
    for name in ('"events.parquet"', '"train/"'):
        assert name in block
        block = block.replace(name, repr(str(tmp_path / name.strip('"'))))
    exec(compile(block, "README.md", "exec"), {})
    train = pd.read_parquet(tmp_path / "train")
    assert {"user", "item", "label", "anchor_item", "ts", "price", "history"} <= set(train.columns)
    assert (train.label == 0).sum() == 4 * (train.label == 1).sum()
