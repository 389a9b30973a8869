//! Helpers shared by the fuzz targets: reading a fuzz input as a capture file.
//!
//! The packet targets take a classic pcap file as their input, so the corpus captures (and
//! the project's own synthetic ones) are seeds as they are, and libFuzzer's mutations are
//! exactly the damaged captures the daemon must survive. The reader is deliberately lax: a
//! record cut short keeps what is there, and an input that is not a pcap file at all is one
//! frame, its link type chosen by its first byte.

use replayer::capture::decode::{Decoded, Decoder, LinkType};
use replayer::config::{Config, Settings};

/// One frame of a fuzz input.
pub struct Frame<'a> {
    pub ts_ns: u64,
    pub data: &'a [u8],
}

/// A fuzz input read as a capture.
pub struct Capture<'a> {
    pub link: LinkType,
    pub frames: Vec<Frame<'a>>,
}

/// Every link type the decoder knows, for inputs whose link type it does not.
const LINKS: [LinkType; 6] = [
    LinkType::Ethernet,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Raw,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
];

/// Reads `data` as a classic pcap file (either byte order, micro- or nanosecond stamps).
pub fn capture(data: &[u8]) -> Capture<'_> {
    let magic = data.get(..4).map(|m| [m[0], m[1], m[2], m[3]]);
    let (little, nanos) = match magic {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) => (true, false),
        Some([0xa1, 0xb2, 0xc3, 0xd4]) => (false, false),
        Some([0x4d, 0x3c, 0xb2, 0xa1]) => (true, true),
        Some([0xa1, 0xb2, 0x3c, 0x4d]) => (false, true),
        _ => {
            let link = LINKS[usize::from(data.first().copied().unwrap_or(0)) % LINKS.len()];
            let frame = Frame {
                ts_ns: 0,
                data: data.get(1..).unwrap_or_default(),
            };
            return Capture {
                link,
                frames: vec![frame],
            };
        }
    };
    let u32_at = |bytes: &[u8], at: usize| -> u32 {
        let b = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let Some(header) = data.get(..24) else {
        return Capture {
            link: LinkType::Ethernet,
            frames: Vec::new(),
        };
    };
    let dlt = u32_at(header, 20);
    let link = i32::try_from(dlt)
        .ok()
        .and_then(LinkType::from_dlt)
        .unwrap_or(LINKS[dlt as usize % LINKS.len()]);
    let mut frames = Vec::new();
    let mut rest = &data[24..];
    while rest.len() >= 16 {
        let (secs, frac, caplen) = (u32_at(rest, 0), u32_at(rest, 4), u32_at(rest, 8));
        let frac_ns = if nanos {
            u64::from(frac)
        } else {
            u64::from(frac) * 1000
        };
        let body = &rest[16..];
        let take = (caplen as usize).min(body.len());
        frames.push(Frame {
            ts_ns: u64::from(secs) * 1_000_000_000 + frac_ns,
            data: &body[..take],
        });
        rest = &body[take..];
    }
    Capture { link, frames }
}

/// The server port of a capture: where the first SYN went, or else the first data.
pub fn server_port(capture: &Capture<'_>) -> Option<u16> {
    let mut first_data_port = None;
    let mut decoder = Decoder::new(capture.link);
    for frame in &capture.frames {
        if let Decoded::Tcp(s) = decoder.decode(frame.data, frame.ts_ns) {
            if s.flags.syn && !s.flags.ack {
                return Some(s.dst.port());
            }
            if first_data_port.is_none() && !s.payload.is_empty() {
                first_data_port = Some(s.dst.port());
            }
        }
    }
    first_data_port
}

/// What `--print-config` prints for `config` reads back and resolves to the same settings.
pub fn assert_config_round_trip(config: &Config) {
    let settings = config.to_settings();
    let toml = settings.to_toml();
    let read = Settings::from_toml(&toml)
        .unwrap_or_else(|e| panic!("--print-config output does not read back: {e}\n{toml}"));
    let again = Config::resolve(&read)
        .unwrap_or_else(|e| panic!("--print-config output does not resolve: {e}\n{toml}"));
    assert_eq!(again.to_settings(), settings, "{toml}");
}

/// A part of a payload the stream targets build: one of the target's pieces of HTTP (by
/// index, wrapping), or raw bytes.
#[derive(Debug, arbitrary::Arbitrary)]
pub enum Part {
    Piece(u8),
    Bytes(Vec<u8>),
}

/// `parts` in a row, appended to `out` (cleared first).
pub fn assemble(parts: &[Part], pieces: &[&[u8]], out: &mut Vec<u8>) {
    out.clear();
    for part in parts {
        match part {
            Part::Piece(i) => out.extend_from_slice(pieces[usize::from(*i) % pieces.len()]),
            Part::Bytes(b) => out.extend_from_slice(b),
        }
    }
}
