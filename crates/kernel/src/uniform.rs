//! Uniform negatives: the pre-verified binary search.
//!
//! A user with sorted positives `pos[0..k]` in a catalog of `n` items has `m = n - k`
//! candidates. Rank `r ∈ [0, m)` names the r-th candidate in item order, and that item
//! is `r + #{ j : pos[j] - j <= r }`: every positive at or before the answer shifts it
//! by one, and `pos[j] - j` (the *adjusted positives*, non-decreasing) is the rank at
//! which the j-th positive starts to count. Drawing `r` uniformly therefore draws a
//! uniform non-positive, with no guess-and-check.
//!
//! The count is taken by branch-free binary searches interleaved over [`LANES`]
//! ranks: every lane takes the same fixed sequence of halvings, each step is a load
//! and a conditional move (`select_unpredictable`), and the lanes' loads are
//! independent, so they overlap instead of each step waiting on the previous one. In
//! `benches/` this beat `partition_point` at every degree from 1 to 100k — and a
//! vectorised linear count (AVX2, runtime-dispatched), which we tried and removed: it
//! lost at every degree including 1 and 64.
//!
//! Without replacement, distinct ranks come from Floyd's algorithm (exactly `s` draws,
//! no rejection) when the request is sparse, and from a partial Fisher–Yates over the
//! enumerated candidates when it is dense; a request of at least `m` takes every
//! candidate. Either way the result is in uniformly random order.

use crate::bounded::{below, fill_below_u32, index_below, shuffle};
use crate::KernelError;
use rand_core::RngCore;

/// How many binary searches run interleaved.
pub const LANES: usize = 16;
/// A without-replacement request with `request * DENSE_FACTOR >= candidates` enumerates
/// the candidates (O(m) work, at most `DENSE_FACTOR` times the request).
pub const DENSE_FACTOR: u64 = 4;
/// Floyd's algorithm checks membership by scanning the drawn ranks up to this request;
/// above it a bitmap over the rank space is used.
const FLOYD_SCAN_MAX: u64 = 32;

/// Whether one user's negatives may repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Replacement {
    /// Independent draws (the NumPy article's semantics): repeats allowed.
    With,
    /// Distinct negatives per user (`choice(replace=False)`), the default.
    Without,
}

/// The outcome of sampling for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drawn {
    /// Requested minus produced; non-zero only when there were too few candidates.
    pub shortfall: u64,
    /// Number of candidate items (catalog minus positives).
    pub candidates: u32,
}

/// A user's candidates, described by the adjusted positives.
#[derive(Debug, Clone, Copy)]
pub struct Candidates<'a> {
    adjusted: &'a [u32],
    n_items: u32,
}

impl<'a> Candidates<'a> {
    /// Checks that `positives` are strictly ascending and inside the catalog, and
    /// writes their adjusted values into `buf`.
    pub fn prepare(
        positives: &[u32],
        n_items: u32,
        buf: &'a mut Vec<u32>,
    ) -> Result<Self, KernelError> {
        check_ascending(positives, n_items)?;
        buf.clear();
        // j <= item holds for strictly ascending non-negative values.
        buf.extend(
            positives
                .iter()
                .enumerate()
                .map(|(j, &item)| item - j as u32),
        );
        Ok(Self {
            adjusted: buf,
            n_items,
        })
    }

    /// Number of candidates `m = n_items - k`.
    pub fn count(&self) -> u32 {
        self.n_items - self.adjusted.len() as u32
    }

    /// The item of candidate rank `rank < count()`.
    pub fn item_at(&self, rank: u32) -> u32 {
        debug_assert!(rank < self.count());
        rank + count_at_most_partition_point(self.adjusted, rank)
    }

    /// Replaces every rank in `ranks` (each `< count()`) by its item.
    pub fn map_ranks(&self, ranks: &mut [u32]) {
        if !self.adjusted.is_empty() {
            map_interleaved(self.adjusted, ranks);
        }
    }

    /// Appends every candidate item, ascending.
    pub fn enumerate_into(&self, out: &mut Vec<u32>) {
        let mut next = 0u32;
        for (j, &adj) in self.adjusted.iter().enumerate() {
            let positive = adj + j as u32;
            out.extend(next..positive);
            next = positive + 1;
        }
        out.extend(next..self.n_items);
    }
}

/// Checks that `items` are strictly ascending and inside a catalog of `n_items`: what
/// every kernel assumes of a user's positives (and exclusions).
pub fn check_ascending(items: &[u32], n_items: u32) -> Result<(), KernelError> {
    if let Some(j) = items.windows(2).position(|w| w[0] >= w[1]) {
        return Err(KernelError::PositivesNotAscending {
            position: j + 1,
            previous: items[j],
            next: items[j + 1],
        });
    }
    match items.last() {
        Some(&last) if last >= n_items => Err(KernelError::PositiveOutOfRange {
            item: last,
            n_items,
        }),
        _ => Ok(()),
    }
}

/// `#{ a in sorted : a <= x }` by `partition_point` — the reference the fast searches
/// are measured and tested against.
pub fn count_at_most_partition_point(sorted: &[u32], x: u32) -> u32 {
    sorted.partition_point(|&a| a <= x) as u32
}

/// Branch-free binary searches over non-empty `sorted`, [`LANES`] at a time: the same
/// fixed sequence of halvings serves every lane, and each step's loads are
/// independent across lanes, so their cache misses overlap.
pub fn map_interleaved(sorted: &[u32], ranks: &mut [u32]) {
    debug_assert!(!sorted.is_empty());
    let mut groups = ranks.chunks_exact_mut(LANES);
    for group in &mut groups {
        let mut base = [0usize; LANES];
        let mut size = sorted.len();
        while size > 1 {
            let half = size / 2;
            for lane in 0..LANES {
                let mid = base[lane] + half;
                // SAFETY: `base + size <= len` holds throughout (it does at the start,
                // and each step keeps it), so `mid = base + size/2 < len`. Measured in
                // benches/benches/kernel.rs: the checked load is 16–20% slower at
                // degrees 1024 and 100k.
                let value = unsafe { *sorted.get_unchecked(mid) };
                base[lane] = std::hint::select_unpredictable(value <= group[lane], mid, base[lane]);
            }
            size -= half;
        }
        for lane in 0..LANES {
            group[lane] += base[lane] as u32 + u32::from(sorted[base[lane]] <= group[lane]);
        }
    }
    for rank in groups.into_remainder() {
        *rank += count_at_most_partition_point(sorted, *rank);
    }
}

/// Draws uniform negatives for one user; owns the scratch buffers a worker reuses
/// across users so the hot path allocates nothing once warm.
#[derive(Debug, Default)]
pub struct UniformSampler {
    adjusted: Vec<u32>,
    seen: Vec<u64>,
}

impl UniformSampler {
    /// Writes into `out` (cleared first) `request` negatives of the user whose sorted
    /// positives are `positives`, in a catalog of `n_items` items, in random order.
    ///
    /// Without replacement a user with fewer than `request` candidates gets all of
    /// them; the difference is returned as the shortfall. A user with every item gets
    /// none, with either replacement mode.
    pub fn sample<R: RngCore + ?Sized>(
        &mut self,
        rng: &mut R,
        positives: &[u32],
        n_items: u32,
        request: u64,
        replacement: Replacement,
        out: &mut Vec<u32>,
    ) -> Result<Drawn, KernelError> {
        out.clear();
        let candidates = Candidates::prepare(positives, n_items, &mut self.adjusted)?;
        let m = u64::from(candidates.count());
        let produced = match replacement {
            _ if m == 0 || request == 0 => 0,
            Replacement::With => {
                fill_below_u32(rng, m as u32, request as usize, out);
                candidates.map_ranks(out);
                request
            }
            Replacement::Without if request.saturating_mul(DENSE_FACTOR) >= m => {
                candidates.enumerate_into(out);
                let take = request.min(m) as usize;
                partial_shuffle(rng, out, take);
                out.truncate(take);
                take as u64
            }
            Replacement::Without => {
                floyd(rng, m as u32, request as u32, out, &mut self.seen);
                candidates.map_ranks(out);
                shuffle(rng, out);
                request
            }
        };
        Ok(Drawn {
            shortfall: request - produced,
            candidates: m as u32,
        })
    }
}

/// Moves a uniformly random ordered selection of `take` elements to the front.
fn partial_shuffle<R: RngCore + ?Sized>(rng: &mut R, values: &mut [u32], take: usize) {
    let n = values.len();
    for i in 0..take.min(n.saturating_sub(1)) {
        values.swap(i, i + index_below(rng, n - i));
    }
}

/// Floyd's algorithm: `s` distinct ranks from `[0, m)` with exactly `s` draws. At step
/// `j` a draw `t ∈ [0, j]` is kept unless already chosen, in which case `j` (new by
/// construction) is; every `s`-subset comes out equally likely. The order is not
/// uniform, so the caller shuffles.
fn floyd<R: RngCore + ?Sized>(
    rng: &mut R,
    m: u32,
    s: u32,
    out: &mut Vec<u32>,
    seen: &mut Vec<u64>,
) {
    let use_bitmap = u64::from(s) > FLOYD_SCAN_MAX;
    if use_bitmap {
        let words = (m as usize).div_ceil(64);
        if seen.len() < words {
            seen.resize(words, 0);
        }
    }
    for j in (m - s)..m {
        let t = below(rng, u64::from(j) + 1) as u32;
        let taken = if use_bitmap {
            seen[t as usize / 64] >> (t % 64) & 1 == 1
        } else {
            out.contains(&t)
        };
        let chosen = if taken { j } else { t };
        if use_bitmap {
            seen[chosen as usize / 64] |= 1 << (chosen % 64);
        }
        out.push(chosen);
    }
    if use_bitmap {
        // Clear only what was set, so the bitmap is reused without a full wipe.
        for &rank in out.iter() {
            seen[rank as usize / 64] = 0;
        }
    }
}

#[cfg(test)]
mod tests;
