//! `capture`: packets live from an interface (libpcap) or from a pcap/pcapng file.
//!
//! Live capture uses libpcap's block ring (TPACKET_V3: packets packed end to end, a block
//! handed over when full or after 10 ms), not immediate mode: immediate mode falls back to a
//! ring of snap-length slots, which on `lo` (64 KB MTU) holds only 256 packets in 16 MB and
//! overflowed at 2,000 requests/s (bench/replay.sh); 10 ms of delay costs shadowing nothing.
//! It uses the configured snap length (256 KiB by default, tcpdump's, so GRO/TSO super-segments are kept
//! whole) and kernel buffer size, and a BPF filter built from the server port and optional
//! host. The filter never names the interface's own addresses: the daemon must also
//! see traffic addressed elsewhere (mirrored ports, `tcpreplay` onto a veth).
//!
//! Files: classic pcap (what `tcpdump -w` writes, either byte order, micro- or nanosecond
//! timestamps) and pcapng (any number of sections in either byte order, interfaces of
//! different link types and timestamp resolutions) are read and decoded by `pcap_reader` on
//! a read-ahead thread, which hands over [`Next::Decoded`] packets; a user's BPF filter is
//! still compiled and run by libpcap (`pcap_offline_filter`). The rarer pcap variants, a
//! pcapng damaged before its first interface and everything else go to libpcap, which also
//! gives the error for a file that is no capture (docs/daemon.md, docs/benchmarks.md: why).
//! A stream (standard input as `-`, a pipe, a FIFO) is read the same way, front to back.

use super::pcap_reader::{PcapReader, Sniffed};
use crate::capture::decode::{LinkType, TcpSegment};
use crate::capture::{is_stream, CaptureConfig, CaptureError, Input};
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
    /// A raw packet from libpcap (live, or a file our reader leaves to it), still to be
    /// decoded.
    Packet(Packet<'a>),
    /// A packet already decoded (pcap and pcapng files are decoded on their reader thread):
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
    /// Files our reader leaves to libpcap.
    File(Capture<Offline>),
    /// A classic pcap or pcapng file, read by our own reader (which applies the user's BPF
    /// filter).
    Fast(Box<PcapReader>),
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

/// The default BPF filter for a server port, optionally narrowed to one host, for a capture of
/// data link type `dlt`.
///
/// On Ethernet it matches every encapsulation [`decode`](super::decode) looks through, not
/// just plain frames: a filter that lets only plain frames through makes the decoder's support
/// for the others useless on a live capture. libpcap's `vlan` and `pppoes` keywords move the
/// offsets of everything that follows them in the expression (`or` included), so two of them
/// cannot sit side by side: PPPoE sessions and VXLAN are matched by fixed offsets (`ether[]`,
/// `udp[]`, the IPv4 header length read from the packet), in clauses placed before the one
/// `vlan` clause, which comes last (802.1Q and QinQ). The cost: about 7 ns a packet more than
/// plain and `vlan` alone (docs/benchmarks.md, "Default capture filter"). Not matched: PPPoE or VXLAN inside a VLAN tag the kernel left in the frame, and a VLAN
/// tag inside VXLAN (the decoder reads them from a file).
///
/// Other link types (the `any` device's cooked capture, loopback, raw IP) carry none of these,
/// and libpcap refuses `vlan` on them: their filter is the plain one.
pub fn build_filter(host: Option<IpAddr>, port: u16, dlt: i32) -> String {
    let one = match host {
        Some(host) => format!("host {host} and tcp port {port}"),
        None => format!("tcp port {port}"),
    };
    if LinkType::from_dlt(dlt) != Some(LinkType::Ethernet) {
        return one;
    }
    // PPPoE session (EtherType 0x8864): the IP packet starts at 22, after the 14-byte
    // Ethernet, 6-byte PPPoE and 2-byte PPP headers; PPP protocol 0x0021 IPv4, 0x0057 IPv6.
    let pppoe = encapsulated(
        "ether",
        "ether[12:2] = 0x8864",
        "ether[20:2]",
        22,
        host,
        port,
    );
    // VXLAN (UDP 4789): 8 bytes of UDP and 8 of VXLAN header, then an Ethernet frame (its
    // EtherType at 28), the IP packet at 30.
    let vxlan = encapsulated("udp", "udp dst port 4789", "udp[28:2]", 30, host, port);
    format!("({one}) or ({pppoe}) or ({vxlan}) or (vlan and (({one}) or (vlan and {one})))")
}

/// The clause for TCP to `port` (and `host`) in an IP packet at byte `ip` of `base` (`ether`,
/// `udp`), behind the test `outer`; `kind` is the 2-byte field that says IPv4 or IPv6 (PPP
/// protocol or EtherType).
fn encapsulated(
    base: &str,
    outer: &str,
    kind: &str,
    ip: usize,
    host: Option<IpAddr>,
    port: u16,
) -> String {
    let (v4_kind, v6_kind) = if base == "ether" {
        (0x0021, 0x0057)
    } else {
        (0x0800, 0x86dd)
    };
    let tcp4 = format!("{ip} + (({base}[{ip}] & 0xf) << 2)");
    let v4 = format!(
        "{kind} = {v4_kind:#06x} and {base}[{}] = 6 and ({base}[{tcp4}:2] = {port} or {base}[{tcp4} + 2:2] = {port})",
        ip + 9
    );
    let v6 = format!(
        "{kind} = {v6_kind:#06x} and {base}[{}] = 6 and ({base}[{}:2] = {port} or {base}[{}:2] = {port})",
        ip + 6,
        ip + 40,
        ip + 42
    );
    let inner = match host {
        None => format!("({v4}) or ({v6})"),
        Some(IpAddr::V4(h)) => {
            let h = u32::from(h);
            format!(
                "{v4} and ({base}[{}:4] = {h:#010x} or {base}[{}:4] = {h:#010x})",
                ip + 12,
                ip + 16
            )
        }
        Some(IpAddr::V6(h)) => {
            let words = |at: usize| {
                h.octets()
                    .chunks(4)
                    .enumerate()
                    .map(|(i, w)| {
                        let w = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
                        format!("{base}[{}:4] = {w:#010x}", at + 4 * i)
                    })
                    .collect::<Vec<_>>()
                    .join(" and ")
            };
            format!("{v6} and (({}) or ({}))", words(ip + 8), words(ip + 24))
        }
    };
    format!("{outer} and ({inner})")
}

impl Source {
    /// Opens the input the configuration names, with its filter applied.
    pub fn open(config: &CaptureConfig) -> Result<Source, CaptureError> {
        match &config.input {
            Input::File { path, .. } => {
                let shown = path.display().to_string();
                let stream = std::fs::metadata(path).is_ok_and(|meta| is_stream(&meta));
                if !path.is_file() && !stream {
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
                    Sniffed::Fast(mut reader) => {
                        // The reader thread decodes: it needs the link type now, and the
                        // filter checked now (it compiles it again on its own thread).
                        let linktype = reader.linktype() as i32;
                        if let Some(filter) = &config.bpf_filter {
                            let dlt = PcapReader::filter_dlt(reader.linktype());
                            Capture::dead(Linktype(dlt))
                                .map_err(|e| cannot_read(&e))?
                                .compile(filter, true)
                                .map_err(|e| bad_filter(filter, e))?;
                        }
                        // An unknown link type is refused by the pipeline, before any read.
                        if LinkType::from_dlt(linktype).is_some() {
                            reader.start(config.bpf_filter.clone());
                        }
                        Handle::Fast(reader)
                    }
                    // Not even a magic number (an empty file, `< /dev/null`, a FIFO closed at
                    // once): refused here in libpcap's words, without its "libpcap error:"
                    // and without a pipe and a thread set up for it to find nothing.
                    Sniffed::Other { head, .. } if head.len() < 4 => {
                        return Err(cannot_read(&format!(
                            "truncated dump file; tried to read 4 file header bytes, only got {}",
                            head.len()
                        )));
                    }
                    Sniffed::Other { file, head } => {
                        let mut capture = if stream {
                            libpcap_stream(file, head).map_err(|e| cannot_read(&e))?
                        } else {
                            Capture::from_file_with_precision(path, Precision::Nano)
                                .map_err(|e| cannot_read(&e))?
                        };
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
                let dlt = capture.get_datalink().0;
                let filter = config
                    .bpf_filter
                    .clone()
                    .unwrap_or_else(|| build_filter(*host, *port, dlt));
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
            Handle::Fast(reader) => reader.linktype() as i32,
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
            Handle::Fast(reader) => return next_fast(reader, &self.description),
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
            Handle::File(_) | Handle::Fast(..) => None,
        }
    }
}

/// A stream our reader does not take (a pcap variant from a pipe), handed to libpcap. The bytes read
/// to tell what it holds are gone from the stream, so they are put back in front of the rest
/// through a pipe of our own, fed by a thread; libpcap reads its other end.
fn libpcap_stream(
    mut input: std::fs::File,
    head: Vec<u8>,
) -> Result<Capture<Offline>, Box<dyn std::fmt::Display>> {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` is an array of two descriptors for `pipe2` to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Box::new(std::io::Error::last_os_error()));
    }
    // SAFETY: the write end was just made and is owned by this File alone.
    let mut writer = unsafe { std::fs::File::from_raw_fd(fds[1]) };
    let feed = move || {
        // Ends at the end of the input, or when libpcap's end is closed (EPIPE: Rust ignores
        // SIGPIPE).
        let _ = writer
            .write_all(&head)
            .and_then(|()| std::io::copy(&mut input, &mut writer).map(drop));
    };
    if let Err(e) = std::thread::Builder::new()
        .name("pcap-stream".into())
        .spawn(feed)
    {
        // SAFETY: the read end is ours and not handed over: closed here.
        unsafe { libc::close(fds[0]) };
        return Err(Box::new(e));
    }
    // SAFETY: the read end is owned by no one else; libpcap takes it over (and closes it).
    unsafe { Capture::from_raw_fd_with_precision(fds[0], Precision::Nano) }
        .map_err(|e| Box::new(e) as Box<dyn std::fmt::Display>)
}

/// The next packet of a file our reader reads that passes the filter.
fn next_fast<'a>(reader: &'a mut PcapReader, description: &str) -> Result<Next<'a>, CaptureError> {
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
    fn filter_covers_encapsulations_on_ethernet_only_and_never_names_our_own_addresses() {
        assert_eq!(
            build_filter(None, 8080, 1),
            "(tcp port 8080) or (ether[12:2] = 0x8864 and ((ether[20:2] = 0x0021 and \
             ether[31] = 6 and (ether[22 + ((ether[22] & 0xf) << 2):2] = 8080 or \
             ether[22 + ((ether[22] & 0xf) << 2) + 2:2] = 8080)) or (ether[20:2] = 0x0057 and \
             ether[28] = 6 and (ether[62:2] = 8080 or ether[64:2] = 8080)))) or \
             (udp dst port 4789 and ((udp[28:2] = 0x0800 and udp[39] = 6 and \
             (udp[30 + ((udp[30] & 0xf) << 2):2] = 8080 or \
             udp[30 + ((udp[30] & 0xf) << 2) + 2:2] = 8080)) or (udp[28:2] = 0x86dd and \
             udp[36] = 6 and (udp[70:2] = 8080 or udp[72:2] = 8080)))) or \
             (vlan and ((tcp port 8080) or (vlan and tcp port 8080)))"
        );
        let v4 = build_filter(Some("10.1.2.3".parse().unwrap()), 80, 1);
        assert!(
            v4.starts_with("(host 10.1.2.3 and tcp port 80) or "),
            "{v4}"
        );
        assert!(
            v4.contains("(ether[34:4] = 0x0a010203 or ether[38:4] = 0x0a010203)"),
            "{v4}"
        );
        assert!(!v4.contains("0x0057"), "{v4}");
        let v6 = build_filter(Some("2001:db8::2".parse().unwrap()), 80, 1);
        assert!(
            v6.contains("udp[38:4] = 0x20010db8 and udp[42:4] = 0x00000000"),
            "{v6}"
        );
        assert!(!v6.contains("0x0021"), "{v6}");
        // Cooked (`any`), loopback, raw IP: no VLAN support in libpcap, nothing to unwrap.
        for dlt in [113, 276, 0, 12] {
            assert_eq!(build_filter(None, 80, dlt), "tcp port 80");
        }
    }

    #[test]
    fn every_default_filter_compiles() {
        for host in [None, Some("10.1.2.3"), Some("2001:db8::2")] {
            let host = host.map(|h| h.parse().unwrap());
            for dlt in [1, 113, 276, 0, 12] {
                let filter = build_filter(host, 80, dlt);
                let compiled = Capture::dead(Linktype(dlt)).unwrap().compile(&filter, true);
                assert!(compiled.is_ok(), "{dlt} {filter}: {:?}", compiled.err());
            }
        }
    }
}
