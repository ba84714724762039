"""The popularity article's sampler (generate_negative_samples), per user as written
there: candidates = all items minus the user's set, probabilities = popularity of the
candidates renormalised, np.random.choice(replace=False, p), as many negatives as
positives. Run over the first USERS users of a negsamp store; prints users/s.

    python3 scripts/pandas_popularity.py data.store [USERS]"""

import sys
import time

import numpy as np

from numpy_uniform import open_store


def main():
    store = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    users, n_items, indptr, indices = open_store(store)
    # item popularity over the whole dataset (the article's value_counts)
    popularity = np.bincount(np.asarray(indices), minlength=n_items).astype(np.float64)
    items = np.flatnonzero(popularity)  # value_counts lists only items that occur
    sampling_probs = popularity[items] / popularity.sum()
    item_to_index = {item: idx for idx, item in enumerate(items)}
    all_items_set = set(items.tolist())
    rng = np.random.default_rng(1)
    start = time.monotonic()
    drawn = 0
    for u in range(min(limit, users)):
        pos_items = set(indices[indptr[u]:indptr[u + 1]].tolist())
        negative_candidates = list(all_items_set - pos_items)
        num_neg = min(len(pos_items), len(negative_candidates))
        candidate_indices = [item_to_index[item] for item in negative_candidates]
        candidate_probs = sampling_probs[candidate_indices]
        candidate_probs /= candidate_probs.sum()
        sampled = rng.choice(negative_candidates, size=num_neg, replace=False, p=candidate_probs)
        drawn += len(sampled)
    wall = time.monotonic() - start
    n = min(limit, users)
    print(f"  pandas article popularity sampler: {n} users in {wall:.2f} s = {wall / n * 1000:.1f} ms/user, "
          f"{n / wall:,.1f} users/s; all {users} users would take {users / n * wall / 3600:,.1f} h")


if __name__ == "__main__":
    main()
