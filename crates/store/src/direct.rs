//! What reading and writing past the page cache (`O_DIRECT`) share: the alignment it
//! asks for, a buffer that meets it, and switching it off where a device wants more.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// What direct I/O asks of offsets, lengths and memory (4 KiB covers the 512-byte
/// and 4 KiB logical blocks of the devices in use).
pub const BLOCK: usize = 4096;

/// Bytes at a [`BLOCK`]-aligned address, kept to be refilled: growing is the only time
/// it allocates (and its pages are faulted in).
#[derive(Default)]
pub struct AlignedBuffer {
    /// Over-allocated by one block so that an aligned window of `len` bytes fits.
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl std::fmt::Debug for AlignedBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBuffer")
            .field("len", &self.len)
            .finish()
    }
}

impl AlignedBuffer {
    /// A buffer of `len` bytes.
    pub fn with_len(len: usize) -> Self {
        let mut buffer = AlignedBuffer::default();
        buffer.resize(len);
        buffer
    }

    /// Makes the buffer `len` bytes long, keeping its storage if it is large enough.
    pub fn resize(&mut self, len: usize) {
        if self.storage.len() < len + BLOCK {
            self.storage = vec![0u8; len + BLOCK];
            self.start = self.storage.as_ptr().align_offset(BLOCK);
        }
        self.len = len;
    }

    pub fn bytes(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }

    /// The storage, and where the buffer's bytes are in it: to hand them on without
    /// a copy.
    pub fn into_storage(self) -> (Vec<u8>, std::ops::Range<usize>) {
        (self.storage, self.start..self.start + self.len)
    }
}

pub(crate) fn is_invalid(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error())
}

#[cfg(target_os = "linux")]
pub(crate) fn set_direct(file: &File, on: bool) -> io::Result<()> {
    use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
    let mut flags = fcntl_getfl(file)?;
    flags.set(OFlags::DIRECT, on);
    fcntl_setfl(file, flags)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn set_direct(_: &File, _: bool) -> io::Result<()> {
    Ok(())
}

/// Opens `path` as `options` say, with `O_DIRECT`: `EINVAL` where the filesystem or
/// the platform does not do direct I/O.
#[cfg(target_os = "linux")]
pub(crate) fn open_direct(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    options
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(path)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn open_direct(_: &mut OpenOptions, _: &Path) -> io::Result<File> {
    Err(io::Error::from_raw_os_error(
        rustix::io::Errno::INVAL.raw_os_error(),
    ))
}
