//! Capture files, classic pcap (what `tcpdump -w` writes) and pcapng (what Wireshark and
//! `dumpcap` write): read, split into packets and decoded on a thread of their own, ahead of
//! the capture thread.
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
//! pcapng costs libpcap the same: an `fread` for each block's header and one for the rest of
//! the block, each copying out of the stdio buffer. Read here instead, an `-output-null` run
//! on a pcapng took 0.79 of the time it took through libpcap (median of paired rounds; 0.91
//! on the same capture as classic pcap, which both binaries read here: the machine's noise),
//! in the CPU time of the classic pcap (docs/benchmarks.md, "pcapng: libpcap before, the fast
//! reader after"). What each format needs:
//!
//! - classic pcap: the file header (magic numbers, byte order, timestamp resolution, link
//!   type) is parsed by the `pcap-file` crate. Record headers are four numbers, read here:
//!   pcap-file refuses every record whose original length exceeds the snap length, which is
//!   exactly what a capture taken with `tcpdump -s 96` holds. Like libpcap, any captured
//!   length up to [`MAX_RECORD_BYTES`] is accepted and a larger one is damage.
//! - pcapng: blocks, walked here. pcap-file's pcapng reader parses every option of every
//!   block into owned values and checks each packet against the snap length, as above; the
//!   reader needs four kinds of block and two options. A Section Header Block sets the byte
//!   order (a new section may change it) and forgets the interfaces; each Interface
//!   Description Block gives its interface a link type, a timestamp resolution (`if_tsresol`,
//!   a power of 10 or of 2), an offset (`if_tsoffset`) and a snap length. Enhanced, Simple
//!   and obsolete Packet Blocks carry packets (a Simple one: interface 0, no time of its own,
//!   so the previous packet's); every other block is skipped by its length. Each link type
//!   gets its own decoder and filter: one file may hold Ethernet and cooked captures side by
//!   side, which libpcap refuses. A block may be as long as libpcap allows
//!   ([`MAX_NG_BLOCK`]); one longer than a read is read whole into a larger buffer.
//!
//! The first blocks of a pcapng, up to the first Interface Description Block, are read when
//! the file is opened (the link type is needed then); they are parsed again by the reader
//! thread, so a file and a stream are read alike. A pcapng whose beginning is damaged, and
//! the rarer pcap variants, stay with libpcap (see `capture`), which also says what is wrong
//! with them.
//!
//! Damage part-way (a record or block cut short, a length that cannot be) ends the reading
//! with an error that says where, after every packet before it has been handed over.
//!
//! The file is read front to back, never rewound nor measured: a pipe or FIFO (`tcpdump -w -
//! | replayer -input-raw -:80`) is read the same way.
//!
//! Long because the read-ahead thread, the two formats' splitting and damage checks share one
//! block format, and the unit tests (about a third of the lines) build byte-level files for each
//! case.

use crate::capture::decode::{Decoded, Decoder, LinkType, TcpFlags, TcpSegment};
use pcap_file::pcap::PcapHeader;
use pcap_file::{Endianness, TsResolution};
use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::ops::Range;
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
/// The longest pcapng block, as in libpcap (its `MAX_BLOCKSIZE`): longer is damage.
pub const MAX_NG_BLOCK: u32 = 16 << 20;
/// Size of a record header.
const RECORD_HEADER: usize = 16;
/// Size of the file header.
const FILE_HEADER: usize = 24;

/// The pcapng block types the reader acts on; it skips the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NgKind {
    /// Section Header Block (the same bytes in either byte order).
    Section = 0x0A0D_0D0A,
    /// Interface Description Block.
    Interface = 1,
    /// Obsolete Packet Block: 16-bit interface number and drop count.
    Packet = 2,
    /// Simple Packet Block: interface 0, no timestamp.
    Simple = 3,
    /// Enhanced Packet Block.
    Enhanced = 6,
}

impl NgKind {
    fn of(kind: u32) -> Option<NgKind> {
        [
            NgKind::Section,
            NgKind::Interface,
            NgKind::Packet,
            NgKind::Simple,
            NgKind::Enhanced,
        ]
        .into_iter()
        .find(|k| *k as u32 == kind)
    }
}

/// The first bytes of a pcapng file, its first Section Header Block's type.
const NG_SHB: u32 = NgKind::Section as u32;
/// A block's type and length before its body, its length again after it.
const NG_FRAME: usize = 12;

/// What kind of file a path holds.
pub enum Sniffed {
    /// A classic pcap or pcapng file this reader takes.
    Fast(Box<PcapReader>),
    /// Something else (a pcap variant, a pcapng damaged at its start, or not a capture at
    /// all): libpcap decides. The file as opened and the bytes already read from it, for a
    /// stream, which cannot be opened again nor rewound.
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
    /// `unit`: "packet" (classic pcap, counted from 1) or "block" (pcapng, the section
    /// header counted).
    #[error(
        "truncated capture file: {unit} {packet} is cut short at byte {offset} \
         (it needs {needed} bytes, the file has {left} more)"
    )]
    Truncated {
        unit: &'static str,
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
    #[error("damaged capture file: block {block} at byte {offset} {damage}")]
    Damaged {
        block: u64,
        offset: u64,
        damage: Damage,
    },
    /// The user's filter, checked for the first interface's link type, does not compile for
    /// a later interface's.
    #[error("invalid BPF filter {filter:?} for link type {linktype} (block {block}): {message}")]
    Filter {
        filter: String,
        linktype: u32,
        block: u64,
        message: String,
    },
}

/// What is wrong with a pcapng block.
#[derive(Debug, thiserror::Error)]
pub enum Damage {
    #[error("has a length of {0}, not a multiple of 4")]
    Unaligned(u32),
    #[error("has a length of {0}, less than the 12 bytes of its type and lengths")]
    TooShort(u32),
    #[error("claims {0} bytes (at most {MAX_NG_BLOCK} are possible)")]
    TooLong(u32),
    #[error("ends with the length {trail}, not the {lead} it starts with")]
    Mismatch { lead: u32, trail: u32 },
    #[error("has the byte-order magic {0:#010x}, not 0x1a2b3c4d in either order")]
    ByteOrder(u32),
    #[error("starts a section of pcapng version {0}.{1} (1.x is read)")]
    Version(u16, u16),
    #[error("of type {kind} is {len} bytes long, too short for its fields")]
    Short { kind: u32, len: u32 },
    #[error("is a packet of interface {0}, which no Interface Description Block of its section describes")]
    Interface(u32),
    #[error("claims {caplen} captured bytes, more than the {room} its block holds")]
    Overrun { caplen: u32, room: usize },
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

/// The file's format, as its start told.
enum Format {
    Classic(PcapHeader),
    /// pcapng: the first section's byte order and the first interface's link type.
    Ng {
        endianness: Endianness,
        linktype: u32,
    },
}

pub struct PcapReader {
    format: Format,
    /// Bytes read while sniffing that the reader thread parses again (pcapng's first blocks).
    head: Vec<u8>,
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
    /// Opens `path` if it is a classic pcap or pcapng file this reader takes.
    pub fn sniff(path: &Path) -> io::Result<Sniffed> {
        let mut file = File::open(path)?;
        let mut head = Vec::with_capacity(FILE_HEADER);
        if !read_to(&mut file, &mut head, FILE_HEADER)? {
            return Ok(Sniffed::Other { file, head });
        }
        let format = if head[..4] == NG_SHB.to_le_bytes() {
            match sniff_ng(&mut file, &mut head)? {
                Some((endianness, linktype)) => Format::Ng {
                    endianness,
                    linktype,
                },
                None => return Ok(Sniffed::Other { file, head }),
            }
        } else {
            match PcapHeader::from_slice(&head) {
                Ok((_, header)) => {
                    head.clear();
                    Format::Classic(header)
                }
                Err(_) => return Ok(Sniffed::Other { file, head }),
            }
        };
        Ok(Sniffed::Fast(Box::new(PcapReader {
            format,
            head,
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
    /// every type the decoder knows), without the FCS bits libpcap also strips; a pcapng's
    /// first interface's.
    pub fn linktype(&self) -> u32 {
        match &self.format {
            Format::Classic(header) => u32::from(header.datalink) & 0x03FF_FFFF,
            Format::Ng { linktype, .. } => *linktype,
        }
    }

    /// The data link type (`DLT_*`) libpcap compiles filters for, for a file's `LINKTYPE_*`:
    /// the same number for every type the decoder knows but raw IP, whose `LINKTYPE_RAW`
    /// (101) is `DLT_RAW`, 12 on Linux (libpcap's `linktype_to_dlt`); its compiler refuses 101.
    pub fn filter_dlt(linktype: u32) -> i32 {
        match linktype {
            101 => 12,
            other => other as i32,
        }
    }

    /// Sets the reader up to decode frames and keep those that `filter` (a BPF program,
    /// checked by the caller for [`PcapReader::linktype`]) lets through. Its thread starts at
    /// the first [`PcapReader::advance`], on the capture thread: the daemon opens its input
    /// while it still holds capabilities, and a thread started then would keep them
    /// (capabilities are per thread, see `privileges`).
    pub fn start(&mut self, filter: Option<String>) {
        let Some(file) = self.file.take() else {
            return;
        };
        let (blocks_tx, blocks) = sync_channel(BLOCKS_AHEAD);
        let (spare, spare_rx) = sync_channel(BLOCKS_AHEAD + 1);
        let links = Links {
            filter,
            seen: Vec::new(),
        };
        let framing = match &self.format {
            Format::Classic(header) => Framing::Classic {
                endianness: header.endianness,
                ts_resolution: header.ts_resolution,
                linktype: self.linktype(),
                link: 0,
            },
            Format::Ng { endianness, .. } => Framing::Ng(Ng {
                endianness: *endianness,
                interfaces: Vec::new(),
                last_ts_ns: 0,
            }),
        };
        self.pending = Some(ReadAhead {
            file,
            head: std::mem::take(&mut self.head),
            offset: if matches!(self.format, Format::Classic(_)) {
                FILE_HEADER as u64
            } else {
                0
            },
            framing,
            links,
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
    let word = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
    match endianness {
        Endianness::Little => u32::from_le_bytes(word),
        Endianness::Big => u32::from_be_bytes(word),
    }
}

fn read_u16(bytes: &[u8], at: usize, endianness: Endianness) -> u16 {
    let word = [bytes[at], bytes[at + 1]];
    match endianness {
        Endianness::Little => u16::from_le_bytes(word),
        Endianness::Big => u16::from_be_bytes(word),
    }
}

/// Reads from `file` onto the end of `head` until it holds `len` bytes; `false` if the file
/// ends first.
fn read_to(file: &mut File, head: &mut Vec<u8>, len: usize) -> io::Result<bool> {
    let want = len.saturating_sub(head.len()) as u64;
    file.take(want).read_to_end(head)?;
    Ok(head.len() >= len)
}

/// The byte order a pcapng section's byte-order magic (4 bytes at `at`) gives.
fn ng_byte_order(bytes: &[u8], at: usize) -> Result<Endianness, Damage> {
    match read_u32(bytes, at, Endianness::Little) {
        0x1A2B_3C4D => Ok(Endianness::Little),
        0x4D3C_2B1A => Ok(Endianness::Big),
        other => Err(Damage::ByteOrder(other)),
    }
}

/// A pcapng block's length, checked against what any block must be.
fn ng_length(bytes: &[u8], at: usize, endianness: Endianness) -> Result<u32, Damage> {
    let len = read_u32(bytes, at + 4, endianness);
    if !len.is_multiple_of(4) {
        Err(Damage::Unaligned(len))
    } else if (len as usize) < NG_FRAME {
        Err(Damage::TooShort(len))
    } else if len > MAX_NG_BLOCK {
        Err(Damage::TooLong(len))
    } else {
        Ok(len)
    }
}

/// Reads a pcapng's blocks onto `head` (which holds its first bytes) up to the link type of
/// its first interface: the byte order of that interface's section and its link type.
/// `None` when they are not there to read (damage, or no interface): libpcap says why.
fn sniff_ng(file: &mut File, head: &mut Vec<u8>) -> io::Result<Option<(Endianness, u32)>> {
    let mut endianness = None;
    let mut at = 0;
    loop {
        // A block's type, length and 4 bytes more: a section's byte order, an interface's
        // link type.
        if !read_to(file, head, at + NG_FRAME)? {
            return Ok(None);
        }
        if head[at..at + 4] == NG_SHB.to_le_bytes() {
            endianness = ng_byte_order(head, at + 8).ok();
        }
        let Some(order) = endianness else {
            return Ok(None);
        };
        let Ok(len) = ng_length(head, at, order) else {
            return Ok(None);
        };
        match NgKind::of(read_u32(head, at, order)) {
            Some(NgKind::Interface) => {
                return Ok(Some((order, u32::from(read_u16(head, at + 8, order)))))
            }
            Some(NgKind::Packet | NgKind::Simple | NgKind::Enhanced) => return Ok(None),
            Some(NgKind::Section) | None => {}
        }
        at += len as usize;
        if at > MAX_NG_BLOCK as usize {
            return Ok(None);
        }
    }
}

/// A decoder and the compiled filter for each link type met, in the order met.
struct Links {
    filter: Option<String>,
    seen: Vec<Link>,
}

struct Link {
    linktype: u32,
    /// `None` for a link type the decoder does not know: its packets are only counted.
    decoder: Option<Decoder>,
    program: Option<pcap::BpfProgram>,
}

impl Links {
    /// The place of `linktype` in `seen`, added (decoder made, filter compiled) if new.
    /// `block`: where it was met, for the error.
    fn index(&mut self, linktype: u32, block: u64) -> Result<usize, ReadError> {
        if let Some(i) = self.seen.iter().position(|l| l.linktype == linktype) {
            return Ok(i);
        }
        // libpcap's compiled programs stay on the thread that runs them: compiled here.
        let program = match &self.filter {
            None => None,
            Some(filter) => Some(
                pcap::Capture::dead(pcap::Linktype(PcapReader::filter_dlt(linktype)))
                    .and_then(|dead| dead.compile(filter, true))
                    .map_err(|e| ReadError::Filter {
                        filter: filter.clone(),
                        linktype,
                        block,
                        message: e.to_string(),
                    })?,
            ),
        };
        self.seen.push(Link {
            linktype,
            decoder: LinkType::from_dlt(linktype as i32).map(Decoder::new),
            program,
        });
        Ok(self.seen.len() - 1)
    }
}

/// How the file is cut into packets.
enum Framing {
    Classic {
        endianness: Endianness,
        ts_resolution: TsResolution,
        linktype: u32,
        /// `linktype`'s place in [`Links::seen`].
        link: usize,
    },
    Ng(Ng),
}

/// Where a pcapng is: its section's byte order and interfaces.
struct Ng {
    endianness: Endianness,
    interfaces: Vec<Interface>,
    /// The time of the last packet, for Simple Packet Blocks, which have none.
    last_ts_ns: u64,
}

/// What an Interface Description Block says about its packets.
struct Interface {
    /// Its link type's place in [`Links::seen`].
    link: usize,
    /// Timestamp units per second (`if_tsresol`): 10^6 unless it says otherwise.
    per_second: u128,
    /// Seconds to add to every timestamp (`if_tsoffset`).
    offset_s: i64,
    /// 0: none.
    snaplen: u32,
}

impl Interface {
    /// The time of a packet of this interface, in nanoseconds since the epoch.
    fn ts_ns(&self, units: u64) -> u64 {
        const NS: u128 = 1_000_000_000;
        let ns = if NS.is_multiple_of(self.per_second) {
            // Micro- and nanoseconds: a multiplication.
            u128::from(units) * (NS / self.per_second)
        } else {
            u128::from(units) * NS / self.per_second
        };
        let offset = i128::from(self.offset_s) * NS as i128;
        u64::try_from((ns as i128 + offset).max(0)).unwrap_or(u64::MAX)
    }
}

/// One step through the bytes of a block.
enum Step {
    /// A packet: its time, length on the wire, frame (in the block) and link type's place
    /// in [`Links::seen`]; the next step starts at `end`.
    Packet {
        end: usize,
        ts_ns: u64,
        wire_len: u32,
        frame: Range<usize>,
        link: usize,
    },
    /// A record or block with no packet in it.
    Skip {
        end: usize,
    },
    /// The next record or block is not all there: it needs `needed` bytes.
    Partial {
        needed: usize,
    },
    Damage(ReadError),
}

impl Framing {
    /// What records and blocks are counted as, in errors.
    fn unit(&self) -> &'static str {
        match self {
            Framing::Classic { .. } => "packet",
            Framing::Ng(_) => "block",
        }
    }

    /// The record or block at `pos` of `bytes`, which lies at `offset` in the file and is
    /// the file's `number`th.
    fn step(
        &mut self,
        bytes: &[u8],
        (pos, offset, number): (usize, u64, u64),
        links: &mut Links,
    ) -> Step {
        match self {
            Framing::Classic {
                endianness,
                ts_resolution,
                link,
                ..
            } => {
                if pos + RECORD_HEADER > bytes.len() {
                    return Step::Partial {
                        needed: RECORD_HEADER,
                    };
                }
                let word = |i: usize| read_u32(bytes, pos + i * 4, *endianness);
                let len = word(2);
                if len > MAX_RECORD_BYTES {
                    return Step::Damage(ReadError::AbsurdLength {
                        packet: number,
                        offset,
                        len,
                    });
                }
                let from = pos + RECORD_HEADER;
                let end = from + len as usize;
                if end > bytes.len() {
                    return Step::Partial {
                        needed: RECORD_HEADER + len as usize,
                    };
                }
                let frac = u64::from(word(1));
                let ts_ns = u64::from(word(0)) * 1_000_000_000
                    + match ts_resolution {
                        TsResolution::MicroSecond => frac * 1_000,
                        TsResolution::NanoSecond => frac,
                    };
                Step::Packet {
                    end,
                    ts_ns,
                    wire_len: word(3),
                    frame: from..end,
                    link: *link,
                }
            }
            Framing::Ng(ng) => match ng.step(bytes, pos, number, links) {
                Ok(step) => step,
                Err(NgError::Damage(damage)) => Step::Damage(ReadError::Damaged {
                    block: number,
                    offset,
                    damage,
                }),
                Err(NgError::Read(e)) => Step::Damage(e),
            },
        }
    }
}

/// Why a pcapng block ends the reading.
enum NgError {
    Damage(Damage),
    Read(ReadError),
}

impl From<Damage> for NgError {
    fn from(damage: Damage) -> NgError {
        NgError::Damage(damage)
    }
}

impl Ng {
    /// The block at `pos` of `bytes`, the file's `number`th.
    fn step(
        &mut self,
        bytes: &[u8],
        pos: usize,
        number: u64,
        links: &mut Links,
    ) -> Result<Step, NgError> {
        if pos + NG_FRAME > bytes.len() {
            return Ok(Step::Partial { needed: NG_FRAME });
        }
        let is_section = bytes[pos..pos + 4] == NG_SHB.to_le_bytes();
        // A section says its byte order itself, its length included.
        let order = if is_section {
            ng_byte_order(bytes, pos + 8)?
        } else {
            self.endianness
        };
        let len = ng_length(bytes, pos, order)?;
        let end = pos + len as usize;
        if end > bytes.len() {
            return Ok(Step::Partial {
                needed: len as usize,
            });
        }
        let trail = read_u32(bytes, end - 4, order);
        if trail != len {
            return Err(Damage::Mismatch { lead: len, trail }.into());
        }
        let kind = if is_section {
            NG_SHB
        } else {
            read_u32(bytes, pos, order)
        };
        // The body's fields, after the type and length.
        let body = pos + 8..end - 4;
        let body_len = body.len();
        let fields = |needed: usize| {
            if body_len < needed {
                Err(Damage::Short { kind, len })
            } else {
                Ok(())
            }
        };
        let u32_at = |i: usize| read_u32(bytes, body.start + i, order);
        let (interface, units, caplen, wire_len, data_at) = match NgKind::of(kind) {
            Some(NgKind::Section) => {
                // Byte-order magic, major and minor version, section length.
                fields(16)?;
                let (major, minor) = (
                    read_u16(bytes, body.start + 4, order),
                    read_u16(bytes, body.start + 6, order),
                );
                if major != 1 {
                    return Err(Damage::Version(major, minor).into());
                }
                self.endianness = order;
                self.interfaces.clear();
                return Ok(Step::Skip { end });
            }
            Some(NgKind::Interface) => {
                // Link type, reserved, snap length, then options.
                fields(8)?;
                let linktype = u32::from(read_u16(bytes, body.start, order));
                let link = links.index(linktype, number).map_err(NgError::Read)?;
                let mut interface = Interface {
                    link,
                    per_second: 1_000_000,
                    offset_s: 0,
                    snaplen: u32_at(4),
                };
                self.options(&bytes[body.start + 8..body.end], &mut interface);
                self.interfaces.push(interface);
                return Ok(Step::Skip { end });
            }
            Some(NgKind::Enhanced) => {
                // Interface, timestamp (high, low), captured and original lengths.
                fields(20)?;
                let units = (u64::from(u32_at(4)) << 32) | u64::from(u32_at(8));
                (u32_at(0), Some(units), u32_at(12), u32_at(16), 20)
            }
            Some(NgKind::Packet) => {
                // Interface and drop count (16 bits each), then as in an Enhanced block.
                fields(20)?;
                let units = (u64::from(u32_at(4)) << 32) | u64::from(u32_at(8));
                let interface = read_u16(bytes, body.start, order);
                (
                    u32::from(interface),
                    Some(units),
                    u32_at(12),
                    u32_at(16),
                    20,
                )
            }
            Some(NgKind::Simple) => {
                // The original length; the data fills the rest, padding included, so the
                // captured length is the least of what is there, the original length and
                // the interface's snap length.
                fields(4)?;
                let wire_len = u32_at(0);
                let snaplen = match self.interfaces.first() {
                    Some(first) if first.snaplen != 0 => first.snaplen,
                    _ => u32::MAX,
                };
                let room = u32::try_from(body_len - 4).unwrap_or(u32::MAX);
                (0, None, room.min(wire_len).min(snaplen), wire_len, 4)
            }
            None => return Ok(Step::Skip { end }),
        };
        let Some(described) = self.interfaces.get(interface as usize) else {
            return Err(Damage::Interface(interface).into());
        };
        let room = body_len - data_at;
        if caplen as usize > room {
            return Err(Damage::Overrun { caplen, room }.into());
        }
        let ts_ns = match units {
            Some(units) => described.ts_ns(units),
            None => self.last_ts_ns,
        };
        self.last_ts_ns = ts_ns;
        let from = body.start + data_at;
        Ok(Step::Packet {
            end,
            ts_ns,
            wire_len,
            frame: from..from + caplen as usize,
            link: described.link,
        })
    }

    /// Reads the options of an interface that matter here. Options running past their
    /// block end the list, as the end-of-options code does: the interface keeps its
    /// defaults.
    fn options(&self, mut options: &[u8], interface: &mut Interface) {
        const END: u16 = 0;
        const TSRESOL: u16 = 9;
        const TSOFFSET: u16 = 14;
        while options.len() >= 4 {
            let code = read_u16(options, 0, self.endianness);
            let len = usize::from(read_u16(options, 2, self.endianness));
            let Some(value) = options.get(4..4 + len) else {
                return;
            };
            match (code, value) {
                (END, _) => return,
                (TSRESOL, &[v]) => {
                    // The high bit set: a negative power of 2, otherwise of 10. A power too
                    // large for u128 is far below a nanosecond: every time is then 0.
                    interface.per_second = if v & 0x80 != 0 {
                        1u128 << (v & 0x7F)
                    } else {
                        10u128.checked_pow(u32::from(v)).unwrap_or(u128::MAX)
                    };
                }
                (TSOFFSET, &[a, b, c, d, e, f, g, h]) => {
                    let word = [a, b, c, d, e, f, g, h];
                    interface.offset_s = match self.endianness {
                        Endianness::Little => i64::from_le_bytes(word),
                        Endianness::Big => i64::from_be_bytes(word),
                    };
                }
                _ => {}
            }
            options = options
                .get(4 + len.next_multiple_of(4)..)
                .unwrap_or_default();
        }
    }
}

/// The reader thread's side.
struct ReadAhead {
    file: File,
    /// Bytes read before the thread started, to be parsed first.
    head: Vec<u8>,
    /// Where `head` lies in the file.
    offset: u64,
    framing: Framing,
    links: Links,
    blocks: SyncSender<Result<Block, ReadError>>,
    spare: Receiver<Block>,
}

impl ReadAhead {
    /// Reads blocks until the end of the file, damage, or the capture side hanging up.
    fn run(mut self) {
        if let Framing::Classic { linktype, link, .. } = &mut self.framing {
            match self.links.index(*linktype, 1) {
                Ok(i) => *link = i,
                Err(e) => {
                    let _ = self.blocks.send(Err(e));
                    return;
                }
            }
        }
        // A record cut by the end of the last block, carried to the front of the next.
        let mut carry: Vec<u8> = std::mem::take(&mut self.head);
        // The bytes the carried record needs in all (a pcapng block may need more than a
        // read holds).
        let mut needed = 0;
        // File offset and number (from 1) of the first record of the block being read.
        let mut offset = self.offset;
        let mut number = 1u64;
        loop {
            let mut block = self.spare.try_recv().unwrap_or_default();
            block.items.clear();
            block.side.clear();
            block.v6.clear();
            let buf = &mut block.buf;
            buf.resize(BLOCK_BYTES.max(needed).max(carry.len()), 0);
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
            needed = 0;
            while pos < filled {
                let at = (pos, offset + pos as u64, number);
                match self.framing.step(&block.buf[..filled], at, &mut self.links) {
                    Step::Packet {
                        end,
                        ts_ns,
                        wire_len,
                        frame,
                        link,
                    } => {
                        let link = &mut self.links.seen[link];
                        let from = frame.start;
                        let frame = &block.buf[frame];
                        if link.program.as_ref().is_none_or(|p| p.filter(frame)) {
                            let decoded = match &mut link.decoder {
                                Some(decoder) => decoder.decode(frame, ts_ns),
                                None => Decoded::Other,
                            };
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
                    }
                    Step::Skip { end } => pos = end,
                    Step::Partial { needed: want } => {
                        if eof {
                            damage = Some(ReadError::Truncated {
                                unit: self.framing.unit(),
                                packet: number,
                                offset: offset + pos as u64,
                                needed: want,
                                left: filled - pos,
                            });
                        }
                        needed = want;
                        break;
                    }
                    Step::Damage(e) => {
                        damage = Some(e);
                        break;
                    }
                }
                number += 1;
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
        open_with(path, None)
    }

    /// The reader of `path`, started with `filter`.
    fn open_with(path: &Path, filter: Option<&str>) -> Box<PcapReader> {
        match PcapReader::sniff(path).unwrap() {
            Sniffed::Fast(mut r) => {
                r.start(filter.map(str::to_owned));
                r
            }
            Sniffed::Other { .. } => panic!("not taken by the fast reader"),
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

    /// A pcapng block: `kind`, then `body` padded to 4 bytes, framed by its length.
    fn ng_block(big: bool, kind: u32, body: &[u8]) -> Vec<u8> {
        let mut padded = body.to_vec();
        padded.resize(body.len().next_multiple_of(4), 0);
        let len = (padded.len() + NG_FRAME) as u32;
        let mut out = Vec::new();
        put(&mut out, big, &[(kind, 4), (len, 4)]);
        out.extend(padded);
        put(&mut out, big, &[(len, 4)]);
        out
    }

    /// A Section Header Block, version 1.0, section length unknown.
    fn shb(big: bool) -> Vec<u8> {
        let mut body = Vec::new();
        put(
            &mut body,
            big,
            &[
                (0x1A2B_3C4D, 4),
                (1, 2),
                (0, 2),
                (u32::MAX, 4),
                (u32::MAX, 4),
            ],
        );
        ng_block(big, NG_SHB, &body)
    }

    /// An Interface Description Block, snap length 0 (none), with an `if_tsresol` option
    /// when `tsresol` is given.
    fn idb(big: bool, linktype: u32, tsresol: Option<u8>) -> Vec<u8> {
        let mut body = Vec::new();
        put(&mut body, big, &[(linktype, 2), (0, 2), (0, 4)]);
        if let Some(v) = tsresol {
            put(&mut body, big, &[(9, 2), (1, 2)]);
            body.extend([v, 0, 0, 0]);
            put(&mut body, big, &[(0, 2), (0, 2)]);
        }
        ng_block(big, NgKind::Interface as u32, &body)
    }

    /// An Enhanced Packet Block (or an obsolete Packet Block, with `kind` 2) on `interface`
    /// at `units` of its timestamp resolution.
    fn epb(big: bool, kind: NgKind, interface: u32, units: u64, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        let len = data.len() as u32;
        let (hi, lo) = ((units >> 32) as u32, units as u32);
        let interface = if kind == NgKind::Packet {
            [(interface, 2), (0, 2)]
        } else {
            [(interface, 4), (0, 0)]
        };
        put(&mut body, big, &interface);
        put(&mut body, big, &[(hi, 4), (lo, 4), (len, 4), (len + 4, 4)]);
        body.extend_from_slice(data);
        ng_block(big, kind as u32, &body)
    }

    /// A Simple Packet Block.
    fn spb(big: bool, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        put(&mut body, big, &[(data.len() as u32, 4)]);
        body.extend_from_slice(data);
        ng_block(big, NgKind::Simple as u32, &body)
    }

    /// A record as (time, wire length, payload).
    type Got = (u64, u32, Vec<u8>);

    /// Every record `r` reads, then how the reading ended.
    fn read_all(mut r: Box<PcapReader>) -> (Vec<Got>, Option<String>) {
        let mut got = Vec::new();
        loop {
            match r.next_record() {
                Ok(Some(record)) => got.push((
                    record.ts_ns,
                    record.wire_len,
                    record
                        .segment
                        .map(|s| s.payload.to_vec())
                        .unwrap_or_default(),
                )),
                Ok(None) => return (got, None),
                Err(e) => return (got, Some(e.to_string())),
            }
        }
    }

    /// The link type of a file of `bytes` and its records, read to its end without error.
    fn read_whole(bytes: &[u8]) -> (u32, Vec<Got>) {
        let (_dir, path) = file_with(bytes);
        let (got, end) = read_all(open(&path));
        assert_eq!(end, None);
        (open(&path).linktype(), got)
    }

    #[test]
    fn pcapng_blocks_of_every_kind_in_both_byte_orders() {
        for big in [false, true] {
            let mut bytes = shb(big);
            // A Name Resolution Block before the interface, skipped (also by the sniffing).
            bytes.extend(ng_block(big, 4, b"names"));
            bytes.extend(idb(big, 1, None));
            bytes.extend(epb(big, NgKind::Enhanced, 0, 10_000_007, &frame(1, b"one")));
            bytes.extend(spb(big, &frame(4, b"two!")));
            // An Interface Statistics Block and a custom block: skipped.
            bytes.extend(ng_block(big, 5, &[7; 20]));
            bytes.extend(ng_block(big, 0x0000_0BAD, &[9; 3]));
            bytes.extend(epb(big, NgKind::Packet, 0, 12_000_000, &frame(8, b"three")));
            assert_eq!(
                read_whole(&bytes),
                (
                    1,
                    vec![
                        (10_000_007_000, 61, b"one".to_vec()),
                        // A Simple Packet Block has no time: the previous packet's.
                        (10_000_007_000, 58, b"two!".to_vec()),
                        (12_000_000_000, 63, b"three".to_vec()),
                    ]
                ),
                "big-endian {big}"
            );
        }
    }

    #[test]
    fn a_new_pcapng_section_may_change_byte_order_and_forgets_interfaces() {
        // Section 1, little-endian, Ethernet in nanoseconds; section 2, big-endian, raw IP
        // in microseconds (the default): its interface 0 is the raw one.
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, Some(9)));
        bytes.extend(epb(
            false,
            NgKind::Enhanced,
            0,
            1_700_000_000_123_456_789,
            &frame(1, b"eth"),
        ));
        bytes.extend(shb(true));
        bytes.extend(idb(true, 101, None));
        bytes.extend(epb(
            true,
            NgKind::Enhanced,
            0,
            5_000_001,
            &frame(2, b"raw")[14..],
        ));
        let at = bytes.len();
        bytes.extend(epb(
            true,
            NgKind::Enhanced,
            1,
            6_000_000,
            &frame(3, b"gone"),
        ));
        let (_dir, path) = file_with(&bytes);
        let (got, end) = read_all(open(&path));
        assert_eq!(
            got,
            [
                (1_700_000_000_123_456_789, 61, b"eth".to_vec()),
                (5_000_001_000, 47, b"raw".to_vec()),
            ]
        );
        assert_eq!(
            end.as_deref(),
            Some(&*format!(
                "damaged capture file: block 7 at byte {at} is a packet of interface 1, which \
                 no Interface Description Block of its section describes"
            ))
        );
    }

    #[test]
    fn pcapng_interfaces_of_different_link_types_decode_each_with_its_own() {
        // Ethernet, and Linux cooked v2 with times in 2^-10 s.
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, None));
        bytes.extend(idb(false, 276, Some(0x80 | 10)));
        let eth = frame(1, b"on eth");
        let sll2 = [&[8u8, 0][..], &[0; 18], &frame(7, b"cooked")[14..]].concat();
        bytes.extend(epb(false, NgKind::Enhanced, 1, 5 * 1024 + 512, &sll2));
        bytes.extend(epb(false, NgKind::Enhanced, 0, 6_000_000, &eth));
        bytes.extend(epb(false, NgKind::Enhanced, 1, 7 * 1024, &sll2));
        let cooked = |ts_ns| (ts_ns, 70, b"cooked".to_vec());
        let want = [
            cooked(5_500_000_000),
            (6_000_000_000, 64, b"on eth".to_vec()),
            cooked(7_000_000_000),
        ];
        // The link type the file reports is the first interface's.
        assert_eq!(read_whole(&bytes), (1, want.to_vec()));
    }

    #[test]
    fn pcapng_damage_is_an_error_that_says_where_after_the_packets_before_it() {
        let mut start = shb(false);
        start.extend(idb(false, 1, None));
        start.extend(epb(
            false,
            NgKind::Enhanced,
            0,
            1_000_000,
            &frame(1, b"whole"),
        ));
        let at = start.len();
        let next = epb(false, NgKind::Enhanced, 0, 2_000_000, &frame(6, b"next"));
        let with_length = |len: u32| {
            let mut bytes = start.clone();
            bytes.extend(&next[..4]);
            bytes.extend(len.to_le_bytes());
            bytes.extend(&next[8..]);
            bytes
        };
        let mut mismatch = start.clone();
        mismatch.extend(&next[..next.len() - 4]);
        mismatch.extend(4u32.to_le_bytes());
        let cut = [start.clone(), next[..next.len() - 5].to_vec()].concat();
        let header_cut = [start.clone(), next[..6].to_vec()].concat();
        let len = next.len();
        for (bytes, why) in [
            (with_length(70), "damaged capture file: block 4 at byte {at} has a length of 70, not a multiple of 4".to_owned()),
            (with_length(8), "damaged capture file: block 4 at byte {at} has a length of 8, less than the 12 bytes of its type and lengths".to_owned()),
            (with_length(MAX_NG_BLOCK + 4), format!("damaged capture file: block 4 at byte {{at}} claims {} bytes (at most 16777216 are possible)", MAX_NG_BLOCK + 4)),
            (mismatch, format!("damaged capture file: block 4 at byte {{at}} ends with the length 4, not the {len} it starts with")),
            (cut, format!("truncated capture file: block 4 is cut short at byte {{at}} (it needs {len} bytes, the file has {} more)", len - 5)),
            (header_cut, "truncated capture file: block 4 is cut short at byte {at} (it needs 12 bytes, the file has 6 more)".to_owned()),
        ] {
            let (_dir, path) = file_with(&bytes);
            let (got, end) = read_all(open(&path));
            assert_eq!(got, [(1_000_000_000, 63, b"whole".to_vec())], "{why}");
            assert_eq!(end, Some(why.replace("{at}", &at.to_string())));
        }
    }

    #[test]
    fn a_pcapng_filter_runs_per_link_type_and_one_that_cannot_compile_for_one_says_so() {
        // Ethernet and raw IP: "tcp port 80" compiles for both and keeps the same segment
        // from each; "vlan" compiles for Ethernet only.
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, None));
        bytes.extend(epb(false, NgKind::Enhanced, 0, 1, &frame(1, b"eth")));
        let at = bytes.len();
        bytes.extend(idb(false, 101, None));
        bytes.extend(epb(false, NgKind::Enhanced, 1, 2, &frame(4, b"raw")[14..]));
        let (_dir, path) = file_with(&bytes);
        let read = |filter: &str| {
            let (got, end) = read_all(open_with(&path, Some(filter)));
            let payloads: Vec<Vec<u8>> = got.into_iter().map(|(_, _, p)| p).collect();
            (payloads, end)
        };
        assert_eq!(
            read("tcp port 80"),
            (vec![b"eth".to_vec(), b"raw".to_vec()], None)
        );
        assert_eq!(read("tcp port 81"), (vec![], None));
        let (got, end) = read("vlan");
        assert_eq!(
            got,
            Vec::<Vec<u8>>::new(),
            "no VLAN tag on the Ethernet frame"
        );
        let end = end.expect("an error for the raw interface");
        assert!(
            end.starts_with("invalid BPF filter \"vlan\" for link type 101 (block 4): "),
            "{end} (the block at {at})"
        );
    }

    #[test]
    fn a_pcapng_block_longer_than_a_read_is_read_whole() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, None));
        bytes.extend(epb(false, NgKind::Enhanced, 0, 1, &frame(1, b"before")));
        bytes.extend(ng_block(false, 0x0000_0BAD, &vec![3; 3 * BLOCK_BYTES]));
        bytes.extend(epb(false, NgKind::Enhanced, 0, 2, &frame(7, b"after")));
        let payloads: Vec<_> = read_whole(&bytes)
            .1
            .into_iter()
            .map(|(_, _, p)| p)
            .collect();
        assert_eq!(payloads, [b"before".to_vec(), b"after".to_vec()]);
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
