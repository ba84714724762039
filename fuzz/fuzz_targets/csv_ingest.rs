//! Any bytes as an interactions CSV (with a time column and a kept column chosen by
//! the first byte): ingest succeeds or returns an error, never panics, and what it
//! writes opens and verifies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use negsamp_store::ingest::{ingest, IngestOptions};

fuzz_target!(|data: &[u8]| {
    // negsamp catches the parquet crate's panics on malformed files by design (an
    // error, not a crash); libFuzzer's hook would abort on those caught panics too.
    // A panic that escapes is still caught by the harness and reported.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let Some((&flags, csv)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, csv).unwrap();
    let options = IngestOptions {
        keep: if flags & 1 == 1 { vec!["f".parse().unwrap()] } else { Vec::new() },
        skip_bad_rows: flags & 2 == 2,
        block_size: 1 + (flags as usize >> 2) * 7,
        ..Default::default()
    };
    let out = dir.path().join("s.store");
    if ingest(&input, &out, &options, &|_| {}).is_ok() {
        let store = negsamp_store::Store::open(&out).expect("a written store opens");
        store.verify().expect("a written store verifies");
    }
});
