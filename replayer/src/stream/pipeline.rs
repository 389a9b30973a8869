//! The capture side of the data flow, wired end to end: `capture` → `decode` → `reassemble`
//! → `http`, producing complete [`Request`]s. Runs on its own thread and never waits on
//! anything downstream: the callback must not block (the daemon's callback only does
//! non-blocking queue pushes).
//!
//! Its types live in [`crate::capture::types`].

use crate::capture::decode::{Decoded, Decoder, LinkType};
use crate::capture::types::now_ns;
use crate::capture::{CaptureConfig, CaptureError, CaptureStats, Next, Source};
use crate::request::Request;
use crate::stream::http::{Emitter, RequestParser};
use crate::stream::reassemble::Reassembler;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Runs capture until the input ends (files) or `stop` is set (live), calling `on_request`
/// for each complete request in order per connection. Returns when every request of a
/// file has been handed over.
///
/// A file that turns out to be damaged part-way (cut short, a record with an absurd length)
/// still has every complete request before the damage handed over; then the error is returned.
pub fn run(
    config: &CaptureConfig,
    stop: &AtomicBool,
    stats: &CaptureStats,
    on_request: &mut dyn FnMut(Request),
) -> Result<(), CaptureError> {
    run_opened(Source::open(config)?, config, stop, stats, on_request)
}

/// [`run`] on a source opened beforehand (the daemon opens it before giving up its
/// capabilities, see `privileges`).
pub fn run_opened(
    mut source: Source,
    config: &CaptureConfig,
    stop: &AtomicBool,
    stats: &CaptureStats,
    on_request: &mut dyn FnMut(Request),
) -> Result<(), CaptureError> {
    let dlt = source.datalink();
    let link = LinkType::from_dlt(dlt).ok_or_else(|| {
        CaptureError::Open(format!(
            "{}: unsupported link type {dlt} (Ethernet, Linux cooked, loopback and raw IP are)",
            source.description()
        ))
    })?;
    let mut decoder = Decoder::new(link);
    let expire_ns = u64::try_from(config.expire.as_nanos()).unwrap_or(u64::MAX);
    let mut reassembler: Reassembler<'_, RequestParser> =
        Reassembler::new(config.input.port(), config.limits, expire_ns, stats);
    let mut emitter = Emitter {
        stats,
        next_id: 1,
        on_request,
        pairing: None,
    };

    // Packet and byte totals are published in batches: one atomic add per packet would be
    // most of the cost of a small packet.
    const PUBLISH_EVERY: u32 = 1024;
    let (mut packets, mut bytes, mut unpublished) = (0u64, 0u64, 0u32);
    let mut pace = config.speed.map(Pace::new);
    let mut outcome = Ok(());
    while !stop.load(Relaxed) {
        let (ts_ns, wire_len, segment) = match source.next_packet() {
            Ok(Next::Packet(packet)) => {
                let segment = match decoder.decode(packet.data, packet.ts_ns) {
                    Decoded::Tcp(segment) => Some(segment),
                    _ => None,
                };
                (packet.ts_ns, packet.wire_len, segment)
            }
            Ok(Next::Decoded {
                ts_ns,
                wire_len,
                segment,
            }) => (ts_ns, wire_len, segment),
            Ok(Next::Idle) => {
                reassembler.sweep(now_ns(), &mut emitter);
                publish(stats, &mut packets, &mut bytes, &mut source);
                continue;
            }
            Ok(Next::End) => break,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        };
        if let Some(pace) = &mut pace {
            if !pace.wait_for(ts_ns, stop) {
                break;
            }
        }
        packets += 1;
        bytes += u64::from(wire_len);
        if let Some(segment) = segment {
            reassembler.segment(&segment, ts_ns, &mut emitter);
        }
        unpublished += 1;
        if unpublished == PUBLISH_EVERY {
            unpublished = 0;
            publish(stats, &mut packets, &mut bytes, &mut source);
        }
    }
    reassembler.finish(&mut emitter);
    publish(stats, &mut packets, &mut bytes, &mut source);
    outcome
}

fn publish(stats: &CaptureStats, packets: &mut u64, bytes: &mut u64, source: &mut Source) {
    stats.packets.fetch_add(std::mem::take(packets), Relaxed);
    stats.bytes.fetch_add(std::mem::take(bytes), Relaxed);
    if let Some((kernel, interface)) = source.drops() {
        stats.kernel_dropped.store(kernel, Relaxed);
        stats.if_dropped.store(interface, Relaxed);
    }
}

/// `-input-raw-speed`: hands a capture file's packets on at their recorded pace, scaled.
/// Sleeps on the capture thread (a file has nothing else to wait for), in short naps so a
/// stop is noticed at once. The clock starts at the first packet; a timestamp that goes
/// backwards is sent at once rather than stalling the replay.
struct Pace {
    speed: f64,
    start: Option<(u64, std::time::Instant)>,
}

impl Pace {
    /// The longest nap between looks at the stop flag.
    const NAP: Duration = Duration::from_millis(50);

    fn new(speed: f64) -> Pace {
        Pace { speed, start: None }
    }

    /// Waits until the packet recorded at `ts_ns` is due; `false` if `stop` came first.
    fn wait_for(&mut self, ts_ns: u64, stop: &AtomicBool) -> bool {
        let (first_ns, started) = *self
            .start
            .get_or_insert_with(|| (ts_ns, std::time::Instant::now()));
        let recorded = Duration::from_nanos(ts_ns.saturating_sub(first_ns));
        let due = started + recorded.div_f64(self.speed);
        loop {
            if stop.load(Relaxed) {
                return false;
            }
            let now = std::time::Instant::now();
            if now >= due {
                return true;
            }
            std::thread::sleep((due - now).min(Self::NAP));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Input;
    use std::time::Instant;

    fn demo_capture() -> CaptureConfig {
        CaptureConfig::new(Input::File {
            path: concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/production.pcap").into(),
            port: 7999,
        })
    }

    fn requests_and_seconds(config: &CaptureConfig, stop: &AtomicBool) -> (usize, f64) {
        let started = Instant::now();
        let mut requests = 0;
        run(config, stop, &CaptureStats::default(), &mut |_| {
            requests += 1
        })
        .unwrap();
        (requests, started.elapsed().as_secs_f64())
    }

    #[test]
    fn a_paced_file_takes_its_recorded_time_scaled_and_loses_nothing() {
        // The bundled capture spans 0.320 s; at 50% it cannot be done in under 0.64 s.
        let stop = AtomicBool::new(false);
        let (all, _) = requests_and_seconds(&demo_capture(), &stop);
        let mut paced = demo_capture();
        paced.speed = Some(0.5);
        let (requests, seconds) = requests_and_seconds(&paced, &stop);
        assert_eq!((all, requests), (77, 77));
        assert!(seconds >= 0.64, "done in {seconds} s");
    }

    #[test]
    fn a_stop_ends_a_paced_file_at_once() {
        let mut paced = demo_capture();
        paced.speed = Some(0.001); // 320 s
        let stop = AtomicBool::new(false);
        let (requests, seconds) = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(200));
                stop.store(true, Relaxed);
            });
            requests_and_seconds(&paced, &stop)
        });
        assert!(requests < 77, "{requests}");
        assert!(seconds < 5.0, "took {seconds} s to stop");
    }
}
