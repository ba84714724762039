//! How much memory this process may still take: what the machine has available and
//! what `ulimit -v` leaves. Sizes derived from input are compared with it before they
//! are allocated (an allocation failure aborts a Rust program) — and giving back what
//! a phase freed, so the next phase's peak does not sit on top of it.

/// `MemAvailable` of `/proc/meminfo`, in bytes (None where there is none).
pub fn available_memory() -> Option<u64> {
    meminfo_field("/proc/meminfo", "MemAvailable:")
}

/// What the address-space limit (`ulimit -v`) leaves above the process's current
/// virtual size, in bytes (None without a limit).
pub fn address_space_left() -> Option<u64> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::As).current?;
    let used = meminfo_field("/proc/self/status", "VmSize:").unwrap_or(0);
    Some(limit.saturating_sub(used))
}

/// The smaller of the two: the memory a new allocation can count on.
pub fn memory_budget() -> Option<u64> {
    match (available_memory(), address_space_left()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A `KEY: N kB` line of a `/proc` file, in bytes.
fn meminfo_field(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// Hands memory freed by worker threads back to the system. glibc keeps what a thread
/// frees in that thread's own arena, and it stays in the process's resident set: after
/// the Parquet reader's row groups are decoded on the rayon pool, 75 MB of freed
/// buffers (20M rows) were still resident while the CSR was built, lifting ingest's
/// peak from 1.93× the store to 2.09× (`docs/benchmarks.md`). A no-op elsewhere.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it takes each arena's lock itself.
    unsafe {
        libc::malloc_trim(0);
    }
}
