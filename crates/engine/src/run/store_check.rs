//! The store's section checksums (for `verify`, its whole integrity check), taken on a
//! thread of their own while sampling or a dataset's checks start, and awaited before
//! anything is published or a verdict given.
//!
//! Why: hashing the store is a read of all of it (0.06 s of CPU for the 17M-interaction
//! store), and before sampling it left the writers idle; alongside, it runs in the time
//! the thread copying rows to the writers spends waiting for the device (2 threads,
//! 17M store: 0.635 → 0.58 s with the checksums skipped, `docs/benchmarks.md`). In
//! `verify` it runs while the parts are read, which waits for the device too.
//! Only `indptr`, which the plan reads (every user's span), is checked first. The other
//! sections are read before the checks end only by code that returns an error on a bad
//! value, never panics — the sampler checks every user's items and time order — but
//! what it draws is not trusted: no part is published, into the staging directory or
//! out of it, before the checksums have passed, so a resumed run never takes over a
//! part drawn from a damaged store.

use crate::EngineError;
use negsamp_store::format::SectionKind;
use negsamp_store::{Store, StoreError};
use std::sync::Mutex;
use std::thread::{Scope, ScopedJoinHandle};

/// What a [`StoreCheck`] holds the store to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreCheckDepth {
    /// The section checksums: what `sample` needs (the sampler checks what it reads).
    Checksums,
    /// [`Store::verify`]'s whole check, or without every user's time order where the
    /// caller reads each user's order itself ([`Store::verify_without_time_order`]).
    Whole { time_order: bool },
}

pub(crate) struct StoreCheck<'scope> {
    /// The checking thread, until it has been joined.
    pending: Mutex<Option<ScopedJoinHandle<'scope, Result<(), StoreError>>>>,
}

impl<'scope> StoreCheck<'scope> {
    /// Checks `indptr`'s checksum — every user's span, which the plan reads before any
    /// user is drawn — and starts the rest of the check `depth` names on a thread of
    /// `scope`.
    pub(crate) fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        store: &'env Store,
        depth: StoreCheckDepth,
    ) -> Result<Self, EngineError> {
        store.verify_checksums_of(|kind| kind == SectionKind::Indptr)?;
        let thread = scope.spawn(move || match depth {
            StoreCheckDepth::Checksums => {
                store.verify_checksums_of(|kind| kind != SectionKind::Indptr)
            }
            StoreCheckDepth::Whole { time_order: true } => store.verify(),
            StoreCheckDepth::Whole { time_order: false } => store.verify_without_time_order(),
        });
        Ok(StoreCheck {
            pending: Mutex::new(Some(thread)),
        })
    }

    /// Waits for the check; its error the first time it is asked, `Ok` after a pass.
    /// (A run stops at the first error, so it never asks again after one.)
    pub(crate) fn passed(&self) -> Result<(), EngineError> {
        let thread = self.pending.lock().expect("no panic holds the lock").take();
        match thread {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                .map_err(EngineError::from),
            None => Ok(()),
        }
    }

    /// `error`, unless the store turns out damaged: then the checksum's error, the cause
    /// to report (a flipped bit can make the sampler fail first, on what it read).
    pub(crate) fn explain(&self, error: EngineError) -> EngineError {
        match self.passed() {
            Err(damaged) => damaged,
            Ok(()) => error,
        }
    }
}
