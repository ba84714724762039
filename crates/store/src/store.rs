use crate::format::{Counts, Header, Section, SectionKind};
use crate::ids::{id_lines, read_lines};
use crate::kept::{Dictionary, KeptColumn, ValueType, Values, MISSING_CODE};
use crate::{mapping, StoreError};
use memmap2::Mmap;
use rayon::prelude::*;
use std::fs::File;
use std::io::BufReader;
use std::ops::Range;
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::xxh3_64;

/// The CSR file inside a store directory.
pub const STORE_FILE: &str = "store.bin";
/// Dense user index → original id, one per line.
pub const USERS_FILE: &str = "users.txt";
/// Dense item index → original id, one per line.
pub const ITEMS_FILE: &str = "items.txt";

enum Bytes {
    Mapped(Mmap),
    /// Owned copy in u64 words so every section is 8-byte aligned, as in a mapping.
    Owned {
        words: Vec<u64>,
        len: usize,
    },
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(map) => map,
            Bytes::Owned { words, len } => &bytemuck::cast_slice(words)[..*len],
        }
    }
}

/// An opened, header-validated store. Columns are typed views into the file.
pub struct Store {
    bytes: Bytes,
    header: Header,
    dir: Option<PathBuf>,
    /// `users.txt` and `items.txt`, opened with `store.bin`: a store re-ingested in
    /// place while this one is open (published by rename) leaves these handles on the
    /// files that belong with the mapped rows. `None` if a file could not be opened
    /// (reading it then reports why).
    id_files: [Option<File>; 2],
    indptr: Range<usize>,
    indices: Range<usize>,
    rows: Range<usize>,
    timestamps: Option<Range<usize>>,
    time_order: Option<Range<usize>>,
    user_keys: Range<usize>,
    /// Each kept column's values and (strings) dictionary, in schema order.
    kept: Vec<(Range<usize>, Option<Range<usize>>)>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("counts", &self.header.counts)
            .finish_non_exhaustive()
    }
}

/// One user's interactions: item indices ascending, with each one's source row and
/// timestamp at the same position, and (when the store has it) their positions in
/// (timestamp, row) order — read through [`crate::order::of_user`], which checks it.
#[derive(Debug, Clone, Copy)]
pub struct UserView<'a> {
    pub items: &'a [u32],
    pub rows: &'a [u64],
    pub timestamps: Option<&'a [i64]>,
    /// The stored `time_order` of these positions, unchecked.
    pub time_order: Option<&'a [u32]>,
    /// The user's stream key (XXH3-64 of the original id).
    pub key: u64,
    /// Where the user's interactions start in the store's columns (kept columns are
    /// indexed from here).
    pub start: usize,
}

impl Store {
    /// Opens the store directory `dir` (as written by `negsamp ingest`) by mapping
    /// its `store.bin`. Cheap: checks the header and bounds, not the data.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let file = dir.join(STORE_FILE);
        if !dir.is_dir() {
            let problem = if dir.exists() {
                "is not a directory"
            } else {
                "does not exist"
            };
            return Err(StoreError::io(
                dir,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("store directory {problem}"),
                ),
            ));
        }
        let map = mapping::map_readonly(&file).map_err(|e| StoreError::io(&file, e))?;
        // Opened right after the map, before anything else can be swapped in; the
        // window between the two opens is the publish's single rename, which replaces
        // the whole directory at once.
        let id_files = [USERS_FILE, ITEMS_FILE].map(|name| File::open(dir.join(name)).ok());
        let mut store = Self::from_backing(Bytes::Mapped(map), Some(dir.to_path_buf()))?;
        store.id_files = id_files;
        Ok(store)
    }

    /// Opens a store held in memory, with exactly the checks of [`Store::open`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Self::from_backing(
            Bytes::Owned {
                words,
                len: bytes.len(),
            },
            None,
        )
    }

    fn from_backing(bytes: Bytes, dir: Option<PathBuf>) -> Result<Self, StoreError> {
        let header = Header::decode(bytes.as_slice())?;
        let range = |kind| {
            header
                .section(kind)
                .map(|s: &Section| s.offset as usize..(s.offset + s.length) as usize)
        };
        let required = |kind: SectionKind| range(kind).expect("decode checked required sections");
        let tagged = |kind, tag| {
            header
                .tagged(kind, tag)
                .map(|s: &Section| s.offset as usize..(s.offset + s.length) as usize)
        };
        let kept = (0..header.kept.len() as u32)
            .map(|tag| {
                let values = tagged(SectionKind::ColumnValues, tag);
                let values = values.expect("decode checked every kept column has values");
                (values, tagged(SectionKind::ColumnDictionary, tag))
            })
            .collect();
        let store = Store {
            id_files: [None, None],
            kept,
            indptr: required(SectionKind::Indptr),
            indices: required(SectionKind::Indices),
            rows: required(SectionKind::Row),
            timestamps: range(SectionKind::Timestamp),
            time_order: range(SectionKind::TimeOrder),
            user_keys: required(SectionKind::UserKey),
            bytes,
            header,
            dir,
        };
        store.check_views()?;
        Ok(store)
    }

    /// Every section must view as its type (aligned), and `indptr` must start at 0 and
    /// end at the interaction count: O(1) checks that make the per-user spans safe to
    /// compute.
    fn check_views(&self) -> Result<(), StoreError> {
        let bytes = self.bytes.as_slice();
        let misaligned = |_| StoreError::corrupt("a section is not aligned to its element size");
        bytemuck::try_cast_slice::<u8, u64>(&bytes[self.indptr.clone()]).map_err(misaligned)?;
        bytemuck::try_cast_slice::<u8, u32>(&bytes[self.indices.clone()]).map_err(misaligned)?;
        if let Some(order) = &self.time_order {
            bytemuck::try_cast_slice::<u8, u32>(&bytes[order.clone()]).map_err(misaligned)?;
        }
        bytemuck::try_cast_slice::<u8, u64>(&bytes[self.rows.clone()]).map_err(misaligned)?;
        bytemuck::try_cast_slice::<u8, u64>(&bytes[self.user_keys.clone()]).map_err(misaligned)?;
        if let Some(ts) = &self.timestamps {
            bytemuck::try_cast_slice::<u8, i64>(&bytes[ts.clone()]).map_err(misaligned)?;
        }
        for ((values, _), column) in self.kept.iter().zip(&self.header.kept) {
            let values = &bytes[values.clone()];
            match column.value_type {
                ValueType::Str => bytemuck::try_cast_slice::<u8, u32>(values).map(drop),
                ValueType::I64 | ValueType::F64 => {
                    bytemuck::try_cast_slice::<u8, u64>(values).map(drop)
                }
            }
            .map_err(misaligned)?;
        }
        let indptr = self.indptr();
        let (first, last) = (indptr[0], indptr[indptr.len() - 1]);
        if first != 0 || last != self.header.counts.interactions {
            return Err(StoreError::corrupt(format!(
                "indptr runs from {first} to {last}, expected 0 to {}",
                self.header.counts.interactions
            )));
        }
        Ok(())
    }

    fn view<T: bytemuck::Pod>(&self, range: &Range<usize>) -> &[T] {
        // Cannot fail: check_views cast every section once at open.
        bytemuck::cast_slice(&self.bytes.as_slice()[range.clone()])
    }

    pub fn counts(&self) -> Counts {
        self.header.counts
    }
    pub fn n_users(&self) -> u32 {
        self.header.counts.users as u32
    }
    pub fn n_items(&self) -> u32 {
        self.header.counts.items as u32
    }
    pub fn n_interactions(&self) -> u64 {
        self.header.counts.interactions
    }
    pub fn has_timestamps(&self) -> bool {
        self.timestamps.is_some()
    }
    /// A fingerprint of the store's contents: the header checksum, which covers the
    /// counts and every section's checksum.
    pub fn fingerprint(&self) -> u64 {
        self.header.checksum
    }
    /// The directory the store was opened from (None when opened from bytes).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }
    pub fn header(&self) -> &Header {
        &self.header
    }
    pub fn indptr(&self) -> &[u64] {
        self.view(&self.indptr)
    }
    pub fn indices(&self) -> &[u32] {
        self.view(&self.indices)
    }
    pub fn rows(&self) -> &[u64] {
        self.view(&self.rows)
    }
    pub fn timestamps(&self) -> Option<&[i64]> {
        self.timestamps.as_ref().map(|r| self.view(r))
    }
    /// The unit of the timestamps, when there are any: as recorded (format 3), or
    /// seconds for a store written before the format recorded it.
    pub fn time_unit(&self) -> Option<crate::time::TimeUnit> {
        self.has_timestamps().then(|| {
            self.header
                .time_unit
                .unwrap_or(crate::time::TimeUnit::Seconds)
        })
    }
    /// Each user's positions in (timestamp, row) order (format 4), unchecked: read it
    /// through [`crate::order::of_user`].
    pub fn time_order(&self) -> Option<&[u32]> {
        self.time_order.as_ref().map(|r| self.view(r))
    }
    pub fn user_keys(&self) -> &[u64] {
        self.view(&self.user_keys)
    }
    /// The format version of the file (1 to 4).
    pub fn format_version(&self) -> u32 {
        self.header.version
    }
    /// The kept columns, in schema order.
    pub fn kept_columns(&self) -> &[KeptColumn] {
        &self.header.kept
    }
    /// The position of the kept column named `name`.
    pub fn kept_column(&self, name: &str) -> Option<usize> {
        self.header.kept.iter().position(|c| c.name == name)
    }
    /// Kept column `c`'s values, one per interaction.
    pub fn kept_values(&self, c: usize) -> Values<'_> {
        let range = &self.kept[c].0;
        match self.header.kept[c].value_type {
            ValueType::I64 => Values::I64(self.view(range)),
            ValueType::F64 => Values::F64(self.view(range)),
            ValueType::Str => Values::Str(self.view(range)),
        }
    }
    /// The dictionary of string column `c` (None for a numeric column); its offsets
    /// are checked here, once per call.
    pub fn dictionary(&self, c: usize) -> Result<Option<Dictionary<'_>>, StoreError> {
        self.kept[c]
            .1
            .as_ref()
            .map(|r| Dictionary::parse(&self.bytes.as_slice()[r.clone()]))
            .transpose()
    }

    /// The span of user `u` in the interaction columns, checked, so a corrupt `indptr`
    /// is an error here rather than a panic in the caller.
    pub fn user_span(&self, u: u32) -> Result<Range<usize>, StoreError> {
        let indptr = self.indptr();
        let (start, end) = match (indptr.get(u as usize), indptr.get(u as usize + 1)) {
            (Some(&s), Some(&e)) => (s, e),
            _ => {
                return Err(StoreError::corrupt(format!(
                    "user {u} is outside the store's {} users",
                    self.n_users()
                )))
            }
        };
        if start > end || end > self.n_interactions() {
            return Err(StoreError::corrupt(format!(
                "indptr of user {u} is {start}..{end}"
            )));
        }
        Ok(start as usize..end as usize)
    }

    /// User `u`'s interactions.
    pub fn user(&self, u: u32) -> Result<UserView<'_>, StoreError> {
        let span = self.user_span(u)?;
        Ok(UserView {
            items: &self.indices()[span.clone()],
            rows: &self.rows()[span.clone()],
            timestamps: self.timestamps().map(|t| &t[span.clone()]),
            time_order: self.time_order().map(|o| &o[span.clone()]),
            key: self.user_keys()[u as usize],
            start: span.start,
        })
    }

    /// The full integrity check: every section's checksum, `indptr` non-decreasing,
    /// each user's items strictly ascending and inside the catalog, each user's time
    /// order a permutation in (timestamp, row) order, and — for a store
    /// on disk — id maps with one line per user/item whose hashes are the user keys.
    pub fn verify(&self) -> Result<(), StoreError> {
        self.verify_scan(true)
    }

    /// [`Store::verify`] without reading every user's time order: for a caller that
    /// reads each user's order through [`crate::order::of_user`] itself, which checks
    /// it (a dataset's verify, sampling every user afresh).
    pub fn verify_without_time_order(&self) -> Result<(), StoreError> {
        self.verify_scan(false)
    }

    fn verify_scan(&self, time_order: bool) -> Result<(), StoreError> {
        self.check_padding()?;
        self.verify_checksums()?;
        let indptr = self.indptr();
        if let Some(u) = indptr.windows(2).position(|w| w[0] > w[1]) {
            return Err(StoreError::corrupt(format!("indptr decreases at user {u}")));
        }
        let n_items = self.n_items();
        let scratch = || (Vec::new(), Vec::new());
        (0..self.n_users())
            .into_par_iter()
            .try_for_each_init(scratch, |(order, keys), u| {
                let view = self.user(u)?;
                if time_order && view.time_order.is_some() {
                    crate::order::of_user(&view, true, order, keys)?;
                }
                let items = view.items;
                if let Some(j) = items.windows(2).position(|w| w[0] >= w[1]) {
                    return Err(StoreError::corrupt(format!(
                        "items of user {u} are not strictly ascending at position {}",
                        j + 1
                    )));
                }
                match items.last() {
                    Some(&last) if last >= n_items => Err(StoreError::corrupt(format!(
                        "user {u} has item {last} outside the catalog of {n_items}"
                    ))),
                    _ => Ok(()),
                }
            })?;
        self.verify_kept()?;
        if self.dir.is_some() {
            self.verify_id_maps()?;
        }
        Ok(())
    }

    /// The id maps read as [`Store::user_ids`] and [`Store::item_ids`] would (UTF-8, one
    /// line per id) and each user's line hashing to its key — checked on the maps'
    /// bytes, users in parallel: a string per id made this most of `verify`'s store
    /// check (0.15 of 0.19 s for 0.4M users and 1M items).
    fn verify_id_maps(&self) -> Result<(), StoreError> {
        let users = self.id_map_bytes(USERS_FILE)?;
        let user_lines = checked_id_lines(USERS_FILE, &users, self.counts().users)?;
        if let Some(u) = user_lines
            .par_iter()
            .zip(self.user_keys())
            .position_first(|(id, &k)| negsamp_kernel::stream::user_key(id) != k)
        {
            return Err(StoreError::corrupt(format!(
                "the key of user {u} does not match its id in {USERS_FILE}"
            )));
        }
        let items = self.id_map_bytes(ITEMS_FILE)?;
        checked_id_lines(ITEMS_FILE, &items, self.counts().items)?;
        Ok(())
    }

    /// Every section's checksum, in parallel: one read of the file. `verify` runs it as
    /// part of the full check.
    pub fn verify_checksums(&self) -> Result<(), StoreError> {
        self.header
            .sections
            .par_iter()
            .try_for_each(|s| self.verify_section(s))
    }

    /// The checksums of the sections `pick` chooses, on the calling thread alone:
    /// `sample` checks `indptr` (which its plan reads) first and the rest on a thread
    /// of its own while the first users are drawn, and publishes nothing until they
    /// have passed (a flipped bit in `indices` would otherwise put a real positive
    /// among the negatives).
    pub fn verify_checksums_of(
        &self,
        pick: impl Fn(SectionKind) -> bool,
    ) -> Result<(), StoreError> {
        self.header
            .sections
            .iter()
            .filter(|s| pick(s.kind))
            .try_for_each(|s| self.verify_section(s))
    }

    fn verify_section(&self, s: &Section) -> Result<(), StoreError> {
        let bytes = &self.bytes.as_slice()[s.offset as usize..(s.offset + s.length) as usize];
        let got = xxh3_64(bytes);
        if got == s.checksum {
            Ok(())
        } else {
            Err(StoreError::ChecksumMismatch {
                what: format!("section {}", s.kind.name()),
                expected: s.checksum,
                got,
            })
        }
    }

    /// Every string code names a dictionary entry (or is missing).
    fn verify_kept(&self) -> Result<(), StoreError> {
        for (c, column) in self.header.kept.iter().enumerate() {
            let (Values::Str(codes), Some(dictionary)) = (self.kept_values(c), self.dictionary(c)?)
            else {
                continue;
            };
            let n = dictionary.len() as u32;
            if let Some(at) = codes
                .par_iter()
                .position_any(|&x| x >= n && x != MISSING_CODE)
            {
                return Err(StoreError::corrupt(format!(
                    "interaction {at} of kept column {:?} has code {} beyond its {n} values",
                    column.name, codes[at]
                )));
            }
        }
        Ok(())
    }

    /// Bytes outside the header and the sections must be zero padding, and nothing may
    /// follow the last section, so that every byte of the file is covered by a check.
    fn check_padding(&self) -> Result<(), StoreError> {
        let bytes = self.bytes.as_slice();
        let mut at = Header::encoded_len(self.header.sections.len());
        for s in &self.header.sections {
            if bytes[at..s.offset as usize].iter().any(|&b| b != 0) {
                return Err(StoreError::corrupt(format!(
                    "non-zero padding before section {}",
                    s.kind.name()
                )));
            }
            at = (s.offset + s.length) as usize;
        }
        if at != bytes.len() {
            return Err(StoreError::corrupt(format!(
                "{} unexpected bytes after the last section",
                bytes.len() - at
            )));
        }
        Ok(())
    }

    /// Reads the user id map of a store on disk.
    pub fn user_ids(&self) -> Result<Vec<String>, StoreError> {
        self.id_file(USERS_FILE, self.counts().users)
    }

    /// Reads the item id map of a store on disk.
    pub fn item_ids(&self) -> Result<Vec<String>, StoreError> {
        self.id_file(ITEMS_FILE, self.counts().items)
    }

    fn id_file(&self, name: &'static str, expected: u64) -> Result<Vec<String>, StoreError> {
        let bytes = self.id_map_bytes(name)?;
        let ids = read_lines(BufReader::new(&bytes[..])).map_err(|e| StoreError::io(name, e))?;
        check_id_count(name, ids.len(), expected)?;
        Ok(ids)
    }

    /// The bytes of id map `name` (`users.txt` or `items.txt`) as opened with the
    /// store, to copy beside a dataset.
    pub fn id_map_bytes(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        use std::os::unix::fs::FileExt;
        let dir = self
            .dir
            .as_ref()
            .ok_or_else(|| StoreError::corrupt("an in-memory store has no id maps"))?;
        let path = dir.join(name);
        let which = [USERS_FILE, ITEMS_FILE]
            .iter()
            .position(|&n| n == name)
            .ok_or_else(|| StoreError::corrupt(format!("{name} is not an id map")))?;
        let file = match &self.id_files[which] {
            Some(file) => file,
            // not there at open: say why, through the path
            None => {
                return Err(StoreError::io(
                    &path,
                    File::open(&path).err().unwrap_or_else(|| {
                        std::io::Error::other(
                            "it appeared after the store was opened; reopen the store",
                        )
                    }),
                ))
            }
        };
        let len = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
        let mut bytes = vec![0u8; len as usize];
        file.read_exact_at(&mut bytes, 0)
            .map_err(|e| StoreError::io(&path, e))?;
        Ok(bytes)
    }
}

/// Id map `name`'s lines, if it is UTF-8 text of `expected` lines.
fn checked_id_lines<'a>(
    name: &str,
    bytes: &'a [u8],
    expected: u64,
) -> Result<Vec<&'a [u8]>, StoreError> {
    std::str::from_utf8(bytes).map_err(|e| {
        StoreError::io(
            name,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    let lines = id_lines(bytes);
    check_id_count(name, lines.len(), expected)?;
    Ok(lines)
}

fn check_id_count(name: &str, got: usize, expected: u64) -> Result<(), StoreError> {
    if got as u64 == expected {
        Ok(())
    } else {
        Err(StoreError::corrupt(format!(
            "{name} has {got} lines, the store has {expected} ids"
        )))
    }
}
