//! Running a sampling job into a dataset directory.

use crate::config::{SampleConfig, Side, Split};
use crate::context::Context;
use crate::manifest::{
    self, part_name, ColumnSpec, FileRecord, Manifest, PartRecord, StoreRef, Totals, MANIFEST_FILE,
};
use crate::npy::{self, HEADER_LEN};
use crate::plan;
use crate::user::{Columns, Tally, UserSampler};
use crate::EngineError;
use negsamp_store::publish::{publish, remove_any, staging_path};
use negsamp_store::{Store, ITEMS_FILE, USERS_FILE};
use rayon::prelude::*;
use serde::Serialize;
use std::fs::{self, File};
use std::io::{Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use xxhash_rust::xxh3::Xxh3;

/// Identifies a run for resumption: a staging directory is only reused by a run with
/// the same store, parameters and part plan.
const RUN_FILE: &str = "run.json";
/// Marks a finished part inside its directory.
const PART_FILE: &str = "part.json";

#[derive(Debug, Serialize)]
struct RunKey {
    store_fingerprint: String,
    parameters: SampleConfig,
    parts: Vec<[u32; 2]>,
}

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
    let start = Instant::now();
    config.validate()?;
    if out.exists() && !config.overwrite {
        return Err(EngineError::AlreadyExists {
            path: out.to_path_buf(),
        });
    }
    let context = Context::load(store, config)?;
    let parts = plan::parts(store.indptr(), config);
    let key = RunKey {
        store_fingerprint: format!("{:016x}", store.fingerprint()),
        parameters: config.clone(),
        parts: parts.iter().map(|p| [p.start, p.end]).collect(),
    };
    let staging = staging_path(out);
    prepare_staging(&staging, &key)?;
    copy_id_maps(store, &staging)?;

    let mut records = Vec::with_capacity(parts.len());
    let mut resumed_parts = 0;
    let mut users_done = 0u64;
    for (index, users) in parts.iter().enumerate() {
        let dir = staging.join(part_name(index));
        let record = match finished_part(&dir) {
            Some(record) => {
                resumed_parts += 1;
                record
            }
            None => write_part(store, &context, config, users.clone(), &dir, &|n| {
                progress(users_done + n)
            })?,
        };
        users_done += u64::from(users.end - users.start);
        progress(users_done);
        records.push(record);
    }

    let mut manifest = build_manifest(store, config, records, start.elapsed());
    manifest.totals.exclusions_skipped = context.exclusions.skipped;
    let path = staging.join(MANIFEST_FILE);
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    write_file(&path, &json, config.fsync)?;
    publish(&staging, out, config.overwrite).map_err(|e| EngineError::io(out, e))?;
    Ok(RunSummary {
        manifest,
        resumed_parts,
        elapsed: start.elapsed(),
    })
}

/// Samples `store` once per side of a time split at `at`: `out/train/` holds the rows
/// whose anchor timestamp is before `at`, `out/test/` the rest, each a complete
/// dataset with its own manifest. Both are built inside one staging directory and
/// published together; a finished side is reused when the same command is rerun.
pub fn sample_split(
    store: &Store,
    out: &Path,
    config: &SampleConfig,
    at: i64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<[RunSummary; 2], EngineError> {
    let train = Split {
        at,
        side: Side::Train,
    };
    SampleConfig {
        split: Some(train),
        ..config.clone()
    }
    .validate()?;
    if !store.has_timestamps() {
        return Err(EngineError::Config(
            "--split-at needs timestamps, and this store has none; ingest with a time column"
                .into(),
        ));
    }
    if out.exists() && !config.overwrite {
        return Err(EngineError::AlreadyExists {
            path: out.to_path_buf(),
        });
    }
    let staging = staging_path(out);
    fs::create_dir_all(&staging).map_err(|e| EngineError::io(&staging, e))?;
    let run_side = |side| -> Result<RunSummary, EngineError> {
        let side_config = SampleConfig {
            split: Some(Split { at, side }),
            overwrite: true,
            ..config.clone()
        };
        let dir = staging.join(side.name());
        let recorded = Manifest::read(&dir).ok();
        let same = |m: &Manifest| {
            serde_json::to_value(&m.parameters).ok() == serde_json::to_value(&side_config).ok()
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
            _ => sample_to_dir(store, &dir, &side_config, progress),
        }
    };
    let summaries = [run_side(Side::Train)?, run_side(Side::Test)?];
    publish(&staging, out, config.overwrite).map_err(|e| EngineError::io(out, e))?;
    Ok(summaries)
}

/// Keeps a staging directory left by an interrupted run of the same job (its finished
/// parts are reused); anything else there is removed.
fn prepare_staging(staging: &Path, key: &RunKey) -> Result<(), EngineError> {
    let run_file = staging.join(RUN_FILE);
    let key_json = serde_json::to_value(key).expect("key serialises");
    // Compared as JSON: exactly the fields that are recorded must match.
    let same_run = fs::read(&run_file)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|recorded| recorded == key_json);
    if !same_run {
        if staging.exists() {
            remove_any(staging).map_err(|e| EngineError::io(staging, e))?;
        }
        fs::create_dir_all(staging).map_err(|e| EngineError::io(staging, e))?;
        let fsync = key.parameters.fsync;
        write_file(
            &run_file,
            &serde_json::to_vec_pretty(key).expect("key serialises"),
            fsync,
        )?;
    }
    Ok(())
}

fn copy_id_maps(store: &Store, staging: &Path) -> Result<(), EngineError> {
    let Some(dir) = store.dir() else {
        return Ok(());
    };
    for name in [USERS_FILE, ITEMS_FILE] {
        let (from, to) = (dir.join(name), staging.join(name));
        fs::copy(&from, &to).map_err(|e| EngineError::io(&from, e))?;
    }
    Ok(())
}

/// The record of a part finished by an earlier run, if its files are all there.
fn finished_part(dir: &Path) -> Option<PartRecord> {
    let record: PartRecord = serde_json::from_slice(&fs::read(dir.join(PART_FILE)).ok()?).ok()?;
    let complete = record
        .files
        .iter()
        .all(|f| fs::metadata(dir.join(&f.name)).is_ok_and(|m| m.len() == f.bytes));
    complete.then_some(record)
}

/// One chunk's output and the sampler that filled it; a wave's slots are reused
/// from wave to wave, so once warm the hot path allocates nothing.
#[derive(Default)]
struct Slot {
    columns: Columns,
    sampler: UserSampler,
    tally: Tally,
}

/// Samples the users of one part and writes its directory.
///
/// Work goes in waves of chunks: the pool samples a wave's chunks while it writes the
/// previous wave — one task per column file, each appending the wave's chunks in
/// order. Writing (page-cache copies) costs about as much as sampling here, so both
/// must use every core: a pipeline with one dedicated writer thread capped throughput
/// at that thread's speed whatever `--threads` said, and alternating phases left a
/// core idle whenever the page cache made a writer wait.
fn write_part(
    store: &Store,
    context: &Context,
    config: &SampleConfig,
    users: Range<u32>,
    dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<PartRecord, EngineError> {
    let partial = dir.with_extension("partial");
    if partial.exists() {
        remove_any(&partial).map_err(|e| EngineError::io(&partial, e))?;
    }
    fs::create_dir_all(&partial).map_err(|e| EngineError::io(&partial, e))?;
    let chunks = plan::chunks(store.indptr(), users.clone(), config);
    let mut writer = PartWriter::create(
        &partial,
        &manifest::columns(store.has_timestamps(), config.log_q),
    )?;
    // Two waves alternate: while one is written (one task per column file), the next
    // is sampled, in the same pool, so a writer blocked by the page cache leaves its
    // core to sampling instead of idling it.
    let sample_wave = |wave: &mut Vec<Slot>, ranges: &[Range<u32>]| -> Result<(), EngineError> {
        wave.truncate(ranges.len());
        wave.resize_with(ranges.len(), Slot::default);
        wave.par_iter_mut()
            .zip(ranges)
            .try_for_each(|(slot, range)| {
                slot.columns.clear();
                slot.tally = Tally::default();
                range.clone().try_for_each(|u| {
                    slot.sampler.sample_user(
                        store,
                        context,
                        config,
                        u,
                        &mut slot.columns,
                        &mut slot.tally,
                    )
                })
            })
    };
    let mut tally = Tally::default();
    let mut written = |writer: &mut PartWriter, wave: &[Slot]| -> Result<(), EngineError> {
        writer.append(wave)?;
        wave.iter().for_each(|slot| tally.add(&slot.tally));
        Ok(())
    };
    let (mut sampled, mut spare): (Option<Vec<Slot>>, Vec<Slot>) = (None, Vec::new());
    let mut users_done = 0u64;
    for ranges in chunks.chunks(rayon::current_num_threads() * 4) {
        let mut wave = std::mem::take(&mut spare);
        match sampled.take() {
            None => sample_wave(&mut wave, ranges)?,
            Some(previous) => {
                let (write, sample) = rayon::join(
                    || written(&mut writer, &previous),
                    || sample_wave(&mut wave, ranges),
                );
                write?;
                sample?;
                spare = previous;
            }
        }
        sampled = Some(wave);
        users_done += ranges
            .iter()
            .map(|r| u64::from(r.end - r.start))
            .sum::<u64>();
        progress(users_done);
    }
    if let Some(last) = sampled {
        written(&mut writer, &last)?;
    }
    let files = writer.finish(config.fsync)?;
    let record = PartRecord {
        name: dir
            .file_name()
            .expect("part dir has a name")
            .to_string_lossy()
            .into_owned(),
        users: [users.start, users.end],
        tally,
        files,
    };
    write_file(
        &partial.join(PART_FILE),
        &serde_json::to_vec_pretty(&record).expect("record serialises"),
        config.fsync,
    )?;
    fs::rename(&partial, dir).map_err(|e| EngineError::io(dir, e))?;
    Ok(record)
}

/// Streams columns into a part's `.npy` files, hashing the data as it goes.
struct PartWriter {
    files: Vec<ColumnFile>,
}

struct ColumnFile {
    /// Index into [`manifest::COLUMNS`].
    column: usize,
    path: PathBuf,
    descr: &'static str,
    element: usize,
    file: File,
    hash: Xxh3,
    len: u64,
}

impl PartWriter {
    fn create(dir: &Path, columns: &[usize]) -> Result<Self, EngineError> {
        let files = columns
            .iter()
            .map(|&column| {
                let (name, descr, element) = manifest::COLUMNS[column];
                let path = dir.join(format!("{name}.npy"));
                let mut file = File::create(&path).map_err(|e| EngineError::io(&path, e))?;
                file.write_all(&npy::header(descr, 0))
                    .map_err(|e| EngineError::io(&path, e))?;
                Ok(ColumnFile {
                    column,
                    path,
                    descr,
                    element,
                    file,
                    hash: Xxh3::new(),
                    len: 0,
                })
            })
            .collect::<Result<_, EngineError>>()?;
        Ok(Self { files })
    }

    /// Appends a wave's chunks, in order, to every column file; the files are written
    /// in parallel.
    fn append(&mut self, wave: &[Slot]) -> Result<(), EngineError> {
        self.files.par_iter_mut().try_for_each(|file| {
            for slot in wave {
                let bytes = slot.columns.column_bytes()[file.column];
                file.file
                    .write_all(bytes)
                    .map_err(|e| EngineError::io(&file.path, e))?;
                file.hash.update(bytes);
                file.len += (bytes.len() / file.element) as u64;
            }
            Ok(())
        })
    }

    /// Writes the final headers, syncs if asked, and returns each file's record.
    fn finish(self, fsync: bool) -> Result<Vec<FileRecord>, EngineError> {
        self.files
            .into_iter()
            .map(|mut f| {
                let io = |e| EngineError::io(&f.path, e);
                f.file.seek(SeekFrom::Start(0)).map_err(io)?;
                f.file.write_all(&npy::header(f.descr, f.len)).map_err(io)?;
                if fsync {
                    f.file.sync_all().map_err(io)?;
                }
                Ok(FileRecord {
                    name: f
                        .path
                        .file_name()
                        .expect("has a name")
                        .to_string_lossy()
                        .into_owned(),
                    bytes: HEADER_LEN as u64 + f.len * f.element as u64,
                    xxh3: format!("{:016x}", f.hash.digest()),
                })
            })
            .collect()
    }
}

fn build_manifest(
    store: &Store,
    config: &SampleConfig,
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
        format: manifest::FORMAT.into(),
        format_version: manifest::FORMAT_VERSION,
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
        },
        columns: manifest::columns(store.has_timestamps(), config.log_q)
            .into_iter()
            .map(|c| manifest::COLUMNS[c])
            .map(|(name, dtype, _)| ColumnSpec {
                name: name.into(),
                dtype: dtype.into(),
            })
            .collect(),
        parts,
        totals,
        elapsed_seconds: elapsed.as_secs_f64(),
    }
}

/// Writes a small file; with `fsync`, also forces it to disk.
fn write_file(path: &Path, bytes: &[u8], fsync: bool) -> Result<(), EngineError> {
    let io = |e| EngineError::io(path, e);
    let mut file = File::create(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    if fsync {
        file.sync_all().map_err(io)?;
    }
    Ok(())
}
