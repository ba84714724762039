//! Negatives follow the documented laws (chi-square tests with fixed seeds): uniform over candidates, popularity^alpha, weights files.

mod common;

use common::*;
use negsamp_engine::verify::read_part_data;
use negsamp_engine::{sample_to_dir, Amount, SampleConfig, Strategy};

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
