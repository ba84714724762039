//! Measuring the uniform kernels on a store: the engine side of `negsamp bench`.
//!
//! Users are grouped by degree into power-of-two buckets, and from each bucket up to
//! `users_per_bucket` users are taken, evenly spaced in user order (so a report is
//! reproducible). A kernel samples every chosen user of a bucket with the same
//! per-user streams and requests as `negsamp sample` — the kernel call only, no
//! pairing or output — spread over the current rayon pool, `repeats` times after one
//! untimed warm-up pass (each timed pass repeats the users for at least 20 ms), the
//! kernels' passes interleaved; the median wall time per negative is reported. A
//! repeat that exceeds `budget` stops where it is and the cell is marked incomplete
//! (its figure then comes from the users it reached), which keeps guess-and-check
//! kernels on dense users from running for hours.

use crate::config::Amount;
use crate::EngineError;
use negsamp_kernel::stream::user_rng;
use negsamp_kernel::uniform::{Kernel, Replacement, UniformSampler};
use negsamp_store::Store;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub amount: Amount,
    pub replacement: Replacement,
    pub seed: u64,
    /// Users measured per degree bucket (evenly spaced in user order).
    pub users_per_bucket: usize,
    /// Timed passes per cell; the median is reported.
    pub repeats: usize,
    /// Wall time after which a pass stops early.
    pub budget: Duration,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            amount: Amount::Ratio(1),
            replacement: Replacement::Without,
            seed: 0,
            users_per_bucket: 2000,
            repeats: 3,
            budget: Duration::from_secs(2),
        }
    }
}

/// The users of one degree range, `low..=high`.
#[derive(Debug, Clone)]
pub struct DegreeBucket {
    pub low: u64,
    pub high: u64,
    /// Users of the store in the bucket.
    pub users: u64,
    /// Negatives the whole bucket requests (to weight a store-wide figure).
    pub requested: u64,
    /// Negatives an exact kernel cannot give the whole bucket (users with fewer
    /// candidates than asked): what `sample` reports as shortfall, whichever users are
    /// timed and however often.
    pub shortfall: u64,
    /// The users measured.
    pub chosen: Vec<u32>,
}

/// Buckets of users with degree in `[2^b, 2^(b+1))`; users without positives (who
/// request nothing) are left out.
pub fn degree_buckets(store: &Store, options: &BenchOptions) -> Vec<DegreeBucket> {
    let indptr = store.indptr();
    let mut members: Vec<Vec<u32>> = Vec::new();
    for u in 0..store.n_users() {
        let degree = indptr[u as usize + 1] - indptr[u as usize];
        if degree == 0 {
            continue;
        }
        let b = degree.ilog2() as usize;
        if members.len() <= b {
            members.resize_with(b + 1, Vec::new);
        }
        members[b].push(u);
    }
    members
        .into_iter()
        .enumerate()
        .filter(|(_, users)| !users.is_empty())
        .map(|(b, users)| {
            let requested = users
                .iter()
                .map(|&u| options.amount.request(degree_of(indptr, u)))
                .sum();
            let shortfall = users
                .iter()
                .map(|&u| exact_shortfall(degree_of(indptr, u), store.n_items(), options))
                .sum();
            let take = options.users_per_bucket.clamp(1, users.len());
            let chosen = (0..take).map(|i| users[i * users.len() / take]).collect();
            DegreeBucket {
                low: 1 << b,
                high: (1u64 << (b + 1)) - 1,
                users: users.len() as u64,
                requested,
                shortfall,
                chosen,
            }
        })
        .collect()
}

/// What an exact kernel falls short by for a user of `degree` positives: without
/// replacement, what the request exceeds the candidates by; with it, everything when
/// there is no candidate.
fn exact_shortfall(degree: usize, n_items: u32, options: &BenchOptions) -> u64 {
    let request = options.amount.request(degree);
    let candidates = u64::from(n_items).saturating_sub(degree as u64);
    match options.replacement {
        _ if candidates == 0 => request,
        Replacement::With => 0,
        Replacement::Without => request.saturating_sub(candidates),
    }
}

fn degree_of(indptr: &[u64], u: u32) -> usize {
    (indptr[u as usize + 1] - indptr[u as usize]) as usize
}

/// One kernel on one bucket.
#[derive(Debug, Clone, Copy)]
pub struct Cell {
    pub kernel: Kernel,
    /// Users sampled in the reported pass.
    pub users: u64,
    pub requested: u64,
    pub produced: u64,
    pub shortfall: u64,
    /// Median wall time of a pass, in nanoseconds.
    pub nanos: f64,
    /// Every pass reached every chosen user within the budget.
    pub complete: bool,
}

impl Cell {
    /// Wall nanoseconds per negative produced (NaN when none was).
    pub fn ns_per_sample(&self) -> f64 {
        if self.produced == 0 {
            f64::NAN
        } else {
            self.nanos / self.produced as f64
        }
    }
}

/// Refuses a request whose heaviest user's negatives cannot be held in memory (every
/// kernel call writes them into one buffer), before any is timed.
pub fn check_request_fits(store: &Store, options: &BenchOptions) -> Result<(), EngineError> {
    let heaviest = store
        .indptr()
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or(0);
    let negatives = options.amount.request(heaviest as usize);
    crate::resources::check_fits_in_memory(
        || format!("the heaviest user's {negatives} negatives ({heaviest} positives)"),
        negatives.saturating_mul(4),
        "lower --ratio or --per-user",
    )
}

/// Measures every kernel of `kernels` on `bucket`'s chosen users, on the current rayon
/// pool, one cell per kernel in the order given. The timed passes are interleaved —
/// repeat `r` runs every kernel once, starting from the `r`-th — so a shared machine's
/// slow spell falls on all kernels alike instead of on whichever ran then; a kernel
/// whose pass exceeds the budget is not repeated.
pub fn measure(
    store: &Store,
    bucket: &DegreeBucket,
    kernels: &[Kernel],
    options: &BenchOptions,
) -> Result<Vec<Cell>, EngineError> {
    let warm_up = &bucket.chosen[..bucket.chosen.len().min(8)];
    for &kernel in kernels {
        pass(store, warm_up, kernel, options, Duration::MAX)?;
    }
    let mut passes: Vec<Vec<Cell>> = vec![Vec::new(); kernels.len()];
    for repeat in 0..options.repeats.max(1) {
        for turn in 0..kernels.len() {
            let k = (repeat + turn) % kernels.len();
            if passes[k].last().is_some_and(|cell| !cell.complete) {
                continue;
            }
            passes[k].push(pass(
                store,
                &bucket.chosen,
                kernels[k],
                options,
                options.budget,
            )?);
        }
    }
    Ok(passes.into_iter().map(median_cell).collect())
}

/// The pass of median time, marked incomplete if any pass was.
fn median_cell(mut passes: Vec<Cell>) -> Cell {
    passes.sort_by(|a, b| a.nanos.total_cmp(&b.nanos));
    let complete = passes.iter().all(|p| p.complete);
    Cell {
        complete,
        ..passes[passes.len() / 2]
    }
}

/// A pass repeats its users until it has run this long, so small buckets are timed
/// over many rounds rather than a few microseconds.
const MIN_PASS: Duration = Duration::from_millis(20);

/// One timed pass: rounds over `users` until [`MIN_PASS`] has elapsed, stopping at
/// the first chunk that starts after `budget`.
fn pass(
    store: &Store,
    users: &[u32],
    kernel: Kernel,
    options: &BenchOptions,
    budget: Duration,
) -> Result<Cell, EngineError> {
    let counters: [AtomicU64; 4] = Default::default();
    let stopped = AtomicBool::new(false);
    let start = Instant::now();
    loop {
        round(
            store, users, kernel, options, start, budget, &counters, &stopped,
        )?;
        if stopped.load(Ordering::Relaxed) || start.elapsed() >= MIN_PASS.min(budget) {
            break;
        }
    }
    let nanos = start.elapsed().as_nanos() as f64;
    let [users_done, requested, produced, shortfall] = counters.map(AtomicU64::into_inner);
    Ok(Cell {
        kernel,
        users: users_done,
        requested,
        produced,
        shortfall,
        nanos,
        complete: !stopped.into_inner(),
    })
}

/// Samples every user once on the current pool, adding (users, requested, produced,
/// shortfall) to `counters`.
#[allow(clippy::too_many_arguments)]
fn round(
    store: &Store,
    users: &[u32],
    kernel: Kernel,
    options: &BenchOptions,
    start: Instant,
    budget: Duration,
    counters: &[AtomicU64; 4],
    stopped: &AtomicBool,
) -> Result<(), EngineError> {
    users.par_chunks(8).try_for_each_init(
        || (UniformSampler::new(kernel), Vec::new()),
        |(sampler, out), chunk| -> Result<(), EngineError> {
            if start.elapsed() > budget {
                stopped.store(true, Ordering::Relaxed);
                return Ok(());
            }
            let mut sums = [0u64; 4];
            for &u in chunk {
                let view = store.user(u)?;
                let request = options.amount.request(view.items.len());
                let mut rng = user_rng(options.seed, view.key);
                let drawn = sampler
                    .sample(
                        &mut rng,
                        view.items,
                        store.n_items(),
                        request,
                        options.replacement,
                        out,
                    )
                    .map_err(|source| EngineError::Kernel { user: u, source })?;
                sums[0] += 1;
                sums[1] += request;
                sums[2] += out.len() as u64;
                sums[3] += drawn.shortfall;
            }
            for (counter, sum) in counters.iter().zip(sums) {
                counter.fetch_add(sum, Ordering::Relaxed);
            }
            Ok(())
        },
    )
}
