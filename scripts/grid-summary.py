#!/usr/bin/env python3
"""Summarise the criterion kernel grid (benches/benches/grid.rs).

Reads target/criterion/grid_*/<kernel>/new/{benchmark,estimates}.json (and, with
--log, the "skipped" lines the bench printed for kernels slower than 40 ms per user),
and prints a markdown table: for every (catalog n, degree k, request s) cell the
ns/sample of each kernel (median), the best kernel, and auto's ratio to the best.
Ends with how many cells auto is within 10% of the best single kernel.

    python3 scripts/grid-summary.py [--criterion target/criterion] [--log grid.log]
"""

import argparse
import json
import re
from pathlib import Path

KERNELS = [
    "guess-linear", "guess-hash", "guess-bisect", "guess-vectorized",
    "partition-point", "branch-free", "complement", "bucketed", "auto",
]
SHORT = {
    "guess-linear": "g-lin", "guess-hash": "g-hash", "guess-bisect": "g-bis",
    "guess-vectorized": "g-vec", "partition-point": "pp", "branch-free": "bf",
    "complement": "compl", "bucketed": "bkt", "auto": "auto",
}
CELL = re.compile(r"grid/n=(\d+)/k=(\d+)/s=(\d+)")


def load(criterion: Path, log: Path | None):
    cells = {}
    for bench in criterion.glob("grid_*/*/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        m = CELL.fullmatch(meta["group_id"])
        if not m:
            continue
        n, k, s = map(int, m.groups())
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        ns = estimates["median"]["point_estimate"] / s
        kernel = meta.get("function_id") or meta.get("value_str")
        cells.setdefault((n, k, s), {})[kernel] = ns
    if log:
        skipped = re.compile(r"grid/n=(\d+)/k=(\d+)/s=(\d+)/([\w-]+): skipped, one user took ([\d.]+) ms")
        for line in log.read_text().splitlines():
            m = skipped.search(line)
            if m:
                n, k, s = map(int, m.groups()[:3])
                cells.setdefault((n, k, s), {})[m.group(4)] = float(m.group(5)) * 1e6 / s
        predicted = re.compile(r"grid/n=(\d+)/k=(\d+)/s=(\d+)/([\w-]+): skipped, predicted .*~(\d+) s")
        for line in log.read_text().splitlines():
            m = predicted.search(line)
            if m:
                n, k, s = map(int, m.groups()[:3])
                cells.setdefault((n, k, s), {})[m.group(4)] = float(m.group(5)) * 1e9 / s
    return cells


def fmt(ns: float | None) -> str:
    if ns is None:
        return "-"
    if ns >= 1000:
        return f"{ns / 1000:.0f}µ"
    return f"{ns:.1f}" if ns < 100 else f"{ns:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--criterion", type=Path, default=Path("target/criterion"))
    ap.add_argument("--log", type=Path)
    args = ap.parse_args()
    cells = load(args.criterion, args.log)
    if not cells:
        raise SystemExit(f"no grid results under {args.criterion}; run cargo bench -p negsamp-benches --bench grid")
    header = ["n", "k", "density", "s"] + [SHORT[k] for k in KERNELS] + ["best", "auto/best"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    within, ratios = 0, []
    for (n, k, s), by_kernel in sorted(cells.items()):
        # the best *exact* kernel: guess-vectorized returns fewer negatives than asked
        exact = {name: ns for name, ns in by_kernel.items() if name not in ("auto", "guess-vectorized")}
        best_name = min(exact, key=exact.get)
        best = exact[best_name]
        auto = by_kernel.get("auto")
        ratio = auto / best if auto else float("nan")
        ratios.append((ratio, n, k, s, best_name))
        within += ratio <= 1.10
        row = [str(n), str(k), f"{k / n:.3g}", str(s)] + [fmt(by_kernel.get(name)) for name in KERNELS]
        row += [SHORT[best_name], f"{ratio:.2f}"]
        print("| " + " | ".join(row) + " |")
    print()
    print(f"auto within 10% of the best single kernel in {within} of {len(cells)} cells "
          f"(ns/sample, median of criterion samples; 'µ' = microseconds).")
    worst = sorted(ratios, reverse=True)[:5]
    print("largest auto/best: " + "; ".join(f"{r:.2f} at n={n} k={k} s={s} (best {b})" for r, n, k, s, b in worst))


if __name__ == "__main__":
    main()
