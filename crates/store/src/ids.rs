//! Id interning: original id strings ↔ dense u32 indices, in first-appearance order.
//!
//! An [`Interner`] keeps every distinct id once, in one contiguous byte arena, with a
//! hash table of indices into it, each beside the id's head — its first bytes, and
//! its length or a byte of its hash (so a probe for a short id never reads the arena)
//! — no allocation per id, none per row. The same type serves the per-range
//! dictionaries of parallel parsing and the global maps, each with the table that
//! suits it (`table` says which, and why). Once a file is parsed, a global map gives
//! up its tables and keeps only the arena, an [`IdList`], for the store's id files.

mod table;

use foldhash::fast::FixedState;
use std::hash::BuildHasher;
use std::io::{BufRead, Write};
use table::{Entry, Hashes, Table};

/// A set of byte strings numbered 0, 1, 2 … in insertion order.
#[derive(Debug, Default)]
pub struct Interner {
    table: Hashes,
    ids: IdList,
    hasher: FixedState,
    /// With [`Interner::indexing_decimals`]: the index of each plain decimal id (see
    /// [`decimal_value`]) by value, [`ABSENT`] where none; authoritative for every
    /// value below its length, so such an id is found with one load and no hashing.
    by_value: Option<Vec<u32>>,
}

/// How many lookups ahead a caller of [`Interner::prefetch_by_value`] should start
/// one: enough for consecutive rows' cache misses to overlap (a row is a few hundred
/// instructions of parsing), few enough that the slots are still cached when
/// answered. (One row ahead did not help; 32 was no better than 16.)
pub const LOOKAHEAD: usize = 16;

/// An id's first seven bytes (zero-padded), then its length if at most seven, else
/// eight or more from its hash (`hash`): equal heads mean equal ids when the length is
/// at most seven, and are necessary otherwise — where the hash's byte rules out all
/// but one in 128 other ids that share the first seven bytes (long ids often do).
#[inline]
fn head(key: &[u8], hash: u64) -> [u8; 8] {
    let mut head = [0u8; 8];
    let n = key.len().min(7);
    head[..n].copy_from_slice(&key[..n]);
    head[7] = if key.len() <= 7 {
        key.len() as u8
    } else {
        (hash >> 56) as u8 | 8
    };
    head
}

/// An empty slot of the by-value table.
const ABSENT: u32 = u32::MAX;

/// The by-value table never grows past this many slots (256 MiB) …
const MAX_BY_VALUE: usize = 1 << 26;
/// … nor past this many slots per id held (plus a floor), so sparse ids such as
/// `1000000007` stay hashed instead of costing memory.
const BY_VALUE_PER_ID: usize = 8;
const BY_VALUE_FLOOR: usize = 1 << 16;

/// The value of an id that is a plain decimal integer — digits only, no sign, no
/// leading zero (so one value has one spelling) — when below 10^9.
#[inline]
pub fn decimal_value(id: &[u8]) -> Option<usize> {
    match id {
        [] | [b'0', _, ..] => None,
        _ if id.len() > 9 => None,
        _ => crate::csv::digits_value(id).map(|value| value as usize),
    }
}

/// Byte strings numbered 0, 1, 2 …, in one arena: what a dictionary keeps once
/// nothing more is looked up in it ([`Interner::into_ids`]).
#[derive(Debug, Default)]
pub struct IdList {
    arena: Vec<u8>,
    /// `ends[i]` is the end of id i in `arena`; id i starts at `ends[i-1]` (or 0).
    ends: Vec<usize>,
}

impl IdList {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The bytes of id `index`.
    pub fn get(&self, index: u32) -> &[u8] {
        let i = index as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.arena[start..self.ends[i]]
    }

    /// Iterates over the ids in index order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len() as u32).map(move |i| self.get(i))
    }

    /// Writes one id per line, in index order.
    pub fn write_lines<W: Write>(&self, mut out: W) -> std::io::Result<()> {
        for id in self.iter() {
            out.write_all(id)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// Appends `key`'s bytes as the next id; its index.
    fn push(&mut self, key: &[u8]) -> u32 {
        let index = self.ends.len() as u32;
        self.arena.extend_from_slice(key);
        self.ends.push(self.arena.len());
        index
    }

    fn clear(&mut self) {
        self.arena.clear();
        self.ends.clear();
    }
}

impl Interner {
    /// An empty interner that also indexes plain decimal ids by value: worth it for a
    /// large dictionary looked up far more often than it grows (a file's global user
    /// and item maps), where a hash probe and a key comparison miss the cache.
    pub fn indexing_decimals() -> Self {
        Self {
            by_value: Some(Vec::new()),
            table: Hashes::Prefetchable(Table::default()),
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ids, in index order.
    pub fn ids(&self) -> &IdList {
        &self.ids
    }

    /// The ids, the lookup tables freed: once a file is parsed its dictionaries are
    /// only read by index, and their hash tables (≈ 40 MB for 1.5M string ids) would
    /// otherwise sit under the CSR build's peak.
    pub fn into_ids(self) -> IdList {
        self.ids
    }

    /// Empties the interner, keeping its allocations.
    pub fn clear(&mut self) {
        self.table.clear();
        self.ids.clear();
        if let Some(by_value) = &mut self.by_value {
            by_value.clear();
        }
    }

    /// The bytes of id `index`.
    pub fn get(&self, index: u32) -> &[u8] {
        self.ids.get(index)
    }

    /// Iterates over the ids in index order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.ids.iter()
    }

    /// The index of `key`, if present.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        self.find_with(key, || self.hasher.hash_one(key))
    }

    /// `key`'s hash, with the table's slot for it starting to load into the cache:
    /// for a caller that looks `key` up with [`Interner::find_hashed`] some lookups
    /// later, so that consecutive lookups' cache misses overlap.
    #[inline]
    pub fn start_find(&self, key: &[u8]) -> u64 {
        let hash = self.hasher.hash_one(key);
        self.table.prefetch(hash);
        hash
    }

    /// [`Interner::find`], given `key`'s hash from [`Interner::start_find`].
    #[inline]
    pub fn find_hashed(&self, key: &[u8], hash: u64) -> Option<u32> {
        self.find_with(key, || hash)
    }

    /// [`Interner::find`], `key`'s hash given by `hash` when the table is reached.
    #[inline]
    fn find_with(&self, key: &[u8], hash: impl FnOnce() -> u64) -> Option<u32> {
        // The first block of a file is looked up in empty global maps: no hashing.
        if self.is_empty() {
            return None;
        }
        if let Some(answer) = decimal_value(key).and_then(|v| self.by_value(v)) {
            return answer;
        }
        let hash = hash();
        let head = head(key, hash);
        self.table.find(hash, |entry| self.holds(entry, head, key))
    }

    /// Whether `entry` is `key`'s (whose [`head`] is `head`).
    #[inline]
    fn holds(&self, entry: &Entry, head: [u8; 8], key: &[u8]) -> bool {
        entry.head == head && (key.len() <= 7 || self.get(entry.index) == key)
    }

    /// The index of the id whose text is the decimal `value`, when the by-value table
    /// answers for it (`None`: look its text up with [`Interner::find`]) — for ids that
    /// arrive as integers, found without writing their text.
    #[inline]
    pub fn find_by_value(&self, value: i64) -> Option<Option<u32>> {
        if self.is_empty() {
            return Some(None);
        }
        // Every slot is below `MAX_BY_VALUE` < 10^9, where a value's decimal text is a
        // plain decimal id, so the slot is the text's answer.
        self.by_value(usize::try_from(value).ok()?)
    }

    /// Whether the by-value table answers for `value`; if so, starts loading its slot
    /// into the cache, for a caller that answers it with [`Interner::by_value`] a few
    /// lookups later. Looked up one at a time, a large table's slots miss the cache
    /// row after row, each stalling the parse for a full memory latency; started early,
    /// the misses overlap.
    #[inline]
    pub fn prefetch_by_value(&self, value: usize) -> bool {
        let Some(slot) = self.by_value.as_ref().and_then(|t| t.get(value)) else {
            return false;
        };
        prefetch(slot);
        true
    }

    /// The by-value table's answer for `value` (the index, or none held), when the
    /// table covers it.
    #[inline]
    pub fn by_value(&self, value: usize) -> Option<Option<u32>> {
        let slot = *self.by_value.as_ref()?.get(value)?;
        Some((slot != ABSENT).then_some(slot))
    }

    /// Grows the by-value table to cover `value` when that stays within its limits,
    /// recording every id it then covers (so it stays authoritative); whether it
    /// covers `value`.
    fn cover(&mut self, value: usize) -> bool {
        let Some(by_value) = &mut self.by_value else {
            return false;
        };
        if value < by_value.len() {
            return true;
        }
        // The table at least doubles when it grows, so growing (a fill and a pass over
        // every id) costs O(1) per id; an id it cannot cover yet is hashed meanwhile.
        // (Growing only to the limit made ingesting ids scattered over a range wider
        // than the limit quadratic: a growth by a few slots per new id.)
        let limit = MAX_BY_VALUE.min(BY_VALUE_FLOOR + BY_VALUE_PER_ID * self.ids.len());
        let len = (value + 1).max(2 * by_value.len());
        if len > limit {
            return false;
        }
        by_value.clear();
        by_value.resize(len, ABSENT);
        for (i, id) in self.ids.iter().enumerate() {
            if let Some(v) = decimal_value(id).filter(|&v| v < len) {
                by_value[v] = i as u32;
            }
        }
        true
    }

    /// The index of `key`, inserting it at the end if new. Returns `(index, inserted)`.
    pub fn intern(&mut self, key: &[u8]) -> (u32, bool) {
        // A plain decimal id the by-value table covers lives there alone: no hashing.
        let value = self.by_value.as_ref().and_then(|_| decimal_value(key));
        if let Some(value) = value.filter(|&v| self.cover(v)) {
            let slot = self.by_value.as_ref().map_or(ABSENT, |t| t[value]);
            if slot != ABSENT {
                return (slot, false);
            }
            let index = self.ids.push(key);
            if let Some(by_value) = &mut self.by_value {
                by_value[value] = index;
            }
            return (index, true);
        }
        let hash = self.hasher.hash_one(key);
        let head = head(key, hash);
        if let Some(index) = self.table.find(hash, |entry| self.holds(entry, head, key)) {
            return (index, false);
        }
        let index = self.ids.push(key);
        let Self {
            table, ids, hasher, ..
        } = self;
        table.insert(hash, Entry { head, index }, |i| hasher.hash_one(ids.get(i)));
        (index, true)
    }
}

/// Hints the CPU to bring `slot`'s cache line in; it reads nothing and cannot fault.
#[inline]
pub(crate) fn prefetch(slot: &u32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is SSE, in the x86-64 baseline, so the instruction exists
    // on any CPU this runs on; a prefetch reads no memory into the program and never
    // faults (here the address is even a live reference). Measured in
    // `docs/benchmarks.md`: the by-value lookups' cache misses were a fifth of a
    // CSV ingest's CPU time.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(slot).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = slot;
}

/// Reads an id file (one id per line, `\r\n` tolerated) into a vector of strings.
pub fn read_lines<R: BufRead>(input: R) -> std::io::Result<Vec<String>> {
    input
        .lines()
        .map(|l| l.map(|s| s.strip_suffix('\r').map(str::to_owned).unwrap_or(s)))
        .collect()
}

/// The lines of an id map as [`read_lines`] gives them, borrowed from the map's bytes:
/// split at `\n`, a line's `\r\n` ending and then one `\r` more dropped (an unended
/// last line loses one `\r`). What a check of a map reads without a string per id.
pub(crate) fn id_lines(bytes: &[u8]) -> Vec<&[u8]> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let ended = bytes.ends_with(b"\n");
    let body = if ended {
        &bytes[..bytes.len() - 1]
    } else {
        bytes
    };
    let mut lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    let last = lines.len() - 1;
    for (i, line) in lines.iter_mut().enumerate() {
        // `lines()` drops the `\r` of a `\r\n`, `read_lines` one `\r` more
        let carriage_returns = if i < last || ended { 2 } else { 1 };
        for _ in 0..carriage_returns {
            *line = line.strip_suffix(b"\r").unwrap_or(line);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn interns_in_first_appearance_order() {
        let mut ids = Interner::default();
        assert_eq!(ids.intern(b"b"), (0, true));
        assert_eq!(ids.intern(b"a"), (1, true));
        assert_eq!(ids.intern(b"b"), (0, false));
        assert_eq!(ids.intern(b""), (2, true));
        assert_eq!(ids.find(b"a"), Some(1));
        assert_eq!(ids.find(b"c"), None);
        assert_eq!(ids.iter().collect::<Vec<_>>(), [&b"b"[..], b"a", b""]);
        for i in 0..10_000u32 {
            ids.intern(format!("id{i}").as_bytes());
        }
        assert_eq!(ids.find(b"id9999"), Some(10_002));
        ids.clear();
        assert!(ids.is_empty());
        assert_eq!(ids.find(b"a"), None);
    }

    /// Integer ids are answered by value where the table covers them — found, or
    /// known absent — and left to the text lookup elsewhere.
    #[test]
    fn integers_are_found_by_value_where_the_table_covers_them() {
        let mut ids = Interner::indexing_decimals();
        assert_eq!(
            ids.find_by_value(5),
            Some(None),
            "an empty map holds nothing"
        );
        for id in ["5", "7", "u1", "05"] {
            ids.intern(id.as_bytes());
        }
        assert_eq!(ids.find_by_value(5), Some(Some(0)));
        assert_eq!(ids.find_by_value(7), Some(Some(1)));
        assert_eq!(ids.find_by_value(6), Some(None));
        let past = ids.by_value.as_ref().unwrap().len() as i64;
        assert_eq!(ids.find_by_value(past), None);
        assert_eq!(ids.find_by_value(-5), None);
        assert_eq!(ids.find(b"05"), Some(3), "not a plain decimal: hashed");
    }

    #[test]
    fn decimal_values_have_one_spelling() {
        assert_eq!(decimal_value(b"0"), Some(0));
        assert_eq!(decimal_value(b"982150"), Some(982_150));
        assert_eq!(decimal_value(b"999999999"), Some(999_999_999));
        for other in [
            &b""[..],
            b"00",
            b"07",
            b"-1",
            b"+1",
            b"1.0",
            b" 1",
            b"1e3",
            b"1000000000",
        ] {
            assert_eq!(
                decimal_value(other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn an_id_hashed_before_the_table_reached_it_is_found_after() {
        let mut ids = Interner::indexing_decimals();
        let far = (BY_VALUE_FLOOR + 100).to_string();
        assert_eq!(ids.intern(far.as_bytes()), (0, true)); // beyond the table: hashed
        for i in 0..100 {
            ids.intern(format!("u{i}").as_bytes());
        }
        let farther = (BY_VALUE_FLOOR + 101).to_string();
        assert_eq!(ids.intern(farther.as_bytes()), (101, true)); // grows the table
        assert!(ids.by_value.as_ref().unwrap().len() > BY_VALUE_FLOOR + 101);
        assert_eq!(ids.find(far.as_bytes()), Some(0));
        assert_eq!(ids.intern(far.as_bytes()), (0, false));
    }

    /// Ids scattered over a range wider than the table may grow to at first (a file's
    /// items) grow it a few times, each time at least doubling it: not once per id.
    #[test]
    fn the_by_value_table_grows_geometrically() {
        let mut ids = Interner::indexing_decimals();
        let (mut growths, mut len, mut state) = (0, 0, 1u64);
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ids.intern(((state >> 33) % 2_000_000).to_string().as_bytes());
            let now = ids.by_value.as_ref().unwrap().len();
            if now != len {
                assert!(now >= 2 * len, "grew from {len} to {now} slots");
                (growths, len) = (growths + 1, now);
            }
        }
        let limit = BY_VALUE_FLOOR + BY_VALUE_PER_ID * ids.len();
        assert!(
            2 * len > limit,
            "{len} slots: within half of the limit, {limit}"
        );
        assert!(growths <= 27, "{growths} growths");
    }

    /// Ids drawn so decimal ones fall on both sides of the by-value table's reach as
    /// it grows, beside spellings of the same numbers that are other ids.
    fn id_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (0u32..300).prop_map(|v| v.to_string().into_bytes()),
            (0u32..2_000_000).prop_map(|v| v.to_string().into_bytes()),
            (0u32..300).prop_map(|v| format!("0{v}").into_bytes()),
            (0u32..300).prop_map(|v| format!("u{v}").into_bytes()),
            any::<u64>().prop_map(|v| v.to_string().into_bytes()),
            // Ids that share a head or differ only past it: a common prefix with a
            // tail of NULs and letters (6 to 9 bytes), and ids longer than the head's
            // length byte counts.
            proptest::collection::vec(prop_oneof![Just(0u8), Just(b'a')], 0..4).prop_map(|tail| [
                b"abcdef".as_slice(),
                &tail
            ]
            .concat()),
            (254usize..258, any::<bool>()).prop_map(|(n, last)| {
                let mut id = vec![b'x'; n];
                id.push(if last { b'y' } else { 0 });
                id
            }),
        ]
    }

    proptest! {
        /// `id_lines` reads a map as `read_lines` does, and the map is UTF-8 text
        /// exactly when `read_lines` accepts it.
        #[test]
        fn id_lines_are_read_lines_borrowed(
            pieces in proptest::collection::vec(
                prop_oneof![
                    4 => Just(&b"\n"[..]),
                    4 => Just(&b"\r"[..]),
                    4 => Just(&b"a"[..]),
                    2 => Just("é".as_bytes()),
                    1 => Just(&b"\xC3"[..]),
                ],
                0..40,
            )
        ) {
            let bytes = pieces.concat();
            match read_lines(&bytes[..]) {
                Ok(lines) => {
                    let borrowed = id_lines(&bytes);
                    prop_assert_eq!(borrowed.len(), lines.len());
                    for (b, l) in borrowed.iter().zip(&lines) {
                        prop_assert_eq!(*b, l.as_bytes());
                    }
                    prop_assert!(std::str::from_utf8(&bytes).is_ok());
                }
                Err(_) => prop_assert!(std::str::from_utf8(&bytes).is_err()),
            }
        }

        /// Equal ids have equal heads, and equal heads mean equal ids for ids of up to
        /// seven bytes (what lets a probe skip the arena).
        #[test]
        fn heads_decide_short_ids(
            a in id_strategy(),
            b in id_strategy(),
            tail in proptest::collection::vec(prop_oneof![Just(0u8), Just(b'a')], 0..3),
        ) {
            // Ids like `a`: longer by a tail (the same id when the tail is empty), or
            // its last byte changed.
            let longer = [&a[..], &tail].concat();
            let mut last_changed = a.clone();
            if let Some(last) = last_changed.last_mut() {
                *last = last.wrapping_add(1);
            }
            let head = |id: &[u8]| head(id, FixedState::default().hash_one(id));
            for b in [b, longer, last_changed] {
                prop_assert_eq!(head(&a) == head(&b) && a.len() <= 7, a.len() <= 7 && a == b);
                if a == b {
                    prop_assert_eq!(head(&a), head(&b));
                }
            }
        }

        /// With or without the by-value table (and so with either hash table), an
        /// interner numbers ids exactly as a map from bytes to first-appearance index
        /// does, and finds what it holds, looked up at once or started ahead.
        #[test]
        fn indexing_decimals_numbers_as_a_map_does(
            ids in proptest::collection::vec(id_strategy(), 1..400),
            probes in proptest::collection::vec(id_strategy(), 0..50),
            decimals: bool,
        ) {
            let mut interner = if decimals { Interner::indexing_decimals() } else { Interner::default() };
            let mut reference: HashMap<Vec<u8>, u32> = HashMap::new();
            for id in &ids {
                let next = reference.len() as u32;
                let expected = *reference.entry(id.clone()).or_insert(next);
                prop_assert_eq!(interner.intern(id), (expected, expected == next));
            }
            for id in ids.iter().chain(&probes) {
                prop_assert_eq!(interner.find(id), reference.get(id).copied());
                let hash = interner.start_find(id);
                prop_assert_eq!(interner.find_hashed(id, hash), reference.get(id).copied());
                // An integer whose decimal text is the id: by value, when answered, too.
                let value = std::str::from_utf8(id).ok().and_then(|t| t.parse::<i64>().ok());
                if let Some(v) = value.filter(|v| v.to_string().as_bytes() == &id[..]) {
                    if let Some(answer) = interner.find_by_value(v) {
                        prop_assert_eq!(answer, reference.get(id).copied());
                    }
                }
            }
            for (id, &index) in &reference {
                prop_assert_eq!(interner.get(index), &id[..]);
            }
            interner.clear();
            prop_assert_eq!(interner.find(&ids[0]), None);
            prop_assert_eq!(interner.intern(&ids[0]), (0, true));
        }
    }
}
