//! The binary layout of `store.bin`, version 4 (versions 1 to 3 still open).
//! `docs/store-format.md` is the grammar; this module is its single implementation
//! (parsing and serialising the header).
//!
//! All integers are little-endian. Sections start at multiples of [`SECTION_ALIGN`] so
//! every column can be viewed in place as a typed slice.

use crate::kept::{self, KeptColumn, MAX_KEPT_COLUMNS};
use crate::time::TimeUnit;
use crate::StoreError;
use xxhash_rust::xxh3::xxh3_64;

/// First eight bytes of every store file.
pub const MAGIC: [u8; 8] = *b"NEGSAMP\0";
/// The format version this code writes: version 4 is version 3 with the users'
/// positions in (timestamp, row) order (the `time_order` section); version 3 is version
/// 2 with the timestamps' unit in the header's last word (reserved, zero, before).
pub const VERSION: u32 = 4;
/// The oldest version this code reads: version 1 is version 2 without kept columns.
pub const OLDEST_VERSION: u32 = 1;
/// The most sections a header may list: the five fixed ones, the time order, the
/// kept-column schema, and a values and a dictionary section per kept column.
pub const MAX_SECTIONS: usize = 7 + 2 * MAX_KEPT_COLUMNS;
/// Written as a little-endian u32; read back as this value only by a little-endian
/// reader of a little-endian file.
pub const ENDIAN_MARKER: u32 = 0x0A0B_0C0D;
/// Bytes before the section table.
pub const FIXED_HEADER_LEN: usize = 48;
/// Bytes of one section-table entry.
pub const SECTION_ENTRY_LEN: usize = 32;
/// Section offsets are multiples of this.
pub const SECTION_ALIGN: u64 = 64;

/// What a section holds. The numeric codes are part of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SectionKind {
    /// u64 × (users + 1): user u's interactions are `indptr[u]..indptr[u+1]`.
    Indptr = 1,
    /// u32 × interactions: item index, ascending and unique within each user.
    Indices = 2,
    /// u64 × interactions: 0-based data-row number in the source CSV.
    Row = 3,
    /// i64 × interactions: timestamp (optional section).
    Timestamp = 4,
    /// u64 × users: XXH3-64 of the user's original id, keys the user's RNG stream.
    UserKey = 5,
    /// Format 2: the kept columns' schema (`name<TAB>type` lines); present iff any
    /// column is kept.
    Columns = 6,
    /// Format 2: one kept column's values (tag = its position in the schema), one per
    /// interaction: i64, f64 or u32 dictionary codes.
    ColumnValues = 7,
    /// Format 2: a string column's dictionary (tag = its position in the schema).
    ColumnDictionary = 8,
    /// Format 4: u32 × interactions, each user's positions (0-based within the user) in
    /// (timestamp, row) order (optional: absent when every user is in that order).
    TimeOrder = 9,
}

impl SectionKind {
    pub const ALL: [SectionKind; 9] = [
        Self::Indptr,
        Self::Indices,
        Self::Row,
        Self::Timestamp,
        Self::UserKey,
        Self::Columns,
        Self::ColumnValues,
        Self::ColumnDictionary,
        Self::TimeOrder,
    ];

    /// The kinds that can appear once each, untagged.
    fn is_fixed(self) -> bool {
        !matches!(self, Self::ColumnValues | Self::ColumnDictionary)
    }

    /// The first format version with this kind.
    fn since(self) -> u32 {
        match self {
            Self::Columns | Self::ColumnValues | Self::ColumnDictionary => 2,
            Self::TimeOrder => 4,
            _ => 1,
        }
    }

    fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u32 == code)
    }

    /// The byte length the section must have, when fixed by the counts (and for a
    /// column's values, by its type); `None` for the variable-length sections.
    fn expected_len(self, counts: &Counts, kept: Option<&KeptColumn>) -> Option<u64> {
        // Saturating: a crafted count must fail the comparison, not wrap.
        Some(match self {
            Self::Indptr => (counts.users + 1).saturating_mul(8),
            Self::UserKey => counts.users.saturating_mul(8),
            Self::Indices | Self::TimeOrder => counts.interactions.saturating_mul(4),
            Self::Row | Self::Timestamp => counts.interactions.saturating_mul(8),
            Self::ColumnValues => counts.interactions.saturating_mul(kept?.value_type.width()),
            Self::Columns | Self::ColumnDictionary => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Indptr => "indptr",
            Self::Indices => "indices",
            Self::Row => "row",
            Self::Timestamp => "timestamp",
            Self::UserKey => "user_key",
            Self::Columns => "columns",
            Self::ColumnValues => "column_values",
            Self::ColumnDictionary => "column_dictionary",
            Self::TimeOrder => "time_order",
        }
    }

    pub fn required(self) -> bool {
        matches!(
            self,
            Self::Indptr | Self::Indices | Self::Row | Self::UserKey
        )
    }
}

/// The three counts of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub users: u64,
    pub items: u64,
    pub interactions: u64,
}

/// One entry of the section table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    pub kind: SectionKind,
    /// Which kept column a column section belongs to (its position in the schema);
    /// 0 for every other kind.
    pub tag: u32,
    pub offset: u64,
    pub length: u64,
    /// XXH3-64 of the section's bytes.
    pub checksum: u64,
}

/// A parsed, self-consistent header: counts and section table, with every section
/// inside a file of `file_len` bytes, aligned, of the right length, not overlapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: u32,
    pub counts: Counts,
    pub sections: Vec<Section>,
    /// The kept columns, in schema order (empty in a version-1 file).
    pub kept: Vec<KeptColumn>,
    /// The timestamps' unit: `None` without timestamps or in a file before version 3.
    pub time_unit: Option<TimeUnit>,
    /// XXH3-64 of the header bytes (counts and the table with its checksums): the
    /// store's fingerprint.
    pub checksum: u64,
}

impl Header {
    /// Bytes the header occupies for `n` sections (including its trailing checksum).
    pub fn encoded_len(n_sections: usize) -> usize {
        FIXED_HEADER_LEN + n_sections * SECTION_ENTRY_LEN + 8
    }

    pub fn section(&self, kind: SectionKind) -> Option<&Section> {
        self.tagged(kind, 0)
    }

    /// The section of `kind` belonging to kept column `tag`.
    pub fn tagged(&self, kind: SectionKind, tag: u32) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.kind == kind && s.tag == tag)
    }

    /// Serialises counts, the time unit (given iff there is a timestamp section) and
    /// sections; returns the bytes and the header checksum.
    pub fn encode(
        counts: Counts,
        time_unit: Option<TimeUnit>,
        sections: &[Section],
    ) -> (Vec<u8>, u64) {
        let mut out = Vec::with_capacity(Self::encoded_len(sections.len()));
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&ENDIAN_MARKER.to_le_bytes());
        for v in [counts.users, counts.items, counts.interactions] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
        out.extend_from_slice(&time_unit.map_or(0, TimeUnit::code).to_le_bytes());
        for s in sections {
            out.extend_from_slice(&(s.kind as u32).to_le_bytes());
            out.extend_from_slice(&s.tag.to_le_bytes());
            for v in [s.offset, s.length, s.checksum] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let checksum = xxh3_64(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        (out, checksum)
    }

    /// Parses and validates the header of a file whose full contents are `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let file_len = bytes.len() as u64;
        let fixed = bytes.get(..FIXED_HEADER_LEN).ok_or(StoreError::Truncated {
            what: "header",
            needed: FIXED_HEADER_LEN as u64,
            file_len,
        })?;
        if fixed[..8] != MAGIC {
            return Err(StoreError::BadMagic {
                found: fixed[..8].try_into().expect("8 bytes"),
            });
        }
        let version = u32_at(fixed, 8);
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(StoreError::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        let marker = u32_at(fixed, 12);
        if marker != ENDIAN_MARKER {
            return Err(StoreError::WrongEndianness { found: marker });
        }
        let counts = Counts {
            users: u64_at(fixed, 16),
            items: u64_at(fixed, 24),
            interactions: u64_at(fixed, 32),
        };
        let n_sections = u32_at(fixed, 40) as usize;
        if n_sections > MAX_SECTIONS {
            return Err(StoreError::corrupt(format!(
                "section table claims {n_sections} sections"
            )));
        }
        let header_len = Self::encoded_len(n_sections);
        let all = bytes.get(..header_len).ok_or(StoreError::Truncated {
            what: "section table",
            needed: header_len as u64,
            file_len,
        })?;
        let stored = u64_at(all, header_len - 8);
        let checksum = xxh3_64(&all[..header_len - 8]);
        if stored != checksum {
            return Err(StoreError::ChecksumMismatch {
                what: "header".into(),
                expected: stored,
                got: checksum,
            });
        }
        validate_counts(&counts)?;
        let mut sections = Vec::with_capacity(n_sections);
        for i in 0..n_sections {
            let entry = &all[FIXED_HEADER_LEN + i * SECTION_ENTRY_LEN..][..SECTION_ENTRY_LEN];
            let code = u32_at(entry, 0);
            let kind = SectionKind::from_code(code)
                .filter(|k| version >= k.since())
                .ok_or_else(|| {
                    StoreError::corrupt(format!("unknown section kind {code} in version {version}"))
                })?;
            let tag = u32_at(entry, 4);
            if kind.is_fixed() && tag != 0 {
                return Err(StoreError::corrupt(format!(
                    "section {} has tag {tag}",
                    kind.name()
                )));
            }
            if sections
                .iter()
                .any(|s: &Section| s.kind == kind && s.tag == tag)
            {
                return Err(StoreError::corrupt(format!(
                    "section {} (tag {tag}) appears twice",
                    kind.name()
                )));
            }
            sections.push(Section {
                kind,
                tag,
                offset: u64_at(entry, 8),
                length: u64_at(entry, 16),
                checksum: u64_at(entry, 24),
            });
        }
        validate_bounds(&mut sections, header_len as u64, file_len)?;
        let kept = match sections.iter().find(|s| s.kind == SectionKind::Columns) {
            Some(s) => {
                kept::decode_schema(&bytes[s.offset as usize..(s.offset + s.length) as usize])?
            }
            None => Vec::new(),
        };
        validate_sections(&counts, &sections, &kept)?;
        let time_unit = if version >= 3 {
            decode_time_unit(u32_at(fixed, 44), &sections)?
        } else {
            None
        };
        Ok(Header {
            version,
            counts,
            sections,
            kept,
            time_unit,
            checksum,
        })
    }
}

/// The unit a version-3 header records: a known code exactly when there are timestamps.
fn decode_time_unit(code: u32, sections: &[Section]) -> Result<Option<TimeUnit>, StoreError> {
    let has_timestamps = sections.iter().any(|s| s.kind == SectionKind::Timestamp);
    match (code, has_timestamps) {
        (0, false) => Ok(None),
        (code, true) => TimeUnit::from_code(code).map(Some).ok_or_else(|| {
            StoreError::corrupt(format!("timestamps have unknown unit code {code}"))
        }),
        (code, false) => Err(StoreError::corrupt(format!(
            "time unit code {code} without a timestamp section"
        ))),
    }
}

fn validate_counts(c: &Counts) -> Result<(), StoreError> {
    if c.users > u64::from(u32::MAX) || c.items > u64::from(u32::MAX) {
        return Err(StoreError::corrupt(format!(
            "{} users / {} items exceed the u32 index space",
            c.users, c.items
        )));
    }
    if c.interactions > c.users.saturating_mul(c.items) {
        return Err(StoreError::corrupt(format!(
            "{} interactions cannot fit {} users × {} items",
            c.interactions, c.users, c.items
        )));
    }
    Ok(())
}

/// Sorts the sections by offset and checks each is aligned, inside the file and clear
/// of the header and the others.
fn validate_bounds(
    sections: &mut [Section],
    header_len: u64,
    file_len: u64,
) -> Result<(), StoreError> {
    sections.sort_by_key(|s| s.offset);
    let mut end_of_previous = header_len;
    for s in sections.iter() {
        let name = s.kind.name();
        if s.offset % SECTION_ALIGN != 0 {
            return Err(StoreError::corrupt(format!(
                "section {name} at offset {} is not {SECTION_ALIGN}-aligned",
                s.offset
            )));
        }
        if s.offset < end_of_previous {
            return Err(StoreError::corrupt(format!(
                "section {name} overlaps the header or another section"
            )));
        }
        let end = s
            .offset
            .checked_add(s.length)
            .ok_or_else(|| StoreError::corrupt(format!("section {name} overflows")))?;
        if end > file_len {
            return Err(StoreError::Truncated {
                what: name,
                needed: end,
                file_len,
            });
        }
        end_of_previous = end;
    }
    Ok(())
}

/// Checks presence and lengths: every required section, exactly a values section per
/// kept column and a dictionary for (only) its string columns.
fn validate_sections(
    counts: &Counts,
    sections: &[Section],
    kept: &[KeptColumn],
) -> Result<(), StoreError> {
    let present = |kind, tag| sections.iter().any(|s| s.kind == kind && s.tag == tag);
    for kind in SectionKind::ALL {
        if kind.required() && !present(kind, 0) {
            return Err(StoreError::corrupt(format!(
                "required section {} is missing",
                kind.name()
            )));
        }
    }
    for (tag, column) in kept.iter().enumerate() {
        let tag = tag as u32;
        let needs_dictionary = column.value_type == kept::ValueType::Str;
        if !present(SectionKind::ColumnValues, tag)
            || present(SectionKind::ColumnDictionary, tag) != needs_dictionary
        {
            return Err(StoreError::corrupt(format!(
                "kept column {:?} lacks its values or has the wrong dictionary sections",
                column.name
            )));
        }
    }
    for s in sections {
        let column = match s.kind {
            SectionKind::ColumnValues | SectionKind::ColumnDictionary => {
                Some(kept.get(s.tag as usize).ok_or_else(|| {
                    StoreError::corrupt(format!(
                        "section {} belongs to kept column {}, which the schema lacks",
                        s.kind.name(),
                        s.tag
                    ))
                })?)
            }
            _ => None,
        };
        if let Some(expected) = s.kind.expected_len(counts, column) {
            if s.length != expected {
                return Err(StoreError::corrupt(format!(
                    "section {} is {} bytes, expected {expected}",
                    s.kind.name(),
                    s.length
                )));
            }
        }
    }
    Ok(())
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// The offset where a section may start after `end`.
pub fn align_up(end: u64) -> u64 {
    end.div_ceil(SECTION_ALIGN) * SECTION_ALIGN
}
