//! What this machine can hold: requests whose memory is derived from input are
//! compared with it before anything is allocated.

use crate::EngineError;

/// Refuses `needed` bytes held at once when they exceed half the available memory
/// (the other half is the rest of the run and everyone else).
pub fn check_fits_in_memory(
    what: impl FnOnce() -> String,
    needed: u64,
    hint: &'static str,
) -> Result<(), EngineError> {
    match negsamp_store::resources::memory_budget() {
        Some(available) if needed > available / 2 => Err(EngineError::TooLarge {
            what: what(),
            needed,
            available,
            hint,
        }),
        _ => Ok(()),
    }
}
