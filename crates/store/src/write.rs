//! Serialising a store: header, aligned sections, id maps; published atomically.

use crate::format::{align_up, Counts, Header, Section, SectionKind};
use crate::ids::IdList;
use crate::kept::{encode_schema, KeptColumn, Values};
use crate::output::{OutputFile, WriteMode};
use crate::publish::{publish, remove_any, staging_path};
use crate::time::TimeUnit;
use crate::{StoreError, ITEMS_FILE, STORE_FILE, USERS_FILE};
use std::borrow::Cow;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
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

    /// The sections before `time_order`, in file order: the CSR and its companions.
    fn leading_sections(&self) -> Vec<SectionBytes<'_>> {
        fn borrowed(kind: SectionKind, bytes: &[u8]) -> SectionBytes<'_> {
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
        out
    }

    /// The sections after `time_order`, in file order: the kept columns.
    fn trailing_sections(&self) -> Vec<SectionBytes<'_>> {
        let mut out = Vec::new();
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

/// A section's kind, tag and bytes.
type SectionBytes<'a> = (SectionKind, u32, Cow<'a, [u8]>);

/// A store file streamed by [`encode`], but for its header.
#[derive(Debug)]
pub struct EncodedStore {
    /// The header, to be written over the zeros at the file's start.
    pub header: Vec<u8>,
    pub fingerprint: u64,
}

/// Streams the binary store file to `out` with zeros where the header goes, and returns
/// the header: it holds every section's checksum, so it is known only at the end.
///
/// The sections go out as soon as they are ready, each hashed just before it is
/// written: the CSR's while the `time_order` section — a sort of each user's
/// interactions, the one section computed here — is computed beside them, so that the
/// sort and the device's writes overlap instead of following each other.
///
/// `written` is told the bytes written so far and the file's size, once the layout is
/// known and after each section.
pub fn encode<W: Write + Send>(
    columns: &Columns<'_>,
    mut out: W,
    written: &(dyn Fn(u64, u64) + Sync),
) -> std::io::Result<EncodedStore> {
    assert_eq!(
        columns.indptr.len(),
        columns.user_keys.len() + 1,
        "indptr must have users + 1 entries"
    );
    let times = columns.timestamps.map(|t| t.values);
    let ordered = crate::order::is_needed(columns.indptr, columns.rows, times);
    let (leading, trailing) = (columns.leading_sections(), columns.trailing_sections());
    let order_section = ordered.then_some((SectionKind::TimeOrder, 0, columns.rows.len() * 4));
    let layout = leading
        .iter()
        .map(|(kind, tag, bytes)| (*kind, *tag, bytes.len()))
        .chain(order_section)
        .chain(
            trailing
                .iter()
                .map(|(kind, tag, bytes)| (*kind, *tag, bytes.len())),
        );
    let mut file = SectionWriter::new(layout.collect(), &mut out, written)?;
    // The leading sections go out from a thread outside the pool: its waits on the
    // device then leave every pool thread to the sort.
    let order = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            leading
                .iter()
                .try_for_each(|(_, _, bytes)| file.write(bytes))
        });
        let order = ordered.then(|| crate::order::compute(columns.indptr, columns.rows, times));
        let written = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        written.map(|()| order)
    })?;
    if let Some(order) = order {
        file.write(bytemuck::cast_slice(&order))?;
    }
    for (_, _, bytes) in &trailing {
        file.write(bytes)?;
    }
    let table = file.finish()?;
    let (header, fingerprint) =
        Header::encode(columns.counts(), columns.timestamps.map(|t| t.unit), &table);
    assert_eq!(header.len(), Header::encoded_len(table.len()));
    Ok(EncodedStore {
        header,
        fingerprint,
    })
}

/// Writes sections one after another at their places in the table, each hashed into
/// its entry, telling `written` how far it is.
struct SectionWriter<'p, W: Write> {
    table: Vec<Section>,
    /// Sections written so far.
    done: usize,
    /// Bytes written so far.
    at: u64,
    out: W,
    written: &'p (dyn Fn(u64, u64) + Sync),
}

impl<'p, W: Write> SectionWriter<'p, W> {
    /// Lays out sections of these kinds, tags and lengths after the header, and writes
    /// the header's place as zeros.
    fn new(
        layout: Vec<(SectionKind, u32, usize)>,
        mut out: W,
        written: &'p (dyn Fn(u64, u64) + Sync),
    ) -> std::io::Result<Self> {
        let header_len = Header::encoded_len(layout.len());
        let mut offset = align_up(header_len as u64);
        let mut table = Vec::with_capacity(layout.len());
        for (kind, tag, length) in layout {
            table.push(Section {
                kind,
                tag,
                offset,
                length: length as u64,
                checksum: 0,
            });
            offset = align_up(offset + length as u64);
        }
        out.write_all(&vec![0u8; header_len])?;
        let writer = SectionWriter {
            table,
            done: 0,
            at: header_len as u64,
            out,
            written,
        };
        writer.report();
        Ok(writer)
    }

    /// The file's size: where its last section ends.
    fn total(&self) -> u64 {
        self.table
            .last()
            .map_or(self.at, |last| last.offset + last.length)
    }

    fn report(&self) {
        (self.written)(self.at, self.total());
    }

    /// Writes the next section's bytes (as long as the layout said) after its padding.
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let section = &mut self.table[self.done];
        assert_eq!(
            section.length,
            bytes.len() as u64,
            "laid out at this length"
        );
        section.checksum = xxh3_64(bytes);
        self.out
            .write_all(&vec![0u8; (section.offset - self.at) as usize])?;
        self.out.write_all(bytes)?;
        self.at = section.offset + section.length;
        self.done += 1;
        self.report();
        Ok(())
    }

    /// The table with every checksum, once every section is written.
    fn finish(mut self) -> std::io::Result<Vec<Section>> {
        assert_eq!(self.done, self.table.len(), "every section written");
        self.out.flush()?;
        Ok(self.table)
    }
}

/// The store file as bytes (for tests and in-memory use).
pub fn to_bytes(columns: &Columns<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    let encoded = encode(columns, &mut out, &|_, _| {}).expect("writing to a Vec cannot fail");
    out[..encoded.header.len()].copy_from_slice(&encoded.header);
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
/// `items.txt` — under a staging name, then publishes it. `written` follows
/// `store.bin`'s bytes as [`encode`] reports them.
pub fn write_store_dir(
    dest: &Path,
    columns: &Columns<'_>,
    users: &IdList,
    items: &IdList,
    options: PublishOptions,
    written: &(dyn Fn(u64, u64) + Sync),
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
            || {
                write_file(&staging.join(STORE_FILE), options, |w| {
                    encode(columns, w, written).map(|e| (e.fingerprint, e.header))
                })
            },
            || {
                let in_order = |()| ((), Vec::new());
                write_file(&staging.join(USERS_FILE), options, |w| {
                    users.write_lines(w).map(in_order)
                })?;
                write_file(&staging.join(ITEMS_FILE), options, |w| {
                    items.write_lines(w).map(in_order)
                })
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

/// Writes a file with `body`, which returns its value and the bytes that go over the
/// file's start once the rest is written (empty for a file written in order).
fn write_file<T>(
    path: &Path,
    options: PublishOptions,
    body: impl FnOnce(&mut OutputFile) -> std::io::Result<(T, Vec<u8>)>,
) -> Result<T, StoreError> {
    let io = |e| StoreError::io(path, e);
    let mut writer = OutputFile::create(path, options.write_mode).map_err(io)?;
    let (value, start) = body(&mut writer).map_err(io)?;
    let mut file = writer.into_file().map_err(io)?;
    if !start.is_empty() {
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(&start).map_err(io)?;
    }
    if options.fsync {
        file.sync_all().map_err(io)?;
    }
    Ok(value)
}
