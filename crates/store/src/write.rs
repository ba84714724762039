//! Serialising a store: header, aligned sections, id maps; published atomically.

use crate::format::{align_up, Counts, Header, Section, SectionKind};
use crate::ids::IdList;
use crate::kept::{encode_schema, KeptColumn, Values};
use crate::output::{OutputFile, WriteMode};
use crate::publish::{publish, remove_any, staging_path};
use crate::time::TimeUnit;
use crate::{StoreError, ITEMS_FILE, STORE_FILE, USERS_FILE};
use rayon::prelude::*;
use std::borrow::Cow;
use std::fs;
use std::io::Write;
use std::path::Path;
use xxhash_rust::xxh3::xxh3_64;

/// The columns of a store, borrowed from whoever built them.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    pub n_items: u32,
    pub indptr: &'a [u64],
    pub indices: &'a [u32],
    pub rows: &'a [u64],
    pub timestamps: Option<Timestamps<'a>>,
    pub user_keys: &'a [u64],
    /// Kept columns (format 2), in schema order.
    pub kept: &'a [KeptData<'a>],
}

/// The timestamp column, one per interaction, and the unit the header records.
#[derive(Debug, Clone, Copy)]
pub struct Timestamps<'a> {
    pub values: &'a [i64],
    pub unit: TimeUnit,
}

/// One kept column's data, in CSR order.
#[derive(Debug, Clone)]
pub struct KeptData<'a> {
    pub column: KeptColumn,
    pub values: Values<'a>,
    /// A string column's dictionary section (`kept::encode_dictionary`).
    pub dictionary: Option<&'a [u8]>,
}

impl Columns<'_> {
    fn counts(&self) -> Counts {
        Counts {
            users: self.user_keys.len() as u64,
            items: u64::from(self.n_items),
            interactions: self.indices.len() as u64,
        }
    }

    /// Every section's kind, tag and bytes, in file order; `time_order` is
    /// [`crate::order::time_order`] of these columns.
    fn sections<'s>(
        &'s self,
        time_order: Option<&'s [u32]>,
    ) -> Vec<(SectionKind, u32, Cow<'s, [u8]>)> {
        fn borrowed(kind: SectionKind, bytes: &[u8]) -> (SectionKind, u32, Cow<'_, [u8]>) {
            (kind, 0, Cow::Borrowed(bytes))
        }
        let mut out = vec![
            borrowed(SectionKind::Indptr, bytemuck::cast_slice(self.indptr)),
            borrowed(SectionKind::Indices, bytemuck::cast_slice(self.indices)),
            borrowed(SectionKind::Row, bytemuck::cast_slice(self.rows)),
            borrowed(SectionKind::UserKey, bytemuck::cast_slice(self.user_keys)),
        ];
        if let Some(ts) = self.timestamps {
            out.push(borrowed(
                SectionKind::Timestamp,
                bytemuck::cast_slice(ts.values),
            ));
        }
        if let Some(order) = time_order {
            out.push(borrowed(
                SectionKind::TimeOrder,
                bytemuck::cast_slice(order),
            ));
        }
        if !self.kept.is_empty() {
            let schema: Vec<KeptColumn> = self.kept.iter().map(|k| k.column.clone()).collect();
            out.push((SectionKind::Columns, 0, Cow::Owned(encode_schema(&schema))));
        }
        for (tag, k) in self.kept.iter().enumerate() {
            assert_eq!(
                k.values.len(),
                self.indices.len(),
                "one value per interaction"
            );
            assert_eq!(k.values.value_type(), k.column.value_type);
            let tag = tag as u32;
            out.push((
                SectionKind::ColumnValues,
                tag,
                Cow::Borrowed(k.values.bytes()),
            ));
            if let Some(d) = k.dictionary {
                out.push((SectionKind::ColumnDictionary, tag, Cow::Borrowed(d)));
            }
        }
        out
    }
}

/// Writes the binary store file to `out`; returns its fingerprint.
pub fn encode<W: Write>(columns: &Columns<'_>, mut out: W) -> std::io::Result<u64> {
    assert_eq!(
        columns.indptr.len(),
        columns.user_keys.len() + 1,
        "indptr must have users + 1 entries"
    );
    let time_order = crate::order::time_order(
        columns.indptr,
        columns.rows,
        columns.timestamps.map(|t| t.values),
    );
    let parts = columns.sections(time_order.as_deref());
    let checksums: Vec<u64> = parts
        .par_iter()
        .map(|(_, _, bytes)| xxh3_64(bytes))
        .collect();
    let mut offset = align_up(Header::encoded_len(parts.len()) as u64);
    let mut table = Vec::with_capacity(parts.len());
    for ((kind, tag, bytes), checksum) in parts.iter().zip(checksums) {
        table.push(Section {
            kind: *kind,
            tag: *tag,
            offset,
            length: bytes.len() as u64,
            checksum,
        });
        offset = align_up(offset + bytes.len() as u64);
    }
    let (header, fingerprint) =
        Header::encode(columns.counts(), columns.timestamps.map(|t| t.unit), &table);
    out.write_all(&header)?;
    let mut written = header.len() as u64;
    for (section, (_, _, bytes)) in table.iter().zip(&parts) {
        out.write_all(&vec![0u8; (section.offset - written) as usize])?;
        out.write_all(bytes)?;
        written = section.offset + section.length;
    }
    out.flush()?;
    Ok(fingerprint)
}

/// The store file as bytes (for tests and in-memory use).
pub fn to_bytes(columns: &Columns<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    encode(columns, &mut out).expect("writing to a Vec cannot fail");
    out
}

/// How a directory is published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishOptions {
    /// Replace an existing destination.
    pub overwrite: bool,
    /// Force every file to disk before the rename (durable across power loss). Without
    /// it a killed process still leaves the old result or the new one, never a mix.
    pub fsync: bool,
    /// How the files are written (the bytes are the same either way).
    pub write_mode: WriteMode,
}

/// Writes a complete store directory at `dest` — `store.bin`, `users.txt`,
/// `items.txt` — under a staging name, then publishes it.
pub fn write_store_dir(
    dest: &Path,
    columns: &Columns<'_>,
    users: &IdList,
    items: &IdList,
    options: PublishOptions,
) -> Result<u64, StoreError> {
    let overwrite = options.overwrite;
    if dest.exists() && !overwrite {
        return Err(StoreError::AlreadyExists {
            path: dest.to_path_buf(),
        });
    }
    let staging = staging_path(dest);
    let result = (|| {
        if staging.exists() {
            remove_any(&staging).map_err(|e| StoreError::io(&staging, e))?;
        }
        fs::create_dir_all(&staging).map_err(|e| StoreError::io(&staging, e))?;
        // The id files are written while `store.bin` is: its writes wait on the device
        // with a core idle, and theirs (10 MB for 20M rows) took 30–40 ms after it.
        let (fingerprint, ids) = rayon::join(
            || write_file(&staging.join(STORE_FILE), options, |w| encode(columns, w)),
            || {
                write_file(&staging.join(USERS_FILE), options, |w| users.write_lines(w))?;
                write_file(&staging.join(ITEMS_FILE), options, |w| items.write_lines(w))
            },
        );
        let fingerprint = fingerprint?;
        ids?;
        publish(&staging, dest, overwrite).map_err(|e| StoreError::io(dest, e))?;
        Ok(fingerprint)
    })();
    if result.is_err() {
        let _ = remove_any(&staging);
    }
    result
}

fn write_file<T>(
    path: &Path,
    options: PublishOptions,
    body: impl FnOnce(&mut OutputFile) -> std::io::Result<T>,
) -> Result<T, StoreError> {
    let io = |e| StoreError::io(path, e);
    let mut writer = OutputFile::create(path, options.write_mode).map_err(io)?;
    let value = body(&mut writer).map_err(io)?;
    let file = writer.into_file().map_err(io)?;
    if options.fsync {
        file.sync_all().map_err(io)?;
    }
    Ok(value)
}
