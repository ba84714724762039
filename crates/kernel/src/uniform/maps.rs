//! The rank maps of the pre-verified kernels other than the default [`BranchFree`]:
//! the article's plain search, the complement table, a bucketed index of our own, and
//! `auto`, which picks one of them per user.

use super::{count_at_most_partition_point, BranchFree, Candidates, RankMap};

/// The NumPy article's pre-verified search as written: materialise
/// `pos - arange(k)`, then one `partition_point` (`searchsorted(side='right')`) per
/// rank.
#[derive(Debug, Default)]
pub struct PartitionPoint {
    adjusted: Vec<u32>,
}

impl RankMap for PartitionPoint {
    fn prepare(&mut self, candidates: &Candidates<'_>, _: u64) {
        candidates.adjusted_into(&mut self.adjusted);
    }
    fn map(&self, _: &Candidates<'_>, ranks: &mut [u32]) {
        for rank in ranks {
            *rank += count_at_most_partition_point(&self.adjusted, *rank);
        }
    }
}

/// Enumerates every candidate into a table and indexes it: the article's "bad idea" —
/// O(catalog) time and memory per user — and the right one for a user who holds most
/// of the catalog and asks for many negatives.
#[derive(Debug, Default)]
pub struct Complement {
    table: Vec<u32>,
}

impl RankMap for Complement {
    fn prepare(&mut self, candidates: &Candidates<'_>, _: u64) {
        self.table.clear();
        candidates.enumerate_into(&mut self.table);
    }
    fn map(&self, _: &Candidates<'_>, ranks: &mut [u32]) {
        for rank in ranks {
            *rank = self.table[*rank as usize];
        }
    }
}

/// A bucketed index over rank space, built per user in O(degree): the answer for a
/// rank is found with one table load and, on average, about one comparison instead of
/// `log2(k)` search steps.
///
/// Runs of equal adjusted positives (consecutive positive items) are collapsed into
/// `(value, count_before)` pairs, so a rank needs the first run whose value exceeds it:
/// its item is `rank + count_before`. Rank space is cut into buckets of `2^shift`
/// ranks, about two per run, and `first_run[b]` is the first run at or after bucket
/// `b`; a rank scans forward from its bucket's first run. A run holds one value, so a
/// bucket holds at most `2^shift` runs however clustered the positives are.
#[derive(Debug, Default)]
pub struct Bucketed {
    shift: u32,
    /// `(value, adjusted positives below value)`, ending with a `u32::MAX` sentinel.
    runs: Vec<[u32; 2]>,
    first_run: Vec<u32>,
}

impl RankMap for Bucketed {
    fn prepare(&mut self, candidates: &Candidates<'_>, _: u64) {
        let positives = candidates.positives();
        self.runs.clear();
        self.runs.reserve(positives.len() + 1);
        let mut previous = None;
        for (j, &positive) in positives.iter().enumerate() {
            let value = positive - j as u32;
            if previous != Some(value) {
                self.runs.push([value, j as u32]);
                previous = Some(value);
            }
        }
        self.runs.push([u32::MAX, positives.len() as u32]);
        let m = candidates.count();
        self.first_run.clear();
        if m == 0 {
            return;
        }
        // Smallest shift leaving at most two buckets per run.
        let target = 2 * self.runs.len() as u64;
        self.shift = 0;
        while (u64::from(m) >> self.shift) > target {
            self.shift += 1;
        }
        // Bucket b's first run is the first with value >= b << shift, so run i is the
        // first run of buckets floor(v_{i-1} >> shift) + 1 ..= v_i >> shift: filled run
        // by run (the sentinel fills the rest) with no search.
        let buckets = ((m - 1) >> self.shift) as usize + 1;
        for (i, run) in self.runs.iter().enumerate() {
            let through = ((u64::from(run[0]) >> self.shift) + 1).min(buckets as u64) as usize;
            if through > self.first_run.len() {
                let count = through - self.first_run.len();
                self.first_run.extend(std::iter::repeat_n(i as u32, count));
            }
        }
    }

    fn map(&self, _: &Candidates<'_>, ranks: &mut [u32]) {
        for rank in ranks {
            let mut run = self.first_run[(*rank >> self.shift) as usize] as usize;
            // A bucket averages half a run, so two unconditional steps (a compare
            // and an add each, no branch to mispredict) almost always finish; the
            // loop is for crowded buckets. The sentinel ends every scan.
            run += usize::from(self.runs[run][0] <= *rank);
            run += usize::from(self.runs[run][0] <= *rank);
            while self.runs[run][0] <= *rank {
                run += 1;
            }
            *rank += self.runs[run][1];
        }
    }
}

/// Which map [`Auto`] uses for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoChoice {
    /// Interleaved search computing the adjusted positives on the fly: no per-user
    /// pass, for users asking for fewer negatives than their degree, or than one
    /// group of lanes.
    OnTheFly,
    BranchFree,
    Bucketed,
    Complement,
}

/// Picks a map per user from the degree `k`, the number of candidates `m` and the
/// number of ranks to map, by thresholds measured with `negsamp bench` and the
/// criterion grid (docs/benchmarks.md). Every map gives the same item for a rank, so
/// the choice changes speed only, never output.
#[derive(Debug, Default)]
pub struct Auto {
    branch_free: BranchFree,
    bucketed: Bucketed,
    complement: Complement,
    choice: Option<AutoChoice>,
}

impl Auto {
    /// The measured rule (the criterion grid, docs/benchmarks.md).
    pub fn choose(k: usize, m: u32, ranks: u64) -> AutoChoice {
        let k = k as u64;
        let n = k + u64::from(m);
        if k < INDEX_MIN_DEGREE || ranks < super::LANES as u64 {
            // A search of at most three steps beats building anything.
            if ranks < super::LANES as u64 {
                AutoChoice::OnTheFly
            } else {
                AutoChoice::BranchFree
            }
        } else if n <= ranks.saturating_mul(CATALOG_PER_RANK)
            && k <= ranks.saturating_mul(2)
            && n <= COMPLEMENT_MAX
        {
            AutoChoice::Complement
        } else if ranks.saturating_mul(ON_THE_FLY_DEGREE_PER_RANK) < k {
            AutoChoice::OnTheFly
        } else if k <= BUCKETED_MAX_DEGREE
            && (ranks >= k.saturating_mul(BUCKETED_RANKS_PER_DEGREE)
                || (ranks >= k && k >= BUCKETED_HEAVY_DEGREE))
        {
            AutoChoice::Bucketed
        } else {
            AutoChoice::BranchFree
        }
    }
}

/// Below this degree the interleaved search takes at most three steps: no per-user
/// index (complement, bucketed) pays for its build.
const INDEX_MIN_DEGREE: u64 = 8;
/// Enumerating the candidates writes the whole catalog (one 8-item block per gap
/// between positives at least), so it pays for itself only while there is a rank to
/// map for every `CATALOG_PER_RANK` items and for every two positives. Measured with
/// `negsamp bench` (kernels interleaved, with replacement, ratios 1–64) on the
/// MovieLens-1M and Gowalla shapes (3 706 and 40 981 items): `complement` against
/// `branch-free` costs 0.9–1.2× at 7–15 items per rank, 0.6–0.9× at 4–10, under 0.6×
/// below 4 — so 8. (When each gap was one `extend`, the crossover was about 2.6.)
const CATALOG_PER_RANK: u64 = 8;
/// ...and the table (4 bytes per candidate) stays within the L2 cache.
const COMPLEMENT_MAX: u64 = 1 << 18;
/// Materialising `pos - arange(k)` (one pass over the positives) makes each rank
/// 8–10% cheaper; below one rank per `ON_THE_FLY_DEGREE_PER_RANK` positives the pass
/// costs more than it saves.
const ON_THE_FLY_DEGREE_PER_RANK: u64 = 16;
/// The bucketed index beats the interleaved search given `BUCKETED_RANKS_PER_DEGREE`
/// ranks per positive to amortise its O(k) build (at 1:1 small users it costs more
/// than it saves)...
const BUCKETED_RANKS_PER_DEGREE: u64 = 8;
/// ...and from this degree at one rank per positive or more, where the `log2(k)`
/// search steps start to miss the cache...
const BUCKETED_HEAVY_DEGREE: u64 = 4096;
/// ...but not above this one: its tables (16 bytes per positive) then leave the L2
/// cache and each rank pays two misses (measured 9× slower than the search at
/// k = 10^5).
const BUCKETED_MAX_DEGREE: u64 = 1 << 14;

impl RankMap for Auto {
    const SINGLE_RANK_SHORTCUT: bool = true;

    #[inline]
    fn prepare(&mut self, candidates: &Candidates<'_>, ranks: u64) {
        let choice = Self::choose(candidates.positives().len(), candidates.count(), ranks);
        match choice {
            AutoChoice::OnTheFly => {}
            AutoChoice::BranchFree => self.branch_free.prepare(candidates, ranks),
            AutoChoice::Bucketed => self.bucketed.prepare(candidates, ranks),
            AutoChoice::Complement => self.complement.prepare(candidates, ranks),
        }
        self.choice = Some(choice);
    }

    #[inline]
    fn map(&self, candidates: &Candidates<'_>, ranks: &mut [u32]) {
        match self.choice {
            Some(AutoChoice::BranchFree) => self.branch_free.map(candidates, ranks),
            Some(AutoChoice::Bucketed) => self.bucketed.map(candidates, ranks),
            Some(AutoChoice::Complement) => self.complement.map(candidates, ranks),
            Some(AutoChoice::OnTheFly) | None => candidates.map_ranks(ranks),
        }
    }
}
