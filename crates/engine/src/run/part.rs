//! Sampling one part: waves of chunks through the pool, into a [`PartSink`].

use super::store_check::StoreCheck;
use crate::config::{Format, SampleConfig};
use crate::context::Context;
use crate::manifest::{ColumnSpec, PartRecord};
use crate::plan;
use crate::rows::Rows;
use crate::schema::Schema;
use crate::user::{Tally, UserSampler};
use crate::write::{create_sink, publish_part, IdColumns, PartPaths, PartSink};
use crate::EngineError;
use negsamp_store::Store;
use rayon::prelude::*;
use std::fs;
use std::ops::Range;

/// What a part is sampled against: everything fixed for the whole run.
pub(crate) struct PartJob<'a> {
    pub store: &'a Store,
    pub context: &'a Context,
    pub config: &'a SampleConfig,
    pub schema: &'a Schema,
    pub ids: &'a IdColumns,
}

/// The record of a part finished by an earlier run, if its files are all there and
/// match the record's sizes and checksums (a part damaged since is sampled again).
pub(crate) fn finished_part(
    paths: &PartPaths,
    format: Format,
    columns: &[ColumnSpec],
) -> Option<PartRecord> {
    let record: PartRecord = serde_json::from_slice(&fs::read(&paths.record).ok()?).ok()?;
    crate::verify::read_part(paths, format, columns, &record, None).ok()?;
    Some(record)
}

/// One chunk's output and the sampler that filled it; a wave's slots are reused
/// from wave to wave, so once warm the hot path allocates nothing.
struct Slot {
    rows: Rows,
    sampler: UserSampler,
    tally: Tally,
}

impl PartJob<'_> {
    /// Samples the users of one part and writes it at `paths`, published once `checks`
    /// has passed.
    ///
    /// Work goes in waves of chunks: the pool samples a wave's chunks while it writes
    /// the previous wave. Writing (page-cache copies) costs about as much as sampling
    /// here, so both must use every core: a pipeline with one dedicated writer thread
    /// capped throughput at that thread's speed whatever `--threads` said, and
    /// alternating phases left a core idle whenever the page cache made a writer wait.
    pub(crate) fn write(
        &self,
        index: usize,
        users: Range<u32>,
        paths: &PartPaths,
        checks: &StoreCheck<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<PartRecord, EngineError> {
        let config = self.config;
        let mut sink = create_sink(
            config.format,
            self.schema,
            self.ids,
            paths,
            config.write_mode,
        )?;
        let tally = self.sample_into(users.clone(), sink.as_mut(), progress)?;
        let (files, columns) = sink.finish(config.fsync)?;
        let record = PartRecord {
            name: crate::manifest::part_name(index),
            users: [users.start, users.end],
            tally,
            files,
            columns,
        };
        let json = serde_json::to_vec_pretty(&record).expect("record serialises");
        // What was drawn from a damaged store must not be taken over by a resumed run.
        checks.passed()?;
        match config.format {
            // The record goes inside the directory, which then appears whole.
            crate::config::Format::Npy => {
                super::staging::write_file(
                    &paths.partial.join(crate::write::PART_FILE),
                    &json,
                    config.fsync,
                )?;
                publish_part(paths)?;
            }
            // The file appears first; without its record it is redone on resume.
            crate::config::Format::Parquet => {
                publish_part(paths)?;
                super::staging::write_file(&paths.record, &json, config.fsync)?;
            }
        }
        Ok(record)
    }

    /// Samples `users` into `sink`, wave by wave; returns what was produced.
    pub(crate) fn sample_into(
        &self,
        users: Range<u32>,
        sink: &mut dyn PartSink,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Tally, EngineError> {
        let config = self.config;
        let chunks = plan::chunks(self.store.indptr(), users, config);
        let sample_wave =
            |wave: &mut Vec<Slot>, ranges: &[Range<u32>]| -> Result<(), EngineError> {
                wave.truncate(ranges.len());
                wave.resize_with(ranges.len(), || Slot {
                    rows: Rows::new(self.schema),
                    sampler: UserSampler::default(),
                    tally: Tally::default(),
                });
                wave.par_iter_mut()
                    .zip(ranges)
                    .try_for_each(|(slot, range)| {
                        slot.rows.clear();
                        slot.tally = Tally::default();
                        range.clone().try_for_each(|u| {
                            slot.sampler.sample_user(
                                self.store,
                                self.context,
                                config,
                                self.schema,
                                u,
                                &mut slot.rows,
                                &mut slot.tally,
                            )
                        })
                    })
            };
        let mut tally = Tally::default();
        let mut written = |sink: &mut dyn PartSink, wave: &[Slot]| -> Result<(), EngineError> {
            let chunks: Vec<&Rows> = wave.iter().map(|s| &s.rows).collect();
            sink.append(&chunks)?;
            wave.iter().for_each(|slot| tally.add(&slot.tally));
            Ok(())
        };
        let (mut sampled, mut spare): (Option<Vec<Slot>>, Vec<Slot>) = (None, Vec::new());
        let mut users_done = 0u64;
        for ranges in chunks.chunks(rayon::current_num_threads() * 4) {
            if negsamp_store::interrupt::requested() {
                return Err(EngineError::Interrupted);
            }
            let mut wave = std::mem::take(&mut spare);
            match sampled.take() {
                None => sample_wave(&mut wave, ranges)?,
                Some(previous) => {
                    let (write, sample) = rayon::join(
                        || written(&mut *sink, &previous),
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
            written(sink, &last)?;
        }
        Ok(tally)
    }
}
