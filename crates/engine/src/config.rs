//! What a sampling run is asked to do.

use negsamp_kernel::uniform::{Kernel, Replacement};
use negsamp_store::output::WriteMode;
use serde::{Deserialize, Serialize};

/// How negatives are chosen among a user's candidates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Every non-positive item equally likely (the pre-verified binary search).
    Uniform,
    /// Item i weighs `popularity(i)^alpha` (or the `--weights` file's value); without
    /// replacement by successive sampling, as numpy's `choice(replace=False, p)`.
    Popularity { alpha: f64 },
}

/// Hard negatives by Dynamic Negative Sampling (Zhang et al., SIGIR 2013): every
/// negative is the highest-scoring of `candidates` items drawn from the base strategy,
/// a score being the dot product (or cosine) of the user's and the item's embedding rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hard {
    /// `.npy` `<f4` or `<f2` `[n_users, d]`, rows in the store's user order (or
    /// `query_emb` instead).
    #[serde(default)]
    pub user_emb: Option<std::path::PathBuf>,
    /// `.npy` `<f4` or `<f2` `[source rows, d]`: each anchor's own query (a sequence
    /// model's state at that interaction), instead of `user_emb`.
    #[serde(default)]
    pub query_emb: Option<std::path::PathBuf>,
    /// `.npy` `<f4` or `<f2` `[n_items, d]`, rows in the store's item order.
    pub item_emb: std::path::PathBuf,
    /// The original user id of each `user_emb` row, one per line (the model's order).
    #[serde(default)]
    pub user_ids: Option<std::path::PathBuf>,
    /// The original item id of each `item_emb` row, one per line (the model's order).
    #[serde(default)]
    pub item_ids: Option<std::path::PathBuf>,
    /// Where each negative is picked from.
    pub candidates: Candidates,
    /// `--pick softmax --temperature T`: a group's negative drawn ∝ exp(score/T − log q)
    /// instead of its best (`None`).
    #[serde(default)]
    pub temperature: Option<f64>,
    /// How a pair is scored.
    #[serde(default)]
    pub metric: Metric,
    /// `--hard-fraction F`: ⌊F·k⌋ of a user's k negatives hard, the rest from the base
    /// strategy (`None`: all of them hard).
    #[serde(default)]
    pub fraction: Option<f64>,
}

/// How a (user, item) pair is scored from their vectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// The dot product, as the model computes it.
    #[default]
    Dot,
    /// The dot product of the vectors scaled to unit length.
    Cosine,
}

impl Hard {
    /// How many of `request` negatives are hard: ⌊F·request⌋ (all without a fraction).
    pub fn hard_count(&self, request: u64) -> u64 {
        self.fraction.map_or(request, |f| {
            ((f * request as f64).floor() as u64).min(request)
        })
    }
}

/// Where hard negatives are picked from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Candidates {
    /// The best of M draws of the base strategy per negative (Dynamic Negative Sampling).
    Draws(u32),
    /// The exact top-k of the whole catalog by score, after skipping the `skip_top`
    /// highest (likely unlabelled positives); no randomness, no base strategy.
    All { skip_top: u32 },
}

/// The most candidates per hard negative.
pub const MAX_CANDIDATES: u32 = 4096;

/// How many negatives a user is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amount {
    /// `R` negatives per positive.
    Ratio(u32),
    /// `N` negatives per user, spread over the user's positives.
    PerUser(u32),
}

impl Amount {
    /// Negatives requested of a user with `positives` positives. A user without
    /// positives has no anchor to pair a negative with, so is asked for none.
    pub fn request(self, positives: usize) -> u64 {
        match self {
            _ if positives == 0 => 0,
            Amount::Ratio(r) => u64::from(r) * positives as u64,
            Amount::PerUser(n) => u64::from(n),
        }
    }
}

/// Which side of a time split a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Rows whose anchor timestamp is before the split.
    Train,
    /// Rows whose anchor timestamp is at or after the split.
    Test,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Train => "train",
            Side::Test => "test",
        }
    }
}

/// A time split: a dataset holds the rows of one side of `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub at: i64,
    pub side: Side,
}

impl Split {
    /// Whether a row whose anchor has timestamp `ts` belongs to this side.
    pub fn keeps(self, ts: i64) -> bool {
        match self.side {
            Side::Train => ts < self.at,
            Side::Test => ts >= self.at,
        }
    }
}

/// How rows are shaped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// A row per positive and a row per negative (`label` tells them apart).
    #[default]
    Long,
    /// A row per positive, its negatives in a `negatives` column of `--ratio` entries.
    Wide,
}

fn default_target_part_bytes() -> u64 {
    1 << 30
}

fn default_chunk_rows() -> u64 {
    1 << 16
}

/// The element type of the `anchor` column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnchorDtype {
    /// 8 bytes: any source row.
    #[default]
    U64,
    /// 4 bytes, for stores whose source rows are all below 2^32 (checked): 4 bytes a
    /// row less to write and read.
    U32,
}

impl AnchorDtype {
    fn is_default(&self) -> bool {
        *self == AnchorDtype::U64
    }
}

/// The file format of a dataset's parts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A directory of NumPy `.npy` files per part.
    #[default]
    Npy,
    /// One Parquet file per part.
    Parquet,
}

/// Which positives count as "before" an anchor in its history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryOrder {
    /// Positives with a strictly earlier timestamp, ordered by (timestamp, row).
    #[default]
    Time,
    /// Positives from earlier source rows (for stores without timestamps).
    Row,
}

/// The most parts a run may be asked for.
pub const MAX_SHARDS: u32 = 1_000_000;
/// The longest history a row may carry.
pub const MAX_HISTORY: u32 = 4096;

/// Everything that determines a run's output, plus how it is laid out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleConfig {
    pub strategy: Strategy,
    pub amount: Amount,
    #[serde(with = "replacement_name")]
    pub replacement: Replacement,
    /// The uniform kernel. Kernels of one family write identical output; across
    /// families only the distribution is the same, so the name is part of the run.
    #[serde(default, with = "kernel_name")]
    pub kernel: Kernel,
    /// Omit the positive rows.
    pub negatives_only: bool,
    pub seed: u64,
    /// Per-item weights (`.npy`, float) replacing popularity^alpha.
    pub weights: Option<std::path::PathBuf>,
    /// CSV of (user, item) original ids never drawn for that user.
    pub exclude: Option<std::path::PathBuf>,
    /// Skip `exclude` pairs naming unknown ids instead of failing.
    pub skip_unknown: bool,
    /// Write `log_q.npy`: the log-probability with which each negative was proposed.
    pub log_q: bool,
    /// Hard negatives picked by score among base draws (`--strategy hard`); the
    /// base is `strategy`.
    #[serde(default)]
    pub hard: Option<Hard>,
    /// Kept store columns copied onto every row from its anchor.
    #[serde(default)]
    pub carry: Vec<String>,
    /// The length of each row's item history (0: no history).
    #[serde(default)]
    pub history: u32,
    #[serde(default)]
    pub history_order: HistoryOrder,
    #[serde(default)]
    pub layout: Layout,
    /// The `anchor` column's type (absent from manifests when the default).
    #[serde(default, skip_serializing_if = "AnchorDtype::is_default")]
    pub anchor_dtype: AnchorDtype,
    #[serde(default)]
    pub format: Format,
    /// Add `user_id` and `item_id` string columns (Parquet).
    #[serde(default)]
    pub original_ids: bool,
    /// Keep only the rows of one side of a time split (set by `sample_split`).
    pub split: Option<Split>,
    /// Number of parts; `None` sizes parts at about `target_part_bytes`.
    pub shards: Option<u32>,
    /// Not recorded; a config read back (a manifest's, which `verify` samples with)
    /// gets the default — 0 would make every user a chunk of its own.
    #[serde(skip, default = "default_target_part_bytes")]
    pub target_part_bytes: u64,
    /// Target estimated rows per work chunk (output does not depend on it).
    #[serde(skip, default = "default_chunk_rows")]
    pub chunk_rows: u64,
    #[serde(skip)]
    pub overwrite: bool,
    /// Force every file to disk before publishing. A killed process never leaves a
    /// half-written dataset either way (publishing is a rename); `fsync` adds
    /// durability across power loss, at the disk's speed instead of the page cache's.
    #[serde(skip)]
    pub fsync: bool,
    /// How the part files are written: past the page cache (`negsamp_store::output`)
    /// or through it. The bytes are the same.
    #[serde(skip)]
    pub write_mode: WriteMode,
}

impl Default for SampleConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::Uniform,
            amount: Amount::Ratio(1),
            replacement: Replacement::Without,
            kernel: Kernel::Auto,
            negatives_only: false,
            seed: 0,
            weights: None,
            exclude: None,
            skip_unknown: false,
            log_q: false,
            hard: None,
            carry: Vec::new(),
            history: 0,
            history_order: HistoryOrder::Time,
            layout: Layout::Long,
            anchor_dtype: AnchorDtype::U64,
            format: Format::Npy,
            original_ids: false,
            split: None,
            shards: None,
            target_part_bytes: default_target_part_bytes(),
            chunk_rows: default_chunk_rows(),
            overwrite: false,
            fsync: false,
            write_mode: WriteMode::Direct,
        }
    }
}

impl SampleConfig {
    /// The files the parameters name, whose contents decide the output as much as the
    /// parameters do (a resume key and a build's identity hash them).
    pub fn input_files(&self) -> Vec<&std::path::Path> {
        let hard = self.hard.iter().flat_map(|h| {
            [
                h.user_emb.as_ref(),
                h.query_emb.as_ref(),
                Some(&h.item_emb),
                h.user_ids.as_ref(),
                h.item_ids.as_ref(),
            ]
        });
        [self.exclude.as_ref(), self.weights.as_ref()]
            .into_iter()
            .chain(hard)
            .flatten()
            .map(|p| p.as_path())
            .collect()
    }

    pub fn validate(&self) -> Result<(), crate::EngineError> {
        if let Some(n) = self.shards {
            if !(1..=MAX_SHARDS).contains(&n) {
                return Err(crate::EngineError::Config(format!(
                    "--shards must be between 1 and {MAX_SHARDS}, not {n}"
                )));
            }
        }
        if let Strategy::Popularity { alpha } = self.strategy {
            if !alpha.is_finite() {
                return Err(crate::EngineError::Config(format!(
                    "--alpha must be finite, not {alpha}"
                )));
            }
        }
        match self.hard.as_ref().map(|h| h.candidates) {
            Some(Candidates::Draws(m)) if !(1..=MAX_CANDIDATES).contains(&m) => {
                return Err(crate::EngineError::Config(format!(
                    "--candidates must be `all` or between 1 and {MAX_CANDIDATES}, not {m}"
                )));
            }
            Some(Candidates::All { .. }) => {
                let conflict = if self.replacement == Replacement::With {
                    Some("--with-replacement (the top-k items are distinct)")
                } else if self.hard.as_ref().is_some_and(|h| h.temperature.is_some()) {
                    Some("--pick softmax (the top-k is exact)")
                } else if self.log_q {
                    Some("--log-q (no proposal law: the top-k is exact)")
                } else if self.strategy != Strategy::Uniform
                    && self.hard.as_ref().is_some_and(|h| h.fraction.is_none())
                {
                    Some("--base popularity without --hard-fraction (nothing is drawn)")
                } else {
                    None
                };
                if let Some(option) = conflict {
                    return Err(crate::EngineError::Config(format!(
                        "--candidates all does not take {option}"
                    )));
                }
            }
            _ => {}
        }
        if self.hard.is_some() && self.kernel.may_fall_short() {
            return Err(crate::EngineError::Config(format!(
                "--kernel {} returns short batches at random; hard negatives fill slots fixed before the draw, so they need an exact kernel",
                self.kernel
            )));
        }
        if let Some(hard) = &self.hard {
            if hard.user_emb.is_some() == hard.query_emb.is_some() {
                return Err(crate::EngineError::Config(
                    "hard negatives are scored against one of --user-emb and --query-emb".into(),
                ));
            }
            if hard.user_ids.is_some() && hard.user_emb.is_none() {
                return Err(crate::EngineError::Config(
                    "--user-emb-ids names --user-emb's rows; --query-emb's are source rows".into(),
                ));
            }
        }
        if let Some(f) = self.hard.as_ref().and_then(|h| h.fraction) {
            if !(0.0..=1.0).contains(&f) {
                return Err(crate::EngineError::Config(format!(
                    "--hard-fraction must be between 0 and 1, not {f}"
                )));
            }
            if self.replacement == Replacement::With {
                return Err(crate::EngineError::Config(
                    "--hard-fraction keeps hard and base negatives distinct; it does not take --with-replacement".into(),
                ));
            }
        }
        if let Some(t) = self.hard.as_ref().and_then(|h| h.temperature) {
            if !(t.is_finite() && t > 0.0) {
                return Err(crate::EngineError::Config(format!(
                    "--temperature must be a finite number > 0, not {t}"
                )));
            }
        }
        if self.weights.is_some() && self.strategy == Strategy::Uniform {
            return Err(crate::EngineError::Config(
                "--weights needs --strategy popularity".into(),
            ));
        }
        if self.kernel != Kernel::Auto && self.strategy != Strategy::Uniform {
            return Err(crate::EngineError::Config(format!(
                "--kernel {} selects a uniform kernel; the popularity strategy has its own",
                self.kernel
            )));
        }
        if self.kernel.may_fall_short() && self.split.is_some() {
            return Err(crate::EngineError::Config(format!(
                "--kernel {} returns short batches at random, which a time split cannot \
                 account for; use an exact kernel with --split-at",
                self.kernel
            )));
        }
        if self.layout == Layout::Wide {
            if !matches!(self.amount, Amount::Ratio(_)) {
                return Err(crate::EngineError::Config(
                    "--layout wide gives each positive --ratio negatives; --per-user does not apply"
                        .into(),
                ));
            }
            if self.negatives_only {
                return Err(crate::EngineError::Config(
                    "--layout wide writes one row per positive; --negatives-only applies to the long layout"
                        .into(),
                ));
            }
        }
        if self.original_ids && self.format != Format::Parquet {
            return Err(crate::EngineError::Config(
                "--original-ids writes string columns, which need --format parquet; .npy output names users and items by their line in users.txt and items.txt".into(),
            ));
        }
        // Paths are recorded in the manifest and the run key, which are JSON.
        for (flag, path) in [("--exclude", &self.exclude), ("--weights", &self.weights)] {
            if let Some(p) = path.as_ref().filter(|p| p.to_str().is_none()) {
                return Err(crate::EngineError::Config(format!(
                    "{flag} {}: the path is not valid UTF-8; rename the file",
                    p.display()
                )));
            }
        }
        if self.history > MAX_HISTORY {
            return Err(crate::EngineError::Config(format!(
                "--history must be at most {MAX_HISTORY}, not {}",
                self.history
            )));
        }
        if self.chunk_rows == 0 || self.target_part_bytes == 0 {
            return Err(crate::EngineError::Config(
                "chunk and part sizes must be positive".into(),
            ));
        }
        Ok(())
    }
}

mod replacement_name {
    use negsamp_kernel::uniform::Replacement;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(r: &Replacement, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match r {
            Replacement::With => "with",
            Replacement::Without => "without",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Replacement, D::Error> {
        match String::deserialize(d)?.as_str() {
            "with" => Ok(Replacement::With),
            "without" => Ok(Replacement::Without),
            other => Err(serde::de::Error::custom(format!(
                "unknown replacement {other:?}"
            ))),
        }
    }
}

mod kernel_name {
    use negsamp_kernel::uniform::Kernel;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(k: &Kernel, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Kernel, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config read back from a manifest (what `verify` samples with) gets the
    /// working sizes that are not recorded: with 0 rows per chunk every user was a
    /// chunk of its own — 2.4M positioned reads to verify 34M rows.
    #[test]
    fn a_config_read_back_keeps_usable_work_sizes() {
        let written = serde_json::to_string(&SampleConfig::default()).unwrap();
        let read: SampleConfig = serde_json::from_str(&written).unwrap();
        assert_eq!(read.chunk_rows, SampleConfig::default().chunk_rows);
        assert_eq!(
            read.target_part_bytes,
            SampleConfig::default().target_part_bytes
        );
        read.validate().unwrap();
    }
}
