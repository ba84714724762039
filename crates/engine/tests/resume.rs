//! Staging, resumption and publishing: finished parts are reused only by the same job
//! (store, parameters, input files' contents), an existing output is kept unless
//! --overwrite, an output never overlaps an input, one writer per output, and the id
//! maps copied are the mapped store's.

mod common;

use common::*;
use negsamp_engine::manifest::Manifest;
use negsamp_engine::verify::verify_output;
use negsamp_engine::{sample_split, sample_to_dir, EngineError, SampleConfig};
use negsamp_store::ingest::{ingest, IngestOptions};
use negsamp_store::publish::staging_path;
use negsamp_store::time::TimePoint;
use negsamp_store::{Store, StoreError};
use std::path::Path;

/// Leaves `out`'s finished dataset as an interrupted run's staging for `next`.
fn interrupted(out: &Path, next: &Path) {
    let staging = staging_path(next);
    copy_dir(out, &staging);
    let _ = std::fs::remove_file(staging.join("manifest.json"));
}

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
fn a_finished_part_damaged_since_is_sampled_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&generated_store(dir.path(), 600, 300, 4)).unwrap();
    for format in [negsamp_engine::Format::Npy, negsamp_engine::Format::Parquet] {
        let config = SampleConfig {
            seed: 5,
            shards: Some(3),
            format,
            ..Default::default()
        };
        let first = dir.path().join(format!("first-{format:?}"));
        run(&store, &first, &config);
        let second = dir.path().join(format!("second-{format:?}"));
        interrupted(&first, &second);
        // One byte of part 1's data flipped in place: same size, wrong checksum.
        let manifest = Manifest::read(&first).unwrap();
        let part_file = |dir: &Path, part: usize| {
            let record = &manifest.parts[part];
            let base = match format {
                negsamp_engine::Format::Npy => dir.join(&record.name),
                negsamp_engine::Format::Parquet => dir.to_path_buf(),
            };
            base.join(&record.files[0].name)
        };
        let damaged = part_file(&staging_path(&second), 1);
        let mut bytes = std::fs::read(&damaged).unwrap();
        let middle = bytes.len() - 9;
        bytes[middle] ^= 0x5a;
        std::fs::write(&damaged, bytes).unwrap();
        let summary = sample_to_dir(&store, &second, &config, &|_| {}).unwrap();
        assert_eq!(summary.resumed_parts, 2, "{format:?}");
        verify_output(&second, Some(&store)).unwrap();
        for part in 0..3 {
            let [a, b] = [&first, &second].map(|d| std::fs::read(part_file(d, part)).unwrap());
            assert!(a == b, "{format:?} part {part}");
        }
    }
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

/// Appending pairs to the `--exclude` file changes the job: an interrupted run's parts
/// (sampled against the old file) are not reused, and no now-excluded pair survives.
#[test]
fn resume_keys_on_input_contents_not_paths() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&generated_store(dir.path(), 300, 50, 2)).unwrap();
    let users = store.user_ids().unwrap();
    let items = store.item_ids().unwrap();
    let exclude = dir.path().join("exclude.csv");
    std::fs::write(&exclude, "user,item\n").unwrap();
    let config = SampleConfig {
        exclude: Some(exclude.clone()),
        shards: Some(3),
        seed: 4,
        ..Default::default()
    };
    let first = dir.path().join("first");
    run(&store, &first, &config);
    let second = dir.path().join("second");
    interrupted(&first, &second);
    // now exclude every item for the first 100 users
    let mut text = String::from("user,item\n");
    for u in &users[..100] {
        for i in &items {
            text.push_str(&format!("{u},{i}\n"));
        }
    }
    std::fs::write(&exclude, text).unwrap();
    let summary = sample_to_dir(&store, &second, &config, &|_| {}).unwrap();
    assert_eq!(
        summary.resumed_parts, 0,
        "parts of the old exclusions were reused"
    );
    verify_output(&second, Some(&store)).unwrap();
}

/// A split run never reuses a side sampled from another store, and never publishes
/// an unsplit run's leftover parts beside train/ and test/.
#[test]
fn split_staging_is_only_reused_by_the_same_split() {
    let dir = tempfile::tempdir().unwrap();
    let sub = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        d
    };
    let a = Store::open(&generated_store(&sub("a"), 200, 80, 1)).unwrap();
    let b = Store::open(&generated_store(&sub("b"), 200, 80, 2)).unwrap();
    let config = SampleConfig {
        seed: 3,
        ..Default::default()
    };
    let at = TimePoint::Number(1_650_000_000);
    let from_a = dir.path().join("from-a");
    sample_split(&a, &from_a, &config, at, &|_| {}).unwrap();
    let out = dir.path().join("out");
    interrupted(&from_a, &out);
    let [train, test] = sample_split(&b, &out, &config, at, &|_| {}).unwrap();
    assert_eq!((train.resumed_parts, test.resumed_parts), (0, 0));
    for side in ["train", "test"] {
        verify_output(&out.join(side), Some(&b)).unwrap();
    }
    // an unsplit run's staging under the same output
    let unsplit = dir.path().join("unsplit");
    run(
        &b,
        &unsplit,
        &SampleConfig {
            shards: Some(2),
            ..config.clone()
        },
    );
    let out2 = dir.path().join("out2");
    interrupted(&unsplit, &out2);
    sample_split(&b, &out2, &config, at, &|_| {}).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&out2)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["run.json", "test", "train"]);
}

/// A store re-ingested in place while a run has it open: the dataset gets the id maps
/// of the rows it sampled (the open store's), and verifies against that store.
#[test]
fn id_maps_come_from_the_open_store() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("s.store");
    let csv = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let old = csv("old.csv", "user,item\nalice,x\nbob,y\n");
    let new = csv("new.csv", "user,item\ncarol,z\ndave,w\nerin,z\n");
    ingest(&old, &store_dir, &IngestOptions::default(), &|_| {}).unwrap();
    let store = Store::open(&store_dir).unwrap();
    let options = IngestOptions {
        overwrite: true,
        ..Default::default()
    };
    ingest(&new, &store_dir, &options, &|_| {}).unwrap();
    let out = dir.path().join("ds");
    run(&store, &out, &SampleConfig::default());
    assert_eq!(
        std::fs::read_to_string(out.join("users.txt")).unwrap(),
        "alice\nbob\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("items.txt")).unwrap(),
        "x\ny\n"
    );
}

/// A flipped bit in any section is caught (the checksums are taken while sampling
/// starts), not turned into a dataset, and leaves no part that a rerun on the repaired
/// store would take over.
#[test]
fn a_damaged_store_publishes_nothing_and_leaves_no_part_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = generated_store(dir.path(), 100, 40, 6);
    let clean = dir.path().join("clean");
    let clean_store = Store::open(&store_dir).unwrap();
    sample_to_dir(&clean_store, &clean, &SampleConfig::default(), &|_| {}).unwrap();
    drop(clean_store);
    let out = dir.path().join("ds");
    with_each_section_damaged(&store_dir, |section, store, repair| {
        let err = sample_to_dir(&store, &out, &SampleConfig::default(), &|_| {}).unwrap_err();
        let expected = format!("section {section}");
        assert!(
            matches!(&err, EngineError::Store(StoreError::ChecksumMismatch { what, .. }) if *what == expected),
            "{err}"
        );
        assert!(!out.exists());
        drop(store);
        repair();
        let store = Store::open(&store_dir).unwrap();
        let rerun = sample_to_dir(&store, &out, &SampleConfig::default(), &|_| {}).unwrap();
        assert_eq!(rerun.resumed_parts, 0, "section {section}");
        assert_eq!(
            dataset_bytes(&out),
            dataset_bytes(&clean),
            "section {section}"
        );
        std::fs::remove_dir_all(&out).unwrap();
    });
}

#[test]
fn an_output_overlapping_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = generated_store(dir.path(), 50, 20, 1);
    let store = Store::open(&store_dir).unwrap();
    let overwrite = SampleConfig {
        overwrite: true,
        ..Default::default()
    };
    for out in [
        store_dir.clone(),
        store_dir.join("ds"),
        dir.path().to_path_buf(),
    ] {
        let err = sample_to_dir(&store, &out, &overwrite, &|_| {}).unwrap_err();
        assert!(
            matches!(
                &err,
                EngineError::Store(StoreError::OutputOverlapsInput { .. })
            ),
            "{}: {err}",
            out.display()
        );
    }
    store.verify().unwrap();
    let exclude = dir.path().join("ex.csv");
    std::fs::write(&exclude, "user,item\n").unwrap();
    let config = SampleConfig {
        exclude: Some(exclude.clone()),
        ..overwrite
    };
    let err = sample_to_dir(&store, &exclude, &config, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("is the input"), "{err}");
    assert_eq!(std::fs::read_to_string(&exclude).unwrap(), "user,item\n");
}

#[test]
fn a_locked_output_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_from_lists(&[vec![1, 2], vec![0]], 5);
    let out = dir.path().join("o");
    run(&store, &out, &SampleConfig::default());
    let before = dataset_bytes(&out);
    let _held = negsamp_store::publish::lock_destination(&out).unwrap();
    let config = SampleConfig {
        seed: 9,
        overwrite: true,
        ..Default::default()
    };
    let err = sample_to_dir(&store, &out, &config, &|_| {}).unwrap_err();
    assert!(
        matches!(&err, EngineError::Store(StoreError::Busy { pid: Some(p), .. }) if *p == std::process::id()),
        "{err}"
    );
    assert!(!staging_path(&out).exists());
    assert!(dataset_bytes(&out) == before);
}
