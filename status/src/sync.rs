//! The data-sync flag (docs/design.md, 'The sync flag'): is staging's nightly data sync
//! running right now?
//!
//! Read the same way by the daemon (which pauses replay) and by the check plugins (which
//! downgrade their alerts to OK, with the truth in the text), so the rules live only here.
//!
//! **The flag file.** A sync is in progress when the file exists and its first line, trimmed,
//! is non-empty and not `false`, `0` or `no` (any case). A missing or empty file means no
//! sync. `since` is the file's modification time: the cron that writes `true` at the start of
//! the sync is what sets it. A file that exists but cannot be read (permissions, a directory)
//! counts as *no* sync and the reading carries the error: a broken flag must never silence an
//! alert.
//!
//! **Staleness.** A flag set for longer than `max_age` (default 12 h; the nightly sync takes
//! 10) is *stale*: the sync most likely aborted and left the flag behind, which is exactly the
//! silent failure of the old runbook. A stale reading still says `in_progress` (that is what
//! the file says), but [`SyncReading::downgrades`] is false and the plugins warn about it.
//!
//! **The window** (`--sync-window 22:00-08:00`, UTC, start inclusive, end exclusive, crossing
//! midnight when the end is before the start; `22:0-8:0` is accepted too). An SRE who passes a
//! window is saying "the sync runs at these hours" for a site that gates by time and has no
//! flag, so *inside the window counts as a sync in progress on its own*, whatever the flag
//! says; `since` is then the start of the current window (or the flag's mtime, when the flag
//! is set too). A window is never stale: it closes by itself. UTC because the GOV.UK cron and
//! Icinga's ScheduledDowntime examples are in UTC and a host's local time zone must not move
//! the window twice a year.
//!
//! Over 600 lines because half of it is the tests: every rule above at, just inside and just
//! outside each of its boundaries, which belong next to the rules they pin down.

use crate::schema::SyncStatus;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// GOV.UK's flag file, written by the data-sync cron and read by Puppet as a fact.
pub const DEFAULT_FLAG: &str = "/etc/govuk/env.d/FACTER_data_sync_in_progress";

/// How long a flag may stay set before it is called stale.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(12 * 3600);

/// Where to look and what to believe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// The flag file (`--sync-flag`); [`DEFAULT_FLAG`] unless configured.
    pub flag: PathBuf,
    /// How long the flag may stay set before it is stale (`--sync-max-age`);
    /// [`DEFAULT_MAX_AGE`] unless configured.
    pub max_age: Duration,
    /// Hours that count as a sync in progress on their own (`--sync-window`), for sites that
    /// gate by time rather than by flag. `None`: the flag alone decides.
    pub window: Option<SyncWindow>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            flag: PathBuf::from(DEFAULT_FLAG),
            max_age: DEFAULT_MAX_AGE,
            window: None,
        }
    }
}

/// A daily time window in UTC, e.g. `22:00-08:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncWindow {
    /// Minutes after midnight UTC when the window opens (inclusive).
    pub start_min: u32,
    /// Minutes after midnight UTC when the window closes (exclusive).
    pub end_min: u32,
}

const DAY_SECS: u64 = 86_400;

impl SyncWindow {
    /// Whether `now` falls inside the window.
    pub fn contains(&self, now: SystemTime) -> bool {
        self.opened_at(now).is_some()
    }

    /// When the occurrence of the window that contains `now` opened, or `None` when `now` is
    /// outside the window.
    pub fn opened_at(&self, now: SystemTime) -> Option<SystemTime> {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        let minute_of_day = (secs % DAY_SECS / 60) as u32;
        let midnight = secs - secs % DAY_SECS;
        let (start, end) = (self.start_min, self.end_min);
        let opened_midnight = if start < end {
            (start..end).contains(&minute_of_day).then_some(midnight)
        } else if minute_of_day >= start {
            Some(midnight)
        } else if minute_of_day < end {
            // The window opened yesterday evening.
            midnight.checked_sub(DAY_SECS)
        } else {
            None
        }?;
        Some(UNIX_EPOCH + Duration::from_secs(opened_midnight + u64::from(start) * 60))
    }
}

impl fmt::Display for SyncWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start_min / 60,
            self.start_min % 60,
            self.end_min / 60,
            self.end_min % 60
        )
    }
}

/// A value that could not be read: a window, a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct ParseError {
    /// What was being read (`"sync window"`, `"duration"`), to start the message with.
    pub what: &'static str,
    /// The text that was given, whole.
    pub input: String,
    /// What is wrong with it, and where the format allows, what is expected instead.
    pub reason: &'static str,
}

impl FromStr for SyncWindow {
    type Err = ParseError;

    /// `HH:MM-HH:MM` with one- or two-digit fields, 00:00 to 23:59. Equal ends are refused:
    /// "never" and "always" are both plausible readings, so neither is guessed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseError {
            what: "sync window",
            input: s.to_string(),
            reason,
        };
        let (a, b) = s
            .trim()
            .split_once('-')
            .ok_or(err("expected HH:MM-HH:MM"))?;
        let clock = |t: &str| -> Result<u32, ParseError> {
            let (h, m) = t.split_once(':').ok_or(err("expected HH:MM-HH:MM"))?;
            let field = |f: &str, max: u32| -> Result<u32, ParseError> {
                if f.is_empty() || f.len() > 2 || !f.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(err("expected HH:MM-HH:MM"));
                }
                let n: u32 = f.parse().map_err(|_| err("expected HH:MM-HH:MM"))?;
                if n > max {
                    return Err(err("hours run 0-23 and minutes 0-59"));
                }
                Ok(n)
            };
            Ok(field(h, 23)? * 60 + field(m, 59)?)
        };
        let (start_min, end_min) = (clock(a)?, clock(b)?);
        if start_min == end_min {
            return Err(err("start and end are the same time"));
        }
        Ok(SyncWindow { start_min, end_min })
    }
}

/// Reads `45s`, `90m`, `12h`, `1h30m`, `1d` (units d, h, m, s, in any combination) or a bare
/// number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, ParseError> {
    let err = |reason| ParseError {
        what: "duration",
        input: s.to_string(),
        reason,
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(err("empty"));
    }
    if t.bytes().all(|c| c.is_ascii_digit()) {
        return t
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| err("too large"));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'd' => DAY_SECS,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(err("units are d, h, m and s, e.g. 12h or 1h30m")),
        };
        if digits.is_empty() {
            return Err(err("a unit without a number"));
        }
        let n: u64 = digits.parse().map_err(|_| err("too large"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or(err("too large"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(err("a number without a unit after another with one"));
    }
    Ok(Duration::from_secs(total))
}

/// A duration the way an SRE reads it in an alert: `45s`, `13m5s`, `2h13m`, `12h`, `3d4h`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / DAY_SECS, s % DAY_SECS / 3600, s % 3600 / 60, s % 60);
    // The two largest units, the second left out when it is zero: `2h13m`, `12h`, `1d`.
    let (big, big_unit, small, small_unit) = if days > 0 {
        (days, "d", hours, "h")
    } else if hours > 0 {
        (hours, "h", mins, "m")
    } else if mins > 0 {
        (mins, "m", secs, "s")
    } else {
        return format!("{secs}s");
    };
    if small == 0 {
        format!("{big}{big_unit}")
    } else {
        format!("{big}{big_unit}{small}{small_unit}")
    }
}

/// What the flag (and the window) say at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncReading {
    /// A sync is running: the flag is set, or we are inside the window.
    pub in_progress: bool,
    /// The flag file says a sync is running.
    pub flag_set: bool,
    /// `now` falls inside the configured window.
    pub in_window: bool,
    /// Since when: the flag's mtime when it is set, else the current window's opening.
    pub since: Option<SystemTime>,
    /// The flag has been set longer than `max_age`.
    pub stale: bool,
    /// The flag's first line, trimmed, when the file could be read.
    pub flag_value: Option<String>,
    /// The flag file exists but could not be read; counts as not set.
    pub error: Option<String>,
}

impl SyncReading {
    /// Whether alerts should be downgraded to OK: a sync is running and the flag is not stale.
    pub fn downgrades(&self) -> bool {
        self.in_progress && !self.stale
    }

    /// How long the sync has been running at `now` (zero if `since` is in the future).
    pub fn running_for(&self, now: SystemTime) -> Option<Duration> {
        self.since
            .map(|since| now.duration_since(since).unwrap_or(Duration::ZERO))
    }

    /// The `sync` section of the status document.
    pub fn to_status(&self, config: &SyncConfig) -> SyncStatus {
        SyncStatus {
            in_progress: self.in_progress,
            flag: config.flag.display().to_string(),
            since: self
                .since
                .filter(|_| self.in_progress)
                .map(crate::time::format_rfc3339),
            stale: self.stale,
        }
    }
}

/// Whether a flag's first line means "a sync is running".
pub fn flag_value_means_in_progress(first_line: &str) -> bool {
    let v = first_line.trim();
    !v.is_empty()
        && !["false", "0", "no"]
            .iter()
            .any(|f| v.eq_ignore_ascii_case(f))
}

/// Reads the flag file and the window at `now`.
pub fn read_sync(config: &SyncConfig, now: SystemTime) -> SyncReading {
    let mut reading = SyncReading::default();
    match read_flag(&config.flag) {
        Ok(None) => {}
        Ok(Some((value, mtime))) => {
            reading.flag_set = flag_value_means_in_progress(&value);
            if reading.flag_set {
                reading.since = Some(mtime);
                let age = now.duration_since(mtime).unwrap_or(Duration::ZERO);
                reading.stale = age > config.max_age;
            }
            reading.flag_value = Some(value);
        }
        Err(e) => reading.error = Some(format!("{}: {e}", config.flag.display())),
    }
    if let Some(opened) = config.window.and_then(|w| w.opened_at(now)) {
        reading.in_window = true;
        reading.since = reading.since.or(Some(opened));
    }
    reading.in_progress = reading.flag_set || reading.in_window;
    reading
}

/// The first line (trimmed) and mtime of the flag, `None` when the file does not exist.
fn read_flag(path: &Path) -> std::io::Result<Option<(String, SystemTime)>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mtime = file.metadata()?.modified()?;
    // The flag is one short line; never read more than a page of whatever is there.
    let mut head = Vec::with_capacity(64);
    file.take(4096).read_to_end(&mut head)?;
    let text = String::from_utf8_lossy(&head);
    let first = text.lines().next().unwrap_or("").trim().to_string();
    Ok(Some((first, mtime)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// 2026-11-24 at `h:m` UTC.
    fn nov24(h: u64, m: u64) -> SystemTime {
        at(1_795_478_400 + h * 3600 + m * 60)
    }

    struct TempFlag(PathBuf);
    impl TempFlag {
        fn new(tag: &str) -> TempFlag {
            let dir = std::env::temp_dir()
                .join(format!("replayer-status-sync-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempFlag(dir.join("FACTER_data_sync_in_progress"))
        }
        fn config(&self) -> SyncConfig {
            SyncConfig {
                flag: self.0.clone(),
                ..SyncConfig::default()
            }
        }
        fn write(&self, content: &str) -> SystemTime {
            fs::write(&self.0, content).unwrap();
            fs::metadata(&self.0).unwrap().modified().unwrap()
        }
    }
    impl Drop for TempFlag {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(self.0.parent().unwrap());
        }
    }

    #[test]
    fn defaults_are_govuks() {
        let c = SyncConfig::default();
        assert_eq!(
            c.flag,
            Path::new("/etc/govuk/env.d/FACTER_data_sync_in_progress")
        );
        assert_eq!(c.max_age, Duration::from_secs(43_200));
        assert_eq!(c.window, None);
    }

    #[test]
    fn missing_file_is_no_sync() {
        let flag = TempFlag::new("missing");
        let r = read_sync(&flag.config(), SystemTime::now());
        assert_eq!(r, SyncReading::default());
        assert!(!r.downgrades());
    }

    #[test]
    fn flag_contents() {
        let flag = TempFlag::new("contents");
        for (content, set) in [
            ("", false),
            ("\n", false),
            ("   \t \n", false),
            ("true", true),
            ("true\n", true),
            ("  TRUE \r\n", true),
            ("yes", true),
            ("1", true),
            ("false", false),
            ("False\n", false),
            ("0", false),
            (" 0 \n", false),
            ("no", false),
            ("NO\n", false),
            ("\ntrue\n", false), // only the first line counts
            ("true\nfalse\n", true),
            ("nope", true), // only false, 0 and no mean "no sync"
        ] {
            let mtime = flag.write(content);
            let now = mtime + Duration::from_secs(60);
            let r = read_sync(&flag.config(), now);
            assert_eq!(r.flag_set, set, "{content:?}");
            assert_eq!(r.in_progress, set, "{content:?}");
            assert_eq!(r.downgrades(), set, "{content:?}");
            assert_eq!(r.since, set.then_some(mtime), "{content:?}");
            assert_eq!(
                r.flag_value.as_deref(),
                Some(content.lines().next().unwrap_or("").trim())
            );
            assert!(!r.stale);
            assert_eq!(r.error, None);
            if set {
                assert_eq!(r.running_for(now), Some(Duration::from_secs(60)));
            }
        }
    }

    #[test]
    fn stale_after_max_age_but_not_at_it() {
        let flag = TempFlag::new("stale");
        let mtime = flag.write("true\n");
        let config = flag.config();
        let r = read_sync(&config, mtime + config.max_age);
        assert!(r.in_progress && !r.stale && r.downgrades());
        let r = read_sync(&config, mtime + config.max_age + Duration::from_secs(1));
        assert!(r.in_progress && r.stale && !r.downgrades());
        // A false flag is never stale, however old.
        let mtime = flag.write("false\n");
        let r = read_sync(&config, mtime + Duration::from_secs(100 * 86_400));
        assert!(!r.in_progress && !r.stale);
        // A flag from the future (clock skew) is fresh.
        let mtime = flag.write("true\n");
        let r = read_sync(&config, mtime - Duration::from_secs(3600));
        assert!(r.downgrades());
        assert_eq!(
            r.running_for(mtime - Duration::from_secs(3600)),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn unreadable_flag_is_not_a_sync_and_says_why() {
        let flag = TempFlag::new("unreadable");
        fs::create_dir(&flag.0).unwrap(); // a directory where the file should be
        let r = read_sync(&flag.config(), SystemTime::now());
        assert!(!r.in_progress && !r.downgrades());
        let e = r.error.expect("error reported");
        assert!(e.contains("FACTER_data_sync_in_progress"), "{e}");
    }

    #[test]
    fn window_parsing() {
        let w: SyncWindow = "22:00-08:00".parse().unwrap();
        assert_eq!((w.start_min, w.end_min), (22 * 60, 8 * 60));
        assert_eq!("22:0-8:0".parse::<SyncWindow>(), Ok(w));
        assert_eq!(w.to_string(), "22:00-08:00");
        assert_eq!(
            "09:30-17:45".parse::<SyncWindow>().unwrap().to_string(),
            "09:30-17:45"
        );
        assert_eq!(
            " 0:0-23:59 ".parse::<SyncWindow>().unwrap().to_string(),
            "00:00-23:59"
        );
        for bad in [
            "",
            "22:00",
            "22-08",
            "22:00-",
            "-08:00",
            "24:00-08:00",
            "22:60-08:00",
            "22:00-08:000",
            "22:00-08:00-09:00",
            "aa:00-08:00",
            "22:00-22:00",
            "+2:00-08:00",
            "22:00 - 08:00",
        ] {
            let e = bad.parse::<SyncWindow>().expect_err(bad);
            assert!(e.to_string().starts_with("invalid sync window"), "{e}");
        }
    }

    #[test]
    fn window_edges_crossing_midnight() {
        let w: SyncWindow = "22:00-08:00".parse().unwrap();
        assert!(!w.contains(nov24(21, 59)));
        assert_eq!(w.opened_at(nov24(22, 0)), Some(nov24(22, 0)));
        assert_eq!(w.opened_at(nov24(23, 59)), Some(nov24(22, 0)));
        assert_eq!(
            w.opened_at(nov24(0, 0)),
            Some(nov24(0, 0) - Duration::from_secs(7200))
        );
        assert_eq!(
            w.opened_at(nov24(7, 59)),
            Some(nov24(0, 0) - Duration::from_secs(7200))
        );
        assert!(!w.contains(nov24(8, 0)));
        assert!(!w.contains(nov24(12, 0)));
        // Seconds inside the closing minute still count as inside.
        assert!(w.contains(nov24(7, 59) + Duration::from_secs(59)));
    }

    #[test]
    fn window_edges_same_day() {
        let w: SyncWindow = "01:30-03:00".parse().unwrap();
        assert!(!w.contains(nov24(1, 29)));
        assert_eq!(w.opened_at(nov24(1, 30)), Some(nov24(1, 30)));
        assert!(w.contains(nov24(2, 59)));
        assert!(!w.contains(nov24(3, 0)));
        assert!(!w.contains(nov24(23, 0)));
    }

    #[test]
    fn window_alone_is_a_sync_and_never_stale() {
        let flag = TempFlag::new("window");
        let config = SyncConfig {
            window: Some("22:00-08:00".parse().unwrap()),
            ..flag.config()
        };
        let now = nov24(1, 13);
        let r = read_sync(&config, now);
        assert!(r.in_progress && r.in_window && !r.flag_set && !r.stale && r.downgrades());
        assert_eq!(r.since, Some(nov24(0, 0) - Duration::from_secs(7200)));
        assert_eq!(format_duration(r.running_for(now).unwrap()), "3h13m");
        // Outside the window and no flag: nothing.
        let r = read_sync(&config, nov24(12, 0));
        assert!(!r.in_progress && !r.in_window);
        // A flag that says false does not close an open window.
        flag.write("false\n");
        assert!(read_sync(&config, now).downgrades());
    }

    #[test]
    fn flag_set_outside_the_window_still_counts_and_a_stale_flag_wins() {
        let flag = TempFlag::new("both");
        let mtime = flag.write("true\n");
        let config = SyncConfig {
            window: Some("22:00-08:00".parse().unwrap()),
            ..flag.config()
        };
        // Whatever time it is, the flag is set: since is its mtime.
        let r = read_sync(&config, mtime + Duration::from_secs(5));
        assert!(r.flag_set && r.in_progress);
        assert_eq!(r.since, Some(mtime));
        // 13 hours later the flag is stale; even inside the window nothing is hidden.
        let r = read_sync(&config, mtime + Duration::from_secs(13 * 3600));
        assert!(r.stale && !r.downgrades());
    }

    #[test]
    fn to_status_fills_the_document_section() {
        let config = SyncConfig::default();
        let r = SyncReading {
            in_progress: true,
            flag_set: true,
            since: Some(at(1_795_530_130)),
            ..SyncReading::default()
        };
        let s = r.to_status(&config);
        assert!(s.in_progress && !s.stale);
        assert_eq!(s.flag, DEFAULT_FLAG);
        assert_eq!(s.since.as_deref(), Some("2026-11-24T14:22:10Z"));
        assert_eq!(SyncReading::default().to_status(&config).since, None);
    }

    #[test]
    fn durations() {
        for (s, secs) in [
            ("45s", 45),
            ("90m", 5400),
            ("12h", 43_200),
            ("1h30m", 5400),
            ("1d", 86_400),
            ("1d12h", 129_600),
            ("3600", 3600),
            ("0", 0),
            (" 12h ", 43_200),
            ("1h1m1s", 3661),
        ] {
            assert_eq!(parse_duration(s), Ok(Duration::from_secs(secs)), "{s}");
        }
        for bad in [
            "",
            "h",
            "12x",
            "1.5h",
            "-1h",
            "12h30",
            "1h 30m",
            "99999999999999999999",
            "9999999999999999d",
        ] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(e.to_string().starts_with("invalid duration"), "{e}");
        }
    }

    #[test]
    fn human_durations() {
        for (secs, s) in [
            (0, "0s"),
            (45, "45s"),
            (60, "1m"),
            (785, "13m5s"),
            (7980, "2h13m"),
            (3600, "1h"),
            (43_200, "12h"),
            (86_399, "23h59m"),
            (86_400, "1d"),
            (273_600, "3d4h"),
        ] {
            assert_eq!(format_duration(Duration::from_secs(secs)), s);
        }
    }
}
