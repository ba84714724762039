//! The `.npy` part writer: a directory with one file per sampled column, streamed in
//! parallel (one task per file), each hashed as it is written.

use super::{hex, PartSink};
use crate::manifest::{ColumnHash, FileRecord};
use crate::npy::{matrix_header, HEADER_LEN};
use crate::rows::Rows;
use crate::schema::Schema;
use crate::EngineError;
use negsamp_store::output::{OutputFile, WriteMode};
use rayon::prelude::*;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::Xxh3;

pub(super) struct NpySink {
    files: Vec<ColumnFile>,
}

struct ColumnFile {
    /// The column's index in the schema.
    column: usize,
    name: String,
    path: PathBuf,
    descr: &'static str,
    /// `Some(width)` for a matrix column.
    width: Option<u64>,
    element: usize,
    file: OutputFile,
    hash: Xxh3,
    /// Elements written.
    len: u64,
}

impl NpySink {
    pub(super) fn create(
        schema: &Schema,
        dir: &Path,
        write_mode: WriteMode,
    ) -> Result<Self, EngineError> {
        if dir.exists() {
            crate::run::remove_stale(dir)?;
        }
        fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        let files = schema
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind.is_sampled())
            .map(|(column, c)| {
                let path = dir.join(format!("{}.npy", c.name));
                let width = (c.width > 1).then_some(c.width as u64);
                let mut file =
                    OutputFile::create(&path, write_mode).map_err(|e| EngineError::io(&path, e))?;
                file.write_all(&matrix_header(c.dtype.descr(), 0, width))
                    .map_err(|e| EngineError::io(&path, e))?;
                Ok(ColumnFile {
                    column,
                    name: c.name.clone(),
                    path,
                    descr: c.dtype.descr(),
                    width,
                    element: c.dtype.size(),
                    file,
                    hash: Xxh3::new(),
                    len: 0,
                })
            })
            .collect::<Result<_, EngineError>>()?;
        Ok(Self { files })
    }
}

impl PartSink for NpySink {
    fn append(&mut self, chunks: &[&Rows]) -> Result<(), EngineError> {
        self.files.par_iter_mut().try_for_each(|file| {
            for rows in chunks {
                let buffer = &rows.columns[file.column];
                let bytes = buffer.bytes();
                file.file
                    .write_all(bytes)
                    .map_err(|e| EngineError::io(&file.path, e))?;
                file.hash.update(bytes);
                file.len += buffer.len() as u64;
            }
            Ok(())
        })
    }

    fn finish(
        self: Box<Self>,
        fsync: bool,
    ) -> Result<(Vec<FileRecord>, Vec<ColumnHash>), EngineError> {
        self.files
            .into_iter()
            .map(|f| {
                let io = |e| EngineError::io(&f.path, e);
                let rows = f.len / f.width.unwrap_or(1);
                let mut file = f.file.into_file().map_err(io)?;
                file.seek(SeekFrom::Start(0)).map_err(io)?;
                file.write_all(&matrix_header(f.descr, rows, f.width))
                    .map_err(io)?;
                if fsync {
                    file.sync_all().map_err(io)?;
                }
                let xxh3 = hex(f.hash.digest());
                Ok((
                    FileRecord {
                        name: format!("{}.npy", f.name),
                        bytes: HEADER_LEN as u64 + f.len * f.element as u64,
                        xxh3: xxh3.clone(),
                    },
                    ColumnHash { name: f.name, xxh3 },
                ))
            })
            .collect::<Result<Vec<_>, EngineError>>()
            .map(|pairs| pairs.into_iter().unzip())
    }
}
