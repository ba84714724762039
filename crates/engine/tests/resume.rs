//! Staging, resumption and publishing: finished parts are reused, an existing output is kept unless --overwrite.

mod common;

use common::*;
use negsamp_engine::manifest::Manifest;
use negsamp_engine::verify::verify_output;
use negsamp_engine::{sample_to_dir, EngineError, SampleConfig};
use negsamp_store::Store;

#[test]
fn resumes_from_finished_parts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&generated_store(dir.path(), 600, 300, 4)).unwrap();
    let config = SampleConfig {
        seed: 5,
        shards: Some(3),
        ..Default::default()
    };
    let first = dir.path().join("first");
    run(&store, &first, &config);
    // An interrupted second run: two parts finished, the last and the manifest not.
    let second = dir.path().join("second");
    let staging = negsamp_store::publish::staging_path(&second);
    copy_dir(&first, &staging);
    std::fs::remove_dir_all(staging.join("part-00002")).unwrap();
    std::fs::remove_file(staging.join("manifest.json")).unwrap();
    let summary = sample_to_dir(&store, &second, &config, &|_| {}).unwrap();
    assert_eq!(summary.resumed_parts, 2);
    verify_output(&second, Some(&store)).unwrap();
    assert!(dataset_bytes(&second) == dataset_bytes(&first));
    // Different parameters must not reuse those parts.
    copy_dir(&first, &staging);
    std::fs::remove_file(staging.join("manifest.json")).unwrap();
    let other = SampleConfig { seed: 6, ..config };
    let third = dir.path().join("third");
    std::fs::rename(&staging, negsamp_store::publish::staging_path(&third)).unwrap();
    assert_eq!(
        sample_to_dir(&store, &third, &other, &|_| {})
            .unwrap()
            .resumed_parts,
        0
    );
}

#[test]
fn an_existing_output_is_kept_unless_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_from_lists(&[vec![1, 2], vec![0]], 5);
    let out = dir.path().join("o");
    run(&store, &out, &SampleConfig::default());
    let err = sample_to_dir(
        &store,
        &out,
        &SampleConfig {
            seed: 1,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap_err();
    assert!(matches!(err, EngineError::AlreadyExists { .. }));
    assert_eq!(Manifest::read(&out).unwrap().parameters.seed, 0);
    run(
        &store,
        &out,
        &SampleConfig {
            seed: 1,
            overwrite: true,
            ..Default::default()
        },
    );
    assert_eq!(Manifest::read(&out).unwrap().parameters.seed, 1);
}
