//! Publishing directories atomically.
//!
//! Everything negsamp writes (stores, output datasets) is assembled in a sibling
//! directory named `.NAME.tmp-negsamp` and moved into place with one `rename` — or, when
//! replacing an existing result, one `renameat2(RENAME_EXCHANGE)` — so a reader or a
//! killed run sees the old result or the new one, never a mixture.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The staging directory used for `dest`: a hidden sibling, so the final rename stays
/// within one filesystem. The name is fixed (not per-process) so an interrupted run's
/// work can be found and resumed.
pub fn staging_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    dest.with_file_name(format!(".{name}.tmp-negsamp"))
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
            let aside = dest.with_file_name(format!(
                ".{}.old-negsamp",
                dest.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ));
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
