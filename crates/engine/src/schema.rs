//! The output columns of a run: built once from the store and the request, then read
//! by the sampler (what to fill), the writers (names, types, shapes), verify (what to
//! expect) and the planner (bytes per row). Adding a column is one entry here plus the
//! code that fills it.

use crate::config::{AnchorDtype, HistoryOrder, Layout, SampleConfig};
use crate::EngineError;
use negsamp_store::kept::ValueType;
use negsamp_store::{Store, ITEMS_FILE, USERS_FILE};
use serde::{Deserialize, Serialize};

/// An element type of an output column, as NumPy names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dtype {
    #[serde(rename = "|u1")]
    U8,
    #[serde(rename = "<u4")]
    U32,
    #[serde(rename = "<u8")]
    U64,
    #[serde(rename = "<i8")]
    I64,
    #[serde(rename = "<f4")]
    F32,
    #[serde(rename = "<f8")]
    F64,
    /// Variable-length UTF-8 (Parquet only).
    #[serde(rename = "str")]
    Str,
}

impl Dtype {
    /// The NumPy type string of the column's `.npy` file (strings: their dictionary
    /// codes).
    pub fn descr(self) -> &'static str {
        match self {
            Dtype::U8 => "|u1",
            Dtype::U32 | Dtype::Str => "<u4",
            Dtype::U64 => "<u8",
            Dtype::I64 => "<i8",
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
        }
    }

    /// Bytes per element (strings: the size of a dictionary code).
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::U32 | Dtype::F32 | Dtype::Str => 4,
            Dtype::U64 | Dtype::I64 | Dtype::F64 => 8,
        }
    }
}

/// What a column holds, which decides how the sampler fills it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    User,
    /// Long layout: the row's item; wide layout: the positive.
    Item,
    Label,
    Anchor,
    Timestamp,
    /// Long: one value per row (NaN on positives); wide: one per negative slot.
    LogQ,
    /// Hard negatives: the model's score of the row's item (long; a positive its own)
    /// or of each negative slot (wide).
    Score,
    /// Kept store column `kept` (its index in the store's schema), copied from the anchor.
    Carried {
        kept: usize,
        value_type: ValueType,
    },
    /// The anchor's most recent earlier positives, `width` wide, right-aligned.
    History,
    HistoryLen,
    /// Wide layout: the positive's negatives, `width` wide, left-aligned.
    Negatives,
    NegativesLen,
    /// Parquet `--original-ids`: derived from `user`/`item` through the id maps when
    /// a part is written, not sampled.
    UserId,
    ItemId,
}

impl ColumnKind {
    /// Whether the sampler fills the column (the id columns are derived by writers).
    pub fn is_sampled(self) -> bool {
        !matches!(self, ColumnKind::UserId | ColumnKind::ItemId)
    }
}

/// One output column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
    pub dtype: Dtype,
    /// Values per row: 1, or a fixed matrix width (history, negatives, wide log_q).
    pub width: usize,
    /// Whether a Parquet writer stores the column as a list: the valid entries of a
    /// matrix row, as counted by the length column named here.
    pub list_len: Option<&'static str>,
    /// A string column's dictionary in `.npy` output, beside the id maps.
    pub dictionary_file: Option<String>,
}

impl Column {
    /// A column without a list length or a dictionary file.
    pub fn new(name: &str, kind: ColumnKind, dtype: Dtype, width: usize) -> Self {
        Column {
            name: name.into(),
            kind,
            dtype,
            width,
            list_len: None,
            dictionary_file: None,
        }
    }
}

/// Every output column of a run, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub columns: Vec<Column>,
    /// The value padding history and negatives matrices: `n_items`, never an item.
    pub pad: u32,
    pub layout: Layout,
}

impl Schema {
    /// The columns `config` asks of `store`; an impossible request is a config error
    /// naming the option.
    pub fn new(store: &Store, config: &SampleConfig) -> Result<Self, EngineError> {
        let config_error = |m: String| Err(EngineError::Config(m));
        let wide = config.layout == Layout::Wide;
        let ratio = match config.amount {
            crate::Amount::Ratio(r) => r as usize,
            crate::Amount::PerUser(_) => 0,
        };
        let mut columns = Vec::new();
        columns.push(Column::new("user", ColumnKind::User, Dtype::U32, 1));
        columns.push(Column::new("item", ColumnKind::Item, Dtype::U32, 1));
        if !wide {
            columns.push(Column::new("label", ColumnKind::Label, Dtype::U8, 1));
        }
        columns.push(Column::new(
            "anchor",
            ColumnKind::Anchor,
            anchor_dtype(store, config.anchor_dtype)?,
            1,
        ));
        if store.has_timestamps() {
            columns.push(Column::new(
                "timestamp",
                ColumnKind::Timestamp,
                Dtype::I64,
                1,
            ));
        }
        // One value per row (long), or per negative slot of a wide row.
        let per_negative = |name: &str, kind: ColumnKind| Column {
            list_len: wide.then_some("negatives_len"),
            ..Column::new(name, kind, Dtype::F32, if wide { ratio } else { 1 })
        };
        if config.log_q {
            columns.push(per_negative("log_q", ColumnKind::LogQ));
        }
        if config.hard.is_some() {
            columns.push(per_negative("score", ColumnKind::Score));
        }
        for name in &config.carry {
            let Some(kept) = store.kept_column(name) else {
                let kept: Vec<&str> = store
                    .kept_columns()
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                return config_error(format!(
                    "--carry {name}: the store keeps no column {name:?} (it keeps: {}); ingest with --keep {name}",
                    if kept.is_empty() { "none".into() } else { kept.join(", ") }
                ));
            };
            let value_type = store.kept_columns()[kept].value_type;
            let dtype = match value_type {
                ValueType::I64 => Dtype::I64,
                ValueType::F64 => Dtype::F64,
                ValueType::Str => Dtype::Str,
            };
            columns.push(Column::new(
                name,
                ColumnKind::Carried { kept, value_type },
                dtype,
                1,
            ));
            if value_type == ValueType::Str {
                columns.last_mut().expect("pushed").dictionary_file = Some(format!("{name}.txt"));
            }
        }
        if config.history > 0 {
            if !store.has_timestamps() && config.history_order == HistoryOrder::Time {
                return config_error(
                    "--history orders positives by time, and this store has no timestamps; ingest with a time column, or pass --history-order row to use source-row order".into(),
                );
            }
            columns.push(Column::new(
                "history",
                ColumnKind::History,
                Dtype::U32,
                config.history as usize,
            ));
            columns.last_mut().expect("pushed").list_len = Some("history_len");
            columns.push(Column::new(
                "history_len",
                ColumnKind::HistoryLen,
                Dtype::U32,
                1,
            ));
        }
        if wide {
            columns.push(Column::new(
                "negatives",
                ColumnKind::Negatives,
                Dtype::U32,
                ratio,
            ));
            columns.last_mut().expect("pushed").list_len = Some("negatives_len");
            columns.push(Column::new(
                "negatives_len",
                ColumnKind::NegativesLen,
                Dtype::U32,
                1,
            ));
        }
        if config.original_ids {
            columns.push(Column::new("user_id", ColumnKind::UserId, Dtype::Str, 1));
            columns.push(Column::new("item_id", ColumnKind::ItemId, Dtype::Str, 1));
        }
        let schema = Schema {
            columns,
            pad: store.n_items(),
            layout: config.layout,
        };
        schema.check_names()?;
        Ok(schema)
    }

    /// Carried columns take their store names, so they must not clash with another
    /// column or (through their dictionary files) with the id maps.
    fn check_names(&self) -> Result<(), EngineError> {
        for (i, c) in self.columns.iter().enumerate() {
            if self.columns[..i].iter().any(|d| d.name == c.name) {
                return Err(EngineError::Config(format!(
                    "--carry {0}: the output already has a column named {0:?}",
                    c.name
                )));
            }
            if let Some(file) = &c.dictionary_file {
                if file == USERS_FILE || file == ITEMS_FILE {
                    return Err(EngineError::Config(format!(
                        "--carry {}: its dictionary file would replace {file}",
                        c.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// The position of the column named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Bytes one row takes in `.npy` (the size estimate's unit; Parquet is smaller).
    pub fn bytes_per_row(&self) -> u64 {
        self.columns
            .iter()
            .filter(|c| c.kind.is_sampled())
            .map(|c| (c.dtype.size() * c.width) as u64)
            .sum()
    }

    /// Estimated output bytes of `positives` anchors with `negatives` negatives, of
    /// which `positive_rows` are written as rows in the long layout.
    pub fn estimated_bytes(&self, positives: u64, positive_rows: u64, negatives: u64) -> u64 {
        let rows = match self.layout {
            Layout::Long => positive_rows.saturating_add(negatives),
            Layout::Wide => positives,
        };
        rows.saturating_mul(self.bytes_per_row())
    }
}

/// The `anchor` column's type: u32 only when every source row of the store fits.
fn anchor_dtype(store: &Store, asked: AnchorDtype) -> Result<Dtype, EngineError> {
    use rayon::prelude::*;
    match asked {
        AnchorDtype::U64 => Ok(Dtype::U64),
        AnchorDtype::U32 => match store.rows().par_iter().copied().max() {
            Some(row) if row > u64::from(u32::MAX) => Err(EngineError::Config(format!(
                "--anchor-dtype u32 cannot hold source row {row} of this store (u32 ends at {}); use u64",
                u32::MAX
            ))),
            _ => Ok(Dtype::U32),
        },
    }
}
