//! Output rows in memory: one typed buffer per schema column, filled a user at a time
//! column by column (in fixed-size chunks when the user's anchors all give the same
//! number of rows), reused from chunk to chunk (cleared, never freed, so the hot path
//! stops allocating once warm).

use crate::config::HistoryOrder;
use crate::schema::{ColumnKind, Dtype, Schema};
use negsamp_store::kept::Values;
use negsamp_store::{Store, StoreError, UserView};
use std::iter::repeat_n;
use std::ops::Range;

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Buffer {
    U8(Vec<u8>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Buffer {
    /// An empty buffer for `dtype` (strings are held as dictionary codes).
    pub fn new(dtype: Dtype) -> Self {
        match dtype {
            Dtype::U8 => Buffer::U8(Vec::new()),
            Dtype::U32 | Dtype::Str => Buffer::U32(Vec::new()),
            Dtype::U64 => Buffer::U64(Vec::new()),
            Dtype::I64 => Buffer::I64(Vec::new()),
            Dtype::F32 => Buffer::F32(Vec::new()),
            Dtype::F64 => Buffer::F64(Vec::new()),
        }
    }

    pub fn clear(&mut self) {
        match self {
            Buffer::U8(v) => v.clear(),
            Buffer::U32(v) => v.clear(),
            Buffer::U64(v) => v.clear(),
            Buffer::I64(v) => v.clear(),
            Buffer::F32(v) => v.clear(),
            Buffer::F64(v) => v.clear(),
        }
    }

    /// Elements held (rows × width).
    pub fn len(&self) -> usize {
        match self {
            Buffer::U8(v) => v.len(),
            Buffer::U32(v) => v.len(),
            Buffer::U64(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as little-endian bytes: exactly a `.npy` file's data, and what the
    /// manifest's column checksums cover whatever the file format.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Buffer::U8(v) => v,
            Buffer::U32(v) => bytemuck::cast_slice(v),
            Buffer::U64(v) => bytemuck::cast_slice(v),
            Buffer::I64(v) => bytemuck::cast_slice(v),
            Buffer::F32(v) => bytemuck::cast_slice(v),
            Buffer::F64(v) => bytemuck::cast_slice(v),
        }
    }

    /// Appends `other`'s values (same type).
    pub fn extend_from(&mut self, other: &Buffer) {
        self.extend_from_range(other, 0..other.len());
    }

    /// Appends `other`'s values at positions `range` (same type).
    pub fn extend_from_range(&mut self, other: &Buffer, range: std::ops::Range<usize>) {
        match (self, other) {
            (Buffer::U8(a), Buffer::U8(b)) => a.extend_from_slice(&b[range]),
            (Buffer::U32(a), Buffer::U32(b)) => a.extend_from_slice(&b[range]),
            (Buffer::U64(a), Buffer::U64(b)) => a.extend_from_slice(&b[range]),
            (Buffer::I64(a), Buffer::I64(b)) => a.extend_from_slice(&b[range]),
            (Buffer::F32(a), Buffer::F32(b)) => a.extend_from_slice(&b[range]),
            (Buffer::F64(a), Buffer::F64(b)) => a.extend_from_slice(&b[range]),
            (a, b) => panic!("appending {b:?} to {a:?}"),
        }
    }

    /// Holds `len` values, new ones zero (to be filled through [`Buffer::bytes_mut`]).
    pub fn resize(&mut self, len: usize) {
        match self {
            Buffer::U8(v) => v.resize(len, 0),
            Buffer::U32(v) => v.resize(len, 0),
            Buffer::U64(v) => v.resize(len, 0),
            Buffer::I64(v) => v.resize(len, 0),
            Buffer::F32(v) => v.resize(len, 0.0),
            Buffer::F64(v) => v.resize(len, 0.0),
        }
    }

    /// The values as little-endian bytes, writable (every bit pattern is a value).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Buffer::U8(v) => v,
            Buffer::U32(v) => bytemuck::cast_slice_mut(v),
            Buffer::U64(v) => bytemuck::cast_slice_mut(v),
            Buffer::I64(v) => bytemuck::cast_slice_mut(v),
            Buffer::F32(v) => bytemuck::cast_slice_mut(v),
            Buffer::F64(v) => bytemuck::cast_slice_mut(v),
        }
    }

    /// Drops the first `n` values.
    fn drain_front(&mut self, n: usize) {
        match self {
            Buffer::U8(v) => drop(v.drain(..n)),
            Buffer::U32(v) => drop(v.drain(..n)),
            Buffer::U64(v) => drop(v.drain(..n)),
            Buffer::I64(v) => drop(v.drain(..n)),
            Buffer::F32(v) => drop(v.drain(..n)),
            Buffer::F64(v) => drop(v.drain(..n)),
        }
    }

    pub fn u32s(&self) -> &[u32] {
        match self {
            Buffer::U32(v) => v,
            other => panic!("a u32 column holds {other:?}"),
        }
    }
}

/// Some rows of a run's schema, one buffer per column (an id column derived by the
/// writer stays empty).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rows {
    pub columns: Vec<Buffer>,
    rows: usize,
    /// One history row, padded, copied once per output row of its anchor.
    history_row: Vec<u32>,
}

/// One anchor of a user's rows: its positive (unless negatives only), which of the
/// user's negatives it holds, and what each of its rows carries from it.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub positive: Option<u32>,
    /// Its negatives: a range of [`UserAnchors::negatives`] (and of `log_q`, `scores`).
    pub negatives: Range<usize>,
    /// The model's score of the positive (NaN without embeddings).
    pub positive_score: f32,
    /// The anchor's source row and timestamp (0 without timestamps).
    pub anchor: u64,
    pub timestamp: i64,
    /// The anchor's position in the store's interaction columns (for kept values).
    pub position: usize,
    /// The anchor's history, oldest first (at most the schema's width): a range of
    /// [`UserAnchors::history`].
    pub history: Range<usize>,
}

/// A user's anchors, in output order, and the values their ranges point into.
#[derive(Debug, Clone, Copy)]
pub struct UserAnchors<'a> {
    pub user: u32,
    pub anchors: &'a [Anchor],
    pub negatives: &'a [u32],
    /// `log(w/W)` per negative (when the schema has `log_q`).
    pub log_q: &'a [f32],
    /// The model's score per negative (when the schema has `score`).
    pub scores: &'a [f32],
    /// The user's positives in history order (when the schema has `history`).
    pub history: &'a [u32],
}

impl Rows {
    /// Empty buffers for `schema`.
    pub fn new(schema: &Schema) -> Self {
        Rows {
            columns: schema
                .columns
                .iter()
                .map(|c| Buffer::new(c.dtype))
                .collect(),
            rows: 0,
            history_row: Vec::new(),
        }
    }

    pub fn clear(&mut self) {
        self.columns.iter_mut().for_each(Buffer::clear);
        self.rows = 0;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends a user's rows, anchor by anchor — long layout: its positive (if any)
    /// then one row per negative; wide layout: one row. Filled column by column, each
    /// column over all the user's anchors: one dispatch on the column's kind per user,
    /// not per anchor (per anchor it was a quarter of `sample`'s time).
    pub fn push_anchors(&mut self, schema: &Schema, store: &Store, user: &UserAnchors<'_>) {
        let wide = schema.layout == crate::config::Layout::Wide;
        let shape = Shape::of(wide, user.anchors);
        let n = shape.total_rows(user.anchors);
        let pad = schema.pad;
        let Rows {
            columns,
            rows,
            history_row,
        } = self;
        for (column, buffer) in schema.columns.iter().zip(columns) {
            match (column.kind, buffer) {
                (ColumnKind::User, Buffer::U32(v)) => v.extend(repeat_n(user.user, n)),
                (ColumnKind::Item, Buffer::U32(v)) if wide => {
                    v.extend(user.anchors.iter().filter_map(|a| a.positive))
                }
                (ColumnKind::Item, Buffer::U32(v)) => {
                    per_positive_then_negatives(v, n, shape, user.anchors, user.negatives, |a| {
                        a.positive
                    })
                }
                (ColumnKind::Label, Buffer::U8(v)) => {
                    fill_first_row(v, n, shape, user.anchors, |a| {
                        u8::from(a.positive.is_some())
                    })
                }
                (ColumnKind::Anchor, Buffer::U64(v)) => {
                    fill_per_row(v, n, shape, user.anchors, |a| a.anchor)
                }
                // The schema chose u32 only for a store whose rows all fit.
                (ColumnKind::Anchor, Buffer::U32(v)) => {
                    fill_per_row(v, n, shape, user.anchors, |a| a.anchor as u32)
                }
                (ColumnKind::Timestamp, Buffer::I64(v)) => {
                    fill_per_row(v, n, shape, user.anchors, |a| a.timestamp)
                }
                (ColumnKind::LogQ, Buffer::F32(v)) if wide => {
                    per_negative_padded(v, user.anchors, user.log_q, column.width)
                }
                (ColumnKind::LogQ, Buffer::F32(v)) => {
                    per_positive_then_negatives(v, n, shape, user.anchors, user.log_q, |a| {
                        a.positive.map(|_| f32::NAN)
                    })
                }
                (ColumnKind::Score, Buffer::F32(v)) if wide => {
                    per_negative_padded(v, user.anchors, user.scores, column.width)
                }
                (ColumnKind::Score, Buffer::F32(v)) => {
                    per_positive_then_negatives(v, n, shape, user.anchors, user.scores, |a| {
                        a.positive.map(|_| a.positive_score)
                    })
                }
                (ColumnKind::Carried { kept, .. }, buffer) => {
                    match (store.kept_values(kept), buffer) {
                        (Values::I64(x), Buffer::I64(v)) => {
                            fill_per_row(v, n, shape, user.anchors, |a| x[a.position])
                        }
                        (Values::F64(x), Buffer::F64(v)) => {
                            fill_per_row(v, n, shape, user.anchors, |a| x[a.position])
                        }
                        (Values::Str(x), Buffer::U32(v)) => {
                            fill_per_row(v, n, shape, user.anchors, |a| x[a.position])
                        }
                        (values, buffer) => {
                            unreachable!("schema typed {values:?} as {buffer:?}")
                        }
                    }
                }
                (ColumnKind::History, Buffer::U32(v)) => {
                    for a in user.anchors {
                        history_row.clear();
                        history_row.extend(repeat_n(pad, column.width - a.history.len()));
                        history_row.extend_from_slice(&user.history[a.history.clone()]);
                        for _ in 0..shape.rows(a) {
                            v.extend_from_slice(history_row);
                        }
                    }
                }
                (ColumnKind::HistoryLen, Buffer::U32(v)) => {
                    fill_per_row(v, n, shape, user.anchors, |a| a.history.len() as u32)
                }
                (ColumnKind::Negatives, Buffer::U32(v)) => {
                    for a in user.anchors {
                        v.extend_from_slice(&user.negatives[a.negatives.clone()]);
                        v.extend(repeat_n(pad, column.width - a.negatives.len()));
                    }
                }
                (ColumnKind::NegativesLen, Buffer::U32(v)) => {
                    v.extend(user.anchors.iter().map(|a| a.negatives.len() as u32))
                }
                (ColumnKind::UserId | ColumnKind::ItemId, _) => {}
                (kind, buffer) => unreachable!("schema typed {kind:?} as {buffer:?}"),
            }
        }
        *rows += n;
    }

    /// Appends `other`'s rows (same schema).
    pub fn extend_from(&mut self, other: &Rows) {
        for (a, b) in self.columns.iter_mut().zip(&other.columns) {
            a.extend_from(b);
        }
        self.rows += other.rows;
    }

    /// Appends `other`'s rows `range` (same schema).
    pub fn extend_from_rows(
        &mut self,
        schema: &Schema,
        other: &Rows,
        range: std::ops::Range<usize>,
    ) {
        for ((a, b), column) in self
            .columns
            .iter_mut()
            .zip(&other.columns)
            .zip(&schema.columns)
        {
            if !b.is_empty() {
                a.extend_from_range(b, range.start * column.width..range.end * column.width);
            }
        }
        self.rows += range.len();
    }

    /// Holds `n` rows, every column's buffer sized for them (new values zero), to be
    /// filled column by column through [`Buffer::bytes_mut`].
    pub fn resize_rows(&mut self, schema: &Schema, n: usize) {
        for (buffer, column) in self.columns.iter_mut().zip(&schema.columns) {
            buffer.resize(n * column.width);
        }
        self.rows = n;
    }

    /// Drops the first `n` rows.
    pub fn drain_front(&mut self, schema: &Schema, n: usize) {
        for (buffer, column) in self.columns.iter_mut().zip(&schema.columns) {
            if !buffer.is_empty() {
                buffer.drain_front(n * column.width);
            }
        }
        self.rows -= n;
    }

    /// The buffer of the column named `name`.
    pub fn column(&self, schema: &Schema, name: &str) -> Option<&Buffer> {
        schema.position(name).map(|c| &self.columns[c])
    }

    /// The `user` column (every schema has it).
    pub fn users(&self) -> &[u32] {
        self.columns[0].u32s()
    }

    /// Rows rebuilt from files by a reader.
    pub fn from_columns(columns: Vec<Buffer>, rows: usize) -> Self {
        Rows {
            columns,
            rows,
            history_row: Vec::new(),
        }
    }
}

/// Appends `n` values to `v` for `fill` to write (they start as `T::default()`): the
/// capacity is checked once per user and column, where an `extend` per anchor checked
/// it per anchor — those appends were a fifth of `sample`'s instructions.
fn append<T: Copy + Default>(v: &mut Vec<T>, n: usize, fill: impl FnOnce(&mut [T])) {
    let start = v.len();
    v.resize(start + n, T::default());
    fill(&mut v[start..]);
}

/// How many rows each of a user's anchors gives. Usually every anchor gives the same
/// number (a ratio met in full: 2 at 1:1, 1 wide or negatives only), and the columns are
/// then filled in chunks of a size fixed at compile time — a loop over anchors with
/// no per-anchor split or call, where the general loop cost ~35 instructions an
/// anchor and column (a quarter of `sample`'s instructions).
#[derive(Debug, Clone, Copy)]
struct Shape {
    wide: bool,
    /// The rows of every anchor, when they are all the same.
    same: Option<usize>,
}

impl Shape {
    fn of(wide: bool, anchors: &[Anchor]) -> Self {
        let mixed = Shape { wide, same: None };
        let first = anchors.first().map(|a| mixed.rows(a));
        Shape {
            wide,
            same: first.filter(|&rows| anchors.iter().all(|a| mixed.rows(a) == rows)),
        }
    }

    /// The rows anchor `a` gives: wide, one; long, its positive (if any) and one per
    /// negative.
    fn rows(self, a: &Anchor) -> usize {
        if self.wide {
            1
        } else {
            a.negatives.len() + usize::from(a.positive.is_some())
        }
    }

    fn total_rows(self, anchors: &[Anchor]) -> usize {
        match self.same {
            Some(rows) => rows * anchors.len(),
            None => anchors.iter().map(|a| self.rows(a)).sum(),
        }
    }
}

/// Runs `$body` with each anchor `$a` and its rows `$rows` of `$out` — in chunks of a
/// size fixed at compile time when every anchor gives one of the common few, so the
/// body's fills and copies compile to a few stores. (A macro, not a function taking a
/// closure: through the closure the chunk's size was lost, and a `memcpy` call per
/// anchor came back.)
macro_rules! per_anchor_rows {
    ($out:expr, $shape:expr, $anchors:expr, |$rows:ident, $a:ident| $body:block) => {{
        let (out, shape, anchors) = ($out, $shape, $anchors);
        match shape.same {
            Some(1) => per_anchor_rows!(@chunks 1, out, anchors, $rows, $a, $body),
            Some(2) => per_anchor_rows!(@chunks 2, out, anchors, $rows, $a, $body),
            Some(3) => per_anchor_rows!(@chunks 3, out, anchors, $rows, $a, $body),
            _ => {
                let mut out = out;
                for $a in anchors {
                    let ($rows, rest) = std::mem::take(&mut out).split_at_mut(shape.rows($a));
                    out = rest;
                    $body
                }
            }
        }
    }};
    (@chunks $r:literal, $out:ident, $anchors:ident, $rows:ident, $a:ident, $body:block) => {
        for ($rows, $a) in $out.as_chunks_mut::<$r>().0.iter_mut().zip($anchors) {
            let $rows: &mut [_] = $rows;
            $body
        }
    };
}

/// Appends, per anchor, its value once per row it gives (`n` rows in all).
fn fill_per_row<T: Copy + Default>(
    v: &mut Vec<T>,
    n: usize,
    shape: Shape,
    anchors: &[Anchor],
    value: impl Fn(&Anchor) -> T,
) {
    append(v, n, |out| {
        per_anchor_rows!(out, shape, anchors, |rows, a| { rows.fill(value(a)) })
    });
}

/// Appends, per anchor, `first` in its first row (if it gives any) and the default in
/// the others (`n` rows in all): the label.
fn fill_first_row<T: Copy + Default>(
    v: &mut Vec<T>,
    n: usize,
    shape: Shape,
    anchors: &[Anchor],
    first: impl Fn(&Anchor) -> T,
) {
    append(v, n, |out| {
        per_anchor_rows!(out, shape, anchors, |rows, a| {
            if let Some(row) = rows.first_mut() {
                *row = first(a);
            }
        })
    });
}

/// Appends a long per-row column (`n` rows): per anchor, its positive's value (if it
/// has a positive row), then one value per negative from `values`.
fn per_positive_then_negatives<T: Copy + Default>(
    v: &mut Vec<T>,
    n: usize,
    shape: Shape,
    anchors: &[Anchor],
    values: &[T],
    positive: impl Fn(&Anchor) -> Option<T>,
) {
    append(v, n, |out| {
        per_anchor_rows!(out, shape, anchors, |rows, a| {
            // The anchor's negatives fill the rows after its positive; taking their
            // number from the rows keeps the copy's length a constant in fixed chunks.
            let negatives = &values[a.negatives.start..];
            let len = rows.len();
            match positive(a) {
                Some(value) => {
                    rows[0] = value;
                    rows[1..].copy_from_slice(&negatives[..len - 1]);
                }
                None => rows.copy_from_slice(&negatives[..len]),
            }
        })
    });
}

/// Appends a wide per-negative column: per anchor, its values padded with NaN to
/// `width`.
fn per_negative_padded(v: &mut Vec<f32>, anchors: &[Anchor], values: &[f32], width: usize) {
    for a in anchors {
        v.extend_from_slice(&values[a.negatives.clone()]);
        v.extend(repeat_n(f32::NAN, width - a.negatives.len()));
    }
}

/// A user's positives in history order, for answering "which positives came before
/// this anchor" in O(1) per anchor after one sort per user.
#[derive(Debug, Default, Clone)]
pub struct HistoryIndex {
    /// Items in history order.
    items: Vec<u32>,
    /// Per position in history order: where its tie group starts (the first position
    /// not strictly before it).
    group_start: Vec<u32>,
    /// Per positive (CSR position within the user): its position in history order.
    position_of: Vec<u32>,
    scratch: Vec<(i64, u64, u32)>,
    keys: Vec<u64>,
}

impl HistoryIndex {
    /// Orders `view`'s positives by (timestamp, row) — ties being equal timestamps —
    /// or by source row; an error if the store's time order is corrupt.
    pub fn build(&mut self, view: &UserView<'_>, order: HistoryOrder) -> Result<(), StoreError> {
        let k = view.items.len();
        let by_time = order == HistoryOrder::Time;
        negsamp_store::order::of_user(view, by_time, &mut self.scratch, &mut self.keys)?;
        self.items.clear();
        self.group_start.clear();
        self.position_of.resize(k, 0);
        for (p, &(ts, _, j)) in self.scratch.iter().enumerate() {
            self.items.push(view.items[j as usize]);
            let tie = order == HistoryOrder::Time && p > 0 && self.scratch[p - 1].0 == ts;
            let start = if tie {
                self.group_start[p - 1]
            } else {
                p as u32
            };
            self.group_start.push(start);
            self.position_of[j as usize] = p as u32;
        }
        Ok(())
    }

    /// The at most `n` most recent positives strictly before positive `j` (its CSR
    /// position within the user), oldest first.
    pub fn window(&self, j: usize, n: usize) -> &[u32] {
        &self.items[self.window_range(j, n)]
    }

    /// Where [`HistoryIndex::window`] lies in [`HistoryIndex::items`].
    pub fn window_range(&self, j: usize, n: usize) -> Range<usize> {
        let end = self.group_start[self.position_of[j] as usize] as usize;
        end.saturating_sub(n)..end
    }

    /// The user's positives in history order.
    pub fn items(&self) -> &[u32] {
        &self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, written as plainly as possible: positives strictly earlier, by
    /// time (sorted by (timestamp, row)) or by row (sorted by row), the last `n`.
    fn reference(view: &UserView<'_>, order: HistoryOrder, j: usize, n: usize) -> Vec<u32> {
        let ts = |i: usize| view.timestamps.map_or(0, |t| t[i]);
        let before = |i: usize| match order {
            HistoryOrder::Time => ts(i) < ts(j),
            HistoryOrder::Row => view.rows[i] < view.rows[j],
        };
        let mut earlier: Vec<usize> = (0..view.items.len()).filter(|&i| before(i)).collect();
        match order {
            HistoryOrder::Time => earlier.sort_by_key(|&i| (ts(i), view.rows[i])),
            HistoryOrder::Row => earlier.sort_by_key(|&i| view.rows[i]),
        }
        let from = earlier.len().saturating_sub(n);
        earlier[from..].iter().map(|&i| view.items[i]).collect()
    }

    /// Anchors with `negatives` each (and a positive when `positive`), their negatives
    /// one after another from 0 — with a gap after each, as a split leaves.
    fn anchors_of(negatives: &[usize], positive: bool) -> Vec<Anchor> {
        let mut next = 0;
        negatives
            .iter()
            .zip(0u64..)
            .map(|(&count, i)| {
                let anchor = Anchor {
                    positive: positive.then_some(1000 + i as u32),
                    negatives: next..next + count,
                    positive_score: f32::NAN,
                    anchor: 7 * i,
                    timestamp: -(i as i64),
                    position: 0,
                    history: 0..0,
                };
                next += count + 1;
                anchor
            })
            .collect()
    }

    proptest::proptest! {
        /// The per-row fills, in chunks of a fixed size or anchor by anchor, give the
        /// long layout as written plainly: per anchor, its positive then its negatives.
        #[test]
        fn the_long_columns_are_the_plain_layout(
            same in proptest::option::of(0usize..5),
            counts in proptest::collection::vec(0usize..5, 0..12),
            positive: bool,
            wide: bool,
        ) {
            let counts: Vec<usize> = match same {
                Some(c) => vec![c; counts.len()],
                None => counts,
            };
            let anchors = anchors_of(&counts, positive);
            let values: Vec<u32> = (0..100).map(|i| 500 + i).collect();
            let shape = Shape::of(wide, &anchors);
            let mut rows_of = Vec::new();
            let (mut items, mut labels, mut stamps) = (Vec::new(), Vec::new(), Vec::new());
            for a in &anchors {
                let rows = if wide { 1 } else { a.negatives.len() + usize::from(positive) };
                rows_of.push(rows);
                stamps.extend(repeat_n(a.timestamp, rows));
                let mut label = vec![0u8; rows];
                if let Some(first) = label.first_mut() {
                    *first = u8::from(positive);
                }
                labels.extend(label);
                if !wide {
                    items.extend(a.positive);
                    items.extend_from_slice(&values[a.negatives.clone()]);
                }
            }
            let n = rows_of.iter().sum::<usize>();
            proptest::prop_assert_eq!(shape.total_rows(&anchors), n);
            let all_same = rows_of.windows(2).all(|w| w[0] == w[1]);
            proptest::prop_assert_eq!(shape.same.is_some(), !anchors.is_empty() && all_same);
            // Appended after values already there, which stay.
            let (mut got_stamps, mut got_labels, mut got_items) = (vec![9i64], vec![9u8], vec![9u32]);
            fill_per_row(&mut got_stamps, n, shape, &anchors, |a| a.timestamp);
            fill_first_row(&mut got_labels, n, shape, &anchors, |a| u8::from(a.positive.is_some()));
            proptest::prop_assert_eq!(&got_stamps[1..], &stamps[..]);
            proptest::prop_assert_eq!(&got_labels[1..], &labels[..]);
            if !wide {
                per_positive_then_negatives(&mut got_items, n, shape, &anchors, &values, |a| a.positive);
                proptest::prop_assert_eq!(&got_items[1..], &items[..]);
            }
            proptest::prop_assert_eq!((got_stamps[0], got_labels[0], got_items[0]), (9, 9, 9));
        }

        #[test]
        fn windows_match_the_definition(
            events in proptest::collection::vec((0i64..6, 0u64..1000), 1..40),
            n in 0usize..8,
        ) {
            // distinct rows; items are positions (any distinct values do)
            let mut rows: Vec<u64> = events.iter().map(|e| e.1).collect();
            rows.sort_unstable();
            rows.dedup();
            let k = rows.len();
            let ts: Vec<i64> = events.iter().map(|e| e.0).take(k).collect();
            let items: Vec<u32> = (0..k as u32).map(|i| i * 3 + 1).collect();
            let view = UserView { items: &items, rows: &rows, timestamps: Some(&ts), time_order: None, key: 0, start: 0 };
            let mut index = HistoryIndex::default();
            for order in [HistoryOrder::Time, HistoryOrder::Row] {
                index.build(&view, order).unwrap();
                for j in 0..k {
                    let got = index.window(j, n);
                    proptest::prop_assert_eq!(got, &reference(&view, order, j, n)[..]);
                    if order == HistoryOrder::Time {
                        // never the anchor, never a same-time or later item
                        for &item in got {
                            let i = items.iter().position(|&x| x == item).unwrap();
                            proptest::prop_assert!(ts[i] < ts[j]);
                        }
                    }
                }
            }
        }
    }
}
