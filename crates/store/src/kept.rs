//! Kept columns: extra source columns a store carries beside the interactions
//! (`negsamp ingest --keep`), one value per interaction, typed.
//!
//! This module owns their types, the missing-value representation, and the encodings
//! of the two variable-length sections of format 2 (`columns`, the schema, and
//! `column_dictionary`, a string column's distinct values).

use crate::StoreError;

/// The largest number of kept columns a store may hold.
pub const MAX_KEPT_COLUMNS: usize = 64;

/// The code of a missing value in a string column.
pub const MISSING_CODE: u32 = u32::MAX;
/// The value of a missing integer. `i64::MIN` is reserved for it: ingest refuses it as
/// a value, so it never stands for a real integer.
pub const MISSING_I64: i64 = i64::MIN;

/// How a kept column's values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    /// 64-bit signed integers; missing is [`MISSING_I64`].
    I64,
    /// 64-bit floats; missing is NaN.
    F64,
    /// Dictionary-encoded strings: a `u32` code per value into the column's
    /// dictionary; missing is [`MISSING_CODE`].
    Str,
}

impl ValueType {
    pub const ALL: [ValueType; 3] = [ValueType::I64, ValueType::F64, ValueType::Str];

    /// The name used in the format, on the command line and in manifests.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::I64 => "i64",
            ValueType::F64 => "f64",
            ValueType::Str => "str",
        }
    }

    /// Bytes per stored value.
    pub fn width(self) -> u64 {
        match self {
            ValueType::Str => 4,
            ValueType::I64 | ValueType::F64 => 8,
        }
    }
}

impl std::str::FromStr for ValueType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown column type {s:?}; use i64, f64 or str"))
    }
}

impl std::fmt::Display for ValueType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One kept column: its source name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptColumn {
    pub name: String,
    pub value_type: ValueType,
}

/// Why a name cannot be a kept column's: the schema section is `name<TAB>type` lines,
/// and output files are named after columns.
pub fn check_column_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a kept column needs a name".into());
    }
    if name.len() > 255 {
        return Err(format!("column name {name:?} is longer than 255 bytes"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || matches!(c, '/' | '\\'))
    {
        return Err(format!(
            "column name {name:?} contains {c:?}; names become file names, so no slashes or control characters"
        ));
    }
    if name.starts_with('.') || name.starts_with('_') {
        return Err(format!(
            "column name {name:?} starts with {:?}; readers skip such files",
            &name[..1]
        ));
    }
    Ok(())
}

/// The `columns` section: one `name<TAB>type<LF>` line per kept column, in order.
pub fn encode_schema(columns: &[KeptColumn]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in columns {
        out.extend_from_slice(c.name.as_bytes());
        out.push(b'\t');
        out.extend_from_slice(c.value_type.name().as_bytes());
        out.push(b'\n');
    }
    out
}

pub fn decode_schema(bytes: &[u8]) -> Result<Vec<KeptColumn>, StoreError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| StoreError::corrupt("the columns section is not UTF-8"))?;
    let body = text
        .strip_suffix('\n')
        .ok_or_else(|| StoreError::corrupt("the columns section does not end a line"))?;
    let mut out: Vec<KeptColumn> = Vec::new();
    for line in body.split('\n') {
        let (name, value_type) = line
            .split_once('\t')
            .ok_or_else(|| StoreError::corrupt(format!("columns section line {line:?}")))?;
        check_column_name(name).map_err(StoreError::corrupt)?;
        let value_type = value_type.parse().map_err(StoreError::corrupt)?;
        if out.iter().any(|c| c.name == name) {
            return Err(StoreError::corrupt(format!(
                "column {name:?} is kept twice"
            )));
        }
        out.push(KeptColumn {
            name: name.into(),
            value_type,
        });
    }
    if out.len() > MAX_KEPT_COLUMNS {
        return Err(StoreError::corrupt(format!(
            "{} kept columns, at most {MAX_KEPT_COLUMNS}",
            out.len()
        )));
    }
    Ok(out)
}

/// The `column_dictionary` section of a string column: `n` (u64), `n + 1` ascending
/// offsets (u64, the first 0) into the bytes that follow, then the values' bytes.
pub fn encode_dictionary<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut offsets = vec![0u64];
    let mut bytes = Vec::new();
    for v in values {
        bytes.extend_from_slice(v);
        offsets.push(bytes.len() as u64);
    }
    let mut out = Vec::with_capacity(8 * (offsets.len() + 1) + bytes.len());
    out.extend_from_slice(&(offsets.len() as u64 - 1).to_le_bytes());
    out.extend_from_slice(bytemuck::cast_slice(&offsets));
    out.extend_from_slice(&bytes);
    out
}

/// A string column's dictionary, viewed in place.
#[derive(Debug, Clone, Copy)]
pub struct Dictionary<'a> {
    offsets: &'a [u64],
    bytes: &'a [u8],
}

impl<'a> Dictionary<'a> {
    /// Views a `column_dictionary` section (8-byte aligned), checking its offsets.
    pub fn parse(section: &'a [u8]) -> Result<Self, StoreError> {
        let bad = |m: &str| StoreError::corrupt(format!("column dictionary: {m}"));
        let n = section
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| bad("shorter than its count"))?;
        let table_len = n
            .checked_add(1)
            .and_then(|c| c.checked_mul(8))
            .filter(|&l| l <= section.len() as u64 - 8)
            .ok_or_else(|| bad("its count exceeds the section"))? as usize;
        let offsets: &[u64] = bytemuck::try_cast_slice(&section[8..8 + table_len])
            .map_err(|_| bad("misaligned offsets"))?;
        let bytes = &section[8 + table_len..];
        if offsets[0] != 0
            || offsets.windows(2).any(|w| w[0] > w[1])
            || offsets[n as usize] != bytes.len() as u64
        {
            return Err(bad("offsets are not ascending from 0 to the end"));
        }
        Ok(Self { offsets, bytes })
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `code` (which must be below `len()`).
    pub fn get(&self, code: u32) -> &'a [u8] {
        let c = code as usize;
        &self.bytes[self.offsets[c] as usize..self.offsets[c + 1] as usize]
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + Clone + 'a {
        let this = *self;
        (0..self.len() as u32).map(move |c| this.get(c))
    }
}

/// A kept column's values, one per interaction, in CSR order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Values<'a> {
    I64(&'a [i64]),
    F64(&'a [f64]),
    /// Codes into the column's dictionary.
    Str(&'a [u32]),
}

impl<'a> Values<'a> {
    pub fn value_type(&self) -> ValueType {
        match self {
            Values::I64(_) => ValueType::I64,
            Values::F64(_) => ValueType::F64,
            Values::Str(_) => ValueType::Str,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Values::I64(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> &'a [u8] {
        match self {
            Values::I64(v) => bytemuck::cast_slice(v),
            Values::F64(v) => bytemuck::cast_slice(v),
            Values::Str(v) => bytemuck::cast_slice(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_round_trips_and_rejects_bad_names() {
        let cols = vec![
            KeptColumn {
                name: "price".into(),
                value_type: ValueType::F64,
            },
            KeptColumn {
                name: "catégorie".into(),
                value_type: ValueType::Str,
            },
        ];
        assert_eq!(decode_schema(&encode_schema(&cols)).unwrap(), cols);
        for bad in ["", "a/b", "_x", ".x", "a\tb"] {
            assert!(check_column_name(bad).is_err(), "{bad:?}");
        }
        assert!(decode_schema(b"a\tstr\na\ti64\n").is_err());
        assert!(decode_schema(b"a\tint\n").is_err());
    }

    #[test]
    fn dictionary_round_trips_and_checks_offsets() {
        let values: Vec<&[u8]> = vec![b"x", b"", b"a,b\r"];
        let bytes = encode_dictionary(values.iter().copied());
        let words: Vec<u64> = {
            let mut w = vec![0u64; bytes.len().div_ceil(8)];
            bytemuck::cast_slice_mut::<u64, u8>(&mut w)[..bytes.len()].copy_from_slice(&bytes);
            w
        };
        let aligned = &bytemuck::cast_slice::<u64, u8>(&words)[..bytes.len()];
        let d = Dictionary::parse(aligned).unwrap();
        assert_eq!(d.iter().collect::<Vec<_>>(), values);
        let mut broken = words.clone();
        broken[2] = 99; // offset 1 beyond the bytes
        let broken = &bytemuck::cast_slice::<u64, u8>(&broken)[..bytes.len()];
        assert!(Dictionary::parse(broken).is_err());
        assert!(Dictionary::parse(&aligned[..4]).is_err());
    }
}
