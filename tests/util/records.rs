//! GoReplay's record format, as the daemon writes it with `-output-stdout` and
//! `-output-file`: parsed strictly, so a malformed record fails the test.

/// One record of GoReplay's file format, as `-output-stdout` and `-output-file` write it:
/// a `1 <id> <timestamp_ns> <latency>` meta line, the raw request, then `🐵🙈🙉` on its own line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub meta: String,
    pub payload: Vec<u8>,
}

impl Record {
    /// `METHOD TARGET` from the request line.
    pub fn request_line(&self) -> String {
        let line = self.payload.split(|&b| b == b'\n').next().unwrap_or(b"");
        let line = String::from_utf8_lossy(line);
        let mut parts = line.split(' ');
        format!(
            "{} {}",
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("")
        )
    }
}

/// Splits GoReplay-format output into records, failing loudly on anything malformed.
pub fn goreplay_records(out: &[u8]) -> Vec<Record> {
    const SEPARATOR: &[u8] = "\n🐵🙈🙉\n".as_bytes();
    let mut records = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let end = rest
            .windows(SEPARATOR.len())
            .position(|w| w == SEPARATOR)
            .unwrap_or_else(|| {
                panic!(
                    "record without separator: {:?}",
                    String::from_utf8_lossy(rest)
                )
            });
        let record = &rest[..end];
        let nl = record.iter().position(|&b| b == b'\n').expect("meta line");
        let meta = String::from_utf8_lossy(&record[..nl]).into_owned();
        // 1: a request; 2: production's response (`--input-raw-track-response`); 3:
        // staging's (`--output-http-track-response`).
        assert!(
            meta.starts_with("1 ") || meta.starts_with("2 ") || meta.starts_with("3 "),
            "meta line {meta:?}"
        );
        records.push(Record {
            meta,
            payload: record[nl + 1..].to_vec(),
        });
        rest = &rest[end + SEPARATOR.len()..];
    }
    records
}

/// Writes a GoReplay record file of `n` GET requests, `gap_ms` apart: see [`write_get_records_at`].
pub fn write_get_records(path: &std::path::Path, n: usize, gap_ms: u64) {
    let millis: Vec<u64> = (0..n as u64).map(|i| i * gap_ms).collect();
    write_get_records_at(path, &millis);
}

/// Writes a GoReplay record file of GET requests for `/r/N` (`Host: prod`, ids N as 24 hex
/// digits), request N recorded `millis[N]` ms after 1,700,000,000 s.
pub fn write_get_records_at(path: &std::path::Path, millis: &[u64]) {
    use replayer::records::{Kind, Record as FileRecord};
    let mut bytes = Vec::new();
    for (i, ms) in millis.iter().enumerate() {
        FileRecord {
            kind: Kind::Request,
            id: format!("{i:024x}").into(),
            timestamp_ns: 1_700_000_000_000_000_000 + ms * 1_000_000,
            latency_ns: 0,
            payload: format!("GET /r/{i} HTTP/1.1\r\nHost: prod\r\n\r\n").into(),
        }
        .write_to(&mut bytes)
        .unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}
