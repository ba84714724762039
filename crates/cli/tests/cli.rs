//! The `negsamp` binary as a user runs it: exit codes, messages, and the flow
//! ingest → info → sample → verify.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn negsamp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_negsamp"))
        .args(args)
        .output()
        .expect("runs")
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// Ingests the pandas article's example into `dir/p.store`; returns its path and the
/// ingest's output (checked to have succeeded).
fn ingest_pandas_example(dir: &Path) -> (String, Output) {
    let store = path(dir, "p.store");
    let args = ["--user-col", "user_indice", "--item-col", "item_indice"];
    let out = negsamp(
        &[
            &["ingest", &fixture("pandas_example.csv"), "--out", &store][..],
            &args,
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    (store, out)
}

#[test]
fn ingest_info_sample_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (store, out) = ingest_pandas_example(dir.path());
    assert!(
        text(&out).contains("users 5, items 4, interactions 10"),
        "{}",
        text(&out)
    );

    let out = negsamp(&["info", &store, "--json"]);
    assert!(out.status.success());
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            info["users"].as_u64(),
            info["items"].as_u64(),
            info["interactions"].as_u64()
        ),
        (Some(5), Some(4), Some(10))
    );
    assert_eq!(info["has_timestamps"], true);
    // Every user of this CSV is in (timestamp, row) order already: nothing to store.
    assert_eq!(
        (&info["format_version"], &info["time_order_stored"]),
        (&serde_json::json!(4), &serde_json::json!(false))
    );
    let old = text(&negsamp(&["info", &fixture("v1.store")]));
    assert!(
        old.contains("format: version 1; `negsamp ingest` again"),
        "{old}"
    );

    let train = path(dir.path(), "train");
    let out = negsamp(&["sample", &store, "--out", &train, "--seed", "42"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("10 positives, 8 negatives"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("users short of candidates: 1 (negatives missing in total: 2)"),
        "{}",
        text(&out)
    );

    let out = negsamp(&["verify", &train]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("every row checked"), "{}", text(&out));
    assert!(
        text(&out).contains("draws held to the sampling law"),
        "{}",
        text(&out)
    );
    let out = negsamp(&["verify", &train, "--every-row"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("every row walked against the contract"),
        "{}",
        text(&out)
    );
    let out = negsamp(&["verify", &train, "--every-row", "--quick"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = negsamp(&["verify", &store]);
    assert!(out.status.success(), "{}", text(&out));

    // an existing output is refused without --overwrite
    let out = negsamp(&["sample", &store, "--out", &train]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("--overwrite"), "{}", text(&out));
}

#[test]
fn thread_and_shard_counts_do_not_change_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let csv = path(dir.path(), "g.csv");
    assert!(negsamp(&[
        "generate", "--out", &csv, "--users", "3000", "--items", "500", "--seed", "3"
    ])
    .status
    .success());
    let store = path(dir.path(), "g.store");
    assert!(negsamp(&["ingest", &csv, "--out", &store]).status.success());
    let a = path(dir.path(), "a");
    let b = path(dir.path(), "b");
    assert!(negsamp(&[
        "--threads",
        "1",
        "sample",
        &store,
        "--out",
        &a,
        "--ratio",
        "3",
        "--seed",
        "9"
    ])
    .status
    .success());
    assert!(negsamp(&[
        "sample",
        &store,
        "--out",
        &b,
        "--ratio",
        "3",
        "--seed",
        "9",
        "--threads",
        "2",
        "--shards",
        "3"
    ])
    .status
    .success());
    for column in ["user", "item", "label", "anchor", "timestamp"] {
        let read = |d: &str, parts: usize| -> Vec<u8> {
            (0..parts)
                .flat_map(|p| {
                    std::fs::read(format!("{d}/part-{p:05}/{column}.npy")).unwrap()[128..].to_vec()
                })
                .collect()
        };
        assert!(read(&a, 1) == read(&b, 3), "column {column} differs");
    }
}

#[test]
fn bad_input_exits_1_with_a_message_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = negsamp(&[
        "ingest",
        &fixture("bad_timestamp.csv"),
        "--out",
        &path(dir.path(), "s"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let message = text(&out);
    assert!(
        message.contains("bad_timestamp.csv: line 3") && message.contains("yesterday"),
        "{message}"
    );
    assert!(!Path::new(&path(dir.path(), "s")).exists());

    let out = negsamp(&[
        "ingest",
        &fixture("bad_timestamp.csv"),
        "--out",
        &path(dir.path(), "s"),
        "--skip-bad-rows",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("bad rows skipped: 1"), "{}", text(&out));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(negsamp(&["sample"]).status.code(), Some(2));
    assert_eq!(
        negsamp(&[
            "sample",
            "x",
            "--out",
            "y",
            "--ratio",
            "1",
            "--per-user",
            "2"
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(negsamp(&["frobnicate"]).status.code(), Some(2));
    // 10 000 threads took a minute to fail; now an immediate usage error
    let start = std::time::Instant::now();
    let out = negsamp(&["--threads", "10000", "info", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(start.elapsed().as_secs() < 5);
}

#[test]
fn a_truncated_store_is_reported_not_crashed_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = path(dir.path(), "s");
    assert!(
        negsamp(&["ingest", &fixture("duplicates.csv"), "--out", &store])
            .status
            .success()
    );
    let file = PathBuf::from(&store).join("store.bin");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 10]).unwrap();
    for cmd in ["verify", "info"] {
        let out = negsamp(&[cmd, &store]);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(text(&out).contains("truncated"), "{cmd}: {}", text(&out));
    }
    let out = negsamp(&["sample", &store, "--out", &path(dir.path(), "o")]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = negsamp(&["demo", "--users", "2000", "--dir", &path(dir.path(), "d")]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("every row checked"), "{}", text(&out));
    assert!(dir.path().join("d/train/part-00000.parquet").exists());
    assert!(dir.path().join("d/train/_manifest.json").exists());
}

#[test]
fn popularity_split_and_log_q_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = ingest_pandas_example(dir.path());
    let ds = path(dir.path(), "ds");
    let out = negsamp(&[
        "sample",
        &store,
        "--out",
        &ds,
        "--strategy",
        "popularity",
        "--alpha",
        "0.75",
        "--log-q",
        "--split-at",
        "1005",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("ds/train") && text(&out).contains("ds/test"),
        "{}",
        text(&out)
    );
    assert!(Path::new(&ds).join("train/part-00000/log_q.npy").exists());
    let out = negsamp(&["verify", &ds]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        text(&out).matches("every row checked").count(),
        2,
        "{}",
        text(&out)
    );
    // --weights without --strategy popularity is a usage problem, reported as such
    let out = negsamp(&[
        "sample",
        &store,
        "--out",
        &path(dir.path(), "w"),
        "--weights",
        "x.npy",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("--weights needs --strategy popularity"),
        "{}",
        text(&out)
    );
}

/// `--kernel` picks a uniform kernel: every one verifies, the pre-verified ones write
/// the same bytes as the default, and a wrong name lists the right ones.
#[test]
fn sample_with_each_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = ingest_pandas_example(dir.path());
    let items = |out: &str| std::fs::read(Path::new(out).join("part-00000/item.npy")).unwrap();
    let default = path(dir.path(), "default");
    assert!(
        negsamp(&["sample", &store, "--out", &default, "--ratio", "2"])
            .status
            .success()
    );
    for kernel in [
        "guess-linear",
        "guess-hash",
        "guess-bisect",
        "guess-vectorized",
        "partition-point",
        "branch-free",
        "complement",
        "bucketed",
        "auto",
    ] {
        let out = path(dir.path(), kernel);
        let run = negsamp(&[
            "sample", &store, "--out", &out, "--ratio", "2", "--kernel", kernel,
        ]);
        assert!(run.status.success(), "{kernel}: {}", text(&run));
        let check = negsamp(&["verify", &out]);
        assert!(check.status.success(), "{kernel}: {}", text(&check));
        if !kernel.starts_with("guess") {
            assert_eq!(items(&out), items(&default), "{kernel}");
        }
    }
    let wrong = negsamp(&[
        "sample",
        &store,
        "--out",
        &path(dir.path(), "x"),
        "--kernel",
        "fast",
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(text(&wrong).contains("guess-bisect"), "{}", text(&wrong));
}

/// `negsamp bench` on a store: a table naming every kernel, results.csv with one row
/// per kernel, thread count and degree bucket (kernel names `--kernel` accepts), and a
/// PNG plot.
#[test]
fn bench_writes_table_csv_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let csv = path(dir.path(), "g.csv");
    let store = path(dir.path(), "g.store");
    let report = path(dir.path(), "report");
    assert!(
        negsamp(&["generate", "--out", &csv, "--users", "300", "--items", "400"])
            .status
            .success()
    );
    assert!(negsamp(&["ingest", &csv, "--out", &store]).status.success());
    let out = negsamp(&[
        "bench",
        &store,
        "--threads",
        "1,2",
        "--out",
        &report,
        "--users-per-bucket",
        "20",
        "--repeats",
        "1",
        "--budget",
        "0.2",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let results = std::fs::read_to_string(Path::new(&report).join("results.csv")).unwrap();
    let mut lines = results.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("kernel,family,threads,degree_low,degree_high"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let buckets = rows
        .iter()
        .filter(|r| r[0] == "auto" && r[2] == "1")
        .count();
    assert!(buckets >= 3, "{results}");
    assert_eq!(rows.len(), 9 * 2 * buckets);
    for row in &rows {
        let ns: f64 = row[10].parse().unwrap();
        assert!(ns > 0.0 && ns.is_finite(), "{row:?}");
    }
    let names: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(names.len(), 9);
    for name in names {
        assert!(stdout.contains(name), "{stdout}");
        let probe = path(dir.path(), "probe");
        let run = negsamp(&[
            "sample",
            &store,
            "--out",
            &probe,
            "--kernel",
            name,
            "--overwrite",
        ]);
        assert!(run.status.success(), "{name}: {}", text(&run));
    }
    let png = std::fs::read(Path::new(&report).join("throughput.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

/// The README's features commands: ingest with kept columns, sample with carried
/// columns and history in each format and layout, verify; misuse exits 2 and names
/// the option.
#[test]
fn features_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = path(dir.path(), "s.store");
    let out = negsamp(&[
        "ingest",
        &fixture("features.csv"),
        "--out",
        &store,
        "--keep",
        "price,clicks,category:str",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("kept columns: price (f64), clicks (i64), category (str)"),
        "{}",
        text(&out)
    );
    let cases: [&[&str]; 5] = [
        &["--carry", "price,category", "--history", "3"],
        &[
            "--carry",
            "price,category",
            "--history",
            "3",
            "--format",
            "parquet",
            "--original-ids",
        ],
        &["--layout", "wide", "--ratio", "2", "--history", "2"],
        &[
            "--layout", "wide", "--ratio", "2", "--format", "parquet", "--carry", "clicks",
        ],
        &["--anchor-dtype", "u32", "--history", "2"],
    ];
    for (k, args) in cases.iter().enumerate() {
        let ds = path(dir.path(), &format!("ds{k}"));
        let out = negsamp(&[&["sample", &store, "--out", &ds][..], args].concat());
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        let out = negsamp(&["verify", &ds]);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("every row checked"), "{}", text(&out));
    }
    assert!(dir.path().join("ds0/category.txt").exists());
    assert!(dir.path().join("ds1/part-00000.parquet").exists());
    let anchor = std::fs::read(dir.path().join("ds4/part-00000/anchor.npy")).unwrap();
    assert!(String::from_utf8_lossy(&anchor[..128]).contains("'<u4'"));
    let hard = [
        "--strategy",
        "hard",
        "--user-emb",
        "u.npy",
        "--item-emb",
        "i.npy",
        "--candidates",
        "4",
    ];
    let fraction_above_one = [&hard[..], &["--hard-fraction", "1.5"]].concat();
    let mixed_with_replacement =
        [&hard[..], &["--hard-fraction", "0.5", "--with-replacement"]].concat();
    let misuse: [(&[&str], &str); 15] = [
        (&["--alpha", "0.5"], "--strategy popularity"),
        (&["--metric", "cosine"], "apply to --strategy hard"),
        (&["--hard-fraction", "0.5"], "apply to --strategy hard"),
        (
            &fraction_above_one,
            "--hard-fraction must be between 0 and 1, not 1.5",
        ),
        (&mixed_with_replacement, "does not take --with-replacement"),
        (&["--pick", "softmax"], "apply to --strategy hard"),
        (
            &["--candidates", "several"],
            "neither `all` nor a whole number",
        ),
        (&["--skip-top", "3"], "apply to --strategy hard"),
        (&["--candidates", "4"], "apply to --strategy hard"),
        (
            &["--strategy", "hard", "--candidates", "4"],
            "needs --user-emb",
        ),
        (
            &["--base", "popularity"],
            "--base applies to --strategy hard",
        ),
        (&["--carry", "colour"], "--carry colour"),
        (&["--original-ids"], "--format parquet"),
        (&["--layout", "wide", "--per-user", "3"], "--per-user"),
        (&["--history", "5000"], "--history"),
    ];
    for (args, needle) in misuse {
        let ds = path(dir.path(), "bad");
        let out = negsamp(&[&["sample", &store, "--out", &ds][..], args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(needle), "{args:?}: {}", text(&out));
    }
}

/// Runs two `negsamp` commands at once; each must exit 0 (it wrote) or 3 (the other
/// held the lock).
fn race(a: &[&str], b: &[&str], trial: usize) -> (Output, Output) {
    let spawn = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_negsamp"))
            .args(args)
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn(a));
        let b = s.spawn(|| spawn(b));
        (a.join().unwrap(), b.join().unwrap())
    });
    for o in [&a, &b] {
        assert!(
            matches!(o.status.code(), Some(0 | 3)),
            "trial {trial}: {}",
            text(o)
        );
    }
    (a, b)
}

/// An output held by another process is refused with exit 3 and left untouched; two
/// writers racing for one output never publish a mixture: each exits 0 or 3 and the
/// result verifies.
#[test]
fn one_writer_per_output() {
    let dir = tempfile::tempdir().unwrap();
    let csv = path(dir.path(), "g.csv");
    let store = path(dir.path(), "g.store");
    let gen = [
        "generate", "--out", &csv, "--users", "20000", "--items", "5000",
    ];
    assert!(negsamp(&gen).status.success());
    assert!(negsamp(&["ingest", &csv, "--out", &store]).status.success());
    let out = path(dir.path(), "ds");
    assert!(negsamp(&["sample", &store, "--out", &out]).status.success());
    let before = std::fs::read(PathBuf::from(&out).join("manifest.json")).unwrap();

    let held = negsamp_store::publish::lock_destination(Path::new(&out)).unwrap();
    let refused = negsamp(&[
        "sample",
        &store,
        "--out",
        &out,
        "--overwrite",
        "--seed",
        "7",
    ]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    let message = format!("is being written by process {}", std::process::id());
    assert!(text(&refused).contains(&message), "{}", text(&refused));
    assert_eq!(
        std::fs::read(PathBuf::from(&out).join("manifest.json")).unwrap(),
        before
    );
    drop(held);

    for trial in 0..8 {
        let args = |seed| {
            [
                "sample",
                &store,
                "--out",
                &out,
                "--overwrite",
                "--seed",
                seed,
                "--shards",
                "4",
            ]
        };
        let (a, b) = race(&args("1"), &args("2"), trial);
        assert!(
            a.status.success() || b.status.success(),
            "trial {trial}: both refused"
        );
        let verified = negsamp(&["verify", &out]);
        assert!(
            verified.status.success(),
            "trial {trial}: {}",
            text(&verified)
        );
    }
}

/// `ingest in.csv --out in.csv` and `sample S --out S` would replace their input:
/// refused, input intact.
#[test]
fn an_output_may_not_replace_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let csv = path(dir.path(), "in.csv");
    std::fs::copy(fixture("duplicates.csv"), &csv).unwrap();
    let out = negsamp(&["ingest", &csv, "--out", &csv, "--overwrite"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("is the input"), "{}", text(&out));
    assert_eq!(
        std::fs::read(&csv).unwrap(),
        std::fs::read(fixture("duplicates.csv")).unwrap()
    );
    let store = path(dir.path(), "s.store");
    assert!(negsamp(&["ingest", &csv, "--out", &store]).status.success());
    for target in [
        store.clone(),
        path(dir.path(), "s.store/inside"),
        path(dir.path(), ""),
    ] {
        let out = negsamp(&["sample", &store, "--out", &target, "--overwrite"]);
        assert_eq!(out.status.code(), Some(1), "{target}: {}", text(&out));
        assert!(text(&out).contains("the input"), "{}", text(&out));
    }
    assert!(negsamp(&["verify", &store]).status.success());
}

/// Two ingests racing for one store: each exits 0 or 3, and the store is whole — its
/// id maps belong to its store.bin (it verifies), never one input's rows with the
/// other's ids.
#[test]
fn one_ingest_per_store() {
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<String> = (0..2)
        .map(|k| {
            let csv = path(dir.path(), &format!("in{k}.csv"));
            let seed = k.to_string();
            let gen = [
                "generate", "--out", &csv, "--users", "30000", "--seed", &seed,
            ];
            assert!(negsamp(&gen).status.success());
            csv
        })
        .collect();
    let store = path(dir.path(), "s.store");
    for trial in 0..6 {
        let args = |csv| ["ingest", csv, "--out", &store, "--overwrite"];
        race(&args(&inputs[0]), &args(&inputs[1]), trial);
        let verified = negsamp(&["verify", &store]);
        assert!(
            verified.status.success(),
            "trial {trial}: {}",
            text(&verified)
        );
    }
}

/// `-` reads standard input (here gzip-compressed, recognised by its bytes), giving
/// the store the file gives; a damaged Parquet file gets a named error, exit 1.
#[test]
fn ingest_reads_standard_input_and_names_binary_files() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let from_file = path(dir.path(), "file.store");
    assert!(
        negsamp(&["ingest", &fixture("duplicates.csv"), "--out", &from_file])
            .status
            .success()
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&std::fs::read(fixture("duplicates.csv")).unwrap())
        .unwrap();
    let from_stdin = path(dir.path(), "stdin.store");
    let mut child = Command::new(env!("CARGO_BIN_EXE_negsamp"))
        .args(["ingest", "-", "--out", &from_stdin])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&gz.finish().unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let fingerprint = |store: &str| {
        let out = negsamp(&["info", store, "--json"]);
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        info["fingerprint"].clone()
    };
    assert_eq!(fingerprint(&from_file), fingerprint(&from_stdin));
    let parquet = path(dir.path(), "events.parquet");
    std::fs::write(&parquet, b"PAR1\x15\x04\x15\x00junk").unwrap();
    let out = negsamp(&["ingest", &parquet, "--out", &path(dir.path(), "p.store")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("not a readable Parquet file"),
        "{}",
        text(&out)
    );
}

/// A SIGBUS (what a store truncated while mapped raises) ends the process with a
/// message saying what happened and exit 1, not a silent kill. Raised here with
/// `kill -BUS` on an ingest waiting for standard input.
#[test]
fn a_sigbus_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_negsamp"))
        .args(["ingest", "-", "--out", &path(dir.path(), "s.store")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-BUS", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stdin = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("truncated or rewritten while negsamp had it mapped"),
        "{}",
        text(&out)
    );
}

/// `--split-at` takes the forms a time column does: an ISO date splits like its Unix
/// seconds; a bad one is a usage error saying what is accepted.
#[test]
fn split_at_takes_iso_dates() {
    let dir = tempfile::tempdir().unwrap();
    let csv = path(dir.path(), "t.csv");
    std::fs::write(
        &csv,
        "user,item,timestamp\na,x,2024-04-30T23:00:00Z\na,y,2024-05-01 00:00:00\nb,x,2024-05-02\nb,z,2024-04-01\n",
    )
    .unwrap();
    let store = path(dir.path(), "t.store");
    assert!(negsamp(&["ingest", &csv, "--out", &store]).status.success());
    let iso = path(dir.path(), "iso");
    let out = negsamp(&["sample", &store, "--out", &iso, "--split-at", "2024-05-01"]);
    assert!(out.status.success(), "{}", text(&out));
    let unix = path(dir.path(), "unix");
    let out = negsamp(&["sample", &store, "--out", &unix, "--split-at", "1714521600"]);
    assert!(out.status.success(), "{}", text(&out));
    let anchors = |root: &str, side: &str| {
        std::fs::read(PathBuf::from(root).join(side).join("part-00000/anchor.npy")).unwrap()
    };
    for side in ["train", "test"] {
        assert_eq!(anchors(&iso, side), anchors(&unix, side), "{side}");
    }
    let out = negsamp(&[
        "sample",
        &store,
        "--out",
        &path(dir.path(), "x"),
        "--split-at",
        "May 1st",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("ISO-8601"), "{}", text(&out));

    // The same interactions in Unix milliseconds: the store records the unit (ingest
    // says so, the manifest too), and the ISO date splits where its milliseconds do —
    // the same rows as the seconds store.
    let ms_csv = path(dir.path(), "ms.csv");
    std::fs::write(
        &ms_csv,
        "user,item,timestamp\na,x,1714518000000\na,y,1714521600000\nb,x,1714608000000\nb,z,1711929600000\n",
    )
    .unwrap();
    let ms_store = path(dir.path(), "ms.store");
    let out = negsamp(&["ingest", &ms_csv, "--out", &ms_store]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("2024-04-01T00:00:00Z … 2024-05-02T00:00:00Z (Unix milliseconds"),
        "{}",
        text(&out)
    );
    for (name, at) in [("ms_iso", "2024-05-01"), ("ms_unix", "1714521600000")] {
        let dest = path(dir.path(), name);
        let out = negsamp(&["sample", &ms_store, "--out", &dest, "--split-at", at]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains(
                "anchors at or after 2024-05-01T00:00:00Z (1714521600000 Unix milliseconds)"
            ),
            "{}",
            text(&out)
        );
        for side in ["train", "test"] {
            let anchors = |root: &str| {
                std::fs::read(PathBuf::from(root).join(side).join("part-00000/anchor.npy")).unwrap()
            };
            assert_eq!(anchors(&dest), anchors(&iso), "{name} {side}");
        }
        let manifest =
            std::fs::read_to_string(PathBuf::from(&dest).join("test/manifest.json")).unwrap();
        assert!(manifest.contains("\"time_unit\": \"ms\""), "{manifest}");
    }
}

/// Under a small `ulimit -v`, an input too big for the memory left is an error naming
/// the estimate, before the first allocation that would fail (which aborted, exit 134).
#[test]
fn ingest_under_a_small_address_space_limit_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let csv = path(dir.path(), "big.csv");
    let mut rows = String::from("user,item\n");
    for i in 0..4_000_000u32 {
        rows.push_str(&format!("{},{}\n", i % 97, i % 89));
    }
    std::fs::write(&csv, rows).unwrap();
    let script = format!(
        "ulimit -v 250000; exec {} ingest {csv} --out {}",
        env!("CARGO_BIN_EXE_negsamp"),
        path(dir.path(), "s.store")
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("bytes of memory to ingest"),
        "{}",
        text(&out)
    );
}

/// Flags read the same across subcommands and say what they want: short `-o`/`-j`,
/// `--no-time`/`--no-timestamps` on both ingest and generate, a fractional `--ratio`
/// explained, rates for people, the exclusions applied, bench's report kept unless
/// --overwrite.
#[test]
fn flags_are_consistent_and_say_what_they_want() {
    let dir = tempfile::tempdir().unwrap();
    let csv = path(dir.path(), "g.csv");
    let out = negsamp(&[
        "-j",
        "1",
        "generate",
        "-o",
        &csv,
        "--users",
        "300",
        "--no-time",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let store = path(dir.path(), "g.store");
    let out = negsamp(&["ingest", &csv, "-o", &store, "--no-timestamps"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("timestamps: no"), "{}", text(&out));
    let out = negsamp(&[
        "sample",
        &store,
        "-o",
        &path(dir.path(), "x"),
        "--ratio",
        "0.5",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("0.5 is not a whole number"),
        "{}",
        text(&out)
    );
    let exclude = path(dir.path(), "ex.csv");
    let items = std::fs::read_to_string(PathBuf::from(&store).join("items.txt")).unwrap();
    let items: Vec<&str> = items.lines().take(2).collect();
    let (a, b) = (items[0], items[1]);
    std::fs::write(
        &exclude,
        format!("user,item\n0,{a}\n0,{b}\n0,{b}\nnobody,{a}\n"),
    )
    .unwrap();
    let ds = path(dir.path(), "ds");
    let out = negsamp(&[
        "sample",
        &store,
        "-o",
        &ds,
        "--exclude",
        &exclude,
        "--skip-unknown",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("--exclude pairs applied: 2 (skipped: 1)"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains(".0000"), "{}", text(&out));
    let report = path(dir.path(), "report");
    let bench = |extra: &[&str]| {
        let args = [
            &[
                "bench",
                &store,
                "-o",
                &report,
                "--kernels",
                "auto",
                "--users-per-bucket",
                "5",
                "--repeats",
                "1",
            ][..],
            extra,
        ]
        .concat();
        negsamp(&args)
    };
    assert!(bench(&[]).status.success());
    let again = bench(&[]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("--overwrite"), "{}", text(&again));
    assert!(bench(&["--overwrite"]).status.success());
}

/// `generate --shape` gives the documented shapes (counts after ingest; the table in
/// negsamp-store's `synth::Shape`).
#[test]
fn generated_shapes_match_the_public_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("movielens-1m", 6_040, 3_706, 0.04..0.055, 90..130),
        ("gowalla", 29_858, 40_981, 0.0007..0.001, 15..28),
        ("ciao", 7_375, 105_114, 0.0003..0.0007, 14..25),
    ];
    for (shape, users, items, density, median) in cases {
        let csv = path(dir.path(), &format!("{shape}.csv"));
        let store = path(dir.path(), &format!("{shape}.store"));
        let out = negsamp(&["generate", "--shape", shape, "--out", &csv, "-q"]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(negsamp(&[
            "ingest",
            &csv,
            "--out",
            &store,
            "--items",
            &catalog(dir.path(), items),
            "-q"
        ])
        .status
        .success());
        let info = negsamp(&["info", &store, "--json"]);
        let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        assert_eq!(
            (info["users"].as_u64(), info["items"].as_u64()),
            (Some(users), Some(items)),
            "{shape}"
        );
        let d = info["density"].as_f64().unwrap();
        let m = info["user_degree"]["median"].as_u64().unwrap();
        assert!(
            density.contains(&d) && median.contains(&m),
            "{shape}: density {d}, median {m}"
        );
    }
    let both = negsamp(&[
        "generate",
        "--shape",
        "gowalla",
        "--users",
        "5",
        "--out",
        &path(dir.path(), "x.csv"),
    ]);
    assert_eq!(both.status.code(), Some(2));
}

/// A catalog file of items `0..n` (so untouched items count).
fn catalog(dir: &Path, n: u64) -> String {
    let file = path(dir, &format!("items-{n}.txt"));
    let lines: String = (0..n).map(|i| format!("{i}\n")).collect();
    std::fs::write(&file, lines).unwrap();
    file
}

/// `--write-mode`: past the page cache (the default) or through it, the files are the
/// same bytes — a store and datasets larger than one 4 MiB write buffer, in both
/// formats, so whole direct blocks, the buffered tail and the `.npy` header rewrite
/// are all exercised.
#[test]
fn every_write_mode_writes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let csv = path(dir.path(), "g.csv");
    let out = negsamp(&[
        "generate", "--out", &csv, "--users", "25000", "--items", "20000", "--seed", "5",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let mut stores = Vec::new();
    for mode in ["direct", "buffered"] {
        let store = path(dir.path(), &format!("{mode}.store"));
        let out = negsamp(&["ingest", &csv, "--out", &store, "--write-mode", mode]);
        assert!(out.status.success(), "{}", text(&out));
        stores.push(store);
    }
    let bytes = |p: &str| std::fs::read(p).unwrap();
    let store_bin = |s: &str| bytes(&format!("{s}/store.bin"));
    assert!(
        store_bin(&stores[0]).len() > 4 << 20,
        "bigger than a buffer"
    );
    assert!(store_bin(&stores[0]) == store_bin(&stores[1]));
    for format in ["npy", "parquet"] {
        let mut written = Vec::new();
        for mode in ["direct", "buffered"] {
            let ds = path(dir.path(), &format!("{format}-{mode}"));
            let out = negsamp(&[
                "sample",
                &stores[0],
                "--out",
                &ds,
                "--ratio",
                "2",
                "--format",
                format,
                "--write-mode",
                mode,
            ]);
            assert!(out.status.success(), "{}", text(&out));
            let out = negsamp(&["verify", &ds]);
            assert!(out.status.success(), "{}", text(&out));
            written.push(ds);
        }
        let files = match format {
            "npy" => vec![
                "part-00000/item.npy",
                "part-00000/anchor.npy",
                "part-00000/user.npy",
            ],
            _ => vec!["part-00000.parquet"],
        };
        for file in files {
            let [a, b] = [0, 1].map(|k| bytes(&format!("{}/{file}", written[k])));
            assert!(
                a.len() > 4 << 20 || format == "parquet",
                "{file} {}",
                a.len()
            );
            assert!(a == b, "{format} {file} differs between write modes");
        }
    }
}
