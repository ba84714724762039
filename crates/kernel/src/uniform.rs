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
//!
//! Every variant of the NumPy article is here behind one trait, [`UniformKernel`],
//! named by [`Kernel`]: the pre-verified family [`PreVerified`] over a [`RankMap`]
//! (this search, `partition_point`, the complement table, a bucketed index, and
//! [`Auto`] choosing per user), whose members write identical output, and the
//! guess-and-check family ([`GuessAndCheck`] over a [`Positivity`] test, and
//! [`Vectorized`]).

use crate::bounded::{below, fill_below_u32, index_below, one_below_u32, shuffle};
use crate::stream::UserRng;
use crate::KernelError;
use rand_core::RngCore;

/// How many binary searches run interleaved.
pub const LANES: usize = 16;
/// A without-replacement request with `request * DENSE_FACTOR >= candidates` enumerates
/// the candidates (O(m) work, at most `DENSE_FACTOR` times the request).
pub const DENSE_FACTOR: u64 = 4;
/// Items [`Candidates::enumerate_into`] writes at a time (one 32-byte store).
const ENUMERATE_BLOCK: usize = 8;
/// Distinct draws are checked by scanning what was drawn up to this request; above it
/// a bitmap over the value space is used.
const SCAN_MAX: u64 = 32;

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

/// A user's candidates: the catalog minus the (validated) sorted positives. The
/// adjusted positives `pos[j] - j` are computed where a search reads them, never
/// stored, so a user costs one validating pass over the positives and nothing more
/// until ranks are mapped.
#[derive(Debug, Clone, Copy)]
pub struct Candidates<'a> {
    positives: &'a [u32],
    n_items: u32,
}

impl<'a> Candidates<'a> {
    /// Checks that `positives` are strictly ascending and inside the catalog.
    pub fn new(positives: &'a [u32], n_items: u32) -> Result<Self, KernelError> {
        check_ascending(positives, n_items)?;
        Ok(Self { positives, n_items })
    }

    /// The user's sorted positives.
    pub fn positives(&self) -> &'a [u32] {
        self.positives
    }

    /// Writes the adjusted positives `pos[j] - j` (non-decreasing) into `out`.
    pub fn adjusted_into(&self, out: &mut Vec<u32>) {
        out.clear();
        // j <= item holds for strictly ascending non-negative values.
        out.extend(
            self.positives
                .iter()
                .enumerate()
                .map(|(j, &item)| item - j as u32),
        );
    }

    /// Number of candidates `m = n_items - k`.
    pub fn count(&self) -> u32 {
        self.n_items - self.positives.len() as u32
    }

    /// The item of candidate rank `rank < count()`.
    pub fn item_at(&self, rank: u32) -> u32 {
        debug_assert!(rank < self.count());
        let mut ranks = [rank];
        self.map_ranks(&mut ranks);
        ranks[0]
    }

    /// Replaces every rank in `ranks` (each `< count()`) by its item.
    #[inline]
    pub fn map_ranks(&self, ranks: &mut [u32]) {
        if !self.positives.is_empty() {
            search_interleaved::<true>(self.positives, ranks);
        }
    }

    /// Appends every candidate item, ascending.
    ///
    /// A gap of at most `ENUMERATE_BLOCK` items between positives is written as one
    /// whole block, its tail overwritten by the next gap: a user holding a large share
    /// of the catalog has gaps of a few items, and one `extend` per gap (a
    /// length-dependent loop, mispredicted at every gap) cost more than the items it
    /// copied. Longer gaps are filled by a loop the compiler vectorises.
    pub fn enumerate_into(&self, out: &mut Vec<u32>) {
        use std::mem::MaybeUninit;
        let start = out.len();
        let count = self.count() as usize;
        // A block may run past the last candidate: room for it, never counted. The
        // slots are written without zeroing them first (a second pass over a large
        // catalog measured 1.7x slower for sparse users).
        out.reserve(count + ENUMERATE_BLOCK);
        let slots = &mut out.spare_capacity_mut()[..count + ENUMERATE_BLOCK];
        let (mut written, mut next) = (0usize, 0u32);
        for end in self.positives.iter().copied().chain([self.n_items]) {
            let gap = (end - next) as usize;
            if gap <= ENUMERATE_BLOCK {
                let block: [MaybeUninit<u32>; ENUMERATE_BLOCK] =
                    std::array::from_fn(|i| MaybeUninit::new(next + i as u32));
                slots[written..written + ENUMERATE_BLOCK].copy_from_slice(&block);
            } else {
                for (i, slot) in slots[written..written + gap].iter_mut().enumerate() {
                    slot.write(next + i as u32);
                }
            }
            written += gap;
            next = end + 1;
        }
        // Checked in release builds too: the `set_len` below is sound only if the gaps
        // tiled `count` (one comparison per user, against a pass over the catalog).
        assert_eq!(written, count, "positives sorted, distinct, below n_items");
        // SAFETY: the gaps' lengths sum to count (asserted), and each gap's items were
        // written at [written, written + gap): every slot below count is set.
        unsafe { out.set_len(start + count) };
    }
}

/// Checks that `items` are strictly ascending and inside a catalog of `n_items`: what
/// every kernel assumes of a user's positives (and exclusions).
pub fn check_ascending(items: &[u32], n_items: u32) -> Result<(), KernelError> {
    if is_strictly_ascending(items) {
        // fall through to the range check
    } else if let Some(j) = items.windows(2).position(|w| w[0] >= w[1]) {
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

/// Every user pays this pass, so it is written to vectorise: fixed blocks of
/// [`CHECK_BLOCK`] comparisons without early exit (about 4× faster than
/// `windows(2).position`, which stays for locating a failure).
fn is_strictly_ascending(items: &[u32]) -> bool {
    let Some(pairs) = items.len().checked_sub(1) else {
        return true;
    };
    let (left, right) = (&items[..pairs], &items[1..]);
    let mut blocks_left = left.chunks_exact(CHECK_BLOCK);
    let mut blocks_right = right.chunks_exact(CHECK_BLOCK);
    let mut ascending = true;
    for (a, b) in (&mut blocks_left).zip(&mut blocks_right) {
        let mut block = true;
        for i in 0..CHECK_BLOCK {
            block &= a[i] < b[i];
        }
        ascending &= block;
    }
    let tail = blocks_left.remainder().iter().zip(blocks_right.remainder());
    ascending && tail.into_iter().all(|(a, b)| a < b)
}

const CHECK_BLOCK: usize = 32;

/// `#{ a in sorted : a <= x }` by `partition_point` — the reference the fast searches
/// are measured and tested against.
pub fn count_at_most_partition_point(sorted: &[u32], x: u32) -> u32 {
    sorted.partition_point(|&a| a <= x) as u32
}

/// Adds to every value in `ranks` the count of elements of non-empty `sorted` at or
/// below it, by [`LANES`] interleaved branch-free binary searches.
pub fn map_interleaved(sorted: &[u32], ranks: &mut [u32]) {
    search_interleaved::<false>(sorted, ranks);
}

/// Branch-free binary searches over non-empty `sorted`, [`LANES`] at a time: the same
/// fixed sequence of halvings serves every lane, and each step's loads are
/// independent across lanes, so their cache misses overlap. With `ADJUSTED` the
/// searched value at `j` is `sorted[j] - j` (the adjusted positives, computed on the
/// fly: measured as fast as reading a materialised copy, and it saves a pass and a
/// buffer per user).
#[inline]
fn search_interleaved<const ADJUSTED: bool>(sorted: &[u32], ranks: &mut [u32]) {
    debug_assert!(!sorted.is_empty());
    if ranks.len() < LANES {
        // No full group: skip the lanes' setup (measurable for one-negative users).
        for rank in ranks {
            *rank += count_one::<ADJUSTED>(sorted, *rank);
        }
    } else {
        search_groups::<ADJUSTED>(sorted, ranks);
    }
}

fn search_groups<const ADJUSTED: bool>(sorted: &[u32], ranks: &mut [u32]) {
    let value_at = |j: usize, value: u32| if ADJUSTED { value - j as u32 } else { value };
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
                let value = value_at(mid, unsafe { *sorted.get_unchecked(mid) });
                base[lane] = std::hint::select_unpredictable(value <= group[lane], mid, base[lane]);
            }
            size -= half;
        }
        for lane in 0..LANES {
            let last = value_at(base[lane], sorted[base[lane]]);
            group[lane] += base[lane] as u32 + u32::from(last <= group[lane]);
        }
    }
    for rank in groups.into_remainder() {
        *rank += count_one::<ADJUSTED>(sorted, *rank);
    }
}

/// One lane of [`search_interleaved`]: the same fixed halvings with conditional moves,
/// for ranks that do not fill a group of [`LANES`] (a user asking for a few negatives
/// lands here; a branchy search there cost more than the rest of such a user).
#[inline]
fn count_one<const ADJUSTED: bool>(sorted: &[u32], rank: u32) -> u32 {
    let value_at = |j: usize| {
        if ADJUSTED {
            sorted[j] - j as u32
        } else {
            sorted[j]
        }
    };
    let (mut base, mut size) = (0usize, sorted.len());
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        base = std::hint::select_unpredictable(value_at(mid) <= rank, mid, base);
        size -= half;
    }
    base as u32 + u32::from(value_at(base) <= rank)
}

/// How a pre-verified kernel turns candidate ranks into items: the one step in which
/// variants 5–9 of the NumPy article's family differ. Every map returns the same item
/// for the same rank, so all pre-verified kernels write byte-identical output and
/// `auto` may switch maps per user without changing a dataset.
pub trait RankMap: Default + std::fmt::Debug + Send + Sync {
    /// Whether a user asking for one negative may bypass this map (its item is the
    /// same whichever map gives it). Off for the named variants, so each is measured
    /// as itself; on for `auto`.
    const SINGLE_RANK_SHORTCUT: bool = false;
    /// Called once per user before [`RankMap::map`], with the number of ranks about
    /// to be mapped (a map with a per-user index amortises its build over them).
    fn prepare(&mut self, candidates: &Candidates<'_>, ranks: u64);
    /// Replaces every rank in `ranks` (each `< candidates.count()`) by its item.
    fn map(&self, candidates: &Candidates<'_>, ranks: &mut [u32]);
}

/// Variant 6, the engine's search: materialise the adjusted positives once per user,
/// then map ranks by [`LANES`] interleaved branch-free binary searches
/// ([`map_interleaved`]). Reading a materialised copy measured 8–10% faster per rank
/// than computing `pos[j] - j` in the search ([`Candidates::map_ranks`]), which in
/// turn saves the O(k) pass when a user asks for few negatives; `auto` picks between
/// them.
#[derive(Debug, Default)]
pub struct BranchFree {
    adjusted: Vec<u32>,
}

impl RankMap for BranchFree {
    fn prepare(&mut self, candidates: &Candidates<'_>, _: u64) {
        candidates.adjusted_into(&mut self.adjusted);
    }
    fn map(&self, _: &Candidates<'_>, ranks: &mut [u32]) {
        if !self.adjusted.is_empty() {
            map_interleaved(&self.adjusted, ranks);
        }
    }
}

/// Pre-verified sampling: draws candidate *ranks* and lets `M` map them to items, so
/// no draw is ever rejected. Owns the scratch buffers a worker reuses across users,
/// so the hot path allocates nothing once warm.
#[derive(Debug, Default)]
pub struct PreVerified<M: RankMap> {
    map: M,
    seen: DrawnSet,
}

impl<M: RankMap> UniformKernel for PreVerified<M> {
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
            // One negative: the rank the batch paths would draw (one_below_u32 is
            // fill_below_u32's first value; Floyd with one draw is `below(m)`),
            // mapped by a single search, without the batch and map set-up.
            _ if M::SINGLE_RANK_SHORTCUT
                && request == 1
                && (replacement == Replacement::With || DENSE_FACTOR < m) =>
            {
                let rank = match replacement {
                    Replacement::With => one_below_u32(rng, m as u32),
                    Replacement::Without => below(rng, m) as u32,
                };
                out.push(candidates.item_at(rank));
                1
            }
            Replacement::With => {
                fill_below_u32(rng, m as u32, request as usize, out);
                self.map.prepare(&candidates, request);
                self.map.map(&candidates, out);
                request
            }
            Replacement::Without if request.saturating_mul(DENSE_FACTOR) >= m => {
                take_enumerated(rng, &candidates, request, out)
            }
            Replacement::Without => {
                floyd(rng, m as u32, request as u32, out, &mut self.seen);
                self.map.prepare(&candidates, request);
                self.map.map(&candidates, out);
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

/// The dense without-replacement path shared by every exact kernel: enumerate the
/// candidates and keep a uniformly random ordered selection of `request` (all of them
/// when there are fewer). Returns how many were kept.
pub(crate) fn take_enumerated<R: RngCore + ?Sized>(
    rng: &mut R,
    candidates: &Candidates<'_>,
    request: u64,
    out: &mut Vec<u32>,
) -> u64 {
    candidates.enumerate_into(out);
    let take = request.min(u64::from(candidates.count())) as usize;
    partial_shuffle(rng, out, take);
    out.truncate(take);
    take as u64
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
    seen: &mut DrawnSet,
) {
    seen.start(m, u64::from(s));
    for j in (m - s)..m {
        let t = below(rng, u64::from(j) + 1) as u32;
        let chosen = if seen.contains(out, t) { j } else { t };
        seen.insert(chosen);
        out.push(chosen);
    }
    seen.finish(out);
}

/// What one user has drawn so far, for distinctness: a scan of the output while the
/// request is at most [`SCAN_MAX`], a bitmap over the value space above it. The bitmap
/// is cleared by the values that were set, so it is reused without a full wipe.
#[derive(Debug, Default)]
pub(crate) struct DrawnSet {
    words: Vec<u64>,
    bitmap: bool,
}

impl DrawnSet {
    /// Prepares for up to `expected` values in `[0, universe)`.
    pub(crate) fn start(&mut self, universe: u32, expected: u64) {
        self.bitmap = expected > SCAN_MAX;
        let words = (universe as usize).div_ceil(64);
        if self.bitmap && self.words.len() < words {
            self.words.resize(words, 0);
        }
    }

    /// Whether `value` was drawn; `drawn` holds every value inserted since `start`.
    /// The scan has no early exit, so it compiles to vector compares (at most
    /// [`SCAN_MAX`] values); inlined, as a call per draw it was 5% of `sample`.
    #[inline(always)]
    pub(crate) fn contains(&self, drawn: &[u32], value: u32) -> bool {
        if self.bitmap {
            self.words[value as usize / 64] >> (value % 64) & 1 == 1
        } else {
            drawn.iter().fold(false, |hit, &x| hit | (x == value))
        }
    }

    #[inline]
    pub(crate) fn insert(&mut self, value: u32) {
        if self.bitmap {
            self.words[value as usize / 64] |= 1 << (value % 64);
        }
    }

    /// Forgets `drawn`, the values inserted since `start`.
    pub(crate) fn finish(&mut self, drawn: &[u32]) {
        if self.bitmap {
            for &value in drawn {
                self.words[value as usize / 64] = 0;
            }
        }
    }
}

mod guess;
mod kernels;
mod maps;
pub use guess::{Bisect, GuessAndCheck, Hashed, Linear, Positivity, Vectorized};
pub use kernels::{Kernel, UniformKernel, UniformSampler};
pub use maps::{Auto, AutoChoice, Bucketed, Complement, PartitionPoint};

#[cfg(test)]
mod tests;
