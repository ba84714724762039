//! Any bytes as the data of one column of a `.npy` part, its checksums rewritten to
//! match (so the row checks, not the checksums, meet them), verified against its
//! store in windows of any size: a verdict, never a panic — whatever users the `user`
//! column names, in whatever order, however the windows cut them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use negsamp_engine::manifest::Manifest;
use negsamp_engine::npy::HEADER_LEN;
use negsamp_engine::verify::{verify_output_in_windows, RowCheck};
use negsamp_engine::{sample_to_dir, SampleConfig};
use negsamp_store::ingest::{ingest, IngestOptions};
use negsamp_store::synth::{generate, SynthOptions};
use negsamp_store::Store;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A small store and a dataset sampled from it, made once.
struct Template {
    _dir: tempfile::TempDir,
    store: Store,
    dataset: PathBuf,
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("g.csv");
        let options = SynthOptions {
            users: 30,
            items: 40,
            mean_degree: 4.0,
            seed: 1,
            ..Default::default()
        };
        generate(&options, std::fs::File::create(&csv).unwrap(), &|_| {}).unwrap();
        let store = dir.path().join("g.store");
        ingest(&csv, &store, &IngestOptions::default(), &|_| {}).unwrap();
        let store = Store::open(&store).unwrap();
        let dataset = dir.path().join("o");
        sample_to_dir(&store, &dataset, &SampleConfig::default(), &|_| {}).unwrap();
        Template {
            _dir: dir,
            store,
            dataset,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&[low, high, which], bytes)) = data.split_first_chunk::<3>() else {
        return;
    };
    if bytes.is_empty() {
        return;
    }
    let template = template();
    // The template's dataset, edited in place and restored after (inputs run one at
    // a time).
    let dataset = &template.dataset;
    let original = std::fs::read(dataset.join("manifest.json")).unwrap();
    let mut manifest: Manifest = serde_json::from_slice(&original).unwrap();
    let part = &mut manifest.parts[0];
    let c = usize::from(which) % part.files.len();
    let name = part.files[c].name.clone();
    let path = dataset.join(&part.name).join(&name);
    let column_file = std::fs::read(&path).unwrap();
    let mut file = column_file.clone();
    // The column's data, repeated from the input's bytes over its whole length.
    for (byte, new) in file[HEADER_LEN..].iter_mut().zip(bytes.iter().cycle()) {
        *byte = *new;
    }
    std::fs::write(&path, &file).unwrap();
    let checksum = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&file[HEADER_LEN..]));
    part.files[c].xxh3 = checksum.clone();
    let column = name.trim_end_matches(".npy");
    if let Some(hash) = part.columns.iter_mut().find(|h| h.name == column) {
        hash.xxh3 = checksum;
    }
    std::fs::write(
        dataset.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let window_bytes = usize::from(u16::from_le_bytes([low, high])) + 1;
    let _ = verify_output_in_windows(
        dataset,
        Some(&template.store),
        RowCheck::default(),
        &|_| {},
        window_bytes,
    );
    std::fs::write(&path, column_file).unwrap();
    std::fs::write(dataset.join("manifest.json"), original).unwrap();
});
