//! RFC 3339 timestamps in UTC, as the status document carries them (`2026-11-24T14:22:10Z`).
//!
//! Only what the daemon and the plugins need: whole seconds in UTC when writing; when reading,
//! an optional fraction and a numeric offset are accepted too, because the document may one
//! day be written by something else.
//!
//! The calendar (which dates exist, days since the epoch, applying an offset) and the
//! printing are `jiff`'s, built without its time zone database. The layout check stays
//! here: jiff's own parser reads the wider Temporal/ISO 8601 grammar (`+0100`, `+01`,
//! `T14:22Z`, `[Europe/Paris]` annotations) and reads a leap second as `:59`, and the status
//! document's readers must not start accepting timestamps that other RFC 3339 readers of the
//! same document reject.

use jiff::{
    civil::{Date, DateTime, Time},
    tz::Offset,
    SignedDuration, Timestamp,
};
use std::time::{SystemTime, UNIX_EPOCH};

/// Why a timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 timestamp {input:?}: {reason}")]
pub struct TimeError {
    /// The text that was given, whole, so that a message shows what the document held.
    pub input: String,
    /// What is wrong with it, in a few words (`"no such date"`, `"before 1970"`, ...).
    pub reason: &'static str,
}

/// Formats `t` as `YYYY-MM-DDTHH:MM:SSZ` in UTC, truncated to the second. Times before 1970
/// are written as the epoch, and times past jiff's range as its last second,
/// `9999-12-30T22:00:00Z`: no clock this program reads is that wrong on purpose.
pub fn format_rfc3339(t: SystemTime) -> String {
    let ts = Timestamp::try_from(t).unwrap_or(if t < UNIX_EPOCH {
        Timestamp::UNIX_EPOCH
    } else {
        Timestamp::MAX
    });
    // Precision 0 truncates the fraction (never rounds up) and prints no `.`.
    format!("{:.0}", ts.max(Timestamp::UNIX_EPOCH))
}

/// Reads `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (a space or lowercase `t`/`z` also
/// accepted, as RFC 3339 allows). Digits of the fraction past nanoseconds are ignored; a
/// leap second (`:60`) is read as the start of the next second. Times before 1970 are an
/// error, and so are times after 9999-12-30 (past what jiff represents).
pub fn parse_rfc3339(input: &str) -> Result<SystemTime, TimeError> {
    let err = |reason| TimeError {
        input: input.to_string(),
        reason,
    };
    let b = input.as_bytes();
    if b.len() < 20 {
        return Err(err("too short"));
    }
    let num = |range: std::ops::Range<usize>| -> Result<u16, TimeError> {
        let s = &b[range];
        if !s.iter().all(u8::is_ascii_digit) {
            return Err(err("expected a digit"));
        }
        Ok(s.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0')))
    };
    let sep_ok = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !sep_ok {
        return Err(err("expected YYYY-MM-DDTHH:MM:SS"));
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Every field is at most 4 digits (year ≤ 9999, the rest ≤ 99), so the casts are exact.
    let date = Date::new(year as i16, month as i8, day as i8).map_err(|_| err("no such date"))?;
    // Second 60 is a leap second; count it as the next second's start.
    if hour > 23 || minute > 59 || second > 60 {
        return Err(err("no such time of day"));
    }
    let leap = second == 60;
    let mut rest = &b[19..];
    let mut nanos = 0i32;
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(err("empty fraction of a second"));
        }
        for (i, d) in frac[..digits].iter().enumerate().take(9) {
            nanos += i32::from(d - b'0') * 10i32.pow(8 - i as u32);
        }
        rest = &frac[digits..];
    }
    let offset_secs: i32 = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(err("bad UTC offset"));
            }
            let h = i32::from((h1 - b'0') * 10 + (h2 - b'0'));
            let m = i32::from((m1 - b'0') * 10 + (m2 - b'0'));
            if h > 23 || m > 59 {
                return Err(err("bad UTC offset"));
            }
            let off = h * 3600 + m * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return Err(err("expected Z or a ±HH:MM offset after the time")),
    };
    let time = Time::new(
        hour as i8,
        minute as i8,
        if leap { 59 } else { second as i8 },
        nanos,
    )
    .map_err(|_| err("no such time of day"))?;
    let offset = Offset::from_seconds(offset_secs).map_err(|_| err("bad UTC offset"))?;
    let out_of_range = |_| err("after 9999-12-30");
    let mut utc = offset
        .to_timestamp(DateTime::from_parts(date, time))
        .map_err(out_of_range)?;
    if leap {
        utc = utc
            .checked_add(SignedDuration::from_secs(1))
            .map_err(out_of_range)?;
    }
    if utc < Timestamp::UNIX_EPOCH {
        return Err(err("before 1970"));
    }
    SystemTime::try_from(utc).map_err(out_of_range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(at(1_795_530_130)), "2026-11-24T14:22:10Z");
        assert_eq!(format_rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(at(4_107_542_399)), "2100-02-28T23:59:59Z");
        assert_eq!(format_rfc3339(at(4_107_542_400)), "2100-03-01T00:00:00Z");
        // Sub-second parts are truncated, never rounded up.
        assert_eq!(
            format_rfc3339(at(59) + Duration::from_millis(999)),
            "1970-01-01T00:00:59Z"
        );
    }

    #[test]
    fn round_trips_every_day_for_centuries() {
        for day in (0..150_000u64).step_by(7) {
            let t = at(day * 86_400 + 12 * 3600 + 34 * 60 + 56);
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Ok(t), "day {day}");
        }
    }

    #[test]
    fn parses_fractions_and_offsets() {
        let base = at(1_795_530_130);
        assert_eq!(parse_rfc3339("2026-11-24T14:22:10Z"), Ok(base));
        assert_eq!(parse_rfc3339("2026-11-24t14:22:10z"), Ok(base));
        assert_eq!(parse_rfc3339("2026-11-24 14:22:10Z"), Ok(base));
        assert_eq!(
            parse_rfc3339("2026-11-24T14:22:10.25Z"),
            Ok(base + Duration::from_millis(250))
        );
        assert_eq!(parse_rfc3339("2026-11-24T15:22:10+01:00"), Ok(base));
        assert_eq!(parse_rfc3339("2026-11-24T09:52:10-04:30"), Ok(base));
    }

    #[test]
    fn leap_seconds_offsets_across_the_epoch_and_the_far_end() {
        let base = at(1_795_530_130);
        // A leap second is the start of the next second, even across midnight and the epoch.
        assert_eq!(
            parse_rfc3339("2026-11-24T14:22:60Z"),
            Ok(base + Duration::from_secs(50))
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:60Z"), Ok(UNIX_EPOCH));
        // The offset decides which side of 1970 a time falls on, not the local date.
        assert_eq!(parse_rfc3339("1969-12-31T23:30:00-01:00"), Ok(at(1800)));
        let e = parse_rfc3339("1970-01-01T00:30:00+01:00").unwrap_err();
        assert_eq!(e.reason, "before 1970");
        // Fraction digits past nanoseconds are dropped, not rounded.
        assert_eq!(
            parse_rfc3339("2026-11-24T14:22:10.1234567899Z"),
            Ok(base + Duration::from_nanos(123_456_789))
        );
        // Past jiff's range: formatting clamps to its last second, parsing says why.
        assert_eq!(format_rfc3339(at(300_000_000_000)), "9999-12-30T22:00:00Z");
        assert!(parse_rfc3339("9999-12-30T22:00:00Z").is_ok());
        let e = parse_rfc3339("9999-12-31T00:00:00Z").unwrap_err();
        assert_eq!(e.reason, "after 9999-12-30");
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        for bad in [
            "",
            "yesterday",
            "2026-11-24",
            "2026-11-24T14:22:10",
            "2026-11-24T14:22:10+0100",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T14:60:00Z",
            "2026-11-24T14:22:10.Z",
            "2026-11-24T14:22:10Zjunk",
            "1969-12-31T23:59:59Z",
            "20x6-11-24T14:22:10Z",
        ] {
            let e = parse_rfc3339(bad).expect_err(bad);
            assert!(e.to_string().contains(bad), "{e}");
        }
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_ok());
    }
}
