//! A model's user and item vectors, for hard negatives: read from `.npy` files saved by
//! NumPy and checked — shape, dtype, one row per user and per item of the store (in the
//! store's order, or the model's with an id file naming each row), every value finite —
//! before any sampling, and the score of a (user, item) pair.

use crate::config::Hard;
use crate::EngineError;
use negsamp_kernel::hard::dot;
use negsamp_store::Store;
use std::path::Path;

/// User and item vectors of one dimension, row-major, in the store's index order.
#[derive(Debug, Clone)]
pub struct Embeddings {
    users: Vec<f32>,
    items: Vec<f32>,
    dim: usize,
}

impl Embeddings {
    /// Reads `--user-emb` and `--item-emb` for `store`: rows in the store's order, or
    /// in the model's own order named by `--user-emb-ids` / `--item-emb-ids`.
    pub fn load(hard: &Hard, store: &Store) -> Result<Self, EngineError> {
        let user = Side::new("user", &hard.user_emb, hard.user_ids.as_deref());
        let item = Side::new("item", &hard.item_emb, hard.item_ids.as_deref());
        let (users, user_dim) = user.load(store.n_users(), || Ok(store.user_ids()?))?;
        let (items, item_dim) = item.load(store.n_items(), || Ok(store.item_ids()?))?;
        if user_dim != item_dim {
            return Err(EngineError::Config(format!(
                "--user-emb has {user_dim} dimensions and --item-emb {item_dim}; a score is their dot product, so they must agree"
            )));
        }
        Ok(Self {
            users,
            items,
            dim: user_dim,
        })
    }

    /// The model's score of item `i` for user `u`: the dot product of their rows
    /// ([`dot`]: a fixed summation order, so every run, thread and verify gets the same
    /// bits).
    pub fn score(&self, u: u32, i: u32) -> f32 {
        let (d, u, i) = (self.dim, u as usize, i as usize);
        dot(
            &self.users[u * d..(u + 1) * d],
            &self.items[i * d..(i + 1) * d],
        )
    }
}

/// One side's files: the vectors and, optionally, the original id of each row.
struct Side<'a> {
    name: &'static str,
    vectors: &'a Path,
    ids: Option<&'a Path>,
}

impl<'a> Side<'a> {
    fn new(name: &'static str, vectors: &'a Path, ids: Option<&'a Path>) -> Self {
        Self { name, vectors, ids }
    }

    /// The vectors of the store's `count` users or items, in the store's order.
    fn load(
        &self,
        count: u32,
        store_ids: impl FnOnce() -> Result<Vec<String>, EngineError>,
    ) -> Result<(Vec<f32>, usize), EngineError> {
        let (name, bad) = (self.name, |p| EngineError::invalid(self.vectors, p));
        let (values, rows, dim) = read_matrix(self.vectors, name)?;
        let Some(ids_path) = self.ids else {
            if rows != u64::from(count) {
                return Err(bad(format!(
                    "{rows} rows; the store has {count} {name}s, and row r must be the vector of the store's {name} r ({name}s.txt order) — or name each row's id with --{name}-emb-ids"
                )));
            }
            return Ok((values, dim));
        };
        let model_ids = read_ids(ids_path)?;
        if model_ids.len() as u64 != rows {
            return Err(bad(format!(
                "{rows} rows, and {} names {} ids: one per row",
                ids_path.display(),
                model_ids.len()
            )));
        }
        let mut row_of = std::collections::HashMap::with_capacity(model_ids.len());
        for (row, id) in model_ids.iter().enumerate() {
            if row_of.insert(id.as_str(), row).is_some() {
                return Err(EngineError::invalid(
                    ids_path,
                    format!("{name} {id:?} appears twice (line {})", row + 1),
                ));
            }
        }
        // Reordered into the store's order; the model's rows for ids the store does not
        // hold are not needed.
        let mut ordered = Vec::with_capacity(count as usize * dim);
        for (index, id) in store_ids()?.iter().enumerate() {
            let Some(&row) = row_of.get(id.as_str()) else {
                return Err(EngineError::invalid(
                    ids_path,
                    format!(
                        "no vector for the store's {name} {id:?} ({name}s.txt line {}); every {name} of the store needs one",
                        index + 1
                    ),
                ));
            };
            ordered.extend_from_slice(&values[row * dim..(row + 1) * dim]);
        }
        Ok((ordered, dim))
    }
}

/// One original id per line, UTF-8, as `users.txt` and `items.txt` hold them.
fn read_ids(path: &Path) -> Result<Vec<String>, EngineError> {
    let text = std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))?;
    let mut ids: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if ids.last().is_some_and(String::is_empty) {
        ids.pop();
    }
    Ok(ids)
}

/// A `[rows, d]` `<f4` matrix with finite values; `side` names its rows.
fn read_matrix(path: &Path, side: &str) -> Result<(Vec<f32>, u64, usize), EngineError> {
    let bad = |problem: String| EngineError::invalid(path, problem);
    let bytes = std::fs::read(path).map_err(|e| EngineError::io(path, e))?;
    let info = crate::npy::parse_header(&bytes).map_err(|e| bad(e.to_string()))?;
    if info.descr != "<f4" {
        return Err(bad(format!(
            "dtype {}; {side} embeddings must be float32 (<f4): save them with .astype(np.float32)",
            info.descr
        )));
    }
    let Some(dim) = info.width.filter(|&d| d > 0) else {
        return Err(bad(format!(
            "not a [{side}s, dimensions] matrix (shape ({},)); save the 2-D array",
            info.len
        )));
    };
    let values: Vec<f32> = crate::npy::decode(&bytes).map_err(|e| bad(e.to_string()))?;
    let dim = dim as usize;
    if let Some(bad_at) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!(
            "{side} row {} holds {}; every value must be finite",
            bad_at / dim,
            values[bad_at]
        )));
    }
    Ok((values, info.len, dim))
}
