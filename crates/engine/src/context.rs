//! What a run needs besides the store and the parameters: the item weights of the
//! popularity strategy, the per-user exclusions and a model's embeddings (hard
//! negatives). Built once per run — and again by
//! `verify`, which must check rows against exactly the same candidates.

use crate::config::{SampleConfig, Strategy};
use crate::embeddings::Embeddings;
use crate::EngineError;
use negsamp_kernel::weighted::Weights;
use negsamp_store::stats::item_popularity;
use negsamp_store::Store;
use std::collections::HashMap;
use std::path::Path;

/// Items that must not be drawn for a user beyond their positives, CSR-shaped.
#[derive(Debug, Default, Clone)]
pub struct Exclusions {
    indptr: Vec<u64>,
    items: Vec<u32>,
    /// Pairs of the file dropped by `--skip-unknown`.
    pub skipped: u64,
}

impl Exclusions {
    /// The extra excluded items of user `u`, ascending (empty without `--exclude`).
    pub fn of(&self, u: u32) -> &[u32] {
        match (self.indptr.get(u as usize), self.indptr.get(u as usize + 1)) {
            (Some(&s), Some(&e)) => &self.items[s as usize..e as usize],
            _ => &[],
        }
    }

    /// Distinct (user, item) pairs excluded beyond positives.
    pub fn len(&self) -> u64 {
        self.items.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Reads a CSV with `user` and `item` columns of original ids.
    fn load(path: &Path, store: &Store, skip_unknown: bool) -> Result<Self, EngineError> {
        let pairs =
            negsamp_store::csv::read_pairs(path, "user", "item").map_err(EngineError::Exclude)?;
        let index = |ids: Vec<String>| -> HashMap<String, u32> {
            ids.into_iter()
                .enumerate()
                .map(|(i, id)| (id, i as u32))
                .collect()
        };
        let users = index(store.user_ids()?);
        let items = index(store.item_ids()?);
        let mut by_user: Vec<(u32, u32)> = Vec::with_capacity(pairs.len());
        let mut skipped = 0;
        for (line, (user, item)) in pairs.iter().enumerate() {
            match (users.get(user), items.get(item)) {
                (Some(&u), Some(&i)) => by_user.push((u, i)),
                _ if skip_unknown => skipped += 1,
                (u, _) => {
                    let (what, id) = if u.is_none() {
                        ("user", user)
                    } else {
                        ("item", item)
                    };
                    return Err(EngineError::invalid(
                        path,
                        format!("line {}: {what} {id:?} is not in the store; pass --skip-unknown to skip such pairs", line + 2),
                    ));
                }
            }
        }
        by_user.sort_unstable();
        by_user.dedup();
        let mut indptr = vec![0u64; store.n_users() as usize + 1];
        for &(u, _) in &by_user {
            indptr[u as usize + 1] += 1;
        }
        for u in 0..store.n_users() as usize {
            indptr[u + 1] += indptr[u];
        }
        Ok(Self {
            indptr,
            items: by_user.into_iter().map(|(_, i)| i).collect(),
            skipped,
        })
    }
}

/// Everything a run samples against, derived from the store and the parameters.
#[derive(Debug)]
pub struct Context {
    /// The item weights (popularity strategy only).
    pub weights: Option<Weights>,
    pub exclusions: Exclusions,
    /// The model's vectors (hard negatives only).
    pub embeddings: Option<Embeddings>,
}

impl Context {
    pub fn load(store: &Store, config: &SampleConfig) -> Result<Self, EngineError> {
        let weights = match config.strategy {
            Strategy::Uniform => None,
            Strategy::Popularity { alpha } => {
                let raw = match &config.weights {
                    Some(path) => read_weights(path, store.n_items())?,
                    None => popularity_weights(store, alpha)?,
                };
                // read_weights and popularity_weights have checked every value.
                Some(Weights::new(&raw).map_err(|e| EngineError::Config(format!("weights: {e}")))?)
            }
        };
        let exclusions = match &config.exclude {
            Some(path) => Exclusions::load(path, store, config.skip_unknown)?,
            None => Exclusions::default(),
        };
        let embeddings = match &config.hard {
            Some(hard) => Some(Embeddings::load(hard, store)?),
            None => None,
        };
        Ok(Self {
            weights,
            exclusions,
            embeddings,
        })
    }
}

/// `popularity(i)^alpha`, popularity being the item's interaction count; items nobody
/// touched weigh 0 for every alpha.
pub fn popularity_weights(store: &Store, alpha: f64) -> Result<Vec<f64>, EngineError> {
    weights_from_counts(&item_popularity(store.indices(), store.n_items())?, alpha)
}

/// The popularity law's weights from per-item interaction counts: `count^alpha`, 0 for
/// an item nobody touched. The one definition: a distributed run (the Python package's
/// Spark job) computes counts itself and gets its weights here, so its draws equal a
/// store's.
pub fn weights_from_counts(counts: &[u64], alpha: f64) -> Result<Vec<f64>, EngineError> {
    let weight = |c: u64| if c == 0 { 0.0 } else { (c as f64).powf(alpha) };
    match counts.iter().position(|&c| !weight(c).is_finite()) {
        Some(i) => Err(EngineError::Config(format!(
            "--alpha {alpha}: item {i}'s weight (its {} interactions to the power {alpha}) overflows a float; use a smaller --alpha",
            counts[i]
        ))),
        None => Ok(counts.iter().map(|&c| weight(c)).collect()),
    }
}

/// A `.npy` of `<f8` or `<f4`, one weight per item index.
fn read_weights(path: &Path, n_items: u32) -> Result<Vec<f64>, EngineError> {
    let bad = |problem: String| EngineError::invalid(path, problem);
    let bytes = std::fs::read(path).map_err(|e| EngineError::io(path, e))?;
    let info = crate::npy::parse_header(&bytes).map_err(|e| bad(e.to_string()))?;
    let weights: Vec<f64> = match info.descr.as_str() {
        "<f8" => crate::npy::read::<f64>(path).map_err(|e| bad(e.to_string()))?,
        "<f4" => crate::npy::read::<f32>(path)
            .map_err(|e| bad(e.to_string()))?
            .into_iter()
            .map(f64::from)
            .collect(),
        other => {
            return Err(bad(format!(
                "dtype {other}; weights must be float64 (<f8) or float32 (<f4)"
            )))
        }
    };
    if weights.len() != n_items as usize {
        return Err(bad(format!(
            "{} weights for a catalog of {n_items} items",
            weights.len()
        )));
    }
    if let Some((i, w)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !w.is_finite() || **w < 0.0)
    {
        return Err(bad(format!(
            "weight {w} of item {i} (line {} of items.txt); weights must be finite and >= 0",
            i + 1
        )));
    }
    Ok(weights)
}

/// How many items a user with `excluded` (sorted, unique) can be given: every other
/// item, or, weighted, every other item of positive weight. Verify counts the same way.
pub fn candidate_count(context: &Context, n_items: u32, excluded: &[u32]) -> u64 {
    match &context.weights {
        None => u64::from(n_items) - excluded.len() as u64,
        Some(w) => {
            w.positive_items() - excluded.iter().filter(|&&i| w.weight(i) > 0).count() as u64
        }
    }
}
