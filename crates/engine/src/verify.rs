//! Checking a dataset directory: against its manifest (files, lengths, checksums) and,
//! given its store, row by row against the sampling contract.

use crate::config::SampleConfig;
use crate::context::Context;
use crate::manifest::{Manifest, PartRecord};
use crate::npy;
use crate::user::merge_sorted;
use crate::user::Tally;
use crate::EngineError;
use negsamp_kernel::uniform::Replacement;
use negsamp_store::Store;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
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
    pub log_q: Option<Vec<f32>>,
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
    let context = store
        .map(|s| Context::load(s, &manifest.parameters))
        .transpose()?;
    let store = store.zip(context.as_ref());
    let tallies: Vec<Tally> = manifest
        .parts
        .par_iter()
        .map(|part| {
            let names: Vec<String> = part.files.iter().map(|f| f.name.clone()).collect();
            let expected: Vec<String> = manifest
                .columns
                .iter()
                .map(|c| format!("{}.npy", c.name))
                .collect();
            if names != expected {
                return Err(EngineError::invalid(
                    dir.join(&part.name),
                    format!("files {names:?}, expected {expected:?}"),
                ));
            }
            let data = read_part(&dir.join(&part.name), part)?;
            match store {
                Some((store, context)) => check_rows(
                    &dir.join(&part.name),
                    part,
                    &data,
                    store,
                    context,
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
pub fn read_part(dir: &Path, record: &PartRecord) -> Result<PartData, EngineError> {
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
    let listed = |name: &str| record.files.iter().any(|f| f.name == format!("{name}.npy"));
    Ok(PartData {
        user: read_column(dir, "user")?,
        item: read_column(dir, "item")?,
        label: read_column(dir, "label")?,
        anchor: read_column(dir, "anchor")?,
        timestamp: listed("timestamp")
            .then(|| read_column(dir, "timestamp"))
            .transpose()?,
        log_q: listed("log_q")
            .then(|| read_column(dir, "log_q"))
            .transpose()?,
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
    context: &Context,
    config: &SampleConfig,
) -> Result<Tally, EngineError> {
    let mut excluded = Vec::new();
    let fail =
        |row: usize, problem: String| EngineError::invalid(dir, format!("row {row}: {problem}"));
    let mut tally = Tally {
        rows: data.user.len() as u64,
        ..Default::default()
    };
    let mut at = 0usize;
    let mut seen = HashSet::new();
    let mut per_anchor = HashMap::new();
    let mut position_of_row: Vec<(u64, usize)> = Vec::new();
    for u in part.users[0]..part.users[1] {
        let view = store.user(u)?;
        let begin = at;
        while at < data.user.len() && data.user[at] == u {
            at += 1;
        }
        let rows = begin..at;
        let k = view.items.len();
        merge_sorted(view.items, context.exclusions.of(u), &mut excluded);
        let (candidates, mass) = match &context.weights {
            None => {
                let m = u64::from(store.n_items()) - excluded.len() as u64;
                (m, m)
            }
            Some(w) => {
                let heavy = excluded.iter().filter(|&&i| w.weight(i) > 0).count() as u64;
                (
                    w.positive_items() - heavy,
                    w.total() - excluded.iter().map(|&i| w.weight(i)).sum::<u64>(),
                )
            }
        };
        let weight = |i: u32| context.weights.as_ref().map_or(1, |w| w.weight(i));
        let mut positives_seen = 0usize;
        let mut negatives = 0u64;
        let mut current_anchor: Option<u64> = None;
        let mut last_positive_key: Option<(i64, u64)> = None;
        seen.clear();
        per_anchor.clear();
        // Source row → position among the user's positives, sorted for binary search:
        // a linear scan per row would make verify quadratic in a heavy user's degree.
        position_of_row.clear();
        position_of_row.extend(view.rows.iter().enumerate().map(|(j, &row)| (row, j)));
        position_of_row.sort_unstable();
        for r in rows {
            let item = data.item[r];
            let j = position_of_row
                .binary_search_by_key(&data.anchor[r], |&(row, _)| row)
                .map(|at| position_of_row[at].1)
                .map_err(|_| {
                    fail(
                        r,
                        format!("anchor {} is not a positive of user {u}", data.anchor[r]),
                    )
                })?;
            let ts = view.timestamps.map(|t| t[j]);
            if data.timestamp.as_ref().map(|t| t[r]) != ts {
                return Err(fail(r, "timestamp differs from the anchor's".into()));
            }
            if config
                .split
                .is_some_and(|split| !split.keeps(ts.unwrap_or(i64::MIN)))
            {
                return Err(fail(
                    r,
                    "anchor timestamp is on the other side of the split".into(),
                ));
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
                    if data.log_q.as_ref().is_some_and(|q| !q[r].is_nan()) {
                        return Err(fail(r, "log_q of a positive row must be NaN".into()));
                    }
                    current_anchor = Some(data.anchor[r]);
                    positives_seen += 1;
                }
                0 => {
                    if item >= store.n_items()
                        || excluded.binary_search(&item).is_ok()
                        || weight(item) == 0
                    {
                        return Err(fail(r, format!("negative item {item} is a positive or excluded item of user {u}, outside the catalog, or of weight 0")));
                    }
                    if let Some(log_q) = &data.log_q {
                        let expected = (weight(item) as f64).ln() - (mass as f64).ln();
                        if (f64::from(log_q[r]) - expected).abs() > 1e-5 * expected.abs().max(1.0) {
                            return Err(fail(
                                r,
                                format!("log_q {} differs from log(w/W) = {expected}", log_q[r]),
                            ));
                        }
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
                    *per_anchor.entry(data.anchor[r]).or_insert(0u64) += 1;
                }
                other => return Err(fail(r, format!("label {other}"))),
            }
        }
        // The anchors this dataset holds: all of the user's positives, or those on
        // this side of a split.
        let on_side = |j: usize| {
            config
                .split
                .is_none_or(|split| split.keeps(view.timestamps.map_or(i64::MIN, |t| t[j])))
        };
        let anchors = (0..k).filter(|&j| on_side(j)).count();
        if !config.negatives_only && positives_seen != anchors {
            return Err(fail(
                at,
                format!("user {u} has {positives_seen} positive rows, expected {anchors}"),
            ));
        }
        let request = config.amount.request(k);
        let exact = match config.replacement {
            _ if candidates == 0 => 0,
            Replacement::With => request,
            Replacement::Without => request.min(candidates),
        };
        // A kernel that may fall short produced some t <= exact, known only when the
        // dataset holds every anchor.
        let expected = if config.kernel.may_fall_short() && config.split.is_none() {
            negatives.min(exact)
        } else {
            exact
        };
        // Every anchor holds ⌊t/k⌋ or ⌈t/k⌉ of the user's t negatives.
        let (low, high) = if k == 0 {
            (0, 0)
        } else {
            (expected / k as u64, expected.div_ceil(k as u64))
        };
        for j in (0..k).filter(|&j| on_side(j)) {
            let count = per_anchor.get(&view.rows[j]).copied().unwrap_or(0);
            if !(low..=high).contains(&count) {
                return Err(fail(
                    at,
                    format!(
                        "user {u}: anchor row {} has {count} negatives, expected {low}..={high}",
                        view.rows[j]
                    ),
                ));
            }
        }
        if config.split.is_none() && negatives != expected {
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
