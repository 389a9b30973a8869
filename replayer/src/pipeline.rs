//! The capture side of the data flow, wired end to end: `capture` → `decode` → `reassemble`
//! → `http`, producing complete [`Request`]s. Runs on its own thread and never waits on
//! anything downstream: the callback must not block (the daemon's callback only does
//! non-blocking queue pushes).
//!
//! CONTRACT (shared by the CLI, the daemon and the status document; change with care):
//! [`CaptureConfig`], [`Input`], [`CaptureStats`] and [`run`].

use crate::capture::{Next, Source};
use crate::decode::{Decoded, Decoder, LinkType};
use crate::http::{Emitter, RequestParser};
use crate::reassemble::Reassembler;
use crate::request::Request;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

/// Where packets come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Live capture with libpcap. `interface: None` means all interfaces (`any`); `host`
    /// narrows the BPF filter to one address; `port` is the production server's port.
    Live {
        interface: Option<String>,
        host: Option<IpAddr>,
        port: u16,
    },
    /// A classic pcap or pcapng file, read as fast as the disk allows; `port` is the server port.
    File { path: PathBuf, port: u16 },
}

/// Everything the capture side needs to know.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub input: Input,
    /// A BPF filter given by the user; otherwise one is built from the input's host and port.
    pub bpf_filter: Option<String>,
    /// Bytes per packet kept by the kernel; 65535 so GRO/TSO super-segments are never cut.
    pub snaplen: i32,
    /// Kernel capture buffer in bytes; `None` keeps libpcap's default.
    pub buffer_size: Option<i32>,
    pub promisc: bool,
    /// A stream with no packets for this long is flushed and forgotten.
    pub expire: Duration,
    /// Hard caps on what reassembly may hold.
    pub limits: ReassemblyLimits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Bytes buffered (out of order or awaiting a complete request) per stream.
    pub max_stream_bytes: usize,
    /// Streams tracked at once.
    pub max_streams: usize,
    /// Bytes buffered across all streams.
    pub max_total_bytes: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_stream_bytes: 4 << 20,
            max_streams: 65_536,
            max_total_bytes: 32 << 20,
        }
    }
}

impl CaptureConfig {
    pub fn new(input: Input) -> CaptureConfig {
        CaptureConfig {
            input,
            bpf_filter: None,
            snaplen: 65_535,
            buffer_size: None,
            promisc: false,
            expire: Duration::from_secs(60),
            limits: ReassemblyLimits::default(),
        }
    }
}

/// Counters the capture side keeps, read at any moment by the status server. Relaxed atomics:
/// each is a monotonic total, no ordering between them is promised.
#[derive(Debug, Default)]
pub struct CaptureStats {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// From `pcap_stats`: dropped by the kernel for lack of buffer space.
    pub kernel_dropped: AtomicU64,
    /// From `pcap_stats`: dropped by the interface or driver.
    pub if_dropped: AtomicU64,
    /// Holes in a stream that were never filled.
    pub reassembly_gaps: AtomicU64,
    /// Streams currently tracked.
    pub streams: AtomicU64,
    /// Complete requests framed.
    pub requests: AtomicU64,
    /// Requests cut by a gap: counted, never emitted half.
    pub requests_cut: AtomicU64,
    /// Bytes, segments or streams dropped because a cap was hit.
    pub dropped_over_cap: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{0}")]
    Open(String),
    #[error("capture failed: {0}")]
    Read(String),
}

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

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Input {
    /// The production server's port: the destination port of the requests.
    pub fn port(&self) -> u16 {
        match self {
            Input::Live { port, .. } | Input::File { port, .. } => *port,
        }
    }
}
