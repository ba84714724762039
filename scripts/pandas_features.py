"""The pandas route to the features merge, as a user writes it today around a
feature-less `negsamp sample` output: read every part and the source CSV, join each
row to its anchor's source row for the carried columns, and build each row's item
history (the user's positives strictly before the anchor's time, last N, ordered by
(timestamp, row)) with a groupby.

    python3 scripts/pandas_features.py DATASET CSV N COL,COL,...

Prints one JSON line: rows and seconds per stage."""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ds, csv, n, carry = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
t0 = time.monotonic()
manifest = json.loads((ds / "manifest.json").read_text())
parts = [pd.DataFrame({c["name"]: np.load(ds / p["name"] / f"{c['name']}.npy")
                       for c in manifest["columns"]}) for p in manifest["parts"]]
df = pd.concat(parts, ignore_index=True)
t_parts = time.monotonic()
source = pd.read_csv(csv)
t_csv = time.monotonic()
df = df.join(source[carry], on="anchor")
t_join = time.monotonic()

# History: per user, positives sorted by (timestamp, row); the rows strictly earlier
# than an anchor are a prefix ending where the anchor's timestamp starts.
pos = df[df.label == 1][["user", "item", "anchor", "timestamp"]].sort_values(["user", "timestamp", "anchor"])
start = pos.groupby(["user", "timestamp"]).cumcount()
first_at = np.arange(len(pos)) - start.to_numpy()  # position where the tie group starts
user_start = pos.groupby("user").cumcount().to_numpy()
user_first = np.arange(len(pos)) - user_start
items = pos["item"].to_numpy()
hist = {}
for a, f, u in zip(pos.anchor.to_numpy(), first_at, user_first):
    hist[a] = items[max(u, f - n):f]
df["history"] = df.anchor.map(hist)
t_hist = time.monotonic()
print(json.dumps({"rows": len(df), "read_parts_s": round(t_parts - t0, 2), "read_csv_s": round(t_csv - t_parts, 2),
                  "join_s": round(t_join - t_csv, 2), "history_s": round(t_hist - t_join, 2),
                  "total_s": round(t_hist - t0, 2)}))
