//! Writing parts: one [`PartSink`] interface that the `.npy` and Parquet writers
//! implement, where a part's files live, and the format-neutral column checksums.
//!
//! Sampling never knows the format: the run hands each wave's rows to a sink in user
//! order, and the sink returns the part's file records and column checksums.

mod npy;
mod parquet;

use crate::config::Format;
use crate::manifest::{metadata_name, ColumnHash, FileRecord};
use crate::rows::Rows;
use crate::schema::Schema;
use crate::EngineError;
use negsamp_store::output::WriteMode;
use negsamp_store::Store;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::Xxh3;

pub use self::parquet::{read_part as read_parquet_part, IdColumns};

/// Receives a part's rows, in order, and writes its files.
pub trait PartSink: Send {
    /// Appends the rows of consecutive chunks, in order.
    fn append(&mut self, chunks: &[&Rows]) -> Result<(), EngineError>;
    /// Completes the files (headers, footers, fsync if asked) and returns their
    /// records and the column checksums.
    fn finish(
        self: Box<Self>,
        fsync: bool,
    ) -> Result<(Vec<FileRecord>, Vec<ColumnHash>), EngineError>;
}

/// Where part `index` lives in a dataset directory `dir` of `format`.
#[derive(Debug, Clone)]
pub struct PartPaths {
    /// The finished part: a directory of `.npy` files, or a `.parquet` file.
    pub finished: PathBuf,
    /// Where it is written before being renamed to `finished`.
    pub partial: PathBuf,
    /// The part's record (`part.json`), present only once the part is complete.
    pub record: PathBuf,
    /// The directory the part's `FileRecord` names are relative to.
    pub base: PathBuf,
}

impl PartPaths {
    pub fn new(dir: &Path, format: Format, index: usize) -> Self {
        let name = crate::manifest::part_name(index);
        match format {
            Format::Npy => {
                let finished = dir.join(&name);
                PartPaths {
                    partial: dir.join(format!("{name}.partial")),
                    record: finished.join(PART_FILE),
                    base: finished.clone(),
                    finished,
                }
            }
            Format::Parquet => PartPaths {
                finished: dir.join(format!("{name}.parquet")),
                partial: dir.join(format!(".{name}.parquet.partial")),
                record: dir.join(metadata_name(format, &format!("{name}.json"))),
                base: dir.to_path_buf(),
            },
        }
    }
}

/// The record of a finished `.npy` part, inside its directory.
pub const PART_FILE: &str = "part.json";

/// Opens a sink writing part `paths` of `schema`.
pub fn create_sink(
    format: Format,
    schema: &Schema,
    ids: &IdColumns,
    paths: &PartPaths,
    write_mode: WriteMode,
) -> Result<Box<dyn PartSink>, EngineError> {
    Ok(match format {
        Format::Npy => Box::new(npy::NpySink::create(schema, &paths.partial, write_mode)?),
        Format::Parquet => Box::new(parquet::ParquetSink::create(
            schema,
            ids,
            &paths.partial,
            paths
                .finished
                .file_name()
                .expect("a part has a name")
                .to_string_lossy()
                .into_owned(),
            write_mode,
        )?),
    })
}

/// Moves a finished part into place.
pub fn publish_part(paths: &PartPaths) -> Result<(), EngineError> {
    std::fs::rename(&paths.partial, &paths.finished)
        .map_err(|e| EngineError::io(&paths.finished, e))
}

/// XXH3 of each sampled column's little-endian bytes, streamed.
pub(crate) struct ColumnHasher {
    names: Vec<String>,
    /// Indices of the hashed (sampled) columns in the schema.
    columns: Vec<usize>,
    hashes: Vec<Xxh3>,
}

impl ColumnHasher {
    pub(crate) fn new(schema: &Schema) -> Self {
        let columns: Vec<usize> = (0..schema.columns.len())
            .filter(|&c| schema.columns[c].kind.is_sampled())
            .collect();
        ColumnHasher {
            names: columns
                .iter()
                .map(|&c| schema.columns[c].name.clone())
                .collect(),
            hashes: columns.iter().map(|_| Xxh3::new()).collect(),
            columns,
        }
    }

    /// Hashes the chunks' columns, one task per column.
    pub(crate) fn update(&mut self, chunks: &[&Rows]) {
        self.hashes
            .par_iter_mut()
            .zip(&self.columns)
            .for_each(|(hash, &c)| {
                for rows in chunks {
                    hash.update(rows.columns[c].bytes());
                }
            });
    }

    pub(crate) fn finish(self) -> Vec<ColumnHash> {
        self.names
            .into_iter()
            .zip(self.hashes)
            .map(|(name, h)| ColumnHash {
                name,
                xxh3: hex(h.digest()),
            })
            .collect()
    }
}

pub(crate) fn hex(hash: u64) -> String {
    format!("{hash:016x}")
}

/// The id maps and string dictionaries a run's writers and readers need, loaded once.
pub fn load_ids(store: &Store, schema: &Schema, format: Format) -> Result<IdColumns, EngineError> {
    IdColumns::load(store, schema, format)
}
