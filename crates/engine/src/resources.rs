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

/// Starts a new peak-memory measurement (Linux: resets the process's VmHWM through
/// /proc/self/clear_refs; elsewhere a no-op).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident set size since the last [`reset_peak_rss`], in bytes
/// (Linux's VmHWM), if the system reports it.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
