//! Hostile traffic through reassembly and framing: random segments (random sequence numbers,
//! flags, ports and bytes, with HTTP-looking pieces mixed in) under tight caps must never
//! panic, and what is held must never exceed the total-memory cap.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use replayer::capture::decode::{TcpFlags, TcpSegment};
use replayer::capture::{CaptureStats, ReassemblyLimits};
use replayer::request::Request;
use replayer::stream::http::{Emitter, RequestParser};
use replayer::stream::reassemble::Reassembler;
use std::net::SocketAddr;

#[derive(Debug, Clone)]
struct RandomSegment {
    client_port: u16,
    to_server: bool,
    seq_offset: u32,
    flags: (bool, bool, bool, bool),
    payload: Vec<u8>,
    ts_step_ms: u64,
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..3000),
        Just(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        Just(b"POST /p HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nxx".to_vec()),
        Just(b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\nab".to_vec()),
        Just(vec![b'A'; 5000]),
        Just(b"GET /no-end HTTP/1.1\r\nX: ".repeat(50)),
    ]
}

fn segment() -> impl Strategy<Value = RandomSegment> {
    (
        prop::sample::select(vec![1000u16, 1001, 1002, 1003, 1004]),
        prop::bool::weighted(0.8),
        prop_oneof![0u32..20_000, any::<u32>()],
        (
            any::<bool>(),
            any::<bool>(),
            prop::bool::weighted(0.05),
            prop::bool::weighted(0.05),
        ),
        payload(),
        prop_oneof![Just(0u64), 0u64..5000],
    )
        .prop_map(
            |(client_port, to_server, seq_offset, flags, payload, ts_step_ms)| RandomSegment {
                client_port,
                to_server,
                seq_offset,
                flags,
                payload,
                ts_step_ms,
            },
        )
}

proptest! {
    // Failures persist beside this file (`reassembly_robustness.proptest-regressions`) and
    // are replayed first on every run. Said explicitly: proptest's default
    // looks for a main.rs above the file and would put them in a proptest-regressions/ tree.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions"
        ))),
        ..ProptestConfig::with_cases(200)
    })]

    #[test]
    fn random_segments_never_panic_nor_exceed_the_caps(
        segments in prop::collection::vec(segment(), 1..120),
    ) {
        let limits = ReassemblyLimits {
            max_stream_bytes: 8 * 1024,
            max_streams: 3,
            max_total_bytes: 16 * 1024,
        };
        let stats = CaptureStats::default();
        let mut sink = |_: Request| {};
        let mut cx = Emitter { stats: &stats, next_id: 1, on_request: &mut sink, pairing: None };
        let mut reassembler: Reassembler<'_, RequestParser> =
            Reassembler::new(80, limits, 10_000_000_000, &stats);
        let server: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let mut ts = 1_000_000_000u64;
        for s in &segments {
            let client = SocketAddr::new("10.0.0.1".parse().unwrap(), s.client_port);
            let (src, dst) = if s.to_server { (client, server) } else { (server, client) };
            ts += s.ts_step_ms * 1_000_000;
            let (syn, ack, fin, rst) = s.flags;
            let seg = TcpSegment {
                src,
                dst,
                seq: 7_000_000u32.wrapping_add(s.seq_offset),
                ack: 9_000u32.wrapping_add(s.seq_offset),
                flags: TcpFlags { syn, ack, fin, rst },
                payload: &s.payload,
            };
            reassembler.segment(&seg, ts, &mut cx);
            prop_assert!(reassembler.buffered_bytes() <= limits.max_total_bytes,
                "holding {} bytes", reassembler.buffered_bytes());
        }
        reassembler.finish(&mut cx);
        prop_assert_eq!(reassembler.buffered_bytes(), 0);
    }
}
