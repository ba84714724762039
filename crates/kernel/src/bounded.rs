//! Unbiased bounded integers.
//!
//! Lemire's multiply-shift ("Fast random integer generation in an interval", 2019):
//! the high half of `x * n` is uniform on `[0, n)` once the low half is rejected in the
//! few cases below `2^64 mod n`. The division computing that threshold runs only when
//! the low half is already small, so it almost never runs.

use rand_core::RngCore;

/// A uniform integer in `[0, n)`. `n` must be non-zero.
#[inline]
pub fn below<R: RngCore + ?Sized>(rng: &mut R, n: u64) -> u64 {
    debug_assert!(n > 0, "empty range");
    let mut product = u128::from(rng.next_u64()) * u128::from(n);
    let mut low = product as u64;
    if low < n {
        let threshold = n.wrapping_neg() % n;
        while low < threshold {
            product = u128::from(rng.next_u64()) * u128::from(n);
            low = product as u64;
        }
    }
    (product >> 64) as u64
}

/// Appends `count` uniform integers in `[0, n)` (`n > 0`) to `out`.
///
/// Lemire's method at 32 bits, taking two draws from each `next_u64`: the bound of a
/// rank is a catalog size, below 2^32, and halving the generator calls is the largest
/// saving left on the sampling hot path.
#[inline]
pub fn fill_below_u32<R: RngCore + ?Sized>(rng: &mut R, n: u32, count: usize, out: &mut Vec<u32>) {
    debug_assert!(n > 0, "empty range");
    let start = out.len();
    out.resize(start + count, 0);
    let slots = &mut out[start..];
    let mut threshold = None;
    let mut filled = 0;
    // Written by index into a sized slice (no capacity checks); a rejected half
    // simply leaves its slot to the next one.
    while filled < count {
        let word = rng.next_u64();
        for half in [word as u32, (word >> 32) as u32] {
            if let Some(value) = lemire_u32(half, n, &mut threshold) {
                if filled < count {
                    slots[filled] = value;
                    filled += 1;
                }
            }
        }
    }
}

/// The first value [`fill_below_u32`] would write, without a buffer: the same
/// stream consumption, so a caller may switch between them freely.
#[inline]
pub fn one_below_u32<R: RngCore + ?Sized>(rng: &mut R, n: u32) -> u32 {
    debug_assert!(n > 0, "empty range");
    let mut threshold = None;
    loop {
        let word = rng.next_u64();
        for half in [word as u32, (word >> 32) as u32] {
            if let Some(value) = lemire_u32(half, n, &mut threshold) {
                return value;
            }
        }
    }
}

/// One 32-bit Lemire step: `half` mapped into `[0, n)`, or `None` if rejected. The
/// rejection threshold `2^32 mod n` is below n, so a low half of at least n is accepted
/// without it: the division runs only for the rare low half below n (it dominated the
/// cost of a one-negative user), and only once per call site (`threshold` caches it).
#[inline]
fn lemire_u32(half: u32, n: u32, threshold: &mut Option<u32>) -> Option<u32> {
    let product = u64::from(half) * u64::from(n);
    let low = product as u32;
    let accept = low >= n || low >= *threshold.get_or_insert_with(|| n.wrapping_neg() % n);
    accept.then_some((product >> 32) as u32)
}

/// A uniform index in `[0, n)` for slice positions (`n > 0`).
#[inline]
pub fn index_below<R: RngCore + ?Sized>(rng: &mut R, n: usize) -> usize {
    below(rng, n as u64) as usize
}

/// Shuffles `values` in place, every permutation equally likely (Fisher–Yates).
pub fn shuffle<R: RngCore + ?Sized, T>(rng: &mut R, values: &mut [T]) {
    for i in (1..values.len()).rev() {
        values.swap(i, index_below(rng, i + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::user_rng;
    use crate::testutil::chi_square_uniform;

    #[test]
    fn below_is_uniform_on_awkward_ranges() {
        let mut rng = user_rng(1, 2);
        for n in [1u64, 3, 7, 10, 1000] {
            let draws = 200_000;
            let mut counts = vec![0u64; n as usize];
            for _ in 0..draws {
                let x = below(&mut rng, n);
                assert!(x < n);
                counts[x as usize] += 1;
            }
            if n > 1 {
                chi_square_uniform(&counts, 1e-4);
            }
        }
    }

    #[test]
    fn one_below_u32_is_the_first_value_of_fill_below_u32() {
        // n near 2^32 makes rejections (and so the second half and the next word) common
        for n in [1u32, 3, 1000, 3_000_000_000, u32::MAX - 1] {
            for key in 0..2000 {
                let (mut a, mut b) = (user_rng(3, key), user_rng(3, key));
                let mut out = Vec::new();
                fill_below_u32(&mut a, n, 1, &mut out);
                assert_eq!(one_below_u32(&mut b, n), out[0], "n {n}, key {key}");
                assert_eq!(a.next_u64(), b.next_u64(), "same stream consumption");
            }
        }
    }

    #[test]
    fn fill_below_u32_is_uniform_and_exact_in_count() {
        let mut rng = user_rng(7, 8);
        for n in [1u32, 3, 7, 1000, u32::MAX] {
            let mut out = vec![42];
            fill_below_u32(&mut rng, n, 99_999, &mut out);
            assert_eq!(out.len(), 100_000);
            assert_eq!(out[0], 42);
            assert!(out[1..].iter().all(|&x| x < n));
            if (2..=1000).contains(&n) {
                let mut counts = vec![0u64; n as usize];
                for &x in &out[1..] {
                    counts[x as usize] += 1;
                }
                chi_square_uniform(&counts, 1e-4);
            }
        }
    }

    #[test]
    fn below_handles_the_full_range_edges() {
        let mut rng = user_rng(3, 4);
        for _ in 0..1000 {
            assert!(below(&mut rng, u64::MAX) < u64::MAX);
            assert_eq!(below(&mut rng, 1), 0);
        }
    }

    #[test]
    fn shuffle_gives_every_permutation_of_three() {
        let mut rng = user_rng(5, 6);
        let mut counts = vec![0u64; 6];
        let perms = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for _ in 0..60_000 {
            let mut v = [0, 1, 2];
            shuffle(&mut rng, &mut v);
            counts[perms.iter().position(|p| *p == v).unwrap()] += 1;
        }
        chi_square_uniform(&counts, 1e-4);
    }
}
