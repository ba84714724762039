//! The pure core of negsamp: per-user random streams and exact negative-sampling
//! kernels, working on plain slices. Nothing here does I/O, so every kernel can be
//! tested and benchmarked in isolation.
//!
//! * [`stream`] — the RNG of a user is derived only from the run seed and a fixed hash
//!   of the user's original id ([`stream::user_key`]), never from threads or chunks.
//! * [`bounded`] — unbiased bounded integers (Lemire's multiply-shift with rejection).
//! * [`uniform`] — the pre-verified binary search: a rank among a user's
//!   non-positives is mapped to the item holding it through the *adjusted positives*
//!   `pos[j] - j`; [`uniform::UniformSampler`] draws with or without replacement.
//! * [`weighted`] — weighted negatives (popularity^α or any weights): successive
//!   sampling by rejection from an alias table, with an exact search that never
//!   rejects for users whose excluded items hold most of the weight.
//! * [`hard`] — hard negatives: the best-scoring of each group of base candidates
//!   (Dynamic Negative Sampling).
//! * [`pairing`] — spreading a user's negatives over their positives (anchors).
//!
//! ```
//! use negsamp_kernel::{stream, uniform::{UniformSampler, Replacement}};
//! let mut rng = stream::user_rng(42, stream::user_key(b"alice"));
//! let mut sampler = UniformSampler::default();
//! let mut negatives = Vec::new();
//! // Catalog of 10 items, alice touched items 3 and 7; ask for 4 distinct negatives.
//! let drawn = sampler
//!     .sample(&mut rng, &[3, 7], 10, 4, Replacement::Without, &mut negatives)
//!     .unwrap();
//! assert_eq!(drawn.shortfall, 0);
//! assert!(negatives.iter().all(|&i| i != 3 && i != 7 && i < 10));
//! ```

pub mod bounded;
pub mod hard;
pub mod pairing;
pub mod stream;
pub mod uniform;
pub mod weighted;

mod error;
pub use error::KernelError;

#[cfg(test)]
pub(crate) mod testutil;
