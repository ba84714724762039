//! `manifest.json`: what a dataset directory holds and how it was made.

use crate::config::{Format, SampleConfig};
use crate::schema::{Dtype, Schema};
use crate::user::Tally;
use crate::EngineError;
use negsamp_store::time::TimeUnit;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FORMAT: &str = "negsamp-samples";
/// Version 2: run-time columns (widths, dictionaries), per-column logical checksums,
/// Parquet parts.
pub const FORMAT_VERSION: u32 = 2;
pub const MANIFEST_FILE: &str = "manifest.json";

/// The name under which a dataset of `format` stores the metadata file `name`
/// (`manifest.json`, `users.txt`, …): Parquet readers (pyarrow, Spark) read every file
/// of a directory except those starting with `_` or `.`, so beside Parquet parts
/// metadata is `_`-prefixed.
pub fn metadata_name(format: Format, name: &str) -> String {
    match format {
        Format::Npy => name.to_owned(),
        Format::Parquet => format!("_{name}"),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub negsamp_version: String,
    pub parameters: SampleConfig,
    pub store: StoreRef,
    pub columns: Vec<ColumnSpec>,
    /// The value padding `history` and `negatives` matrices (the item count: never an
    /// item, and a ready `padding_idx` for an embedding of `items + 1` rows).
    pub pad: u32,
    pub parts: Vec<PartRecord>,
    pub totals: Totals,
    pub elapsed_seconds: f64,
}

/// The store a dataset was sampled from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRef {
    /// Absolute path at sampling time (empty for an in-memory store).
    pub path: String,
    /// `Store::fingerprint`, hex.
    pub fingerprint: String,
    pub users: u64,
    pub items: u64,
    pub interactions: u64,
    pub has_timestamps: bool,
    /// The unit of the store's timestamps, and so of the `timestamp` column and of
    /// `parameters.split.at` (`s`, `ms`, `us` or `ns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_unit: Option<TimeUnit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    pub dtype: Dtype,
    /// Values per row when more than one (a `[rows, width]` matrix in `.npy`).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub width: usize,
    /// A string column's dictionary file (`.npy` output: codes in the column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dictionary: Option<String>,
}

fn one() -> usize {
    1
}

fn is_one(w: &usize) -> bool {
    *w == 1
}

impl ColumnSpec {
    /// The manifest's description of a schema's columns.
    pub fn of(schema: &Schema) -> Vec<ColumnSpec> {
        schema
            .columns
            .iter()
            .map(|c| ColumnSpec {
                name: c.name.clone(),
                dtype: c.dtype,
                width: c.width,
                dictionary: c.dictionary_file.clone(),
            })
            .collect()
    }
}

/// One part: its user range, counts, and a checksum per column file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub name: String,
    /// Dense user indices `[start, end)`.
    pub users: [u32; 2],
    #[serde(flatten)]
    pub tally: Tally,
    pub files: Vec<FileRecord>,
    /// Per sampled column, XXH3-64 of its values as little-endian bytes (exactly a
    /// `.npy` file's data): the same for every file format of one run.
    pub columns: Vec<ColumnHash>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Relative to the part's directory (`.npy`) or the dataset (Parquet).
    pub name: String,
    pub bytes: u64,
    /// XXH3-64 of the array data (`.npy`: the bytes after the header) or of the whole
    /// file (Parquet), hex.
    pub xxh3: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnHash {
    pub name: String,
    pub xxh3: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    #[serde(flatten)]
    pub tally: Tally,
    pub users: u64,
    pub parts: u64,
    /// `--exclude` pairs skipped by `--skip-unknown`.
    #[serde(default)]
    pub exclusions_skipped: u64,
    /// Distinct `--exclude` (user, item) pairs applied.
    #[serde(default)]
    pub exclusions_applied: u64,
}

impl Manifest {
    /// Whether `dir` holds a dataset's manifest (of either format).
    pub fn exists(dir: &Path) -> bool {
        [Format::Npy, Format::Parquet]
            .iter()
            .any(|&f| dir.join(metadata_name(f, MANIFEST_FILE)).exists())
    }

    /// Reads the manifest of the dataset at `dir`, whichever its format.
    pub fn read(dir: &Path) -> Result<Self, EngineError> {
        let parquet = dir.join(metadata_name(Format::Parquet, MANIFEST_FILE));
        let path = if parquet.exists() {
            parquet
        } else {
            dir.join(MANIFEST_FILE)
        };
        let text = std::fs::read_to_string(&path).map_err(|e| EngineError::io(&path, e))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| EngineError::invalid(&path, format!("unreadable manifest: {e}")))?;
        if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
            return Err(EngineError::invalid(
                &path,
                format!(
                    "format {} v{} is not {FORMAT} v{FORMAT_VERSION}",
                    manifest.format, manifest.format_version
                ),
            ));
        }
        Ok(manifest)
    }
}

/// Part names: `part-00000`, `part-00001`, … (a directory of `.npy` files, or with
/// `.parquet` a file).
pub fn part_name(index: usize) -> String {
    format!("part-{index:05}")
}

impl Manifest {
    /// The name of metadata file `name` in this dataset.
    pub fn metadata(&self, name: &str) -> String {
        metadata_name(self.parameters.format, name)
    }
}
