//! The features merge inside the engine: carried columns are the anchor's kept values,
//! histories hold exactly the anchor's strictly earlier positives — checked against
//! hand-computed values on `fixtures/features.csv` (timestamp ties, missing values)
//! and against the definition on generated stores.

mod common;

use common::*;
use negsamp_engine::npy::read;
use negsamp_engine::{sample_to_dir, EngineError, HistoryOrder, SampleConfig};
use negsamp_store::ingest::{ingest, IngestOptions, TimeColumn};
use negsamp_store::kept::MISSING_I64;
use negsamp_store::synth::{generate, SynthOptions};
use negsamp_store::Store;
use std::collections::HashMap;
use std::path::Path;

/// `fixtures/features.csv` with price, clicks and category kept.
fn features_store(dir: &Path, time: TimeColumn) -> Store {
    let store = dir.join(format!(
        "features-{}.store",
        matches!(time, TimeColumn::Ignore)
    ));
    let options = IngestOptions {
        keep: ["price", "clicks", "category"]
            .map(|k| k.parse().unwrap())
            .to_vec(),
        time_col: time,
        ..Default::default()
    };
    ingest(&fixture("features.csv"), &store, &options, &|_| {}).unwrap();
    Store::open(&store).unwrap()
}

fn features_config(history: u32) -> SampleConfig {
    SampleConfig {
        carry: vec!["price".into(), "clicks".into(), "category".into()],
        history,
        seed: 5,
        shards: Some(1),
        ..Default::default()
    }
}

#[test]
fn carried_values_and_histories_on_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let store = features_store(dir.path(), TimeColumn::IfPresent("timestamp".into()));
    let out = dir.path().join("ds");
    let manifest = run(&store, &out, &features_config(3));
    assert_eq!(manifest.pad, 5, "the pad is the item count");
    let part = out.join("part-00000");
    let anchor: Vec<u64> = read(&part.join("anchor.npy")).unwrap();
    let price: Vec<f64> = read(&part.join("price.npy")).unwrap();
    let clicks: Vec<i64> = read(&part.join("clicks.npy")).unwrap();
    let category: Vec<u32> = read(&part.join("category.npy")).unwrap();
    let history: Vec<u32> = read(&part.join("history.npy")).unwrap();
    let history_len: Vec<u32> = read(&part.join("history_len.npy")).unwrap();
    let categories: Vec<String> = std::fs::read_to_string(out.join("category.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let items: Vec<String> = std::fs::read_to_string(out.join("items.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    // By the anchor's source row: price, clicks, category, history (item ids).
    let nan = f64::NAN;
    type Expected<'a> = (f64, i64, Option<&'a str>, Vec<&'a str>);
    let expected: HashMap<u64, Expected> = [
        (0, (1.5, 3, Some("books"), vec!["i2", "i3"])),
        (7, (3.0, 4, Some("music"), vec![])),
        (2, (nan, 7, Some("books"), vec!["i2"])),
        (4, (4.0, 2, Some("music"), vec!["i2", "i3", "i1"])),
        // a tie with i4 at t=110: i4 is not before i5
        (9, (5.5, 6, Some("books"), vec!["i2", "i3", "i1"])),
        (3, (9.0, MISSING_I64, None, vec![])),
        (5, (0.5, 0, Some("books"), vec![])),
        (6, (nan, 5, Some("toys, games"), vec!["i1", "i2"])),
        (8, (1.0, 1, Some("books"), vec![])),
    ]
    .into_iter()
    .collect();
    // user a has every item (no negatives), b two candidates, c four: 9 + 2 + 1 rows
    assert_eq!(anchor.len(), 12);
    for (r, a) in anchor.iter().enumerate() {
        let (p, c, cat, hist) = &expected[a];
        assert_eq!(price[r].to_bits(), p.to_bits(), "row {r} price");
        assert_eq!(clicks[r], *c, "row {r} clicks");
        let got_category =
            (category[r] != u32::MAX).then(|| categories[category[r] as usize].as_str());
        assert_eq!(got_category, *cat, "row {r} category");
        let row = &history[r * 3..r * 3 + 3];
        let len = history_len[r] as usize;
        assert_eq!(len, hist.len(), "row {r} history_len");
        assert!(
            row[..3 - len].iter().all(|&x| x == 5),
            "row {r}: left padding"
        );
        let got: Vec<&str> = row[3 - len..]
            .iter()
            .map(|&i| items[i as usize].as_str())
            .collect();
        assert_eq!(&got, hist, "row {r} history");
    }
}

/// On generated stores with many timestamp ties, every history is exactly the anchor's
/// most recent strictly earlier positives: counted and ordered independently of the
/// engine's index.
#[test]
fn histories_never_reach_the_anchors_time() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ties.csv");
    let options = SynthOptions {
        users: 400,
        items: 300,
        mean_degree: 15.0,
        time_span: 12, // ~15 positives over 12 instants: ties everywhere
        seed: 3,
        ..Default::default()
    };
    generate(&options, std::fs::File::create(&csv).unwrap(), &|_| {}).unwrap();
    let store_dir = dir.path().join("ties.store");
    ingest(&csv, &store_dir, &IngestOptions::default(), &|_| {}).unwrap();
    let store = Store::open(&store_dir).unwrap();
    for n in [1usize, 4, 50] {
        let out = dir.path().join(format!("h{n}"));
        let config = SampleConfig {
            history: n as u32,
            shards: Some(1),
            ..Default::default()
        };
        run(&store, &out, &config);
        let part = out.join("part-00000");
        let users: Vec<u32> = read(&part.join("user.npy")).unwrap();
        let anchors: Vec<u64> = read(&part.join("anchor.npy")).unwrap();
        let history: Vec<u32> = read(&part.join("history.npy")).unwrap();
        let lens: Vec<u32> = read(&part.join("history_len.npy")).unwrap();
        let mut checked = 0;
        for r in 0..users.len() {
            let view = store.user(users[r]).unwrap();
            let ts = view.timestamps.unwrap();
            let at = view.rows.iter().position(|&x| x == anchors[r]).unwrap();
            let time_of = |item: u32| ts[view.items.iter().position(|&i| i == item).unwrap()];
            let earlier = ts.iter().filter(|&&t| t < ts[at]).count();
            let len = lens[r] as usize;
            assert_eq!(len, earlier.min(n), "row {r}");
            let entries = &history[r * n + n - len..(r + 1) * n];
            let times: Vec<i64> = entries.iter().map(|&i| time_of(i)).collect();
            assert!(times.iter().all(|&t| t < ts[at]), "row {r}: {times:?}");
            assert!(
                times.windows(2).all(|w| w[0] <= w[1]),
                "row {r}: oldest first"
            );
            // the most recent: nothing left out is later than what was kept
            if let Some(&oldest) = times.first() {
                let newer_left_out = ts.iter().filter(|&&t| t > oldest && t < ts[at]).count();
                assert!(newer_left_out <= len, "row {r}");
            }
            checked += usize::from(len > 0);
        }
        assert!(checked > users.len() / 3, "histories are exercised");
    }
}

#[test]
fn history_needs_timestamps_unless_row_order_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let store = features_store(dir.path(), TimeColumn::Ignore);
    let err =
        sample_to_dir(&store, &dir.path().join("x"), &features_config(2), &|_| {}).unwrap_err();
    assert!(
        matches!(&err, EngineError::Config(m) if m.contains("--history-order row")),
        "{err}"
    );
    let config = SampleConfig {
        history_order: HistoryOrder::Row,
        ..features_config(2)
    };
    let out = dir.path().join("rows");
    run(&store, &out, &config);
    let part = out.join("part-00000");
    let anchors: Vec<u64> = read(&part.join("anchor.npy")).unwrap();
    let history: Vec<u32> = read(&part.join("history.npy")).unwrap();
    let r = anchors.iter().position(|&a| a == 9).unwrap();
    // Without timestamps the duplicate (a, i2) keeps its lowest row, 1. Rows before
    // 9: 0 (i1), 1 (i2), 2 (i3), 4 (i4): the last two by row are i3, i4.
    assert_eq!(&history[r * 2..r * 2 + 2], [2, 3]);
}

#[test]
fn carrying_needs_a_kept_column_with_a_free_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = features_store(dir.path(), TimeColumn::IfPresent("timestamp".into()));
    let bad = |carry: &str| {
        let config = SampleConfig {
            carry: vec![carry.into()],
            ..Default::default()
        };
        sample_to_dir(&store, &dir.path().join("x"), &config, &|_| {})
            .unwrap_err()
            .to_string()
    };
    let err = bad("colour");
    assert!(
        err.contains("keeps no column \"colour\"") && err.contains("price, clicks, category"),
        "{err}"
    );
    let v1 = Store::open(&fixture("v1.store")).unwrap();
    let config = SampleConfig {
        carry: vec!["price".into()],
        ..Default::default()
    };
    let err = sample_to_dir(&v1, &dir.path().join("y"), &config, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("it keeps: none"), "{err}");
}

/// A tampered carried value or history entry passes the file checksums (rewritten as
/// a buggy writer would) and is still caught by verify's recomputation.
#[test]
fn verify_recomputes_carried_values_and_histories() {
    let dir = tempfile::tempdir().unwrap();
    let store = features_store(dir.path(), TimeColumn::IfPresent("timestamp".into()));
    let fresh = |name: &str| {
        let out = dir.path().join(name);
        run(&store, &out, &features_config(3));
        out
    };
    let out = fresh("price");
    tamper(&out, "price", 4, 123.0f64);
    let err = negsamp_engine::verify::verify_output(&out, Some(&store))
        .unwrap_err()
        .to_string();
    assert!(err.contains("row 4: price differs"), "{err}");

    let out = fresh("category");
    // row 0 is user a's first anchor (i2, "music", code 2): make it "toys, games"
    tamper(&out, "category", 0, 1u32);
    let err = negsamp_engine::verify::verify_output(&out, Some(&store))
        .unwrap_err()
        .to_string();
    assert!(err.contains("category differs"), "{err}");

    let out = fresh("history");
    // the last entry of the last row's history (every row has 3 slots)
    let rows = 12;
    tamper(&out, "history", rows * 3 - 1, 0u32);
    let err = negsamp_engine::verify::verify_output(&out, Some(&store))
        .unwrap_err()
        .to_string();
    assert!(err.contains("history differs"), "{err}");
}
