//! The interaction store: what negsamp samples from.
//!
//! A store is a directory holding `store.bin` — one binary CSR file (format in
//! `docs/store-format.md`, constants in [`mod@format`]) — and the id maps `users.txt` and
//! `items.txt` (dense index → original id, one per line).
//!
//! * [`Store`] opens a store cheaply: [`Store::open`] maps the file through the single
//!   `unsafe` entry point in [`mapping`], and [`Store::from_bytes`] does the same checks
//!   on an in-memory buffer. Both validate the header, the section table and the file
//!   length before any slice is handed out; [`Store::verify`] adds the full scan
//!   (checksums, CSR invariants).
//! * [`order`] owns the (timestamp, row) order of a user's positives: written once
//!   into the store, read back checked.
//! * [`ingest`] turns a CSV of interactions into a store: parallel parsing of byte
//!   ranges, first-appearance id interning, a counting sort into CSR, the duplicate
//!   policy, and an atomic publish.
//! * [`synth`] generates seeded synthetic interaction CSVs of any size.
//! * [`publish`] writes directories under a temporary name and renames them into place;
//!   [`output`] writes their large files past the page cache.
//! * Text inputs are read one block ahead of their parser on a thread of their own
//!   (`read_ahead`).

pub mod csr;
pub mod csv;
pub mod direct;
pub mod format;
pub mod ids;
pub mod ingest;
pub mod input;
pub mod interrupt;
pub mod kept;
pub mod mapping;
pub mod npy;
mod npz;
pub mod order;
pub mod output;
mod parquet_input;
pub mod publish;
mod read_ahead;
pub mod resources;
pub mod source;
pub mod stats;
pub mod synth;
pub mod time;
pub mod write;

mod error;
mod store;

pub use error::{IngestError, StoreError};
pub use store::{Store, UserView, ITEMS_FILE, STORE_FILE, USERS_FILE};
