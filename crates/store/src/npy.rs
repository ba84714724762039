//! NumPy `.npy` version 1.0 files: 1-D or 2-D, little-endian, C order.
//!
//! Every header negsamp writes is padded to [`HEADER_LEN`] bytes, so a column file can
//! be created before its length is known and the header rewritten in place at the end.
//! The reader accepts any v1.0 header of the same shape rules.

use bytemuck::Pod;
use std::io;

/// Bytes of every header negsamp writes (magic, version, length, padded dict).
pub const HEADER_LEN: usize = 128;
const MAGIC: &[u8] = b"\x93NUMPY";

/// An element type with its NumPy type string.
pub trait Dtype: Pod {
    const DESCR: &'static str;
}
macro_rules! dtypes {
    ($($t:ty => $descr:literal),* $(,)?) => {
        $(impl Dtype for $t {
            const DESCR: &'static str = $descr;
        })*
    };
}
dtypes!(u8 => "|u1", u32 => "<u4", u64 => "<u8", i32 => "<i4", i64 => "<i8", f32 => "<f4", f64 => "<f8");

/// The header of a 1-D array of `len` elements of type `descr`.
pub fn header(descr: &str, len: u64) -> [u8; HEADER_LEN] {
    matrix_header(descr, len, None)
}

/// The header of `rows` elements (`width` None) or of a `rows × width` matrix.
pub fn matrix_header(descr: &str, rows: u64, width: Option<u64>) -> [u8; HEADER_LEN] {
    let shape = match width {
        None => format!("({rows},)"),
        Some(w) => format!("({rows}, {w})"),
    };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let mut out = [b' '; HEADER_LEN];
    out[..6].copy_from_slice(MAGIC);
    out[6] = 1;
    out[7] = 0;
    out[8..10].copy_from_slice(&((HEADER_LEN - 10) as u16).to_le_bytes());
    out[10..10 + dict.len()].copy_from_slice(dict.as_bytes());
    out[HEADER_LEN - 1] = b'\n';
    out
}

/// What a header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayInfo {
    pub descr: String,
    /// Rows: the first dimension.
    pub len: u64,
    /// The second dimension of a 2-D array.
    pub width: Option<u64>,
    /// Where the data starts.
    pub data_offset: usize,
}

/// The most bytes a v1.0 header takes: its length is a 2-byte field after 10 bytes.
pub const MAX_HEADER_BYTES: u64 = 10 + u16::MAX as u64;

/// Parses a v1.0 header of a 1-D or 2-D C-order array. A key given twice is an error
/// (readers disagree on which one counts).
pub fn parse_header(bytes: &[u8]) -> io::Result<ArrayInfo> {
    let bad = |m: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a .npy v1.0 file of at most 2 dimensions: {m}"),
        )
    };
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("no magic"));
    }
    if bytes[6] != 1 {
        return Err(bad("version is not 1.0"));
    }
    let dict_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let dict = bytes
        .get(10..10 + dict_len)
        .ok_or_else(|| bad("truncated header"))?;
    let dict = std::str::from_utf8(dict).map_err(|_| bad("header is not text"))?;
    for key in ["descr", "fortran_order", "shape"] {
        if dict.matches(&format!("'{key}':")).count() > 1 {
            return Err(bad(&format!("key {key:?} appears twice")));
        }
    }
    let value = |key: &str| -> Option<&str> {
        let at = dict.find(&format!("'{key}':"))? + key.len() + 3;
        Some(dict[at..].trim_start())
    };
    let descr = value("descr")
        .and_then(|v| v.strip_prefix('\'')?.split('\'').next())
        .ok_or_else(|| bad("no descr"))?;
    if !value("fortran_order").is_some_and(|v| v.starts_with("False")) {
        return Err(bad("fortran order"));
    }
    let shape = value("shape")
        .and_then(|v| v.strip_prefix('(')?.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let dims: Vec<&str> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let number = |d: &str| d.parse::<u64>().map_err(|_| bad("shape is not a number"));
    let (len, width) = match dims[..] {
        // A 0-d array (a scalar, like the `format` entry of a SciPy .npz): one element.
        [] => (1, None),
        [n] => (number(n)?, None),
        [n, w] => (number(n)?, Some(number(w)?)),
        _ => return Err(bad("array has more than 2 dimensions")),
    };
    Ok(ArrayInfo {
        descr: descr.to_owned(),
        len,
        width,
        data_offset: 10 + dict_len,
    })
}

impl ArrayInfo {
    /// Bytes of data the header promises for elements of `size` bytes; `None` when
    /// that overflows (a crafted header), so no size derived from it is trusted.
    pub fn data_bytes(&self, size: usize) -> Option<u64> {
        self.len
            .checked_mul(self.width.unwrap_or(1))?
            .checked_mul(size as u64)
    }
}

/// The data bytes of a file whose header is `info`, for elements of `size` bytes:
/// exactly as many as the shape needs, or an error saying how many there are.
pub fn data_section<'a>(bytes: &'a [u8], info: &ArrayInfo, size: usize) -> io::Result<&'a [u8]> {
    let data = &bytes[info.data_offset..];
    let expected = info.data_bytes(size);
    if Some(data.len() as u64) != expected {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} data bytes where the header says {}",
                data.len(),
                expected.map_or("more than 2^64".into(), |e| e.to_string())
            ),
        ));
    }
    Ok(data)
}

/// Reads a whole array of `T` (flattened), checking its type and length.
pub fn read<T: Dtype>(path: &std::path::Path) -> io::Result<Vec<T>> {
    decode(&std::fs::read(path)?)
}

/// A whole `.npy` file's array of `T` (flattened), checking its type and length.
pub fn decode<T: Dtype>(bytes: &[u8]) -> io::Result<Vec<T>> {
    let info = parse_header(bytes)?;
    if info.descr != T::DESCR {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("dtype {} where {} was expected", info.descr, T::DESCR),
        ));
    }
    let data = data_section(bytes, &info, std::mem::size_of::<T>())?;
    let mut out = vec![T::zeroed(); data.len() / std::mem::size_of::<T>()];
    bytemuck::cast_slice_mut::<T, u8>(&mut out).copy_from_slice(data);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_fixed_size_and_parses_back() {
        for len in [0u64, 7, u64::MAX] {
            for width in [None, Some(50)] {
                let h = matrix_header("<u4", len, width);
                assert_eq!(h.len() % 64, 0, "numpy aligns headers to 64 bytes");
                let info = parse_header(&h).unwrap();
                assert_eq!(
                    info,
                    ArrayInfo {
                        descr: "<u4".into(),
                        len,
                        width,
                        data_offset: HEADER_LEN
                    }
                );
            }
        }
        assert_eq!(
            parse_header(&header("<u8", 1 << 61)).unwrap().data_bytes(8),
            None
        );
    }

    #[test]
    fn ambiguous_headers_are_refused() {
        let mut h = header("<u4", 3).to_vec();
        let dict = "{'descr': '<u4', 'shape': (3,), 'fortran_order': False, 'shape': (9,), }";
        h[10..10 + dict.len()].copy_from_slice(dict.as_bytes());
        assert!(parse_header(&h).unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let mut bytes = header(i64::DESCR, 3).to_vec();
        bytes.extend_from_slice(bytemuck::cast_slice(&[1i64, -2, 3]));
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(read::<i64>(&path).unwrap(), [1, -2, 3]);
        assert!(read::<u32>(&path).is_err());
    }
}
