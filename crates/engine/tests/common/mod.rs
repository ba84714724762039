//! Helpers shared by the engine's test files (each file tests one behaviour).
#![allow(dead_code)]

use negsamp_engine::manifest::Manifest;
use negsamp_engine::verify::{
    verify_output, verify_output_in_windows, verify_output_with_progress, RowCheck,
};
use negsamp_engine::{sample_to_dir, SampleConfig};
use negsamp_kernel::stream::user_key;
use negsamp_store::ingest::{ingest, IngestOptions};
use negsamp_store::synth::{generate, SynthOptions};
use negsamp_store::time::TimeUnit;
use negsamp_store::write::{to_bytes, Columns, Timestamps};
use negsamp_store::Store;
use std::path::{Path, PathBuf};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// An in-memory store from per-user sorted item lists; user u's id is `u{u}`, and
/// timestamps count down so that time order differs from item order.
pub fn store_from_lists(lists: &[Vec<u32>], n_items: u32) -> Store {
    let n: u64 = lists.iter().map(|l| l.len() as u64).sum();
    let rows: Vec<u64> = (0..n).map(|r| r * 3 + 1).collect();
    store_with_rows(lists, n_items, &rows)
}

/// [`store_from_lists`] with the positives' source rows given.
pub fn store_with_rows(lists: &[Vec<u32>], n_items: u32, rows: &[u64]) -> Store {
    let mut indptr = vec![0u64];
    let mut indices = Vec::new();
    for items in lists {
        indices.extend_from_slice(items);
        indptr.push(indices.len() as u64);
    }
    let timestamps: Vec<i64> = (0..indices.len() as i64)
        .map(|r| 1000 - r * 7 % 13)
        .collect();
    let user_keys: Vec<u64> = (0..lists.len())
        .map(|u| user_key(format!("u{u}").as_bytes()))
        .collect();
    let columns = Columns {
        n_items,
        indptr: &indptr,
        indices: &indices,
        rows,
        timestamps: Some(Timestamps {
            values: &timestamps,
            unit: TimeUnit::Seconds,
        }),
        user_keys: &user_keys,
        kept: &[],
    };
    Store::from_bytes(&to_bytes(&columns)).unwrap()
}

/// A generated store on disk (synthetic Zipf data through the real ingest).
pub fn generated_store(dir: &Path, users: u64, items: u64, seed: u64) -> PathBuf {
    let csv = dir.join("gen.csv");
    let options = SynthOptions {
        users,
        items,
        mean_degree: 12.0,
        seed,
        ..Default::default()
    };
    generate(&options, std::fs::File::create(&csv).unwrap(), &|_| {}).unwrap();
    let store = dir.join("gen.store");
    ingest(&csv, &store, &IngestOptions::default(), &|_| {}).unwrap();
    store
}

/// Every column of a dataset, parts concatenated, as bytes.
pub fn dataset_bytes(dir: &Path) -> Vec<Vec<u8>> {
    let manifest = Manifest::read(dir).unwrap();
    let mut out = vec![Vec::new(); manifest.columns.len()];
    for part in &manifest.parts {
        for (k, column) in manifest.columns.iter().enumerate() {
            let bytes =
                std::fs::read(dir.join(&part.name).join(format!("{}.npy", column.name))).unwrap();
            out[k].extend_from_slice(&bytes[negsamp_engine::npy::HEADER_LEN..]);
        }
    }
    out
}

/// Samples `store` into `out` and verifies the result both ways: as `verify` does by
/// default (recomputed, the law on the draws) and with every row walked against the
/// contract, the oracle independent of how the sampler lays rows out.
pub fn run(store: &Store, out: &Path, config: &SampleConfig) -> Manifest {
    let summary = sample_to_dir(store, out, config, &|_| {}).unwrap();
    verify_output(out, Some(store)).unwrap();
    verify_output_with_progress(out, Some(store), RowCheck::EveryRow, &|_| {}).unwrap();
    // windows of a row or two (each grown to hold its user's rows), and of a few
    for window_bytes in [1, 1000] {
        verify_output_in_windows(out, Some(store), RowCheck::EveryRow, &|_| {}, window_bytes)
            .unwrap();
    }
    summary.manifest
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Ingests `csv_text` (header `user,item`) into `dir/name.store`.
pub fn store_from_csv(dir: &Path, name: &str, csv_text: &str) -> (PathBuf, Store) {
    let csv = dir.join(format!("{name}.csv"));
    std::fs::write(&csv, csv_text).unwrap();
    let path = dir.join(format!("{name}.store"));
    ingest(&csv, &path, &IngestOptions::default(), &|_| {}).unwrap();
    let store = Store::open(&path).unwrap();
    (path, store)
}

/// Pearson's chi-square of counts against probabilities (all expected counts ≥ 5).
pub fn assert_chi_square(counts: &[u64], probabilities: &[f64], alpha: f64) {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    let total: u64 = counts.iter().sum();
    let mut statistic = 0.0;
    for (&o, &p) in counts.iter().zip(probabilities) {
        let e = p * total as f64;
        assert!(e >= 5.0, "expected count {e} too small");
        statistic += (o as f64 - e).powi(2) / e;
    }
    let p_value = 1.0
        - ChiSquared::new((counts.len() - 1) as f64)
            .unwrap()
            .cdf(statistic);
    assert!(
        p_value > alpha,
        "statistic {statistic:.1}, p {p_value:.2e}, counts {counts:?}"
    );
}

/// Rewrites one element of a column file and the manifest's checksums for it, as a
/// buggy writer would: only the row checks against the store can then notice.
pub fn tamper<T: bytemuck::Pod>(out: &Path, column: &str, row: usize, value: T) {
    let path = out.join("part-00000").join(format!("{column}.npy"));
    let mut bytes = std::fs::read(&path).unwrap();
    let size = std::mem::size_of::<T>();
    let at = negsamp_engine::npy::HEADER_LEN + row * size;
    bytes[at..at + size].copy_from_slice(bytemuck::bytes_of(&value));
    std::fs::write(&path, &bytes).unwrap();
    let checksum = format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(&bytes[negsamp_engine::npy::HEADER_LEN..])
    );
    let mut manifest = Manifest::read(out).unwrap();
    let file = manifest.parts[0]
        .files
        .iter_mut()
        .find(|f| f.name == format!("{column}.npy"))
        .unwrap();
    file.xxh3 = checksum.clone();
    let logical = manifest.parts[0]
        .columns
        .iter_mut()
        .find(|c| c.name == column)
        .unwrap();
    logical.xxh3 = checksum;
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

/// Flips a bit in the middle of each section of the store at `store_dir`, one section
/// at a time, and calls `each` with the section's name, the store opened damaged
/// (`Store::open` checks structure, not checksums) and a way to repair the file (drop
/// the damaged store first: its map sees the rewrite); the file is pristine again after.
pub fn with_each_section_damaged(store_dir: &Path, mut each: impl FnMut(&str, Store, &dyn Fn())) {
    let file = store_dir.join("store.bin");
    let pristine = std::fs::read(&file).unwrap();
    let repair = || std::fs::write(&file, &pristine).unwrap();
    let sections = Store::open(store_dir).unwrap().header().sections.clone();
    assert!(sections.len() >= 5);
    for s in sections {
        let mut bytes = pristine.clone();
        bytes[s.offset as usize + (s.length as usize) / 2] ^= 0x04;
        std::fs::write(&file, &bytes).unwrap();
        each(s.kind.name(), Store::open(store_dir).unwrap(), &repair);
        repair();
    }
}
