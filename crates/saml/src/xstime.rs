//! xs:dateTime in UTC (SAML core 1.3.3) <-> milliseconds since the Unix epoch.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::SamlError;

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` into milliseconds since the epoch (fraction truncated to ms).
///
/// SAML requires UTC with the `Z` designator; other offsets and missing zones are refused.
pub(crate) fn parse_ms(s: &str) -> Result<i64, SamlError> {
    let bad = || SamlError::malformed(format!("\"{s}\" is not an xs:dateTime in UTC (YYYY-MM-DDTHH:MM:SS[.fff]Z)"));
    let b = s.as_bytes();
    if b.len() < 20 || !s.is_ascii() || b[b.len() - 1] != b'Z' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, SamlError> {
        let part = &s[r];
        if part.bytes().all(|c| c.is_ascii_digit()) { part.parse::<u32>().map_err(|_| bad()) } else { Err(bad()) }
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut millis = 0u32;
    let rest = &s[19..s.len() - 1];
    if !rest.is_empty() {
        let frac = rest.strip_prefix('.').ok_or_else(bad)?;
        if frac.is_empty() || frac.len() > 12 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let mut digits = frac.bytes().chain(std::iter::repeat(b'0')).take(3);
        for _ in 0..3 {
            millis = millis * 10 + u32::from(digits.next().unwrap_or(b'0') - b'0');
        }
    }
    let month = Month::try_from(u8::try_from(month).map_err(|_| bad())?).map_err(|_| bad())?;
    let date =
        Date::from_calendar_date(i32::try_from(year).map_err(|_| bad())?, month, u8::try_from(day).map_err(|_| bad())?)
            .map_err(|_| bad())?;
    let (hour, minute, second) = (
        u8::try_from(hour).map_err(|_| bad())?,
        u8::try_from(minute).map_err(|_| bad())?,
        u8::try_from(second).map_err(|_| bad())?,
    );
    let time =
        Time::from_hms_milli(hour, minute, second, u16::try_from(millis).map_err(|_| bad())?).map_err(|_| bad())?;
    let dt = PrimitiveDateTime::new(date, time).assume_utc();
    i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())
}

/// Formats milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (milliseconds only when non-zero).
pub(crate) fn format_ms(ms: i64) -> String {
    let dt =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    match dt.millisecond() {
        0 => format!("{base}Z"),
        m => format!("{base}.{m:03}Z"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_with_and_without_fraction() {
        assert_eq!(parse_ms("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_ms("2024-02-29T12:34:56Z").unwrap(), 1_709_210_096_000);
        assert_eq!(parse_ms("2024-02-29T12:34:56.7Z").unwrap(), 1_709_210_096_700);
        assert_eq!(parse_ms("2024-02-29T12:34:56.123456789Z").unwrap(), 1_709_210_096_123);
    }

    #[test]
    fn refuses_non_utc_and_garbage() {
        for s in [
            "2024-02-29T12:34:56",
            "2024-02-29T12:34:56+01:00",
            "2024-02-30T12:34:56Z",
            "2024-02-29 12:34:56Z",
            "2024-02-29T24:00:00Z",
            "2024-02-29T12:34:56.Z",
            "+024-02-29T12:34:56Z",
            "2024-02-29T12:34:5éZ",
        ] {
            assert!(parse_ms(s).is_err(), "{s}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for ms in [0, 1_709_210_096_000, 1_709_210_096_123] {
            assert_eq!(parse_ms(&format_ms(ms)).unwrap(), ms);
        }
        assert_eq!(format_ms(1_709_210_096_000), "2024-02-29T12:34:56Z");
    }
}
