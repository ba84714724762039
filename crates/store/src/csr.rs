//! A store from a compressed sparse row matrix (rows are users, columns items, stored
//! entries positives): what `scipy.sparse` and the Python package hand over.
//!
//! The matrix must be canonical — per row, column indices strictly ascending (scipy:
//! `sort_indices()` and `sum_duplicates()`) — and is checked before anything is
//! written. An entry's anchor row is its position in `indices`, as a CSV written row
//! by row would give; there are no timestamps. Users are named by `user_ids` (else
//! their row numbers, as text) and items by `item_ids` (else their column numbers):
//! a user's stream is keyed by that id, so the draws equal those of a store ingested
//! from the same interactions under the same ids. Rows without entries are kept
//! (such users get no rows).

use crate::ids::Interner;
use crate::write::{write_store_dir, Columns, PublishOptions};
use crate::IngestError;
use negsamp_kernel::stream::user_key;
use std::path::Path;

/// A borrowed CSR matrix and optional original ids.
#[derive(Debug, Clone, Copy)]
pub struct Csr<'a> {
    pub indptr: &'a [u64],
    pub indices: &'a [u32],
    pub n_items: u32,
    pub user_ids: Option<&'a [String]>,
    pub item_ids: Option<&'a [String]>,
    /// Each entry's anchor row (default: its position in `indices`).
    pub rows: Option<&'a [u64]>,
}

impl Csr<'_> {
    /// Checks the shape and canonical order; returns the number of users.
    pub fn check(&self) -> Result<u32, IngestError> {
        let bad = |problem: String| IngestError::BadMatrix {
            what: "the CSR matrix".into(),
            problem,
        };
        let users =
            self.indptr.len().checked_sub(1).ok_or_else(|| {
                bad("indptr is empty; it holds one offset per row plus one".into())
            })?;
        let users = u32::try_from(users)
            .map_err(|_| bad(format!("{users} rows; negsamp indexes users with u32")))?;
        if self.indptr[0] != 0 || self.indptr[users as usize] != self.indices.len() as u64 {
            return Err(bad(format!(
                "indptr runs from {} to {}, but must run from 0 to len(indices) = {}",
                self.indptr[0],
                self.indptr[users as usize],
                self.indices.len()
            )));
        }
        for (u, w) in self.indptr.windows(2).enumerate() {
            if w[1] < w[0] {
                return Err(bad(format!("indptr decreases at row {u}")));
            }
            let row = &self.indices[w[0] as usize..w[1] as usize];
            if let Some(&item) = row.iter().find(|&&i| i >= self.n_items) {
                return Err(bad(format!(
                    "row {u} holds column {item}, outside the {} items",
                    self.n_items
                )));
            }
            if row.windows(2).any(|p| p[1] <= p[0]) {
                return Err(bad(format!(
                    "row {u}'s column indices are not strictly ascending; call sort_indices() and sum_duplicates() on the matrix first"
                )));
            }
        }
        for (ids, n, name) in [
            (self.user_ids, users as usize, "user_ids"),
            (self.item_ids, self.n_items as usize, "item_ids"),
        ] {
            if let Some(ids) = ids.filter(|ids| ids.len() != n) {
                return Err(bad(format!(
                    "{name} holds {} ids for {n} rows/columns",
                    ids.len()
                )));
            }
        }
        Ok(users)
    }
}

/// Writes the store of `csr` at `dest` (published atomically, like an ingest); returns
/// the store's fingerprint. `written` follows the store file's bytes
/// ([`crate::write::encode`]).
pub fn write_csr_store(
    dest: &Path,
    csr: &Csr<'_>,
    options: PublishOptions,
    written: &(dyn Fn(u64, u64) + Sync),
) -> Result<u64, IngestError> {
    let users = csr.check()?;
    let names = |ids: Option<&[String]>, n: u32, what: &str| -> Result<Interner, IngestError> {
        let mut interner = Interner::default();
        for i in 0..n {
            let id = ids.map_or_else(|| i.to_string(), |ids| ids[i as usize].clone());
            if id.contains(['\n', '\r']) {
                return Err(IngestError::BadMatrix {
                    what: format!("{what} {i}"),
                    problem: format!("{id:?} holds a line break, which the id files (one id per line) cannot keep"),
                });
            }
            if !interner.intern(id.as_bytes()).1 {
                return Err(IngestError::BadMatrix {
                    what: format!("{what} {i}"),
                    problem: format!("{id:?} names an earlier {what} too; ids must be distinct"),
                });
            }
        }
        Ok(interner)
    };
    let user_names = names(csr.user_ids, users, "user")?;
    let item_names = names(csr.item_ids, csr.n_items, "item")?;
    let user_keys: Vec<u64> = user_names.iter().map(user_key).collect();
    let positions: Vec<u64>;
    let rows = match csr.rows {
        Some(rows) => rows,
        None => {
            positions = (0..csr.indices.len() as u64).collect();
            &positions
        }
    };
    let columns = Columns {
        n_items: csr.n_items,
        indptr: csr.indptr,
        indices: csr.indices,
        rows,
        timestamps: None,
        user_keys: &user_keys,
        kept: &[],
    };
    Ok(write_store_dir(
        dest,
        &columns,
        user_names.ids(),
        item_names.ids(),
        options,
        written,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn a_canonical_matrix_becomes_a_store_and_anything_else_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let csr = Csr {
            indptr: &[0, 2, 2, 3],
            indices: &[0, 2, 1],
            n_items: 3,
            user_ids: None,
            item_ids: None,
            rows: None,
        };
        write_csr_store(
            &dir.path().join("s"),
            &csr,
            PublishOptions::default(),
            &|_, _| {},
        )
        .unwrap();
        let store = Store::open(&dir.path().join("s")).unwrap();
        store.verify().unwrap();
        assert_eq!(
            (store.n_users(), store.n_items(), store.n_interactions()),
            (3, 3, 3)
        );
        assert_eq!(store.user_ids().unwrap(), ["0", "1", "2"]);
        assert_eq!(store.user_keys()[2], user_key(b"2"));
        let problem = |csr: Csr<'_>| match csr.check() {
            Err(IngestError::BadMatrix { problem, .. }) => problem,
            other => panic!("{other:?}"),
        };
        assert!(problem(Csr {
            indices: &[2, 0, 1],
            ..csr
        })
        .contains("sort_indices"));
        assert!(problem(Csr {
            indices: &[0, 3, 1],
            ..csr
        })
        .contains("outside the 3 items"));
        assert!(problem(Csr {
            indptr: &[0, 2, 1, 3],
            ..csr
        })
        .contains("decreases"));
        assert!(problem(Csr {
            indptr: &[0, 2, 2],
            ..csr
        })
        .contains("len(indices)"));
        assert!(problem(Csr { indptr: &[], ..csr }).contains("empty"));
        let two = ["a".to_string(), "b".to_string()];
        assert!(problem(Csr {
            user_ids: Some(&two),
            ..csr
        })
        .contains("2 ids for 3"));
        let same = ["a".to_string(), "a".to_string(), "b".to_string()];
        let err = write_csr_store(
            &dir.path().join("t"),
            &Csr {
                user_ids: Some(&same),
                ..csr
            },
            PublishOptions::default(),
            &|_, _| {},
        );
        assert!(matches!(err, Err(IngestError::BadMatrix { .. })));
    }
}
