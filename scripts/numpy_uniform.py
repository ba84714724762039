"""The NumPy references for uniform negatives, run per user in a Python loop over the
first USERS users of a negsamp store (read through docs/store-format.md):

* the NumPy article's pre-verified binary search (with replacement), and
* the pandas pipeline's `choice(setdiff1d(catalog, positives), k, replace=False)`,

each drawing as many negatives as the user has positives (1:1); and the fastest NumPy
form of the first, vectorised over all users at once (one draw per positive, one
`searchsorted` over every user's shifted positives; compute only, in memory).

    python3 scripts/numpy_uniform.py data.store [USERS]"""

import json
import struct
import sys
import time
from pathlib import Path

import numpy as np


def open_store(path):
    raw = np.memmap(Path(path) / "store.bin", dtype=np.uint8, mode="r")
    users, items, nnz = struct.unpack_from("<QQQ", raw, 16)
    (n_sections,) = struct.unpack_from("<I", raw, 40)
    sections = {}
    for i in range(n_sections):
        kind, _, offset, length, _ = struct.unpack_from("<IIQQQ", raw, 48 + 32 * i)
        sections[kind] = (offset, length)
    indptr_off, indptr_len = sections[1]
    indices_off, indices_len = sections[2]
    indptr = np.frombuffer(raw, dtype="<u8", count=indptr_len // 8, offset=indptr_off)
    indices = np.frombuffer(raw, dtype="<u4", count=indices_len // 4, offset=indices_off)
    return users, items, indptr, indices


def preverified(rng, pos, n_items, n_samp):
    raw_samp = rng.integers(0, n_items - len(pos), size=n_samp)
    pos_adj = pos - np.arange(len(pos))
    return raw_samp + np.searchsorted(pos_adj, raw_samp, side="right")


def choice_without_replacement(rng, pos, n_items, n_samp, catalog):
    candidates = np.setdiff1d(catalog, pos, assume_unique=True)
    return rng.choice(candidates, size=min(n_samp, len(candidates)), replace=False)


def vectorised_all_users(rng, indptr, indices, n_items):
    """One negative per positive for every user, with replacement: the pre-verified
    search with user u's keys offset by u * n_items so one sorted array serves all."""
    degree = np.diff(indptr.astype(np.int64))
    user_of = np.repeat(np.arange(len(degree), dtype=np.int64), degree)
    within = np.arange(len(indices), dtype=np.int64) - np.repeat(indptr[:-1].astype(np.int64), degree)
    keys = user_of * n_items + (indices.astype(np.int64) - within)
    raw = (rng.random(len(indices)) * (n_items - degree[user_of])).astype(np.int64)
    found = np.searchsorted(keys, user_of * n_items + raw, side="right") - indptr[:-1].astype(np.int64)[user_of]
    return raw + found


def main():
    store = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    users, n_items, indptr, indices = open_store(store)
    limit = min(limit, users)
    catalog = np.arange(n_items, dtype=np.int64)
    rng = np.random.default_rng(1)
    for name, fn in [("numpy pre-verified (with replacement)", lambda p, k: preverified(rng, p, n_items, k)),
                     ("numpy choice(setdiff1d, replace=False)", lambda p, k: choice_without_replacement(rng, p, n_items, k, catalog))]:
        # choice over the whole complement is O(catalog) per user: time fewer users
        n = limit if "pre-verified" in name else max(limit // 100, 50)
        samples = 0
        start = time.monotonic()
        for u in range(n):
            pos = np.asarray(indices[indptr[u]:indptr[u + 1]], dtype=np.int64)
            samples += len(fn(pos, len(pos)))
        wall = time.monotonic() - start
        print(f"  {name}: {n} users in {wall:.2f} s = {n / wall:,.0f} users/s, {samples / wall / 1e6:.3f}M negatives/s; "
              f"all {users} users would take {users / n * wall:,.0f} s")


    start = time.monotonic()
    negatives = vectorised_all_users(rng, indptr, indices, n_items)
    wall = time.monotonic() - start
    print(f"  numpy pre-verified, vectorised over all users: {len(negatives)} negatives in {wall:.2f} s = "
          f"{len(negatives) / wall / 1e6:.2f}M negatives/s")
    print(json.dumps({"numpy_vectorised_s": wall, "negatives": int(len(negatives))}))


if __name__ == "__main__":
    main()
