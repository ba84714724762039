use thiserror::Error;

/// What a kernel refuses to work on. Each variant means the caller handed over data
/// that breaks the store's invariants, so the fix is upstream (re-ingest or `verify`).
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum KernelError {
    /// A user's positives must be strictly ascending (sorted, no duplicates).
    #[error("positives are not strictly ascending at position {position}: {previous} then {next}")]
    PositivesNotAscending {
        position: usize,
        previous: u32,
        next: u32,
    },
    /// A positive item index is outside the catalog.
    #[error("positive item {item} is outside the catalog of {n_items} items")]
    PositiveOutOfRange { item: u32, n_items: u32 },
    /// A sampling weight is negative or not finite (or the catalog exceeds u32).
    #[error("weight of item {item} is {value}; weights must be finite and >= 0")]
    BadWeight { item: u32, value: f64 },
}
