//! Publishing directories atomically.
//!
//! Everything negsamp writes (stores, output datasets) is assembled in a sibling
//! directory named `.NAME.tmp-negsamp` and moved into place with one `rename` — or, when
//! replacing an existing result, one `renameat2(RENAME_EXCHANGE)` — so a reader or a
//! killed run sees the old result or the new one, never a mixture.
//!
//! Only one process writes a destination at a time: [`DestinationLock`] holds an
//! exclusive `flock` on `.NAME.lock-negsamp` from before the staging directory is
//! touched until after the publish, so the fixed staging name (which lets a rerun
//! resume) is never shared by two runs. The kernel drops the lock when its holder
//! dies, so a killed run never leaves a stale lock. [`check_disjoint`] refuses an
//! output that is, contains or lies inside one of the run's inputs.

use crate::StoreError;
use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::path::{Component, Path, PathBuf};

/// The staging directory used for `dest`: a hidden sibling, so the final rename stays
/// within one filesystem. The name is fixed (not per-process) so an interrupted run's
/// work can be found and resumed.
pub fn staging_path(dest: &Path) -> PathBuf {
    hidden_sibling(dest, "tmp")
}

/// `.NAME.{role}-negsamp` beside `dest`.
fn hidden_sibling(dest: &Path, role: &str) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    dest.with_file_name(format!(".{name}.{role}-negsamp"))
}

/// An exclusive lock on a destination, released when dropped (or when the process
/// dies).
#[derive(Debug)]
pub struct DestinationLock {
    _file: File,
}

/// The lock file of `dest`: a hidden sibling, like the staging directory.
pub fn lock_path(dest: &Path) -> PathBuf {
    hidden_sibling(dest, "lock")
}

/// Takes the exclusive lock on `dest`, without waiting: if another process holds it,
/// fails with [`StoreError::Busy`] naming that process, having changed nothing.
pub fn lock_destination(dest: &Path) -> Result<DestinationLock, StoreError> {
    lock_with_file(&lock_path(dest), dest)
}

/// Takes the exclusive lock on `guarded` held through the file `path` (created if
/// missing), like [`lock_destination`] but with the lock file where the caller keeps it.
pub fn lock_with_file(path: &Path, guarded: &Path) -> Result<DestinationLock, StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(StoreError::io(
                parent,
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "the output's directory does not exist",
                ),
            ));
        }
    }
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(StoreError::Busy {
                path: guarded.to_path_buf(),
                pid: holder.trim().parse().ok(),
            });
        }
        Err(e) => return Err(StoreError::io(path, e.into())),
    }
    // Name the holder for whoever is refused; a failure here costs only the name.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    Ok(DestinationLock { _file: file })
}

/// `path` made absolute with `.`/`..` and symlinks resolved as far as it exists (an
/// output usually does not exist yet).
fn resolve(path: &Path) -> io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        match fs::canonicalize(existing) {
            Ok(mut resolved) => {
                for part in rest.iter().rev() {
                    resolved.push(part);
                }
                return Ok(resolved);
            }
            Err(_) => match (existing.parent(), existing.components().next_back()) {
                (Some(parent), Some(Component::Normal(name))) => {
                    rest.push(name.to_owned());
                    existing = parent;
                }
                _ => return Ok(absolute),
            },
        }
    }
}

/// Refuses an `output` that is one of `inputs`, contains one, or lies inside one:
/// publishing it would replace (or write into) what the run reads.
pub fn check_disjoint(output: &Path, inputs: &[&Path]) -> Result<(), StoreError> {
    let out = resolve(output).map_err(|e| StoreError::io(output, e))?;
    for &input in inputs {
        let Ok(resolved) = fs::canonicalize(input) else {
            continue; // a missing input fails where it is read, with its own error
        };
        let relation = if resolved == out {
            "is"
        } else if resolved.starts_with(&out) {
            "contains"
        } else if out.starts_with(&resolved) {
            "lies inside"
        } else {
            continue;
        };
        return Err(StoreError::OutputOverlapsInput {
            output: output.to_path_buf(),
            input: input.to_path_buf(),
            relation,
        });
    }
    Ok(())
}

/// Moves the finished `staging` directory to `dest`. When `dest` exists it is replaced
/// only if `overwrite`, by an atomic exchange; the old contents are then deleted.
pub fn publish(staging: &Path, dest: &Path, overwrite: bool) -> io::Result<()> {
    if !dest.exists() {
        return fs::rename(staging, dest);
    }
    if !overwrite {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", dest.display()),
        ));
    }
    match rustix::fs::renameat_with(
        rustix::fs::CWD,
        staging,
        rustix::fs::CWD,
        dest,
        rustix::fs::RenameFlags::EXCHANGE,
    ) {
        Ok(()) => remove_any(staging),
        // Filesystems without RENAME_EXCHANGE: move the old result aside first. A crash
        // between the two renames leaves the old result at `.NAME.old-negsamp`.
        Err(_) => {
            let aside = hidden_sibling(dest, "old");
            remove_any(&aside).or_else(ignore_not_found)?;
            fs::rename(dest, &aside)?;
            fs::rename(staging, dest)?;
            remove_any(&aside)
        }
    }
}

/// Removes a file or a directory tree.
pub fn remove_any(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

fn ignore_not_found(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_second_writer_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let held = lock_destination(&dest).unwrap();
        match lock_destination(&dest) {
            Err(StoreError::Busy { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(held);
        lock_destination(&dest).unwrap();
    }

    #[test]
    fn outputs_overlapping_inputs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.store");
        fs::create_dir(&store).unwrap();
        let csv = dir.path().join("in.csv");
        fs::write(&csv, "x").unwrap();
        let relation = |out: &Path, input: &Path| match check_disjoint(out, &[input]) {
            Err(StoreError::OutputOverlapsInput { relation, .. }) => Some(relation),
            Ok(()) => None,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(relation(&store, &store), Some("is"));
        assert_eq!(relation(&csv, &csv), Some("is"));
        assert_eq!(relation(dir.path(), &csv), Some("contains"));
        assert_eq!(relation(&store.join("ds"), &store), Some("lies inside"));
        // spelled differently: through a symlink, `.`, and `..`
        std::os::unix::fs::symlink(dir.path(), dir.path().join("link")).unwrap();
        assert_eq!(
            relation(&dir.path().join("link/./s.store"), &store),
            Some("is")
        );
        let sneaky = dir.path().join("s.store/../s.store/inside");
        assert_eq!(relation(&sneaky, &store), Some("lies inside"));
        assert_eq!(relation(&dir.path().join("ds"), &store), None);
        assert_eq!(
            relation(&dir.path().join("ds"), &dir.path().join("missing")),
            None
        );
    }

    #[test]
    fn publishes_new_and_replaces_only_with_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let staging = staging_path(&dest);
        assert_eq!(staging, dir.path().join(".out.tmp-negsamp"));
        fs::create_dir(&staging).unwrap();
        fs::write(staging.join("v"), "1").unwrap();
        publish(&staging, &dest, false).unwrap();
        assert_eq!(fs::read_to_string(dest.join("v")).unwrap(), "1");

        fs::create_dir(&staging).unwrap();
        fs::write(staging.join("v"), "2").unwrap();
        let err = publish(&staging, &dest, false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(dest.join("v")).unwrap(), "1");
        publish(&staging, &dest, true).unwrap();
        assert_eq!(fs::read_to_string(dest.join("v")).unwrap(), "2");
        assert!(!staging.exists());
    }
}
