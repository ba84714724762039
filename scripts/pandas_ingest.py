"""The pandas reference for `negsamp ingest`: read_csv + factorize + lexsort, the
core of what a pandas pipeline does to turn a CSV into per-user sorted item lists.
(negsamp additionally drops duplicates, checksums, and writes and syncs the store.)

    python3 scripts/pandas_ingest.py interactions.csv"""

import sys
import time

import numpy as np
import pandas as pd

start = time.monotonic()
df = pd.read_csv(sys.argv[1], usecols=["user", "item", "timestamp"])
user_codes, users = pd.factorize(df["user"])
item_codes, items = pd.factorize(df["item"])
order = np.lexsort((item_codes, user_codes))
indices = item_codes[order]
indptr = np.concatenate([[0], np.cumsum(np.bincount(user_codes, minlength=len(users)))])
elapsed = time.monotonic() - start
print(f"pandas: {len(df)} rows, {len(users)} users, {len(items)} items in {elapsed:.2f} s")
