//! Large new files — stores, dataset parts — written past the page cache.
//!
//! Why: a buffered write of *new* data makes the kernel find a fresh page-cache page for
//! every 4 KiB, and on the microVMs this project is measured on that costs more than
//! everything else an ingest or a sample does: 350 MB written by `dd` to a new file took
//! 4.2–5.1 s (70–80 MB/s), the same bytes with `O_DIRECT` 0.21–0.24 s, and reading them
//! back cold 0.24 s (`docs/benchmarks.md`). On any machine a multi-GB output written
//! through the page cache also meets dirty-page throttling and evicts the pages the next
//! run reads (the store). negsamp's outputs are read later, by another process, so
//! caching them as they are written buys little.
//!
//! [`OutputFile`] gathers bytes in an aligned buffer and writes whole aligned blocks
//! with `O_DIRECT`; the last partial block goes through the page cache once direct I/O
//! is switched off, so the file ends at its exact length without padding. Where the
//! filesystem refuses direct I/O (tmpfs, some network filesystems), or with
//! [`WriteMode::Buffered`], the same bytes are written through the page cache.

use crate::direct::{is_invalid, open_direct, set_direct, AlignedBuffer, BLOCK};
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

/// How large output files are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    /// Whole blocks past the page cache (`O_DIRECT`) where the filesystem allows it.
    #[default]
    Direct,
    /// Through the page cache, as an ordinary write.
    Buffered,
}

impl WriteMode {
    pub fn name(self) -> &'static str {
        match self {
            WriteMode::Direct => "direct",
            WriteMode::Buffered => "buffered",
        }
    }
}

/// Bytes gathered before a write: large enough that a direct write streams at the
/// device's speed (4 MiB measured within 3% of 8 MiB here).
const BUFFER: usize = 4 << 20;

/// A new file written in whole aligned blocks (see the module docs).
///
/// A direct write waits for the device, so full buffers go to a writer thread of the
/// file's own while the caller fills the next one: two buffers per file, the caller
/// waiting only when the device is the slower of the two.
pub struct OutputFile {
    block: AlignedBuffer,
    /// Bytes of `block` not yet handed on.
    filled: usize,
    sink: Sink,
}

enum Sink {
    Buffered(File),
    Direct(DirectWriter),
}

/// The thread writing full blocks of one file, and the buffers coming back from it.
struct DirectWriter {
    /// Blocks to write, each with its length (a whole number of `BLOCK`s).
    /// Dropped to tell the thread that no more blocks come.
    queue: Option<std::sync::mpsc::SyncSender<(AlignedBuffer, usize)>>,
    /// Written blocks, back for reuse.
    spare: std::sync::mpsc::Receiver<AlignedBuffer>,
    /// Whether the second buffer exists yet.
    second: bool,
    /// Taken when joined.
    thread: Option<std::thread::JoinHandle<io::Result<File>>>,
}

impl DirectWriter {
    fn start(mut file: File) -> Self {
        let (queue, blocks) = std::sync::mpsc::sync_channel::<(AlignedBuffer, usize)>(1);
        let (give_back, spare) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut direct = true;
            let mut written = 0u64;
            for (block, len) in blocks {
                let bytes = &block.bytes()[..len];
                if let Err(e) = file.write_all(bytes) {
                    if !(direct && is_invalid(&e)) {
                        return Err(e);
                    }
                    // The device wants a larger alignment than a block: stop asking
                    // for it, and write the block again from its start.
                    set_direct(&file, false)?;
                    direct = false;
                    file.seek(SeekFrom::Start(written))?;
                    file.write_all(bytes)?;
                }
                written += len as u64;
                // The caller may have finished and gone: then nobody needs it back.
                let _ = give_back.send(block);
            }
            Ok(file)
        });
        DirectWriter {
            queue: Some(queue),
            spare,
            second: false,
            thread: Some(thread),
        }
    }

    /// Hands `len` bytes of `block` to the thread; returns an empty buffer.
    fn send(&mut self, block: AlignedBuffer, len: usize) -> io::Result<AlignedBuffer> {
        let next = if self.second {
            self.spare.recv().ok()
        } else {
            self.second = true;
            Some(AlignedBuffer::with_len(BUFFER))
        };
        let queued = self.queue.as_ref().map(|q| q.send((block, len)));
        match (next, queued) {
            (Some(next), Some(Ok(()))) => Ok(next),
            // Either fails only once the thread has stopped on an error.
            _ => Err(self
                .join()
                .err()
                .unwrap_or_else(|| io::Error::other("the writer thread stopped without an error"))),
        }
    }

    /// Waits for every block to be written; returns the file.
    fn finish(mut self) -> io::Result<File> {
        self.queue.take();
        self.join()
    }

    /// The thread's result (an error once it has been taken).
    fn join(&mut self) -> io::Result<File> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => Err(io::Error::other("the file's writer failed earlier")),
        }
    }
}

impl std::fmt::Debug for OutputFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputFile")
            .field("filled", &self.filled)
            .field("direct", &self.is_direct())
            .finish()
    }
}

impl OutputFile {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path, mode: WriteMode) -> io::Result<Self> {
        let sink = match mode {
            WriteMode::Direct => match open_direct(
                File::options().write(true).create(true).truncate(true),
                path,
            ) {
                Ok(file) => Sink::Direct(DirectWriter::start(file)),
                // The filesystem does not do direct I/O: the page cache it is.
                Err(e) if is_invalid(&e) => Sink::Buffered(File::create(path)?),
                Err(e) => return Err(e),
            },
            WriteMode::Buffered => Sink::Buffered(File::create(path)?),
        };
        Ok(OutputFile {
            block: AlignedBuffer::with_len(BUFFER),
            filled: 0,
            sink,
        })
    }

    /// Whether blocks are going past the page cache.
    pub fn is_direct(&self) -> bool {
        matches!(self.sink, Sink::Direct(_))
    }

    /// Writes everything and hands back the file, positioned at its end, with direct
    /// I/O switched off (so the caller may rewrite a header in place).
    pub fn into_file(self) -> io::Result<File> {
        match self.sink {
            Sink::Buffered(mut file) => {
                file.write_all(&self.block.bytes()[..self.filled])?;
                Ok(file)
            }
            Sink::Direct(mut writer) => {
                // Whole blocks go direct; the rest is written once the thread is done.
                let whole = self.filled / BLOCK * BLOCK;
                let tail = self.block.bytes()[whole..self.filled].to_vec();
                if whole > 0 {
                    // On an error the thread has been joined and the error is its own.
                    writer.send(self.block, whole)?;
                }
                let mut file = writer.finish()?;
                set_direct(&file, false)?;
                file.write_all(&tail)?;
                Ok(file)
            }
        }
    }

    /// Passes the full buffer on.
    fn hand_on(&mut self) -> io::Result<()> {
        let len = std::mem::take(&mut self.filled);
        match &mut self.sink {
            Sink::Buffered(file) => file.write_all(&self.block.bytes()[..len]),
            Sink::Direct(writer) => {
                let full = std::mem::take(&mut self.block);
                match writer.send(full, len) {
                    Ok(next) => self.block = next,
                    Err(e) => {
                        // Nothing more reaches the file, but it stays usable.
                        self.block = AlignedBuffer::with_len(BUFFER);
                        return Err(e);
                    }
                }
                Ok(())
            }
        }
    }
}

impl Write for OutputFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = bytes.len().min(BUFFER - self.filled);
        let at = self.filled;
        self.block.bytes_mut()[at..at + n].copy_from_slice(&bytes[..n]);
        self.filled += n;
        if self.filled == BUFFER {
            self.hand_on()?;
        }
        Ok(n)
    }

    /// Nothing: what is gathered is written when the buffer fills and by
    /// [`OutputFile::into_file`] (a direct write cannot end mid-block, and no one reads
    /// a file while it is being written).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom};

    /// Bytes that differ at every position, so a misplaced block shows.
    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 + i / 4096) as u8).collect()
    }

    fn written(mode: WriteMode, pieces: &[usize]) -> (Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let total: usize = pieces.iter().sum();
        let expected = pattern(total);
        let mut out = OutputFile::create(&path, mode).unwrap();
        let mut at = 0;
        for &n in pieces {
            out.write_all(&expected[at..at + n]).unwrap();
            out.flush().unwrap();
            at += n;
        }
        drop(out.into_file().unwrap());
        (std::fs::read(&path).unwrap(), expected)
    }

    #[test]
    fn every_mode_writes_exactly_the_bytes_given_whatever_the_pieces() {
        let shapes: [&[usize]; 6] = [
            &[],
            &[1],
            &[BLOCK],
            &[BLOCK - 1, 2, BLOCK + 5],
            &[BUFFER, 1],
            &[3, BUFFER + BLOCK * 3 + 17, BUFFER - 3, 100],
        ];
        for mode in [WriteMode::Direct, WriteMode::Buffered] {
            for pieces in shapes {
                let (got, expected) = written(mode, pieces);
                assert_eq!(got.len(), expected.len(), "{mode:?} {pieces:?}");
                assert!(got == expected, "{mode:?} {pieces:?}: bytes differ");
            }
        }
    }

    #[test]
    fn the_file_handed_back_rewrites_a_header_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let body = pattern(BUFFER + 3 * BLOCK + 7);
        let mut out = OutputFile::create(&path, WriteMode::Direct).unwrap();
        out.write_all(&[0u8; 16]).unwrap();
        out.write_all(&body).unwrap();
        let mut file = out.into_file().unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.write_all(b"header: 16 bytes").unwrap();
        drop(file);
        let mut got = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut got).unwrap();
        assert_eq!(&got[..16], b"header: 16 bytes");
        assert!(got[16..] == body[..]);
    }

    #[test]
    fn direct_io_is_used_where_the_filesystem_allows_it_and_never_when_buffered() {
        let dir = tempfile::tempdir().unwrap();
        let buffered = OutputFile::create(&dir.path().join("b"), WriteMode::Buffered).unwrap();
        assert!(!buffered.is_direct());
        let direct = OutputFile::create(&dir.path().join("d"), WriteMode::Direct).unwrap();
        // ext4 (this project's machines and CI) takes O_DIRECT; elsewhere the file is
        // written through the page cache, and must still open.
        #[cfg(target_os = "linux")]
        if rustix::fs::statfs(dir.path()).unwrap().f_type == 0xEF53 {
            assert!(direct.is_direct());
        }
        drop(direct.into_file().unwrap());
    }

    #[test]
    fn a_full_device_is_an_error_never_a_panic() {
        let full = Path::new("/dev/full");
        if !full.exists() {
            return;
        }
        for mode in [WriteMode::Direct, WriteMode::Buffered] {
            let mut out = OutputFile::create(full, mode).unwrap();
            let chunk = pattern(BUFFER / 2 + 1);
            let failed = (0..4).map(|_| out.write_all(&chunk)).find(Result::is_err);
            let error = match failed {
                Some(e) => e.unwrap_err(),
                None => out.into_file().unwrap_err(),
            };
            assert_eq!(error.raw_os_error(), Some(28), "{mode:?}: {error}"); // ENOSPC
        }
    }
}
