//! The interner's hash tables. A range's own dictionary, which grows more than it is
//! looked up, keeps `hashbrown`'s: a new id's probe reads only its control bytes (one
//! per slot, mostly cached). A file's global dictionary, looked up for every row and
//! grown rarely, takes one whose first load is one known address a caller can request
//! rows before it probes ([`Hashes::prefetch`]): open addressing with linear probing,
//! 12-byte slots, the id's head beside its index. (`hashbrown` reads its control bytes
//! and then its entry: two dependent cache misses a lookup, neither reachable in
//! advance; looked up one at a time they were a third of a shuffled string-id CSV's
//! ingest. With our table for every dictionary, the ranges' new ids missed the cache on
//! its slots instead: integer-id ingests 8% slower.) Ours is kept at most half full,
//! twice `hashbrown`'s slots for some counts; the tables are freed before the CSR build,
//! the ingest's peak, so the peak does not grow.

use hashbrown::HashTable;

/// An id's entry: its index and its [`super::head`], which answers a probe without
/// reading the arena for ids of up to seven bytes and rules out most others. (Probes
/// that read the id's end and bytes from the arena missed the cache twice after the
/// table's own miss: for a Parquet file of 20M rows with string ids, the comparison was
/// a quarter of the ingest's CPU.)
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub(super) head: [u8; 8],
    pub(super) index: u32,
}

/// The index of an empty slot of ours: no id has it (indices stay below `u32::MAX`).
const EMPTY: u32 = u32::MAX;

const EMPTY_ENTRY: Entry = Entry {
    head: [0; 8],
    index: EMPTY,
};

/// An interner's hash table, of one kind or the other (see the module's docs).
#[derive(Debug)]
pub(super) enum Hashes {
    Compact(HashTable<Entry>),
    Prefetchable(Table),
}

impl Default for Hashes {
    fn default() -> Self {
        Hashes::Compact(HashTable::new())
    }
}

impl Hashes {
    /// Empties the table, keeping its allocation.
    pub(super) fn clear(&mut self) {
        match self {
            Hashes::Compact(table) => table.clear(),
            Hashes::Prefetchable(table) => table.clear(),
        }
    }

    /// Starts loading the cache line where a probe for `hash` begins (ours only).
    #[inline]
    pub(super) fn prefetch(&self, hash: u64) {
        if let Hashes::Prefetchable(table) = self {
            table.prefetch(hash);
        }
    }

    /// The index in the entry of `hash` that `holds` accepts, if any.
    #[inline]
    pub(super) fn find(&self, hash: u64, holds: impl Fn(&Entry) -> bool) -> Option<u32> {
        match self {
            Hashes::Compact(table) => table.find(hash, |entry| holds(entry)).map(|e| e.index),
            Hashes::Prefetchable(table) => table.find(hash, holds),
        }
    }

    /// Adds an id the table does not hold; `hash_of(index)` is the hash of id `index`
    /// (to place the ids again when the table grows).
    pub(super) fn insert(&mut self, hash: u64, entry: Entry, hash_of: impl Fn(u32) -> u64) {
        match self {
            Hashes::Compact(table) => {
                table.insert_unique(hash, entry, |e| hash_of(e.index));
            }
            Hashes::Prefetchable(table) => table.insert(hash, entry, hash_of),
        }
    }
}

/// Our table: open addressing with linear probing.
#[derive(Debug, Default)]
pub(super) struct Table {
    /// A power of two in length (or empty); a slot's home is its hash's low bits.
    slots: Vec<Entry>,
    len: usize,
}

impl Table {
    fn clear(&mut self) {
        self.slots.fill(EMPTY_ENTRY);
        self.len = 0;
    }

    fn home(&self, hash: u64) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    #[inline]
    fn prefetch(&self, hash: u64) {
        if !self.slots.is_empty() {
            super::prefetch(&self.slots[self.home(hash)].index);
        }
    }

    #[inline]
    fn find(&self, hash: u64, holds: impl Fn(&Entry) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        loop {
            let slot = &self.slots[at];
            if slot.index == EMPTY {
                return None;
            }
            if holds(slot) {
                return Some(slot.index);
            }
            at = (at + 1) & mask;
        }
    }

    fn insert(&mut self, hash: u64, slot: Entry, hash_of: impl Fn(u32) -> u64) {
        // Ours doubles before more than half its slots are taken: linear probing's
        // probes for an absent id grow fast past that.
        if 2 * (self.len + 1) > self.slots.len() {
            let capacity = (2 * self.slots.len()).max(16);
            let old = std::mem::replace(&mut self.slots, vec![EMPTY_ENTRY; capacity]);
            for slot in old.into_iter().filter(|s| s.index != EMPTY) {
                self.place(slot, hash_of(slot.index));
            }
        }
        self.place(slot, hash);
        self.len += 1;
    }

    /// Puts `slot` in the first empty slot from `hash`'s home.
    fn place(&mut self, slot: Entry, hash: u64) {
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        while self.slots[at].index != EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }
}
