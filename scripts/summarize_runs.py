"""Summarises repeated `scripts/measure.py` runs of one sampling job (JSON lines on
stdin): median wall time, rows/s and MB/s, worst peak RSS and peak anonymous RSS.

    ... | python3 scripts/summarize_runs.py THREADS ROWS BYTES"""

import json
import statistics
import sys

threads, rows, nbytes = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
runs = [json.loads(line) for line in sys.stdin if line.strip()]
wall = statistics.median(r["wall_s"] for r in runs)
walls = ", ".join(f"{r['wall_s']:.2f}" for r in runs)
print(f"  threads {threads}: {rows} rows, median {wall:.2f} s of [{walls}] = {rows / wall / 1e6:.1f}M rows/s, "
      f"{nbytes / wall / 1e6:.0f} MB/s; peak RSS {max(r['peak_rss_mb'] for r in runs):.0f} MB, "
      f"peak anon RSS {max(r['peak_anon_mb'] for r in runs):.0f} MB")
