//! Classic pcap files (what `tcpdump -w` writes), read in large blocks and parsed in place.
//!
//! libpcap reads a file through stdio: two `fread` calls per packet, each copying out of a
//! 4 KiB stdio buffer, so a 500 MB capture costs 120,000 `read` system calls and two copies of
//! every byte before the pipeline sees it. That was half the time of an `-output-null` run
//! (docs/benchmarks.md, "Capture pipeline"). Here the file is read 1 MiB at a time into one
//! buffer and each packet is handed over as a slice of it: one copy (the kernel's), 500 reads.
//!
//! The format itself comes from the `pcap-file` crate (the file header's magic numbers, byte
//! order and timestamp resolution; the 16-byte record header). The checks on a record's
//! lengths are ours, because pcap-file's refuse every record whose original length exceeds
//! the snap length, which is exactly what a capture taken with `tcpdump -s 96` holds; like
//! libpcap, we accept any captured length up to [`MAX_RECORD_BYTES`] and call larger ones damage.
//!
//! pcapng and the rarer pcap variants stay with libpcap (see `capture`).

use byteorder_slice::{BigEndian, LittleEndian};
use pcap_file::pcap::{PcapHeader, RawPcapPacket};
use pcap_file::{Endianness, PcapError, TsResolution};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Bytes asked of the kernel per read.
const READ_BYTES: usize = 1 << 20;
/// The largest captured length a record may claim, as in libpcap (its `MAXIMUM_SNAPLEN`):
/// anything larger is a damaged file, not a packet.
pub const MAX_RECORD_BYTES: u32 = 262_144;
/// Size of a record header.
const RECORD_HEADER: usize = 16;
/// Size of the file header.
const FILE_HEADER: usize = 24;

/// The start of a classic pcap file, or why a file is not one.
pub enum Sniffed {
    /// A classic pcap file this reader takes.
    Classic(PcapReader),
    /// Something else (pcapng, a pcap variant, or not a capture at all): libpcap decides.
    Other,
}

/// One record, borrowed from the reader's buffer until the next call.
pub struct Record<'a> {
    pub ts_ns: u64,
    pub data: &'a [u8],
    pub wire_len: u32,
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

pub struct PcapReader {
    file: File,
    header: PcapHeader,
    /// Bytes read but not consumed are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[0]`, for messages.
    buf_offset: u64,
    eof: bool,
    /// Records handed over so far (the next one's number, counting from 1, minus one).
    packets: u64,
    /// The record [`PcapReader::advance`] last stepped onto: its bytes are `buf[data]`.
    current: Option<Current>,
}

#[derive(Clone)]
struct Current {
    ts_ns: u64,
    data: std::ops::Range<usize>,
    wire_len: u32,
}

impl PcapReader {
    /// Opens `path` if it is a classic pcap file.
    pub fn sniff(path: &Path) -> io::Result<Sniffed> {
        let mut file = File::open(path)?;
        let mut head = [0u8; FILE_HEADER];
        let mut got = 0;
        while got < FILE_HEADER {
            match file.read(&mut head[got..])? {
                0 => return Ok(Sniffed::Other),
                n => got += n,
            }
        }
        let header = match PcapHeader::from_slice(&head) {
            Ok((_, header)) => header,
            Err(_) => return Ok(Sniffed::Other),
        };
        Ok(Sniffed::Classic(PcapReader {
            file,
            header,
            buf: vec![0; READ_BYTES],
            start: 0,
            end: 0,
            buf_offset: FILE_HEADER as u64,
            eof: false,
            packets: 0,
            current: None,
        }))
    }

    /// The file's link type (`LINKTYPE_*`, which libpcap maps to the same `DLT_*` numbers for
    /// every type the decoder knows), without the FCS bits libpcap also strips.
    pub fn linktype(&self) -> u32 {
        u32::from(self.header.datalink) & 0x03FF_FFFF
    }

    /// The next record, or `None` at the end of the file.
    #[cfg(test)]
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, ReadError> {
        Ok(if self.advance()? {
            self.current()
        } else {
            None
        })
    }

    /// The record the last [`PcapReader::advance`] stepped onto, if any.
    pub fn current(&self) -> Option<Record<'_>> {
        self.current.as_ref().map(|c| Record {
            ts_ns: c.ts_ns,
            data: &self.buf[c.data.clone()],
            wire_len: c.wire_len,
        })
    }

    /// Steps onto the next record; `false` at the end of the file. (Two steps, `advance`
    /// then `current`, so a caller can skip records in a loop and keep the one it wants.)
    pub fn advance(&mut self) -> Result<bool, ReadError> {
        self.current = None;
        loop {
            let available = &self.buf[self.start..self.end];
            let parsed = match self.header.endianness {
                Endianness::Little => RawPcapPacket::from_slice::<LittleEndian>(available),
                Endianness::Big => RawPcapPacket::from_slice::<BigEndian>(available),
            };
            match parsed {
                Ok((_, raw)) => {
                    // `raw.data` borrows `self.buf`; take the numbers and re-slice below.
                    let len = raw.incl_len;
                    if len > MAX_RECORD_BYTES {
                        return Err(self.absurd(len));
                    }
                    let frac = u64::from(raw.ts_frac);
                    let ts_ns = u64::from(raw.ts_sec) * 1_000_000_000
                        + match self.header.ts_resolution {
                            TsResolution::MicroSecond => frac * 1_000,
                            TsResolution::NanoSecond => frac,
                        };
                    let wire_len = raw.orig_len;
                    let from = self.start + RECORD_HEADER;
                    let to = from + len as usize;
                    self.start = to;
                    self.packets += 1;
                    self.current = Some(Current {
                        ts_ns,
                        data: from..to,
                        wire_len,
                    });
                    return Ok(true);
                }
                Err(PcapError::IncompleteBuffer) => {
                    // A record's length is checked before its bytes are waited for, so a
                    // damaged length never makes the buffer grow.
                    if available.len() >= RECORD_HEADER {
                        let len = self.claimed_len();
                        if len > MAX_RECORD_BYTES {
                            return Err(self.absurd(len));
                        }
                    }
                    if self.eof {
                        return self.ended().map(|()| false);
                    }
                    self.refill()?;
                }
                Err(e) => return Err(ReadError::Io(io::Error::other(e.to_string()))),
            }
        }
    }

    /// The captured length the record header at `start` claims.
    fn claimed_len(&self) -> u32 {
        let bytes: [u8; 4] = self.buf[self.start + 8..self.start + 12]
            .try_into()
            .expect("4 bytes");
        match self.header.endianness {
            Endianness::Little => u32::from_le_bytes(bytes),
            Endianness::Big => u32::from_be_bytes(bytes),
        }
    }

    fn absurd(&self, len: u32) -> ReadError {
        ReadError::AbsurdLength {
            packet: self.packets + 1,
            offset: self.buf_offset + self.start as u64,
            len,
        }
    }

    /// End of file: clean between records, damage inside one.
    fn ended(&self) -> Result<(), ReadError> {
        let left = self.end - self.start;
        if left == 0 {
            return Ok(());
        }
        let needed = if left >= RECORD_HEADER {
            RECORD_HEADER + self.claimed_len() as usize
        } else {
            RECORD_HEADER
        };
        Err(ReadError::Truncated {
            packet: self.packets + 1,
            offset: self.buf_offset + self.start as u64,
            needed,
            left,
        })
    }

    /// Moves the unconsumed tail to the front of the buffer and reads more after it.
    fn refill(&mut self) -> io::Result<()> {
        self.buf.copy_within(self.start..self.end, 0);
        self.buf_offset += self.start as u64;
        self.end -= self.start;
        self.start = 0;
        // The buffer always holds a whole record: the largest is MAX_RECORD_BYTES plus its
        // header, well under READ_BYTES.
        loop {
            match self.file.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
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

    fn open(path: &Path) -> PcapReader {
        match PcapReader::sniff(path).unwrap() {
            Sniffed::Classic(r) => r,
            Sniffed::Other => panic!("not taken as classic pcap"),
        }
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
            // A record cut by the snap length (orig 1500 > snaplen 96) and a whole one.
            bytes.extend(record(big, 10, 7, &[0xAB; 96], 1500));
            bytes.extend(record(big, 11, 0, b"xyz", 3));
            let (_dir, path) = file_with(&bytes);
            let mut r = open(&path);
            assert_eq!(r.linktype(), 1);
            let first = r.next_record().unwrap().unwrap();
            assert_eq!(first.ts_ns, 10_000_000_000 + 7 * scale);
            assert_eq!((first.data.len(), first.wire_len), (96, 1500));
            let second = r.next_record().unwrap().unwrap();
            assert_eq!((second.data, second.wire_len), (&b"xyz"[..], 3));
            assert!(r.next_record().unwrap().is_none());
        }
    }

    #[test]
    fn records_across_many_reads_come_out_whole() {
        let mut bytes = header(0xA1B2_C3D4, false);
        // 3 MiB of records of varied sizes, so records straddle every read boundary.
        let mut want = Vec::new();
        let mut n = 0u32;
        while bytes.len() < 3 * READ_BYTES {
            let len = (n * 7919) % 70_000;
            let data: Vec<u8> = (0..len).map(|i| (i ^ n) as u8).collect();
            bytes.extend(record(false, n, 0, &data, len));
            want.push(data);
            n += 1;
        }
        let (_dir, path) = file_with(&bytes);
        let mut r = open(&path);
        for (i, data) in want.iter().enumerate() {
            let got = r.next_record().unwrap().unwrap();
            assert_eq!(got.data, &data[..], "record {i}");
            assert_eq!(got.ts_ns, i as u64 * 1_000_000_000);
        }
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn damage_is_an_error_that_says_where() {
        let mut bytes = header(0xA1B2_C3D4, false);
        bytes.extend(record(false, 1, 0, b"whole", 5));
        let whole = bytes.len();
        bytes.extend(record(false, 2, 0, b"cut short", 9));
        let (_dir, path) = file_with(&bytes[..bytes.len() - 3]);
        let mut r = open(&path);
        assert!(r.next_record().unwrap().is_some());
        let err = r.next_record().err().unwrap().to_string();
        assert_eq!(
            err,
            format!(
                "truncated capture file: packet 2 is cut short at byte {whole} \
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
            assert!(matches!(PcapReader::sniff(&path).unwrap(), Sniffed::Other));
        }
    }
}
