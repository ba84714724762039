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
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} already exists; pass --overwrite to replace it")]
    AlreadyExists { path: PathBuf },
    /// The `--exclude` file could not be read.
    #[error("--exclude: {0}")]
    Exclude(negsamp_store::IngestError),
    #[error("invalid parameters: {0}")]
    Config(String),
    /// The dataset does not match its manifest or its store; the message says where.
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

impl EngineError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            problem: problem.into(),
        }
    }
}
