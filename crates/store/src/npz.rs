//! SciPy `.npz` sparse matrices (`scipy.sparse.save_npz`, CSR or COO, compressed or
//! not) as interactions: rows are users, columns items, stored entries positives.
//!
//! * Ids are the row and column numbers, as text (`"0"`, `"1"`, …); every column is an
//!   item (untouched ones too: the matrix's shape is the catalog) and every row a user
//!   (a row without entries is a user without rows).
//! * A stored entry whose value is zero (an *explicit zero*) is not a positive: SciPy
//!   keeps them until `eliminate_zeros()`, and they mean "no interaction". They are
//!   dropped and counted in the summary's notes.
//! * An entry's anchor row is its position in the file's arrays. A repeated
//!   (row, column) keeps its first entry (counted as a duplicate); per row, positives
//!   are sorted by column.
//! * No timestamps: the matrix holds one value per entry, and it says whether the pair
//!   interacted. Time needs a table (CSV or Parquet) with a time column.

use crate::csr::{write_csr_store, Csr};
use crate::ingest::{IngestOptions, IngestProgress, IngestSummary, TimeColumn};
use crate::npy::{decode, parse_header};
use crate::write::PublishOptions;
use crate::IngestError;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::Instant;

/// Whether `path` is a zip archive (an `.npz`), by its first bytes.
pub(crate) fn is_npz(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    !path.is_dir()
        && File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok_and(|()| &magic == b"PK\x03\x04")
}

/// Ingests the matrix at `path` into a store at `dest` (the caller holds its lock).
pub(crate) fn ingest(
    path: &Path,
    dest: &Path,
    options: &IngestOptions,
    progress: &(dyn Fn(IngestProgress) + Sync),
) -> Result<IngestSummary, IngestError> {
    let start = Instant::now();
    refuse_table_options(path, options)?;
    let bad = |problem: String| IngestError::BadMatrix {
        what: path.display().to_string(),
        problem,
    };
    let file = File::open(path).map_err(|e| IngestError::Io {
        path: path.into(),
        error: e,
    })?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| bad(format!("not a readable zip archive ({e})")))?;
    let mut member = |name: &str| -> Result<Option<Vec<u8>>, IngestError> {
        let mut entry = match archive.by_name(name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(bad(format!("{name}: {e}"))),
        };
        let size = entry.size();
        if let Some(budget) = crate::resources::memory_budget() {
            if size > budget / 2 {
                return Err(bad(format!(
                    "{name} unpacks to {size} bytes, more than half of the {budget} bytes of memory available"
                )));
            }
        }
        let mut out = Vec::with_capacity(size as usize);
        entry
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("{name}: {e}")))?;
        Ok(Some(out))
    };
    let required = |name: &str, got: Option<Vec<u8>>| {
        got.ok_or_else(|| {
            bad(format!(
                "no {name} in the archive; ingest reads scipy.sparse.save_npz files of a CSR or COO matrix"
            ))
        })
    };
    let format = text(&required("format.npy", member("format.npy")?)?)
        .map_err(|e| bad(format!("format.npy: {e}")))?;
    let shape = integers(&required("shape.npy", member("shape.npy")?)?)
        .map_err(|e| bad(format!("shape.npy: {e}")))?;
    let [rows, columns] = shape[..] else {
        return Err(bad(format!("shape {shape:?}: a matrix has two dimensions")));
    };
    let users = u32::try_from(rows)
        .map_err(|_| bad(format!("{rows} rows; negsamp indexes users with u32")))?;
    let items = u32::try_from(columns)
        .map_err(|_| bad(format!("{columns} columns; negsamp indexes items with u32")))?;
    // The shape alone sizes the offsets and the id maps: check it before allocating.
    let needed = (u64::from(users) + 1) * 40 + u64::from(items) * 24;
    if let Some(budget) = crate::resources::memory_budget().filter(|&b| needed > b / 2) {
        return Err(bad(format!(
            "a {rows} × {columns} matrix needs about {needed} bytes for its users' offsets and the id maps, more than half of the {budget} bytes of memory available"
        )));
    }
    let data = required("data.npy", member("data.npy")?)?;
    let (entry_rows, entry_columns) = match format.as_str() {
        "csr" => {
            let indptr = integers(&required("indptr.npy", member("indptr.npy")?)?)
                .map_err(|e| bad(format!("indptr.npy: {e}")))?;
            let indices = integers(&required("indices.npy", member("indices.npy")?)?)
                .map_err(|e| bad(format!("indices.npy: {e}")))?;
            (
                rows_of_csr(&indptr, indices.len(), users).map_err(bad)?,
                indices,
            )
        }
        "coo" => {
            let row = integers(&required("row.npy", member("row.npy")?)?)
                .map_err(|e| bad(format!("row.npy: {e}")))?;
            let col = integers(&required("col.npy", member("col.npy")?)?)
                .map_err(|e| bad(format!("col.npy: {e}")))?;
            (row, col)
        }
        other => {
            return Err(bad(format!(
                "a {other:?} matrix; ingest reads CSR and COO (convert with .tocsr())"
            )))
        }
    };
    let zeros =
        explicit_zeros(&data, entry_columns.len()).map_err(|e| bad(format!("data.npy: {e}")))?;
    if entry_rows.len() != entry_columns.len() {
        return Err(bad(format!(
            "{} row indices for {} column indices",
            entry_rows.len(),
            entry_columns.len()
        )));
    }
    progress(IngestProgress::Read(bytes));
    progress(IngestProgress::Building);
    let canonical = canonical(&entry_rows, &entry_columns, &zeros, users, items).map_err(bad)?;
    let csr = Csr {
        indptr: &canonical.indptr,
        indices: &canonical.indices,
        n_items: items,
        user_ids: None,
        item_ids: None,
        rows: Some(&canonical.rows),
    };
    let fingerprint = write_csr_store(
        dest,
        &csr,
        PublishOptions {
            overwrite: options.overwrite,
            fsync: options.fsync,
            write_mode: options.write_mode,
        },
        &|written, total| progress(IngestProgress::Writing { written, total }),
    )?;
    let dropped = zeros.iter().filter(|&&z| z).count();
    let mut notes = vec![format!(
        "a {format} matrix of {rows} × {columns}: users and items are its row and column numbers"
    )];
    if dropped > 0 {
        notes.push(format!(
            "{dropped} explicit zeros (stored entries whose value is 0) are not positives and were dropped"
        ));
    }
    Ok(IngestSummary {
        rows: entry_columns.len() as u64,
        bad_rows: 0,
        duplicates: canonical.duplicates,
        users: u64::from(users),
        items: u64::from(items),
        interactions: canonical.indices.len() as u64,
        has_timestamps: false,
        time_unit: None,
        time_range: None,
        kept: Vec::new(),
        bytes,
        elapsed: start.elapsed(),
        fingerprint,
        notes,
    })
}

/// Options that name table columns have nothing to apply to in a matrix.
fn refuse_table_options(path: &Path, options: &IngestOptions) -> Result<(), IngestError> {
    let not_applicable = |option: &'static str| IngestError::NotApplicable {
        path: path.into(),
        option,
        input: "a SciPy .npz matrix",
    };
    if !options.keep.is_empty() {
        return Err(not_applicable("kept columns"));
    }
    if options.items_file.is_some() {
        return Err(not_applicable(
            "an item catalog (the matrix's columns are the catalog)",
        ));
    }
    if matches!(options.time_col, TimeColumn::Required(_)) {
        return Err(not_applicable("a time column"));
    }
    Ok(())
}

/// Each entry's row, from a CSR's offsets.
fn rows_of_csr(indptr: &[i64], entries: usize, users: u32) -> Result<Vec<i64>, String> {
    if indptr.len() != users as usize + 1
        || indptr.first() != Some(&0)
        || indptr.last() != Some(&(entries as i64))
        || indptr.windows(2).any(|w| w[1] < w[0])
    {
        return Err(format!(
            "indptr must hold {} non-decreasing offsets from 0 to the {entries} entries",
            users as usize + 1
        ));
    }
    let mut rows = Vec::with_capacity(entries);
    for (u, w) in indptr.windows(2).enumerate() {
        rows.extend(std::iter::repeat_n(u as i64, (w[1] - w[0]) as usize));
    }
    Ok(rows)
}

/// A canonical CSR of the positives, with each one's entry position.
struct Canonical {
    indptr: Vec<u64>,
    indices: Vec<u32>,
    rows: Vec<u64>,
    duplicates: u64,
}

/// Sorts the non-zero entries by (row, column, position), keeping a repeated pair's
/// first entry.
fn canonical(
    rows: &[i64],
    columns: &[i64],
    zeros: &[bool],
    users: u32,
    items: u32,
) -> Result<Canonical, String> {
    let mut entries = Vec::with_capacity(rows.len());
    for (k, (&r, &c)) in rows.iter().zip(columns).enumerate() {
        if !(0..i64::from(users)).contains(&r) || !(0..i64::from(items)).contains(&c) {
            return Err(format!(
                "entry {k} is at ({r}, {c}), outside the {users} × {items} shape"
            ));
        }
        if !zeros[k] {
            entries.push((r as u32, c as u32, k as u64));
        }
    }
    entries.sort_unstable();
    let before = entries.len();
    entries.dedup_by_key(|e| (e.0, e.1));
    let mut indptr = vec![0u64; users as usize + 1];
    for e in &entries {
        indptr[e.0 as usize + 1] += 1;
    }
    for u in 0..users as usize {
        indptr[u + 1] += indptr[u];
    }
    Ok(Canonical {
        indptr,
        indices: entries.iter().map(|e| e.1).collect(),
        rows: entries.iter().map(|e| e.2).collect(),
        duplicates: (before - entries.len()) as u64,
    })
}

/// An integer array of any width and signedness, as i64.
fn integers(bytes: &[u8]) -> std::io::Result<Vec<i64>> {
    let info = parse_header(bytes)?;
    let widen = |v: Vec<i64>| Ok(v);
    match info.descr.as_str() {
        "<i8" => widen(decode::<i64>(bytes)?),
        "<i4" => Ok(decode::<i32>(bytes)?.into_iter().map(i64::from).collect()),
        "<u4" => Ok(decode::<u32>(bytes)?.into_iter().map(i64::from).collect()),
        "<u8" => decode::<u64>(bytes)?
            .into_iter()
            .map(|v| i64::try_from(v).map_err(|_| invalid(format!("{v} is too large"))))
            .collect(),
        other => Err(invalid(format!(
            "dtype {other}, where an integer array was expected"
        ))),
    }
}

/// A 0-d string array (`format.npy`: `<U3` or `|S3`).
fn text(bytes: &[u8]) -> std::io::Result<String> {
    let info = parse_header(bytes)?;
    let data = &bytes[info.data_offset..];
    let chars: String = if info.descr.starts_with("<U") {
        data.chunks_exact(4)
            .map(|c| {
                char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]])).unwrap_or('\u{fffd}')
            })
            .collect()
    } else if info.descr.starts_with("|S") {
        String::from_utf8_lossy(data).into_owned()
    } else {
        return Err(invalid(format!(
            "dtype {}, where a string was expected",
            info.descr
        )));
    };
    Ok(chars.trim_end_matches('\0').to_owned())
}

/// Which of `n` values are zero: for any number type, all bytes zero once a float's
/// sign bit is cleared (so -0.0 is zero too).
fn explicit_zeros(bytes: &[u8], n: usize) -> std::io::Result<Vec<bool>> {
    let info = parse_header(bytes)?;
    let descr = info.descr.as_str();
    let (kind, size) = match descr.as_bytes() {
        [b'<' | b'|' | b'=', kind, size @ ..] => (
            *kind,
            std::str::from_utf8(size)
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .filter(|s| [1, 2, 4, 8].contains(s)),
        ),
        _ => (b'?', None),
    };
    let Some(size) = size.filter(|_| b"iufb".contains(&kind)) else {
        return Err(invalid(format!(
            "dtype {descr}, where numbers were expected"
        )));
    };
    let data = &bytes[info.data_offset..];
    if info.data_bytes(size) != Some(data.len() as u64) || info.len != n as u64 {
        return Err(invalid(format!(
            "{} bytes of {descr} for {n} entries",
            data.len()
        )));
    }
    Ok(data
        .chunks_exact(size)
        .map(|v| {
            let (last, rest) = v.split_last().expect("size >= 1");
            let last = if kind == b'f' { last & 0x7f } else { *last };
            last == 0 && rest.iter().all(|&b| b == 0)
        })
        .collect())
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy::{header, Dtype};
    use crate::Store;
    use std::io::Write;

    fn npy<T: Dtype>(values: &[T]) -> Vec<u8> {
        let mut out = header(T::DESCR, values.len() as u64).to_vec();
        out.extend_from_slice(bytemuck::cast_slice(values));
        out
    }

    /// `format.npy` as SciPy writes it: a 0-d `<U3` array.
    fn format_npy(name: &str) -> Vec<u8> {
        let mut dict = "{'descr': '<U3', 'fortran_order': False, 'shape': (), }".to_string();
        while !(10 + dict.len() + 1).is_multiple_of(64) {
            dict.push(' ');
        }
        dict.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        out.extend_from_slice(dict.as_bytes());
        for c in name.chars() {
            out.extend_from_slice(&(c as u32).to_le_bytes());
        }
        out
    }

    fn npz(path: &Path, members: &[(&str, Vec<u8>)]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in members {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn csr_and_coo_give_the_same_store_and_explicit_zeros_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        // 3 users × 4 items; row 1 empty; row 2 unsorted with a duplicate and a zero.
        let csr = dir.path().join("m.npz");
        npz(
            &csr,
            &[
                ("format.npy", format_npy("csr")),
                ("shape.npy", npy(&[3i64, 4])),
                ("indptr.npy", npy(&[0i32, 2, 2, 6])),
                ("indices.npy", npy(&[3i32, 0, 2, 1, 2, 0])),
                ("data.npy", npy(&[1.0f64, 2.0, 1.0, 5.0, 1.0, 0.0])),
            ],
        );
        let coo = dir.path().join("c.npz");
        npz(
            &coo,
            &[
                ("format.npy", format_npy("coo")),
                ("shape.npy", npy(&[3i64, 4])),
                ("row.npy", npy(&[0i64, 0, 2, 2, 2, 2])),
                ("col.npy", npy(&[3i64, 0, 2, 1, 2, 0])),
                ("data.npy", npy(&[1i64, 2, 1, 5, 1, 0])),
            ],
        );
        let mut stores = Vec::new();
        for (input, name) in [(&csr, "csr.store"), (&coo, "coo.store")] {
            let dest = dir.path().join(name);
            let summary =
                crate::ingest::ingest(input, &dest, &IngestOptions::default(), &|_| {}).unwrap();
            crate::ingest::tests::progress_of(input, &IngestOptions::default());
            assert_eq!(
                (summary.users, summary.items, summary.interactions),
                (3, 4, 4)
            );
            assert_eq!((summary.duplicates, summary.rows), (1, 6));
            assert!(summary.notes.iter().any(|n| n.contains("1 explicit zeros")));
            let store = Store::open(&dest).unwrap();
            store.verify().unwrap();
            assert_eq!(store.indptr(), [0, 2, 2, 4]);
            assert_eq!(store.indices(), [0, 3, 1, 2]);
            assert_eq!(store.rows(), [1, 0, 3, 2]);
            assert_eq!(store.item_ids().unwrap(), ["0", "1", "2", "3"]);
            stores.push(std::fs::read(dest.join(crate::STORE_FILE)).unwrap());
        }
        assert!(stores[0] == stores[1]);
    }

    #[test]
    fn damaged_or_foreign_matrices_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npz");
        let message = |members: &[(&str, Vec<u8>)], options: &IngestOptions| {
            npz(&path, members);
            let dest = dir.path().join("s.store");
            crate::ingest::ingest(&path, &dest, options, &|_| {})
                .unwrap_err()
                .to_string()
        };
        let base = |format: &str| {
            vec![
                ("format.npy", format_npy(format)),
                ("shape.npy", npy(&[2i64, 2])),
                ("indptr.npy", npy(&[0i64, 1, 2])),
                ("indices.npy", npy(&[0i64, 1])),
                ("data.npy", npy(&[1u8, 1])),
            ]
        };
        let options = IngestOptions::default();
        assert!(message(&base("bsr"), &options).contains("convert with .tocsr()"));
        let mut wide = base("csr");
        wide[3] = ("indices.npy", npy(&[0i64, 2]));
        assert!(message(&wide, &options).contains("outside the 2 × 2 shape"));
        let mut no_data = base("csr");
        no_data.pop();
        assert!(message(&no_data, &options).contains("no data.npy"));
        let mut offsets = base("csr");
        offsets[2] = ("indptr.npy", npy(&[0i64, 2, 1]));
        assert!(message(&offsets, &options).contains("non-decreasing"));
        let keep = IngestOptions {
            keep: vec!["price".parse().unwrap()],
            ..Default::default()
        };
        assert!(message(&base("csr"), &keep).contains("does not apply"));
    }
}
