//! Large files read past the page cache — dataset parts, as `verify` reads them back.
//!
//! Why: a part is written past the page cache ([`crate::output`]), so whoever reads it
//! next reads it cold, and through the page cache (a `read`, or faulting a map) every
//! 4 KiB then needs a fresh page-cache page — on the microVMs this project is measured
//! on, the costliest part of the read: the 822 MB of a 17M-interaction sample took
//! 1.20 s to `cat` straight after `sample` wrote it (1.03 s of it in the kernel) and
//! 0.51 s to read with `O_DIRECT` into one reused buffer (`docs/benchmarks.md`).
//!
//! [`InputFile`] reads a byte range as the whole aligned blocks that cover it into an
//! [`AlignedBuffer`] the caller keeps from read to read, and hands back the range. Where
//! the filesystem refuses direct I/O (tmpfs, some network filesystems) the same reads
//! go through the page cache.

use crate::direct::{is_invalid, open_direct, set_direct, AlignedBuffer, BLOCK};
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A file opened to be read in large ranges past the page cache (see the module docs).
#[derive(Debug)]
pub struct InputFile {
    file: File,
    len: u64,
    direct: bool,
}

impl InputFile {
    pub fn open(path: &Path) -> io::Result<Self> {
        let (file, direct) = match open_direct(File::options().read(true), path) {
            Ok(file) => (file, true),
            Err(e) if is_invalid(&e) => (File::open(path)?, false),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        Ok(InputFile { file, len, direct })
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether reads go past the page cache.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// Reads bytes `range` of the file into `buffer` and says where in
    /// [`AlignedBuffer::bytes`] they are; an error if the file ends first.
    pub fn read(
        &mut self,
        range: Range<u64>,
        buffer: &mut AlignedBuffer,
    ) -> io::Result<Range<usize>> {
        if range.start > range.end || range.end > self.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("bytes {range:?} past the file's end ({} bytes)", self.len),
            ));
        }
        let block = BLOCK as u64;
        let first = range.start / block * block;
        let end = range.end.div_ceil(block) * block;
        buffer.resize((end - first) as usize);
        let got = match self.read_blocks(first, buffer.bytes_mut()) {
            Err(e) if self.direct && is_invalid(&e) => {
                // The device wants a larger alignment than a block: stop asking for it.
                set_direct(&self.file, false)?;
                self.direct = false;
                self.read_blocks(first, buffer.bytes_mut())?
            }
            got => got?,
        };
        let skip = (range.start - first) as usize;
        let want = (range.end - range.start) as usize;
        if got < skip + want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was read",
            ));
        }
        Ok(skip..skip + want)
    }

    /// Fills `into` from `offset` until it is full or the file ends; returns the bytes
    /// read (a direct read may return fewer than asked before the end).
    fn read_blocks(&self, offset: u64, into: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < into.len() {
            match self
                .file
                .read_at(&mut into[filled..], offset + filled as u64)
            {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn any_range_reads_back_exactly_the_bytes_written_whatever_the_buffer_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let bytes = pattern(5 * BLOCK + 123);
        std::fs::write(&path, &bytes).unwrap();
        let mut file = InputFile::open(&path).unwrap();
        assert_eq!(file.len(), bytes.len() as u64);
        let mut buffer = AlignedBuffer::with_len(3 * BLOCK);
        let n = bytes.len() as u64;
        let b = BLOCK as u64;
        for range in [
            0..0,
            0..1,
            1..b,
            b - 1..b + 1,
            3..n,
            2 * b..n,
            n - 1..n,
            n..n,
            0..n,
        ] {
            let span = file.read(range.clone(), &mut buffer).unwrap();
            assert_eq!(
                &buffer.bytes()[span],
                &bytes[range.start as usize..range.end as usize],
                "{range:?}"
            );
        }
    }

    #[test]
    fn a_range_past_the_end_is_an_error_never_a_short_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, pattern(BLOCK + 5)).unwrap();
        let mut file = InputFile::open(&path).unwrap();
        let mut buffer = AlignedBuffer::default();
        let n = (BLOCK + 5) as u64;
        for range in [n - 1..n + 1, n + 1..n + 2, 0..10 * n] {
            let e = file.read(range, &mut buffer).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        }
    }

    #[test]
    fn direct_io_is_used_where_the_filesystem_allows_it() {
        // The machines this project runs on (and CI) keep temporary files on ext4,
        // which takes O_DIRECT; elsewhere the file is read through the page cache.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, pattern(10)).unwrap();
        let file = InputFile::open(&path).unwrap();
        let fs = rustix::fs::statfs(dir.path()).unwrap();
        if fs.f_type == 0xEF53 {
            assert!(file.is_direct());
        }
    }
}
