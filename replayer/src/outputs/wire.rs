//! One HTTP/1 exchange on a staging connection, written by hand so that what goes out is
//! what was captured: the method and request-target bytes as they were, header names in
//! their captured case and order, each untouched header line byte for byte (spacing
//! included: `Content-Length:7`, `Cookie:`, trailing blanks), HTTP/1.0 kept as 1.0. (HTTP client libraries normalise
//! all of these: they parse the target as a URL, lowercase or title-case names, group
//! repeated names, add `Accept`, and cannot send `OPTIONS *`.)
//!
//! The response is parsed by `httparse` and its body read to the end and thrown away, so
//! the connection can carry the next request. Framing follows RFC 9112 §6.3: no body for
//! HEAD, 1xx, 204 and 304; chunked; Content-Length; otherwise until the server closes.
//!
//! Long because the head writer and the response framing rules belong with the unit tests
//! that pin them byte for byte (about 190 of the lines).

use crate::diff::digest::{BodyDigest, Digest, DigestConfig};
use crate::request::{Class, HeaderRef, Request};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Headers about the captured connection, not the request: never forwarded. The replay
/// connection has its own keep-alive, and the body goes out with a fresh Content-Length.
const CONNECTION_HEADERS: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "expect",
];

/// Response headers read at most; a response with more is treated as malformed.
const MAX_RESPONSE_HEADERS: usize = 100;

/// Bytes read from the connection at a time.
const READ_CHUNK: usize = 16 * 1024;

/// A request this writer refuses to put on the wire (it would not be one request).
#[derive(Debug, thiserror::Error)]
#[error("cannot send the request: {0}")]
pub struct Unsendable(pub String);

/// What differs between targets in a request head.
pub struct HeadRule<'a> {
    /// The target's `host[:port]`, the `Host` value unless `original_host`.
    pub authority: &'a str,
    pub original_host: bool,
}

/// Writes the request line and headers of `request` into `out` (appended), with `method`
/// and `target` (normally the captured ones; `prefix` goes before an origin-form path) and
/// a `Content-Length` for a body of `body_len` bytes.
///
/// Kept: the method, the request-target bytes, the HTTP version, every other header line
/// byte for byte as captured (or as configuration set it), in order. Changed: `Host` (the target's, in the captured Host's
/// place, or first if there was none); `Content-Length` (in the place of the captured
/// `Content-Length` or `Transfer-Encoding`, or last when a body needs one); HTTP/1.0 gets
/// `Connection: keep-alive` so the connection is reused. Dropped: the other
/// [`CONNECTION_HEADERS`], and a header whose name or value could not be one header line.
pub fn write_head(
    out: &mut Vec<u8>,
    rule: &HeadRule<'_>,
    request: &Request,
    method: &str,
    target: &str,
    prefix: &str,
    body_len: usize,
) -> Result<(), Unsendable> {
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(Unsendable(format!("method {method:?}")));
    }
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    push_target(out, method, target, prefix)?;
    out.extend_from_slice(if request.version_minor == 0 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });
    let has_host = request
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("host"));
    // HTTP/1.1 requires a Host; a 1.0 request without one keeps none with -http-original-host.
    let keep_none = rule.original_host && request.version_minor == 0;
    if !has_host && !keep_none {
        push_header(out, b"Host", rule.authority.as_bytes());
    }
    let mut length_written = false;
    let chunked = request.headers.contains(Class::TRANSFER_ENCODING);
    let mut digits = [0u8; 20];
    for header in &request.headers {
        let name: &str = header.name;
        if name.eq_ignore_ascii_case("host") {
            if rule.original_host {
                push_checked(out, header);
            } else {
                push_header(out, name.as_bytes(), rule.authority.as_bytes());
            }
        } else if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            if !length_written {
                match header.line {
                    // The captured `Content-Length` line, as it was, when it still tells the
                    // body's length (the body was not de-chunked).
                    Some(line)
                        if !chunked
                            && header.value.trim_ascii() == decimal(&mut digits, body_len) =>
                    {
                        out.extend_from_slice(line);
                        out.extend_from_slice(b"\r\n");
                    }
                    _ if name.eq_ignore_ascii_case("content-length") => {
                        push_length(out, name, body_len)
                    }
                    _ => push_length(out, "Content-Length", body_len),
                }
                length_written = true;
            }
        } else if !CONNECTION_HEADERS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
        {
            push_checked(out, header);
        }
    }
    if body_len > 0 && !length_written {
        push_length(out, "Content-Length", body_len);
    }
    if request.version_minor == 0 {
        push_header(out, b"Connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// The request-target on the wire: origin form as captured (after `prefix`), absolute form
/// as its path and query (the authority is the target's now), `*` for OPTIONS as is.
fn push_target(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    prefix: &str,
) -> Result<(), Unsendable> {
    let unsendable = || Unsendable(format!("request-target {target:?}"));
    // Whitespace or control bytes would split the request line; anything else goes as is.
    if target.is_empty() || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(unsendable());
    }
    if target == "*" {
        return match method {
            "OPTIONS" => {
                out.push(b'*');
                Ok(())
            }
            _ => Err(unsendable()),
        };
    }
    let path = if target.starts_with('/') {
        target
    } else {
        let rest = target
            .strip_prefix("http://")
            .or_else(|| target.strip_prefix("https://"))
            .ok_or_else(unsendable)?;
        rest.find(['/', '?']).map_or("", |at| &rest[at..])
    };
    out.extend_from_slice(prefix.as_bytes());
    if !path.starts_with('/') {
        out.push(b'/'); // `http://host` and `http://host?q` have an empty path
    }
    out.extend_from_slice(path.as_bytes());
    Ok(())
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// A header from the request: a captured line byte for byte (the framer parsed it as one
/// header line); one set by configuration as `Name: value`, left out when it could not be
/// exactly one header line.
fn push_checked(out: &mut Vec<u8>, header: HeaderRef<'_>) {
    if let Some(line) = header.line {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        return;
    }
    let (name, value) = (header.name, header.value);
    let name_ok = !name.is_empty() && name.bytes().all(is_tchar);
    let value_ok = !value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0);
    if name_ok && value_ok {
        push_header(out, name.as_bytes(), value);
    }
}

fn push_length(out: &mut Vec<u8>, name: &str, len: usize) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    let mut digits = [0u8; 20];
    out.extend_from_slice(decimal(&mut digits, len));
    out.extend_from_slice(b"\r\n");
}

/// `n` in decimal digits, written at the end of `digits`.
fn decimal(digits: &mut [u8; 20], n: usize) -> &[u8] {
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &digits[at..]
}

/// RFC 9110 token characters (method and header names).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A response, read to its end.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Whether the connection can carry another request.
    pub reusable: bool,
    /// The `Location` of a 3xx, when asked for (and always when observing).
    pub location: Option<String>,
    /// When observing (for the comparison with production): `Content-Type` as sent.
    pub content_type: Option<Vec<u8>>,
    /// When observing: the digest of the body, its content coding undone.
    pub body: Option<Digest>,
    /// When recording (`--output-http-track-response`): the head as received and the first
    /// bytes of the body, its transfer coding removed.
    pub raw: Option<Vec<u8>>,
}

/// What [`read_response`] keeps of a response beyond its status.
#[derive(Clone, Copy)]
pub enum Keep<'c> {
    /// The status, and `Location` when `want_location`.
    Status {
        /// Keep `Location` (redirects are followed).
        want_location: bool,
    },
    /// Everything the comparison with production needs: `Content-Type`, `Location` and the
    /// body's digest, made as the body streams by (never buffered whole).
    Observed(&'c DigestConfig),
}

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server closed the connection; `answered` says whether any response byte came.
    #[error("connection closed by staging{}", if *.answered { " mid-response" } else { "" })]
    Closed { answered: bool },
    #[error("malformed response: {0}")]
    Malformed(String),
}

impl ExchangeError {
    /// The request never reached a live server: a pooled connection the server had
    /// already closed (idle timeout, request limit). Sending again on a new one is safe.
    pub fn is_stale_connection(&self) -> bool {
        match self {
            ExchangeError::Closed { answered } => !answered,
            ExchangeError::Io(e) => is_reset(e),
            ExchangeError::Malformed(_) => false,
        }
    }
}

/// The peer had closed the connection (reset, or a write to a closed socket).
pub fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

/// How a response body ends.
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Sends `message` (head and body) on `io`, reads the response and its body. `buf` is the
/// connection's read buffer, reused between requests.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    message: &[u8],
    head_request: bool,
    want_location: bool,
    record: usize,
) -> Result<Response, ExchangeError> {
    send(io, message).await?;
    buf.clear();
    let keep = Keep::Status { want_location };
    let mut response = read_response(io, buf, head_request, keep, record).await?;
    // Bytes after the only response asked for: the server is confused; do not reuse.
    response.reusable &= buf.is_empty();
    Ok(response)
}

/// Writes `messages` (one request, or several pipelined) in one go.
pub async fn send<S: AsyncWrite + Unpin>(io: &mut S, messages: &[u8]) -> io::Result<()> {
    io.write_all(messages).await?;
    io.flush().await
}

/// Reads the next response on `io` and its body. `buf` holds what was read and not yet
/// used: after a pipelined response it may already hold the start of the next one, so it
/// is kept between calls and cleared only by a new connection.
///
/// `record`: when more than 0, the head as received and up to `record` bytes of the body
/// (its transfer coding removed) are kept in [`Response::raw`], for a type-3 record.
pub async fn read_response<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    head_request: bool,
    keep: Keep<'_>,
    record: usize,
) -> Result<Response, ExchangeError> {
    let observe = match keep {
        Keep::Observed(config) => Some(config),
        Keep::Status { .. } => None,
    };
    let want_location = observe.is_some()
        || matches!(
            keep,
            Keep::Status {
                want_location: true
            }
        );
    loop {
        let Head {
            consumed,
            status,
            framing,
            mut reusable,
            location,
            content_type,
            content_encoding,
        } = loop {
            if let Some(parsed) = parse_head(buf, head_request, want_location, observe.is_some())? {
                break parsed;
            }
            if fill(io, buf).await? == 0 {
                return Err(ExchangeError::Closed {
                    answered: !buf.is_empty(),
                });
            }
        };
        let raw_head = (record > 0).then(|| buf[..consumed].to_vec());
        buf.drain(..consumed);
        if (100..200).contains(&status) && status != 101 {
            continue; // interim (100 Continue, 103 Early Hints): the real one follows
        }
        if status == 101 {
            return Err(ExchangeError::Malformed("101 Switching Protocols".into()));
        }
        let mut sink = BodySink {
            digest: observe.map(|config| BodyDigest::new(config, content_encoding.as_deref())),
            raw: (record > 0).then(Vec::new),
            raw_limit: record,
        };
        match framing {
            Framing::None => {}
            Framing::Length(n) => skip(io, buf, n, &mut sink).await?,
            Framing::Chunked => skip_chunked(io, buf, &mut sink).await?,
            Framing::UntilClose => {
                reusable = false;
                loop {
                    sink.update(buf);
                    buf.clear();
                    if fill(io, buf).await? == 0 {
                        break;
                    }
                }
            }
        }
        return Ok(Response {
            status,
            reusable,
            location,
            content_type,
            body: sink.digest.map(BodyDigest::finish),
            raw: raw_head.map(|mut head| {
                head.extend_from_slice(&sink.raw.unwrap_or_default());
                head
            }),
        });
    }
}

/// A response head, parsed.
struct Head {
    /// Bytes of `buf` it took.
    consumed: usize,
    status: u16,
    framing: Framing,
    reusable: bool,
    location: Option<String>,
    content_type: Option<Vec<u8>>,
    content_encoding: Option<Vec<u8>>,
}

fn parse_head(
    buf: &[u8],
    head_request: bool,
    want_location: bool,
    observe: bool,
) -> Result<Option<Head>, ExchangeError> {
    if buf.is_empty() {
        return Ok(None);
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let consumed = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ExchangeError::Malformed(e.to_string())),
    };
    let status = response.code.unwrap_or(0);
    let http10 = response.version == Some(0);
    let (mut length, mut chunked, mut close, mut keep_alive, mut location) =
        (None, false, false, false, None);
    let (mut content_type, mut content_encoding) = (None, None);
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| ExchangeError::Malformed("bad Content-Length".into()))?;
            if length.is_some_and(|l| l != n) {
                return Err(ExchangeError::Malformed(
                    "conflicting Content-Length".into(),
                ));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // chunked is the last coding when present (RFC 9112 §6.1).
            chunked = last_token(h.value).eq_ignore_ascii_case(b"chunked");
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if want_location && h.name.eq_ignore_ascii_case("location") {
            location = std::str::from_utf8(h.value).ok().map(str::to_string);
        } else if observe && h.name.eq_ignore_ascii_case("content-type") {
            content_type = Some(h.value.to_vec());
        } else if observe && h.name.eq_ignore_ascii_case("content-encoding") {
            content_encoding = Some(h.value.to_vec());
        }
    }
    let framing = if head_request || status < 200 || status == 204 || status == 304 {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    let reusable = !close && (!http10 || keep_alive);
    Ok(Some(Head {
        consumed,
        status,
        framing,
        reusable,
        location,
        content_type,
        content_encoding,
    }))
}

fn last_token(value: &[u8]) -> &[u8] {
    value
        .rsplit(|&b| b == b',')
        .next()
        .unwrap_or_default()
        .trim_ascii()
}

/// Reads more into `buf`; 0 at end of stream.
async fn fill<S: AsyncRead + Unpin>(io: &mut S, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.reserve(READ_CHUNK);
    io.read_buf(buf).await
}

/// Body bytes into the digest, when there is one.
/// Where a response body's bytes go as they are read: the digest (`--diff`) and a copy of
/// the first bytes (`--output-http-track-response`); by default nowhere.
#[derive(Default)]
struct BodySink<'c> {
    digest: Option<BodyDigest<'c>>,
    raw: Option<Vec<u8>>,
    /// Bytes of `raw` kept at most.
    raw_limit: usize,
}

impl BodySink<'_> {
    fn update(&mut self, bytes: &[u8]) {
        if let Some(digest) = &mut self.digest {
            digest.update(bytes);
        }
        if let Some(raw) = &mut self.raw {
            let room = self.raw_limit.saturating_sub(raw.len());
            raw.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }
}

/// Consumes `n` body bytes: those already in `buf`, then from `io`, through `sink`.
async fn skip<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    mut n: u64,
    sink: &mut BodySink<'_>,
) -> Result<(), ExchangeError> {
    loop {
        let have = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        sink.update(&buf[..have]);
        buf.drain(..have);
        n -= have as u64;
        if n == 0 {
            return Ok(());
        }
        if fill(io, buf).await? == 0 {
            return Err(ExchangeError::Closed { answered: true });
        }
    }
}

/// Consumes a chunked body up to the end of its trailers, the chunks' data through `sink`.
async fn skip_chunked<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    sink: &mut BodySink<'_>,
) -> Result<(), ExchangeError> {
    loop {
        match httparse::parse_chunk_size(buf) {
            Ok(httparse::Status::Complete((used, 0))) => {
                buf.drain(..used);
                break;
            }
            Ok(httparse::Status::Complete((used, size))) => {
                buf.drain(..used);
                skip(io, buf, size, sink).await?;
                skip(io, buf, 2, &mut BodySink::default()).await?; // the data's CRLF
            }
            Ok(httparse::Status::Partial) => {
                if fill(io, buf).await? == 0 {
                    return Err(ExchangeError::Closed { answered: true });
                }
            }
            Err(_) => return Err(ExchangeError::Malformed("bad chunk size".into())),
        }
    }
    // Trailer lines, up to the empty line.
    loop {
        if buf.starts_with(b"\r\n") {
            buf.drain(..2);
            return Ok(());
        }
        if let Some(end) = memchr::memmem::find(buf, b"\r\n") {
            buf.drain(..end + 2);
        } else if fill(io, buf).await? == 0 {
            return Err(ExchangeError::Closed { answered: true });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Connection, Header};

    pub(crate) fn captured(
        method: &str,
        target: &str,
        minor: u8,
        headers: &[(&str, &str)],
    ) -> Request {
        Request {
            id: 1,
            captured_at_ns: 0,
            connection: Connection {
                client: "10.0.0.1:1000".parse().unwrap(),
                server: "10.0.0.2:80".parse().unwrap(),
            },
            method: method.into(),
            target: target.into(),
            version_minor: minor,
            headers: headers
                .iter()
                .map(|(n, v)| Header {
                    name: (*n).into(),
                    value: v.as_bytes().to_vec().into(),
                })
                .collect(),
            body: bytes::Bytes::new(),
            record_id: None,
            from_record_file: false,
        }
    }

    fn head(
        r: &Request,
        original_host: bool,
        prefix: &str,
        body_len: usize,
    ) -> Result<String, Unsendable> {
        let rule = HeadRule {
            authority: "staging.example:8080",
            original_host,
        };
        let mut out = Vec::new();
        write_head(&mut out, &rule, r, &r.method, &r.target, prefix, body_len)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn head_keeps_case_order_target_and_version() {
        let r = captured(
            "GET",
            "/a/../b?x=%7e&y=%2F",
            1,
            &[
                ("x-lower", "1"),
                ("Host", "www.example.org"),
                ("Connection", "keep-alive"),
                ("X-API-Key", "k"),
                ("x-lower", "2"),
                ("Expect", "100-continue"),
                ("Transfer-Encoding", "chunked"),
                ("Bad\nName", "x"),
                ("X-Split", "a\r\nInjected: 1"),
            ],
        );
        assert_eq!(
            head(&r, false, "", 3).unwrap(),
            "GET /a/../b?x=%7e&y=%2F HTTP/1.1\r\nx-lower: 1\r\nHost: staging.example:8080\r\n\
             X-API-Key: k\r\nx-lower: 2\r\nContent-Length: 3\r\n\r\n"
        );
        assert_eq!(
            head(&r, true, "/shadow", 0).unwrap(),
            "GET /shadow/a/../b?x=%7e&y=%2F HTTP/1.1\r\nx-lower: 1\r\nHost: www.example.org\r\n\
             X-API-Key: k\r\nx-lower: 2\r\nContent-Length: 0\r\n\r\n"
        );
    }

    /// `captured` with its headers as the framer keeps them: lines of one captured head.
    fn from_lines(lines: &[&str], body_len: usize) -> Request {
        let head = lines.iter().map(|l| format!("{l}\r\n")).collect::<String>();
        let mut headers = crate::request::Headers::captured(head.clone().into(), lines.len());
        let mut at = 0;
        for line in lines {
            let colon = at + line.find(':').unwrap();
            let value = line[colon - at + 1..].trim_matches([' ', '\t']);
            let start = if value.is_empty() {
                colon + 1
            } else {
                at + line.rfind(value).unwrap()
            };
            // SAFETY: ASCII ranges inside the head.
            unsafe {
                headers.push_captured(at..colon, start..start + value.len(), at + line.len())
            };
            at += line.len() + 2;
        }
        let mut request = captured("POST", "/b", 1, &[]);
        request.headers = headers;
        request.body = vec![b'x'; body_len].into();
        request
    }

    #[test]
    fn captured_header_lines_go_out_byte_for_byte() {
        let r = from_lines(
            &[
                "Host:  a",
                "Content-Length:7",
                "X-Trail: v \t ",
                "Cookie:",
                "X-Mid:a  b\t",
            ],
            7,
        );
        assert_eq!(
            head(&r, true, "", 7).unwrap(),
            "POST /b HTTP/1.1\r\nHost:  a\r\nContent-Length:7\r\nX-Trail: v \t \r\nCookie:\r\n\
             X-Mid:a  b\t\r\n\r\n"
        );
        // Host replaced by the target's, a length that no longer holds written anew.
        assert_eq!(
            head(&r, false, "", 3).unwrap(),
            "POST /b HTTP/1.1\r\nHost: staging.example:8080\r\nContent-Length: 3\r\n\
             X-Trail: v \t \r\nCookie:\r\nX-Mid:a  b\t\r\n\r\n"
        );
    }

    #[test]
    fn http10_options_star_absolute_form_and_missing_host() {
        let r = captured("OPTIONS", "*", 0, &[("User-Agent", "u")]);
        assert_eq!(
            head(&r, false, "/p", 0).unwrap(),
            "OPTIONS * HTTP/1.0\r\nHost: staging.example:8080\r\nUser-Agent: u\r\n\
             Connection: keep-alive\r\n\r\n"
        );
        assert_eq!(
            head(&r, true, "", 0).unwrap(),
            "OPTIONS * HTTP/1.0\r\nUser-Agent: u\r\nConnection: keep-alive\r\n\r\n"
        );
        let abs = captured("GET", "http://www.example.org?q=1", 1, &[]);
        assert_eq!(
            head(&abs, false, "/p", 0).unwrap(),
            "GET /p/?q=1 HTTP/1.1\r\nHost: staging.example:8080\r\n\r\n"
        );
        let abs = captured("GET", "https://www.example.org/x/y", 1, &[]);
        assert!(head(&abs, false, "", 0)
            .unwrap()
            .starts_with("GET /x/y HTTP/1.1\r\n"));
        for (method, target) in [
            ("GET", "*"),
            ("GE T", "/"),
            ("GET", "/a b"),
            ("GET", "ftp://x/"),
        ] {
            assert!(
                head(&captured(method, target, 1, &[]), false, "", 0).is_err(),
                "{method} {target}"
            );
        }
    }

    async fn read(
        response: &[u8],
        head_request: bool,
    ) -> (Result<Response, ExchangeError>, Vec<u8>) {
        read_recording(response, head_request, 0).await
    }

    async fn read_recording(
        response: &[u8],
        head_request: bool,
        record: usize,
    ) -> (Result<Response, ExchangeError>, Vec<u8>) {
        // A real socket pair: the server side writes the canned response and closes.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let response = response.to_vec();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 1024];
            let _ = s.read(&mut request).await.unwrap();
            s.write_all(&response).await.unwrap();
        });
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        let result = exchange(
            &mut client,
            &mut buf,
            b"GET / HTTP/1.1\r\n\r\n",
            head_request,
            true,
            record,
        )
        .await;
        server.await.unwrap();
        (result, buf)
    }

    #[tokio::test]
    async fn responses_are_read_to_their_end() {
        let (r, buf) = read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false).await;
        let r = r.unwrap();
        assert_eq!((r.status, r.reusable, buf.len()), (200, true, 0));

        let chunked = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 X\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
                        5\r\nhello\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\n";
        let r = read(chunked, false).await.0.unwrap();
        assert_eq!((r.status, r.reusable), (500, true));

        let r = read(
            b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            false,
        )
        .await
        .0
        .unwrap();
        assert_eq!(
            (r.status, r.reusable, r.location.as_deref()),
            (301, false, Some("/x"))
        );

        let r = read(b"HTTP/1.0 200 OK\r\n\r\nuntil close", false)
            .await
            .0
            .unwrap();
        assert_eq!((r.status, r.reusable), (200, false));

        let r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true)
            .await
            .0
            .unwrap();
        assert_eq!((r.status, r.reusable), (200, true), "HEAD: no body");

        let cut = read(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort", false)
            .await
            .0;
        assert!(
            matches!(cut, Err(ExchangeError::Closed { answered: true })),
            "{cut:?}"
        );
        let nothing = read(b"", false).await.0.unwrap_err();
        assert!(nothing.is_stale_connection(), "{nothing:?}");
        let garbage = read(b"SMTP ready\r\n\r\n", false).await.0;
        assert!(
            matches!(garbage, Err(ExchangeError::Malformed(_))),
            "{garbage:?}"
        );
    }

    #[tokio::test]
    async fn recording_keeps_the_head_and_the_body_decoded_up_to_the_limit() {
        let chunked =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                        5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let r = read_recording(chunked, false, 1024).await.0.unwrap();
        assert_eq!(
            String::from_utf8(r.raw.unwrap()).unwrap(),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nhello world"
        );
        let long = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world";
        let r = read_recording(long, false, 5).await.0.unwrap();
        assert_eq!(
            String::from_utf8(r.raw.unwrap()).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello"
        );
        let r = read(long, false).await.0.unwrap();
        assert!(r.raw.is_none(), "nothing kept unless asked");
    }
}
