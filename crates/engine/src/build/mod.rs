//! A scheduled dataset build: ingest → sample → verify → publish under one root,
//! idempotent, resumable after a kill at any moment, and published atomically.
//!
//! * Identity: a build's id hashes the input's contents ([`InputFingerprint`]), the
//!   data-affecting settings, the contents of the files they name (item catalog,
//!   weights, exclusions) and the negsamp version. When `ROOT/current` already names
//!   that id, the build is up to date and does nothing.
//! * Stages are staged under `ROOT/.staging/ID` ([`root`]): the store (published there
//!   atomically by `ingest`), the dataset (published atomically by `sample`, whose
//!   finished parts survive a kill and are reused only if their checksums still
//!   match), then the full `verify` of both — a reused stage that fails it is redone
//!   once, a fresh one fails the build. Only then is `build.json` written, everything
//!   fsynced, the directory renamed to `ROOT/builds/ID`, and `ROOT/current` switched
//!   by one rename. Old builds are pruned to `keep`: never the current one, never one
//!   a process on this machine has open.
//! * One build per root at a time: an exclusive `flock` on `ROOT/.lock`, which the
//!   kernel releases when its holder dies (a killed build leaves no stale lock).

mod fingerprint;
pub mod root;

pub use fingerprint::InputFingerprint;
use root::{is_in_use, paths_in_use, Root, BUILD_FILE, DATA_DIR, STORE_DIR};

use crate::config::SampleConfig;
use crate::manifest::Manifest;
use crate::run::{sample_split, sample_to_dir};
use crate::verify::verify_output;
use crate::EngineError;
use negsamp_store::ingest::{ingest, IngestOptions};
use negsamp_store::publish::{check_disjoint, lock_with_file, remove_any};
use negsamp_store::{IngestError, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};
use thiserror::Error;

/// What to build, where.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    /// Anything `ingest` reads, except standard input (a build reads its input again
    /// to tell whether it changed).
    pub input: PathBuf,
    pub root: PathBuf,
    /// Published builds kept, the current one included (at least 1).
    pub keep: usize,
    pub ingest: IngestOptions,
    pub sample: SampleConfig,
    pub split_at: Option<negsamp_store::time::TimePoint>,
    /// The data-affecting settings as configured: hashed into the build's id and
    /// recorded in its manifest.
    pub settings: serde_json::Value,
}

/// Why a build failed. Whatever the cause, `current` still names the last good build.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cause is part of the message, not a `source()`.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} changed while the build was reading it; nothing was published — rerun the build to build the new input")]
    InputChanged { path: PathBuf },
    #[error("{0}")]
    Config(String),
    #[error("the build failed verification, so nothing was published: {0}")]
    VerifyFailed(EngineError),
}

impl BuildError {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error,
        }
    }
}

/// A step of a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Fingerprint,
    Ingest,
    Sample,
    Verify,
    Publish,
}

/// How long a stage took and the most memory the process held during it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    pub stage: Stage,
    pub seconds: f64,
    /// Peak resident set size during the stage (Linux; absent elsewhere).
    pub peak_rss_bytes: Option<u64>,
    /// Taken over from an interrupted build of the same id instead of being redone.
    pub reused: bool,
}

/// Counts of a build's store and dataset(s).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BuildCounts {
    pub users: u64,
    pub items: u64,
    pub interactions: u64,
    pub rows: u64,
    pub positives: u64,
    pub negatives: u64,
    pub shortfall: u64,
}

/// `builds/ID/build.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildManifest {
    pub format: String,
    pub format_version: u32,
    pub id: String,
    pub negsamp_version: String,
    pub input: InputRecord,
    pub settings: serde_json::Value,
    pub host: String,
    /// Unix seconds.
    pub started_at: f64,
    pub published_at: f64,
    pub stages: Vec<StageRecord>,
    pub counts: BuildCounts,
    /// The dataset directories, relative to the build (`data`, or `data/train` and
    /// `data/test`).
    pub datasets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputRecord {
    pub path: String,
    pub xxh3: String,
    pub files: u64,
    pub bytes: u64,
}

/// What happens during a build, in order, for a log or a scheduler.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BuildEvent {
    /// The input is fingerprinted and the id known.
    Planned {
        id: String,
        input: InputRecord,
        seconds: f64,
    },
    UpToDate {
        id: String,
    },
    /// Left by a build of another id that never finished.
    RemovedStale {
        path: PathBuf,
    },
    StageStarted {
        stage: Stage,
    },
    /// A reused stage failed verification and is done again.
    StageRedone {
        stage: Stage,
        reason: String,
    },
    StageFinished(StageRecord),
    Published {
        id: String,
        path: PathBuf,
    },
    Pruned {
        id: String,
    },
    /// An old build past `keep` that a process still has open: left for a later build.
    PruneSkipped {
        id: String,
    },
}

/// How a build ended.
#[derive(Debug, Clone)]
pub enum BuildOutcome {
    Built(Box<BuildManifest>),
    UpToDate { id: String },
}

/// Builds `spec` (or finds it up to date). `events` hears every step.
pub fn build(
    spec: &BuildSpec,
    events: &(dyn Fn(&BuildEvent) + Sync),
) -> Result<BuildOutcome, BuildError> {
    check(spec)?;
    let root = Root::new(&spec.root);
    root.create()?;
    let _lock = lock_with_file(&root.lock_file(), &spec.root)?;
    let started_at = unix_now();
    let mut stages = Vec::new();
    let (input, id) = measure(Stage::Fingerprint, &mut stages, events, || {
        let input = InputFingerprint::of(&spec.input)?;
        let id = build_id(spec, &input)?;
        Ok(((input, id), false))
    })?;
    let input_record = InputRecord {
        path: absolute(&spec.input),
        xxh3: input.xxh3.clone(),
        files: input.files,
        bytes: input.bytes,
    };
    events(&BuildEvent::Planned {
        id: id.clone(),
        input: input_record.clone(),
        seconds: stages[0].seconds,
    });
    if root.current().as_deref() == Some(id.as_str()) {
        events(&BuildEvent::UpToDate { id: id.clone() });
        return Ok(BuildOutcome::UpToDate { id });
    }
    for path in root.stale_staging(&id)? {
        remove_any(&path).map_err(|e| BuildError::io(&path, e))?;
        events(&BuildEvent::RemovedStale { path });
    }
    // Published by an earlier run that died before switching `current`, or an older
    // build whose input is back: it was verified before it was published.
    if let Some(manifest) = read_manifest(&root.build(&id)) {
        root.switch_current(&id)?;
        events(&BuildEvent::Published {
            id: id.clone(),
            path: root.build(&id),
        });
        prune(&root, spec.keep, events)?;
        return Ok(BuildOutcome::Built(Box::new(manifest)));
    }

    let staging = root.staging(&id);
    std::fs::create_dir_all(&staging).map_err(|e| BuildError::io(&staging, e))?;
    let store_dir = staging.join(STORE_DIR);
    let store = measure(Stage::Ingest, &mut stages, events, || {
        ingest_stage(spec, &input, &store_dir)
    })?;
    let data_dir = staging.join(DATA_DIR);
    let datasets = dataset_dirs(spec);
    let data_reused = measure(Stage::Sample, &mut stages, events, || {
        sample_stage(spec, &store, &data_dir)
    })?;
    let verified = measure(Stage::Verify, &mut stages, events, || {
        verify_stage(&store, &staging, &datasets)
    });
    if let Err(problem) = verified {
        if !data_reused {
            return Err(problem);
        }
        // The dataset was taken over from an interrupted build and is damaged: redo it.
        events(&BuildEvent::StageRedone {
            stage: Stage::Sample,
            reason: problem.to_string(),
        });
        remove_any(&data_dir).map_err(|e| BuildError::io(&data_dir, e))?;
        measure(Stage::Sample, &mut stages, events, || {
            sample_stage(spec, &store, &data_dir)
        })?;
        measure(Stage::Verify, &mut stages, events, || {
            verify_stage(&store, &staging, &datasets)
        })?;
    }

    // build.json records the stages before publishing (it is written during it).
    let recorded = stages.clone();
    let manifest = measure(Stage::Publish, &mut stages, events, || {
        let mut manifest = BuildManifest {
            format: "negsamp-build".into(),
            format_version: 1,
            id: id.clone(),
            negsamp_version: env!("CARGO_PKG_VERSION").into(),
            input: input_record.clone(),
            settings: spec.settings.clone(),
            host: host_name(),
            started_at,
            published_at: 0.0,
            stages: recorded,
            counts: counts(&store, &staging, &datasets)?,
            datasets: datasets.clone(),
        };
        remove_locks(&staging)?;
        manifest.published_at = unix_now();
        write_manifest(&staging, &manifest)?;
        root.publish(&id)?;
        root.switch_current(&id)?;
        Ok((manifest, false))
    })?;
    events(&BuildEvent::Published {
        id: id.clone(),
        path: root.build(&id),
    });
    prune(&root, spec.keep, events)?;
    Ok(BuildOutcome::Built(Box::new(BuildManifest {
        stages,
        ..manifest
    })))
}

/// What a build of `spec` would do, without writing anything: its id, whether it is
/// up to date, and which stages an interrupted build left for reuse.
#[derive(Debug, Clone, Serialize)]
pub struct BuildPlan {
    pub id: String,
    pub input: InputRecord,
    pub up_to_date: bool,
    /// `store` and/or `data` already finished under `.staging/ID`.
    pub reusable: Vec<Stage>,
    /// Published builds a successful build would prune.
    pub would_prune: Vec<String>,
}

/// The dry run: validates `spec`, fingerprints the input and reports the plan.
pub fn plan(spec: &BuildSpec) -> Result<BuildPlan, BuildError> {
    check(spec)?;
    let root = Root::new(&spec.root);
    let input = InputFingerprint::of(&spec.input)?;
    let id = build_id(spec, &input)?;
    let up_to_date = root.current().as_deref() == Some(id.as_str());
    let staging = root.staging(&id);
    let mut reusable = Vec::new();
    if Store::open(&staging.join(STORE_DIR)).is_ok() {
        reusable.push(Stage::Ingest);
    }
    if staging.join(DATA_DIR).is_dir() {
        reusable.push(Stage::Sample);
    }
    let would_prune = if up_to_date || !root.builds_dir().is_dir() {
        Vec::new()
    } else {
        // After publishing, the new build is current and counts against `keep`.
        root.published()?
            .into_iter()
            .filter(|b| *b != id)
            .skip(spec.keep.saturating_sub(1))
            .collect()
    };
    Ok(BuildPlan {
        id,
        input: InputRecord {
            path: absolute(&spec.input),
            xxh3: input.xxh3,
            files: input.files,
            bytes: input.bytes,
        },
        up_to_date,
        reusable,
        would_prune,
    })
}

/// Refuses, before anything is written, what cannot build.
fn check(spec: &BuildSpec) -> Result<(), BuildError> {
    if negsamp_store::source::is_stdin(&spec.input) {
        return Err(BuildError::Config(
            "a build cannot read standard input: it reads its input again to tell whether it changed; write the stream to a file and name that".into(),
        ));
    }
    if !spec.input.exists() {
        return Err(BuildError::io(
            &spec.input,
            std::io::Error::new(std::io::ErrorKind::NotFound, "the input does not exist"),
        ));
    }
    if spec.keep == 0 {
        return Err(BuildError::Config(
            "keep = 0: at least the current build is kept".into(),
        ));
    }
    spec.sample.validate()?;
    let mut inputs = vec![spec.input.as_path()];
    inputs.extend(spec.ingest.items_file.as_deref());
    inputs.extend(spec.sample.exclude.as_deref());
    inputs.extend(spec.sample.weights.as_deref());
    check_disjoint(&spec.root, &inputs)?;
    Ok(())
}

/// The build's identity: version, input contents, settings, and the contents of the
/// files the settings name.
fn build_id(spec: &BuildSpec, input: &InputFingerprint) -> Result<String, BuildError> {
    let named_files = spec
        .ingest
        .items_file
        .as_deref()
        .into_iter()
        .chain(spec.sample.input_files());
    let file_hashes = named_files
        .map(fingerprint::file_hash)
        .collect::<Result<Vec<_>, _>>()?;
    let identity = serde_json::json!({
        "negsamp_version": env!("CARGO_PKG_VERSION"),
        "input": input.xxh3,
        "settings": spec.settings,
        "files": file_hashes,
    });
    let bytes = serde_json::to_vec(&identity).expect("identity serialises");
    Ok(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes)))
}

/// The store, reused when an interrupted build of this id finished it (ingest
/// publishes it atomically, so present means complete; its checksums are checked).
fn ingest_stage(
    spec: &BuildSpec,
    input: &InputFingerprint,
    dir: &Path,
) -> Result<(Store, bool), BuildError> {
    if let Ok(store) = Store::open(dir) {
        if store.verify_checksums().is_ok() {
            return Ok((store, true));
        }
        drop(store);
        remove_any(dir).map_err(|e| BuildError::io(dir, e))?;
    }
    let options = IngestOptions {
        overwrite: false,
        fsync: true,
        ..spec.ingest.clone()
    };
    ingest(&spec.input, dir, &options, &|_| {})?;
    input.check_unchanged(&spec.input)?;
    Ok((Store::open(dir)?, false))
}

/// The dataset(s), unless an interrupted build of this id had published them already
/// (verify then decides whether they are kept). Returns whether they were reused.
fn sample_stage(spec: &BuildSpec, store: &Store, dir: &Path) -> Result<(bool, bool), BuildError> {
    if dir.is_dir() {
        return Ok((true, true));
    }
    let config = SampleConfig {
        overwrite: false,
        fsync: true,
        ..spec.sample.clone()
    };
    match spec.split_at {
        None => drop(sample_to_dir(store, dir, &config, &|_| {})?),
        Some(at) => drop(sample_split(store, dir, &config, at, &|_| {})?),
    }
    Ok((false, false))
}

/// The full verification of the store and of every dataset row against it: each
/// dataset's verify checks the store before its rows (so it is not checked here too).
fn verify_stage(
    store: &Store,
    staging: &Path,
    datasets: &[String],
) -> Result<((), bool), BuildError> {
    for dataset in datasets {
        verify_output(&staging.join(dataset), Some(store)).map_err(BuildError::VerifyFailed)?;
    }
    Ok(((), false))
}

fn dataset_dirs(spec: &BuildSpec) -> Vec<String> {
    match spec.split_at {
        None => vec![DATA_DIR.into()],
        Some(_) => ["train", "test"]
            .map(|side| format!("{DATA_DIR}/{side}"))
            .to_vec(),
    }
}

fn counts(store: &Store, staging: &Path, datasets: &[String]) -> Result<BuildCounts, BuildError> {
    let c = store.counts();
    let mut counts = BuildCounts {
        users: c.users,
        items: c.items,
        interactions: c.interactions,
        ..Default::default()
    };
    for dataset in datasets {
        let t = Manifest::read(&staging.join(dataset))?.totals.tally;
        counts.rows += t.rows;
        counts.positives += t.positives;
        counts.negatives += t.negatives;
        counts.shortfall += t.shortfall;
    }
    Ok(counts)
}

/// Runs one stage, recording its time and peak memory. The closure returns its value
/// and whether the stage was reused.
fn measure<T>(
    stage: Stage,
    stages: &mut Vec<StageRecord>,
    events: &(dyn Fn(&BuildEvent) + Sync),
    f: impl FnOnce() -> Result<(T, bool), BuildError>,
) -> Result<T, BuildError> {
    events(&BuildEvent::StageStarted { stage });
    crate::resources::reset_peak_rss();
    let start = Instant::now();
    let (value, reused) = f()?;
    let record = StageRecord {
        stage,
        seconds: start.elapsed().as_secs_f64(),
        peak_rss_bytes: crate::resources::peak_rss(),
        reused,
    };
    events(&BuildEvent::StageFinished(record.clone()));
    stages.push(record);
    Ok(value)
}

/// Deletes published builds past `keep`, skipping any a process has open.
fn prune(
    root: &Root,
    keep: usize,
    events: &(dyn Fn(&BuildEvent) + Sync),
) -> Result<(), BuildError> {
    let prunable = root.prunable(keep)?;
    if prunable.is_empty() {
        return Ok(());
    }
    let in_use = paths_in_use();
    for id in prunable {
        if is_in_use(&root.build(&id), &in_use) {
            events(&BuildEvent::PruneSkipped { id });
            continue;
        }
        root.remove_build(&id)?;
        events(&BuildEvent::Pruned { id });
    }
    Ok(())
}

/// The manifest of a published build, if it has one.
pub fn read_manifest(build: &Path) -> Option<BuildManifest> {
    let bytes = std::fs::read(build.join(BUILD_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write_manifest(dir: &Path, manifest: &BuildManifest) -> Result<(), BuildError> {
    let path = dir.join(BUILD_FILE);
    let json = serde_json::to_vec_pretty(manifest).expect("manifest serialises");
    crate::run::write_file(&path, &json, true)?;
    Ok(())
}

/// The lock files `ingest` and `sample` left beside their outputs (released already):
/// not part of a published build.
fn remove_locks(staging: &Path) -> Result<(), BuildError> {
    for name in [STORE_DIR, DATA_DIR] {
        let lock = negsamp_store::publish::lock_path(&staging.join(name));
        if lock.exists() {
            std::fs::remove_file(&lock).map_err(|e| BuildError::io(&lock, e))?;
        }
    }
    Ok(())
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}
