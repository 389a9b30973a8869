//! RFC 3339 timestamps in UTC, as the status document carries them (`2026-11-24T14:22:10Z`).
//!
//! Only what the daemon and the plugins need: whole seconds in UTC when writing; when reading,
//! an optional fraction and a numeric offset are accepted too, because the document may one
//! day be written by something else. Kept here (a few dozen lines of calendar arithmetic)
//! rather than pulling `chrono` into every plugin.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 timestamp {input:?}: {reason}")]
pub struct TimeError {
    pub input: String,
    pub reason: &'static str,
}

/// Formats `t` as `YYYY-MM-DDTHH:MM:SSZ` in UTC, truncated to the second. Times before 1970
/// are written as the epoch (no clock this program reads is that wrong on purpose).
pub fn format_rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Reads `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (a space or lowercase `t`/`z` also
/// accepted, as RFC 3339 allows). Times before 1970 are an error.
pub fn parse_rfc3339(input: &str) -> Result<SystemTime, TimeError> {
    let err = |reason| TimeError {
        input: input.to_string(),
        reason,
    };
    let b = input.as_bytes();
    if b.len() < 20 {
        return Err(err("too short"));
    }
    let num = |range: std::ops::Range<usize>| -> Result<u32, TimeError> {
        let s = &b[range];
        if !s.iter().all(u8::is_ascii_digit) {
            return Err(err("expected a digit"));
        }
        Ok(s.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
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
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(err("no such date"));
    }
    // Second 60 is a leap second; count it as the next second's start.
    if hour > 23 || minute > 59 || second > 60 {
        return Err(err("no such time of day"));
    }
    let mut rest = &b[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(err("empty fraction of a second"));
        }
        for (i, d) in frac[..digits].iter().enumerate().take(9) {
            nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
        }
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(err("bad UTC offset"));
            }
            let h = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
            let m = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
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
    let days = days_from_civil(year as i64, month, day);
    let local = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    let utc = local - offset_secs;
    if utc < 0 {
        return Err(err("before 1970"));
    }
    Ok(UNIX_EPOCH + Duration::new(utc as u64, nanos))
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`, shifted so that the year starts in March and leap days come last).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March-based) year
    let mp = (5 * doy + 2) / 153; // March-based month
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

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
