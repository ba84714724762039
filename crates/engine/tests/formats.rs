//! Formats and layouts: `.npy` and Parquet outputs of one run hold identical values;
//! long and wide layouts hold the same (anchor, negative) pairs; every format and
//! layout is deterministic across threads, chunks and shards; a tampered Parquet file
//! is caught.

mod common;

use common::*;
use negsamp_engine::manifest::Manifest;
use negsamp_engine::schema::Dtype;
use negsamp_engine::verify::{read_part_data, verify_output, PartData};
use negsamp_engine::{Amount, AnchorDtype, Format, Layout, SampleConfig, Strategy};
use negsamp_kernel::uniform::Replacement;
use negsamp_store::ingest::{ingest, IngestOptions};
use negsamp_store::synth::{generate, SynthOptions};
use negsamp_store::Store;
use std::path::Path;

/// A generated store with price, category and device kept.
fn featured_store(dir: &Path) -> Store {
    let csv = dir.join("f.csv");
    let options = SynthOptions {
        users: 600,
        items: 400,
        mean_degree: 10.0,
        time_span: 1000,
        features: true,
        seed: 11,
        ..Default::default()
    };
    generate(&options, std::fs::File::create(&csv).unwrap(), &|_| {}).unwrap();
    let store = dir.join("f.store");
    let options = IngestOptions {
        keep: ["price", "category", "device"]
            .map(|k| k.parse().unwrap())
            .to_vec(),
        ..Default::default()
    };
    ingest(&csv, &store, &options, &|_| {}).unwrap();
    Store::open(&store).unwrap()
}

fn full_config(format: Format, layout: Layout) -> SampleConfig {
    SampleConfig {
        carry: vec!["price".into(), "category".into()],
        history: 4,
        log_q: true,
        amount: Amount::Ratio(3),
        format,
        layout,
        original_ids: format == Format::Parquet,
        seed: 17,
        shards: Some(3),
        ..Default::default()
    }
}

/// Every part of a dataset as long-layout rows, concatenated.
fn all_rows(out: &Path, store: &Store) -> PartData {
    let manifest = Manifest::read(out).unwrap();
    let mut all = PartData::default();
    for index in 0..manifest.parts.len() {
        let d = read_part_data(out, store, index).unwrap();
        all.user.extend(d.user);
        all.item.extend(d.item);
        all.label.extend(d.label);
        all.anchor.extend(d.anchor);
        all.timestamp
            .get_or_insert_with(Vec::new)
            .extend(d.timestamp.unwrap());
        all.log_q
            .get_or_insert_with(Vec::new)
            .extend(d.log_q.unwrap());
    }
    all
}

/// Each file of a dataset (name, bytes), manifest and run records excluded (they name
/// paths and times).
fn files(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out_files = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.to_string_lossy().contains("manifest") {
                let name = path
                    .strip_prefix(out)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out_files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out_files.sort();
    out_files
}

#[test]
fn parquet_and_npy_hold_identical_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = featured_store(dir.path());
    for layout in [Layout::Long, Layout::Wide] {
        let npy = dir.path().join(format!("npy-{layout:?}"));
        let parquet = dir.path().join(format!("parquet-{layout:?}"));
        let m_npy = run(&store, &npy, &full_config(Format::Npy, layout));
        let m_parquet = run(&store, &parquet, &full_config(Format::Parquet, layout));
        // The logical checksums are format-neutral: equal per part and column.
        for (a, b) in m_npy.parts.iter().zip(&m_parquet.parts) {
            assert_eq!(a.columns, b.columns, "{layout:?}");
            assert_eq!(a.tally, b.tally);
        }
        let (a, b) = (all_rows(&npy, &store), all_rows(&parquet, &store));
        assert_eq!(a.item, b.item);
        assert_eq!(a.anchor, b.anchor);
        // Parquet readers see only data files.
        for entry in std::fs::read_dir(&parquet).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                name.ends_with(".parquet") || name.starts_with('_'),
                "{name} beside the Parquet parts"
            );
        }
    }
}

/// `--anchor-dtype u32` writes 4-byte anchors holding the u64 run's values, every
/// other file byte for byte the same, in each format and layout; verify reads them
/// back; a store with a source row beyond u32 refuses it.
#[test]
fn a_u32_anchor_holds_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = featured_store(dir.path());
    for format in [Format::Npy, Format::Parquet] {
        for layout in [Layout::Long, Layout::Wide] {
            let wide_out = dir.path().join(format!("u64-{format:?}-{layout:?}"));
            let narrow_out = dir.path().join(format!("u32-{format:?}-{layout:?}"));
            let config = full_config(format, layout);
            run(&store, &wide_out, &config);
            let narrow = SampleConfig {
                anchor_dtype: AnchorDtype::U32,
                ..config
            };
            let manifest = run(&store, &narrow_out, &narrow);
            let anchor = manifest
                .columns
                .iter()
                .find(|c| c.name == "anchor")
                .unwrap();
            assert_eq!(anchor.dtype, Dtype::U32);
            verify_output(&narrow_out, Some(&store)).unwrap();
            let (a, b) = (all_rows(&wide_out, &store), all_rows(&narrow_out, &store));
            assert_eq!(a.anchor, b.anchor, "{format:?} {layout:?}");
            assert_eq!((a.user, a.item), (b.user, b.item));
            if format == Format::Npy {
                let (a, b) = (files(&wide_out), files(&narrow_out));
                assert_eq!(a.len(), b.len());
                for ((name, x), (_, y)) in a.iter().zip(&b) {
                    if name.ends_with("anchor.npy") {
                        assert_eq!(x.len() - 128, 2 * (y.len() - 128), "{name}");
                    } else if name.ends_with(".npy") || name.ends_with(".txt") {
                        assert_eq!(x, y, "{name}");
                    }
                }
            }
        }
    }
    let mut lists = vec![vec![0, 2], vec![1]];
    let small = store_from_lists(&lists, 4);
    let narrow = SampleConfig {
        anchor_dtype: AnchorDtype::U32,
        ..Default::default()
    };
    assert!(negsamp_engine::schema::Schema::new(&small, &narrow).is_ok());
    lists.push(vec![3]);
    let big = store_with_rows(&lists, 4, &[0, 1, 2, u64::from(u32::MAX) + 1]);
    let err = negsamp_engine::schema::Schema::new(&big, &narrow).unwrap_err();
    assert!(err.to_string().contains("source row 4294967296"), "{err}");
}

#[test]
fn wide_and_long_layouts_hold_the_same_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let store = featured_store(dir.path());
    for replacement in [Replacement::Without, Replacement::With] {
        let config = |layout| SampleConfig {
            replacement,
            ..full_config(Format::Npy, layout)
        };
        let long = dir.path().join(format!("long-{replacement:?}"));
        let wide = dir.path().join(format!("wide-{replacement:?}"));
        run(&store, &long, &config(Layout::Long));
        run(&store, &wide, &config(Layout::Wide));
        let (l, w) = (all_rows(&long, &store), all_rows(&wide, &store));
        let pairs = |d: &PartData| {
            let mut p: Vec<(u64, u32, u32)> = (0..d.item.len())
                .filter(|&r| d.label[r] == 0)
                .map(|r| {
                    (
                        d.anchor[r],
                        d.item[r],
                        d.log_q.as_ref().unwrap()[r].to_bits(),
                    )
                })
                .collect();
            p.sort_unstable();
            p
        };
        let long_pairs = pairs(&l);
        assert!(!long_pairs.is_empty());
        assert_eq!(long_pairs, pairs(&w), "{replacement:?}");
        // wide rows: one per positive, so as many as the long layout's positives
        let wide_manifest = Manifest::read(&wide).unwrap();
        let long_manifest = Manifest::read(&long).unwrap();
        assert_eq!(
            wide_manifest.totals.tally.rows,
            long_manifest.totals.tally.positives
        );
    }
}

#[test]
fn every_format_and_layout_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let store = featured_store(dir.path());
    for format in [Format::Npy, Format::Parquet] {
        for layout in [Layout::Long, Layout::Wide] {
            let base = full_config(format, layout);
            let mut reference = None;
            for (threads, chunk_rows) in [(1, 1 << 16), (2, 50), (3, 7)] {
                let out = dir.path().join(format!("{format:?}-{layout:?}-{threads}"));
                let config = SampleConfig {
                    chunk_rows,
                    ..base.clone()
                };
                pool(threads).install(|| run(&store, &out, &config));
                let bytes = files(&out);
                match &reference {
                    None => reference = Some(bytes),
                    Some(r) => assert!(r == &bytes, "{format:?} {layout:?}: threads {threads}"),
                }
            }
            // any shard count: the same rows in the same order
            let mut rows = None;
            for shards in [1, 2, 7] {
                let out = dir.path().join(format!("{format:?}-{layout:?}-s{shards}"));
                let config = SampleConfig {
                    shards: Some(shards),
                    ..base.clone()
                };
                run(&store, &out, &config);
                let d = all_rows(&out, &store);
                let key = (d.user, d.item, d.anchor);
                match &rows {
                    None => rows = Some(key),
                    Some(r) => assert!(r == &key, "{format:?} {layout:?}: shards {shards}"),
                }
            }
        }
    }
}

#[test]
fn popularity_and_split_work_in_every_format_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let store = featured_store(dir.path());
    for format in [Format::Npy, Format::Parquet] {
        for layout in [Layout::Long, Layout::Wide] {
            let config = SampleConfig {
                strategy: Strategy::Popularity { alpha: 0.75 },
                ..full_config(format, layout)
            };
            let out = dir.path().join(format!("split-{format:?}-{layout:?}"));
            let [train, test] = negsamp_engine::sample_split(
                &store,
                &out,
                &config,
                negsamp_store::time::TimePoint::Number(500),
                &|_| {},
            )
            .unwrap();
            verify_output(&out.join("train"), Some(&store)).unwrap();
            verify_output(&out.join("test"), Some(&store)).unwrap();
            let whole = dir.path().join(format!("whole-{format:?}-{layout:?}"));
            let m = run(&store, &whole, &config);
            assert_eq!(
                train.manifest.totals.tally.rows + test.manifest.totals.tally.rows,
                m.totals.tally.rows
            );
        }
    }
}

#[test]
fn a_tampered_parquet_file_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let store = featured_store(dir.path());
    let out = dir.path().join("p");
    run(&store, &out, &full_config(Format::Parquet, Layout::Long));
    let path = out.join("part-00001.parquet");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(err.contains("checksum"), "{err}");
    // without the store too: the file checksum is the manifest's promise
    let err = verify_output(&out, None).unwrap_err().to_string();
    assert!(err.contains("checksum"), "{err}");
}

#[test]
fn layout_and_format_misuse_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = featured_store(dir.path());
    let err = |config: SampleConfig| {
        negsamp_engine::sample_to_dir(&store, &dir.path().join("x"), &config, &|_| {})
            .unwrap_err()
            .to_string()
    };
    let wide = full_config(Format::Npy, Layout::Wide);
    let e = err(SampleConfig {
        amount: Amount::PerUser(4),
        ..wide.clone()
    });
    assert!(e.contains("--per-user does not apply"), "{e}");
    let e = err(SampleConfig {
        negatives_only: true,
        ..wide
    });
    assert!(e.contains("--negatives-only"), "{e}");
    let e = err(SampleConfig {
        original_ids: true,
        ..full_config(Format::Npy, Layout::Long)
    });
    assert!(e.contains("--format parquet"), "{e}");
}
