//! Hard negatives (`--strategy hard`, Dynamic Negative Sampling): with every candidate
//! in one group the pick is the planted hardest non-positive; small groups still beat
//! the base by a clear margin; never a positive, exact counts, distinct picks, scores
//! equal to a float64 dot product; the same bytes at any thread and shard count; every
//! bad embedding file refused before any work.

mod common;

use common::*;
use negsamp_engine::config::Candidates;
use negsamp_engine::manifest::Manifest;
use negsamp_engine::{sample_to_dir, Amount, Hard, SampleConfig, Strategy};
use negsamp_kernel::uniform::Replacement;
use negsamp_store::Store;
use std::path::{Path, PathBuf};

/// Writes a `<f4` `[rows, dim]` matrix as NumPy's `np.save` does.
fn save_matrix(path: &Path, rows: usize, dim: usize, value: impl Fn(usize, usize) -> f32) {
    let mut bytes =
        negsamp_engine::npy::matrix_header("<f4", rows as u64, Some(dim as u64)).to_vec();
    for r in 0..rows {
        for c in 0..dim {
            bytes.extend_from_slice(&value(r, c).to_le_bytes());
        }
    }
    std::fs::write(path, bytes).unwrap();
}

/// A fixed pseudo-random value in [-1, 1) (SplitMix64 of the position).
fn noise(seed: u64, r: usize, c: usize) -> f32 {
    let mut z = seed ^ ((r as u64) << 20 | c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
}

fn hard(dir: &Path, candidates: u32) -> Hard {
    Hard {
        user_emb: dir.join("users.npy"),
        item_emb: dir.join("items.npy"),
        candidates: Candidates::Draws(candidates),
        temperature: None,
        user_ids: None,
        item_ids: None,
    }
}

/// The dataset's (user, item, label, score) rows.
fn rows(out: &Path) -> Vec<(u32, u32, u8, f32)> {
    let manifest = Manifest::read(out).unwrap();
    let mut all = Vec::new();
    for part in &manifest.parts {
        let column = |name: &str| out.join(&part.name).join(format!("{name}.npy"));
        let user = negsamp_engine::npy::read::<u32>(&column("user")).unwrap();
        let item = negsamp_engine::npy::read::<u32>(&column("item")).unwrap();
        let label = negsamp_engine::npy::read::<u8>(&column("label")).unwrap();
        let score = negsamp_engine::npy::read::<f32>(&column("score")).unwrap();
        all.extend((0..user.len()).map(|r| (user[r], item[r], label[r], score[r])));
    }
    all
}

fn positives(store: &Store, u: u32) -> Vec<u32> {
    store.user(u).unwrap().items.to_vec()
}

#[test]
fn the_planted_hardest_items_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let (n_users, n_items) = (30usize, 50u32);
    let lists: Vec<Vec<u32>> = (0..n_users)
        .map(|u| {
            (0..n_items)
                .filter(|i| (i * 7 + u as u32 * 3).is_multiple_of(5))
                .collect()
        })
        .collect();
    let store = store_from_lists(&lists, n_items);
    // Integer-valued vectors: exact scores, ties included (broken by item index).
    save_matrix(&dir.path().join("users.npy"), n_users, 2, |u, c| {
        [1.0, (u % 3) as f32][c]
    });
    save_matrix(
        &dir.path().join("items.npy"),
        n_items as usize,
        2,
        |i, c| [((i * 7) % 50) as f32, (i % 5) as f32][c],
    );
    let score = |u: usize, i: u32| ((i * 7) % 50) as f32 + (u % 3) as f32 * (i % 5) as f32;
    let hardest = |u: usize| {
        (0..n_items)
            .filter(|i| !lists[u].contains(i))
            .max_by(|&a, &b| score(u, a).total_cmp(&score(u, b)).then(b.cmp(&a)))
            .unwrap()
    };
    // --candidates all: exactly the planted ranking, the first `skip` passed over.
    for (per_user, skip) in [(1u32, 0u32), (4, 3)] {
        let out = dir.path().join(format!("top-{per_user}-{skip}"));
        let config = SampleConfig {
            seed: 4,
            amount: Amount::PerUser(per_user),
            negatives_only: true,
            hard: Some(Hard {
                candidates: Candidates::All { skip_top: skip },
                ..hard(dir.path(), 1)
            }),
            ..Default::default()
        };
        run(&store, &out, &config);
        let got = rows(&out);
        for (u, positives) in lists.iter().enumerate() {
            let mut ranking: Vec<u32> = (0..n_items).filter(|i| !positives.contains(i)).collect();
            ranking.sort_by(|&a, &b| score(u, b).total_cmp(&score(u, a)).then(a.cmp(&b)));
            let mut want = ranking[skip as usize..(skip + per_user) as usize].to_vec();
            let mut negatives: Vec<u32> = got
                .iter()
                .filter(|r| r.0 == u as u32)
                .map(|r| r.1)
                .collect();
            // (Anchors take the negatives in a random order.)
            want.sort_unstable();
            negatives.sort_unstable();
            assert_eq!(negatives, want, "user {u}");
        }
    }
    for (per_user, replacement) in [
        (1, Replacement::Without),
        (3, Replacement::Without),
        (1, Replacement::With),
    ] {
        let out = dir.path().join(format!("out-{per_user}-{replacement:?}"));
        let config = SampleConfig {
            seed: 4,
            amount: Amount::PerUser(per_user),
            replacement,
            negatives_only: true,
            hard: Some(hard(dir.path(), 4096)),
            ..Default::default()
        };
        run(&store, &out, &config);
        let got = rows(&out);
        for u in 0..n_users {
            let negatives: Vec<(u32, f32)> = got
                .iter()
                .filter(|r| r.0 == u as u32)
                .map(|r| (r.1, r.3))
                .collect();
            assert_eq!(negatives.len(), per_user as usize);
            // Without replacement every non-positive is a candidate, so some group holds
            // the hardest and it wins there; with replacement 4096 draws of 40 items
            // miss it with probability < 1e-40.
            assert!(
                negatives.iter().any(|&(i, _)| i == hardest(u)),
                "user {u}: {negatives:?}, hardest {}",
                hardest(u)
            );
            for (i, s) in negatives {
                assert_eq!(s, score(u, i));
            }
        }
    }
}

fn gaussian_like_store(dir: &Path) -> (PathBuf, Store) {
    let path = generated_store(dir, 2000, 300, 5);
    let store = Store::open(&path).unwrap();
    save_matrix(
        &dir.join("users.npy"),
        store.n_users() as usize,
        8,
        |r, c| noise(1, r, c),
    );
    save_matrix(
        &dir.join("items.npy"),
        store.n_items() as usize,
        8,
        |r, c| noise(2, r, c),
    );
    (path, store)
}

#[test]
fn hard_negatives_keep_the_contract_and_outscore_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = gaussian_like_store(dir.path());
    let reference_score = |u: u32, i: u32| -> f64 {
        (0..8)
            .map(|c| f64::from(noise(1, u as usize, c)) * f64::from(noise(2, i as usize, c)))
            .sum()
    };
    let mean_negative_score = |config: &SampleConfig, name: &str| -> f64 {
        let out = dir.path().join(name);
        run(&store, &out, config);
        let got = rows(&out);
        let mut per_user = vec![Vec::new(); store.n_users() as usize];
        for &(u, i, label, s) in &got {
            assert!(
                (f64::from(s) - reference_score(u, i)).abs() < 1e-5,
                "score of ({u}, {i})"
            );
            if label == 0 {
                per_user[u as usize].push(i);
            }
        }
        for (u, negatives) in per_user.iter().enumerate() {
            let pos = positives(&store, u as u32);
            assert_eq!(negatives.len(), 2 * pos.len(), "user {u}: exact count");
            assert!(
                negatives.iter().all(|i| pos.binary_search(i).is_err()),
                "user {u}: a positive"
            );
            let mut distinct = negatives.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), negatives.len(), "user {u}: a repeat");
        }
        let negatives: Vec<f64> = got
            .iter()
            .filter(|r| r.2 == 0)
            .map(|r| f64::from(r.3))
            .collect();
        negatives.iter().sum::<f64>() / negatives.len() as f64
    };
    let base = SampleConfig {
        seed: 9,
        amount: Amount::Ratio(2),
        hard: Some(hard(dir.path(), 1)),
        ..Default::default()
    };
    let m1 = mean_negative_score(&base, "m1");
    let m8 = SampleConfig {
        hard: Some(hard(dir.path(), 8)),
        ..base.clone()
    };
    let m8_popularity = SampleConfig {
        strategy: Strategy::Popularity { alpha: 1.0 },
        ..m8.clone()
    };
    let (hard8, hard8_popularity) = (
        mean_negative_score(&m8, "m8"),
        mean_negative_score(&m8_popularity, "m8p"),
    );
    // Scores of 8-dim vectors with entries uniform in [-1, 1): sd 8^0.5 / 3 ≈ 0.94. The
    // best of 8 sits about 1.4 sd above the mean; ask for more than half of that.
    assert!(m1.abs() < 0.05, "M = 1 is the base law: mean {m1}");
    assert!(
        hard8 > m1 + 0.7 && hard8_popularity > m1 + 0.7,
        "{hard8}, {hard8_popularity} vs {m1}"
    );
}

#[test]
fn hard_output_bytes_do_not_depend_on_threads_or_shards() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = gaussian_like_store(dir.path());
    for strategy in [Strategy::Uniform, Strategy::Popularity { alpha: 0.75 }] {
        let config = SampleConfig {
            seed: 3,
            strategy,
            amount: Amount::Ratio(3),
            log_q: true,
            hard: Some(hard(dir.path(), 6)),
            ..Default::default()
        };
        let bytes = |threads: usize, shards: u32, chunk_rows: u64| {
            let out = dir.path().join(format!("{strategy:?}-{threads}-{shards}"));
            let config = SampleConfig {
                shards: Some(shards),
                chunk_rows,
                ..config.clone()
            };
            pool(threads).install(|| run(&store, &out, &config));
            dataset_bytes(&out)
        };
        assert!(bytes(1, 1, 1 << 16) == bytes(2, 3, 50), "{strategy:?}");
    }
}

#[test]
fn bad_embeddings_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = gaussian_like_store(dir.path());
    let (users, items) = (store.n_users() as usize, store.n_items() as usize);
    let p = |name: &str| dir.path().join(name);
    save_matrix(&p("short.npy"), items - 1, 8, |_, _| 0.0);
    save_matrix(&p("wide.npy"), items, 16, |_, _| 0.0);
    save_matrix(
        &p("nan.npy"),
        items,
        8,
        |r, _| if r == 7 { f32::NAN } else { 0.0 },
    );
    // Headers that promise what the data then holds: float64, and a 1-D array.
    let save_raw = |name: &str, descr: &str, width: Option<u64>, bytes: usize| {
        let mut data = negsamp_engine::npy::matrix_header(descr, items as u64, width).to_vec();
        data.resize(data.len() + bytes, 0);
        std::fs::write(p(name), data).unwrap();
    };
    save_raw("f64.npy", "<f8", Some(8), items * 64);
    save_raw("flat.npy", "<f4", None, items * 4);
    let cases = [
        (
            "short.npy",
            format!("{} rows; the store has {items} items", items - 1),
        ),
        (
            "wide.npy",
            "--user-emb has 8 dimensions and --item-emb 16".to_string(),
        ),
        ("nan.npy", "item row 7 holds NaN".to_string()),
        (
            "f64.npy",
            "dtype <f8; item embeddings must be float32".to_string(),
        ),
        ("flat.npy", "not a [items, dimensions] matrix".to_string()),
        ("missing.npy", "missing.npy".to_string()),
    ];
    assert!(users > 0);
    for (file, message) in cases {
        let config = SampleConfig {
            hard: Some(Hard {
                item_emb: p(file),
                ..hard(dir.path(), 4)
            }),
            ..Default::default()
        };
        let out = dir.path().join(format!("out-{file}"));
        let err = sample_to_dir(&store, &out, &config, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains(&message), "{file}: {err}");
        assert!(!out.exists(), "{file}: output written");
    }
}

/// Vectors saved in the model's own row order, with id files naming each row, give the
/// bytes the store's order gives; an id the store needs but the file lacks, or one
/// named twice, is an error naming it.
#[test]
fn id_files_map_the_models_row_order_onto_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = gaussian_like_store(dir.path());
    let (users, items) = (store.user_ids().unwrap(), store.item_ids().unwrap());
    // The model's order: reversed users, items rotated by 7, and one extra item row.
    let user_order: Vec<usize> = (0..users.len()).rev().collect();
    let item_order: Vec<usize> = (0..items.len()).map(|r| (r + 7) % items.len()).collect();
    let p = |name: &str| dir.path().join(name);
    save_matrix(&p("model-users.npy"), users.len(), 8, |r, c| {
        noise(1, user_order[r], c)
    });
    save_matrix(&p("model-items.npy"), items.len() + 1, 8, |r, c| {
        item_order.get(r).map_or(0.5, |&i| noise(2, i, c))
    });
    let lines = |ids: Vec<&str>| ids.iter().map(|id| format!("{id}\n")).collect::<String>();
    std::fs::write(
        p("user-ids.txt"),
        lines(user_order.iter().map(|&u| users[u].as_str()).collect()),
    )
    .unwrap();
    let mut model_items: Vec<&str> = item_order.iter().map(|&i| items[i].as_str()).collect();
    model_items.push("an item the store never saw");
    std::fs::write(p("item-ids.txt"), lines(model_items.clone())).unwrap();
    let config = SampleConfig {
        seed: 8,
        amount: Amount::Ratio(2),
        hard: Some(hard(dir.path(), 5)),
        ..Default::default()
    };
    run(&store, &p("store-order"), &config);
    let model_order = SampleConfig {
        hard: Some(Hard {
            user_emb: p("model-users.npy"),
            item_emb: p("model-items.npy"),
            user_ids: Some(p("user-ids.txt")),
            item_ids: Some(p("item-ids.txt")),
            candidates: Candidates::Draws(5),
            temperature: None,
        }),
        ..config.clone()
    };
    run(&store, &p("model-order"), &model_order);
    assert!(dataset_bytes(&p("store-order")) == dataset_bytes(&p("model-order")));

    let failing = |ids: Vec<&str>, message: String| {
        std::fs::write(p("bad-ids.txt"), lines(ids)).unwrap();
        let mut config = model_order.clone();
        config.hard.as_mut().unwrap().item_ids = Some(p("bad-ids.txt"));
        let err = sample_to_dir(&store, &p("bad"), &config, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains(&message), "{err}");
    };
    let mut missing = model_items.clone();
    let lost = missing[3];
    missing[3] = "nobody";
    failing(missing, format!("no vector for the store's item {lost:?}"));
    let mut twice = model_items.clone();
    twice[5] = twice[4];
    failing(
        twice,
        format!("item {:?} appears twice (line 6)", model_items[4]),
    );
    failing(model_items[1..].to_vec(), "one per row".into());
}

/// `--pick softmax`: a tiny temperature picks what `max` picks; a huge one with a
/// uniform base is uniform over the non-positives (chi-square over 3 000 users with the
/// same positives, each an independent stream); in between, the scores sit between the
/// base's and max's.
#[test]
fn softmax_spans_max_and_the_uniform_law() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = gaussian_like_store(dir.path());
    let negatives_by_user = |config: &SampleConfig, name: &str| {
        let out = dir.path().join(name);
        run(&store, &out, config);
        let mut by_user = vec![Vec::new(); store.n_users() as usize];
        let mut total = 0.0;
        let got = rows(&out);
        for &(u, i, _, s) in &got {
            by_user[u as usize].push(i);
            total += f64::from(s);
        }
        by_user.iter_mut().for_each(|v| v.sort_unstable());
        (by_user, total / got.len() as f64)
    };
    let with_temperature = |t: Option<f64>| SampleConfig {
        seed: 2,
        amount: Amount::Ratio(2),
        negatives_only: true,
        hard: Some(Hard {
            temperature: t,
            ..hard(dir.path(), 8)
        }),
        ..Default::default()
    };
    let (max, max_mean) = negatives_by_user(&with_temperature(None), "max");
    let (cold, _) = negatives_by_user(&with_temperature(Some(1e-7)), "cold");
    assert!(max == cold, "T -> 0 picks the maximum");
    let (_, warm_mean) = negatives_by_user(&with_temperature(Some(0.5)), "warm");
    let (_, base_mean) = negatives_by_user(
        &SampleConfig {
            hard: Some(hard(dir.path(), 1)),
            ..with_temperature(None)
        },
        "base",
    );
    assert!(
        base_mean + 0.2 < warm_mean && warm_mean + 0.1 < max_mean,
        "{base_mean} < {warm_mean} < {max_mean}"
    );

    // Hot: 3 000 users with positives 0..5 of 20 items, one negative each.
    let users = 3000;
    let lists = vec![(0..5).collect::<Vec<u32>>(); users];
    let same = store_from_lists(&lists, 20);
    // One vector for every user: a max pick would favour the same few items for all.
    save_matrix(&dir.path().join("users.npy"), users, 4, |_, c| {
        noise(3, 0, c)
    });
    save_matrix(&dir.path().join("items.npy"), 20, 4, |r, c| {
        3.0 * noise(4, r, c)
    });
    let hot = SampleConfig {
        amount: Amount::PerUser(1),
        ..with_temperature(Some(1e9))
    };
    let out = dir.path().join("hot");
    run(&same, &out, &hot);
    let mut counts = vec![0u64; 15];
    for (_, i, _, _) in rows(&out) {
        counts[i as usize - 5] += 1;
    }
    assert_chi_square(&counts, &[1.0 / 15.0; 15], 1e-4);
}
