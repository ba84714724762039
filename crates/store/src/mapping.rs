//! The one place where negsamp maps a file into memory.
//!
//! Mapping is `unsafe` in memmap2 because the bytes can change underneath the program
//! if another process writes or truncates the file: a shrink turns reads past the new
//! end into SIGBUS, and a write changes data that was already validated. negsamp's
//! stores are written once under a temporary name and renamed into place, never
//! modified after, so the hazard is limited to someone else truncating or rewriting a
//! published store while it is open — documented as unsupported in
//! `docs/store-format.md`; a model's embedding files (hard negatives) are the user's,
//! and rewriting one during a run is unsupported the same way (README); a dataset's
//! part files, mapped by `verify`, are published once like stores and never modified. The CLI turns
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
