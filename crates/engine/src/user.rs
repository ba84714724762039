//! Sampling one user into output rows.

use crate::config::SampleConfig;
use crate::context::Context;
use crate::hard::{HardRequest, HardSampler, Placed};
use crate::rows::{Anchor, HistoryIndex, Rows, UserAnchors};
use crate::schema::Schema;
use crate::EngineError;
use negsamp_kernel::hard::not_excluded;
use negsamp_kernel::pairing::spread;
use negsamp_kernel::stream::{user_rng, UserRng};
use negsamp_kernel::uniform::UniformSampler;
use negsamp_kernel::weighted::WeightedSampler;
use negsamp_kernel::KernelError;
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
    base: BaseKernels,
    /// The user's positives merged with their extra exclusions.
    excluded: Vec<u32>,
    negatives: Vec<u32>,
    log_q: Vec<f32>,
    /// Hard negatives: each negative's score.
    scores: Vec<f32>,
    hard: HardSampler,
    /// (timestamp, row, position) of each positive, in that order.
    anchor_order: Vec<(i64, u64, u32)>,
    order_keys: Vec<u64>,
    per_anchor: Vec<u32>,
    /// The anchors kept (by the split), in output order.
    anchors: Vec<Anchor>,
    scratch: Vec<u32>,
    history: HistoryIndex,
}

/// The base strategy's kernels (uniform, or weighted by popularity).
#[derive(Debug, Default)]
pub(crate) struct BaseKernels {
    uniform: UniformSampler,
    weighted: WeightedSampler,
}

/// What every base draw of a run shares.
#[derive(Clone, Copy)]
pub(crate) struct Base<'a> {
    pub context: &'a Context,
    pub config: &'a SampleConfig,
    pub n_items: u32,
}

impl Base<'_> {
    /// The items the base strategy can give a user who must avoid `excluded` (sorted):
    /// every other item, or, weighted, every other item of positive weight — what
    /// `--candidates all` ranks.
    pub(crate) fn candidates<'a>(&'a self, excluded: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
        not_excluded(self.n_items, excluded).filter(|&i| {
            self.context
                .weights
                .as_ref()
                .is_none_or(|w| w.weight(i) > 0)
        })
    }
}

impl BaseKernels {
    /// Draws `request` negatives avoiding `excluded` into `out`; returns the shortfall
    /// and the candidates' total weight (uniform: their number), the proposal's mass.
    pub(crate) fn draw(
        &mut self,
        rng: &mut UserRng,
        base: Base<'_>,
        excluded: &[u32],
        request: u64,
        out: &mut Vec<u32>,
    ) -> Result<(u64, u64), KernelError> {
        let Base {
            context,
            config,
            n_items,
        } = base;
        match &context.weights {
            None => {
                if self.uniform.kernel() != config.kernel {
                    self.uniform = UniformSampler::new(config.kernel);
                }
                let d = self.uniform.sample(
                    rng,
                    excluded,
                    n_items,
                    request,
                    config.replacement,
                    out,
                )?;
                Ok((d.shortfall, u64::from(d.candidates)))
            }
            Some(weights) => {
                let d = self.weighted.sample(
                    rng,
                    weights,
                    excluded,
                    request,
                    config.replacement,
                    out,
                )?;
                Ok((d.shortfall, d.mass))
            }
        }
    }
}

impl UserSampler {
    /// The last user sampled's positives as `(timestamp, row, position)`, in (timestamp,
    /// row) order: the order of their anchors.
    pub fn anchor_order(&self) -> &[(i64, u64, u32)] {
        &self.anchor_order
    }

    /// The last user sampled's rows before they were laid out: the anchors kept, in
    /// output order, each holding a range of `negatives` (and of `log_q`, when the
    /// schema has the column).
    pub(crate) fn laid_out(&self) -> (&[Anchor], &[u32], &[f32]) {
        (&self.anchors, &self.negatives, &self.log_q)
    }

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
        let mut rng = user_rng(config.seed, view.key);
        negsamp_store::order::of_user(&view, true, &mut self.anchor_order, &mut self.order_keys)?;
        let extra = context.exclusions.of(u);
        let kernel_error = |source| EngineError::Kernel { user: u, source };
        let base = Base {
            context,
            config,
            n_items: store.n_items(),
        };
        // The proposal law of each negative: weight / mass (uniform: 1 / candidates).
        let (shortfall, mass) = match (&config.hard, &context.embeddings) {
            (Some(hard), Some(embeddings)) => {
                // Placed in their anchors' slots (`per_anchor`) as they are drawn.
                let request = HardRequest {
                    hard,
                    embeddings,
                    user: u,
                    positives: view.items,
                    extra,
                    anchors: &self.anchor_order,
                    request,
                };
                let placed = Placed {
                    negatives: &mut self.negatives,
                    scores: &mut self.scores,
                    per_anchor: &mut self.per_anchor,
                };
                self.hard
                    .sample(&mut rng, &mut self.base, base, &request, placed)
                    .map_err(kernel_error)?
            }
            _ => {
                let excluded = if extra.is_empty() {
                    view.items
                } else {
                    merge_sorted(view.items, extra, &mut self.excluded);
                    &self.excluded
                };
                let drawn = self
                    .base
                    .draw(&mut rng, base, excluded, request, &mut self.negatives)
                    .map_err(kernel_error)?;
                spread(
                    &mut rng,
                    k,
                    self.negatives.len(),
                    &mut self.per_anchor,
                    &mut self.scratch,
                );
                drawn
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

        let history_len = config.history as usize;
        if history_len > 0 {
            self.history.build(&view, config.history_order)?;
        }
        let before = out.len();
        let mut next_negative = 0;
        self.anchors.clear();
        for (&(ts, row, j), &count) in self.anchor_order.iter().zip(&self.per_anchor) {
            let negatives = next_negative..next_negative + count as usize;
            next_negative = negatives.end;
            if config.split.is_some_and(|split| !split.keeps(ts)) {
                continue;
            }
            let j = j as usize;
            let positive = (!config.negatives_only).then_some(view.items[j]);
            self.anchors.push(Anchor {
                positive,
                negatives,
                positive_score: match (&context.embeddings, positive) {
                    (Some(e), Some(item)) => e.score(self.hard.query.get(e, u, row), item),
                    _ => f32::NAN,
                },
                anchor: row,
                timestamp: ts,
                position: view.start + j,
                history: if history_len > 0 {
                    self.history.window_range(j, history_len)
                } else {
                    0..0
                },
            });
        }
        let anchors = UserAnchors {
            user: u,
            anchors: &self.anchors,
            negatives: &self.negatives,
            log_q: &self.log_q,
            scores: &self.scores,
            history: self.history.items(),
        };
        out.push_anchors(schema, store, &anchors);
        // Counted once per user rather than per anchor in the loop above.
        let anchors = &self.anchors;
        tally.positives += anchors.iter().filter(|a| a.positive.is_some()).count() as u64;
        tally.negatives += anchors
            .iter()
            .map(|a| a.negatives.len() as u64)
            .sum::<u64>();
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
