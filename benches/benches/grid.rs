//! The kernel grid: every uniform kernel on one user, over catalog sizes 10^3…10^7,
//! degrees 1…10^6 (plus half and 99% of the catalog) and requests of 1, 100 and
//! 10^4 negatives drawn with replacement (the NumPy article's setting); and the
//! many-users case — a population with skewed degrees sampled 1:1 without replacement,
//! as `negsamp sample` does — against the same users drawn from one shared stream.
//!
//! Each iteration samples one user with a fresh stream, so per-user costs (validating
//! the positives, building an index) are inside the figure. A kernel whose single
//! iteration takes longer than `SLOW` is reported as skipped with its one-shot time
//! instead of being sampled ten times (guess-and-check on a 99%-dense user of a 10^7
//! catalog takes minutes). Throughput is set, so reports read in samples/s.
//!
//! `scripts/grid-summary.py` turns target/criterion into the table of
//! docs/benchmarks.md (best kernel per cell and `auto`'s ratio to it).
//! Filter as usual: `cargo bench -p negsamp-benches --bench grid -- 'n=1000000/'`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use negsamp_kernel::bounded::below;
use negsamp_kernel::stream::user_rng;
use negsamp_kernel::uniform::{Kernel, Replacement, UniformSampler};
use rand_core::RngCore;
use std::hint::black_box;
use std::time::{Duration, Instant};

const CATALOGS: [u32; 5] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000];
const REQUESTS: [u64; 3] = [1, 100, 10_000];
const SLOW: Duration = Duration::from_millis(40);

/// Decades up to the catalog (and 10^6), then half and 99% of it.
fn degrees(n: u32) -> Vec<u32> {
    let mut out: Vec<u32> = (0..=6)
        .map(|e| 10u32.pow(e))
        .filter(|&k| k < n / 2 && k <= 1_000_000)
        .collect();
    out.extend([n / 2, n / 100 * 99]);
    out
}

/// About `k` positives spread over `[0, n)`, sorted (each item kept with
/// probability k/n; a geometric skip keeps sparse users cheap to build).
fn positives(n: u32, k: u32, seed: u64) -> Vec<u32> {
    let mut rng = user_rng(seed, u64::from(n) << 32 | u64::from(k));
    if u64::from(k) * 64 < u64::from(n) {
        let mut set = std::collections::BTreeSet::new();
        while set.len() < k as usize {
            set.insert(below(&mut rng, u64::from(n)) as u32);
        }
        return set.into_iter().collect();
    }
    let threshold = (u64::from(k) << 32) / u64::from(n);
    (0..n)
        .filter(|_| u64::from(rng.next_u32()) < threshold)
        .collect()
}

/// The name filter given to the bench binary, if any. The one-shot timing that decides
/// whether a kernel is too slow runs outside criterion, so it applies the filter itself
/// (as a substring: enough for the `grid/n=…/k=…/` prefixes this file is filtered by).
fn filter() -> Option<String> {
    std::env::args().skip(1).find(|a| !a.starts_with('-'))
}

/// Guess and check by linear scan costs about `draws × k` compares, and the expected
/// draws are `request × n / m`: past ~2·10^10 compares (about a second) even the
/// one-shot timing is not run, so the grid cannot hang for hours on one cell.
fn hopeless(kernel: Kernel, n: u32, k: u32, request: u64) -> Option<String> {
    let draws = request as f64 * f64::from(n) / f64::from(n - k);
    let compares = draws * f64::from(k);
    (kernel == Kernel::GuessLinear && compares > 2e10).then(|| {
        format!(
            "predicted {compares:.1e} compares (~{:.0} s)",
            compares * 5e-11
        )
    })
}

fn one_user_grid(c: &mut Criterion) {
    let filter = filter();
    for n in CATALOGS {
        for k in degrees(n) {
            let pos = positives(n, k, 1);
            for request in REQUESTS {
                let mut group = c.benchmark_group(format!("grid/n={n}/k={k}/s={request}"));
                // ~950 benchmarks: short windows and a small bootstrap keep the grid
                // near ten minutes; medians of 10 samples are what the summary reads.
                group
                    .throughput(Throughput::Elements(request))
                    .sample_size(10)
                    .nresamples(1000)
                    .warm_up_time(Duration::from_millis(50))
                    .measurement_time(Duration::from_millis(200));
                for kernel in Kernel::ALL {
                    let id = format!("grid/n={n}/k={k}/s={request}/{kernel}");
                    if filter.as_ref().is_some_and(|f| !id.contains(f.as_str())) {
                        continue;
                    }
                    if let Some(reason) = hopeless(kernel, n, k, request) {
                        println!("{id}: skipped, {reason}");
                        continue;
                    }
                    let mut sampler = UniformSampler::new(kernel);
                    let mut out = Vec::new();
                    let mut user = 0u64;
                    let mut once = || {
                        user += 1;
                        let mut rng = user_rng(3, user);
                        sampler
                            .sample(&mut rng, &pos, n, request, Replacement::With, &mut out)
                            .unwrap();
                        black_box(&out);
                    };
                    let start = Instant::now();
                    once();
                    let elapsed = start.elapsed();
                    if elapsed > SLOW {
                        println!(
                            "{id}: skipped, one user took {:.1} ms",
                            elapsed.as_secs_f64() * 1e3
                        );
                        continue;
                    }
                    group
                        .bench_function(BenchmarkId::from_parameter(kernel), |b| b.iter(&mut once));
                }
                group.finish();
            }
        }
    }
}

/// A population like real data: 20 000 users, log-normal degrees (median 20, long
/// tail to 10^5) over a 10^6-item catalog, sampled 1:1 without replacement.
fn many_users(c: &mut Criterion) {
    const N: u32 = 1_000_000;
    let mut rng = user_rng(5, 5);
    let users: Vec<Vec<u32>> = (0..20_000)
        .map(|u| {
            // Box–Muller from two uniforms: log-normal degree, sigma 1.5.
            let (a, b) = (
                (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64,
                (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64,
            );
            let z = (-2.0 * (1.0 - a).ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos();
            let k = (20.0 * (1.5 * z).exp()).clamp(1.0, 100_000.0) as u32;
            positives(N, k, u)
        })
        .collect();
    let total: u64 = users.iter().map(|p| p.len() as u64).sum();
    let mut group = c.benchmark_group("many_users");
    group
        .throughput(Throughput::Elements(total))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for kernel in [
        Kernel::GuessBisect,
        Kernel::PartitionPoint,
        Kernel::BranchFree,
        Kernel::Bucketed,
        Kernel::Auto,
    ] {
        let mut sampler = UniformSampler::new(kernel);
        let mut out = Vec::new();
        group.bench_function(BenchmarkId::new("per_user_streams", kernel), |b| {
            b.iter(|| {
                for (u, pos) in users.iter().enumerate() {
                    let mut rng = user_rng(9, u as u64);
                    let request = pos.len() as u64;
                    sampler
                        .sample(&mut rng, pos, N, request, Replacement::Without, &mut out)
                        .unwrap();
                    black_box(&out);
                }
            })
        });
    }
    // What the per-user streams cost: the same users drawn from one stream.
    let mut sampler = UniformSampler::new(Kernel::Auto);
    let mut out = Vec::new();
    group.bench_function(BenchmarkId::new("one_shared_stream", Kernel::Auto), |b| {
        let mut rng = user_rng(9, 0);
        b.iter(|| {
            for pos in &users {
                let request = pos.len() as u64;
                sampler
                    .sample(&mut rng, pos, N, request, Replacement::Without, &mut out)
                    .unwrap();
                black_box(&out);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, many_users, one_user_grid);
criterion_main!(benches);
