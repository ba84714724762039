//! Hard negatives against the machine's random-gather ceiling: for d ∈ {32, 64, 128}
//! and M ∈ {4, 16, 64} over 1M items, float32 and float16, the same candidate rows either summed
//! (`gather`: fetching them is all it does — their bits XORed) or scored and reduced by the engine's law
//! (`dns`: `pick_hardest` with the `dot`/`dot_f16` score — shuffle, groups, best of each), on 1
//! and 2 threads. Throughput is candidate rows per second; DNS / gather is the figure
//! the issue asks for (≥ 70%).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use half::f16;
use negsamp_kernel::bounded::below;
use negsamp_kernel::hard::{dot, dot_f16, pick_hardest, Pick};
use negsamp_kernel::stream::user_rng;
use rayon::prelude::*;
use std::hint::black_box;

const ITEMS: usize = 1 << 20;
const USERS: usize = 256;
/// Negatives per user (k): a user's k·M candidates are one `pick_hardest` call.
const NEGATIVES: usize = 16;

/// An item matrix in one precision: its rows fetched (bits XORed) or scored.
trait Items: Sync {
    fn fetch(&self, i: usize) -> u32;
    fn score(&self, user: &[f32], i: usize) -> f32;
}

struct Matrix<T> {
    values: Vec<T>,
    dim: usize,
}

impl<T> Matrix<T> {
    fn row(&self, r: usize) -> &[T] {
        &self.values[r * self.dim..(r + 1) * self.dim]
    }
}

impl Items for Matrix<f32> {
    fn fetch(&self, i: usize) -> u32 {
        self.row(i).iter().fold(0u32, |a, x| a ^ x.to_bits())
    }
    fn score(&self, user: &[f32], i: usize) -> f32 {
        dot(user, self.row(i))
    }
}

/// Float16 values as their IEEE binary16 bits (what the engine maps from a file).
impl Items for Matrix<u16> {
    fn fetch(&self, i: usize) -> u32 {
        self.row(i).iter().fold(0u32, |a, &x| a ^ u32::from(x))
    }
    fn score(&self, user: &[f32], i: usize) -> f32 {
        dot_f16(user, self.row(i))
    }
}

fn matrix(rows: usize, dim: usize, seed: u64) -> Matrix<f32> {
    let mut rng = user_rng(seed, dim as u64);
    let values = (0..rows * dim)
        .map(|_| below(&mut rng, 1 << 20) as f32 / (1 << 19) as f32 - 1.0)
        .collect();
    Matrix { values, dim }
}

fn half_of(m: &Matrix<f32>) -> Matrix<u16> {
    Matrix {
        values: m
            .values
            .iter()
            .map(|&v| f16::from_f32(v).to_bits())
            .collect(),
        dim: m.dim,
    }
}

fn hard(c: &mut Criterion) {
    let mut group = c.benchmark_group("hard");
    group.sample_size(10);
    for dim in [32usize, 64, 128] {
        let items32 = matrix(ITEMS, dim, 1);
        let items16 = half_of(&items32);
        let users = matrix(USERS, dim, 2);
        let precisions: [(&str, &dyn Items); 2] = [("f32", &items32), ("f16", &items16)];
        for (m, (precision, items)) in [4usize, 16, 64]
            .into_iter()
            .flat_map(|m| precisions.map(|p| (m, p)))
        {
            // Every user's candidates: uniform over the catalog (the base's cheapest law).
            let mut rng = user_rng(3, (dim * m) as u64);
            let candidates: Vec<Vec<u32>> = (0..USERS)
                .map(|_| {
                    (0..NEGATIVES * m)
                        .map(|_| below(&mut rng, ITEMS as u64) as u32)
                        .collect()
                })
                .collect();
            group.throughput(Throughput::Elements((USERS * NEGATIVES * m) as u64));
            for threads in [1usize, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let id = |name: &str| {
                    BenchmarkId::new(name, format!("{precision}/d{dim}/M{m}/t{threads}"))
                };
                group.bench_function(id("gather"), |b| {
                    b.iter(|| {
                        pool.install(|| {
                            candidates
                                .par_iter()
                                .map(|list| {
                                    // XOR of the bits: every byte fetched, the reduction
                                    // vectorised, nothing else computed.
                                    list.iter()
                                        .map(|&i| items.fetch(i as usize))
                                        .fold(0u32, |a, x| a ^ x)
                                })
                                .reduce(|| 0, |a, b| a ^ b)
                        })
                    })
                });
                group.bench_function(id("dns"), |b| {
                    b.iter(|| {
                        pool.install(|| {
                            candidates
                                .par_iter()
                                .enumerate()
                                .map_init(
                                    || (Vec::new(), Vec::new()),
                                    |(list, scores), (u, user_candidates)| {
                                        list.clear();
                                        list.extend_from_slice(user_candidates);
                                        let mut rng = user_rng(4, u as u64);
                                        let user = users.row(u);
                                        pick_hardest(
                                            &mut rng,
                                            list,
                                            NEGATIVES as u64,
                                            Pick::Max,
                                            |_, i| items.score(user, i as usize),
                                            |_| 0.0,
                                            scores,
                                        );
                                        black_box(scores.iter().sum::<f32>())
                                    },
                                )
                                .sum::<f32>()
                        })
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, hard);
criterion_main!(benches);
