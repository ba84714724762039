//! A model's user and item vectors, for hard negatives: read from `.npy` files saved by
//! NumPy and checked — shape, dtype, one row per user and per item of the store, every
//! value finite — before any sampling, and the score of a (user, item) pair.

use crate::config::Hard;
use crate::EngineError;
use negsamp_kernel::hard::dot;
use std::path::Path;

/// User and item vectors of one dimension, row-major, in the store's index order.
#[derive(Debug, Clone)]
pub struct Embeddings {
    users: Vec<f32>,
    items: Vec<f32>,
    dim: usize,
}

impl Embeddings {
    /// Reads `--user-emb` and `--item-emb` for a store of `n_users` × `n_items`.
    pub fn load(hard: &Hard, n_users: u32, n_items: u32) -> Result<Self, EngineError> {
        let (users, user_dim) = read_matrix(&hard.user_emb, n_users, "user")?;
        let (items, item_dim) = read_matrix(&hard.item_emb, n_items, "item")?;
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

/// A `[rows, d]` `<f4` matrix with finite values; `side` names the flag's rows.
fn read_matrix(path: &Path, rows: u32, side: &str) -> Result<(Vec<f32>, usize), EngineError> {
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
    if info.len != u64::from(rows) {
        return Err(bad(format!(
            "{} rows; the store has {rows} {side}s, and row r must be the vector of the store's {side} r ({side}s.txt order)",
            info.len
        )));
    }
    let values: Vec<f32> = crate::npy::decode(&bytes).map_err(|e| bad(e.to_string()))?;
    let dim = dim as usize;
    if let Some(bad_at) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!(
            "{side} row {} holds {}; every value must be finite",
            bad_at / dim,
            values[bad_at]
        )));
    }
    Ok((values, dim))
}
