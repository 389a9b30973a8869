//! A response as production sent it, recovered from the wire: the unit the comparison with
//! staging will work on. Its body is not kept, only a [`Digest`] of it (see [`crate::diff`]);
//! its head is kept raw, as captured, for the records that will need it (GoReplay's type 2).

use crate::diff::digest::{Digest, DigestConfig};
use crate::request::Connection;
use bytes::Bytes;

/// How responses are captured.
#[derive(Debug, Clone, Default)]
pub struct ResponseConfig {
    /// How bodies are digested.
    pub digest: DigestConfig,
    /// Body bytes kept raw per response (transfer coding removed, content coding not), for
    /// records that carry bodies (GoReplay type 2); 0, the default, keeps none.
    pub keep_body: usize,
}

/// One response, framed and paired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The TCP connection it came on, from the client's side (as its request's).
    pub connection: Connection,
    /// The id of the request it answers ([`crate::request::Request::id`]); `None` when that
    /// is not certain (the response is counted in `responses_unpaired`).
    pub request_id: Option<u64>,
    /// The status code, e.g. 200.
    pub status: u16,
    /// Minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version_minor: u8,
    /// The head as captured: status line and header fields, up to and with the empty line.
    pub head: Bytes,
    /// The media type of `Content-Type` (what precedes any `;`, blanks trimmed, case as sent).
    pub content_type: Option<Bytes>,
    /// `Location`, as sent.
    pub location: Option<Bytes>,
    /// `Content-Encoding`, as sent.
    pub content_encoding: Option<Bytes>,
    /// The body's digest (of its decoded content).
    pub body: Digest,
    /// The first [`ResponseConfig::keep_body`] bytes of the body; empty unless asked for.
    pub raw_body: Bytes,
    /// Capture time of the packet that carried the status line's first byte.
    pub first_byte_ns: u64,
    /// Capture time of the packet that carried the body's last byte.
    pub last_byte_ns: u64,
    /// Production's latency: `first_byte_ns` less the capture time of the request's last
    /// byte (0 for a response sent before the request was complete); `None` when unpaired.
    pub latency_ns: Option<u64>,
}
