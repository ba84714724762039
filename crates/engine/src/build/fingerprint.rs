//! What a build's identity is computed from: the contents of its input files, and a
//! cheap stamp (sizes, modification times) that tells whether they changed while the
//! build was reading them.

use super::BuildError;
use serde::Serialize;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use xxhash_rust::xxh3::Xxh3;

/// The input's contents, hashed.
#[derive(Debug, Clone, Serialize)]
pub struct InputFingerprint {
    /// XXH3-128 over every file's path (relative to the input), size and bytes, hex.
    pub xxh3: String,
    pub files: u64,
    pub bytes: u64,
    #[serde(skip)]
    stamp: Vec<FileStamp>,
}

/// Enough of a file's metadata to notice a rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

impl InputFingerprint {
    /// Hashes the files an ingest of `input` reads, in the order it reads them. Costs
    /// one sequential read of the input (XXH3 runs far faster than the read).
    pub fn of(input: &Path) -> Result<Self, BuildError> {
        let files = negsamp_store::ingest::input_files(input)?;
        let mut hasher = Xxh3::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        let mut stamp = Vec::with_capacity(files.len());
        for path in &files {
            let io = |e| BuildError::io(path, e);
            let mut file = File::open(path).map_err(io)?;
            let before = file_stamp(path, &file)?;
            let relative = path.strip_prefix(input).unwrap_or(path);
            hasher.update(relative.as_os_str().as_encoded_bytes());
            hasher.update(&[0]);
            hasher.update(&before.len.to_le_bytes());
            loop {
                let n = file.read(&mut buffer).map_err(io)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buffer[..n]);
                bytes += n as u64;
            }
            stamp.push(before);
        }
        Ok(Self {
            xxh3: format!("{:032x}", hasher.digest128()),
            files: files.len() as u64,
            bytes,
            stamp,
        })
    }

    /// Fails if any input file was added, removed, resized or rewritten since it was
    /// fingerprinted: the store would not be the one the build's identity names.
    pub fn check_unchanged(&self, input: &Path) -> Result<(), BuildError> {
        let changed = || BuildError::InputChanged {
            path: input.to_path_buf(),
        };
        let files = negsamp_store::ingest::input_files(input).map_err(|_| changed())?;
        if files.len() != self.stamp.len() {
            return Err(changed());
        }
        for (path, recorded) in files.iter().zip(&self.stamp) {
            let file = File::open(path).map_err(|_| changed())?;
            if file_stamp(path, &file).ok().as_ref() != Some(recorded) {
                return Err(changed());
            }
        }
        Ok(())
    }
}

fn file_stamp(path: &Path, file: &File) -> Result<FileStamp, BuildError> {
    let meta = file.metadata().map_err(|e| BuildError::io(path, e))?;
    Ok(FileStamp {
        path: path.to_path_buf(),
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// XXH3-64 of a whole file, hex (the files a configuration names: item catalog,
/// weights, exclusions).
pub(crate) fn file_hash(path: &Path) -> Result<String, BuildError> {
    let bytes = std::fs::read(path).map_err(|e| BuildError::io(path, e))?;
    Ok(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_and_names_change_the_fingerprint_and_a_rewrite_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("in.csv");
        std::fs::write(&csv, "user,item\n1,2\n").unwrap();
        let a = InputFingerprint::of(&csv).unwrap();
        assert_eq!((a.files, a.bytes), (1, 14));
        assert_eq!(a.xxh3, InputFingerprint::of(&csv).unwrap().xxh3);
        a.check_unchanged(&csv).unwrap();
        std::fs::write(&csv, "user,item\n1,3\n").unwrap();
        assert_ne!(a.xxh3, InputFingerprint::of(&csv).unwrap().xxh3);
        // Same size, new contents: the modification time tells (set explicitly, as a
        // rewrite within the filesystem's time granularity would not).
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1);
        File::options()
            .write(true)
            .open(&csv)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(matches!(
            a.check_unchanged(&csv),
            Err(BuildError::InputChanged { .. })
        ));
        std::fs::remove_file(&csv).unwrap();
        assert!(matches!(
            a.check_unchanged(&csv),
            Err(BuildError::InputChanged { .. })
        ));
    }
}
