use super::*;
use crate::stream::user_rng;
use crate::uniform::Replacement;
use proptest::prelude::*;
use statrs::distribution::{ChiSquared, ContinuousCDF};
use std::collections::HashMap;

/// Chi-square of observed category counts against exact probabilities, pooling
/// categories whose expected count is below 5 into one; panics if p < alpha.
fn chi_square_pooled(
    observed: &HashMap<Vec<u32>, u64>,
    expected: &HashMap<Vec<u32>, f64>,
    draws: u64,
    alpha: f64,
) {
    for key in observed.keys() {
        assert!(
            expected.contains_key(key),
            "observed an impossible outcome {key:?}"
        );
    }
    let (mut statistic, mut dof, mut pool_o, mut pool_e) = (0.0, 0usize, 0.0, 0.0);
    for (key, &p) in expected {
        let e = p * draws as f64;
        let o = *observed.get(key).unwrap_or(&0) as f64;
        if e < 5.0 {
            pool_o += o;
            pool_e += e;
        } else {
            statistic += (o - e).powi(2) / e;
            dof += 1;
        }
    }
    if pool_e > 0.0 {
        statistic += (pool_o - pool_e).powi(2) / pool_e.max(1e-9);
        dof += 1;
    }
    let p_value = 1.0 - ChiSquared::new((dof - 1) as f64).unwrap().cdf(statistic);
    assert!(
        p_value >= alpha,
        "chi-square {statistic:.1} on {} dof: p = {p_value:.2e}",
        dof - 1
    );
}

/// Exact law of the *set* drawn by successive sampling of `s` items from candidates
/// with weights `w` (zero-weight and excluded items removed): the sum over the set's
/// orderings of Π w_{i_j} / (W − Σ_{l<j} w_{i_l}).
fn successive_set_law(w: &[f64], candidates: &[u32], s: usize) -> HashMap<Vec<u32>, f64> {
    let mut law = HashMap::new();
    fn rec(
        w: &[f64],
        cands: &[u32],
        s: usize,
        prefix: &mut Vec<u32>,
        p: f64,
        left: f64,
        law: &mut HashMap<Vec<u32>, f64>,
    ) {
        if prefix.len() == s {
            let mut key = prefix.clone();
            key.sort_unstable();
            *law.entry(key).or_insert(0.0) += p;
            return;
        }
        for &c in cands {
            if prefix.contains(&c) || w[c as usize] == 0.0 {
                continue;
            }
            prefix.push(c);
            rec(
                w,
                cands,
                s,
                prefix,
                p * w[c as usize] / left,
                left - w[c as usize],
                law,
            );
            prefix.pop();
        }
    }
    let total: f64 = candidates.iter().map(|&c| w[c as usize]).sum();
    rec(w, candidates, s, &mut Vec::new(), 1.0, total, &mut law);
    law
}

fn run_sets(
    w: &[f64],
    excluded: &[u32],
    s: u64,
    users: u64,
    seed: u64,
    floor: f64,
) -> (HashMap<Vec<u32>, u64>, u64) {
    let weights = Weights::new(w).unwrap();
    let mut sampler = WeightedSampler::with_rejection_floor(floor);
    let mut out = Vec::new();
    let mut counts = HashMap::new();
    let mut searched = 0;
    for user in 0..users {
        let mut rng = user_rng(seed, user);
        let d = sampler
            .sample(
                &mut rng,
                &weights,
                excluded,
                s,
                Replacement::Without,
                &mut out,
            )
            .unwrap();
        searched += d.searched;
        let mut key = out.clone();
        key.sort_unstable();
        *counts.entry(key).or_insert(0) += 1;
    }
    (counts, searched)
}

const TEN: [f64; 10] = [5.0, 1.0, 3.0, 0.0, 8.0, 2.0, 2.0, 13.0, 1.0, 4.0];

/// The rejection path: 30 items of weights 1–7 (total 118) with light positives, so
/// 2–3 draws never bring acceptance below the default floor and no draw uses the
/// search; the drawn sets follow the exact successive-sampling law.
#[test]
fn rejection_path_follows_successive_sampling() {
    let w: Vec<f64> = (0..30).map(|i| f64::from(i % 7 + 1)).collect();
    for (excluded, s) in [(vec![1u32], 2u64), (vec![2, 8, 20], 3)] {
        let candidates: Vec<u32> = (0..30).filter(|i| !excluded.contains(i)).collect();
        let (counts, searched) = run_sets(&w, &excluded, s, 100_000, 11, REJECTION_FLOOR);
        assert_eq!(searched, 0, "every draw should be an accepted proposal");
        chi_square_pooled(
            &counts,
            &successive_set_law(&w, &candidates, s as usize),
            100_000,
            1e-4,
        );
    }
}

/// The search path, forced (a floor above 1), with positives holding 1–2 thirds of
/// the weight.
#[test]
fn search_path_follows_successive_sampling() {
    for (excluded, s) in [
        (vec![4u32, 7], 2u64),
        (vec![0, 4, 7], 3),
        (vec![4, 7, 9], 4),
    ] {
        let candidates: Vec<u32> = (0..10).filter(|i| !excluded.contains(i)).collect();
        let (counts, searched) = run_sets(&TEN, &excluded, s, 60_000, 12, 2.0);
        assert_eq!(searched, 60_000 * s, "every draw should use the search");
        let law = successive_set_law(&TEN, &candidates, s as usize);
        chi_square_pooled(&counts, &law, 60_000, 1e-4);
    }
}

/// Mixed: with a floor of 1/2, acceptance starts above it and falls below it during
/// the draws.
#[test]
fn switching_mid_user_keeps_the_law() {
    // excluded weight 13 of 39; drawing 4 of the rest usually removes over 6.5 more
    let excluded = vec![7u32];
    let candidates: Vec<u32> = (0..10).filter(|i| !excluded.contains(i)).collect();
    let (counts, searched) = run_sets(&TEN, &excluded, 4, 60_000, 13, 0.5);
    assert!(searched > 0 && searched < 60_000 * 4);
    chi_square_pooled(
        &counts,
        &successive_set_law(&TEN, &candidates, 4),
        60_000,
        1e-4,
    );
}

#[test]
fn with_replacement_draws_proportionally() {
    for excluded in [vec![1u32, 2], vec![4, 7]] {
        let weights = Weights::new(&TEN).unwrap();
        let mut sampler = WeightedSampler::default();
        let mut out = Vec::new();
        let mut counts = HashMap::new();
        for user in 0..20_000 {
            let mut rng = user_rng(3, user);
            sampler
                .sample(
                    &mut rng,
                    &weights,
                    &excluded,
                    5,
                    Replacement::With,
                    &mut out,
                )
                .unwrap();
            for &i in &out {
                *counts.entry(vec![i]).or_insert(0u64) += 1;
            }
        }
        let mass: f64 = (0..10u32)
            .filter(|i| !excluded.contains(i))
            .map(|i| TEN[i as usize])
            .sum();
        let law: HashMap<Vec<u32>, f64> = (0..10u32)
            .filter(|i| !excluded.contains(i) && TEN[*i as usize] > 0.0)
            .map(|i| (vec![i], TEN[i as usize] / mass))
            .collect();
        chi_square_pooled(&counts, &law, 100_000, 1e-4);
    }
}

/// With replacement, a user whose proposals are rejected [`MAX_PROPOSALS`] times in a
/// row switches to the search mid-request; the items drawn before the switch stay
/// candidates (they were once excluded from the search, which broke the law and
/// overflowed the gap masses). Positives hold 600 of 636 units, so acceptance is 5.7%:
/// above a floor of 1%, yet 64 rejections in a row come every ~40 draws.
#[test]
fn with_replacement_switching_to_the_search_keeps_the_law() {
    let w: Vec<f64> = (0..20)
        .map(|i| if i < 2 { 300.0 } else { f64::from(i % 3 + 1) })
        .collect();
    let weights = Weights::new(&w).unwrap();
    let excluded = [0u32, 1];
    let mut sampler = WeightedSampler::with_rejection_floor(0.01);
    let (mut out, mut counts, mut searched) = (Vec::new(), HashMap::new(), 0);
    let (users, request) = (5_000u64, 20u64);
    for user in 0..users {
        let mut rng = user_rng(5, user);
        let drawn = sampler
            .sample(
                &mut rng,
                &weights,
                &excluded,
                request,
                Replacement::With,
                &mut out,
            )
            .unwrap();
        searched += drawn.searched;
        assert_eq!(out.len() as u64, request);
        for &i in &out {
            *counts.entry(vec![i]).or_insert(0u64) += 1;
        }
    }
    assert!(
        searched > users && searched < users * request / 2,
        "the search should serve part of the draws, not {searched}"
    );
    let mass: f64 = w[2..].iter().sum();
    let law: HashMap<Vec<u32>, f64> = (2..20u32)
        .map(|i| (vec![i], w[i as usize] / mass))
        .collect();
    chi_square_pooled(&counts, &law, users * request, 1e-4);
}

/// The alias table's implied probabilities equal the quantised weights exactly.
#[test]
fn alias_table_is_exact() {
    for w in [
        TEN.to_vec(),
        vec![1.0; 7],
        vec![0.0, 0.0, 1.0],
        (1..=50).map(|i| f64::from(i).powf(1.7)).collect(),
    ] {
        let weights = Weights::new(&w).unwrap();
        let n = weights.len() as u128;
        let total = u128::from(weights.total());
        let mut implied = vec![0u128; weights.len()];
        for b in 0..weights.len() {
            let bucket = weights.buckets[b];
            implied[b] += u128::from(bucket.threshold);
            implied[bucket.alias as usize] += total - u128::from(bucket.threshold);
        }
        for (i, &got) in implied.iter().enumerate() {
            // P(i) = got / (n · total) must equal q_i / total
            assert_eq!(got, u128::from(weights.weight(i as u32)) * n, "item {i}");
        }
    }
}

#[test]
fn rejects_bad_weights() {
    assert_eq!(
        Weights::new(&[1.0, -1.0]).unwrap_err(),
        KernelError::BadWeight {
            item: 1,
            value: -1.0
        }
    );
    assert!(matches!(
        Weights::new(&[f64::NAN]),
        Err(KernelError::BadWeight { item: 0, .. })
    ));
    assert!(matches!(
        Weights::new(&[1.0, f64::INFINITY]),
        Err(KernelError::BadWeight { item: 1, .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Never an excluded item, never a zero weight, exact counts and shortfall,
    /// distinct without replacement — on either path.
    #[test]
    fn invariants(
        w in proptest::collection::vec(prop_oneof![Just(0.0), 0.01f64..100.0], 1..60),
        picks in proptest::collection::vec(any::<bool>(), 60),
        request in 0u64..80,
        with in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let n = w.len() as u32;
        let excluded: Vec<u32> = (0..n).filter(|&i| picks[i as usize]).collect();
        let weights = Weights::new(&w).unwrap();
        let replacement = if with { Replacement::With } else { Replacement::Without };
        let mut sampler = WeightedSampler::default();
        let mut out = Vec::new();
        let mut rng = user_rng(seed, 1);
        let d = sampler.sample(&mut rng, &weights, &excluded, request, replacement, &mut out).unwrap();
        let available = (0..n).filter(|&i| !picks[i as usize] && w[i as usize] > 0.0).count() as u64;
        let expected = match replacement {
            _ if available == 0 => 0,
            Replacement::With => request,
            Replacement::Without => request.min(available),
        };
        prop_assert_eq!(out.len() as u64, expected);
        prop_assert_eq!(d.shortfall, request - expected);
        for &i in &out {
            prop_assert!(i < n && !picks[i as usize] && w[i as usize] > 0.0, "drew {}", i);
        }
        if !with {
            let mut sorted = out.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), out.len());
        }
        let excluded_mass: u64 = excluded.iter().map(|&i| weights.weight(i)).sum();
        prop_assert_eq!(d.mass, weights.total() - excluded_mass);
    }
}

/// Finite but extreme weights keep their proportions: the raw sum of 1.7e308s
/// overflows and a scale for 5e-324 underflows, so quantisation is relative to the
/// largest weight.
#[test]
fn extreme_finite_weights_keep_their_proportions() {
    for raw in [
        vec![1.7e308, 1.7e308, 8.5e307, 0.0],
        vec![5e-324, 1e-323, 1.5e-323, 0.0],
        vec![f64::MAX, f64::MAX / 2.0, f64::MAX / 4.0, 0.0],
    ] {
        let w = Weights::new(&raw).unwrap();
        let q: Vec<u64> = (0..4).map(|i| w.weight(i)).collect();
        assert!(q[3] == 0 && q[0] > 0, "{raw:?}: {q:?}");
        let total: u64 = q.iter().sum();
        assert!(total <= 1 << 63, "{raw:?}: the total {total} fits");
        for (i, &r) in raw.iter().enumerate().take(3) {
            let expected = r / raw[0];
            let got = q[i] as f64 / q[0] as f64;
            assert!(
                (got - expected).abs() < 1e-9,
                "{raw:?}: item {i}: {got} vs {expected}"
            );
        }
    }
}
