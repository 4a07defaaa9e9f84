//! Time is a parameter: core logic takes `now`; the [`Clock`] port lets tests move time.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Where the current time comes from.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that tests set and advance.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: OffsetDateTime) -> Self {
        Self(std::sync::Mutex::new(at))
    }
    /// Moves the clock forward.
    pub fn advance(&self, by: time::Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.0.lock().map(|t| *t).unwrap_or_else(|e| *e.into_inner())
    }
}

/// Unix epoch milliseconds, the storage form of every instant.
pub fn to_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The instant for stored milliseconds (clamped to the representable range).
pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Graph's DateTimeOffset wire form: `2024-01-02T03:04:05Z` (fractions only when present).
pub fn graph_datetime(ms: i64) -> String {
    let t = from_millis(ms);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    match t.millisecond() {
        0 => format!("{base}Z"),
        m => format!("{base}.{m:03}Z"),
    }
}

/// Parses an RFC 3339 instant into milliseconds.
pub fn parse_rfc3339_millis(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(to_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_datetime_round_trips_through_millis() {
        let ms = parse_rfc3339_millis("2024-02-29T23:59:58.250+01:00").unwrap();
        assert_eq!(graph_datetime(ms), "2024-02-29T22:59:58.250Z");
        assert_eq!(graph_datetime(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn manual_clock_advances() {
        let c = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        c.advance(time::Duration::seconds(90));
        assert_eq!(to_millis(c.now()), 90_000);
    }
}
