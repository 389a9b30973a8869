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
