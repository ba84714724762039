//! Checking a dataset directory: against its manifest (files, lengths, checksums) and,
//! given its store, row by row against the sampling contract.

use crate::config::SampleConfig;
use crate::manifest::{Manifest, PartRecord};
use crate::npy;
use crate::user::Tally;
use crate::EngineError;
use negsamp_kernel::uniform::Replacement;
use negsamp_store::Store;
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::Path;
use xxhash_rust::xxh3::xxh3_64;

/// The columns of one part, read whole.
#[derive(Debug, Default)]
pub struct PartData {
    pub user: Vec<u32>,
    pub item: Vec<u32>,
    pub label: Vec<u8>,
    pub anchor: Vec<u64>,
    pub timestamp: Option<Vec<i64>>,
}

/// What verification established.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub parts: usize,
    pub rows: u64,
    /// Whether the rows were also checked against the store.
    pub checked_against_store: bool,
}

/// Verifies `dir`. Without a store only the manifest's promises about files are
/// checked; with one, every row is.
pub fn verify_output(dir: &Path, store: Option<&Store>) -> Result<VerifyReport, EngineError> {
    let manifest = Manifest::read(dir)?;
    if let Some(store) = store {
        let fingerprint = format!("{:016x}", store.fingerprint());
        if fingerprint != manifest.store.fingerprint {
            return Err(EngineError::invalid(
                dir,
                format!(
                    "sampled from store {} but checked against store {fingerprint}",
                    manifest.store.fingerprint
                ),
            ));
        }
    }
    let mut next_user = 0u32;
    for part in &manifest.parts {
        if part.users[0] != next_user || part.users[1] < part.users[0] {
            return Err(EngineError::invalid(
                dir.join(&part.name),
                "parts do not cover the users in order",
            ));
        }
        next_user = part.users[1];
    }
    if u64::from(next_user) != manifest.totals.users {
        return Err(EngineError::invalid(dir, "parts do not cover every user"));
    }
    let tallies: Vec<Tally> = manifest
        .parts
        .par_iter()
        .map(|part| {
            let data = read_part(&dir.join(&part.name), part, manifest.store.has_timestamps)?;
            match store {
                Some(store) => check_rows(
                    &dir.join(&part.name),
                    part,
                    &data,
                    store,
                    &manifest.parameters,
                ),
                None => Ok(part.tally),
            }
        })
        .collect::<Result<_, _>>()?;
    let mut total = Tally::default();
    for (t, part) in tallies.iter().zip(&manifest.parts) {
        if *t != part.tally {
            return Err(EngineError::invalid(
                dir.join(&part.name),
                format!("counts {t:?} differ from the manifest's {:?}", part.tally),
            ));
        }
        total.add(t);
    }
    if total != manifest.totals.tally {
        return Err(EngineError::invalid(
            dir,
            "totals differ from the sum of the parts",
        ));
    }
    Ok(VerifyReport {
        parts: manifest.parts.len(),
        rows: total.rows,
        checked_against_store: store.is_some(),
    })
}

/// Reads a part's files, checking sizes and checksums against its record.
pub fn read_part(
    dir: &Path,
    record: &PartRecord,
    has_timestamps: bool,
) -> Result<PartData, EngineError> {
    let expected = crate::manifest::columns(has_timestamps);
    if record.files.len() != expected.len() {
        return Err(EngineError::invalid(
            dir,
            format!(
                "{} files listed, expected {}",
                record.files.len(),
                expected.len()
            ),
        ));
    }
    for f in &record.files {
        let path = dir.join(&f.name);
        let bytes = std::fs::read(&path).map_err(|e| EngineError::io(&path, e))?;
        let info = npy::parse_header(&bytes).map_err(|e| EngineError::io(&path, e))?;
        if bytes.len() as u64 != f.bytes || info.len != record.tally.rows {
            return Err(EngineError::invalid(
                &path,
                format!(
                    "{} bytes / {} rows, manifest says {} / {}",
                    bytes.len(),
                    info.len,
                    f.bytes,
                    record.tally.rows
                ),
            ));
        }
        let got = format!("{:016x}", xxh3_64(&bytes[info.data_offset..]));
        if got != f.xxh3 {
            return Err(EngineError::invalid(
                &path,
                format!("checksum {got} differs from the manifest's {}", f.xxh3),
            ));
        }
    }
    Ok(PartData {
        user: read_column(dir, "user")?,
        item: read_column(dir, "item")?,
        label: read_column(dir, "label")?,
        anchor: read_column(dir, "anchor")?,
        timestamp: if has_timestamps {
            Some(read_column(dir, "timestamp")?)
        } else {
            None
        },
    })
}

fn read_column<T: npy::Dtype>(dir: &Path, name: &str) -> Result<Vec<T>, EngineError> {
    let path = dir.join(format!("{name}.npy"));
    npy::read(&path).map_err(|e| EngineError::io(&path, e))
}

/// Walks a part's rows user by user and checks the contract; returns the counts found.
fn check_rows(
    dir: &Path,
    part: &PartRecord,
    data: &PartData,
    store: &Store,
    config: &SampleConfig,
) -> Result<Tally, EngineError> {
    let fail =
        |row: usize, problem: String| EngineError::invalid(dir, format!("row {row}: {problem}"));
    let mut tally = Tally {
        rows: data.user.len() as u64,
        ..Default::default()
    };
    let mut at = 0usize;
    let mut seen = HashSet::new();
    for u in part.users[0]..part.users[1] {
        let view = store.user(u)?;
        let begin = at;
        while at < data.user.len() && data.user[at] == u {
            at += 1;
        }
        let rows = begin..at;
        let k = view.items.len();
        let mut positives_seen = 0usize;
        let mut negatives = 0u64;
        let mut current_anchor: Option<u64> = None;
        let mut last_positive_key: Option<(i64, u64)> = None;
        seen.clear();
        for r in rows {
            let item = data.item[r];
            let j = view
                .rows
                .iter()
                .position(|&row| row == data.anchor[r])
                .ok_or_else(|| {
                    fail(
                        r,
                        format!("anchor {} is not a positive of user {u}", data.anchor[r]),
                    )
                })?;
            let ts = view.timestamps.map(|t| t[j]);
            if data.timestamp.as_ref().map(|t| t[r]) != ts {
                return Err(fail(r, "timestamp differs from the anchor's".into()));
            }
            match data.label[r] {
                1 => {
                    if config.negatives_only || item != view.items[j] {
                        return Err(fail(r, "unexpected positive row".into()));
                    }
                    let key = (ts.unwrap_or(0), data.anchor[r]);
                    if last_positive_key.is_some_and(|last| last >= key) {
                        return Err(fail(
                            r,
                            "positives are not in (timestamp, row) order".into(),
                        ));
                    }
                    last_positive_key = Some(key);
                    current_anchor = Some(data.anchor[r]);
                    positives_seen += 1;
                }
                0 => {
                    if item >= store.n_items() || view.items.binary_search(&item).is_ok() {
                        return Err(fail(r, format!("negative item {item} is a positive of user {u} or outside the catalog")));
                    }
                    if !config.negatives_only && current_anchor != Some(data.anchor[r]) {
                        return Err(fail(
                            r,
                            "negative does not follow its anchor's positive".into(),
                        ));
                    }
                    if config.replacement == Replacement::Without && !seen.insert(item) {
                        return Err(fail(
                            r,
                            format!("negative item {item} repeated for user {u}"),
                        ));
                    }
                    negatives += 1;
                }
                other => return Err(fail(r, format!("label {other}"))),
            }
        }
        if !config.negatives_only && positives_seen != k {
            return Err(fail(
                at,
                format!("user {u} has {positives_seen} positive rows, the store {k}"),
            ));
        }
        let request = config.amount.request(k);
        let candidates = u64::from(store.n_items()) - k as u64;
        let expected = match config.replacement {
            _ if candidates == 0 => 0,
            Replacement::With => request,
            Replacement::Without => request.min(candidates),
        };
        if negatives != expected {
            return Err(fail(
                at,
                format!("user {u} has {negatives} negatives, expected {expected}"),
            ));
        }
        tally.positives += positives_seen as u64;
        tally.negatives += negatives;
        tally.shortfall += request - expected;
        tally.users_short += u64::from(request > expected);
    }
    if at != data.user.len() {
        return Err(fail(
            at,
            format!("user {} is outside the part or out of order", data.user[at]),
        ));
    }
    Ok(tally)
}
