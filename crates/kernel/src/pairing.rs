//! Pairing negatives with positives (the *anchors*).
//!
//! The pandas article joins each negative to one of its user's positives so the
//! negative inherits that positive's timestamp and features. Here a user's negatives,
//! already in uniformly random order, are cut into consecutive runs, one run per
//! anchor, with run lengths as even as possible: every anchor gets `⌊t/k⌋`, and
//! `t mod k` anchors chosen uniformly at random get one more. Choosing the extras at
//! random (not "the earliest anchors") keeps a shortfall from biasing negatives
//! toward early timestamps.

use crate::bounded::index_below;
use rand_core::RngCore;

/// Fills `counts` (cleared first) with how many of `total` negatives each of `anchors`
/// anchors receives. `scratch` is a reusable buffer.
pub fn spread<R: RngCore + ?Sized>(
    rng: &mut R,
    anchors: usize,
    total: usize,
    counts: &mut Vec<u32>,
    scratch: &mut Vec<u32>,
) {
    counts.clear();
    if anchors == 0 {
        return;
    }
    let base = (total / anchors) as u32;
    let extra = total % anchors;
    counts.resize(anchors, base);
    if extra == 0 {
        return;
    }
    scratch.clear();
    scratch.extend(0..anchors as u32);
    for i in 0..extra {
        scratch.swap(i, i + index_below(rng, anchors - i));
        counts[scratch[i] as usize] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::user_rng;
    use crate::testutil::chi_square_uniform;

    #[test]
    fn counts_add_up_and_differ_by_at_most_one() {
        let mut rng = user_rng(1, 1);
        let (mut counts, mut scratch) = (Vec::new(), Vec::new());
        for anchors in 0..20 {
            for total in 0..50 {
                spread(&mut rng, anchors, total, &mut counts, &mut scratch);
                assert_eq!(counts.len(), anchors);
                if anchors > 0 {
                    assert_eq!(counts.iter().sum::<u32>() as usize, total);
                    let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
                    assert!(hi - lo <= 1);
                }
            }
        }
    }

    #[test]
    fn the_extra_negatives_land_on_uniformly_chosen_anchors() {
        let mut rng = user_rng(2, 3);
        let (mut counts, mut scratch) = (Vec::new(), Vec::new());
        let mut hits = vec![0u64; 7];
        for _ in 0..70_000 {
            spread(&mut rng, 7, 2, &mut counts, &mut scratch);
            for (a, &c) in counts.iter().enumerate() {
                hits[a] += u64::from(c);
            }
        }
        chi_square_uniform(&hits, 1e-4);
    }
}
