//! Which library errors are the caller's request (a bad option or config) and which
//! say that someone else is writing the output: the CLI's exit codes 2 and 3, the
//! Python package's `ConfigError` and `BusyError`. Everything else is a failure of
//! the input or the machine.

use crate::config::ConfigError;
use negsamp_engine::build::BuildError;
use negsamp_engine::EngineError;
use negsamp_store::{IngestError, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad parameters or config: fix the request.
    Config,
    /// The output is being written by another process: retry later.
    Busy,
}

/// The kind of one error of a chain, looking through the wrappers that embed another
/// crate's error (`#[error(transparent)]` hides it from the error chain).
pub fn kind(e: &(dyn std::error::Error + 'static)) -> Option<Kind> {
    if e.downcast_ref::<ConfigError>().is_some() {
        return Some(Kind::Config);
    }
    if let Some(e) = e.downcast_ref::<StoreError>() {
        return matches!(e, StoreError::Busy { .. }).then_some(Kind::Busy);
    }
    if let Some(e) = e.downcast_ref::<IngestError>() {
        return match e {
            IngestError::Store(s) => kind(s),
            _ => None,
        };
    }
    if let Some(e) = e.downcast_ref::<EngineError>() {
        return match e {
            EngineError::Store(s) => kind(s),
            EngineError::Config(_) => Some(Kind::Config),
            _ => None,
        };
    }
    match e.downcast_ref::<BuildError>()? {
        BuildError::Engine(e) => kind(e),
        BuildError::Ingest(e) => kind(e),
        BuildError::Store(e) => kind(e),
        BuildError::Config(_) => Some(Kind::Config),
        _ => None,
    }
}
