//! The store's on-disk format under damage: truncation, flipped bytes, foreign files
//! and broken invariants are typed errors from `open` or `verify`, never panics.

use negsamp_store::format::{Header, SectionKind, MAGIC, VERSION};
use negsamp_store::ids::Interner;
use negsamp_store::time::TimeUnit;
use negsamp_store::write::{to_bytes, write_store_dir, Columns, Timestamps};
use negsamp_store::{order, Store, StoreError};

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

    /// [`Owned::sample`] with users 0 and 2 out of (timestamp, row) order in the CSR:
    /// a store with a `time_order` section.
    fn out_of_time_order() -> Self {
        Owned {
            timestamps: Some(vec![6, 5, 9, 7, 8]),
            ..Owned::sample()
        }
    }

    fn columns(&self) -> Columns<'_> {
        Columns {
            n_items: self.n_items,
            indptr: &self.indptr,
            indices: &self.indices,
            rows: &self.rows,
            timestamps: self.timestamps.as_deref().map(|values| Timestamps {
                values,
                unit: TimeUnit::Milliseconds,
            }),
            user_keys: &self.user_keys,
            kept: &[],
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
    let fingerprint = write_store_dir(
        &dest,
        &owned.columns(),
        users.ids(),
        items.ids(),
        Default::default(),
        &|_, _| {},
    )
    .unwrap();
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

/// The header is written last, over the zeros at the file's start, once every section's
/// checksum is known: on disk, past the page cache or through it, the file is the bytes
/// `to_bytes` gives, and it verifies — for columns larger than the writer's buffers, a
/// `time_order` section computed beside the others, and kept columns after it.
#[test]
fn a_store_on_disk_is_the_bytes_encoded_with_its_header_at_the_start() {
    use negsamp_store::kept::{KeptColumn, ValueType, Values};
    use negsamp_store::output::WriteMode;
    use negsamp_store::write::{KeptData, PublishOptions};
    let (users, per_user) = (300u64, 2_000u64);
    let n = (users * per_user) as usize;
    let owned = Owned {
        indptr: (0..=users).map(|u| u * per_user).collect(),
        indices: (0..n as u32).map(|i| i % per_user as u32).collect(),
        // Rows against the items' order, and times against both: every user needs sorting.
        rows: (0..n as u64).rev().collect(),
        timestamps: Some((0..n as i64).map(|i| (i * 7_919) % 1_000).collect()),
        user_keys: (0..users).collect(),
        n_items: per_user as u32,
    };
    let counts: Vec<i64> = (0..n as i64).collect();
    let kept = [KeptData {
        column: KeptColumn {
            name: "count".into(),
            value_type: ValueType::I64,
        },
        values: Values::I64(&counts),
        dictionary: None,
    }];
    let columns = Columns {
        kept: &kept,
        ..owned.columns()
    };
    let expected = to_bytes(&columns);
    assert!(
        expected.len() > 3 * (4 << 20),
        "several of the writer's buffers"
    );
    let mut ids = [Interner::default(), Interner::default()];
    for u in 0..users {
        ids[0].intern(u.to_string().as_bytes());
    }
    for i in 0..per_user {
        ids[1].intern(i.to_string().as_bytes());
    }
    for write_mode in [WriteMode::Direct, WriteMode::Buffered] {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("s.store");
        let options = PublishOptions {
            write_mode,
            ..Default::default()
        };
        let reports = std::sync::Mutex::new(Vec::new());
        let report = |written, total| reports.lock().unwrap().push((written, total));
        let fingerprint = write_store_dir(
            &dest,
            &columns,
            ids[0].ids(),
            ids[1].ids(),
            options,
            &report,
        )
        .unwrap();
        let written = std::fs::read(dest.join("store.bin")).unwrap();
        assert!(written == expected, "{write_mode:?}: the bytes differ");
        // The writer's reports climb, one per section after the header's, to the size.
        let reports = reports.into_inner().unwrap();
        let size = written.len() as u64;
        assert!(
            reports.iter().all(|&(_, total)| total == size),
            "{reports:?}"
        );
        assert!(reports.windows(2).all(|w| w[0].0 < w[1].0), "{reports:?}");
        assert_eq!(reports.last(), Some(&(size, size)));
        assert!(reports.len() >= 5, "one report per section: {reports:?}");
        let store = Store::open(&dest).unwrap();
        store.verify_checksums().unwrap();
        assert_eq!(store.fingerprint(), fingerprint);
        assert!(store.time_order().is_some(), "a time_order section");
        assert_eq!(store.kept_columns().len(), 1);
    }
    let store = Store::from_bytes(&expected).unwrap();
    store.verify().unwrap();
    let order = order::time_order(&owned.indptr, &owned.rows, owned.timestamps.as_deref());
    assert_eq!(store.time_order(), order.as_deref());
}

/// On disk, verify reads the id maps as the store's readers do: one UTF-8 line per id
/// (a `\r\n` ending is a line ending), and each user's line hashing to its key.
#[test]
fn verify_checks_the_id_maps_against_the_keys_and_the_counts() {
    use negsamp_kernel::stream::user_key;
    let owned = Owned {
        user_keys: ["a", "b", "c"].map(|id| user_key(id.as_bytes())).to_vec(),
        ..Owned::sample()
    };
    let verified = |users: &[u8], items: &[u8]| {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("s.store");
        let mut interned = [Interner::default(), Interner::default()];
        for id in ["a", "b", "c"] {
            interned[0].intern(id.as_bytes());
        }
        for i in 0..6 {
            interned[1].intern(format!("item{i}").as_bytes());
        }
        let [user_ids, item_ids] = &interned;
        write_store_dir(
            &dest,
            &owned.columns(),
            user_ids.ids(),
            item_ids.ids(),
            Default::default(),
            &|_, _| {},
        )
        .unwrap();
        std::fs::write(dest.join("users.txt"), users).unwrap();
        std::fs::write(dest.join("items.txt"), items).unwrap();
        Store::open(&dest).unwrap().verify()
    };
    let items = b"item0\nitem1\nitem2\nitem3\nitem4\nitem5\n";
    verified(b"a\nb\nc\n", items).unwrap();
    verified(b"a\r\nb\r\nc", items).unwrap();
    let err = verified(b"a\nB\nc\n", items).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("key of user 1")),
        "{err:?}"
    );
    let err = verified(b"a\nb\n", items).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("users.txt has 2 lines")),
        "{err:?}"
    );
    let err = verified(b"a\nb\nc\n", &items[..items.len() - 6]).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("items.txt has 5 lines")),
        "{err:?}"
    );
    let err = verified(
        b"a\nb\nc\n",
        b"item0\nitem1\nitem2\nitem\xff\nitem4\nitem5\n",
    )
    .unwrap_err();
    assert!(
        matches!(&err, StoreError::Io { error, .. } if error.kind() == std::io::ErrorKind::InvalidData),
        "{err:?}"
    );
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
    for bytes in [Owned::sample().bytes(), Owned::out_of_time_order().bytes()] {
        flip_every_byte(&bytes);
    }
}

fn flip_every_byte(bytes: &[u8]) {
    for at in 0..bytes.len() {
        let mut damaged = bytes.to_vec();
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
    newer[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
    assert!(matches!(
        Store::from_bytes(&newer),
        Err(StoreError::UnsupportedVersion { found, supported: VERSION }) if found == VERSION + 1
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
    assert_eq!(header.time_unit, Some(TimeUnit::Milliseconds));
    let mut no_time = Owned::sample();
    no_time.timestamps = None;
    let store = Store::from_bytes(&no_time.bytes()).unwrap();
    assert!(!store.has_timestamps());
    assert_eq!(store.time_unit(), None);
    store.verify().unwrap();
}

/// `bytes` with the header word at `at` set to `value` and the header checksum redone.
fn patch_header(bytes: &[u8], at: usize, value: u32) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at..at + 4].copy_from_slice(&value.to_le_bytes());
    let n_sections = u32::from_le_bytes(out[40..44].try_into().unwrap()) as usize;
    let end = Header::encoded_len(n_sections) - 8;
    let checksum = xxhash_rust::xxh3::xxh3_64(&out[..end]);
    out[end..end + 8].copy_from_slice(&checksum.to_le_bytes());
    out
}

fn with_unit_code(bytes: &[u8], code: u32) -> Vec<u8> {
    patch_header(bytes, 44, code)
}

/// Format 3 records the timestamps' unit in the header; every unit reads back, and an
/// unknown code, or a unit without timestamps, is a corrupt header — while a format-2
/// file (whose word was reserved) opens as seconds.
#[test]
fn the_time_unit_is_recorded_and_checked() {
    let sample = Owned::sample().bytes();
    for unit in TimeUnit::ALL {
        let store = Store::from_bytes(&with_unit_code(&sample, unit.code())).unwrap();
        assert_eq!(store.time_unit(), Some(unit));
        assert_eq!(store.format_version(), VERSION);
    }
    for code in [0, 5, u32::MAX] {
        let err = Store::from_bytes(&with_unit_code(&sample, code)).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{code}: {err}");
    }
    let mut no_time = Owned::sample();
    no_time.timestamps = None;
    let err = Store::from_bytes(&with_unit_code(&no_time.bytes(), 2)).unwrap_err();
    assert!(
        err.to_string().contains("without a timestamp section"),
        "{err}"
    );
    let version_2 = patch_header(&with_unit_code(&sample, 0), 8, 2);
    let store = Store::from_bytes(&version_2).unwrap();
    assert_eq!(store.format_version(), 2);
    assert_eq!(store.time_unit(), Some(TimeUnit::Seconds));
}

/// `bytes` with section `kind`'s u32s edited by `edit` and its checksum and the
/// header's redone: damage only the structural checks can see.
fn patch_section(bytes: &[u8], kind: SectionKind, edit: impl Fn(&mut [u32])) -> Vec<u8> {
    let header = Header::decode(bytes).unwrap();
    let (entry, section) = header
        .sections
        .iter()
        .enumerate()
        .find(|(_, s)| s.kind == kind)
        .unwrap();
    let range = section.offset as usize..(section.offset + section.length) as usize;
    let mut values: Vec<u32> = bytes[range.clone()]
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
        .collect();
    edit(&mut values);
    let mut out = bytes.to_vec();
    out[range.clone()].copy_from_slice(bytemuck::cast_slice(&values));
    // The table lists sections in file order, which `decode` sorted them into.
    let at = 48 + entry * 32 + 24;
    let checksum = xxhash_rust::xxh3::xxh3_64(&out[range]);
    out[at..at + 8].copy_from_slice(&checksum.to_le_bytes());
    patch_header(&out, 8, VERSION)
}

/// Format 4 stores each user's positions in (timestamp, row) order when some user's
/// CSR order is not that order; it reads back as the sort, and an order that is not
/// one fails `verify` and the read, naming the position — while a store in order has
/// no section, and the kind is unknown to a version-3 header.
#[test]
fn the_time_order_is_stored_read_back_and_checked() {
    let bytes = Owned::out_of_time_order().bytes();
    let store = Store::from_bytes(&bytes).unwrap();
    store.verify().unwrap();
    assert_eq!(store.format_version(), VERSION);
    assert_eq!(store.time_order().unwrap(), [1, 0, 1, 2, 0]);
    let (mut out, mut keys) = (Vec::new(), Vec::new());
    order::of_user(&store.user(2).unwrap(), true, &mut out, &mut keys).unwrap();
    assert_eq!(out, [(7, 13, 1), (8, 14, 2), (9, 12, 0)]);
    order::of_user(&store.user(2).unwrap(), false, &mut out, &mut keys).unwrap();
    assert_eq!(out, [(0, 12, 0), (0, 13, 1), (0, 14, 2)]);
    assert!(Store::from_bytes(&Owned::sample().bytes())
        .unwrap()
        .time_order()
        .is_none());

    type Edit = fn(&mut [u32]);
    let cases: [(Edit, &str); 3] = [
        (
            |o| o[0] = 0,
            "position 0 (timestamp 6, row 10) is out of (timestamp, row) order or repeated",
        ),
        (|o| o[4] = 3, "position 3 is outside its 3 interactions"),
        (
            |o| o.swap(2, 3),
            "position 1 (timestamp 7, row 13) is out of",
        ),
    ];
    for (edit, needle) in cases {
        let damaged = patch_section(&bytes, SectionKind::TimeOrder, edit);
        let store = Store::from_bytes(&damaged).unwrap();
        let message = store.verify().unwrap_err().to_string();
        assert!(message.contains(needle), "{message}");
        let read =
            (0..3).map(|u| order::of_user(&store.user(u).unwrap(), true, &mut out, &mut keys));
        assert_eq!(read.filter(Result::is_err).count(), 1, "{needle}");
    }
    let err = Store::from_bytes(&patch_header(&bytes, 8, 3)).unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown section kind 9 in version 3"),
        "{err}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Random multi-byte damage anywhere: opening, reading every user and verifying
    /// return errors or values, never panic (a fuzz-style sweep of the loader).
    #[test]
    fn damaged_stores_never_panic(
        edits in proptest::collection::vec((0usize..2000, proptest::prelude::any::<u8>()), 1..8),
        cut in proptest::option::of(0usize..2000),
        ordered in proptest::prelude::any::<bool>(),
    ) {
        let mut bytes = if ordered { Owned::sample() } else { Owned::out_of_time_order() }.bytes();
        for (at, value) in edits {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        if let Ok(store) = Store::from_bytes(&bytes) {
            let (mut order, mut keys) = (Vec::new(), Vec::new());
            for u in 0..store.n_users().min(64) {
                if let Ok(view) = store.user(u) {
                    let _ = order::of_user(&view, true, &mut order, &mut keys);
                }
            }
            let _ = store.verify();
        }
    }
}

/// The committed format-1 store (written by the version-1 writer) still opens, verifies
/// and reads back what its CSV says.
#[test]
fn a_version_1_store_still_opens() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/v1.store");
    let store = Store::open(&dir).unwrap();
    store.verify().unwrap();
    assert_eq!(store.format_version(), 1);
    assert_eq!(
        store.time_unit(),
        Some(TimeUnit::Seconds),
        "before format 3"
    );
    assert_eq!(format!("{:016x}", store.fingerprint()), "7bd7c9d1b4fd9498");
    assert_eq!(
        (store.n_users(), store.n_items(), store.n_interactions()),
        (5, 4, 10)
    );
    assert!(store.kept_columns().is_empty());
    // user "2" bought items 101, 103, 104 (indices 0, 2, 3) at 1001, 1011, 1021
    let user = store.user(1).unwrap();
    assert_eq!(user.items, [0, 2, 3]);
    assert_eq!(user.timestamps.unwrap(), [1001, 1011, 1021]);
    assert_eq!(store.user_ids().unwrap(), ["1", "2", "3", "4", "5"]);
}

mod kept_columns {
    use super::*;
    use negsamp_store::kept::{encode_dictionary, KeptColumn, ValueType, Values};
    use negsamp_store::write::KeptData;

    fn kept_store(codes: &[u32]) -> Vec<u8> {
        let owned = Owned::sample();
        let prices = [1.5, f64::NAN, 2.0, 3.0, 4.0];
        let counts = [7i64, i64::MIN, 9, 10, 11];
        let dictionary = encode_dictionary([&b"red"[..], b"blue"]);
        let kept = [
            KeptData {
                column: KeptColumn {
                    name: "price".into(),
                    value_type: ValueType::F64,
                },
                values: Values::F64(&prices),
                dictionary: None,
            },
            KeptData {
                column: KeptColumn {
                    name: "colour".into(),
                    value_type: ValueType::Str,
                },
                values: Values::Str(codes),
                dictionary: Some(&dictionary),
            },
            KeptData {
                column: KeptColumn {
                    name: "count".into(),
                    value_type: ValueType::I64,
                },
                values: Values::I64(&counts),
                dictionary: None,
            },
        ];
        to_bytes(&Columns {
            kept: &kept,
            ..owned.columns()
        })
    }

    #[test]
    fn round_trip_and_verify() {
        let store = Store::from_bytes(&kept_store(&[0, 1, u32::MAX, 0, 1])).unwrap();
        store.verify().unwrap();
        assert_eq!(store.format_version(), VERSION);
        let names: Vec<_> = store.kept_columns().iter().map(|c| &c.name).collect();
        assert_eq!(names, ["price", "colour", "count"]);
        assert_eq!(store.kept_column("colour"), Some(1));
        let Values::F64(p) = store.kept_values(0) else {
            panic!("price is f64")
        };
        assert_eq!(p[0], 1.5);
        assert!(p[1].is_nan());
        assert_eq!(store.kept_values(1), Values::Str(&[0, 1, u32::MAX, 0, 1]));
        assert_eq!(store.kept_values(2), Values::I64(&[7, i64::MIN, 9, 10, 11]));
        let d = store.dictionary(1).unwrap().unwrap();
        assert_eq!(d.iter().collect::<Vec<_>>(), [&b"red"[..], b"blue"]);
        assert!(store.dictionary(0).unwrap().is_none());
    }

    #[test]
    fn a_code_beyond_the_dictionary_fails_verify() {
        let store = Store::from_bytes(&kept_store(&[0, 1, 2, 0, 1])).unwrap();
        assert!(matches!(store.verify(), Err(StoreError::Corrupt(m)) if m.contains("colour")));
    }

    #[test]
    fn damage_to_a_kept_section_is_caught() {
        let bytes = kept_store(&[0, 1, u32::MAX, 0, 1]);
        let store = Store::from_bytes(&bytes).unwrap();
        for s in &store.header().sections {
            if s.kind == SectionKind::Columns || s.kind == SectionKind::ColumnDictionary {
                let mut broken = bytes.clone();
                broken[s.offset as usize] ^= 0x40;
                // a damaged schema fails at open, a damaged dictionary at verify
                let result = Store::from_bytes(&broken).and_then(|st| st.verify());
                assert!(result.is_err(), "{:?}", s.kind);
            }
        }
    }
}
