//! Sampling one user into output rows.

use crate::config::SampleConfig;
use crate::EngineError;
use negsamp_kernel::pairing::spread;
use negsamp_kernel::stream::user_rng;
use negsamp_kernel::uniform::UniformSampler;
use negsamp_store::Store;

/// Output columns of some rows, reused across chunks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Columns {
    pub user: Vec<u32>,
    pub item: Vec<u32>,
    pub label: Vec<u8>,
    pub anchor: Vec<u64>,
    /// Left empty when the store has no timestamps.
    pub timestamp: Vec<i64>,
}

impl Columns {
    pub fn clear(&mut self) {
        self.user.clear();
        self.item.clear();
        self.label.clear();
        self.anchor.clear();
        self.timestamp.clear();
    }

    pub fn len(&self) -> usize {
        self.user.len()
    }

    pub fn is_empty(&self) -> bool {
        self.user.is_empty()
    }

    /// The raw bytes of each column, in file order (the timestamp column is empty
    /// when the store has none).
    pub fn column_bytes(&self) -> [&[u8]; 5] {
        [
            bytemuck::cast_slice(&self.user),
            bytemuck::cast_slice(&self.item),
            &self.label,
            bytemuck::cast_slice(&self.anchor),
            bytemuck::cast_slice(&self.timestamp),
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
    negatives: Vec<u32>,
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
        config: &SampleConfig,
        u: u32,
        out: &mut Columns,
        tally: &mut Tally,
    ) -> Result<(), EngineError> {
        let view = store.user(u)?;
        let k = view.items.len();
        let request = config.amount.request(k);
        let mut rng = user_rng(config.seed, view.key);
        let drawn = self
            .uniform
            .sample(
                &mut rng,
                view.items,
                store.n_items(),
                request,
                config.replacement,
                &mut self.negatives,
            )
            .map_err(|source| EngineError::Kernel { user: u, source })?;

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
            let negatives = &self.negatives[next_negative..next_negative + count as usize];
            next_negative += count as usize;
            let positive = (!config.negatives_only).then_some(view.items[j as usize]);
            out.push_anchor(u, positive, negatives, row, view.timestamps.map(|_| ts));
        }
        tally.rows += (out.len() - before) as u64;
        tally.positives += if config.negatives_only { 0 } else { k as u64 };
        tally.negatives += self.negatives.len() as u64;
        tally.shortfall += drawn.shortfall;
        tally.users_short += u64::from(drawn.shortfall > 0);
        Ok(())
    }
}
