//! Splitting one CSV line into fields.
//!
//! negsamp reads RFC 4180 CSV with one restriction: a record may not span lines (a
//! quoted field may hold commas and doubled quotes, but no line break). That is what
//! lets ingest cut a file into byte ranges at arbitrary newlines and parse them in
//! parallel.

use crate::IngestError;
use memchr::memchr;
use std::ops::ControlFlow;
use std::path::Path;

/// Where one field sits in its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    end: u32,
    /// The field was quoted and contains `""` escapes to undo.
    escaped: bool,
}

impl Span {
    /// An unquoted field from `start` to `end` of its line.
    fn plain(start: usize, end: usize) -> Self {
        Span {
            start: start as u32,
            end: end as u32,
            escaped: false,
        }
    }

    /// True when the field holds no bytes (`a,,b` or `""`).
    pub(crate) fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The field's bytes in `line`, quotes' escapes not undone (enough to check what
    /// characters it holds).
    pub(crate) fn raw(self, line: &[u8]) -> &[u8] {
        &line[self.start as usize..self.end as usize]
    }

    /// True when the field's bytes in `line` hold a carriage return (a line's
    /// trailing one is in no field). Ids are a few bytes long: a field of at most
    /// eight with eight bytes of the line from its start is checked as one word (a
    /// byte loop took 35 instructions an id, a vector search's set-up more).
    #[inline]
    pub(crate) fn has_carriage_return(self, line: &[u8]) -> bool {
        let (start, len) = (self.start as usize, (self.end - self.start) as usize);
        match line.get(start..start + 8) {
            Some(word) if len <= 8 => {
                let in_field = u64::MAX.checked_shr(64 - 8 * len as u32).unwrap_or(0);
                let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
                zero_bytes(word ^ u64::from_le_bytes([b'\r'; 8])) & in_field != 0
            }
            _ => self.raw(line).contains(&b'\r'),
        }
    }
}

/// Why a line is not a well-formed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineError {
    /// An opening quote without its closing quote, or text after a closing quote.
    Quote,
}

/// Splits `line` (no line terminator) at `delimiter` into `spans`.
pub(crate) fn split(line: &[u8], delimiter: u8, spans: &mut Vec<Span>) -> Result<(), LineError> {
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
            if end_of_field < line.len() && line[end_of_field] != delimiter {
                return Err(LineError::Quote);
            }
        } else {
            end_of_field = memchr(delimiter, &line[at..]).map_or(line.len(), |p| at + p);
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

/// Cuts `text` into lines (at `\n`, a trailing `\r` dropped) and each line into
/// fields at `delimiter`, handing `record` every line, in order, with its fields'
/// spans (or why it is malformed) until `record` breaks. Empty lines are handed over
/// too (as one empty field), so the caller's line count stays true.
///
/// One scan ([`Hits`]) finds delimiters, line ends and quotes together, instead of a
/// search per field and another per line: with fields a few bytes long, starting a
/// search cost more than the search (the two were a sixth of a CSV ingest's
/// instructions). A line holding a quote is handed to [`split`], which knows quoting.
pub(crate) fn for_each_line(
    text: &[u8],
    delimiter: u8,
    spans: &mut Vec<Span>,
    mut record: impl FnMut(&[u8], Result<&[Span], LineError>) -> ControlFlow<()>,
) {
    if matches!(delimiter, b'"' | b'\n' | b'\r') {
        // The scan could not tell such a delimiter from what it marks.
        return for_each_line_by_split(text, delimiter, spans, record);
    }
    spans.clear();
    let (mut line_start, mut field_start) = (0, 0);
    // Hits before this fall in a quoted line [`split`] has handled.
    let mut resume = 0;
    for at in Hits::new(text, [delimiter, b'\n', b'"']) {
        if at < resume {
            continue;
        }
        match text[at] {
            b'\n' => {
                let line = close_line(&text[line_start..at], field_start - line_start, spans);
                if record(line, Ok(spans)).is_break() {
                    return;
                }
            }
            b'"' => match split_line_at(text, line_start, delimiter, spans, &mut record) {
                Some(next) => resume = next,
                None => return,
            },
            _ => {
                spans.push(Span::plain(field_start - line_start, at - line_start));
                field_start = at + 1;
                continue;
            }
        }
        line_start = resume.max(at + 1);
        field_start = line_start;
        spans.clear();
    }
    if line_start < text.len() {
        let line = close_line(&text[line_start..], field_start - line_start, spans);
        let _ = record(line, Ok(spans));
    }
}

/// The positions of the bytes of a text equal to any of three, in order.
///
/// Sixteen bytes are compared at once (SSE2 on x86-64, two `u64`s elsewhere), giving a
/// bit per byte, and each hit then costs a count of trailing zeros: a CSV row's three
/// hits (two delimiters, a newline) were three restarts of `memchr3`'s search, about
/// 60 instructions each.
struct Hits<'a> {
    text: &'a [u8],
    needles: [u8; 3],
    /// Where the chunk `pending` came from begins.
    chunk_start: usize,
    /// A bit per byte of that chunk that is a hit not yet handed out.
    pending: u32,
}

/// Bytes the scan compares at once.
const CHUNK: usize = 16;

impl<'a> Hits<'a> {
    fn new(text: &'a [u8], needles: [u8; 3]) -> Self {
        let mut hits = Hits {
            text,
            needles,
            chunk_start: 0,
            pending: 0,
        };
        hits.load(0);
        hits
    }

    /// Takes the chunk at `start` (past the text's end no byte is a hit).
    #[inline]
    fn load(&mut self, start: usize) {
        self.chunk_start = start;
        self.pending = match self.text.get(start..start + CHUNK) {
            Some(chunk) => chunk_hits(chunk.try_into().expect("a chunk"), self.needles),
            None => self.last_chunk_hits(start),
        };
    }

    /// [`chunk_hits`] of the text's last (fewer than [`CHUNK`]) bytes from `start`.
    #[cold]
    fn last_chunk_hits(&self, start: usize) -> u32 {
        let rest = self.text.get(start..).unwrap_or_default();
        let mut chunk = [0u8; CHUNK];
        chunk[..rest.len()].copy_from_slice(rest);
        chunk_hits(&chunk, self.needles) & ((1u32 << rest.len()) - 1)
    }
}

impl Iterator for Hits<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.pending == 0 {
            let next = self.chunk_start + CHUNK;
            if next >= self.text.len() {
                return None;
            }
            self.load(next);
        }
        let at = self.chunk_start + self.pending.trailing_zeros() as usize;
        self.pending &= self.pending - 1;
        Some(at)
    }
}

/// Bit i set where byte i of `chunk` is one of `needles`: three byte compares and a
/// mask of their high bits, SSE2 being part of every x86-64 CPU.
#[cfg(target_arch = "x86_64")]
#[inline]
fn chunk_hits(chunk: &[u8; CHUNK], needles: [u8; 3]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is in the x86-64 baseline, so these instructions exist on any CPU
    // this code runs on; the load reads exactly the 16 bytes `chunk` borrows, and asks
    // no alignment. (The whole scan was a sixth of a CSV ingest's instructions; this is
    // measured in `docs/benchmarks.md` against the portable version below.)
    unsafe {
        let bytes = _mm_loadu_si128(chunk.as_ptr().cast());
        let equal = |needle: u8| _mm_cmpeq_epi8(bytes, _mm_set1_epi8(needle as i8));
        let any = _mm_or_si128(
            _mm_or_si128(equal(needles[0]), equal(needles[1])),
            equal(needles[2]),
        );
        _mm_movemask_epi8(any) as u32
    }
}

#[cfg(not(target_arch = "x86_64"))]
use self::chunk_hits_by_words as chunk_hits;

/// [`chunk_hits`] with plain `u64` arithmetic (SWAR): eight bytes a word.
#[cfg(any(not(target_arch = "x86_64"), test))]
fn chunk_hits_by_words(chunk: &[u8; CHUNK], needles: [u8; 3]) -> u32 {
    let needles = needles.map(|b| u64::from_le_bytes([b; 8]));
    let half = |k: usize| {
        let word = u64::from_le_bytes(chunk[8 * k..8 * k + 8].try_into().expect("a word"));
        let none = nonzero_bytes(word ^ needles[0])
            & nonzero_bytes(word ^ needles[1])
            & nonzero_bytes(word ^ needles[2]);
        // The high bit of each hit byte, gathered into the top byte by the multiply.
        let high_bits = (!none & !LOW_SEVEN) >> 7;
        (high_bits.wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
    };
    half(0) | half(1) << 8
}

/// The low seven bits of every byte of a word.
const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of each zero byte of `word`.
#[inline]
fn zero_bytes(word: u64) -> u64 {
    !nonzero_bytes(word) & !LOW_SEVEN
}

/// A word whose bytes have their high bit set exactly where `word`'s bytes are not
/// zero: per byte x, `(x & 0x7f) + 0x7f` reaches the high bit when a low bit is set,
/// and never carries into the next byte.
#[inline]
fn nonzero_bytes(word: u64) -> u64 {
    ((word & LOW_SEVEN) + LOW_SEVEN) | word
}

/// Ends a line found by the scan: its last field runs from `last_field` to its end,
/// bar a trailing `\r` (which, the delimiter not being one, lies in that field).
fn close_line<'a>(raw: &'a [u8], last_field: usize, spans: &mut Vec<Span>) -> &'a [u8] {
    let line = trim_cr(raw);
    spans.push(Span::plain(last_field, line.len()));
    line
}

/// [`for_each_line`] a line at a time through [`split`].
fn for_each_line_by_split(
    text: &[u8],
    delimiter: u8,
    spans: &mut Vec<Span>,
    mut record: impl FnMut(&[u8], Result<&[Span], LineError>) -> ControlFlow<()>,
) {
    let mut line_start = 0;
    while line_start < text.len() {
        match split_line_at(text, line_start, delimiter, spans, &mut record) {
            Some(next) => line_start = next,
            None => return,
        }
    }
}

/// Splits the line of `text` that begins at `start` with [`split`] and hands it to
/// `record`; returns where the next line begins, or `None` when `record` broke.
fn split_line_at(
    text: &[u8],
    start: usize,
    delimiter: u8,
    spans: &mut Vec<Span>,
    record: &mut impl FnMut(&[u8], Result<&[Span], LineError>) -> ControlFlow<()>,
) -> Option<usize> {
    let end = memchr(b'\n', &text[start..]).map_or(text.len(), |p| start + p);
    let line = trim_cr(&text[start..end]);
    let fields = split(line, delimiter, spans).map(|()| &spans[..]);
    record(line, fields).is_continue().then_some(end + 1)
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

/// Parses an integer field (optional sign, decimal digits), as `str::parse` does.
pub(crate) fn parse_i64(field: &[u8]) -> Option<i64> {
    short_integer(field).or_else(|| std::str::from_utf8(field).ok()?.parse().ok())
}

/// The value of an optional sign and 1 to 18 decimal digits (so it cannot overflow),
/// nothing else — what `str::parse::<i64>` gives for such a field, without its UTF-8
/// check and general parser (a tenth of an ingest's CPU time when every row holds a
/// timestamp).
#[inline]
pub(crate) fn short_integer(field: &[u8]) -> Option<i64> {
    let (negative, digits) = match field {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, field),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let magnitude = digits_value(digits)? as i64;
    Some(if negative { -magnitude } else { magnitude })
}

/// The value of `digits` if they are all ASCII digits; the caller bounds their number
/// so it cannot overflow (at most 19). Eight digits at a time are checked and combined
/// in one `u64` (reading a row's ten-digit timestamp a digit at a time took 142
/// instructions, a tenth of a CSV ingest's; 107 now); the rest one by one.
#[inline]
pub(crate) fn digits_value(digits: &[u8]) -> Option<u64> {
    let mut chunks = digits.chunks_exact(8);
    let mut value = 0u64;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of eight"));
        value = value * 100_000_000 + eight_digits(word)?;
    }
    chunks.remainder().iter().try_fold(value, |value, &b| {
        let digit = b.wrapping_sub(b'0');
        (digit < 10).then_some(value * 10 + u64::from(digit))
    })
}

/// The value of eight ASCII digits read as a little-endian word (the first digit in
/// the lowest byte), if all eight are digits.
#[inline]
fn eight_digits(word: u64) -> Option<u64> {
    const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // A digit's byte is 0x30..=0x39: its high nibble is 3, and stays 3 after adding 6
    // (which cannot carry into the next byte once every high nibble is 3).
    let digits = word & HIGH_NIBBLES == ZEROS
        && word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES == ZEROS;
    if !digits {
        return None;
    }
    // Pairs, then quads, then the eight: each step multiplies the higher-order half
    // by a power of ten and adds the lower-order one, every lane at once.
    let d = word - ZEROS;
    let pairs = (d * 10 + (d >> 8)) & 0x00FF_00FF_00FF_00FF;
    let quads = (pairs * 100 + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((quads & 0xFFFF) * 10_000 + (quads >> 32))
}

/// Reads two columns, chosen by header name, of a small CSV (such as an exclusion
/// list) as owned strings; malformed rows are errors naming the line.
pub fn read_pairs(
    path: &Path,
    first: &str,
    second: &str,
) -> Result<Vec<(String, String)>, IngestError> {
    let text = std::fs::read(path).map_err(|e| IngestError::Io {
        path: path.into(),
        error: e,
    })?;
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&text);
    let (mut spans, mut scratch) = (Vec::new(), Vec::new());
    let mut lines = text.split(|&b| b == b'\n').map(trim_cr).enumerate();
    let quote = |line: usize| IngestError::UnterminatedQuote {
        path: path.into(),
        line: line as u64 + 1,
    };
    let header = lines.next().map(|(_, h)| h).unwrap_or_default();
    split(header, b',', &mut spans).map_err(|_| quote(0))?;
    let names: Vec<String> = spans
        .iter()
        .map(|&s| String::from_utf8_lossy(field(header, s, &mut scratch)).into_owned())
        .collect();
    let column = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| IngestError::MissingColumn {
                path: path.into(),
                column: name.into(),
                available: names.join(", "),
                flag: "exclude",
            })
    };
    let (a, b) = (column(first)?, column(second)?);
    let mut out = Vec::new();
    for (i, line) in lines.filter(|(_, l)| !l.is_empty()) {
        split(line, b',', &mut spans).map_err(|_| quote(i))?;
        if spans.len() != names.len() {
            return Err(IngestError::FieldCount {
                path: path.into(),
                line: i as u64 + 1,
                expected: names.len(),
                got: spans.len(),
            });
        }
        let mut text_of = |k: usize, name: &str| {
            let value = String::from_utf8_lossy(field(line, spans[k], &mut scratch)).into_owned();
            if value.is_empty() {
                Err(IngestError::EmptyId {
                    path: path.into(),
                    line: i as u64 + 1,
                    column: name.into(),
                })
            } else {
                Ok(value)
            }
        };
        out.push((text_of(a, first)?, text_of(b, second)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Fields = Result<Vec<Span>, LineError>;

    /// Each line the one scan (or, not `one_scan`, the line-by-line split) hands
    /// over, with its fields, until the `stop`-th line.
    fn collect_lines(
        one_scan: bool,
        text: &[u8],
        delimiter: u8,
        stop: usize,
    ) -> Vec<(Vec<u8>, Fields)> {
        let mut lines = Vec::new();
        let record = |line: &[u8], fields: Result<&[Span], LineError>| {
            lines.push((line.to_vec(), fields.map(<[Span]>::to_vec)));
            if lines.len() == stop {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let mut spans = Vec::new();
        if one_scan {
            for_each_line(text, delimiter, &mut spans, record);
        } else {
            for_each_line_by_split(text, delimiter, &mut spans, record);
        }
        lines
    }

    proptest! {
        /// The chunked scan finds exactly the bytes equal to one of its three, in
        /// order: any bytes (zero, high-bit ones), repeated needles, texts of a few
        /// chunks and a partial last one.
        #[test]
        fn hits_are_the_bytes_equal_to_a_needle(
            text in proptest::collection::vec(
                prop_oneof![Just(0u8), Just(b','), Just(0x80), Just(0xff), Just(0x7f), any::<u8>()],
                0..70,
            ),
            needles in proptest::array::uniform3(prop_oneof![Just(0u8), Just(b','), Just(0x80), Just(0xff), any::<u8>()]),
        ) {
            let expected: Vec<usize> = (0..text.len()).filter(|&i| needles.contains(&text[i])).collect();
            prop_assert_eq!(Hits::new(&text, needles).collect::<Vec<_>>(), expected);
        }

        /// A field's carriage-return check, a word at a time where the line allows,
        /// agrees with looking at each of its bytes: fields of 0–12 bytes anywhere in
        /// a line, near its end too.
        #[test]
        fn a_fields_carriage_return_is_found_a_word_at_a_time(
            line in proptest::collection::vec(
                prop_oneof![3 => Just(b'\r'), 1 => Just(0x8d), 1 => Just(0u8), 8 => b'0'..=b'9'],
                0..30,
            ),
            start in 0usize..30,
            len in 0usize..13,
        ) {
            let start = start.min(line.len());
            let end = (start + len).min(line.len());
            let span = Span::plain(start, end);
            prop_assert_eq!(span.has_carriage_return(&line), line[start..end].contains(&b'\r'));
        }

        /// Both ways of comparing a chunk mark exactly the bytes equal to a needle.
        #[test]
        fn a_chunks_hits_are_its_bytes_equal_to_a_needle(
            chunk in proptest::array::uniform16(
                prop_oneof![Just(0u8), Just(b','), Just(0x80), Just(0xff), Just(0x7f), any::<u8>()],
            ),
            needles in proptest::array::uniform3(prop_oneof![Just(0u8), Just(b','), Just(0x80), Just(0xff), any::<u8>()]),
        ) {
            let expected = (0..CHUNK).filter(|&i| needles.contains(&chunk[i])).fold(0u32, |m, i| m | 1 << i);
            prop_assert_eq!(chunk_hits(&chunk, needles), expected);
            prop_assert_eq!(chunk_hits_by_words(&chunk, needles), expected);
        }

        /// The one-scan splitter hands over the lines and fields that splitting each
        /// line on its own gives: quotes anywhere, CRLF, empty lines and fields, a
        /// missing final newline, and a stop midway.
        #[test]
        fn the_one_scan_splitter_equals_splitting_line_by_line(
            text in proptest::collection::vec(
                prop_oneof![
                    4 => Just(b','), 4 => Just(b'\n'), 2 => Just(b'"'), 2 => Just(b'\r'),
                    1 => Just(b'\t'), 8 => b'a'..=b'c',
                ],
                0..80,
            ),
            delimiter in prop_oneof![Just(b','), Just(b'\t'), Just(b'"'), Just(b'\r')],
            stop in 1usize..12,
        ) {
            prop_assert_eq!(
                collect_lines(true, &text, delimiter, stop),
                collect_lines(false, &text, delimiter, stop)
            );
        }
    }

    fn fields(line: &str) -> Result<Vec<String>, LineError> {
        let mut spans = Vec::new();
        split(line.as_bytes(), b',', &mut spans)?;
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
    fn reads_pairs_by_column_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(&path, "item,user\r\n\"a,b\",u1\r\nc,u2\r\n\r\n").unwrap();
        let pairs = read_pairs(&path, "user", "item").unwrap();
        assert_eq!(
            pairs,
            [
                ("u1".to_string(), "a,b".to_string()),
                ("u2".into(), "c".into())
            ]
        );
        std::fs::write(&path, "user,item\nu1\n").unwrap();
        assert!(matches!(
            read_pairs(&path, "user", "item"),
            Err(IngestError::FieldCount { line: 2, .. })
        ));
        std::fs::write(&path, "u,i\n").unwrap();
        assert!(matches!(
            read_pairs(&path, "user", "item"),
            Err(IngestError::MissingColumn { .. })
        ));
    }

    proptest! {
        /// Eight digits at a time give what one digit at a time gives, for digits and
        /// the bytes next to them (`/` and `:`, and bytes sharing a digit's nibbles).
        #[test]
        fn digits_are_read_eight_at_a_time_exactly(
            digits in proptest::collection::vec(
                prop_oneof![
                    8 => b'0'..=b'9',
                    1 => prop_oneof![Just(b'/'), Just(b':'), Just(b'?'), Just(0x09u8), Just(0xF9u8)],
                ],
                0..=19,
            )
        ) {
            let one_at_a_time = digits.iter().try_fold(0u64, |value, &b| {
                b.is_ascii_digit().then(|| value * 10 + u64::from(b - b'0'))
            });
            prop_assert_eq!(digits_value(&digits), one_at_a_time);
        }
    }

    #[test]
    fn parses_timestamps_strictly() {
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"1700000000"), Some(1_700_000_000));
        assert_eq!(parse_i64(b"1.5"), None);
        assert_eq!(parse_i64(b""), None);
        assert_eq!(parse_i64(b"99999999999999999999"), None);
        // Past the short path's 18 digits, the general parser answers.
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"+007"), Some(7));
    }
}
