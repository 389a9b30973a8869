//! Inputs the fuzz targets in `fuzz/` found crashing or breaking an invariant, kept as
//! ordinary tests (inputs inline) so that `cargo test` guards every fix. Each test names the
//! target and what was wrong.

use replayer::capture::decode::{TcpFlags, TcpSegment};
use replayer::capture::{CaptureStats, ReassemblyLimits};
use replayer::request::Request;
use replayer::stream::http::{Emitter, RequestParser};
use replayer::stream::reassemble::Reassembler;
use std::net::SocketAddr;

fn segment<'a>(seq: u32, syn: bool, rst: bool, payload: &'a [u8]) -> TcpSegment<'a> {
    TcpSegment {
        src: "10.0.0.1:40000".parse::<SocketAddr>().unwrap(),
        dst: "10.0.1.1:80".parse::<SocketAddr>().unwrap(),
        seq,
        ack: 1,
        flags: TcpFlags {
            syn,
            ack: !syn,
            fin: false,
            rst,
        },
        payload,
    }
}

/// fuzz target `segments`: a SYN carrying data and RST, then the same SYN again with data,
/// 8 s later (the stream is closed but still remembered). The second SYN's data went into
/// the closed stream's framer, and nothing ever released it: the total-memory account grew
/// by those bytes for good (until it reached the cap and every stream was refused).
///
/// Since then, the same SYN after a reset that ended its stream before any byte is a new
/// attempt at the connection (a client retrying after a stale-state answer): it opens the
/// stream again, and the framer holds its 2 bytes, accounted to that open stream, until the
/// stream ends.
#[test]
fn a_retransmitted_syn_on_a_closed_stream_holds_no_bytes() {
    let stats = CaptureStats::default();
    let mut emitted = 0;
    let mut sink = |_: Request| emitted += 1;
    let mut cx = Emitter {
        stats: &stats,
        next_id: 1,
        on_request: &mut sink,
        pairing: None,
    };
    let mut reassembler: Reassembler<'_, RequestParser> =
        Reassembler::new(80, ReassemblyLimits::default(), 30_000_000_000, &stats);
    let t0 = 1_700_000_000_000_000_000u64;
    reassembler.segment(&segment(1000, true, true, b"5\r\nhello\r\n"), t0, &mut cx);
    reassembler.segment(
        &segment(1000, true, false, b"\r\n"),
        t0 + 8_274_000_000,
        &mut cx,
    );
    assert_eq!(reassembler.buffered_bytes(), 2);
    // Once that stream has expired, nothing is held.
    reassembler.sweep(t0 + 60_000_000_000, &mut cx);
    assert_eq!(reassembler.buffered_bytes(), 0);
    reassembler.finish(&mut cx);
    assert_eq!(reassembler.buffered_bytes(), 0);
    assert_eq!(emitted, 0);
}
