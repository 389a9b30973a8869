//! The first stage of the flow: packets in, TCP segments out.
//!
//! - [`source`]: packets live from an interface (libpcap) or from a pcap/pcapng file;
//! - `pcap_reader`: our reader for classic pcap files, on a read-ahead thread;
//! - [`pace`]: a recorded timeline replayed at its pace, scaled (capture and record files);
//! - [`decode`]: link layer → IPv4/IPv6 (fragments reassembled) → TCP segment;
//! - [`types`]: what the capture half of the flow shares (input, limits, counters, errors).

pub mod decode;
pub mod pace;
mod pcap_reader;
pub mod source;
pub mod types;

pub use source::{Next, Packet, Source};
pub use types::{
    is_stream, CaptureConfig, CaptureError, CaptureStats, FramingError, Input, ReassemblyLimits,
    DEFAULT_CAPTURE_BUFFER,
};
