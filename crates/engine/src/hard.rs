//! One user's hard negatives, placed in their anchors' slots.
//!
//! The user's `t` negatives — `min(request, candidates)`, known before any draw — are
//! spread over the anchors first, as every strategy's are, and ⌊F·k⌋ slots chosen at
//! random are hard (all of them without `--hard-fraction`). Each hard slot is filled by
//! the kernel's law ([`pick_hardest`] over `M` base draws per slot, or the exact
//! [`top_scored`]) with the score of its anchor's query — the user's vector, or with
//! `--query-emb` the anchor's own — and the other slots by the base strategy over the
//! items that are neither excluded nor a hard pick. Knowing each slot's anchor before
//! scoring is what lets a sequence model's per-anchor query pick its own negatives.

use crate::config::{Candidates, Hard};
use crate::context::candidate_count;
use crate::embeddings::Embeddings;
use crate::user::{merge_sorted, Base, BaseKernels};
use negsamp_kernel::bounded::shuffle;
use negsamp_kernel::hard::{pick_hardest, top_scored, Pick};
use negsamp_kernel::pairing::spread;
use negsamp_kernel::stream::UserRng;
use negsamp_kernel::uniform::Replacement;
use negsamp_kernel::KernelError;

/// Where one user's hard negatives go: the negatives and their scores in anchor order,
/// and how many each anchor (in anchor order) takes.
pub(crate) struct Placed<'a> {
    pub negatives: &'a mut Vec<u32>,
    pub scores: &'a mut Vec<f32>,
    pub per_anchor: &'a mut Vec<u32>,
}

/// A worker's scratch for hard negatives, reused from user to user.
#[derive(Debug, Default)]
pub(crate) struct HardSampler {
    /// The user's positives and extra exclusions, sorted.
    excluded: Vec<u32>,
    /// What the base slots avoid besides: the hard picks, sorted, merged in.
    avoided: Vec<u32>,
    sorted_picks: Vec<u32>,
    picks: Vec<u32>,
    pick_scores: Vec<f32>,
    /// One anchor's top-k under `--candidates all` with per-anchor queries.
    anchor_picks: Vec<u32>,
    anchor_scores: Vec<f32>,
    base: Vec<u32>,
    ranked: Vec<(f32, u32)>,
    /// Each slot's anchor (its position in anchor order), and whether it is hard.
    slot_anchor: Vec<u32>,
    slot_hard: Vec<bool>,
    /// The anchor of each hard slot, in slot order.
    hard_anchor: Vec<u32>,
    spread_scratch: Vec<u32>,
    pub(crate) query: Query,
}

/// The query vector of one anchor, kept while consecutive lookups name the same one.
#[derive(Debug, Default)]
pub(crate) struct Query {
    values: Vec<f32>,
    /// (user, source row) of `values`; the row is `u64::MAX` for the user's vector.
    of: Option<(u32, u64)>,
}

impl Query {
    /// The query for user `u`'s anchor at source `row`.
    pub(crate) fn get(&mut self, embeddings: &Embeddings, u: u32, row: u64) -> &[f32] {
        let key = (
            u,
            if embeddings.per_anchor() {
                row
            } else {
                u64::MAX
            },
        );
        if self.of != Some(key) {
            embeddings.query(u, row, &mut self.values);
            self.of = Some(key);
        }
        &self.values
    }
}

/// What a user's hard negatives are drawn against.
pub(crate) struct HardRequest<'a> {
    pub hard: &'a Hard,
    pub embeddings: &'a Embeddings,
    pub user: u32,
    pub positives: &'a [u32],
    pub extra: &'a [u32],
    /// (timestamp, source row, position) of each anchor, in anchor order.
    pub anchors: &'a [(i64, u64, u32)],
    pub request: u64,
}

impl HardSampler {
    /// Places user's negatives; returns the shortfall and the base proposal's mass
    /// (for `log_q`).
    pub(crate) fn sample(
        &mut self,
        rng: &mut UserRng,
        kernels: &mut BaseKernels,
        base: Base<'_>,
        r: &HardRequest<'_>,
        out: Placed<'_>,
    ) -> Result<(u64, u64), KernelError> {
        merge_sorted(r.positives, r.extra, &mut self.excluded);
        let candidates = candidate_count(base.context, base.n_items, &self.excluded);
        let with = base.config.replacement == Replacement::With;
        let wanted = r.hard.hard_count(r.request);
        let (hard_slots, base_slots) = slot_counts(r.hard, with, candidates, r.request);
        self.place_slots(rng, r.anchors.len(), hard_slots, base_slots, out.per_anchor);

        let mass = self.pick(rng, kernels, base, r, wanted)?;
        debug_assert_eq!(self.picks.len() as u64, hard_slots);
        self.base.clear();
        if base_slots > 0 {
            self.base_draw(rng, kernels, base, r.request - wanted)?;
        }
        debug_assert_eq!(self.base.len() as u64, base_slots);

        // Fill the slots in order: hard ones with the picks, the others with the base
        // draws (already in random order), scored by their anchor's query.
        out.negatives.clear();
        out.scores.clear();
        let (mut picks, mut drawn) = (self.picks.iter().zip(&self.pick_scores), self.base.iter());
        for (&anchor, &is_hard) in self.slot_anchor.iter().zip(&self.slot_hard) {
            let (item, score) = if is_hard {
                let (&item, &score) = picks.next().expect("one pick per hard slot");
                (item, score)
            } else {
                let &item = drawn.next().expect("one draw per base slot");
                let query = self
                    .query
                    .get(r.embeddings, r.user, r.anchors[anchor as usize].1);
                (item, r.embeddings.score(query, item))
            };
            out.negatives.push(item);
            out.scores.push(score);
        }
        Ok((r.request - hard_slots - base_slots, mass))
    }

    /// Spreads `hard + base` slots over `anchors` and marks `hard` of them at random.
    fn place_slots(
        &mut self,
        rng: &mut UserRng,
        anchors: usize,
        hard: u64,
        base: u64,
        per_anchor: &mut Vec<u32>,
    ) {
        let total = (hard + base) as usize;
        spread(rng, anchors, total, per_anchor, &mut self.spread_scratch);
        self.slot_anchor.clear();
        for (a, &count) in per_anchor.iter().enumerate() {
            self.slot_anchor
                .extend(std::iter::repeat_n(a as u32, count as usize));
        }
        self.slot_hard.clear();
        self.slot_hard.resize(hard as usize, true);
        self.slot_hard.resize(total, false);
        if hard > 0 && base > 0 {
            shuffle(rng, &mut self.slot_hard);
        }
        self.hard_anchor.clear();
        self.hard_anchor.extend(
            self.slot_anchor
                .iter()
                .zip(&self.slot_hard)
                .filter(|(_, &h)| h)
                .map(|(&a, _)| a),
        );
    }

    /// Fills `picks` and `pick_scores`, one per hard slot in slot order; returns the
    /// base proposal's mass.
    fn pick(
        &mut self,
        rng: &mut UserRng,
        kernels: &mut BaseKernels,
        base: Base<'_>,
        r: &HardRequest<'_>,
        wanted: u64,
    ) -> Result<u64, KernelError> {
        let (e, u) = (r.embeddings, r.user);
        let slots = self.hard_anchor.len() as u64;
        let row_of = |slot: usize, hard_anchor: &[u32]| r.anchors[hard_anchor[slot] as usize].1;
        match r.hard.candidates {
            Candidates::Draws(m) => {
                let (_, mass) = kernels.draw(
                    rng,
                    base,
                    &self.excluded,
                    wanted.saturating_mul(u64::from(m)),
                    &mut self.picks,
                )?;
                let pick = r
                    .hard
                    .temperature
                    .map_or(Pick::Max, |temperature| Pick::Softmax { temperature });
                // The base proposal's log-probability up to a constant: ln w (uniform: 0).
                let log_q = |i: u32| {
                    base.context
                        .weights
                        .as_ref()
                        .map_or(0.0, |w| (w.weight(i) as f64).ln())
                };
                let (query, hard_anchor) = (&mut self.query, &self.hard_anchor);
                pick_hardest(
                    rng,
                    &mut self.picks,
                    slots,
                    pick,
                    |group, i| e.score(query.get(e, u, row_of(group, hard_anchor)), i),
                    log_q,
                    &mut self.pick_scores,
                );
                Ok(mass)
            }
            Candidates::All { skip_top } if !e.per_anchor() => {
                let query = self.query.get(e, u, 0);
                top_scored(
                    base.candidates(&self.excluded),
                    skip_top as usize,
                    slots,
                    |i| e.score(query, i),
                    &mut self.ranked,
                    &mut self.picks,
                    &mut self.pick_scores,
                );
                Ok(1)
            }
            Candidates::All { skip_top } => {
                // Each anchor's own top-k, over what earlier anchors did not take.
                self.picks.clear();
                self.pick_scores.clear();
                let mut start = 0;
                while start < self.hard_anchor.len() {
                    let anchor = self.hard_anchor[start];
                    let count = self.hard_anchor[start..]
                        .iter()
                        .take_while(|&&a| a == anchor)
                        .count();
                    self.avoid_picks();
                    let query = self.query.get(e, u, r.anchors[anchor as usize].1);
                    top_scored(
                        base.candidates(&self.avoided),
                        skip_top as usize,
                        count as u64,
                        |i| e.score(query, i),
                        &mut self.ranked,
                        &mut self.anchor_picks,
                        &mut self.anchor_scores,
                    );
                    self.picks.extend_from_slice(&self.anchor_picks);
                    self.pick_scores.extend_from_slice(&self.anchor_scores);
                    start += count;
                }
                Ok(1)
            }
        }
    }

    /// `avoided` = the excluded items and the hard picks so far.
    fn avoid_picks(&mut self) {
        self.sorted_picks.clone_from(&self.picks);
        self.sorted_picks.sort_unstable();
        merge_sorted(&self.excluded, &self.sorted_picks, &mut self.avoided);
    }

    /// Draws the base slots' `request` negatives, avoiding the hard picks too.
    fn base_draw(
        &mut self,
        rng: &mut UserRng,
        kernels: &mut BaseKernels,
        base: Base<'_>,
        request: u64,
    ) -> Result<(), KernelError> {
        self.avoid_picks();
        kernels.draw(rng, base, &self.avoided, request, &mut self.base)?;
        Ok(())
    }
}

/// How many of a user's `request` negatives are hard and how many come from the base,
/// given the user's `candidates` (items the base could give): ⌊F·request⌋ hard at
/// most, fewer when the candidates run out (`--candidates all` cannot use the
/// `--skip-top` highest); the base slots take what is left. The one count the sampler
/// fills and verify expects.
pub(crate) fn slot_counts(hard: &Hard, with: bool, candidates: u64, request: u64) -> (u64, u64) {
    if candidates == 0 {
        return (0, 0);
    }
    let wanted = hard.hard_count(request);
    let rest = request - wanted;
    if with {
        return (wanted, rest);
    }
    let rankable = match hard.candidates {
        Candidates::All { skip_top } => candidates.saturating_sub(u64::from(skip_top)),
        Candidates::Draws(_) => candidates,
    };
    let hard_slots = wanted.min(rankable);
    (hard_slots, rest.min(candidates - hard_slots))
}
