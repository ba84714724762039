#!/usr/bin/env python3
"""The NumPy article's uniform samplers, timed on the same users as `negsamp bench`.

Reads a negsamp store (docs/store-format.md), groups users into the same
power-of-two degree buckets and picks the same evenly spaced users per bucket as
`negsamp bench --users-per-bucket N`, then times each of the article's functions
per user (one negative per positive, with replacement, as the article draws):

* negsamp_incr_naive   — guess and check, `x in list`      (negsamp: guess-linear)
* negsamp_incr_set     — guess and check, `x in set`       (guess-hash)
* negsamp_incr_bsearch — guess and check, bisect_left      (guess-bisect)
* vectorized guess     — randint batch, searchsorted mask  (guess-vectorized; may fall short)
* vectorized pre-verified — randint over m, searchsorted on pos - arange(k)
                                                           (partition-point / branch-free)

Writes CSV rows (kernel, degree_low, degree_high, measured_users, produced,
ns_per_sample, complete) to --out and prints a table. A function stops on a bucket
once it has spent --budget seconds there (complete = false).

    python3 scripts/numpy_kernels.py STORE [--users-per-bucket 2000] [--budget 2] [--out numpy.csv]
"""

import argparse
import bisect
import csv
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from numpy_uniform import open_store  # noqa: E402  (the store reader)


def incr(pos_check, pos_inds, n_items, n_samp, rng):
    neg_inds = []
    while len(neg_inds) < n_samp:
        raw_samp = int(rng.integers(0, n_items))
        if not pos_check(raw_samp, pos_inds):
            neg_inds.append(raw_samp)
    return neg_inds


def incr_naive(pos, n_items, n_samp, rng):
    return incr(lambda x, p: x in p, pos.tolist(), n_items, n_samp, rng)


def incr_set(pos, n_items, n_samp, rng):
    return incr(lambda x, p: x in p, set(pos.tolist()), n_items, n_samp, rng)


def bsearch_in(search_val, val_arr):
    i = bisect.bisect_left(val_arr, search_val)
    return i != len(val_arr) and val_arr[i] == search_val


def incr_bsearch(pos, n_items, n_samp, rng):
    return incr(bsearch_in, pos.tolist(), n_items, n_samp, rng)


def vectorized_guess(pos, n_items, n_samp, rng):
    raw_samps = rng.integers(0, n_items, size=n_samp)
    ss = np.searchsorted(pos, raw_samps)
    pos_mask = raw_samps == np.take(pos, ss, mode="clip")
    return raw_samps[~pos_mask]


def vectorized_preverified(pos, n_items, n_samp, rng):
    raw_samp = rng.integers(0, n_items - len(pos), size=n_samp)
    pos_inds_adj = pos - np.arange(len(pos))
    ss = np.searchsorted(pos_inds_adj, raw_samp, side="right")
    return raw_samp + ss


FUNCTIONS = [
    ("numpy:incr_naive", incr_naive),
    ("numpy:incr_set", incr_set),
    ("numpy:incr_bsearch", incr_bsearch),
    ("numpy:vectorized_guess", vectorized_guess),
    ("numpy:vectorized_preverified", vectorized_preverified),
]


def all_users_at_once(indptr, indices, n_items, rng):
    """Question 1 of the article in NumPy: one vectorised pre-verified draw for every
    user of the store at once (1:1, with replacement). Each user's adjusted positives
    are offset into their own block of width n_items + 1, so one searchsorted over the
    concatenation answers every user's ranks. Returns (negatives, seconds)."""
    start = time.perf_counter()
    indptr = indptr.astype(np.int64)
    degrees = np.diff(indptr)
    users = np.repeat(np.arange(len(degrees)), degrees)
    within = np.arange(len(users)) - indptr[users]
    offset = users * (n_items + 1)
    adjusted = indices.astype(np.int64) - within + offset
    # one negative per positive: the ranks of user u are uniform on [0, n_items - k_u)
    ranks = np.floor(rng.random(len(users)) * (n_items - degrees[users])).astype(np.int64)
    counts = np.searchsorted(adjusted, ranks + offset, side="right") - indptr[users]
    negatives = ranks + counts
    seconds = time.perf_counter() - start
    # untimed: every negative is in the catalog and none is a positive of its user
    keys = indices.astype(np.int64) + offset
    at = np.minimum(np.searchsorted(keys, negatives + offset), len(keys) - 1)
    assert (negatives < n_items).all() and not (keys[at] == negatives + offset).any()
    return len(negatives), seconds


def buckets(indptr, per_bucket):
    """The same buckets and chosen users as negsamp_engine::bench::degree_buckets."""
    degrees = np.diff(indptr.astype(np.int64))
    users = np.nonzero(degrees)[0]
    levels = np.floor(np.log2(degrees[users])).astype(int)
    out = []
    for b in np.unique(levels):
        members = users[levels == b]
        take = max(1, min(per_bucket, len(members)))
        chosen = [int(members[i * len(members) // take]) for i in range(take)]
        out.append((1 << int(b), (1 << (int(b) + 1)) - 1, chosen))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store")
    ap.add_argument("--users-per-bucket", type=int, default=2000)
    ap.add_argument("--budget", type=float, default=2.0)
    ap.add_argument("--out", type=Path, default=Path("numpy.csv"))
    args = ap.parse_args()
    _, n_items, indptr, indices = open_store(args.store)
    rng = np.random.default_rng(0)
    rows = []
    for low, high, chosen in buckets(indptr, args.users_per_bucket):
        positives = [np.asarray(indices[indptr[u]:indptr[u + 1]], dtype=np.int64) for u in chosen]
        for name, fn in FUNCTIONS:
            produced = users = 0
            start = time.perf_counter()
            complete = True
            for pos in positives:
                if time.perf_counter() - start > args.budget:
                    complete = False
                    break
                produced += len(fn(pos, n_items, len(pos), rng))
                users += 1
            elapsed = time.perf_counter() - start
            rows.append(dict(kernel=name, degree_low=low, degree_high=high, measured_users=users,
                             produced=produced, ns_per_sample=elapsed * 1e9 / max(produced, 1),
                             complete=complete))
        print(f"  numpy: degree {low}-{high} done", file=sys.stderr)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    names = [name for name, _ in FUNCTIONS]
    print("degree        " + " ".join(f"{n.split(':')[1]:>22}" for n in names))
    for low, high in sorted({(r["degree_low"], r["degree_high"]) for r in rows}):
        cells = {r["kernel"]: r for r in rows if r["degree_low"] == low}
        line = " ".join(f"{cells[n]['ns_per_sample']:>21.0f}{'' if cells[n]['complete'] else '*'}" for n in names)
        print(f"{low:>6}-{high:<6} {line}")
    print(f"(ns per negative; * = budget hit, figure from the users reached) → {args.out}")
    produced, seconds = all_users_at_once(indptr, indices, n_items, rng)
    print(f"numpy, every user at once (one searchsorted over offset adjusted positives, 1:1 with "
          f"replacement): {produced:,} negatives in {seconds:.2f} s = {seconds * 1e9 / produced:.1f} ns/negative")


if __name__ == "__main__":
    main()
