//! `negsamp build` as a scheduler runs it: idempotent, atomic (`current` only ever
//! names a complete, verifying build), resumable after SIGKILL at any moment with the
//! bytes of an uninterrupted build, one build per root, and documented exit codes.

use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

fn negsamp_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_negsamp"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

/// A generated interaction CSV of `users` users (features included) at `dir/name`.
fn generate(dir: &Path, name: &str, users: u64, seed: u64) {
    ok(negsamp_in(
        dir,
        &[
            "generate",
            "--out",
            name,
            "--users",
            &users.to_string(),
            "--seed",
            &seed.to_string(),
            "--features",
            "-q",
        ],
    ));
}

/// The README's nightly config, with its `input`, `root` and `keep` replaced (paths
/// relative to the config's directory).
fn write_config(dir: &Path, name: &str, input: &str, root: &str, keep: u32) -> PathBuf {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let block = readme
        .split("```toml\n")
        .find(|b| b.starts_with("# nightly.toml"))
        .expect("the README shows a nightly.toml")
        .split("```")
        .next()
        .unwrap();
    let config: Vec<String> = block
        .lines()
        .map(|line| match line.split_whitespace().next() {
            Some("input") => format!("input = \"{input}\""),
            Some("root") => format!("root = \"{root}\""),
            Some("keep") if line.starts_with("keep  =") => format!("keep = {keep}"),
            _ => line.to_owned(),
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, config.join("\n")).unwrap();
    path
}

fn current(root: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(root.join("current")).ok()?;
    Some(root.join(target))
}

/// Every file of a published build by relative path; manifests with their
/// run-specific fields (timings, the staging path the store had) removed.
fn build_files(build: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![build.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.strip_prefix(build).unwrap().display().to_string();
            let bytes = std::fs::read(&path).unwrap();
            let bytes = match path.file_name().unwrap().to_str().unwrap() {
                "build.json" => {
                    let mut m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    for key in ["started_at", "published_at", "stages", "input", "host"] {
                        m.as_object_mut().unwrap().remove(key);
                    }
                    m.to_string().into_bytes()
                }
                "_manifest.json" | "manifest.json" => {
                    let mut m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    m.as_object_mut().unwrap().remove("elapsed_seconds");
                    m["store"].as_object_mut().unwrap().remove("path");
                    m.to_string().into_bytes()
                }
                _ => bytes,
            };
            out.insert(name, bytes);
        }
    }
    out
}

fn assert_same_build(a: &Path, b: &Path) {
    let (fa, fb) = (build_files(a), build_files(b));
    assert_eq!(
        fa.keys().collect::<Vec<_>>(),
        fb.keys().collect::<Vec<_>>(),
        "{} vs {}",
        a.display(),
        b.display()
    );
    for (name, bytes) in &fa {
        assert!(bytes == &fb[name], "{name} differs");
    }
}

#[test]
fn builds_publish_verified_data_and_an_unchanged_input_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "events.csv", 1500, 1);
    write_config(d, "nightly.toml", "events.csv", "nightly", 2);
    let log = ok(negsamp_in(d, &["build", "nightly.toml"]));
    assert!(log.contains("built "), "{log}");
    let root = d.join("nightly");
    let first = current(&root).expect("current is published");
    ok(negsamp_in(d, &["verify", first.to_str().unwrap()]));

    // The same data as `ingest` + `sample` by hand with the same options.
    ok(negsamp_in(
        d,
        &[
            "ingest",
            "events.csv",
            "--out",
            "s.store",
            "--keep",
            "price,category",
        ],
    ));
    ok(negsamp_in(
        d,
        &[
            "sample",
            "s.store",
            "--out",
            "by-hand",
            "--strategy",
            "popularity",
            "--seed",
            "42",
            "--ratio",
            "4",
            "--carry",
            "price,category",
            "--history",
            "5",
            "--format",
            "parquet",
            "--shards",
            "4",
        ],
    ));
    for part in 0..4 {
        let name = format!("part-{part:05}.parquet");
        assert!(
            std::fs::read(first.join("data").join(&name)).unwrap()
                == std::fs::read(d.join("by-hand").join(&name)).unwrap(),
            "{name}"
        );
    }

    // Unchanged input and config: nothing to do, and said so (also as JSON).
    let again = negsamp_in(d, &["build", "nightly.toml", "--log-format", "json"]);
    assert!(again.status.success(), "{}", text(&again));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&again.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    assert!(
        events.iter().any(|e| e["event"] == "up_to_date"),
        "{events:?}"
    );
    assert!(!events.iter().any(|e| e["event"] == "published"));
    assert_eq!(current(&root), Some(first.clone()));

    // A new input: a new build; with keep = 2 the previous one stays, the one before
    // goes — unless a process has it open.
    generate(d, "events.csv", 1500, 2);
    ok(negsamp_in(d, &["build", "nightly.toml"]));
    let second = current(&root).unwrap();
    assert_ne!(second, first);
    assert!(first.exists());
    let held = std::fs::File::open(first.join("build.json")).unwrap();
    generate(d, "events.csv", 1500, 3);
    let log = ok(negsamp_in(d, &["build", "nightly.toml"]));
    assert!(log.contains("a process has it open"), "{log}");
    assert!(first.exists() && second.exists());
    drop(held);
    generate(d, "events.csv", 1500, 4);
    ok(negsamp_in(d, &["build", "nightly.toml"]));
    assert!(!first.exists() && !second.exists());
    let builds = std::fs::read_dir(root.join("builds")).unwrap().count();
    assert_eq!(builds, 2);

    // The dry run writes nothing and says what would be pruned.
    generate(d, "events.csv", 1500, 5);
    let before = std::fs::read_link(root.join("current")).unwrap();
    let plan = ok(negsamp_in(d, &["build", "nightly.toml", "--dry-run"]));
    assert!(plan.contains("would prune: "), "{plan}");
    assert_eq!(std::fs::read_link(root.join("current")).unwrap(), before);
}

#[test]
fn config_errors_exit_2_and_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("events.csv"), "user,item\n1,2\n").unwrap();
    let cases = [
        (
            "input = \"events.csv\"\nroot = \"r\"\n[sample]\nratoi = 4\n",
            "unknown key `ratoi`; did you mean `ratio`?",
        ),
        (
            "input = \"events.csv\"\nroot = \"r\"\nkepe = 2\n",
            "did you mean `keep`?",
        ),
        (
            "input = \"events.csv\"\nroot = \"r\"\n[ingest]\nuser_col = \"u\"\n",
            "did you mean `user-col`?",
        ),
        (
            "input = \"events.csv\"\nroot = \"r\"\n[sample]\nratio = 1.5\n",
            "not a whole number",
        ),
        (
            "input = \"events.csv\"\nroot = \"r\"\n[sample]\nout = \"x\"\n",
            "set by the build itself",
        ),
        (
            "input = \"events.csv\"\nroot = \"r\"\nkeep = 0\n",
            "at least 1",
        ),
        ("input = \"events.csv\"\n", "`root` is required"),
        (
            "input = \"events.csv\"\nroot = \"r\"\n[sample]\nalpha = 0.5\n",
            "--strategy popularity",
        ),
        ("input = \"-\"\nroot = \"r\"\n", "standard input"),
        ("input = [\n", "not valid TOML"),
    ];
    for (config, message) in cases {
        std::fs::write(d.join("bad.toml"), config).unwrap();
        let out = negsamp_in(d, &["build", "bad.toml"]);
        assert_eq!(out.status.code(), Some(2), "{config}: {}", text(&out));
        assert!(text(&out).contains(message), "{config}: {}", text(&out));
        assert!(!d.join("r").join("current").exists());
    }
}

#[test]
fn a_held_root_exits_3_and_a_dead_holders_lock_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "events.csv", 300, 1);
    write_config(d, "nightly.toml", "events.csv", "nightly", 2);
    std::fs::create_dir(d.join("nightly")).unwrap();
    let lock = d.join("nightly/.lock");
    let held = negsamp_store::publish::lock_with_file(&lock, &d.join("nightly")).unwrap();
    let out = negsamp_in(d, &["build", "nightly.toml"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("is being written by process"),
        "{}",
        text(&out)
    );
    drop(held);
    // A lock file naming a process that died: the kernel released its lock.
    std::fs::write(&lock, "999999\n").unwrap();
    ok(negsamp_in(d, &["build", "nightly.toml"]));
}

#[test]
fn a_damaged_dataset_left_by_a_killed_build_is_redone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "events.csv", 800, 1);
    write_config(d, "nightly.toml", "events.csv", "nightly", 2);
    ok(negsamp_in(d, &["build", "nightly.toml"]));
    let root = d.join("nightly");
    let build = current(&root).unwrap();
    let reference = d.join("reference");
    std::fs::rename(&build, &reference).unwrap();
    // As if killed after sampling: store and data staged, nothing published.
    let id = build.file_name().unwrap();
    let staging = root.join(".staging").join(id);
    copy_dir(&reference, &staging);
    std::fs::remove_file(staging.join("build.json")).unwrap();
    std::fs::remove_file(root.join("current")).unwrap();
    let part = staging.join("data/part-00002.parquet");
    let mut bytes = std::fs::read(&part).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&part, bytes).unwrap();
    let log = ok(negsamp_in(d, &["build", "nightly.toml"]));
    assert!(log.contains("failed verification"), "{log}");
    assert_same_build(&reference, &current(&root).unwrap());
}

#[test]
fn a_full_disk_fails_the_build_and_keeps_current() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mount = d.join("small");
    std::fs::create_dir(&mount).unwrap();
    let Some(_mounted) = Tmpfs::mount(&mount, "6m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root or a user namespace)");
        return;
    };
    generate(d, "small.csv", 300, 1);
    generate(d, "large.csv", 40_000, 2);
    let config = |input: &str| {
        std::fs::write(
            d.join("c.toml"),
            format!("input = \"{input}\"\nroot = \"small/root\"\n[sample]\nratio = 8\n"),
        )
        .unwrap();
    };
    config("small.csv");
    ok(negsamp_in(d, &["build", "c.toml"]));
    let root = mount.join("root");
    let good = current(&root).unwrap();
    config("large.csv");
    let out = negsamp_in(d, &["build", "c.toml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let message = text(&out);
    assert!(
        message.contains("No space left") || message.contains("bytes are available"),
        "{message}"
    );
    assert_eq!(current(&root), Some(good.clone()));
    ok(negsamp_in(d, &["verify", good.to_str().unwrap()]));
}

/// SIGKILL at seeded random moments, at least 20 times: between kills `current`
/// names the old build or the new one, complete and verifying; retried until it
/// succeeds, the build has the bytes of an uninterrupted one.
#[test]
fn killed_builds_resume_to_the_bytes_of_an_uninterrupted_build() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "old.csv", 2000, 1);
    generate(d, "new.csv", 12_000, 2);
    write_config(d, "old.toml", "old.csv", "root", 2);
    write_config(d, "new.toml", "new.csv", "root", 2);
    write_config(d, "reference.toml", "new.csv", "reference", 2);
    let start = Instant::now();
    ok(negsamp_in(d, &["build", "reference.toml"]));
    let full = start.elapsed();
    let reference = current(&d.join("reference")).unwrap();

    let mut rng = rand::rngs::StdRng::seed_from_u64(20261123);
    let root = d.join("root");
    let (mut kills, mut rounds) = (0, 0);
    while kills < 20 {
        // Each round starts from the old build being current.
        let _ = std::fs::remove_dir_all(&root);
        ok(negsamp_in(d, &["build", "old.toml"]));
        let old = current(&root).unwrap();
        rounds += 1;
        loop {
            let mut child = Command::new(env!("CARGO_BIN_EXE_negsamp"))
                .current_dir(d)
                .args(["build", "new.toml", "-q"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let delay = full.mul_f64(rng.random_range(0.0..1.0));
            std::thread::sleep(delay);
            let finished = child.try_wait().unwrap().is_some();
            if !finished {
                child.kill().unwrap();
                kills += 1;
            }
            let status = child.wait().unwrap();
            let now = current(&root).expect("current always exists");
            if now == old {
                ok(negsamp_in(d, &["verify", "--quick", now.to_str().unwrap()]));
            } else {
                assert_same_build(&reference, &now);
            }
            if finished {
                assert!(status.success(), "a build that was not killed failed");
                ok(negsamp_in(d, &["verify", now.to_str().unwrap()]));
                break;
            }
        }
    }
    eprintln!("{kills} kills over {rounds} rounds (uninterrupted build: {full:?})");
    // The last round: finish it and compare.
    ok(negsamp_in(d, &["build", "new.toml"]));
    assert_same_build(&reference, &current(&root).unwrap());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Self> {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn every_command_is_quiet_or_json_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "events.csv", 200, 1);
    let quiet = negsamp_in(d, &["ingest", "events.csv", "--out", "q.store", "--quiet"]);
    assert!(
        quiet.status.success() && quiet.stdout.is_empty(),
        "{}",
        text(&quiet)
    );
    let json_line = |out: Output| -> serde_json::Value {
        assert!(out.status.success(), "{}", text(&out));
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        serde_json::from_str(&stdout).unwrap()
    };
    let ingested = json_line(negsamp_in(
        d,
        &["ingest", "events.csv", "--out", "s.store", "--json"],
    ));
    assert_eq!(ingested["event"], "ingested");
    assert_eq!(ingested["users"], 200);
    let sampled = json_line(negsamp_in(
        d,
        &["sample", "s.store", "--out", "ds", "--json"],
    ));
    assert_eq!(sampled["event"], "sampled");
    assert_eq!(sampled["positives"], ingested["interactions"]);
    let verified = json_line(negsamp_in(d, &["verify", "ds", "--log-format", "json"]));
    assert_eq!(verified["checked_against_store"], true);
    let info = json_line(negsamp_in(d, &["info", "s.store", "--log-format", "json"]));
    assert_eq!(info["event"], "info");
    // An error is an event too, with its exit code.
    let failed = negsamp_in(d, &["sample", "s.store", "--out", "ds", "--json"]);
    assert_eq!(failed.status.code(), Some(1));
    let error: serde_json::Value = serde_json::from_slice(&failed.stdout).unwrap();
    assert_eq!(
        (error["event"].as_str(), error["exit_code"].as_u64()),
        (Some("error"), Some(1))
    );
}

/// The config reader under random damage: byte flips, truncations, inserted TOML
/// punctuation. Every outcome is an exit code of 0 (a still-valid config, dry run), 1
/// or 2 with a message — never a panic.
#[test]
fn damaged_configs_are_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("events.csv"), "user,item\n1,2\n2,3\n").unwrap();
    let config = std::fs::read(write_config(d, "good.toml", "events.csv", "r", 2)).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let noise = b"=[]{}\",.#\n\\'-0123456789.eE+truefalse \t\xff";
    for case in 0..300 {
        let mut bytes = config.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..bytes.len());
            match rng.random_range(0..3) {
                0 => bytes[at] = noise[rng.random_range(0..noise.len())],
                1 => bytes.truncate(at.max(1)),
                _ => bytes.insert(at, noise[rng.random_range(0..noise.len())]),
            }
        }
        std::fs::write(d.join("bad.toml"), &bytes).unwrap();
        let out = negsamp_in(d, &["build", "bad.toml", "--dry-run"]);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0..=2)) && !text(&out).contains("panicked"),
            "case {case}: exit {code:?}\n{}\n{}",
            String::from_utf8_lossy(&bytes),
            text(&out)
        );
        assert!(
            code == Some(0) || text(&out).contains("error: "),
            "case {case}"
        );
    }
}
