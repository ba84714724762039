//! `negsamp bench`'s degree buckets.

mod common;

use common::*;
use negsamp_engine::Amount;
use negsamp_engine::SampleConfig;
use negsamp_kernel::uniform::{Kernel, Replacement};

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
        // More repeats than kernels: the interleaving rotates its starting kernel.
        repeats: 3,
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
        let kernels = [Kernel::Auto, Kernel::BranchFree];
        let cells = measure(&store, bucket, &kernels, &options).unwrap();
        assert_eq!(cells.iter().map(|c| c.kernel).collect::<Vec<_>>(), kernels);
        for cell in cells {
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
}

#[test]
fn an_absurd_request_is_refused_before_timing() {
    let store = store_from_lists(&[vec![1, 2], vec![0]], 5);
    let options = negsamp_engine::bench::BenchOptions {
        amount: negsamp_engine::Amount::Ratio(u32::MAX),
        ..Default::default()
    };
    let err = negsamp_engine::bench::check_request_fits(&store, &options).unwrap_err();
    assert!(
        matches!(err, negsamp_engine::EngineError::TooLarge { .. }),
        "{err}"
    );
    negsamp_engine::bench::check_request_fits(&store, &Default::default()).unwrap();
}

/// `bench`'s shortfall is the whole store's, as `sample` reports it — not the timed
/// users' (one saturated user timed thousands of times read as 15-25% missing).
#[test]
fn bench_shortfall_equals_samples_on_a_store_with_saturated_users() {
    let dir = tempfile::tempdir().unwrap();
    // 40 users: a few hold every item but one or two, the rest few items.
    let lists: Vec<Vec<u32>> = (0..40u32)
        .map(|u| match u % 10 {
            0 => (0..30).collect(),
            1 => (1..30).collect(),
            _ => vec![u % 30, (u * 7) % 30 + 1]
                .into_iter()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
        })
        .collect();
    let store = store_from_lists(&lists, 31);
    for (k, replacement) in [Replacement::Without, Replacement::With]
        .into_iter()
        .enumerate()
    {
        for amount in [Amount::Ratio(3), Amount::PerUser(20)] {
            let config = SampleConfig {
                amount,
                replacement,
                ..Default::default()
            };
            let out = dir.path().join(format!("s{k}-{amount:?}"));
            let manifest = run(&store, &out, &config);
            let options = negsamp_engine::bench::BenchOptions {
                amount,
                replacement,
                users_per_bucket: 1,
                ..Default::default()
            };
            let buckets = negsamp_engine::bench::degree_buckets(&store, &options);
            let bench_shortfall: u64 = buckets.iter().map(|b| b.shortfall).sum();
            assert_eq!(
                bench_shortfall, manifest.totals.tally.shortfall,
                "{replacement:?} {amount:?}"
            );
        }
    }
}
