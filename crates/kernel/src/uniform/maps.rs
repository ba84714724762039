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
        for (j, &positive) in positives.iter().enumerate() {
            let value = positive - j as u32;
            if self.runs.last().is_none_or(|run| run[0] != value) {
                self.runs.push([value, j as u32]);
            }
        }
        self.runs.push([u32::MAX, positives.len() as u32]);
        let m = candidates.count();
        self.first_run.clear();
        if m == 0 {
            return;
        }
        // Smallest shift leaving at most two buckets per run.
        let target = (2 * self.runs.len() as u64).max(1);
        self.shift = 0;
        while (u64::from(m) >> self.shift) > target {
            self.shift += 1;
        }
        let buckets = ((m - 1) >> self.shift) as usize + 1;
        let mut run = 0usize;
        for bucket in 0..buckets as u64 {
            let start = bucket << self.shift;
            while u64::from(self.runs[run][0]) < start {
                run += 1;
            }
            self.first_run.push(run as u32);
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
    /// pass, for users asking for few negatives relative to their degree.
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
    /// The measured rule.
    pub fn choose(k: usize, m: u32, ranks: u64) -> AutoChoice {
        let k = k as u64;
        let m = u64::from(m);
        if m <= ranks.saturating_mul(COMPLEMENT_RANKS_PER_CANDIDATE) && m <= COMPLEMENT_MAX {
            AutoChoice::Complement
        } else if ranks < k {
            AutoChoice::OnTheFly
        } else if k >= BUCKETED_MIN_DEGREE {
            AutoChoice::Bucketed
        } else {
            AutoChoice::BranchFree
        }
    }
}

/// The complement table pays for itself once there is a rank to map for every
/// `1 / COMPLEMENT_RANKS_PER_CANDIDATE` candidates...
const COMPLEMENT_RANKS_PER_CANDIDATE: u64 = 1;
/// ...and fits in the cache.
const COMPLEMENT_MAX: u64 = 1 << 16;
/// The bucketed index beats the interleaved search from this degree, given at least
/// as many ranks as positives to amortise its O(k) build.
const BUCKETED_MIN_DEGREE: u64 = 256;

impl RankMap for Auto {
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

    fn map(&self, candidates: &Candidates<'_>, ranks: &mut [u32]) {
        match self.choice {
            Some(AutoChoice::BranchFree) => self.branch_free.map(candidates, ranks),
            Some(AutoChoice::Bucketed) => self.bucketed.map(candidates, ranks),
            Some(AutoChoice::Complement) => self.complement.map(candidates, ranks),
            Some(AutoChoice::OnTheFly) | None => candidates.map_ranks(ranks),
        }
    }
}
