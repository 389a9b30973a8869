//! `response`: a server's byte stream → production's HTTP/1.x responses, each paired with
//! the request it answers.
//!
//! [`ResponseParser`] is the per-stream framer the server-side reassembler feeds
//! ([`Consumer`]). Heads are parsed with `httparse`; the body is framed as RFC 9112 §6.3 says
//! for a response: none for a response to `HEAD`, for 1xx, 204 and 304; by a final `chunked`
//! transfer coding (decoded); by `Content-Length`; otherwise it runs until the connection
//! closes (FIN, RST, the end of the input). A 1xx other than 101 is interim (`100 Continue`):
//! it answers no request and is not emitted. A `101`, or a 2xx to `CONNECT`, turns the
//! connection into a tunnel: the response is emitted and nothing after it is framed.
//!
//! Bodies are never buffered: they stream through a [`BodyDigest`] (content coding undone,
//! hashed), and a response is emitted once its last byte has arrived. Which request it
//! answers comes from [`Pairing`], when the head is complete: that request's method decides
//! the framing (`HEAD`, `CONNECT`); a response whose request is not certain is counted
//! (`responses_unpaired`) and framed as an answer to `GET`.
//!
//! Losses never panic and are always counted: a gap inside a body of known length cuts that
//! response only (`responses_cut`) and the next ones still pair; any other gap, and junk where
//! a head was expected (`response_framing_errors`), make framing look for the next status
//! line and pairing give up on the connection (see [`super::pairing`]).
//!
//! Over 600 lines because a third of it is the unit tests: each framing rule above with the
//! adversarial shapes next to it (split, cut and pipelined answers, junk, gaps).

use crate::capture::CaptureStats;
use crate::diff::digest::{BodyDigest, Digest};
use crate::request::Connection;
use crate::response::{Response, ResponseConfig};
use crate::stream::framing::{
    self, chunk_step, copy_head, BodyFraming, Chunk, ChunkStep, FramingFields, Step,
    MAX_RESYNC_LINE,
};
use crate::stream::http::MAX_HEAD_BYTES;
use crate::stream::pairing::{Pairing, RequestKind};
use crate::stream::reassemble::{Buffered, Consumer};
use bytes::Bytes;
use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::atomic::Ordering::Relaxed;

/// Most header fields in one response head.
const MAX_HEADERS: usize = 128;

/// Where complete responses go, with what framing them needs.
pub struct ResponseSink<'a> {
    /// Where `responses`, `responses_unpaired`, `responses_cut` and
    /// `response_framing_errors` are counted.
    pub stats: &'a CaptureStats,
    /// How bodies are digested and kept.
    pub config: &'a ResponseConfig,
    /// The queues of requests waiting for their responses (filled by the request framer).
    pub pairing: &'a RefCell<Pairing<'a>>,
    /// Called with each complete response, in order per connection (on the capture thread:
    /// it must not wait).
    pub on_response: &'a mut dyn FnMut(Response),
}

impl ResponseSink<'_> {
    fn cut(&self) {
        self.stats.responses_cut.fetch_add(1, Relaxed);
    }

    /// Responses may have been lost on `conn`: pairing gives up on it.
    fn lost(&self, conn: &Connection) {
        self.pairing.borrow_mut().responses_lost(conn);
    }

    /// Junk where a head was expected, or a head or chunk that cannot be framed.
    fn junk(&self, conn: &Connection) {
        self.stats.response_framing_errors.fetch_add(1, Relaxed);
        self.lost(conn);
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting the start of a response.
    #[default]
    Head,
    /// Looking for the next status line after a gap, junk or a mid-stream start.
    Resync,
    /// In a `Content-Length` body.
    Body { remaining: u64 },
    /// In a chunked body.
    Chunked(Chunk),
    /// In a body that ends when the connection does.
    UntilClose,
    /// Passing over the rest of a body whose response was cut.
    Skip { remaining: u64 },
    /// Nothing more on this connection is framed: a tunnel, or a close-delimited body cut.
    Done,
}

/// A response whose head is parsed and whose body is coming.
struct Partial<'c> {
    response: Response,
    digest: BodyDigest<'c>,
    /// The body's first bytes, up to `keep` ([`ResponseConfig::keep_body`]).
    raw: Vec<u8>,
    keep: usize,
}

/// Frames the responses of one server stream.
#[derive(Default)]
pub struct ResponseParser<'c> {
    state: State,
    /// Bytes received but not consumed yet (an unfinished head or line).
    buf: Vec<u8>,
    /// Set when a head was found incomplete: where to resume looking for its end in `buf`.
    head_scan: Option<usize>,
    head_started: bool,
    /// Capture time of the packet that carried the current response's first byte.
    first_byte_ns: u64,
    /// Capture time of the packet being framed.
    now_ns: u64,
    /// Whether the stream has begun (a mid-connection start is a loss for pairing).
    begun: bool,
    /// Boxed: most of the time a stream is between responses, and the reassembler keeps
    /// thousands of parsers.
    current: Option<Box<Partial<'c>>>,
}

impl Buffered for ResponseParser<'_> {
    fn buffered(&self) -> usize {
        self.buf.len() + self.current.as_ref().map_or(0, |p| p.raw.len())
    }
}

impl<'c> Consumer<ResponseSink<'c>> for ResponseParser<'c> {
    fn data(
        &mut self,
        cx: &mut ResponseSink<'c>,
        conn: &Connection,
        data: &[u8],
        ts_ns: u64,
        budget: usize,
    ) {
        self.begun = true;
        self.now_ns = ts_ns;
        let mut buf = std::mem::take(&mut self.buf);
        framing::feed(&mut buf, data, |input| self.process(cx, conn, input));
        self.buf = buf;
        self.enforce_budget(cx, conn, budget);
    }

    fn gap(&mut self, cx: &mut ResponseSink<'c>, conn: &Connection, len: Option<u64>) {
        if !self.begun {
            self.begun = true;
            if len.is_none() {
                // Started mid-connection: responses before were never seen.
                cx.lost(conn);
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
                // Inside one body: that response is lost, order still holds after it.
                cx.cut();
                State::Skip {
                    remaining: remaining - len,
                }
            }
            (State::Skip { remaining }, Some(len)) if len < remaining => State::Skip {
                remaining: remaining - len,
            },
            (State::Done, _) => State::Done,
            (State::UntilClose, _) => {
                // The rest of the connection is this body, and part of it is missing.
                cx.cut();
                State::Done
            }
            (State::Body { .. } | State::Chunked(_), _) => {
                cx.cut();
                cx.lost(conn);
                State::Resync
            }
            _ => {
                // Whole responses may lie in the gap.
                if partial_head {
                    cx.cut();
                }
                cx.lost(conn);
                State::Resync
            }
        };
        self.current = None;
    }

    fn end(&mut self, cx: &mut ResponseSink<'c>, conn: &Connection) {
        match self.state {
            State::UntilClose => self.complete(cx),
            State::Head if !self.buf.trim_ascii().is_empty() => cx.cut(),
            State::Body { .. } | State::Chunked(_) => cx.cut(),
            _ => {}
        }
        cx.pairing.borrow_mut().responses_ended(conn);
        *self = ResponseParser::default();
    }
}

impl<'c> ResponseParser<'c> {
    /// Frames as much of `input` as possible; returns how many bytes were consumed. What is
    /// left is an unfinished head or line, which the caller keeps for the next data.
    fn process(&mut self, cx: &mut ResponseSink<'c>, conn: &Connection, input: &[u8]) -> usize {
        framing::frame_all(input, |rest| self.step(cx, conn, rest))
    }

    /// One framing step on `rest`, the bytes not consumed yet.
    fn step(&mut self, cx: &mut ResponseSink<'c>, conn: &Connection, rest: &[u8]) -> Step {
        match self.state {
            State::Done => Step::Took(rest.len()),
            State::Resync => {
                framing::resync_step(rest, is_status_line, || self.state = State::Head)
            }
            State::Head => {
                if !self.head_started {
                    self.head_started = true;
                    self.first_byte_ns = self.now_ns;
                }
                Step::or_wait(self.parse_head(cx, conn, rest))
            }
            State::Body { remaining } => {
                let (take, remaining) = framing::take_body(remaining, rest);
                match remaining {
                    0 => self.complete_with(cx, &rest[..take]),
                    _ => {
                        self.body(&rest[..take]);
                        self.state = State::Body { remaining };
                    }
                }
                Step::Took(take)
            }
            State::UntilClose => {
                self.body(rest);
                Step::Took(rest.len())
            }
            State::Skip { remaining } => {
                let (step, left) = framing::skip_step(remaining, rest);
                self.state = left.map_or(State::Head, |remaining| State::Skip { remaining });
                step
            }
            State::Chunked(chunk) => {
                let current = &mut self.current;
                match chunk_step(chunk, rest, |data| feed_body(current, data)) {
                    ChunkStep::Next(used, next) => {
                        self.state = State::Chunked(next);
                        Step::Took(used)
                    }
                    ChunkStep::Done(used) => {
                        self.complete(cx);
                        Step::Took(used)
                    }
                    ChunkStep::More => Step::Wait(0),
                    ChunkStep::Bad => {
                        cx.cut();
                        cx.junk(conn);
                        self.resync();
                        Step::Took(0)
                    }
                }
            }
        }
    }

    /// Parses a response head at the start of `input`. Returns the bytes consumed, or `None`
    /// when the head is not complete yet.
    fn parse_head(
        &mut self,
        cx: &mut ResponseSink<'c>,
        conn: &Connection,
        input: &[u8],
    ) -> Option<usize> {
        if !framing::head_in_sight(&mut self.head_scan, input) {
            return None;
        }
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        // Production's answers are read as leniently as clients read them: they are compared,
        // never replayed.
        let parsed = httparse::ParserConfig::default()
            .allow_multiple_spaces_in_response_status_delimiters(true)
            .allow_obsolete_multiline_headers_in_responses(true)
            .parse_response_with_uninit_headers(&mut response, input, &mut headers);
        match parsed {
            Ok(httparse::Status::Complete(len)) => {
                self.head(cx, conn, &response, &input[..len]);
                Some(len)
            }
            Ok(httparse::Status::Partial) if input.len() > MAX_HEAD_BYTES => {
                cx.junk(conn);
                self.resync();
                Some(input.len())
            }
            Ok(httparse::Status::Partial) => {
                self.head_scan = Some(input.len().saturating_sub(3));
                None
            }
            Err(_) => {
                // Not a response head. One byte on, so the search for the next status line
                // starts past this one.
                cx.junk(conn);
                self.resync();
                Some(1)
            }
        }
    }

    /// A complete head `raw`, parsed as `parsed`: pairs it and sets up its body.
    fn head(
        &mut self,
        cx: &mut ResponseSink<'c>,
        conn: &Connection,
        parsed: &httparse::Response<'_, '_>,
        raw: &[u8],
    ) {
        self.head_started = false;
        let (Some(status), Some(version_minor)) = (parsed.code, parsed.version) else {
            cx.junk(conn);
            self.resync();
            return;
        };
        if (100..200).contains(&status) && status != 101 {
            // Interim (`100 Continue`, `103 Early Hints`): the final response follows.
            return;
        }
        // Where `part` lies in `raw`, and so in the copy.
        let range = |part: &[u8]| -> Range<usize> {
            let start = part.as_ptr() as usize - raw.as_ptr() as usize;
            start..start + part.len()
        };
        let mut framing = FramingFields::default();
        let (mut content_type, mut location, mut content_encoding) = (None, None, None);
        for h in parsed.headers.iter() {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"content-length") {
                framing.content_length(h.value);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                framing.transfer_encoding(h.value);
            } else if name.eq_ignore_ascii_case(b"content-type") {
                let media = h.value.split(|&b| b == b';').next().unwrap_or_default();
                content_type = Some(range(media.trim_ascii()));
            } else if name.eq_ignore_ascii_case(b"location") {
                location = Some(range(h.value));
            } else if name.eq_ignore_ascii_case(b"content-encoding") {
                content_encoding = Some(range(h.value));
            }
        }

        let pending = cx.pairing.borrow_mut().answer(conn);
        let kind = pending.map_or(RequestKind::Other, |p| p.kind);
        let config: &'c ResponseConfig = cx.config;
        let digest = BodyDigest::new(&config.digest, content_encoding.clone().map(|r| &raw[r]));
        let head = copy_head(raw);
        let slice = |r: Option<Range<usize>>| r.map(|r| head.slice(r));
        let response = Response {
            connection: *conn,
            request_id: pending.map(|p| p.id),
            status,
            version_minor,
            content_type: slice(content_type),
            location: slice(location),
            content_encoding: slice(content_encoding),
            head,
            body: Digest::empty(),
            raw_body: Bytes::new(),
            first_byte_ns: self.first_byte_ns,
            last_byte_ns: self.now_ns,
            latency_ns: pending.map(|p| self.first_byte_ns.saturating_sub(p.last_byte_ns)),
        };
        self.current = Some(Box::new(Partial {
            response,
            digest,
            raw: Vec::new(),
            keep: config.keep_body,
        }));

        let tunnel = status == 101 || (kind == RequestKind::Connect && status / 100 == 2);
        if tunnel {
            self.complete(cx);
            cx.pairing.borrow_mut().tunnel(conn);
            self.state = State::Done;
            return;
        }
        if kind == RequestKind::Head || status == 204 || status == 304 {
            self.complete(cx);
            return;
        }
        match framing.body() {
            BodyFraming::Length(0) => self.complete(cx),
            BodyFraming::Length(n) => self.state = State::Body { remaining: n },
            BodyFraming::Chunked => self.state = State::Chunked(Chunk::Size),
            BodyFraming::None | BodyFraming::NotChunked => self.state = State::UntilClose,
            BodyFraming::Invalid => {
                // Where the body ends is unknown: this response is lost, and where the next
                // one starts is only a guess.
                cx.cut();
                cx.junk(conn);
                self.resync();
            }
        }
    }

    /// Body bytes of the current response.
    fn body(&mut self, data: &[u8]) {
        feed_body(&mut self.current, data);
    }

    /// The current response is complete: hand it over.
    fn complete(&mut self, cx: &mut ResponseSink<'c>) {
        self.complete_with(cx, &[]);
    }

    /// The current response is complete with its body's last bytes, `last`: hand it over.
    fn complete_with(&mut self, cx: &mut ResponseSink<'c>, last: &[u8]) {
        if let Some(mut partial) = self.current.take() {
            partial.keep_raw(last);
            let Partial {
                mut response,
                digest,
                raw,
                ..
            } = *partial;
            response.body = digest.finish_with(last);
            response.raw_body = Bytes::from(raw);
            response.last_byte_ns = self.now_ns;
            cx.stats.responses.fetch_add(1, Relaxed);
            if response.request_id.is_none() {
                cx.stats.responses_unpaired.fetch_add(1, Relaxed);
            }
            (cx.on_response)(response);
        }
        self.state = State::Head;
        self.head_started = false;
    }

    /// Drops the current response and looks for the next status line.
    fn resync(&mut self) {
        self.current = None;
        self.head_scan = None;
        self.head_started = false;
        self.state = State::Resync;
    }

    /// Keeps what this stream holds within `budget`, cutting the response that outgrew it.
    fn enforce_budget(&mut self, cx: &mut ResponseSink<'c>, conn: &Connection, budget: usize) {
        if self.buffered() <= budget {
            return;
        }
        cx.stats.response_dropped_over_cap.fetch_add(1, Relaxed);
        match self.state {
            State::Body { remaining } => {
                cx.cut();
                self.current = None;
                self.state = State::Skip { remaining };
            }
            State::Resync | State::Done | State::Skip { .. } => {}
            _ => {
                cx.cut();
                cx.lost(conn);
                self.resync();
            }
        }
        self.buf.clear();
        self.buf.shrink_to(MAX_RESYNC_LINE);
        self.head_scan = None;
    }
}

/// Body bytes to the current response's digest (and its kept copy, if asked for).
fn feed_body(current: &mut Option<Box<Partial<'_>>>, data: &[u8]) {
    if let Some(partial) = current {
        partial.digest.update(data);
        partial.keep_raw(data);
    }
}

impl Partial<'_> {
    /// Keeps the start of `data` while the kept copy is under `keep` bytes.
    fn keep_raw(&mut self, data: &[u8]) {
        let room = self.keep - self.raw.len();
        self.raw.extend_from_slice(&data[..room.min(data.len())]);
    }
}

/// A status line: `HTTP/1.x SP 3DIGIT`, then a space and a reason or nothing.
fn is_status_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.len() >= 12
        && line.starts_with(b"HTTP/1.")
        && line[7].is_ascii_digit()
        && line[8] == b' '
        && line[9..12].iter().all(u8::is_ascii_digit)
        && (line.len() == 12 || line[12] == b' ')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::test_support::{connection as conn, gzip};
    use crate::stream::pairing::Pending;
    use xxhash_rust::xxh3::xxh3_64;

    /// Queues one request per method (ids from 1, last byte at time 4), then lets `feed`
    /// drive a parser; returns what came out and the counters.
    fn with_parser(
        config: &ResponseConfig,
        methods: &[&str],
        feed: impl for<'a> FnOnce(&mut ResponseParser<'a>, &mut ResponseSink<'a>),
    ) -> (Vec<Response>, CaptureStats) {
        let stats = CaptureStats::default();
        let mut out = Vec::new();
        {
            let pairing = RefCell::new(Pairing::new(&stats, 16));
            for (i, method) in methods.iter().enumerate() {
                let pending = Pending {
                    id: i as u64 + 1,
                    kind: RequestKind::of(method),
                    last_byte_ns: 4,
                };
                pairing.borrow_mut().request(&conn(), pending);
            }
            let mut sink = |r: Response| out.push(r);
            let mut cx = ResponseSink {
                stats: &stats,
                config,
                pairing: &pairing,
                on_response: &mut sink,
            };
            feed(&mut ResponseParser::default(), &mut cx);
        }
        (out, stats)
    }

    /// [`with_parser`] feeding `pieces` (`Err(len)`: a gap) at time 10, then the end.
    fn frame(methods: &[&str], pieces: &[Result<&[u8], u64>]) -> (Vec<Response>, CaptureStats) {
        with_parser(&ResponseConfig::default(), methods, |parser, cx| {
            for piece in pieces {
                match piece {
                    Ok(data) => parser.data(cx, &conn(), data, 10, usize::MAX),
                    Err(len) => parser.gap(cx, &conn(), Some(*len)),
                }
            }
            parser.end(cx, &conn());
        })
    }

    /// (request id, status, decoded length) of each response.
    fn summary(out: &[Response]) -> Vec<(Option<u64>, u16, u64)> {
        out.iter()
            .map(|r| (r.request_id, r.status, r.body.decoded_len))
            .collect()
    }

    fn count(counter: &std::sync::atomic::AtomicU64) -> u64 {
        counter.load(Relaxed)
    }

    #[test]
    fn length_chunked_and_gzip_bodies_digest_the_same_split_anywhere() {
        let gz = gzip(b"hello");
        let stream = [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3;x=y\r\nllo\r\n0\r\nT: 1\r\n\r\n",
            format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", gz.len()).as_bytes(),
            &gz,
        ]
        .concat();
        for split in 0..stream.len() {
            let (out, stats) = frame(
                &["GET", "GET", "GET"],
                &[Ok(&stream[..split]), Ok(&stream[split..])],
            );
            let want = [(Some(1), 200, 5), (Some(2), 200, 5), (Some(3), 200, 5)];
            assert_eq!(summary(&out), want, "split {split}");
            assert!(out.iter().all(|r| r.body.hash == xxh3_64(b"hello")));
            assert_eq!(out[2].body.encoded_len, gz.len() as u64);
            assert_eq!(out[2].content_encoding.as_deref(), Some(&b"gzip"[..]));
            assert_eq!(count(&stats.responses), 3);
            assert_eq!(
                count(&stats.responses_cut) + count(&stats.responses_unpaired),
                0
            );
        }
    }

    #[test]
    fn head_204_304_have_no_body_and_100_continue_is_interim() {
        let stream = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n\
            HTTP/1.1 204 No Content\r\n\r\n\
            HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n\
            HTTP/1.1 100 Continue\r\n\r\n\
            HTTP/1.1 201 Created\r\nLocation: /x/1\r\nContent-Type: text/plain ; charset=utf-8\r\n\
            Content-Length: 2\r\n\r\nok";
        let (out, stats) = frame(&["HEAD", "GET", "GET", "POST"], &[Ok(stream)]);
        let want = [
            (Some(1), 200, 0),
            (Some(2), 204, 0),
            (Some(3), 304, 0),
            (Some(4), 201, 2),
        ];
        assert_eq!(summary(&out), want);
        assert_eq!(out[0].body, Digest::empty());
        let created = &out[3];
        assert_eq!(created.location.as_deref(), Some(&b"/x/1"[..]));
        assert_eq!(created.content_type.as_deref(), Some(&b"text/plain"[..]));
        assert!(created.head.starts_with(b"HTTP/1.1 201 Created\r\n"));
        assert!(created.head.ends_with(b"Content-Length: 2\r\n\r\n"));
        assert_eq!(created.body.hash, xxh3_64(b"ok"));
        // Interim responses are not counted; the latency is to the final one's first byte.
        assert_eq!(count(&stats.responses), 4);
        assert_eq!(created.latency_ns, Some(6));
        assert_eq!((created.first_byte_ns, created.last_byte_ns), (10, 10));
    }

    #[test]
    fn a_close_delimited_body_ends_with_the_stream() {
        for head in [
            "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        ] {
            let (out, stats) = frame(&["GET"], &[Ok(head.as_bytes()), Ok(b"all of it")]);
            assert_eq!(summary(&out), [(Some(1), 200, 9)], "{head}");
            assert_eq!(out[0].body.hash, xxh3_64(b"all of it"));
            assert_eq!(count(&stats.responses_cut), 0);
        }
    }

    #[test]
    fn a_response_cut_by_the_end_is_counted_not_emitted_and_its_request_missing() {
        for stream in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"HTTP/1.1 200 OK\r\nContent-Le",
        ] {
            let (out, stats) = frame(&["GET", "GET"], &[Ok(stream)]);
            assert!(out.is_empty());
            assert_eq!(count(&stats.responses_cut), 1);
            // The cut one took its request from the queue; the second never got an answer.
            let missing = if stream.ends_with(b"Le") { 2 } else { 1 };
            assert_eq!(count(&stats.responses_missing), missing);
        }
    }

    #[test]
    fn pipelined_responses_with_a_gap_inside_a_body_lose_only_that_one() {
        let (out, stats) = frame(
            &["GET", "GET", "GET"],
            &[
                Ok(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\n01"),
                Err(4),
                Ok(b"6789HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"),
            ],
        );
        assert_eq!(summary(&out), [(Some(1), 200, 1), (Some(3), 500, 0)]);
        assert_eq!(count(&stats.responses_cut), 1);
        assert_eq!(count(&stats.responses_unpaired), 0);
    }

    #[test]
    fn after_a_gap_between_responses_nothing_is_paired() {
        let one = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
        let (out, stats) = frame(
            &["GET", "GET", "GET"],
            &[
                Ok(one),
                Err(30),
                Ok(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"),
            ],
        );
        assert_eq!(summary(&out), [(Some(1), 200, 1), (None, 302, 0)]);
        assert_eq!(out[1].latency_ns, None);
        assert_eq!(count(&stats.responses_unpaired), 1);
        assert_eq!(count(&stats.responses_missing), 2);
    }

    #[test]
    fn junk_is_counted_and_framing_resumes_at_a_status_line_unpaired() {
        let (out, stats) = frame(
            &["GET", "GET"],
            &[Ok(b"\x16\x03\x01 junk HTTP/1.1 200 x\r\nmore junk\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")],
        );
        assert_eq!(summary(&out), [(None, 200, 2)]);
        assert_eq!(count(&stats.response_framing_errors), 1);
        assert_eq!(count(&stats.responses_missing), 2);
    }

    #[test]
    fn a_101_or_a_2xx_to_connect_ends_framing() {
        let tunnel = b"\x81\x05hello HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        for (method, head) in [
            (
                "GET",
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            ),
            ("CONNECT", "HTTP/1.1 200 Connection Established\r\n\r\n"),
        ] {
            let (out, stats) = frame(&[method, "GET"], &[Ok(head.as_bytes()), Ok(tunnel)]);
            assert_eq!(summary(&out), [(Some(1), out[0].status, 0)], "{method}");
            assert_eq!(count(&stats.response_framing_errors), 0);
            assert_eq!(count(&stats.responses_missing), 0, "{method}");
        }
        // A CONNECT refused is an ordinary response.
        let (out, _) = frame(
            &["CONNECT", "GET"],
            &[Ok(b"HTTP/1.1 403 No\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
        );
        assert_eq!(summary(&out), [(Some(1), 403, 1), (Some(2), 200, 0)]);
    }

    #[test]
    fn a_response_with_no_request_is_unpaired_and_framed_as_to_get() {
        let (out, stats) = frame(
            &[],
            &[Ok(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")],
        );
        assert_eq!(summary(&out), [(None, 200, 3)]);
        assert_eq!(count(&stats.responses_unpaired), 1);
    }

    #[test]
    fn a_mid_connection_start_resyncs_and_pairs_nothing() {
        let (out, stats) = with_parser(&ResponseConfig::default(), &["GET"], |parser, cx| {
            parser.gap(cx, &conn(), None);
            let data = b"dy of an earlier one\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
            parser.data(cx, &conn(), data, 1, usize::MAX);
            parser.end(cx, &conn());
        });
        assert_eq!(summary(&out), [(None, 200, 0)]);
        assert_eq!(count(&stats.responses_missing), 1);
    }

    #[test]
    fn the_raw_body_is_kept_only_when_asked_and_only_up_to_its_cap() {
        let data = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let (out, _) = frame(&["GET"], &[Ok(data)]);
        assert!(out[0].raw_body.is_empty());
        let config = ResponseConfig {
            keep_body: 3,
            ..ResponseConfig::default()
        };
        let (out, _) = with_parser(&config, &["GET"], |parser, cx| {
            parser.data(cx, &conn(), data, 1, usize::MAX);
        });
        assert_eq!(out[0].raw_body, Bytes::from_static(b"hel"));
        assert_eq!(out[0].body.hash, xxh3_64(b"hello"));
    }
}
