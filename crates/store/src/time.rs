//! Timestamps as sources write them: integers, floats (what pandas writes once an
//! integer column has held a NaN), and ISO-8601 dates and date-times. A store keeps
//! integers; ISO values become Unix seconds.

/// How a time column's values are read (`--time-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimeFormat {
    /// An integer, a float whose fraction is zero (`881250949.0`), or an ISO-8601 date
    /// or date-time (Unix seconds).
    #[default]
    Auto,
    /// Integers only.
    Int,
    /// Any number, rounded to the nearest integer (`1.5` → 2).
    Float,
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
            "int" | "unix-s" => TimeFormat::Int,
            "float" => TimeFormat::Float,
            "iso" => TimeFormat::Iso,
            other => {
                return Err(format!(
                    "unknown time format {other:?}; use auto, int, float or iso"
                ))
            }
        })
    }
}

impl TimeFormat {
    /// The timestamp `field` holds, if it is one in this format.
    pub fn parse(self, field: &[u8]) -> Option<i64> {
        let text = std::str::from_utf8(field).ok()?.trim();
        match self {
            TimeFormat::Int => text.parse().ok(),
            TimeFormat::Float => float(text, true),
            TimeFormat::Iso => iso(text),
            TimeFormat::Auto => text
                .parse()
                .ok()
                .or_else(|| float(text, false))
                .or_else(|| iso(text)),
        }
    }
}

/// A float as an integer: exactly (its fraction must be zero) or rounded.
fn float(text: &str, round: bool) -> Option<i64> {
    let value: f64 = text.parse().ok()?;
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
        assert!("rfc".parse::<TimeFormat>().is_err());
    }
}
