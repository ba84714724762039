//! What `negsamp info` reports about a store.

use crate::{Store, StoreError};
use rayon::prelude::*;
use serde::Serialize;

/// Order statistics of a distribution of counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    pub min: u64,
    pub median: u64,
    pub mean: f64,
    pub p99: u64,
    pub max: u64,
}

impl Distribution {
    /// Summarises `values`, sorting them in place.
    pub fn of(values: &mut [u64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.par_sort_unstable();
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Some(Self {
            min: values[0],
            median: at(0.5),
            mean: values.iter().sum::<u64>() as f64 / values.len() as f64,
            p99: at(0.99),
            max: values[values.len() - 1],
        })
    }
}

/// The description of a store.
#[derive(Debug, Clone, Serialize)]
pub struct StoreInfo {
    pub users: u64,
    pub items: u64,
    /// Distinct (user, item) pairs.
    pub interactions: u64,
    /// interactions / (users × items).
    pub density: f64,
    pub has_timestamps: bool,
    /// Smallest and largest timestamp, when present, and their unit.
    pub time_range: Option<(i64, i64)>,
    pub time_unit: Option<crate::time::TimeUnit>,
    /// Interactions per user.
    pub user_degree: Option<Distribution>,
    /// Interactions per item (the popularity of the popularity strategy).
    pub item_popularity: Option<Distribution>,
    /// Share of all interactions held by the most popular 1% of items (at least one).
    pub top_1pct_items_share: f64,
    /// Items of the catalog nobody interacted with.
    pub untouched_items: u64,
    /// The store fingerprint, as recorded in output manifests.
    pub fingerprint: String,
    /// Kept columns as `name (type)`.
    pub kept: Vec<String>,
    /// The version of `store.bin`'s format.
    pub format_version: u32,
    /// Whether the store holds each user's (timestamp, row) order (format 4, when some
    /// user's interactions are not in that order already); without it `sample` and
    /// `verify` sort each user.
    pub time_order_stored: bool,
}

/// Scans a store (O(interactions), in parallel) and describes it.
pub fn describe(store: &Store) -> Result<StoreInfo, StoreError> {
    let counts = store.counts();
    let mut degrees: Vec<u64> = store.indptr().windows(2).map(|w| w[1] - w[0]).collect();
    let mut popularity = item_popularity(store.indices(), store.n_items())?;
    let untouched_items = popularity.iter().filter(|&&c| c == 0).count() as u64;
    let user_degree = Distribution::of(&mut degrees);
    let item_pop = Distribution::of(&mut popularity);
    let top = (popularity.len().div_ceil(100))
        .max(1)
        .min(popularity.len());
    let top_sum: u64 = popularity.iter().rev().take(top).sum();
    let time_range = store.timestamps().and_then(crate::time::range);
    let cells = counts.users as f64 * counts.items as f64;
    Ok(StoreInfo {
        users: counts.users,
        items: counts.items,
        interactions: counts.interactions,
        density: if cells > 0.0 {
            counts.interactions as f64 / cells
        } else {
            0.0
        },
        has_timestamps: store.has_timestamps(),
        time_range,
        time_unit: store.time_unit(),
        user_degree,
        item_popularity: item_pop,
        top_1pct_items_share: if counts.interactions > 0 {
            top_sum as f64 / counts.interactions as f64
        } else {
            0.0
        },
        untouched_items,
        fingerprint: format!("{:016x}", store.fingerprint()),
        format_version: store.format_version(),
        time_order_stored: store.time_order().is_some(),
        kept: store
            .kept_columns()
            .iter()
            .map(|c| format!("{} ({})", c.name, c.value_type))
            .collect(),
    })
}

/// Interactions per item index.
///
/// The catalog size comes from the store's header, so the counters (one array per
/// worker) are probed for before they are allocated: a header claiming 2^32 − 1 items
/// is an error here, not an abort.
pub fn item_popularity(indices: &[u32], n_items: u32) -> Result<Vec<u64>, StoreError> {
    let arrays = rayon::current_num_threads() as u64 + 1;
    let bytes = u64::from(n_items) * 8 * arrays;
    let mut probe: Vec<u8> = Vec::new();
    probe
        .try_reserve_exact(bytes as usize)
        .map_err(|_| StoreError::TooLarge {
            what: format!("counting the interactions of {n_items} items"),
            bytes,
        })?;
    drop(probe);
    Ok(indices
        .par_chunks(1 << 20)
        .fold(
            || vec![0u64; n_items as usize],
            |mut acc, chunk| {
                for &i in chunk {
                    if let Some(c) = acc.get_mut(i as usize) {
                        *c += 1;
                    }
                }
                acc
            },
        )
        .reduce(
            || vec![0u64; n_items as usize],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        ))
}
