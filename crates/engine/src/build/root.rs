//! A build root on disk: where builds are staged and published, the `current` link
//! switched atomically, and the pruning of old builds.
//!
//! ```text
//! ROOT/.lock          flock held by the running build (its holder's pid inside)
//! ROOT/.staging/ID/   the build being made: store/, data/ (data/train, data/test)
//! ROOT/builds/ID/     published builds: the same plus build.json
//! ROOT/current        symlink → builds/ID, replaced by one rename
//! ```

use super::BuildError;
use std::collections::HashSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// The build manifest of a published build.
pub const BUILD_FILE: &str = "build.json";
/// The store and dataset directories inside a build.
pub const STORE_DIR: &str = "store";
pub const DATA_DIR: &str = "data";

/// The paths of one root.
#[derive(Debug, Clone)]
pub struct Root {
    pub dir: PathBuf,
}

impl Root {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    pub fn lock_file(&self) -> PathBuf {
        self.dir.join(".lock")
    }

    pub fn staging_dir(&self) -> PathBuf {
        self.dir.join(".staging")
    }

    pub fn staging(&self, id: &str) -> PathBuf {
        self.staging_dir().join(id)
    }

    pub fn builds_dir(&self) -> PathBuf {
        self.dir.join("builds")
    }

    pub fn build(&self, id: &str) -> PathBuf {
        self.builds_dir().join(id)
    }

    pub fn current_link(&self) -> PathBuf {
        self.dir.join("current")
    }

    /// The id `current` names, if it names a published build.
    pub fn current(&self) -> Option<String> {
        let target = fs::read_link(self.current_link()).ok()?;
        let id = target.strip_prefix("builds").ok()?.to_str()?.to_owned();
        self.build(&id).join(BUILD_FILE).is_file().then_some(id)
    }

    /// Creates the root's directories (nothing else is written outside the lock).
    pub fn create(&self) -> Result<(), BuildError> {
        for dir in [self.dir.clone(), self.staging_dir(), self.builds_dir()] {
            fs::create_dir_all(&dir).map_err(|e| BuildError::io(&dir, e))?;
        }
        Ok(())
    }

    /// Moves the finished staging directory of `id` to `builds/ID`, durably.
    pub fn publish(&self, id: &str) -> Result<(), BuildError> {
        let (from, to) = (self.staging(id), self.build(id));
        sync_dir(&from)?;
        fs::rename(&from, &to).map_err(|e| BuildError::io(&to, e))?;
        sync_dir(&self.builds_dir())?;
        sync_dir(&self.staging_dir())
    }

    /// Points `current` at `builds/ID` with one rename over the old link: a reader
    /// resolves the old build or the new one, never nothing.
    pub fn switch_current(&self, id: &str) -> Result<(), BuildError> {
        let next = self.dir.join(".current.next");
        let _ = fs::remove_file(&next);
        let target = Path::new("builds").join(id);
        std::os::unix::fs::symlink(&target, &next).map_err(|e| BuildError::io(&next, e))?;
        let link = self.current_link();
        fs::rename(&next, &link).map_err(|e| BuildError::io(&link, e))?;
        sync_dir(&self.dir)
    }

    /// Published builds, newest first (by their manifests' publication time).
    pub fn published(&self) -> Result<Vec<String>, BuildError> {
        let dir = self.builds_dir();
        let mut builds = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| BuildError::io(&dir, e))? {
            let entry = entry.map_err(|e| BuildError::io(&dir, e))?;
            let Some(id) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let published_at = fs::read(entry.path().join(BUILD_FILE))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|m| m["published_at"].as_f64())
                .unwrap_or(0.0);
            builds.push((published_at, id));
        }
        builds.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        Ok(builds.into_iter().map(|(_, id)| id).collect())
    }

    /// Builds beyond the `keep` newest, oldest last; never the current one.
    pub fn prunable(&self, keep: usize) -> Result<Vec<String>, BuildError> {
        let current = self.current();
        let mut kept = 0;
        let mut out = Vec::new();
        for id in self.published()? {
            if Some(&id) == current.as_ref() || kept < keep.saturating_sub(1) {
                kept += usize::from(Some(&id) != current.as_ref());
                continue;
            }
            out.push(id);
        }
        Ok(out)
    }

    /// Deletes a published build: first renamed out of `builds/` (so no half-deleted
    /// build is ever listed there), then removed.
    pub fn remove_build(&self, id: &str) -> Result<(), BuildError> {
        let trash = self.staging_dir().join(format!(".trash-{id}"));
        let build = self.build(id);
        fs::rename(&build, &trash).map_err(|e| BuildError::io(&build, e))?;
        fs::remove_dir_all(&trash).map_err(|e| BuildError::io(&trash, e))
    }

    /// Staging directories other than `keep_id`'s: builds of an older input or
    /// configuration that never finished, and interrupted deletions.
    pub fn stale_staging(&self, keep_id: &str) -> Result<Vec<PathBuf>, BuildError> {
        let dir = self.staging_dir();
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| BuildError::io(&dir, e))? {
            let entry = entry.map_err(|e| BuildError::io(&dir, e))?;
            if entry.file_name() != keep_id {
                out.push(entry.path());
            }
        }
        out.sort();
        Ok(out)
    }
}

/// fsyncs a directory, making the renames and creations inside it durable.
pub fn sync_dir(dir: &Path) -> Result<(), BuildError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| BuildError::io(dir, e))
}

/// Paths under which some process on this machine has a file open, a mapping or its
/// working directory (read from /proc; what this user may not see is not listed).
/// Best effort: pruning skips a build found here, so a reader that opened it is not
/// pulled from under its feet, and a reader on another machine cannot be told.
pub fn paths_in_use() -> HashSet<PathBuf> {
    let mut out = HashSet::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return out;
    };
    for proc in procs.flatten() {
        let pid_dir = proc.path();
        if !proc
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        if let Ok(cwd) = fs::read_link(pid_dir.join("cwd")) {
            out.insert(cwd);
        }
        if let Ok(fds) = fs::read_dir(pid_dir.join("fd")) {
            out.extend(fds.flatten().filter_map(|fd| fs::read_link(fd.path()).ok()));
        }
        if let Ok(maps) = fs::read_to_string(pid_dir.join("maps")) {
            out.extend(
                maps.lines()
                    .filter_map(|line| line.find('/').map(|at| PathBuf::from(&line[at..]))),
            );
        }
    }
    out
}

/// Whether any of `in_use` lies inside `dir`.
pub fn is_in_use(dir: &Path, in_use: &HashSet<PathBuf>) -> bool {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    in_use.iter().any(|p| p.starts_with(&dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish_fake(root: &Root, id: &str, at: f64) {
        let dir = root.build(id);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(BUILD_FILE), format!("{{\"published_at\": {at}}}")).unwrap();
    }

    #[test]
    fn current_switches_and_pruning_keeps_the_newest_and_the_current() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        root.create().unwrap();
        assert_eq!(root.current(), None);
        for (id, at) in [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0)] {
            publish_fake(&root, id, at);
        }
        root.switch_current("b").unwrap();
        assert_eq!(root.current().as_deref(), Some("b"));
        assert_eq!(root.published().unwrap(), ["d", "c", "b", "a"]);
        // keep 2: the current build and the newest other one.
        assert_eq!(root.prunable(2).unwrap(), ["c", "a"]);
        assert_eq!(root.prunable(1).unwrap(), ["d", "c", "a"]);
        root.switch_current("d").unwrap();
        assert_eq!(root.prunable(3).unwrap(), ["a"]);
        root.remove_build("a").unwrap();
        assert_eq!(root.published().unwrap(), ["d", "c", "b"]);
        assert!(root.stale_staging("x").unwrap().is_empty());
    }

    #[test]
    fn an_open_file_marks_its_build_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let build = dir.path().join("builds/a");
        fs::create_dir_all(&build).unwrap();
        let file = build.join("f");
        fs::write(&file, "x").unwrap();
        assert!(!is_in_use(&build, &paths_in_use()));
        let held = File::open(&file).unwrap();
        assert!(is_in_use(&build, &paths_in_use()));
        drop(held);
    }
}
