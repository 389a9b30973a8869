//! The capture pipeline alone (file read → decode → reassemble → HTTP framing, without the
//! binary's stages and outputs), on a capture file:
//! `cargo bench -p replayer --bench capture -- FILE PORT`. A classic pcap file is read and
//! decoded on the pipeline's read-ahead thread; `bench/capture.sh` pins both to one core.
//! Prints one line of figures; `bench/capture.sh` makes the capture and the comparisons.
//!
//! `-- --responses FILE PORT`: production's responses too (`run_with_responses`: the server
//! streams reassembled, framed, paired, their bodies digested), with the pairs per second.

use replayer::capture::{CaptureConfig, CaptureStats, Input};
use replayer::response::ResponseConfig;
use replayer::stream::pipeline::{run, run_with_responses, Captured};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;

fn main() {
    // cargo passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [file, port] = args.as_slice() else {
        eprintln!("usage: cargo bench -p replayer --bench capture -- FILE PORT");
        std::process::exit(2);
    };
    let port: u16 = port.parse().expect("PORT");
    let config = CaptureConfig::new(Input::File {
        path: file.into(),
        port,
    });
    let stats = CaptureStats::default();
    let (mut requests, mut request_bytes, mut pairs) = (0u64, 0u64, 0u64);
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let result = if std::env::args().any(|a| a == "--responses") {
        let responses = ResponseConfig::default();
        run_with_responses(&config, &responses, &stop, &stats, &mut |c| match c {
            Captured::Request(r) => {
                requests += 1;
                request_bytes += (r.target.len() + r.body.len()) as u64;
            }
            Captured::Response(r) => pairs += u64::from(r.request_id.is_some()),
        })
    } else {
        run(&config, &stop, &stats, &mut |r| {
            requests += 1;
            request_bytes += (r.target.len() + r.body.len()) as u64;
        })
    };
    let seconds = start.elapsed().as_secs_f64();
    if let Err(e) = result {
        eprintln!("capture: {e}");
        std::process::exit(1);
    }
    let file_bytes = std::fs::metadata(file).map_or(0, |m| m.len());
    println!(
        "requests={requests} packets={} file_bytes={file_bytes} seconds={seconds:.3} \
         requests_per_s={:.0} bytes_per_s={:.0} gaps={} cut={} target_and_body_bytes={request_bytes} \
         pairs={pairs} pairs_per_s={:.0} responses={} unpaired={} missing={}",
        stats.packets.load(Relaxed),
        requests as f64 / seconds,
        file_bytes as f64 / seconds,
        stats.reassembly_gaps.load(Relaxed),
        stats.requests_cut.load(Relaxed),
        pairs as f64 / seconds,
        stats.responses.load(Relaxed),
        stats.responses_unpaired.load(Relaxed),
        stats.responses_missing.load(Relaxed),
    );
}
