//! Id interning: original id strings ↔ dense u32 indices, in first-appearance order.
//!
//! An [`Interner`] keeps every distinct id once, in one contiguous byte arena, with a
//! hash table of indices into it — no allocation per id, none per row. The same type
//! serves the per-range dictionaries of parallel parsing and the global maps.

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::io::{BufRead, Write};

/// A set of byte strings numbered 0, 1, 2 … in insertion order.
#[derive(Debug, Default)]
pub struct Interner {
    table: HashTable<u32>,
    arena: Vec<u8>,
    /// `ends[i]` is the end of id i in `arena`; id i starts at `ends[i-1]` (or 0).
    ends: Vec<usize>,
    hasher: FixedState,
}

impl Interner {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Empties the interner, keeping its allocations.
    pub fn clear(&mut self) {
        self.table.clear();
        self.arena.clear();
        self.ends.clear();
    }

    /// The bytes of id `index`.
    pub fn get(&self, index: u32) -> &[u8] {
        let i = index as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.arena[start..self.ends[i]]
    }

    /// The index of `key`, if present.
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        self.table.find(hash, |&i| self.get(i) == key).copied()
    }

    /// The index of `key`, inserting it at the end if new. Returns `(index, inserted)`.
    pub fn intern(&mut self, key: &[u8]) -> (u32, bool) {
        let hash = self.hasher.hash_one(key);
        let Self {
            table,
            arena,
            ends,
            hasher,
        } = self;
        let lookup = |i: &u32| {
            let i = *i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] };
            &arena[start..ends[i]] == key
        };
        if let Some(&i) = table.find(hash, lookup) {
            return (i, false);
        }
        let index = ends.len() as u32;
        arena.extend_from_slice(key);
        ends.push(arena.len());
        let (arena, ends) = (&*arena, &*ends);
        table.insert_unique(hash, index, |&i| {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] };
            hasher.hash_one(&arena[start..ends[i]])
        });
        (index, true)
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
}

/// Reads an id file (one id per line, `\r\n` tolerated) into a vector of strings.
pub fn read_lines<R: BufRead>(input: R) -> std::io::Result<Vec<String>> {
    input
        .lines()
        .map(|l| l.map(|s| s.strip_suffix('\r').map(str::to_owned).unwrap_or(s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
