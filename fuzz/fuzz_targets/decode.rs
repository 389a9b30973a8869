//! Packet decoding: every frame of a (damaged) capture file through `decode::Decoder`,
//! IPv4 defragmentation included, since the decoder keeps its state across frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replayer::capture::decode::{Decoded, Decoder};

fuzz_target!(|data: &[u8]| {
    let capture = replayer_fuzz::capture(data);
    let mut decoder = Decoder::new(capture.link);
    for frame in &capture.frames {
        if let Decoded::Tcp(segment) = decoder.decode(frame.data, frame.ts_ns) {
            // A segment's payload is never longer than the largest IP datagram.
            assert!(segment.payload.len() <= 65_535, "{}", segment.payload.len());
        }
    }
});
