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
    };

    // Packet and byte totals are published in batches: one atomic add per packet would be
    // most of the cost of a small packet.
    const PUBLISH_EVERY: u32 = 1024;
    let (mut packets, mut bytes, mut unpublished) = (0u64, 0u64, 0u32);
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
