//! Reading a text input one block ahead of its parser, on a thread of its own.
//!
//! Reading (a copy out of the page cache, or decompression for gzip and zstd) would
//! otherwise stop the parsing threads once per block. Once the parser has checked, on
//! the first block, that the machine has the memory for the whole ingest, it lets the
//! reader move to a thread of its own ([`Blocks::read_ahead`]), which then fills the
//! next block of whole lines while the parser works on the current one. Two buffers
//! circulate between them, so no block's pages are faulted in twice, nor zeroed twice.

use std::io::{self, Read};
use std::ops::Deref;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};

/// What the reader hands over.
pub(crate) enum Block {
    /// Whole lines, each ending in `\n` except possibly the input's last; never empty.
    Lines(Filled),
    /// A line reached the limit without ending.
    LineTooLong,
    /// Reading failed.
    Failed(io::Error),
}

/// A block's buffer: its first `len` bytes are the block's lines. The bytes past them
/// are an earlier block's, kept initialised so that refilling the buffer need not zero
/// it again (zeroing was 4% of a CSV ingest's instructions, on the reading thread).
#[derive(Default)]
pub(crate) struct Filled {
    buf: Vec<u8>,
    len: usize,
}

impl Filled {
    /// The buffer's first `end` bytes, zeroing only those no block has held yet.
    fn up_to(&mut self, end: usize) -> &mut [u8] {
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        &mut self.buf[..end]
    }

    /// Empties the block and starts it with `bytes`.
    fn restart_with(&mut self, bytes: &[u8]) {
        self.up_to(bytes.len()).copy_from_slice(bytes);
        self.len = bytes.len();
    }
}

impl Deref for Filled {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The parser's end: blocks in file order, and the way back for their buffers.
pub(crate) struct Blocks {
    mode: Mode,
}

enum Mode {
    /// Reading on the parser's thread, when it asks.
    Here { reader: Reader, spare: Filled },
    /// Reading on the reader's thread, one block ahead.
    Ahead {
        blocks: Receiver<Block>,
        spent: Sender<Filled>,
    },
    /// Between the two (only while switching).
    Switching,
}

impl Blocks {
    /// Reads `input` in blocks of about `block_size` bytes (the first ones smaller, see
    /// [`FIRST_BLOCK_FRACTION`]; more when a line is longer, up to `limit`), on the
    /// caller's thread until [`Blocks::read_ahead`].
    pub(crate) fn new(input: Box<dyn Read + Send>, block_size: usize, limit: usize) -> Self {
        let block_size = block_size.max(1);
        let reader = Reader {
            input,
            block_size,
            next_size: (block_size / FIRST_BLOCK_FRACTION).max(1),
            limit,
            tail: Vec::new(),
            stopped: false,
        };
        Blocks {
            mode: Mode::Here {
                reader,
                spare: Filled::default(),
            },
        }
    }

    /// The next block, or `None` at the input's end (after a `LineTooLong` or a
    /// `Failed`, nothing more comes).
    pub(crate) fn next(&mut self) -> Option<Block> {
        match &mut self.mode {
            Mode::Here { reader, spare } => reader.next_block(std::mem::take(spare)),
            Mode::Ahead { blocks, .. } => blocks.recv().ok(),
            Mode::Switching => None,
        }
    }

    /// Returns a parsed block's buffer for reuse.
    pub(crate) fn recycle(&mut self, buffer: Filled) {
        match &mut self.mode {
            Mode::Here { spare, .. } => *spare = buffer,
            // The reader may have finished: then the buffer is simply freed.
            Mode::Ahead { spent, .. } => drop(spent.send(buffer)),
            Mode::Switching => {}
        }
    }

    /// Moves the reading to a thread of its own, with a second buffer, so it reads
    /// the next block while the current one is parsed. The thread ends at the
    /// input's end, after handing over a `LineTooLong` or `Failed`, or once these
    /// `Blocks` are dropped (at its next hand-over).
    pub(crate) fn read_ahead(&mut self) {
        let Mode::Here { mut reader, spare } = std::mem::replace(&mut self.mode, Mode::Switching)
        else {
            return;
        };
        let (block_tx, blocks) = sync_channel(1);
        let (spent, spent_rx) = channel::<Filled>();
        let _ = spent.send(spare);
        std::thread::spawn(move || {
            // After a `LineTooLong` or `Failed` nothing more is read: the thread ends
            // rather than wait for a buffer the parser will not return.
            while !reader.stopped {
                let Ok(buffer) = spent_rx.recv() else {
                    return;
                };
                let Some(block) = reader.next_block(buffer) else {
                    return;
                };
                if block_tx.send(block).is_err() {
                    return;
                }
            }
        });
        self.mode = Mode::Ahead { blocks, spent };
    }
}

/// The first block is this fraction of the block size, and each next one twice the
/// last until they reach it. A block's rows are looked up in the file's dictionaries
/// as they stood before it, so the first block's every id goes through the parse
/// ranges' own hash tables (and the merge); small first blocks fill the dictionaries
/// on few rows, and later blocks find their ids there by value.
const FIRST_BLOCK_FRACTION: usize = 64;

/// Reads blocks of whole lines.
struct Reader {
    input: Box<dyn Read + Send>,
    block_size: usize,
    /// The size of the next block: growing from a fraction of `block_size` to it.
    next_size: usize,
    limit: usize,
    /// The partial line after the last block's final newline.
    tail: Vec<u8>,
    /// A `LineTooLong` or `Failed` was handed over: nothing more is read.
    stopped: bool,
}

impl Reader {
    /// Reads the next block of whole lines into `buf`; `None` at the end.
    fn next_block(&mut self, buf: Filled) -> Option<Block> {
        if self.stopped {
            return None;
        }
        let block = self.read_block(buf);
        self.stopped = matches!(block, Some(Block::LineTooLong | Block::Failed(_)));
        block
    }

    fn read_block(&mut self, mut block: Filled) -> Option<Block> {
        block.restart_with(&self.tail);
        self.tail.clear();
        let mut want = self.next_size;
        self.next_size = (self.next_size * 2).min(self.block_size);
        loop {
            // A buffer already holding a block without a line end (one very long
            // line) doubles rather than grows by a byte: reading and rescanning a
            // byte at a time is quadratic.
            if block.len >= want {
                if block.len >= self.limit {
                    return Some(Block::LineTooLong);
                }
                want = block.len * 2;
            }
            let eof = match fill(&mut self.input, &mut block, want) {
                Ok(eof) => eof,
                Err(e) => return Some(Block::Failed(e)),
            };
            if eof {
                return (block.len > 0).then_some(Block::Lines(block));
            }
            if let Some(p) = memchr::memrchr(b'\n', &block) {
                self.tail.extend_from_slice(&block[p + 1..]);
                block.len = p + 1;
                return Some(Block::Lines(block));
            }
        }
    }
}

/// Reads until `block` holds `want` bytes or the input ends; returns true at the end.
fn fill(input: &mut impl Read, block: &mut Filled, want: usize) -> io::Result<bool> {
    while block.len < want {
        let len = block.len;
        match input.read(&mut block.up_to(want)[len..]) {
            Ok(0) => return Ok(true),
            Ok(n) => block.len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every block the reader hands over, concatenated, with the blocks' sizes.
    fn read_all(text: &[u8], block_size: usize, limit: usize) -> (Vec<u8>, Vec<usize>, bool) {
        let mut blocks = Blocks::new(Box::new(io::Cursor::new(text.to_vec())), block_size, limit);
        let (mut all, mut sizes, mut too_long) = (Vec::new(), Vec::new(), false);
        while let Some(block) = blocks.next() {
            if sizes.len() == 2 {
                blocks.read_ahead(); // both modes, and the switch between them
            }
            match block {
                Block::Lines(buf) => {
                    all.extend_from_slice(&buf);
                    sizes.push(buf.len());
                    blocks.recycle(buf);
                }
                Block::LineTooLong => too_long = true,
                Block::Failed(e) => panic!("{e}"),
            }
        }
        (all, sizes, too_long)
    }

    #[test]
    fn blocks_are_whole_lines_in_order() {
        let text: Vec<u8> = (0..5000)
            .flat_map(|i| format!("{i},{}\n", i * 7).into_bytes())
            .chain(*b"last,1") // no final newline
            .collect();
        for block_size in [1, 7, 64, 1000, 1 << 20] {
            let (all, sizes, too_long) = read_all(&text, block_size, 1 << 30);
            assert_eq!(all, text, "block size {block_size}");
            assert!(!too_long);
            let mut at = 0;
            for (k, &n) in sizes.iter().enumerate() {
                at += n;
                if k + 1 < sizes.len() {
                    assert_eq!(text[at - 1], b'\n', "block {k} of {block_size} cut a line");
                }
                assert!(n > 0);
            }
        }
        assert_eq!(read_all(b"", 64, 1 << 30).1, Vec::<usize>::new());
    }

    /// The first block is a fraction of the block size and each next one twice the
    /// last, up to the block size (each cut at its last line end).
    #[test]
    fn the_first_blocks_grow_to_the_block_size() {
        let text: Vec<u8> = std::iter::repeat_n(*b"1234567\n", 100_000)
            .flatten()
            .collect();
        let block_size = 64 << 10;
        let (all, sizes, _) = read_all(&text, block_size, 1 << 30);
        assert_eq!(all, text);
        assert!(sizes[0] * 8 <= block_size, "the first block is small");
        let mut want = block_size / FIRST_BLOCK_FRACTION;
        for (k, &n) in sizes.iter().enumerate().take(sizes.len() - 1) {
            // whole 8-byte lines: the wanted size rounded down to a line
            assert_eq!(n, want / 8 * 8, "block {k}");
            want = (want * 2).min(block_size);
        }
        assert_eq!(sizes[sizes.len() - 2], block_size);
    }

    #[test]
    fn a_line_past_the_limit_is_reported_once() {
        let mut text = b"a,b\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 5000));
        text.push(b'\n');
        let (all, _, too_long) = read_all(&text, 16, 1024);
        assert!(too_long);
        assert_eq!(all, b"a,b\n"); // what came before is handed over first
        let (all, _, too_long) = read_all(&text, 16, 1 << 20);
        assert!(!too_long);
        assert_eq!(all, text);
    }

    #[test]
    fn a_read_error_is_handed_over() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let mut blocks = Blocks::new(Box::new(Broken), 64, 1 << 20);
        blocks.read_ahead();
        assert!(matches!(blocks.next(), Some(Block::Failed(e)) if e.to_string() == "disk on fire"));
        assert!(blocks.next().is_none());
    }
}
