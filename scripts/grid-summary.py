#!/usr/bin/env python3
"""Summarise the criterion kernel grid (benches/benches/grid.rs).

Reads target/criterion/grid_*/<kernel>/new/{benchmark,estimates}.json (and, with
--log, the "skipped" lines the bench printed for kernels slower than 40 ms per user),
and prints a markdown table: for every (catalog n, degree k, request s) cell the
ns/sample of each kernel (median), the best kernel, and auto's ratio to the best.
Ends with how many cells auto is within 10% of the best single kernel.

    python3 scripts/grid-summary.py [--criterion DIR ...] [--log grid.log ...] [--plot crossover.png]

--plot draws the density crossover (needs matplotlib): ns/sample against the user's
density k/n, one line per kernel, one panel per request size, at n = 10^6.

With several criterion directories (copies of target/criterion from repeated runs)
each kernel's figure is its fastest median across runs: on a shared machine the
slower runs are the ones other tenants disturbed.
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


def keep_min(cells, key, kernel, ns):
    cell = cells.setdefault(key, {})
    cell[kernel] = min(ns, cell.get(kernel, float("inf")))


def load(criterions: list[Path], logs: list[Path]):
    cells = {}
    benches = [b for c in criterions for b in c.glob("grid_*/*/new/benchmark.json")]
    for bench in benches:
        meta = json.loads(bench.read_text())
        m = CELL.fullmatch(meta["group_id"])
        if not m:
            continue
        n, k, s = map(int, m.groups())
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        ns = estimates["median"]["point_estimate"] / s
        kernel = meta.get("function_id") or meta.get("value_str")
        keep_min(cells, (n, k, s), kernel, ns)
    # kernels the bench did not sample: timed once (ms per user) or predicted (s per user)
    skipped = re.compile(r"grid/n=(\d+)/k=(\d+)/s=(\d+)/([\w-]+): skipped, "
                         r"(?:one user took ([\d.]+) ms|predicted .*~(\d+) s)")
    for log in logs:
        for line in log.read_text().splitlines():
            m = skipped.search(line)
            if m:
                n, k, s = map(int, m.groups()[:3])
                ns = float(m.group(5)) * 1e6 if m.group(5) else float(m.group(6)) * 1e9
                keep_min(cells, (n, k, s), m.group(4), ns / s)
    return cells


def fmt(ns: float | None) -> str:
    if ns is None:
        return "-"
    if ns >= 1000:
        return f"{ns / 1000:.0f}µ"
    return f"{ns:.1f}" if ns < 100 else f"{ns:.0f}"


def plot(cells, path, n=1_000_000):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    requests = sorted({s for (nn, _, s) in cells if nn == n})
    fig, axes = plt.subplots(1, len(requests), figsize=(6 * len(requests), 4.8), sharey=True)
    for ax, s in zip(axes, requests):
        for name in KERNELS:
            points = sorted((k / n, by[name]) for (nn, k, ss), by in cells.items()
                            if nn == n and ss == s and name in by)
            if points:
                style = dict(color="black", linewidth=2.5) if name == "auto" else dict(linewidth=1.3)
                ax.plot(*zip(*points), marker="o", markersize=3, label=name, **style)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"n = {n:,} items, {s:,} negative(s) per user")
        ax.set_xlabel("user density k / n")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ns per negative (log)")
    axes[-1].legend(fontsize=8)
    fig.suptitle("Where each uniform kernel breaks down (criterion grid, with replacement)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--criterion", type=Path, nargs="+", default=[Path("target/criterion")])
    ap.add_argument("--log", type=Path, nargs="*", default=[])
    ap.add_argument("--plot", type=Path)
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
    if args.plot:
        plot(cells, args.plot)
    print("largest auto/best: " + "; ".join(f"{r:.2f} at n={n} k={k} s={s} (best {b})" for r, n, k, s, b in worst))


if __name__ == "__main__":
    main()
