//! The names `-output-file` writes to: GoReplay's placeholders in the path (`%Y %m %d %H %M
//! %S %NS` from the local clock, `%r` and `%t` from the record), and the chunk names of
//! `-output-file-size-limit` (`requests_0.gor`, `requests_1.gor`, ...). Pure functions, so the
//! writer thread's rules can be tested with a fixed clock and no disk.

use std::path::{Path, PathBuf};

/// A moment on the local clock, as the time placeholders spell it (GoReplay reads Go's
/// `time.Now()`, which is local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    /// Four digits (`%Y`).
    pub year: i16,
    /// 1 to 12 (`%m`, two digits).
    pub month: i8,
    /// 1 to 31 (`%d`, two digits).
    pub day: i8,
    /// 0 to 23 (`%H`, two digits).
    pub hour: i8,
    /// 0 to 59 (`%M`, two digits).
    pub minute: i8,
    /// 0 to 59 (`%S`, two digits).
    pub second: i8,
    /// Nanoseconds within the second (`%NS`, in decimal without padding, as Go prints it).
    pub nanosecond: i32,
}

impl Stamp {
    /// Now, in the system's time zone (`TZ`, else `/etc/localtime`; UTC when neither says).
    pub fn now_local() -> Stamp {
        let now = jiff::ZonedDateTime::now();
        Stamp {
            year: now.year(),
            month: now.month(),
            day: now.day(),
            hour: now.hour(),
            minute: now.minute(),
            second: now.second(),
            nanosecond: now.subsec_nanosecond(),
        }
    }
}

/// What a path template needs to be expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// Any of `%Y %m %d %H %M %S %NS`: the name can change with the clock.
    pub clock: bool,
    /// `%r` or `%t`: the name can change with each record.
    pub record: bool,
}

impl Needs {
    /// Whether the name is the template itself, whatever the time and the record.
    pub fn fixed(self) -> bool {
        !self.clock && !self.record
    }
}

/// The placeholders, longest first so `%NS` is never read as an unknown `%N` then `S`.
const PLACEHOLDERS: [&str; 9] = ["%NS", "%Y", "%m", "%d", "%H", "%M", "%S", "%r", "%t"];

/// Which placeholders `template` holds.
pub fn needs(template: &str) -> Needs {
    let mut needs = Needs::default();
    each_part(template, |part| match part {
        Part::Placeholder("%r" | "%t") => needs.record = true,
        Part::Placeholder(_) => needs.clock = true,
        Part::Text(_) => {}
    });
    needs
}

enum Part<'a> {
    Text(&'a str),
    Placeholder(&'static str),
}

/// Splits `template` into text and placeholders, left to right. (GoReplay replaces each
/// placeholder over the whole string in a map's random order, so `%NS` can come out as
/// `%N` and the second; reading left to right, longest first, does not.)
fn each_part<'a>(template: &'a str, mut f: impl FnMut(Part<'a>)) {
    let mut rest = template;
    while let Some(at) = rest.find('%') {
        let found = PLACEHOLDERS
            .iter()
            .find(|p| rest[at..].starts_with(**p))
            .copied();
        let end = at + found.map_or(1, str::len);
        f(Part::Text(&rest[..at]));
        f(found.map_or(Part::Text(&rest[at..end]), Part::Placeholder));
        rest = &rest[end..];
    }
    f(Part::Text(rest));
}

/// The record a name is made for: its type (`1` request, `2` response, `3` replayed
/// response) and id, the first two fields of its meta line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordKey<'a> {
    /// `%t`.
    pub kind: &'a str,
    /// `%r`: 24 hex digits; a request and its responses share it.
    pub id: &'a str,
}

impl<'a> RecordKey<'a> {
    /// The key of an encoded record (empty fields when its meta line is not as written).
    pub fn of(record: &'a [u8]) -> RecordKey<'a> {
        let line = record.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = std::str::from_utf8(line).unwrap_or_default();
        let mut fields = line.split(' ');
        RecordKey {
            kind: fields.next().unwrap_or_default(),
            id: fields.next().unwrap_or_default(),
        }
    }
}

/// `template` with its placeholders replaced: the clock ones from `stamp`, `%r` and `%t`
/// from `record`. A `%` that starts no placeholder is kept as it is.
pub fn expand(template: &str, stamp: &Stamp, record: RecordKey<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    each_part(template, |part| match part {
        Part::Text(text) => out.push_str(text),
        Part::Placeholder(p) => {
            let value = match p {
                "%Y" => format!("{:04}", stamp.year),
                "%m" => format!("{:02}", stamp.month),
                "%d" => format!("{:02}", stamp.day),
                "%H" => format!("{:02}", stamp.hour),
                "%M" => format!("{:02}", stamp.minute),
                "%S" => format!("{:02}", stamp.second),
                "%NS" => stamp.nanosecond.to_string(),
                "%r" => record.id.to_string(),
                _ => record.kind.to_string(),
            };
            out.push_str(&value);
        }
    });
    out
}

/// Go's `filepath.Ext`: from the last `.` of the file name on (`.gz` for `a.gor.gz`), or
/// empty.
fn split_ext(path: &str) -> (&str, &str) {
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    match path[name_start..].rfind('.') {
        Some(dot) => path.split_at(name_start + dot),
        None => (path, ""),
    }
}

/// Chunk `index` of `path`, named as GoReplay names chunks: `_N` before the extension
/// (`requests.gor` → `requests_0.gor`, `requests.gor.gz` → `requests.gor_0.gz`).
pub fn chunk_name(path: &Path, index: u64) -> PathBuf {
    let text = path.to_string_lossy();
    let (stem, ext) = split_ext(&text);
    PathBuf::from(format!("{stem}_{index}{ext}"))
}

/// The highest chunk index of `path` already on disk (`requests_7.gor` → 7), if any.
pub fn last_chunk(path: &Path) -> Option<u64> {
    let text = path.to_string_lossy();
    let (stem, ext) = split_ext(&text);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let stem_name = Path::new(stem).file_name()?.to_string_lossy().into_owned();
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            let name = name.to_str()?;
            let index = name.strip_prefix(&stem_name)?.strip_prefix('_')?;
            let digits = index.strip_suffix(ext)?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok()
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMP: Stamp = Stamp {
        year: 2026,
        month: 3,
        day: 7,
        hour: 4,
        minute: 5,
        second: 9,
        nanosecond: 1_500,
    };

    #[test]
    fn placeholders_are_goreplays() {
        let key = RecordKey {
            kind: "2",
            id: "0badcafe0000000000000007",
        };
        assert_eq!(
            expand("/x/%Y-%m-%d_%H:%M:%S.%NS-%r-%t.gor", &STAMP, key),
            "/x/2026-03-07_04:05:09.1500-0badcafe0000000000000007-2.gor"
        );
        assert_eq!(expand("100%_%q%", &STAMP, key), "100%_%q%");
        assert_eq!(expand("plain.gor", &STAMP, key), "plain.gor");
        assert!(needs("plain.gor").fixed());
        assert_eq!(
            needs("a_%H.gor"),
            Needs {
                clock: true,
                record: false
            }
        );
        assert_eq!(
            needs("a_%t.gor"),
            Needs {
                clock: false,
                record: true
            }
        );
        assert_eq!(needs("a_%N.gor"), Needs::default());
    }

    #[test]
    fn record_key_reads_the_meta_line() {
        let key = RecordKey::of(b"1 00ab 170 0\nGET / HTTP/1.1\r\n\r\n");
        assert_eq!((key.kind, key.id), ("1", "00ab"));
        assert_eq!(RecordKey::of(b""), RecordKey::default());
        assert_eq!(RecordKey::of(b"\xff\xfe 1\n").kind, "");
    }

    #[test]
    fn chunks_are_named_as_goreplay_names_them() {
        let name = |p: &str, i| chunk_name(Path::new(p), i).display().to_string();
        assert_eq!(name("/tmp/requests.gor", 0), "/tmp/requests_0.gor");
        assert_eq!(name("/tmp/requests.gor", 12), "/tmp/requests_12.gor");
        assert_eq!(name("/tmp/requests.gor.gz", 1), "/tmp/requests.gor_1.gz");
        assert_eq!(name("/tmp/d.ir/requests", 3), "/tmp/d.ir/requests_3");
        assert_eq!(name("req_2026.gor", 0), "req_2026_0.gor");
    }

    #[test]
    fn last_chunk_finds_the_highest_index() {
        let dir = std::env::temp_dir().join(format!("replayer-chunks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.gor");
        assert_eq!(last_chunk(&path), None);
        for name in [
            "r_0.gor",
            "r_2.gor",
            "r_10.gor",
            "r_x.gor",
            "r_.gor",
            "rr_99.gor",
        ] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        std::fs::write(dir.join("r_11.gz"), b"").unwrap();
        assert_eq!(last_chunk(&path), Some(10));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
