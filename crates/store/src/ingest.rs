//! CSV → store.
//!
//! 1. The file is read in blocks of [`IngestOptions::block_size`] bytes (cut at the
//!    last newline; the first blocks smaller, doubling, so the dictionaries fill on
//!    few rows); each block is split into byte ranges at newlines that rayon parses
//!    in parallel. A range looks each user and item up in the global dictionaries as
//!    they stood when the block began (read-only, shared; plain decimal ids by value,
//!    one load) and numbers only ids new to the file in its own small dictionaries.
//! 2. The ranges' new ids are merged into the global ones in file order (work per new
//!    id, not per row), which keeps first-appearance numbering exact; then the rows
//!    are remapped to global indices in parallel.
//! 3. A counting sort by user builds the CSR (a file grouped by user is in CSR order
//!    already, and its columns are taken as they are); each user's interactions are
//!    sorted by (item, timestamp, row) in parallel and duplicates dropped, keeping the
//!    earliest timestamp, then the lowest row.
//! 4. The write computes each user's (timestamp, row) order once (`order::compute`),
//!    which every later `sample` and `verify` reads instead of sorting, while the
//!    other sections stream to disk; the header, which holds every section's
//!    checksum, is written over the file's start last (`write::encode`).
//!
//! No `String` and no struct per row: the parse keeps 16 bytes per row (user, item,
//! timestamp), and the CSR build frees the parse columns once they are placed, so peak
//! memory is about 36 bytes per row (a file grouped by user: 28) against a store of
//! 20–24 per interaction.

use crate::csv::{field, for_each_line, parse_i64, split, trim_cr, LineError, Span};
use crate::ids::{decimal_value, read_lines, Interner, LOOKAHEAD};
use crate::kept::{
    check_column_name, encode_dictionary, KeptColumn, ValueType, Values, MISSING_CODE, MISSING_I64,
};
use crate::read_ahead::Block;
use crate::time::TimeUnit;
use crate::write::{write_store_dir, Columns, KeptData, PublishOptions, Timestamps};
use crate::IngestError;
use memchr::memchr;
use negsamp_kernel::stream::user_key;
use rayon::prelude::*;
use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest line ingest reads (a larger one is not interaction data).
const MAX_LINE: usize = 1 << 30;

/// Marks a row slot that holds no interaction (a skipped bad row).
pub(crate) const TOMBSTONE: u32 = u32::MAX;
/// The largest number of distinct users or items (indices are u32; `u32::MAX` itself
/// is reserved as the tombstone).
pub const MAX_IDS: u64 = u32::MAX as u64;

/// Which column holds timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeColumn {
    /// Use this column if the header has it, else store no timestamps.
    IfPresent(String),
    /// This column must exist.
    Required(String),
    /// Store no timestamps.
    Ignore,
}

/// A source column to keep in the store (`--keep NAME[:TYPE]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepSpec {
    pub name: String,
    /// The declared type; `None` infers it from the values: integers if every value
    /// is one, else floats if every value is one, else strings.
    pub declared: Option<ValueType>,
}

impl std::str::FromStr for KeepSpec {
    type Err = String;
    /// `NAME` or `NAME:TYPE` (`i64`, `f64`, `str`).
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, declared) = match s.rsplit_once(':') {
            Some((name, t)) if ValueType::ALL.iter().any(|v| v.name() == t) => {
                (name, Some(t.parse()?))
            }
            _ => (s, None),
        };
        check_column_name(name)?;
        Ok(Self {
            name: name.into(),
            declared,
        })
    }
}

/// The files an ingest of `input` reads, in the order it reads them: the file itself,
/// or a directory's Parquet files (what a build fingerprints to tell whether its input
/// changed).
pub fn input_files(input: &Path) -> Result<Vec<PathBuf>, IngestError> {
    crate::parquet_input::files(input)
}

/// How to read the CSV.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub user_col: String,
    pub item_col: String,
    pub time_col: TimeColumn,
    /// Extra columns stored with each interaction (the kept row's value).
    pub keep: Vec<KeepSpec>,
    /// The field separator (`,`; `\t` for TSV).
    pub delimiter: u8,
    /// How the time column's values are read.
    pub time_format: crate::time::TimeFormat,
    /// Whether the first line names the columns. Without a header, columns are named
    /// by their 0-based position (`"0"`, `"1"`, …) and the first line is data.
    pub header: bool,
    /// A file with the full item catalog, one id per line; line i becomes item i.
    pub items_file: Option<PathBuf>,
    /// Skip and count malformed rows instead of stopping at the first.
    pub skip_bad_rows: bool,
    /// Replace an existing store directory.
    pub overwrite: bool,
    /// fsync the store before publishing it.
    pub fsync: bool,
    /// How the store's files are written (past the page cache by default).
    pub write_mode: crate::output::WriteMode,
    /// Bytes read and parsed per step (the first steps a fraction of it, doubling);
    /// small values exercise block boundaries in tests.
    pub block_size: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            user_col: "user".into(),
            item_col: "item".into(),
            time_col: TimeColumn::IfPresent("timestamp".into()),
            keep: Vec::new(),
            delimiter: b',',
            time_format: crate::time::TimeFormat::Auto,
            header: true,
            items_file: None,
            skip_bad_rows: false,
            overwrite: false,
            fsync: false,
            write_mode: crate::output::WriteMode::Direct,
            block_size: 64 << 20,
        }
    }
}

/// What an ingest reports as it runs, in this order: bytes read, then the build, then
/// the write. Reading is 55–65% of an ingest; without the later steps a display sat
/// at 100% through the rest (0.7 s of a 20M-row Parquet ingest, seconds at 100M).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestProgress {
    /// Bytes of the input read and numbered so far: what its size on disk measures
    /// (compressed bytes for gzip, zstd and Parquet; a Parquet file counts each row
    /// group's bytes as the group is numbered).
    Read(u64),
    /// Every row is read; they are being placed per user, sorted, and cleared of
    /// duplicates.
    Building,
    /// `written` of the store file's `total` bytes are written (the time order is
    /// computed meanwhile).
    Writing { written: u64, total: u64 },
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IngestSummary {
    /// Data rows read (header and blank lines excluded, bad rows included).
    pub rows: u64,
    pub bad_rows: u64,
    /// Duplicate (user, item) rows dropped.
    pub duplicates: u64,
    pub users: u64,
    pub items: u64,
    pub interactions: u64,
    pub has_timestamps: bool,
    /// The timestamps' unit (with timestamps), and their first and last value.
    pub time_unit: Option<TimeUnit>,
    pub time_range: Option<(i64, i64)>,
    /// The kept columns and the types they were stored with.
    pub kept: Vec<(String, ValueType)>,
    pub bytes: u64,
    #[serde(skip)]
    pub elapsed: Duration,
    /// The store's fingerprint.
    pub fingerprint: u64,
    /// What the user may want to know: a likely time column left unused, timestamps
    /// that are all equal, a unit inferred from the values.
    pub notes: Vec<String>,
}

/// Names a time column often has; one of them unused is worth a note.
const TIME_LIKE: [&str; 9] = [
    "timestamp",
    "ts",
    "time",
    "datetime",
    "date",
    "timestamp_ms",
    "event_time",
    "created_at",
    "unix_time",
];

/// The unit of the stored timestamps: the source's (a typed column), the format's, or
/// inferred from their magnitude — and whether it was inferred.
fn time_unit(
    source: Option<TimeUnit>,
    format: crate::time::TimeFormat,
    timestamps: &[i64],
) -> (TimeUnit, bool) {
    match source.or(format.unit()) {
        Some(unit) => (unit, false),
        None => {
            let max_abs = crate::time::range(timestamps)
                .map_or(0, |(lo, hi)| lo.unsigned_abs().max(hi.unsigned_abs()));
            (TimeUnit::infer(max_abs), true)
        }
    }
}

/// Notes on how the input was read that change what sampling can do with it.
fn notes(
    options: &IngestOptions,
    header: &[String],
    timestamps: Option<&[i64]>,
    inferred_unit: Option<TimeUnit>,
) -> Vec<String> {
    let mut out = Vec::new();
    // Seconds are what most sources hold and the summary shows the range as dates;
    // another unit read from the magnitude is worth saying how to override.
    if let Some(unit) = inferred_unit.filter(|&u| u != TimeUnit::Seconds) {
        out.push(format!(
            "timestamps read as Unix {} (from their magnitude); if they are not, pass --time-format unix-s (or unix-ms, unix-us, unix-ns)",
            unit.words()
        ));
    }
    match timestamps {
        None if matches!(options.time_col, TimeColumn::IfPresent(_)) => {
            if let Some(name) = header
                .iter()
                .find(|h| TIME_LIKE.contains(&h.to_ascii_lowercase().as_str()))
            {
                out.push(format!(
                    "no timestamps stored, but column {name:?} looks like time: pass --time-col {name} to use it (needed by --history and --split-at)"
                ));
            }
        }
        Some(ts) if ts.len() > 1 && ts.iter().all(|&t| t == ts[0]) => out.push(format!(
            "every timestamp is {}: time order ties everywhere (histories will be empty, a split puts everything on one side)",
            ts[0]
        )),
        _ => {}
    }
    out
}

/// Ingests `csv` into a store directory at `dest`. `progress` is called with the
/// number of input bytes consumed so far.
pub fn ingest(
    csv: &Path,
    dest: &Path,
    options: &IngestOptions,
    progress: &(dyn Fn(IngestProgress) + Sync),
) -> Result<IngestSummary, IngestError> {
    let start = Instant::now();
    let mut inputs = vec![csv];
    inputs.extend(options.items_file.as_deref());
    crate::publish::check_disjoint(dest, &inputs)?;
    let _lock = crate::publish::lock_destination(dest)?;
    if dest.exists() && !options.overwrite {
        return Err(crate::StoreError::AlreadyExists {
            path: dest.to_path_buf(),
        }
        .into());
    }
    if crate::npz::is_npz(csv) {
        return crate::npz::ingest(csv, dest, options, progress);
    }
    let read = |bytes| progress(IngestProgress::Read(bytes));
    let mut parsed = if crate::parquet_input::is_parquet(csv) {
        crate::parquet_input::read(csv, options, &read)?
    } else {
        Parser::new(csv, options)?.run(&read)?
    };
    progress(IngestProgress::Building);
    let types = parsed
        .kept
        .iter()
        .zip(&options.keep)
        .zip(&parsed.kept_source_types)
        .map(|((k, spec), &source)| {
            let spec = KeepSpec {
                declared: spec.declared.or(source),
                ..spec.clone()
            };
            k.resolve_type(&spec, csv)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let kept_parse = std::mem::take(&mut parsed.kept);
    // From here on the id maps are read by index only: their lookup tables go before
    // the CSR build, the ingest's peak, and so does what the allocator keeps resident
    // of memory freed during the parse (the tables the maps outgrew, the Parquet
    // reader's decoded row groups, freed on the pool's threads).
    let users = std::mem::take(&mut parsed.users).into_ids();
    let items = std::mem::take(&mut parsed.items).into_ids();
    crate::resources::release_freed_memory();
    let csr = Csr::build(&mut parsed, users.len());
    let kept = kept_parse
        .into_iter()
        .zip(options.keep.iter().zip(&types))
        .map(|(k, (spec, &t))| k.gather(&spec.name, t, &csr.rows))
        .collect::<Vec<_>>();
    let kept_data: Vec<KeptData<'_>> = kept.iter().map(KeptStore::data).collect();
    let unit = csr
        .timestamps
        .as_deref()
        .map(|ts| time_unit(parsed.time_unit, options.time_format, ts));
    let user_keys: Vec<u64> = (0..users.len() as u32)
        .into_par_iter()
        .map(|u| user_key(users.get(u)))
        .collect();
    let columns = Columns {
        n_items: items.len() as u32,
        indptr: &csr.indptr,
        indices: &csr.indices,
        rows: &csr.rows,
        timestamps: csr
            .timestamps
            .as_deref()
            .zip(unit)
            .map(|(values, (unit, _))| Timestamps { values, unit }),
        user_keys: &user_keys,
        kept: &kept_data,
    };
    let publish = PublishOptions {
        overwrite: options.overwrite,
        fsync: options.fsync,
        write_mode: options.write_mode,
    };
    let written = |written, total| progress(IngestProgress::Writing { written, total });
    let fingerprint = write_store_dir(dest, &columns, &users, &items, publish, &written)?;
    Ok(IngestSummary {
        rows: parsed.records,
        bad_rows: parsed.bad_rows,
        duplicates: csr.duplicates,
        users: users.len() as u64,
        items: items.len() as u64,
        interactions: csr.indices.len() as u64,
        has_timestamps: csr.timestamps.is_some(),
        time_unit: unit.map(|(unit, _)| unit),
        time_range: csr.timestamps.as_deref().and_then(crate::time::range),
        kept: options
            .keep
            .iter()
            .map(|k| k.name.clone())
            .zip(types)
            .collect(),
        bytes: parsed.bytes,
        elapsed: start.elapsed(),
        fingerprint,
        notes: notes(
            options,
            &parsed.header,
            csr.timestamps.as_deref(),
            unit.filter(|(_, inferred)| *inferred).map(|(unit, _)| unit),
        ),
    })
}

/// The parse result: global id maps and one slot per data row.
/// The parse result every reader produces (CSV here, Parquet in `parquet_input`): global
/// id maps and one slot per data row; the CSR build, kept columns and the write are
/// shared from there.
pub(crate) struct Parsed {
    pub(crate) users: Interner,
    pub(crate) items: Interner,
    /// Per data row: global user index, or TOMBSTONE for a skipped row.
    pub(crate) user_of_row: Vec<u32>,
    pub(crate) item_of_row: Vec<u32>,
    pub(crate) time_of_row: Option<Vec<i64>>,
    /// The timestamps' unit when the source fixes it (a typed Parquet column).
    pub(crate) time_unit: Option<TimeUnit>,
    /// Per kept column: its value dictionary and a code per data row.
    pub(crate) kept: Vec<KeptParse>,
    /// A kept column's type as the source declares it (Parquet), if it does.
    pub(crate) kept_source_types: Vec<Option<ValueType>>,
    /// The header's column names (positions without a header).
    pub(crate) header: Vec<String>,
    pub(crate) records: u64,
    pub(crate) bad_rows: u64,
    pub(crate) bytes: u64,
}

impl Parsed {
    /// Nothing parsed yet; the item catalog from `--items` if given.
    pub(crate) fn new(options: &IngestOptions) -> Result<Self, IngestError> {
        let mut items = Interner::indexing_decimals();
        if let Some(catalog) = &options.items_file {
            read_catalog(catalog, &mut items)?;
        }
        Ok(Parsed {
            users: Interner::indexing_decimals(),
            items,
            user_of_row: Vec::new(),
            item_of_row: Vec::new(),
            time_of_row: None,
            time_unit: None,
            kept: options.keep.iter().map(|_| KeptParse::default()).collect(),
            kept_source_types: vec![None; options.keep.len()],
            header: Vec::new(),
            records: 0,
            bad_rows: 0,
            bytes: 0,
        })
    }

    /// Appends merged ranges' rows, in global indices, to the row columns (an item a
    /// fixed catalog lacks makes its row a bad row).
    pub(crate) fn append_ranges(&mut self, ranges: &[RangeOut]) {
        let block_rows: usize = ranges.iter().map(|r| r.user_local.len()).sum();
        let start = self.user_of_row.len();
        grow_in_parallel(&mut self.user_of_row, block_rows);
        grow_in_parallel(&mut self.item_of_row, block_rows);
        let user_slices = per_range(&mut self.user_of_row[start..], ranges);
        let item_slices = per_range(&mut self.item_of_row[start..], ranges);
        // Timestamps are copied by the same tasks (a serial copy was 20 MB a block).
        let time_slices: Vec<Option<&mut [i64]>> = match &mut self.time_of_row {
            Some(times) => {
                grow_in_parallel(times, block_rows);
                per_range(&mut times[start..], ranges)
                    .into_iter()
                    .map(Some)
                    .collect()
            }
            None => ranges.iter().map(|_| None).collect(),
        };
        let unknown: u64 = ranges
            .par_iter()
            .zip(user_slices.into_par_iter().zip(item_slices))
            .zip(time_slices)
            .map(|((r, (users, items)), times)| {
                if let Some(times) = times {
                    times.copy_from_slice(&r.time);
                }
                let mut unknown = 0;
                for (k, (&u, &i)) in r.user_local.iter().zip(&r.item_local).enumerate() {
                    let (gu, gi) = if u == TOMBSTONE {
                        (TOMBSTONE, TOMBSTONE)
                    } else {
                        (r.users.global(u), r.items.global(i))
                    };
                    if gi == TOMBSTONE && u != TOMBSTONE {
                        unknown += 1;
                        users[k] = TOMBSTONE;
                    } else {
                        users[k] = gu;
                    }
                    items[k] = gi;
                }
                unknown
            })
            .sum();
        for (c, kept) in self.kept.iter_mut().enumerate() {
            for r in ranges.iter() {
                let (ids, codes) = (&r.kept[c].ids, &r.kept[c].codes);
                kept.code_of_row
                    .extend(codes.iter().map(|&code| match code {
                        MISSING_CODE => MISSING_CODE,
                        code => ids.global(code),
                    }));
            }
        }
        self.bad_rows += unknown + ranges.iter().map(|r| r.bad_rows).sum::<u64>();
    }
}

/// Appends `n` zeros to `column`, written by every thread of the pool: the first
/// write to a fresh page is where the kernel clears it, and a serial `resize` made
/// that one core's work — stretches of 50–100 ms per block with the other core idle
/// on this project's VMs (`perf`, a 19.5M-row CSV).
fn grow_in_parallel<T: Default + Clone + Send>(column: &mut Vec<T>, n: usize) {
    column.par_extend(rayon::iter::repeat_n(T::default(), n));
}

/// `column` cut into consecutive slices of the given lengths (from its start).
fn split_lengths<T>(
    mut column: &mut [T],
    lengths: impl IntoIterator<Item = usize>,
) -> Vec<&mut [T]> {
    lengths
        .into_iter()
        .map(|len| {
            let (head, rest) = std::mem::take(&mut column).split_at_mut(len);
            column = rest;
            head
        })
        .collect()
}

/// `column` cut into one slice per range, each as long as the range's rows.
fn per_range<'a, T>(column: &'a mut [T], ranges: &[RangeOut]) -> Vec<&'a mut [T]> {
    split_lengths(column, ranges.iter().map(|r| r.user_local.len()))
}

/// `column` (in CSR order) cut into one slice per group of users `cuts` gives.
fn per_group<'a, T>(column: &'a mut [T], indptr: &[u64], cuts: &[usize]) -> Vec<&'a mut [T]> {
    split_lengths(
        column,
        cuts.windows(2)
            .map(|w| (indptr[w[1]] - indptr[w[0]]) as usize),
    )
}

/// Column positions found in the header.
#[derive(Debug, Clone)]
struct Layout {
    n_fields: usize,
    user: usize,
    item: usize,
    time: Option<usize>,
    /// The kept columns' positions, in `--keep` order.
    kept: Vec<usize>,
    delimiter: u8,
    time_format: crate::time::TimeFormat,
}

/// A kept column during the parse: distinct values in order of first appearance (the
/// line of each, for errors) and each data row's code.
#[derive(Debug, Default)]
pub(crate) struct KeptParse {
    pub(crate) dict: Interner,
    pub(crate) first_line: Vec<u64>,
    pub(crate) code_of_row: Vec<u32>,
}

/// A kept column ready for the store: values in CSR order.
#[derive(Debug)]
enum KeptStore {
    I64(String, Vec<i64>),
    F64(String, Vec<f64>),
    Str(String, Vec<u32>, Vec<u8>),
}

impl KeptStore {
    fn data(&self) -> KeptData<'_> {
        let (name, values, dictionary) = match self {
            KeptStore::I64(n, v) => (n, Values::I64(v), None),
            KeptStore::F64(n, v) => (n, Values::F64(v), None),
            KeptStore::Str(n, v, d) => (n, Values::Str(v), Some(&d[..])),
        };
        KeptData {
            column: KeptColumn {
                name: name.clone(),
                value_type: values.value_type(),
            },
            values,
            dictionary,
        }
    }
}

/// A value as an error message shows it: at most 60 characters (a 30 MB field must
/// not flood the terminal), lossily decoded.
fn excerpt(value: &[u8]) -> String {
    const SHOWN: usize = 60;
    let text = String::from_utf8_lossy(value);
    match text.char_indices().nth(SHOWN) {
        None => text.into_owned(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], value.len()),
    }
}

fn parse_int(value: &[u8]) -> Option<i64> {
    parse_i64(value).filter(|&v| v != MISSING_I64)
}

fn parse_float(value: &[u8]) -> Option<f64> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

impl KeptParse {
    /// The declared type, checked against every distinct value, or the narrowest type
    /// all values parse as.
    fn resolve_type(&self, spec: &KeepSpec, path: &Path) -> Result<ValueType, IngestError> {
        let fits = |t: ValueType, v: &[u8]| match t {
            ValueType::I64 => parse_int(v).is_some(),
            ValueType::F64 => parse_float(v).is_some(),
            ValueType::Str => true,
        };
        match spec.declared {
            Some(t) => match self.dict.iter().position(|v| !fits(t, v)) {
                Some(at) => Err(IngestError::BadValue {
                    path: path.into(),
                    line: self.first_line[at],
                    column: spec.name.clone(),
                    value: excerpt(self.dict.get(at as u32)),
                    value_type: t,
                }),
                None => Ok(t),
            },
            None => Ok(ValueType::ALL
                .into_iter()
                .find(|&t| self.dict.iter().all(|v| fits(t, v)))
                .expect("every value is a string")),
        }
    }

    /// The column's values in CSR order: each interaction takes its kept row's value.
    fn gather(self, name: &str, value_type: ValueType, rows: &[u64]) -> KeptStore {
        match value_type {
            ValueType::I64 => {
                KeptStore::I64(name.into(), self.by_code(rows, MISSING_I64, parse_int))
            }
            ValueType::F64 => {
                KeptStore::F64(name.into(), self.by_code(rows, f64::NAN, parse_float))
            }
            ValueType::Str => KeptStore::Str(
                name.into(),
                rows.par_iter()
                    .map(|&r| self.code_of_row[r as usize])
                    .collect(),
                encode_dictionary(self.dict.iter()),
            ),
        }
    }

    /// Each interaction's value, parsed once per distinct value.
    fn by_code<T: Copy + Send + Sync>(
        &self,
        rows: &[u64],
        missing: T,
        parse: fn(&[u8]) -> Option<T>,
    ) -> Vec<T> {
        let table: Vec<T> = self
            .dict
            .iter()
            .map(|v| parse(v).expect("type resolved"))
            .collect();
        rows.par_iter()
            .map(|&r| match self.code_of_row[r as usize] {
                MISSING_CODE => missing,
                c => table[c as usize],
            })
            .collect()
    }
}

/// A malformed row found by a range parser, before it knows its global line.
#[derive(Debug, Clone)]
enum RowProblem {
    FieldCount(usize),
    Quote,
    EmptyId(&'static str),
    /// An id holding a carriage return: `users.txt`/`items.txt` are line files read
    /// back with CRLF tolerance, so `a` and `a\r` would decode as one id.
    CarriageReturn(&'static str),
    NotUtf8(&'static str),
    BadTimestamp(String),
}

/// A kept column's parse state within one range.
#[derive(Debug, Default)]
pub(crate) struct RangeKept {
    ids: RangeIds,
    codes: Vec<u32>,
}

impl RangeKept {
    /// The current row's value (empty: missing), first met at range-local row `row`.
    pub(crate) fn push(&mut self, value: &[u8], row: u64) {
        let code = if value.is_empty() {
            MISSING_CODE
        } else {
            self.ids.intern(value, row)
        };
        self.codes.push(code);
    }
}

/// One range's parse output; reused across blocks so its buffers stay warm.
#[derive(Debug, Default)]
pub(crate) struct RangeOut {
    pub(crate) users: RangeIds,
    pub(crate) items: RangeIds,
    user_local: Vec<u32>,
    item_local: Vec<u32>,
    time: Vec<i64>,
    pub(crate) kept: Vec<RangeKept>,
    lines: u64,
    bad_rows: u64,
    first_problem: Option<(u64, RowProblem)>,
    spans: Vec<Span>,
    scratch: Vec<u8>,
}

/// A lookup's answer (in a list of them) for an id the global dictionary does not hold.
pub(crate) const NOT_KNOWN: u32 = u32::MAX;

/// A range's dictionary of one column, and after the merge its local → global map.
///
/// A range either numbers every id it meets locally (kept columns: codes are local
/// indices), or first looks each id up in the global dictionary as it stood when the
/// block began ([`RangeIds::resolve`]: users and items of CSV blocks and Parquet row
/// groups): codes below `base` are then global indices already, and only ids new to
/// the file are numbered locally, as `base + local`. Most rows of a large file name an
/// id an earlier block met, so they cost one lookup in one table, and the merge works
/// only on what is new.
#[derive(Debug, Default)]
pub(crate) struct RangeIds {
    dict: Interner,
    /// Range-local line of each local id's first appearance (for error messages).
    first_line: Vec<u64>,
    map: Vec<u32>,
    /// The last id given to `resolve_repeated` and its code: files grouped by user
    /// skip the lookup.
    last_id: Vec<u8>,
    last_code: Option<u32>,
    /// Codes below this are global indices; the global dictionary's length at the
    /// block's start when resolving, else 0.
    base: u32,
    /// Ids [`RangeIds::resolve_at`] has started looking up and not yet answered:
    /// (value, position of the code, range-local line).
    in_flight: VecDeque<(usize, usize, u64)>,
}

impl RangeIds {
    fn clear(&mut self) {
        self.dict.clear();
        self.first_line.clear();
        self.last_code = None;
        self.base = 0;
        self.in_flight.clear();
    }

    /// Starts a block whose ids are first looked up in `known` (the global
    /// dictionary, unchanged until the block is merged).
    pub(crate) fn resolve_against(&mut self, known: &Interner) {
        self.base = known.len() as u32;
    }

    /// The code of `id`, first met at range-local row `local_line`, numbered locally.
    pub(crate) fn intern(&mut self, id: &[u8], local_line: u64) -> u32 {
        let (index, new) = self.dict.intern(id);
        if new {
            self.first_line.push(local_line);
        }
        // Cannot wrap before the merge fails: the range's local ids are distinct
        // and new, so the global dictionary would pass `MAX_IDS` first.
        self.base.wrapping_add(index)
    }

    /// The code of `id`, given what a lookup in the global dictionary found: its
    /// index, or [`NOT_KNOWN`].
    pub(crate) fn found(&mut self, found: u32, id: &[u8], local_line: u64) -> u32 {
        match found {
            NOT_KNOWN => self.intern(id, local_line),
            global => global,
        }
    }

    /// The code of `id`: its global index when `known` holds it, else a local one.
    pub(crate) fn resolve(&mut self, id: &[u8], local_line: u64, known: &Interner) -> u32 {
        match known.find(id) {
            Some(global) => global,
            None => self.intern(id, local_line),
        }
    }

    /// [`RangeIds::resolve`] into `codes[at]`, answered now or a few ids later: a plain
    /// decimal id that `known`'s by-value table covers has its slot prefetched and
    /// waits in line, so the table's cache misses overlap instead of stalling row
    /// after row. Ids are numbered in the order given either way; [`RangeIds::settle`]
    /// answers the ids still waiting.
    #[inline]
    pub(crate) fn resolve_at(
        &mut self,
        id: &[u8],
        local_line: u64,
        known: &Interner,
        codes: &mut [u32],
        at: usize,
    ) {
        match decimal_value(id).filter(|&v| known.prefetch_by_value(v)) {
            Some(value) => {
                if self.in_flight.len() == LOOKAHEAD {
                    let oldest = self.in_flight.pop_front().expect("a full queue");
                    self.answer(oldest, known, codes);
                }
                self.in_flight.push_back((value, at, local_line));
            }
            None => {
                self.settle(known, codes);
                codes[at] = self.resolve(id, local_line, known);
            }
        }
    }

    /// Answers every id [`RangeIds::resolve_at`] left waiting.
    pub(crate) fn settle(&mut self, known: &Interner, codes: &mut [u32]) {
        while let Some(lookup) = self.in_flight.pop_front() {
            self.answer(lookup, known, codes);
        }
    }

    /// Answers a lookup `resolve_at` queued — (value, position of the code, line):
    /// the id's global index, or (new to the file) a local one, numbered under its
    /// text — the value's decimal spelling, the only one a plain decimal id has.
    fn answer(
        &mut self,
        (value, at, local_line): (usize, usize, u64),
        known: &Interner,
        codes: &mut [u32],
    ) {
        codes[at] = match known.by_value(value) {
            Some(Some(global)) => global,
            _ => self.intern(itoa::Buffer::new().format(value).as_bytes(), local_line),
        };
    }

    /// Where local id `local` first appeared (range-local row) and its bytes.
    pub(crate) fn first_seen(&self, local: usize) -> (u64, &[u8]) {
        (self.first_line[local], self.dict.get(local as u32))
    }

    /// [`RangeIds::resolve`], with a run of one id answered without a lookup. Always
    /// inlined: called for every row's user, and once the Parquet reader called it too
    /// the compiler stopped inlining it (a call a row: +2% of a CSV ingest's
    /// instructions; `#[inline]` alone did not bring it back).
    #[inline(always)]
    pub(crate) fn resolve_repeated(&mut self, id: &[u8], local_line: u64, known: &Interner) -> u32 {
        match self.last_code {
            Some(code) if self.last_id == id => code,
            _ => {
                let code = self.resolve(id, local_line, known);
                self.last_id.clear();
                self.last_id.extend_from_slice(id);
                self.last_code = Some(code);
                code
            }
        }
    }

    /// The global index of a code, after the merge (TOMBSTONE: a skipped unknown id).
    fn global(&self, code: u32) -> u32 {
        if code < self.base {
            code
        } else {
            self.map[(code - self.base) as usize]
        }
    }
}

/// What to do with an id missing from a fixed catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Catalog {
    /// New ids are appended.
    Open,
    /// New ids are bad rows, skipped.
    FixedSkip,
    /// New ids stop the ingest.
    FixedFail,
}

/// Why a merge stopped: the range and local id at fault.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MergeProblem {
    TooMany { range: usize, local: usize },
    Unknown { range: usize, local: usize },
}

/// Folds the ranges' dictionaries of one column into `global`, in file order, and
/// fills each range's local → global map (TOMBSTONE for skipped unknown ids).
///
/// Most ids of a block were seen in earlier blocks, so the lookups run first, in
/// parallel and read-only; only ids new to the file are then inserted, in order.
fn merge_dictionary(
    global: &mut Interner,
    ranges: &mut [&mut RangeIds],
    catalog: Catalog,
) -> Result<(), MergeProblem> {
    let known: &Interner = global;
    ranges.par_iter_mut().for_each(|r| {
        r.map.clear();
        let RangeIds {
            dict, map, base, ..
        } = &mut **r;
        if *base as usize == known.len() {
            // Resolved against this very dictionary (it only grows), or numbered
            // locally while it is still empty: every local id is new to it.
            map.resize(dict.len(), TOMBSTONE);
        } else {
            map.extend(dict.iter().map(|id| known.find(id).unwrap_or(TOMBSTONE)));
        }
    });
    for (range, r) in ranges.iter_mut().enumerate() {
        for local in 0..r.map.len() {
            if r.map[local] != TOMBSTONE {
                continue;
            }
            r.map[local] = match catalog {
                Catalog::Open => global.intern(r.dict.get(local as u32)).0,
                Catalog::FixedSkip => TOMBSTONE,
                Catalog::FixedFail => return Err(MergeProblem::Unknown { range, local }),
            };
            if r.map[local] != TOMBSTONE && u64::from(r.map[local]) >= MAX_IDS {
                return Err(MergeProblem::TooMany { range, local });
            }
        }
    }
    Ok(())
}

impl Catalog {
    /// How the items merge: open, or fixed by `--items` (unknown items skipped as bad
    /// rows or stopping the ingest).
    pub(crate) fn of(fixed: bool, skip_bad_rows: bool) -> Self {
        match (fixed, skip_bad_rows) {
            (false, _) => Catalog::Open,
            (true, true) => Catalog::FixedSkip,
            (true, false) => Catalog::FixedFail,
        }
    }
}

impl MergeProblem {
    /// The range and its local id at fault.
    pub(crate) fn at(self) -> (usize, usize) {
        match self {
            MergeProblem::TooMany { range, local } | MergeProblem::Unknown { range, local } => {
                (range, local)
            }
        }
    }
}

/// The id column a merge problem is in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IdColumn {
    User,
    Item,
    Kept(usize),
}

impl IdColumn {
    pub(crate) fn side(self, range: &RangeOut) -> &RangeIds {
        match self {
            IdColumn::User => &range.users,
            IdColumn::Item => &range.items,
            IdColumn::Kept(c) => &range.kept[c].ids,
        }
    }

    pub(crate) fn name(self, options: &IngestOptions) -> String {
        match self {
            IdColumn::User => options.user_col.clone(),
            IdColumn::Item => options.item_col.clone(),
            IdColumn::Kept(c) => options.keep[c].name.clone(),
        }
    }
}

/// Folds the ranges' dictionaries (users and items concurrently, then kept columns)
/// into `out`'s global ones in range order, filling each range's local → global maps;
/// a kept value's first row is `range_first[range]` plus its range-local row.
pub(crate) fn merge_ranges(
    out: &mut Parsed,
    ranges: &mut [RangeOut],
    range_first: &[u64],
    items_catalog: Catalog,
) -> Result<(), (IdColumn, MergeProblem)> {
    let (mut user_sides, mut item_sides): (Vec<_>, Vec<_>) = ranges
        .iter_mut()
        .map(|r| (&mut r.users, &mut r.items))
        .unzip();
    let (users, items) = rayon::join(
        || merge_dictionary(&mut out.users, &mut user_sides, Catalog::Open),
        || merge_dictionary(&mut out.items, &mut item_sides, items_catalog),
    );
    users.map_err(|p| (IdColumn::User, p))?;
    items.map_err(|p| (IdColumn::Item, p))?;
    for (c, kept) in out.kept.iter_mut().enumerate() {
        let mut sides: Vec<&mut RangeIds> = ranges.iter_mut().map(|r| &mut r.kept[c].ids).collect();
        merge_dictionary(&mut kept.dict, &mut sides, Catalog::Open)
            .map_err(|p| (IdColumn::Kept(c), p))?;
        // New values were numbered in exactly this order: record where each first
        // appeared.
        for (range, side) in sides.iter().enumerate() {
            for (local, &global) in side.map.iter().enumerate() {
                if global as usize == kept.first_line.len() {
                    kept.first_line
                        .push(range_first[range] + side.first_line[local]);
                }
            }
        }
    }
    Ok(())
}

impl RangeOut {
    fn clear(&mut self) {
        self.users.clear();
        self.items.clear();
        self.user_local.clear();
        self.item_local.clear();
        self.time.clear();
        for k in &mut self.kept {
            k.ids.clear();
            k.codes.clear();
        }
        self.lines = 0;
        self.bad_rows = 0;
        self.first_problem = None;
    }

    /// Parses complete lines of `text` (each ending in `\n`, except possibly the last),
    /// resolving users and items against the global dictionaries `known`.
    fn parse(&mut self, text: &[u8], layout: &Layout, skip_bad_rows: bool, known: &Known) {
        self.start(layout.kept.len());
        self.users.resolve_against(known.users);
        self.items.resolve_against(known.items);
        let mut spans = std::mem::take(&mut self.spans);
        for_each_line(text, layout.delimiter, &mut spans, |line, fields| {
            let local_line = self.lines;
            self.lines += 1;
            if line.is_empty() {
                return ControlFlow::Continue(());
            }
            let parsed = fields
                .map_err(|LineError::Quote| RowProblem::Quote)
                .and_then(|fields| self.parse_record(line, fields, layout, local_line, known));
            if let Err(problem) = parsed {
                if self.first_problem.is_none() {
                    self.first_problem = Some((local_line, problem));
                    if !skip_bad_rows {
                        return ControlFlow::Break(());
                    }
                }
                self.push_bad_row(layout.time.is_some());
            }
            ControlFlow::Continue(())
        });
        self.items.settle(known.items, &mut self.item_local);
        self.spans = spans;
    }

    /// A bad row, counted, with placeholders (it keeps its row number, and is skipped).
    pub(crate) fn push_bad_row(&mut self, has_time: bool) {
        self.bad_rows += 1;
        self.user_local.push(TOMBSTONE);
        self.item_local.push(TOMBSTONE);
        if has_time {
            self.time.push(0);
        }
        for k in &mut self.kept {
            k.codes.push(MISSING_CODE);
        }
    }

    /// Rows held, bad ones included.
    pub(crate) fn rows(&self) -> usize {
        self.user_local.len()
    }

    /// Empties the range for a new input piece with `n_kept` kept columns.
    pub(crate) fn start(&mut self, n_kept: usize) {
        self.kept.resize_with(n_kept, RangeKept::default);
        self.clear();
    }

    /// A good row's local user and item indices and timestamp; its kept values follow
    /// through [`RangeKept::push`].
    pub(crate) fn push_row(&mut self, user: u32, item: u32, time: Option<i64>) {
        self.user_local.push(user);
        self.item_local.push(item);
        if let Some(t) = time {
            self.time.push(t);
        }
    }

    fn parse_record(
        &mut self,
        line: &[u8],
        fields: &[Span],
        layout: &Layout,
        local_line: u64,
        known: &Known,
    ) -> Result<(), RowProblem> {
        if fields.len() != layout.n_fields {
            return Err(RowProblem::FieldCount(fields.len()));
        }
        let time = match layout.time {
            Some(t) => {
                let raw = field(line, fields[t], &mut self.scratch);
                Some(
                    layout
                        .time_format
                        .parse(raw)
                        .ok_or_else(|| RowProblem::BadTimestamp(excerpt(raw)))?,
                )
            }
            None => None,
        };
        let user = field(line, fields[layout.user], &mut self.scratch);
        if user.is_empty() {
            return Err(RowProblem::EmptyId("user"));
        }
        // Check the item before interning the user, so a bad row leaves no trace.
        if fields[layout.item].is_empty() {
            return Err(RowProblem::EmptyId("item"));
        }
        for (column, at) in [("user", layout.user), ("item", layout.item)] {
            if fields[at].has_carriage_return(line) {
                return Err(RowProblem::CarriageReturn(column));
            }
            // The id files are UTF-8 text read back as strings (found by fuzzing:
            // a store with a non-UTF-8 id failed its own verify).
            let raw = fields[at].raw(line);
            if !raw.is_ascii() && std::str::from_utf8(raw).is_err() {
                return Err(RowProblem::NotUtf8(column));
            }
        }
        let u = self.users.resolve_repeated(user, local_line, known.users);
        let at = self.rows();
        // The item's code is written by `resolve_at`, now or once `parse` settles.
        self.push_row(u, TOMBSTONE, time);
        let item = field(line, fields[layout.item], &mut self.scratch);
        self.items
            .resolve_at(item, local_line, known.items, &mut self.item_local, at);
        for (c, &at) in layout.kept.iter().enumerate() {
            let value = field(line, fields[at], &mut self.scratch);
            self.kept[c].push(value, local_line);
        }
        Ok(())
    }
}

/// The global user and item dictionaries as they stand while a block (CSV) or a wave
/// of row groups (Parquet) is parsed.
pub(crate) struct Known<'a> {
    pub(crate) users: &'a Interner,
    pub(crate) items: &'a Interner,
}

struct Parser<'a> {
    path: &'a Path,
    options: &'a IngestOptions,
    input: crate::source::Input,
    /// Item catalog fixed by `--items`: no new items may appear.
    fixed_catalog: bool,
    out: Parsed,
}

impl<'a> Parser<'a> {
    fn new(path: &'a Path, options: &'a IngestOptions) -> Result<Self, IngestError> {
        let input = crate::source::open(path)?;
        Ok(Self {
            path,
            options,
            input,
            fixed_catalog: options.items_file.is_some(),
            out: Parsed::new(options)?,
        })
    }

    fn io(&self, e: std::io::Error) -> IngestError {
        IngestError::Io {
            path: self.path.into(),
            error: e,
        }
    }

    fn run(mut self, progress: &(dyn Fn(u64) + Sync)) -> Result<Parsed, IngestError> {
        let block_size = self.options.block_size.max(1);
        let mut layout = None;
        let mut memory_checked = false;
        let mut next_line: u64 = 1;
        let n_ranges = rayon::current_num_threads() * 2;
        let mut ranges: Vec<RangeOut> = (0..n_ranges).map(|_| RangeOut::default()).collect();
        let input = std::mem::replace(&mut self.input.text, Box::new(std::io::empty()));
        let mut blocks = crate::read_ahead::Blocks::new(input, block_size, MAX_LINE);
        while let Some(block) = blocks.next() {
            if crate::interrupt::requested() {
                return Err(IngestError::Interrupted);
            }
            let buf = match block {
                Block::Lines(buf) => buf,
                Block::LineTooLong => {
                    return Err(IngestError::LineTooLong {
                        path: self.path.into(),
                        line: next_line,
                        limit: MAX_LINE as u64,
                    })
                }
                Block::Failed(e) => return Err(self.io(e)),
            };
            let mut text = &buf[..];
            if layout.is_none() {
                // Text has no NUL bytes: a binary file that got this far (an unknown
                // format, a wrong decompression) is named, not parsed into garbage.
                if memchr(0, &text[..text.len().min(1 << 16)]).is_some() {
                    return Err(IngestError::UnsupportedInput {
                        path: self.path.into(),
                        what: "binary data (it holds NUL bytes)",
                    });
                }
            }
            if layout.is_none() && !self.options.header {
                let first = memchr(b'\n', text).map_or(text, |p| &text[..p]);
                let mut spans = Vec::new();
                let _ = split(trim_cr(first), self.options.delimiter, &mut spans);
                let names: Vec<String> = (0..spans.len()).map(|i| i.to_string()).collect();
                let l = self.layout_of(names)?;
                self.out.time_of_row = l.time.map(|_| Vec::new());
                layout = Some(l);
                next_line = 1;
            }
            if layout.is_none() {
                // Blank lines before the header are skipped (and counted as lines).
                let mut blank = 0;
                while let Some(p) = memchr(b'\n', text).filter(|&p| trim_cr(&text[..p]).is_empty())
                {
                    text = &text[p + 1..];
                    blank += 1;
                }
                let (header, rest) = match memchr(b'\n', text) {
                    Some(p) => (&text[..p], &text[p + 1..]),
                    None => (text, &text[text.len()..]),
                };
                let l = self.layout(header)?;
                self.out.time_of_row = l.time.map(|_| Vec::new());
                layout = Some(l);
                next_line = 2 + blank;
                self.out.bytes += (buf.len() - rest.len()) as u64;
                text = rest;
            }
            let layout = layout.as_ref().expect("set above");
            if !memory_checked {
                memory_checked = true;
                self.check_memory(text, block_size)?;
                blocks.read_ahead();
            }
            next_line = self.parse_block(text, layout, next_line, &mut ranges)?;
            self.out.bytes += text.len() as u64;
            // Raw bytes (compressed ones for gzip/zstd): what the file's size measures.
            progress(
                self.input
                    .raw_read
                    .load(std::sync::atomic::Ordering::Relaxed),
            );
            blocks.recycle(buf);
        }
        if layout.is_none() {
            return Err(IngestError::EmptyInput {
                path: self.path.into(),
                detail: " (no header line)",
            });
        }
        self.out.records = self.out.user_of_row.len() as u64;
        if self.out.records == 0 {
            return Err(IngestError::EmptyInput {
                path: self.path.into(),
                detail: " (a header but no data rows)",
            });
        }
        if self.out.bad_rows == self.out.records {
            return Err(IngestError::EmptyInput {
                path: self.path.into(),
                detail: " (every data row was bad)",
            });
        }
        Ok(self.out)
    }

    /// Before the first block is parsed: the whole input's rows estimated from that
    /// block's lines per byte, and the memory they need (parse columns, then the CSR) compared with
    /// what the machine and `ulimit -v` leave — an error now rather than an abort when
    /// an allocation fails halfway. Inputs of unknown size (stdin, compressed) are not
    /// estimated.
    fn check_memory(&self, first_block: &[u8], block_size: usize) -> Result<(), IngestError> {
        const BYTES_PER_ROW: u64 = 40;
        if self.input.container != crate::source::Container::Text
            || crate::source::is_stdin(self.path)
            || first_block.is_empty()
        {
            return Ok(());
        }
        let Ok(size) = std::fs::metadata(self.path).map(|m| m.len()) else {
            return Ok(());
        };
        // Lines per byte of the first block, before any of it is parsed.
        let rows = memchr::memchr_iter(b'\n', first_block).count() as u64 + 1;
        let estimated_rows =
            (u128::from(size) * u128::from(rows) / first_block.len() as u128) as u64;
        let per_row = BYTES_PER_ROW + 4 * self.options.keep.len() as u64;
        let needed = estimated_rows
            .saturating_mul(per_row)
            .saturating_add(2 * block_size as u64);
        match crate::resources::memory_budget() {
            Some(budget) if needed > budget => Err(IngestError::OutOfMemory {
                path: self.path.into(),
                rows: estimated_rows,
                needed,
                budget,
            }),
            _ => Ok(()),
        }
    }

    fn layout(&mut self, header: &[u8]) -> Result<Layout, IngestError> {
        let header = trim_cr(header.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(header));
        let mut spans = Vec::new();
        split(header, self.options.delimiter, &mut spans).map_err(|_| {
            IngestError::UnterminatedQuote {
                path: self.path.into(),
                line: 1,
            }
        })?;
        let mut scratch = Vec::new();
        let names: Vec<String> = spans
            .iter()
            .map(|&s| String::from_utf8_lossy(field(header, s, &mut scratch)).into_owned())
            .collect();
        self.layout_of(names)
    }

    /// Chooses the columns among `names` (the header's, or positions without one).
    fn layout_of(&mut self, names: Vec<String>) -> Result<Layout, IngestError> {
        let find = |name: &str| names.iter().position(|n| n == name);
        let chosen = [Some(&self.options.user_col), Some(&self.options.item_col)]
            .into_iter()
            .flatten()
            .chain(self.options.keep.iter().map(|k| &k.name))
            .chain(match &self.options.time_col {
                TimeColumn::IfPresent(n) | TimeColumn::Required(n) => Some(n),
                TimeColumn::Ignore => None,
            });
        for name in chosen {
            if names.iter().filter(|n| *n == name).count() > 1 {
                return Err(IngestError::DuplicateColumn {
                    path: self.path.into(),
                    column: name.clone(),
                });
            }
        }
        let missing = |column: &str, flag| IngestError::MissingColumn {
            path: self.path.into(),
            column: column.into(),
            available: names.join(", "),
            flag,
        };
        let user = find(&self.options.user_col)
            .ok_or_else(|| missing(&self.options.user_col, "user-col"))?;
        let item = find(&self.options.item_col)
            .ok_or_else(|| missing(&self.options.item_col, "item-col"))?;
        let time = match &self.options.time_col {
            TimeColumn::IfPresent(name) => find(name),
            TimeColumn::Required(name) => {
                Some(find(name).ok_or_else(|| missing(name, "time-col"))?)
            }
            TimeColumn::Ignore => None,
        };
        let kept = self
            .options
            .keep
            .iter()
            .map(|k| find(&k.name).ok_or_else(|| missing(&k.name, "keep")))
            .collect::<Result<Vec<_>, _>>()?;
        let n_fields = names.len();
        self.out.header = names;
        Ok(Layout {
            n_fields,
            user,
            item,
            time,
            kept,
            delimiter: self.options.delimiter,
            time_format: self.options.time_format,
        })
    }

    /// Parses one block of complete lines whose first line is file line `first_line`;
    /// returns the line number after the block.
    fn parse_block(
        &mut self,
        text: &[u8],
        layout: &Layout,
        first_line: u64,
        ranges: &mut [RangeOut],
    ) -> Result<u64, IngestError> {
        let bounds = cut_at_newlines(text, ranges.len());
        let skip = self.options.skip_bad_rows;
        let known = Known {
            users: &self.out.users,
            items: &self.out.items,
        };
        ranges
            .par_iter_mut()
            .zip(bounds.par_windows(2))
            .for_each(|(out, w)| out.parse(&text[w[0]..w[1]], layout, skip, &known));

        // Line numbers and the first problem, in file order.
        let mut line = first_line;
        let mut range_first_line = Vec::with_capacity(ranges.len());
        for r in ranges.iter() {
            range_first_line.push(line);
            if let (Some((local, problem)), false) = (&r.first_problem, skip) {
                return Err(self.row_error(line + local, problem.clone(), layout));
            }
            line += r.lines;
        }
        self.merge_ids(ranges, &range_first_line)?;
        self.out.append_ranges(ranges);
        Ok(line)
    }

    fn row_error(&self, line: u64, problem: RowProblem, layout: &Layout) -> IngestError {
        let path = self.path.into();
        match problem {
            RowProblem::FieldCount(got) => IngestError::FieldCount {
                path,
                line,
                expected: layout.n_fields,
                got,
            },
            RowProblem::Quote => IngestError::UnterminatedQuote { path, line },
            RowProblem::EmptyId(which) => IngestError::EmptyId {
                path,
                line,
                column: self.column_name(which),
            },
            RowProblem::NotUtf8(which) => IngestError::IdNotUtf8 {
                path,
                line,
                column: self.column_name(which),
            },
            RowProblem::CarriageReturn(which) => IngestError::CarriageReturnInId {
                path,
                line,
                column: self.column_name(which),
            },
            RowProblem::BadTimestamp(value) => IngestError::BadTimestamp {
                path,
                line,
                column: self.time_name(),
                value,
            },
        }
    }

    fn column_name(&self, which: &str) -> String {
        if which == "user" {
            self.options.user_col.clone()
        } else {
            self.options.item_col.clone()
        }
    }

    fn time_name(&self) -> String {
        match &self.options.time_col {
            TimeColumn::IfPresent(n) | TimeColumn::Required(n) => n.clone(),
            TimeColumn::Ignore => String::new(),
        }
    }

    /// Folds each range's dictionaries into the global ones, in file order.
    fn merge_ids(
        &mut self,
        ranges: &mut [RangeOut],
        range_first_line: &[u64],
    ) -> Result<(), IngestError> {
        let items_catalog = Catalog::of(self.fixed_catalog, self.options.skip_bad_rows);
        let Err((column, problem)) =
            merge_ranges(&mut self.out, ranges, range_first_line, items_catalog)
        else {
            return Ok(());
        };
        let (range, local) = problem.at();
        let (local_line, id) = column.side(&ranges[range]).first_seen(local);
        let line = range_first_line[range] + local_line;
        let name = column.name(self.options);
        Err(match problem {
            MergeProblem::TooMany { .. } => self.too_many(line, name),
            MergeProblem::Unknown { .. } => IngestError::UnknownItem {
                path: self.path.into(),
                line,
                column: name,
                id: excerpt(id),
            },
        })
    }

    fn too_many(&self, line: u64, column: String) -> IngestError {
        IngestError::TooManyIds {
            path: self.path.into(),
            line,
            column,
            limit: MAX_IDS,
        }
    }
}

/// `parts + 1` boundaries cutting `text` after newlines into about equal parts.
fn cut_at_newlines(text: &[u8], parts: usize) -> Vec<usize> {
    let mut bounds = vec![0];
    for k in 1..parts {
        let target = (text.len() * k / parts).max(*bounds.last().expect("non-empty"));
        let cut = match memchr(b'\n', &text[target..]) {
            Some(p) => target + p + 1,
            None => text.len(),
        };
        bounds.push(cut);
    }
    bounds.push(text.len());
    bounds
}

fn read_catalog(path: &Path, items: &mut Interner) -> Result<(), IngestError> {
    let file = File::open(path).map_err(|e| IngestError::Io {
        path: path.into(),
        error: e,
    })?;
    let lines = read_lines(BufReader::new(file)).map_err(|e| IngestError::Io {
        path: path.into(),
        error: e,
    })?;
    for (i, id) in lines.iter().enumerate() {
        // a byte-order mark is not part of the first id
        let id = if i == 0 {
            id.strip_prefix('\u{feff}').unwrap_or(id)
        } else {
            id
        };
        let bad = |problem: String| IngestError::BadCatalog {
            path: path.into(),
            line: i as u64 + 1,
            problem,
        };
        if id.is_empty() {
            return Err(bad("empty id".into()));
        }
        if !items.intern(id.as_bytes()).1 {
            return Err(bad(format!("item {id:?} is listed twice")));
        }
        if items.len() as u64 > MAX_IDS {
            return Err(bad(format!("more than {MAX_IDS} items")));
        }
    }
    Ok(())
}

/// The CSR columns of a store.
struct Csr {
    indptr: Vec<u64>,
    indices: Vec<u32>,
    rows: Vec<u64>,
    timestamps: Option<Vec<i64>>,
    duplicates: u64,
}

impl Csr {
    /// Builds the CSR from the parse columns, which it consumes: they are freed once
    /// placed, so peak memory is the store plus at most 16 bytes per row of parse
    /// columns.
    fn build(parsed: &mut Parsed, n_users: usize) -> Csr {
        let user_of_row = std::mem::take(&mut parsed.user_of_row);
        let item_of_row = std::mem::take(&mut parsed.item_of_row);
        let time_of_row = parsed.time_of_row.take();
        let indptr = user_offsets(&user_of_row, n_users);
        let mut csr = if grouped_by_user(&user_of_row) {
            // The rows are in CSR order already: the columns become the CSR's as they
            // are, where the scatter would copy each one onto itself.
            Csr {
                indptr,
                indices: item_of_row,
                rows: (0..user_of_row.len() as u64).into_par_iter().collect(),
                timestamps: time_of_row,
                duplicates: 0,
            }
        } else {
            Csr::scatter_by_user(indptr, user_of_row, item_of_row, time_of_row)
        };
        csr.sort_and_dedup();
        csr
    }

    /// Places every row at its user's next position (a counting sort; `indptr` holds
    /// the counts' prefix sums), each user's rows staying in file order.
    fn scatter_by_user(
        indptr: Vec<u64>,
        user_of_row: Vec<u32>,
        item_of_row: Vec<u32>,
        time_of_row: Option<Vec<i64>>,
    ) -> Csr {
        let nnz = indptr[indptr.len() - 1] as usize;
        // Every group scans all rows and places its own users' row numbers, so threads
        // write disjoint slices. Only the row is placed there: each placement is a
        // store to a random position, and a store that misses the cache costs a read
        // of the line and a write back. The items and timestamps are then gathered in
        // CSR order, position by position from the row placed there — random reads
        // that overlap, and sequential writes (`docs/benchmarks.md`: a shuffled file's
        // CSR build).
        let mut rows = vec![0u64; nnz];
        let n_users = (indptr.len() - 1) as u64;
        let weight = nnz as u64 + PLACE_PER_USER * n_users;
        let cuts = user_cuts(
            &indptr,
            (weight / rayon::current_num_threads() as u64).max(1),
            PLACE_PER_USER,
        );
        cuts.par_windows(2)
            .zip(per_group(&mut rows, &indptr, &cuts))
            .for_each(|(users, group)| {
                place_rows(&indptr, users[0]..users[1], &user_of_row, group)
            });
        // The users' column is spent: its pages (written, so no fresh ones to clear)
        // take the items, and each parse column is freed before the next is allocated.
        let mut indices = user_of_row;
        indices.truncate(nnz);
        gather_by_row(&mut indices, &rows, &item_of_row);
        drop(item_of_row);
        let timestamps = time_of_row.map(|parsed| {
            let mut times = vec![0i64; nnz];
            gather_by_row(&mut times, &rows, &parsed);
            times
        });
        Csr {
            indptr,
            indices,
            rows,
            timestamps,
            duplicates: 0,
        }
    }

    /// Cuts the users into contiguous groups of at least `target` interactions (the
    /// last may be smaller) and hands out each group's slices of the columns.
    fn groups(&mut self, target: u64) -> Vec<UserGroup<'_>> {
        let Csr {
            indptr,
            indices,
            rows,
            timestamps,
            ..
        } = self;
        let cuts = user_cuts(indptr, target, 0);
        let mut times = timestamps
            .as_deref_mut()
            .map(|t| per_group(t, indptr, &cuts).into_iter());
        cuts.windows(2)
            .zip(per_group(indices, indptr, &cuts))
            .zip(per_group(rows, indptr, &cuts))
            .map(|((w, indices), rows)| UserGroup {
                users: w[0]..w[1],
                indptr,
                indices,
                rows,
                times: times.as_mut().and_then(Iterator::next),
            })
            .collect()
    }

    /// Sorts each user's interactions by (item, timestamp, row) and keeps the first of
    /// each item, in parallel over groups of users, then closes the gaps.
    fn sort_and_dedup(&mut self) {
        let target = (self.indices.len() / (rayon::current_num_threads() * 16)).max(1 << 16) as u64;
        let kept: Vec<Vec<u64>> = self
            .groups(target)
            .into_par_iter()
            .map(UserGroup::sort_and_dedup)
            .collect();
        self.compact(&kept.concat());
    }

    /// Moves each user's kept prefix down so the columns are contiguous again: each
    /// column on a thread of its own (one pass over all of them was a stretch of
    /// ~0.1 s with the other core idle in a 20M-row ingest with 13% duplicates).
    fn compact(&mut self, kept: &[u64]) {
        let total: u64 = kept.iter().sum();
        self.duplicates = self.indices.len() as u64 - total;
        if self.duplicates == 0 {
            return;
        }
        let indptr = &self.indptr;
        let (indices, rows, timestamps) = (&mut self.indices, &mut self.rows, &mut self.timestamps);
        rayon::join(
            || compact_column(rows, indptr, kept),
            || {
                rayon::join(
                    || compact_column(indices, indptr, kept),
                    || timestamps.as_mut().map(|t| compact_column(t, indptr, kept)),
                )
            },
        );
        let mut write = 0;
        for (u, &n) in kept.iter().enumerate() {
            self.indptr[u] = write;
            write += n;
        }
        self.indptr[kept.len()] = write;
    }
}

/// Moves each user's first `kept[u]` values, at `indptr[u]`, down to follow the previous
/// user's, and drops the rest.
fn compact_column<T: Copy>(column: &mut Vec<T>, indptr: &[u64], kept: &[u64]) {
    let mut write = 0;
    for (&read, &n) in indptr.iter().zip(kept) {
        let (read, n) = (read as usize, n as usize);
        column.copy_within(read..read + n, write);
        write += n;
    }
    column.truncate(write);
}

/// Each user's first position in the CSR, and the end: `n_users + 1` offsets. The rows
/// are counted slice by slice in parallel (sequentially, the count was a stretch of one
/// busy core between the parse and the sort), each slice into counts of its own; only
/// as many slices as keep those counts under a byte a row.
fn user_offsets(user_of_row: &[u32], n_users: usize) -> Vec<u64> {
    let count = |rows: &[u32]| {
        let mut counts = vec![0u64; n_users + 1];
        for &u in rows.iter().filter(|&&u| u != TOMBSTONE) {
            counts[u as usize + 1] += 1;
        }
        counts
    };
    let slices = (user_of_row.len() / (8 * (n_users + 1))).clamp(1, rayon::current_num_threads());
    let mut offsets = user_of_row
        .par_chunks(user_of_row.len().div_ceil(slices).max(1))
        .map(count)
        .reduce_with(|mut total, counts| {
            total.iter_mut().zip(counts).for_each(|(t, c)| *t += c);
            total
        })
        .unwrap_or_else(|| vec![0; n_users + 1]);
    for u in 0..n_users {
        offsets[u + 1] += offsets[u];
    }
    offsets
}

/// Whether every user's rows are contiguous and none was skipped: users are numbered in
/// order of first appearance, so the rows are then already in CSR order — as in files
/// sorted by user (MovieLens' `ratings.dat`, most exports `ORDER BY user`).
fn grouped_by_user(user_of_row: &[u32]) -> bool {
    // A skipped row (TOMBSTONE, the largest code) breaks the order unless it is last.
    user_of_row.last() != Some(&TOMBSTONE) && user_of_row.par_windows(2).all(|w| w[0] <= w[1])
}

/// Cuts the users into contiguous groups that weigh at least `target` each (the last
/// may weigh less) — a group's interactions plus `per_user` for each of its users: the
/// first user of each group, then the user count.
fn user_cuts(indptr: &[u64], target: u64, per_user: u64) -> Vec<usize> {
    let n_users = indptr.len() - 1;
    let mut cuts = vec![0usize];
    for u in 1..n_users {
        let first = *cuts.last().expect("non-empty");
        if indptr[u] - indptr[first] + per_user * (u - first) as u64 >= target {
            cuts.push(u);
        }
    }
    cuts.push(n_users);
    cuts
}

/// What a user weighs, in rows, when the rows' placement is cut into one group per
/// thread: a user's cursor and the lines its rows land in miss the cache on their own,
/// so a group of many light users takes longer than one of as many rows in heavy
/// users. Cut by rows alone, the light users' group ran alone for the last 80–150 ms
/// of a 19.5M-row shuffled file's placement; weighted so, ≈ 45 ms (`perf`).
const PLACE_PER_USER: u64 = 8;

/// Writes the row numbers of `users`' rows, in row order, each at its user's next
/// position in `rows` (the group's slice of the CSR's rows).
fn place_rows(
    indptr: &[u64],
    users: std::ops::Range<usize>,
    user_of_row: &[u32],
    rows: &mut [u64],
) {
    let base = indptr[users.start];
    let mut cursor: Vec<usize> = users.clone().map(|u| (indptr[u] - base) as usize).collect();
    for (row, &u) in user_of_row.iter().enumerate() {
        if u == TOMBSTONE || !users.contains(&(u as usize)) {
            continue;
        }
        let next = &mut cursor[u as usize - users.start];
        rows[*next] = row as u64;
        *next += 1;
    }
}

/// `out[k] = of_row[rows[k]]` for every position, in parallel.
fn gather_by_row<T: Copy + Send + Sync>(out: &mut [T], rows: &[u64], of_row: &[T]) {
    const CHUNK: usize = 1 << 16;
    out.par_chunks_mut(CHUNK)
        .zip(rows.par_chunks(CHUNK))
        .for_each(|(out, rows)| {
            for (value, &row) in out.iter_mut().zip(rows) {
                *value = of_row[row as usize];
            }
        });
}

/// Contiguous users and their slices of the CSR columns.
struct UserGroup<'a> {
    users: std::ops::Range<usize>,
    indptr: &'a [u64],
    indices: &'a mut [u32],
    rows: &'a mut [u64],
    times: Option<&'a mut [i64]>,
}

impl UserGroup<'_> {
    /// Position of user `u`'s interactions within this group's slices.
    fn span(&self, u: usize) -> std::ops::Range<usize> {
        let base = self.indptr[self.users.start];
        (self.indptr[u] - base) as usize..(self.indptr[u + 1] - base) as usize
    }

    /// Sorts and dedupes each user; returns how many interactions each keeps.
    fn sort_and_dedup(mut self) -> Vec<u64> {
        let mut scratch = SortScratch::default();
        self.users
            .clone()
            .map(|u| {
                let span = self.span(u);
                sort_user(
                    &mut self.indices[span.clone()],
                    &mut self.rows[span.clone()],
                    self.times.as_deref_mut().map(|t| &mut t[span]),
                    &mut scratch,
                )
            })
            .collect()
    }
}

/// Scratch for [`sort_user`], reused across a group's users.
#[derive(Default)]
struct SortScratch {
    keys: Vec<u64>,
    rows: Vec<u64>,
    times: Vec<i64>,
    tuples: Vec<(u32, i64, u64)>,
}

/// Sorts one user's interactions by item, keeps the one of each item with the earliest
/// (timestamp, row) at the front, and returns how many were kept.
///
/// The sort is of `u64` keys (item above position) rather than of (item, timestamp,
/// row) tuples: 8 bytes compared as one word instead of 24 compared field by field.
fn sort_user(
    indices: &mut [u32],
    rows: &mut [u64],
    times: Option<&mut [i64]>,
    scratch: &mut SortScratch,
) -> u64 {
    if indices.windows(2).all(|w| w[0] < w[1]) {
        return indices.len() as u64;
    }
    if u32::try_from(indices.len()).is_err() {
        return sort_user_tuples(indices, rows, times, &mut scratch.tuples);
    }
    let SortScratch {
        keys,
        rows: kept_rows,
        times: kept_times,
        ..
    } = scratch;
    keys.clear();
    keys.extend(
        indices
            .iter()
            .enumerate()
            .map(|(j, &item)| u64::from(item) << 32 | j as u64),
    );
    keys.sort_unstable();
    kept_rows.clear();
    kept_times.clear();
    for same_item in keys.chunk_by(|a, b| a >> 32 == b >> 32) {
        let positions = same_item.iter().map(|&key| key as u32 as usize);
        let first = match times.as_deref() {
            Some(t) => positions.min_by_key(|&j| (t[j], rows[j])),
            None => positions.min_by_key(|&j| rows[j]),
        }
        .expect("a chunk is never empty");
        indices[kept_rows.len()] = (same_item[0] >> 32) as u32;
        kept_rows.push(rows[first]);
        if let Some(t) = times.as_deref() {
            kept_times.push(t[first]);
        }
    }
    let kept = kept_rows.len();
    rows[..kept].copy_from_slice(kept_rows);
    if let Some(t) = times {
        t[..kept].copy_from_slice(kept_times);
    }
    kept as u64
}

/// [`sort_user`] for a user whose positions do not fit the key's 32 bits: the tuples
/// sorted.
fn sort_user_tuples(
    indices: &mut [u32],
    rows: &mut [u64],
    times: Option<&mut [i64]>,
    scratch: &mut Vec<(u32, i64, u64)>,
) -> u64 {
    scratch.clear();
    let time_at = |k: usize| times.as_ref().map_or(0, |t| t[k]);
    scratch.extend((0..indices.len()).map(|k| (indices[k], time_at(k), rows[k])));
    scratch.sort_unstable();
    scratch.dedup_by_key(|e| e.0);
    let mut times = times;
    for (k, &(item, time, row)) in scratch.iter().enumerate() {
        indices[k] = item;
        rows[k] = row;
        if let Some(t) = times.as_deref_mut() {
            t[k] = time;
        }
    }
    scratch.len() as u64
}

#[cfg(test)]
pub(crate) mod tests;
