//! Output bytes depend only on the store, seed and parameters: not on threads, chunks, shards, kernel family members, or which other users a store holds.

mod common;

use common::*;
use negsamp_engine::verify::{read_part_data, verify_output};
use negsamp_engine::{Amount, SampleConfig, Strategy};
use negsamp_kernel::uniform::Kernel;
use negsamp_store::format::{Header, SectionKind};
use negsamp_store::ingest::{ingest, IngestOptions};
use negsamp_store::Store;

#[test]
fn output_bytes_do_not_depend_on_threads_chunks_or_shards() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&generated_store(dir.path(), 3000, 400, 1)).unwrap();
    let base = SampleConfig {
        seed: 7,
        amount: Amount::Ratio(2),
        ..Default::default()
    };
    let reference_dir = dir.path().join("ref");
    pool(1).install(|| run(&store, &reference_dir, &base));
    let reference = dataset_bytes(&reference_dir);
    assert!(reference[0].len() > 10_000);
    let mut k = 0;
    for threads in [1, 2, 3, 8] {
        for (shards, chunk_rows) in [(Some(1), 1 << 16), (Some(3), 50), (Some(7), 1), (None, 997)] {
            k += 1;
            let out = dir.path().join(format!("run{k}"));
            let config = SampleConfig {
                shards,
                chunk_rows,
                ..base.clone()
            };
            let manifest = pool(threads).install(|| run(&store, &out, &config));
            if let Some(n) = shards {
                assert_eq!(manifest.parts.len(), n as usize);
            }
            assert!(
                dataset_bytes(&out) == reference,
                "threads {threads}, shards {shards:?}, chunk {chunk_rows}"
            );
        }
    }
    let other_seed = dir.path().join("other");
    run(&store, &other_seed, &SampleConfig { seed: 8, ..base });
    assert!(dataset_bytes(&other_seed) != reference);
}

/// Every kernel's output is independent of threads and chunks; kernels of one family
/// write the same bytes (pre-verified ones the same as the default `auto`).
#[test]
fn kernels_are_deterministic_and_families_agree() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&generated_store(dir.path(), 1500, 300, 3)).unwrap();
    let mut by_family: std::collections::HashMap<&str, Vec<Vec<u8>>> = Default::default();
    for kernel in Kernel::ALL {
        let config = SampleConfig {
            seed: 11,
            amount: Amount::Ratio(3),
            kernel,
            ..Default::default()
        };
        let one = dir.path().join(format!("{kernel}-1"));
        pool(1).install(|| run(&store, &one, &config));
        let three = dir.path().join(format!("{kernel}-3"));
        let chunked = SampleConfig {
            chunk_rows: 37,
            shards: Some(3),
            ..config
        };
        let manifest = pool(3).install(|| run(&store, &three, &chunked));
        assert_eq!(manifest.parameters.kernel, kernel);
        verify_output(&three, Some(&store)).unwrap();
        let bytes = dataset_bytes(&one);
        assert!(
            dataset_bytes(&three) == bytes,
            "{kernel}: threads or chunks changed the output"
        );
        match by_family.get(kernel.family()) {
            Some(first) => assert!(*first == bytes, "{kernel} differs from its family"),
            None => {
                by_family.insert(kernel.family(), bytes);
            }
        }
    }
    assert_eq!(by_family.len(), 3);
}

/// A store holding only some users (with the same item catalog) reproduces exactly
/// those users' rows: streams are keyed by original id, not by position.
#[test]
fn a_subset_of_users_reproduces_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let full_dir = generated_store(dir.path(), 500, 200, 3);
    let full = Store::open(&full_dir).unwrap();
    let csv = std::fs::read_to_string(dir.path().join("gen.csv")).unwrap();
    let mut subset_csv = String::from("user,item,timestamp\n");
    let mut lines = csv.lines();
    lines.next();
    for line in lines {
        let user: u64 = line.split(',').next().unwrap().parse().unwrap();
        if user % 3 == 1 {
            subset_csv.push_str(line);
            subset_csv.push('\n');
        }
    }
    std::fs::write(dir.path().join("subset.csv"), subset_csv).unwrap();
    let subset_dir = dir.path().join("subset.store");
    let options = IngestOptions {
        items_file: Some(full_dir.join("items.txt")),
        ..Default::default()
    };
    ingest(
        &dir.path().join("subset.csv"),
        &subset_dir,
        &options,
        &|_| {},
    )
    .unwrap();
    let subset = Store::open(&subset_dir).unwrap();

    let config = SampleConfig {
        seed: 11,
        amount: Amount::Ratio(3),
        ..Default::default()
    };
    let (full_out, subset_out) = (dir.path().join("full"), dir.path().join("sub"));
    run(&full, &full_out, &config);
    run(&subset, &subset_out, &config);
    let f = read_part_data(&full_out, &full, 0).unwrap();
    let s = read_part_data(&subset_out, &subset, 0).unwrap();
    let full_ids = full.user_ids().unwrap();
    let subset_ids = subset.user_ids().unwrap();
    // Rows of the users in the subset, keyed by original id. Source rows differ
    // between the two CSVs, so an anchor is compared by its positive's item.
    let pick =
        |d: &negsamp_engine::verify::PartData, ids: &[String], keep: &dyn Fn(&str) -> bool| {
            let mut anchor_item = 0;
            let mut rows = Vec::new();
            for r in 0..d.user.len() {
                if d.label[r] == 1 {
                    anchor_item = d.item[r];
                }
                let id = &ids[d.user[r] as usize];
                if keep(id) {
                    rows.push((
                        id.clone(),
                        d.item[r],
                        d.label[r],
                        anchor_item,
                        d.timestamp.as_ref().unwrap()[r],
                    ));
                }
            }
            rows
        };
    let in_subset = |id: &str| id.parse::<u64>().unwrap() % 3 == 1;
    let mut expected = pick(&f, &full_ids, &in_subset);
    let mut got = pick(&s, &subset_ids, &|_| true);
    assert!(!got.is_empty());
    // dense user order differs between the stores; a stable sort by id keeps each
    // user's rows in their order
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), expected.len());
    if let Some(k) = (0..got.len()).find(|&k| got[k] != expected[k]) {
        panic!(
            "row {k} differs: subset run {:?}, full run {:?}",
            got[k], expected[k]
        );
    }
}

#[test]
fn popularity_output_does_not_depend_on_threads_or_shards() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&generated_store(dir.path(), 2000, 300, 8)).unwrap();
    let config = SampleConfig {
        strategy: Strategy::Popularity { alpha: 0.75 },
        amount: Amount::Ratio(2),
        seed: 3,
        log_q: true,
        ..Default::default()
    };
    let a = dir.path().join("a");
    pool(1).install(|| run(&store, &a, &config));
    let b = dir.path().join("b");
    pool(3).install(|| {
        run(
            &store,
            &b,
            &SampleConfig {
                shards: Some(4),
                chunk_rows: 33,
                ..config.clone()
            },
        )
    });
    assert!(dataset_bytes(&a) == dataset_bytes(&b));
}

/// A store written by the format-1 writer samples exactly like the same CSV ingested
/// today: the output depends on the data, not on the file format's version.
#[test]
fn a_version_1_store_samples_like_a_fresh_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = Store::open(&fixture("v1.store")).unwrap();
    let fresh_dir = dir.path().join("fresh.store");
    let options = IngestOptions {
        user_col: "user_indice".into(),
        item_col: "item_indice".into(),
        ..Default::default()
    };
    ingest(
        &fixture("pandas_example.csv"),
        &fresh_dir,
        &options,
        &|_| {},
    )
    .unwrap();
    let fresh = Store::open(&fresh_dir).unwrap();
    assert_eq!(fresh.format_version(), negsamp_store::format::VERSION);
    let config = SampleConfig {
        history: 2,
        seed: 9,
        ..Default::default()
    };
    run(&v1, &dir.path().join("a"), &config);
    run(&fresh, &dir.path().join("b"), &config);
    assert_eq!(
        dataset_bytes(&dir.path().join("a")),
        dataset_bytes(&dir.path().join("b"))
    );
}

/// The `time_order` section only saves a sort: the same store without it (as every
/// store before format 4) samples the same bytes, histories included.
#[test]
fn the_stored_time_order_samples_like_the_sort() {
    let dir = tempfile::tempdir().unwrap();
    let stored = generated_store(dir.path(), 1500, 300, 5);
    let sorted = dir.path().join("sorted.store");
    copy_dir(&stored, &sorted);
    let bytes = std::fs::read(stored.join("store.bin")).unwrap();
    std::fs::write(
        sorted.join("store.bin"),
        without_section(&bytes, SectionKind::TimeOrder),
    )
    .unwrap();
    let (stored, sorted) = (Store::open(&stored).unwrap(), Store::open(&sorted).unwrap());
    assert!(stored.time_order().is_some() && sorted.time_order().is_none());
    sorted.verify().unwrap();
    let config = SampleConfig {
        history: 3,
        seed: 4,
        amount: Amount::Ratio(2),
        ..Default::default()
    };
    run(&stored, &dir.path().join("a"), &config);
    run(&sorted, &dir.path().join("b"), &config);
    assert!(dataset_bytes(&dir.path().join("a")) == dataset_bytes(&dir.path().join("b")));
}

/// A store file's bytes with section `kind` dropped from the header and its bytes
/// zeroed (padding, as `verify` requires) or cut when last; the other sections stay
/// where they were.
fn without_section(bytes: &[u8], kind: SectionKind) -> Vec<u8> {
    let header = Header::decode(bytes).unwrap();
    let dropped = *header.section(kind).unwrap();
    let kept: Vec<_> = header
        .sections
        .iter()
        .filter(|s| s.kind != kind)
        .copied()
        .collect();
    let (encoded, _) = Header::encode(header.counts, header.time_unit, &kept);
    let mut out = bytes.to_vec();
    out[..Header::encoded_len(header.sections.len())].fill(0);
    out[..encoded.len()].copy_from_slice(&encoded);
    out[dropped.offset as usize..(dropped.offset + dropped.length) as usize].fill(0);
    // Nothing may follow the last section.
    let end = kept.iter().map(|s| s.offset + s.length).max().unwrap();
    if dropped.offset > end {
        out.truncate(end as usize);
    }
    out
}
