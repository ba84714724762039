//! Hard negatives (`--strategy hard`, Dynamic Negative Sampling): with every candidate
//! in one group the pick is the planted hardest non-positive; small groups still beat
//! the base by a clear margin; never a positive, exact counts, distinct picks, scores
//! equal to a float64 dot product; the same bytes at any thread and shard count; every
//! bad embedding file refused before any work.

mod common;

use common::*;
use half::f16;
use negsamp_engine::config::{Candidates, Metric};
use negsamp_engine::manifest::Manifest;
use negsamp_engine::{sample_to_dir, Amount, Hard, SampleConfig, Strategy};
use negsamp_kernel::uniform::Replacement;
use negsamp_store::Store;
use std::path::{Path, PathBuf};

/// Writes a `<f4` `[rows, dim]` matrix as NumPy's `np.save` does.
fn save_matrix(path: &Path, rows: usize, dim: usize, value: impl Fn(usize, usize) -> f32) {
    let header = negsamp_engine::npy::matrix_header("<f4", rows as u64, Some(dim as u64));
    save_values(path, &header, rows, dim, |r, c| {
        value(r, c).to_le_bytes().to_vec()
    });
}

/// Writes a `<f2` matrix (each value rounded to float16).
fn save_matrix_f16(path: &Path, rows: usize, dim: usize, value: impl Fn(usize, usize) -> f32) {
    let header = negsamp_engine::npy::matrix_header("<f2", rows as u64, Some(dim as u64));
    save_values(path, &header, rows, dim, |r, c| {
        f16::from_f32(value(r, c)).to_le_bytes().to_vec()
    });
}

fn save_values(
    path: &Path,
    header: &[u8],
    rows: usize,
    dim: usize,
    value: impl Fn(usize, usize) -> Vec<u8>,
) {
    let mut bytes = header.to_vec();
    for r in 0..rows {
        for c in 0..dim {
            bytes.extend(value(r, c));
        }
    }
    std::fs::write(path, bytes).unwrap();
}

/// A version 1.0 `.npy` header of `len` bytes (a multiple of 16 minus… anything ≥ 64
/// here): other writers than NumPy need not align the data.
fn header_of_length(descr: &str, rows: usize, dim: usize, len: usize) -> Vec<u8> {
    let dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    let mut header = b"\x93NUMPY\x01\x00".to_vec();
    header.extend_from_slice(&((len - 10) as u16).to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    header.resize(len - 1, b' ');
    header.push(b'\n');
    header
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
        user_emb: Some(dir.join("users.npy")),
        query_emb: None,
        item_emb: dir.join("items.npy"),
        candidates: Candidates::Draws(candidates),
        temperature: None,
        user_ids: None,
        item_ids: None,
        metric: Metric::Dot,
        fraction: None,
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
    let mixed_cosine = Hard {
        fraction: Some(0.5),
        metric: Metric::Cosine,
        ..hard(dir.path(), 6)
    };
    for (strategy, hard) in [
        (Strategy::Uniform, hard(dir.path(), 6)),
        (Strategy::Popularity { alpha: 0.75 }, hard(dir.path(), 6)),
        (Strategy::Popularity { alpha: 0.75 }, mixed_cosine),
    ] {
        let config = SampleConfig {
            seed: 3,
            strategy,
            amount: Amount::Ratio(3),
            log_q: true,
            hard: Some(hard.clone()),
            ..Default::default()
        };
        let bytes = |threads: usize, shards: u32, chunk_rows: u64| {
            let name = format!("{strategy:?}-{:?}-{threads}-{shards}", hard.fraction);
            let out = dir.path().join(name);
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
    save_raw("truncated.npy", "<f4", Some(8), items * 32 - 4);
    save_matrix_f16(&p("inf16.npy"), items, 8, |r, c| {
        if (r, c) == (3, 5) {
            1e6 // beyond float16's range
        } else {
            0.0
        }
    });
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
        ("nan.npy", "item row 7 (column 0) holds NaN".to_string()),
        ("inf16.npy", "item row 3 (column 5) holds inf".to_string()),
        (
            "truncated.npy",
            format!(
                "{} data bytes where the header says {}",
                items * 32 - 4,
                items * 32
            ),
        ),
        (
            "f64.npy",
            "dtype <f8; item embeddings must be float32 (<f4) or float16 (<f2)".to_string(),
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
            user_emb: Some(p("model-users.npy")),
            item_emb: p("model-items.npy"),
            user_ids: Some(p("user-ids.txt")),
            item_ids: Some(p("item-ids.txt")),
            ..hard(dir.path(), 5)
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

/// Float16 vectors score exactly as their float32 conversion (the same bytes out), and
/// a file whose data is not aligned for its type (a header length no NumPy writes) is
/// read all the same.
#[test]
fn float16_and_unaligned_files_give_the_float32_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = gaussian_like_store(dir.path());
    let (users, items) = (store.n_users() as usize, store.n_items() as usize);
    let p = |name: &str| dir.path().join(name);
    let rounded = |seed: u64| move |r: usize, c: usize| f16::from_f32(noise(seed, r, c)).to_f32();
    save_matrix_f16(&p("users16.npy"), users, 12, rounded(5));
    save_matrix_f16(&p("items16.npy"), items, 12, rounded(6));
    save_matrix(&p("users.npy"), users, 12, rounded(5));
    save_matrix(&p("items.npy"), items, 12, rounded(6));
    let unaligned = header_of_length("<f4", items, 12, 75);
    save_values(&p("items-odd.npy"), &unaligned, items, 12, |r, c| {
        rounded(6)(r, c).to_le_bytes().to_vec()
    });
    let config = |user_emb: &str, item_emb: &str| SampleConfig {
        seed: 3,
        amount: Amount::Ratio(3),
        hard: Some(Hard {
            user_emb: Some(p(user_emb)),
            item_emb: p(item_emb),
            ..hard(dir.path(), 6)
        }),
        ..Default::default()
    };
    run(&store, &p("f32"), &config("users.npy", "items.npy"));
    run(&store, &p("f16"), &config("users16.npy", "items16.npy"));
    run(&store, &p("odd"), &config("users.npy", "items-odd.npy"));
    assert!(dataset_bytes(&p("f32")) == dataset_bytes(&p("f16")));
    assert!(dataset_bytes(&p("f32")) == dataset_bytes(&p("odd")));
}

/// `--metric cosine`: every score is the cosine of the pair (against a float64
/// reference), so a long item vector no longer wins by its length; a zero row is
/// refused.
#[test]
fn cosine_scores_are_cosines() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = gaussian_like_store(dir.path());
    let (users, items) = (store.n_users() as usize, store.n_items() as usize);
    let p = |name: &str| dir.path().join(name);
    let user = |r: usize, c: usize| noise(7, r, c);
    // Item lengths vary 1..=10 times.
    let item = |r: usize, c: usize| noise(8, r, c) * (1 + r % 10) as f32;
    save_matrix(&p("users.npy"), users, 6, user);
    save_matrix(&p("items.npy"), items, 6, item);
    let cosine = |u: u32, i: u32| {
        let (a, b): (Vec<f64>, Vec<f64>) = (0..6)
            .map(|c| {
                (
                    f64::from(user(u as usize, c)),
                    f64::from(item(i as usize, c)),
                )
            })
            .unzip();
        let dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        dot / (norm(&a) * norm(&b))
    };
    let config = |metric| SampleConfig {
        seed: 5,
        amount: Amount::Ratio(2),
        negatives_only: true,
        hard: Some(Hard {
            metric,
            ..hard(dir.path(), 16)
        }),
        ..Default::default()
    };
    run(&store, &p("cos"), &config(Metric::Cosine));
    let got = rows(&p("cos"));
    assert!(!got.is_empty());
    for &(u, i, _, s) in &got {
        assert!((f64::from(s) - cosine(u, i)).abs() < 1e-5, "{u} {i} {s}");
    }
    // Under the dot product the long items dominate the picks; under cosine they do not.
    let long_share = |rows: &[(u32, u32, u8, f32)]| {
        rows.iter().filter(|r| r.1 % 10 >= 5).count() as f64 / rows.len() as f64
    };
    run(&store, &p("dot"), &config(Metric::Dot));
    let (dot_share, cos_share) = (long_share(&rows(&p("dot"))), long_share(&got));
    assert!(dot_share > cos_share + 0.15, "{dot_share} vs {cos_share}");

    save_matrix(&p("items.npy"), items, 6, |r, c| {
        if r == 4 {
            0.0
        } else {
            item(r, c)
        }
    });
    let err = sample_to_dir(&store, &p("zero"), &config(Metric::Cosine), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("item row 4 is all zeros"), "{err}");
}

/// `--hard-fraction F`: ⌊F·k⌋ of each user's k negatives are the hard ones, the rest
/// follow the base law over what remains (chi-square, uniform and popularity), all
/// distinct and never a positive.
#[test]
fn a_hard_fraction_mixes_hard_and_base_negatives() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    // 3 000 users with positive 0 (and, for popularity weights, item i touched by i
    // extra users), one vector for all: item 19 scores highest.
    let users = 3000;
    let mut lists = vec![vec![0u32]; users];
    lists.extend((1..20).flat_map(|i| vec![vec![i]; i as usize]));
    let store = store_from_lists(&lists, 20);
    save_matrix(&p("users.npy"), lists.len(), 1, |_, _| 1.0);
    save_matrix(&p("items.npy"), 20, 1, |r, _| r as f32);
    for (candidates, popularity) in [
        (Candidates::All { skip_top: 0 }, false),
        (Candidates::Draws(4096), false),
        (Candidates::Draws(4096), true),
    ] {
        let config = SampleConfig {
            seed: 6,
            amount: Amount::PerUser(4),
            negatives_only: true,
            strategy: if popularity {
                Strategy::Popularity { alpha: 1.0 }
            } else {
                Strategy::Uniform
            },
            hard: Some(Hard {
                candidates,
                // ⌊0.3 · 4⌋ = 1 hard negative per user.
                fraction: Some(0.3),
                ..hard(dir.path(), 1)
            }),
            ..Default::default()
        };
        let out = p(&format!("mix-{candidates:?}-{popularity}"));
        run(&store, &out, &config);
        let mut by_user = vec![Vec::new(); lists.len()];
        for (u, i, _, _) in rows(&out) {
            by_user[u as usize].push(i);
        }
        let mut counts = [0u64; 20];
        for (u, negatives) in by_user.iter().enumerate().take(users) {
            let mut sorted = negatives.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 4, "user {u}: {negatives:?}");
            assert!(!sorted.contains(&0), "user {u}: a positive");
            // With every item a candidate the single hard pick is item 19.
            assert!(sorted.contains(&19), "user {u}: {negatives:?}");
            for &i in sorted.iter().filter(|&&i| i != 19) {
                counts[i as usize] += 1;
            }
        }
        // The three base negatives: without replacement over items 1..=18 — uniform,
        // or by successive sampling with weights 1..=18 (the items' popularity).
        if popularity {
            let weights: Vec<f64> = (1..19).map(f64::from).collect();
            let law: Vec<f64> = successive_inclusion(&weights, 3)
                .iter()
                .map(|p| p / 3.0)
                .collect();
            assert_chi_square(&counts[1..19], &law, 1e-4);
        } else {
            assert_chi_square(&counts[1..19], &[1.0 / 18.0; 18], 1e-4);
        }
    }
}

/// Inclusion probabilities of each item in `draws` successive draws without
/// replacement with the given weights (exact, by enumerating the draw sequences).
fn successive_inclusion(weights: &[f64], draws: usize) -> Vec<f64> {
    fn walk(weights: &[f64], taken: &mut Vec<usize>, p: f64, left: usize, out: &mut [f64]) {
        if left == 0 {
            taken.iter().for_each(|&i| out[i] += p);
            return;
        }
        let rest: f64 = (0..weights.len())
            .filter(|i| !taken.contains(i))
            .map(|i| weights[i])
            .sum();
        for i in 0..weights.len() {
            if !taken.contains(&i) && weights[i] > 0.0 {
                taken.push(i);
                walk(weights, taken, p * weights[i] / rest, left - 1, out);
                taken.pop();
            }
        }
    }
    let mut out = vec![0.0; weights.len()];
    walk(weights, &mut Vec::new(), 1.0, draws, &mut out);
    out
}

/// The dataset's (user, item, label, score, anchor) rows.
fn rows_with_anchors(out: &Path) -> Vec<(u32, u32, u8, f32, u64)> {
    let manifest = Manifest::read(out).unwrap();
    let mut anchors = Vec::new();
    for part in &manifest.parts {
        let file = out.join(&part.name).join("anchor.npy");
        anchors.extend(negsamp_engine::npy::read::<u64>(&file).unwrap());
    }
    rows(out)
        .into_iter()
        .zip(anchors)
        .map(|((u, i, l, s), a)| (u, i, l, s, a))
        .collect()
}

/// `--query-emb`: each anchor's negatives are scored by that anchor's own query (a row
/// per source row). Planted: the query at source row r points at one item, target(r),
/// distinct among a user's anchors — `--candidates all` pairs every anchor with its
/// target exactly, and so does DNS with the whole catalog in one group (one anchor
/// per user); with small groups, hard negatives still score well above the base. The
/// same bytes at any thread and shard count; a matrix without a row for every source
/// row is refused.
#[test]
fn per_anchor_queries_pick_each_anchors_own_negatives() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let n_items = 40u32;
    // 60 users with 3 positives each (items u % 7, +10, +20), source rows 3r + 1.
    let lists: Vec<Vec<u32>> = (0..60u32)
        .map(|u| vec![u % 7, u % 7 + 10, u % 7 + 20])
        .collect();
    let store = store_from_lists(&lists, n_items);
    let source_rows = store.rows().to_vec();
    let max_row = *source_rows.iter().max().unwrap() as usize;
    // target(r): an item no user touches (30..40), distinct for a user's 3 anchors.
    let target = |row: usize| 30 + (row / 3 + row % 7) as u32 % 10;
    for user in 0..60 {
        let targets: Vec<u32> = (0..3)
            .map(|j| target(source_rows[user * 3 + j] as usize))
            .collect();
        assert!(targets[0] != targets[1] && targets[1] != targets[2] && targets[0] != targets[2]);
    }
    // One-hot items; query r = 2·e(target(r)) + a little of every item.
    save_matrix(
        &p("items.npy"),
        n_items as usize,
        n_items as usize,
        |r, c| f32::from(u8::from(r == c)),
    );
    save_matrix(&p("queries.npy"), max_row + 1, n_items as usize, |r, c| {
        if c as u32 == target(r) {
            2.0
        } else {
            0.01 * (c % 5) as f32
        }
    });
    let queries = |candidates| Hard {
        user_emb: None,
        query_emb: Some(p("queries.npy")),
        candidates,
        ..hard(dir.path(), 1)
    };
    let config = |candidates, seed| SampleConfig {
        seed,
        amount: Amount::Ratio(1),
        hard: Some(queries(candidates)),
        ..Default::default()
    };
    run(
        &store,
        &p("top"),
        &config(Candidates::All { skip_top: 0 }, 1),
    );
    let got = rows_with_anchors(&p("top"));
    assert_eq!(got.iter().filter(|r| r.2 == 0).count(), 180);
    for &(u, i, label, score, anchor) in &got {
        if label == 0 {
            assert_eq!(i, target(anchor as usize), "user {u} anchor {anchor}");
            assert_eq!(score, 2.0);
        } else {
            // A positive's score is its own anchor's query.
            assert!((score - 0.01 * (i % 5) as f32).abs() < 1e-6, "{score}");
        }
    }

    // DNS with small groups: each negative's score (by its anchor's query) far above
    // what the base gives.
    let mean_negative_score = |name: &str, m: u32| {
        run(&store, &p(name), &config(Candidates::Draws(m), 2));
        let got = rows_with_anchors(&p(name));
        let negatives: Vec<f32> = got.iter().filter(|r| r.2 == 0).map(|r| r.3).collect();
        assert_eq!(negatives.len(), 180);
        negatives.iter().sum::<f32>() / 180.0
    };
    let (hard_mean, base_mean) = (
        mean_negative_score("dns", 16),
        mean_negative_score("base", 1),
    );
    assert!(hard_mean > base_mean + 0.5, "{hard_mean} vs {base_mean}");

    // One anchor per user and every item a candidate: DNS finds the target.
    let single: Vec<Vec<u32>> = (0..60u32).map(|u| vec![u % 7]).collect();
    let single_store = store_from_lists(&single, n_items);
    let dns_all = SampleConfig {
        negatives_only: true,
        ..config(Candidates::Draws(4096), 3)
    };
    run(&single_store, &p("dns-all"), &dns_all);
    for (_, i, _, _, anchor) in rows_with_anchors(&p("dns-all")) {
        assert_eq!(i, target(anchor as usize));
    }

    // Determinism, mixed with the base strategy.
    let mixed = SampleConfig {
        amount: Amount::Ratio(3),
        hard: Some(Hard {
            fraction: Some(0.5),
            ..queries(Candidates::Draws(4))
        }),
        ..config(Candidates::Draws(4), 4)
    };
    let bytes = |threads: usize, shards: u32| {
        let out = p(&format!("mixed-{threads}-{shards}"));
        let config = SampleConfig {
            shards: Some(shards),
            chunk_rows: 7,
            ..mixed.clone()
        };
        pool(threads).install(|| run(&store, &out, &config));
        dataset_bytes(&out)
    };
    assert!(bytes(1, 1) == bytes(2, 3));

    // Too few rows: the store's last source row has no query.
    save_matrix(&p("short.npy"), max_row, n_items as usize, |_, _| 1.0);
    let short = SampleConfig {
        hard: Some(Hard {
            query_emb: Some(p("short.npy")),
            ..queries(Candidates::Draws(4))
        }),
        ..config(Candidates::Draws(4), 5)
    };
    let err = sample_to_dir(&store, &p("bad"), &short, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "{max_row} rows; the store's source rows run to {max_row}"
        )),
        "{err}"
    );
}

/// DNS groups are consecutive runs of the kernel's draws, which must be in uniformly
/// random order (no shuffle of its own): with k = 2 negatives of M = 2 candidates each
/// from 5 items scored by their index, each pick's law is exact — every ordering of
/// the drawn set equally likely, groups (c1, c2) and (c3, c4), the larger of each.
/// Checked by chi-square against that law over 3 000 users, for the uniform kernel and
/// for the weighted one (sets by successive sampling, weights 1..=5). A kernel whose
/// order was sorted would give one fixed pair per set and fail.
#[test]
fn dns_groups_follow_the_law_of_randomly_ordered_draws() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let users = 3000;
    let mut lists = vec![vec![0u32]; users];
    // Item i (1..=5) touched by i extra users: popularity weight i + 0 from the 3 000.
    lists.extend((1..6).flat_map(|i| vec![vec![i]; i as usize]));
    let store = store_from_lists(&lists, 6);
    save_matrix(&p("users.npy"), lists.len(), 1, |_, _| 1.0);
    save_matrix(&p("items.npy"), 6, 1, |r, _| r as f32);
    for popularity in [false, true] {
        let weight = |i: usize| if popularity { i as f64 } else { 1.0 };
        // P(drawn sequence) by successive sampling, each of its 24 orders then equally
        // likely; the picks of each order counted with that weight.
        let mut law = [0.0f64; 6];
        let items = [1usize, 2, 3, 4, 5];
        for &a in &items {
            for &b in items.iter().filter(|&&b| b != a) {
                for &c in items.iter().filter(|&&c| c != a && c != b) {
                    for &d in items.iter().filter(|&&d| d != a && d != b && d != c) {
                        let mut left: f64 = items.iter().map(|&i| weight(i)).sum();
                        let mut probability = 1.0;
                        for i in [a, b, c, d] {
                            probability *= weight(i) / left;
                            left -= weight(i);
                        }
                        for order in permutations([a, b, c, d]) {
                            for pick in [order[0].max(order[1]), order[2].max(order[3])] {
                                law[pick] += probability / 24.0 / 2.0;
                            }
                        }
                    }
                }
            }
        }
        let config = SampleConfig {
            seed: 9,
            amount: Amount::PerUser(2),
            negatives_only: true,
            strategy: if popularity {
                Strategy::Popularity { alpha: 1.0 }
            } else {
                Strategy::Uniform
            },
            hard: Some(hard(dir.path(), 2)),
            ..Default::default()
        };
        let out = p(&format!("dns-{popularity}"));
        run(&store, &out, &config);
        let mut counts = [0u64; 6];
        for (u, i, _, _) in rows(&out) {
            if (u as usize) < users {
                counts[i as usize] += 1;
            }
        }
        // Item 1 can never win a group (the smallest), so only 2..=5 are cells.
        assert_eq!(counts[1], 0);
        assert_chi_square(&counts[2..], &law[2..], 1e-4);
    }
}

/// Every order of four items.
fn permutations(items: [usize; 4]) -> Vec<[usize; 4]> {
    let mut all = Vec::new();
    for a in 0..4 {
        for b in (0..4).filter(|&b| b != a) {
            for c in (0..4).filter(|&c| c != a && c != b) {
                let d = 6 - a - b - c;
                all.push([items[a], items[b], items[c], items[d]]);
            }
        }
    }
    all
}

fn hard_lists() -> impl proptest::strategy::Strategy<Value = (Vec<Vec<u32>>, u32)> {
    use proptest::strategy::Strategy as _;
    (1u32..40).prop_flat_map(|n_items| {
        let user = proptest::collection::btree_set(0..n_items, 0..=n_items as usize)
            .prop_map(|s| s.into_iter().collect::<Vec<u32>>());
        (
            proptest::collection::vec(user, 1..25),
            proptest::strategy::Just(n_items),
        )
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

    /// Every hard mode over random stores, vectors and parameters: never a positive,
    /// exact counts and shortfalls, distinct negatives without replacement, each
    /// anchor's share — all checked by `verify_output` (which also resamples every part
    /// and compares the bytes) — and the requested total accounted for.
    #[test]
    fn every_hard_run_honours_the_contract(
        (lists, n_items) in hard_lists(),
        per_user in proptest::option::of(0u32..12),
        ratio in 0u32..4,
        candidates in proptest::option::of(1u32..6),
        skip_top in 0u32..4,
        fraction in proptest::option::of(0.0f64..=1.0),
        softmax in proptest::option::of(0.05f64..5.0),
        popularity in proptest::bool::ANY,
        per_anchor in proptest::bool::ANY,
        cosine in proptest::bool::ANY,
        seed in proptest::prelude::any::<u64>(),
    ) {
        let store = store_from_lists(&lists, n_items);
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        let rows = store.rows().iter().max().map_or(1, |&r| r as usize + 1);
        // Vectors with no zero row (cosine needs a direction).
        save_matrix(&p("users.npy"), lists.len(), 3, |r, c| noise(seed, r, c) + 2.0);
        save_matrix(&p("queries.npy"), rows, 3, |r, c| noise(seed ^ 1, r, c) + 2.0);
        save_matrix(&p("items.npy"), n_items as usize, 3, |r, c| noise(seed ^ 2, r, c) + 2.0);
        let all = candidates.is_none();
        let hard = Hard {
            user_emb: (!per_anchor).then(|| p("users.npy")),
            query_emb: per_anchor.then(|| p("queries.npy")),
            candidates: candidates.map_or(Candidates::All { skip_top }, Candidates::Draws),
            temperature: if all { None } else { softmax },
            metric: if cosine { Metric::Cosine } else { Metric::Dot },
            fraction,
            ..hard(dir.path(), 1)
        };
        let config = SampleConfig {
            strategy: if popularity && (!all || fraction.is_some()) {
                Strategy::Popularity { alpha: 1.0 }
            } else {
                Strategy::Uniform
            },
            amount: per_user.map_or(Amount::Ratio(ratio), Amount::PerUser),
            hard: Some(hard),
            shards: Some(2.min(lists.len() as u32)),
            seed,
            chunk_rows: 5,
            ..Default::default()
        };
        let manifest = run(&store, &p("o"), &config);
        let t = manifest.totals.tally;
        let requested: u64 = lists.iter().map(|l| config.amount.request(l.len())).sum();
        proptest::prop_assert_eq!(t.negatives + t.shortfall, requested);
    }
}
