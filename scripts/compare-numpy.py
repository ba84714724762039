#!/usr/bin/env python3
"""Side by side: `negsamp bench` results.csv (1 thread) and scripts/numpy_kernels.py's
CSV, ns per negative by degree bucket, with each NumPy function's ratio to the
negsamp kernel that implements the same idea.

    python3 scripts/compare-numpy.py report/with-replacement/results.csv report/numpy.csv
"""

import csv
import sys

PAIRS = [  # (numpy function, negsamp kernel)
    ("numpy:incr_naive", "guess-linear"),
    ("numpy:incr_set", "guess-hash"),
    ("numpy:incr_bsearch", "guess-bisect"),
    ("numpy:vectorized_guess", "guess-vectorized"),
    ("numpy:vectorized_preverified", "partition-point"),
]


def main():
    ours, theirs = sys.argv[1], sys.argv[2]
    ns = {}
    for row in csv.DictReader(open(ours)):
        if row["threads"] == "1":
            ns[(row["kernel"], int(row["degree_low"]))] = float(row["ns_per_sample"])
    for row in csv.DictReader(open(theirs)):
        ns[(row["kernel"], int(row["degree_low"]))] = float(row["ns_per_sample"])
    lows = sorted({low for _, low in ns})
    cols = [name for pair in PAIRS for name in pair] + ["auto"]
    print("| degree | " + " | ".join(c.replace("numpy:", "np ") for c in cols) + " | np pre-verified / auto |")
    print("|---" * (len(cols) + 2) + "|")
    for low in lows:
        cells = [ns.get((c, low)) for c in cols]
        ratio = (ns.get(("numpy:vectorized_preverified", low)) or float("nan")) / (ns.get(("auto", low)) or float("nan"))
        print(f"| {low}–{2 * low - 1} | " + " | ".join("-" if v is None else f"{v:,.1f}" for v in cells) + f" | {ratio:,.0f}× |")


if __name__ == "__main__":
    main()
