//! `negsamp bench`'s degree buckets.

mod common;

use common::*;
use negsamp_engine::Amount;
use negsamp_kernel::uniform::Kernel;

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
