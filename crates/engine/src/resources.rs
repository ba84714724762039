//! What this machine can hold: requests whose memory is derived from input are
//! compared with it before anything is allocated.

use crate::EngineError;

/// `MemAvailable` of `/proc/meminfo`, in bytes (None where there is none).
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// Refuses `needed` bytes held at once when they exceed half the available memory
/// (the other half is the rest of the run and everyone else).
pub fn check_fits_in_memory(
    what: impl FnOnce() -> String,
    needed: u64,
    hint: &'static str,
) -> Result<(), EngineError> {
    match available_memory() {
        Some(available) if needed > available / 2 => Err(EngineError::TooLarge {
            what: what(),
            needed,
            available,
            hint,
        }),
        _ => Ok(()),
    }
}
