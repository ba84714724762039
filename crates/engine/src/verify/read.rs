//! Reading a part back: its files against their records (names, sizes, `.npy`
//! headers, checksums), then its rows for the checks — `.npy` columns compared with a
//! fresh sample where they lie in their maps, and copied a chunk at a time only where
//! they differ (memory does not grow with the part; the `user` column, which places
//! the chunks, is read in place), a Parquet part decoded whole.
//!
//! The files are mapped (`negsamp_store::mapping`, whose promise covers them: a
//! published dataset is never modified) rather than read: parts are written past the
//! page cache, so verify usually reads them cold, and here a cold `read` into fresh
//! cache pages ran at a third of the speed of faulting the same pages in through a
//! map (0.75 s against 0.24 s for 350 MB).

use crate::config::Format;
use crate::manifest::{ColumnSpec, FileRecord, PartRecord};
use crate::npy;
use crate::rows::Rows;
use crate::schema::Schema;
use crate::write::{hex, read_parquet_part, IdColumns, PartPaths};
use crate::EngineError;
use memmap2::Mmap;
use rayon::prelude::*;
use std::ops::Range;
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::xxh3_64;

/// A part's rows, checked against its record, as the row checks reach them.
pub(crate) enum PartRows {
    /// A Parquet part, decoded.
    Decoded(Rows),
    /// A `.npy` part: its files, read a range of rows at a time.
    Columns(NpyColumns),
}

/// A `.npy` part's open column files (in the schema's order) and which is its `user`
/// column, which says where each user's rows are.
pub(crate) struct NpyColumns {
    files: Vec<NpyFile>,
    user: usize,
    /// The `user` column copied, only if its data is not aligned for `u32` in its
    /// map (negsamp aligns it; a `.npy` written elsewhere need not).
    unaligned_users: Option<Vec<u32>>,
}

impl NpyColumns {
    fn users(&self) -> &[u32] {
        match &self.unaligned_users {
            Some(users) => users,
            None => bytemuck::cast_slice(self.files[self.user].data()),
        }
    }
}

struct NpyFile {
    path: PathBuf,
    map: Mmap,
    data_offset: usize,
    row_bytes: usize,
    record: FileRecord,
}

impl NpyFile {
    /// Rows starting at `first` into `out` (whole rows of this column).
    fn read_at(&self, first: usize, out: &mut [u8]) -> Result<(), EngineError> {
        out.copy_from_slice(self.rows_at(first, out.len())?);
        Ok(())
    }

    /// Rows starting at `first`, `len` bytes of them, where they lie in the map.
    fn rows_at(&self, first: usize, len: usize) -> Result<&[u8], EngineError> {
        let start = self.data_offset + first * self.row_bytes;
        self.map.get(start..start + len).ok_or_else(|| {
            EngineError::invalid(&self.path, "rows past the end of the file".to_string())
        })
    }

    /// The data's checksum against the record.
    fn check_checksum(&self) -> Result<(), EngineError> {
        check_checksum(&self.path, &self.record, self.data())
    }

    /// The data's bytes (their length was checked against the header's shape).
    fn data(&self) -> &[u8] {
        &self.map[self.data_offset..]
    }
}

impl PartRows {
    /// Checks the files' checksums against their records (a Parquet part's were
    /// checked as it was read). Left to the caller so that it can overlap the
    /// reading — usually from the device, the files having been written past the
    /// page cache — with its own work on the rows.
    pub(crate) fn check_checksums(&self) -> Result<(), EngineError> {
        match self {
            PartRows::Decoded(_) => Ok(()),
            PartRows::Columns(columns) => columns
                .files
                .par_iter()
                .try_for_each(NpyFile::check_checksum),
        }
    }

    /// The `user` column: non-decreasing in a sound part.
    pub(crate) fn users(&self) -> &[u32] {
        match self {
            PartRows::Decoded(rows) => rows.users(),
            PartRows::Columns(columns) => columns.users(),
        }
    }

    /// Whether rows `range` are `rows`' bytes, column by column, compared where they
    /// lie (nothing copied).
    pub(crate) fn holds(
        &self,
        schema: &Schema,
        range: Range<usize>,
        rows: &Rows,
    ) -> Result<bool, EngineError> {
        if rows.len() != range.len() {
            return Ok(false);
        }
        for (c, column) in schema.columns.iter().enumerate() {
            let want = rows.columns[c].bytes();
            let got = match self {
                PartRows::Decoded(decoded) => {
                    let row_bytes = column.width * column.dtype.size();
                    let bytes = decoded.columns[c].bytes();
                    &bytes[range.start * row_bytes..range.end * row_bytes]
                }
                PartRows::Columns(columns) => columns.files[c].rows_at(range.start, want.len())?,
            };
            if got != want {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Rows `range` into `into`, which is resized to hold them.
    pub(crate) fn read_rows(
        &self,
        schema: &Schema,
        range: Range<usize>,
        into: &mut Rows,
    ) -> Result<(), EngineError> {
        into.clear();
        match self {
            PartRows::Decoded(rows) => into.extend_from_rows(schema, rows, range),
            PartRows::Columns(columns) => {
                into.resize_rows(schema, range.len());
                for (file, buffer) in columns.files.iter().zip(&mut into.columns) {
                    file.read_at(range.start, buffer.bytes_mut())?;
                }
            }
        }
        Ok(())
    }
}

/// Checks a part's files against its record (names, sizes, headers, checksums) and,
/// given a schema, opens its rows for reading. Also how a run decides that a part
/// left by an interrupted run can be reused.
pub(crate) fn read_part(
    paths: &PartPaths,
    format: Format,
    columns: &[ColumnSpec],
    record: &PartRecord,
    schema: Option<(&Schema, &IdColumns)>,
) -> Result<Option<PartRows>, EngineError> {
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
    let files = record
        .files
        .par_iter()
        .zip(columns)
        .map(|(file, spec)| {
            let path = paths.base.join(&file.name);
            match format {
                Format::Npy => check_npy_column(path, file, spec, record.tally.rows).map(Some),
                Format::Parquet => check_whole_file(&path, file).map(|()| None),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Some((schema, ids)) = schema else {
        files
            .par_iter()
            .flatten()
            .try_for_each(NpyFile::check_checksum)?;
        return Ok(None);
    };
    let rows = match format {
        Format::Npy => {
            let files: Vec<NpyFile> = files.into_iter().map(|f| f.expect("npy")).collect();
            let user = schema.position("user").expect("every schema has users");
            // Read where it lies (a copy of a column of 4 bytes a row was a serial
            // phase of its own before the chunks).
            let unaligned_users = bytemuck::try_cast_slice::<u8, u32>(files[user].data())
                .is_err()
                .then(|| {
                    let data = files[user].data();
                    let mut users = vec![0u32; data.len() / 4];
                    bytemuck::cast_slice_mut(&mut users).copy_from_slice(data);
                    users
                });
            PartRows::Columns(NpyColumns {
                files,
                user,
                unaligned_users,
            })
        }
        Format::Parquet => {
            let rows = read_parquet_part(&paths.finished, schema, ids)?;
            if rows.len() as u64 != record.tally.rows {
                return Err(EngineError::invalid(
                    &paths.finished,
                    format!("{} rows, manifest says {}", rows.len(), record.tally.rows),
                ));
            }
            PartRows::Decoded(rows)
        }
    };
    Ok(Some(rows))
}

/// Maps `path` once its size has been checked against the manifest's.
fn map_recorded(path: &Path, file: &FileRecord) -> Result<Mmap, EngineError> {
    let map = negsamp_store::mapping::map_readonly(path).map_err(|e| EngineError::io(path, e))?;
    if map.len() as u64 != file.bytes {
        return Err(EngineError::invalid(
            path,
            format!("{} bytes, manifest says {}", map.len(), file.bytes),
        ));
    }
    Ok(map)
}

/// Checks `bytes`' XXH3 against the record.
fn check_checksum(path: &Path, file: &FileRecord, bytes: &[u8]) -> Result<(), EngineError> {
    let got = hex(xxh3_64(bytes));
    if got != file.xxh3 {
        return Err(EngineError::invalid(
            path,
            format!("checksum {got} differs from the manifest's {}", file.xxh3),
        ));
    }
    Ok(())
}

/// A Parquet part file: its size and the checksum of all its bytes.
fn check_whole_file(path: &Path, file: &FileRecord) -> Result<(), EngineError> {
    check_checksum(path, file, &map_recorded(path, file)?)
}

/// A `.npy` column file: its size and its header against the manifest's column and
/// rows; returned mapped for reading rows and checking its data's checksum.
fn check_npy_column(
    path: PathBuf,
    file: &FileRecord,
    spec: &ColumnSpec,
    rows: u64,
) -> Result<NpyFile, EngineError> {
    let map = map_recorded(&path, file)?;
    let info = npy::parse_header(&map).map_err(|e| EngineError::io(&path, e))?;
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
        map,
        data_offset: info.data_offset,
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
