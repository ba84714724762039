"""negsamp.ray against one machine: the union of the Ray Dataset's rows equals
`negsamp sample` over the same rows in canonical order (one_machine.py), for two
bucket counts and a shuffled, re-blocked input; the README's Ray example runs."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ray

import negsamp
from negsamp import ray as nr
from one_machine import canonical, events, single_machine

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module", autouse=True)
def cluster():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network calls from tests
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.mark.parametrize(
    "buckets, params",
    [
        (None, dict(seed=5, ratio=2, history=3)),
        (3, dict(seed=6, strategy="popularity", alpha=0.75, per_user=5, with_replacement=True, log_q=True)),
    ],
    ids=["uniform", "popularity-replace"],
)
def test_ray_equals_one_machine(tmp_path, buckets, params):
    rows = events(users=80, rows=1500)
    ds = ray.data.from_pandas(rows.sample(frac=1, random_state=1)).repartition(4)
    out = nr.sample(ds, "user", "item", "ts", feature_cols=["price"], buckets=buckets, **params)
    reference = single_machine(rows, tmp_path, sorted(rows.item.unique()), "user", "item", "ts", ["price"], **params)
    pd.testing.assert_frame_equal(canonical(out.to_pandas()), canonical(reference), check_dtype=False)


def test_ray_errors_name_the_fix():
    ds = ray.data.from_pandas(events(users=20, rows=200))
    with pytest.raises(negsamp.ConfigError, match=r"user 20 has 398 rows, more than max_user_rows=100"):
        nr.sample(ds, "user", "item", max_user_rows=100)
    with pytest.raises(negsamp.ConfigError, match="split_at= does not apply here"):
        nr.sample(ds, "user", "item", "ts", split_at=3)


def test_the_readmes_ray_example_runs(tmp_path):
    readme = (REPO / "README.md").read_text()
    section = readme.split("### On Ray\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    rng = np.random.default_rng(0)
    events_dir = tmp_path / "events"
    events_dir.mkdir()
    pd.DataFrame({"user": rng.integers(0, 50, 500), "item": rng.integers(0, 80, 500), "ts": rng.integers(0, 99, 500)}).to_parquet(
        events_dir / "part-0.parquet"
    )
    for name in ('"events/"', '"train/"'):  # Ray's readers and writers take absolute paths best
        assert name in block
        block = block.replace(name, repr(str(tmp_path / name.strip('"'))))
    exec(compile(block, "README.md", "exec"), {})
    train = pd.read_parquet(tmp_path / "train")
    assert {"user", "item", "label", "anchor_item", "ts"} <= set(train.columns)
    assert (train.label == 0).sum() == 4 * (train.label == 1).sum()
