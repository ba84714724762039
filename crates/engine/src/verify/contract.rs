//! The sampling contract stated independently of the sampler, row by row: what
//! `verify` checks a chunk of a part's rows against before it samples them afresh.

use crate::config::{Layout, SampleConfig};
use crate::context::candidate_count;
use crate::hard::slot_counts;
use crate::rows::{Buffer, HistoryIndex, Rows};
use crate::run::part::PartJob;
use crate::schema::{ColumnKind, Schema};
use crate::user::{merge_sorted, Tally};
use crate::EngineError;
use negsamp_kernel::uniform::Replacement;
use negsamp_store::kept::Values;
use negsamp_store::Store;
use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

/// A part's rows in the long layout's terms, whatever the dataset's layout: what the
/// sampling contract is checked on.
#[derive(Debug, Default)]
pub struct PartData {
    pub user: Vec<u32>,
    pub item: Vec<u32>,
    pub label: Vec<u8>,
    pub anchor: Vec<u64>,
    pub timestamp: Option<Vec<i64>>,
    pub log_q: Option<Vec<f32>>,
    /// The part's row of the first row here.
    first: usize,
    /// In the wide layout, each row's file row (relative to `first`); empty when the
    /// rows are the file's.
    wide_rows: Vec<u32>,
}

impl PartData {
    /// The rows as the contract walk reads them.
    fn view(&self) -> LongRows<'_> {
        LongRows {
            user: &self.user,
            item: &self.item,
            label: &self.label,
            anchor: Cow::Borrowed(&self.anchor),
            timestamp: self.timestamp.as_deref(),
            log_q: self.log_q.as_deref(),
            first: self.first,
            wide_rows: &self.wide_rows,
        }
    }
}

/// [`PartData`] borrowed: a long part's columns as read (nothing copied), or a wide
/// part's rows expanded into a [`PartData`].
pub(super) struct LongRows<'a> {
    user: &'a [u32],
    item: &'a [u32],
    label: &'a [u8],
    anchor: Cow<'a, [u64]>,
    timestamp: Option<&'a [i64]>,
    log_q: Option<&'a [f32]>,
    first: usize,
    wide_rows: &'a [u32],
}

impl LongRows<'_> {
    /// The part's row (as its files count rows) that row `r` here comes from.
    fn file_row(&self, r: usize) -> usize {
        let past_the_end = || self.wide_rows.last().map_or(r, |&w| w as usize + 1);
        self.first
            + self
                .wide_rows
                .get(r)
                .map_or_else(past_the_end, |&w| w as usize)
    }

    pub(super) fn to_part_data(&self) -> PartData {
        PartData {
            user: self.user.to_vec(),
            item: self.item.to_vec(),
            label: self.label.to_vec(),
            anchor: self.anchor.to_vec(),
            timestamp: self.timestamp.map(<[i64]>::to_vec),
            log_q: self.log_q.map(<[f32]>::to_vec),
            first: self.first,
            wide_rows: self.wide_rows.to_vec(),
        }
    }
}

/// For the users of one chunk, each user's positives in (timestamp, row) order — the
/// order the contract emits anchors in ([`crate::order`]) — so that each row's anchor
/// is found by walking forward from the previous row's (shared by the contract and
/// feature checks).
#[derive(Debug, Default)]
pub(super) struct AnchorIndex {
    users: Range<u32>,
    /// Where each user's entries start in `entries` (one more than the users).
    offsets: Vec<usize>,
    /// (source row, position among the user's positives), in (timestamp, row) order
    /// per user.
    entries: Vec<(u64, u32)>,
}

impl AnchorIndex {
    /// Starts an index of the users from `first` on.
    pub(super) fn clear(&mut self, first: u32) {
        self.entries.clear();
        self.offsets.clear();
        self.offsets.push(0);
        self.users = first..first;
    }

    /// Adds the next user's positives as `(timestamp, row, position)` in (timestamp,
    /// row) order — what the sampler sorted them into to sample the user afresh.
    pub(super) fn push_user(&mut self, order: &[(i64, u64, u32)]) {
        self.entries
            .extend(order.iter().map(|&(_, row, j)| (row, j)));
        self.offsets.push(self.entries.len());
        self.users.end += 1;
    }

    /// A lookup that walks each user's anchors forward.
    fn finder(&self) -> AnchorFinder<'_> {
        AnchorFinder {
            index: self,
            user: None,
            next: 0,
            last: None,
        }
    }
}

/// Finds rows' anchors among their users' positives, rows coming user by user and, per
/// user, in the anchors' (timestamp, row) order.
struct AnchorFinder<'a> {
    index: &'a AnchorIndex,
    /// The user walked, and the next of their entries to look at.
    user: Option<u32>,
    next: usize,
    /// The last anchor found and its position.
    last: Option<(u64, usize)>,
}

impl AnchorFinder<'_> {
    /// The position of source row `anchor` among user `u`'s positives; an error message
    /// if it is not one, or comes before the previous row's anchor in the order.
    fn position(&mut self, u: u32, anchor: u64) -> Result<usize, String> {
        let index = self.index;
        let not_positive = || format!("anchor {anchor} is not a positive of user {u}");
        let k = index
            .users
            .contains(&u)
            .then(|| (u - index.users.start) as usize)
            .ok_or_else(not_positive)?;
        if self.user != Some(u) {
            (self.user, self.next, self.last) = (Some(u), index.offsets[k], None);
        }
        if let Some((_, j)) = self.last.filter(|&(row, _)| row == anchor) {
            return Ok(j);
        }
        let entries = &index.entries[..index.offsets[k + 1]];
        match entries[self.next..]
            .iter()
            .position(|&(row, _)| row == anchor)
        {
            Some(skipped) => {
                let j = entries[self.next + skipped].1 as usize;
                self.next += skipped + 1;
                self.last = Some((anchor, j));
                Ok(j)
            }
            None if entries[index.offsets[k]..]
                .iter()
                .any(|&(row, _)| row == anchor) =>
            {
                Err(format!(
                    "anchor {anchor} of user {u} is out of (timestamp, row) order"
                ))
            }
            None => Err(not_positive()),
        }
    }
}

/// Which of [`ItemSets`]' two sets.
#[derive(Debug, Clone, Copy)]
enum Lane {
    /// The user's positives and excluded items.
    Excluded = 0,
    /// The negatives met so far for the user.
    Seen = 1,
}

/// Two sets of items as bits, a word of each side by side — one cache line holds an
/// item's bit in both, which a row tests — each cleared in the time of what was
/// inserted: "is this negative excluded, or repeated, for its user" at a bit test per
/// row.
#[derive(Debug)]
pub(super) struct ItemSets {
    words: Vec<[u64; 2]>,
    inserted: [Vec<u32>; 2],
}

impl ItemSets {
    pub(super) fn new(n_items: u32) -> Self {
        ItemSets {
            words: vec![[0; 2]; (n_items as usize).div_ceil(64)],
            inserted: [Vec::new(), Vec::new()],
        }
    }

    /// Inserts `item` (< the catalog size) into `lane`; false if it was there.
    fn insert(&mut self, lane: Lane, item: u32) -> bool {
        let (word, bit) = ((item / 64) as usize, 1u64 << (item % 64));
        let bits = &mut self.words[word][lane as usize];
        let fresh = *bits & bit == 0;
        *bits |= bit;
        if fresh {
            self.inserted[lane as usize].push(item);
        }
        fresh
    }

    fn contains(&self, lane: Lane, item: u32) -> bool {
        self.words[(item / 64) as usize][lane as usize] & (1u64 << (item % 64)) != 0
    }

    /// Empties both sets.
    fn clear(&mut self) {
        for (lane, inserted) in self.inserted.iter_mut().enumerate() {
            for &item in inserted.iter() {
                self.words[(item / 64) as usize][lane] = 0;
            }
            inserted.clear();
        }
    }
}

/// The contract's columns of a part, as long-layout rows: a long part's as they are, a
/// wide part's expanded into `expanded` (a wide row becomes its positive's row followed
/// by its negatives' rows; wide padding is checked here). `first` is the part's row of
/// `rows`' first.
pub(super) fn long_view<'a>(
    at: &Path,
    schema: &Schema,
    rows: &'a Rows,
    first: usize,
    expanded: &'a mut PartData,
) -> Result<LongRows<'a>, EngineError> {
    let get = |name: &str| rows.column(schema, name);
    let u32s = |name: &str| get(name).map_or(&[][..], Buffer::u32s);
    let anchor = get("anchor").map(anchors).unwrap_or_default();
    let timestamp = match get("timestamp") {
        Some(Buffer::I64(v)) => Some(&v[..]),
        _ => None,
    };
    let log_q = match get("log_q") {
        Some(Buffer::F32(v)) => Some(&v[..]),
        _ => None,
    };
    if schema.layout == Layout::Long {
        let label = match get("label") {
            Some(Buffer::U8(v)) => &v[..],
            _ => &[],
        };
        return Ok(LongRows {
            user: u32s("user"),
            item: u32s("item"),
            label,
            anchor,
            timestamp,
            log_q,
            first,
            wide_rows: &[],
        });
    }
    let (user, item) = (u32s("user"), u32s("item"));
    let (negatives, lens) = (u32s("negatives"), u32s("negatives_len"));
    let width = schema.columns[schema.position("negatives").expect("wide")].width;
    let mut out = PartData {
        timestamp: timestamp.map(|_| Vec::new()),
        log_q: log_q.map(|_| Vec::new()),
        first,
        ..Default::default()
    };
    for r in 0..rows.len() {
        let len = lens[r] as usize;
        let slots = &negatives[r * width..(r + 1) * width];
        if len > width || slots[len..].iter().any(|&x| x != schema.pad) {
            return Err(EngineError::invalid(
                at,
                format!(
                    "row {}: negatives_len {len} or the padding after it is wrong",
                    first + r
                ),
            ));
        }
        let n = len + 1;
        out.user.extend(std::iter::repeat_n(user[r], n));
        out.item.push(item[r]);
        out.item.extend_from_slice(&slots[..len]);
        out.label.push(1);
        out.label.extend(std::iter::repeat_n(0, len));
        out.wide_rows.extend(std::iter::repeat_n(r as u32, n));
        out.anchor.extend(std::iter::repeat_n(anchor[r], n));
        if let (Some(t), Some(ts)) = (&mut out.timestamp, timestamp) {
            t.extend(std::iter::repeat_n(ts[r], n));
        }
        if let (Some(q), Some(lq)) = (&mut out.log_q, log_q) {
            let row = &lq[r * width..(r + 1) * width];
            if row[len..].iter().any(|x| !x.is_nan()) {
                return Err(EngineError::invalid(
                    at,
                    format!("row {}: log_q padding is not NaN", first + r),
                ));
            }
            q.push(f32::NAN);
            q.extend_from_slice(&row[..len]);
        }
    }
    *expanded = out;
    Ok(expanded.view())
}

/// The anchor column as source rows, whichever type it was written in.
fn anchors(buffer: &Buffer) -> Cow<'_, [u64]> {
    match buffer {
        Buffer::U64(v) => Cow::Borrowed(v),
        Buffer::U32(v) => v.iter().map(|&a| u64::from(a)).collect(),
        _ => Cow::Borrowed(&[]),
    }
}

/// Every row's carried values, history and original ids are its anchor's, recomputed
/// from the store. `first` is the part's row of `rows`' first.
pub(super) fn check_features(
    at: &Path,
    schema: &Schema,
    config: &SampleConfig,
    store: &Store,
    anchor_index: &AnchorIndex,
    rows: &Rows,
    first: usize,
) -> Result<(), EngineError> {
    let derived_from_anchor = |kind: ColumnKind| {
        matches!(
            kind,
            ColumnKind::Carried { .. }
                | ColumnKind::History
                | ColumnKind::HistoryLen
                | ColumnKind::UserId
                | ColumnKind::ItemId
        )
    };
    if !schema.columns.iter().any(|c| derived_from_anchor(c.kind)) {
        return Ok(());
    }
    let fail = |r: usize, m: String| EngineError::invalid(at, format!("row {}: {m}", first + r));
    let users = rows.users();
    let anchors = match rows.column(schema, "anchor") {
        Some(buffer) => anchors(buffer),
        None => return Err(fail(0, "no anchor column".into())),
    };
    let history_len = config.history as usize;
    let mut index = HistoryIndex::default();
    let mut positions = anchor_index.finder();
    let mut r = 0;
    while r < rows.len() {
        let u = users[r];
        let view = store.user(u)?;
        if history_len > 0 {
            index.build(&view, config.history_order);
        }
        while r < rows.len() && users[r] == u {
            let j = positions
                .position(u, anchors[r])
                .map_err(|problem| fail(r, problem))?;
            for (column, buffer) in schema.columns.iter().zip(&rows.columns) {
                let ok = match (column.kind, buffer) {
                    (ColumnKind::Carried { kept, .. }, buffer) => {
                        let p = view.start + j;
                        match (store.kept_values(kept), buffer) {
                            (Values::I64(x), Buffer::I64(v)) => v[r] == x[p],
                            (Values::F64(x), Buffer::F64(v)) => {
                                v[r].to_bits() == x[p].to_bits() || (v[r].is_nan() && x[p].is_nan())
                            }
                            (Values::Str(x), Buffer::U32(v)) => v[r] == x[p],
                            _ => false,
                        }
                    }
                    (ColumnKind::History, Buffer::U32(v)) => {
                        let window = index.window(j, history_len);
                        let row = &v[r * history_len..(r + 1) * history_len];
                        let (padding, entries) = row.split_at(history_len - window.len());
                        entries == window && padding.iter().all(|&x| x == schema.pad)
                    }
                    (ColumnKind::HistoryLen, Buffer::U32(v)) => {
                        v[r] as usize == index.window(j, history_len).len()
                    }
                    (ColumnKind::UserId | ColumnKind::ItemId, Buffer::U32(v)) => {
                        let source = if column.kind == ColumnKind::UserId {
                            "user"
                        } else {
                            "item"
                        };
                        let ids = rows.column(schema, source).expect("has ids").u32s();
                        v.is_empty() || v[r] == ids[r]
                    }
                    _ => true,
                };
                if !ok {
                    return Err(fail(
                        r,
                        format!(
                            "{} differs from its anchor's (user {u}, source row {})",
                            column.name, anchors[r]
                        ),
                    ));
                }
            }
            r += 1;
        }
    }
    Ok(())
}

/// Walks the rows of `users` user by user and checks the contract; returns the counts
/// found.
pub(super) fn check_rows(
    dir: &Path,
    users: Range<u32>,
    data: &LongRows<'_>,
    job: &PartJob<'_>,
    anchor_index: &AnchorIndex,
    sets: &mut ItemSets,
) -> Result<Tally, EngineError> {
    // The user's excluded items and the negatives met so far, as bits: a bit test per
    // row where a binary search was a tenth of verify's time.
    let (store, context, config) = (job.store, job.context, job.config);
    let mut excluded = Vec::new();
    let fail = |row: usize, problem: String| {
        EngineError::invalid(dir, format!("row {}: {problem}", data.file_row(row)))
    };
    let mut tally = Tally {
        rows: data.user.len() as u64,
        ..Default::default()
    };
    let mut at = 0usize;
    let mut positions = anchor_index.finder();
    let mut per_anchor: Vec<u64> = Vec::new();
    for u in users {
        let view = store.user(u)?;
        let begin = at;
        while at < data.user.len() && data.user[at] == u {
            at += 1;
        }
        let rows = begin..at;
        let k = view.items.len();
        merge_sorted(view.items, context.exclusions.of(u), &mut excluded);
        let candidates = candidate_count(context, store.n_items(), &excluded);
        let mass = context.weights.as_ref().map_or(candidates, |w| {
            w.total() - excluded.iter().map(|&i| w.weight(i)).sum::<u64>()
        });
        let weight = |i: u32| context.weights.as_ref().map_or(1, |w| w.weight(i));
        let mut positives_seen = 0usize;
        let mut negatives = 0u64;
        let mut current_anchor: Option<u64> = None;
        let mut last_positive_key: Option<(i64, u64)> = None;
        sets.clear();
        for &item in &excluded {
            sets.insert(Lane::Excluded, item);
        }
        // negatives per anchor, by the anchor's position among the user's positives
        per_anchor.clear();
        per_anchor.resize(k, 0);
        for r in rows {
            let item = data.item[r];
            let j = positions
                .position(u, data.anchor[r])
                .map_err(|problem| fail(r, problem))?;
            let ts = view.timestamps.map(|t| t[j]);
            if data.timestamp.as_ref().map(|t| t[r]) != ts {
                return Err(fail(r, "timestamp differs from the anchor's".into()));
            }
            if config
                .split
                .is_some_and(|split| !split.keeps(ts.unwrap_or(i64::MIN)))
            {
                return Err(fail(
                    r,
                    "anchor timestamp is on the other side of the split".into(),
                ));
            }
            match data.label[r] {
                1 => {
                    if config.negatives_only || item != view.items[j] {
                        return Err(fail(r, "unexpected positive row".into()));
                    }
                    let key = (ts.unwrap_or(0), data.anchor[r]);
                    if last_positive_key.is_some_and(|last| last >= key) {
                        return Err(fail(
                            r,
                            "positives are not in (timestamp, row) order".into(),
                        ));
                    }
                    last_positive_key = Some(key);
                    if data.log_q.as_ref().is_some_and(|q| !q[r].is_nan()) {
                        return Err(fail(r, "log_q of a positive row must be NaN".into()));
                    }
                    current_anchor = Some(data.anchor[r]);
                    positives_seen += 1;
                }
                0 => {
                    if item >= store.n_items()
                        || sets.contains(Lane::Excluded, item)
                        || weight(item) == 0
                    {
                        return Err(fail(r, format!("negative item {item} is a positive or excluded item of user {u}, outside the catalog, or of weight 0")));
                    }
                    if let Some(log_q) = &data.log_q {
                        let expected = (weight(item) as f64).ln() - (mass as f64).ln();
                        if (f64::from(log_q[r]) - expected).abs() > 1e-5 * expected.abs().max(1.0) {
                            return Err(fail(
                                r,
                                format!("log_q {} differs from log(w/W) = {expected}", log_q[r]),
                            ));
                        }
                    }
                    if !config.negatives_only && current_anchor != Some(data.anchor[r]) {
                        return Err(fail(
                            r,
                            "negative does not follow its anchor's positive".into(),
                        ));
                    }
                    if config.replacement == Replacement::Without && !sets.insert(Lane::Seen, item)
                    {
                        return Err(fail(
                            r,
                            format!("negative item {item} repeated for user {u}"),
                        ));
                    }
                    negatives += 1;
                    per_anchor[j] += 1;
                }
                other => return Err(fail(r, format!("label {other}"))),
            }
        }
        // The anchors this dataset holds: all of the user's positives, or those on
        // this side of a split.
        let on_side = |j: usize| {
            config
                .split
                .is_none_or(|split| split.keeps(view.timestamps.map_or(i64::MIN, |t| t[j])))
        };
        let anchors = (0..k).filter(|&j| on_side(j)).count();
        if !config.negatives_only && positives_seen != anchors {
            return Err(fail(
                at,
                format!("user {u} has {positives_seen} positive rows, expected {anchors}"),
            ));
        }
        let request = config.amount.request(k);
        let exact = match (&config.hard, config.replacement) {
            (Some(hard), with) => {
                let (hard, base) =
                    slot_counts(hard, with == Replacement::With, candidates, request);
                hard + base
            }
            _ if candidates == 0 => 0,
            (None, Replacement::With) => request,
            (None, Replacement::Without) => request.min(candidates),
        };
        // A kernel that may fall short produced some t <= exact, known only when the
        // dataset holds every anchor.
        let expected = if config.kernel.may_fall_short() && config.split.is_none() {
            negatives.min(exact)
        } else {
            exact
        };
        // Every anchor holds ⌊t/k⌋ or ⌈t/k⌉ of the user's t negatives.
        let (low, high) = if k == 0 {
            (0, 0)
        } else {
            (expected / k as u64, expected.div_ceil(k as u64))
        };
        for j in (0..k).filter(|&j| on_side(j)) {
            let count = per_anchor[j];
            if !(low..=high).contains(&count) {
                return Err(fail(
                    at,
                    format!(
                        "user {u}: anchor row {} has {count} negatives, expected {low}..={high}",
                        view.rows[j]
                    ),
                ));
            }
        }
        if config.split.is_none() && negatives != expected {
            return Err(fail(
                at,
                format!("user {u} has {negatives} negatives, expected {expected}"),
            ));
        }
        tally.positives += positives_seen as u64;
        tally.negatives += negatives;
        tally.shortfall += request - expected;
        tally.users_short += u64::from(request > expected);
    }
    if at != data.user.len() {
        return Err(fail(
            at,
            format!("user {} is outside the part or out of order", data.user[at]),
        ));
    }
    Ok(tally)
}
