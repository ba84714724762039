//! The store's on-disk format under damage: truncation, flipped bytes, foreign files
//! and broken invariants are typed errors from `open` or `verify`, never panics.

use negsamp_store::format::{Header, SectionKind, MAGIC};
use negsamp_store::ids::Interner;
use negsamp_store::write::{to_bytes, write_store_dir, Columns};
use negsamp_store::{Store, StoreError};

struct Owned {
    indptr: Vec<u64>,
    indices: Vec<u32>,
    rows: Vec<u64>,
    timestamps: Option<Vec<i64>>,
    user_keys: Vec<u64>,
    n_items: u32,
}

impl Owned {
    fn sample() -> Self {
        Owned {
            indptr: vec![0, 2, 2, 5],
            indices: vec![1, 4, 0, 2, 3],
            rows: vec![10, 11, 12, 13, 14],
            timestamps: Some(vec![5, 6, 7, 8, 9]),
            user_keys: vec![101, 102, 103],
            n_items: 6,
        }
    }

    fn columns(&self) -> Columns<'_> {
        Columns {
            n_items: self.n_items,
            indptr: &self.indptr,
            indices: &self.indices,
            rows: &self.rows,
            timestamps: self.timestamps.as_deref(),
            user_keys: &self.user_keys,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        to_bytes(&self.columns())
    }
}

#[test]
fn opens_and_reads_back_every_section() {
    let store = Store::from_bytes(&Owned::sample().bytes()).unwrap();
    store.verify().unwrap();
    assert_eq!(
        (store.n_users(), store.n_items(), store.n_interactions()),
        (3, 6, 5)
    );
    assert_eq!(store.user(2).unwrap().items, [0, 2, 3]);
    assert_eq!(store.user(2).unwrap().rows, [12, 13, 14]);
    assert_eq!(store.user(0).unwrap().timestamps.unwrap(), [5, 6]);
    assert!(store.user(1).unwrap().items.is_empty());
    assert_eq!(store.user(2).unwrap().key, 103);
    assert!(matches!(store.user(3), Err(StoreError::Corrupt(_))));
}

#[test]
fn memory_and_mapped_opening_agree() {
    let owned = Owned::sample();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("s.store");
    let mut users = Interner::default();
    for id in ["a", "b", "c"] {
        users.intern(id.as_bytes());
    }
    let mut items = Interner::default();
    for i in 0..6 {
        items.intern(format!("item{i}").as_bytes());
    }
    let fingerprint =
        write_store_dir(&dest, &owned.columns(), &users, &items, Default::default()).unwrap();
    let mapped = Store::open(&dest).unwrap();
    let memory = Store::from_bytes(&std::fs::read(dest.join("store.bin")).unwrap()).unwrap();
    assert_eq!(mapped.fingerprint(), fingerprint);
    assert_eq!(memory.fingerprint(), fingerprint);
    assert_eq!(mapped.indptr(), memory.indptr());
    assert_eq!(mapped.indices(), memory.indices());
    assert_eq!(mapped.rows(), memory.rows());
    assert_eq!(mapped.timestamps(), memory.timestamps());
    assert_eq!(mapped.user_keys(), memory.user_keys());
    // the keys here are not hashes of a, b, c: verify on disk notices
    assert!(matches!(mapped.verify(), Err(StoreError::Corrupt(m)) if m.contains("key of user 0")));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = Owned::sample().bytes();
    for cut in 0..bytes.len() {
        let err = Store::from_bytes(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Truncated { .. }
                    | StoreError::Corrupt(_)
                    | StoreError::ChecksumMismatch { .. }
            ),
            "cut at {cut}: {err:?}"
        );
    }
}

#[test]
fn every_flipped_byte_is_caught_by_open_or_verify() {
    let bytes = Owned::sample().bytes();
    for at in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x40;
        let caught = match Store::from_bytes(&damaged) {
            Err(_) => true,
            Ok(store) => store.verify().is_err(),
        };
        assert!(caught, "flipping byte {at} went unnoticed");
    }
}

#[test]
fn foreign_files_and_other_versions_are_named_as_such() {
    let bytes = Owned::sample().bytes();
    let mut foreign = bytes.clone();
    foreign[..8].copy_from_slice(b"PAR1\0\0\0\0");
    assert!(matches!(
        Store::from_bytes(&foreign),
        Err(StoreError::BadMagic { .. })
    ));
    let mut newer = bytes.clone();
    newer[8..12].copy_from_slice(&2u32.to_le_bytes());
    assert!(matches!(
        Store::from_bytes(&newer),
        Err(StoreError::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    ));
    let mut swapped = bytes.clone();
    swapped[12..16].copy_from_slice(&0x0A0B0C0Du32.to_be_bytes());
    assert!(matches!(
        Store::from_bytes(&swapped),
        Err(StoreError::WrongEndianness { .. })
    ));
    assert_eq!(&bytes[..8], &MAGIC);
    let text = b"user,item\n1,2\n".repeat(20);
    assert!(matches!(
        Store::from_bytes(&text),
        Err(StoreError::BadMagic { .. })
    ));
}

/// Structurally broken columns, written with valid checksums: only `verify` (or the
/// per-user span check) can tell, and it says what is wrong.
#[test]
fn verify_names_each_broken_invariant() {
    type Damage = Box<dyn Fn(&mut Owned)>;
    let cases: Vec<(&str, Damage)> = vec![
        ("not strictly ascending", Box::new(|o| o.indices.swap(2, 3))),
        ("not strictly ascending", Box::new(|o| o.indices[1] = 1)),
        ("outside the catalog", Box::new(|o| o.indices[4] = 6)),
        ("indptr", Box::new(|o| o.indptr[1] = 6)),
    ];
    for (needle, damage) in cases {
        let mut owned = Owned::sample();
        damage(&mut owned);
        let result = Store::from_bytes(&owned.bytes()).and_then(|s| s.verify());
        match result {
            Err(StoreError::Corrupt(message)) => assert!(message.contains(needle), "{message}"),
            other => panic!("expected a corruption about {needle:?}, got {other:?}"),
        }
    }
}

#[test]
fn a_decreasing_indptr_is_an_error_not_a_panic_when_reading_users() {
    let mut owned = Owned::sample();
    owned.indptr = vec![0, 4, 2, 5];
    let store = Store::from_bytes(&owned.bytes()).unwrap();
    assert!(matches!(store.user(1), Err(StoreError::Corrupt(_))));
    assert!(store.verify().is_err());
}

#[test]
fn header_round_trips() {
    let bytes = Owned::sample().bytes();
    let header = Header::decode(&bytes).unwrap();
    assert_eq!(header.counts.interactions, 5);
    assert!(header.section(SectionKind::Timestamp).is_some());
    let mut no_time = Owned::sample();
    no_time.timestamps = None;
    let store = Store::from_bytes(&no_time.bytes()).unwrap();
    assert!(!store.has_timestamps());
    store.verify().unwrap();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Random multi-byte damage anywhere: opening, reading every user and verifying
    /// return errors or values, never panic (a fuzz-style sweep of the loader).
    #[test]
    fn damaged_stores_never_panic(
        edits in proptest::collection::vec((0usize..2000, proptest::prelude::any::<u8>()), 1..8),
        cut in proptest::option::of(0usize..2000),
    ) {
        let mut bytes = Owned::sample().bytes();
        for (at, value) in edits {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        if let Ok(store) = Store::from_bytes(&bytes) {
            for u in 0..store.n_users().min(64) {
                let _ = store.user(u);
            }
            let _ = store.verify();
        }
    }
}
