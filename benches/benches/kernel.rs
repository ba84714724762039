//! The engine's default path — distinct negatives at 1:1 (request = degree) — for the
//! uniform kernels in a 1M-item catalog, users of degree 1 … 100k; and the weighted
//! kernel's two paths. The full grid of uniform kernels is `benches/grid.rs`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use negsamp_kernel::bounded::below;
use negsamp_kernel::stream::user_rng;
use negsamp_kernel::uniform::{Kernel, Replacement, UniformSampler};
use negsamp_kernel::weighted::{WeightedSampler, Weights};
use std::hint::black_box;

const N_ITEMS: u32 = 1_000_000;
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

/// The engine's default setting: distinct negatives, as many as positives (1:1), for
/// each kernel that keeps up at these degrees (guess-linear and complement are in the
/// grid bench, where they belong).
fn uniform_distinct_one_to_one(c: &mut Criterion) {
    let mut group = c.benchmark_group("uniform_distinct_1to1");
    for k in DEGREES {
        let pos = positives(k);
        group.throughput(Throughput::Elements(u64::from(k)));
        for kernel in [
            Kernel::GuessBisect,
            Kernel::PartitionPoint,
            Kernel::BranchFree,
            Kernel::Bucketed,
            Kernel::Auto,
        ] {
            let mut sampler = UniformSampler::new(kernel);
            let mut out = Vec::new();
            let mut user = 0u64;
            group.bench_with_input(BenchmarkId::new(kernel.name(), k), &k, |b, _| {
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

criterion_group!(benches, uniform_distinct_one_to_one, weighted_paths);
criterion_main!(benches);
