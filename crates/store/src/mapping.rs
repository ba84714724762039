//! The one place where negsamp maps a file into memory.
//!
//! Mapping is `unsafe` in memmap2 because the bytes can change underneath the program
//! if another process writes or truncates the file: a shrink turns reads past the new
//! end into SIGBUS, and a write changes data that was already validated. negsamp's
//! stores are written once under a temporary name and renamed into place, never
//! modified after, so the hazard is limited to someone else truncating or rewriting a
//! published store while it is open — documented as unsupported in
//! `docs/store-format.md`; a model's embedding files (hard negatives) are the user's,
//! and rewriting one during a run is unsupported the same way (README). The CLI turns
//! such a SIGBUS into a message. Everything else (length, header, section bounds) is
//! checked by the caller on the mapped bytes before any slice is trusted.

use memmap2::{Advice, Mmap};
use std::fs::File;
use std::path::Path;

/// Maps `path` read-only for reading mostly in order (a store: users in turn).
/// Callers must validate the contents before trusting them.
pub fn map_readonly(path: &Path) -> std::io::Result<Mmap> {
    map(path, Advice::Sequential)
}

/// Maps `path` read-only for reads in no particular order (a model's item vectors,
/// fetched by sampled item): read-ahead would only evict useful pages.
pub fn map_for_random_reads(path: &Path) -> std::io::Result<Mmap> {
    map(path, Advice::Random)
}

fn map(path: &Path, advice: Advice) -> std::io::Result<Mmap> {
    let file = File::open(path)?;
    // SAFETY: see the module docs. negsamp never writes a mapped input, and the
    // mapping is only read after its length and header have been validated; a
    // concurrent external truncation is the one case left, and it is documented as
    // unsupported.
    let map = unsafe { Mmap::map(&file)? };
    // Advice is a hint, so a refusal is not an error.
    let _ = map.advise(advice);
    Ok(map)
}

/// The fraction of `file`'s pages (`len` bytes) that are in the page cache, from 0 to
/// 1 (0 where the platform cannot say). The file is mapped only to ask `mincore`; its
/// bytes are never read through the map, so no promise about them is needed.
pub fn cached_fraction(file: &File, len: u64) -> std::io::Result<f64> {
    if len == 0 {
        return Ok(1.0);
    }
    resident_fraction(file)
}

#[cfg(target_os = "linux")]
fn resident_fraction(file: &File) -> std::io::Result<f64> {
    // SAFETY: the map is never read (only its address range is passed to `mincore`),
    // so a change to the file underneath cannot be observed through it.
    let map = unsafe { Mmap::map(file)? };
    let page = 4096;
    let mut resident = vec![0u8; map.len().div_ceil(page)];
    // SAFETY: `map` is a live mapping of `map.len()` bytes at a page-aligned address,
    // and `resident` has the one byte per page that `mincore` writes.
    let status = unsafe {
        libc::mincore(
            map.as_ptr() as *mut libc::c_void,
            map.len(),
            resident.as_mut_ptr(),
        )
    };
    if status != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let cached = resident.iter().filter(|&&r| r & 1 != 0).count();
    Ok(cached as f64 / resident.len() as f64)
}

#[cfg(not(target_os = "linux"))]
fn resident_fraction(_: &File) -> std::io::Result<f64> {
    Ok(0.0)
}
