use std::path::PathBuf;
use thiserror::Error;

/// Why a store could not be opened, read or verified. Every variant names what to fix;
/// none of them is a panic or a SIGBUS.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The cause is part of the message, not a `source()`: printing the chain must
    /// not say it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file does not start with the store magic: not a negsamp store.
    #[error(
        "not a negsamp store (magic {found:02x?}); pass the directory written by `negsamp ingest`"
    )]
    BadMagic { found: [u8; 8] },
    /// Written by another format version; re-ingest with this negsamp.
    #[error("store format version {found} is not supported (this negsamp reads version {supported}); re-run `negsamp ingest`")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("store was written with another byte order (marker {found:#010x}); re-ingest on this machine")]
    WrongEndianness { found: u32 },
    /// The file is shorter than its header says: an interrupted copy or a cut file.
    #[error("store is truncated: the {what} needs {needed} bytes but the file has {file_len}; re-copy or re-ingest it")]
    Truncated {
        what: &'static str,
        needed: u64,
        file_len: u64,
    },
    #[error("checksum mismatch in {what}: stored {expected:#018x}, computed {got:#018x}; the store is corrupt, re-ingest it")]
    ChecksumMismatch {
        what: String,
        expected: u64,
        got: u64,
    },
    /// A structural invariant does not hold; the message says which.
    #[error("store is corrupt: {0}; re-ingest it")]
    Corrupt(String),
    #[error("{path} already exists; pass --overwrite to replace it")]
    AlreadyExists { path: PathBuf },
    /// A size read from the store needs more memory than this machine can allocate.
    #[error("{what} needs {bytes} bytes, more than this machine can allocate; is the store's header right? (`negsamp verify` it)")]
    TooLarge { what: String, bytes: u64 },
    /// Another process holds the destination's lock.
    #[error("{} is being written by {}; wait for it to finish (or stop it) and retry", path.display(), pid.map_or("another process".to_string(), |p| format!("process {p}")))]
    Busy { path: PathBuf, pid: Option<u32> },
    /// Publishing the output would replace or write into an input of the run.
    #[error("the output {} {relation} the input {}; choose an output outside the inputs", output.display(), input.display())]
    OutputOverlapsInput {
        output: PathBuf,
        input: PathBuf,
        relation: &'static str,
    },
}

impl StoreError {
    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        Self::Corrupt(message.into())
    }

    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error,
        }
    }
}

/// Why a CSV could not be ingested. Errors about the input name the file, the 1-based
/// line (the header is line 1) and the column.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The cause is part of the message, not a `source()`: printing the chain must
    /// not say it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: the input is empty{detail}; a store needs at least one interaction")]
    EmptyInput { path: PathBuf, detail: &'static str },
    #[error("{path}: line 1: no column named {column:?} in the header (columns: {available}); choose one with --{flag}")]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
        flag: &'static str,
    },
    #[error("{path}: line {line}: {got} fields, but the header has {expected}; fix the row or pass --skip-bad-rows")]
    FieldCount {
        path: PathBuf,
        line: u64,
        expected: usize,
        got: usize,
    },
    #[error("{path}: line {line}, column {column:?}: {value:?} is not a timestamp (an integer, a whole float, or an ISO-8601 date or date-time; --time-format float rounds fractions); fix the row or pass --skip-bad-rows")]
    BadTimestamp {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
    },
    #[error(
        "{path}: line {line}, column {column:?}: empty id; fix the row or pass --skip-bad-rows"
    )]
    EmptyId {
        path: PathBuf,
        line: u64,
        column: String,
    },
    #[error("{path}: line {line}, column {column:?}: the id holds a carriage return, which the id files (one id per line) cannot keep apart from a line end; remove it or pass --skip-bad-rows")]
    CarriageReturnInId {
        path: PathBuf,
        line: u64,
        column: String,
    },
    #[error(
        "{path}: line 1: the header names column {column:?} more than once; rename one of them"
    )]
    DuplicateColumn { path: PathBuf, column: String },
    #[error("{path}: line {line}, column {column:?}: the id is not UTF-8 text; convert the file to UTF-8 or pass --skip-bad-rows")]
    IdNotUtf8 {
        path: PathBuf,
        line: u64,
        column: String,
    },
    /// The input's estimated rows need more memory than the process can have.
    #[error("{path}: about {rows} rows need about {needed} bytes of memory to ingest, and {budget} bytes are available (free memory, or what `ulimit -v` leaves); raise the limit, free memory, or split the input")]
    OutOfMemory {
        path: PathBuf,
        rows: u64,
        needed: u64,
        budget: u64,
    },
    /// A Parquet input that cannot be read as interactions; the message says where.
    #[error("{path}: {problem}")]
    BadParquet { path: PathBuf, problem: String },
    /// Stopped at a safe point because an interrupt was requested
    /// ([`crate::interrupt`]); nothing was published.
    #[error("interrupted")]
    Interrupted,
    /// A sparse matrix that is not a canonical CSR of interactions; the message says
    /// what is wrong and how to fix it.
    #[error("{what}: {problem}")]
    BadMatrix { what: String, problem: String },
    /// An option that has nothing to apply to in this kind of input.
    #[error("{path}: {option} does not apply to {input}")]
    NotApplicable {
        path: PathBuf,
        option: &'static str,
        input: &'static str,
    },
    /// A format ingest does not read, recognised by its first bytes.
    #[error(
        "{path}: this is {what}, not delimited text (ingest reads CSV or TSV, plain, gzip or zstd, and Parquet)"
    )]
    UnsupportedInput { path: PathBuf, what: &'static str },
    #[error("{path}: line {line} runs past {limit} bytes without a line end; is this a CSV?")]
    LineTooLong {
        path: PathBuf,
        line: u64,
        limit: u64,
    },
    #[error("{path}: line {line}: unterminated quoted field (fields may be quoted but may not contain line breaks); fix the row or pass --skip-bad-rows")]
    UnterminatedQuote { path: PathBuf, line: u64 },
    #[error("{path}: line {line}, column {column:?}: more than {limit} distinct ids; negsamp indexes users and items with u32")]
    TooManyIds {
        path: PathBuf,
        line: u64,
        column: String,
        limit: u64,
    },
    #[error("{path}: line {line}, column {column:?}: item {id:?} is not in the catalog given by --items; add it there or pass --skip-bad-rows")]
    UnknownItem {
        path: PathBuf,
        line: u64,
        column: String,
        id: String,
    },
    #[error("{path}: line {line}: {problem}; the --items file must list each item id once, one per line")]
    BadCatalog {
        path: PathBuf,
        line: u64,
        problem: String,
    },
    #[error("{path}: line {line}, column {column:?}: {value:?} is not {}; fix the value, declare another type (--keep {column}:TYPE) or leave the field empty for a missing value", describe(*value_type))]
    BadValue {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
        value_type: crate::kept::ValueType,
    },
    #[error("--keep: {0}")]
    BadKeep(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe(t: crate::kept::ValueType) -> &'static str {
    match t {
        crate::kept::ValueType::I64 => "a 64-bit integer",
        crate::kept::ValueType::F64 => "a number",
        crate::kept::ValueType::Str => "a string",
    }
}
