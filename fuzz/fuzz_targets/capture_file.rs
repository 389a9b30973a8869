//! A (damaged) capture file through `pipeline::run`, as the binary reads it: the file is
//! written to disk, then read by the replayer's own reader of classic pcap and pcapng (its
//! read-ahead thread: records and blocks, lengths, the BPF filter, decoding) or, when it is
//! neither, by libpcap; then reassembly and HTTP framing with small caps.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replayer::stream::pipeline::run;
use replayer::capture::{CaptureConfig, CaptureStats, Input, ReassemblyLimits};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;

fuzz_target!(|data: &[u8]| {
    let port = replayer_fuzz::server_port(&replayer_fuzz::capture(data)).unwrap_or(80);
    // One file per fuzzing process, rewritten for each input.
    let path = std::env::temp_dir().join(format!("replayer-fuzz-{}.pcap", std::process::id()));
    std::fs::write(&path, data).expect("the fuzz input is written to a scratch file");
    let mut config = CaptureConfig::new(Input::File { path, port });
    config.limits = ReassemblyLimits {
        max_stream_bytes: 16 << 10,
        max_streams: 16,
        max_total_bytes: 64 << 10,
    };
    // Half the inputs also go through a BPF filter, compiled by libpcap for the file's link
    // type and run on the reader thread.
    if data.first().is_some_and(|b| b & 1 == 1) {
        config.bpf_filter = Some(format!("tcp port {port}"));
    }
    let stats = CaptureStats::default();
    let mut emitted = 0u64;
    // Damage is an error (a file cut short, an absurd length, not a capture): never a panic.
    let _ = run(&config, &AtomicBool::new(false), &stats, &mut |request| {
        assert!(!request.method.is_empty());
        emitted += 1;
    });
    assert_eq!(stats.requests.load(Relaxed), emitted);
    assert_eq!(
        stats.streams.load(Relaxed),
        0,
        "every stream ends with the file"
    );
});
