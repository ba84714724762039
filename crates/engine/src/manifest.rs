//! `manifest.json`: what a dataset directory holds and how it was made.

use crate::config::SampleConfig;
use crate::user::Tally;
use crate::EngineError;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FORMAT: &str = "negsamp-samples";
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";

/// Every column a part can hold, in file order: name, NumPy dtype, element size.
pub const COLUMNS: [(&str, &str, usize); 6] = [
    ("user", "<u4", 4),
    ("item", "<u4", 4),
    ("label", "|u1", 1),
    ("anchor", "<u8", 8),
    ("timestamp", "<i8", 8),
    ("log_q", "<f4", 4),
];

/// The columns present, as indices into [`COLUMNS`]: `timestamp` when the store has
/// timestamps, `log_q` when asked for.
pub fn columns(has_timestamps: bool, log_q: bool) -> Vec<usize> {
    (0..COLUMNS.len())
        .filter(|&c| match COLUMNS[c].0 {
            "timestamp" => has_timestamps,
            "log_q" => log_q,
            _ => true,
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub negsamp_version: String,
    pub parameters: SampleConfig,
    pub store: StoreRef,
    pub columns: Vec<ColumnSpec>,
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    pub dtype: String,
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub name: String,
    pub bytes: u64,
    /// XXH3-64 of the array data (the bytes after the `.npy` header), hex.
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
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Self, EngineError> {
        let path = dir.join(MANIFEST_FILE);
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

/// Part directory names: `part-00000`, `part-00001`, …
pub fn part_name(index: usize) -> String {
    format!("part-{index:05}")
}
