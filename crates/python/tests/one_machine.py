"""The reference for distributed runs (test_spark.py, test_ray.py): generated events,
and `negsamp sample` on one machine over a store of the same rows in canonical order,
decoded to the distributed output's columns."""

import numpy as np
import pandas as pd

import negsamp


def events(seed=11, users=150, items=400, rows=3000):
    """Integer ids, timestamp ties and duplicate (user, item) rows, a float feature."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, users, rows)
    item = np.minimum(rng.zipf(1.3, rows), items) - 1  # popular items, and a long tail
    df = pd.DataFrame({"user": user, "item": item, "ts": rng.integers(0, 40, rows), "price": rng.random(rows).round(3)})
    # One user who touched nearly everything: a shortfall, the same on both sides.
    greedy = pd.DataFrame({"user": users, "item": np.arange(items - 2), "ts": 7, "price": 1.0})
    return pd.concat([df, greedy], ignore_index=True)


def single_machine(rows, tmp, ids, user_col, item_col, time_col, feature_cols, **params):
    """The reference: the CLI's engine on a store of the rows sorted by (user, time,
    item, features), with the catalog `ids`, decoded to the Spark output's columns."""
    keys = [user_col] + ([time_col] if time_col else []) + [item_col] + list(feature_cols)
    rows = rows.sort_values(keys, kind="mergesort").reset_index(drop=True)
    rows.to_csv(tmp / "rows.csv", index=False)
    (tmp / "items.txt").write_text("".join(f"{i}\n" for i in ids))
    options = dict(user_col=user_col, item_col=item_col, items=tmp / "items.txt")
    options.update(time_col=time_col) if time_col else options.update(no_time=True)
    negsamp.ingest(tmp / "rows.csv", tmp / "s.store", **options)
    negsamp.sample(tmp / "s.store", tmp / "out", **params)
    cols = negsamp.load(tmp / "out", as_="numpy", ids=False, memory_map=False)
    values = np.asarray(ids, dtype=object)
    anchor = rows.iloc[cols["anchor"].astype(np.int64)].reset_index(drop=True)
    out = {user_col: anchor[user_col]}
    if "label" in cols:
        out.update({item_col: values[cols["item"]], "label": cols["label"], "anchor_item": anchor[item_col]})
    else:
        out[item_col] = anchor[item_col]
    for col in ([time_col] if time_col else []) + list(feature_cols):
        out[col] = anchor[col]
    for name in ("history", "negatives"):
        if name in cols:
            padded = cols[name].reshape(len(cols[name]), -1)
            out[name] = [tuple(values[row[row != len(ids)]]) for row in padded]
    if "log_q" in cols:
        out["log_q"] = cols["log_q"]
    return pd.DataFrame(out)


def canonical(df):
    """Rows as comparable tuples, in one order (lists as tuples, ids as text)."""
    df = df.copy()
    for name in ("history", "negatives"):
        if name in df:
            df[name] = [tuple(str(v) for v in row) for row in df[name]]
    for col in df.columns:
        if df[col].dtype == object or col in ("user", "item", "anchor_item"):
            df[col] = df[col].map(str)
    df = df.astype({c: "float64" for c in df.columns if df[c].dtype.kind in "iuf"})
    return df.sort_values(list(df.columns), kind="mergesort").reset_index(drop=True)
