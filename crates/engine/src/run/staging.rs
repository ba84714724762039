//! The staging directory of a run: what identifies the run for resumption, the
//! metadata copied beside the parts, and small-file writes.

use crate::config::{Format, SampleConfig};
use crate::manifest::metadata_name;
use crate::schema::{ColumnKind, Schema};
use crate::EngineError;
use negsamp_store::publish::remove_any;
use negsamp_store::{Store, ITEMS_FILE, USERS_FILE};
use serde::Serialize;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

/// Identifies a run for resumption: a staging directory is only reused by a run with
/// the same store, parameters, input files' contents and part plan.
pub(crate) const RUN_FILE: &str = "run.json";

#[derive(Debug, Serialize)]
pub(crate) struct RunKey<'a> {
    pub store_fingerprint: String,
    pub parameters: &'a SampleConfig,
    /// XXH3-64 of each input file named by the parameters (`SampleConfig::input_files`):
    /// paths alone would let a rerun resume parts sampled against an older file.
    pub input_contents: Vec<String>,
    pub parts: Vec<[u32; 2]>,
}

impl<'a> RunKey<'a> {
    pub(crate) fn new(
        store: &Store,
        parameters: &'a SampleConfig,
        parts: Vec<[u32; 2]>,
    ) -> Result<Self, EngineError> {
        let input_contents = parameters
            .input_files()
            .into_iter()
            .map(|path| {
                let bytes = fs::read(path).map_err(|e| EngineError::io(path, e))?;
                Ok(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes)))
            })
            .collect::<Result<_, EngineError>>()?;
        Ok(Self {
            store_fingerprint: format!("{:016x}", store.fingerprint()),
            parameters,
            input_contents,
            parts,
        })
    }
}

/// Keeps a staging directory left by an interrupted run of the same job (its finished
/// parts are reused); anything else there is removed.
pub(crate) fn prepare(staging: &Path, key: &RunKey<'_>) -> Result<(), EngineError> {
    let run_file = staging.join(metadata_name(key.parameters.format, RUN_FILE));
    let key_json = serde_json::to_value(key).expect("key serialises");
    // Compared as JSON: exactly the fields that are recorded must match.
    let same_run = fs::read(&run_file)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|recorded| recorded == key_json);
    if !same_run {
        if staging.exists() {
            remove_stale(staging)?;
        }
        fs::create_dir_all(staging).map_err(|e| EngineError::io(staging, e))?;
        write_file(
            &run_file,
            &serde_json::to_vec_pretty(key).expect("key serialises"),
            key.parameters.fsync,
        )?;
    }
    Ok(())
}

/// Removes what an earlier run left.
pub(crate) fn remove_stale(path: &Path) -> Result<(), EngineError> {
    remove_any(path).map_err(|e| EngineError::io(path, e))
}

/// Copies the id maps beside the parts and writes each carried string column's
/// dictionary (`.npy` output: the columns hold its codes).
pub(crate) fn write_metadata(
    store: &Store,
    schema: &Schema,
    format: Format,
    staging: &Path,
) -> Result<(), EngineError> {
    if store.dir().is_none() {
        return Ok(());
    }
    for name in [USERS_FILE, ITEMS_FILE] {
        // Through the handles opened with the store, not by path: the id maps must be
        // the ones of the mapped rows even if the store is re-ingested meanwhile.
        let bytes = store.id_map_bytes(name)?;
        write_file(&staging.join(metadata_name(format, name)), &bytes, false)?;
    }
    for column in &schema.columns {
        let (ColumnKind::Carried { kept, .. }, Some(file)) = (column.kind, &column.dictionary_file)
        else {
            continue;
        };
        if format != Format::Npy {
            continue;
        }
        let path = staging.join(file);
        let dictionary = store.dictionary(kept)?.expect("a string column has one");
        let io = |e| EngineError::io(&path, e);
        let mut out = BufWriter::new(File::create(&path).map_err(io)?);
        for value in dictionary.iter() {
            out.write_all(value).map_err(io)?;
            out.write_all(b"\n").map_err(io)?;
        }
        out.flush().map_err(io)?;
    }
    Ok(())
}

/// Writes a small file; with `fsync`, also forces it to disk.
pub(crate) fn write_file(path: &Path, bytes: &[u8], fsync: bool) -> Result<(), EngineError> {
    let io = |e| EngineError::io(path, e);
    let mut file = File::create(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    if fsync {
        file.sync_all().map_err(io)?;
    }
    Ok(())
}
