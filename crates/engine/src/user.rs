//! Sampling one user into output rows.

use crate::config::SampleConfig;
use crate::context::Context;
use crate::EngineError;
use negsamp_kernel::pairing::spread;
use negsamp_kernel::stream::user_rng;
use negsamp_kernel::uniform::UniformSampler;
use negsamp_kernel::weighted::WeightedSampler;
use negsamp_store::Store;

/// Output columns of some rows, reused across chunks.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Columns {
    pub user: Vec<u32>,
    pub item: Vec<u32>,
    pub label: Vec<u8>,
    pub anchor: Vec<u64>,
    /// Left empty when the store has no timestamps.
    pub timestamp: Vec<i64>,
    /// Left empty unless `log_q` is asked for; NaN on positive rows.
    pub log_q: Vec<f32>,
}

impl Columns {
    pub fn clear(&mut self) {
        self.user.clear();
        self.item.clear();
        self.label.clear();
        self.anchor.clear();
        self.timestamp.clear();
        self.log_q.clear();
    }

    pub fn len(&self) -> usize {
        self.user.len()
    }

    pub fn is_empty(&self) -> bool {
        self.user.is_empty()
    }

    /// The raw bytes of each column, in the order of `manifest::COLUMNS` (optional
    /// columns are empty when absent).
    pub fn column_bytes(&self) -> [&[u8]; 6] {
        [
            bytemuck::cast_slice(&self.user),
            bytemuck::cast_slice(&self.item),
            &self.label,
            bytemuck::cast_slice(&self.anchor),
            bytemuck::cast_slice(&self.timestamp),
            bytemuck::cast_slice(&self.log_q),
        ]
    }

    /// Appends one anchor's rows: its positive (unless `None`), then its negatives.
    /// Column by column, as fills and copies rather than row-by-row pushes.
    fn push_anchor(
        &mut self,
        user: u32,
        positive: Option<u32>,
        negatives: &[u32],
        anchor: u64,
        timestamp: Option<i64>,
        log_q: Option<&[f32]>,
    ) {
        let n = negatives.len() + usize::from(positive.is_some());
        self.user.extend(std::iter::repeat_n(user, n));
        self.item.extend(positive);
        self.item.extend_from_slice(negatives);
        self.label.extend(positive.map(|_| 1u8));
        self.label.extend(std::iter::repeat_n(0u8, negatives.len()));
        self.anchor.extend(std::iter::repeat_n(anchor, n));
        if let Some(t) = timestamp {
            self.timestamp.extend(std::iter::repeat_n(t, n));
        }
        if let Some(q) = log_q {
            self.log_q.extend(positive.map(|_| f32::NAN));
            self.log_q.extend_from_slice(q);
        }
    }
}

/// Counts of what was produced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub rows: u64,
    pub positives: u64,
    pub negatives: u64,
    /// Users who got fewer negatives than requested.
    pub users_short: u64,
    /// Requested minus produced negatives, over all users.
    pub shortfall: u64,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        self.rows += other.rows;
        self.positives += other.positives;
        self.negatives += other.negatives;
        self.users_short += other.users_short;
        self.shortfall += other.shortfall;
    }
}

/// One worker's sampler state: scratch buffers reused from user to user.
#[derive(Debug, Default)]
pub struct UserSampler {
    uniform: UniformSampler,
    weighted: WeightedSampler,
    /// The user's positives merged with their extra exclusions.
    excluded: Vec<u32>,
    negatives: Vec<u32>,
    log_q: Vec<f32>,
    anchor_order: Vec<(i64, u64, u32)>,
    per_anchor: Vec<u32>,
    scratch: Vec<u32>,
}

impl UserSampler {
    /// Appends user `u`'s rows to `out`: each positive in (timestamp, row) order,
    /// followed by the negatives anchored to it.
    pub fn sample_user(
        &mut self,
        store: &Store,
        context: &Context,
        config: &SampleConfig,
        u: u32,
        out: &mut Columns,
        tally: &mut Tally,
    ) -> Result<(), EngineError> {
        let view = store.user(u)?;
        let k = view.items.len();
        let request = config.amount.request(k);
        let mut rng = user_rng(config.seed, view.key);
        let extra = context.exclusions.of(u);
        let excluded = if extra.is_empty() {
            view.items
        } else {
            merge_sorted(view.items, extra, &mut self.excluded);
            &self.excluded
        };
        let kernel_error = |source| EngineError::Kernel { user: u, source };
        // The proposal law of each negative: weight / mass (uniform: 1 / candidates).
        let (shortfall, mass) = match &context.weights {
            None => {
                if self.uniform.kernel() != config.kernel {
                    self.uniform = UniformSampler::new(config.kernel);
                }
                let d = self
                    .uniform
                    .sample(
                        &mut rng,
                        excluded,
                        store.n_items(),
                        request,
                        config.replacement,
                        &mut self.negatives,
                    )
                    .map_err(kernel_error)?;
                (d.shortfall, u64::from(d.candidates))
            }
            Some(weights) => {
                let d = self
                    .weighted
                    .sample(
                        &mut rng,
                        weights,
                        excluded,
                        request,
                        config.replacement,
                        &mut self.negatives,
                    )
                    .map_err(kernel_error)?;
                (d.shortfall, d.mass)
            }
        };
        if config.log_q {
            let log_mass = (mass as f64).ln();
            let weight = |i: u32| context.weights.as_ref().map_or(1, |w| w.weight(i)) as f64;
            self.log_q.clear();
            self.log_q.extend(
                self.negatives
                    .iter()
                    .map(|&i| (weight(i).ln() - log_mass) as f32),
            );
        }

        // (timestamp, row, position): rows are unique, so the order is total and an
        // unstable sort is deterministic.
        self.anchor_order.clear();
        let time = |j: usize| view.timestamps.map_or(0, |t| t[j]);
        self.anchor_order
            .extend((0..k).map(|j| (time(j), view.rows[j], j as u32)));
        self.anchor_order.sort_unstable();
        spread(
            &mut rng,
            k,
            self.negatives.len(),
            &mut self.per_anchor,
            &mut self.scratch,
        );

        let before = out.len();
        let mut next_negative = 0;
        for (&(ts, row, j), &count) in self.anchor_order.iter().zip(&self.per_anchor) {
            let run = next_negative..next_negative + count as usize;
            next_negative = run.end;
            if config.split.is_some_and(|split| !split.keeps(ts)) {
                continue;
            }
            let positive = (!config.negatives_only).then_some(view.items[j as usize]);
            tally.positives += u64::from(positive.is_some());
            tally.negatives += run.len() as u64;
            let log_q = config.log_q.then(|| &self.log_q[run.clone()]);
            out.push_anchor(
                u,
                positive,
                &self.negatives[run],
                row,
                view.timestamps.map(|_| ts),
                log_q,
            );
        }
        tally.rows += (out.len() - before) as u64;
        tally.shortfall += shortfall;
        tally.users_short += u64::from(shortfall > 0);
        Ok(())
    }
}

/// Merges two ascending lists into `out`, dropping duplicates.
pub(crate) fn merge_sorted(a: &[u32], b: &[u32], out: &mut Vec<u32>) {
    out.clear();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) if x <= y => x,
            (Some(&x), None) => x,
            (_, Some(&y)) => y,
            (None, None) => unreachable!("loop condition"),
        };
        while a.get(i) == Some(&next) {
            i += 1;
        }
        while b.get(j) == Some(&next) {
            j += 1;
        }
        out.push(next);
    }
}
