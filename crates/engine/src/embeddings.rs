//! A model's vectors, for hard negatives: `.npy` files saved by NumPy, float32 or
//! float16, memory-mapped (never copied, never converted as a whole) and checked —
//! shape, dtype, one row per item and per user of the store (in the store's order, or
//! the model's with an id file naming each row) or per source row (a sequence model's
//! query at each anchor), every value finite — before any sampling; and the score of
//! an item for a query.

use crate::config::{Hard, Metric};
use crate::EngineError;
use memmap2::Mmap;
use negsamp_kernel::hard::{dot, dot_f16, widen};
use negsamp_store::mapping::map_for_random_reads;
use negsamp_store::npy::{data_section, parse_header};
use negsamp_store::Store;
use std::path::Path;

/// Query and item vectors of one dimension, looked up by store index (users, items)
/// or source row (per-anchor queries).
#[derive(Debug)]
pub struct Embeddings {
    queries: Queries,
    items: Matrix,
}

/// Whose vector a user's negatives are scored against.
#[derive(Debug)]
enum Queries {
    /// `--user-emb`: one per user.
    Users(Matrix),
    /// `--query-emb`: one per source row, the anchor's.
    Anchors(Matrix),
}

impl Embeddings {
    /// Reads `--item-emb` and `--user-emb` (or `--query-emb`) for `store`: rows in the
    /// store's order, or in the model's own order named by `--user-emb-ids` /
    /// `--item-emb-ids`.
    pub fn load(hard: &Hard, store: &Store) -> Result<Self, EngineError> {
        let item = Side::new("item", &hard.item_emb, hard.item_ids.as_deref());
        let items = item.load(Rows::Store(store.n_items()), hard.metric, || {
            Ok(store.item_ids()?)
        })?;
        let (queries, flag) = match (&hard.user_emb, &hard.query_emb) {
            (Some(path), None) => {
                let user = Side::new("user", path, hard.user_ids.as_deref());
                let users = user.load(Rows::Store(store.n_users()), hard.metric, || {
                    Ok(store.user_ids()?)
                })?;
                (Queries::Users(users), "--user-emb")
            }
            (None, Some(path)) => {
                let side = Side::new("query", path, None);
                let rows = Rows::Source(store.rows());
                let anchors = side.load(rows, hard.metric, || Ok(Vec::new()))?;
                (Queries::Anchors(anchors), "--query-emb")
            }
            _ => {
                return Err(EngineError::Config(
                    "hard negatives take one of --user-emb and --query-emb".into(),
                ))
            }
        };
        let query_dim = match &queries {
            Queries::Users(m) | Queries::Anchors(m) => m.dim,
        };
        if query_dim != items.dim {
            return Err(EngineError::Config(format!(
                "{flag} has {query_dim} dimensions and --item-emb {}; a score is their dot product, so they must agree",
                items.dim
            )));
        }
        Ok(Self { queries, items })
    }

    /// Whether each anchor has its own query (`--query-emb`).
    pub fn per_anchor(&self) -> bool {
        matches!(self.queries, Queries::Anchors(_))
    }

    /// Writes the query of user `u`'s anchor at source `row` into `query` as `f32`
    /// (cosine: scaled to unit length): the user's vector, or the anchor's own with
    /// `--query-emb` — the left side of every [`Embeddings::score`] for that anchor.
    pub fn query(&self, u: u32, row: u64, query: &mut Vec<f32>) {
        match &self.queries {
            Queries::Users(users) => users.row_f32(u as usize, query),
            Queries::Anchors(anchors) => anchors.row_f32(row as usize, query),
        }
    }

    /// The model's score of item `i` for a user's `query`: their dot product ([`dot`]:
    /// a fixed summation order, so every run, thread and verify gets the same bits),
    /// times the item's inverse length under `--metric cosine`.
    pub fn score(&self, query: &[f32], i: u32) -> f32 {
        self.items.dot(query, i as usize)
    }
}

/// One side's vectors as the file holds them, with the store-index → file-row map of
/// an id file and, for cosine, each row's inverse length.
#[derive(Debug)]
struct Matrix {
    values: Values,
    dim: usize,
    /// The file row of each store index (an id file's order); `None`: the same.
    file_rows: Option<Vec<u32>>,
    /// `--metric cosine`: 1 / ‖row‖ by store index.
    inverse_norms: Option<Vec<f32>>,
}

/// The data section of a `.npy` matrix, typed.
#[derive(Debug)]
enum Values {
    /// Mapped, the data aligned for its type (NumPy aligns headers to 64 bytes).
    Mapped {
        map: Mmap,
        offset: usize,
        precision: Precision,
    },
    /// Copied into aligned memory: a writer that did not align the data.
    Copied {
        words: Vec<u32>,
        len: usize,
        precision: Precision,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    F32,
    F16,
}

impl Precision {
    fn size(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
        }
    }
}

/// One row, borrowed from the file.
enum Row<'a> {
    F32(&'a [f32]),
    /// IEEE binary16 bits.
    F16(&'a [u16]),
}

impl Values {
    fn bytes(&self) -> &[u8] {
        match self {
            Values::Mapped { map, offset, .. } => &map[*offset..],
            Values::Copied { words, len, .. } => &bytemuck::cast_slice(words)[..*len],
        }
    }

    fn precision(&self) -> Precision {
        match self {
            Values::Mapped { precision, .. } | Values::Copied { precision, .. } => *precision,
        }
    }

    /// Row `r` of width `dim` (`r` checked against the shape at load).
    fn row(&self, r: usize, dim: usize) -> Row<'_> {
        let span = r * dim..(r + 1) * dim;
        // Aligned and of a whole number of elements: checked when the file was opened.
        match self.precision() {
            Precision::F32 => Row::F32(&bytemuck::cast_slice(self.bytes())[span]),
            Precision::F16 => Row::F16(&bytemuck::cast_slice(self.bytes())[span]),
        }
    }
}

impl Matrix {
    fn file_row(&self, index: usize) -> usize {
        self.file_rows
            .as_ref()
            .map_or(index, |rows| rows[index] as usize)
    }

    fn row(&self, index: usize) -> Row<'_> {
        self.values.row(self.file_row(index), self.dim)
    }

    fn row_f32(&self, index: usize, out: &mut Vec<f32>) {
        out.clear();
        match self.row(index) {
            Row::F32(row) => out.extend_from_slice(row),
            Row::F16(row) => out.extend(row.iter().map(|&v| widen(v))),
        }
        if let Some(norms) = &self.inverse_norms {
            let scale = norms[index];
            out.iter_mut().for_each(|v| *v *= scale);
        }
    }

    fn dot(&self, query: &[f32], index: usize) -> f32 {
        let product = match self.row(index) {
            Row::F32(row) => dot(query, row),
            Row::F16(row) => dot_f16(query, row),
        };
        self.inverse_norms
            .as_ref()
            .map_or(product, |norms| product * norms[index])
    }
}

/// The rows a side must have.
#[derive(Clone, Copy)]
enum Rows<'a> {
    /// One per store user or item (unless an id file maps them).
    Store(u32),
    /// One per source row, these (the store's) at least.
    Source(&'a [u64]),
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

    /// The vectors of the store's users or items (or of its source rows).
    fn load(
        &self,
        wanted: Rows<'_>,
        metric: Metric,
        store_ids: impl FnOnce() -> Result<Vec<String>, EngineError>,
    ) -> Result<Matrix, EngineError> {
        let name = self.name;
        let (values, rows, dim) = open_matrix(self.vectors, name)?;
        let bad = |problem: String| Err(EngineError::invalid(self.vectors, problem));
        let file_rows = match (self.ids, wanted) {
            (None, Rows::Store(count)) if rows != u64::from(count) => {
                return bad(format!(
                    "{rows} rows; the store has {count} {name}s, and row r must be the vector of the store's {name} r ({name}s.txt order) — or name each row's id with --{name}-emb-ids"
                ));
            }
            (_, Rows::Source(used)) if used.iter().any(|&r| r >= rows) => {
                return bad(format!(
                    "{rows} rows; the store's source rows run to {}, and row r must be the query at source row r (the `anchor` column's numbering)",
                    used.iter().max().expect("a row past the end")
                ));
            }
            (None, _) => None,
            (Some(ids), _) => Some(self.file_rows(ids, rows, store_ids()?)?),
        };
        let mut matrix = Matrix {
            values,
            dim,
            file_rows,
            inverse_norms: None,
        };
        if metric == Metric::Cosine {
            let norms = match wanted {
                Rows::Store(count) => self.inverse_norms(&matrix, count as usize, None)?,
                Rows::Source(used) => self.inverse_norms(&matrix, rows as usize, Some(used))?,
            };
            matrix.inverse_norms = Some(norms);
        }
        Ok(matrix)
    }

    /// The file row holding each store index's vector, from the id file at `path`
    /// (rows for ids the store does not hold are not needed).
    fn file_rows(
        &self,
        path: &Path,
        rows: u64,
        store_ids: Vec<String>,
    ) -> Result<Vec<u32>, EngineError> {
        let name = self.name;
        let model_ids = read_ids(path)?;
        if model_ids.len() as u64 != rows {
            return Err(EngineError::invalid(
                self.vectors,
                format!(
                    "{rows} rows, and {} names {} ids: one per row",
                    path.display(),
                    model_ids.len()
                ),
            ));
        }
        let mut row_of = std::collections::HashMap::with_capacity(model_ids.len());
        for (row, id) in model_ids.iter().enumerate() {
            if row_of.insert(id.as_str(), row as u32).is_some() {
                return Err(EngineError::invalid(
                    path,
                    format!("{name} {id:?} appears twice (line {})", row + 1),
                ));
            }
        }
        store_ids
            .iter()
            .enumerate()
            .map(|(index, id)| {
                row_of.get(id.as_str()).copied().ok_or_else(|| {
                    EngineError::invalid(
                        path,
                        format!(
                            "no vector for the store's {name} {id:?} ({name}s.txt line {}); every {name} of the store needs one",
                            index + 1
                        ),
                    )
                })
            })
            .collect()
    }

    /// 1 / ‖row‖ of each of the first `count` indices' vectors; a zero vector has no
    /// direction, which is an error if one of `used` (every index, if `None`) has one.
    fn inverse_norms(
        &self,
        matrix: &Matrix,
        count: usize,
        used: Option<&[u64]>,
    ) -> Result<Vec<f32>, EngineError> {
        let mut row = Vec::with_capacity(matrix.dim);
        let norms: Vec<f32> = (0..count)
            .map(|index| {
                matrix.row_f32(index, &mut row);
                let norm = row
                    .iter()
                    .map(|&v| f64::from(v).powi(2))
                    .sum::<f64>()
                    .sqrt();
                (1.0 / norm) as f32 // infinite for a zero vector
            })
            .collect();
        let zero = match used {
            None => norms.iter().position(|n| n.is_infinite()),
            Some(used) => used
                .iter()
                .map(|&r| r as usize)
                .find(|&r| norms[r].is_infinite()),
        };
        match zero {
            None => Ok(norms),
            Some(index) => Err(EngineError::invalid(
                self.vectors,
                format!(
                    "{} row {} is all zeros: --metric cosine needs a direction",
                    self.name,
                    matrix.file_row(index)
                ),
            )),
        }
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

/// A `[rows, d]` `<f4` or `<f2` matrix with finite values, mapped; `side` names its
/// rows. Returns the values, the rows and `d`.
fn open_matrix(path: &Path, side: &str) -> Result<(Values, u64, usize), EngineError> {
    let bad = |problem: String| EngineError::invalid(path, problem);
    let map = map_for_random_reads(path).map_err(|e| EngineError::io(path, e))?;
    let info = parse_header(&map).map_err(|e| bad(e.to_string()))?;
    let precision = match info.descr.as_str() {
        "<f4" => Precision::F32,
        "<f2" => Precision::F16,
        other => {
            return Err(bad(format!(
                "dtype {other}; {side} embeddings must be float32 (<f4) or float16 (<f2): save them with .astype(np.float32)"
            )))
        }
    };
    let Some(dim) = info.width.filter(|&d| d > 0) else {
        return Err(bad(format!(
            "not a [{side}s, dimensions] matrix (shape ({},)); save the 2-D array",
            info.len
        )));
    };
    let size = precision.size();
    let data = data_section(&map, &info, size).map_err(|e| bad(e.to_string()))?;
    let (offset, len) = (info.data_offset, data.len());
    let values = if offset % size == 0 {
        Values::Mapped {
            map,
            offset,
            precision,
        }
    } else {
        let mut words = vec![0u32; len.div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..len].copy_from_slice(data);
        Values::Copied {
            words,
            len,
            precision,
        }
    };
    let dim = usize::try_from(dim).map_err(|_| bad(format!("{dim} dimensions")))?;
    check_finite(&values, dim, side).map_err(bad)?;
    Ok((values, info.len, dim))
}

/// Every value finite: a NaN or infinite score would make the pick meaningless.
fn check_finite(values: &Values, dim: usize, side: &str) -> Result<(), String> {
    let first_bad = match values.precision() {
        Precision::F32 => bytemuck::cast_slice::<u8, f32>(values.bytes())
            .iter()
            .position(|v| !v.is_finite())
            .map(|at| (at, bytemuck::cast_slice::<u8, f32>(values.bytes())[at])),
        Precision::F16 => {
            // binary16: an all-ones exponent is an infinity (mantissa 0) or a NaN.
            let halves = bytemuck::cast_slice::<u8, u16>(values.bytes());
            halves.iter().position(|&h| h & 0x7c00 == 0x7c00).map(|at| {
                let h = halves[at];
                let value = match (h & 0x3ff, h & 0x8000) {
                    (0, 0) => f32::INFINITY,
                    (0, _) => f32::NEG_INFINITY,
                    _ => f32::NAN,
                };
                (at, value)
            })
        }
    };
    match first_bad {
        None => Ok(()),
        Some((at, value)) => Err(format!(
            "{side} row {} (column {}) holds {value}; every value must be finite",
            at / dim,
            at % dim
        )),
    }
}
