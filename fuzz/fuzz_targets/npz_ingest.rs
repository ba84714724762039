//! SciPy `.npz` ingest: half the inputs are raw bytes as the file (the zip reader and
//! the `.npy` headers inside), half are well-formed archives whose arrays — format,
//! shape, offsets, indices, values, dtypes — come from the input (the matrix checks).
//! Ingest succeeds or returns an error, never panics, and what it writes verifies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use negsamp_store::ingest::{ingest, IngestOptions};
use negsamp_store::npy::header;
use std::io::Write;

/// An `.npy` of `len` elements of `descr` (element size `size`) taken from `bytes`.
fn array(descr: &str, size: usize, bytes: &mut &[u8]) -> Vec<u8> {
    let Some((&len, rest)) = bytes.split_first() else {
        return header(descr, 0).to_vec();
    };
    let elements = (len as usize % 9).min(rest.len() / size);
    let mut out = header(descr, elements as u64).to_vec();
    out.extend_from_slice(&rest[..elements * size]);
    *bytes = &rest[elements * size..];
    out
}

/// A small shape (so each input runs in microseconds; the memory check that guards
/// large shapes runs before any allocation and is tested on its own).
fn shape(bytes: &mut &[u8]) -> Vec<u8> {
    let dims: Vec<i64> = bytes.iter().take(2).map(|&b| i64::from(b % 40)).collect();
    *bytes = &bytes[dims.len()..];
    let mut out = header("<i8", dims.len() as u64).to_vec();
    out.extend(dims.iter().flat_map(|d| d.to_le_bytes()));
    out
}

fuzz_target!(|data: &[u8]| {
    // A shape may ask for as much memory as the machine has (a million empty rows is
    // a real matrix): ingest checks it against the address space left, so bound that
    // below libFuzzer's RSS limit (-rss_limit_mb=4096 in scripts/fuzz).
    static LIMIT: std::sync::Once = std::sync::Once::new();
    LIMIT.call_once(|| {
        let limit = libc::rlimit { rlim_cur: 2 << 30, rlim_max: libc::RLIM_INFINITY };
        // SAFETY: setrlimit reads the struct it is given and changes only this process.
        unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
    });
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("m.npz");
    if flags & 1 == 0 {
        let mut file = b"PK\x03\x04".to_vec();
        file.extend_from_slice(rest);
        std::fs::write(&input, file).unwrap();
    } else {
        let mut bytes = rest;
        let ints = ["<i4", "<i8", "<u4", "<u8"];
        let (int, size) = (ints[(flags >> 1) as usize % 4], [4, 8, 4, 8][(flags >> 1) as usize % 4]);
        let coo = flags & 8 == 8;
        let mut format = header("<U3", 1).to_vec();
        for c in if coo { "coo" } else { "csr" }.chars() {
            format.extend_from_slice(&(c as u32).to_le_bytes());
        }
        let members = [
            ("format.npy", format),
            ("shape.npy", shape(&mut bytes)),
            (if coo { "row.npy" } else { "indptr.npy" }, array(int, size, &mut bytes)),
            (if coo { "col.npy" } else { "indices.npy" }, array(int, size, &mut bytes)),
            ("data.npy", array(if flags & 16 == 16 { "<f4" } else { "|u1" }, if flags & 16 == 16 { 4 } else { 1 }, &mut bytes)),
        ];
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&input).unwrap());
        for (name, member) in members {
            zip.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(&member).unwrap();
        }
        zip.finish().unwrap();
    }
    let out = dir.path().join("s.store");
    if ingest(&input, &out, &IngestOptions::default(), &|_| {}).is_ok() {
        let store = negsamp_store::Store::open(&out).expect("a written store opens");
        store.verify().expect("a written store verifies");
    }
});
