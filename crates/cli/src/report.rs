//! The summaries of `ingest` and `sample` as JSON objects: the CLI's `--json` /
//! `--log-format json` events and the Python package's return values.

use negsamp_engine::RunSummary;
use negsamp_store::ingest::IngestSummary;
use serde_json::{json, Value};
use std::path::Path;

/// An ingest's counts, kept columns, notes and speed.
pub fn ingest(input: &Path, store: &Path, summary: &IngestSummary) -> Value {
    json!({
        "input": input,
        "store": store,
        "rows": summary.rows,
        "bad_rows": summary.bad_rows,
        "duplicates": summary.duplicates,
        "users": summary.users,
        "items": summary.items,
        "interactions": summary.interactions,
        "has_timestamps": summary.has_timestamps,
        "time_unit": summary.time_unit,
        "time_range": summary.time_range,
        "kept": summary.kept.iter().map(|(n, t)| format!("{n}:{t}")).collect::<Vec<_>>(),
        "notes": summary.notes,
        "bytes": summary.bytes,
        "fingerprint": format!("{:016x}", summary.fingerprint),
        "seconds": summary.elapsed.as_secs_f64(),
    })
}

/// One sampled dataset's counts and speed.
pub fn sample(store: &Path, out: &Path, summary: &RunSummary) -> Value {
    let t = summary.manifest.totals.tally;
    json!({
        "store": store,
        "out": out,
        "rows": t.rows,
        "positives": t.positives,
        "negatives": t.negatives,
        "users_short": t.users_short,
        "shortfall": t.shortfall,
        "exclusions_applied": summary.manifest.totals.exclusions_applied,
        "exclusions_skipped": summary.manifest.totals.exclusions_skipped,
        "parts": summary.manifest.parts.len(),
        "resumed_parts": summary.resumed_parts,
        "seconds": summary.elapsed.as_secs_f64(),
    })
}

/// `value` with an `event` key first in line, for the JSON log.
pub fn event(name: &str, value: Value) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("event".into(), name.into());
    if let Value::Object(fields) = value {
        object.extend(fields);
    }
    Value::Object(object)
}
