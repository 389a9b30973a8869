//! TCP reassembly plus HTTP framing fed with segment sequences built by `arbitrary`: a few
//! connections, segments at chosen offsets (overlaps, duplicates, holes, sequence numbers
//! that wrap), the server's ACKs, RSTs and SYN-ACKs, FINs, time jumps and sweeps, and
//! payloads made of HTTP pieces, so the framer sees real heads, bodies and chunks cut anywhere.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use replayer::capture::decode::{TcpFlags, TcpSegment};
use replayer::capture::{CaptureStats, ReassemblyLimits};
use replayer::stream::http::{Emitter, RequestParser};
use replayer::stream::reassemble::Reassembler;
use replayer_fuzz::Part;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;

const PORT: u16 = 80;

/// Pieces of HTTP/1.x that a payload may be made of, besides raw bytes.
const PIECES: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"HEAD /x?y=1 HTTP/1.0\r\n\r\n",
    b"POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"5\r\nhello\r\n",
    b"0\r\n\r\n",
    b"0\r\nX-Trailer: t\r\n\r\n",
    b"Content-Length: 3\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 18446744073709551615\r\n",
    b"\r\n",
    b"OPTIONS * HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: b\r\nCookie: c=d\r\n",
];

#[derive(Debug, Arbitrary)]
enum Op {
    /// A client segment at `offset` bytes past the connection's first sequence number.
    Client {
        conn: u8,
        offset: u16,
        syn: bool,
        fin: bool,
        rst: bool,
        payload: Vec<Part>,
    },
    /// A server segment acknowledging `acked` bytes of the client's stream.
    Server {
        conn: u8,
        acked: u16,
        syn: bool,
        rst: bool,
    },
    /// Capture time moves on by this many milliseconds (or back, capture-order jitter).
    Time(i16),
    /// The pipeline's idle sweep, at the current time.
    Sweep,
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// Caps, in KiB / streams (0 becomes 1).
    stream_kib: u8,
    total_kib: u8,
    streams: u8,
    ops: Vec<Op>,
}

fn endpoints(conn: u8) -> (SocketAddr, SocketAddr) {
    let n = conn % 4;
    let client = SocketAddr::from((Ipv4Addr::new(10, 0, 0, n + 1), 40_000 + u16::from(n)));
    let server = SocketAddr::from((Ipv4Addr::new(10, 0, 1, 1), PORT));
    (client, server)
}

/// Connection 3 starts just below 2^32, so its stream wraps.
fn isn(conn: u8) -> u32 {
    match conn % 4 {
        3 => u32::MAX - 100,
        n => 1_000 * u32::from(n) + 1,
    }
}

fuzz_target!(|input: Input| {
    let stats = CaptureStats::default();
    let limits = ReassemblyLimits {
        max_stream_bytes: usize::from(input.stream_kib.max(1)) << 10,
        max_streams: usize::from(input.streams.max(1)),
        max_total_bytes: usize::from(input.total_kib.max(1)) << 10,
    };
    let mut reassembler: Reassembler<'_, RequestParser> =
        Reassembler::new(PORT, limits, 30_000_000_000, &stats);
    let mut emitted = 0u64;
    let mut on_request = |_request: replayer::request::Request| emitted += 1;
    let mut emitter = Emitter {
        stats: &stats,
        next_id: 1,
        on_request: &mut on_request,
        pairing: None,
    };
    let mut now: u64 = 1_700_000_000_000_000_000;
    let mut payload = Vec::new();
    for op in &input.ops {
        match op {
            Op::Client {
                conn,
                offset,
                syn,
                fin,
                rst,
                payload: parts,
            } => {
                replayer_fuzz::assemble(parts, PIECES, &mut payload);
                let (src, dst) = endpoints(*conn);
                // The SYN takes the sequence number before the first byte.
                let seq = if *syn {
                    isn(*conn).wrapping_sub(1)
                } else {
                    isn(*conn).wrapping_add(u32::from(*offset))
                };
                let segment = TcpSegment {
                    src,
                    dst,
                    seq,
                    ack: 1,
                    flags: TcpFlags {
                        syn: *syn,
                        ack: !*syn,
                        fin: *fin,
                        rst: *rst,
                    },
                    payload: &payload,
                };
                reassembler.segment(&segment, now, &mut emitter);
            }
            Op::Server {
                conn,
                acked,
                syn,
                rst,
            } => {
                let (client, server) = endpoints(*conn);
                let ack = if *syn {
                    isn(*conn)
                } else {
                    isn(*conn).wrapping_add(u32::from(*acked))
                };
                let segment = TcpSegment {
                    src: server,
                    dst: client,
                    seq: 7,
                    ack,
                    flags: TcpFlags {
                        syn: *syn,
                        ack: true,
                        fin: false,
                        rst: *rst,
                    },
                    payload: &[],
                };
                reassembler.segment(&segment, now, &mut emitter);
            }
            Op::Time(ms) => {
                let delta = i64::from(*ms) * 1_000_000;
                now = now.saturating_add_signed(delta);
            }
            Op::Sweep => reassembler.sweep(now, &mut emitter),
        }
        // What is held stays within the total cap, give or take the segment in hand.
        assert!(
            reassembler.buffered_bytes() <= limits.max_total_bytes + (64 << 10),
            "{} held, cap {}",
            reassembler.buffered_bytes(),
            limits.max_total_bytes
        );
    }
    reassembler.finish(&mut emitter);
    assert_eq!(reassembler.buffered_bytes(), 0);
    assert_eq!(stats.streams.load(Relaxed), 0);
    assert_eq!(stats.requests.load(Relaxed), emitted);
});
