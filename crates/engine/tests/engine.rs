//! End-to-end tests of sampling runs: the contract (checked row by row by
//! `verify_output` against the store), exact counts, determinism across threads,
//! chunks, shards and user subsets, resumption, and the distribution.

use negsamp_engine::manifest::Manifest;
use negsamp_engine::verify::{read_part_data, verify_output};
use negsamp_engine::{sample_split, sample_to_dir, Amount, EngineError, SampleConfig, Strategy};
use negsamp_kernel::stream::user_key;
use negsamp_kernel::uniform::{Kernel, Replacement};
use negsamp_store::ingest::{ingest, IngestOptions};
use negsamp_store::synth::{generate, SynthOptions};
use negsamp_store::write::{to_bytes, Columns};
use negsamp_store::Store;
use proptest::prelude::{any, prop_assert_eq, proptest, Just, ProptestConfig};
use proptest::strategy::Strategy as _;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// An in-memory store from per-user sorted item lists; user u's id is `u{u}`, and
/// timestamps count down so that time order differs from item order.
fn store_from_lists(lists: &[Vec<u32>], n_items: u32) -> Store {
    let mut indptr = vec![0u64];
    let mut indices = Vec::new();
    for items in lists {
        indices.extend_from_slice(items);
        indptr.push(indices.len() as u64);
    }
    let rows: Vec<u64> = (0..indices.len() as u64).map(|r| r * 3 + 1).collect();
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
        rows: &rows,
        timestamps: Some(&timestamps),
        user_keys: &user_keys,
        kept: &[],
    };
    Store::from_bytes(&to_bytes(&columns)).unwrap()
}

/// A generated store on disk (synthetic Zipf data through the real ingest).
fn generated_store(dir: &Path, users: u64, items: u64, seed: u64) -> PathBuf {
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
fn dataset_bytes(dir: &Path) -> Vec<Vec<u8>> {
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

fn run(store: &Store, out: &Path, config: &SampleConfig) -> Manifest {
    let summary = sample_to_dir(store, out, config, &|_| {}).unwrap();
    verify_output(out, Some(store)).unwrap();
    summary.manifest
}

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
    let err = sample_split(&store, &dir.path().join("b"), &vectorized, 500, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("short batches"), "{err}");
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

fn copy_dir(from: &Path, to: &Path) {
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

#[test]
fn verify_catches_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_from_lists(&[vec![1, 2], vec![0, 3, 4]], 8);
    let out = dir.path().join("o");
    run(&store, &out, &SampleConfig::default());
    // flip a data byte: the checksum no longer matches
    let item = out.join("part-00000/item.npy");
    let mut bytes = std::fs::read(&item).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&item, &bytes).unwrap();
    let err = verify_output(&out, None).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    // a verifier against another store refuses
    run(&store, &dir.path().join("p"), &SampleConfig::default());
    let other = store_from_lists(&[vec![1]], 8);
    assert!(verify_output(&dir.path().join("p"), Some(&other)).is_err());
}

/// Negatives spread uniformly over the candidates, end to end: 4000 users with the
/// same positives {0, 5} in 12 items each draw 2 distinct negatives of 10
/// candidates. Inclusion counts are binomial, so the Pearson statistic is scaled by
/// (1 − 1/m)/(1 − s/m); significance 1e-4 with a fixed seed.
#[test]
fn negatives_are_uniform_over_candidates_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_from_lists(&vec![vec![0, 5]; 4000], 12);
    let out = dir.path().join("o");
    run(
        &store,
        &out,
        &SampleConfig {
            seed: 99,
            negatives_only: true,
            ..Default::default()
        },
    );
    let data = read_part_data(&out, &store, 0).unwrap();
    let mut counts = [0u64; 12];
    for &i in &data.item {
        counts[i as usize] += 1;
    }
    assert_eq!((counts[0], counts[5]), (0, 0));
    let (reps, s, m) = (4000.0, 2.0, 10.0);
    let p = s / m;
    let e = reps * p;
    let statistic: f64 = counts
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 0 && *i != 5)
        .map(|(_, &c)| (c as f64 - e).powi(2) / (e * (1.0 - p)))
        .sum();
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    let p_value = 1.0 - ChiSquared::new(m - 1.0).unwrap().cdf(statistic);
    assert!(p_value > 1e-4, "statistic {statistic}, p {p_value}");
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
            shards: Some(shards),
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

/// Ingests `csv_text` (header `user,item`) into `dir/name.store`.
fn store_from_csv(dir: &Path, name: &str, csv_text: &str) -> (PathBuf, Store) {
    let csv = dir.join(format!("{name}.csv"));
    std::fs::write(&csv, csv_text).unwrap();
    let path = dir.join(format!("{name}.store"));
    ingest(&csv, &path, &IngestOptions::default(), &|_| {}).unwrap();
    let store = Store::open(&path).unwrap();
    (path, store)
}

/// Pearson's chi-square of counts against probabilities (all expected counts ≥ 5).
fn assert_chi_square(counts: &[u64], probabilities: &[f64], alpha: f64) {
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

/// Popularity^alpha end to end: "donor" users give items 1..=4 popularities 1, 3, 6,
/// 10 (item 0 gets one more from every probe user); 3000 probe users own item 0 and
/// get one negative each, which must follow pop^alpha over items 1..=4 — for alpha 1
/// (the article's value_counts) and 0.5. Fixed seed, significance 1e-4.
#[test]
fn popularity_negatives_follow_popularity_to_the_alpha() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("user,item\n");
    let mut donor = 0;
    for (item, pop) in [(1, 1), (2, 3), (3, 6), (4, 10)] {
        for _ in 0..pop {
            csv.push_str(&format!("d{donor},i{item}\n"));
            donor += 1;
        }
    }
    for p in 0..3000 {
        csv.push_str(&format!("p{p},i0\n"));
    }
    let (_, store) = store_from_csv(dir.path(), "pop", &csv);
    let items = store.item_ids().unwrap();
    let users = store.user_ids().unwrap();
    for alpha in [1.0, 0.5] {
        let out = dir.path().join(format!("o{alpha}"));
        let config = SampleConfig {
            strategy: Strategy::Popularity { alpha },
            amount: Amount::PerUser(1),
            negatives_only: true,
            seed: 31,
            log_q: true,
            ..Default::default()
        };
        run(&store, &out, &config);
        let data = read_part_data(&out, &store, 0).unwrap();
        let mut counts = [0u64; 4];
        for r in 0..data.user.len() {
            if users[data.user[r] as usize].starts_with('p') {
                let item = &items[data.item[r] as usize];
                counts[item[1..].parse::<usize>().unwrap() - 1] += 1;
            }
        }
        let w: Vec<f64> = [1.0f64, 3.0, 6.0, 10.0]
            .iter()
            .map(|p| p.powf(alpha))
            .collect();
        let total: f64 = w.iter().sum();
        assert_chi_square(
            &counts,
            &w.iter().map(|x| x / total).collect::<Vec<_>>(),
            1e-4,
        );
    }
}

/// A weights file replaces popularity; zero weights are never drawn; a bad file is a
/// clear error.
#[test]
fn weights_files_are_honoured_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("user,item\n");
    for u in 0..4000 {
        csv.push_str(&format!("u{u},a\n"));
    }
    csv.push_str("x,b\nx,c\nx,d\nx,e\n");
    let (_, store) = store_from_csv(dir.path(), "w", &csv);
    assert_eq!(store.item_ids().unwrap(), ["a", "b", "c", "d", "e"]);
    let write_npy = |name: &str, values: &[f64]| {
        let path = dir.path().join(name);
        let mut bytes = negsamp_engine::npy::header("<f8", values.len() as u64).to_vec();
        bytes.extend_from_slice(bytemuck::cast_slice(values));
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let weights = write_npy("w.npy", &[5.0, 1.0, 0.0, 2.0, 7.0]);
    let config = SampleConfig {
        strategy: Strategy::Popularity { alpha: 1.0 },
        weights: Some(weights),
        amount: Amount::PerUser(1),
        negatives_only: true,
        seed: 4,
        ..Default::default()
    };
    let out = dir.path().join("o");
    run(&store, &out, &config);
    let data = read_part_data(&out, &store, 0).unwrap();
    let mut counts = [0u64; 5];
    for r in 0..data.user.len() {
        if data.user[r] < 4000 {
            counts[data.item[r] as usize] += 1;
        }
    }
    assert_eq!(
        (counts[0], counts[2]),
        (0, 0),
        "positive and zero-weight items are never drawn"
    );
    assert_chi_square(&[counts[1], counts[3], counts[4]], &[0.1, 0.2, 0.7], 1e-4);

    for (name, values, needle) in [
        ("short.npy", vec![1.0; 4], "4 weights for a catalog of 5"),
        ("neg.npy", vec![1.0, -1.0, 1.0, 1.0, 1.0], "weight -1"),
    ] {
        let bad = SampleConfig {
            weights: Some(write_npy(name, &values)),
            ..config.clone()
        };
        let err = sample_to_dir(
            &store,
            &dir.path().join(format!("out-{name}")),
            &bad,
            &|_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
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
    let [train, test] = sample_split(&store, &out, &config, at, &|_| {}).unwrap();
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
    let again = sample_split(&store, &dir.path().join("ds2"), &config, at, &|_| {}).unwrap();
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
    let err = sample_split(&no_time, &dir.path().join("x"), &config, at, &|_| {});
    assert!(matches!(err, Err(EngineError::Config(m)) if m.contains("timestamps")));
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

/// Rewrites one element of a column file and the manifest's checksums for it, as a
/// buggy writer would: only the row checks against the store can then notice.
fn tamper<T: bytemuck::Pod>(out: &Path, column: &str, row: usize, value: T) {
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

/// Each row check of `verify` fires on the corruption it exists for.
#[test]
fn verify_checks_every_row_against_the_store() {
    let store = store_from_lists(&[vec![1, 2, 5], vec![0, 3]], 8);
    let dir = tempfile::tempdir().unwrap();
    let fresh = |name: &str| {
        let out = dir.path().join(name);
        run(&store, &out, &SampleConfig::default());
        let data = read_part_data(&out, &store, 0).unwrap();
        (out, data)
    };
    let negative_row =
        |data: &negsamp_engine::verify::PartData| data.label.iter().position(|&l| l == 0).unwrap();

    let (out, data) = fresh("positive-as-negative");
    let r = negative_row(&data);
    let positive = if data.user[r] == 0 { 1u32 } else { 0 };
    tamper(&out, "item", r, positive);
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(err.contains("is a positive or excluded item"), "{err}");

    let (out, data) = fresh("foreign-anchor");
    tamper(&out, "anchor", negative_row(&data), 999u64);
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(err.contains("is not a positive of user"), "{err}");

    let (out, data) = fresh("wrong-timestamp");
    tamper(&out, "timestamp", negative_row(&data), -5i64);
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(err.contains("timestamp differs"), "{err}");

    let (out, data) = fresh("repeated-negative");
    let rows: Vec<usize> = (0..data.user.len())
        .filter(|&r| data.user[r] == 0 && data.label[r] == 0)
        .collect();
    tamper(&out, "item", rows[1], data.item[rows[0]]);
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(err.contains("repeated"), "{err}");

    // without the store, only the manifest's promises are checked: these pass
    verify_output(&out, None).unwrap();
}

/// `negsamp bench`'s buckets: every user with positives in exactly one power-of-two
/// bucket holding its degree, the measured users evenly spaced members of it, and the
/// bucket's request the sum of its users'; a measured cell samples exactly those.
#[test]
fn bench_buckets_cover_every_user_once() {
    use negsamp_engine::bench::{degree_buckets, measure, BenchOptions};
    let degrees = [0usize, 1, 1, 2, 3, 4, 7, 8, 15, 16, 1, 5];
    let lists: Vec<Vec<u32>> = degrees.iter().map(|&k| (0..k as u32).collect()).collect();
    let store = store_from_lists(&lists, 40);
    let options = BenchOptions {
        amount: Amount::Ratio(2),
        users_per_bucket: 2,
        repeats: 1,
        ..Default::default()
    };
    let buckets = degree_buckets(&store, &options);
    assert_eq!(
        buckets
            .iter()
            .map(|b| (b.low, b.high, b.users))
            .collect::<Vec<_>>(),
        [(1, 1, 3), (2, 3, 2), (4, 7, 3), (8, 15, 2), (16, 31, 1)]
    );
    for bucket in &buckets {
        let members: Vec<u32> = (0..degrees.len() as u32)
            .filter(|&u| (bucket.low..=bucket.high).contains(&(degrees[u as usize] as u64)))
            .collect();
        assert_eq!(
            bucket.requested,
            members
                .iter()
                .map(|&u| 2 * degrees[u as usize] as u64)
                .sum::<u64>()
        );
        assert_eq!(bucket.chosen.len(), members.len().min(2));
        assert!(bucket.chosen.iter().all(|u| members.contains(u)));
        assert_eq!(bucket.chosen[0], members[0]);
        let cell = measure(&store, bucket, Kernel::Auto, &options).unwrap();
        assert!(cell.complete && cell.users >= bucket.chosen.len() as u64);
        assert_eq!(
            cell.users % bucket.chosen.len() as u64,
            0,
            "whole rounds over the chosen users"
        );
        let per_round: u64 = bucket
            .chosen
            .iter()
            .map(|&u| 2 * degrees[u as usize] as u64)
            .sum();
        assert_eq!(
            cell.requested,
            per_round * (cell.users / bucket.chosen.len() as u64)
        );
        assert_eq!(cell.produced + cell.shortfall, cell.requested);
    }
}
