//! A complete HTTP/1.x request as recovered from the wire: the unit that flows from the
//! `http` stage through `filter`, `rewrite` and `limit` to the outputs (`replay`, stdout, file).

use bytes::Bytes;
use std::net::SocketAddr;

/// The connection a request came on, from the client's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Connection {
    pub client: SocketAddr,
    pub server: SocketAddr,
}

/// One request, parsed. Header names and values are kept as captured (case and order), so
/// that what goes to staging is what production received, after the configured rewrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Monotonic id assigned by the pipeline, unique within a process run.
    pub id: u64,
    /// Capture time of the packet that carried the request line, nanoseconds since the Unix epoch.
    pub captured_at_ns: u64,
    pub connection: Connection,
    /// As on the wire, e.g. `GET`.
    pub method: String,
    /// The request-target as on the wire (path and query, or absolute form).
    pub target: String,
    /// Minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version_minor: u8,
    pub headers: Vec<Header>,
    /// The message body with any chunked transfer coding removed.
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: Vec<u8>,
}

impl Request {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_slice())
    }
}
