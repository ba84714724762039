//! Checking a dataset directory: against its manifest (files, lengths, checksums) and,
//! given its store, row by row against the sampling contract, the carried values and
//! the histories — for `.npy` and Parquet parts alike.

mod contract;
mod read;

pub use self::contract::PartData;
pub(crate) use self::read::read_part;

use self::contract::{
    check_features, check_law, check_rows, long_view, AnchorIndex, ContractScratch, Negative,
};
use self::read::{check_column_hashes, PartChecksums, PartReader, PartRows};
use crate::config::SampleConfig;
use crate::context::Context;
use crate::manifest::{ColumnSpec, Manifest, PartRecord};
use crate::rows::Rows;
use crate::run::part::PartJob;
use crate::run::{StoreCheck, StoreCheckDepth};
use crate::schema::Schema;
use crate::user::{Tally, UserSampler};
use crate::write::{load_ids, PartPaths};
use crate::EngineError;
use negsamp_store::{Store, ITEMS_FILE, USERS_FILE};
use rayon::prelude::*;
use std::ops::Range;
use std::path::Path;

/// What verification established.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub parts: usize,
    pub rows: u64,
    /// Whether the rows were also checked against the store.
    pub checked_against_store: bool,
}

/// How `verify` checks a dataset's rows against its store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RowCheck {
    /// Every part sampled afresh and compared byte for byte, and the sampling law
    /// checked on the fresh sample's draws (each negative, each count); a chunk that
    /// differs from its fresh sample is walked row by row against the contract, so the
    /// error names the rule a row breaks.
    #[default]
    Recompute,
    /// [`RowCheck::Recompute`], and every chunk walked row by row against the contract
    /// too: labels, anchors, timestamps and the law read from the rows themselves — a
    /// check of how the sampler lays its draws out, not only of the draws.
    EveryRow,
}

/// Verifies `dir`. Without a store only the manifest's promises about files are
/// checked; with one, every row is ([`RowCheck::Recompute`]).
pub fn verify_output(dir: &Path, store: Option<&Store>) -> Result<VerifyReport, EngineError> {
    verify_output_with_progress(dir, store, RowCheck::default(), &|_| {})
}

/// [`verify_output`] with the rows checked as `row_check` says, calling `progress`
/// with the rows verified so far (the manifest's rows, part by part as each is done)
/// — what a progress display needs.
pub fn verify_output_with_progress(
    dir: &Path,
    store: Option<&Store>,
    row_check: RowCheck,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<VerifyReport, EngineError> {
    verify_output_in_windows(dir, store, row_check, progress, read::WINDOW_BYTES)
}

/// [`verify_output_with_progress`] reading a `.npy` part `window_bytes` at a time (or
/// one user's rows, if more) rather than the default: the tests' handle on the
/// windows, whose size never changes a verdict.
#[doc(hidden)]
pub fn verify_output_in_windows(
    dir: &Path,
    store: Option<&Store>,
    row_check: RowCheck,
    progress: &(dyn Fn(u64) + Sync),
    window_bytes: usize,
) -> Result<VerifyReport, EngineError> {
    let manifest = Manifest::read(dir)?;
    let rows_done = std::sync::atomic::AtomicU64::new(0);
    let part_done = |rows: u64| {
        let done = rows_done.fetch_add(rows, std::sync::atomic::Ordering::Relaxed) + rows;
        progress(done);
    };
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
        let expected = Schema::new(store, &manifest.parameters)?;
        if ColumnSpec::of(&expected) != manifest.columns || expected.pad != manifest.pad {
            return Err(EngineError::invalid(
                dir,
                "the manifest's columns differ from what its parameters give",
            ));
        }
        schema = Some(expected);
    }
    let checks = Checks {
        row_check,
        rows_done: &part_done,
        window_bytes,
    };
    // Rows are checked against the store, so it must be sound: its whole check runs
    // while the parts are read (which waits for the device), and its verdict is
    // awaited before any other is given — in place of any other, which a damaged store
    // explains. Every user's stored time order is read, and checked, as the user is
    // sampled afresh when the parts cover all of the store's users.
    std::thread::scope(|scope| {
        let store_check = store
            .map(|store| {
                let time_order = next_user != store.n_users();
                StoreCheck::start(scope, store, StoreCheckDepth::Whole { time_order })
            })
            .transpose()?;
        let checked = check_parts(dir, &manifest, store, schema.as_ref(), &checks);
        match store_check {
            Some(store_check) => {
                let checked = checked.map_err(|e| store_check.explain(e));
                store_check.passed()?;
                checked
            }
            None => checked,
        }
    })
}

/// The parts of the dataset at `dir`, each against its record and — given the store
/// and the schema its parameters give — row by row; then the counts against the
/// manifest's.
fn check_parts(
    dir: &Path,
    manifest: &Manifest,
    store: Option<&Store>,
    schema: Option<&Schema>,
    checks: &Checks<'_>,
) -> Result<VerifyReport, EngineError> {
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
    let checked = match (store, schema) {
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
            let reader = read_part(
                &paths,
                manifest.parameters.format,
                &manifest.columns,
                part,
                checked.as_ref().map(|c| (c.1, &c.3)),
            )?;
            let Some((store, schema, context, ids)) = &checked else {
                (checks.rows_done)(part.tally.rows);
                return Ok(part.tally);
            };
            let job = PartJob {
                store,
                context,
                config: &manifest.parameters,
                schema,
                ids,
            };
            let mut reader = reader.expect("read with a schema");
            check_part(&paths.finished, &job, part, &mut reader, checks)
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
    let mut reader = read_part(
        &paths,
        manifest.parameters.format,
        &manifest.columns,
        record,
        Some((&schema, &ids)),
    )?
    .expect("read with a schema");
    let mut whole = reader.empty_window();
    reader.read(0..record.tally.rows as usize, &mut whole)?;
    let mut checksums = reader.checksums();
    whole.add_to(&mut checksums);
    reader.finish(checksums)?;
    let mut held = Rows::new(&schema);
    whole.read_rows(&schema, 0..whole.users().len(), &mut held);
    let mut expanded = PartData::default();
    let data = long_view(&paths.finished, &schema, &held, 0, &mut expanded)?;
    Ok(data.to_part_data())
}

/// Checks a part's rows against the store, a window of rows at a time — the next ones
/// read while this one is checked — and each window chunk by chunk in parallel (the
/// sampler's own unit, so a dataset of one part still uses every core): the recorded
/// column checksums, then per chunk a fresh sample of the chunk's users, its draws held
/// to the law (an independent statement of it), the carried values and histories, and
/// the rows compared with it byte for byte — walked against the whole contract where
/// they differ (the messages say which row breaks what) or `row_check` asks. Last, the
/// files' checksums, taken alongside the windows' checks; a checksum error is the one
/// reported if there is one, as it explains any other. Returns the counts the rows hold.
fn check_part(
    at: &Path,
    job: &PartJob<'_>,
    record: &PartRecord,
    reader: &mut PartReader,
    checks: &Checks<'_>,
) -> Result<Tally, EngineError> {
    let mut checksums = reader.checksums();
    let checked = check_windows(at, job, record, reader, checks, &mut checksums);
    reader.finish(checksums)?;
    checked
}

/// [`check_part`] but for the files' checksums.
fn check_windows(
    at: &Path,
    job: &PartJob<'_>,
    record: &PartRecord,
    reader: &mut PartReader,
    checks: &Checks<'_>,
    checksums: &mut PartChecksums,
) -> Result<Tally, EngineError> {
    let Checks {
        row_check,
        rows_done,
        window_bytes,
    } = *checks;
    let schema = job.schema;
    let scratch = ScratchPool::new(schema, job.store.n_items());
    let (mut held, mut sampled) = (Tally::default(), Tally::default());
    std::thread::scope(|threads| {
        let (windows, free) = read_ahead(threads, at, record, reader, window_bytes);
        let mut hashes_checked = false;
        // Ends when the reader has sent its last window (or an error): it then drops
        // its end of the channel.
        for window in windows {
            let Window { rows, users } = window?;
            if !hashes_checked {
                check_column_hashes(at, schema, record, &rows)?;
                hashes_checked = true;
            }
            let users = users?;
            // The checksums are taken here, not as the window is read, so that the
            // reader goes on to the next window as soon as the device has delivered; on
            // a thread of their own, not the pool's, as the reading threads took them
            // (one pool thread checks while another core hashes).
            let checked = std::thread::scope(|threads| {
                let hashing = threads.spawn(|| rows.add_to(checksums));
                let checked = check_users(at, job, &rows, users, &scratch, row_check, rows_done);
                hashing.join().expect("the hashing thread panicked");
                checked
            });
            let (h, s) = checked?;
            held.add(&h);
            sampled.add(&s);
            // The reader may have ended: the buffer is then not needed.
            let _ = free.send(rows);
        }
        Ok::<_, EngineError>(())
    })?;
    if sampled != record.tally {
        return Err(EngineError::invalid(
            at,
            format!(
                "counts {:?} differ from a fresh sample's {sampled:?}",
                record.tally
            ),
        ));
    }
    Ok(held)
}

/// Windows of a part's rows read ahead of their checks: as many buffers as
/// [`WINDOWS_IN_FLIGHT`], the checks handing each back on the second channel once done.
/// The next window starts at the last one's first row of a user it does not hold whole
/// — which only the last window's `user` column tells —, so it is the reader, not the
/// checks, that finds where: the device then reads while the pool's threads check, with
/// no pause at each window for the checks to say where to go on. (Three or four
/// windows were no faster than two: 17M set, 2 threads, 6 rounds interleaved, medians
/// 0.67 and 0.64 s against 0.645 s, and 20 MB more memory.)
const WINDOWS_IN_FLIGHT: usize = 2;

/// A window as the reader hands it over: its rows, and the users it holds whole — or
/// where its `user` column breaks the part's order (reported after the checksums the
/// first window is held to, which explain any other error).
struct Window {
    rows: PartRows,
    users: Result<Range<u32>, EngineError>,
}

/// Starts a thread of `scope` reading `record`'s rows through `reader` as [`Window`]s
/// of about `window_bytes` (or one user's rows, if more) in order, the part's users
/// each held whole by one window: the channel of windows read (an error ends it) and
/// the one to hand buffers back on.
fn read_ahead<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    at: &'scope Path,
    record: &PartRecord,
    reader: &'scope mut PartReader,
    window_bytes: usize,
) -> (
    std::sync::mpsc::Receiver<Result<Window, EngineError>>,
    std::sync::mpsc::Sender<PartRows>,
) {
    let (full_tx, full) = std::sync::mpsc::sync_channel(WINDOWS_IN_FLIGHT);
    let (free, free_rx) = std::sync::mpsc::channel();
    for _ in 0..WINDOWS_IN_FLIGHT {
        free.send(reader.empty_window())
            .expect("the receiver is here");
    }
    let users = record.users[0]..record.users[1];
    let total = record.tally.rows as usize;
    // A thread of its own, not the pool's: a direct read waits for the device, and
    // the pool's threads all check meanwhile.
    scope.spawn(move || {
        let mut window_rows = reader.window_rows(window_bytes);
        let (mut first, mut from_user) = (0usize, users.start);
        // Stops when the checks have ended (an error) and dropped their ends.
        while let Ok(mut rows) = free_rx.recv() {
            let held = loop {
                let range = first..first.saturating_add(window_rows).min(total);
                if let Err(e) = reader.read(range, &mut rows) {
                    let _ = full_tx.send(Err(e));
                    return;
                }
                match whole_users(at, &rows, total, &users, from_user) {
                    // One user's rows fill the window: read it again, larger.
                    Ok(None) => window_rows = window_rows.saturating_mul(2),
                    Ok(Some((to_user, whole))) => {
                        let held = from_user..to_user;
                        (first, from_user) = (first + whole, to_user);
                        break Ok(held);
                    }
                    Err(e) => break Err(e),
                }
            };
            let last = held.is_err() || first == total;
            if full_tx.send(Ok(Window { rows, users: held })).is_err() || last {
                return;
            }
        }
    });
    (full, free)
}

/// The users whose rows `window` holds whole, from `from_user` (the first whose rows
/// it may hold), and the rows they take: all the window's rows at the part's end,
/// else those before its last user's (which may go on past it). `None` when that
/// leaves none. An error where the `user` column leaves the part's users or goes back.
fn whole_users(
    at: &Path,
    window: &PartRows,
    total: usize,
    users: &Range<u32>,
    from_user: u32,
) -> Result<Option<(u32, usize)>, EngineError> {
    let column = window.users();
    let misplaced = |r: usize| {
        EngineError::invalid(
            at,
            format!(
                "row {}: user {} is outside the part or out of order",
                window.first() + r,
                column[r]
            ),
        )
    };
    if column.first().is_some_and(|&u| u < from_user) {
        return Err(misplaced(0));
    }
    if window.first() + column.len() == total {
        let end = column.partition_point(|&u| u < users.end);
        return match end == column.len() {
            true => Ok(Some((users.end, end))),
            false => Err(misplaced(end)),
        };
    }
    let last = column.len() - 1;
    let to_user = column[last];
    if to_user >= users.end {
        return Err(misplaced(last));
    }
    let whole = column.partition_point(|&u| u < to_user);
    Ok((whole > 0).then_some((to_user, whole)))
}

/// Checks the rows of `users`, which `window` holds whole, chunk by chunk in
/// parallel, passing each chunk's rows to `rows_done`: the counts the rows hold and
/// those of their fresh sample.
fn check_users(
    at: &Path,
    job: &PartJob<'_>,
    window: &PartRows,
    users: Range<u32>,
    scratch: &ScratchPool,
    row_check: RowCheck,
    rows_done: &(dyn Fn(u64) + Sync),
) -> Result<(Tally, Tally), EngineError> {
    // Chunks small enough that every thread gets several even in a small window,
    // large enough that each chunk's set-up is amortised (the result does not depend
    // on them).
    let per_thread = window.users().len() / (4 * rayon::current_num_threads());
    let chunking = SampleConfig {
        chunk_rows: (per_thread as u64).max(1 << 10).min(job.config.chunk_rows),
        ..job.config.clone()
    };
    let chunks = crate::plan::chunks(job.store.indptr(), users.clone(), &chunking);
    // Each chunk checks that its rows hold its users only, in order; with the chunks
    // tiling the users and their rows tiling the window's, the window's rows are the
    // users' in order — checked in parallel, not in a pass of its own.
    debug_assert!(
        chunks.first().is_none_or(|c| c.start == users.start)
            && chunks.last().is_none_or(|c| c.end == users.end)
            && chunks.windows(2).all(|w| w[0].end == w[1].start),
        "the plan's chunks tile the users"
    );
    chunks
        .par_iter()
        .map_init(
            || scratch.lend(),
            |lent, users| {
                let checked = lent
                    .get()
                    .check_chunk(at, job, window, users.clone(), row_check)?;
                rows_done(checked.0.rows);
                Ok(checked)
            },
        )
        .try_reduce(
            || (Tally::default(), Tally::default()),
            |(mut h, mut s), (h2, s2)| {
                h.add(&h2);
                s.add(&s2);
                Ok((h, s))
            },
        )
}

/// Rows `rows` of a window's `user` column hold `users` only, in order (`rows` being
/// where a binary search for them landed, which is where they are only if so).
fn check_user_order(
    at: &Path,
    window: &PartRows,
    rows: Range<usize>,
    users: &Range<u32>,
) -> Result<(), EngineError> {
    let (column, first) = (window.users(), rows.start);
    let in_order = |r: usize, u: u32| users.contains(&u) && (r == 0 || column[first + r - 1] <= u);
    // Blocks of rows tested without stopping, so the test vectorises (it reads the
    // window's user column first, from memory: one row at a time, it was a fifth of the
    // chunk checks' time); the block that fails is searched for its row.
    const BLOCK: usize = 256;
    let ours = &column[rows];
    let misplaced = (0..ours.len()).step_by(BLOCK).find_map(|start| {
        let block = start..(start + BLOCK).min(ours.len());
        let previous = if start == 0 {
            users.start
        } else {
            ours[start - 1]
        };
        let values = &ours[block.clone()];
        let ascending = values
            .iter()
            .zip(&values[1..])
            .fold(true, |s, (a, b)| s & (a <= b));
        let inside = values.iter().fold(true, |s, &u| s & (u < users.end));
        let sound = ascending & inside & (previous <= values[0]);
        (!sound).then(|| {
            block
                .map(|r| (r, ours[r]))
                .find(|&(r, u)| !in_order(r, u))
                .expect("a block found unsound holds a row out of place")
        })
    });
    match misplaced {
        Some((r, u)) => Err(EngineError::invalid(
            at,
            format!(
                "row {}: user {u} is outside the part or out of order",
                window.first() + first + r
            ),
        )),
        None => Ok(()),
    }
}

/// How a part's rows are checked, and who hears of it.
#[derive(Clone, Copy)]
struct Checks<'a> {
    row_check: RowCheck,
    /// Called with each chunk's rows once checked.
    rows_done: &'a (dyn Fn(u64) + Sync),
    window_bytes: usize,
}

/// Scratches kept from window to window, lent to the pool's threads for each.
struct ScratchPool<'a> {
    spare: std::sync::Mutex<Vec<Scratch>>,
    schema: &'a Schema,
    n_items: u32,
}

/// A scratch lent by a [`ScratchPool`], back in it when dropped.
struct Lent<'p, 'a> {
    scratch: Option<Scratch>,
    pool: &'p ScratchPool<'a>,
}

impl<'a> ScratchPool<'a> {
    fn new(schema: &'a Schema, n_items: u32) -> Self {
        ScratchPool {
            spare: std::sync::Mutex::new(Vec::new()),
            schema,
            n_items,
        }
    }

    fn spare(&self) -> std::sync::MutexGuard<'_, Vec<Scratch>> {
        // A thread that panicked holding the lock left a list that is still sound.
        self.spare
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lend(&self) -> Lent<'_, 'a> {
        let scratch = self.spare().pop();
        Lent {
            scratch: Some(scratch.unwrap_or_else(|| Scratch::new(self.schema, self.n_items))),
            pool: self,
        }
    }
}

impl Lent<'_, '_> {
    fn get(&mut self) -> &mut Scratch {
        self.scratch.as_mut().expect("held until dropped")
    }
}

impl Drop for Lent<'_, '_> {
    fn drop(&mut self) {
        if let Some(scratch) = self.scratch.take() {
            self.pool.spare().push(scratch);
        }
    }
}

/// What one thread reuses from chunk to chunk while checking a part.
struct Scratch {
    /// The chunk's rows as read.
    held: Rows,
    /// The chunk's rows sampled afresh.
    fresh: Rows,
    sampler: UserSampler,
    anchors: AnchorIndex,
    /// A wide chunk's rows in long-layout terms.
    expanded: PartData,
    contract: ContractScratch,
}

impl Scratch {
    fn new(schema: &Schema, n_items: u32) -> Self {
        Scratch {
            held: Rows::new(schema),
            fresh: Rows::new(schema),
            sampler: UserSampler::default(),
            anchors: AnchorIndex::default(),
            expanded: PartData::default(),
            contract: ContractScratch::new(n_items),
        }
    }

    /// Checks the rows of `users` (one chunk): returns the counts the rows hold (rows
    /// as the files count them: a wide row holds a positive and its negatives) and the
    /// counts of their fresh sample.
    fn check_chunk(
        &mut self,
        at: &Path,
        job: &PartJob<'_>,
        rows: &PartRows,
        users: Range<u32>,
        row_check: RowCheck,
    ) -> Result<(Tally, Tally), EngineError> {
        let (schema, config, store) = (job.schema, job.config, job.store);
        let column = rows.users();
        let first = column.partition_point(|&u| u < users.start);
        let end = column.partition_point(|&u| u < users.end);
        check_user_order(at, rows, first..end, &users)?;
        // Sampled afresh first: the sampler orders each user's positives, which the
        // row checks then walk. Each user's draws are checked against the law as they
        // are made: what the rows hold where they are the fresh sample's bytes.
        self.fresh.clear();
        self.anchors.clear(users.start);
        let (mut sampled, mut drawn) = (Tally::default(), Tally::default());
        for u in users.clone() {
            let (context, fresh) = (job.context, &mut self.fresh);
            self.sampler
                .sample_user(store, context, config, schema, u, fresh, &mut sampled)?;
            self.anchors.push_user(self.sampler.anchor_order());
            drawn.add(&self.check_draws(at, job, u)?);
        }
        // Rows that are the fresh sample's bytes in every column are checked as the
        // fresh sample, in place of a copy of them; any other chunk is copied, so the
        // contract can say which rule a differing row breaks before the comparison
        // says only that it differs.
        let same = schema.columns.iter().all(|c| c.kind.is_sampled())
            && rows.holds(schema, first..end, &self.fresh);
        if !same {
            rows.read_rows(schema, first..end, &mut self.held);
        }
        let checked = if same { &self.fresh } else { &self.held };
        // Row numbers in messages count from the part's first row.
        let part_row = rows.first() + first;
        check_features(at, schema, config, store, &self.anchors, checked, part_row)?;
        let held = if same && row_check == RowCheck::Recompute {
            drawn
        } else {
            let data = long_view(at, schema, checked, part_row, &mut self.expanded)?;
            check_rows(at, users, &data, job, &self.anchors, &mut self.contract)?
        };
        if !same {
            check_recomputed(at, schema, &self.held, &self.fresh, part_row)?;
        }
        let held_rows = Tally {
            rows: (end - first) as u64,
            ..held
        };
        Ok((held_rows, sampled))
    }

    /// User `u`'s fresh draws (the sampler's last user) against the sampling law;
    /// returns the counts they make.
    fn check_draws(&mut self, at: &Path, job: &PartJob<'_>, u: u32) -> Result<Tally, EngineError> {
        let view = job.store.user(u)?;
        let (anchors, negatives, log_q) = self.sampler.laid_out();
        let with_log_q = job.config.log_q;
        let draws = anchors.iter().flat_map(|anchor| {
            let position = anchor.position - view.start;
            anchor.negatives.clone().map(move |n| Negative {
                position,
                item: negatives[n],
                log_q: with_log_q.then(|| log_q[n]),
            })
        });
        let positives = anchors.iter().filter(|a| a.positive.is_some()).count();
        check_law(u, &view, job, &mut self.contract.law, draws, positives).map_err(|breach| {
            EngineError::invalid(
                at,
                format!(
                    "a fresh sample of user {u} breaks the sampling law ({}): the sampler, not the dataset, is at fault",
                    breach.problem
                ),
            )
        })
    }
}

/// The chunk sampled afresh from the store with the manifest's parameters has every
/// sampled column's bytes — which the files' checksums were just shown to cover — so
/// every byte is what the run must have written: the strongest check, as costly as
/// sampling without the writes. It catches what row checks cannot: an edited seed,
/// kernel or replacement in the manifest, a negative swapped for another valid
/// candidate. `first` is the chunk's first row in the part.
fn check_recomputed(
    at: &Path,
    schema: &Schema,
    held: &Rows,
    fresh: &Rows,
    first: usize,
) -> Result<(), EngineError> {
    for (c, column) in schema.columns.iter().enumerate() {
        if !column.kind.is_sampled() {
            continue;
        }
        let (got, want) = (held.columns[c].bytes(), fresh.columns[c].bytes());
        if got == want {
            continue;
        }
        let row_bytes = column.width * column.dtype.size();
        let differs = got.iter().zip(want).position(|(a, b)| a != b);
        let row = first + differs.unwrap_or(got.len().min(want.len())) / row_bytes;
        return Err(EngineError::invalid(
            at,
            format!(
                "row {row}: column {} differs from a fresh sample of the store with the manifest's parameters: the dataset is not what they give",
                column.name,
            ),
        ));
    }
    Ok(())
}
