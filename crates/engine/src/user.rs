//! Sampling one user into output rows.

use crate::config::{Candidates, SampleConfig};
use crate::context::Context;
use crate::rows::{AnchorRows, HistoryIndex, Rows};
use crate::schema::Schema;
use crate::EngineError;
use negsamp_kernel::hard::{pick_hardest, top_scored, Pick};
use negsamp_kernel::pairing::spread;
use negsamp_kernel::stream::user_rng;
use negsamp_kernel::uniform::UniformSampler;
use negsamp_kernel::weighted::WeightedSampler;
use negsamp_store::Store;

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
    /// Hard negatives: each negative's score.
    scores: Vec<f32>,
    /// `--candidates all`: every candidate with its score.
    ranked: Vec<(f32, u32)>,
    anchor_order: Vec<(i64, u64, u32)>,
    per_anchor: Vec<u32>,
    scratch: Vec<u32>,
    history: HistoryIndex,
}

impl UserSampler {
    /// Appends user `u`'s rows to `out`: each positive in (timestamp, row) order,
    /// followed by the negatives anchored to it (or, wide, holding them).
    #[allow(clippy::too_many_arguments)]
    pub fn sample_user(
        &mut self,
        store: &Store,
        context: &Context,
        config: &SampleConfig,
        schema: &Schema,
        u: u32,
        out: &mut Rows,
        tally: &mut Tally,
    ) -> Result<(), EngineError> {
        let view = store.user(u)?;
        let k = view.items.len();
        let request = config.amount.request(k);
        let candidates = config.hard.as_ref().map(|h| h.candidates);
        // Hard negatives: M base candidates per negative, reduced below.
        let draw = match candidates {
            Some(Candidates::Draws(m)) => request.saturating_mul(u64::from(m)),
            _ => request,
        };
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
        let (shortfall, mass) = match (&context.weights, candidates, &context.embeddings) {
            (_, Some(Candidates::All { skip_top }), Some(embeddings)) => {
                let short = top_scored(
                    store.n_items(),
                    excluded,
                    skip_top as usize,
                    request,
                    |i| embeddings.score(u, i),
                    &mut self.ranked,
                    &mut self.negatives,
                    &mut self.scores,
                );
                (short, 1)
            }
            (None, ..) => {
                if self.uniform.kernel() != config.kernel {
                    self.uniform = UniformSampler::new(config.kernel);
                }
                let d = self
                    .uniform
                    .sample(
                        &mut rng,
                        excluded,
                        store.n_items(),
                        draw,
                        config.replacement,
                        &mut self.negatives,
                    )
                    .map_err(kernel_error)?;
                (d.shortfall, u64::from(d.candidates))
            }
            (Some(weights), ..) => {
                let d = self
                    .weighted
                    .sample(
                        &mut rng,
                        weights,
                        excluded,
                        draw,
                        config.replacement,
                        &mut self.negatives,
                    )
                    .map_err(kernel_error)?;
                (d.shortfall, d.mass)
            }
        };
        let shortfall = match (&context.embeddings, &config.hard) {
            (Some(embeddings), Some(hard)) if matches!(hard.candidates, Candidates::Draws(_)) => {
                let pick = hard
                    .temperature
                    .map_or(Pick::Max, |temperature| Pick::Softmax { temperature });
                // The base proposal's log-probability up to a constant: ln w (uniform: 0).
                let log_q = |i: u32| {
                    context
                        .weights
                        .as_ref()
                        .map_or(0.0, |w| (w.weight(i) as f64).ln())
                };
                pick_hardest(
                    &mut rng,
                    &mut self.negatives,
                    request,
                    pick,
                    |i| embeddings.score(u, i),
                    log_q,
                    &mut self.scores,
                )
            }
            _ => shortfall,
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

        let history_len = config.history as usize;
        if history_len > 0 {
            self.history.build(&view, config.history_order);
        }
        let before = out.len();
        let mut next_negative = 0;
        for (&(ts, row, j), &count) in self.anchor_order.iter().zip(&self.per_anchor) {
            let run = next_negative..next_negative + count as usize;
            next_negative = run.end;
            if config.split.is_some_and(|split| !split.keeps(ts)) {
                continue;
            }
            let j = j as usize;
            let positive = (!config.negatives_only).then_some(view.items[j]);
            tally.positives += u64::from(positive.is_some());
            tally.negatives += run.len() as u64;
            let anchor = AnchorRows {
                user: u,
                positive,
                negatives: &self.negatives[run.clone()],
                log_q: if config.log_q {
                    &self.log_q[run.clone()]
                } else {
                    &[]
                },
                scores: match &context.embeddings {
                    Some(_) => &self.scores[run],
                    None => &[],
                },
                positive_score: match (&context.embeddings, positive) {
                    (Some(e), Some(item)) => e.score(u, item),
                    _ => f32::NAN,
                },
                anchor: row,
                timestamp: ts,
                position: view.start + j,
                history: if history_len > 0 {
                    self.history.window(j, history_len)
                } else {
                    &[]
                },
            };
            out.push_anchor(schema, store, &anchor);
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
