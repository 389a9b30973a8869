//! Reads GoReplay's record files one [`Record`] at a time, never more than one record (and a
//! read buffer) in memory, whatever the file's size.
//!
//! GoReplay's own reader splits the file into lines and ends a record at a line that is
//! exactly `🐵🙈🙉`; the record is what came before, less its last newline. Searching the
//! buffer for `\n🐵🙈🙉\n` finds the same boundaries (the separator's leading newline is the
//! previous line's end) at a fraction of the cost of a call per line, which is what lets a
//! file be read at over a million records a second.
//!
//! Damage is named, never skipped silently: a header line that is not `TYPE ID TIMESTAMP
//! [LATENCY]`, a record with no separator before the end of the file (a cut copy), or one
//! longer than [`MAX_RECORD`] (not a record file at all, or a separator lost) is a
//! [`RecordError`] with the record's number and its byte offset. Every record before it has
//! been returned by then.

use super::{Kind, Record, SEPARATOR};
use bytes::{Buf, Bytes, BytesMut};
use std::io::Read;

/// The longest record accepted: GoReplay keeps whole messages in memory, and nothing it
/// writes comes near this; a "record" beyond it means the file is not what it claims.
pub const MAX_RECORD: usize = 64 << 20;
/// Bytes asked of the file per read.
const READ_CHUNK: usize = 256 * 1024;

/// Why a record file cannot be read further.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file itself could not be read.
    #[error("read error at byte {offset}: {source}")]
    Io {
        /// Bytes read successfully before the error.
        offset: u64,
        /// The system's (or the gzip decoder's) answer.
        source: std::io::Error,
    },
    /// The bytes at `offset` are not a record.
    #[error("record {number} at byte {offset}: {problem}")]
    Damaged {
        /// 1 for the file's first record.
        number: u64,
        /// Where the record starts (in the decompressed stream for a `.gz` file).
        offset: u64,
        /// What is wrong, for the operator.
        problem: String,
    },
}

/// A GoReplay record file (or stream), read record by record.
pub struct RecordReader<R> {
    input: R,
    buf: BytesMut,
    /// Offset in the stream of `buf`'s first byte.
    offset: u64,
    /// Records returned so far.
    count: u64,
    eof: bool,
    /// Once an error was returned, nothing more is read.
    failed: bool,
    finder: memchr::memmem::Finder<'static>,
}

impl<R: Read> RecordReader<R> {
    /// A reader of `input`, which should be buffered by the caller only if it is not a file
    /// (reads are 256 KiB already).
    pub fn new(input: R) -> RecordReader<R> {
        RecordReader {
            input,
            buf: BytesMut::with_capacity(READ_CHUNK),
            offset: 0,
            count: 0,
            eof: false,
            failed: false,
            finder: memchr::memmem::Finder::new(SEPARATOR),
        }
    }

    /// Records read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The next record; `Ok(None)` at the clean end of the input.
    #[allow(clippy::should_implement_trait)] // fallible, so not an Iterator of Results
    pub fn next(&mut self) -> Result<Option<Record>, RecordError> {
        if self.failed {
            return Ok(None);
        }
        let result = self.read_record();
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn read_record(&mut self) -> Result<Option<Record>, RecordError> {
        // The header line (blank lines before it are passed over).
        let header_end = loop {
            if let Some(at) = memchr::memchr(b'\n', &self.buf) {
                if self.buf[..at].iter().all(|&b| b == b'\r') {
                    self.buf.advance(at + 1);
                    self.offset += at as u64 + 1;
                    continue;
                }
                break at;
            }
            if self.buf.len() > MAX_HEADER_LINE {
                return Err(self.damaged(format!(
                    "not a record header line: '{}'",
                    shown(&self.buf[..MAX_HEADER_LINE.min(self.buf.len())])
                )));
            }
            if !self.fill()? {
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                return Err(self.damaged(format!(
                    "cut short: '{}' and then the end of the file",
                    shown(&self.buf)
                )));
            }
        };
        let (kind, id, timestamp_ns, latency_ns) =
            parse_header(&self.buf[..header_end]).map_err(|problem| self.damaged(problem))?;
        // The payload runs to the separator; its leading newline ends the payload's last line
        // (or the header line itself, for an empty payload).
        let mut searched = header_end;
        let separator_at = loop {
            if let Some(at) = self.finder.find(&self.buf[searched..]) {
                break searched + at;
            }
            // A separator at the very end of the file, its last newline missing.
            if self.eof && self.buf.ends_with(&SEPARATOR[..SEPARATOR.len() - 1]) {
                break self.buf.len() + 1 - SEPARATOR.len();
            }
            if self.buf.len() > MAX_RECORD {
                return Err(self.damaged(format!(
                    "no separator within {} MiB: not a GoReplay record file, or a separator was lost",
                    MAX_RECORD >> 20
                )));
            }
            searched = self
                .buf
                .len()
                .saturating_sub(SEPARATOR.len() - 1)
                .max(header_end);
            if !self.fill()? {
                if self.buf.ends_with(&SEPARATOR[..SEPARATOR.len() - 1]) {
                    continue;
                }
                return Err(self
                    .damaged("cut short: no 🐵🙈🙉 separator before the end of the file".into()));
            }
        };
        let consumed = (separator_at + SEPARATOR.len()).min(self.buf.len());
        let mut record = self.buf.split_to(consumed);
        record.truncate(separator_at.max(header_end + 1));
        record.advance(header_end + 1);
        self.offset += consumed as u64;
        self.count += 1;
        Ok(Some(Record {
            kind,
            id,
            timestamp_ns,
            latency_ns,
            payload: record.freeze(),
        }))
    }

    /// Reads more into the buffer; `false` at the end of the input.
    fn fill(&mut self) -> Result<bool, RecordError> {
        if self.eof {
            return Ok(false);
        }
        let len = self.buf.len();
        self.buf.resize(len + READ_CHUNK, 0);
        let read = loop {
            match self.input.read(&mut self.buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    self.buf.truncate(len);
                    return Err(RecordError::Io {
                        offset: self.offset + len as u64,
                        source,
                    });
                }
            }
        };
        self.buf.truncate(len + read);
        self.eof = read == 0;
        Ok(read > 0)
    }

    fn damaged(&self, problem: String) -> RecordError {
        RecordError::Damaged {
            number: self.count + 1,
            offset: self.offset,
            problem,
        }
    }
}

/// A header line longer than this is not one (GoReplay's are under 80 bytes).
const MAX_HEADER_LINE: usize = 1024;

/// `TYPE ID TIMESTAMP_NS [LATENCY_NS]`: GoReplay 1.x writes four fields; 0.x wrote three.
pub(crate) fn parse_header(line: &[u8]) -> Result<(Kind, Bytes, u64, u64), String> {
    let bad = |why: &str| format!("{why} in header line '{}'", shown(line));
    let text = std::str::from_utf8(line).map_err(|_| bad("bytes that are not text"))?;
    let text = text.strip_suffix('\r').unwrap_or(text);
    let mut fields = text.split(' ');
    let kind = match fields.next() {
        Some("1") => Kind::Request,
        Some("2") => Kind::Response,
        Some("3") => Kind::Replayed,
        _ => return Err(bad("no record type 1, 2 or 3")),
    };
    let id = fields
        .next()
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| bad("no id"))?;
    let timestamp_ns = fields
        .next()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| bad("no timestamp"))?;
    let latency_ns = match fields.next() {
        None => 0,
        Some(l) => l
            .parse()
            .map_err(|_| bad("a latency that is not a number"))?,
    };
    if fields.next().is_some() {
        return Err(bad("more than four fields"));
    }
    Ok((
        kind,
        Bytes::copy_from_slice(id.as_bytes()),
        timestamp_ns,
        latency_ns,
    ))
}

/// Up to 60 bytes of `bytes`, as text, for an error message.
fn shown(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(60)];
    let text: String = String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    if bytes.len() > 60 {
        format!("{text}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> (Vec<Record>, Option<String>) {
        // A reader that returns a few bytes at a time, to cross every boundary.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(out.len()).min(self.1);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut results = Vec::new();
        for step in [1, 3, 7, 1 << 20] {
            let mut reader = RecordReader::new(Trickle(bytes, step));
            let mut records = Vec::new();
            let error = loop {
                match reader.next() {
                    Ok(Some(r)) => records.push(r),
                    Ok(None) => break None,
                    Err(e) => break Some(e.to_string()),
                }
            };
            results.push((records, error));
        }
        for other in &results[1..] {
            assert_eq!(other.0, results[0].0);
            assert_eq!(other.1, results[0].1);
        }
        results.swap_remove(0)
    }

    const TWO: &str = "1 aa01 100 0\nGET / HTTP/1.1\r\n\r\n\n🐵🙈🙉\n2 aa01 150 50\nHTTP/1.1 200 OK\r\n\r\nbody\n\n🐵🙈🙉\n";

    #[test]
    fn records_come_back_with_their_fields_and_payloads() {
        let (records, error) = read_all(TWO.as_bytes());
        assert_eq!(error, None);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].kind, Kind::Request);
        assert_eq!(&records[0].id[..], b"aa01");
        assert_eq!(records[0].timestamp_ns, 100);
        assert_eq!(&records[0].payload[..], b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(records[1].kind, Kind::Response);
        assert_eq!(records[1].latency_ns, 50);
        // A payload ending in a newline keeps it: only the one before the separator goes.
        assert_eq!(&records[1].payload[..], b"HTTP/1.1 200 OK\r\n\r\nbody\n");
    }

    #[test]
    fn empty_payloads_old_headers_and_a_last_separator_without_newline() {
        let text = "3 x 5\n\n🐵🙈🙉\n1 y 6 0\nA\n🐵🙈🙉";
        let (records, error) = read_all(text.as_bytes());
        assert_eq!(error, None);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].kind, Kind::Replayed);
        assert!(records[0].payload.is_empty());
        assert_eq!(&records[1].payload[..], b"A");
        assert_eq!(read_all(b"").0.len(), 0);
        assert_eq!(read_all(b"\n").1, None);
    }

    #[test]
    fn damage_is_named_with_the_record_and_its_offset() {
        let cut = &TWO.as_bytes()[..TWO.len() - 5];
        let (records, error) = read_all(cut);
        assert_eq!(records.len(), 1);
        let second = TWO.find("2 aa01").unwrap();
        assert_eq!(
            error.unwrap(),
            format!(
                "record 2 at byte {second}: cut short: no 🐵🙈🙉 separator before the end of the file"
            )
        );

        let garbage = format!("{TWO}garbage here\nmore");
        let (records, error) = read_all(garbage.as_bytes());
        assert_eq!(records.len(), 2);
        assert_eq!(
            error.unwrap(),
            format!(
                "record 3 at byte {}: no record type 1, 2 or 3 in header line 'garbage here'",
                TWO.len()
            )
        );

        let (_, error) =
            read_all(b"1 id notanumber 0\nx\n\xf0\x9f\x90\xb5\xf0\x9f\x99\x88\xf0\x9f\x99\x89\n");
        assert_eq!(
            error.unwrap(),
            "record 1 at byte 0: no timestamp in header line '1 id notanumber 0'"
        );
        let (_, error) = read_all(b"1 id 5 0");
        assert_eq!(
            error.unwrap(),
            "record 1 at byte 0: cut short: '1 id 5 0' and then the end of the file"
        );
    }

    #[test]
    fn an_absurd_record_is_refused_without_reading_the_whole_file_into_memory() {
        struct Endless;
        impl Read for Endless {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                out.fill(b'x');
                Ok(out.len())
            }
        }
        let header = std::io::Cursor::new(b"1 id 5 0\n".to_vec());
        let mut reader = RecordReader::new(Read::chain(header, Endless));
        let error = reader.next().unwrap_err().to_string();
        assert_eq!(
            error,
            "record 1 at byte 0: no separator within 64 MiB: not a GoReplay record file, or a separator was lost"
        );
        assert!(reader.next().unwrap().is_none(), "nothing after an error");
        let mut reader = RecordReader::new(Endless);
        assert!(reader
            .next()
            .unwrap_err()
            .to_string()
            .contains("not a record header line"));
    }
}
