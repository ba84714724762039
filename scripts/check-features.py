"""The features merge checked from Python against a pandas reference.

Usage: check-features.py NEGSAMP WORKDIR

On fixtures/features.csv (timestamp ties, missing values, a duplicate) and on a
generated CSV with many ties, runs `negsamp ingest --keep` and `negsamp sample
--carry --history` in every format and layout, then checks with pandas/NumPy/pyarrow
(and DuckDB and polars when installed) that:
  - every row's carried values are its anchor's source row's (the article's
    `add_features_to_neg_df` join on the positive);
  - every history is the user's positives strictly earlier than the anchor, ordered by
    (timestamp, row), the last N — computed here with a groupby;
  - Parquet and .npy outputs of one run hold the same values;
  - the wide layout holds the same (anchor, negative) pairs as the long one.
Exits non-zero on any mismatch.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

MISSING_I64 = np.iinfo(np.int64).min
MISSING_CODE = 2**32 - 1
KEEP = ["price", "clicks", "category"]
N = 3


def negsamp(*args):
    subprocess.run([BIN, *map(str, args)], check=True, stdout=subprocess.DEVNULL)


def metadata(ds: Path, name: str) -> Path:
    """Parquet datasets `_`-prefix their metadata files."""
    return ds / name if (ds / name).exists() else ds / f"_{name}"


def lines(path: Path):
    return path.read_text().split("\n")[:-1]


def load_npy(ds: Path) -> pd.DataFrame:
    """A .npy dataset as one frame: matrices as lists of their valid entries, string
    codes decoded through their dictionaries, missing values as None/NaN."""
    manifest = json.loads((ds / "manifest.json").read_text())
    frames = []
    for part in manifest["parts"]:
        cols = {}
        for c in manifest["columns"]:
            a = np.load(ds / part["name"] / f"{c['name']}.npy")
            if c.get("width", 1) > 1:
                assert a.shape == (part["rows"], c["width"]), (c, a.shape)
            else:
                assert a.shape == (part["rows"],), (c, a.shape)
            cols[c["name"]] = list(a) if a.ndim == 2 else a
        frames.append(pd.DataFrame(cols))
    df = pd.concat(frames, ignore_index=True)
    for c in manifest["columns"]:
        if c.get("dictionary"):
            values = np.array(lines(ds / c["dictionary"]) + [None], dtype=object)
            codes = df[c["name"]].to_numpy().astype(np.int64)
            df[c["name"]] = values[np.where(codes == MISSING_CODE, len(values) - 1, codes)]
        if c["dtype"] == "<i8" and c["name"] not in ("timestamp",):
            df[c["name"]] = df[c["name"]].astype(object).where(df[c["name"]] != MISSING_I64, None)
    for matrix, length, right in (("history", "history_len", True), ("negatives", "negatives_len", False)):
        if matrix in df:
            df[matrix] = [
                list(row[len(row) - n:] if right else row[:n]) for row, n in zip(df[matrix], df[length])
            ]
    return df, manifest


def load_parquet(ds: Path) -> pd.DataFrame:
    df = pd.read_parquet(ds)
    for c in df.columns:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    if "history" in df:
        df["history"] = df["history"].map(list)
    if "negatives" in df:
        df["negatives"] = df["negatives"].map(list)
    if "clicks" in df:
        df["clicks"] = df["clicks"].astype(object).where(df["clicks"].notna(), None)
    return df


def reference(csv: Path):
    """The source rows kept by ingest (earliest timestamp, then lowest row, per
    (user, item)), indexed by source row, with each one's history as item ids."""
    src = pd.read_csv(csv, dtype={"user": str, "item": str, "category": str}, keep_default_na=False,
                      na_values={"price": ["", "nan"], "clicks": [""], "category": [""]})
    src["row"] = np.arange(len(src))
    kept = src.sort_values(["timestamp", "row"]).drop_duplicates(["user", "item"], keep="first")
    kept = kept.sort_values(["user", "timestamp", "row"])
    history = {}
    for _, g in kept.groupby("user", sort=False):
        ts, items, rows = g.timestamp.to_numpy(), g["item"].to_numpy(), g.row.to_numpy()
        # g is sorted by (timestamp, row): what is strictly earlier is a prefix
        first_at = np.searchsorted(ts, ts, side="left")
        for k in range(len(g)):
            history[rows[k]] = list(items[max(0, first_at[k] - N):first_at[k]])
    return src.set_index("row"), history


def check_rows(df: pd.DataFrame, ds: Path, src: pd.DataFrame, history, label: str):
    users = np.array(lines(metadata(ds, "users.txt")), dtype=object)
    items = np.array(lines(metadata(ds, "items.txt")), dtype=object)
    anchor = src.loc[df.anchor.to_numpy()]
    assert (users[df.user] == anchor.user.to_numpy()).all(), f"{label}: users differ from the anchors'"
    assert (df.timestamp.to_numpy() == anchor.timestamp.to_numpy()).all(), f"{label}: timestamps"
    for col in KEEP:
        if col not in df:
            continue
        got, want = df[col].to_numpy(dtype=object), anchor[col].to_numpy(dtype=object)
        same = [(pd.isna(g) and pd.isna(w)) or g == w for g, w in zip(got, want)]
        assert all(same), f"{label}: {col} differs from the anchor's source row at rows {np.flatnonzero(~np.array(same))[:5]}"
    if "history" in df:
        got = [list(items[h]) for h in df.history]
        want = [history[a] for a in df.anchor]
        bad = [r for r, (g, w) in enumerate(zip(got, want)) if g != w]
        assert not bad, f"{label}: history differs from the pandas reference at rows {bad[:5]}: {got[bad[0]]} vs {want[bad[0]]}"
    if "user_id" in df:
        assert (df.user_id.to_numpy() == users[df.user]).all(), f"{label}: user_id"
        assert (df.item_id.to_numpy() == items[df.item]).all(), f"{label}: item_id"
    return len(df)


def long_pairs(df):
    neg = df[df.label == 0]
    return sorted(zip(neg.anchor, neg["item"]))


def wide_pairs(df):
    return sorted((a, n) for a, ns in zip(df.anchor, df.negatives) for n in ns)


def check(csv: Path, work: Path, extra_ingest=()):
    store = work / "s.store"
    negsamp("ingest", csv, "--out", store, "--keep", ",".join(KEEP), "--overwrite", *extra_ingest)
    src, history = reference(csv)
    common = ["--carry", ",".join(KEEP), "--history", N, "--ratio", 2, "--seed", 7, "--shards", 3, "--overwrite"]
    out = {}
    for fmt in ("npy", "parquet"):
        for layout in ("long", "wide"):
            ds = work / f"{fmt}-{layout}"
            ids = ["--original-ids"] if fmt == "parquet" else []
            negsamp("sample", store, "--out", ds, "--format", fmt, "--layout", layout, *common, *ids)
            df = load_npy(ds)[0] if fmt == "npy" else load_parquet(ds)
            rows = check_rows(df, ds, src, history, f"{csv.name} {fmt} {layout}")
            out[fmt, layout] = df
            print(f"  {fmt:7} {layout:4}: {rows} rows: carried values and histories equal the pandas reference")
    for layout in ("long", "wide"):
        a, b = out["npy", layout], out["parquet", layout]
        for col in a.columns:
            same = [(pd.isna(x) if np.isscalar(x) or x is None else False) and (pd.isna(y) if np.isscalar(y) or y is None else False)
                    or (list(x) == list(y) if isinstance(x, (list, np.ndarray)) else x == y)
                    for x, y in zip(a[col], b[col])]
            assert all(same), f"{layout}: column {col} differs between .npy and Parquet"
    assert long_pairs(out["npy", "long"]) == wide_pairs(out["npy", "wide"]), "wide and long pairs differ"
    print("  .npy = Parquet in both layouts; wide and long hold the same (anchor, negative) pairs")
    readers(work / "parquet-long", len(out["parquet", "long"]))


def readers(ds: Path, rows: int):
    """Other Parquet readers open the directory as it is."""
    try:
        import duckdb
        n = duckdb.sql(f"select count(*) from read_parquet('{ds}/*.parquet')").fetchall()[0][0]
        assert n == rows, f"duckdb reads {n} rows"
        print(f"  duckdb reads {n} rows")
    except ImportError:
        print("  (duckdb not installed: skipped)")
    try:
        import polars as pl
        n = pl.scan_parquet(f"{ds}/*.parquet").select(pl.len()).collect().item()
        assert n == rows, f"polars reads {n} rows"
        print(f"  polars reads {n} rows")
    except ImportError:
        print("  (polars not installed: skipped)")


def parquet_ingest(csv: Path, work: Path):
    """A Parquet file written by pandas/pyarrow (snappy; string ids, a datetime64 time
    column) keeps its time unit — Parquet stores datetime64[s] as milliseconds — and
    gives the store of the same rows as a CSV of Unix milliseconds (`--time-format
    unix-ms`); datetime64[ns] stays in nanoseconds; an ISO --split-at cuts each where
    it cuts the seconds store."""
    df = pd.read_csv(csv, dtype={"user": str, "item": str}, keep_default_na=False)
    seconds = pd.to_datetime(df["timestamp"], unit="s")
    ms_csv = work / "events-ms.csv"
    df.assign(timestamp=df["timestamp"] * 1000).to_csv(ms_csv, index=False)
    inputs = (("csv", csv, []), ("ms_csv", ms_csv, ["--time-format", "unix-ms"]),
              ("ms", work / "s.parquet", "datetime64[s]"), ("ns", work / "ns.parquet", "datetime64[ns]"))
    infos = {}
    for name, source, how in inputs:
        if isinstance(how, str):
            df.assign(timestamp=seconds.astype(how)).to_parquet(source)
            how = []
        store = work / f"{name}.store"
        negsamp("ingest", source, "--out", store, "--overwrite", *how)
        info = subprocess.run([BIN, "info", store, "--json"], check=True, capture_output=True)
        infos[name] = json.loads(info.stdout)
    assert infos["ms"]["fingerprint"] == infos["ms_csv"]["fingerprint"], (infos["ms"], infos["ms_csv"])
    for name, unit, scale in (("csv", "s", 1), ("ms", "ms", 10**3), ("ns", "ns", 10**9)):
        assert infos[name]["time_unit"] == unit, (name, infos[name])
        assert infos[name]["time_range"] == [t * scale for t in infos["csv"]["time_range"]], infos[name]
    at = pd.Timestamp(int(df["timestamp"].median()), unit="s").isoformat()
    anchors = []
    for name in ("csv", "ms", "ns"):
        out = work / f"split-{name}"
        negsamp("sample", work / f"{name}.store", "--out", out, "--split-at", at, "--overwrite")
        anchors.append([np.load(out / side / "part-00000" / "anchor.npy") for side in ("train", "test")])
    for side in zip(*anchors):
        assert len(side[0]) > 0 and all(np.array_equal(side[0], other) for other in side[1:])
    print(f"  pandas-written Parquet (datetime64[s] → ms, datetime64[ns]) keeps its unit, gives the"
          f" unix-ms CSV's store {infos['ms']['fingerprint']}; --split-at {at} cuts s, ms and ns stores alike")


def generated(path: Path):
    """Many users, a tiny time range (ties everywhere), missing values, duplicates."""
    rng = np.random.default_rng(5)
    n = 30_000
    df = pd.DataFrame({
        "user": rng.integers(0, 1500, n).astype(str),
        "item": rng.zipf(1.3, n).clip(max=800).astype(str),
        "timestamp": rng.integers(0, 25, n),
        "price": np.round(rng.random(n) * 100, 2),
        "clicks": rng.integers(0, 9, n).astype(object),
        "category": rng.choice(["a", "b, c", "d\"e", "", "é"], n),
    })
    df.loc[rng.random(n) < 0.05, "price"] = np.nan
    df.loc[rng.random(n) < 0.05, "clicks"] = ""
    df.to_csv(path, index=False, na_rep="")


if __name__ == "__main__":
    BIN, work = sys.argv[1], Path(sys.argv[2])
    root = Path(__file__).resolve().parent.parent
    print("features.csv:")
    (work / "fixture").mkdir(parents=True, exist_ok=True)
    check(root / "fixtures" / "features.csv", work / "fixture")
    print("generated, 30k rows over 25 instants:")
    (work / "gen").mkdir(parents=True, exist_ok=True)
    generated(work / "gen" / "events.csv")
    check(work / "gen" / "events.csv", work / "gen")
    parquet_ingest(work / "gen" / "events.csv", work / "gen")
    print("check-features: ok")
