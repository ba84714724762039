//! Cutting users into parts and work chunks.
//!
//! Both cuts use the *estimated* output rows of a user prefix, which is a closed form
//! of `indptr` (positives plus requested negatives), so planning is O(log users) per
//! part boundary and never looks at the data. The estimate is exact unless users fall
//! short of candidates.

use crate::config::{Amount, SampleConfig};
use crate::schema::Schema;
use std::ops::Range;

/// Estimated rows of the first `users` users.
pub fn estimated_rows(indptr: &[u64], users: usize, config: &SampleConfig) -> u64 {
    let positives = indptr[users];
    let kept = if config.negatives_only { 0 } else { positives };
    // Saturating: absurd ratios must give a huge estimate, not a wrapped one.
    kept.saturating_add(match config.amount {
        Amount::Ratio(r) => u64::from(r).saturating_mul(positives),
        // users without positives get nothing; counting them anyway only shifts cuts
        Amount::PerUser(n) => u64::from(n).saturating_mul(users as u64),
    })
}

/// Estimated output bytes of the whole run, in `schema`'s `.npy` columns.
pub fn estimated_bytes(indptr: &[u64], config: &SampleConfig, schema: &Schema) -> u64 {
    let n_users = indptr.len() - 1;
    let positives = indptr[n_users];
    let rows = estimated_rows(indptr, n_users, config);
    let positive_rows = if config.negatives_only { 0 } else { positives };
    schema.estimated_bytes(positives, positive_rows, rows - positive_rows)
}

/// The user ranges of the parts: `config.shards` of them, or as many as keep each near
/// `target_part_bytes`; cut where the estimated rows cross equal fractions.
pub fn parts(indptr: &[u64], config: &SampleConfig, schema: &Schema) -> Vec<Range<u32>> {
    let n_users = indptr.len() - 1;
    let total = estimated_rows(indptr, n_users, config);
    let count = match config.shards {
        Some(n) => u64::from(n),
        None => estimated_bytes(indptr, config, schema)
            .div_ceil(config.target_part_bytes)
            .clamp(1, (n_users as u64).max(1)),
    };
    let mut cuts = Vec::with_capacity(count as usize + 1);
    cuts.push(0usize);
    for k in 1..count {
        let goal = (u128::from(total) * u128::from(k) / u128::from(count)) as u64;
        // first prefix whose estimate reaches the goal
        let (mut lo, mut hi) = (*cuts.last().expect("non-empty"), n_users);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if estimated_rows(indptr, mid, config) < goal {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        cuts.push(lo);
    }
    cuts.push(n_users);
    cuts.windows(2).map(|w| w[0] as u32..w[1] as u32).collect()
}

/// Work chunks of a part: consecutive users with at most `config.chunk_rows` estimated
/// rows each, except that a user bigger than that is a chunk alone.
pub fn chunks(indptr: &[u64], part: Range<u32>, config: &SampleConfig) -> Vec<Range<u32>> {
    let mut out = Vec::new();
    let mut start = part.start;
    while start < part.end {
        let base = estimated_rows(indptr, start as usize, config);
        let mut end = start + 1;
        while end < part.end
            && estimated_rows(indptr, end as usize + 1, config) - base <= config.chunk_rows
        {
            end += 1;
        }
        out.push(start..end);
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Layout;
    use crate::schema::{Column, ColumnKind, Dtype};

    fn config(shards: Option<u32>) -> SampleConfig {
        SampleConfig {
            shards,
            chunk_rows: 10,
            ..Default::default()
        }
    }

    /// A schema of `bytes` per row.
    fn schema(bytes: usize, layout: Layout) -> Schema {
        Schema {
            columns: vec![Column::new("x", ColumnKind::User, Dtype::U8, bytes)],
            pad: 0,
            layout,
        }
    }

    #[test]
    fn parts_cover_every_user_once_and_balance_rows() {
        let indptr: Vec<u64> = (0..=100u64).map(|u| u * 3).collect();
        for shards in [1u32, 2, 3, 7, 100, 150] {
            let parts = parts(&indptr, &config(Some(shards)), &schema(25, Layout::Long));
            assert_eq!(parts.len(), shards as usize);
            assert_eq!(parts[0].start, 0);
            assert_eq!(parts.last().unwrap().end, 100);
            assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
        }
        let halves = parts(&indptr, &config(Some(2)), &schema(25, Layout::Long));
        assert_eq!(halves, [0..50, 50..100]);
    }

    #[test]
    fn default_parts_are_about_a_target_size() {
        let indptr: Vec<u64> = (0..=1000u64).map(|u| u * 10).collect();
        // 10k positives, 1:1 → 20k rows × 25 bytes = 500 kB; 100 kB parts → 5
        let c = SampleConfig {
            target_part_bytes: 100_000,
            ..Default::default()
        };
        assert_eq!(parts(&indptr, &c, &schema(25, Layout::Long)).len(), 5);
        // wide: 10k rows (one per positive) × 50 bytes = 500 kB → 5
        assert_eq!(parts(&indptr, &c, &schema(50, Layout::Wide)).len(), 5);
    }

    #[test]
    fn chunks_isolate_heavy_users() {
        let indptr = [0u64, 1, 2, 1000, 1001, 1002];
        let chunks = chunks(&indptr, 0..5, &config(None));
        assert_eq!(chunks, [0..2, 2..3, 3..5]);
    }
}
