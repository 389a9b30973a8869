//! Classic pcap files (what `tcpdump -w` writes): read, split into records and decoded on
//! a thread of their own, ahead of the capture thread.
//!
//! libpcap reads a file through stdio: two `fread` calls per packet, each copying out of a
//! 4 KiB stdio buffer, so a 500 MB capture costs 120,000 `read` system calls and two copies of
//! every byte before the pipeline sees it. That was half the time of an `-output-null` run
//! (docs/benchmarks.md, "Capture pipeline"). Here a reader thread reads the file 1 MiB at a
//! time, walks the records of each block, applies the user's BPF filter and decodes each
//! frame down to its TCP segment (`decode`); the capture thread gets blocks of ready segments
//! whose payloads are slices of the block, and spends its time on reassembly and HTTP. This
//! is the file's counterpart of a live capture, where the kernel fills libpcap's ring while
//! the capture thread works. Used blocks go back to the reader to be filled again.
//!
//! The file header (magic numbers, byte order, timestamp resolution, link type) is parsed by
//! the `pcap-file` crate. Record headers are four numbers, read here: pcap-file refuses every
//! record whose original length exceeds the snap length, which is exactly what a capture
//! taken with `tcpdump -s 96` holds. Like libpcap, any captured length up to
//! [`MAX_RECORD_BYTES`] is accepted and a larger one is damage.
//!
//! pcapng and the rarer pcap variants stay with libpcap (see `capture`).
//!
//! The file is read front to back, never rewound nor measured: a pipe or FIFO (`tcpdump -w -
//! | replayer -input-raw -:80`) is read the same way.
//!
//! Long because the read-ahead thread, record splitting and damage checks share one block
//! format, and the unit tests (about 200 of the lines) build byte-level files for each case.

use crate::capture::decode::{Decoded, Decoder, LinkType, TcpFlags, TcpSegment};
use pcap_file::pcap::PcapHeader;
use pcap_file::{Endianness, TsResolution};
use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes per block (one `read` asks for up to this much).
const BLOCK_BYTES: usize = 1 << 20;
/// Blocks read ahead of the capture thread.
const BLOCKS_AHEAD: usize = 2;
/// The largest captured length a record may claim, as in libpcap (its `MAXIMUM_SNAPLEN`):
/// anything larger is a damaged file, not a packet. A block always holds at least one.
pub const MAX_RECORD_BYTES: u32 = 262_144;
/// Size of a record header.
const RECORD_HEADER: usize = 16;
/// Size of the file header.
const FILE_HEADER: usize = 24;

/// What kind of file a path holds.
pub enum Sniffed {
    /// A classic pcap file this reader takes.
    Classic(Box<PcapReader>),
    /// Something else (pcapng, a pcap variant, or not a capture at all): libpcap decides.
    /// The file as opened and the bytes already read from it, for a stream, which cannot be
    /// opened again nor rewound.
    Other { file: File, head: Vec<u8> },
}

/// One packet of the file, decoded.
pub struct Record<'a> {
    pub ts_ns: u64,
    pub wire_len: u32,
    /// The TCP segment the frame carried, if it carried one.
    pub segment: Option<TcpSegment<'a>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error(
        "truncated capture file: packet {packet} is cut short at byte {offset} \
         (it needs {needed} bytes, the file has {left} more)"
    )]
    Truncated {
        packet: u64,
        offset: u64,
        needed: usize,
        left: usize,
    },
    #[error(
        "damaged capture file: packet {packet} at byte {offset} claims {len} captured bytes \
         (at most {MAX_RECORD_BYTES} are possible)"
    )]
    AbsurdLength { packet: u64, offset: u64, len: u32 },
}

/// A block of the file and its packets, decoded. Payloads are slices of `buf`, or of
/// `side` for the few that are not in the file as such (reassembled IPv4 fragments).
#[derive(Default)]
struct Block {
    buf: Vec<u8>,
    side: Vec<u8>,
    items: Vec<Item>,
    v6: Vec<(Ipv6Addr, Ipv6Addr)>,
}

/// One packet. Compact (48 bytes, not the 100 of a decoded [`TcpSegment`]): items are
/// written on the reader's core and read on the capture thread's, and every cache line that
/// crosses between them costs.
struct Item {
    ts_ns: u64,
    wire_len: u32,
    seq: u32,
    ack: u32,
    /// Where the payload lies: `buf[payload]`, or `side[payload]` with [`Item::IN_SIDE`].
    payload: (u32, u32),
    /// [`Item::TCP`], [`Item::IN_SIDE`] and the TCP flags the reassembler reads.
    bits: u8,
    ports: (u16, u16),
    addrs: Addrs,
}

const _: () = assert!(std::mem::size_of::<Item>() <= 48);

/// Source and destination addresses; IPv6 pairs are kept aside, in [`Block::v6`].
enum Addrs {
    V4([u8; 4], [u8; 4]),
    V6(u32),
}

impl Item {
    /// The frame carried a TCP segment (otherwise only the time and length count).
    const TCP: u8 = 1;
    const IN_SIDE: u8 = 2;
    const SYN: u8 = 4;
    const ACK: u8 = 8;
    const FIN: u8 = 16;
    const RST: u8 = 32;
}

pub struct PcapReader {
    header: PcapHeader,
    /// Blocks from the reader thread, in file order; an error comes last. `None` until
    /// [`PcapReader::start`].
    blocks: Option<Receiver<Result<Block, ReadError>>>,
    /// Used blocks going back to the reader thread.
    spare: Option<SyncSender<Block>>,
    file: Option<File>,
    /// The reader thread's work, until [`PcapReader::advance`] starts it.
    pending: Option<ReadAhead>,
    /// The reader thread once started: joined when it is done or the reader is dropped.
    thread: Option<JoinHandle<()>>,
    block: Block,
    /// The current item of `block`, plus one (0: none yet).
    next: usize,
    /// Set once the reader thread has nothing more to give.
    done: bool,
}

impl PcapReader {
    /// Opens `path` if it is a classic pcap file.
    pub fn sniff(path: &Path) -> io::Result<Sniffed> {
        let mut file = File::open(path)?;
        let mut head = [0u8; FILE_HEADER];
        let mut got = 0;
        while got < FILE_HEADER {
            match file.read(&mut head[got..])? {
                0 => {
                    return Ok(Sniffed::Other {
                        file,
                        head: head[..got].to_vec(),
                    })
                }
                n => got += n,
            }
        }
        let Ok((_, header)) = PcapHeader::from_slice(&head) else {
            return Ok(Sniffed::Other {
                file,
                head: head.to_vec(),
            });
        };
        Ok(Sniffed::Classic(Box::new(PcapReader {
            header,
            blocks: None,
            spare: None,
            file: Some(file),
            pending: None,
            thread: None,
            block: Block::default(),
            next: 0,
            done: false,
        })))
    }

    /// The file's link type (`LINKTYPE_*`, which libpcap maps to the same `DLT_*` numbers for
    /// every type the decoder knows), without the FCS bits libpcap also strips.
    pub fn linktype(&self) -> u32 {
        u32::from(self.header.datalink) & 0x03FF_FFFF
    }

    /// Sets the reader up to decode frames of `link` and keep those that `filter` (a BPF
    /// program, compiled by libpcap for this link type) lets through. Its thread starts at
    /// the first [`PcapReader::advance`], on the capture thread: the daemon opens its input
    /// while it still holds capabilities, and a thread started then would keep them
    /// (capabilities are per thread, see `privileges`).
    pub fn start(&mut self, link: LinkType, filter: Option<String>) {
        let Some(file) = self.file.take() else {
            return;
        };
        let (blocks_tx, blocks) = sync_channel(BLOCKS_AHEAD);
        let (spare, spare_rx) = sync_channel(BLOCKS_AHEAD + 1);
        self.pending = Some(ReadAhead {
            file,
            endianness: self.header.endianness,
            ts_resolution: self.header.ts_resolution,
            linktype: self.linktype(),
            decoder: Decoder::new(link),
            filter,
            blocks: blocks_tx,
            spare: spare_rx,
        });
        self.blocks = Some(blocks);
        self.spare = Some(spare);
    }

    /// The record the last [`PcapReader::advance`] stepped onto, if any.
    pub fn current(&self) -> Option<Record<'_>> {
        let item = self.block.items.get(self.next.checked_sub(1)?)?;
        let segment = (item.bits & Item::TCP != 0).then(|| {
            let (src_ip, dst_ip): (IpAddr, IpAddr) = match item.addrs {
                Addrs::V4(src, dst) => (src.into(), dst.into()),
                Addrs::V6(i) => {
                    let (src, dst) = self.block.v6[i as usize];
                    (src.into(), dst.into())
                }
            };
            let bytes = if item.bits & Item::IN_SIDE != 0 {
                &self.block.side
            } else {
                &self.block.buf
            };
            let (at, len) = (item.payload.0 as usize, item.payload.1 as usize);
            TcpSegment {
                src: SocketAddr::new(src_ip, item.ports.0),
                dst: SocketAddr::new(dst_ip, item.ports.1),
                seq: item.seq,
                ack: item.ack,
                flags: TcpFlags {
                    syn: item.bits & Item::SYN != 0,
                    ack: item.bits & Item::ACK != 0,
                    fin: item.bits & Item::FIN != 0,
                    rst: item.bits & Item::RST != 0,
                },
                payload: &bytes[at..at + len],
            }
        });
        Some(Record {
            ts_ns: item.ts_ns,
            wire_len: item.wire_len,
            segment,
        })
    }

    /// Steps onto the next record; `false` at the end of the file. (Two steps, `advance`
    /// then `current`, so that the record borrows the reader only as long as it is used.)
    pub fn advance(&mut self) -> Result<bool, ReadError> {
        if let Some(reader) = self.pending.take() {
            let thread = std::thread::Builder::new()
                .name("pcap-read-ahead".into())
                .spawn(move || reader.run())?;
            self.thread = Some(thread);
        }
        while self.next >= self.block.items.len() {
            let Some(blocks) = &self.blocks else {
                return Ok(false);
            };
            if self.done {
                return Ok(false);
            }
            match blocks.recv() {
                Ok(Ok(block)) => {
                    let used = std::mem::replace(&mut self.block, block);
                    if let Some(spare) = &self.spare {
                        // The reader may be gone or have spares enough: then it is freed.
                        let _ = spare.try_send(used);
                    }
                    self.next = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    // The reader hung up: at the end of the file, or because it failed.
                    self.done = true;
                    let thread = self.thread.take().map(JoinHandle::join);
                    if matches!(thread, Some(Err(_))) {
                        return Err(ReadError::Io(io::Error::other(
                            "the capture file's reader thread failed",
                        )));
                    }
                    return Ok(false);
                }
            }
        }
        self.next += 1;
        Ok(true)
    }
}

/// Stops the reader thread and waits for it: dropping the channels makes its next send fail
/// (or ends its wait for a place in the queue), and it returns at once.
impl Drop for PcapReader {
    fn drop(&mut self) {
        self.blocks = None;
        self.spare = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn read_u32(bytes: &[u8], at: usize, endianness: Endianness) -> u32 {
    let word: [u8; 4] = bytes[at..at + 4].try_into().expect("4 bytes");
    match endianness {
        Endianness::Little => u32::from_le_bytes(word),
        Endianness::Big => u32::from_be_bytes(word),
    }
}

/// The reader thread's side.
struct ReadAhead {
    file: File,
    endianness: Endianness,
    ts_resolution: TsResolution,
    linktype: u32,
    decoder: Decoder,
    filter: Option<String>,
    blocks: SyncSender<Result<Block, ReadError>>,
    spare: Receiver<Block>,
}

impl ReadAhead {
    /// Reads blocks until the end of the file, damage, or the capture side hanging up.
    fn run(mut self) {
        // libpcap's compiled programs stay on the thread that runs them; the filter was
        // checked when the capture was opened, so it compiles here too.
        let filter = self.filter.as_deref().and_then(|filter| {
            pcap::Capture::dead(pcap::Linktype(self.linktype as i32))
                .and_then(|dead| dead.compile(filter, true))
                .ok()
        });
        // A record cut by the end of the last block, carried to the front of the next.
        let mut carry: Vec<u8> = Vec::new();
        // File offset and number (from 1) of the first record of the block being read.
        let mut offset = FILE_HEADER as u64;
        let mut packet = 1u64;
        loop {
            let mut block = self.spare.try_recv().unwrap_or_default();
            block.items.clear();
            block.side.clear();
            block.v6.clear();
            let buf = &mut block.buf;
            buf.resize(BLOCK_BYTES, 0);
            buf[..carry.len()].copy_from_slice(&carry);
            let (filled, eof) = match fill(&mut self.file, buf, carry.len()) {
                Ok(read) => read,
                Err(e) => {
                    let _ = self.blocks.send(Err(e.into()));
                    return;
                }
            };
            // Whole records only; the damage, if any, goes after them.
            let mut pos = 0;
            let mut damage = None;
            while pos + RECORD_HEADER <= filled {
                let word = |i: usize| read_u32(&block.buf, pos + i * 4, self.endianness);
                let len = word(2);
                if len > MAX_RECORD_BYTES {
                    damage = Some(ReadError::AbsurdLength {
                        packet,
                        offset: offset + pos as u64,
                        len,
                    });
                    break;
                }
                let from = pos + RECORD_HEADER;
                let end = from + len as usize;
                if end > filled {
                    break;
                }
                let frac = u64::from(word(1));
                let ts_ns = u64::from(word(0)) * 1_000_000_000
                    + match self.ts_resolution {
                        TsResolution::MicroSecond => frac * 1_000,
                        TsResolution::NanoSecond => frac,
                    };
                let wire_len = word(3);
                let frame = &block.buf[from..end];
                if filter.as_ref().is_none_or(|program| program.filter(frame)) {
                    let decoded = self.decoder.decode(frame, ts_ns);
                    let item = item(
                        (ts_ns, wire_len),
                        decoded,
                        (frame, from),
                        &mut block.side,
                        &mut block.v6,
                    );
                    block.items.push(item);
                }
                pos = end;
                packet += 1;
            }
            if damage.is_none() && eof && pos < filled {
                let left = filled - pos;
                let needed = if left >= RECORD_HEADER {
                    RECORD_HEADER + read_u32(&block.buf, pos + 8, self.endianness) as usize
                } else {
                    RECORD_HEADER
                };
                damage = Some(ReadError::Truncated {
                    packet,
                    offset: offset + pos as u64,
                    needed,
                    left,
                });
            }
            carry.clear();
            carry.extend_from_slice(&block.buf[pos..filled]);
            offset += pos as u64;
            if !block.items.is_empty() && self.blocks.send(Ok(block)).is_err() {
                return; // the capture side is gone
            }
            if let Some(damage) = damage {
                let _ = self.blocks.send(Err(damage));
                return;
            }
            if eof {
                return;
            }
        }
    }
}

/// Where a decoded segment's payload lies: in the frame (at `frame_at` in the block), or,
/// for a datagram the decoder put back together, copied to the end of `side`.
/// The [`Item`] for a decoded frame that lies at `frame_at` in its block; a payload that is
/// not in the frame (a datagram the decoder put back together) is copied to `side`.
fn item(
    (ts_ns, wire_len): (u64, u32),
    decoded: Decoded<'_>,
    (frame, frame_at): (&[u8], usize),
    side: &mut Vec<u8>,
    v6_pairs: &mut Vec<(Ipv6Addr, Ipv6Addr)>,
) -> Item {
    let Decoded::Tcp(segment) = decoded else {
        return Item {
            ts_ns,
            wire_len,
            seq: 0,
            ack: 0,
            payload: (0, 0),
            bits: 0,
            ports: (0, 0),
            addrs: Addrs::V4([0; 4], [0; 4]),
        };
    };
    let payload = segment.payload;
    let start = payload.as_ptr() as usize;
    let frame_start = frame.as_ptr() as usize;
    let mut bits = Item::TCP;
    let at = if start >= frame_start && start + payload.len() <= frame_start + frame.len() {
        frame_at + (start - frame_start)
    } else {
        bits |= Item::IN_SIDE;
        side.extend_from_slice(payload);
        side.len() - payload.len()
    };
    let flags = segment.flags;
    for (set, bit) in [
        (flags.syn, Item::SYN),
        (flags.ack, Item::ACK),
        (flags.fin, Item::FIN),
        (flags.rst, Item::RST),
    ] {
        if set {
            bits |= bit;
        }
    }
    let addrs = match (segment.src.ip(), segment.dst.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => Addrs::V4(src.octets(), dst.octets()),
        (src, dst) => {
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            v6_pairs.push((v6(src), v6(dst)));
            Addrs::V6(v6_pairs.len() as u32 - 1)
        }
    };
    // A block is at most BLOCK_BYTES, and a datagram at most 64 KiB: all inside u32.
    Item {
        ts_ns,
        wire_len,
        seq: segment.seq,
        ack: segment.ack,
        payload: (at as u32, payload.len() as u32),
        bits,
        ports: (segment.src.port(), segment.dst.port()),
        addrs,
    }
}

/// Reads into `buf[from..]` until it is full or the file ends; returns the bytes now in
/// `buf` and whether the file ended.
fn fill(file: &mut File, buf: &mut [u8], from: usize) -> io::Result<(usize, bool)> {
    let mut filled = from;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => return Ok((filled, true)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((filled, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (tempdir::Dir, std::path::PathBuf) {
        let dir = tempdir::Dir::new();
        let path = dir.0.join("t.pcap");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        (dir, path)
    }

    /// A scratch directory removed on drop (the library has no tempfile dependency).
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path = std::env::temp_dir()
                    .join(format!("replayer-pcap-reader-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    /// Puts `words` in the file's byte order, each as many bytes as its type has.
    fn put(out: &mut Vec<u8>, big: bool, words: &[(u32, usize)]) {
        for &(w, size) in words {
            let b = if big {
                w.to_be_bytes()
            } else {
                w.to_le_bytes()
            };
            out.extend_from_slice(if big { &b[4 - size..] } else { &b[..size] });
        }
    }

    /// A file header: version 2.4, snap length 96, Ethernet.
    fn header(magic: u32, big: bool) -> Vec<u8> {
        let mut out = Vec::new();
        put(
            &mut out,
            big,
            &[(magic, 4), (2, 2), (4, 2), (0, 4), (0, 4), (96, 4), (1, 4)],
        );
        out
    }

    fn record(big: bool, sec: u32, frac: u32, data: &[u8], orig: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let len = data.len() as u32;
        put(&mut out, big, &[(sec, 4), (frac, 4), (len, 4), (orig, 4)]);
        out.extend_from_slice(data);
        out
    }

    fn open(path: &Path) -> Box<PcapReader> {
        match PcapReader::sniff(path).unwrap() {
            Sniffed::Classic(mut r) => {
                r.start(LinkType::Ethernet, None);
                r
            }
            Sniffed::Other { .. } => panic!("not taken as classic pcap"),
        }
    }

    impl PcapReader {
        fn next_record(&mut self) -> Result<Option<Record<'_>>, ReadError> {
            Ok(if self.advance()? {
                self.current()
            } else {
                None
            })
        }
    }

    /// An Ethernet frame with an IPv4 TCP segment from 10.0.0.1:1000 to 10.0.0.2:80.
    fn frame(seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1000, 80, seq, 1000)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    /// The payload of a record's segment.
    fn payload<'a>(record: &Record<'a>) -> &'a [u8] {
        record.segment.as_ref().expect("a TCP segment").payload
    }

    #[test]
    fn reads_both_byte_orders_and_resolutions_and_records_longer_than_the_snap_length() {
        for (magic, big, scale) in [
            (0xA1B2_C3D4u32, false, 1_000u64),
            (0xA1B2_C3D4, true, 1_000),
            (0xA1B2_3C4D, false, 1),
            (0xA1B2_3C4D, true, 1),
        ] {
            let mut bytes = header(magic, big);
            // A record cut by the snap length (orig 1500 > snaplen 96), then a whole one.
            let long = frame(1, &[0xAB; 1446]);
            assert_eq!(long.len(), 1500);
            bytes.extend(record(big, 10, 7, &long[..96], 1500));
            let short = frame(1447, b"xyz");
            bytes.extend(record(big, 11, 0, &short, short.len() as u32));
            let (_dir, path) = file_with(&bytes);
            let mut r = open(&path);
            assert_eq!(r.linktype(), 1);
            let first = r.next_record().unwrap().unwrap();
            assert_eq!(first.ts_ns, 10_000_000_000 + 7 * scale);
            assert_eq!(first.wire_len, 1500);
            assert_eq!(
                payload(&first),
                &[0xAB; 96 - 54][..],
                "what the snap length kept"
            );
            let second = r.next_record().unwrap().unwrap();
            assert_eq!((payload(&second), second.wire_len), (&b"xyz"[..], 57));
            assert_eq!(second.segment.as_ref().unwrap().seq, 1447);
            assert!(r.next_record().unwrap().is_none());
        }
    }

    #[test]
    fn records_across_many_reads_come_out_whole() {
        let mut bytes = header(0xA1B2_C3D4, false);
        // 3 MiB of records of varied sizes, so records straddle every read boundary.
        let mut want = Vec::new();
        let mut n = 0u32;
        while bytes.len() < 3 * BLOCK_BYTES {
            let len = (n * 7919) % 65_000;
            let data: Vec<u8> = (0..len).map(|i| (i ^ n) as u8).collect();
            let frame = frame(n, &data);
            bytes.extend(record(false, n, 0, &frame, frame.len() as u32));
            want.push(data);
            n += 1;
        }
        let (_dir, path) = file_with(&bytes);
        let mut r = open(&path);
        for (i, data) in want.iter().enumerate() {
            let got = r.next_record().unwrap().unwrap();
            assert_eq!(payload(&got), &data[..], "record {i}");
            assert_eq!(got.ts_ns, i as u64 * 1_000_000_000);
        }
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn damage_is_an_error_that_says_where() {
        let mut bytes = header(0xA1B2_C3D4, false);
        let whole = frame(1, b"whole");
        bytes.extend(record(false, 1, 0, &whole, whole.len() as u32));
        let at = bytes.len();
        bytes.extend(record(false, 2, 0, b"cut short", 9));
        let (_dir, path) = file_with(&bytes[..bytes.len() - 3]);
        let mut r = open(&path);
        assert_eq!(payload(&r.next_record().unwrap().unwrap()), b"whole");
        let err = r.next_record().err().unwrap().to_string();
        assert_eq!(
            err,
            format!(
                "truncated capture file: packet 2 is cut short at byte {at} \
                 (it needs 25 bytes, the file has 22 more)"
            )
        );

        let mut absurd = header(0xA1B2_C3D4, false);
        absurd.extend([0; 8]);
        absurd.extend(0xFFFF_FFF0u32.to_le_bytes());
        absurd.extend(0xFFFF_FFF0u32.to_le_bytes());
        let (_dir, path) = file_with(&absurd);
        let err = open(&path).next_record().err().unwrap().to_string();
        assert!(err.starts_with("damaged capture file: packet 1 at byte 24 claims 4294967280"));
    }

    #[test]
    fn other_files_are_left_to_libpcap() {
        for bytes in [
            &b""[..],
            b"short",
            &[0x0A, 0x0D, 0x0D, 0x0A, 0, 0, 0, 0][..],
        ] {
            let mut padded = bytes.to_vec();
            if bytes.len() == 8 {
                padded.resize(64, 0); // a pcapng section header's start
            }
            let (_dir, path) = file_with(&padded);
            assert!(matches!(
                PcapReader::sniff(&path).unwrap(),
                Sniffed::Other { .. }
            ));
        }
    }
}
