//! Guess-and-check kernels: draw an item from the whole catalog, keep it unless it is a
//! positive (or, without replacement, already drawn). The NumPy article's first family;
//! they differ only in how positivity is checked, so one generic kernel serves all
//! three and they write identical output. Exact, but the expected draws per negative
//! are `n / m`, which is what breaks them on dense users.

use super::{check_ascending, map_interleaved, take_enumerated};
use super::{Candidates, Drawn, DrawnSet, Replacement, UniformKernel};
use crate::bounded::{below, fill_below_u32};
use crate::stream::UserRng;
use crate::KernelError;

/// How a guess-and-check kernel tells whether an item is a positive.
pub trait Positivity: Default + std::fmt::Debug + Send + Sync {
    /// Called once per user with the sorted positives.
    fn prepare(&mut self, positives: &[u32]);
    /// Whether `item` is one of `positives` (the slice given to `prepare`).
    fn contains(&self, positives: &[u32], item: u32) -> bool;
}

/// A linear scan of the positives (the article's `item in list`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Linear;

impl Positivity for Linear {
    fn prepare(&mut self, _: &[u32]) {}
    fn contains(&self, positives: &[u32], item: u32) -> bool {
        positives.contains(&item)
    }
}

/// A hash set of the positives, rebuilt per user (the article's `set(pos_inds)`).
#[derive(Debug, Default)]
pub struct Hashed {
    set: hashbrown::HashSet<u32>,
}

impl Positivity for Hashed {
    fn prepare(&mut self, positives: &[u32]) {
        self.set.clear();
        self.set.extend(positives.iter().copied());
    }
    fn contains(&self, _: &[u32], item: u32) -> bool {
        self.set.contains(&item)
    }
}

/// A binary search of the sorted positives (the article's `bisect_left`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Bisect;

impl Positivity for Bisect {
    fn prepare(&mut self, _: &[u32]) {}
    fn contains(&self, positives: &[u32], item: u32) -> bool {
        positives.binary_search(&item).is_ok()
    }
}

/// Incremental guess and check with the positivity test `P`.
///
/// Without replacement a request of at least the candidate count takes every
/// candidate (the shared enumeration path), so the loop always terminates; below
/// that, the output is a uniformly random ordered selection, drawn one item at a time.
#[derive(Debug, Default)]
pub struct GuessAndCheck<P: Positivity> {
    positivity: P,
    seen: DrawnSet,
}

impl<P: Positivity> UniformKernel for GuessAndCheck<P> {
    fn sample(
        &mut self,
        rng: &mut UserRng,
        positives: &[u32],
        n_items: u32,
        request: u64,
        replacement: Replacement,
        out: &mut Vec<u32>,
    ) -> Result<Drawn, KernelError> {
        out.clear();
        let candidates = Candidates::new(positives, n_items)?;
        let m = u64::from(candidates.count());
        let produced = match replacement {
            _ if m == 0 || request == 0 => 0,
            Replacement::Without if request >= m => take_enumerated(rng, &candidates, request, out),
            _ => {
                let distinct = replacement == Replacement::Without;
                self.positivity.prepare(positives);
                self.seen.start(n_items, if distinct { request } else { 0 });
                while (out.len() as u64) < request {
                    let item = below(rng, u64::from(n_items)) as u32;
                    if self.positivity.contains(positives, item)
                        || (distinct && self.seen.contains(out, item))
                    {
                        continue;
                    }
                    self.seen.insert(item);
                    out.push(item);
                }
                self.seen.finish(out);
                request
            }
        };
        Ok(Drawn {
            shortfall: request - produced,
            candidates: m as u32,
        })
    }
}

/// Vectorized guess and check: draw the whole request from the catalog at once, then
/// drop the positives (found by interleaved binary search, the article's
/// `searchsorted` mask) and, without replacement, repeats. A short batch is reported
/// as a shortfall, never padded — the one kernel allowed to return fewer negatives
/// than a user has candidates for. What it keeps is uniform over the candidates.
#[derive(Debug, Default)]
pub struct Vectorized {
    counts: Vec<u32>,
    seen: DrawnSet,
}

impl UniformKernel for Vectorized {
    fn sample(
        &mut self,
        rng: &mut UserRng,
        positives: &[u32],
        n_items: u32,
        request: u64,
        replacement: Replacement,
        out: &mut Vec<u32>,
    ) -> Result<Drawn, KernelError> {
        out.clear();
        check_ascending(positives, n_items)?;
        let m = u64::from(n_items) - positives.len() as u64;
        if m > 0 && request > 0 {
            fill_below_u32(rng, n_items, request as usize, out);
            // counts[i] = item + #{positives <= item}; the item is a positive exactly
            // when that count is non-zero and its last positive is the item.
            self.counts.clear();
            self.counts.extend_from_slice(out);
            if !positives.is_empty() {
                map_interleaved(positives, &mut self.counts);
            }
            let distinct = replacement == Replacement::Without;
            self.seen.start(n_items, if distinct { request } else { 0 });
            let mut kept = 0;
            for i in 0..out.len() {
                let item = out[i];
                let below_or_at = (self.counts[i] - item) as usize;
                let positive = below_or_at > 0 && positives[below_or_at - 1] == item;
                if positive || (distinct && self.seen.contains(&out[..kept], item)) {
                    continue;
                }
                self.seen.insert(item);
                out[kept] = item;
                kept += 1;
            }
            out.truncate(kept);
            self.seen.finish(out);
        }
        Ok(Drawn {
            shortfall: request - out.len() as u64,
            candidates: m as u32,
        })
    }
}
