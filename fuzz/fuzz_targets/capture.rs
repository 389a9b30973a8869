//! The whole capture path on a (damaged) capture file: decode → reassemble → HTTP framing,
//! as `pipeline::run` wires it, with small caps so that the limits are reached too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replayer::capture::decode::{Decoded, Decoder};
use replayer::stream::http::{Emitter, RequestParser};
use replayer::capture::{CaptureStats, ReassemblyLimits};
use replayer::stream::reassemble::Reassembler;
use std::sync::atomic::Ordering::Relaxed;

fuzz_target!(|data: &[u8]| {
    let capture = replayer_fuzz::capture(data);
    let Some(port) = replayer_fuzz::server_port(&capture) else {
        return;
    };

    let stats = CaptureStats::default();
    let limits = ReassemblyLimits {
        max_stream_bytes: 16 << 10,
        max_streams: 16,
        max_total_bytes: 64 << 10,
    };
    let mut reassembler: Reassembler<'_, RequestParser> =
        Reassembler::new(port, limits, 60_000_000_000, &stats);
    let mut emitted = 0u64;
    let mut on_request = |request: replayer::request::Request| {
        assert!(!request.method.is_empty());
        emitted += 1;
    };
    let mut emitter = Emitter {
        stats: &stats,
        next_id: 1,
        on_request: &mut on_request,
        pairing: None,
    };
    let mut decoder = Decoder::new(capture.link);
    for frame in &capture.frames {
        if let Decoded::Tcp(segment) = decoder.decode(frame.data, frame.ts_ns) {
            reassembler.segment(&segment, frame.ts_ns, &mut emitter);
            assert!(reassembler.buffered_bytes() <= limits.max_total_bytes + (64 << 10));
        }
    }
    reassembler.finish(&mut emitter);
    // Everything held is handed over or dropped at the end, and the account agrees.
    assert_eq!(reassembler.buffered_bytes(), 0);
    assert_eq!(stats.streams.load(Relaxed), 0);
    assert_eq!(stats.requests.load(Relaxed), emitted);
});
