//! NumPy `.npy` version 1.0 files: 1-D, little-endian, C order.
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
dtypes!(u8 => "|u1", u32 => "<u4", u64 => "<u8", i64 => "<i8", f32 => "<f4", f64 => "<f8");

/// The header of a 1-D array of `len` elements of type `descr`.
pub fn header(descr: &str, len: u64) -> [u8; HEADER_LEN] {
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({len},), }}");
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
    pub len: u64,
    /// Where the data starts.
    pub data_offset: usize,
}

/// Parses a v1.0 header of a 1-D C-order array.
pub fn parse_header(bytes: &[u8]) -> io::Result<ArrayInfo> {
    let bad = |m: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a 1-D .npy v1.0 file: {m}"),
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
    let len = match dims[..] {
        [n] => n.parse().map_err(|_| bad("shape is not a number"))?,
        _ => return Err(bad("array is not 1-D")),
    };
    Ok(ArrayInfo {
        descr: descr.to_owned(),
        len,
        data_offset: 10 + dict_len,
    })
}

/// Reads a whole 1-D array of `T`, checking its type and length.
pub fn read<T: Dtype>(path: &std::path::Path) -> io::Result<Vec<T>> {
    let bytes = std::fs::read(path)?;
    let info = parse_header(&bytes)?;
    if info.descr != T::DESCR {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("dtype {} where {} was expected", info.descr, T::DESCR),
        ));
    }
    let data = &bytes[info.data_offset..];
    let expected = info.len as usize * std::mem::size_of::<T>();
    if data.len() != expected {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} data bytes where the header says {expected}", data.len()),
        ));
    }
    let mut out = vec![T::zeroed(); info.len as usize];
    bytemuck::cast_slice_mut::<T, u8>(&mut out).copy_from_slice(data);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_fixed_size_and_parses_back() {
        for len in [0u64, 7, u64::MAX] {
            let h = header("<u4", len);
            assert_eq!(h.len() % 64, 0, "numpy aligns headers to 64 bytes");
            let info = parse_header(&h).unwrap();
            assert_eq!(
                info,
                ArrayInfo {
                    descr: "<u4".into(),
                    len,
                    data_offset: HEADER_LEN
                }
            );
        }
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
