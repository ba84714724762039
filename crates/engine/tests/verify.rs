//! `verify` catches what it exists for: tampered files, and rows that break the contract even with matching checksums.

mod common;

use common::*;
use negsamp_engine::verify::{read_part_data, verify_output};
use negsamp_engine::SampleConfig;

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
