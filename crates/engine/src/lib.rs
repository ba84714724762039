//! The engine: from a store to a sampled dataset on disk.
//!
//! * [`plan`] cuts the users into parts (the output shards) and each part into work
//!   chunks, both balanced by the estimated output rows, which follow from `indptr`
//!   alone (so a heavy user never hides inside a large chunk).
//! * [`user`] samples one user: the user's RNG stream (seed, user key), the kernel's
//!   negatives, the anchors in (timestamp, row) order ([`negsamp_store::order`]: read
//!   from the store, or sorted), the rows emitted.
//! * [`run`] drives chunks through a rayon pool in waves, sampling one wave while
//!   writing the previous one (one task per `.npy` column file, [`npy`]); the two
//!   waves' buffers are reused, so memory stays flat whatever the dataset size. Parts are
//!   written under a staging directory, recorded in the [`manifest`], and the whole
//!   directory is published atomically; an interrupted run resumes from its finished
//!   parts.
//! * [`verify`] checks a written dataset against its manifest and its store.
//! * [`mod@bench`] times the uniform kernels on a store's users, bucketed by degree.
//!
//! Output bytes depend only on the store, the seed and the sampling parameters — not
//! on threads, chunking or the number of parts.

pub mod bench;
pub mod build;
pub mod config;
pub mod context;
pub mod embeddings;
mod hard;
pub mod manifest;
pub mod plan;
pub mod resources;
pub mod rows;
pub mod run;
pub mod schema;
pub mod user;
pub mod verify;
pub mod write;

mod error;
pub use config::{
    Amount, AnchorDtype, Format, Hard, HistoryOrder, Layout, SampleConfig, Side, Split, Strategy,
};
pub use error::EngineError;
/// `.npy` headers and arrays (shared with the store crate, which reads `.npz` inputs).
pub use negsamp_store::npy;
pub use run::{sample_split, sample_to_dir, RunSummary};
