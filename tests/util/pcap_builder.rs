//! Synthetic captures: classic pcap files built frame by frame (Ethernet, IPv4, TCP), the
//! same frames as pcapng (sections, interfaces, blocks chosen by the test), and TCP
//! connections in them that keep their own sequence numbers.

use std::path::Path;

/// A classic pcap file (microsecond timestamps) built packet by packet, for synthetic cases.
pub struct PcapBuilder {
    bytes: Vec<u8>,
    ts_us: u64,
}

/// TCP flag bits for [`eth_ipv4_tcp`].
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

impl PcapBuilder {
    /// `linktype`: 1 Ethernet, 0 BSD loopback, 101 raw IP, 276 Linux SLL2 ...
    pub fn new(linktype: u32) -> PcapBuilder {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&0i32.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&65535u32.to_le_bytes());
        bytes.extend_from_slice(&linktype.to_le_bytes());
        PcapBuilder {
            bytes,
            ts_us: 1_700_000_000_000_000,
        }
    }

    /// Appends a frame, 1 ms after the previous one.
    pub fn frame(&mut self, frame: &[u8]) -> &mut Self {
        self.ts_us += 1_000;
        let (sec, usec) = (self.ts_us / 1_000_000, self.ts_us % 1_000_000);
        self.bytes.extend_from_slice(&(sec as u32).to_le_bytes());
        self.bytes.extend_from_slice(&(usec as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(frame);
        self
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.bytes).expect("write pcap");
    }
}

/// An Ethernet II + IPv4 + TCP frame (checksums left zero: nothing here verifies them).
pub fn eth_ipv4_tcp(
    src: std::net::SocketAddrV4,
    dst: std::net::SocketAddrV4,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(54 + payload.len());
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let total = (20 + 20 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src.ip().octets());
    f.extend_from_slice(&dst.ip().octets());
    tcp_segment(&mut f, src.port(), dst.port(), seq, ack, flags, payload);
    f
}

/// The same segment as [`eth_ipv4_tcp`], carried in a PPPoE session frame (EtherType
/// 0x8864, session 1, PPP protocol 0x0021).
pub fn eth_pppoe_ipv4_tcp(
    src: std::net::SocketAddrV4,
    dst: std::net::SocketAddrV4,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let frame = eth_ipv4_tcp(src, dst, seq, ack, flags, payload);
    pppoe_session(&frame[..12], 0x0021, &frame[14..])
}

/// An Ethernet PPPoE session frame: MACs, EtherType 0x8864, the 6-byte PPPoE header
/// (version/type 0x11, code 0, session 1, length), the PPP protocol, then `packet`.
pub fn pppoe_session(macs: &[u8], ppp_protocol: u16, packet: &[u8]) -> Vec<u8> {
    let length = (2 + packet.len()) as u16;
    let mut f = macs.to_vec();
    f.extend_from_slice(&[0x88, 0x64, 0x11, 0x00, 0x00, 0x01]);
    f.extend_from_slice(&length.to_be_bytes());
    f.extend_from_slice(&ppp_protocol.to_be_bytes());
    f.extend_from_slice(packet);
    f
}

/// An IPv6 + TCP packet (no link layer; checksum left zero).
pub fn ipv6_tcp(
    src: std::net::SocketAddrV6,
    dst: std::net::SocketAddrV6,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(60 + payload.len());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[6, 64]);
    f.extend_from_slice(&src.ip().octets());
    f.extend_from_slice(&dst.ip().octets());
    tcp_segment(&mut f, src.port(), dst.port(), seq, ack, flags, payload);
    f
}

/// An Ethernet + IPv4 + UDP (to VXLAN's port 4789) frame whose payload is a VXLAN header
/// (VNI 1) and `inner`, a whole Ethernet frame.
pub fn vxlan(
    outer_src: std::net::Ipv4Addr,
    outer_dst: std::net::Ipv4Addr,
    inner: &[u8],
) -> Vec<u8> {
    let udp_len = (8 + 8 + inner.len()) as u16;
    let mut f = vec![0x02, 0, 0, 0, 0, 4, 0x02, 0, 0, 0, 0, 3, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&(20 + udp_len).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&outer_src.octets());
    f.extend_from_slice(&outer_dst.octets());
    f.extend_from_slice(&50000u16.to_be_bytes());
    f.extend_from_slice(&4789u16.to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&[0x08, 0, 0, 0, 0, 0, 1, 0]);
    f.extend_from_slice(inner);
    f
}

/// One TCP connection in a synthetic capture: SYN on creation, then requests, each one
/// segment (or several for big payloads), with the sequence numbers kept.
pub struct SyntheticConnection {
    pub client: std::net::SocketAddrV4,
    pub server: std::net::SocketAddrV4,
    seq: u32,
}

impl SyntheticConnection {
    /// Appends the client's SYN to `pcap`.
    pub fn open(
        pcap: &mut PcapBuilder,
        client: std::net::SocketAddrV4,
        server: std::net::SocketAddrV4,
    ) -> SyntheticConnection {
        pcap.frame(&eth_ipv4_tcp(client, server, 1000, 0, tcp_flags::SYN, b""));
        SyntheticConnection {
            client,
            server,
            seq: 1001,
        }
    }

    /// Appends `data` from the client in segments of at most `mss` bytes.
    pub fn send(&mut self, pcap: &mut PcapBuilder, data: &[u8], mss: usize) {
        for piece in data.chunks(mss.max(1)) {
            let flags = tcp_flags::ACK | tcp_flags::PSH;
            pcap.frame(&eth_ipv4_tcp(
                self.client,
                self.server,
                self.seq,
                1,
                flags,
                piece,
            ));
            self.seq = self.seq.wrapping_add(piece.len() as u32);
        }
    }

    /// Appends the client's FIN.
    pub fn close(self, pcap: &mut PcapBuilder) {
        let flags = tcp_flags::FIN | tcp_flags::ACK;
        pcap.frame(&eth_ipv4_tcp(
            self.client,
            self.server,
            self.seq,
            1,
            flags,
            b"",
        ));
    }
}

impl PcapBuilder {
    /// Moves the capture clock on by `us` microseconds (the next frame comes 1 ms after that).
    pub fn skip_time(&mut self, us: u64) -> &mut Self {
        self.ts_us += us;
        self
    }

    /// Frames appended so far.
    pub fn frame_count(&self) -> u64 {
        self.records().len() as u64
    }

    /// Every frame appended so far, with its time in microseconds since the epoch.
    pub fn records(&self) -> Vec<(u64, &[u8])> {
        let word = |at: usize| u32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap());
        let mut records = Vec::new();
        let mut at = 24;
        while at + 16 <= self.bytes.len() {
            let ts_us = u64::from(word(at)) * 1_000_000 + u64::from(word(at + 4));
            let len = word(at + 8) as usize;
            records.push((ts_us, &self.bytes[at + 16..at + 16 + len]));
            at += 16 + len;
        }
        records
    }
}

/// A pcapng file built block by block: sections in either byte order, interfaces of any
/// link type and timestamp resolution, Enhanced Packet Blocks and any other block.
#[derive(Default)]
pub struct PcapngBuilder {
    bytes: Vec<u8>,
    /// The current section's byte order.
    big: bool,
    /// Blocks so far.
    blocks: u64,
}

impl PcapngBuilder {
    pub fn new() -> PcapngBuilder {
        PcapngBuilder::default()
    }

    /// Starts a section (a Section Header Block, version 1.0, length unknown) in big- or
    /// little-endian byte order; its interfaces are numbered from 0 again.
    pub fn section(&mut self, big: bool) -> &mut Self {
        self.big = big;
        let mut body = Vec::new();
        self.put(
            &mut body,
            &[(0x1A2B_3C4D, 4), (1, 2), (0, 2), (u64::MAX, 8)],
        );
        self.block(0x0A0D_0D0A, &body)
    }

    /// An Interface Description Block for `linktype`, snap length 0 (none); `tsresol` is
    /// written as its `if_tsresol` option unless it is 6 (microseconds, the default).
    pub fn interface(&mut self, linktype: u16, tsresol: u8) -> &mut Self {
        let mut body = Vec::new();
        self.put(&mut body, &[(u64::from(linktype), 2), (0, 2), (0, 4)]);
        if tsresol != 6 {
            self.put(&mut body, &[(9, 2), (1, 2)]);
            body.extend_from_slice(&[tsresol, 0, 0, 0]);
            self.put(&mut body, &[(0, 2), (0, 2)]);
        }
        self.block(1, &body)
    }

    /// An Enhanced Packet Block on `interface`, at `units` of its timestamp resolution.
    pub fn packet(&mut self, interface: u32, units: u64, frame: &[u8]) -> &mut Self {
        let mut body = Vec::new();
        let len = frame.len() as u64;
        self.put(
            &mut body,
            &[
                (u64::from(interface), 4),
                (units >> 32, 4),
                (units & 0xFFFF_FFFF, 4),
                (len, 4),
                (len, 4),
            ],
        );
        body.extend_from_slice(frame);
        self.block(6, &body)
    }

    /// Any block: its type, then `body` padded to 4 bytes, framed by its length.
    pub fn block(&mut self, kind: u32, body: &[u8]) -> &mut Self {
        let padded = body.len().next_multiple_of(4);
        let len = (padded + 12) as u64;
        let mut out = Vec::new();
        self.put(&mut out, &[(u64::from(kind), 4), (len, 4)]);
        out.extend_from_slice(body);
        out.resize(8 + padded, 0);
        self.put(&mut out, &[(len, 4)]);
        self.bytes.extend(out);
        self.blocks += 1;
        self
    }

    /// Puts each `(value, size)` in the section's byte order, in `size` bytes.
    fn put(&self, out: &mut Vec<u8>, words: &[(u64, usize)]) {
        for &(value, size) in words {
            if self.big {
                out.extend_from_slice(&value.to_be_bytes()[8 - size..]);
            } else {
                out.extend_from_slice(&value.to_le_bytes()[..size]);
            }
        }
    }

    /// Blocks written so far: the next one is block `blocks() + 1`.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.bytes).expect("write pcapng");
    }
}

/// Appends a 20-byte TCP header (no options, window 65535, checksum left zero) and `payload`:
/// the part every builder above shares, whatever carries it.
fn tcp_segment(
    f: &mut Vec<u8>,
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) {
    f.extend_from_slice(&src_port.to_be_bytes());
    f.extend_from_slice(&dst_port.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
}
