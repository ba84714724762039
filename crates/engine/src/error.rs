use negsamp_kernel::KernelError;
use negsamp_store::StoreError;
use std::path::PathBuf;
use thiserror::Error;

/// Why a run or a verification failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store holds data the kernel cannot sample from; `negsamp verify` the store.
    #[error("user {user}: {source}; run `negsamp verify` on the store")]
    Kernel { user: u32, source: KernelError },
    /// The cause is part of the message, not a `source()`: printing the chain must
    /// not say it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} already exists; pass --overwrite to replace it")]
    AlreadyExists { path: PathBuf },
    /// The `--exclude` file could not be read.
    #[error("--exclude: {0}")]
    Exclude(negsamp_store::IngestError),
    #[error("invalid parameters: {0}")]
    Config(String),
    /// Stopped at a safe point because an interrupt was requested
    /// (`negsamp_store::interrupt`); finished parts are kept for a rerun.
    #[error("interrupted; finished parts are kept for a rerun")]
    Interrupted,
    /// The request cannot be carried out with this machine's disk or memory; checked
    /// before anything is allocated or written.
    #[error("{what} needs about {needed} bytes, and {available} bytes are available; {hint}")]
    TooLarge {
        what: String,
        needed: u64,
        available: u64,
        hint: &'static str,
    },
    /// The dataset does not match its manifest or its store; the message says where.
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

impl EngineError {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error,
        }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            problem: problem.into(),
        }
    }
}
