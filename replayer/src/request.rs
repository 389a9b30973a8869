//! A complete HTTP/1.x request as recovered from the wire: the unit that flows from the
//! `http` stage through `filter`, `rewrite` and `limit` to the outputs (`replay`, stdout, file).
//!
//! A captured request is zero-copy: its head is copied once out of the stream into one shared
//! buffer, and the method, target and every header name and value are slices of it
//! ([`ByteStr`] for text, [`Bytes`] for values). Building a `Request` costs two allocations
//! (that buffer and the header list) instead of one per field; this is what lets the capture
//! side keep up with the disk. Stages that change a field simply replace that slice.

use bytes::Bytes;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::ops::Deref;

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
    pub method: ByteStr,
    /// The request-target as on the wire (path and query, or absolute form).
    pub target: ByteStr,
    /// Minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version_minor: u8,
    pub headers: Vec<Header>,
    /// The message body with any chunked transfer coding removed.
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: ByteStr,
    pub value: Bytes,
}

impl Request {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| &h.value[..])
    }
}

/// Text that shares a [`Bytes`] buffer: always valid UTF-8, and reads as a `&str` (it
/// dereferences to one), so `request.method == "GET"` and every `str` method work.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteStr(Bytes);

impl ByteStr {
    /// A constant, with no allocation.
    pub const fn from_static(text: &'static str) -> ByteStr {
        ByteStr(Bytes::from_static(text.as_bytes()))
    }

    /// Checks that `bytes` are UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<ByteStr, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(ByteStr(bytes))
    }

    /// The part of `buffer` that `text` is, shared rather than copied; `text` must lie
    /// inside `buffer` (panics otherwise, like [`Bytes::slice_ref`]).
    pub fn slice_of(buffer: &Bytes, text: &str) -> ByteStr {
        ByteStr(buffer.slice_ref(text.as_bytes()))
    }

    /// Takes `bytes` as text without checking.
    ///
    /// # Safety
    /// `bytes` must be valid UTF-8 (for instance, an exact copy of a `str`'s bytes).
    pub unsafe fn from_utf8_unchecked(bytes: Bytes) -> ByteStr {
        ByteStr(bytes)
    }

    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor takes a `str` or checks UTF-8, and the bytes never change.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ByteStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for ByteStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

// Hashed as the `str` it reads as, so that `Borrow<str>` lookups agree.
impl Hash for ByteStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl From<String> for ByteStr {
    fn from(text: String) -> ByteStr {
        ByteStr(Bytes::from(text.into_bytes()))
    }
}

impl From<&str> for ByteStr {
    fn from(text: &str) -> ByteStr {
        ByteStr(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for ByteStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<ByteStr> for str {
    fn eq(&self, other: &ByteStr) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<ByteStr> for &str {
    fn eq(&self, other: &ByteStr) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<ByteStr> for String {
    fn eq(&self, other: &ByteStr) -> bool {
        self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_str_shares_its_buffer_and_reads_as_str() {
        let buffer = Bytes::from_static(b"GET /a HTTP/1.1");
        let head = std::str::from_utf8(&buffer).unwrap();
        let method = ByteStr::slice_of(&buffer, &head[..3]);
        assert_eq!(method, "GET");
        assert!(method.eq_ignore_ascii_case("get"));
        assert_eq!(method.as_ptr(), buffer.as_ptr(), "a slice, not a copy");
        assert_eq!(ByteStr::from("GET"), method);
        assert!(ByteStr::from_utf8(Bytes::from_static(b"\xff")).is_err());
        let set: std::collections::HashSet<ByteStr> = [method].into();
        assert!(set.contains("GET"), "hashes like str");
    }
}
