//! Splitting one CSV line into fields.
//!
//! negsamp reads RFC 4180 CSV with one restriction: a record may not span lines (a
//! quoted field may hold commas and doubled quotes, but no line break). That is what
//! lets ingest cut a file into byte ranges at arbitrary newlines and parse them in
//! parallel.

use memchr::memchr;

/// Where one field sits in its line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    start: u32,
    end: u32,
    /// The field was quoted and contains `""` escapes to undo.
    escaped: bool,
}

impl Span {
    /// True when the field holds no bytes (`a,,b` or `""`).
    pub(crate) fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// Why a line is not a well-formed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineError {
    /// An opening quote without its closing quote, or text after a closing quote.
    Quote,
}

/// Splits `line` (no line terminator) into `spans`.
pub(crate) fn split(line: &[u8], spans: &mut Vec<Span>) -> Result<(), LineError> {
    spans.clear();
    let mut at = 0usize;
    loop {
        let end_of_field;
        if line.get(at) == Some(&b'"') {
            let mut cursor = at + 1;
            let mut escaped = false;
            let close = loop {
                let q = cursor + memchr(b'"', &line[cursor..]).ok_or(LineError::Quote)?;
                if line.get(q + 1) == Some(&b'"') {
                    escaped = true;
                    cursor = q + 2;
                } else {
                    break q;
                }
            };
            spans.push(Span {
                start: (at + 1) as u32,
                end: close as u32,
                escaped,
            });
            end_of_field = close + 1;
            if end_of_field < line.len() && line[end_of_field] != b',' {
                return Err(LineError::Quote);
            }
        } else {
            end_of_field = memchr(b',', &line[at..]).map_or(line.len(), |p| at + p);
            spans.push(Span {
                start: at as u32,
                end: end_of_field as u32,
                escaped: false,
            });
        }
        if end_of_field >= line.len() {
            return Ok(());
        }
        at = end_of_field + 1;
    }
}

/// The bytes of a field; quoted fields with escapes are unescaped into `scratch`.
pub(crate) fn field<'a>(line: &'a [u8], span: Span, scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let raw = &line[span.start as usize..span.end as usize];
    if !span.escaped {
        return raw;
    }
    scratch.clear();
    let mut i = 0;
    while i < raw.len() {
        scratch.push(raw[i]);
        i += if raw[i] == b'"' { 2 } else { 1 };
    }
    scratch
}

/// Strips a trailing `\r` (CRLF files).
pub(crate) fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses an integer timestamp (optional sign, decimal digits).
pub(crate) fn parse_i64(field: &[u8]) -> Option<i64> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> Result<Vec<String>, LineError> {
        let mut spans = Vec::new();
        split(line.as_bytes(), &mut spans)?;
        let mut scratch = Vec::new();
        Ok(spans
            .iter()
            .map(|&s| String::from_utf8(field(line.as_bytes(), s, &mut scratch).to_vec()).unwrap())
            .collect())
    }

    #[test]
    fn splits_plain_quoted_and_empty_fields() {
        assert_eq!(fields("a,b,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(fields("a,,").unwrap(), ["a", "", ""]);
        assert_eq!(fields("").unwrap(), [""]);
        assert_eq!(fields(r#""x,y",2"#).unwrap(), ["x,y", "2"]);
        assert_eq!(fields(r#""say ""hi""",z"#).unwrap(), [r#"say "hi""#, "z"]);
        assert_eq!(fields(r#""""#).unwrap(), [""]);
    }

    #[test]
    fn rejects_broken_quotes() {
        assert_eq!(fields(r#""open,1"#), Err(LineError::Quote));
        assert_eq!(fields(r#""a"b,1"#), Err(LineError::Quote));
    }

    #[test]
    fn parses_timestamps_strictly() {
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"1700000000"), Some(1_700_000_000));
        assert_eq!(parse_i64(b"1.5"), None);
        assert_eq!(parse_i64(b""), None);
        assert_eq!(parse_i64(b"99999999999999999999"), None);
    }
}
