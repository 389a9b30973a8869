//! The types the capture half of the flow shares: where packets come from ([`Input`]), how
//! capture and reassembly are set up ([`CaptureConfig`], [`ReassemblyLimits`]), what they
//! count ([`CaptureStats`]) and how they fail ([`CaptureError`]). They live here, at the
//! bottom of the flow, so that `capture`, `stream` and `status` can all name them without
//! importing each other.
//!
//! CONTRACT (shared by the CLI, the daemon and the status document; change with care).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The kernel capture buffer unless `-input-raw-buffer-size` says otherwise: libpcap's own
/// 2 MB default holds only ~32 packets on `lo` (64 KB MTU, so 64 KB slots), so a busy second
/// Bytes kept per packet by default (`-input-raw-snaplen`): tcpdump's default, enough for
/// the largest IP packet with any link header.
pub const DEFAULT_SNAPLEN: i32 = 262_144;
/// would drop; 16 MB is 256 slots on `lo` and thousands on an Ethernet interface.
pub const DEFAULT_CAPTURE_BUFFER: i32 = 16 << 20;

/// Where packets come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Live capture with libpcap. `interface: None` means all interfaces (`any`); `host`
    /// narrows the BPF filter to one address; `port` is the production server's port.
    Live {
        /// The interface to open (`-input-raw eth0:80`); `None` is libpcap's `any`.
        interface: Option<String>,
        /// Only traffic to or from this address is captured; `None` is every address.
        host: Option<IpAddr>,
        /// The production server's TCP port: requests are the packets sent to it.
        port: u16,
    },
    /// A classic pcap or pcapng file, read as fast as the disk allows, or the same from a
    /// stream (a pipe, FIFO, standard input as `-`); `port` is the server port.
    File {
        /// The capture file to read.
        path: PathBuf,
        /// The production server's TCP port in that capture.
        port: u16,
    },
}

/// Everything the capture side needs to know.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    /// Where packets come from: an interface or a capture file.
    pub input: Input,
    /// A BPF filter given by the user; otherwise one is built from the input's host and port.
    pub bpf_filter: Option<String>,
    /// Bytes per packet kept by the kernel; 262144 (tcpdump's default), so a full 64 KiB IP
    /// packet (loopback's MTU, a GRO/TSO super-segment) is kept with its link header: 65535,
    /// the old default, cut the last 14 bytes of each such packet, and large responses got a
    /// hole per packet.
    pub snaplen: i32,
    /// Kernel capture buffer in bytes ([`DEFAULT_CAPTURE_BUFFER`] unless set); `None`
    /// keeps libpcap's own default.
    pub buffer_size: Option<i32>,
    /// Put the interface in promiscuous mode, to see frames addressed to other hosts (a
    /// mirror port); needs `CAP_NET_ADMIN`. Ignored for files.
    pub promisc: bool,
    /// A stream with no packets for this long is flushed and forgotten.
    pub expire: Duration,
    /// A capture file's packets are handed on at their recorded pace times this factor
    /// (`-input-raw-speed`); `None` reads as fast as the disk allows. Live captures ignore it.
    pub speed: Option<f64>,
    /// Hard caps on what reassembly may hold.
    pub limits: ReassemblyLimits,
}

/// Caps on the memory TCP reassembly may hold, so a flood of connections or a stream that
/// never completes cannot grow the daemon without bound; what goes over is dropped and
/// counted in [`CaptureStats::dropped_over_cap`].
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

impl ReassemblyLimits {
    /// The share of these limits production's answers get (a quarter of the bytes, the
    /// same streams). An answer's body is hashed as it streams, so the bytes held are only
    /// what waits behind a gap for the segment that fills it; a gap a lost packet leaves
    /// never fills, and the answer is not compared either way. Requests keep the whole
    /// budget: they are replayed whole. (With 1 MiB answers the full budget was 32 MB more
    /// peak memory for nothing: docs/benchmarks.md.)
    pub fn for_answers(self) -> ReassemblyLimits {
        ReassemblyLimits {
            max_stream_bytes: (self.max_stream_bytes / 4).max(64 << 10),
            max_streams: self.max_streams,
            max_total_bytes: (self.max_total_bytes / 4).max(256 << 10),
        }
    }
}

impl CaptureConfig {
    /// The defaults for `input`: a filter built from its host and port, 262144-byte snap
    /// length, a [`DEFAULT_CAPTURE_BUFFER`] kernel buffer, not promiscuous, streams expired
    /// after 60 s idle, files read at full speed, default [`ReassemblyLimits`].
    pub fn new(input: Input) -> CaptureConfig {
        CaptureConfig {
            input,
            bpf_filter: None,
            snaplen: DEFAULT_SNAPLEN,
            buffer_size: Some(DEFAULT_CAPTURE_BUFFER),
            promisc: false,
            expire: Duration::from_secs(60),
            speed: None,
            limits: ReassemblyLimits::default(),
        }
    }
}

/// Counters the capture side keeps, read at any moment by the status server. Relaxed atomics:
/// each is a monotonic total, no ordering between them is promised.
#[derive(Debug, Default)]
pub struct CaptureStats {
    /// Packets read from the capture (every one the BPF filter let through, TCP or not);
    /// published in batches of 1024, so it may lag that much behind.
    pub packets: AtomicU64,
    /// Bytes of those packets as they were on the wire (before any snap-length cut).
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
    /// Connections whose rest was skipped after a framing error, by [`FramingError`]
    /// (indexed by [`FramingError::index`]).
    pub framing_skipped: [AtomicU64; FramingError::ALL.len()],

    // Production's responses, counted only when they are captured too
    // (`stream::pipeline::run_with_responses`); zero otherwise.
    /// Server streams currently tracked.
    pub response_streams: AtomicU64,
    /// Holes in a server stream that were never filled.
    pub response_gaps: AtomicU64,
    /// Server bytes, segments or streams dropped because a cap was hit.
    pub response_dropped_over_cap: AtomicU64,
    /// Complete responses framed (paired or not), interim (1xx) ones not counted.
    pub responses: AtomicU64,
    /// Of those, responses whose request is not certain (capture started mid-connection,
    /// the request was not framed, or a gap or junk came before): paired with none.
    pub responses_unpaired: AtomicU64,
    /// Framed requests whose response never came or could not be paired with certainty
    /// (the comparison's `prod_missing`).
    pub responses_missing: AtomicU64,
    /// Responses cut by a gap, the end of the stream or a cap: counted, never emitted half.
    pub responses_cut: AtomicU64,
    /// Junk where a response head was expected, and heads or chunked bodies that could not
    /// be framed; framing resumes at the next status line, pairing only where certain.
    pub response_framing_errors: AtomicU64,
}

/// Why the framer gave up on the rest of a connection. After such an error the next request
/// boundary is not certain (a resync could find a "request" inside a body), and production
/// answered 400 or 501 and closed the connection anyway (nginx does), so nothing more on it
/// was served: nothing more is replayed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// A head that is not HTTP/1.x: a bad request line, a header line that is not
    /// `name: value`, an obsolete folded line.
    BadHead,
    /// `Content-Length` and `Transfer-Encoding` that do not delimit a body: contradictory or
    /// invalid lengths, a final coding other than `chunked`.
    BadLength,
    /// A head longer than the framer waits for (64 KiB).
    HeadTooLarge,
    /// A chunked body whose chunk-size line or chunk end is malformed.
    BadChunk,
}

impl FramingError {
    /// Every cause, in index order.
    pub const ALL: [FramingError; 4] = [
        FramingError::BadHead,
        FramingError::BadLength,
        FramingError::HeadTooLarge,
        FramingError::BadChunk,
    ];

    /// The cause's name in the status document (`capture.framing_skipped`).
    pub fn as_str(self) -> &'static str {
        match self {
            FramingError::BadHead => "bad_head",
            FramingError::BadLength => "bad_length",
            FramingError::HeadTooLarge => "head_too_large",
            FramingError::BadChunk => "bad_chunk",
        }
    }

    /// Its position in [`FramingError::ALL`] and in [`CaptureStats::framing_skipped`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why capture stopped or never started. The message is the whole line shown to the
/// operator (what failed and the path, interface or filter involved).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The input could not be opened: no such interface or file, no permission, a BPF
    /// filter libpcap rejects. Nothing was captured (exit code 2).
    #[error("{0}")]
    Open(String),
    /// Reading failed after the input was open: a capture file damaged part-way, an
    /// interface gone (exit code 1).
    #[error("capture failed: {0}")]
    Read(String),
    /// A record file (`--input-file`) is damaged part-way: the whole line, naming the file,
    /// the record and its byte offset (exit code 1).
    #[error("{0}")]
    Records(String),
}

impl Input {
    /// The production server's port: the destination port of the requests.
    pub fn port(&self) -> u16 {
        match self {
            Input::Live { port, .. } | Input::File { port, .. } => *port,
        }
    }
}

/// Whether a capture input is a stream rather than a file: a pipe (`tcpdump -w - | replayer
/// -input-raw -:80`, `/dev/stdin`), a FIFO, a socket or a terminal. A stream is read once,
/// front to back: no size (no progress bar), no going back.
pub fn is_stream(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    kind.is_fifo() || kind.is_socket() || kind.is_char_device()
}

/// Now, in nanoseconds since the Unix epoch (the clock capture timestamps use).
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
