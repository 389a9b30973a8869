//! The capture side of the data flow, wired end to end: `capture` → `decode` → `reassemble`
//! → `http`, producing complete [`Request`]s. Runs on its own thread and never waits on
//! anything downstream: the callback must not block (the daemon's callback only does
//! non-blocking queue pushes).
//!
//! With [`run_with_responses`], production's responses come out too: a second reassembler
//! puts the server's bytes in order, `response` frames them, `pairing` tells which request
//! each answers. The request-only path ([`run`]) is a separate instance of the same loop, so
//! it does none of that work.
//!
//! Its types live in [`crate::capture::types`].

use crate::capture::decode::TcpSegment;
use crate::capture::decode::{Decoded, Decoder, LinkType};
use crate::capture::pace::{Pace, Speed};
use crate::capture::types::now_ns;
use crate::capture::{CaptureConfig, CaptureError, CaptureStats, Next, Source};
use crate::request::Request;
use crate::response::{Response, ResponseConfig};
use crate::stream::http::{Emitter, RequestParser};
use crate::stream::pairing::Pairing;
use crate::stream::reassemble::Reassembler;
use crate::stream::response::{ResponseParser, ResponseSink};
use std::cell::RefCell;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;

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
    source: Source,
    config: &CaptureConfig,
    stop: &AtomicBool,
    stats: &CaptureStats,
    on_request: &mut dyn FnMut(Request),
) -> Result<(), CaptureError> {
    let mut requests = Requests::new(config, stats, on_request, None);
    drive(source, config, stop, stats, &mut requests)
}

/// What [`run_with_responses`] hands over: requests and production's responses, each as soon
/// as it is complete (a request before the response that answers it).
#[derive(Debug)]
pub enum Captured {
    /// A complete request.
    Request(Request),
    /// A complete response, with the id of the request it answers when that is certain.
    Response(Response),
}

/// [`run`], with production's responses captured too, framed as `responses` says and paired
/// with their requests; counted in the `response*` fields of `stats`.
pub fn run_with_responses(
    config: &CaptureConfig,
    responses: &ResponseConfig,
    stop: &AtomicBool,
    stats: &CaptureStats,
    on_captured: &mut dyn FnMut(Captured),
) -> Result<(), CaptureError> {
    let source = Source::open(config)?;
    run_opened_with_responses(source, config, responses, stop, stats, on_captured)
}

/// [`run_with_responses`] on a source opened beforehand.
pub fn run_opened_with_responses(
    source: Source,
    config: &CaptureConfig,
    responses: &ResponseConfig,
    stop: &AtomicBool,
    stats: &CaptureStats,
    on_captured: &mut dyn FnMut(Captured),
) -> Result<(), CaptureError> {
    // One callback for both kinds, called from two framers in turn (never at once).
    let on_captured = RefCell::new(on_captured);
    let mut on_request = |r: Request| (on_captured.borrow_mut())(Captured::Request(r));
    let mut on_response = |r: Response| (on_captured.borrow_mut())(Captured::Response(r));
    let pairing = RefCell::new(Pairing::new(stats, config.limits.max_streams));
    let mut both = Both {
        requests: Requests::new(config, stats, &mut on_request, Some(&pairing)),
        responses: Reassembler::responses(
            config.input.port(),
            config.limits.for_answers(),
            expire_ns(config),
            stats,
        ),
        sink: ResponseSink {
            stats,
            config: responses,
            pairing: &pairing,
            on_response: &mut on_response,
        },
        pairing: &pairing,
        expire_ns: expire_ns(config),
        last_sweep_ns: 0,
    };
    drive(source, config, stop, stats, &mut both)
}

/// What the capture loop feeds: the request framing alone, or requests and responses.
trait Stage {
    /// One decoded segment captured at `ts_ns`.
    fn segment(&mut self, segment: &TcpSegment<'_>, ts_ns: u64);
    /// A live capture's quiet moment, at wall-clock `now_ns`.
    fn sweep(&mut self, now_ns: u64);
    /// End of input.
    fn finish(&mut self);
}

fn expire_ns(config: &CaptureConfig) -> u64 {
    u64::try_from(config.expire.as_nanos()).unwrap_or(u64::MAX)
}

/// Requests only.
struct Requests<'a> {
    reassembler: Reassembler<'a, RequestParser>,
    emitter: Emitter<'a>,
}

impl<'a> Requests<'a> {
    fn new(
        config: &CaptureConfig,
        stats: &'a CaptureStats,
        on_request: &'a mut dyn FnMut(Request),
        pairing: Option<&'a RefCell<Pairing<'a>>>,
    ) -> Requests<'a> {
        Requests {
            reassembler: Reassembler::new(
                config.input.port(),
                config.limits,
                expire_ns(config),
                stats,
            ),
            emitter: Emitter {
                stats,
                next_id: 1,
                on_request,
                pairing,
            },
        }
    }
}

impl Stage for Requests<'_> {
    fn segment(&mut self, segment: &TcpSegment<'_>, ts_ns: u64) {
        self.reassembler.segment(segment, ts_ns, &mut self.emitter);
    }
    fn sweep(&mut self, now_ns: u64) {
        self.reassembler.sweep(now_ns, &mut self.emitter);
    }
    fn finish(&mut self) {
        self.reassembler.finish(&mut self.emitter);
    }
}

/// Requests and responses: every segment goes to both reassemblers, the request side first
/// (a server's ACK that completes a request must queue it before the response is framed).
struct Both<'a> {
    requests: Requests<'a>,
    responses: Reassembler<'a, ResponseParser<'a>>,
    sink: ResponseSink<'a>,
    pairing: &'a RefCell<Pairing<'a>>,
    expire_ns: u64,
    last_sweep_ns: u64,
}

impl Both<'_> {
    /// Pairing queues of connections whose server side never came are dropped as streams are.
    fn sweep_pairing(&mut self, now_ns: u64) {
        if now_ns >= self.last_sweep_ns.saturating_add(1_000_000_000) {
            self.last_sweep_ns = now_ns;
            self.pairing.borrow_mut().sweep(now_ns, self.expire_ns);
        }
    }
}

impl Stage for Both<'_> {
    fn segment(&mut self, segment: &TcpSegment<'_>, ts_ns: u64) {
        self.requests.segment(segment, ts_ns);
        self.responses.segment(segment, ts_ns, &mut self.sink);
        self.sweep_pairing(ts_ns);
    }
    fn sweep(&mut self, now_ns: u64) {
        self.requests.sweep(now_ns);
        self.responses.sweep(now_ns, &mut self.sink);
        self.sweep_pairing(now_ns);
    }
    fn finish(&mut self) {
        self.requests.finish();
        self.responses.finish(&mut self.sink);
        self.pairing.borrow_mut().finish();
    }
}

/// The capture loop: packets from `source`, decoded, to `stage`, until the input ends or
/// `stop` is set.
fn drive(
    mut source: Source,
    config: &CaptureConfig,
    stop: &AtomicBool,
    stats: &CaptureStats,
    stage: &mut impl Stage,
) -> Result<(), CaptureError> {
    let dlt = source.datalink();
    let link = LinkType::from_dlt(dlt).ok_or_else(|| {
        CaptureError::Open(format!(
            "{}: unsupported link type {dlt} (Ethernet, Linux cooked, loopback and raw IP are)",
            source.description()
        ))
    })?;
    let mut decoder = Decoder::new(link);

    // Packet and byte totals are published in batches: one atomic add per packet would be
    // most of the cost of a small packet.
    const PUBLISH_EVERY: u32 = 1024;
    let (mut packets, mut bytes, mut unpublished) = (0u64, 0u64, 0u32);
    let mut pace = config.speed.map(|factor| {
        Pace::new(Speed {
            factor,
            max_wait: None,
        })
    });
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
                stage.sweep(now_ns());
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
            stage.segment(&segment, ts_ns);
        }
        unpublished += 1;
        if unpublished == PUBLISH_EVERY {
            unpublished = 0;
            publish(stats, &mut packets, &mut bytes, &mut source);
        }
    }
    stage.finish();
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
                std::thread::sleep(std::time::Duration::from_millis(200));
                stop.store(true, Relaxed);
            });
            requests_and_seconds(&paced, &stop)
        });
        assert!(requests < 77, "{requests}");
        assert!(seconds < 5.0, "took {seconds} s to stop");
    }

    #[test]
    fn every_demo_response_comes_after_its_request_and_pairs_with_it() {
        let stats = CaptureStats::default();
        let stop = AtomicBool::new(false);
        let (mut requests, mut answered, mut heads) = (Vec::new(), Vec::new(), Vec::new());
        let config = ResponseConfig::default();
        run_with_responses(&demo_capture(), &config, &stop, &stats, &mut |c| match c {
            Captured::Request(r) => {
                requests.push(r.id);
                if r.method.as_str() == "HEAD" {
                    heads.push(r.id);
                }
            }
            Captured::Response(r) => {
                let id = r.request_id.expect("paired");
                // Its request came out before it, and production took some time.
                assert!(requests.contains(&id), "{id}");
                assert!(r.latency_ns.is_some_and(|l| l > 0));
                answered.push((id, r.status, r.body.decoded_len));
            }
        })
        .unwrap();
        assert_eq!(requests, (1..=77).collect::<Vec<u64>>());
        // The demo's HEAD requests: their responses have no body.
        assert_eq!(heads, [4, 12, 20, 28]);
        let want: Vec<(u64, u16, u64)> = (1..=77)
            .map(|id| (id, 200, if heads.contains(&id) { 0 } else { 11 }))
            .collect();
        assert_eq!(answered, want);
        let count = |c: &std::sync::atomic::AtomicU64| c.load(Relaxed);
        assert_eq!((count(&stats.requests), count(&stats.responses)), (77, 77));
        let losses = [
            &stats.responses_unpaired,
            &stats.responses_missing,
            &stats.responses_cut,
            &stats.response_framing_errors,
            &stats.response_gaps,
        ];
        assert_eq!(losses.map(count), [0; 5]);
        assert_eq!(count(&stats.response_streams), 0);
    }
}
