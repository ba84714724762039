"""Loads a `negsamp demo --dir DIR` dataset (Parquet, with carried columns, history and
original ids) with pandas in one line as the README documents, and a `.npy` sample of
the same store with NumPy; joins both back to the source CSV through `anchor` and
checks the contract from the Python side. Exits non-zero on any mismatch."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

root = Path(sys.argv[1])
negsamp = sys.argv[2]

# The demo's Parquet dataset: one line of pandas.
demo = pd.read_parquet(root / "train")
demo_manifest = json.loads((root / "train" / "_manifest.json").read_text())
assert len(demo) == demo_manifest["totals"]["rows"]
for column in ["user", "item", "label", "anchor", "timestamp", "price", "category", "history", "user_id", "item_id"]:
    assert column in demo.columns, column

# The same store sampled to .npy, loaded with NumPy.
train = root / "train-npy"
subprocess.run([negsamp, "sample", root / "data.store", "--out", train, "--shards", "3", "--overwrite"],
               check=True, stdout=subprocess.DEVNULL)
manifest = json.loads((train / "manifest.json").read_text())
users = (train / "users.txt").read_text().splitlines()
items = (train / "items.txt").read_text().splitlines()

frames = []
for part in manifest["parts"]:
    columns = {}
    for column in manifest["columns"]:
        array = np.load(train / part["name"] / f"{column['name']}.npy", mmap_mode="r")
        assert array.dtype.str == column["dtype"], (column, array.dtype.str)
        assert array.shape == (part["rows"],), (column, array.shape)
        columns[column["name"]] = np.asarray(array)
    frames.append(pd.DataFrame(columns))
df = pd.concat(frames, ignore_index=True)

totals = manifest["totals"]
assert len(df) == totals["rows"]
assert int((df.label == 1).sum()) == totals["positives"]
assert int((df.label == 0).sum()) == totals["negatives"]

# Join every row back to the source CSV through the anchor's data-row number.
source = pd.read_csv(root / "interactions.csv", dtype={"user": str, "item": str})
joined = df.join(source.add_prefix("src_"), on="anchor")
assert (joined.src_timestamp == joined.timestamp).all(), "timestamps differ from the anchors'"
assert (np.asarray(users)[joined.user] == joined.src_user).all(), "user ids differ from the anchors'"
positives = joined[joined.label == 1]
assert (np.asarray(items)[positives.item] == positives.src_item).all(), "positive items differ"

# Never a positive: no negative (user, item) pair occurs in the source.
pairs = set(zip(source.user, source.item))
negatives = joined[joined.label == 0]
neg_pairs = zip(np.asarray(users)[negatives.user], np.asarray(items)[negatives.item])
assert not any(p in pairs for p in neg_pairs), "a negative is a positive"

# The Parquet dataset's positives and original ids agree with the source too.
joined = demo.join(source.add_prefix("src_"), on="anchor")
assert (joined.user_id.astype(str) == joined.src_user).all(), "user_id differs from the anchor's"
positives = joined[joined.label == 1]
assert (positives.item_id.astype(str) == positives.src_item).all(), "item_id of a positive differs"
assert (joined.src_price == joined.price).all(), "carried price differs from the anchor's row"
print(f"numpy/pandas: {len(df)} .npy rows in {len(frames)} parts and {len(demo)} Parquet rows load and join back to the source")
