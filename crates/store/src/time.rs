//! Timestamps as sources write them: integers, floats (what pandas writes once an
//! integer column has held a NaN), and ISO-8601 dates and date-times, and the unit a
//! store records for them. A store keeps integers in one [`TimeUnit`]; ISO values are
//! read as Unix seconds.

/// The unit of a store's timestamps (format 3 records it; older stores are read as
/// seconds). The numeric codes are part of the store format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TimeUnit {
    #[serde(rename = "s")]
    Seconds = 1,
    #[serde(rename = "ms")]
    Milliseconds = 2,
    #[serde(rename = "us")]
    Microseconds = 3,
    #[serde(rename = "ns")]
    Nanoseconds = 4,
}

impl TimeUnit {
    pub const ALL: [TimeUnit; 4] = [
        Self::Seconds,
        Self::Milliseconds,
        Self::Microseconds,
        Self::Nanoseconds,
    ];

    pub fn code(self) -> u32 {
        self as u32
    }

    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.code() == code)
    }

    /// `s`, `ms`, `us` or `ns`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Seconds => "s",
            Self::Milliseconds => "ms",
            Self::Microseconds => "us",
            Self::Nanoseconds => "ns",
        }
    }

    /// `seconds`, `milliseconds`, …
    pub fn words(self) -> &'static str {
        match self {
            Self::Seconds => "seconds",
            Self::Milliseconds => "milliseconds",
            Self::Microseconds => "microseconds",
            Self::Nanoseconds => "nanoseconds",
        }
    }

    pub fn per_second(self) -> i64 {
        match self {
            Self::Seconds => 1,
            Self::Milliseconds => 1_000,
            Self::Microseconds => 1_000_000,
            Self::Nanoseconds => 1_000_000_000,
        }
    }

    /// The unit of Unix timestamps whose largest magnitude is `max_abs`, assuming they
    /// fall between 1973 and 5138: seconds below 10^11 (year 5138 in seconds), then
    /// milliseconds below 10^14, microseconds below 10^17, else nanoseconds.
    pub fn infer(max_abs: u64) -> Self {
        match max_abs {
            0..100_000_000_000 => Self::Seconds,
            100_000_000_000..100_000_000_000_000 => Self::Milliseconds,
            100_000_000_000_000..100_000_000_000_000_000 => Self::Microseconds,
            _ => Self::Nanoseconds,
        }
    }

    /// `value` (in this unit) as a UTC date-time to the second, e.g. `2024-05-01T12:00:00Z`.
    pub fn to_iso(self, value: i64) -> String {
        let seconds = value.div_euclid(self.per_second());
        let (days, clock) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            clock / 3600,
            clock / 60 % 60,
            clock % 60
        )
    }
}

/// `lo … hi` timestamps for people: `2000-04-25T23:05:32Z … 2003-02-28T17:49:50Z (Unix
/// seconds)`.
pub fn describe_range((lo, hi): (i64, i64), unit: TimeUnit) -> String {
    format!(
        "{} … {} (Unix {}: {lo} … {hi})",
        unit.to_iso(lo),
        unit.to_iso(hi),
        unit.words()
    )
}

/// The smallest and largest of `values` (`None` when empty), on every thread.
pub fn range(values: &[i64]) -> Option<(i64, i64)> {
    use rayon::prelude::*;
    values
        .par_iter()
        .fold(
            || None,
            |acc: Option<(i64, i64)>, &x| {
                Some(acc.map_or((x, x), |(lo, hi)| (lo.min(x), hi.max(x))))
            },
        )
        .reduce(
            || None,
            |a, b| match (a, b) {
                (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
                (x, None) | (None, x) => x,
            },
        )
}

impl std::fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a time column's values are read (`--time-format`), and so the unit it is stored
/// in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimeFormat {
    /// An integer, a float whose fraction is zero (`881250949.0`), or an ISO-8601 date
    /// or date-time; numbers in the unit their magnitude implies ([`TimeUnit::infer`]).
    #[default]
    Auto,
    /// Integers only, unit as for `Auto`.
    Int,
    /// Any number, rounded to the nearest integer (`1.5` → 2), unit as for `Auto`.
    Float,
    /// Integers (or whole floats) in this unit (`unix-s`, `unix-ms`, `unix-us`,
    /// `unix-ns`).
    Unix(TimeUnit),
    /// ISO-8601 only: `2024-05-01`, `2024-05-01T12:00:00`, `2024-05-01 12:00:00.25`,
    /// with `Z` or `±HH:MM`; without a zone the time is taken as UTC. Unix seconds,
    /// fractions of a second dropped.
    Iso,
}

impl std::str::FromStr for TimeFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "auto" => TimeFormat::Auto,
            "int" => TimeFormat::Int,
            "float" => TimeFormat::Float,
            "iso" => TimeFormat::Iso,
            other => match other
                .strip_prefix("unix-")
                .and_then(|u| TimeUnit::ALL.into_iter().find(|t| t.name() == u))
            {
                Some(unit) => TimeFormat::Unix(unit),
                None => {
                    return Err(format!(
                        "unknown time format {other:?}; use auto, int, float, iso, unix-s, unix-ms, unix-us or unix-ns"
                    ))
                }
            },
        })
    }
}

impl TimeFormat {
    /// The timestamp `field` holds, if it is one in this format.
    ///
    /// Inlined for its common case, a plain integer, without the UTF-8 check, trim and
    /// general parsers (a call and its register saves were a sixth of the ~107
    /// instructions a row's timestamp cost).
    #[inline]
    pub fn parse(self, field: &[u8]) -> Option<i64> {
        if matches!(
            self,
            TimeFormat::Auto | TimeFormat::Int | TimeFormat::Unix(_)
        ) {
            if let Some(value) = crate::csv::short_integer(field) {
                return Some(value);
            }
        }
        self.parse_text(field)
    }

    /// [`TimeFormat::parse`] of what is not a plain integer.
    #[inline(never)]
    fn parse_text(self, field: &[u8]) -> Option<i64> {
        let text = std::str::from_utf8(field).ok()?.trim();
        match self {
            TimeFormat::Int => text.parse().ok(),
            TimeFormat::Float => float(text, true),
            TimeFormat::Unix(_) => text.parse().ok().or_else(|| float(text, false)),
            TimeFormat::Iso => iso(text),
            TimeFormat::Auto => text
                .parse()
                .ok()
                .or_else(|| float(text, false))
                .or_else(|| iso(text)),
        }
    }

    /// The unit this format fixes; `None` when it is inferred from the values.
    pub fn unit(self) -> Option<TimeUnit> {
        match self {
            TimeFormat::Unix(unit) => Some(unit),
            TimeFormat::Iso => Some(TimeUnit::Seconds),
            TimeFormat::Auto | TimeFormat::Int | TimeFormat::Float => None,
        }
    }
}

/// A point in time as a user gives it (`--split-at`): a number in the store's unit, or
/// an ISO-8601 date or date-time, converted to the store's unit when it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePoint {
    /// An integer or whole float, taken in the store's own unit.
    Number(i64),
    /// An ISO-8601 date or date-time, as Unix seconds.
    Instant { unix_seconds: i64 },
}

impl TimePoint {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        text.parse()
            .ok()
            .or_else(|| float(text, false))
            .map(TimePoint::Number)
            .or_else(|| iso(text).map(|unix_seconds| TimePoint::Instant { unix_seconds }))
    }

    /// This point as a timestamp of `unit`; `None` if it overflows i64.
    pub fn in_unit(self, unit: TimeUnit) -> Option<i64> {
        match self {
            TimePoint::Number(n) => Some(n),
            TimePoint::Instant { unix_seconds } => unix_seconds.checked_mul(unit.per_second()),
        }
    }
}

/// A float as an integer: exactly (its fraction must be zero) or rounded.
fn float(text: &str, round: bool) -> Option<i64> {
    whole(text.parse().ok()?, round)
}

/// `value` as an integer: exactly (its fraction must be zero) or rounded; `None` for
/// NaN, infinities and values beyond i64.
pub(crate) fn whole(value: f64, round: bool) -> Option<i64> {
    let whole = if round { value.round() } else { value };
    // i64 covers ±9.2e18; 2^63 itself is out of range.
    (whole.fract() == 0.0 && whole.abs() < 9.2e18).then_some(whole as i64)
}

/// Unix seconds of an ISO-8601 date or date-time.
fn iso(text: &str) -> Option<i64> {
    let (date, time) = match text.find(['T', ' ']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (digits(y)?, digits(m)? as u32, digits(d)? as u32);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let mut seconds = days_from_civil(y, m, d) * 86_400;
    if let Some(time) = time {
        let (clock, offset) = split_zone(time)?;
        let mut fields = clock.splitn(3, ':');
        let h = digits(fields.next().filter(|f| f.len() == 2)?)?;
        let min = digits(fields.next().filter(|f| f.len() == 2)?)?;
        let s = match fields.next() {
            None => 0,
            Some(sec) => {
                let whole = sec.split('.').next()?;
                let fraction = &sec[whole.len()..];
                if whole.len() != 2 || (!fraction.is_empty() && digits(&fraction[1..]).is_none()) {
                    return None;
                }
                digits(whole)?
            }
        };
        if h > 23 || min > 59 || s > 60 {
            return None;
        }
        seconds += h * 3600 + min * 60 + s - offset;
    }
    Some(seconds)
}

/// The clock part and the zone's offset east of UTC in seconds (0 for `Z` or none).
fn split_zone(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix('Z') {
        return Some((clock, 0));
    }
    match time.rfind(['+', '-']) {
        Some(at) => {
            let zone = &time[at + 1..];
            let (h, m) = zone
                .split_once(':')
                .unwrap_or((zone.get(..2)?, zone.get(2..)?));
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let offset = digits(h)? * 3600 + digits(m)? * 60;
            Some((
                &time[..at],
                if &time[at..at + 1] == "-" {
                    -offset
                } else {
                    offset
                },
            ))
        }
        None => Some((time, 0)),
    }
}

fn digits(text: &str) -> Option<i64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// (year, month, day) of a day count since 1970-01-01 (the inverse of
/// [`days_from_civil`], after Howard Hinnant).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_reads_integers_whole_floats_and_iso() {
        let auto = |s: &str| TimeFormat::Auto.parse(s.as_bytes());
        assert_eq!(auto("881250949"), Some(881_250_949));
        assert_eq!(auto("881250949.0"), Some(881_250_949));
        assert_eq!(
            auto("881250949.5"),
            None,
            "a fraction needs --time-format float"
        );
        assert_eq!(auto("1970-01-01"), Some(0));
        assert_eq!(auto("2024-05-01"), Some(1_714_521_600));
        assert_eq!(auto("2024-05-01 12:00:00"), Some(1_714_564_800));
        assert_eq!(auto("2024-05-01T12:00:00Z"), Some(1_714_564_800));
        assert_eq!(auto("2024-05-01T14:00:00+02:00"), Some(1_714_564_800));
        assert_eq!(auto("2024-05-01T07:30:00-0430"), Some(1_714_564_800));
        assert_eq!(auto("2024-05-01T12:00:00.999"), Some(1_714_564_800));
        assert_eq!(auto("2024-02-29T00:00"), Some(1_709_164_800));
        assert_eq!(auto("1969-12-31T23:59:59Z"), Some(-1));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-5-1",
            "yesterday",
            "2024-05-01T25:00",
            "",
            "nan",
        ] {
            assert_eq!(auto(bad), None, "{bad}");
        }
    }

    #[test]
    fn explicit_formats() {
        assert_eq!(TimeFormat::Float.parse(b"1.5"), Some(2));
        assert_eq!(TimeFormat::Float.parse(b"-3.2"), Some(-3));
        assert_eq!(TimeFormat::Int.parse(b"1.0"), None);
        assert_eq!(TimeFormat::Iso.parse(b"100"), None);
        assert_eq!("iso".parse(), Ok(TimeFormat::Iso));
        assert_eq!(
            "unix-ms".parse(),
            Ok(TimeFormat::Unix(TimeUnit::Milliseconds))
        );
        assert_eq!(
            TimeFormat::Unix(TimeUnit::Milliseconds).parse(b"1714564800000.0"),
            Some(1_714_564_800_000)
        );
        assert_eq!(TimeFormat::Unix(TimeUnit::Seconds).parse(b"1.5"), None);
        assert!("rfc".parse::<TimeFormat>().is_err());
        assert!("unix-min".parse::<TimeFormat>().is_err());
    }

    proptest::proptest! {
        /// The integer fast path gives what the general reader gives, for every
        /// format that takes integers: signs, spaces, leading zeros, 17–20 digits
        /// (around the fast path's limit and i64's), stray bytes.
        #[test]
        fn integers_read_as_the_general_reader_reads_them(
            field in "[ +-]?[0-9]{0,20}[ .a\u{e9}]?",
        ) {
            let general = std::str::from_utf8(field.as_bytes())
                .ok()
                .and_then(|text| text.trim().parse::<i64>().ok());
            proptest::prop_assert_eq!(TimeFormat::Int.parse(field.as_bytes()), general);
            if general.is_some() {
                // (The others also read floats and dates when this fails.)
                for format in [TimeFormat::Auto, TimeFormat::Unix(TimeUnit::Seconds)] {
                    proptest::prop_assert_eq!(format.parse(field.as_bytes()), general);
                }
            }
        }
    }

    #[test]
    fn integers_at_the_fast_paths_limit() {
        let int = |s: &str| TimeFormat::Int.parse(s.as_bytes());
        assert_eq!(int("999999999999999999"), Some(999_999_999_999_999_999));
        assert_eq!(int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(int("9223372036854775807"), Some(i64::MAX));
        assert_eq!(int("9223372036854775808"), None);
        assert_eq!(int("+007"), Some(7));
        assert_eq!(int("-0"), Some(0));
        assert_eq!(int("-"), None);
        assert_eq!(int("+"), None);
    }

    /// Unix timestamps of each unit from 1973 to 5138 infer that unit.
    #[test]
    fn units_inferred_from_magnitude() {
        let may_2024 = 1_714_564_800u64;
        for unit in TimeUnit::ALL {
            let per = unit.per_second() as u64;
            assert_eq!(TimeUnit::infer(may_2024 * per), unit);
            assert_eq!(TimeUnit::infer(100_000_000 * per), unit, "1973-03");
            // (i64 nanoseconds end in 2262)
            assert_eq!(
                TimeUnit::infer(99_999_999_999u64.saturating_mul(per)),
                unit,
                "5138"
            );
        }
        assert_eq!(TimeUnit::infer(0), TimeUnit::Seconds);
        assert_eq!(TimeUnit::infer(u64::MAX), TimeUnit::Nanoseconds);
    }

    /// `to_iso` inverts the ISO reader for every unit, before and after 1970.
    #[test]
    fn iso_round_trips_through_every_unit() {
        for text in [
            "2024-05-01T12:00:00Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2000-02-29T23:59:59Z",
            "1900-03-01T00:00:00Z",
            "2100-12-31T00:00:01Z",
        ] {
            let seconds = iso(text).unwrap();
            for unit in TimeUnit::ALL {
                let point = TimePoint::parse(text).unwrap();
                let value = point.in_unit(unit).unwrap();
                assert_eq!(value, seconds * unit.per_second());
                assert_eq!(unit.to_iso(value), text, "{unit}");
                assert_eq!(unit.to_iso(value + unit.per_second() - 1), text, "floored");
            }
        }
        assert_eq!(
            TimePoint::parse("1714521600"),
            Some(TimePoint::Number(1_714_521_600))
        );
        assert_eq!(
            TimePoint::parse("1714521600.0"),
            Some(TimePoint::Number(1_714_521_600))
        );
        assert_eq!(TimePoint::parse("soon"), None);
        let far = TimePoint::parse("9999-12-31").unwrap();
        assert_eq!(far.in_unit(TimeUnit::Nanoseconds), None, "overflows i64");
    }
}
