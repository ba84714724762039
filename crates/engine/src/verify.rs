//! Checking a dataset directory: against its manifest (files, lengths, checksums) and,
//! given its store, row by row against the sampling contract, the carried values and
//! the histories — for `.npy` and Parquet parts alike.

use crate::config::{Format, Layout, SampleConfig};
use crate::context::{candidate_count, Context};
use crate::hard::slot_counts;
use crate::manifest::{ColumnSpec, Manifest, PartRecord};
use crate::npy;
use crate::rows::{Buffer, HistoryIndex, Rows};
use crate::run::part::PartJob;
use crate::schema::{ColumnKind, Dtype, Schema};
use crate::user::merge_sorted;
use crate::user::Tally;
use crate::write::{hex, load_ids, read_parquet_part, HashSink, IdColumns, PartPaths, PartSink};
use crate::EngineError;
use negsamp_kernel::uniform::Replacement;
use negsamp_store::kept::Values;
use negsamp_store::{Store, ITEMS_FILE, USERS_FILE};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use xxhash_rust::xxh3::xxh3_64;

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
}

/// What verification established.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub parts: usize,
    pub rows: u64,
    /// Whether the rows were also checked against the store.
    pub checked_against_store: bool,
}

/// Verifies `dir`. Without a store only the manifest's promises about files are
/// checked; with one, every row is.
pub fn verify_output(dir: &Path, store: Option<&Store>) -> Result<VerifyReport, EngineError> {
    verify_output_with_progress(dir, store, &|_| {})
}

/// [`verify_output`], calling `progress` with the rows verified so far (the manifest's
/// rows, part by part as each is done) — what a progress display needs.
pub fn verify_output_with_progress(
    dir: &Path,
    store: Option<&Store>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<VerifyReport, EngineError> {
    let manifest = Manifest::read(dir)?;
    let rows_done = std::sync::atomic::AtomicU64::new(0);
    let part_done = |rows: u64| {
        let done = rows_done.fetch_add(rows, std::sync::atomic::Ordering::Relaxed) + rows;
        progress(done);
    };
    let mut schema = None;
    if let Some(store) = store {
        let fingerprint = format!("{:016x}", store.fingerprint());
        if fingerprint != manifest.store.fingerprint {
            return Err(EngineError::invalid(
                dir,
                format!(
                    "sampled from store {} but checked against store {fingerprint}",
                    manifest.store.fingerprint
                ),
            ));
        }
        // Rows are checked against the store, so the store must be sound first.
        store.verify()?;
        let expected = Schema::new(store, &manifest.parameters)?;
        if ColumnSpec::of(&expected) != manifest.columns || expected.pad != manifest.pad {
            return Err(EngineError::invalid(
                dir,
                "the manifest's columns differ from what its parameters give",
            ));
        }
        schema = Some(expected);
    }
    let mut next_user = 0u32;
    for part in &manifest.parts {
        if part.users[0] != next_user || part.users[1] < part.users[0] {
            return Err(EngineError::invalid(
                dir.join(&part.name),
                "parts do not cover the users in order",
            ));
        }
        next_user = part.users[1];
    }
    if u64::from(next_user) != manifest.totals.users {
        return Err(EngineError::invalid(dir, "parts do not cover every user"));
    }
    if let Some(store) = store.filter(|s| s.dir().is_some()) {
        for name in [USERS_FILE, ITEMS_FILE] {
            let path = dir.join(manifest.metadata(name));
            let bytes = std::fs::read(&path).map_err(|e| EngineError::io(&path, e))?;
            if bytes != store.id_map_bytes(name)? {
                return Err(EngineError::invalid(
                    &path,
                    format!("differs from the store's {name}: ids would decode wrongly"),
                ));
            }
        }
    }
    let checked = match (store, &schema) {
        (Some(store), Some(schema)) => Some((
            store,
            schema,
            Context::load(store, &manifest.parameters)?,
            load_ids(store, schema, manifest.parameters.format)?,
        )),
        _ => None,
    };
    let tallies: Vec<Tally> = manifest
        .parts
        .par_iter()
        .enumerate()
        .map(|(index, part)| {
            if negsamp_store::interrupt::requested() {
                return Err(EngineError::Interrupted);
            }
            let paths = PartPaths::new(dir, manifest.parameters.format, index);
            let rows = read_part(
                &paths,
                manifest.parameters.format,
                &manifest.columns,
                part,
                checked.as_ref().map(|c| (c.1, &c.3)),
            )?;
            let Some((store, schema, context, _)) = &checked else {
                part_done(part.tally.rows);
                return Ok(part.tally);
            };
            let rows = rows.expect("read with a schema");
            let at = paths.finished.as_path();
            check_column_hashes(at, schema, part, &rows)?;
            check_features(at, schema, &manifest.parameters, store, &rows)?;
            let data = long_view(at, schema, &rows)?;
            // The contract first (an independent statement of the law, with messages
            // that say which row breaks what), then the byte-exact recomputation.
            let tally = check_rows(at, part, &data, store, context, &manifest.parameters)?;
            let job = PartJob {
                store,
                context,
                config: &manifest.parameters,
                schema,
                ids: &checked.as_ref().expect("checked").3,
            };
            check_recomputed(at, &job, part)?;
            part_done(part.tally.rows);
            // A wide row holds a positive and its negatives: count the file's rows.
            Ok(Tally {
                rows: rows.len() as u64,
                ..tally
            })
        })
        .collect::<Result<_, EngineError>>()?;
    let mut total = Tally::default();
    for (t, part) in tallies.iter().zip(&manifest.parts) {
        if *t != part.tally {
            return Err(EngineError::invalid(
                dir.join(&part.name),
                format!("counts {t:?} differ from the manifest's {:?}", part.tally),
            ));
        }
        total.add(t);
    }
    if total != manifest.totals.tally {
        return Err(EngineError::invalid(
            dir,
            "totals differ from the sum of the parts",
        ));
    }
    Ok(VerifyReport {
        parts: manifest.parts.len(),
        rows: total.rows,
        checked_against_store: checked.is_some(),
    })
}

/// Part `index` of the dataset at `dir`, checked against its manifest and read as
/// long-layout rows (for tests and tools that inspect a dataset).
pub fn read_part_data(dir: &Path, store: &Store, index: usize) -> Result<PartData, EngineError> {
    let manifest = Manifest::read(dir)?;
    let schema = Schema::new(store, &manifest.parameters)?;
    let ids = load_ids(store, &schema, manifest.parameters.format)?;
    let record = manifest
        .parts
        .get(index)
        .ok_or_else(|| EngineError::invalid(dir, format!("no part {index}")))?;
    let paths = PartPaths::new(dir, manifest.parameters.format, index);
    let rows = read_part(
        &paths,
        manifest.parameters.format,
        &manifest.columns,
        record,
        Some((&schema, &ids)),
    )?
    .expect("read with a schema");
    long_view(&paths.finished, &schema, &rows)
}

/// Checks a part's files against its record (names, sizes, checksums) and, given a
/// schema, reads its rows back. Also how a run decides that a part left by an
/// interrupted run can be reused.
pub(crate) fn read_part(
    paths: &PartPaths,
    format: Format,
    columns: &[ColumnSpec],
    record: &PartRecord,
    schema: Option<(&Schema, &IdColumns)>,
) -> Result<Option<Rows>, EngineError> {
    let expected: Vec<String> = match format {
        Format::Npy => columns.iter().map(|c| format!("{}.npy", c.name)).collect(),
        Format::Parquet => vec![format!("{}.parquet", record.name)],
    };
    let names: Vec<&String> = record.files.iter().map(|f| &f.name).collect();
    if names
        .iter()
        .map(|n| n.as_str())
        .ne(expected.iter().map(String::as_str))
    {
        return Err(EngineError::invalid(
            &paths.finished,
            format!("files {names:?}, expected {expected:?}"),
        ));
    }
    let mut buffers = Vec::new();
    for (f, spec) in record.files.iter().zip(columns) {
        let path = paths.base.join(&f.name);
        let bytes = std::fs::read(&path).map_err(|e| EngineError::io(&path, e))?;
        let (data, problem) = match format {
            Format::Npy => {
                let info = npy::parse_header(&bytes).map_err(|e| EngineError::io(&path, e))?;
                let width = (spec.width > 1).then_some(spec.width as u64);
                let shape_ok = info.descr == spec.dtype.descr()
                    && info.width == width
                    && info.len == record.tally.rows
                    && info.data_bytes(spec.dtype.size())
                        == Some((bytes.len() - info.data_offset) as u64);
                let problem = (!shape_ok).then(|| {
                    format!(
                        "{} {:?} × {:?} rows, manifest says {} {:?} × {} rows",
                        info.descr,
                        info.width,
                        info.len,
                        spec.dtype.descr(),
                        width,
                        record.tally.rows
                    )
                });
                (&bytes[info.data_offset..], problem)
            }
            Format::Parquet => (&bytes[..], None),
        };
        if let Some(problem) = problem {
            return Err(EngineError::invalid(&path, problem));
        }
        if bytes.len() as u64 != f.bytes {
            return Err(EngineError::invalid(
                &path,
                format!("{} bytes, manifest says {}", bytes.len(), f.bytes),
            ));
        }
        let got = hex(xxh3_64(data));
        if got != f.xxh3 {
            return Err(EngineError::invalid(
                &path,
                format!("checksum {got} differs from the manifest's {}", f.xxh3),
            ));
        }
        if format == Format::Npy && schema.is_some() {
            buffers.push(buffer_from_bytes(spec.dtype, data));
        }
    }
    let Some((schema, ids)) = schema else {
        return Ok(None);
    };
    let rows = match format {
        Format::Npy => Rows::from_columns(buffers, record.tally.rows as usize),
        Format::Parquet => read_parquet_part(&paths.finished, schema, ids)?,
    };
    if rows.len() as u64 != record.tally.rows {
        return Err(EngineError::invalid(
            &paths.finished,
            format!("{} rows, manifest says {}", rows.len(), record.tally.rows),
        ));
    }
    Ok(Some(rows))
}

/// A `.npy` file's data as a typed buffer.
fn buffer_from_bytes(dtype: Dtype, data: &[u8]) -> Buffer {
    fn typed<T: bytemuck::Pod>(data: &[u8]) -> Vec<T> {
        let mut out = vec![T::zeroed(); data.len() / std::mem::size_of::<T>()];
        bytemuck::cast_slice_mut::<T, u8>(&mut out).copy_from_slice(data);
        out
    }
    match dtype {
        Dtype::U8 => Buffer::U8(data.to_vec()),
        Dtype::U32 | Dtype::Str => Buffer::U32(typed(data)),
        Dtype::U64 => Buffer::U64(typed(data)),
        Dtype::I64 => Buffer::I64(typed(data)),
        Dtype::F32 => Buffer::F32(typed(data)),
        Dtype::F64 => Buffer::F64(typed(data)),
    }
}

/// The part sampled afresh from the store and the manifest's parameters hashes to the
/// recorded column checksums — which the files were just shown to match — so every
/// byte is what the run must have written: the strongest check, as costly as sampling
/// without the writes. It catches what row checks cannot: an edited seed, kernel or
/// replacement in the manifest, a negative swapped for another valid candidate.
fn check_recomputed(at: &Path, job: &PartJob<'_>, record: &PartRecord) -> Result<(), EngineError> {
    let mut sink = HashSink::new(job.schema);
    let users = record.users[0]..record.users[1];
    let tally = job.sample_into(users, &mut sink, &|_| {})?;
    let (_, hashes) = Box::new(sink).finish(false)?;
    if let Some((got, want)) = hashes.iter().zip(&record.columns).find(|(a, b)| a != b) {
        return Err(EngineError::invalid(
            at,
            format!(
                "column {} differs from a fresh sample of the store with the manifest's parameters (checksum {} against {}): the dataset is not what they give",
                want.name, want.xxh3, got.xxh3
            ),
        ));
    }
    if tally != record.tally {
        return Err(EngineError::invalid(
            at,
            format!(
                "counts {:?} differ from a fresh sample's {tally:?}",
                record.tally
            ),
        ));
    }
    Ok(())
}

/// Every sampled column's logical checksum (format-neutral) matches the record.
fn check_column_hashes(
    at: &Path,
    schema: &Schema,
    record: &PartRecord,
    rows: &Rows,
) -> Result<(), EngineError> {
    let sampled = schema
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind.is_sampled());
    let names: Vec<&str> = sampled.clone().map(|(_, c)| c.name.as_str()).collect();
    let recorded: Vec<&str> = record.columns.iter().map(|c| c.name.as_str()).collect();
    if names != recorded {
        return Err(EngineError::invalid(
            at,
            format!("column checksums for {recorded:?}, expected {names:?}"),
        ));
    }
    for ((c, column), hash) in sampled.zip(&record.columns) {
        let got = hex(xxh3_64(rows.columns[c].bytes()));
        if got != hash.xxh3 {
            return Err(EngineError::invalid(
                at,
                format!(
                    "column {}: checksum {got} differs from the manifest's {}",
                    column.name, hash.xxh3
                ),
            ));
        }
    }
    Ok(())
}

/// The contract's columns of a part, as long-layout rows (a wide row becomes its
/// positive's row followed by its negatives' rows); wide padding is checked here.
fn long_view(at: &Path, schema: &Schema, rows: &Rows) -> Result<PartData, EngineError> {
    let get = |name: &str| rows.column(schema, name);
    let u32s = |name: &str| get(name).map(|b| b.u32s().to_vec()).unwrap_or_default();
    let anchor = match get("anchor") {
        Some(Buffer::U64(v)) => v.clone(),
        _ => Vec::new(),
    };
    let timestamp = match get("timestamp") {
        Some(Buffer::I64(v)) => Some(v.clone()),
        _ => None,
    };
    let log_q = match get("log_q") {
        Some(Buffer::F32(v)) => Some(v.clone()),
        _ => None,
    };
    if schema.layout == Layout::Long {
        let label = match get("label") {
            Some(Buffer::U8(v)) => v.clone(),
            _ => Vec::new(),
        };
        return Ok(PartData {
            user: u32s("user"),
            item: u32s("item"),
            label,
            anchor,
            timestamp,
            log_q,
        });
    }
    let (user, item) = (u32s("user"), u32s("item"));
    let (negatives, lens) = (u32s("negatives"), u32s("negatives_len"));
    let width = schema.columns[schema.position("negatives").expect("wide")].width;
    let mut out = PartData {
        timestamp: timestamp.as_ref().map(|_| Vec::new()),
        log_q: log_q.as_ref().map(|_| Vec::new()),
        ..Default::default()
    };
    for r in 0..rows.len() {
        let len = lens[r] as usize;
        let slots = &negatives[r * width..(r + 1) * width];
        if len > width || slots[len..].iter().any(|&x| x != schema.pad) {
            return Err(EngineError::invalid(
                at,
                format!("row {r}: negatives_len {len} or the padding after it is wrong"),
            ));
        }
        let n = len + 1;
        out.user.extend(std::iter::repeat_n(user[r], n));
        out.item.push(item[r]);
        out.item.extend_from_slice(&slots[..len]);
        out.label.push(1);
        out.label.extend(std::iter::repeat_n(0, len));
        out.anchor.extend(std::iter::repeat_n(anchor[r], n));
        if let (Some(t), Some(ts)) = (&mut out.timestamp, &timestamp) {
            t.extend(std::iter::repeat_n(ts[r], n));
        }
        if let (Some(q), Some(lq)) = (&mut out.log_q, &log_q) {
            let row = &lq[r * width..(r + 1) * width];
            if row[len..].iter().any(|x| !x.is_nan()) {
                return Err(EngineError::invalid(
                    at,
                    format!("row {r}: log_q padding is not NaN"),
                ));
            }
            q.push(f32::NAN);
            q.extend_from_slice(&row[..len]);
        }
    }
    Ok(out)
}

/// Every row's carried values, history and original ids are its anchor's, recomputed
/// from the store.
fn check_features(
    at: &Path,
    schema: &Schema,
    config: &SampleConfig,
    store: &Store,
    rows: &Rows,
) -> Result<(), EngineError> {
    let fail = |r: usize, m: String| EngineError::invalid(at, format!("row {r}: {m}"));
    let users = rows.users();
    let anchors = match rows.column(schema, "anchor") {
        Some(Buffer::U64(v)) => v,
        _ => return Err(fail(0, "no anchor column".into())),
    };
    let history_len = config.history as usize;
    let mut index = HistoryIndex::default();
    let mut position_of_row: Vec<(u64, usize)> = Vec::new();
    let mut r = 0;
    while r < rows.len() {
        let u = users[r];
        let view = store.user(u)?;
        if history_len > 0 {
            index.build(&view, config.history_order);
        }
        position_of_row.clear();
        position_of_row.extend(view.rows.iter().enumerate().map(|(j, &row)| (row, j)));
        position_of_row.sort_unstable();
        while r < rows.len() && users[r] == u {
            let j = position_of_row
                .binary_search_by_key(&anchors[r], |&(row, _)| row)
                .map(|at| position_of_row[at].1)
                .map_err(|_| {
                    fail(
                        r,
                        format!("anchor {} is not a positive of user {u}", anchors[r]),
                    )
                })?;
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

/// Walks a part's rows user by user and checks the contract; returns the counts found.
fn check_rows(
    dir: &Path,
    part: &PartRecord,
    data: &PartData,
    store: &Store,
    context: &Context,
    config: &SampleConfig,
) -> Result<Tally, EngineError> {
    let mut excluded = Vec::new();
    let fail =
        |row: usize, problem: String| EngineError::invalid(dir, format!("row {row}: {problem}"));
    let mut tally = Tally {
        rows: data.user.len() as u64,
        ..Default::default()
    };
    let mut at = 0usize;
    let mut seen = HashSet::new();
    let mut per_anchor = HashMap::new();
    let mut position_of_row: Vec<(u64, usize)> = Vec::new();
    for u in part.users[0]..part.users[1] {
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
        seen.clear();
        per_anchor.clear();
        // Source row → position among the user's positives, sorted for binary search:
        // a linear scan per row would make verify quadratic in a heavy user's degree.
        position_of_row.clear();
        position_of_row.extend(view.rows.iter().enumerate().map(|(j, &row)| (row, j)));
        position_of_row.sort_unstable();
        for r in rows {
            let item = data.item[r];
            let j = position_of_row
                .binary_search_by_key(&data.anchor[r], |&(row, _)| row)
                .map(|at| position_of_row[at].1)
                .map_err(|_| {
                    fail(
                        r,
                        format!("anchor {} is not a positive of user {u}", data.anchor[r]),
                    )
                })?;
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
                        || excluded.binary_search(&item).is_ok()
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
                    if config.replacement == Replacement::Without && !seen.insert(item) {
                        return Err(fail(
                            r,
                            format!("negative item {item} repeated for user {u}"),
                        ));
                    }
                    negatives += 1;
                    *per_anchor.entry(data.anchor[r]).or_insert(0u64) += 1;
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
            let count = per_anchor.get(&view.rows[j]).copied().unwrap_or(0);
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
