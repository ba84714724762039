"""The dataframe references for `negsamp ingest`: read a CSV or Parquet file of
interactions, number the user and item ids, and sort into user-major CSR arrays
(indptr, indices) in memory — the core of what a pipeline does by hand. negsamp
additionally drops duplicate pairs, checksums, and writes the store.

    python3 scripts/reference_ingest.py pandas|duckdb|polars FILE"""

import sys
import time

import numpy as np


def csr(user_codes, item_codes, n_users):
    order = np.lexsort((item_codes, user_codes))
    indices = np.asarray(item_codes)[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(user_codes, minlength=n_users))])
    return indptr, indices


def with_pandas(path):
    import pandas as pd

    columns = ["user", "item"]
    df = pd.read_parquet(path, columns=columns) if path.endswith(".parquet") else pd.read_csv(path, usecols=columns)
    user_codes, users = pd.factorize(df["user"])
    item_codes, _ = pd.factorize(df["item"])
    return csr(user_codes, item_codes, len(users))


def with_duckdb(path):
    import duckdb

    source = f"read_parquet('{path}')" if path.endswith(".parquet") else f"read_csv('{path}')"
    arrays = duckdb.sql(
        f"""SELECT dense_rank() OVER (ORDER BY "user") - 1 AS u,
                   dense_rank() OVER (ORDER BY item) - 1 AS i
            FROM {source} ORDER BY u, i"""
    ).fetchnumpy()
    u, i = arrays["u"], arrays["i"]
    n_users = int(u[-1]) + 1 if len(u) else 0
    indptr = np.concatenate([[0], np.cumsum(np.bincount(u, minlength=n_users))])
    return indptr, i


def with_polars(path):
    import polars as pl

    df = pl.read_parquet(path, columns=["user", "item"]) if path.endswith(".parquet") else pl.read_csv(path, columns=["user", "item"])
    df = df.select(
        pl.col("user").rank("dense").cast(pl.Int64) - 1,
        pl.col("item").rank("dense").cast(pl.Int64) - 1,
    ).sort(["user", "item"])
    u, i = df["user"].to_numpy(), df["item"].to_numpy()
    n_users = int(u[-1]) + 1 if len(u) else 0
    indptr = np.concatenate([[0], np.cumsum(np.bincount(u, minlength=n_users))])
    return indptr, i


def main():
    tool, path = sys.argv[1], sys.argv[2]
    start = time.monotonic()
    indptr, indices = {"pandas": with_pandas, "duckdb": with_duckdb, "polars": with_polars}[tool](path)
    elapsed = time.monotonic() - start
    print(f"{tool}: {len(indices)} rows, {len(indptr) - 1} users in {elapsed:.2f} s")


if __name__ == "__main__":
    main()
