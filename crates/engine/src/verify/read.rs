//! Reading a part back: its files against their records (names, sizes, `.npy`
//! headers, checksums), then its rows for the checks — a `.npy` part a window of rows
//! at a time (two windows per part in memory at most, whatever its size; the rows
//! compared with a fresh sample where they lie in the window's buffers), a Parquet
//! part decoded whole.
//!
//! The files are read past the page cache ([`negsamp_store::input`]): parts are
//! written past it, so verify reads them cold, and fresh page-cache pages — which a
//! `read` or a map's faults need — cost more than the reading on the machines this is
//! measured on (`docs/benchmarks.md`). A file's checksum is taken from the windows as
//! they are checked ([`PartChecksums`]), so every byte is read once, and the thread
//! reading the next window waits for the device only, not for the hashing.

use crate::config::Format;
use crate::manifest::{ColumnSpec, FileRecord, PartRecord};
use crate::npy;
use crate::rows::Rows;
use crate::schema::Schema;
use crate::write::{hex, read_parquet_part, IdColumns, PartPaths};
use crate::EngineError;
use negsamp_store::direct::AlignedBuffer;
use negsamp_store::input::InputFile;
use rayon::prelude::*;
use std::ops::Range;
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

/// Bytes of a `.npy` part read at a time: several MB per column file, so that a direct
/// read streams at the device's speed, and two windows per part in memory at most.
pub(crate) const WINDOW_BYTES: usize = 16 << 20;

/// Rows `first()..first() + users().len()` of a part, as read: the whole of a Parquet
/// part (decoded), or a window of a `.npy` part's rows in every column.
pub(crate) enum PartRows {
    Decoded(Rows),
    Columns(NpyWindow),
}

/// Rows of a `.npy` part, a buffer per column (in the schema's order).
pub(crate) struct NpyWindow {
    first: usize,
    columns: Vec<(AlignedBuffer, Range<usize>)>,
    user: usize,
    /// The `user` column copied, only if its rows are not aligned for `u32` in their
    /// buffer (negsamp's headers keep them aligned; a `.npy` written elsewhere need not).
    unaligned_users: Option<Vec<u32>>,
}

impl NpyWindow {
    fn column(&self, c: usize) -> &[u8] {
        let (buffer, span) = &self.columns[c];
        &buffer.bytes()[span.clone()]
    }
}

impl PartRows {
    /// The part's row this one is.
    pub(crate) fn first(&self) -> usize {
        match self {
            PartRows::Decoded(_) => 0,
            PartRows::Columns(window) => window.first,
        }
    }

    /// The `user` column: non-decreasing in a sound part.
    pub(crate) fn users(&self) -> &[u32] {
        match self {
            PartRows::Decoded(rows) => rows.users(),
            PartRows::Columns(window) => match &window.unaligned_users {
                Some(users) => users,
                None => bytemuck::cast_slice(window.column(window.user)),
            },
        }
    }

    /// Column `c`'s bytes for rows `range` (counted from [`PartRows::first`]).
    fn column_rows(&self, schema: &Schema, c: usize, range: Range<usize>) -> &[u8] {
        let column = &schema.columns[c];
        let row_bytes = column.width * column.dtype.size();
        let bytes = match self {
            PartRows::Decoded(rows) => rows.columns[c].bytes(),
            PartRows::Columns(window) => window.column(c),
        };
        &bytes[range.start * row_bytes..range.end * row_bytes]
    }

    /// Whether rows `range` (counted from [`PartRows::first`]) are `rows`' bytes,
    /// column by column, compared where they lie (nothing copied).
    pub(crate) fn holds(&self, schema: &Schema, range: Range<usize>, rows: &Rows) -> bool {
        rows.len() == range.len()
            && (0..schema.columns.len())
                .all(|c| self.column_rows(schema, c, range.clone()) == rows.columns[c].bytes())
    }

    /// Adds the bytes of this window that no earlier one held to `checksums` (a
    /// decoded part's are checked whole, by [`check_column_hashes`]): the windows of a
    /// part are added in the order they were read.
    pub(crate) fn add_to(&self, checksums: &mut PartChecksums) {
        if let PartRows::Columns(window) = self {
            for (c, checksum) in checksums.columns.iter_mut().enumerate() {
                checksum.add(window.first, window.column(c));
            }
        }
    }

    /// Rows `range` (counted from [`PartRows::first`]) into `into`, which is resized
    /// to hold them.
    pub(crate) fn read_rows(&self, schema: &Schema, range: Range<usize>, into: &mut Rows) {
        into.clear();
        match self {
            PartRows::Decoded(rows) => into.extend_from_rows(schema, rows, range),
            PartRows::Columns(_) => {
                into.resize_rows(schema, range.len());
                for c in 0..schema.columns.len() {
                    let rows = self.column_rows(schema, c, range.clone());
                    into.columns[c].bytes_mut().copy_from_slice(rows);
                }
            }
        }
    }
}

/// A part whose files were checked against its record, read a window of rows at a
/// time; the checksums of a `.npy` part's files are taken from its windows
/// ([`PartRows::add_to`]) and held to the record by [`PartReader::finish`].
pub(crate) enum PartReader {
    /// A Parquet part, decoded whole: its one window, until it is read.
    Decoded(Option<Rows>),
    Columns(NpyColumns),
}

/// A `.npy` part's open column files (in the schema's order) and which is its `user`
/// column, which says where each user's rows are.
pub(crate) struct NpyColumns {
    files: Vec<NpyFile>,
    user: usize,
}

impl PartReader {
    /// Rows a window of `bytes` holds (at least one): every row, for a decoded part.
    pub(crate) fn window_rows(&self, bytes: usize) -> usize {
        match self {
            PartReader::Decoded(_) => usize::MAX,
            PartReader::Columns(columns) => {
                let row_bytes: usize = columns.files.iter().map(|f| f.row_bytes).sum();
                (bytes / row_bytes.max(1)).max(1)
            }
        }
    }

    /// A window to read into, holding no rows yet.
    pub(crate) fn empty_window(&self) -> PartRows {
        match self {
            PartReader::Decoded(_) => PartRows::Decoded(Rows::default()),
            PartReader::Columns(columns) => PartRows::Columns(NpyWindow {
                first: 0,
                columns: columns
                    .files
                    .iter()
                    .map(|_| (AlignedBuffer::default(), 0..0))
                    .collect(),
                user: columns.user,
                unaligned_users: None,
            }),
        }
    }

    /// Reads rows `range` into `into` (a window from [`PartReader::empty_window`]).
    /// A decoded part is read once, whole.
    pub(crate) fn read(
        &mut self,
        range: Range<usize>,
        into: &mut PartRows,
    ) -> Result<(), EngineError> {
        match (self, into) {
            (PartReader::Decoded(rows), into) => {
                let rows = rows.take().expect("a decoded part is read once, whole");
                debug_assert_eq!(range, 0..rows.len());
                *into = PartRows::Decoded(rows);
                Ok(())
            }
            (PartReader::Columns(columns), PartRows::Columns(window)) => {
                columns.read(range, window)
            }
            (PartReader::Columns(_), PartRows::Decoded(_)) => {
                unreachable!("a .npy part's windows come from its reader")
            }
        }
    }

    /// The checksums of the part's `.npy` files, none of their bytes taken yet.
    pub(crate) fn checksums(&self) -> PartChecksums {
        let columns = match self {
            PartReader::Decoded(_) => Vec::new(),
            PartReader::Columns(columns) => columns.files.iter().map(NpyFile::checksum).collect(),
        };
        PartChecksums { columns }
    }

    /// Holds the files' `checksums` to their records, reading what no window added to
    /// them (a Parquet part's were checked as it was read).
    pub(crate) fn finish(&mut self, checksums: PartChecksums) -> Result<(), EngineError> {
        match self {
            PartReader::Decoded(_) => Ok(()),
            PartReader::Columns(columns) => columns
                .files
                .iter_mut()
                .zip(checksums.columns)
                .try_for_each(|(file, checksum)| file.finish(checksum)),
        }
    }
}

impl NpyColumns {
    fn read(&mut self, range: Range<usize>, window: &mut NpyWindow) -> Result<(), EngineError> {
        window.first = range.start;
        std::thread::scope(|threads| {
            let reads: Vec<_> = self
                .files
                .iter_mut()
                .zip(&mut window.columns)
                .map(|(file, (buffer, span))| {
                    let range = range.clone();
                    threads.spawn(move || {
                        *span = file.read_rows(range, buffer)?;
                        Ok::<_, EngineError>(())
                    })
                })
                .collect();
            reads
                .into_iter()
                .try_for_each(|r| r.join().expect("a reading thread panicked"))
        })?;
        let users = window.column(window.user);
        window.unaligned_users = bytemuck::try_cast_slice::<u8, u32>(users)
            .is_err()
            .then(|| {
                users
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
                    .collect()
            });
        Ok(())
    }
}

/// A `.npy` column file of a part, read past the page cache.
struct NpyFile {
    path: PathBuf,
    input: InputFile,
    data_offset: u64,
    row_bytes: usize,
    record: FileRecord,
}

/// The checksums of a `.npy` part's column files' data, in the schema's order, taken
/// as far as its windows have been added ([`PartRows::add_to`]).
pub(crate) struct PartChecksums {
    columns: Vec<ColumnChecksum>,
}

/// One column file's data checksum so far: of its first `hashed` bytes.
struct ColumnChecksum {
    row_bytes: usize,
    hasher: Xxh3,
    hashed: u64,
}

impl ColumnChecksum {
    /// Adds `bytes`, the column's rows from row `first`, where they reach past what
    /// it holds (windows come in order; one may start within the last).
    fn add(&mut self, first: usize, bytes: &[u8]) {
        let start = first as u64 * self.row_bytes as u64;
        let end = start + bytes.len() as u64;
        debug_assert!(self.hashed >= start, "windows are added in order");
        if end > self.hashed {
            self.hasher.update(&bytes[(self.hashed - start) as usize..]);
            self.hashed = end;
        }
    }
}

impl NpyFile {
    /// Rows `range` of this column into `buffer`: where they landed in it.
    fn read_rows(
        &mut self,
        range: Range<usize>,
        buffer: &mut AlignedBuffer,
    ) -> Result<Range<usize>, EngineError> {
        let row_bytes = self.row_bytes as u64;
        let data = range.start as u64 * row_bytes..range.end as u64 * row_bytes;
        self.input
            .read(
                self.data_offset + data.start..self.data_offset + data.end,
                buffer,
            )
            .map_err(|e| EngineError::io(&self.path, e))
    }

    /// A checksum of this file's data, none of it taken yet.
    fn checksum(&self) -> ColumnChecksum {
        ColumnChecksum {
            row_bytes: self.row_bytes,
            hasher: Xxh3::new(),
            hashed: 0,
        }
    }

    /// The data's checksum against the record, reading what `checksum` lacks of it.
    fn finish(&mut self, mut checksum: ColumnChecksum) -> Result<(), EngineError> {
        let end = self.input.len() - self.data_offset;
        let mut buffer = AlignedBuffer::default();
        while checksum.hashed < end {
            let piece = checksum.hashed..end.min(checksum.hashed + WINDOW_BYTES as u64);
            let at = self.data_offset;
            let span = self
                .input
                .read(at + piece.start..at + piece.end, &mut buffer)
                .map_err(|e| EngineError::io(&self.path, e))?;
            checksum.hasher.update(&buffer.bytes()[span]);
            checksum.hashed = piece.end;
        }
        check_digest(&self.path, &self.record, checksum.hasher.digest())
    }
}

/// Checks a part's files against its record (names, sizes, headers) and, given a
/// schema, opens its rows for reading; without one, checks the files' checksums too
/// — how a run decides that a part left by an interrupted run can be reused.
pub(crate) fn read_part(
    paths: &PartPaths,
    format: Format,
    columns: &[ColumnSpec],
    record: &PartRecord,
    schema: Option<(&Schema, &IdColumns)>,
) -> Result<Option<PartReader>, EngineError> {
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
    let mut reader = match format {
        Format::Npy => {
            let files = record
                .files
                .par_iter()
                .zip(columns)
                .map(|(file, spec)| {
                    check_npy_column(paths.base.join(&file.name), file, spec, record.tally.rows)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let user = columns
                .iter()
                .position(|c| c.name == "user")
                .ok_or_else(|| EngineError::invalid(&paths.finished, "no user column"))?;
            PartReader::Columns(NpyColumns { files, user })
        }
        Format::Parquet => {
            let [file] = &record.files[..] else {
                unreachable!("one file, as the names were checked");
            };
            let path = paths.base.join(&file.name);
            // Read whole, once: for the checksum, then decoded from memory (the rows
            // are held whole anyway, and are larger).
            let mut input = open_recorded(&path, file)?;
            let mut buffer = AlignedBuffer::default();
            let span = input
                .read(0..input.len(), &mut buffer)
                .map_err(|e| EngineError::io(&path, e))?;
            check_digest(&path, file, xxh3_64(&buffer.bytes()[span.clone()]))?;
            let Some((schema, ids)) = schema else {
                return Ok(None);
            };
            let (storage, at) = buffer.into_storage();
            let data =
                bytes::Bytes::from(storage).slice(at.start + span.start..at.start + span.end);
            let rows = read_parquet_part(&paths.finished, data, schema, ids)?;
            if rows.len() as u64 != record.tally.rows {
                return Err(EngineError::invalid(
                    &paths.finished,
                    format!("{} rows, manifest says {}", rows.len(), record.tally.rows),
                ));
            }
            PartReader::Decoded(Some(rows))
        }
    };
    if schema.is_none() {
        if let PartReader::Columns(columns) = &mut reader {
            columns
                .files
                .par_iter_mut()
                .try_for_each(|file| file.finish(file.checksum()))?;
        }
        return Ok(None);
    }
    Ok(Some(reader))
}

/// Opens `path` once its size has been checked against the manifest's.
fn open_recorded(path: &Path, file: &FileRecord) -> Result<InputFile, EngineError> {
    let input = InputFile::open(path).map_err(|e| EngineError::io(path, e))?;
    if input.len() != file.bytes {
        return Err(EngineError::invalid(
            path,
            format!("{} bytes, manifest says {}", input.len(), file.bytes),
        ));
    }
    Ok(input)
}

/// Checks a checksum against the record.
fn check_digest(path: &Path, file: &FileRecord, digest: u64) -> Result<(), EngineError> {
    let got = hex(digest);
    if got != file.xxh3 {
        return Err(EngineError::invalid(
            path,
            format!("checksum {got} differs from the manifest's {}", file.xxh3),
        ));
    }
    Ok(())
}

/// A `.npy` column file: its size and its header against the manifest's column and
/// rows; returned open for reading rows and checking its data's checksum.
fn check_npy_column(
    path: PathBuf,
    file: &FileRecord,
    spec: &ColumnSpec,
    rows: u64,
) -> Result<NpyFile, EngineError> {
    let mut input = open_recorded(&path, file)?;
    let mut buffer = AlignedBuffer::default();
    let head = input
        .read(0..input.len().min(npy::MAX_HEADER_BYTES), &mut buffer)
        .map_err(|e| EngineError::io(&path, e))?;
    let info = npy::parse_header(&buffer.bytes()[head]).map_err(|e| EngineError::io(&path, e))?;
    let width = (spec.width > 1).then_some(spec.width as u64);
    let shape_ok = info.descr == spec.dtype.descr()
        && info.width == width
        && info.len == rows
        && info.data_bytes(spec.dtype.size()) == Some(file.bytes - info.data_offset as u64);
    if !shape_ok {
        return Err(EngineError::invalid(
            &path,
            format!(
                "{} {:?} × {:?} rows, manifest says {} {:?} × {rows} rows",
                info.descr,
                info.width,
                info.len,
                spec.dtype.descr(),
                width,
            ),
        ));
    }
    Ok(NpyFile {
        path,
        input,
        data_offset: info.data_offset as u64,
        row_bytes: spec.width * spec.dtype.size(),
        record: file.clone(),
    })
}

/// Every sampled column's logical checksum (format-neutral) matches the record: a
/// `.npy` file's data is its column's bytes, checked as the file was read; a Parquet
/// part's columns are hashed as decoded.
pub(crate) fn check_column_hashes(
    at: &Path,
    schema: &Schema,
    record: &PartRecord,
    rows: &PartRows,
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
        let got = match rows {
            PartRows::Columns(_) => record.files[c].xxh3.clone(),
            PartRows::Decoded(rows) => hex(xxh3_64(rows.columns[c].bytes())),
        };
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
