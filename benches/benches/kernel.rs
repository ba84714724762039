//! ns/sample of the uniform kernel against the `partition_point` and guess-and-check
//! variants, in a 1M-item catalog, for users of degree 1 … 100k.
//!
//! Each iteration draws `BATCH` negatives with replacement for one user (draw + map),
//! so throughput reads in samples/s. Also: the engine's default path, distinct
//! negatives at 1:1 (request = degree).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use negsamp_kernel::bounded::{below, fill_below_u32};
use negsamp_kernel::stream::{user_rng, UserRng};
use negsamp_kernel::uniform::{
    count_at_most_partition_point, Candidates, Replacement, UniformSampler,
};
use negsamp_kernel::weighted::{WeightedSampler, Weights};
use std::hint::black_box;

const N_ITEMS: u32 = 1_000_000;
const BATCH: usize = 4096;
const DEGREES: [u32; 5] = [1, 8, 64, 1024, 100_000];

/// `k` distinct positives spread over the catalog, sorted.
fn positives(k: u32) -> Vec<u32> {
    let mut rng = user_rng(1, u64::from(k));
    let mut set = std::collections::BTreeSet::new();
    while set.len() < k as usize {
        set.insert(below(&mut rng, u64::from(N_ITEMS)) as u32);
    }
    set.into_iter().collect()
}

fn draw_ranks(rng: &mut UserRng, m: u32, out: &mut Vec<u32>) {
    out.clear();
    fill_below_u32(rng, m, BATCH, out);
}

fn uniform_with_replacement(c: &mut Criterion) {
    let mut group = c.benchmark_group("uniform_ns_per_sample");
    group.throughput(Throughput::Elements(BATCH as u64));
    for k in DEGREES {
        let pos = positives(k);
        let candidates = Candidates::new(&pos, N_ITEMS).unwrap();
        let adj: Vec<u32> = pos.iter().enumerate().map(|(j, &p)| p - j as u32).collect();
        let m = candidates.count();
        let mut rng = user_rng(7, 7);
        let mut ranks = Vec::with_capacity(BATCH);

        group.bench_with_input(BenchmarkId::new("negsamp", k), &k, |b, _| {
            b.iter(|| {
                draw_ranks(&mut rng, m, &mut ranks);
                candidates.map_ranks(&mut ranks);
                black_box(&ranks);
            })
        });
        group.bench_with_input(BenchmarkId::new("partition_point", k), &k, |b, _| {
            b.iter(|| {
                draw_ranks(&mut rng, m, &mut ranks);
                for r in ranks.iter_mut() {
                    *r += count_at_most_partition_point(&adj, *r);
                }
                black_box(&ranks);
            })
        });
        group.bench_with_input(BenchmarkId::new("guess_and_check", k), &k, |b, _| {
            b.iter(|| {
                ranks.clear();
                while ranks.len() < BATCH {
                    let item = below(&mut rng, u64::from(N_ITEMS)) as u32;
                    if pos.binary_search(&item).is_err() {
                        ranks.push(item);
                    }
                }
                black_box(&ranks);
            })
        });
    }
    group.finish();
}

/// The engine's default: distinct negatives, as many as positives (1:1).
fn uniform_distinct_one_to_one(c: &mut Criterion) {
    let mut group = c.benchmark_group("uniform_distinct_1to1");
    for k in DEGREES {
        let pos = positives(k);
        group.throughput(Throughput::Elements(u64::from(k)));
        let mut sampler = UniformSampler::default();
        let mut out = Vec::new();
        let mut user = 0u64;
        group.bench_with_input(BenchmarkId::new("negsamp", k), &k, |b, _| {
            b.iter(|| {
                user += 1;
                let mut rng = user_rng(3, user);
                sampler
                    .sample(
                        &mut rng,
                        &pos,
                        N_ITEMS,
                        u64::from(k),
                        Replacement::Without,
                        &mut out,
                    )
                    .unwrap();
                black_box(&out);
            })
        });
    }
    group.finish();
}

/// Rejection against search for weighted sampling: Zipf(1) weights over 1M items, a
/// user whose positives are the heaviest items holding a given share of the weight,
/// 64 distinct negatives. Each path is forced (floor 0: rejection while it can; floor
/// above 1: search only); the crossover sets `REJECTION_FLOOR`.
fn weighted_paths(c: &mut Criterion) {
    let w: Vec<f64> = (1..=N_ITEMS).map(|r| 1.0 / f64::from(r)).collect();
    let weights = Weights::new(&w).unwrap();
    let total: f64 = w.iter().sum();
    let mut group = c.benchmark_group("weighted_paths");
    group.throughput(Throughput::Elements(64));
    for share in [0.0, 0.25, 0.5, 0.75, 0.9] {
        // the heaviest items, up to `share` of the weight
        let mut acc = 0.0;
        let positives: Vec<u32> = (0..N_ITEMS)
            .take_while(|&i| {
                acc += w[i as usize];
                acc <= share * total
            })
            .collect();
        for (name, floor) in [("rejection", 0.0), ("search", 2.0)] {
            let mut sampler = WeightedSampler::with_rejection_floor(floor);
            let mut out = Vec::new();
            let mut user = 0u64;
            group.bench_with_input(BenchmarkId::new(name, share), &share, |b, _| {
                b.iter(|| {
                    user += 1;
                    let mut rng = user_rng(9, user);
                    sampler
                        .sample(
                            &mut rng,
                            &weights,
                            &positives,
                            64,
                            Replacement::Without,
                            &mut out,
                        )
                        .unwrap();
                    black_box(&out);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    uniform_with_replacement,
    uniform_distinct_one_to_one,
    weighted_paths
);
criterion_main!(benches);
