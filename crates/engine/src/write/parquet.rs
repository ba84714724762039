//! The Parquet part writer (and the reader verify uses): one file per part, the same
//! columns and rows as `.npy` — matrices become lists of their valid entries, strings
//! are dictionary-encoded, missing carried values are nulls.
//!
//! Bytes depend only on the part's rows: row groups are cut every [`ROW_GROUP_ROWS`]
//! rows of the part and each column of a row group is encoded by one call (page
//! boundaries follow the encoder's calls), so neither threads nor work chunks change
//! a file. Encoding — the costly part: a list column's levels are computed per value —
//! runs in parallel over the row groups a wave completes and over their columns, then
//! the encoded chunks are appended in order.

use super::{ColumnHasher, PartSink};
use crate::config::Format;
use crate::manifest::{ColumnHash, FileRecord};
use crate::rows::{Buffer, Rows};
use crate::schema::{ColumnKind, Dtype, Schema};
use crate::EngineError;
use arrow_array::types::UInt32Type;
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Float32Array, Float64Array, Int64Array, ListArray,
    StringArray, UInt32Array, UInt64Array, UInt8Array,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use negsamp_store::kept::{ValueType, MISSING_CODE, MISSING_I64};
use negsamp_store::output::{OutputFile, WriteMode};
use negsamp_store::Store;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xxhash_rust::xxh3::Xxh3;

/// Rows per batch the reader returns.
const BATCH_ROWS: usize = 1 << 16;
/// Rows per row group: about DuckDB's own choice (122 880), large enough for readers'
/// sequential scans, small enough that a wave of sampling fills several to encode in
/// parallel.
const ROW_GROUP_ROWS: usize = 1 << 17;

/// The string values a run's Parquet columns show: user and item ids
/// (`--original-ids`) and carried string columns' dictionaries, per schema column.
#[derive(Debug, Default, Clone)]
pub struct IdColumns {
    /// Per schema column, the dictionary its codes index (None for non-strings).
    dictionaries: Vec<Option<ArrayRef>>,
}

impl IdColumns {
    pub(super) fn load(
        store: &Store,
        schema: &Schema,
        format: Format,
    ) -> Result<Self, EngineError> {
        if format != Format::Parquet {
            return Ok(Self::default());
        }
        let strings = |values: Vec<String>| -> ArrayRef { Arc::new(StringArray::from(values)) };
        let dictionaries = schema
            .columns
            .iter()
            .map(|c| {
                Ok(match c.kind {
                    ColumnKind::UserId => Some(strings(store.user_ids()?)),
                    ColumnKind::ItemId => Some(strings(store.item_ids()?)),
                    ColumnKind::Carried {
                        kept,
                        value_type: ValueType::Str,
                    } => {
                        let d = store.dictionary(kept)?.expect("a string column has one");
                        let values: Vec<String> = d
                            .iter()
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .collect();
                        Some(strings(values))
                    }
                    _ => None,
                })
            })
            .collect::<Result<_, EngineError>>()?;
        Ok(Self { dictionaries })
    }
}

/// Row groups waiting for the appender at most: bounds the encoded bytes in memory.
const QUEUED_ROW_GROUPS: usize = 4;

/// The file's writer on its own thread, fed encoded row groups through a channel.
struct Appender {
    queue: std::sync::mpsc::SyncSender<Vec<ArrowColumnChunk>>,
    thread: std::thread::JoinHandle<parquet::errors::Result<HashingFile>>,
}

impl Appender {
    fn start(mut writer: SerializedFileWriter<HashingFile>) -> Self {
        let (queue, row_groups) =
            std::sync::mpsc::sync_channel::<Vec<ArrowColumnChunk>>(QUEUED_ROW_GROUPS);
        let thread = std::thread::spawn(move || {
            for chunks in row_groups {
                let mut row_group = writer.next_row_group()?;
                for chunk in chunks {
                    chunk.append_to_row_group(&mut row_group)?;
                }
                row_group.close()?;
            }
            writer.into_inner()
        });
        Appender { queue, thread }
    }

    /// Queues a row group; false if the appender stopped (its error comes from
    /// `finish`).
    fn append(&self, chunks: Vec<ArrowColumnChunk>) -> bool {
        self.queue.send(chunks).is_ok()
    }

    /// Waits for every queued row group, writes the footer and returns the file.
    fn finish(self) -> parquet::errors::Result<HashingFile> {
        drop(self.queue);
        self.thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// A file writer that hashes and counts what goes through it.
struct HashingFile {
    file: OutputFile,
    hash: Xxh3,
    bytes: u64,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

pub(super) struct ParquetSink {
    schema: Schema,
    arrow: Arc<ArrowSchema>,
    ids: IdColumns,
    /// The thread appending encoded row groups to the file, in order, while the pool
    /// encodes the next ones (the append is one thread's copy into the page cache).
    appender: Appender,
    factory: ArrowRowGroupWriterFactory,
    row_groups: usize,
    /// Rows not yet encoded (fewer than a row group between calls).
    pending: Rows,
    hasher: ColumnHasher,
    path: PathBuf,
    name: String,
}

/// The Arrow type of a column as written (lists for matrices).
fn arrow_field(column: &crate::schema::Column) -> Field {
    let scalar = match column.dtype {
        Dtype::U8 => DataType::UInt8,
        Dtype::U32 => DataType::UInt32,
        Dtype::U64 => DataType::UInt64,
        Dtype::I64 => DataType::Int64,
        Dtype::F32 => DataType::Float32,
        Dtype::F64 => DataType::Float64,
        Dtype::Str => DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8)),
    };
    let nullable = matches!(column.kind, ColumnKind::Carried { .. });
    if column.width > 1 || column.list_len.is_some() {
        Field::new(
            &column.name,
            DataType::List(Arc::new(Field::new("item", scalar, false))),
            false,
        )
    } else {
        Field::new(&column.name, scalar, nullable)
    }
}

pub(crate) fn arrow_schema(schema: &Schema) -> Arc<ArrowSchema> {
    Arc::new(ArrowSchema::new(
        schema.columns.iter().map(arrow_field).collect::<Vec<_>>(),
    ))
}

impl ParquetSink {
    pub(super) fn create(
        schema: &Schema,
        ids: &IdColumns,
        partial: &Path,
        name: String,
        write_mode: WriteMode,
    ) -> Result<Self, EngineError> {
        let io = |e| EngineError::io(partial, e);
        let file = OutputFile::create(partial, write_mode).map_err(io)?;
        let arrow = arrow_schema(schema);
        let mut properties = WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_dictionary_enabled(false)
            .set_created_by(format!("negsamp {}", env!("CARGO_PKG_VERSION")));
        for c in schema.columns.iter().filter(|c| c.dtype == Dtype::Str) {
            properties =
                properties.set_column_dictionary_enabled(ColumnPath::from(c.name.as_str()), true);
        }
        let sink = HashingFile {
            file,
            hash: Xxh3::new(),
            bytes: 0,
        };
        // The Arrow writer adds the Arrow schema to the file's metadata (so readers get
        // dictionaries and unsigned types back); its parts then encode in parallel.
        let (writer, factory) = ArrowWriter::try_new(sink, arrow.clone(), Some(properties.build()))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(|e| EngineError::invalid(partial, e.to_string()))?;
        Ok(Self {
            schema: schema.clone(),
            arrow,
            ids: ids.clone(),
            appender: Appender::start(writer),
            factory,
            row_groups: 0,
            pending: Rows::new(schema),
            hasher: ColumnHasher::new(schema),
            path: partial.to_path_buf(),
            name,
        })
    }

    fn parquet_error(&self, e: impl std::fmt::Display) -> EngineError {
        EngineError::invalid(&self.path, format!("writing Parquet: {e}"))
    }

    /// Encodes rows `ranges` of `pending` as consecutive row groups — in parallel over
    /// row groups and columns — and appends them to the file in order.
    fn write_row_groups(&mut self, ranges: &[std::ops::Range<usize>]) -> Result<(), EngineError> {
        let first = self.row_groups;
        let encoded: Vec<Vec<ArrowColumnChunk>> = ranges
            .par_iter()
            .enumerate()
            .map(|(k, range)| self.encode_row_group(first + k, range.clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| self.parquet_error(e))?;
        for chunks in encoded {
            if !self.appender.append(chunks) {
                break; // the appender failed: `finish` reports why
            }
        }
        self.row_groups += ranges.len();
        Ok(())
    }

    /// One row group's column chunks, each column encoded by one call.
    fn encode_row_group(
        &self,
        index: usize,
        rows: std::ops::Range<usize>,
    ) -> parquet::errors::Result<Vec<ArrowColumnChunk>> {
        let writers = self.factory.create_column_writers(index)?;
        let mut leaves = Vec::with_capacity(writers.len());
        for (c, column) in self.schema.columns.iter().enumerate() {
            let array = self.to_array(c, column, rows.clone());
            leaves.extend(compute_leaves(self.arrow.field(c), &array)?);
        }
        writers
            .into_par_iter()
            .zip(leaves)
            .map(|(mut writer, leaf)| {
                writer.write(&leaf)?;
                writer.close()
            })
            .collect()
    }

    fn to_array(
        &self,
        c: usize,
        column: &crate::schema::Column,
        rows: std::ops::Range<usize>,
    ) -> ArrayRef {
        let buffer = &self.pending.columns[c];
        let width = column.width;
        let elements = rows.start * width..rows.end * width;
        if let Some(len_column) = column.list_len {
            let lens = self
                .pending
                .column(&self.schema, len_column)
                .expect("a list's length column is in the schema")
                .u32s();
            let right_aligned = column.kind == ColumnKind::History;
            return list_array(buffer, width, &lens[rows], elements.start, right_aligned);
        }
        match (column.kind, buffer) {
            (ColumnKind::UserId | ColumnKind::ItemId, _) => {
                let source = if column.kind == ColumnKind::UserId {
                    "user"
                } else {
                    "item"
                };
                let keys = self.pending.column(&self.schema, source).expect("has ids");
                let keys = UInt32Array::from(keys.u32s()[rows].to_vec());
                dictionary(keys, &self.ids.dictionaries[c])
            }
            (_, Buffer::U32(v)) if column.dtype == Dtype::Str => {
                let codes = &v[elements];
                let nulls = nulls(codes.iter().map(|&x| x != MISSING_CODE));
                let keys = UInt32Array::new(codes.to_vec().into(), nulls);
                dictionary(keys, &self.ids.dictionaries[c])
            }
            (_, Buffer::U8(v)) => Arc::new(UInt8Array::from(v[elements].to_vec())),
            (_, Buffer::U32(v)) => Arc::new(UInt32Array::from(v[elements].to_vec())),
            (_, Buffer::U64(v)) => Arc::new(UInt64Array::from(v[elements].to_vec())),
            (_, Buffer::I64(v)) => {
                let v = &v[elements];
                let nulls = carried_nulls(column, v.iter().map(|&x| x != MISSING_I64));
                Arc::new(Int64Array::new(v.to_vec().into(), nulls))
            }
            (_, Buffer::F32(v)) => Arc::new(Float32Array::from(v[elements].to_vec())),
            (_, Buffer::F64(v)) => {
                let v = &v[elements];
                let nulls = carried_nulls(column, v.iter().map(|x| !x.is_nan()));
                Arc::new(Float64Array::new(v.to_vec().into(), nulls))
            }
        }
    }
}

/// Nulls for a carried column's missing values; other columns have none.
fn carried_nulls(
    column: &crate::schema::Column,
    valid: impl Iterator<Item = bool>,
) -> Option<NullBuffer> {
    matches!(column.kind, ColumnKind::Carried { .. })
        .then(|| nulls(valid))
        .flatten()
}

/// A null buffer, or None when every value is valid.
fn nulls(valid: impl Iterator<Item = bool>) -> Option<NullBuffer> {
    let buffer = NullBuffer::from_iter(valid);
    (buffer.null_count() > 0).then_some(buffer)
}

fn dictionary(keys: UInt32Array, values: &Option<ArrayRef>) -> ArrayRef {
    let values = values.clone().expect("a string column has its dictionary");
    Arc::new(
        DictionaryArray::<UInt32Type>::try_new(keys, values)
            .expect("codes index their dictionary (checked by store verify)"),
    )
}

/// A list column from a `[rows, width]` matrix starting at element `start`: each row's
/// valid entries, the last `len` (right-aligned) or the first `len`.
fn list_array(
    buffer: &Buffer,
    width: usize,
    lens: &[u32],
    start: usize,
    right_aligned: bool,
) -> ArrayRef {
    let offsets = OffsetBuffer::<i32>::from_lengths(lens.iter().map(|&l| l as usize));
    let entries = |r: usize, len: usize| {
        let row = start + r * width;
        if right_aligned {
            row + width - len..row + width
        } else {
            row..row + len
        }
    };
    let (values, item): (ArrayRef, DataType) = match buffer {
        Buffer::U32(v) => {
            let mut out = Vec::with_capacity(offsets.last() as usize);
            for (r, &len) in lens.iter().enumerate() {
                out.extend_from_slice(&v[entries(r, len as usize)]);
            }
            (Arc::new(UInt32Array::from(out)), DataType::UInt32)
        }
        Buffer::F32(v) => {
            let mut out = Vec::new();
            for (r, &len) in lens.iter().enumerate() {
                out.extend_from_slice(&v[entries(r, len as usize)]);
            }
            (Arc::new(Float32Array::from(out)), DataType::Float32)
        }
        other => unreachable!("no list of {other:?}"),
    };
    Arc::new(ListArray::new(
        Arc::new(Field::new("item", item, false)),
        offsets,
        values,
        None,
    ))
}

impl PartSink for ParquetSink {
    fn append(&mut self, chunks: &[&Rows]) -> Result<(), EngineError> {
        self.hasher.update(chunks);
        for rows in chunks {
            self.pending.extend_from(rows);
        }
        let groups: Vec<_> = (0..self.pending.len() / ROW_GROUP_ROWS)
            .map(|k| k * ROW_GROUP_ROWS..(k + 1) * ROW_GROUP_ROWS)
            .collect();
        self.write_row_groups(&groups)?;
        self.pending
            .drain_front(&self.schema, groups.len() * ROW_GROUP_ROWS);
        Ok(())
    }

    fn finish(
        mut self: Box<Self>,
        fsync: bool,
    ) -> Result<(Vec<FileRecord>, Vec<ColumnHash>), EngineError> {
        let rest = self.pending.len();
        if rest > 0 {
            self.write_row_groups(std::slice::from_ref(&(0..rest)))?;
        }
        let this = *self;
        let path = this.path.clone();
        let sink = this
            .appender
            .finish()
            .map_err(|e| EngineError::invalid(&path, format!("writing Parquet: {e}")))?;
        let file = sink
            .file
            .into_file()
            .map_err(|e| EngineError::io(&path, e))?;
        if fsync {
            file.sync_all().map_err(|e| EngineError::io(&path, e))?;
        }
        let record = FileRecord {
            name: this.name,
            bytes: sink.bytes,
            xxh3: super::hex(sink.hash.digest()),
        };
        Ok((vec![record], this.hasher.finish()))
    }
}

/// Decodes a Parquet part's bytes (`data`, read from `path`, which messages name) into
/// rows of `schema` (matrices padded with `schema.pad`, nulls as the missing sentinels,
/// strings as codes of `ids`' dictionaries), for verify. The `user_id`/`item_id`
/// columns come back as codes of the id maps. The bytes are taken rather than the file
/// so that verify reads each part once: for its checksum and for this.
///
/// The `parquet` crate panics on some malformed metadata (found by `fuzz/parquet_part`:
/// an `unwrap` in its Thrift decoder); a panic while reading is turned into an error
/// naming the file, so a damaged part is reported, never a crash.
pub fn read_part(
    path: &Path,
    data: impl Into<bytes::Bytes>,
    schema: &Schema,
    ids: &IdColumns,
) -> Result<Rows, EngineError> {
    let data = data.into();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_rows(path, data, schema, ids)
    }))
    .unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("a panic");
        Err(EngineError::invalid(
            path,
            format!("not a readable Parquet file (the Parquet reader failed: {why})"),
        ))
    })
}

fn read_rows(
    path: &Path,
    data: bytes::Bytes,
    schema: &Schema,
    ids: &IdColumns,
) -> Result<Rows, EngineError> {
    let bad = |m: String| EngineError::invalid(path, m);
    let reader = ParquetRecordBatchReaderBuilder::try_new(data)
        .and_then(|b| b.with_batch_size(BATCH_ROWS).build())
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let expected = arrow_schema(schema);
    let lookups: Vec<Option<HashMap<&str, u32>>> = ids
        .dictionaries
        .iter()
        .map(|d| {
            d.as_ref().map(|d| {
                let s = d.as_any().downcast_ref::<StringArray>().expect("strings");
                (0..s.len()).map(|i| (s.value(i), i as u32)).collect()
            })
        })
        .collect();
    let mut rows = Rows::new(schema);
    let mut total = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| bad(format!("unreadable Parquet data: {e}")))?;
        if batch.schema().fields() != expected.fields() {
            return Err(bad(format!(
                "columns {:?} differ from the manifest's",
                batch.schema().fields()
            )));
        }
        let mut chunk = Rows::new(schema);
        for (c, column) in schema.columns.iter().enumerate() {
            let array = batch.column(c);
            let lookup = lookups.get(c).and_then(Option::as_ref);
            let buffer = from_array(array.as_ref(), column, schema.pad, lookup)
                .map_err(|m| bad(format!("column {}: {m}", column.name)))?;
            chunk.columns[c] = buffer;
        }
        total += batch.num_rows();
        let chunk = Rows::from_columns(chunk.columns, batch.num_rows());
        rows.extend_from(&chunk);
    }
    debug_assert_eq!(rows.len(), total);
    Ok(rows)
}

/// Converts an Arrow column back to the buffer the sampler filled.
fn from_array(
    array: &dyn Array,
    column: &crate::schema::Column,
    pad: u32,
    lookup: Option<&HashMap<&str, u32>>,
) -> Result<Buffer, String> {
    let downcast = |what: &str| format!("is not {what}");
    if let Some(list) = array.as_any().downcast_ref::<ListArray>() {
        let width = column.width;
        let right_aligned = column.kind == ColumnKind::History;
        let values = list.values();
        let mut out = Vec::with_capacity(list.len() * width);
        let rows = (0..list.len()).map(|r| {
            let offsets = list.value_offsets();
            (offsets[r] as usize, offsets[r + 1] as usize)
        });
        if let Some(v) = values.as_any().downcast_ref::<UInt32Array>() {
            let mut buf: Vec<u32> = Vec::with_capacity(out.capacity());
            for (s, e) in rows {
                let n = e
                    .checked_sub(s)
                    .filter(|&n| n <= width)
                    .ok_or("a list is too long")?;
                let fill = std::iter::repeat_n(pad, width - n);
                if right_aligned {
                    buf.extend(fill);
                    buf.extend_from_slice(&v.values()[s..e]);
                } else {
                    buf.extend_from_slice(&v.values()[s..e]);
                    buf.extend(fill);
                }
            }
            return Ok(Buffer::U32(buf));
        }
        if let Some(v) = values.as_any().downcast_ref::<Float32Array>() {
            for (s, e) in rows {
                let n = e
                    .checked_sub(s)
                    .filter(|&n| n <= width)
                    .ok_or("a list is too long")?;
                out.extend_from_slice(&v.values()[s..e]);
                out.extend(std::iter::repeat_n(f32::NAN, width - n));
            }
            return Ok(Buffer::F32(out));
        }
        return Err(downcast("a list of u32 or f32"));
    }
    if column.dtype == Dtype::Str {
        let dict = array
            .as_any()
            .downcast_ref::<DictionaryArray<UInt32Type>>()
            .ok_or_else(|| downcast("dictionary strings"))?;
        let values = dict
            .values()
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| downcast("utf8"))?;
        let lookup = lookup.ok_or("no dictionary to check against")?;
        let codes = (0..dict.len())
            .map(|r| {
                if dict.is_null(r) {
                    return Ok(MISSING_CODE);
                }
                let value = values.value(dict.keys().value(r) as usize);
                lookup
                    .get(value)
                    .copied()
                    .ok_or_else(|| format!("row {r}: {value:?} is not a known value"))
            })
            .collect::<Result<Vec<u32>, String>>()?;
        return Ok(Buffer::U32(codes));
    }
    macro_rules! values {
        ($t:ty, $variant:ident, $missing:expr) => {{
            let a = array
                .as_any()
                .downcast_ref::<$t>()
                .ok_or_else(|| downcast(stringify!($t)))?;
            let mut v = a.values().to_vec();
            if let Some(n) = a.nulls() {
                for r in (0..v.len()).filter(|&r| n.is_null(r)) {
                    v[r] = $missing;
                }
            }
            Ok(Buffer::$variant(v))
        }};
    }
    match column.dtype {
        Dtype::U8 => values!(UInt8Array, U8, 0),
        Dtype::U32 => values!(UInt32Array, U32, 0),
        Dtype::U64 => values!(UInt64Array, U64, 0),
        Dtype::I64 => values!(Int64Array, I64, MISSING_I64),
        Dtype::F32 => values!(Float32Array, F32, f32::NAN),
        Dtype::F64 => values!(Float64Array, F64, f64::NAN),
        Dtype::Str => unreachable!("handled above"),
    }
}
