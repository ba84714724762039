//! A process-wide request to stop, for front ends that catch an interrupt (the Python
//! package checks Ctrl-C while the engine runs without the GIL). Long loops read it at
//! safe points — between ingest blocks, between sampling waves, between verified
//! parts — and stop with an `Interrupted` error; what they leave is what a killed run
//! leaves (nothing published, finished parts kept for a rerun).

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every running ingest, sample and verify in this process to stop.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Withdraws the request (before starting new work).
pub fn clear() {
    REQUESTED.store(false, Ordering::Relaxed);
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}
