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
//! [`AlignedBuffer`] the caller keeps from read to read, and says where in it the range
//! is. Where the filesystem refuses direct I/O (tmpfs, some network filesystems), and
//! for a file mostly in the page cache already, the same reads go through the cache.

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
    /// Opens `path` to be read past the page cache — unless most of it is cached
    /// already (written through the cache, or read just before): then a direct read
    /// would first write the dirty pages back and read from the device what the cache
    /// holds (`verify` of a dataset written with `--write-mode buffered` took 1.2 s
    /// where reading it from the cache took 0.66 s).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if crate::mapping::cached_fraction(&file, len)? >= 0.5 {
            return Ok(InputFile {
                file,
                len,
                direct: false,
            });
        }
        let (file, direct) = match open_direct(File::options().read(true), path) {
            Ok(file) => (file, true),
            Err(e) if is_invalid(&e) => (file, false),
            Err(e) => return Err(e),
        };
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
    use crate::output::{OutputFile, WriteMode};
    use std::io::Write;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// `bytes` written to `path` through the page cache, and to `path.direct` past it
    /// (but for a last partial block): the two ways a part is written.
    fn written_both_ways(path: &Path, bytes: &[u8]) -> [std::path::PathBuf; 2] {
        std::fs::write(path, bytes).unwrap();
        let direct = path.with_extension("direct");
        let mut out = OutputFile::create(&direct, WriteMode::Direct).unwrap();
        out.write_all(bytes).unwrap();
        drop(out.into_file().unwrap());
        [path.to_owned(), direct]
    }

    fn on_ext4(dir: &Path) -> bool {
        cfg!(target_os = "linux") && rustix::fs::statfs(dir).unwrap().f_type == 0xEF53
    }

    #[test]
    fn any_range_reads_back_exactly_the_bytes_written_whatever_the_buffer_held() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = pattern(5 * BLOCK + 123);
        for path in written_both_ways(&dir.path().join("f"), &bytes) {
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
                let want = &bytes[range.start as usize..range.end as usize];
                assert_eq!(&buffer.bytes()[span], want, "{path:?} {range:?}");
            }
            // No read fell back to the page cache for want of alignment.
            if path.extension().is_some() && on_ext4(dir.path()) {
                assert!(file.is_direct(), "{path:?}");
            }
        }
    }

    #[test]
    fn a_range_past_the_end_is_an_error_never_a_short_answer() {
        let dir = tempfile::tempdir().unwrap();
        for path in written_both_ways(&dir.path().join("f"), &pattern(BLOCK + 5)) {
            let mut file = InputFile::open(&path).unwrap();
            let mut buffer = AlignedBuffer::default();
            let n = (BLOCK + 5) as u64;
            for range in [n - 1..n + 1, n + 1..n + 2, 0..10 * n] {
                let e = file.read(range, &mut buffer).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
            }
        }
    }

    #[test]
    fn a_file_in_the_page_cache_is_read_from_it_another_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let [cached, written] = written_both_ways(&dir.path().join("f"), &pattern(8 * BLOCK));
        assert!(!InputFile::open(&cached).unwrap().is_direct());
        // Whole blocks written past the cache leave none of the file in it: read past
        // it too where the filesystem allows direct I/O (ext4: this project's machines
        // and CI).
        if on_ext4(dir.path()) {
            assert!(InputFile::open(&written).unwrap().is_direct());
        }
    }
}
