"""`negsamp sample --strategy hard --candidates all` (exact top-k) against faiss-cpu's
exact `IndexFlatIP.search` on the same users, items and threads, in one run:

    python3 scripts/bench-hard.py [DIM] [K]      # default d = 64, k = 10 per user

On a generated Gowalla-shaped store (29 858 users × 40 981 items). faiss searches
k + (the largest degree) items per user, then NumPy drops each user's positives and
keeps the first k — what a user would write around it. Also times DNS
(`--candidates 16`) on the same store, and checks that both top-k routes agree.
Needs faiss-cpu (pip install faiss-cpu), the package and target/release/negsamp."""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import negsamp

ROOT = Path(__file__).resolve().parent.parent
BIN = str(ROOT / "target" / "release" / "negsamp")
THREADS = 2


def timed(*args):
    start = time.perf_counter()
    subprocess.run([BIN, *map(str, args)], check=True, capture_output=True)
    return time.perf_counter() - start


def main():
    dim = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    import faiss

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subprocess.run([BIN, "generate", "--shape", "gowalla", "--out", d / "e.csv", "--seed", "1", "-q"], check=True)
        subprocess.run([BIN, "ingest", d / "e.csv", "--out", d / "s.store", "-q"], check=True)
        store = negsamp.Store(d / "s.store")
        rng = np.random.default_rng(0)
        users = rng.standard_normal((store.n_users, dim), dtype=np.float32)
        items = rng.standard_normal((store.n_items, dim), dtype=np.float32)
        np.save(d / "u.npy", users)
        np.save(d / "i.npy", items)
        hard = ["--strategy", "hard", "--user-emb", d / "u.npy", "--item-emb", d / "i.npy", "--per-user", k,
                "--negatives-only", "-j", THREADS, "-q"]
        top_s = timed("sample", d / "s.store", "--out", d / "top", *hard, "--candidates", "all")
        dns_s = timed("sample", d / "s.store", "--out", d / "dns", *hard, "--candidates", 16)

        indptr, indices = np.asarray(store.indptr, dtype=np.int64), np.asarray(store.indices, dtype=np.int64)
        degrees = np.diff(indptr)
        faiss.omp_set_num_threads(THREADS)
        start = time.perf_counter()
        index = faiss.IndexFlatIP(dim)
        index.add(items)
        _, found = index.search(users, k + int(degrees.max()))
        # Drop each user's positives (one vectorised membership test on user*items+item
        # keys), keep the first k of what remains.
        keys = np.repeat(np.arange(store.n_users, dtype=np.int64), degrees) * store.n_items + indices
        found_keys = np.arange(store.n_users, dtype=np.int64)[:, None] * store.n_items + found
        keep = ~np.isin(found_keys, keys) & (found >= 0)
        keep &= np.cumsum(keep, axis=1) <= k
        faiss_top = [row[mask] for row, mask in zip(found, keep)]
        faiss_s = time.perf_counter() - start

        ours = negsamp.load(d / "top", as_="numpy", ids=False)
        order = np.argsort(ours["user"], kind="stable")
        by_user = np.split(ours["item"][order], np.cumsum(np.bincount(ours["user"], minlength=store.n_users))[:-1])
        agree = np.mean([set(a.tolist()) == set(b.tolist()) for a, b in zip(by_user, faiss_top)])
        rows = json.loads((d / "top" / "manifest.json").read_text())["totals"]["rows"]

    print(f"machine: {os.cpu_count()} cores, {THREADS} threads; Gowalla-shaped store "
          f"({store.n_users:,} users × {store.n_items:,} items), d = {dim}, k = {k} per user; "
          f"faiss {faiss.__version__}")
    print(f"{'route':<46} {'seconds':>8} {'users/s':>10}")
    print(f"{'negsamp --candidates all (exact top-k)':<46} {top_s:8.2f} {store.n_users / top_s:10,.0f}")
    print(f"{'faiss IndexFlatIP.search(k + max degree) + NumPy':<46} {faiss_s:8.2f} {store.n_users / faiss_s:10,.0f}")
    print(f"{'negsamp --candidates 16 (DNS, uniform base)':<46} {dns_s:8.2f} {store.n_users / dns_s:10,.0f}")
    print(f"top-k: negsamp / faiss time {top_s / faiss_s:.2f}x; same items for {agree:.2%} of users; {rows:,} rows")


if __name__ == "__main__":
    main()
