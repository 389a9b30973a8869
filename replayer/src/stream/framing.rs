//! `framing`: what HTTP/1.x message framing has in common in both directions, shared by the
//! request framer ([`super::http`]) and the response framer ([`super::response`]): keeping
//! the unfinished tail of a stream's bytes, finding the end of a head, reading the framing
//! headers (`Content-Length`, `Transfer-Encoding`), stepping through a chunked body, and
//! copying heads into shared chunks.
//!
//! The rules that differ by direction stay with each framer: what a request with unusable
//! framing means (nginx's answer), and that a response may run until the connection closes.

use bytes::{Bytes, BytesMut};
use std::cell::RefCell;

/// Longest line kept while looking for the start of a message after a gap.
pub(crate) const MAX_RESYNC_LINE: usize = 8 * 1024;
/// Longest chunk-size or trailer line accepted.
pub(crate) const MAX_CHUNK_LINE: usize = 4 * 1024;

/// Heads are copied into shared chunks of this size, many heads to a chunk, so that framing a
/// message allocates nothing for its head (a chunk is freed with its last message).
const HEAD_CHUNK: usize = 16 * 1024;

thread_local! {
    /// The chunk heads are being copied into. One per capture thread, shared by all of its
    /// streams (both directions): memory stays one chunk however many streams are open.
    static HEAD_ARENA: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// A shared copy of `raw` (a complete message head).
pub(crate) fn copy_head(raw: &[u8]) -> Bytes {
    HEAD_ARENA.with_borrow_mut(|arena| {
        if arena.capacity() - arena.len() < raw.len() {
            *arena = BytesMut::with_capacity(HEAD_CHUNK.max(raw.len()));
        }
        arena.extend_from_slice(raw);
        arena.split().freeze()
    })
}

/// Frames `data` (the stream's next bytes) after the unfinished tail kept in `buf`:
/// `process` frames as much as it can of what it is given and returns how many bytes it
/// consumed; the rest is kept in `buf` for the next call. Bytes are parsed where they lie
/// when nothing is kept: only an unfinished tail is ever copied.
pub(crate) fn feed(buf: &mut Vec<u8>, data: &[u8], mut process: impl FnMut(&[u8]) -> usize) {
    if buf.is_empty() {
        let used = process(data);
        buf.extend_from_slice(&data[used..]);
    } else {
        buf.extend_from_slice(data);
        let used = process(buf);
        buf.drain(..used);
    }
}

/// What one framing step did with the bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// This many bytes consumed (0 when only the state changed); framing goes on.
    Took(usize),
    /// Nothing more can be framed before more bytes come: the bytes from this offset on are
    /// kept for then.
    Wait(usize),
}

impl Step {
    /// A step that consumed `Some(n)` bytes, or waits for more with nothing consumed.
    pub(crate) fn or_wait(used: Option<usize>) -> Step {
        used.map_or(Step::Wait(0), Step::Took)
    }
}

/// Frames `input` one `step` at a time, until it is all consumed or a step waits; returns
/// how many bytes were consumed (what is left is kept for the next data).
pub(crate) fn frame_all(input: &[u8], mut step: impl FnMut(&[u8]) -> Step) -> usize {
    let mut pos = 0;
    while pos < input.len() {
        match step(&input[pos..]) {
            Step::Took(used) => pos += used,
            Step::Wait(keep_from) => return pos + keep_from,
        }
    }
    pos
}

/// The step of looking for the next message after a loss: `found` is told when a line that
/// `starts_message` accepts begins the bytes left.
pub(crate) fn resync_step(
    rest: &[u8],
    starts_message: impl Fn(&[u8]) -> bool,
    found: impl FnOnce(),
) -> Step {
    match find_line(rest, starts_message) {
        Ok(start) => {
            found();
            Step::Took(start)
        }
        Err(keep_from) => Step::Wait(keep_from),
    }
}

/// The step of passing over the rest of a body that was cut: the bytes taken, and what is
/// still to come after them (`None`: the body is over).
pub(crate) fn skip_step(remaining: u64, rest: &[u8]) -> (Step, Option<u64>) {
    let (take, remaining) = take_body(remaining, rest);
    (Step::Took(take), (remaining > 0).then_some(remaining))
}

/// Whether the head being received has its end in `input`. A head that arrived in pieces
/// is only re-parsed once its end is in sight, so a head trickling in byte by byte costs
/// linear, not quadratic, time: `head_scan` is where to look from (set by the caller when
/// the parser found the head incomplete), and is moved on while the end is not found.
pub(crate) fn head_in_sight(head_scan: &mut Option<usize>, input: &[u8]) -> bool {
    match head_scan.map(|from| find_head_end(input, from)) {
        None => true,
        Some(Ok(_)) => {
            *head_scan = None;
            true
        }
        Some(Err(resume)) => {
            *head_scan = Some(resume);
            false
        }
    }
}

/// How much of a body with `remaining` bytes to come lies in `rest`: (bytes taken, bytes
/// still to come after them).
pub(crate) fn take_body(remaining: u64, rest: &[u8]) -> (usize, u64) {
    let take = remaining.min(rest.len() as u64) as usize;
    (take, remaining - take as u64)
}

/// Finds the end of a head (the empty line) in `input`, looking from `from`. `Ok(end)` is the
/// offset just past it; `Err(resume)` is where to look again once more bytes arrive.
fn find_head_end(input: &[u8], from: usize) -> Result<usize, usize> {
    let mut at = from.min(input.len());
    while let Some(i) = memchr::memchr(b'\n', &input[at..]).map(|i| at + i) {
        match (input.get(i + 1), input.get(i + 2)) {
            (Some(b'\n'), _) => return Ok(i + 2),
            (Some(b'\r'), Some(b'\n')) => return Ok(i + 3),
            (None, _) | (Some(b'\r'), None) => return Err(i),
            _ => at = i + 1,
        }
    }
    Err(input.len())
}

/// Finds the first line of `input` that `starts_message` accepts (a request line, a status
/// line: both begin with an upper-case letter). `Ok(offset)` is its start; `Err(keep_from)`
/// means none is complete yet and bytes from `keep_from` on may still become one.
pub(crate) fn find_line(
    input: &[u8],
    starts_message: impl Fn(&[u8]) -> bool,
) -> Result<usize, usize> {
    let mut line_start = 0;
    loop {
        let rest = &input[line_start..];
        match memchr::memchr(b'\n', rest) {
            Some(nl) => {
                if starts_message(&rest[..nl]) {
                    return Ok(line_start);
                }
                line_start += nl + 1;
            }
            None => {
                let may_start_one = rest.len() <= MAX_RESYNC_LINE
                    && rest.first().is_none_or(u8::is_ascii_uppercase);
                return Err(if may_start_one {
                    line_start
                } else {
                    input.len()
                });
            }
        }
    }
}

/// A `Content-Length` value: digits only (at most 19, so it fits), blanks around allowed.
pub(crate) fn parse_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// How the framing headers of a head delimit its body (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// Neither header.
    None,
    /// `Content-Length` (and no `Transfer-Encoding`).
    Length(u64),
    /// A final `chunked` coding, applied once.
    Chunked,
    /// A `Transfer-Encoding` whose final coding is not `chunked`: a request's body cannot be
    /// delimited; a response's runs until the connection closes.
    NotChunked,
    /// Contradictory or invalid lengths, `chunked` applied twice, an empty list element.
    Invalid,
}

/// The framing headers of one head, read one field at a time.
#[derive(Debug, Default)]
pub(crate) struct FramingFields {
    length: Option<u64>,
    /// The last transfer coding seen so far, over every `Transfer-Encoding` line: chunked?
    final_chunked: Option<bool>,
    chunked_seen: bool,
    chunked_twice: bool,
    invalid: bool,
}

impl FramingFields {
    /// A `Content-Length` field; several must agree.
    pub(crate) fn content_length(&mut self, value: &[u8]) {
        match parse_length(value) {
            Some(value) if self.length.is_none_or(|l| l == value) => self.length = Some(value),
            _ => self.invalid = true,
        }
    }

    /// A `Transfer-Encoding` field.
    pub(crate) fn transfer_encoding(&mut self, value: &[u8]) {
        // Several lines are one list (RFC 9110 §5.3): what counts is the coding that comes
        // last over all of them, and only a final `chunked`, applied once, delimits a body
        // (RFC 9112 §6.1, §6.3). An empty list element (`, chunked,`) no sender may generate
        // makes the framing invalid: RFC 9110 §5.6.1 would have it ignored, but nginx takes
        // nothing but a bare `chunked` (501), and a message so framed is not one a peer
        // that follows nginx would have read as chunked.
        for coding in value.split(|&b| b == b',') {
            let coding = coding.trim_ascii();
            if coding.is_empty() {
                self.invalid = true;
                continue;
            }
            let is_chunked = coding.eq_ignore_ascii_case(b"chunked");
            self.chunked_twice |= is_chunked && self.chunked_seen;
            self.chunked_seen |= is_chunked;
            self.final_chunked = Some(is_chunked);
        }
    }

    /// How the body is delimited, all fields read.
    pub(crate) fn body(&self) -> BodyFraming {
        if self.invalid || self.chunked_twice {
            return BodyFraming::Invalid;
        }
        match (self.final_chunked, self.length) {
            (Some(true), _) => BodyFraming::Chunked,
            (Some(false), _) => BodyFraming::NotChunked,
            (None, Some(n)) => BodyFraming::Length(n),
            (None, None) => BodyFraming::None,
        }
    }
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// A chunk-size line.
    Size,
    /// Inside a chunk's data.
    Data {
        /// Bytes of the chunk still to come.
        remaining: u64,
    },
    /// The CRLF after a chunk's data.
    DataEnd,
    /// The trailer section, up to its empty line.
    Trailer,
}

/// What one step through a chunked body did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChunkStep {
    /// This many bytes consumed; the body goes on from the given place.
    Next(usize, Chunk),
    /// The body is complete after this many bytes.
    Done(usize),
    /// Not enough bytes to take the step yet.
    More,
    /// A malformed chunk-size line or chunk end, or an over-long line.
    Bad,
}

/// One step through a chunked body at `chunk`, on the bytes `input`; the chunks' data (the
/// decoded body) goes to `data`.
pub(crate) fn chunk_step(chunk: Chunk, input: &[u8], data: impl FnOnce(&[u8])) -> ChunkStep {
    match chunk {
        Chunk::Size => match httparse::parse_chunk_size(input) {
            Ok(httparse::Status::Complete((used, 0))) => ChunkStep::Next(used, Chunk::Trailer),
            Ok(httparse::Status::Complete((used, size))) => {
                ChunkStep::Next(used, Chunk::Data { remaining: size })
            }
            Ok(httparse::Status::Partial) if input.len() <= MAX_CHUNK_LINE => ChunkStep::More,
            _ => ChunkStep::Bad,
        },
        Chunk::Data { remaining } => {
            let take = remaining.min(input.len() as u64) as usize;
            data(&input[..take]);
            let next = if take as u64 == remaining {
                Chunk::DataEnd
            } else {
                Chunk::Data {
                    remaining: remaining - take as u64,
                }
            };
            ChunkStep::Next(take, next)
        }
        Chunk::DataEnd => match input {
            [b'\n', ..] => ChunkStep::Next(1, Chunk::Size),
            [b'\r', b'\n', ..] => ChunkStep::Next(2, Chunk::Size),
            [b'\r'] => ChunkStep::More,
            _ => ChunkStep::Bad,
        },
        Chunk::Trailer => match memchr::memchr(b'\n', input) {
            Some(nl) if nl == 0 || input[..nl] == *b"\r" => ChunkStep::Done(nl + 1),
            Some(nl) => ChunkStep::Next(nl + 1, Chunk::Trailer),
            None if input.len() <= MAX_CHUNK_LINE => ChunkStep::More,
            None => ChunkStep::Bad,
        },
    }
}
