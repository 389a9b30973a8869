//! The response framer, its pairing and the body digest fed with what `arbitrary` builds:
//! requests queued (GET, HEAD, CONNECT) or lost, then a server stream made of HTTP response
//! pieces (heads, 1xx, chunks, gzip and brotli bodies, junk) and raw bytes, cut anywhere,
//! with gaps, a mid-connection start, masks and small caps. Never a panic; every response
//! counted once; pairing hands out each request id once, in order; memory within its caps.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use regex::bytes::Regex;
use replayer::capture::CaptureStats;
use replayer::diff::digest::DigestConfig;
use replayer::request::Connection;
use replayer::response::{Response, ResponseConfig};
use replayer::stream::pairing::{Pairing, Pending, RequestKind};
use replayer::stream::reassemble::{Buffered, Consumer};
use replayer::stream::response::{ResponseParser, ResponseSink};
use replayer_fuzz::Part;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::LazyLock;

/// Pieces of HTTP/1.x responses that the server stream may be made of, besides raw bytes.
const PIECES: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 25\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n",
    b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Type: text/html; q=1\r\n",
    b"Content-Length: 18446744073709551615\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"5\r\nhello\r\n",
    b"0\r\n\r\n",
    b"0\r\nX-Trailer: t\r\n\r\n",
    // "hello" gzip-compressed, and a raw deflate stream of "hello".
    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9\x07\x00\x86\xa6\x10\x36\x05\x00\x00\x00",
    b"\xcb\x48\xcd\xc9\xc9\x07\x00",
    b"\r\n",
    b"token=abc123",
];

/// Compiled once: compiling it for every input would be most of the work.
static MASK: LazyLock<Regex> = LazyLock::new(|| Regex::new("token=[a-z0-9]+").unwrap());

#[derive(Debug, Arbitrary)]
enum Op {
    /// The request framer emitted a request: 0 GET, 1 HEAD, 2 CONNECT.
    Request(u8),
    /// Requests were lost on the client stream.
    RequestsLost { exactly_one: bool },
    /// Server bytes.
    Data(Vec<Part>),
    /// A gap in the server stream.
    Gap(u16),
}

#[derive(Debug, Arbitrary)]
struct Input {
    mid_connection: bool,
    /// Bytes hashed (0 becomes 1), bytes kept raw, bytes the stream may buffer.
    max_body: u16,
    keep_body: u8,
    budget: u16,
    masks: bool,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let conn = Connection {
        client: SocketAddr::from(([10, 0, 0, 1], 40_000)),
        server: SocketAddr::from(([10, 0, 0, 2], 80)),
    };
    let stats = CaptureStats::default();
    let config = ResponseConfig {
        digest: DigestConfig {
            max_body: usize::from(input.max_body.max(1)),
            max_decoded: 1 << 20,
            masks: if input.masks {
                vec![MASK.clone()]
            } else {
                Vec::new()
            },
        },
        keep_body: usize::from(input.keep_body),
    };
    let budget = usize::from(input.budget).max(1024);
    let mut out: Vec<Response> = Vec::new();
    let queued;
    {
        let pairing = RefCell::new(Pairing::new(&stats, 4));
        let mut on_response = |r: Response| out.push(r);
        let mut sink = ResponseSink {
            stats: &stats,
            config: &config,
            pairing: &pairing,
            on_response: &mut on_response,
        };
        let mut parser = ResponseParser::default();
        if input.mid_connection {
            parser.gap(&mut sink, &conn, None);
        }
        let mut next_id = 1;
        let mut payload = Vec::new();
        for (ts, op) in input.ops.iter().enumerate() {
            let ts = ts as u64 * 1_000;
            match op {
                Op::Request(kind) => {
                    let kind = [RequestKind::Other, RequestKind::Head, RequestKind::Connect]
                        [usize::from(*kind) % 3];
                    let pending = Pending {
                        id: next_id,
                        kind,
                        last_byte_ns: ts,
                    };
                    next_id += 1;
                    pairing.borrow_mut().request(&conn, pending);
                }
                Op::RequestsLost { exactly_one } => {
                    pairing.borrow_mut().requests_lost(&conn, *exactly_one)
                }
                Op::Data(parts) => {
                    replayer_fuzz::assemble(parts, PIECES, &mut payload);
                    parser.data(&mut sink, &conn, &payload, ts, budget);
                    // What the stream holds stays within its budget after each call.
                    assert!(
                        parser.buffered() <= budget,
                        "{} > {budget}",
                        parser.buffered()
                    );
                }
                Op::Gap(len) => parser.gap(&mut sink, &conn, Some(u64::from(*len) + 1)),
            }
        }
        parser.end(&mut sink, &conn);
        pairing.borrow_mut().finish();
        queued = next_id - 1;
    }
    assert_eq!(stats.responses.load(Relaxed), out.len() as u64);
    let paired: Vec<u64> = out.iter().filter_map(|r| r.request_id).collect();
    assert!(paired.windows(2).all(|w| w[0] < w[1]), "{paired:?}");
    assert!(paired.iter().all(|&id| id >= 1 && id <= queued));
    let unpaired = out.iter().filter(|r| r.request_id.is_none()).count() as u64;
    assert_eq!(stats.responses_unpaired.load(Relaxed), unpaired);
    // Every queued request is paired, missing, or was dropped with a tunnel.
    assert!(paired.len() as u64 + stats.responses_missing.load(Relaxed) <= queued);
    for r in &out {
        assert!(r.raw_body.len() <= config.keep_body);
        assert!(r.body.truncated == (r.body.decoded_len > config.digest.max_body as u64));
    }
});
