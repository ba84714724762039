//! Running a sampling job into a dataset directory: the schema and context built
//! once, parts planned and written through a sink (`part`), staged, resumed and
//! published atomically with a manifest (`staging`).

pub(crate) mod part;
mod staging;
mod store_check;

use crate::config::{SampleConfig, Side, Split};
use crate::context::Context;
use crate::manifest::{ColumnSpec, Manifest, PartRecord, StoreRef, Totals, MANIFEST_FILE};
use crate::plan;
use crate::schema::Schema;
use crate::write::{load_ids, PartPaths};
use crate::EngineError;
use negsamp_store::publish::{
    check_disjoint, lock_destination, publish, staging_path, DestinationLock,
};
use negsamp_store::time::TimePoint;
use negsamp_store::Store;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};
pub(crate) use store_check::{StoreCheck, StoreCheckDepth};

pub(crate) use staging::{remove_stale, write_file};

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub manifest: Manifest,
    /// Parts taken over from an interrupted run instead of being recomputed.
    pub resumed_parts: usize,
    pub elapsed: Duration,
}

/// Samples every user of `store` into the dataset directory `out`. `progress` gets the
/// number of users finished so far.
pub fn sample_to_dir(
    store: &Store,
    out: &Path,
    config: &SampleConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunSummary, EngineError> {
    config.validate()?;
    let _lock = claim_output(store, out, config)?;
    sample_unlocked(store, out, config, progress)
}

/// Refuses an output that overlaps the run's inputs, then takes its lock for the run.
fn claim_output(
    store: &Store,
    out: &Path,
    config: &SampleConfig,
) -> Result<DestinationLock, EngineError> {
    let mut inputs: Vec<&Path> = store.dir().into_iter().collect();
    inputs.extend(config.exclude.as_deref());
    inputs.extend(config.weights.as_deref());
    check_disjoint(out, &inputs)?;
    Ok(lock_destination(out)?)
}

/// `sample_to_dir` for a caller that holds the output's lock.
fn sample_unlocked(
    store: &Store,
    out: &Path,
    config: &SampleConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<RunSummary, EngineError> {
    let start = Instant::now();
    config.validate()?;
    std::thread::scope(|scope| {
        let checks = StoreCheck::start(scope, store, StoreCheckDepth::Checksums)?;
        sample_checked(store, out, config, progress, &checks, start)
            .map_err(|error| checks.explain(error))
    })
}

/// The run itself, its store's checksums being taken alongside by `checks`: nothing
/// is published before they have passed.
fn sample_checked(
    store: &Store,
    out: &Path,
    config: &SampleConfig,
    progress: &(dyn Fn(u64) + Sync),
    checks: &StoreCheck<'_>,
    start: Instant,
) -> Result<RunSummary, EngineError> {
    if out.exists() && !config.overwrite {
        return Err(EngineError::AlreadyExists {
            path: out.to_path_buf(),
        });
    }
    let schema = Schema::new(store, config)?;
    let context = Context::load(store, config)?;
    let ids = load_ids(store, &schema, config.format)?;
    check_resources(store, out, config, &schema)?;
    let parts = plan::parts(store.indptr(), config, &schema);
    let key = staging::RunKey::new(
        store,
        config,
        parts.iter().map(|p| [p.start, p.end]).collect(),
    )?;
    let staging = staging_path(out);
    staging::prepare(&staging, &key)?;
    staging::write_metadata(store, &schema, config.format, &staging)?;

    let job = part::PartJob {
        store,
        context: &context,
        config,
        schema: &schema,
        ids: &ids,
    };
    let columns = ColumnSpec::of(&schema);
    let mut records = Vec::with_capacity(parts.len());
    let mut resumed_parts = 0;
    let mut users_done = 0u64;
    for (index, users) in parts.iter().enumerate() {
        let paths = PartPaths::new(&staging, config.format, index);
        let record = match part::finished_part(&paths, config.format, &columns) {
            Some(record) => {
                resumed_parts += 1;
                record
            }
            None => {
                // A part left damaged (or unrecorded) by an earlier run is replaced.
                if paths.finished.exists() {
                    staging::remove_stale(&paths.finished)?;
                }
                job.write(index, users.clone(), &paths, checks, &|n| {
                    progress(users_done + n)
                })?
            }
        };
        users_done += u64::from(users.end - users.start);
        progress(users_done);
        records.push(record);
    }

    let mut manifest = build_manifest(store, config, &schema, records, start.elapsed());
    manifest.totals.exclusions_skipped = context.exclusions.skipped;
    manifest.totals.exclusions_applied = context.exclusions.len();
    let path = staging.join(manifest.metadata(MANIFEST_FILE));
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    staging::write_file(&path, &json, config.fsync)?;
    checks.passed()?;
    publish(&staging, out, config.overwrite).map_err(|e| EngineError::io(out, e))?;
    Ok(RunSummary {
        manifest,
        resumed_parts,
        elapsed: start.elapsed(),
    })
}

/// Samples `store` once per side of a time split at `at`: `out/train/` holds the rows
/// whose anchor timestamp is before `at` (an ISO date taken in the store's time unit),
/// `out/test/` the rest, each a complete dataset with its own manifest. Both are built
/// inside one staging directory and published together; a finished side is reused when
/// the same command is rerun.
pub fn sample_split(
    store: &Store,
    out: &Path,
    config: &SampleConfig,
    at: TimePoint,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<[RunSummary; 2], EngineError> {
    let Some(unit) = store.time_unit() else {
        return Err(EngineError::Config(
            "--split-at needs timestamps, and this store has none; ingest with a time column"
                .into(),
        ));
    };
    let at = at.in_unit(unit).ok_or_else(|| {
        EngineError::Config(format!(
            "--split-at is out of range for this store's timestamps (Unix {})",
            unit.words()
        ))
    })?;
    let train = Split {
        at,
        side: Side::Train,
    };
    SampleConfig {
        split: Some(train),
        ..config.clone()
    }
    .validate()?;
    let _lock = claim_output(store, out, config)?;
    if out.exists() && !config.overwrite {
        return Err(EngineError::AlreadyExists {
            path: out.to_path_buf(),
        });
    }
    let staging = staging_path(out);
    // The split's own key: a staging directory left by another job (an unsplit run,
    // another store, other parameters or input files) is cleared, not mixed in.
    let split_config = SampleConfig {
        split: Some(train),
        ..config.clone()
    };
    let key = staging::RunKey::new(store, &split_config, Vec::new())?;
    staging::prepare(&staging, &key)?;
    let fingerprint = key.store_fingerprint.clone();
    let run_side = |side| -> Result<RunSummary, EngineError> {
        let side_config = SampleConfig {
            split: Some(Split { at, side }),
            overwrite: true,
            ..config.clone()
        };
        let dir = staging.join(side.name());
        let recorded = Manifest::read(&dir).ok();
        let same = |m: &Manifest| {
            m.store.fingerprint == fingerprint
                && serde_json::to_value(&m.parameters).ok()
                    == serde_json::to_value(&side_config).ok()
        };
        match recorded {
            Some(manifest) if same(&manifest) => {
                let resumed_parts = manifest.parts.len();
                Ok(RunSummary {
                    manifest,
                    resumed_parts,
                    elapsed: Duration::ZERO,
                })
            }
            _ => sample_unlocked(store, &dir, &side_config, progress),
        }
    };
    let summaries = [run_side(Side::Train)?, run_side(Side::Test)?];
    publish(&staging, out, config.overwrite).map_err(|e| EngineError::io(out, e))?;
    Ok(summaries)
}

/// Refuses, before anything is allocated or written, a run whose output cannot fit the
/// output's filesystem or whose largest user cannot fit in memory (a work chunk holds a
/// user's rows whole), and more parts than users.
fn check_resources(
    store: &Store,
    out: &Path,
    config: &SampleConfig,
    schema: &Schema,
) -> Result<(), EngineError> {
    let users = store.n_users().max(1);
    if let Some(shards) = config.shards.filter(|&s| s > users) {
        return Err(EngineError::Config(format!(
            "--shards {shards} exceeds the store's {users} users; a part holds whole users, so at most {users}"
        )));
    }
    let indptr = store.indptr();
    let heaviest = indptr.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0) as usize;
    let one_user = plan::estimated_bytes(&[0, heaviest as u64], config, schema);
    crate::resources::check_fits_in_memory(
        || format!("the heaviest user ({heaviest} positives) at this --ratio/--per-user"),
        one_user,
        "every user's rows are built in memory; lower --ratio or --per-user",
    )?;
    let total = plan::estimated_bytes(indptr, config, schema);
    let parent = std::path::absolute(out)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| Path::new(".").to_path_buf());
    if let Ok(fs) = rustix::fs::statvfs(&parent) {
        let available = fs.f_bavail.saturating_mul(fs.f_frsize);
        if total > available {
            return Err(EngineError::TooLarge {
                what: format!("the output ({} .npy bytes estimated)", total),
                needed: total,
                available,
                hint: "free space on the output's filesystem, choose another --out, or lower --ratio/--per-user",
            });
        }
    }
    Ok(())
}

fn build_manifest(
    store: &Store,
    config: &SampleConfig,
    schema: &Schema,
    parts: Vec<PartRecord>,
    elapsed: Duration,
) -> Manifest {
    let mut totals = Totals {
        users: u64::from(store.n_users()),
        parts: parts.len() as u64,
        ..Default::default()
    };
    for p in &parts {
        totals.tally.add(&p.tally);
    }
    let path = store
        .dir()
        .map(|d| fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()));
    Manifest {
        format: crate::manifest::FORMAT.into(),
        format_version: crate::manifest::FORMAT_VERSION,
        negsamp_version: env!("CARGO_PKG_VERSION").into(),
        parameters: config.clone(),
        store: StoreRef {
            path: path
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            fingerprint: format!("{:016x}", store.fingerprint()),
            users: store.counts().users,
            items: store.counts().items,
            interactions: store.counts().interactions,
            has_timestamps: store.has_timestamps(),
            time_unit: store.time_unit(),
        },
        columns: ColumnSpec::of(schema),
        pad: schema.pad,
        parts,
        totals,
        elapsed_seconds: elapsed.as_secs_f64(),
    }
}
