//! `capture`: packets live from an interface (libpcap) or from a pcap/pcapng file.
//!
//! Live capture uses libpcap's block ring (TPACKET_V3: packets packed end to end, a block
//! handed over when full or after 10 ms), not immediate mode: immediate mode falls back to a
//! ring of snap-length slots, which on `lo` (64 KB MTU) holds only 256 packets in 16 MB and
//! overflowed at 2,000 requests/s (bench/replay.sh); 10 ms of delay costs shadowing nothing.
//! It uses the configured snap length (65535 by default, so GRO/TSO super-segments are kept
//! whole) and kernel buffer size, and a BPF filter built from the server port and optional
//! host. The filter never names the interface's own addresses: the daemon must also
//! see traffic addressed elsewhere (mirrored ports, `tcpreplay` onto a veth).
//!
//! Files: classic pcap (what `tcpdump -w` writes, either byte order, micro- or nanosecond
//! timestamps) is read and decoded by `pcap_reader` on a read-ahead thread, which hands
//! over [`Next::Decoded`] packets; a user's BPF filter is still compiled and run by libpcap
//! (`pcap_offline_filter`). pcapng and everything else go to libpcap, which also gives the
//! error for a file that is no capture (docs/daemon.md, docs/benchmarks.md: why).

use super::pcap_reader::{PcapReader, Sniffed};
use crate::capture::decode::{LinkType, TcpSegment};
use crate::capture::{CaptureConfig, CaptureError, Input};
use pcap::{Active, Capture, Linktype, Offline, Precision};
use std::net::IpAddr;

/// How long a live read waits before returning empty-handed, so the caller can look at its
/// stop flag and expire idle streams while the wire is quiet.
const LIVE_READ_TIMEOUT_MS: i32 = 100;

/// How long the kernel holds a partly filled ring block before handing it over.
const BLOCK_TIMEOUT_MS: i32 = 10;

/// One captured packet, borrowed from libpcap's buffer until the next read.
#[derive(Debug)]
pub struct Packet<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// The bytes captured (at most the snap length).
    pub data: &'a [u8],
    /// The packet's length on the wire.
    pub wire_len: u32,
}

/// What a read produced.
#[derive(Debug)]
pub enum Next<'a> {
    /// A raw packet from libpcap (live, or a pcapng file), still to be decoded.
    Packet(Packet<'a>),
    /// A packet already decoded (classic pcap files are decoded on their reader thread):
    /// its capture time, length on the wire, and TCP segment if it carried one.
    Decoded {
        /// Capture time, nanoseconds since the Unix epoch.
        ts_ns: u64,
        /// The packet's length on the wire, in bytes.
        wire_len: u32,
        /// The TCP segment inside it; `None` when it carried none (ARP, UDP, malformed ...).
        segment: Option<TcpSegment<'a>>,
    },
    /// A live capture saw nothing within the read timeout.
    Idle,
    /// The file is done.
    End,
}

enum Handle {
    Live(Capture<Active>),
    /// pcapng and other files libpcap reads.
    File(Capture<Offline>),
    /// A classic pcap file, read by our own reader (which applies the user's BPF filter).
    Classic(Box<PcapReader>),
}

/// An open packet source.
pub struct Source {
    handle: Handle,
    /// Live timestamps come in microseconds, file timestamps in nanoseconds (asked for at open).
    ts_unit_ns: u64,
    description: String,
    /// The last live read found nothing: wait (poll) for the next packet before reading.
    /// libpcap's own read timeout is not honoured in immediate mode on Linux (it polls again
    /// and again inside one read), so live captures are non-blocking and wait here instead.
    wait_before_read: bool,
}

/// The BPF filter for a server port, optionally narrowed to one host. VLAN-tagged frames need
/// their own clause: after `vlan`, BPF looks 4 bytes further into the frame.
pub fn build_filter(host: Option<IpAddr>, port: u16) -> String {
    let one = match host {
        Some(host) => format!("host {host} and tcp port {port}"),
        None => format!("tcp port {port}"),
    };
    format!("({one}) or (vlan and {one})")
}

impl Source {
    /// Opens the input the configuration names, with its filter applied.
    pub fn open(config: &CaptureConfig) -> Result<Source, CaptureError> {
        match &config.input {
            Input::File { path, .. } => {
                let shown = path.display().to_string();
                if !path.is_file() {
                    return Err(CaptureError::Open(format!(
                        "cannot open capture file {shown}: {}",
                        if path.exists() {
                            "not a regular file"
                        } else {
                            "no such file"
                        }
                    )));
                }
                let cannot_read = |e: &dyn std::fmt::Display| {
                    CaptureError::Open(format!("cannot read capture file {shown}: {e}"))
                };
                let bad_filter = |filter: &str, e: pcap::Error| {
                    CaptureError::Open(format!("invalid BPF filter {filter:?}: {e}"))
                };
                let handle = match PcapReader::sniff(path).map_err(|e| cannot_read(&e))? {
                    Sniffed::Classic(mut reader) => {
                        // The reader thread decodes: it needs the link type now, and the
                        // filter checked now (it compiles it again on its own thread).
                        let linktype = reader.linktype() as i32;
                        if let Some(filter) = &config.bpf_filter {
                            Capture::dead(Linktype(linktype))
                                .map_err(|e| cannot_read(&e))?
                                .compile(filter, true)
                                .map_err(|e| bad_filter(filter, e))?;
                        }
                        // An unknown link type is refused by the pipeline, before any read.
                        if let Some(link) = LinkType::from_dlt(linktype) {
                            reader.start(link, config.bpf_filter.clone());
                        }
                        Handle::Classic(reader)
                    }
                    Sniffed::Other => {
                        let mut capture = Capture::from_file_with_precision(path, Precision::Nano)
                            .map_err(|e| cannot_read(&e))?;
                        if let Some(filter) = &config.bpf_filter {
                            capture
                                .filter(filter, true)
                                .map_err(|e| bad_filter(filter, e))?;
                        }
                        Handle::File(capture)
                    }
                };
                Ok(Source {
                    handle,
                    ts_unit_ns: 1,
                    description: shown,
                    wait_before_read: false,
                })
            }
            Input::Live {
                interface,
                host,
                port,
            } => {
                let device = interface.clone().unwrap_or_else(|| "any".to_owned());
                let open_error =
                    |e: pcap::Error| CaptureError::Open(format!("cannot capture on {device}: {e}"));
                let mut inactive = Capture::from_device(device.as_str())
                    .map_err(open_error)?
                    .immediate_mode(false)
                    .snaplen(config.snaplen)
                    .promisc(config.promisc)
                    .timeout(BLOCK_TIMEOUT_MS);
                if let Some(size) = config.buffer_size {
                    inactive = inactive.buffer_size(size);
                }
                let mut capture = inactive.open().map_err(open_error)?;
                let filter = config
                    .bpf_filter
                    .clone()
                    .unwrap_or_else(|| build_filter(*host, *port));
                capture.filter(&filter, true).map_err(|e| {
                    CaptureError::Open(format!("invalid BPF filter {filter:?}: {e}"))
                })?;
                let capture = capture.setnonblock().map_err(open_error)?;
                Ok(Source {
                    handle: Handle::Live(capture),
                    ts_unit_ns: 1_000,
                    description: format!("{device}:{port}"),
                    wait_before_read: false,
                })
            }
        }
    }

    /// The libpcap data link type (`DLT_*`) of the packets.
    pub fn datalink(&self) -> i32 {
        match &self.handle {
            Handle::Live(c) => c.get_datalink().0,
            Handle::File(c) => c.get_datalink().0,
            Handle::Classic(reader) => reader.linktype() as i32,
        }
    }

    /// The input, for messages and the status document: a file path or `interface:port`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Reads the next packet.
    pub fn next_packet(&mut self) -> Result<Next<'_>, CaptureError> {
        let unit = self.ts_unit_ns;
        if std::mem::take(&mut self.wait_before_read) {
            if let Handle::Live(c) = &self.handle {
                let mut fd = libc::pollfd {
                    fd: std::os::fd::AsRawFd::as_raw_fd(c),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd for the duration of the call. Any outcome
                // (ready, timeout, EINTR) just leads to the read below.
                unsafe { libc::poll(&mut fd, 1, LIVE_READ_TIMEOUT_MS) };
            }
        }
        let read = match &mut self.handle {
            Handle::Live(c) => c.next_packet(),
            Handle::File(c) => c.next_packet(),
            Handle::Classic(reader) => return next_classic(reader, &self.description),
        };
        match read {
            Ok(packet) => {
                let ts = packet.header.ts;
                let ts_ns = (ts.tv_sec.max(0) as u64)
                    .saturating_mul(1_000_000_000)
                    .saturating_add((ts.tv_usec.max(0) as u64).saturating_mul(unit));
                Ok(Next::Packet(Packet {
                    ts_ns,
                    data: packet.data,
                    wire_len: packet.header.len,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => {
                self.wait_before_read = true;
                Ok(Next::Idle)
            }
            Err(pcap::Error::NoMorePackets) => Ok(Next::End),
            Err(e) => Err(CaptureError::Read(format!("{}: {e}", self.description))),
        }
    }

    /// Kernel and interface drop counters from `pcap_stats` (live captures only).
    pub fn drops(&mut self) -> Option<(u64, u64)> {
        match &mut self.handle {
            Handle::Live(c) => c
                .stats()
                .ok()
                .map(|s| (u64::from(s.dropped), u64::from(s.if_dropped))),
            Handle::File(_) | Handle::Classic(..) => None,
        }
    }
}

/// The next packet of a classic pcap file that passes the filter.
fn next_classic<'a>(
    reader: &'a mut PcapReader,
    description: &str,
) -> Result<Next<'a>, CaptureError> {
    let damaged =
        |e: super::pcap_reader::ReadError| CaptureError::Read(format!("{description}: {e}"));
    if !reader.advance().map_err(damaged)? {
        return Ok(Next::End);
    }
    let record = reader.current().expect("advance stepped onto a record");
    Ok(Next::Decoded {
        ts_ns: record.ts_ns,
        wire_len: record.wire_len,
        segment: record.segment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_covers_vlan_frames_and_never_names_our_own_addresses() {
        assert_eq!(
            build_filter(None, 8080),
            "(tcp port 8080) or (vlan and tcp port 8080)"
        );
        assert_eq!(
            build_filter(Some("10.1.2.3".parse().unwrap()), 80),
            "(host 10.1.2.3 and tcp port 80) or (vlan and host 10.1.2.3 and tcp port 80)"
        );
    }
}
