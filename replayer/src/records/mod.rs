//! GoReplay's record files as an input (`--input-file`): record once, replay later.
//!
//! ```text
//! files (globs, .gz) → reader → merge (by timestamp, --input-file-read-depth) → pace (`capture::pace`) → flow
//! ```
//!
//! - [`reader`]: one file → [`Record`]s, damage named by record number and byte offset;
//! - [`merge`]: every file given, one timeline: records handed on in timestamp order;
//! - [`framer`]: a type-1 payload → a request, as the capture side frames one;
//! - [`input`]: the run: requests parsed and handed to the flow, responses passed on,
//!   `--input-file-loop`, `--input-file-dry-run`.
//!
//! A record is `TYPE ID TIMESTAMP_NS LATENCY_NS\n`, the payload, `\n🐵🙈🙉\n`: type 1 a
//! request as production received it, 2 production's response, 3 staging's response (the
//! id is the request's).

pub mod framer;
pub mod input;
pub mod merge;
pub mod reader;

use bytes::Bytes;
use std::io::Write;

/// What separates records: a newline, three monkeys, a newline.
pub const SEPARATOR: &[u8] = "\n🐵🙈🙉\n".as_bytes();

/// A record's type, its header line's first field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `1`: a request.
    Request,
    /// `2`: production's response to a request.
    Response,
    /// `3`: staging's response to a replayed request.
    Replayed,
}

impl Kind {
    /// The digit the header line starts with.
    pub fn digit(self) -> u8 {
        match self {
            Kind::Request => b'1',
            Kind::Response => b'2',
            Kind::Replayed => b'3',
        }
    }
}

/// One record, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Request, production's response or staging's.
    pub kind: Kind,
    /// The id, as written (GoReplay: 24 hex digits); a response has its request's.
    pub id: Bytes,
    /// When it was captured, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// GoReplay's latency field (a response's time to answer); 0 when absent.
    pub latency_ns: u64,
    /// The message as it was on the wire.
    pub payload: Bytes,
}

impl Record {
    /// Writes it back in the same form: header line, payload, separator.
    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(&[self.kind.digit(), b' '])?;
        out.write_all(&self.id)?;
        writeln!(out, " {} {}", self.timestamp_ns, self.latency_ns)?;
        out.write_all(&self.payload)?;
        out.write_all(SEPARATOR)
    }
}
