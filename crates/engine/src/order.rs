//! A user's positives in (timestamp, row) order: the order anchors are emitted in and
//! histories are read in. Sorted once per user per run, as 24-byte tuples compared
//! field by field it was a sixth of `sample`'s CPU (`perf`); here it is usually a sort
//! of plain `u64` keys, which took `sample`'s user time on a 17M store from 0.95 to
//! 0.88 s (one thread, medians of 5, interleaved).

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
    out.clear();
    let k = rows.len();
    if k == 0 {
        return;
    }
    // The primary key as an unsigned offset from its least value: the timestamp's
    // (sign flipped, so negative times come first), or the row's.
    let primary = |j: usize| match times {
        Some(t) => (t[j] as u64) ^ (1 << 63),
        None => rows[j],
    };
    let position_bits = usize::BITS - k.leading_zeros();
    let least = (0..k).map(primary).min().unwrap_or(0);
    let span = (0..k).map(primary).max().unwrap_or(0) - least;
    if position_bits >= 64 || span >> (64 - position_bits) != 0 {
        // The offsets and positions do not fit one word together: compare the tuples.
        out.extend((0..k).map(|j| (time(j), rows[j], j as u32)));
        out.sort_unstable();
        return;
    }
    keys.clear();
    keys.extend((0..k).map(|j| ((primary(j) - least) << position_bits) | j as u64));
    keys.sort_unstable();
    let mask = (1u64 << position_bits) - 1;
    out.extend(keys.iter().map(|&key| {
        let j = (key & mask) as usize;
        (time(j), rows[j], j as u32)
    }));
    if times.is_some() {
        // Equal timestamps came out in position order; their order is by row.
        for tie in out.chunk_by_mut(|a, b| a.0 == b.0) {
            if tie.len() > 1 {
                tie.sort_unstable_by_key(|&(_, row, _)| row);
            }
        }
    }
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
}
