"""The Python package against the command line and the article: same bytes as the
CLI, CSR input equal to the store path, ids decoded exactly, the pandas drop-in's
counts and law, the GIL released, errors as exceptions. Run by scripts/test on the
installed wheel: NEGSAMP_BIN names the CLI binary."""

import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import negsamp
import negsamp.pandas

REPO = Path(__file__).resolve().parents[3]
BIN = str(Path(os.environ.get("NEGSAMP_BIN", REPO / "target" / "release" / "negsamp")).resolve())


def cli(*args):
    done = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    d = tmp_path_factory.mktemp("events")
    cli("generate", "--out", d / "events.csv", "--users", 2000, "--features", "--seed", 3, "-q")
    cli("ingest", d / "events.csv", "--out", d / "s.store", "--keep", "price,category", "-q")
    return d


def files(dataset: Path):
    """Every data file of a dataset by relative path (manifests compared without their
    timing and store path)."""
    out = {}
    for f in sorted(dataset.rglob("*")):
        if f.is_file():
            data = f.read_bytes()
            if f.name.endswith("manifest.json"):
                m = __import__("json").loads(data)
                m.pop("elapsed_seconds")
                m["store"].pop("path")
                data = repr(m).encode()
            out[str(f.relative_to(dataset))] = data
    return out


PARAMS = [
    dict(seed=7),
    dict(seed=7, strategy="popularity", ratio=3, with_replacement=True),
    dict(seed=1, carry=["price", "category"], history=4, format="parquet", shards=3),
    dict(seed=2, strategy="popularity", alpha=0.5, split_at=1_700_000_000, layout="wide", ratio=2),
]


def as_flags(params):
    flags = []
    for key, value in params.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif isinstance(value, list):
            flags += [flag, ",".join(map(str, value))]
        else:
            flags += [flag, str(value)]
    return flags


@pytest.mark.parametrize("params", PARAMS)
def test_same_bytes_as_the_cli(events, tmp_path, params):
    cli("sample", events / "s.store", "--out", tmp_path / "cli", *as_flags(params), "-q")
    summary = negsamp.sample(events / "s.store", tmp_path / "py", **params)
    assert summary[0]["rows"] > 0
    assert files(tmp_path / "cli") == files(tmp_path / "py")


def test_ingest_equals_the_cli(events, tmp_path):
    summary = negsamp.ingest(events / "events.csv", tmp_path / "p.store", keep=["price", "category"])
    assert summary["users"] == 2000
    for name in ("store.bin", "users.txt", "items.txt"):
        assert (tmp_path / "p.store" / name).read_bytes() == (events / "s.store" / name).read_bytes()


def test_in_memory_columns_equal_the_written_dataset(events, tmp_path):
    cols = negsamp.sample(events / "s.store", seed=9, ratio=2)
    negsamp.sample(events / "s.store", tmp_path / "ds", seed=9, ratio=2)
    ds = negsamp.Dataset(tmp_path / "ds")
    for name in ds.columns:
        assert np.array_equal(cols[name], np.concatenate([p[name] for p in ds]))
    df = negsamp.sample(events / "s.store", seed=9, ratio=2, as_="pandas")
    assert len(df) == len(ds) and (df["label"] == cols["label"]).all()


@pytest.mark.parametrize("fmt", ["npy", "parquet"])
def test_a_u32_anchor_loads_as_the_u64_one(events, tmp_path, fmt):
    wide = negsamp.sample(events / "s.store", tmp_path / "u64", seed=4, format=fmt)
    narrow = negsamp.sample(events / "s.store", tmp_path / "u32", seed=4, format=fmt, anchor_dtype="u32")
    assert wide[0]["rows"] == narrow[0]["rows"]
    a, b = negsamp.load(tmp_path / "u64", ids=False), negsamp.load(tmp_path / "u32", ids=False)
    assert b["anchor"].dtype == np.uint32 and a["anchor"].dtype == np.uint64
    assert (a["anchor"] == b["anchor"]).all() and (a["item"] == b["item"]).all()
    cli("verify", tmp_path / "u32", "--store", events / "s.store", "-q")


def test_write_mode_changes_how_files_are_written_not_their_bytes(events, tmp_path):
    for mode in ["direct", "buffered"]:
        negsamp.ingest(events / "events.csv", tmp_path / f"{mode}.store", write_mode=mode)
        negsamp.sample(tmp_path / f"{mode}.store", tmp_path / mode, seed=4, write_mode=mode)
    read = lambda p: (tmp_path / p).read_bytes()  # noqa: E731
    assert read("direct.store/store.bin") == read("buffered.store/store.bin")
    for column in ["user", "item", "label", "anchor"]:
        assert read(f"direct/part-00000/{column}.npy") == read(f"buffered/part-00000/{column}.npy")
    with pytest.raises(negsamp.ConfigError, match="write-mode|write_mode"):
        negsamp.sample(events / "s.store", tmp_path / "x", write_mode="mmap")


def test_store_views_are_zero_copy_and_read_only(events):
    store = negsamp.Store(events / "s.store")
    indptr, indices = store.indptr, store.indices
    assert indptr.dtype == np.uint64 and indices.dtype == np.uint32
    assert len(indptr) == store.n_users + 1 and indptr[-1] == store.n_interactions == len(indices)
    assert not indptr.flags.writeable and not indptr.flags.owndata
    with pytest.raises(ValueError):
        indices[0] = 1
    del store  # the arrays keep the map alive
    assert int(indices.sum()) >= 0


def test_timestamps_carry_the_recorded_unit(tmp_path):
    csv = tmp_path / "ms.csv"
    csv.write_text("user,item,timestamp\na,x,1714521600000\na,y,1714521600250\nb,x,1433221332117\n")
    expected = np.array(["2024-05-01T00:00:00.000", "2024-05-01T00:00:00.250", "2015-06-02T05:02:12.117"],
                        dtype="datetime64[ms]")
    for params, unit in [({}, "ms"), ({"time_format": "unix-ms"}, "ms"), ({"time_format": "unix-us"}, "us")]:
        out = tmp_path / f"{unit}-{len(params)}.store"
        summary = negsamp.ingest(csv, out, **params)
        assert summary["time_unit"] == unit
        store = negsamp.Store(out)
        assert store.has_timestamps and store.time_unit == unit
        when = store.timestamps.view(f"datetime64[{store.time_unit}]")
        if unit == "ms":
            assert (np.sort(when) == np.sort(expected)).all()
        assert not store.timestamps.flags.writeable
    cli("ingest", csv, "--out", tmp_path / "none.store", "--no-time", "-q")
    store = negsamp.Store(tmp_path / "none.store")
    assert store.time_unit is None and store.timestamps is None


def test_sample_csr_equals_the_store_path(events, tmp_path):
    store = negsamp.Store(events / "s.store")
    params = dict(seed=5, strategy="popularity", ratio=2)
    from_csr = negsamp.sample_csr(
        store.indptr, store.indices, store.n_items,
        user_ids=store.user_ids(), item_ids=store.item_ids(), **params,
    )
    from_store = negsamp.sample(store, **params)
    # The same draws per user; which positive a negative follows depends on anchor
    # order (the store's by timestamp, the matrix's by column), so compare per user.
    triples = lambda c: sorted(zip(c["user_id"], c["item_id"], c["label"]))  # noqa: E731
    assert len(from_csr["user"]) == len(from_store["user"])
    assert triples(from_csr) == triples(from_store)
    # scipy's CSR as it comes (int32 offsets), row numbers as ids.
    scipy = pytest.importorskip("scipy.sparse")
    m = scipy.csr_matrix((np.ones(4), [2, 0, 1, 2], [0, 1, 1, 4]), shape=(3, 4))
    cols = negsamp.sample_csr(m.indptr, m.indices, m.shape[1], seed=1, ratio=1)
    assert list(cols["user_id"][cols["label"] == 1]) == ["0", "2", "2", "2"]
    assert all(i == "3" for i in cols["item_id"][(cols["label"] == 0) & (cols["user_id"] == "2")])
    with pytest.raises(negsamp.Error, match="sort_indices"):
        negsamp.sample_csr(np.array([0, 2]), np.array([1, 0]), 2)


def test_load_decodes_every_id_exactly(tmp_path):
    ids = ["Smith, John", 'say "hi"', "NA", "007", "ünïcödé", "nan", " padded "]
    rows = [(u, i) for u in ids for i in ids[:3] if u != i]
    pd.DataFrame(rows, columns=["user", "item"]).to_parquet(tmp_path / "ids.parquet")
    negsamp.ingest(tmp_path / "ids.parquet", tmp_path / "s.store")
    for fmt in ("npy", "parquet"):
        negsamp.sample(tmp_path / "s.store", tmp_path / fmt, seed=1, format=fmt, original_ids=(fmt == "parquet"))
        df = negsamp.load(tmp_path / fmt)
        assert set(df["user_id"]) == set(ids), fmt
        positives = df[df["label"] == 1]
        assert sorted(zip(positives["user_id"], positives["item_id"])) == sorted(rows), fmt


ARTICLE = pd.DataFrame(
    {
        "user_indice": [1, 1, 2, 2, 2, 3, 3, 4, 4, 5],
        "item_indice": [101, 102, 101, 103, 104, 101, 103, 102, 104, 101],
        "rating": [1] * 10,
    }
)


def test_drop_in_on_the_articles_example():
    expected = {1: 2, 2: 1, 3: 2, 4: 2, 5: 1}  # min(positives, candidates)
    for seed in range(50):
        neg = negsamp.pandas.generate_negative_samples(ARTICLE, seed=seed)
        assert list(neg.columns) == ["user_indice", "item_indice", "rating"]
        assert (neg["rating"] == 0).all() and neg["item_indice"].dtype == ARTICLE["item_indice"].dtype
        assert neg.groupby("user_indice").size().to_dict() == expected
        positives = set(zip(ARTICLE.user_indice, ARTICLE.item_indice))
        assert not positives & set(zip(neg.user_indice, neg.item_indice))
        assert not neg.duplicated().any()
    assert negsamp.pandas.generate_negative_samples(ARTICLE, seed=3).equals(
        negsamp.pandas.generate_negative_samples(ARTICLE, seed=3)
    )


def test_drop_in_follows_the_popularity_law():
    # 4000 probe users whose one positive is X; items a..d are touched 1..4 times by
    # background users, so a probe's negative is a, b, c or d with odds 1:2:3:4.
    probes = [(f"p{k}", "X") for k in range(4000)]
    background = [(f"b{item}{k}", item) for n, item in enumerate("abcd", 1) for k in range(n)]
    df = pd.DataFrame(probes + background, columns=["user_indice", "item_indice"]).assign(rating=1)
    neg = negsamp.pandas.generate_negative_samples(df, seed=11)
    drawn = neg[neg.user_indice.str.startswith("p")]["item_indice"].value_counts()
    observed = np.array([drawn.get(i, 0) for i in "abcd"])
    assert observed.sum() == 4000
    expected = 4000 * np.array([1, 2, 3, 4]) / 10
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < 16.27, (observed, chi2)  # df = 3, p = 0.001


def test_drop_in_adds_the_articles_features():
    df = ARTICLE.assign(ts=[1, 2, 1, 2, 3, 5, 6, 1, 2, 9], price=np.arange(10) * 1.5)
    neg = negsamp.pandas.generate_negative_samples(df, seed=4, timestamp_col="ts", feature_cols=["price"], history=2)
    for row in neg.itertuples():
        pos = df[(df.user_indice == row.user_indice) & (df.ts == row.ts)]
        assert len(pos) == 1 and pos.price.iloc[0] == row.price
        earlier = df[(df.user_indice == row.user_indice) & (df.ts < row.ts)].sort_values("ts")
        assert row.history == list(earlier.item_indice)[-2:]


def test_the_gil_is_released_while_sampling(tmp_path):
    cli("generate", "--out", tmp_path / "big.csv", "--users", 60000, "--seed", 1, "-q")
    negsamp.ingest(tmp_path / "big.csv", tmp_path / "big.store")
    counts, done = [0], threading.Event()

    def spin():
        while not done.is_set():
            counts[0] += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    time.sleep(0.05)
    before = counts[0]
    start = time.perf_counter()
    negsamp.sample(tmp_path / "big.store", tmp_path / "out", ratio=8, threads=1)
    elapsed = time.perf_counter() - start
    during = counts[0] - before
    done.set()
    spinner.join()
    # Holding the GIL, the call would leave the spinner a few switch intervals at most.
    assert elapsed > 0.05 and during > 10_000, (elapsed, during)


def test_errors_are_exceptions_with_the_cli_messages(events, tmp_path):
    with pytest.raises(negsamp.ConfigError, match="did you mean `ratio`"):
        negsamp.sample(events / "s.store", tmp_path / "x", ratoi=2)
    with pytest.raises(negsamp.ConfigError, match="not a whole number"):
        negsamp.sample(events / "s.store", tmp_path / "x", ratio=1.5)
    with pytest.raises(negsamp.ConfigError, match="--strategy popularity"):
        negsamp.sample(events / "s.store", tmp_path / "x", alpha=0.5)
    with pytest.raises(negsamp.Error, match="not a negsamp store|does not exist|No such file"):
        negsamp.Store(tmp_path / "missing.store")
    negsamp.sample(events / "s.store", tmp_path / "y")
    with pytest.raises(negsamp.Error, match="already exists"):
        negsamp.sample(events / "s.store", tmp_path / "y")


def test_the_readmes_python_examples_run(tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Python\n", 1)[1].split("\n### On Spark", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```python\n")[1:]]
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    cli("generate", "--out", "events.csv", "--users", 500, "--features", "-q")
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    train = negsamp.load("train")
    assert {"price", "category", "history", "user_id"} <= set(train.columns) and len(train) > 0


def test_scipy_npz_ingests_to_the_store_its_csv_gives(tmp_path):
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(5)
    dense = (rng.random((40, 30)) < 0.2).astype(np.float32)
    dense[np.arange(40), rng.integers(0, 30, 40)] = 1  # every user has a positive
    dense[-1, :5] = 1
    m = sparse.csr_matrix(dense)
    # Explicit zeros (stored, but no interaction), last, so that every other entry
    # keeps its position — the anchor row the CSV's line gives.
    m.data[-3:] = 0
    sparse.save_npz(tmp_path / "m.npz", m)  # compressed CSR
    sparse.save_npz(tmp_path / "coo.npz", m.tocoo(), compressed=False)
    m.eliminate_zeros()
    rows, cols = m.nonzero()
    pd.DataFrame({"user": rows, "item": cols}).to_csv(tmp_path / "m.csv", index=False)
    (tmp_path / "items.txt").write_text("".join(f"{i}\n" for i in range(30)))
    cli("ingest", tmp_path / "m.csv", "--out", tmp_path / "csv.store", "--items", tmp_path / "items.txt", "-q")
    expected = (tmp_path / "csv.store" / "store.bin").read_bytes()
    for name in ("m", "coo"):
        out = cli("ingest", tmp_path / f"{name}.npz", "--out", tmp_path / f"{name}.store")
        assert "3 explicit zeros" in out, out
        assert (tmp_path / f"{name}.store" / "store.bin").read_bytes() == expected, name


def test_ctrl_c_stops_a_long_call_and_the_rerun_resumes(tmp_path):
    import signal

    cli("generate", "--out", tmp_path / "big.csv", "--users", 60000, "--seed", 1, "-q")
    negsamp.ingest(tmp_path / "big.csv", tmp_path / "big.store")
    params = dict(ratio=16, shards=16, seed=3, threads=1)
    start = time.perf_counter()
    negsamp.sample(tmp_path / "big.store", tmp_path / "whole", **params)
    whole = time.perf_counter() - start
    timer = threading.Timer(whole / 3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        negsamp.sample(tmp_path / "big.store", tmp_path / "out", **params)
    stopped = time.perf_counter() - start
    timer.join()
    assert stopped < whole * 0.9, (stopped, whole)
    assert not (tmp_path / "out").exists()  # nothing published
    summary = negsamp.sample(tmp_path / "big.store", tmp_path / "out", **params)
    assert summary[0]["resumed_parts"] > 0
    assert files(tmp_path / "out") == files(tmp_path / "whole")


def test_the_readmes_hard_negatives_example_runs(tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Hard negatives", 1)[1].split("\n## ", 1)[0]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    cli("generate", "--out", "events.csv", "--users", 300, "-q")
    cli("ingest", "events.csv", "--out", "s.store", "-q")
    exec(compile(block, "README.md", "exec"), {})
    df = negsamp.load("hard")
    store = negsamp.Store("s.store")
    assert (df.label == 0).sum() == 4 * store.n_interactions
    users, items = np.load("user.npy"), np.load("item.npy")
    expected = (users[df.user.to_numpy()] * items[df.item.to_numpy()]).sum(axis=1)
    np.testing.assert_allclose(df.score.to_numpy(), expected, rtol=1e-5, atol=1e-5)
    # The same call from the command line writes the same bytes.
    cli("sample", "s.store", "--out", "cli", "--strategy", "hard", "--user-emb", "user.npy", "--item-emb", "item.npy",
        "--candidates", 16, "--base", "popularity", "--ratio", 4, "--seed", 42, "-q")
    assert files(tmp_path / "cli") == files(tmp_path / "hard")
    # The model's row order with an id file: the same rows.
    pd.testing.assert_frame_equal(negsamp.load("hard2"), df)
    # The exact top-k against NumPy: every item scored, positives dropped, ranked by
    # (score desc, item asc), the first 2 skipped, the next 3 kept.
    cli("sample", "s.store", "--out", "top", "--strategy", "hard", "--user-emb", "user.npy", "--item-emb", "item.npy",
        "--candidates", "all", "--skip-top", 2, "--per-user", 3, "--negatives-only", "-q")
    top = negsamp.load("top", as_="numpy", ids=False)
    scores = users.astype(np.float64) @ items.T.astype(np.float64)
    for u in range(store.n_users):
        positives = store.indices[store.indptr[u]:store.indptr[u + 1]]
        candidates = np.setdiff1d(np.arange(store.n_items), positives)
        ranked = candidates[np.lexsort((candidates, -scores[u, candidates]))]
        got = np.sort(top["item"][top["user"] == u])
        np.testing.assert_array_equal(got, np.sort(ranked[2:5]))
    # float16, cosine, a quarter hard: scores are the cosines of the float16 values
    # (widened), every user's negatives distinct and never a positive.
    mix = negsamp.load("mix", as_="numpy", ids=False)
    u16, i16 = (np.load(f"{n}16.npy").astype(np.float64) for n in ("user", "item"))
    u16 /= np.linalg.norm(u16, axis=1, keepdims=True)
    i16 /= np.linalg.norm(i16, axis=1, keepdims=True)
    negative = mix["label"] == 0
    assert negative.sum() == 4 * store.n_interactions
    cosines = (u16[mix["user"]] * i16[mix["item"]]).sum(axis=1)
    np.testing.assert_allclose(mix["score"], cosines, rtol=1e-5, atol=1e-5)
    pairs = np.stack([mix["user"][negative], mix["item"][negative]], axis=1)
    assert len(np.unique(pairs, axis=0)) == len(pairs)
    positive_pairs = set(zip(mix["user"][~negative].tolist(), mix["item"][~negative].tolist()))
    assert not positive_pairs & set(map(tuple, pairs.tolist()))
    # Per-anchor queries: every row's score is its anchor's query times its item.
    seq = negsamp.load("seq", as_="numpy", ids=False)
    queries = np.load("query.npy")
    assert (seq["label"] == 0).sum() == 4 * store.n_interactions
    expected = (queries[seq["anchor"]] * items[seq["item"]]).sum(axis=1)
    np.testing.assert_allclose(seq["score"], expected, rtol=1e-5, atol=1e-5)
