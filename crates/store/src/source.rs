//! Opening an ingest input: a file or standard input (`-`), recognised by its first
//! bytes rather than its name — gzip and zstd are decompressed on the fly, delimited
//! text is read as it is, and a binary file never reaches the text parser: it gets an
//! error naming what it looks like.

use crate::IngestError;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How many leading bytes decide what an input is.
const SNIFF: usize = 8;

/// What the first bytes of an input say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Delimited text, read as it is.
    Text,
    Gzip,
    Zstd,
}

/// A file format ingest does not read (yet), recognised so it is named, not parsed.
fn foreign(magic: &[u8]) -> Option<&'static str> {
    const KNOWN: [(&[u8], &str); 6] = [
        (
            b"PAR1",
            "a Parquet file, which ingest reads from a path, not standard input",
        ),
        (
            b"PK\x03\x04",
            "a zip archive (a SciPy .npz?), which ingest reads from a path, not standard input",
        ),
        (b"\x93NUMPY", "a NumPy .npy array"),
        (
            b"NEGSAMP\0",
            "a negsamp store file (pass its directory to `sample`, not to `ingest`)",
        ),
        (b"BZh", "a bzip2 stream"),
        (b"\xFD7zXZ\0", "an xz stream"),
    ];
    KNOWN
        .iter()
        .find(|(m, _)| magic.starts_with(m))
        .map(|&(_, what)| what)
}

/// The container of an input starting with `magic`.
pub fn sniff(magic: &[u8]) -> Result<Container, &'static str> {
    if let Some(what) = foreign(magic) {
        return Err(what);
    }
    Ok(match magic {
        [0x1f, 0x8b, ..] => Container::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Container::Zstd,
        _ => Container::Text,
    })
}

/// Counts the bytes read from the raw input (compressed bytes for gzip and zstd), for
/// an honest progress display.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An opened input: its text, decompressed, and how many raw bytes have been read.
pub struct Input {
    pub text: Box<dyn Read + Send>,
    pub container: Container,
    /// Raw bytes read so far (what a progress bar over the file's size should show).
    pub raw_read: Arc<AtomicU64>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("container", &self.container)
            .finish_non_exhaustive()
    }
}

/// Whether `path` names standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Opens `path` (or standard input for `-`) and recognises its container.
pub fn open(path: &Path) -> Result<Input, IngestError> {
    let io_error = |e| IngestError::Io {
        path: path.into(),
        error: e,
    };
    let raw: Box<dyn Read + Send> = if is_stdin(path) {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(io_error)?)
    };
    let raw_read = Arc::new(AtomicU64::new(0));
    let mut raw = Counting {
        inner: raw,
        read: raw_read.clone(),
    };
    let mut magic = Vec::with_capacity(SNIFF);
    (&mut raw)
        .take(SNIFF as u64)
        .read_to_end(&mut magic)
        .map_err(io_error)?;
    let container = sniff(&magic).map_err(|what| IngestError::UnsupportedInput {
        path: path.into(),
        what,
    })?;
    // The sniffed bytes go back in front of the rest.
    let whole = io::Cursor::new(magic).chain(raw);
    let text: Box<dyn Read + Send> = match container {
        Container::Text => Box::new(whole),
        Container::Gzip => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        Container::Zstd => Box::new(zstd::stream::read::Decoder::new(whole).map_err(io_error)?),
    };
    Ok(Input {
        text,
        container,
        raw_read,
    })
}

/// Parses a `--delimiter` value: one byte, or `\t` / `tab`.
pub fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        s if s.len() == 1 && s.as_bytes()[0].is_ascii() && !matches!(s, "\"" | "\n" | "\r") => {
            Ok(s.as_bytes()[0])
        }
        _ => Err(format!(
            "--delimiter takes one ASCII character (or \\t), not {text:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_containers_and_names_foreign_files() {
        assert_eq!(sniff(b"user,item\n"), Ok(Container::Text));
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Ok(Container::Gzip));
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Ok(Container::Zstd));
        assert!(sniff(b"PAR1\x15\x04").unwrap_err().contains("Parquet"));
        assert!(sniff(b"PK\x03\x04").unwrap_err().contains(".npz"));
        assert_eq!(sniff(b""), Ok(Container::Text));
    }

    #[test]
    fn delimiters() {
        assert_eq!(parse_delimiter("\\t"), Ok(b'\t'));
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert!(parse_delimiter("ab").is_err());
        assert!(parse_delimiter("\"").is_err());
    }
}
