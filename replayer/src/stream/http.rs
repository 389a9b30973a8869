//! `http`: a client's byte stream → complete HTTP/1.x requests.
//!
//! [`RequestParser`] is the per-stream framer the reassembler feeds ([`Consumer`]). Heads are
//! parsed with `httparse`; bodies are framed by `Content-Length` or by the chunked coding
//! (decoded into [`Request::body`]); keep-alive and pipelining follow from framing each
//! message exactly; a request without either header has no body (RFC 9112 §6.3), which covers
//! HTTP/1.0 and `Expect: 100-continue` (the body simply follows on the stream when it comes).
//!
//! A request is emitted only once it is complete. When a gap cuts one, or it outgrows its
//! memory budget, it is counted in `requests_cut` and never emitted half; framing then
//! resumes at the next line that looks like a request line (or, when the gap fell inside a
//! body of known length, right after that body).
//!
//! A framing error is different: a head that cannot be parsed (an obsolete folded line, say),
//! lengths that do not delimit a body, a head over 64 KiB, a malformed chunk. Resyncing there
//! would look for a request line inside what may be a body, and replay a request production
//! never served (`Foo: bar\r\n Content-Length: 38` hides a length; a `GET` in that body is
//! not a request). nginx answers such a request 400 (501 for an unknown coding) and closes
//! the connection, so nothing more on it was served: the rest of the connection is skipped,
//! counted in `framing_skipped` by [`FramingError`]. Where RFC 9112 lets a server choose, the
//! framer does what nginx does: a bare LF ends a line (§2.2).
//!
//! Bytes are parsed where they lie: only the unfinished tail of a segment is copied.
//!
//! When production's responses are captured too, each request emitted is queued for the
//! response that will answer it, and each loss is marked where it happened, exactly one
//! request or an unknown number ([`super::pairing`]).
//!
//! Long because framing (heads, lengths, chunked bodies, resync after a gap, the memory
//! budget) is one state machine, kept with its unit tests (about 100 of the lines).

use crate::capture::{CaptureStats, FramingError};
use crate::request::{ByteStr, Class, Connection, Headers, Request};
use crate::stream::framing::{
    self, chunk_step, copy_head, BodyFraming, Chunk, ChunkStep, FramingFields, Step,
    MAX_RESYNC_LINE,
};
use crate::stream::pairing::{Pairing, Pending, RequestKind};
use crate::stream::reassemble::{Buffered, Consumer};
use bytes::Bytes;
use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::Relaxed;

/// Largest request head we wait for; real servers refuse far smaller ones (nginx: 8 KiB lines).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header fields in one request head.
const MAX_HEADERS: usize = 128;

/// Methods accepted at a resynchronisation point. After a gap the next bytes may start
/// mid-line, and a tail such as `ET /x HTTP/1.1` must not pass for a request: only these
/// method names count there. (In step with the stream, any token method is accepted.)
const KNOWN_METHODS: &[&[u8]] = &[
    b"GET",
    b"HEAD",
    b"POST",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"PATCH",
    b"TRACE",
    b"CONNECT",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
    b"PURGE",
];

/// Where complete requests go, with the counters the framer keeps.
pub struct Emitter<'a> {
    /// Where `requests`, `requests_cut` and `dropped_over_cap` are counted.
    pub stats: &'a CaptureStats,
    /// The id the next request gets.
    pub next_id: u64,
    /// Called with each complete request, in capture order per connection (on the capture
    /// thread: it must not wait).
    pub on_request: &'a mut dyn FnMut(Request),
    /// When production's responses are captured too: where each request is queued for its
    /// response, and where requests lost to gaps and errors are marked. `None`: requests only.
    pub pairing: Option<&'a RefCell<Pairing<'a>>>,
}

impl Emitter<'_> {
    /// Hands over a complete request whose last byte was captured at `last_byte_ns`.
    fn emit(&mut self, mut request: Request, last_byte_ns: u64) {
        request.id = self.next_id;
        self.next_id += 1;
        self.stats.requests.fetch_add(1, Relaxed);
        if let Some(pairing) = self.pairing {
            let pending = Pending {
                id: request.id,
                kind: RequestKind::of(&request.method),
                last_byte_ns,
            };
            pairing.borrow_mut().request(&request.connection, pending);
        }
        (self.on_request)(request);
    }

    /// A request was cut: `exactly_one` when it is certain that no other was lost with it.
    fn cut(&self, conn: &Connection, exactly_one: bool) {
        self.stats.requests_cut.fetch_add(1, Relaxed);
        self.lost(conn, exactly_one);
    }

    /// A request was cut at a memory cap.
    fn over_cap(&self, conn: &Connection, exactly_one: bool) {
        self.stats.dropped_over_cap.fetch_add(1, Relaxed);
        self.cut(conn, exactly_one);
    }

    /// Requests were lost on `conn` (counted or not): pairing must know where.
    fn lost(&self, conn: &Connection, exactly_one: bool) {
        if let Some(pairing) = self.pairing {
            pairing.borrow_mut().requests_lost(conn, exactly_one);
        }
    }

    /// The client stream of `conn` begins (`mid_connection`: after bytes never seen).
    fn started(&self, conn: &Connection, mid_connection: bool) {
        if let Some(pairing) = self.pairing {
            pairing.borrow_mut().requests_started(conn, mid_connection);
        }
    }

    fn skip_rest(&self, cause: FramingError) {
        self.stats.framing_skipped[cause.index()].fetch_add(1, Relaxed);
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting the start of a request.
    #[default]
    Head,
    /// Looking for the next request line after a gap or a mid-stream start.
    Resync,
    /// In a `Content-Length` body.
    Body { remaining: u64 },
    /// In a chunked body.
    Chunked(Chunk),
    /// Passing over the rest of a body whose request was cut.
    Skip { remaining: u64 },
    /// After a framing error: nothing more on this connection is a request we can trust.
    Closed,
}

/// The part of a request known once its head is parsed.
#[derive(Debug)]
struct Head {
    method: ByteStr,
    target: ByteStr,
    version_minor: u8,
    headers: Headers,
}

/// Methods whose request body has no defined meaning (RFC 9110 §9.3.1, §9.3.2, §9.3.7).
const BODYLESS_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];

/// Frames the requests of one client stream.
#[derive(Debug, Default)]
pub struct RequestParser {
    state: State,
    /// Bytes received but not consumed yet (an unfinished head or line).
    buf: Vec<u8>,
    /// Set when a head was found incomplete: where to resume looking for its end in `buf`.
    head_scan: Option<usize>,
    /// Capture time of the packet that carried the current request's first byte.
    started_ns: u64,
    head_started: bool,
    head: Option<Head>,
    body: Vec<u8>,
    /// Whether the stream has begun (pairing is told how, once).
    begun: bool,
    /// Capture time of the packet being framed: the last byte's, when a request completes.
    now_ns: u64,
}

impl Buffered for RequestParser {
    fn buffered(&self) -> usize {
        self.buf.len() + self.body.len()
    }
}

impl Consumer<Emitter<'_>> for RequestParser {
    fn data(
        &mut self,
        cx: &mut Emitter<'_>,
        conn: &Connection,
        data: &[u8],
        ts_ns: u64,
        budget: usize,
    ) {
        if !self.begun {
            self.begun = true;
            cx.started(conn, false);
        }
        self.now_ns = ts_ns;
        let mut buf = std::mem::take(&mut self.buf);
        framing::feed(&mut buf, data, |input| self.process(cx, conn, input, ts_ns));
        self.buf = buf;
        self.enforce_budget(cx, conn, budget);
    }

    fn gap(&mut self, cx: &mut Emitter<'_>, conn: &Connection, len: Option<u64>) {
        if !self.begun {
            self.begun = true;
            cx.started(conn, len.is_none());
            if len.is_none() {
                // Nothing framed yet: the start's loss is all pairing needs to know.
                self.state = State::Resync;
                return;
            }
        }
        let partial_head = self.state == State::Head && !self.buf.is_empty();
        self.buf.clear();
        self.head_scan = None;
        self.head_started = false;
        self.state = match (self.state, len) {
            (State::Body { remaining }, Some(len)) if len < remaining => {
                // Inside one body: exactly that request is lost.
                cx.cut(conn, true);
                State::Skip {
                    remaining: remaining - len,
                }
            }
            (State::Skip { remaining }, Some(len)) if len < remaining => State::Skip {
                remaining: remaining - len,
            },
            (State::Closed, _) => State::Closed,
            (State::Body { .. } | State::Chunked(_), _) => {
                cx.cut(conn, false);
                State::Resync
            }
            _ => {
                // Whole requests may lie in the gap, counted or not.
                if partial_head {
                    cx.cut(conn, false);
                } else {
                    cx.lost(conn, false);
                }
                State::Resync
            }
        };
        self.drop_request();
    }

    fn end(&mut self, cx: &mut Emitter<'_>, conn: &Connection) {
        let partial = match self.state {
            State::Head => !self.buf.is_empty(),
            State::Body { .. } | State::Chunked(_) => true,
            State::Resync | State::Skip { .. } | State::Closed => false,
        };
        if partial {
            cx.cut(conn, true);
        }
        if let Some(pairing) = cx.pairing {
            pairing.borrow_mut().requests_ended(conn);
        }
        *self = RequestParser::default();
    }
}

impl RequestParser {
    /// Frames as much of `input` as possible; returns how many bytes were consumed. What is
    /// left is an unfinished head or line, which the caller keeps for the next data.
    fn process(
        &mut self,
        cx: &mut Emitter<'_>,
        conn: &Connection,
        input: &[u8],
        ts_ns: u64,
    ) -> usize {
        framing::frame_all(input, |rest| self.step(cx, conn, rest, ts_ns))
    }

    /// One framing step on `rest`, the bytes not consumed yet.
    fn step(&mut self, cx: &mut Emitter<'_>, conn: &Connection, rest: &[u8], ts_ns: u64) -> Step {
        match self.state {
            State::Closed => Step::Took(rest.len()),
            State::Resync => {
                framing::resync_step(rest, is_request_line, || self.state = State::Head)
            }
            State::Head => {
                if !self.head_started {
                    self.head_started = true;
                    self.started_ns = ts_ns;
                }
                Step::or_wait(self.parse_head(cx, conn, rest))
            }
            State::Body { remaining } => {
                let (take, remaining) = framing::take_body(remaining, rest);
                self.body.extend_from_slice(&rest[..take]);
                match remaining {
                    0 => self.complete(cx, conn),
                    _ => self.state = State::Body { remaining },
                }
                Step::Took(take)
            }
            State::Skip { remaining } => {
                let (step, left) = framing::skip_step(remaining, rest);
                self.state = left.map_or(State::Head, |remaining| State::Skip { remaining });
                step
            }
            State::Chunked(chunk) => Step::or_wait(self.chunked(cx, conn, chunk, rest)),
        }
    }

    /// Parses a request head at the start of `input`. Returns the bytes consumed, or `None`
    /// when the head is not complete yet.
    fn parse_head(
        &mut self,
        cx: &mut Emitter<'_>,
        conn: &Connection,
        input: &[u8],
    ) -> Option<usize> {
        if !framing::head_in_sight(&mut self.head_scan, input) {
            return None;
        }
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut []);
        let parsed = httparse::ParserConfig::default()
            .allow_multiple_spaces_in_request_line_delimiters(true)
            .parse_request_with_uninit_headers(&mut request, input, &mut headers);
        match parsed {
            Ok(httparse::Status::Complete(len)) => {
                let Some((head, framing)) = head_of(&request, &input[..len]) else {
                    cx.cut(conn, true);
                    return Some(self.close(cx, FramingError::BadHead, input.len()));
                };
                let bodyless = BODYLESS_METHODS.contains(&&*head.method);
                self.head = Some(head);
                match framing {
                    BodyFraming::None | BodyFraming::Length(0) => self.complete(cx, conn),
                    BodyFraming::Length(n) => self.state = State::Body { remaining: n },
                    BodyFraming::Chunked => self.state = State::Chunked(Chunk::Size),
                    BodyFraming::NotChunked | BodyFraming::Invalid if bodyless => {
                        // Where the body ends is unknown, but for these methods a body means
                        // nothing (RFC 9110 §9.3): the head is the request. Emit it; where
                        // the next one starts is not certain, so the rest is skipped.
                        self.complete(cx, conn);
                        return Some(self.close(cx, FramingError::BadLength, input.len()));
                    }
                    BodyFraming::NotChunked | BodyFraming::Invalid => {
                        cx.cut(conn, true);
                        return Some(self.close(cx, FramingError::BadLength, input.len()));
                    }
                }
                Some(len)
            }
            Ok(httparse::Status::Partial) => {
                if input.len() > MAX_HEAD_BYTES {
                    // nginx answers 400 (header too large) and closes.
                    cx.over_cap(conn, true);
                    return Some(self.close(cx, FramingError::HeadTooLarge, input.len()));
                }
                self.head_scan = Some(input.len().saturating_sub(3));
                None
            }
            Err(_) => {
                // Not a request head (nginx: 400, connection closed): count it and skip the
                // rest of the connection.
                cx.cut(conn, true);
                Some(self.close(cx, FramingError::BadHead, input.len()))
            }
        }
    }

    /// One step of a chunked body. Returns the bytes consumed, or `None` for "need more".
    fn chunked(
        &mut self,
        cx: &mut Emitter<'_>,
        conn: &Connection,
        chunk: Chunk,
        input: &[u8],
    ) -> Option<usize> {
        let body = &mut self.body;
        match chunk_step(chunk, input, |data| body.extend_from_slice(data)) {
            ChunkStep::Next(used, next) => {
                self.state = State::Chunked(next);
                Some(used)
            }
            ChunkStep::Done(used) => {
                self.complete(cx, conn);
                Some(used)
            }
            ChunkStep::More => None,
            ChunkStep::Bad => Some(self.abandon(cx, conn)),
        }
    }

    /// Gives up on a request whose chunked body is malformed, and on the rest of the
    /// connection (nginx: 400, closed); returns the bytes consumed (none: the closed state
    /// passes over them).
    fn abandon(&mut self, cx: &mut Emitter<'_>, conn: &Connection) -> usize {
        cx.cut(conn, true);
        self.close(cx, FramingError::BadChunk, 0)
    }

    /// A framing error: drops the current request and skips the rest of the connection,
    /// counted by `cause`. Returns `consumed`, for the caller to pass on as the bytes it
    /// consumed.
    fn close(&mut self, cx: &mut Emitter<'_>, cause: FramingError, consumed: usize) -> usize {
        cx.skip_rest(cause);
        self.drop_request();
        self.head_scan = None;
        self.state = State::Closed;
        consumed
    }

    /// The current request is complete: hand it over.
    fn complete(&mut self, cx: &mut Emitter<'_>, conn: &Connection) {
        if let Some(head) = self.head.take() {
            let body = if self.body.is_empty() {
                Bytes::new()
            } else {
                Bytes::from(std::mem::take(&mut self.body))
            };
            let request = Request {
                id: 0,
                captured_at_ns: self.started_ns,
                connection: *conn,
                method: head.method,
                target: head.target,
                version_minor: head.version_minor,
                headers: head.headers,
                body,
                record_id: None,
                from_record_file: false,
            };
            cx.emit(request, self.now_ns);
        }
        self.state = State::Head;
        self.head_started = false;
    }

    fn drop_request(&mut self) {
        self.head = None;
        self.body = Vec::new();
        self.head_started = false;
    }

    /// Keeps what this stream holds within `budget`, cutting the request that outgrew it.
    fn enforce_budget(&mut self, cx: &mut Emitter<'_>, conn: &Connection, budget: usize) {
        if self.buffered() <= budget {
            return;
        }
        match self.state {
            State::Body { remaining } => {
                cx.over_cap(conn, true);
                self.drop_request();
                self.state = State::Skip { remaining };
            }
            State::Resync | State::Closed => {}
            _ => {
                cx.over_cap(conn, false);
                self.drop_request();
                self.state = State::Resync;
            }
        }
        self.buf.clear();
        self.buf.shrink_to(MAX_RESYNC_LINE);
        self.head_scan = None;
    }
}

/// Turns a parsed head into a [`Head`] and decides how its body is framed; `None` only if
/// httparse left a part of the request line unset.
///
/// `raw` is the head's bytes, which `request` points into: they are copied once into a shared
/// buffer, and every part of the head becomes a slice of (or an offset into) that copy.
fn head_of(request: &httparse::Request<'_, '_>, raw: &[u8]) -> Option<(Head, BodyFraming)> {
    let shared = copy_head(raw);
    // Where `part` lies in `raw`, and so in the copy.
    let range = |part: &[u8]| {
        let start = part.as_ptr() as usize - raw.as_ptr() as usize;
        start..start + part.len()
    };
    let method = request.method?;
    // The common methods are constants: a slice of the shared copy would cost a reference
    // count (an atomic operation) when made and again when dropped, on every request.
    let method = match KNOWN_METHODS
        .iter()
        .find(|known| **known == method.as_bytes())
    {
        // SAFETY: every entry of KNOWN_METHODS is ASCII.
        Some(&known) => ByteStr::from_static(unsafe { std::str::from_utf8_unchecked(known) }),
        // SAFETY: a `str` httparse returned, so its exact copy is UTF-8 too.
        None => unsafe { ByteStr::from_utf8_unchecked(shared.slice(range(method.as_bytes()))) },
    };
    // SAFETY: as above.
    let target =
        unsafe { ByteStr::from_utf8_unchecked(shared.slice(range(request.path?.as_bytes()))) };
    let version_minor = request.version?;
    let mut framing = FramingFields::default();
    // One spare slot: the marker header `rewrite` adds to every replayed request.
    let mut headers = Headers::captured(shared, request.headers.len() + 1);
    for h in request.headers.iter() {
        let value = range(h.value);
        // The line goes on to its ending: what follows the value is blanks httparse left out
        // of it, kept so that the line can be written back byte for byte.
        // A plain loop, not memchr: there are rarely more than one or two bytes to look at
        // (httparse refuses a CR that does not end a line).
        let mut line_end = value.end;
        while line_end < raw.len() && !matches!(raw[line_end], b'\r' | b'\n') {
            line_end += 1;
        }
        // SAFETY: httparse returned the name as a `str` lying in `raw`; the copy is exact.
        let class = unsafe { headers.push_captured(range(h.name.as_bytes()), value, line_end) };
        if class == Class::CONTENT_LENGTH {
            framing.content_length(h.value);
        } else if class == Class::TRANSFER_ENCODING {
            framing.transfer_encoding(h.value);
        }
    }
    let head = Head {
        method,
        target,
        version_minor,
        headers,
    };
    Some((head, framing.body()))
}

/// A request line: `METHOD SP target SP HTTP/1.x`, with a known method.
fn is_request_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(sp) = memchr::memchr(b' ', line) else {
        return false;
    };
    let (method, rest) = (&line[..sp], &line[sp + 1..]);
    if !KNOWN_METHODS.contains(&method) {
        return false;
    }
    let Some(sp) = memchr::memrchr(b' ', rest) else {
        return false;
    };
    let (target, version) = (&rest[..sp], &rest[sp + 1..]);
    let target = target.trim_ascii();
    !target.is_empty()
        && target.iter().all(|&b| b > b' ' && b != 0x7f)
        && version.len() == 8
        && version.starts_with(b"HTTP/1.")
        && version[7].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn conn() -> Connection {
        Connection {
            client: "10.0.0.1:40000".parse::<SocketAddr>().unwrap(),
            server: "10.0.0.2:80".parse::<SocketAddr>().unwrap(),
        }
    }

    /// Feeds `pieces` (None = a gap of that many bytes) and returns `method target body`.
    fn frame(pieces: &[Result<&[u8], u64>]) -> (Vec<String>, CaptureStats) {
        let stats = CaptureStats::default();
        let mut out = Vec::new();
        {
            let mut sink = |r: Request| {
                out.push(format!(
                    "{} {} {}",
                    r.method,
                    r.target,
                    String::from_utf8_lossy(&r.body)
                ))
            };
            let mut cx = Emitter {
                stats: &stats,
                next_id: 1,
                on_request: &mut sink,
                pairing: None,
            };
            let mut parser = RequestParser::default();
            for piece in pieces {
                match piece {
                    Ok(data) => parser.data(&mut cx, &conn(), data, 0, usize::MAX),
                    Err(len) => parser.gap(&mut cx, &conn(), Some(*len)),
                }
            }
            parser.end(&mut cx, &conn());
        }
        (out, stats)
    }

    #[test]
    fn pipelined_requests_in_one_piece() {
        let (out, _) = frame(&[Ok(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.0\r\n\r\n",
        )]);
        assert_eq!(out, ["GET /a ", "HEAD /b "]);
    }

    #[test]
    fn bodies_by_length_and_chunked_split_anywhere() {
        let stream: &[u8] = b"POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: 1\r\n\r\nGET /z HTTP/1.1\r\n\r\n";
        for split in 0..stream.len() {
            let (out, stats) = frame(&[Ok(&stream[..split]), Ok(&stream[split..])]);
            assert_eq!(
                out,
                ["POST /p hello", "PUT /c abcde", "GET /z "],
                "split {split}"
            );
            assert_eq!(stats.requests_cut.load(Relaxed), 0);
        }
    }

    #[test]
    fn a_gap_cuts_one_request_and_framing_resumes() {
        let (out, stats) = frame(&[
            Ok(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HT"),
            Err(20),
            Ok(b"ost: x\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"),
        ]);
        assert_eq!(out, ["GET /1 ", "GET /3 "]);
        assert_eq!(stats.requests_cut.load(Relaxed), 1);
    }

    #[test]
    fn a_gap_inside_a_known_body_skips_just_that_body() {
        let (out, stats) = frame(&[
            Ok(b"POST /u HTTP/1.1\r\nContent-Length: 10\r\n\r\n01"),
            Err(4),
            Ok(b"6789GET /next HTTP/1.1\r\n\r\n"),
        ]);
        assert_eq!(out, ["GET /next "]);
        assert_eq!(stats.requests_cut.load(Relaxed), 1);
    }

    #[test]
    fn resync_ignores_a_cut_request_line() {
        let (out, _) = frame(&[Err(3), Ok(b"ET /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\n\r\n")]);
        assert_eq!(out, ["GET /y "]);
    }

    #[test]
    fn transfer_encoding_lines_are_one_list() {
        let (out, stats) = frame(&[Ok(b"POST /a HTTP/1.1\r\nTransfer-Encoding: deflate\r\n\
            Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n")]);
        assert_eq!(out, ["POST /a abc", "GET /b "]);
        assert_eq!(stats.requests_cut.load(Relaxed), 0);
        // An unknown final coding on a bodyless method: the head is the request.
        let (out, _) = frame(&[Ok(b"HEAD /h HTTP/1.1\r\nContent-Length: 0\r\n\
            Transfer-Encoding: ,.chunked,\r\n\r\n")]);
        assert_eq!(out, ["HEAD /h "]);
        // `chunked` not last over the lines, or applied twice: the body cannot be delimited.
        for te in [
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
            "Transfer-Encoding: chunked, chunked",
        ] {
            let stream = format!("POST /a HTTP/1.1\r\n{te}\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
            let (out, stats) = frame(&[Ok(stream.as_bytes())]);
            assert!(out.is_empty(), "{te}: {out:?}");
            assert_eq!(stats.requests_cut.load(Relaxed), 1, "{te}");
        }
    }

    fn skipped(stats: &CaptureStats, cause: FramingError) -> u64 {
        stats.framing_skipped[cause.index()].load(Relaxed)
    }

    #[test]
    fn garbage_is_counted_not_emitted_and_ends_the_connection() {
        let (out, stats) = frame(&[Ok(
            b"\x16\x03\x01 binary junk\r\n\r\nGET /no HTTP/1.1\r\n\r\n",
        )]);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(stats.requests_cut.load(Relaxed), 1);
        assert_eq!(skipped(&stats, FramingError::BadHead), 1);
    }

    #[test]
    fn after_a_framing_error_nothing_more_comes_out_of_the_connection() {
        let hidden = b"GET /bye HTTP/1.1\r\nHost: a\r\n\r\n";
        let cases: [(String, FramingError); 4] = [
            // A folded line carrying the length (nginx: 400, then closes).
            (
                format!(
                    "POST /p HTTP/1.1\r\nFoo: bar\r\n Content-Length: {}\r\n\r\n",
                    hidden.len()
                ),
                FramingError::BadHead,
            ),
            (
                "POST /p HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\n".into(),
                FramingError::BadLength,
            ),
            (
                "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".into(),
                FramingError::BadChunk,
            ),
            (
                format!("GET /p HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD_BYTES)),
                FramingError::HeadTooLarge,
            ),
        ];
        for (head, cause) in cases {
            let stream = [head.as_bytes(), hidden, b"GET /after HTTP/1.1\r\n\r\n"].concat();
            for split in [0, stream.len() / 2, stream.len() - 1] {
                let (out, stats) = frame(&[
                    Ok(b"GET /first HTTP/1.1\r\n\r\n"),
                    Ok(&stream[..split]),
                    Ok(&stream[split..]),
                ]);
                assert_eq!(out, ["GET /first "], "{cause:?} split {split}");
                // A whole oversized head fails to parse before it is found too large.
                let counted = match cause {
                    FramingError::HeadTooLarge => {
                        FramingError::ALL.iter().map(|&c| skipped(&stats, c)).sum()
                    }
                    _ => skipped(&stats, cause),
                };
                assert_eq!(counted, 1, "{cause:?} split {split}");
            }
        }
        // A gap after the error does not bring framing back.
        let (out, _) = frame(&[
            Ok(b"GET /x HTTP/1.1\r\nFoo: bar\r\n folded\r\n\r\n"),
            Err(10),
            Ok(b"GET /y HTTP/1.1\r\n\r\n"),
        ]);
        assert!(out.is_empty(), "{out:?}");
    }

    /// Heads production refuses (400 or 501, then closes), each followed by a body that is
    /// meant to look like requests.
    const BAD_HEADS: &[&str] = &[
        "POST /e HTTP/1.1\r\nFoo: bar\r\n Content-Length: {len}\r\n\r\n",
        "POST /e HTTP/1.1\r\nContent-Length: {len}\r\nContent-Length: 1\r\n\r\n",
        "POST /e HTTP/1.1\r\nContent-Length: {len}x\r\n\r\n",
        "POST /e HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{len}z\r\n",
        "GET /e HTTP/1.1\r\nContent-Length: -{len}\r\n\r\n",
        "GET /e HTTP/9.9 junk\r\n\r\n",
        "\x16\x03\x01\x02\x00 hello\r\n",
    ];

    proptest::proptest! {
        /// Whatever follows a framing error on a connection (here: bodies full of request
        /// lines, then more requests), nothing of it comes out: exactly the requests before
        /// the error do, however the stream is cut into pieces and wherever gaps fall after it.
        #[test]
        fn no_request_comes_out_of_a_body_after_a_framing_error(
            before in proptest::collection::vec("/[a-z]{1,8}", 0..4),
            bad in 0..BAD_HEADS.len(),
            smuggled in proptest::collection::vec(("(GET|POST|HEAD)", "/s[a-z]{0,6}", proptest::bool::ANY), 1..5),
            after in proptest::collection::vec("/[a-z]{1,8}", 0..3),
            cuts in proptest::collection::vec(0usize..4096, 0..6),
            gap_after_error in proptest::option::of(1u64..100),
        ) {
            let mut body = Vec::new();
            for (method, target, lf_only) in &smuggled {
                let eol = if *lf_only { "\n" } else { "\r\n" };
                body.extend_from_slice(format!("{method} {target} HTTP/1.1{eol}Host: a{eol}{eol}").as_bytes());
            }
            let head = BAD_HEADS[bad].replace("{len}", &body.len().to_string());
            let mut good = Vec::new();
            for target in &before {
                good.extend_from_slice(format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
            }
            let mut rest = [head.as_bytes(), &body].concat();
            for target in &after {
                rest.extend_from_slice(format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
            }
            let stream = [good.as_slice(), &rest].concat();
            let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
            bounds.extend([0, stream.len()]);
            bounds.sort_unstable();
            let mut pieces: Vec<Result<&[u8], u64>> = bounds
                .windows(2)
                .map(|w| Ok(&stream[w[0]..w[1]]))
                .collect();
            if let Some(len) = gap_after_error {
                // A gap somewhere after the bad head has begun does not revive the stream.
                pieces.push(Err(len));
                pieces.push(Ok(b"GET /revived HTTP/1.1\r\n\r\n"));
            }
            let (out, stats) = frame(&pieces);
            let mut want: Vec<String> = before.iter().map(|t| format!("GET {t} ")).collect();
            if BAD_HEADS[bad].starts_with("GET /e HTTP/1.1") {
                // A GET's body means nothing: its head is emitted, then nothing more.
                want.push("GET /e ".into());
            }
            proptest::prop_assert_eq!(out, want);
            let skipped: u64 = FramingError::ALL.iter().map(|&c| skipped(&stats, c)).sum();
            proptest::prop_assert_eq!(skipped, 1);
        }
    }

    #[test]
    fn a_bare_lf_ends_a_line_as_nginx_takes_it() {
        let (out, stats) = frame(&[Ok(
            b"GET /a HTTP/1.1\nHost: x\n\nPOST /b HTTP/1.1\nContent-Length: 2\r\n\nokGET /c HTTP/1.1\r\n\n",
        )]);
        assert_eq!(out, ["GET /a ", "POST /b ok", "GET /c "]);
        assert_eq!(stats.requests_cut.load(Relaxed), 0);
    }
}
