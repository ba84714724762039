"""A drop-in for the popularity article's ``generate_negative_samples``: the same
signature, the same returned columns and the same law — negatives drawn per user
without replacement from the items the user never touched, with probability
proportional to item popularity (interaction count), as many as the user's positives
(fewer when the user has fewer candidates) — computed by the engine: exact, and
reproducible for a given `seed` at any thread count.

Differences, by design: popularity counts distinct (user, item) pairs (a repeated
interaction counts once), and `seed=None` draws a fresh seed from the OS.
"""

from __future__ import annotations

import os
import tempfile
from typing import Optional, Sequence

import numpy as np
import pandas as pd

import negsamp


def generate_negative_samples(
    df: pd.DataFrame,
    user_col: str = "user_indice",
    item_col: str = "item_indice",
    label_col: str = "rating",
    neg_label: int = 0,
    seed: Optional[int] = None,
    *,
    timestamp_col: Optional[str] = None,
    feature_cols: Sequence[str] = (),
    history: int = 0,
) -> pd.DataFrame:
    """The negatives for `df`'s interactions: a DataFrame of `user_col`, `item_col`
    and `label_col` (= `neg_label`), users in order of first appearance, ids and their
    dtypes as in `df`.

    The article's features, in the same call: with `timestamp_col`, each negative
    gets the timestamp of the positive it is paired with (the article's join on
    ``timestamp_pseudo``); `feature_cols` copies that positive's columns; `history`
    adds ``history`` (the user's `history` most recent items strictly before that
    timestamp, oldest first, as a list of item ids).
    """
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little")
    columns = [user_col, item_col, *([timestamp_col] if timestamp_col else []), *feature_cols]
    keep = [c for c in feature_cols if c not in (user_col, item_col, timestamp_col)]
    with tempfile.TemporaryDirectory(prefix="negsamp-") as tmp:
        source = os.path.join(tmp, "interactions.parquet")
        df[columns].to_parquet(source, index=False)
        store = os.path.join(tmp, "s.store")
        negsamp.ingest(
            source,
            store,
            user_col=user_col,
            item_col=item_col,
            time_col=timestamp_col,
            no_time=timestamp_col is None,
            keep=list(keep) or None,
        )
        out = negsamp.sample(
            store,
            strategy="popularity",
            seed=seed,
            ratio=1,
            negatives_only=True,
            carry=list(keep) or None,
            history=history,
            history_order="time" if timestamp_col else "row",
            format="parquet",
            as_="numpy",
        )
        store_items = negsamp.Store(store).item_ids()
    # Ids come back as text: map them to the values (and dtypes) `df` holds.
    users = _restore(out["user_id"], df[user_col])
    items = _restore(out["item_id"], df[item_col])
    result = pd.DataFrame({user_col: users, item_col: items})
    result[label_col] = np.full(len(result), neg_label, dtype=np.asarray(df[label_col]).dtype if label_col in df else np.int64)
    if timestamp_col:
        stamps = pd.Series(out["timestamp"])
        if pd.api.types.is_datetime64_any_dtype(df[timestamp_col]):
            stamps = pd.to_datetime(stamps, unit="s")
        result[timestamp_col] = stamps.to_numpy()
    for name in keep:
        result[name] = out[name]
    if history:
        item_values = _restore(np.array(store_items, dtype=object), df[item_col])
        pad = len(store_items)
        windows = (np.asarray(row, dtype=np.int64) for row in out["history"])
        result["history"] = [list(item_values[row[row < pad]]) for row in windows]
    return result


def _restore(text_ids: np.ndarray, original: pd.Series) -> np.ndarray:
    """Ids read back as text, as the values of `original` they came from."""
    values = pd.unique(original)
    lookup = {str(v): v for v in values}
    restored = np.array([lookup[t] for t in text_ids], dtype=object)
    try:
        return restored.astype(np.asarray(values).dtype)
    except (TypeError, ValueError):
        return restored
