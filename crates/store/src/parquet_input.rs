//! Parquet → the parse result a CSV of the same rows gives: a file, or a directory of
//! Parquet files (Spark/Hive layout: read recursively in path order, names starting
//! with `_` or `.` skipped). Ids of any integer or string type (plain, large or
//! dictionary-encoded) are their decimal or string form, numbered in order of first
//! appearance; a time column may be an integer, a whole float, a string, an Arrow
//! timestamp (kept in its unit) or a date (seconds); a null user or item is a bad row.
//! Only the chosen columns are decoded. Row groups are the CSV reader's byte ranges:
//! decoded in parallel, their ids looked up in the global dictionaries and only new
//! ones numbered locally, then merged in file order through the same
//! `ingest::merge_ranges` and `Parsed::append_ranges`.

use crate::ids::{Interner, LOOKAHEAD};
use crate::ingest::{
    merge_ranges, Catalog, IngestOptions, Known, MergeProblem, Parsed, RangeIds, RangeOut,
    TimeColumn, MAX_IDS, NOT_KNOWN,
};
use crate::kept::ValueType;
use crate::time::{TimeFormat, TimeUnit as StoreTimeUnit};
use crate::IngestError;
use arrow_array::{
    Array, ArrayRef, Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
    UInt64Array,
};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;
use std::fs::File;
use std::io::Read;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Whether `path` is Parquet input: a directory, or a file starting with `PAR1`.
pub(crate) fn is_parquet(path: &Path) -> bool {
    if path.is_dir() {
        return true;
    }
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"PAR1")
}

/// The Parquet files of `path`, in path order.
pub(crate) fn files(path: &Path) -> Result<Vec<PathBuf>, IngestError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let io = |p: &Path, e| IngestError::Io {
        path: p.into(),
        error: e,
    };
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
            let entry = entry.map_err(|e| io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('_') || name.starts_with('.') {
                continue;
            }
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if is_parquet(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads every row of `path` into a parse result. `progress` gets the bytes of the
/// files finished so far.
pub(crate) fn read(
    path: &Path,
    options: &IngestOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Parsed, IngestError> {
    let mut parsed = Parsed::new(options)?;
    let files = files(path)?;
    if files.is_empty() {
        return Err(IngestError::EmptyInput {
            path: path.into(),
            detail: " (no Parquet file in the directory)",
        });
    }
    let catalog = Catalog::of(options.items_file.is_some(), options.skip_bad_rows);
    for file in &files {
        // The parquet crate panics on some malformed metadata (see the engine's
        // fuzz regressions): a damaged file is an error naming it, never a crash.
        let before = parsed.bytes;
        let read_in_file = |bytes| progress(before + bytes);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read_file(file, options, catalog, &mut parsed, &read_in_file)
        }))
        .unwrap_or_else(|_| {
            Err(IngestError::BadParquet {
                path: file.into(),
                problem: "not a readable Parquet file (the Parquet reader failed on its metadata)"
                    .into(),
            })
        })?;
        parsed.bytes += std::fs::metadata(file).map_or(0, |m| m.len());
        progress(parsed.bytes);
    }
    parsed.records = parsed.user_of_row.len() as u64;
    if parsed.records == 0 || parsed.bad_rows == parsed.records {
        return Err(IngestError::EmptyInput {
            path: path.into(),
            detail: " (no row with a user and an item)",
        });
    }
    Ok(parsed)
}

/// Reads one file into `parsed`, telling `progress` the bytes of the row groups
/// numbered so far.
fn read_file(
    file: &Path,
    options: &IngestOptions,
    catalog: Catalog,
    parsed: &mut Parsed,
    progress: &dyn Fn(u64),
) -> Result<(), IngestError> {
    let bad = |problem: String| IngestError::BadParquet {
        path: file.into(),
        problem,
    };
    let opened = File::open(file).map_err(|e| IngestError::Io {
        path: file.into(),
        error: e,
    })?;
    let metadata = ArrowReaderMetadata::load(&opened, Default::default())
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(opened, metadata.clone());
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let find = |name: &str, flag: &'static str| {
        names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| IngestError::MissingColumn {
                path: file.into(),
                column: name.into(),
                available: names.join(", "),
                flag,
            })
    };
    let user = find(&options.user_col, "user-col")?;
    let item = find(&options.item_col, "item-col")?;
    let time = match &options.time_col {
        TimeColumn::IfPresent(n) => names.iter().position(|x| x == n),
        TimeColumn::Required(n) => Some(find(n, "time-col")?),
        TimeColumn::Ignore => None,
    };
    let kept: Vec<usize> = options
        .keep
        .iter()
        .map(|k| find(&k.name, "keep"))
        .collect::<Result<_, _>>()?;
    if parsed.header.is_empty() {
        parsed.header = names.clone();
        parsed.time_of_row = time.map(|_| Vec::new());
    } else if parsed.time_of_row.is_some() != time.is_some() {
        return Err(bad("its time column differs from the first file's".into()));
    }
    for (c, &at) in kept.iter().enumerate() {
        parsed.kept_source_types[c] = source_type(schema.field(at).data_type());
    }
    let mut wanted: Vec<usize> = [user, item]
        .into_iter()
        .chain(time)
        .chain(kept.iter().copied())
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().copied());
    let group_bytes: Vec<u64> = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.compressed_size().max(0) as u64)
        .collect();
    let columns = Columns {
        file,
        options,
        names: &names,
        wanted: &wanted,
        user,
        item,
        time,
        kept: &kept,
    };
    // Row groups are read as the CSV's blocks are: a wave of them at a time, each
    // decoded on its own thread, its ids looked up in the global dictionaries as they
    // stood before the wave (most rows of a large file name an id an earlier wave met)
    // and only new ones numbered into the group's own small dictionaries; then the
    // wave is merged into the global ones in file order (work per new id), which keeps
    // a single reader's numbering exactly.
    // A group's batches are numbered as they are decoded, each while it is still in
    // the cache (decoded whole first, a group's columns were read back from memory).
    let decode_group = |g: usize| -> Result<ParquetRecordBatchReader, IngestError> {
        let handle = File::open(file).map_err(|e| IngestError::Io {
            path: file.into(),
            error: e,
        })?;
        ParquetRecordBatchReaderBuilder::new_with_metadata(handle, metadata.clone())
            .with_projection(mask.clone())
            .with_row_groups(vec![g])
            .with_batch_size(1 << 16)
            .build()
            .map_err(|e| bad(e.to_string()))
    };
    let time_unit = std::sync::Mutex::new(parsed.time_unit);
    let number_wave = |wave: &[usize],
                       outs: &mut [RangeOut],
                       ints: &mut [GroupLookups],
                       known: &Known<'_>|
     -> Result<(), IngestError> {
        let results: Vec<Result<(), IngestError>> = outs
            .par_iter_mut()
            .zip(ints.par_iter_mut())
            .zip(wave)
            .map(|((out, ints), &g)| {
                out.start(kept.len());
                out.users.resolve_against(known.users);
                out.items.resolve_against(known.items);
                ints.clear();
                for batch in decode_group(g)? {
                    let batch = batch.map_err(|e| bad(format!("unreadable data: {e}")))?;
                    columns.number(&batch, g, &time_unit, out, ints, known)?;
                }
                Ok(())
            })
            .collect();
        // The first problem in file order, whichever thread met it first.
        results.into_iter().collect::<Result<(), _>>()
    };
    let wave_len = rayon::current_num_threads().max(1);
    let mut ints: Vec<GroupLookups> = (0..wave_len).map(|_| GroupLookups::default()).collect();
    let mut outs: Vec<RangeOut> = (0..wave_len).map(|_| RangeOut::default()).collect();
    let all_groups: Vec<usize> = (0..group_bytes.len()).collect();
    let mut bytes_read = 0;
    for wave in all_groups.chunks(wave_len) {
        if crate::interrupt::requested() {
            return Err(IngestError::Interrupted);
        }
        let outs = &mut outs[..wave.len()];
        let known = Known {
            users: &parsed.users,
            items: &parsed.items,
        };
        number_wave(wave, outs, &mut ints, &known)?;
        columns.merge(wave, outs, catalog, parsed)?;
        bytes_read += wave.iter().map(|&g| group_bytes[g]).sum::<u64>();
        progress(bytes_read);
    }
    parsed.time_unit = time_unit.into_inner().expect("no panic while numbering");
    Ok(())
}

/// Where the chosen columns of one file are, and how to name its rows in errors.
struct Columns<'a> {
    file: &'a Path,
    options: &'a IngestOptions,
    names: &'a [String],
    /// The projected columns, sorted: a batch's column `c` is at its rank here.
    wanted: &'a [usize],
    user: usize,
    item: usize,
    time: Option<usize>,
    kept: &'a [usize],
}

/// What a thread keeps while numbering a row group: the group's integer ids that the
/// global by-value tables did not answer for (new ids, ids past the tables), by value,
/// to their code — found again without writing their decimal text —, a buffer for ids
/// written as text, and the current batch's string ids looked up ahead.
#[derive(Default)]
struct GroupLookups {
    users: IntIndex,
    items: IntIndex,
    text: Vec<u8>,
    /// A batch's text user and item ids' global indices ([`NOT_KNOWN`]: new to the
    /// wave), looked up before its rows are numbered ([`IdText::find_all`]).
    known_users: Vec<u32>,
    known_items: Vec<u32>,
}

impl GroupLookups {
    fn clear(&mut self) {
        self.users.clear();
        self.items.clear();
    }
}

/// A row group's integer ids, by value, to their code. Ids in `[0,
/// DENSE_IDS)` — what generated and most real ids are — are found by direct address
/// (one load, no hashing); others by hash. The table is grown to the largest id met
/// and cleared by the slots the group set, so it is reused without a full wipe.
#[derive(Default)]
struct IntIndex {
    /// `dense[v]` is id `v`'s local index plus one (0: not met in this group).
    dense: Vec<u32>,
    /// The ids whose `dense` slots this group set.
    touched: Vec<u32>,
    sparse: hashbrown::HashMap<i64, u32, foldhash::fast::FixedState>,
}

/// The direct-address table's reach: 16 MiB per table at most, and a table is only as
/// large as the largest id a group met (rounded up to a power of two).
const DENSE_IDS: i64 = 1 << 22;

impl IntIndex {
    fn clear(&mut self) {
        for &v in &self.touched {
            self.dense[v as usize] = 0;
        }
        self.touched.clear();
        self.sparse.clear();
    }

    /// Starts loading id `value`'s slot, if the table reaches it.
    fn prefetch(&self, value: usize) {
        if let Some(slot) = self.dense.get(value) {
            crate::ids::prefetch(slot);
        }
    }

    /// Id `v`'s local index, numbering it with `new` when the group meets it first.
    fn local(&mut self, v: i64, new: impl FnOnce() -> u32) -> u32 {
        if !(0..DENSE_IDS).contains(&v) {
            return *self.sparse.entry(v).or_insert_with(new);
        }
        let at = v as usize;
        if at >= self.dense.len() {
            self.dense.resize((at + 1).next_power_of_two(), 0);
        }
        match self.dense[at] {
            0 => {
                let local = new();
                self.dense[at] = local + 1;
                self.touched.push(at as u32);
                local
            }
            stored => stored - 1,
        }
    }
}

impl Columns<'_> {
    fn bad(&self, problem: String) -> IngestError {
        IngestError::BadParquet {
            path: self.file.into(),
            problem,
        }
    }

    /// Codes one batch of row group `group` against the global dictionaries `known`
    /// and the group's local ones (`out`, whose rows so far are the group's rows
    /// before this batch).
    fn number(
        &self,
        batch: &RecordBatch,
        group: usize,
        time_unit: &std::sync::Mutex<Option<StoreTimeUnit>>,
        out: &mut RangeOut,
        ints: &mut GroupLookups,
        known: &Known<'_>,
    ) -> Result<(), IngestError> {
        let (bad, options) = (|problem: String| self.bad(problem), self.options);
        let column = |col: usize| {
            let at = self.wanted.binary_search(&col).expect("projected");
            batch.column(at).clone()
        };
        let (user_array, item_array) = (column(self.user), column(self.item));
        let (user_array, item_array) = (id_values(&user_array), id_values(&item_array));
        let options_fmt = FormatOptions::default();
        let users = IdText::new(&user_array, &options_fmt).map_err(&bad)?;
        let items = IdText::new(&item_array, &options_fmt).map_err(&bad)?;
        let times = self
            .time
            .map(|t| {
                let mut unit = time_unit.lock().expect("no panic while numbering");
                let (values, typed) = timestamps(&column(t), options.time_format, *unit)
                    .map_err(|m| bad(format!("column {:?}: {m}", self.names[t])))?;
                *unit = unit.or(typed);
                Ok::<_, IngestError>(values)
            })
            .transpose()?;
        let kept_arrays: Vec<ArrayRef> = self.kept.iter().map(|&k| column(k)).collect();
        let kept_fmt = kept_arrays
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &options_fmt))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let GroupLookups {
            users: user_ints,
            items: item_ints,
            text,
            known_users,
            known_items,
        } = ints;
        users.find_all(known.users, batch.num_rows(), known_users, true);
        items.find_all(known.items, batch.num_rows(), known_items, false);
        // Most batches hold no null: their rows skip the checks (two or three calls
        // through `dyn Array` a row).
        let nullable = user_array.null_count() > 0
            || item_array.null_count() > 0
            || times.as_ref().is_some_and(|t| t.null_count() > 0);
        let mut last_user: Option<(i64, u32)> = None;
        for r in 0..batch.num_rows() {
            let row = out.rows() as u64;
            let time_value = times.as_ref().map(|t| {
                if nullable && t.is_null(r) {
                    None
                } else {
                    Some(t.value(r))
                }
            });
            let null_column = if !nullable {
                None
            } else if user_array.is_null(r) {
                Some(&options.user_col)
            } else if item_array.is_null(r) {
                Some(&options.item_col)
            } else {
                None
            };
            if null_column.is_some() || matches!(time_value, Some(None)) {
                if !options.skip_bad_rows {
                    let column = null_column
                        .cloned()
                        .unwrap_or_else(|| self.names[self.time.expect("bad time")].clone());
                    return Err(bad(format!(
                        "row group {group}, row {row}: column {column:?} is null or not a whole timestamp; fix it or pass --skip-bad-rows"
                    )));
                }
                out.push_bad_row(self.time.is_some());
                continue;
            }
            if r + LOOKAHEAD < batch.num_rows() {
                items.prefetch(r + LOOKAHEAD, known.items, item_ints);
            }
            let user = match (known_users.get(r), users.int(r)) {
                (Some(&found), _) => out.users.found(found, users.text(r, text), row),
                // A file grouped by user repeats an id over a run of rows: one lookup a
                // run (the code of an integer id is the same on every row of a group).
                (None, Some(v)) if last_user.is_some_and(|(last, _)| last == v) => {
                    last_user.expect("matched").1
                }
                (None, value) => {
                    let code =
                        users.code(r, row, user_ints, &mut out.users, known.users, text, true);
                    last_user = value.map(|v| (v, code));
                    code
                }
            };
            let item = match known_items.get(r) {
                Some(&found) => out.items.found(found, items.text(r, text), row),
                None => items.code(r, row, item_ints, &mut out.items, known.items, text, false),
            };
            out.push_row(user, item, time_value.flatten());
            for (c, (array, fmt)) in kept_arrays.iter().zip(&kept_fmt).enumerate() {
                text.clear();
                if !array.is_null(r) {
                    let _ = write!(text, "{}", fmt.value(r));
                }
                out.kept[c].push(text, row);
            }
        }
        Ok(())
    }

    /// Merges a numbered wave of row groups into `parsed`, in file order, and appends
    /// their rows.
    fn merge(
        &self,
        wave: &[usize],
        outs: &mut [RangeOut],
        catalog: Catalog,
        parsed: &mut Parsed,
    ) -> Result<(), IngestError> {
        let mut first_row = Vec::with_capacity(outs.len());
        let mut next = parsed.user_of_row.len() as u64;
        for out in outs.iter() {
            first_row.push(next);
            next += out.rows() as u64;
        }
        if let Err((column, problem)) = merge_ranges(parsed, outs, &first_row, catalog) {
            let (range, local) = problem.at();
            let (row, id) = column.side(&outs[range]).first_seen(local);
            let group = wave[range];
            let name = column.name(self.options);
            return Err(self.bad(match problem {
                MergeProblem::Unknown { .. } => format!(
                    "row group {group}, row {row}: item {:?} is not in the catalog given by --items; add it there or pass --skip-bad-rows",
                    String::from_utf8_lossy(id)
                ),
                MergeProblem::TooMany { .. } => format!(
                    "row group {group}, row {row}: column {name:?} has more than {MAX_IDS} distinct values"
                ),
            }));
        }
        parsed.append_ranges(outs);
        Ok(())
    }
}

/// An id column with dictionaries decoded and integers widened: the forms
/// [`IdText`] reads without formatting through Arrow's display path.
fn id_values(array: &ArrayRef) -> ArrayRef {
    use arrow_cast::cast;
    let target = match array.data_type() {
        DataType::Dictionary(_, values) => Some(values.as_ref().clone()),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => Some(DataType::Int64),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => Some(DataType::UInt64),
        _ => None,
    };
    match target {
        // A value type that is itself narrow is widened on the next look.
        Some(t) => cast(array.as_ref(), &t).map_or_else(|_| array.clone(), |a| id_values(&a)),
        None => array.clone(),
    }
}

/// A batch's id column read as the text a CSV of the same rows holds: integers in
/// decimal, strings as they are, anything else through Arrow's display.
enum IdText<'a> {
    Signed(&'a Int64Array),
    Unsigned(&'a UInt64Array),
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    View(&'a StringViewArray),
    Display(ArrayFormatter<'a>),
}

impl<'a> IdText<'a> {
    fn new(array: &'a ArrayRef, options: &'a FormatOptions<'a>) -> Result<Self, String> {
        let any = array.as_any();
        Ok(match array.data_type() {
            DataType::Int64 => IdText::Signed(any.downcast_ref().expect("Int64")),
            DataType::UInt64 => IdText::Unsigned(any.downcast_ref().expect("UInt64")),
            DataType::Utf8 => IdText::Utf8(any.downcast_ref().expect("Utf8")),
            DataType::LargeUtf8 => IdText::LargeUtf8(any.downcast_ref().expect("LargeUtf8")),
            DataType::Utf8View => IdText::View(any.downcast_ref().expect("Utf8View")),
            _ => IdText::Display(
                ArrayFormatter::try_new(array.as_ref(), options).map_err(|e| e.to_string())?,
            ),
        })
    }

    /// Row `r`'s id as an integer, when it is one that fits an `i64` (its decimal
    /// text is then the id's). Inlined: called for every row's user, item and
    /// prefetch, it was 13% of a Parquet ingest's CPU as a call of its own.
    #[inline]
    fn int(&self, r: usize) -> Option<i64> {
        match self {
            IdText::Signed(a) => Some(a.value(r)),
            IdText::Unsigned(a) => i64::try_from(a.value(r)).ok(),
            _ => None,
        }
    }

    /// Starts loading row `r`'s slots of `known`'s by-value table and of the group's
    /// own table `ints` (if it is an integer they cover): its lookup, [`LOOKAHEAD`]
    /// rows later, then finds them cached instead of stalling on memory. (Ids new to
    /// the wave — most items of the first waves — are answered by `ints`, a table of
    /// 4 MB for a million items: its misses were a quarter of `code`'s time.)
    fn prefetch(&self, r: usize, known: &Interner, ints: &IntIndex) {
        if let Some(value) = self.int(r).and_then(|v| usize::try_from(v).ok()) {
            known.prefetch_by_value(value);
            ints.prefetch(value);
        }
    }

    /// Row `r`'s code in `side` (its group-local row `row`): the id's global index
    /// when `known` holds it, else a local one. Integers are looked up by value — in
    /// `known`'s by-value table, then in `ints` (their text written only when new) —
    /// text ids by their text; with `expect_runs` (users: a file grouped by user) a
    /// run of one id skips the lookup, a comparison that other columns would pay on
    /// every row for nothing.
    #[allow(clippy::too_many_arguments)]
    fn code(
        &self,
        r: usize,
        row: u64,
        ints: &mut IntIndex,
        side: &mut RangeIds,
        known: &Interner,
        buffer: &mut Vec<u8>,
        expect_runs: bool,
    ) -> u32 {
        match self.int(r) {
            Some(v) => match known.find_by_value(v) {
                Some(Some(global)) => global,
                _ => ints.local(v, || side.resolve(self.text(r, buffer), row, known)),
            },
            None if expect_runs => side.resolve_repeated(self.text(r, buffer), row, known),
            None => side.resolve(self.text(r, buffer), row, known),
        }
    }

    /// For a string column, each row's index in `known` ([`NOT_KNOWN`] if none) into
    /// `out`; for others, `out` is left empty (their ids are looked up by value, with
    /// prefetching), and so for a column `in_runs` whose ids do come in runs (users of
    /// a file grouped by user: a run needs one lookup). One pass of lookups that do not
    /// wait on one another, so the processor overlaps their cache misses — a large
    /// dictionary's table misses on nearly every probe — where the numbering loop met
    /// them one at a time (the probes were a third of a string-id Parquet ingest's
    /// CPU). `known` does not change while a wave is numbered, so the answers stand.
    fn find_all(&self, known: &Interner, rows: usize, out: &mut Vec<u32>, in_runs: bool) {
        out.clear();
        if !self.holds_strings() || (in_runs && self.runs(rows)) {
            return;
        }
        let string = |r| self.string(r).expect("a string column");
        // A chunk's table slots are all requested before the first is read, so their
        // cache misses overlap.
        const CHUNK: usize = 64;
        let mut hashes = [0u64; CHUNK];
        for start in (0..rows).step_by(CHUNK) {
            let chunk = start..(start + CHUNK).min(rows);
            for (hash, r) in hashes.iter_mut().zip(chunk.clone()) {
                *hash = known.start_find(string(r));
            }
            out.extend(
                chunk
                    .zip(hashes)
                    .map(|(r, hash)| known.find_hashed(string(r), hash).unwrap_or(NOT_KNOWN)),
            );
        }
    }

    /// Whether a string column's first `rows` ids come in runs: at most one in four of
    /// 64 adjacent pairs spread over the batch differ. (Only the speed depends on it.)
    fn runs(&self, rows: usize) -> bool {
        const PAIRS: usize = 64;
        let step = (rows / PAIRS).max(1);
        let differing = (1..rows)
            .step_by(step)
            .filter(|&r| self.string(r - 1) != self.string(r))
            .count();
        differing * 4 <= rows.saturating_sub(1).div_ceil(step)
    }

    /// Whether the column holds strings (read by [`IdText::string`]).
    fn holds_strings(&self) -> bool {
        matches!(
            self,
            IdText::Utf8(_) | IdText::LargeUtf8(_) | IdText::View(_)
        )
    }

    /// Row `r`'s bytes as they lie, when the column holds strings.
    fn string(&self, r: usize) -> Option<&'a [u8]> {
        match *self {
            IdText::Utf8(a) => Some(a.value(r).as_bytes()),
            IdText::LargeUtf8(a) => Some(a.value(r).as_bytes()),
            IdText::View(a) => Some(a.value(r).as_bytes()),
            _ => None,
        }
    }

    /// Row `r`'s id as text: a string column's bytes as they lie, anything else
    /// written into `buffer` (replacing what it held).
    fn text<'t>(&'t self, r: usize, buffer: &'t mut Vec<u8>) -> &'t [u8] {
        if let Some(string) = self.string(r) {
            return string;
        }
        buffer.clear();
        match self {
            IdText::Utf8(_) | IdText::LargeUtf8(_) | IdText::View(_) => {
                unreachable!("answered by string()")
            }
            IdText::Signed(a) => {
                buffer.extend_from_slice(itoa::Buffer::new().format(a.value(r)).as_bytes())
            }
            IdText::Unsigned(a) => {
                buffer.extend_from_slice(itoa::Buffer::new().format(a.value(r)).as_bytes())
            }
            IdText::Display(f) => {
                let _ = write!(buffer, "{}", f.value(r));
            }
        }
        buffer
    }
}

/// A kept column's type from its Arrow type: integers, floats, or strings.
fn source_type(t: &DataType) -> Option<ValueType> {
    match t {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => Some(ValueType::I64),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Some(ValueType::F64),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(ValueType::Str),
        DataType::Dictionary(_, v) => source_type(v),
        _ => None,
    }
}

/// A time column as integers and the unit it fixes: Arrow timestamps in their own unit
/// (or the unit of the first file's, when files differ), dates in seconds; numbers and
/// strings as `format` reads them (the unit left to it). Unreadable values are null.
fn timestamps(
    array: &ArrayRef,
    format: TimeFormat,
    first_unit: Option<StoreTimeUnit>,
) -> Result<(Int64Array, Option<StoreTimeUnit>), String> {
    use arrow_cast::cast;
    let as_i64 = |array: &ArrayRef| -> Result<Int64Array, String> {
        let ints = cast(array.as_ref(), &DataType::Int64).map_err(|e| e.to_string())?;
        Ok(ints
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("cast to i64")
            .clone())
    };
    let typed_unit = match array.data_type() {
        DataType::Timestamp(unit, _) => Some(store_unit(*unit)),
        DataType::Date32 | DataType::Date64 => Some(StoreTimeUnit::Seconds),
        _ => None,
    };
    if let Some(unit) = typed_unit {
        let unit = first_unit.unwrap_or(unit);
        let arrow_unit = match unit {
            StoreTimeUnit::Seconds => TimeUnit::Second,
            StoreTimeUnit::Milliseconds => TimeUnit::Millisecond,
            StoreTimeUnit::Microseconds => TimeUnit::Microsecond,
            StoreTimeUnit::Nanoseconds => TimeUnit::Nanosecond,
        };
        let same_unit = cast(array.as_ref(), &DataType::Timestamp(arrow_unit, None))
            .map_err(|e| e.to_string())?;
        return Ok((as_i64(&same_unit)?, Some(unit)));
    }
    let values = match array.data_type() {
        t if t.is_integer() && format != TimeFormat::Iso => as_i64(array)?,
        DataType::Float16 | DataType::Float32 | DataType::Float64 if format != TimeFormat::Iso => {
            let floats = cast(array.as_ref(), &DataType::Float64).map_err(|e| e.to_string())?;
            let round = format == TimeFormat::Float;
            floats
                .as_any()
                .downcast_ref::<arrow_array::Float64Array>()
                .expect("cast to f64")
                .iter()
                .map(|v| v.and_then(|x| crate::time::whole(x, round)))
                .collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = cast(array.as_ref(), &DataType::Utf8).map_err(|e| e.to_string())?;
            parse_text(&text, format)
        }
        other => {
            return Err(format!(
                "{other} is not a time type for --time-format {format:?}"
            ))
        }
    };
    Ok((values, format.unit()))
}

/// Each string of a Utf8 `array` read by `format`; unreadable ones null.
fn parse_text(array: &ArrayRef, format: TimeFormat) -> Int64Array {
    let strings = array
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .expect("cast to utf8");
    strings
        .iter()
        .map(|v| v.and_then(|text| format.parse(text.as_bytes())))
        .collect()
}

fn store_unit(unit: TimeUnit) -> StoreTimeUnit {
    match unit {
        TimeUnit::Second => StoreTimeUnit::Seconds,
        TimeUnit::Millisecond => StoreTimeUnit::Milliseconds,
        TimeUnit::Microsecond => StoreTimeUnit::Microseconds,
        TimeUnit::Nanosecond => StoreTimeUnit::Nanoseconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The batch pass is skipped for users that come in runs (a file grouped by user)
    /// and taken for users that do not.
    #[test]
    fn runs_are_seen_in_grouped_ids_and_not_in_shuffled_ones() {
        let options = FormatOptions::default();
        let runs = |ids: Vec<String>| {
            let array: ArrayRef = std::sync::Arc::new(StringArray::from(ids));
            let text = IdText::new(&array, &options).expect("a string column");
            text.runs(array.len())
        };
        assert!(runs((0..1000).map(|r| format!("u{}", r / 40)).collect()));
        assert!(!runs(
            (0..1000).map(|r| format!("u{}", r * 7919 % 1000)).collect()
        ));
        assert!(!runs((0..1000).map(|r| format!("u{}", r / 2)).collect()));
        assert!(runs(vec!["u".into()]));
        assert!(runs(Vec::new()));
    }

    proptest! {
        /// Ids numbered in first-appearance order per group, whichever side of the
        /// direct-address reach they fall (negative, dense, past it), and nothing of
        /// one group left in the next after `clear`.
        #[test]
        fn int_index_numbers_ids_in_first_appearance_order(
            groups in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![
                        0i64..50,
                        (DENSE_IDS - 3)..(DENSE_IDS + 3),
                        -5i64..0,
                        any::<i64>(),
                    ],
                    0..60,
                ),
                1..4,
            )
        ) {
            let mut index = IntIndex::default();
            for group in groups {
                index.clear();
                let mut reference: std::collections::HashMap<i64, u32> = Default::default();
                let mut next = 0u32;
                for v in group {
                    let expected = *reference.entry(v).or_insert(next);
                    let got = index.local(v, || next);
                    prop_assert_eq!(got, expected, "id {}", v);
                    if got == next {
                        next += 1;
                    }
                }
            }
        }
    }
}
