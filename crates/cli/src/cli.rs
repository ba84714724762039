//! Command-line arguments (clap derive; doc comments are the `--help` text).

use clap::{Args as ClapArgs, Parser, Subcommand};
use negsamp_engine::{AnchorDtype, Format, HistoryOrder, Layout};
use negsamp_kernel::uniform::Kernel;
use negsamp_store::ingest::KeepSpec;
use std::path::PathBuf;

/// Exact, fast, reproducible negative sampling for implicit-feedback data.
///
/// Typical flow: `negsamp ingest interactions.csv --out data.store`, then
/// `negsamp sample data.store --out train/ --seed 42`, then `negsamp verify train/`.
#[derive(Debug, Parser)]
#[command(name = "negsamp", version, about, long_about)]
pub struct Args {
    /// Worker threads (default: all cores; a list like `1,2` for `bench`).
    #[arg(short = 'j', long, global = true, value_delimiter = ',', num_args = 1)]
    pub threads: Vec<usize>,
    /// Print nothing on standard output (errors still go to stderr).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// `text` (lines for people) or `json` (one JSON object per event on stdout, with
    /// an `event` key; an error is an `error` event).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: crate::output::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a store from interactions: CSV/TSV (plain, gzip, zstd), Parquet, or a
    /// SciPy .npz matrix.
    Ingest(IngestArgs),
    /// Print counts, degree and popularity statistics of a store.
    Info(InfoArgs),
    /// Check a store (checksums, CSR invariants) or a sampled dataset (manifest,
    /// checksums and, with its store, every row against the contract and every part
    /// recomputed byte for byte). Exit 0 if sound, 1 if not.
    Verify(VerifyArgs),
    /// Sample negatives for every user of a store into a dataset directory.
    Sample(Box<SampleArgs>),
    /// Build a dataset from a config file: ingest → sample → verify → publish under
    /// a root, atomically (ROOT/current switches only to a verified build),
    /// idempotently (an unchanged input and config do nothing) and resumably (rerun
    /// after a failure or a kill). Exit 0 built or up to date, 1 failed, 2 bad config,
    /// 3 another build holds the root.
    Build(BuildArgs),
    /// Write a synthetic interaction CSV (Zipf item popularity, log-normal degrees).
    Generate(GenerateArgs),
    /// Generate → ingest → sample → verify on synthetic data, in a temporary directory.
    Demo(DemoArgs),
    /// Time every uniform kernel on a store's users, bucketed by degree: prints a
    /// table, writes OUT/results.csv and OUT/throughput.png. Progress on stderr.
    Bench(BenchArgs),
}

#[derive(Debug, ClapArgs)]
pub struct IngestArgs {
    /// The interactions: a CSV/TSV file (plain, gzip or zstd, recognised by its first
    /// bytes), `-` for standard input, a Parquet file, a directory of Parquet files, or
    /// a SciPy `.npz` sparse matrix (rows users, columns items).
    pub csv: PathBuf,
    /// The store directory to create.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Column holding user ids (default `user`; `0` with --no-header).
    #[arg(long)]
    pub user_col: Option<String>,
    /// Column holding item ids (default `item`; `1` with --no-header).
    #[arg(long)]
    pub item_col: Option<String>,
    /// Field separator: one character, or `\t` for TSV.
    #[arg(long, default_value = ",", value_parser = negsamp_store::source::parse_delimiter)]
    pub delimiter: u8,
    /// The first line is data, not a header: columns are named by their 0-based
    /// position (`--user-col 0 --item-col 1 --time-col 2`).
    #[arg(long)]
    pub no_header: bool,
    /// Column holding timestamps. Without this flag, a column named `timestamp` is
    /// used when present.
    #[arg(long, conflicts_with = "no_time")]
    pub time_col: Option<String>,
    /// How timestamps are written, and so the unit the store records: `auto`
    /// (integers and whole floats like `881250949.0` in the unit their magnitude
    /// implies — seconds below 10^11, then ms, us, ns; ISO-8601 dates and date-times,
    /// UTC unless a zone is given, as seconds), `unix-s`, `unix-ms`, `unix-us`,
    /// `unix-ns` (numbers in that unit), `int` (integers only), `float` (rounded to the
    /// nearest integer) or `iso`. Typed Parquet timestamps keep their own unit.
    #[arg(long, default_value = "auto", value_parser = parse_time_format)]
    pub time_format: negsamp_store::time::TimeFormat,
    /// Store no timestamps even if the CSV has them.
    #[arg(long, alias = "no-timestamps")]
    pub no_time: bool,
    /// The full item catalog, one id per line; line i becomes item i. Items nobody
    /// touched can then be sampled, and separate ingests share one item indexing.
    #[arg(long)]
    pub items: Option<PathBuf>,
    /// Skip malformed rows (and, with --items, rows of unknown items) and count them,
    /// instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Extra columns to store with each interaction, for `sample --carry`:
    /// `NAME` (type inferred: i64 if every value is an integer, else f64 if every value
    /// is a number, else str) or `NAME:i64|f64|str`. An empty field is missing.
    #[arg(long, value_delimiter = ',', value_name = "COL[:TYPE],...")]
    pub keep: Vec<KeepSpec>,
    /// Replace an existing store.
    #[arg(long)]
    pub overwrite: bool,
    /// fsync the store before publishing it (durable across power loss; slower). A
    /// killed ingest never leaves a half-written store either way.
    #[arg(long)]
    pub fsync: bool,
    /// How the large files are written: `direct` sends whole blocks past the page
    /// cache (O_DIRECT, where the filesystem allows it; new page-cache pages are what
    /// a write of new data waits on), `buffered` through it. Same bytes either way.
    #[arg(long, value_enum, default_value_t = WriteModeArg::Direct)]
    pub write_mode: WriteModeArg,
    /// Print the summary as one JSON object (same as --log-format json).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, ClapArgs)]
pub struct BuildArgs {
    /// The build's TOML config (see the README's "Nightly builds").
    pub config: PathBuf,
    /// Check the config and the input, print the build's id, whether it is up to
    /// date and what an interrupted build left for reuse; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, ClapArgs)]
pub struct InfoArgs {
    /// The store directory.
    pub store: PathBuf,
    /// Print JSON (keys include users, items, interactions).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct VerifyArgs {
    /// A store directory, a sampled dataset directory, the parent of a split's
    /// train/ and test/, or a build (`ROOT/current`).
    pub path: PathBuf,
    /// For a dataset: the store to check rows against (default: the one named in
    /// its manifest, if it still exists).
    #[arg(long, conflicts_with = "quick")]
    pub store: Option<PathBuf>,
    /// For a dataset: check only the manifest's promises (files, sizes, checksums),
    /// not the rows against the store nor a fresh recomputation of every part.
    #[arg(long)]
    pub quick: bool,
    /// For a dataset: also walk every row against the sampling contract (labels,
    /// anchors, timestamps, the law), not only the rows that differ from a fresh
    /// sample — a check of how the sampler lays its draws out. About 1.3x the time.
    #[arg(long, conflicts_with = "quick")]
    pub every_row: bool,
}

/// What each user is asked for: shared by `sample` and `bench`.
#[derive(Debug, Clone, ClapArgs)]
pub struct RequestArgs {
    /// Seed of every user's random stream.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Negatives per positive (a whole number).
    #[arg(long, conflicts_with = "per_user", value_parser = parse_count)]
    pub ratio: Option<u32>,
    /// Negatives per user, spread over the user's positives.
    #[arg(long, value_parser = parse_count)]
    pub per_user: Option<u32>,
    /// Allow a user's negatives to repeat (independent draws); the default draws
    /// distinct negatives, like numpy's choice(replace=False).
    #[arg(long)]
    pub with_replacement: bool,
}

#[derive(Debug, ClapArgs)]
pub struct SampleArgs {
    /// The store directory.
    pub store: PathBuf,
    /// The dataset directory to create.
    #[arg(short, long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub request: RequestArgs,
    /// Write only negative rows.
    #[arg(long)]
    pub negatives_only: bool,
    /// Number of parts (default: about 1 GB each).
    #[arg(long)]
    pub shards: Option<u32>,
    /// Sampling strategy: uniform over each user's candidates, popularity-weighted
    /// (successive sampling: numpy's choice(replace=False, p) semantics), or hard
    /// negatives picked by a model's scores among --base draws.
    #[arg(long, value_enum, default_value = "uniform")]
    pub strategy: StrategyArg,
    /// The strategy drawing hard negatives' candidates (needs --strategy hard).
    #[arg(long, value_enum)]
    pub base: Option<BaseArg>,
    /// Base candidates per hard negative (M): each negative is the highest-scoring of
    /// M (Dynamic Negative Sampling), or `all`: the exact top-k of the catalog by score
    /// (needs --strategy hard).
    #[arg(long, value_name = "M|all", value_parser = parse_candidates)]
    pub candidates: Option<CandidatesArg>,
    /// With --candidates all: pass over the K highest-scoring non-positives first (the
    /// usual guard against unlabelled positives).
    #[arg(long, value_name = "K")]
    pub skip_top: Option<u32>,
    /// How each group of --candidates M gives its negative: `max` (the highest score)
    /// or `softmax` (drawn with probability ∝ exp(score/T − log q), q the base
    /// proposal's; needs --temperature).
    #[arg(long, value_enum)]
    pub pick: Option<PickArg>,
    /// The softmax pick's temperature T > 0: small approaches `max`, large the
    /// uniform law over the catalog.
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,
    /// The share of each user's negatives that are hard, F in [0, 1]: floor(F·k) of
    /// the k picked by score, the rest drawn from --base, all distinct (default 1).
    #[arg(long, value_name = "F")]
    pub hard_fraction: Option<f64>,
    /// How a (user, item) pair is scored: `dot` (the dot product of their vectors) or
    /// `cosine` (of the vectors scaled to unit length).
    #[arg(long, value_enum)]
    pub metric: Option<MetricArg>,
    /// User vectors: a .npy of float32 or float16 [users, d], row r for the store's
    /// user r (users.txt order), memory-mapped (needs --strategy hard).
    #[arg(long, value_name = "NPY")]
    pub user_emb: Option<PathBuf>,
    /// Per-anchor queries instead of --user-emb (sequence models): a .npy of float32 or
    /// float16 [source rows, d], row r the query at the input's data row r (the
    /// `anchor` column's numbering), scoring the negatives paired with that positive.
    #[arg(long, value_name = "NPY", conflicts_with_all = ["user_emb", "user_emb_ids"])]
    pub query_emb: Option<PathBuf>,
    /// Item vectors: a .npy of float32 or float16 [items, d], row i for the store's
    /// item i (items.txt order), memory-mapped (needs --strategy hard).
    #[arg(long, value_name = "NPY")]
    pub item_emb: Option<PathBuf>,
    /// The original user id of each --user-emb row, one per line: the model's own row
    /// order, mapped onto the store (without it, rows are in the store's order).
    #[arg(long, value_name = "FILE", requires = "user_emb")]
    pub user_emb_ids: Option<PathBuf>,
    /// The original item id of each --item-emb row, one per line (as --user-emb-ids).
    #[arg(long, value_name = "FILE", requires = "item_emb")]
    pub item_emb_ids: Option<PathBuf>,
    /// Popularity exponent: item weight = (interactions of the item)^alpha; items
    /// nobody touched weigh 0. 0.75 is word2vec's smoothing. Default 1 (needs
    /// --strategy popularity).
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Per-item weights replacing popularity^alpha: a .npy of float64 or float32, one
    /// finite value >= 0 per line of items.txt (needs --strategy popularity).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// CSV with `user,item` columns of original ids: pairs never drawn for that user
    /// (held-out positives, blocked items).
    #[arg(long)]
    pub exclude: Option<PathBuf>,
    /// Skip --exclude pairs whose user or item is not in the store (counted) instead of
    /// failing.
    #[arg(long, requires = "exclude")]
    pub skip_unknown: bool,
    /// Also write log_q.npy (<f4): log of the probability with which each negative was
    /// proposed for its user (w_i / W_u; uniform: -log(candidates)); NaN on positives.
    #[arg(long)]
    pub log_q: bool,
    /// Time split: rows whose anchor timestamp is < T go to OUT/train/, the rest to
    /// OUT/test/, each a complete dataset (needs a store with timestamps). T is a
    /// number in the store's time unit or an ISO-8601 date or date-time (2024-05-01,
    /// 2024-05-01T12:00:00Z), converted to that unit.
    #[arg(long, value_name = "T", allow_negative_numbers = true, value_parser = parse_split_at)]
    pub split_at: Option<negsamp_store::time::TimePoint>,
    /// Uniform kernel (see `negsamp bench`): auto, branch-free, bucketed, complement,
    /// partition-point (pre-verified: identical output), guess-linear, guess-hash,
    /// guess-bisect (guess and check: identical output, same law), guess-vectorized
    /// (may return fewer negatives, reported as shortfall).
    #[arg(long, default_value = "auto", value_parser = parse_kernel)]
    pub kernel: Kernel,
    /// Kept store columns (`ingest --keep`) to copy onto every row from its anchor (a
    /// positive carries its own). Strings are dictionary codes in .npy (the
    /// dictionary is OUT/COL.txt) and strings in Parquet.
    #[arg(long, value_delimiter = ',', value_name = "COL,...")]
    pub carry: Vec<String>,
    /// Give every row the N most recent positives of its user strictly before its
    /// anchor (never the anchor, never one at the same time), oldest first:
    /// history.npy [rows, N] right-aligned and padded with the item count (the
    /// manifest's `pad`) plus history_len.npy; a list column in Parquet.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub history: u32,
    /// What "before" means for --history: by timestamp (ties excluded), or by source
    /// row (for stores without timestamps).
    #[arg(long, value_enum, default_value = "time")]
    pub history_order: HistoryOrderArg,
    /// Row shape: `long` (a row per positive and per negative, with `label`) or `wide`
    /// (a row per positive with its --ratio negatives in a `negatives` column).
    #[arg(long, value_enum, default_value = "long")]
    pub layout: LayoutArg,
    /// The `anchor` column's type: `u64`, or `u32` (4 bytes a row less; refused for a
    /// store with a source row at or beyond 2^32).
    #[arg(long, value_enum, default_value = "u64")]
    pub anchor_dtype: AnchorDtypeArg,
    /// Part format: `npy` (a directory of .npy files per part) or `parquet` (one file
    /// per part; metadata files are `_`-prefixed so readers see only data).
    #[arg(long, value_enum, default_value = "npy")]
    pub format: FormatArg,
    /// Add `user_id` and `item_id` string columns with the original ids (Parquet).
    #[arg(long)]
    pub original_ids: bool,
    /// Replace an existing dataset.
    #[arg(long)]
    pub overwrite: bool,
    /// fsync every file before publishing (durable across power loss; slower). A
    /// killed run never leaves a half-written dataset either way.
    #[arg(long)]
    pub fsync: bool,
    /// How the large files are written: `direct` sends whole blocks past the page
    /// cache (O_DIRECT, where the filesystem allows it; new page-cache pages are what
    /// a write of new data waits on), `buffered` through it. Same bytes either way.
    #[arg(long, value_enum, default_value_t = WriteModeArg::Direct)]
    pub write_mode: WriteModeArg,
    /// Print the summary as one JSON object (same as --log-format json).
    #[arg(long)]
    pub json: bool,
}

/// `--history-order`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum HistoryOrderArg {
    /// Strictly earlier timestamps, ordered by (timestamp, row).
    Time,
    /// Earlier source rows.
    Row,
}

impl From<HistoryOrderArg> for HistoryOrder {
    fn from(a: HistoryOrderArg) -> Self {
        match a {
            HistoryOrderArg::Time => HistoryOrder::Time,
            HistoryOrderArg::Row => HistoryOrder::Row,
        }
    }
}

/// `--anchor-dtype`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AnchorDtypeArg {
    U64,
    U32,
}

impl From<AnchorDtypeArg> for AnchorDtype {
    fn from(a: AnchorDtypeArg) -> Self {
        match a {
            AnchorDtypeArg::U64 => AnchorDtype::U64,
            AnchorDtypeArg::U32 => AnchorDtype::U32,
        }
    }
}

/// `--layout`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LayoutArg {
    Long,
    Wide,
}

impl From<LayoutArg> for Layout {
    fn from(a: LayoutArg) -> Self {
        match a {
            LayoutArg::Long => Layout::Long,
            LayoutArg::Wide => Layout::Wide,
        }
    }
}

/// `--format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    Npy,
    Parquet,
}

impl From<FormatArg> for Format {
    fn from(a: FormatArg) -> Self {
        match a {
            FormatArg::Npy => Format::Npy,
            FormatArg::Parquet => Format::Parquet,
        }
    }
}

/// `--ratio` / `--per-user`: a whole number, with a message that says so.
fn parse_count(text: &str) -> Result<u32, String> {
    text.parse().map_err(|_| match text.parse::<f64>() {
        Ok(v) if v.fract() != 0.0 && v > 0.0 => format!(
            "{text} is not a whole number: negatives are counted per positive (or per user); for fewer negatives than positives use --per-user"
        ),
        _ => format!("{text} is not a whole number from 0 to {}", u32::MAX),
    })
}

fn parse_time_format(name: &str) -> Result<negsamp_store::time::TimeFormat, String> {
    name.parse()
}

/// `--split-at`: a number in the store's unit (an integer or a whole float) or an
/// ISO-8601 date or date-time.
fn parse_split_at(text: &str) -> Result<negsamp_store::time::TimePoint, String> {
    negsamp_store::time::TimePoint::parse(text).ok_or_else(|| {
        format!("{text:?} is not a time: give a timestamp in the store's unit (1714521600) or an ISO-8601 date (2024-05-01, 2024-05-01T12:00:00Z)")
    })
}

fn parse_kernel(name: &str) -> Result<Kernel, String> {
    name.parse()
}

/// `--candidates`: a number of base draws per negative, or the whole catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidatesArg {
    Draws(u32),
    All,
}

fn parse_candidates(text: &str) -> Result<CandidatesArg, String> {
    match text {
        "all" => Ok(CandidatesArg::All),
        _ => text.parse().map(CandidatesArg::Draws).map_err(|_| {
            format!("{text:?} is neither `all` nor a whole number of candidates per negative")
        }),
    }
}

#[derive(Debug, ClapArgs)]
pub struct BenchArgs {
    /// The store directory. Without it, a synthetic store (Zipf popularity,
    /// log-normal degrees) of --users users is generated in a temporary directory.
    pub store: Option<PathBuf>,
    /// Kernels to time: `all` or a comma-separated list of names.
    #[arg(long, default_value = "all")]
    pub kernels: String,
    /// Directory for results.csv and throughput.png.
    #[arg(short, long, default_value = "report")]
    pub out: PathBuf,
    /// Replace the report files of an earlier run in --out.
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub request: RequestArgs,
    /// Users timed per degree bucket (evenly spaced in user order).
    #[arg(long, default_value_t = 2000)]
    pub users_per_bucket: usize,
    /// Timed passes per kernel and bucket, interleaved across the kernels (each
    /// repeat starts from the next one); the median is reported.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Seconds after which a pass stops early (the cell is marked incomplete).
    #[arg(long, default_value_t = 2.0)]
    pub budget: f64,
    /// Users of the generated store (without STORE).
    #[arg(long, default_value_t = 200_000)]
    pub users: u64,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum WriteModeArg {
    /// Whole blocks past the page cache (O_DIRECT) where the filesystem allows it.
    Direct,
    /// Through the page cache.
    Buffered,
}

impl From<WriteModeArg> for negsamp_store::output::WriteMode {
    fn from(mode: WriteModeArg) -> Self {
        match mode {
            WriteModeArg::Direct => Self::Direct,
            WriteModeArg::Buffered => Self::Buffered,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StrategyArg {
    /// Every non-positive item equally likely.
    Uniform,
    /// Weighted by popularity^alpha (or --weights).
    Popularity,
    /// The highest-scoring of --candidates draws of --base (needs --user-emb, --item-emb).
    Hard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PickArg {
    /// The group's highest score.
    Max,
    /// Drawn by softmax of score / --temperature, corrected by the base proposal.
    Softmax,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricArg {
    /// The dot product of the user's and the item's vectors.
    Dot,
    /// Their cosine: the dot product of the vectors scaled to unit length.
    Cosine,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BaseArg {
    /// Candidates drawn uniformly.
    Uniform,
    /// Candidates weighted by popularity^alpha (or --weights).
    Popularity,
}

#[derive(Debug, ClapArgs)]
pub struct GenerateArgs {
    /// The CSV file to write.
    #[arg(short, long)]
    pub out: PathBuf,
    /// The shape of a public dataset (users, items, degree spread, popularity skew):
    /// `movielens-1m` (6 040 × 3 706, dense), `gowalla` (29 858 × 40 981, sparse) or
    /// `ciao` (7 375 × 105 114, a large catalog). Replaces the shape flags.
    #[arg(long, value_enum, conflicts_with_all = ["rows", "users", "items", "mean_degree", "degree_sigma", "zipf"])]
    pub shape: Option<ShapeArg>,
    /// Approximate number of rows; sets --users to rows / mean degree.
    #[arg(long, conflicts_with = "users")]
    pub rows: Option<u64>,
    #[arg(long, default_value_t = 10_000)]
    pub users: u64,
    #[arg(long, default_value_t = 5_000)]
    pub items: u64,
    /// Mean interactions per user (log-normal).
    #[arg(long, default_value_t = 20.0)]
    pub mean_degree: f64,
    /// Log-scale spread of user degrees.
    #[arg(long, default_value_t = 1.0)]
    pub degree_sigma: f64,
    /// Exponent of the Zipf law of item popularity.
    #[arg(long, default_value_t = 1.0)]
    pub zipf: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Ids like `u17`/`i42` instead of integers.
    #[arg(long)]
    pub string_ids: bool,
    /// Leave out the timestamp column.
    #[arg(long, alias = "no-time")]
    pub no_timestamps: bool,
    /// Add feature columns: `price` and `category` (the item's), `rating` and `device`
    /// (per row), for `ingest --keep` and `sample --carry`.
    #[arg(long)]
    pub features: bool,
}

/// `generate --shape`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ShapeArg {
    #[value(name = "movielens-1m")]
    MovieLens1M,
    Gowalla,
    Ciao,
}

impl From<ShapeArg> for negsamp_store::synth::Shape {
    fn from(a: ShapeArg) -> Self {
        match a {
            ShapeArg::MovieLens1M => Self::MovieLens1M,
            ShapeArg::Gowalla => Self::Gowalla,
            ShapeArg::Ciao => Self::Ciao,
        }
    }
}

#[derive(Debug, ClapArgs)]
pub struct DemoArgs {
    /// Keep the demo's files here instead of a temporary directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Users to generate.
    #[arg(long, default_value_t = 20_000)]
    pub users: u64,
}
