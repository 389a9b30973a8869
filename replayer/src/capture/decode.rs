//! `decode`: one captured frame → the TCP segment inside it, as slices borrowed from the frame.
//!
//! Link layers: Ethernet (with 802.1Q and QinQ VLAN tags, PPPoE sessions and VXLAN tunnels),
//! Linux cooked capture v1 (SLL) and v2 (SLL2), BSD loopback (NULL and LOOP) and raw IPv4/IPv6.
//! Network: IPv4 (the payload ends where the header's total length says, so Ethernet trailer
//! padding never enters the stream; a total length of 0, as TSO leaves it, falls back to the
//! captured length) and IPv6 with extension headers. IPv4 fragments are put back together by a
//! small bounded [`Defragmenter`]. IP and TCP are parsed with `etherparse` (its lax IP mode also
//! accepts packets cut short by the snap length: the missing tail then shows up downstream as a
//! stream gap); the link layers, a few fixed offsets, by hand.
//!
//! Nothing here allocates for an ordinary frame.

use etherparse::{EtherType, IpNumber, LaxIpSlice, TcpSlice, UdpSlice};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// libpcap `DLT_*` / `LINKTYPE_*` values this decoder understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II (`DLT_EN10MB`), VLAN tags, PPPoE and VXLAN looked through.
    Ethernet,
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    Null,
    /// OpenBSD loopback: the same family field, in network byte order.
    Loop,
    /// Raw IP, version read from the first nibble.
    Raw,
    /// Linux cooked capture v1 (`any` interface): a 16-byte header, protocol at offset 14.
    LinuxSll,
    /// Linux cooked capture v2: a 20-byte header, protocol at offset 0.
    LinuxSll2,
}

impl LinkType {
    /// Maps a libpcap data link type number; `None` for link types we cannot decode.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        Some(match dlt {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            108 => LinkType::Loop,
            // DLT_RAW is 12 or 14 on some BSDs, 101 as LINKTYPE_RAW; 228/229 are IPv4/IPv6.
            12 | 14 | 101 | 228 | 229 => LinkType::Raw,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }
}

/// The TCP flags the reassembler acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// SYN: a connection opens; its sequence number anchors the stream.
    pub syn: bool,
    /// ACK: the acknowledgement number is valid (a server's ACK past a hole means the
    /// client's bytes there will not come).
    pub ack: bool,
    /// FIN: the sender has no more bytes; the stream ends once everything before it arrived.
    pub fin: bool,
    /// RST: the connection is gone; the stream ends with what it has, holes given up.
    pub rst: bool,
}

/// One TCP segment, its payload borrowed from the frame (or from the defragmenter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// Sender's address and port (the client, for a request).
    pub src: SocketAddr,
    /// Receiver's address and port (the captured server, for a request).
    pub dst: SocketAddr,
    /// Sequence number of the first payload byte (of the SYN itself when `flags.syn`).
    pub seq: u32,
    /// Acknowledgement number; meaningful only when `flags.ack`.
    pub ack: u32,
    /// The flags the reassembler acts on.
    pub flags: TcpFlags,
    /// TCP payload bytes, possibly cut short by the snap length.
    pub payload: &'a [u8],
}

/// What a frame turned out to hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A TCP segment (from a whole datagram or a completed set of fragments).
    Tcp(TcpSegment<'a>),
    /// A fragment of an IPv4 datagram that is not complete yet.
    Fragment,
    /// Valid, but nothing for us (ARP, UDP, ICMP, an unknown EtherType ...).
    Other,
    /// Too short or inconsistent to parse.
    Malformed,
}

/// UDP port of VXLAN (RFC 7348): the payload is an 8-byte VXLAN header and an Ethernet frame.
const VXLAN_PORT: u16 = 4789;
/// EtherType of a PPPoE session (RFC 2516); the payload is a 6-byte PPPoE and 2-byte PPP header.
const PPPOE_SESSION: EtherType = EtherType(0x8864);
/// 802.1Q, 802.1ad (QinQ) and the older QinQ tag EtherTypes.
const VLAN_TAGS: [EtherType; 3] = [EtherType(0x8100), EtherType(0x88a8), EtherType(0x9100)];

/// Decodes frames of one link type. Holds the IPv4 defragmenter, hence `&mut self`.
#[derive(Debug)]
pub struct Decoder {
    link: LinkType,
    defrag: Defragmenter,
}

impl Decoder {
    /// A decoder for frames of `link` (the capture's data link type), with an empty
    /// defragmenter.
    pub fn new(link: LinkType) -> Decoder {
        Decoder {
            link,
            defrag: Defragmenter::default(),
        }
    }

    /// The link type this decoder was made for.
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Decodes one frame captured at `ts_ns`.
    pub fn decode<'a>(&'a mut self, frame: &'a [u8], ts_ns: u64) -> Decoded<'a> {
        // The link layers are a few fixed offsets, walked here by hand: building etherparse's
        // whole-packet view for every frame costs more than everything else in decoding.
        let network = match self.link {
            LinkType::Ethernet => return self.ethernet(frame, ts_ns, 0),
            // The family value tells IPv4 from IPv6, but so does the IP version nibble,
            // and the family's byte order depends on the capturing host: trust the nibble.
            LinkType::Null | LinkType::Loop => frame.get(4..).map(|ip| (None, ip)),
            LinkType::Raw => Some((None, frame)),
            // SLL: 16-byte header, protocol (an EtherType for IP) in its last two bytes.
            LinkType::LinuxSll => match (frame.get(14..16), frame.get(16..)) {
                (Some(p), Some(rest)) => Some((Some(u16::from_be_bytes([p[0], p[1]])), rest)),
                _ => None,
            },
            // SLL2: 20-byte header, protocol in its first two bytes.
            LinkType::LinuxSll2 => match (frame.get(0..2), frame.get(20..)) {
                (Some(p), Some(rest)) => Some((Some(u16::from_be_bytes([p[0], p[1]])), rest)),
                _ => None,
            },
        };
        match network {
            Some((None, ip)) => self.ip(ip, ts_ns, 0),
            Some((Some(ether_type), rest)) => self.ether_payload(ether_type, rest, ts_ns, 0),
            None => Decoded::Malformed,
        }
    }

    /// An Ethernet II frame: 14-byte header, then any VLAN tags.
    fn ethernet<'a>(&'a mut self, frame: &'a [u8], ts_ns: u64, depth: u8) -> Decoded<'a> {
        match (frame.get(12..14), frame.get(14..)) {
            (Some(t), Some(rest)) => {
                self.ether_payload(u16::from_be_bytes([t[0], t[1]]), rest, ts_ns, depth)
            }
            _ => Decoded::Malformed,
        }
    }

    /// What follows an EtherType: VLAN tags (802.1Q, QinQ) are peeled, PPPoE sessions opened.
    fn ether_payload<'a>(
        &'a mut self,
        mut ether_type: u16,
        mut rest: &'a [u8],
        ts_ns: u64,
        depth: u8,
    ) -> Decoded<'a> {
        let mut tags = 0;
        while VLAN_TAGS.contains(&EtherType(ether_type)) {
            tags += 1;
            match (rest.get(2..4), rest.get(4..)) {
                (Some(t), Some(inner)) if tags <= 3 => {
                    ether_type = u16::from_be_bytes([t[0], t[1]]);
                    rest = inner;
                }
                _ => return Decoded::Malformed,
            }
        }
        match EtherType(ether_type) {
            EtherType::IPV4 | EtherType::IPV6 => self.ip(rest, ts_ns, depth),
            // PPPoE session: 6-byte PPPoE header, 2-byte PPP protocol: 0x0021 IPv4, 0x0057 IPv6.
            PPPOE_SESSION if depth == 0 => match (rest.get(6..8), rest.get(8..)) {
                (Some([0x00, 0x21]) | Some([0x00, 0x57]), Some(ip)) => {
                    self.ip(ip, ts_ns, depth + 1)
                }
                (Some(_), Some(_)) => Decoded::Other,
                _ => Decoded::Malformed,
            },
            _ => Decoded::Other,
        }
    }

    /// An IPv4 or IPv6 packet (the version nibble says which) and the TCP segment inside.
    fn ip<'a>(&'a mut self, packet: &'a [u8], ts_ns: u64, depth: u8) -> Decoded<'a> {
        let Ok((ip, _)) = LaxIpSlice::from_slice(packet) else {
            return Decoded::Malformed;
        };
        let (src_ip, dst_ip) = (ip.source_addr(), ip.destination_addr());
        let payload = ip.payload();
        if payload.fragmented {
            return self.fragment(&ip, ts_ns);
        }
        match payload.ip_number {
            IpNumber::TCP => match TcpSlice::from_slice(payload.payload) {
                Ok(tcp) => Decoded::Tcp(segment(src_ip, dst_ip, &tcp)),
                Err(_) => Decoded::Malformed,
            },
            IpNumber::UDP if depth == 0 => match UdpSlice::from_slice(payload.payload) {
                // VXLAN: an 8-byte VXLAN header, then a whole Ethernet frame.
                Ok(udp) if udp.destination_port() == VXLAN_PORT => match udp.payload().get(8..) {
                    Some(inner) => self.ethernet(inner, ts_ns, depth + 1),
                    None => Decoded::Malformed,
                },
                Ok(_) => Decoded::Other,
                Err(_) => Decoded::Malformed,
            },
            _ => Decoded::Other,
        }
    }

    /// An IPv4 fragment: kept until its datagram is whole. (IPv6 fragments are vanishingly
    /// rare for TCP, which path MTU discovery keeps from fragmenting.)
    fn fragment<'a>(&'a mut self, ip: &LaxIpSlice<'a>, ts_ns: u64) -> Decoded<'a> {
        let LaxIpSlice::Ipv4(v4) = ip else {
            return Decoded::Other;
        };
        if v4.payload().ip_number != IpNumber::TCP {
            return Decoded::Other;
        }
        let h = v4.header();
        let key = FragmentKey {
            src: h.source_addr().into(),
            dst: h.destination_addr().into(),
            id: h.identification(),
        };
        let offset = h.fragments_offset().byte_offset() as usize;
        let (src_ip, dst_ip) = (key.src, key.dst);
        match self
            .defrag
            .add(key, offset, h.more_fragments(), v4.payload().payload, ts_ns)
        {
            Some(datagram) => match TcpSlice::from_slice(datagram) {
                Ok(tcp) => Decoded::Tcp(segment(src_ip, dst_ip, &tcp)),
                Err(_) => Decoded::Malformed,
            },
            None => Decoded::Fragment,
        }
    }
}

fn segment<'a>(src_ip: IpAddr, dst_ip: IpAddr, tcp: &TcpSlice<'a>) -> TcpSegment<'a> {
    TcpSegment {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        payload: tcp.payload(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FragmentKey {
    src: IpAddr,
    dst: IpAddr,
    id: u16,
}

#[derive(Debug, Default)]
struct PartialDatagram {
    data: Vec<u8>,
    /// Byte ranges received so far, unsorted; few per datagram.
    ranges: Vec<(usize, usize)>,
    /// Known once the last fragment (more-fragments clear) arrives.
    total: Option<usize>,
    first_seen_ns: u64,
}

/// Puts IPv4 fragments back together, within hard bounds: at most 256 (`MAX_PENDING`)
/// datagrams at once (the oldest is dropped to make room) and each at most 64 KiB, forgotten
/// after 30 s (`TIMEOUT_NS`) as RFC 791 suggests.
#[derive(Debug, Default)]
pub struct Defragmenter {
    pending: HashMap<FragmentKey, PartialDatagram>,
    /// The last datagram completed; the returned slice borrows it.
    done: Vec<u8>,
    /// Datagrams given up on (timeout, eviction or inconsistent fragments).
    pub dropped: u64,
}

impl Defragmenter {
    const MAX_PENDING: usize = 256;
    const TIMEOUT_NS: u64 = 30_000_000_000;
    const MAX_DATAGRAM: usize = 65_535;

    /// Adds one fragment; returns the whole IP payload once every byte of it is here.
    fn add(
        &mut self,
        key: FragmentKey,
        offset: usize,
        more: bool,
        payload: &[u8],
        ts_ns: u64,
    ) -> Option<&[u8]> {
        let end = offset + payload.len();
        if end > Self::MAX_DATAGRAM {
            self.dropped += 1;
            self.pending.remove(&key);
            return None;
        }
        if !self.pending.contains_key(&key) {
            self.make_room(ts_ns);
        }
        let entry = self.pending.entry(key).or_insert_with(|| PartialDatagram {
            first_seen_ns: ts_ns,
            ..PartialDatagram::default()
        });
        if entry.data.len() < end {
            entry.data.resize(end, 0);
        }
        entry.data[offset..end].copy_from_slice(payload);
        entry.ranges.push((offset, end));
        if !more {
            entry.total = Some(end);
        }
        let total = entry.total?;
        if !covers(&mut entry.ranges, total) {
            return None;
        }
        let mut entry = self.pending.remove(&key)?;
        entry.data.truncate(total);
        self.done = entry.data;
        Some(&self.done)
    }

    fn make_room(&mut self, now_ns: u64) {
        let before = self.pending.len();
        self.pending
            .retain(|_, d| now_ns.saturating_sub(d.first_seen_ns) < Self::TIMEOUT_NS);
        if self.pending.len() >= Self::MAX_PENDING {
            if let Some(oldest) = self
                .pending
                .iter()
                .min_by_key(|(_, d)| d.first_seen_ns)
                .map(|(k, _)| *k)
            {
                self.pending.remove(&oldest);
            }
        }
        self.dropped += (before - self.pending.len()) as u64;
    }
}

/// Whether the ranges cover `[0, total)` without a hole.
fn covers(ranges: &mut [(usize, usize)], total: usize) -> bool {
    ranges.sort_unstable();
    let mut reached = 0;
    for &(start, end) in ranges.iter() {
        if start > reached {
            return false;
        }
        reached = reached.max(end);
    }
    reached >= total
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_frame(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 80, 1000, 64000);
        let mut frame = Vec::new();
        builder.write(&mut frame, payload).unwrap();
        frame
    }

    #[test]
    fn ethernet_trailer_padding_stays_out_of_the_payload() {
        let mut frame = tcp_frame(b"GET");
        frame.extend_from_slice(&[0xAA; 6]); // the padding short frames get on the wire
        let mut decoder = Decoder::new(LinkType::Ethernet);
        match decoder.decode(&frame, 0) {
            Decoded::Tcp(seg) => {
                assert_eq!(seg.payload, b"GET");
                assert_eq!(seg.dst.port(), 80);
                assert_eq!(seg.seq, 1000);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sll2_and_null_frames_decode() {
        let eth = tcp_frame(b"x");
        let ip = &eth[14..];
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6];
        sll2.extend_from_slice(&[0; 8]);
        sll2.extend_from_slice(ip);
        assert!(matches!(
            Decoder::new(LinkType::LinuxSll2).decode(&sll2, 0),
            Decoded::Tcp(s) if s.payload == b"x"
        ));
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(ip);
        assert!(matches!(
            Decoder::new(LinkType::Null).decode(&null, 0),
            Decoded::Tcp(s) if s.payload == b"x"
        ));
    }

    /// The payload of the single TCP segment `frame` decodes to, on `link`.
    fn payload_of(link: LinkType, frame: &[u8]) -> Option<Vec<u8>> {
        match Decoder::new(link).decode(frame, 0) {
            Decoded::Tcp(seg) => Some(seg.payload.to_vec()),
            _ => None,
        }
    }

    #[test]
    fn qinq_pppoe_and_vxlan_are_unwrapped() {
        let eth = tcp_frame(b"GET /x");
        let (macs, ip) = (&eth[..12], &eth[14..]);
        // QinQ: an 802.1ad tag, then an 802.1Q tag, then IPv4.
        let qinq = [macs, &[0x88, 0xa8, 0, 7, 0x81, 0x00, 0, 42, 0x08, 0x00], ip].concat();
        assert_eq!(
            payload_of(LinkType::Ethernet, &qinq).as_deref(),
            Some(&b"GET /x"[..])
        );
        // PPPoE session: version/type, code, session id, length, then PPP protocol 0x0021.
        let pppoe = [macs, &[0x88, 0x64, 0x11, 0, 0, 1, 0, 0, 0x00, 0x21], ip].concat();
        assert_eq!(
            payload_of(LinkType::Ethernet, &pppoe).as_deref(),
            Some(&b"GET /x"[..])
        );
        // PPPoE session behind an 802.1Q tag.
        let tagged = [macs, &[0x81, 0x00, 0, 42], &pppoe[12..]].concat();
        assert_eq!(
            payload_of(LinkType::Ethernet, &tagged).as_deref(),
            Some(&b"GET /x"[..])
        );
        // PPPoE session, PPP protocol 0x0057: IPv6.
        let mut v6 = Vec::new();
        PacketBuilder::ipv6([1; 16], [2; 16], 64)
            .tcp(40000, 80, 1, 64000)
            .write(&mut v6, b"GET /6")
            .unwrap();
        let pppoe6 = [macs, &[0x88, 0x64, 0x11, 0, 0, 1, 0, 0, 0x00, 0x57], &v6].concat();
        assert_eq!(
            payload_of(LinkType::Ethernet, &pppoe6).as_deref(),
            Some(&b"GET /6"[..])
        );
        // A PPPoE session frame that is not IP (LCP), and a PPPoE discovery frame (0x8863).
        let lcp = [
            macs,
            &[0x88, 0x64, 0x11, 0, 0, 1, 0, 6, 0xc0, 0x21, 1, 1, 0, 4],
        ]
        .concat();
        assert_eq!(
            Decoder::new(LinkType::Ethernet).decode(&lcp, 0),
            Decoded::Other
        );
        let padi = [macs, &[0x88, 0x63, 0x11, 0x09, 0, 0, 0, 0]].concat();
        assert_eq!(
            Decoder::new(LinkType::Ethernet).decode(&padi, 0),
            Decoded::Other
        );
        // VXLAN: an outer Ethernet/IPv4/UDP to port 4789, an 8-byte VXLAN header, the frame.
        let mut outer = Vec::new();
        PacketBuilder::ethernet2([3; 6], [4; 6])
            .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
            .udp(50000, VXLAN_PORT)
            .write(
                &mut outer,
                &[&[0x08, 0, 0, 0, 0, 0, 1, 0][..], &eth].concat(),
            )
            .unwrap();
        match Decoder::new(LinkType::Ethernet).decode(&outer, 0) {
            Decoded::Tcp(seg) => {
                assert_eq!(seg.payload, b"GET /x");
                assert_eq!(seg.dst, "10.0.0.2:80".parse().unwrap());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ipv6_extension_headers_are_skipped() {
        let tcp = {
            let mut frame = Vec::new();
            PacketBuilder::ipv6([1; 16], [2; 16], 64)
                .tcp(40000, 80, 1, 64000)
                .write(&mut frame, b"GET /6")
                .unwrap();
            frame[40..].to_vec()
        };
        // IPv6 with next header 0 (hop-by-hop options: 8 bytes of PadN), then TCP (6).
        let mut packet = vec![0x60, 0, 0, 0];
        packet.extend_from_slice(&((8 + tcp.len()) as u16).to_be_bytes());
        packet.extend_from_slice(&[0, 64]);
        packet.extend_from_slice(&[1; 16]);
        packet.extend_from_slice(&[2; 16]);
        packet.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
        packet.extend_from_slice(&tcp);
        assert_eq!(
            payload_of(LinkType::Raw, &packet).as_deref(),
            Some(&b"GET /6"[..])
        );
    }

    #[test]
    fn ipv4_fragments_are_put_back_together_in_any_order() {
        let eth = tcp_frame(b"GET /fragmented HTTP/1.1\r\n\r\n");
        let (header, payload) = (&eth[14..34], &eth[34..]);
        // Three fragments of 16 bytes (offsets in 8-byte units), sent last first.
        let fragment = |offset: usize, last: bool| {
            let end = (offset + 16).min(payload.len());
            let mut h = header.to_vec();
            h[2..4].copy_from_slice(&((20 + end - offset) as u16).to_be_bytes());
            let flags_offset = ((offset / 8) as u16) | if last { 0 } else { 0x2000 };
            h[6..8].copy_from_slice(&flags_offset.to_be_bytes());
            [&eth[..14], &h, &payload[offset..end]].concat()
        };
        let count = payload.len().div_ceil(16);
        let mut decoder = Decoder::new(LinkType::Ethernet);
        for i in (1..count).rev() {
            let frame = fragment(i * 16, i == count - 1);
            assert_eq!(decoder.decode(&frame, 0), Decoded::Fragment);
        }
        let first = fragment(0, false);
        match decoder.decode(&first, 0) {
            Decoded::Tcp(seg) => assert_eq!(seg.payload, b"GET /fragmented HTTP/1.1\r\n\r\n"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let mut decoder = Decoder::new(LinkType::Ethernet);
        assert_eq!(decoder.decode(&[], 0), Decoded::Malformed);
        assert_eq!(decoder.decode(&[0x45; 3], 0), Decoded::Malformed);
    }

    #[test]
    fn coverage_needs_every_byte() {
        assert!(covers(&mut [(8, 16), (0, 8)], 16));
        assert!(!covers(&mut [(0, 8), (9, 16)], 16));
        assert!(!covers(&mut [(0, 8)], 16));
    }
}
