//! Hard negatives by Dynamic Negative Sampling (Zhang et al., SIGIR 2013): a user's
//! `k` negatives are picked from `k · M` candidates drawn by a base strategy — the
//! candidates, in the uniformly random order every kernel returns, are cut into `k`
//! consecutive groups and each group's
//! highest-scoring item is kept. The one definition of the law, used by sampling and
//! verify alike. With every item a candidate (`--candidates all`), [`top_scored`] is
//! the exact top-k instead.
//!
//! Drawn without replacement, the candidates are distinct, so the picks are too. When
//! a user has fewer than `k · M` candidates, all of them are drawn and the groups are
//! as even as possible (sizes differ by at most one); fewer than `k` candidates give
//! one group per candidate and a shortfall.

use rand_core::RngCore;

/// How a group's negative is chosen among its candidates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pick {
    /// The highest score (ties: the smaller item index).
    Max,
    /// One candidate with probability ∝ exp(score / temperature − log q), q its base
    /// proposal probability: self-normalised importance resampling towards
    /// exp(score / temperature) over the catalog. Drawn as the largest of those logits
    /// plus Gumbel noise, one pass and exact; temperature → 0 is `Max`.
    Softmax { temperature: f64 },
}

/// Replaces `candidates` (in uniformly random order) by the pick of each of `k`
/// consecutive groups, with their scores in
/// `scores`; returns the shortfall (`k` minus the groups formed). `score(g, i)` is item
/// `i`'s score for group `g` (groups may have their own query); `log_q` is a
/// candidate's log base-proposal probability up to a constant (used by `Softmax`).
pub fn pick_hardest<R: RngCore + ?Sized>(
    rng: &mut R,
    candidates: &mut Vec<u32>,
    k: u64,
    pick: Pick,
    mut score: impl FnMut(usize, u32) -> f32,
    log_q: impl Fn(u32) -> f64,
    scores: &mut Vec<f32>,
) -> u64 {
    // Every kernel returns its draws in uniformly random order (their contract, which
    // the anchors' pairing relies on too), so consecutive runs are random groups: no
    // shuffle here (measured: it cost a bounded draw and a swap per candidate).
    let drawn = candidates.len();
    let groups = usize::try_from(k).map_or(drawn, |k| k.min(drawn));
    scores.clear();
    let mut start = 0;
    for g in 0..groups {
        // The remaining candidates over the remaining groups: sizes differ by <= 1.
        let end = start + (drawn - start) / (groups - g);
        let group = &candidates[start..end];
        let (item, best) = match pick {
            Pick::Max => best_of(group, |i| score(g, i)),
            Pick::Softmax { temperature } => {
                let mut key = |i: u32, s: f32| f64::from(s) / temperature - log_q(i) + gumbel(rng);
                let (item, best, _) = group
                    .iter()
                    .map(|&i| {
                        let s = score(g, i);
                        (i, s, key(i, s))
                    })
                    .max_by(|a, b| a.2.total_cmp(&b.2).then(b.0.cmp(&a.0)))
                    .expect("every group holds at least one candidate");
                (item, best)
            }
        };
        candidates[g] = item; // g <= start: a group's winner never overwrites unread ones
        scores.push(best);
        start = end;
    }
    candidates.truncate(groups);
    k - groups as u64
}

/// The highest-scoring item of a non-empty `group` and its score (ties: the smaller
/// item), in one pass of plain comparisons.
fn best_of(group: &[u32], mut score: impl FnMut(u32) -> f32) -> (u32, f32) {
    let mut best = (group[0], score(group[0]));
    for &i in &group[1..] {
        let s = score(i);
        if s.total_cmp(&best.1).then(best.0.cmp(&i)).is_gt() {
            best = (i, s);
        }
    }
    best
}

/// Every item of `0..n_items` not in `excluded` (sorted), ascending.
pub fn not_excluded(n_items: u32, excluded: &[u32]) -> impl Iterator<Item = u32> + '_ {
    let mut next_excluded = excluded.iter().peekable();
    (0..n_items).filter(move |i| next_excluded.next_if_eq(&i).is_none())
}

/// A standard Gumbel variate, −ln(−ln U) with U uniform in (0, 1).
fn gumbel<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    let u = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    -(-u.ln()).ln()
}

/// The exact hardest negatives: `candidates` ranked by score (highest first, ties to
/// the smaller index), the first `skip` passed over, the next `k` written to `items`
/// with their `scores`; returns the shortfall. `ranked` is scratch, reused from user to
/// user.
#[allow(clippy::too_many_arguments)]
pub fn top_scored(
    candidates: impl IntoIterator<Item = u32>,
    skip: usize,
    k: u64,
    score: impl Fn(u32) -> f32,
    ranked: &mut Vec<(f32, u32)>,
    items: &mut Vec<u32>,
    scores: &mut Vec<f32>,
) -> u64 {
    ranked.clear();
    ranked.extend(candidates.into_iter().map(|i| (score(i), i)));
    let order = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    let wanted = usize::try_from(k).map_or(usize::MAX, |k| skip.saturating_add(k));
    if ranked.len() > wanted {
        ranked.select_nth_unstable_by(wanted, order);
        ranked.truncate(wanted);
    }
    ranked.sort_unstable_by(order);
    let top = &ranked[skip.min(ranked.len())..];
    items.clear();
    scores.clear();
    items.extend(top.iter().map(|&(_, i)| i));
    scores.extend(top.iter().map(|&(s, _)| s));
    k - top.len() as u64
}

/// The score of a pair of vectors: their dot product, in eight running sums
/// (vectorisable without reassociating) folded as a tree (`fold`), then the tail — a fixed
/// order, so the same inputs give the same bits on every run. On a CPU with AVX the
/// eight sums are one 256-bit register (the same operations in the same order, so the
/// same bits as the portable loop, which compiles to two 128-bit halves).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: `dot_avx` is compiled for AVX, which the CPU was just found to have.
        return unsafe { x86::dot_avx(a, b) };
    }
    dot_portable(a, b)
}

/// [`dot`] of `a` and a half-precision row `b` (IEEE binary16 bits, every value
/// finite): the same sums in the same order as `dot(a, b as f32)`, so a model saved as
/// float16 scores exactly as its float32 conversion would. Widened by the CPU's F16C
/// instruction when it has one (measured: the portable [`widen`] made float16 DNS
/// 1.5–3× slower than float32 at d = 32–128, since baseline x86-64 has no 8-wide
/// integer shifts), else by [`widen`] in the loop.
pub fn dot_f16(a: &[f32], b: &[u16]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") && std::arch::is_x86_feature_detected!("f16c") {
        // SAFETY: `dot_f16c` is compiled for AVX and F16C, which the CPU was just found
        // to have.
        return unsafe { x86::dot_f16c(a, b) };
    }
    dot_f16_portable(a, b)
}

/// The eight running sums added as a tree — halves, then quarters, then the pair —
/// three dependent additions instead of seven (measured: the in-order fold was a
/// quarter of DNS's time at d = 32). Any fixed order gives reproducible bits; this is
/// the one every path uses.
#[inline]
fn fold(lanes: [f32; 8]) -> f32 {
    let half = [
        lanes[0] + lanes[4],
        lanes[1] + lanes[5],
        lanes[2] + lanes[6],
        lanes[3] + lanes[7],
    ];
    let quarter = [half[0] + half[2], half[1] + half[3]];
    quarter[0] + quarter[1]
}

fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let whole = a.len() - a.len() % 8;
    for (x, y) in a[..whole].chunks_exact(8).zip(b[..whole].chunks_exact(8)) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    let tail: f32 = a[whole..].iter().zip(&b[whole..]).map(|(x, y)| x * y).sum();
    fold(lanes) + tail
}

fn dot_f16_portable(a: &[f32], b: &[u16]) -> f32 {
    let mut lanes = [0f32; 8];
    let whole = a.len() - a.len() % 8;
    for (x, y) in a[..whole].chunks_exact(8).zip(b[..whole].chunks_exact(8)) {
        for k in 0..8 {
            lanes[k] += x[k] * widen(y[k]);
        }
    }
    let tail: f32 = a[whole..]
        .iter()
        .zip(&b[whole..])
        .map(|(x, &y)| x * widen(y))
        .sum();
    fold(lanes) + tail
}

/// The eight running sums as one AVX register: `lanes[k] += x[k] * y[k]` is a
/// multiply then an add, each rounded (Rust never fuses them), exactly as the portable
/// loop does; the fold and the tail are the portable code's.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::widen;
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_cvtph_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_setzero_ps,
        _mm256_storeu_ps, _mm_loadu_si128,
    };

    /// Folds the register's eight sums in order and adds the tail's products.
    fn finish(lanes: __m256, tail: f32) -> f32 {
        let mut sums = [0f32; 8];
        // SAFETY: `sums` holds 8 floats; the store is unaligned.
        unsafe { _mm256_storeu_ps(sums.as_mut_ptr(), lanes) };
        super::fold(sums) + tail
    }

    #[target_feature(enable = "avx")]
    pub(super) fn dot_avx(a: &[f32], b: &[f32]) -> f32 {
        let whole = a.len() - a.len() % 8;
        let mut lanes = _mm256_setzero_ps();
        for (x, y) in a[..whole].chunks_exact(8).zip(b[..whole].chunks_exact(8)) {
            // SAFETY: each chunk holds exactly 8 floats; the loads are unaligned.
            let (x, y) = unsafe { (_mm256_loadu_ps(x.as_ptr()), _mm256_loadu_ps(y.as_ptr())) };
            lanes = _mm256_add_ps(lanes, _mm256_mul_ps(x, y));
        }
        let tail: f32 = a[whole..].iter().zip(&b[whole..]).map(|(x, y)| x * y).sum();
        finish(lanes, tail)
    }

    #[target_feature(enable = "avx,f16c")]
    pub(super) fn dot_f16c(a: &[f32], b: &[u16]) -> f32 {
        let whole = a.len() - a.len() % 8;
        let mut lanes = _mm256_setzero_ps();
        for (x, y) in a[..whole].chunks_exact(8).zip(b[..whole].chunks_exact(8)) {
            // SAFETY: each chunk holds exactly 8 values (8 floats, 8 halves = 16
            // bytes); the loads are unaligned.
            let (x, halves) = unsafe {
                (
                    _mm256_loadu_ps(x.as_ptr()),
                    _mm_loadu_si128(y.as_ptr().cast()),
                )
            };
            // Exact for every finite half, as `widen` is.
            lanes = _mm256_add_ps(lanes, _mm256_mul_ps(x, _mm256_cvtph_ps(halves)));
        }
        let tail: f32 = a[whole..]
            .iter()
            .zip(&b[whole..])
            .map(|(x, &y)| x * widen(y))
            .sum();
        finish(lanes, tail)
    }
}

/// A finite binary16 value as `f32`, exactly: its exponent and mantissa bits placed in
/// an `f32` (a value 2^112 times too small — normal or subnormal alike), scaled by
/// 2^112 (exact: a power of two), and the sign put back. Infinities and NaN, which the
/// callers have refused, would come out finite.
#[inline]
pub fn widen(half: u16) -> f32 {
    const TWO_TO_112: f32 = f32::from_bits((127 + 112) << 23);
    let half = u32::from(half);
    let magnitude = f32::from_bits((half & 0x7fff) << 13) * TWO_TO_112;
    f32::from_bits(magnitude.to_bits() | ((half & 0x8000) << 16))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::user_rng;

    /// `pick_hardest` with the max pick (no proposal correction).
    fn pick_max<R: RngCore>(
        rng: &mut R,
        candidates: &mut Vec<u32>,
        k: u64,
        score: impl Fn(u32) -> f32,
        scores: &mut Vec<f32>,
    ) -> u64 {
        pick_hardest(
            rng,
            candidates,
            k,
            Pick::Max,
            |_, i| score(i),
            |_| 0.0,
            scores,
        )
    }

    #[test]
    fn one_group_of_everything_finds_the_best() {
        let mut rng = user_rng(1, 2);
        let mut candidates: Vec<u32> = (0..100).collect();
        let mut scores = Vec::new();
        let short = pick_max(
            &mut rng,
            &mut candidates,
            1,
            |i| -((i as f32) - 37.0).abs(),
            &mut scores,
        );
        assert_eq!((short, candidates, scores), (0, vec![37], vec![0.0]));
    }

    #[test]
    fn groups_are_even_and_distinct_candidates_give_distinct_picks() {
        let mut rng = user_rng(3, 4);
        let mut candidates: Vec<u32> = (0..10).collect();
        let mut scores = Vec::new();
        // 10 candidates, 4 groups: sizes 2, 2, 3, 3 — every pick distinct.
        let short = pick_max(&mut rng, &mut candidates, 4, |i| i as f32, &mut scores);
        assert_eq!(short, 0);
        let mut picks = candidates.clone();
        picks.sort_unstable();
        picks.dedup();
        assert_eq!(picks.len(), 4);
        // The best item overall is in some group and wins it.
        assert!(candidates.contains(&9));
        assert_eq!(
            scores,
            candidates.iter().map(|&i| i as f32).collect::<Vec<_>>()
        );
    }

    #[test]
    fn fewer_candidates_than_negatives_is_a_shortfall() {
        let mut rng = user_rng(5, 6);
        let mut candidates = vec![4, 8];
        let mut scores = Vec::new();
        assert_eq!(
            pick_max(&mut rng, &mut candidates, 5, |_| 1.0, &mut scores),
            3
        );
        candidates.sort_unstable();
        assert_eq!(candidates, vec![4, 8]);
    }

    #[test]
    fn top_scored_ranks_skips_and_counts_the_shortfall() {
        let (mut ranked, mut items, mut scores) = (Vec::new(), Vec::new(), Vec::new());
        // Scores 0, 1, 2, 3, 4, 0, 1, 2, 3, 4 for items 0..10; item 4 excluded.
        let score = |i: u32| (i % 5) as f32;
        let short = top_scored(
            not_excluded(10, &[4]),
            1,
            3,
            score,
            &mut ranked,
            &mut items,
            &mut scores,
        );
        // Ranked: 9 (4), 3 (3), 8 (3), 2 (2), 7 (2), …; skip one, take three.
        assert_eq!(
            (short, items.clone(), scores.clone()),
            (0, vec![3, 8, 2], vec![3.0, 3.0, 2.0])
        );
        let short = top_scored(
            not_excluded(4, &[0, 1]),
            1,
            3,
            score,
            &mut ranked,
            &mut items,
            &mut scores,
        );
        assert_eq!((short, items), (2, vec![2]));
    }

    #[test]
    fn ties_go_to_the_smaller_item() {
        let mut rng = user_rng(7, 8);
        let mut candidates = vec![9, 3, 6];
        let mut scores = Vec::new();
        pick_max(&mut rng, &mut candidates, 1, |_| 0.5, &mut scores);
        assert_eq!(candidates, vec![3]);
    }

    /// M = 2 over 0..n uniformly: P(pick = i) = 2i / (n(n-1)) for the max of a random
    /// distinct pair — the DNS law with a score that is the item index.
    #[test]
    fn max_of_two_follows_its_law() {
        let n = 20u32;
        let trials = 200_000;
        let mut counts = vec![0u64; n as usize];
        let mut rng = user_rng(11, 12);
        let mut scores = Vec::new();
        for _ in 0..trials {
            let a = crate::bounded::below(&mut rng, n as u64) as u32;
            let mut b = crate::bounded::below(&mut rng, (n - 1) as u64) as u32;
            b += u32::from(b >= a);
            let mut candidates = vec![a, b];
            pick_max(&mut rng, &mut candidates, 1, |i| i as f32, &mut scores);
            counts[candidates[0] as usize] += 1;
        }
        let expected: Vec<f64> = (0..n)
            .map(|i| trials as f64 * 2.0 * i as f64 / (n as f64 * (n as f64 - 1.0)))
            .collect();
        let chi2: f64 = counts
            .iter()
            .zip(&expected)
            .filter(|(_, &e)| e > 0.0)
            .map(|(&c, &e)| (c as f64 - e).powi(2) / e)
            .sum();
        // 18 degrees of freedom (item 0 never wins): the 0.999 quantile is 42.3.
        assert!(chi2 < 42.3, "chi-square {chi2}");
        assert_eq!(counts[0], 0);
    }

    #[test]
    fn every_finite_half_widens_exactly() {
        for bits in 0..=u16::MAX {
            let reference = half::f16::from_bits(bits);
            if reference.is_finite() {
                assert_eq!(
                    widen(bits).to_bits(),
                    reference.to_f32().to_bits(),
                    "{bits:#06x}"
                );
            }
        }
    }

    /// The CPU's paths (AVX, F16C; where this machine has them) and the portable
    /// loops give the same bits.
    #[test]
    fn a_half_precision_row_scores_as_its_f32_conversion() {
        // Lengths around the lanes; values with rounding, some subnormal.
        for len in [1, 7, 8, 9, 63, 64, 65, 130] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<u16> = (0..len)
                .map(|i| (i as f32 * 1.91).cos() * 3.0 * 1e-3f32.powi(i % 3))
                .map(|v| half::f16::from_f32(v).to_bits())
                .collect();
            let widened: Vec<f32> = b
                .iter()
                .map(|&h| half::f16::from_bits(h).to_f32())
                .collect();
            let bits = dot_portable(&a, &widened).to_bits();
            assert_eq!(dot_f16(&a, &b).to_bits(), bits, "{len}");
            assert_eq!(dot_f16_portable(&a, &b).to_bits(), bits, "{len}");
            assert_eq!(dot(&a, &widened).to_bits(), bits, "{len}");
        }
    }
}
