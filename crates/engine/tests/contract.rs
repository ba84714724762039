//! The sampling contract on hand-checked and random stores: never a positive, exact counts, anchors, exclusions, typed errors for bad stores.

mod common;

use common::*;
use negsamp_engine::manifest::Manifest;
use negsamp_engine::verify::{read_part_data, verify_output};
use negsamp_engine::{sample_split, sample_to_dir, Amount, EngineError, SampleConfig, Strategy};
use negsamp_kernel::stream::user_key;
use negsamp_kernel::uniform::{Kernel, Replacement};
use negsamp_store::ingest::{ingest, IngestOptions};
use negsamp_store::time::TimePoint;
use negsamp_store::write::{to_bytes, Columns};
use negsamp_store::Store;
use proptest::prelude::{any, prop_assert_eq, proptest, Just, ProptestConfig};
use proptest::strategy::Strategy as _;
use std::path::Path;

#[test]
fn the_pandas_example_gives_the_articles_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("p.store");
    let options = IngestOptions {
        user_col: "user_indice".into(),
        item_col: "item_indice".into(),
        ..Default::default()
    };
    ingest(
        &fixture("pandas_example.csv"),
        &store_dir,
        &options,
        &|_| {},
    )
    .unwrap();
    let store = Store::open(&store_dir).unwrap();
    let out = dir.path().join("train");
    let manifest = run(
        &store,
        &out,
        &SampleConfig {
            seed: 42,
            ..Default::default()
        },
    );
    let t = manifest.totals.tally;
    assert_eq!(
        (t.positives, t.negatives, t.shortfall, t.users_short, t.rows),
        (10, 8, 2, 1, 18)
    );
    let data = read_part_data(&out, &store, 0).unwrap();
    let negatives_per_user: Vec<usize> = (0..5)
        .map(|u| {
            data.user
                .iter()
                .zip(&data.label)
                .filter(|(&x, &l)| x == u && l == 0)
                .count()
        })
        .collect();
    assert_eq!(negatives_per_user, [2, 1, 2, 2, 1]);
    // user "2" (index 1) has one candidate, item 102 (index 1)
    let user2: Vec<u32> = (0..data.user.len())
        .filter(|&r| data.user[r] == 1 && data.label[r] == 0)
        .map(|r| data.item[r])
        .collect();
    assert_eq!(user2, [1]);
    assert_eq!(
        std::fs::read_to_string(out.join("users.txt")).unwrap(),
        "1\n2\n3\n4\n5\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("items.txt")).unwrap(),
        "101\n102\n103\n104\n"
    );
}

fn lists_strategy() -> impl proptest::strategy::Strategy<Value = (Vec<Vec<u32>>, u32)> {
    (1u32..60).prop_flat_map(|n_items| {
        let user = proptest::collection::btree_set(0..n_items, 0..=n_items as usize)
            .prop_map(|s| s.into_iter().collect::<Vec<u32>>());
        (proptest::collection::vec(user, 1..40), Just(n_items))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Never a positive, exact counts, shortfall accounting, no repeats without
    /// replacement, anchors and timestamps from the store — all checked by
    /// `verify_output` against the store — over random stores and parameters.
    #[test]
    fn every_run_honours_the_contract(
        (lists, n_items) in lists_strategy(),
        per_user in proptest::option::of(0u32..30),
        ratio in 0u32..5,
        with in any::<bool>(),
        negatives_only in any::<bool>(),
        shards in 1u32..4,
        seed in any::<u64>(),
        popularity in proptest::option::of(0.0f64..2.0),
        log_q in any::<bool>(),
        kernel in proptest::sample::select(Kernel::ALL.to_vec()),
    ) {
        let store = store_from_lists(&lists, n_items);
        let kernel = if popularity.is_some() { Kernel::Auto } else { kernel };
        let config = SampleConfig {
            strategy: popularity.map_or(Strategy::Uniform, |alpha| Strategy::Popularity { alpha }),
            kernel,
            log_q,
            amount: per_user.map_or(Amount::Ratio(ratio), Amount::PerUser),
            replacement: if with { Replacement::With } else { Replacement::Without },
            negatives_only,
            shards: Some(shards.min(lists.len() as u32)),
            seed,
            chunk_rows: 7,
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o");
        let manifest = run(&store, &out, &config);
        let t = manifest.totals.tally;
        let positives: u64 = lists.iter().map(|l| l.len() as u64).sum();
        prop_assert_eq!(t.positives, if negatives_only { 0 } else { positives });
        let requested: u64 = lists.iter().map(|l| config.amount.request(l.len())).sum();
        prop_assert_eq!(t.negatives + t.shortfall, requested);
        if popularity.is_none() && !with && !kernel.may_fall_short() {
            // uniform without replacement: the shortfall is exactly what candidates lack
            let short: u64 = lists.iter().map(|l| config.amount.request(l.len()).saturating_sub(u64::from(n_items) - l.len() as u64)).sum();
            prop_assert_eq!(t.shortfall, short);
        }
    }
}

#[test]
fn a_user_with_every_item_gets_none_and_counts_as_short() {
    let store = store_from_lists(&[vec![0, 1, 2], vec![1]], 3);
    let dir = tempfile::tempdir().unwrap();
    let m = run(&store, &dir.path().join("o"), &SampleConfig::default());
    assert_eq!(
        (
            m.totals.tally.negatives,
            m.totals.tally.shortfall,
            m.totals.tally.users_short
        ),
        (1, 3, 1)
    );
}

#[test]
fn exclusions_are_never_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("user,item\n");
    for u in 0..300 {
        csv.push_str(&format!("u{u},i{}\n", u % 3));
    }
    for i in 0..10 {
        csv.push_str(&format!("x,i{i}\n"));
    }
    let (_, store) = store_from_csv(dir.path(), "e", &csv);
    let exclude = dir.path().join("holdout.csv");
    let mut holdout = String::from("item,user\n");
    for u in 0..300 {
        for i in 3..8 {
            holdout.push_str(&format!("i{i},u{u}\n"));
        }
    }
    std::fs::write(&exclude, &holdout).unwrap();
    for strategy in [Strategy::Uniform, Strategy::Popularity { alpha: 1.0 }] {
        let config = SampleConfig {
            strategy,
            exclude: Some(exclude.clone()),
            amount: Amount::PerUser(4),
            log_q: true,
            ..Default::default()
        };
        let out = dir.path().join(format!("o-{strategy:?}"));
        run(&store, &out, &config); // verify checks exclusions and log_q
        let data = read_part_data(&out, &store, 0).unwrap();
        let items = store.item_ids().unwrap();
        let users = store.user_ids().unwrap();
        let mut negatives = 0;
        for r in (0..data.user.len())
            .filter(|&r| data.label[r] == 0 && users[data.user[r] as usize] != "x")
        {
            let item: u32 = items[data.item[r] as usize][1..].parse().unwrap();
            assert!(!(3..8).contains(&item), "excluded item {item} drawn");
            negatives += 1;
        }
        // 10 items − 1 positive − 5 excluded = 4 candidates: exactly 4 each
        assert_eq!(negatives, 300 * 4);
        if strategy == Strategy::Uniform {
            let q = data.log_q.as_ref().unwrap();
            let r = (0..data.user.len())
                .find(|&r| data.label[r] == 0 && users[data.user[r] as usize] != "x")
                .unwrap();
            assert!((f64::from(q[r]) - (-(4f64).ln())).abs() < 1e-6);
        }
    }
    std::fs::write(&exclude, "user,item\nu1,nope\n").unwrap();
    let config = SampleConfig {
        exclude: Some(exclude.clone()),
        ..Default::default()
    };
    let err = sample_to_dir(&store, &dir.path().join("bad"), &config, &|_| {}).unwrap_err();
    assert!(
        err.to_string()
            .contains("line 2: item \"nope\" is not in the store"),
        "{err}"
    );
    let config = SampleConfig {
        skip_unknown: true,
        ..config
    };
    run(&store, &dir.path().join("skipped"), &config);
}

/// `--kernel` is a uniform choice; combinations that cannot hold are refused.
#[test]
fn kernel_misuse_is_a_config_error() {
    let store = store_from_lists(&[vec![0, 1]], 5);
    let dir = tempfile::tempdir().unwrap();
    let popularity = SampleConfig {
        strategy: Strategy::Popularity { alpha: 1.0 },
        kernel: Kernel::GuessHash,
        ..Default::default()
    };
    let err = sample_to_dir(&store, &dir.path().join("a"), &popularity, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("uniform kernel"), "{err}");
    let vectorized = SampleConfig {
        kernel: Kernel::GuessVectorized,
        ..Default::default()
    };
    let err = sample_split(
        &store,
        &dir.path().join("b"),
        &vectorized,
        TimePoint::Number(500),
        &|_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("short batches"), "{err}");
}

/// A store whose checksums are right but whose data breaks the CSR invariants (as a
/// buggy writer could produce) makes `sample` fail with an error naming the user,
/// never panic and never publish output.
#[test]
fn corrupt_but_checksummed_stores_are_errors() {
    let keys: Vec<u64> = (0..2)
        .map(|u| user_key(format!("u{u}").as_bytes()))
        .collect();
    let cases: [(&[u64], &[u32]); 3] = [
        (&[0, 2, 3], &[3, 1, 2]),  // user 0's items not ascending
        (&[0, 2, 3], &[1, 2, 99]), // item outside a catalog of 5
        (&[0, 3, 3], &[1, 2, 4]),  // fine: control
    ];
    for (k, (indptr, indices)) in cases.into_iter().enumerate() {
        let rows: Vec<u64> = (0..indices.len() as u64).collect();
        let columns = Columns {
            n_items: 5,
            indptr,
            indices,
            rows: &rows,
            timestamps: None,
            user_keys: &keys,
            kept: &[],
        };
        let store = Store::from_bytes(&to_bytes(&columns)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o");
        let result = sample_to_dir(&store, &out, &SampleConfig::default(), &|_| {});
        if k == 2 {
            result.unwrap();
        } else {
            assert!(
                matches!(result, Err(EngineError::Kernel { .. })),
                "case {k}: {result:?}"
            );
            assert!(!out.exists());
        }
    }
}

/// `sample_split` writes train/ and test/, each verified on its own; together they are
/// exactly the unsplit run's rows, cut at T by anchor timestamp.
#[test]
fn split_at_cuts_the_unsplit_run_by_anchor_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&generated_store(dir.path(), 800, 200, 6)).unwrap();
    let config = SampleConfig {
        strategy: Strategy::Popularity { alpha: 1.0 },
        amount: Amount::Ratio(2),
        seed: 5,
        shards: Some(2),
        ..Default::default()
    };
    let whole = dir.path().join("whole");
    run(&store, &whole, &config);
    let at = 1_650_000_000;
    let out = dir.path().join("ds");
    let [train, test] =
        sample_split(&store, &out, &config, TimePoint::Number(at), &|_| {}).unwrap();
    for side in ["train", "test"] {
        verify_output(&out.join(side), Some(&store)).unwrap();
        assert!(out.join(side).join("users.txt").exists());
    }
    let t = (train.manifest.totals.tally, test.manifest.totals.tally);
    let w = Manifest::read(&whole).unwrap().totals.tally;
    assert_eq!(t.0.rows + t.1.rows, w.rows);
    assert_eq!(t.0.positives + t.1.positives, w.positives);
    assert_eq!(t.0.negatives + t.1.negatives, w.negatives);
    assert!(t.0.rows > 0 && t.1.rows > 0);

    let columns = |d: &Path| dataset_bytes(d);
    let whole_cols = columns(&whole);
    let ts: &[i64] = bytemuck::cast_slice(&whole_cols[4]);
    for (side, keep) in [("train", true), ("test", false)] {
        let got = columns(&out.join(side));
        for (c, element) in [(0usize, 4usize), (1, 4), (2, 1), (3, 8), (4, 8)] {
            let expected: Vec<u8> = whole_cols[c]
                .chunks_exact(element)
                .zip(ts)
                .filter(|(_, &t)| (t < at) == keep)
                .flat_map(|(bytes, _)| bytes.to_vec())
                .collect();
            assert!(
                got[c] == expected,
                "{side}: column {c} differs from the unsplit run cut at T"
            );
        }
    }
    // rerunning resumes both finished sides
    let again = sample_split(
        &store,
        &dir.path().join("ds2"),
        &config,
        TimePoint::Number(at),
        &|_| {},
    )
    .unwrap();
    assert_eq!(again[0].manifest.totals, train.manifest.totals);
    let keys = [user_key(b"u0")];
    let columns = Columns {
        n_items: 3,
        indptr: &[0, 1],
        indices: &[1],
        rows: &[0],
        timestamps: None,
        user_keys: &keys,
        kept: &[],
    };
    let no_time = Store::from_bytes(&to_bytes(&columns)).unwrap();
    let err = sample_split(
        &no_time,
        &dir.path().join("x"),
        &config,
        TimePoint::Number(at),
        &|_| {},
    );
    assert!(matches!(err, Err(EngineError::Config(m)) if m.contains("timestamps")));
}

/// Sizes derived from input are checked before anything is allocated: a header
/// claiming 2^32 - 1 items, a request no memory or disk can hold, more parts than
/// users. Each is an error, never an abort.
#[test]
fn impossible_sizes_are_errors_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let indptr = [0u64, 2];
    let keys = [user_key(b"u0")];
    let columns = Columns {
        n_items: u32::MAX,
        indptr: &indptr,
        indices: &[1, 7],
        rows: &[0, 1],
        timestamps: None,
        user_keys: &keys,
        kept: &[],
    };
    let huge_catalog = Store::from_bytes(&to_bytes(&columns)).unwrap();
    let popularity = SampleConfig {
        strategy: Strategy::Popularity { alpha: 1.0 },
        ..Default::default()
    };
    let err =
        sample_to_dir(&huge_catalog, &dir.path().join("a"), &popularity, &|_| {}).unwrap_err();
    assert!(
        err.to_string()
            .contains("more than this machine can allocate"),
        "{err}"
    );
    assert!(negsamp_store::stats::describe(&huge_catalog).is_err());

    let store = store_from_lists(&[vec![1, 2], vec![0]], 5);
    let absurd = SampleConfig {
        amount: Amount::Ratio(u32::MAX),
        replacement: Replacement::With,
        ..Default::default()
    };
    let err = sample_to_dir(&store, &dir.path().join("b"), &absurd, &|_| {}).unwrap_err();
    assert!(matches!(&err, EngineError::TooLarge { .. }), "{err}");
    assert!(!dir.path().join("b").exists());
    let err = sample_to_dir(
        &store,
        &dir.path().join("c"),
        &SampleConfig {
            shards: Some(1_000_000),
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("--shards 1000000 exceeds"),
        "{err}"
    );
}

#[test]
fn a_path_that_is_not_utf8_is_a_config_error_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(std::ffi::OsStr::from_bytes(b"ex\xff.csv"));
    std::fs::write(&path, "user,item\n").unwrap();
    let store = store_from_lists(&[vec![1, 2], vec![0]], 5);
    for config in [
        SampleConfig {
            exclude: Some(path.clone()),
            ..Default::default()
        },
        SampleConfig {
            strategy: Strategy::Popularity { alpha: 1.0 },
            weights: Some(path.clone()),
            ..Default::default()
        },
    ] {
        let err = sample_to_dir(&store, &dir.path().join("o"), &config, &|_| {}).unwrap_err();
        assert!(
            matches!(&err, EngineError::Config(m) if m.contains("not valid UTF-8")),
            "{err}"
        );
    }
}
