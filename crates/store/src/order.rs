//! A user's positives in (timestamp, row) order: the order anchors are emitted in and
//! histories are read in — one definition, [`by_time_then_row`].
//!
//! Sorting it per user per run — even as plain `u64` keys rather than tuples — was a
//! sixth of `sample`'s instructions, so a version-4 store carries it: the `time_order`
//! section ([`time_order`], computed once when the store is written) holds each user's
//! positions in that order, and [`of_user`] reads it back in O(k), checking it is one
//! (positions in range and (timestamp, row) strictly increasing make a permutation in
//! order). A store without the section (older versions, or every user in order
//! already) is sorted as before.

use crate::{StoreError, UserView};
use rayon::prelude::*;

/// Fills `out` with `(timestamp, row, position)` of each of a user's positives
/// (`position` = its index in `rows`), ordered by (timestamp, row) — by row alone when
/// `times` is `None` (every timestamp 0). Rows are unique, so the order is total and
/// the result does not depend on how it is found. `keys` is scratch.
pub fn by_time_then_row(
    times: Option<&[i64]>,
    rows: &[u64],
    out: &mut Vec<(i64, u64, u32)>,
    keys: &mut Vec<u64>,
) {
    let time = |j: usize| times.map_or(0, |t| t[j]);
    match sorted_keys(times, rows, keys) {
        Some(mask) => {
            out.clear();
            out.extend(keys.iter().map(|&key| {
                let j = (key & mask) as usize;
                (time(j), rows[j], j as u32)
            }));
        }
        None => sorted_tuples(times, rows, out),
    }
}

/// [`by_time_then_row`] for a user whose key offsets and positions do not fit one word
/// together: the tuples compared.
fn sorted_tuples(times: Option<&[i64]>, rows: &[u64], out: &mut Vec<(i64, u64, u32)>) {
    out.clear();
    out.extend((0..rows.len()).map(|j| (times.map_or(0, |t| t[j]), rows[j], j as u32)));
    out.sort_unstable();
}

/// Sorts `keys` into the (timestamp, row) order of positions `0..k`, each key being
/// the position's primary key — its timestamp, or its row without times — as an offset
/// from the least, above the position's bits; returns the mask of those bits. `None`
/// when offsets and positions do not fit one word (then `keys` is left unsorted).
fn sorted_keys(times: Option<&[i64]>, rows: &[u64], keys: &mut Vec<u64>) -> Option<u64> {
    keys.clear();
    let k = rows.len();
    if k == 0 {
        return Some(0);
    }
    let position_bits = usize::BITS - k.leading_zeros();
    if position_bits >= 64 {
        return None;
    }
    // The primary keys first, in passes over plain slices (one closure matching on
    // `times` per element, called three times, was half of an ingest's time order):
    // the timestamp (sign flipped, so negative times come first), or the row.
    match times {
        Some(t) => keys.extend(t.iter().map(|&time| (time as u64) ^ (1 << 63))),
        None => keys.extend_from_slice(rows),
    }
    let (least, most) = keys.iter().fold((u64::MAX, 0), |(least, most), &p| {
        (least.min(p), most.max(p))
    });
    if (most - least) >> (64 - position_bits) != 0 {
        return None;
    }
    // Each as an offset from the least, above its position's bits.
    for (j, key) in keys.iter_mut().enumerate() {
        *key = ((*key - least) << position_bits) | j as u64;
    }
    keys.sort_unstable();
    let mask = (1u64 << position_bits) - 1;
    let same_primary = |a: &u64, b: &u64| (a ^ b) >> position_bits == 0;
    if times.is_some() && keys.windows(2).any(|w| same_primary(&w[0], &w[1])) {
        // Equal timestamps came out in position order; their order is by row.
        for tie in keys.chunk_by_mut(same_primary) {
            if tie.len() > 1 {
                tie.sort_unstable_by_key(|&key| rows[(key & mask) as usize]);
            }
        }
    }
    Some(mask)
}

/// Writes a user's positions in (timestamp, row) order to `out` (as many as `rows`):
/// [`by_time_then_row`]'s positions, without its tuples.
fn positions_in_order(
    times: Option<&[i64]>,
    rows: &[u64],
    out: &mut [u32],
    (sorted, keys): &mut (Vec<(i64, u64, u32)>, Vec<u64>),
) {
    match sorted_keys(times, rows, keys) {
        Some(mask) => out
            .iter_mut()
            .zip(keys.iter())
            .for_each(|(o, key)| *o = (key & mask) as u32),
        None => {
            sorted_tuples(times, rows, sorted);
            out.iter_mut()
                .zip(sorted.iter())
                .for_each(|(o, e)| *o = e.2);
        }
    }
}

/// User `view`'s positives into `out` as `(timestamp, row, position)`, ordered by
/// (timestamp, row) when `by_time`, else by row alone — read from the store's
/// `time_order` section when it holds that order, else sorted ([`by_time_then_row`];
/// `keys` is scratch). An error if the stored order is not a permutation in that order.
pub fn of_user(
    view: &UserView<'_>,
    by_time: bool,
    out: &mut Vec<(i64, u64, u32)>,
    keys: &mut Vec<u64>,
) -> Result<(), StoreError> {
    let times = view.timestamps.filter(|_| by_time);
    // Without timestamps the stored order is the rows' order, which serves either way.
    let stored_serves = by_time || view.timestamps.is_none();
    match view.time_order.filter(|_| stored_serves) {
        Some(order) => read_order(order, times, view.rows, out).map_err(|problem| {
            StoreError::corrupt(format!(
                "time_order of the user at interactions {}..{}: {problem}",
                view.start,
                view.start + view.rows.len()
            ))
        }),
        None => {
            by_time_then_row(times, view.rows, out, keys);
            Ok(())
        }
    }
}

/// `out` from a stored order, checked: every position inside the user and (timestamp,
/// row) strictly increasing along it — `k` positions in range with distinct keys are
/// each position once, so it is the order [`by_time_then_row`] gives.
fn read_order(
    order: &[u32],
    times: Option<&[i64]>,
    rows: &[u64],
    out: &mut Vec<(i64, u64, u32)>,
) -> Result<(), String> {
    let k = rows.len();
    if let Some(j) = order.iter().find(|&&j| j as usize >= k) {
        return Err(format!("position {j} is outside its {k} interactions"));
    }
    out.clear();
    match times {
        Some(t) => out.extend(order.iter().map(|&j| (t[j as usize], rows[j as usize], j))),
        None => out.extend(order.iter().map(|&j| (0, rows[j as usize], j))),
    }
    match out
        .windows(2)
        .find(|w| (w[0].0, w[0].1) >= (w[1].0, w[1].1))
    {
        Some(w) => Err(format!(
            "position {} (timestamp {}, row {}) is out of (timestamp, row) order or repeated",
            w[1].2, w[1].0, w[1].1
        )),
        None => Ok(()),
    }
}

/// Users are ordered in pieces of about this many interactions, in parallel.
const PIECE: usize = 1 << 16;

/// The `time_order` section of a store with these columns: each user's positions in
/// (timestamp, row) order, users one after another — or `None` when every user's
/// interactions are in that order already (the identity needs no section).
pub fn time_order(indptr: &[u64], rows: &[u64], times: Option<&[i64]>) -> Option<Vec<u32>> {
    is_needed(indptr, rows, times).then(|| compute(indptr, rows, times))
}

/// Whether a store with these columns has a `time_order` section: some user's
/// interactions are out of (timestamp, row) order. A quick scan, so that the store's
/// layout is known before [`compute`] runs (the writer streams the other sections
/// meanwhile).
pub fn is_needed(indptr: &[u64], rows: &[u64], times: Option<&[i64]>) -> bool {
    // Columns that are no CSR (written only to test that `verify` names them) get no
    // section rather than a panic.
    let csr = indptr.first() == Some(&0)
        && indptr.last() == Some(&(rows.len() as u64))
        && indptr.windows(2).all(|w| w[0] <= w[1])
        && times.is_none_or(|t| t.len() == rows.len());
    let users = indptr.len().saturating_sub(1);
    csr && !(0..users)
        .into_par_iter()
        .all(|u| in_order(indptr, rows, times, u))
}

/// Whether user `u`'s interactions are in (timestamp, row) order already.
fn in_order(indptr: &[u64], rows: &[u64], times: Option<&[i64]>, u: usize) -> bool {
    let key = |p: usize| (times.map_or(0, |t| t[p]), rows[p]);
    (indptr[u] as usize + 1..indptr[u + 1] as usize).all(|p| key(p - 1) < key(p))
}

/// The `time_order` section's contents, for columns [`is_needed`] accepted.
pub fn compute(indptr: &[u64], rows: &[u64], times: Option<&[i64]>) -> Vec<u32> {
    let span = |u: usize| indptr[u] as usize..indptr[u + 1] as usize;
    let users = indptr.len().saturating_sub(1);
    let mut order = vec![0u32; rows.len()];
    let mut pieces = Vec::new();
    let (mut rest, mut first) = (&mut order[..], 0);
    while first < users {
        let start = indptr[first] as usize;
        let last = (first + 1..users)
            .find(|&u| indptr[u + 1] as usize - start >= PIECE)
            .map_or(users, |u| u + 1);
        let (piece, tail) = rest.split_at_mut(indptr[last] as usize - start);
        pieces.push((first..last, piece));
        (rest, first) = (tail, last);
    }
    pieces.into_par_iter().for_each_init(
        || (Vec::new(), Vec::new()),
        |scratch, (users, piece)| {
            let base = indptr[users.start] as usize;
            for u in users {
                let (span, at) = (span(u), span(u).start - base);
                let out = &mut piece[at..at + span.len()];
                if in_order(indptr, rows, times, u) {
                    out.iter_mut().zip(0..).for_each(|(o, j)| *o = j);
                } else {
                    let times = times.map(|t| &t[span.clone()]);
                    positions_in_order(times, &rows[span], out, scratch);
                }
            }
        },
    );
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition: the tuples sorted.
    fn reference(times: Option<&[i64]>, rows: &[u64]) -> Vec<(i64, u64, u32)> {
        let time = |j: usize| times.map_or(0, |t| t[j]);
        let mut out: Vec<_> = (0..rows.len())
            .map(|j| (time(j), rows[j], j as u32))
            .collect();
        out.sort_unstable();
        out
    }

    fn check(times: Option<&[i64]>, rows: &[u64]) {
        let (mut out, mut keys) = (Vec::new(), Vec::new());
        by_time_then_row(times, rows, &mut out, &mut keys);
        assert_eq!(out, reference(times, rows), "times {times:?} rows {rows:?}");
    }

    /// Distinct rows from `raw` (rows are unique within a store).
    fn distinct(raw: Vec<u64>) -> Vec<u64> {
        let mut seen = std::collections::HashSet::new();
        raw.into_iter().filter(|r| seen.insert(*r)).collect()
    }

    proptest! {
        #[test]
        fn matches_the_tuple_sort_with_ties(
            raw in proptest::collection::vec((0i64..5, 0u64..10_000), 0..80),
        ) {
            let rows = distinct(raw.iter().map(|e| e.1).collect());
            let times: Vec<i64> = raw.iter().take(rows.len()).map(|e| e.0).collect();
            check(Some(&times), &rows);
            check(None, &rows);
        }

        #[test]
        fn matches_the_tuple_sort_over_any_span(
            raw in proptest::collection::vec((any::<i64>(), any::<u64>()), 0..40),
        ) {
            // Full-range values take the fallback; the same shifted down do not.
            let rows = distinct(raw.iter().map(|e| e.1).collect());
            let times: Vec<i64> = raw.iter().take(rows.len()).map(|e| e.0).collect();
            check(Some(&times), &rows);
            check(None, &rows);
            let small: Vec<i64> = times.iter().map(|t| t >> 20).collect();
            check(Some(&small), &rows);
        }
    }

    #[test]
    fn the_extremes_of_both_keys() {
        check(Some(&[i64::MAX, i64::MIN, 0, -1]), &[3, 2, 1, 0]);
        check(Some(&[7, 7, 7]), &[u64::MAX, 0, u64::MAX - 1]);
        check(None, &[u64::MAX, 0, 5]);
        check(Some(&[]), &[]);
        check(Some(&[5]), &[9]);
    }

    /// A user's view over `rows` and `times`, with `order` as its stored time order.
    fn view<'a>(
        rows: &'a [u64],
        times: Option<&'a [i64]>,
        order: Option<&'a [u32]>,
    ) -> UserView<'a> {
        UserView {
            items: &[],
            rows,
            timestamps: times,
            time_order: order,
            key: 0,
            start: 0,
        }
    }

    /// `of_user` over a stored order, or the error's message.
    fn read(
        rows: &[u64],
        times: Option<&[i64]>,
        order: &[u32],
        by_time: bool,
    ) -> Result<Vec<(i64, u64, u32)>, String> {
        let (mut out, mut keys) = (Vec::new(), Vec::new());
        of_user(
            &view(rows, times, Some(order)),
            by_time,
            &mut out,
            &mut keys,
        )
        .map(|()| out)
        .map_err(|e| e.to_string())
    }

    proptest! {
        /// The section written for a store's columns reads back, user by user, as the
        /// sort gives — for timestamps with ties (narrow and wide), and for rows alone.
        #[test]
        fn the_stored_order_reads_back_as_the_sort(
            users in proptest::collection::vec(
                proptest::collection::vec((0i64..4, 0u64..1_000), 0..40), 0..12),
            timed in any::<bool>(),
            wide in any::<bool>(),
        ) {
            let (mut indptr, mut rows, mut times) = (vec![0u64], Vec::new(), Vec::new());
            for user in &users {
                let distinct = distinct(user.iter().map(|e| e.1 + 1_000 * indptr.len() as u64).collect());
                // Wide times span more than a word holds with the positions: the tuple sort.
                let time = |t: i64| if wide { t.wrapping_mul(i64::MAX / 2) } else { t };
                times.extend(user.iter().take(distinct.len()).map(|e| time(e.0)));
                rows.extend(distinct);
                indptr.push(rows.len() as u64);
            }
            let times = timed.then_some(&times[..]);
            let order = time_order(&indptr, &rows, times);
            for w in indptr.windows(2) {
                let span = w[0] as usize..w[1] as usize;
                let (rows, times) = (&rows[span.clone()], times.map(|t| &t[span.clone()]));
                let expected = reference(times, rows);
                match &order {
                    Some(order) => {
                        let order = &order[span];
                        prop_assert_eq!(read(rows, times, order, true), Ok(expected));
                        // By row alone, the stored order serves only a store without times.
                        let (mut out, mut keys) = (Vec::new(), Vec::new());
                        of_user(&view(rows, times, Some(order)), false, &mut out, &mut keys).unwrap();
                        prop_assert_eq!(out, reference(None, rows));
                    }
                    // No section: every user was in order already.
                    None => prop_assert!(expected.iter().zip(0..).all(|(e, j)| e.2 == j)),
                }
            }
        }
    }

    #[test]
    fn a_stored_order_that_is_not_one_is_named() {
        let (rows, times) = ([10, 11, 12], [9, 7, 8]);
        assert_eq!(
            read(&rows, Some(&times), &[1, 2, 0], true).unwrap(),
            [(7, 11, 1), (8, 12, 2), (9, 10, 0)]
        );
        for (order, needle) in [
            (&[1, 2, 3][..], "position 3 is outside its 3 interactions"),
            (
                &[1, 1, 0],
                "position 1 (timestamp 7, row 11) is out of (timestamp, row) order or repeated",
            ),
            (&[2, 1, 0], "position 1 (timestamp 7, row 11) is out of"),
            (&[0, 1, 2], "position 1 (timestamp 7, row 11) is out of"),
        ] {
            let message = read(&rows, Some(&times), order, true).unwrap_err();
            assert!(
                message.contains(needle) && message.contains("interactions 0..3"),
                "{message}"
            );
        }
        // Ties in time are ordered by row.
        assert!(read(&rows, Some(&[1, 1, 1]), &[1, 0, 2], true)
            .unwrap_err()
            .contains("out of"));
        assert_eq!(
            read(&rows, None, &[0, 1, 2], true).unwrap(),
            reference(None, &rows)
        );
    }
}
