use super::*;
use crate::{Store, StoreError};
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn run(
    csv: &Path,
    options: &IngestOptions,
) -> Result<(Store, IngestSummary, tempfile::TempDir), IngestError> {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("data.store");
    let summary = ingest(csv, &dest, options, &|_| {})?;
    let store = Store::open(&dest).unwrap();
    store.verify().unwrap();
    Ok((store, summary, dir))
}

fn run_fixture(
    name: &str,
    options: &IngestOptions,
) -> Result<(Store, IngestSummary, tempfile::TempDir), IngestError> {
    run(&fixture(name), options)
}

/// Ingests `bytes` written to a file named `name`: a fuzzer's input replayed.
fn ingest_bytes(name: &str, bytes: &[u8], options: &IngestOptions) -> IngestError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    run(&path, options).expect_err("the fuzzer's input should be refused")
}

fn user_items(store: &Store, u: u32) -> Vec<u32> {
    store.user(u).unwrap().items.to_vec()
}

#[test]
fn the_pandas_example() {
    let options = IngestOptions {
        user_col: "user_indice".into(),
        item_col: "item_indice".into(),
        ..Default::default()
    };
    let (store, summary, _dir) = run_fixture("pandas_example.csv", &options).unwrap();
    assert_eq!(
        (
            summary.rows,
            summary.users,
            summary.items,
            summary.interactions
        ),
        (10, 5, 4, 10)
    );
    assert_eq!((summary.duplicates, summary.bad_rows), (0, 0));
    assert_eq!(store.user_ids().unwrap(), ["1", "2", "3", "4", "5"]);
    assert_eq!(store.item_ids().unwrap(), ["101", "102", "103", "104"]);
    // items 101..104 are indices 0..3 (first appearance happens to be in order)
    assert_eq!(user_items(&store, 1), [0, 2, 3]);
    assert_eq!(store.user(1).unwrap().rows, [2, 3, 4]);
    assert_eq!(
        store.user(1).unwrap().timestamps.unwrap(),
        [1001, 1011, 1021]
    );
    assert_eq!(store.indptr(), [0, 2, 5, 7, 9, 10]);
    assert_eq!(store.user_keys()[0], negsamp_kernel::stream::user_key(b"1"));
}

#[test]
fn duplicates_keep_the_earliest_then_the_lowest_row() {
    let (store, summary, _dir) = run_fixture("duplicates.csv", &IngestOptions::default()).unwrap();
    assert_eq!(summary.duplicates, 3);
    assert_eq!(summary.interactions, 4);
    assert_eq!(store.item_ids().unwrap(), ["x", "y", "z"]);
    let a = store.user(0).unwrap();
    assert_eq!(
        (a.items, a.rows, a.timestamps.unwrap()),
        (&[0, 1][..], &[2, 1][..], &[20, 10][..])
    );
    let b = store.user(1).unwrap();
    assert_eq!(
        (b.items, b.rows, b.timestamps.unwrap()),
        (&[0, 2][..], &[3, 6][..], &[5, 7][..])
    );
}

#[test]
fn quoted_fields_bom_crlf_extra_columns_and_blank_lines() {
    let (store, summary, _dir) = run_fixture("quoted.csv", &IngestOptions::default()).unwrap();
    assert_eq!(summary.rows, 4);
    assert_eq!(store.user_ids().unwrap(), ["alice", "bob"]);
    assert_eq!(
        store.item_ids().unwrap(),
        ["book, vol. 1", "the \"best\" pen", "lamp"]
    );
    assert_eq!(user_items(&store, 0), [0, 1]);
    assert_eq!(store.user(1).unwrap().rows, [2, 3]);
    assert_eq!(store.user(1).unwrap().timestamps.unwrap(), [20, 40]);
}

#[test]
fn time_column_is_optional_unless_required() {
    let (store, summary, _dir) =
        run_fixture("no_timestamp.csv", &IngestOptions::default()).unwrap();
    assert!(!summary.has_timestamps && !store.has_timestamps());
    let options = IngestOptions {
        time_col: TimeColumn::Required("timestamp".into()),
        ..Default::default()
    };
    let err = run_fixture("no_timestamp.csv", &options).unwrap_err();
    assert!(
        matches!(err, IngestError::MissingColumn { ref column, .. } if column == "timestamp"),
        "{err}"
    );
    let options = IngestOptions {
        time_col: TimeColumn::Ignore,
        ..Default::default()
    };
    let (store, _, _dir) = run_fixture(
        "pandas_example.csv",
        &IngestOptions {
            user_col: "user_indice".into(),
            item_col: "item_indice".into(),
            ..options
        },
    )
    .unwrap();
    assert!(!store.has_timestamps());
}

#[test]
fn the_catalog_fixes_item_order_and_rejects_unknown_items() {
    let options = IngestOptions {
        items_file: Some(fixture("numpy_catalog.txt")),
        ..Default::default()
    };
    let (store, _, _dir) = run_fixture("numpy_example.csv", &options).unwrap();
    assert_eq!(store.n_items(), 10);
    assert_eq!(user_items(&store, 0), [3, 7]);

    let options = IngestOptions {
        items_file: Some(fixture("catalog.txt")),
        ..Default::default()
    };
    let err = run_fixture("unknown_item.csv", &options).unwrap_err();
    assert!(
        matches!(err, IngestError::UnknownItem { line: 3, ref id, .. } if id == "zz"),
        "{err}"
    );
    let skipping = IngestOptions {
        skip_bad_rows: true,
        ..options
    };
    let (store, summary, _dir) = run_fixture("unknown_item.csv", &skipping).unwrap();
    assert_eq!(
        (summary.bad_rows, summary.interactions, store.n_items()),
        (1, 2, 3)
    );
    assert_eq!(store.user(1).unwrap().rows, [2]);

    let options = IngestOptions {
        items_file: Some(fixture("catalog_duplicate.txt")),
        ..Default::default()
    };
    let err = run_fixture("unknown_item.csv", &options).unwrap_err();
    assert!(
        matches!(err, IngestError::BadCatalog { line: 3, .. }),
        "{err}"
    );
}

#[test]
fn every_malformed_row_names_its_line_and_can_be_skipped() {
    type Expect = fn(&IngestError) -> bool;
    let cases: [(&str, Expect); 5] = [
        ("bad_field_count.csv", |e| {
            matches!(
                e,
                IngestError::FieldCount {
                    line: 3,
                    expected: 3,
                    got: 2,
                    ..
                }
            )
        }),
        (
            "bad_timestamp.csv",
            |e| matches!(e, IngestError::BadTimestamp { line: 3, value, .. } if value == "yesterday"),
        ),
        (
            "empty_user.csv",
            |e| matches!(e, IngestError::EmptyId { line: 3, column, .. } if column == "user"),
        ),
        (
            "empty_item.csv",
            |e| matches!(e, IngestError::EmptyId { line: 3, column, .. } if column == "item"),
        ),
        ("unterminated_quote.csv", |e| {
            matches!(e, IngestError::UnterminatedQuote { line: 3, .. })
        }),
    ];
    for (name, expected) in cases {
        let err = run_fixture(name, &IngestOptions::default()).unwrap_err();
        assert!(expected(&err), "{name}: {err}");
        assert!(
            err.to_string().contains(name),
            "{name}: the message names the file: {err}"
        );
        let skipping = IngestOptions {
            skip_bad_rows: true,
            ..Default::default()
        };
        let (store, summary, _dir) = run_fixture(name, &skipping).unwrap();
        assert_eq!(
            (summary.rows, summary.bad_rows, summary.interactions),
            (3, 1, 2),
            "{name}"
        );
        // rows keep their numbers in the source: the bad row 1 is a hole
        assert_eq!(store.rows(), [0, 2], "{name}");
    }
}

#[test]
fn empty_inputs_and_missing_columns_are_errors() {
    for name in ["empty.csv", "header_only.csv"] {
        let err = run_fixture(name, &IngestOptions::default()).unwrap_err();
        assert!(
            matches!(err, IngestError::EmptyInput { .. }),
            "{name}: {err}"
        );
    }
    let err = run_fixture("missing_column.csv", &IngestOptions::default()).unwrap_err();
    assert!(
        matches!(err, IngestError::MissingColumn { ref column, .. } if column == "user"),
        "{err}"
    );
    assert!(
        err.to_string().contains("customer, product, timestamp"),
        "{err}"
    );
}

#[test]
fn an_existing_store_is_kept_unless_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("s");
    ingest(
        &fixture("no_timestamp.csv"),
        &dest,
        &IngestOptions::default(),
        &|_| {},
    )
    .unwrap();
    let err = ingest(
        &fixture("duplicates.csv"),
        &dest,
        &IngestOptions::default(),
        &|_| {},
    )
    .unwrap_err();
    assert!(
        matches!(err, IngestError::Store(StoreError::AlreadyExists { .. })),
        "{err}"
    );
    assert_eq!(Store::open(&dest).unwrap().n_users(), 2);
    let overwrite = IngestOptions {
        overwrite: true,
        ..Default::default()
    };
    ingest(&fixture("duplicates.csv"), &dest, &overwrite, &|_| {}).unwrap();
    assert_eq!(Store::open(&dest).unwrap().n_interactions(), 4);
    assert!(!crate::publish::staging_path(&dest).exists());
}

/// The simple reference build: sequential, maps and sorts, no cleverness.
struct Reference {
    users: Vec<String>,
    items: Vec<String>,
    indptr: Vec<u64>,
    indices: Vec<u32>,
    rows: Vec<u64>,
    timestamps: Vec<i64>,
}

fn reference(rows: &[(String, String, i64)]) -> Reference {
    let (mut users, mut items) = (Vec::<String>::new(), Vec::<String>::new());
    let (mut user_index, mut item_index) = (HashMap::new(), HashMap::new());
    let mut best: HashMap<(u32, u32), (i64, u64)> = HashMap::new();
    for (row, (u, i, t)) in rows.iter().enumerate() {
        let u = *user_index.entry(u.clone()).or_insert_with(|| {
            users.push(u.clone());
            users.len() as u32 - 1
        });
        let i = *item_index.entry(i.clone()).or_insert_with(|| {
            items.push(i.clone());
            items.len() as u32 - 1
        });
        let e = best.entry((u, i)).or_insert((*t, row as u64));
        *e = (*e).min((*t, row as u64));
    }
    let mut pairs: Vec<_> = best.into_iter().collect();
    pairs.sort();
    let mut indptr = vec![0u64; users.len() + 1];
    for ((u, _), _) in &pairs {
        indptr[*u as usize + 1] += 1;
    }
    for u in 0..users.len() {
        indptr[u + 1] += indptr[u];
    }
    Reference {
        users,
        items,
        indptr,
        indices: pairs.iter().map(|((_, i), _)| *i).collect(),
        rows: pairs.iter().map(|(_, (_, r))| *r).collect(),
        timestamps: pairs.iter().map(|(_, (t, _))| *t).collect(),
    }
}

fn rows_strategy() -> impl Strategy<Value = Vec<(String, String, i64)>> {
    // Ids as text and as decimals, with the non-canonical twins ("07" beside "7")
    // that the interner's by-value index must keep apart.
    proptest::collection::vec(
        (
            "u[0-9a-c]{1,2}|[0-9]{1,3}",
            "[a-e][0-9]{0,2}|0?[0-9]{1,2}",
            -50i64..50,
        ),
        1..300,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// CSV → store → every section equals the reference build, for any block size
    /// (tiny blocks put block and range boundaries everywhere) and thread count.
    #[test]
    fn round_trip_matches_the_reference(mut rows in rows_strategy(), block_size in 8usize..300, threads in 1usize..4, crlf in any::<bool>(), grouped in any::<bool>()) {
        if grouped {
            // Each user's rows together, in file order: the CSR order already (no
            // scatter; `Csr::build`).
            rows.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("in.csv");
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("extra,user,timestamp,item{eol}");
        for (u, i, t) in &rows {
            text.push_str(&format!("x,{u},{t},{i}{eol}"));
        }
        std::fs::write(&csv, text).unwrap();
        let options = IngestOptions { block_size, ..Default::default() };
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let (store, summary, _d) = pool.install(|| run(&csv, &options)).unwrap();
        let r = reference(&rows);
        prop_assert_eq!(store.user_ids().unwrap(), r.users);
        prop_assert_eq!(store.item_ids().unwrap(), r.items);
        prop_assert_eq!(store.indptr(), &r.indptr[..]);
        prop_assert_eq!(store.indices(), &r.indices[..]);
        prop_assert_eq!(store.rows(), &r.rows[..]);
        prop_assert_eq!(store.timestamps().unwrap(), &r.timestamps[..]);
        prop_assert_eq!(summary.rows, rows.len() as u64);
        prop_assert_eq!(summary.duplicates, rows.len() as u64 - r.indices.len() as u64);
    }
}

/// A file grouped by user is in CSR order already, unless a skipped row sits among its
/// rows: a bad row in the middle and one at the end each make the build place the rows
/// by user as for any file, so the store equals the reference of the good rows with
/// their rows numbered as in the file.
#[test]
fn a_file_grouped_by_user_with_skipped_rows_matches_the_reference() {
    let row = |u: &str, i: &str, t: i64| Some((u.to_string(), i.to_string(), t));
    let good_lines = [
        row("a", "x", 5),
        row("a", "y", 3),
        row("a", "x", 1),
        row("b", "y", 2),
        row("b", "z", 2),
        row("c", "x", 9),
    ];
    for bad_at in [3, good_lines.len()] {
        let mut lines = good_lines.to_vec();
        lines.insert(bad_at, None);
        let mut text = String::from("user,item,timestamp\n");
        for line in &lines {
            match line {
                Some((u, i, t)) => text.push_str(&format!("{u},{i},{t}\n")),
                None => text.push_str("a,,7\n"),
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("in.csv");
        std::fs::write(&csv, text).unwrap();
        let options = IngestOptions {
            skip_bad_rows: true,
            ..Default::default()
        };
        let (store, summary, _d) = run(&csv, &options).unwrap();
        let good: Vec<_> = lines.iter().flatten().cloned().collect();
        let file_row = |r: u64| if r < bad_at as u64 { r } else { r + 1 };
        let r = reference(&good);
        assert_eq!(summary.bad_rows, 1, "bad row at {bad_at}");
        assert_eq!(
            summary.duplicates,
            (good.len() - r.indices.len()) as u64,
            "bad row at {bad_at}"
        );
        assert_eq!(store.indptr(), &r.indptr[..], "bad row at {bad_at}");
        assert_eq!(store.indices(), &r.indices[..], "bad row at {bad_at}");
        let rows: Vec<u64> = r.rows.iter().map(|&row| file_row(row)).collect();
        assert_eq!(store.rows(), &rows[..], "bad row at {bad_at}");
        assert_eq!(store.timestamps().unwrap(), &r.timestamps[..]);
    }
}

/// Items looked up ahead (a decimal id the global table covers waits a few rows for
/// its answer) are still numbered in first-appearance order: blocks of a few hundred
/// rows, so most ranges fill the lookahead, with ids new to the file — decimal ones
/// and text ones, users in runs and users scattered — arriving in every block, between
/// ids already known.
#[test]
fn items_looked_up_ahead_keep_first_appearance_order() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    let mut state = 7u64;
    let mut next = |bound: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % bound
    };
    let rows: Vec<(String, String, i64)> = (0..6000u64)
        .map(|row| {
            // The catalog widens as the file goes on, so every block meets new items.
            let item = match next(10) {
                0 => format!("t{}", next(row / 8 + 2)),
                1 => format!("0{}", next(50)),
                _ => next(row / 2 + 2).to_string(),
            };
            let user = match next(4) {
                0 => format!("v{}", next(row / 10 + 2)),
                1 => next(row / 10 + 2).to_string(),
                _ => (row / 20).to_string(),
            };
            (user, item, next(100) as i64)
        })
        .collect();
    let text: String = rows
        .iter()
        .map(|(u, i, t)| format!("{u},{i},{t}\n"))
        .collect();
    std::fs::write(&csv, format!("user,item,timestamp\n{text}")).unwrap();
    let r = reference(&rows);
    for threads in [1, 3] {
        let options = IngestOptions {
            block_size: 4096,
            ..Default::default()
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let (store, _, _d) = pool.install(|| run(&csv, &options)).unwrap();
        assert_eq!(store.item_ids().unwrap(), r.items, "{threads} threads");
        assert_eq!(store.user_ids().unwrap(), r.users, "{threads} threads");
        assert_eq!(store.indptr(), &r.indptr[..]);
        assert_eq!(store.indices(), &r.indices[..]);
        assert_eq!(store.rows(), &r.rows[..]);
        assert_eq!(store.timestamps().unwrap(), &r.timestamps[..]);
    }
}

#[test]
fn decimal_ids_are_numbered_as_the_text_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    let ids = [
        "7",
        "07",
        "0",
        "00",
        "-1",
        "+1",
        "9999999999999999999",
        "18446744073709551615",
        "99999999999999999999",
        "7",
        "007",
        "0",
        "18446744073709551615",
    ];
    let text: String = ids.iter().map(|id| format!("{id},{id}\n")).collect();
    std::fs::write(&csv, format!("user,item\n{text}")).unwrap();
    let (store, _, _d) = run(&csv, &IngestOptions::default()).unwrap();
    let mut distinct: Vec<String> = Vec::new();
    for id in ids {
        if !distinct.iter().any(|d| d == id) {
            distinct.push(id.to_string());
        }
    }
    assert_eq!(store.user_ids().unwrap(), distinct);
    assert_eq!(store.item_ids().unwrap(), distinct);
}

#[test]
fn kept_columns_take_the_kept_rows_values_with_inferred_types() {
    let keep = ["price", "clicks", "category"]
        .map(|k| k.parse().unwrap())
        .to_vec();
    let (store, summary, _dir) = run_fixture(
        "features.csv",
        &IngestOptions {
            keep,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        summary.kept,
        [
            ("price".to_string(), ValueType::F64),
            ("clicks".to_string(), ValueType::I64),
            ("category".to_string(), ValueType::Str)
        ]
    );
    store.verify().unwrap();
    let dictionary = store.dictionary(2).unwrap().unwrap();
    let category = |code: u32| match code {
        MISSING_CODE => None,
        c => Some(String::from_utf8(dictionary.get(c).to_vec()).unwrap()),
    };
    // Each interaction's (row, price, clicks, category), in CSR order.
    let (Values::F64(price), Values::I64(clicks), Values::Str(codes)) = (
        store.kept_values(0),
        store.kept_values(1),
        store.kept_values(2),
    ) else {
        panic!("types")
    };
    let got: Vec<(u64, String, i64, Option<String>)> = (0..store.n_interactions() as usize)
        .map(|k| {
            (
                store.rows()[k],
                format!("{:?}", price[k]),
                clicks[k],
                category(codes[k]),
            )
        })
        .collect();
    let s = |x: &str| Some(x.to_string());
    let expected = [
        // a: i1, i2 (row 7 kept over row 1), i3, i4, i5
        (0, "1.5", 3, s("books")),
        (7, "3.0", 4, s("music")),
        (2, "NaN", 7, s("books")),
        (4, "4.0", 2, s("music")),
        (9, "5.5", 6, s("books")),
        // b: i1 (missing clicks and category), i2, i3
        (3, "9.0", MISSING_I64, None),
        (5, "0.5", 0, s("books")),
        (6, "NaN", 5, s("toys, games")),
        // c
        (8, "1.0", 1, s("books")),
    ]
    .map(|(r, p, c, cat)| (r, p.to_string(), c, cat));
    assert_eq!(got, expected);
}

#[test]
fn kept_column_types_can_be_declared_and_are_checked() {
    let keep = vec!["clicks:str".parse().unwrap(), "price:f64".parse().unwrap()];
    let (store, summary, _dir) = run_fixture(
        "features.csv",
        &IngestOptions {
            keep,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(summary.kept[0].1, ValueType::Str);
    assert_eq!(store.kept_columns()[1].value_type, ValueType::F64);
    let keep = vec!["category:i64".parse().unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let err = ingest(
        &fixture("features.csv"),
        &dir.path().join("s"),
        &IngestOptions {
            keep,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, IngestError::BadValue { line: 2, column, .. } if column == "category"),
        "{message}"
    );
    assert!(
        message.contains("\"books\" is not a 64-bit integer"),
        "{message}"
    );
    let keep = vec!["nope".parse().unwrap()];
    let err = ingest(
        &fixture("features.csv"),
        &dir.path().join("s"),
        &IngestOptions {
            keep,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("--keep"), "{err}");
    assert!("a/b".parse::<KeepSpec>().is_err());
    assert_eq!(
        "x:y:f64".parse::<KeepSpec>().unwrap(),
        KeepSpec {
            name: "x:y".into(),
            declared: Some(ValueType::F64)
        }
    );
}

/// `a` and `a\r` are distinct ids in a CSV but would collapse when the one-per-line id
/// files are read back: refused (or skipped) with the line and column.
#[test]
fn ids_with_a_carriage_return_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("cr.csv");
    std::fs::write(&csv, "user,item\na,x\n\"a\r\",x\nb,\"y\r\"\n").unwrap();
    let err = run(&csv, &IngestOptions::default()).unwrap_err();
    assert!(
        matches!(&err, IngestError::CarriageReturnInId { line: 3, column, .. } if column == "user"),
        "{err}"
    );
    let options = IngestOptions {
        skip_bad_rows: true,
        ..Default::default()
    };
    let (store, summary, _dir) = run(&csv, &options).unwrap();
    assert_eq!(
        (summary.bad_rows, store.n_users(), store.n_items()),
        (2, 1, 1)
    );
}

#[test]
fn a_column_named_twice_in_the_header_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("dup.csv");
    std::fs::write(&csv, "user,item,user\na,x,b\n").unwrap();
    let err = run(&csv, &IngestOptions::default()).unwrap_err();
    assert!(
        matches!(&err, IngestError::DuplicateColumn { column, .. } if column == "user"),
        "{err}"
    );
}

#[test]
fn a_catalog_may_start_with_a_byte_order_mark() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("items.txt");
    std::fs::write(&catalog, "\u{feff}a\nb\nc\n").unwrap();
    let options = IngestOptions {
        items_file: Some(catalog),
        ..Default::default()
    };
    let csv = dir.path().join("in.csv");
    std::fs::write(&csv, "user,item\nu,a\n").unwrap();
    let (store, _, _dir) = run(&csv, &options).unwrap();
    assert_eq!(store.item_ids().unwrap(), ["a", "b", "c"]);
}

/// A line longer than the read block is read by doubling the buffer, not byte by
/// byte (which took minutes for a line of 64 MiB + 64 KiB): bounded in time here.
#[test]
fn a_line_longer_than_the_block_is_read_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("long.csv");
    let long_id = "u".repeat(3 << 20);
    std::fs::write(&csv, format!("user,item\n{long_id},x\nb,y\n")).unwrap();
    let options = IngestOptions {
        block_size: 1024,
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let (store, _, _dir) = run(&csv, &options).unwrap();
    assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
    assert_eq!(store.user_ids().unwrap()[0].len(), 3 << 20);
}

#[test]
fn error_messages_show_an_excerpt_of_a_huge_value() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("big.csv");
    let huge = "9".repeat(1 << 20) + "x";
    std::fs::write(&csv, format!("user,item,timestamp\na,b,{huge}\n")).unwrap();
    let err = run(&csv, &IngestOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.len() < 400, "{} bytes of message", err.len());
    assert!(err.contains("1048577 bytes in all"), "{err}");
}

#[test]
fn blank_lines_before_the_header_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("blank.csv");
    std::fs::write(&csv, "\n\r\nuser,item\na,x\nb,\n").unwrap();
    let err = run(&csv, &IngestOptions::default()).unwrap_err();
    // the bad row is reported at its real line, 5
    assert!(
        matches!(&err, IngestError::EmptyId { line: 5, .. }),
        "{err}"
    );
    std::fs::write(&csv, "\n\r\nuser,item\na,x\n").unwrap();
    let (store, summary, _dir) = run(&csv, &IngestOptions::default()).unwrap();
    assert_eq!((summary.rows, store.n_users()), (1, 1));
}

/// The same interactions as CSV, TSV, headerless, gzip and zstd give the same store.
#[test]
fn every_text_form_gives_the_same_store() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let csv = std::fs::read(fixture("duplicates.csv")).unwrap();
    let (reference, _, _d) = run_fixture("duplicates.csv", &IngestOptions::default()).unwrap();
    let text = String::from_utf8(csv.clone()).unwrap();
    let tsv = text.replace(',', "\t");
    let headerless: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&csv).unwrap();
    let forms: [(&str, Vec<u8>, IngestOptions); 4] = [
        (
            "events.tsv",
            tsv.into_bytes(),
            IngestOptions {
                delimiter: b'\t',
                ..Default::default()
            },
        ),
        (
            "events.noheader",
            headerless.into_bytes(),
            IngestOptions {
                header: false,
                user_col: "0".into(),
                item_col: "1".into(),
                time_col: TimeColumn::Required("2".into()),
                ..Default::default()
            },
        ),
        (
            "events.csv.gz",
            gz.finish().unwrap(),
            IngestOptions::default(),
        ),
        (
            "events.csv.zst",
            zstd::encode_all(&csv[..], 3).unwrap(),
            IngestOptions::default(),
        ),
    ];
    for (name, bytes, options) in forms {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (store, _, _d) = run(&path, &options).unwrap();
        assert_eq!(store.fingerprint(), reference.fingerprint(), "{name}");
        assert_eq!(
            store.user_ids().unwrap(),
            reference.user_ids().unwrap(),
            "{name}"
        );
    }
}

/// Ingests `input` into a store, returning every progress step it reported.
pub(crate) fn progress_of(input: &Path, options: &IngestOptions) -> Vec<IngestProgress> {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("s.store");
    let steps = std::sync::Mutex::new(Vec::new());
    ingest(input, &dest, options, &|step| {
        steps.lock().unwrap().push(step)
    })
    .unwrap();
    let store_size = std::fs::metadata(dest.join(crate::STORE_FILE))
        .unwrap()
        .len();
    let steps = steps.into_inner().unwrap();
    assert_progress_in_order(&steps, std::fs::metadata(input).unwrap().len(), store_size);
    steps
}

/// The steps are reads that climb to the input's size, the build, then writes that
/// climb to the store's size: a display of them never sits still at 100%.
fn assert_progress_in_order(steps: &[IngestProgress], input_size: u64, store_size: u64) {
    let reads: Vec<u64> = steps
        .iter()
        .map_while(|s| match s {
            IngestProgress::Read(bytes) => Some(*bytes),
            _ => None,
        })
        .collect();
    assert!(reads.windows(2).all(|w| w[0] <= w[1]), "{steps:?}");
    assert_eq!(reads.last(), Some(&input_size), "{steps:?}");
    assert_eq!(
        steps.get(reads.len()),
        Some(&IngestProgress::Building),
        "{steps:?}"
    );
    let writes: Vec<(u64, u64)> = steps[reads.len() + 1..]
        .iter()
        .map(|s| match *s {
            IngestProgress::Writing { written, total } => (written, total),
            other => panic!("{other:?} after the write began: {steps:?}"),
        })
        .collect();
    assert!(
        writes.iter().all(|&(_, total)| total == store_size),
        "{steps:?}"
    );
    assert!(writes.windows(2).all(|w| w[0].0 < w[1].0), "{steps:?}");
    assert_eq!(writes.last(), Some(&(store_size, store_size)), "{steps:?}");
}

/// A CSV read in several blocks, and its gzip form, report their bytes as they are
/// read (the compressed ones for gzip), then the build, then the write.
#[test]
fn an_ingest_reports_its_reading_then_its_build_then_its_write() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("events.csv");
    let text: String = std::iter::once("user,item,timestamp\n".to_string())
        .chain((0..2000).map(|r| format!("u{},i{},{r}\n", r % 97, r % 13)))
        .collect();
    std::fs::write(&csv, &text).unwrap();
    let small_blocks = IngestOptions {
        block_size: 4096,
        ..Default::default()
    };
    let steps = progress_of(&csv, &small_blocks);
    let reads = steps
        .iter()
        .filter(|s| matches!(s, IngestProgress::Read(_)))
        .count();
    assert!(reads >= 5, "a report per block: {steps:?}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let gzipped = dir.path().join("events.csv.gz");
    std::fs::write(&gzipped, gz.finish().unwrap()).unwrap();
    progress_of(&gzipped, &small_blocks);
}

/// A binary file never reaches the text parser: its error names what it looks like
/// and prints none of its bytes.
#[test]
fn binary_inputs_are_named_not_parsed() {
    let dir = tempfile::tempdir().unwrap();
    // A zip goes to the .npz reader, whose error says what is wrong with it.
    let path = dir.path().join("broken.npz");
    std::fs::write(&path, b"PK\x03\x04\x14\x00\x00\x00").unwrap();
    let err = run(&path, &IngestOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a readable zip archive"), "{err}");
    let cases: [(&[u8], &str); 2] = [
        (b"\x93NUMPY\x01\x00", ".npy"),
        (b"user,item\nu\x00\x01,i\n", "binary data"),
    ];
    // A damaged Parquet file goes to the Parquet reader, whose error says so.
    let path = dir.path().join("broken.parquet");
    std::fs::write(&path, b"PAR1\x15\x04\x15\x00\xff\xfe").unwrap();
    let err = run(&path, &IngestOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not a readable Parquet file") && err.is_ascii(),
        "{err}"
    );
    for (bytes, what) in cases {
        let path = dir.path().join("input");
        std::fs::write(&path, bytes).unwrap();
        let err = run(&path, &IngestOptions::default()).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, IngestError::UnsupportedInput { .. }) && message.contains(what),
            "{message}"
        );
        assert!(message.is_ascii(), "binary bytes in {message:?}");
    }
}

/// pandas' floats (`881250949.0`) and ISO-8601 date-times are timestamps; a malformed
/// date is an error naming the file, line and column.
#[test]
fn timestamps_as_sources_write_them() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(
        &csv,
        "user,item,timestamp\na,x,881250949.0\na,y,2024-05-01 12:00:00\nb,x,2024-05-01T14:00:00+02:00\nb,y,2024-05-01\n",
    )
    .unwrap();
    let (store, _, _d) = run(&csv, &IngestOptions::default()).unwrap();
    assert_eq!(
        store.user(0).unwrap().timestamps.unwrap(),
        [881_250_949, 1_714_564_800]
    );
    assert_eq!(
        store.user(1).unwrap().timestamps.unwrap(),
        [1_714_564_800, 1_714_521_600]
    );
    std::fs::write(&csv, "user,item,ts\na,x,2024-05-01\na,y,2024-02-30\n").unwrap();
    let options = IngestOptions {
        time_col: TimeColumn::Required("ts".into()),
        ..Default::default()
    };
    let err = run(&csv, &options).unwrap_err();
    assert!(
        matches!(&err, IngestError::BadTimestamp { line: 3, column, value, .. } if column == "ts" && value == "2024-02-30"),
        "{err}"
    );
    assert!(err.to_string().contains("t.csv"), "{err}");
}

/// Integers in auto format are stored in the unit their magnitude implies (with a
/// note saying how to override it when that is not seconds); `--time-format unix-*`
/// fixes the unit; ISO dates are seconds.
#[test]
fn the_time_unit_is_inferred_or_given() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("u.csv");
    std::fs::write(
        &csv,
        "user,item,timestamp\na,x,1714564800123\nb,y,1433221332117\n",
    )
    .unwrap();
    let (store, summary, _d) = run(&csv, &IngestOptions::default()).unwrap();
    assert_eq!(store.time_unit(), Some(TimeUnit::Milliseconds));
    assert_eq!(
        summary.time_range,
        Some((1_433_221_332_117, 1_714_564_800_123))
    );
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.contains("milliseconds") && n.contains("--time-format unix-s")),
        "{:?}",
        summary.notes
    );
    let given = IngestOptions {
        time_format: "unix-us".parse().unwrap(),
        ..Default::default()
    };
    let (store, summary, _d) = run(&csv, &given).unwrap();
    assert_eq!(store.time_unit(), Some(TimeUnit::Microseconds));
    assert_eq!(
        store.user(0).unwrap().timestamps.unwrap(),
        [1_714_564_800_123]
    );
    assert!(summary.notes.is_empty(), "{:?}", summary.notes);
    for (text, unit) in [
        ("881250949\n", TimeUnit::Seconds),
        ("2024-05-01\n", TimeUnit::Seconds),
        ("1714564800123456789\n", TimeUnit::Nanoseconds),
    ] {
        std::fs::write(&csv, format!("user,item,timestamp\na,x,{text}")).unwrap();
        let (store, summary, _d) = run(&csv, &IngestOptions::default()).unwrap();
        assert_eq!(store.time_unit(), Some(unit), "{text}");
        assert_eq!(
            summary.notes.is_empty(),
            unit == TimeUnit::Seconds,
            "{:?}",
            summary.notes
        );
    }
}

#[test]
fn a_likely_time_column_and_constant_timestamps_get_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("n.csv");
    std::fs::write(&csv, "user,item,ts\na,x,5\nb,y,6\n").unwrap();
    let (_, summary, _d) = run(&csv, &IngestOptions::default()).unwrap();
    assert!(!summary.has_timestamps);
    assert!(
        summary.notes.iter().any(|n| n.contains("--time-col ts")),
        "{:?}",
        summary.notes
    );
    std::fs::write(&csv, "user,item,timestamp\na,x,0\nb,y,0\n").unwrap();
    let (_, summary, _d) = run(&csv, &IngestOptions::default()).unwrap();
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.contains("every timestamp is 0")),
        "{:?}",
        summary.notes
    );
    std::fs::write(&csv, "user,item,timestamp\na,x,1\nb,y,2\n").unwrap();
    let (_, summary, _d) = run(&csv, &IngestOptions::default()).unwrap();
    assert!(summary.notes.is_empty(), "{:?}", summary.notes);
}

mod parquet_inputs {
    use super::*;
    use arrow_array::{
        ArrayRef, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray,
        TimestampMicrosecondArray, TimestampMillisecondArray, TimestampSecondArray, UInt32Array,
    };
    use std::sync::Arc;

    fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let file = std::fs::File::create(path).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    /// A Parquet file reports its bytes row group by row group as they are numbered,
    /// not all at once at its end.
    #[test]
    fn a_parquet_ingest_reports_each_row_group() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("e.parquet");
        let batch = RecordBatch::try_from_iter(vec![
            (
                "user",
                Arc::new(Int64Array::from_iter_values((0..900).map(|r| r % 41))) as ArrayRef,
            ),
            (
                "item",
                Arc::new(Int64Array::from_iter_values((0..900).map(|r| r % 17))),
            ),
        ])
        .unwrap();
        write_in_groups(&file, &batch, 100);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let steps = pool.install(|| progress_of(&file, &IngestOptions::default()));
        let reads: Vec<&IngestProgress> = steps
            .iter()
            .filter(|s| matches!(s, IngestProgress::Read(_)))
            .collect();
        // Nine groups in waves of two, then the file's footer: six reports.
        assert_eq!(reads.len(), 6, "{steps:?}");
    }

    /// Integer users in runs (a file grouped by user), runs crossing row groups and
    /// ids met again in later groups, give the store of the same rows as CSV.
    #[test]
    fn integer_users_in_runs_give_the_csvs_store() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows: Vec<(i64, i64)> = Vec::new();
        for run in 0..120i64 {
            // users 0..40 in runs of 1 to 5 rows, each met three times over the file
            let user = run % 40;
            rows.extend((0..run % 5 + 1).map(|k| (user, (run * 13 + k * 3) % 29)));
        }
        let csv = dir.path().join("runs.csv");
        let text: String = std::iter::once("user,item\n".to_string())
            .chain(rows.iter().map(|(u, i)| format!("{u},{i}\n")))
            .collect();
        std::fs::write(&csv, text).unwrap();
        let (reference, _, _d) = run(&csv, &IngestOptions::default()).unwrap();
        let file = dir.path().join("runs.parquet");
        let batch = RecordBatch::try_from_iter(vec![
            (
                "user",
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            ),
            (
                "item",
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ),
        ])
        .unwrap();
        write_in_groups(&file, &batch, 11);
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (store, _, _d) = pool
                .install(|| run(&file, &IngestOptions::default()))
                .unwrap();
            assert_eq!(
                store.fingerprint(),
                reference.fingerprint(),
                "{threads} threads"
            );
            assert_eq!(store.user_ids().unwrap(), reference.user_ids().unwrap());
        }
    }

    /// Writes `batch` as a Parquet file of row groups of `rows` rows.
    fn write_in_groups(path: &Path, batch: &RecordBatch, rows: usize) {
        let properties = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(rows))
            .build();
        let mut writer = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(path).unwrap(),
            batch.schema(),
            Some(properties),
        )
        .unwrap();
        writer.write(batch).unwrap();
        writer.close().unwrap();
    }

    /// Integer ids of any width, across many row groups decoded in parallel waves,
    /// are numbered as the CSV of the same rows numbers them: the same store.
    #[test]
    fn integer_ids_over_many_row_groups_give_the_csvs_store() {
        let dir = tempfile::tempdir().unwrap();
        // users in an order that is neither sorted nor grouped; repeats across groups
        let rows: Vec<(i32, u64, i64)> = (0..600u64)
            .map(|r| {
                (
                    ((r * 37) % 53) as i32 - 5,
                    (r * 11) % 89 + (1 << 40),
                    r as i64,
                )
            })
            .collect();
        let csv = dir.path().join("e.csv");
        let text: String = std::iter::once("user,item,timestamp\n".to_string())
            .chain(rows.iter().map(|(u, i, t)| format!("{u},{i},{t}\n")))
            .collect();
        std::fs::write(&csv, text).unwrap();
        let (reference, _, _d) = run(&csv, &IngestOptions::default()).unwrap();
        let file = dir.path().join("e.parquet");
        let batch = RecordBatch::try_from_iter(vec![
            (
                "user",
                Arc::new(arrow_array::Int32Array::from_iter_values(
                    rows.iter().map(|r| r.0),
                )) as ArrayRef,
            ),
            (
                "item",
                Arc::new(arrow_array::UInt64Array::from_iter_values(
                    rows.iter().map(|r| r.1),
                )),
            ),
            (
                "timestamp",
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ),
        ])
        .unwrap();
        // The same ids as text: plain strings for users, a dictionary for items.
        let item_texts: Vec<String> = rows.iter().map(|r| r.1.to_string()).collect();
        let items: DictionaryArray<arrow_array::types::Int32Type> =
            item_texts.iter().map(String::as_str).collect();
        let text_batch = RecordBatch::try_from_iter(vec![
            (
                "user",
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| r.0.to_string()),
                )) as ArrayRef,
            ),
            ("item", Arc::new(items)),
            (
                "timestamp",
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ),
        ])
        .unwrap();
        let text_file = dir.path().join("text.parquet");
        for (path, batch) in [(&file, &batch), (&text_file, &text_batch)] {
            write_in_groups(path, batch, 7);
        }
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for path in [&file, &text_file] {
                let (store, _, _d) = pool
                    .install(|| run(path, &IngestOptions::default()))
                    .unwrap();
                assert_eq!(
                    store.fingerprint(),
                    reference.fingerprint(),
                    "{threads} threads, {}",
                    path.display()
                );
            }
        }
        // A catalog without item 2^40 + 3: its first row is named by row group and
        // row, or every row of it is skipped.
        let first = rows.iter().position(|r| r.1 == 3 + (1 << 40)).unwrap();
        let catalog = dir.path().join("catalog.txt");
        let known: String = (0..89u64)
            .filter(|&i| i != 3)
            .map(|i| format!("{}\n", i + (1 << 40)))
            .collect();
        std::fs::write(&catalog, known).unwrap();
        let fixed = IngestOptions {
            items_file: Some(catalog),
            ..Default::default()
        };
        let err = run(&text_file, &fixed).unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "row group {}, row {}: item \"{}\" is not in the catalog",
                first / 7,
                first % 7,
                3 + (1u64 << 40)
            )),
            "{err}"
        );
        let skipping = IngestOptions {
            skip_bad_rows: true,
            ..fixed
        };
        let (_, summary, _d) = run(&file, &skipping).unwrap();
        let missing = rows.iter().filter(|r| r.1 == 3 + (1 << 40)).count() as u64;
        assert!(missing > 1);
        assert_eq!(summary.bad_rows, missing);
    }

    /// `fixtures/duplicates.csv`'s rows: (user, item, timestamp).
    const ROWS: [(&str, &str, i64); 7] = [
        ("a", "x", 50),
        ("a", "y", 10),
        ("a", "x", 20),
        ("b", "x", 5),
        ("a", "x", 20),
        ("b", "x", 5),
        ("b", "z", 7),
    ];

    fn strings(values: impl Iterator<Item = &'static str>) -> ArrayRef {
        Arc::new(StringArray::from_iter_values(values))
    }

    #[test]
    fn parquet_gives_the_csvs_store() {
        let dir = tempfile::tempdir().unwrap();
        let (reference, _, _d) = run_fixture("duplicates.csv", &IngestOptions::default()).unwrap();
        // dictionary users, plain items, int64 times
        let users: DictionaryArray<arrow_array::types::Int32Type> =
            ROWS.iter().map(|r| r.0).collect();
        let file = dir.path().join("events.parquet");
        write_parquet(
            &file,
            vec![
                ("user", Arc::new(users) as ArrayRef),
                ("item", strings(ROWS.iter().map(|r| r.1))),
                (
                    "timestamp",
                    Arc::new(Int64Array::from_iter_values(ROWS.iter().map(|r| r.2))),
                ),
            ],
        );
        let (store, summary, _d) = run(&file, &IngestOptions::default()).unwrap();
        assert_eq!(store.fingerprint(), reference.fingerprint());
        assert_eq!(summary.duplicates, 3);
        // A Spark-style directory: two files under key=value folders, a _SUCCESS marker.
        let table = dir.path().join("warehouse");
        for (k, range) in [(0, 0..4), (1, 4..7)] {
            let part = table.join(format!("day={k}"));
            std::fs::create_dir_all(&part).unwrap();
            let rows = &ROWS[range];
            write_parquet(
                &part.join(format!("part-{k}.parquet")),
                vec![
                    ("user", strings(rows.iter().map(|r| r.0))),
                    ("item", strings(rows.iter().map(|r| r.1))),
                    // an Arrow timestamp in seconds: the CSV's integers, inferred as seconds
                    (
                        "timestamp",
                        Arc::new(TimestampSecondArray::from_iter_values(
                            rows.iter().map(|r| r.2),
                        )) as ArrayRef,
                    ),
                ],
            );
        }
        std::fs::write(table.join("_SUCCESS"), b"").unwrap();
        let (store, _, _d) = run(&table, &IngestOptions::default()).unwrap();
        assert_eq!(store.fingerprint(), reference.fingerprint());
    }

    /// A typed time column keeps its own unit, exactly: Arrow timestamps in ms and µs,
    /// dates in seconds; ISO strings are read as the CSV reads them (seconds).
    #[test]
    fn typed_time_columns_keep_their_unit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.parquet");
        let may_2024 = 1_714_564_800i64;
        let cases: Vec<(ArrayRef, TimeUnit, [i64; 2])> = vec![
            (
                Arc::new(TimestampMillisecondArray::from(vec![
                    may_2024 * 1000 + 999,
                    may_2024 * 1000,
                ])),
                TimeUnit::Milliseconds,
                [may_2024 * 1000 + 999, may_2024 * 1000],
            ),
            (
                Arc::new(TimestampMicrosecondArray::from(vec![1, 2]).with_timezone("+02:00")),
                TimeUnit::Microseconds,
                [1, 2],
            ),
            (
                Arc::new(arrow_array::Date32Array::from(vec![19_844, 0])),
                TimeUnit::Seconds,
                [19_844 * 86_400, 0],
            ),
            (
                strings(["2024-05-01T12:00:00Z", "1970-01-01"].into_iter()),
                TimeUnit::Seconds,
                [may_2024, 0],
            ),
        ];
        for (times, unit, expected) in cases {
            write_parquet(
                &file,
                vec![
                    ("user", strings(["a", "a"].into_iter())),
                    ("item", strings(["x", "y"].into_iter())),
                    ("timestamp", times),
                ],
            );
            let (store, summary, _d) = run(&file, &IngestOptions::default()).unwrap();
            assert_eq!(store.time_unit(), Some(unit));
            assert_eq!(summary.time_unit, Some(unit));
            assert_eq!(store.user(0).unwrap().timestamps.unwrap(), expected);
            assert!(summary.notes.is_empty(), "{:?}", summary.notes);
        }
    }

    #[test]
    fn integer_ids_float_times_kept_types_and_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ints.parquet");
        write_parquet(
            &file,
            vec![
                (
                    "user",
                    Arc::new(UInt32Array::from(vec![Some(7), Some(7), Some(9), Some(9)]))
                        as ArrayRef,
                ),
                (
                    "item",
                    Arc::new(Int64Array::from(vec![Some(1), Some(2), None, Some(1)])) as ArrayRef,
                ),
                (
                    "timestamp",
                    Arc::new(Float64Array::from(vec![10.0, 11.0, 12.0, 13.0])) as ArrayRef,
                ),
                (
                    "price",
                    Arc::new(Float64Array::from(vec![
                        Some(3.0),
                        None,
                        Some(1.0),
                        Some(2.5),
                    ])) as ArrayRef,
                ),
            ],
        );
        let keep = vec!["price".parse().unwrap()];
        let err = run(
            &file,
            &IngestOptions {
                keep: keep.clone(),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("row group 0, row 2: column \"item\" is null"),
            "{err}"
        );
        let options = IngestOptions {
            keep,
            skip_bad_rows: true,
            ..Default::default()
        };
        let (store, summary, _d) = run(&file, &options).unwrap();
        assert_eq!(summary.bad_rows, 1);
        assert_eq!(store.user_ids().unwrap(), ["7", "9"]);
        assert_eq!(store.item_ids().unwrap(), ["1", "2"]);
        assert_eq!(store.user(0).unwrap().timestamps.unwrap(), [10, 11]);
        // a float column stays f64 even when every value is whole (3.0)
        assert_eq!(summary.kept[0].1, ValueType::F64);
        let Values::F64(price) = store.kept_values(0) else {
            panic!("f64")
        };
        assert_eq!(price[0], 3.0);
        assert!(price[1].is_nan());
        // A null user, or a null timestamp, alone in its batch is found as well.
        let users = Int64Array::from(vec![Some(7), None, Some(9)]);
        let times = Int64Array::from(vec![Some(10), Some(11), Some(12)]);
        let null_time = Int64Array::from(vec![Some(10), Some(11), None]);
        for (users, times, column, row) in [
            (&users, &times, "user", 1),
            (&Int64Array::from(vec![7, 8, 9]), &null_time, "timestamp", 2),
        ] {
            write_parquet(
                &file,
                vec![
                    ("user", Arc::new(users.clone()) as ArrayRef),
                    (
                        "item",
                        Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
                    ),
                    ("timestamp", Arc::new(times.clone()) as ArrayRef),
                ],
            );
            let err = run(&file, &IngestOptions::default())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!(
                    "row group 0, row {row}: column \"{column}\" is null"
                )),
                "{err}"
            );
        }
    }
}

/// The footer that panicked the parquet crate's decoder (found by fuzzing verify's
/// reader) is an ingest error too.
#[test]
fn parquet_metadata_that_panics_the_decoder_is_an_ingest_error() {
    // the fuzzer's file ends like Parquet; given Parquet's leading magic too
    let mut bytes = b"PAR1".to_vec();
    bytes.extend_from_slice(include_bytes!(
        "../../../../fixtures/fuzz/parquet_part-thrift-unwrap.bin"
    ));
    let err = ingest_bytes("crash.parquet", &bytes, &IngestOptions::default()).to_string();
    assert!(err.contains("not a readable Parquet file"), "{err}");
}

/// Found by fuzzing (`fixtures/fuzz/csv_ingest-non-utf8-id.bin`, first byte the
/// target's flags): an id that is not UTF-8 was accepted, and the store then failed its
/// own verify (the id files are read back as text). Now a bad row, named.
#[test]
fn ids_that_are_not_utf8_are_bad_rows() {
    let input = &include_bytes!("../../../../fixtures/fuzz/csv_ingest-non-utf8-id.bin")[1..];
    let options = IngestOptions {
        block_size: 1,
        ..Default::default()
    };
    let err = ingest_bytes("bytes.csv", input, &options);
    assert!(
        matches!(&err, IngestError::IdNotUtf8 { line: 2, column, .. } if column == "item"),
        "{err}"
    );
    // both rows hold such ids: skipped, nothing is left
    let options = IngestOptions {
        skip_bad_rows: true,
        ..options
    };
    let err = ingest_bytes("bytes.csv", input, &options);
    assert!(matches!(err, IngestError::EmptyInput { .. }), "{err}");
}

proptest! {
    /// One user's sort and dedup by `u64` keys equals the tuples sorted and deduped
    /// (the definition, kept for users past the keys' 32 position bits): repeated
    /// items, equal and negative timestamps, rows in any order, with and without times.
    #[test]
    fn a_users_key_sort_equals_the_tuple_sort(
        interactions in proptest::collection::vec((0u32..12, -3i64..3, 0u64..1000), 0..60),
        with_times in any::<bool>(),
    ) {
        let mut seen = std::collections::HashSet::new();
        let interactions: Vec<_> = interactions.into_iter().filter(|e| seen.insert(e.2)).collect();
        let indices: Vec<u32> = interactions.iter().map(|e| e.0).collect();
        let times: Vec<i64> = interactions.iter().map(|e| e.1).collect();
        let rows: Vec<u64> = interactions.iter().map(|e| e.2).collect();
        let sorted = |by_keys: bool| {
            let (mut i, mut r, mut t) = (indices.clone(), rows.clone(), times.clone());
            let t_arg = with_times.then_some(&mut t[..]);
            let kept = if by_keys {
                sort_user(&mut i, &mut r, t_arg, &mut SortScratch::default())
            } else {
                sort_user_tuples(&mut i, &mut r, t_arg, &mut Vec::new())
            } as usize;
            (i[..kept].to_vec(), r[..kept].to_vec(), if with_times { t[..kept].to_vec() } else { Vec::new() })
        };
        prop_assert_eq!(sorted(true), sorted(false));
    }
}

/// Found by fuzzing (`fixtures/fuzz/csv_ingest-thrift-list-size.bin`, first byte the
/// target's flags): a Parquet footer whose Thrift list header declares 530M key-value
/// pairs. parquet 57 reserved them before reading any (a 25 GB allocation: an abort,
/// not an error); parquet 60 checks the count against the footer's bytes.
#[test]
fn a_parquet_footer_declaring_a_huge_list_is_an_error() {
    let input = include_bytes!("../../../../fixtures/fuzz/csv_ingest-thrift-list-size.bin");
    let err = ingest_bytes("in.csv", &input[1..], &IngestOptions::default()).to_string();
    assert!(err.contains("not a readable Parquet file"), "{err}");
}

proptest! {
    /// The users' offsets counted slice by slice in parallel are the sequential count's
    /// prefix sums, skipped rows left out — with rows enough per user for several
    /// slices, in a pool of several threads.
    #[test]
    fn user_offsets_are_the_counts_prefix_sums(
        users in proptest::collection::vec(prop_oneof![8 => 0u32..40, 1 => Just(TOMBSTONE)], 0..3_000),
    ) {
        let n_users = users.iter().filter(|&&u| u != TOMBSTONE).max().map_or(0, |&u| u as usize + 1);
        let mut expected = vec![0u64; n_users + 1];
        for &u in users.iter().filter(|&&u| u != TOMBSTONE) {
            expected[u as usize + 1] += 1;
        }
        for u in 0..n_users {
            expected[u + 1] += expected[u];
        }
        let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        prop_assert_eq!(pool.install(|| user_offsets(&users, n_users)), expected);
    }
}

/// Groups of users weigh their interactions plus `per_user` for each user, and each
/// column is cut into exactly the groups' slices, in order, covering it whole.
#[test]
fn user_groups_weigh_interactions_and_users_and_cut_columns_to_match() {
    // Five users with 3, 1, 1, 1 and 10 interactions.
    let indptr = [0u64, 3, 4, 5, 6, 16];
    assert_eq!(user_cuts(&indptr, 4, 0), vec![0, 2, 5]);
    assert_eq!(user_cuts(&indptr, 4, 2), vec![0, 1, 3, 5]);
    let mut column: Vec<u32> = (0..16).collect();
    let groups = per_group(&mut column, &indptr, &[0, 1, 3, 5]);
    let groups: Vec<Vec<u32>> = groups.into_iter().map(|g| g.to_vec()).collect();
    assert_eq!(
        groups,
        vec![vec![0, 1, 2], vec![3, 4], (5..16).collect::<Vec<_>>()]
    );
}
