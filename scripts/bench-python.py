"""The Python package, measured (issue: Python call overhead, sample_csr against the
CLI, the drop-in against the article's function), on generated data in one run:

    python3 scripts/bench-python.py [USERS]      # default 200000 for the throughput rows

Needs the package installed (pip install ./crates/python) and target/release/negsamp."""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import negsamp
from negsamp.pandas import generate_negative_samples

ROOT = Path(__file__).resolve().parent.parent
BIN = str(ROOT / "target" / "release" / "negsamp")


def run(*args):
    subprocess.run([BIN, *map(str, args)], check=True, capture_output=True)


def median_time(f, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(f"machine: {os.cpu_count()} cores; negsamp Python package, numpy {np.__version__}, pandas {pd.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        # Call overhead on a small input: 1 000 users.
        run("generate", "--out", d / "small.csv", "--users", 1000, "--seed", 1, "-q")
        negsamp.ingest(d / "small.csv", d / "small.store")
        in_memory = median_time(lambda: negsamp.sample(d / "small.store", seed=1), 21)
        counter = iter(range(10**6))
        to_dir = median_time(lambda: negsamp.sample(d / "small.store", d / f"o{next(counter)}", seed=1), 21)
        cli = median_time(lambda: run("sample", d / "small.store", "--out", d / f"c{next(counter)}", "--seed", 1, "-q"), 21)
        print(f"1 000 users (~20k rows): sample() in memory {in_memory * 1e3:.1f} ms, to a directory {to_dir * 1e3:.1f} ms, "
              f"the CLI as a process {cli * 1e3:.1f} ms (median of 21)")

        # Throughput: the CLI, sample(out=...), and sample_csr on the store's arrays.
        run("generate", "--out", d / "big.csv", "--users", users, "--items", 100000, "--seed", 2, "-q")
        negsamp.ingest(d / "big.csv", d / "big.store")
        store = negsamp.Store(d / "big.store")
        rows = 2 * store.n_interactions
        ids = store.user_ids()
        items = store.item_ids()
        rates = {}
        for name, f in [
            ("CLI", lambda k: run("sample", d / "big.store", "--out", d / f"cli{k}", "--seed", 1, "-q")),
            ("sample(out=)", lambda k: negsamp.sample(store, d / f"py{k}", seed=1)),
            ("sample_csr(out=)", lambda k: negsamp.sample_csr(store.indptr, store.indices, store.n_items, d / f"csr{k}",
                                                            user_ids=ids, item_ids=items, seed=1)),
            ("sample() in memory", lambda k: negsamp.sample(store, seed=1)),
        ]:
            counter = iter(range(100))
            wall = median_time(lambda: f(next(counter)), 3)
            rates[name] = rows / wall
            print(f"{users} users, {rows:,} rows: {name:<20} {wall:6.2f} s  {rows / wall / 1e6:6.1f} M rows/s  "
                  f"({rows / wall / rates['CLI']:.2f}× the CLI)")

        # The drop-in against the article's function, on the same DataFrame.
        sys.path.insert(0, str(ROOT / "scripts"))
        n = 2000
        df = pd.read_csv(d / "small.csv").rename(columns={"user": "user_indice", "item": "item_indice"}).assign(rating=1)
        df = df[df.user_indice.isin(df.user_indice.unique()[:n])]
        start = time.perf_counter()
        generate_negative_samples(df, seed=1)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        article(df)
        theirs = time.perf_counter() - start
        users_n = df.user_indice.nunique()
        print(f"drop-in on {users_n} users ({len(df)} interactions): negsamp {users_n / ours:,.0f} users/s, "
              f"the article's function {users_n / theirs:,.0f} users/s ({theirs / ours:.0f}× faster)")


def article(df, user_col="user_indice", item_col="item_indice", label_col="rating", neg_label=0, seed=None):
    """The article's generate_negative_samples, as written there."""
    item_popularity = df[item_col].value_counts()
    popularity = item_popularity.values.astype(np.float64)
    sampling_probs = popularity / popularity.sum()
    items = item_popularity.index.values
    item_to_index = {item: idx for idx, item in enumerate(items)}
    all_items_set = set(items)
    user_item_dict = df.groupby(user_col)[item_col].apply(set).to_dict()
    rng = np.random.default_rng(seed)
    rows = []
    for user, pos_items in user_item_dict.items():
        negative_candidates = list(all_items_set - pos_items)
        num_neg = min(len(pos_items), len(negative_candidates))
        if num_neg == 0:
            continue
        candidate_probs = sampling_probs[[item_to_index[i] for i in negative_candidates]]
        candidate_probs = candidate_probs / candidate_probs.sum()
        sampled = rng.choice(negative_candidates, size=num_neg, replace=False, p=candidate_probs)
        rows.extend((user, item, neg_label) for item in sampled)
    return pd.DataFrame(rows, columns=[user_col, item_col, label_col])


if __name__ == "__main__":
    main()
