//! Weighted negatives: each candidate drawn with probability proportional to its
//! weight, without replacement by *successive sampling* — every draw picks candidate
//! `i` with probability `w_i / (total weight of the candidates still undrawn)`, which
//! is exactly the law of NumPy's `choice(cands, size=k, replace=False, p=w/sum(w))` —
//! or with replacement by independent draws.
//!
//! Weights are quantised once to integers ([`Weights::new`]: `q_i ≈ w_i / Σw · 2^62`,
//! at least 1 for any positive weight), so every later step is exact integer
//! arithmetic: a zero weight is never drawn and an excluded item is never returned,
//! by construction rather than up to rounding.
//!
//! Two exact methods, chosen per draw by the state of the user:
//! * **Rejection** from a global Walker/Vose alias table: propose from all items,
//!   reject the user's excluded and already drawn items. The accepted item follows
//!   the successive-sampling law exactly. Used while the remaining candidates hold at
//!   least [`REJECTION_FLOOR`] of the total weight (≤ 10 proposals per draw on
//!   average) and capped at [`MAX_PROPOSALS`] proposals per draw.
//! * **Search**, the weighted analogue of the pre-verified binary search, which never
//!   rejects: with the excluded items sorted and their weights prefix-summed, a uniform
//!   `u` in the remaining mass is located first among the gaps between excluded items
//!   (binary search over the gaps' starting masses), then inside its gap (binary search
//!   in the global cumulative weights). O(log n) per draw plus O(r) to insert the drawn
//!   item among the r excluded ones.
//!
//! Switching methods between draws depends only on the state before the draw, never
//! on its outcome, so the sequence keeps the successive-sampling law.

use crate::bounded::{below, fill_below_u32, shuffle};
use crate::uniform::check_ascending;
use crate::KernelError;
use rand_core::RngCore;

/// Proposals per draw before the rejection method hands over to the search. With an
/// acceptance rate of at least 1/10 the cap is reached with probability ≤ 0.12%.
pub const MAX_PROPOSALS: u32 = 64;
const QUANTUM_BITS: u32 = 62;

/// Per-item weights prepared for sampling: quantised, prefix-summed and aliased.
#[derive(Debug, Clone)]
pub struct Weights {
    quantised: Vec<u64>,
    /// `cumulative[i]` = Σ quantised[..i]; length n + 1.
    cumulative: Vec<u64>,
    /// Alias buckets; threshold and alias side by side so a proposal costs one cache
    /// miss, not two.
    buckets: Vec<Bucket>,
    positive_items: u64,
}

/// Bucket `b` yields item `b` when a uniform draw in `[0, total)` falls below
/// `threshold`, else `alias`. Both items' weights ride along, so that a proposal and
/// the weight the caller needs next come from one 32-byte line: measured with `perf`,
/// the bucket load and the separate weight load were each a cache miss and together
/// over 70% of the popularity strategy's time.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(32))]
struct Bucket {
    threshold: u64,
    own_weight: u64,
    alias_weight: u64,
    alias: u32,
}

impl Weights {
    /// Prepares `weights` (one per item index, finite and ≥ 0).
    pub fn new(weights: &[f64]) -> Result<Self, KernelError> {
        if weights.len() > u32::MAX as usize {
            return Err(KernelError::BadWeight {
                item: u32::MAX,
                value: f64::NAN,
            });
        }
        if let Some((i, &w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(KernelError::BadWeight {
                item: i as u32,
                value: w,
            });
        }
        // Relative to the largest weight first: the sum of raw weights can overflow
        // (1.7e308 + 1.7e308) or the scale underflow (5e-324), either of which would
        // quantise to the wrong law. Relative weights are in [0, 1], their sum at most
        // the item count.
        let max = weights.iter().copied().fold(0.0f64, f64::max);
        let relative = |w: f64| if max > 0.0 { w / max } else { 0.0 };
        let sum: f64 = weights.iter().map(|&w| relative(w)).sum();
        let scale = if sum > 0.0 {
            (1u64 << QUANTUM_BITS) as f64 / sum
        } else {
            0.0
        };
        let quantised: Vec<u64> = weights
            .iter()
            .map(|&w| {
                if w > 0.0 {
                    ((relative(w) * scale) as u64).max(1)
                } else {
                    0
                }
            })
            .collect();
        let mut cumulative = Vec::with_capacity(weights.len() + 1);
        cumulative.push(0u64);
        for &q in &quantised {
            cumulative.push(cumulative.last().expect("non-empty") + q);
        }
        let buckets = vose(&quantised, *cumulative.last().expect("non-empty"));
        let positive_items = quantised.iter().filter(|&&q| q > 0).count() as u64;
        Ok(Self {
            quantised,
            cumulative,
            buckets,
            positive_items,
        })
    }

    pub fn len(&self) -> usize {
        self.quantised.len()
    }

    pub fn is_empty(&self) -> bool {
        self.quantised.is_empty()
    }

    /// The quantised weight of item `i`.
    pub fn weight(&self, i: u32) -> u64 {
        self.quantised[i as usize]
    }

    /// Σ of all quantised weights.
    pub fn total(&self) -> u64 {
        *self.cumulative.last().expect("non-empty")
    }

    /// Items of positive weight.
    pub fn positive_items(&self) -> u64 {
        self.positive_items
    }

    /// One proposal from bucket `index` (drawn uniformly by the caller) — overall
    /// item i with probability q_i / total — and its weight.
    fn propose_from<R: RngCore + ?Sized>(
        &self,
        rng: &mut R,
        index: u32,
        bucket: Bucket,
    ) -> (u32, u64) {
        if below(rng, self.total()) < bucket.threshold {
            (index, bucket.own_weight)
        } else {
            (bucket.alias, bucket.alias_weight)
        }
    }
}

/// Walker/Vose alias table in exact integers: n buckets of capacity `total`, each
/// holding its own item up to `threshold` and its alias above.
fn vose(quantised: &[u64], total: u64) -> Vec<Bucket> {
    let n = quantised.len();
    let capacity = u128::from(total);
    let mut scaled: Vec<u128> = quantised
        .iter()
        .map(|&q| u128::from(q) * n as u128)
        .collect();
    let mut threshold = vec![total; n];
    let mut alias: Vec<u32> = (0..n as u32).collect();
    let (mut small, mut large): (Vec<u32>, Vec<u32>) =
        (0..n as u32).partition(|&i| scaled[i as usize] < capacity);
    while let (Some(&l), Some(&g)) = (small.last(), large.last()) {
        small.pop();
        threshold[l as usize] = scaled[l as usize] as u64;
        alias[l as usize] = g;
        scaled[g as usize] -= capacity - scaled[l as usize];
        if scaled[g as usize] < capacity {
            large.pop();
            small.push(g);
        }
    }
    threshold
        .into_iter()
        .zip(alias)
        .enumerate()
        .map(|(own, (threshold, alias))| Bucket {
            threshold,
            own_weight: quantised[own],
            alias_weight: quantised[alias as usize],
            alias,
        })
        .collect()
}

/// The outcome of sampling for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightedDrawn {
    /// Requested minus produced.
    pub shortfall: u64,
    /// Quantised weight of the user's candidates: a negative `i` was proposed with
    /// probability `weight(i) / mass` (the logQ of sampled softmax).
    pub mass: u64,
    /// Draws made by the search method (the rest were accepted proposals).
    pub searched: u64,
}

/// One worker's scratch for weighted sampling, reused across users.
#[derive(Debug)]
pub struct WeightedSampler {
    /// Rejection is used while the remaining candidates hold at least this share of
    /// the total weight; below it, the search.
    rejection_floor: f64,
    marks: Vec<u64>,
    sorted: Vec<u32>,
    prefix: Vec<u64>,
    /// Bucket indices drawn ahead and their buckets, loaded in one independent sweep
    /// so the cache misses of a user's proposals overlap; consumed from `next`.
    ahead: Vec<u32>,
    ahead_buckets: Vec<Bucket>,
    next: usize,
}

/// The default share of the total weight below which the search takes over.
/// Measured (`benches/benches/kernel.rs`, `weighted_paths`: Zipf weights over 1M
/// items, 64 draws): rejection beat the search even when the user's positives held
/// 90% of the weight (667 vs 776 µs), and was 4–13× faster up to 50%; each proposal
/// costs one cache miss (~25 ns), a search draw ~350 ns, so the break-even acceptance
/// is near 1/10.
pub const REJECTION_FLOOR: f64 = 0.1;

impl Default for WeightedSampler {
    fn default() -> Self {
        Self::with_rejection_floor(REJECTION_FLOOR)
    }
}

impl WeightedSampler {
    /// A sampler that uses rejection while the remaining candidates hold at least
    /// `floor` of the total weight (0: always, until the proposal cap; above 1: never).
    /// Both paths are exact; the floor only trades their costs.
    pub fn with_rejection_floor(floor: f64) -> Self {
        Self {
            rejection_floor: floor,
            marks: Vec::new(),
            sorted: Vec::new(),
            prefix: Vec::new(),
            ahead: Vec::new(),
            ahead_buckets: Vec::new(),
            next: 0,
        }
    }

    fn rejects(&self, remaining: u64, total: u64) -> bool {
        remaining as f64 >= self.rejection_floor * total as f64
    }

    /// Writes into `out` (cleared first) `request` negatives of a user whose excluded
    /// items (positives and any extra exclusions) are `excluded`, sorted and unique.
    /// Without replacement a user with fewer candidates of positive weight than
    /// requested gets all of them; the order of `out` is uniformly random either way.
    pub fn sample<R: RngCore + ?Sized>(
        &mut self,
        rng: &mut R,
        weights: &Weights,
        excluded: &[u32],
        request: u64,
        replacement: crate::uniform::Replacement,
        out: &mut Vec<u32>,
    ) -> Result<WeightedDrawn, KernelError> {
        use crate::uniform::Replacement;
        out.clear();
        let n_items = weights.len() as u32;
        check_ascending(excluded, n_items)?;
        let excluded_mass: u64 = excluded.iter().map(|&i| weights.weight(i)).sum();
        let excluded_positive = excluded.iter().filter(|&&i| weights.weight(i) > 0).count() as u64;
        let available = weights.positive_items() - excluded_positive;
        let mass = weights.total() - excluded_mass;
        let mut drawn = WeightedDrawn {
            shortfall: 0,
            mass,
            searched: 0,
        };
        if request == 0 {
            return Ok(drawn);
        }
        if available == 0 {
            drawn.shortfall = request;
            return Ok(drawn);
        }
        if replacement == Replacement::Without && request >= available {
            self.take_all(weights, excluded, out);
            shuffle(rng, out);
            drawn.shortfall = request - available;
            return Ok(drawn);
        }
        drawn.searched = self.draw(
            rng,
            weights,
            excluded,
            request,
            replacement == Replacement::Without,
            mass,
            out,
        );
        if replacement == Replacement::Without {
            // Successive sampling orders heavy items first; pairing with anchors needs
            // an order independent of weight.
            shuffle(rng, out);
        }
        Ok(drawn)
    }

    /// Every candidate of positive weight, ascending.
    fn take_all(&self, weights: &Weights, excluded: &[u32], out: &mut Vec<u32>) {
        let mut next = excluded.iter().peekable();
        for i in 0..weights.len() as u32 {
            if next.peek() == Some(&&i) {
                next.next();
            } else if weights.weight(i) > 0 {
                out.push(i);
            }
        }
    }

    /// Makes `count` draws (distinct if `distinct`) into `out`; returns how many used
    /// the search method.
    #[allow(clippy::too_many_arguments)]
    fn draw<R: RngCore + ?Sized>(
        &mut self,
        rng: &mut R,
        weights: &Weights,
        excluded: &[u32],
        count: u64,
        distinct: bool,
        mass: u64,
        out: &mut Vec<u32>,
    ) -> u64 {
        let total = weights.total();
        let mut remaining = mass;
        let mut searching = false;
        let mut searched = 0;
        self.mark_all(excluded, weights.len(), true);
        let ahead = if self.rejects(remaining, total) {
            count
        } else {
            0
        };
        self.draw_ahead(rng, weights, ahead);
        for _ in 0..count {
            // Propose while acceptance stays above the floor; search once it would
            // drop below it, or after MAX_PROPOSALS rejections in a row.
            let proposal = if !searching && self.rejects(remaining, total) {
                self.propose_unmarked(rng, weights)
            } else {
                None
            };
            let (item, weight) = match proposal {
                Some(accepted) => accepted,
                None => {
                    if !searching {
                        searching = true;
                        // With replacement the items drawn so far stay candidates.
                        let drawn: &[u32] = if distinct { out } else { &[] };
                        self.start_search(weights, excluded, drawn);
                    }
                    searched += 1;
                    let item = self.search(rng, weights, remaining);
                    (item, weights.weight(item))
                }
            };
            out.push(item);
            if distinct {
                remaining -= weight;
                if searching {
                    self.insert_excluded(weights, item);
                } else {
                    self.set_mark(item);
                }
            }
        }
        self.mark_all(excluded, weights.len(), false);
        for &item in out.iter() {
            self.marks[item as usize / 64] = 0;
        }
        searched
    }

    /// Draws the bucket indices of `count` proposals up front and loads their buckets.
    /// (The buckets are a uniform pick each, so drawing them early changes nothing in
    /// the law; which proposal serves which draw stays fixed, so runs reproduce.)
    fn draw_ahead<R: RngCore + ?Sized>(&mut self, rng: &mut R, weights: &Weights, count: u64) {
        self.ahead.clear();
        fill_below_u32(
            rng,
            weights.buckets.len() as u32,
            count as usize,
            &mut self.ahead,
        );
        self.ahead_buckets.clear();
        self.ahead_buckets
            .extend(self.ahead.iter().map(|&i| weights.buckets[i as usize]));
        self.next = 0;
    }

    /// The next proposal: from the buckets drawn ahead while they last, then fresh.
    fn propose<R: RngCore + ?Sized>(&mut self, rng: &mut R, weights: &Weights) -> (u32, u64) {
        let (index, bucket) = match self.ahead.get(self.next) {
            Some(&index) => (index, self.ahead_buckets[self.next]),
            None => {
                let index = below(rng, weights.buckets.len() as u64) as u32;
                (index, weights.buckets[index as usize])
            }
        };
        self.next += 1;
        weights.propose_from(rng, index, bucket)
    }

    /// Proposes until an unmarked item comes up, at most [`MAX_PROPOSALS`] times.
    fn propose_unmarked<R: RngCore + ?Sized>(
        &mut self,
        rng: &mut R,
        weights: &Weights,
    ) -> Option<(u32, u64)> {
        for _ in 0..MAX_PROPOSALS {
            let (item, weight) = self.propose(rng, weights);
            if self.marks[item as usize / 64] >> (item % 64) & 1 == 0 {
                return Some((item, weight));
            }
        }
        None
    }

    fn set_mark(&mut self, i: u32) {
        self.marks[i as usize / 64] |= 1 << (i % 64);
    }

    /// Sets (or clears) the marks of `items`, growing the bitmap to `n_items` bits.
    fn mark_all(&mut self, items: &[u32], n_items: usize, on: bool) {
        if self.marks.len() < n_items.div_ceil(64) {
            self.marks.resize(n_items.div_ceil(64), 0);
        }
        for &i in items {
            if on {
                self.set_mark(i);
            } else {
                self.marks[i as usize / 64] = 0;
            }
        }
    }

    /// Builds the sorted excluded list (excluded ∪ drawn so far) and its prefix masses.
    fn start_search(&mut self, weights: &Weights, excluded: &[u32], drawn: &[u32]) {
        self.sorted.clear();
        self.sorted.extend_from_slice(excluded);
        self.sorted.extend_from_slice(drawn);
        self.sorted.sort_unstable();
        self.prefix.clear();
        self.prefix.push(0);
        for &i in &self.sorted {
            self.prefix
                .push(self.prefix.last().expect("non-empty") + weights.weight(i));
        }
    }

    fn insert_excluded(&mut self, weights: &Weights, item: u32) {
        let at = self.sorted.partition_point(|&x| x < item);
        self.sorted.insert(at, item);
        let w = weights.weight(item);
        self.prefix.insert(at + 1, self.prefix[at] + w);
        for p in &mut self.prefix[at + 2..] {
            *p += w;
        }
    }

    /// One draw over the candidates (items not in `sorted`), never rejecting.
    fn search<R: RngCore + ?Sized>(&self, rng: &mut R, weights: &Weights, remaining: u64) -> u32 {
        let u = below(rng, remaining);
        let cum = &weights.cumulative;
        let (sorted, prefix) = (&self.sorted, &self.prefix);
        // Candidate mass before gap t (the items between sorted[t-1] and sorted[t]).
        let gap_start = |t: usize| cum[sorted[t - 1] as usize + 1] - prefix[t];
        // gap_start is non-decreasing in t, and gap 0 starts at 0 <= u: find the last
        // gap starting at or before u.
        let (mut lo_t, mut hi_t) = (0usize, sorted.len());
        while lo_t < hi_t {
            let mid = (lo_t + hi_t).div_ceil(2);
            if gap_start(mid) <= u {
                lo_t = mid;
            } else {
                hi_t = mid - 1;
            }
        }
        let t = lo_t;
        let lo = if t == 0 {
            0
        } else {
            sorted[t - 1] as usize + 1
        };
        let hi = sorted.get(t).map_or(weights.len(), |&x| x as usize);
        let target = u + prefix[t];
        (lo + cum[lo + 1..=hi].partition_point(|&c| c <= target)) as u32
    }
}

#[cfg(test)]
mod tests;
