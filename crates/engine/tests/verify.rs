//! `verify` catches what it exists for: tampered files, rows that break the contract
//! even with matching checksums, and — by sampling every part afresh — anything that
//! is not exactly what the store and the manifest's parameters give.

mod common;

use common::*;
use negsamp_engine::manifest::Manifest;
use negsamp_engine::verify::{
    read_part_data, verify_output, verify_output_in_windows, verify_output_with_progress, RowCheck,
};
use negsamp_engine::SampleConfig;
use negsamp_kernel::uniform::{Kernel, Replacement};
use negsamp_store::Store;
use std::path::Path;

fn edit_manifest(out: &Path, edit: impl FnOnce(&mut Manifest)) {
    let mut manifest = Manifest::read(out).unwrap();
    edit(&mut manifest);
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

#[test]
fn verify_catches_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_from_lists(&[vec![1, 2], vec![0, 3, 4]], 8);
    let out = dir.path().join("o");
    run(&store, &out, &SampleConfig::default());
    // flip a data byte: the checksum no longer matches
    let item = out.join("part-00000/item.npy");
    let mut bytes = std::fs::read(&item).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&item, &bytes).unwrap();
    let err = verify_output(&out, None).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    // a verifier against another store refuses
    run(&store, &dir.path().join("p"), &SampleConfig::default());
    let other = store_from_lists(&[vec![1]], 8);
    assert!(verify_output(&dir.path().join("p"), Some(&other)).is_err());
}

/// Each row check of `verify` fires on the corruption it exists for.
#[test]
fn verify_checks_every_row_against_the_store() {
    let store = store_from_lists(&[vec![1, 2, 5], vec![0, 3]], 8);
    let dir = tempfile::tempdir().unwrap();
    let fresh = |name: &str| {
        let out = dir.path().join(name);
        run(&store, &out, &SampleConfig::default());
        let data = read_part_data(&out, &store, 0).unwrap();
        (out, data)
    };
    let negative_row =
        |data: &negsamp_engine::verify::PartData| data.label.iter().position(|&l| l == 0).unwrap();

    let (out, data) = fresh("positive-as-negative");
    let r = negative_row(&data);
    let positive = if data.user[r] == 0 { 1u32 } else { 0 };
    tamper(&out, "item", r, positive);
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(err.contains("is a positive or excluded item"), "{err}");

    let (out, data) = fresh("foreign-anchor");
    tamper(&out, "anchor", negative_row(&data), 999u64);
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(err.contains("is not a positive of user"), "{err}");

    // a negative moved to an earlier anchor of its user: a positive, out of order
    let (out, data) = fresh("anchor-order");
    let last_negative = (0..data.user.len())
        .rfind(|&r| data.user[r] == 0 && data.label[r] == 0)
        .unwrap();
    assert_ne!(data.anchor[0], data.anchor[last_negative]);
    tamper(&out, "anchor", last_negative, data.anchor[0]);
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "row {last_negative}: anchor {} of user 0 is out of (timestamp, row) order",
            data.anchor[0]
        )),
        "{err}"
    );

    let (out, data) = fresh("wrong-timestamp");
    tamper(&out, "timestamp", negative_row(&data), -5i64);
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(err.contains("timestamp differs"), "{err}");

    let (out, data) = fresh("repeated-negative");
    let rows: Vec<usize> = (0..data.user.len())
        .filter(|&r| data.user[r] == 0 && data.label[r] == 0)
        .collect();
    tamper(&out, "item", rows[1], data.item[rows[0]]);
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(err.contains("repeated"), "{err}");

    // without the store, only the manifest's promises are checked: these pass
    verify_output(&out, None).unwrap();
}

/// An item that row `r`'s user could have drawn instead: neither a positive nor one of
/// the user's rows already — a swap no row check can see.
fn another_valid_candidate(
    store: &Store,
    data: &negsamp_engine::verify::PartData,
    r: usize,
) -> u32 {
    let user = store.user(data.user[r]).unwrap();
    let taken: Vec<u32> = (0..data.user.len())
        .filter(|&k| data.user[k] == data.user[r])
        .map(|k| data.item[k])
        .collect();
    (0..store.n_items())
        .find(|i| user.items.binary_search(i).is_err() && !taken.contains(i))
        .unwrap()
}

/// Tampers that pass every file checksum and every row check are caught by sampling
/// each part afresh: an edited seed, kernel or replacement, a negative swapped for
/// another valid candidate, swapped or truncated id maps.
#[test]
fn verify_recomputes_every_part() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&generated_store(dir.path(), 300, 200, 8)).unwrap();
    let config = SampleConfig {
        shards: Some(2),
        seed: 1,
        ..Default::default()
    };
    let fresh = |name: &str| {
        let out = dir.path().join(name);
        run(&store, &out, &config);
        out
    };
    let recompute_error = |out: &Path| {
        let err = verify_output(out, Some(&store)).unwrap_err().to_string();
        assert!(err.contains("fresh sample"), "{err}");
    };
    let out = fresh("seed");
    edit_manifest(&out, |m| m.parameters.seed = 2);
    recompute_error(&out);
    let out = fresh("kernel");
    edit_manifest(&out, |m| m.parameters.kernel = Kernel::GuessHash);
    recompute_error(&out);
    let out = fresh("replacement");
    edit_manifest(&out, |m| m.parameters.replacement = Replacement::With);
    recompute_error(&out);

    // A negative replaced by another valid candidate of its user, checksums rewritten.
    let out = fresh("swap");
    let data = read_part_data(&out, &store, 0).unwrap();
    let r = data.label.iter().position(|&l| l == 0).unwrap();
    tamper(&out, "item", r, another_valid_candidate(&store, &data, r));
    recompute_error(&out);

    // Id maps swapped or truncated.
    let out = fresh("ids");
    let users = std::fs::read_to_string(out.join("users.txt")).unwrap();
    let mut lines: Vec<&str> = users.lines().collect();
    lines.swap(0, 1);
    std::fs::write(out.join("users.txt"), lines.join("\n") + "\n").unwrap();
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(
        err.contains("users.txt") && err.contains("differs"),
        "{err}"
    );
    let out = fresh("ids-cut");
    std::fs::write(out.join("items.txt"), "0\n").unwrap();
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(err.contains("items.txt"), "{err}");
}

/// A manifest missing a column is an error, with or without the store — never a
/// panic on the column it lacks.
#[test]
fn a_manifest_missing_a_column_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_from_lists(&[vec![1, 2], vec![0, 3, 4]], 8);
    let out = dir.path().join("o");
    run(&store, &out, &SampleConfig::default());
    edit_manifest(&out, |m| m.columns.retain(|c| c.name != "anchor"));
    let with = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(with.contains("columns differ"), "{with}");
    let without = verify_output(&out, None).unwrap_err().to_string();
    assert!(without.contains("expected"), "{without}");
}

/// A part is checked in the sampler's user chunks (in parallel); a problem deep in a
/// one-part dataset is still found and named by its row in the part's files.
#[test]
fn verify_checks_a_part_chunk_by_chunk_and_names_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&generated_store(dir.path(), 300, 200, 8)).unwrap();
    let config = SampleConfig {
        chunk_rows: 40,
        seed: 3,
        ..Default::default()
    };
    let fresh = |name: &str| {
        let out = dir.path().join(name);
        let manifest = run(&store, &out, &config);
        assert_eq!(manifest.parts.len(), 1);
        verify_output(&out, Some(&store)).unwrap();
        (
            out,
            read_part_data(&dir.path().join(name), &store, 0).unwrap(),
        )
    };
    // the verdict, whether the part is read whole or a window at a time (the rows
    // named counted from the part's first): an error that says `expected`
    let assert_refused = |out: &Path, expected: &str| {
        let whole = verify_output(out, Some(&store)).unwrap_err().to_string();
        assert!(whole.contains(expected), "{whole}");
        for window_bytes in [64, 4096] {
            let windowed = verify_output_in_windows(
                out,
                Some(&store),
                RowCheck::default(),
                &|_| {},
                window_bytes,
            );
            let windowed = windowed.unwrap_err().to_string();
            assert!(
                windowed.contains(expected),
                "{window_bytes} bytes: {windowed}"
            );
        }
    };
    // a negative of a late chunk replaced by one of its user's positives
    let (out, data) = fresh("late-positive");
    let late = |data: &negsamp_engine::verify::PartData| {
        (data.user.len() * 9 / 10..data.user.len())
            .find(|&r| data.label[r] == 0)
            .unwrap()
    };
    let r = late(&data);
    let positive = store.user(data.user[r]).unwrap().items[0];
    tamper(&out, "item", r, positive);
    assert_refused(&out, &format!("row {r}: negative item {positive}"));

    // the same in the first chunk: the checks stop while windows read ahead of them
    // wait, and the files' checksums are still taken whole (no checksum error)
    let (out, data) = fresh("early-positive");
    let r = data.label.iter().position(|&l| l == 0).unwrap();
    let positive = store.user(data.user[r]).unwrap().items[0];
    tamper(&out, "item", r, positive);
    assert_refused(&out, &format!("row {r}: negative item {positive}"));

    // a negative of a late chunk replaced by another valid candidate: only the fresh
    // sample of that chunk catches it, and says where
    let (out, data) = fresh("late-swap");
    let r = late(&data);
    tamper(&out, "item", r, another_valid_candidate(&store, &data, r));
    assert_refused(
        &out,
        &format!("row {r}: column item differs from a fresh sample"),
    );

    // rows of a user moved out of order
    let (out, data) = fresh("order");
    let r = data.user.len() / 2;
    tamper(&out, "user", r, data.user[r] + 1);
    tamper(&out, "user", r + 1, data.user[r]);
    assert_refused(&out, "out of order");

    // the last row given a user past the part's
    let (out, data) = fresh("past-the-part");
    let last = data.user.len() - 1;
    tamper(&out, "user", last, 10_000u32);
    assert_refused(&out, &format!("row {last}: user 10000 is outside the part"));
}

/// Verify reports its progress as it goes: rising, and ending at the dataset's rows
/// (checked against the store or not).
#[test]
fn verify_reports_progress_up_to_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = generated_store(dir.path(), 400, 300, 5);
    let store = Store::open(&store_dir).unwrap();
    let out = dir.path().join("o");
    let config = SampleConfig {
        shards: Some(5),
        chunk_rows: 100,
        ..Default::default()
    };
    let manifest = run(&store, &out, &config);
    for store in [Some(&store), None] {
        let seen = std::sync::Mutex::new(Vec::new());
        let report = verify_output_with_progress(&out, store, RowCheck::default(), &|done| {
            seen.lock().unwrap().push(done)
        })
        .unwrap();
        let mut seen = seen.into_inner().unwrap();
        // part by part without the store, chunk by chunk with it
        let enough = if store.is_some() {
            seen.len() > 5
        } else {
            seen.len() == 5
        };
        assert!(enough, "{} steps", seen.len());
        seen.sort_unstable(); // chunks finish in any order; the running total only rises
        assert_eq!(*seen.last().unwrap(), manifest.totals.tally.rows);
        assert_eq!(report.rows, manifest.totals.tally.rows);
    }
}

/// A `user.npy` whose header is one byte longer (valid `.npy`, its data no longer
/// aligned for `u32` in the map) is read through a copy, not refused or a panic — and
/// is still checked row by row.
#[test]
fn a_user_column_not_aligned_in_its_file_is_still_checked() {
    let store = store_from_lists(&[vec![1, 2, 5], vec![0, 3], vec![4]], 8);
    let dir = tempfile::tempdir().unwrap();
    let shift_user_data = |out: &Path| {
        let path = out.join("part-00000/user.npy");
        let mut bytes = std::fs::read(&path).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        // one more space before the header's closing newline
        bytes.insert(10 + header_len - 1, b' ');
        bytes[8..10].copy_from_slice(&(header_len as u16 + 1).to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        edit_manifest(out, |m| {
            let file = m.parts[0].files.iter_mut().find(|f| f.name == "user.npy");
            file.unwrap().bytes += 1;
        });
    };
    let out = dir.path().join("shifted");
    run(&store, &out, &SampleConfig::default());
    let users = read_part_data(&out, &store, 0).unwrap().user;
    shift_user_data(&out);
    verify_output(&out, Some(&store)).unwrap();

    // the same shift over a column whose last row names a user past the part
    let out = dir.path().join("shifted-and-wrong");
    run(&store, &out, &SampleConfig::default());
    let last = users.len() - 1;
    tamper(&out, "user", last, 10_000u32);
    shift_user_data(&out);
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(
        err.contains(&format!("row {last}: user 10000 is outside the part")),
        "{err}"
    );
}

/// A dataset is checked against a sound store only: a store found unsound is the error
/// reported, though every part would pass.
#[test]
fn an_unsound_store_is_the_error_whatever_the_parts_show() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = generated_store(dir.path(), 200, 100, 4);
    let store = Store::open(&store_dir).unwrap();
    let out = dir.path().join("o");
    run(&store, &out, &SampleConfig::default());
    // One id too many in the store's item map, and so in the dataset's copy of it:
    // only the store's check can tell.
    for items in [store_dir.join("items.txt"), out.join("items.txt")] {
        let mut bytes = std::fs::read(&items).unwrap();
        bytes.extend_from_slice(b"one-too-many\n");
        std::fs::write(&items, bytes).unwrap();
    }
    let store = Store::open(&store_dir).unwrap();
    let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
    assert!(err.contains("items.txt has 101 lines"), "{err}");
}

/// The store's own check runs while the parts are read: a flipped bit in any of its
/// sections is the error reported — not what a fresh sample drawn from the damaged
/// store made of the rows.
#[test]
fn a_damaged_store_is_the_error_whatever_the_rows_show() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = generated_store(dir.path(), 100, 40, 6);
    let store = Store::open(&store_dir).unwrap();
    let out = dir.path().join("o");
    run(&store, &out, &SampleConfig::default());
    drop(store);
    with_each_section_damaged(&store_dir, |section, store, _| {
        let err = verify_output(&out, Some(&store)).unwrap_err().to_string();
        let expected = format!("section {section}");
        assert!(
            err.contains(&expected) && err.contains("checksum"),
            "{expected}: {err}"
        );
    });
}
