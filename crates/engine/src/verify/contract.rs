//! The sampling contract stated independently of the sampler: the law a user's
//! negatives keep ([`check_law`]: what `verify` holds every fresh sample's draws to)
//! and the rows' own rules — labels, anchors in order, timestamps, the split —
//! walked row by row ([`check_rows`]: for rows that differ from the fresh sample, or
//! every row with `--every-row`), which end in the same law.

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
use negsamp_store::{Store, UserView};
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
/// order the contract emits anchors in ([`negsamp_store::order`]) — so that each row's anchor
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
            index.build(&view, config.history_order)?;
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

/// What [`check_law`] reuses from user to user.
#[derive(Debug)]
pub(super) struct LawScratch {
    sets: ItemSets,
    /// The user's positives merged with their extra exclusions.
    excluded: Vec<u32>,
    /// Negatives held per anchor, by the anchor's position among the user's positives.
    per_anchor: Vec<u64>,
}

impl LawScratch {
    pub(super) fn new(n_items: u32) -> Self {
        LawScratch {
            sets: ItemSets::new(n_items),
            excluded: Vec::new(),
            per_anchor: Vec::new(),
        }
    }
}

/// What the contract checks reuse from user to user: the law's scratch, and the row
/// walk's list of a user's negatives.
#[derive(Debug)]
pub(super) struct ContractScratch {
    pub(super) law: LawScratch,
    /// The row walk's negatives: (row, anchor position), in row order.
    negative_rows: Vec<(usize, u32)>,
}

impl ContractScratch {
    pub(super) fn new(n_items: u32) -> Self {
        ContractScratch {
            law: LawScratch::new(n_items),
            negative_rows: Vec::new(),
        }
    }
}

/// One negative as the law reads it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Negative {
    /// The position of its anchor among the user's positives.
    pub position: usize,
    pub item: u32,
    /// Its `log_q`, when the dataset has the column.
    pub log_q: Option<f32>,
}

/// A user's negatives breaking the sampling law: which negative (by its index in the
/// order given), if the breach is one negative's, and what is wrong.
#[derive(Debug)]
pub(super) struct Breach {
    pub negative: Option<usize>,
    pub problem: String,
}

impl Breach {
    fn user(problem: String) -> Self {
        Breach {
            negative: None,
            problem,
        }
    }
}

/// The sampling law for user `u`, stated independently of the kernels: every negative
/// is in the catalog, neither a positive nor excluded, of positive weight, with the
/// proposal's `log_q`, drawn at most once without replacement; every anchor held
/// holds ⌊t/k⌋ or ⌈t/k⌉ of the user's t negatives, t being exactly what the request
/// and the candidates allow; every anchor on the dataset's side of a split holds its
/// positive (`positives_seen` of them are held). Returns the user's counts.
pub(super) fn check_law(
    u: u32,
    view: &UserView<'_>,
    job: &PartJob<'_>,
    scratch: &mut LawScratch,
    negatives: impl IntoIterator<Item = Negative>,
    positives_seen: usize,
) -> Result<Tally, Breach> {
    let (store, context, config) = (job.store, job.context, job.config);
    let LawScratch {
        sets,
        excluded,
        per_anchor,
    } = scratch;
    let k = view.items.len();
    let extra = context.exclusions.of(u);
    let excluded = if extra.is_empty() {
        view.items
    } else {
        merge_sorted(view.items, extra, excluded);
        &excluded[..]
    };
    let candidates = candidate_count(context, store.n_items(), excluded);
    let mass = context.weights.as_ref().map_or(candidates, |w| {
        w.total() - excluded.iter().map(|&i| w.weight(i)).sum::<u64>()
    });
    let weight = |i: u32| context.weights.as_ref().map_or(1, |w| w.weight(i));
    sets.clear();
    for &item in excluded {
        sets.insert(Lane::Excluded, item);
    }
    per_anchor.clear();
    per_anchor.resize(k, 0);
    let mut count = 0u64;
    for (index, negative) in negatives.into_iter().enumerate() {
        let breach = |problem: String| Breach {
            negative: Some(index),
            problem,
        };
        let Negative {
            position,
            item,
            log_q,
        } = negative;
        if item >= store.n_items() || sets.contains(Lane::Excluded, item) || weight(item) == 0 {
            return Err(breach(format!("negative item {item} is a positive or excluded item of user {u}, outside the catalog, or of weight 0")));
        }
        if let Some(log_q) = log_q {
            let expected = (weight(item) as f64).ln() - (mass as f64).ln();
            if (f64::from(log_q) - expected).abs() > 1e-5 * expected.abs().max(1.0) {
                return Err(breach(format!(
                    "log_q {log_q} differs from log(w/W) = {expected}"
                )));
            }
        }
        if config.replacement == Replacement::Without && !sets.insert(Lane::Seen, item) {
            return Err(breach(format!(
                "negative item {item} repeated for user {u}"
            )));
        }
        count += 1;
        per_anchor[position] += 1;
    }
    // The anchors this dataset holds: all of the user's positives, or those on this
    // side of a split.
    let on_side = |j: usize| {
        config
            .split
            .is_none_or(|split| split.keeps(view.timestamps.map_or(i64::MIN, |t| t[j])))
    };
    let anchors = (0..k).filter(|&j| on_side(j)).count();
    if !config.negatives_only && positives_seen != anchors {
        return Err(Breach::user(format!(
            "user {u} has {positives_seen} positive rows, expected {anchors}"
        )));
    }
    let request = config.amount.request(k);
    let exact = match (&config.hard, config.replacement) {
        (Some(hard), with) => {
            let (hard, base) = slot_counts(hard, with == Replacement::With, candidates, request);
            hard + base
        }
        _ if candidates == 0 => 0,
        (None, Replacement::With) => request,
        (None, Replacement::Without) => request.min(candidates),
    };
    // A kernel that may fall short produced some t <= exact, known only when the
    // dataset holds every anchor.
    let expected = if config.kernel.may_fall_short() && config.split.is_none() {
        count.min(exact)
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
        let held = per_anchor[j];
        if !(low..=high).contains(&held) {
            return Err(Breach::user(format!(
                "user {u}: anchor row {} has {held} negatives, expected {low}..={high}",
                view.rows[j]
            )));
        }
    }
    if config.split.is_none() && count != expected {
        return Err(Breach::user(format!(
            "user {u} has {count} negatives, expected {expected}"
        )));
    }
    Ok(Tally {
        rows: 0,
        positives: positives_seen as u64,
        negatives: count,
        shortfall: request - expected,
        users_short: u64::from(request > expected),
    })
}

/// Walks the rows of `users` user by user and checks the contract: each row's place
/// (labels, anchors in order, timestamps, the split), then the user's negatives
/// against the law ([`check_law`]). Returns the counts found.
pub(super) fn check_rows(
    dir: &Path,
    users: Range<u32>,
    data: &LongRows<'_>,
    job: &PartJob<'_>,
    anchor_index: &AnchorIndex,
    scratch: &mut ContractScratch,
) -> Result<Tally, EngineError> {
    let (store, config) = (job.store, job.config);
    let fail = |row: usize, problem: String| {
        EngineError::invalid(dir, format!("row {}: {problem}", data.file_row(row)))
    };
    let mut tally = Tally {
        rows: data.user.len() as u64,
        ..Default::default()
    };
    let mut at = 0usize;
    let mut positions = anchor_index.finder();
    for u in users {
        let view = store.user(u)?;
        let begin = at;
        while at < data.user.len() && data.user[at] == u {
            at += 1;
        }
        let mut positives_seen = 0usize;
        let mut current_anchor: Option<u64> = None;
        let mut last_positive_key: Option<(i64, u64)> = None;
        scratch.negative_rows.clear();
        for r in begin..at {
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
                    if !config.negatives_only && current_anchor != Some(data.anchor[r]) {
                        return Err(fail(
                            r,
                            "negative does not follow its anchor's positive".into(),
                        ));
                    }
                    scratch.negative_rows.push((r, j as u32));
                }
                other => return Err(fail(r, format!("label {other}"))),
            }
        }
        let negative_rows = &scratch.negative_rows;
        let negatives = negative_rows.iter().map(|&(r, j)| Negative {
            position: j as usize,
            item: data.item[r],
            log_q: data.log_q.as_ref().map(|q| q[r]),
        });
        let user = check_law(u, &view, job, &mut scratch.law, negatives, positives_seen).map_err(
            |breach| {
                let row = breach.negative.map_or(at, |i| negative_rows[i].0);
                fail(row, breach.problem)
            },
        )?;
        tally.add(&user);
    }
    if at != data.user.len() {
        return Err(fail(
            at,
            format!("user {} is outside the part or out of order", data.user[at]),
        ));
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Amount;
    use crate::context::Context;
    use crate::write::load_ids;
    use negsamp_store::write::{to_bytes, Columns};

    /// One user with positives 1, 4 and 6 (rows 10, 11, 12) in a catalog of 8 items.
    fn store() -> Store {
        let columns = Columns {
            n_items: 8,
            indptr: &[0, 3],
            indices: &[1, 4, 6],
            rows: &[10, 11, 12],
            timestamps: None,
            user_keys: &[7],
            kept: &[],
        };
        Store::from_bytes(&to_bytes(&columns)).unwrap()
    }

    /// The law's verdict on user 0's `negatives` (item, anchor position) under `config`.
    fn law(config: &SampleConfig, negatives: &[(u32, usize)]) -> Result<Tally, Breach> {
        let store = store();
        let context = Context::load(&store, config).unwrap();
        let schema = Schema::new(&store, config).unwrap();
        let ids = load_ids(&store, &schema, config.format).unwrap();
        let job = PartJob {
            store: &store,
            context: &context,
            config,
            schema: &schema,
            ids: &ids,
        };
        let draws = negatives.iter().map(|&(item, position)| Negative {
            position,
            item,
            log_q: None,
        });
        let view = store.user(0).unwrap();
        check_law(0, &view, &job, &mut LawScratch::new(8), draws, 3)
    }

    /// The breach names `negative` (or none: a user-level breach) and says `says`.
    fn names(breach: Breach, negative: Option<usize>, says: &str) {
        assert_eq!(breach.negative, negative, "{}", breach.problem);
        assert!(breach.problem.contains(says), "{}", breach.problem);
    }

    fn ratio(r: u32, replacement: Replacement) -> SampleConfig {
        SampleConfig {
            amount: Amount::Ratio(r),
            replacement,
            ..Default::default()
        }
    }

    #[test]
    fn draws_that_keep_the_law_give_their_counts() {
        let config = ratio(1, Replacement::Without);
        let tally = law(&config, &[(0, 0), (2, 1), (7, 2)]).unwrap();
        assert_eq!(
            (tally.positives, tally.negatives, tally.shortfall),
            (3, 3, 0)
        );
        // with replacement a repeat is allowed
        let config = ratio(2, Replacement::With);
        let draws = [(0, 0), (0, 0), (2, 1), (2, 1), (7, 2), (0, 2)];
        assert_eq!(law(&config, &draws).unwrap().negatives, 6);
    }

    #[test]
    fn each_negative_rule_names_the_negative_that_breaks_it() {
        let config = ratio(1, Replacement::Without);
        let breach = |draws: &[(u32, usize)]| law(&config, draws).unwrap_err();
        names(
            breach(&[(0, 0), (4, 1), (7, 2)]),
            Some(1),
            "item 4 is a positive",
        );
        names(
            breach(&[(0, 0), (2, 1), (8, 2)]),
            Some(2),
            "outside the catalog",
        );
        names(
            breach(&[(0, 0), (2, 1), (0, 2)]),
            Some(2),
            "item 0 repeated",
        );
    }

    #[test]
    fn counts_are_exact_and_even_over_the_anchors() {
        let config = ratio(1, Replacement::Without);
        let short = law(&config, &[(0, 0), (2, 1)]).unwrap_err();
        names(short, None, "anchor row 12 has 0 negatives");
        let uneven = law(&config, &[(0, 0), (2, 0), (3, 1), (5, 2)]).unwrap_err();
        names(uneven, None, "anchor row 10 has 2 negatives");
        // 5 candidates: a ratio of 2 asks 6 and gets 5, spread 2, 2, 1 in some order
        let config = ratio(2, Replacement::Without);
        let all = [(0, 0), (2, 0), (3, 1), (5, 1), (7, 2)];
        let tally = law(&config, &all).unwrap();
        assert_eq!(
            (tally.negatives, tally.shortfall, tally.users_short),
            (5, 1, 1)
        );
        let missing = law(&config, &all[..4]).unwrap_err();
        names(missing, None, "anchor row 12 has 0 negatives");
    }
}
