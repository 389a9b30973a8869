//! `digest`: a response body → a small fingerprint, computed while the body streams by.
//!
//! Bodies are never buffered whole: [`BodyDigest`] takes the body (transfer coding already
//! removed) in pieces as they arrive, undoes its `Content-Encoding` (gzip, x-gzip, deflate as
//! zlib or raw, br) as it goes, and hashes the decoded bytes with xxh3-64 up to
//! [`DigestConfig::max_body`]; beyond that only the length counts. Comparing two answers is
//! then comparing two [`Digest`]s: a gzip body and a plain one with the same content digest
//! the same.
//!
//! Hostile bodies cost bounded memory: the decoders write into a fixed buffer on the stack,
//! their own state is bounded by the formats (deflate's 32 KiB window; br's 16 MiB at most,
//! large-window streams refused), decoding stops at [`DigestConfig::max_decoded`] (a
//! decompression bomb is reported, not expanded), and a body that does not decode is an
//! outcome ([`DecodeError`]), never a panic.
//!
//! Shared by both sides of the comparison: production's responses (captured passively, see
//! `stream::response`) and staging's.

use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};
use flate2::{Decompress, FlushDecompress, Status};
use regex::bytes::{NoExpand, Regex};
use xxhash_rust::xxh3::{xxh3_64, Xxh3Default};

/// Decoded bytes hashed by default (1 MiB); beyond, only the length counts.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;
/// Decoded bytes a body may expand to by default before decoding stops (256 MiB).
pub const DEFAULT_MAX_DECODED: u64 = 256 << 20;
/// What each match of a mask becomes before hashing.
pub const MASK_PLACEHOLDER: &[u8] = b"<masked>";
/// The decoders' output buffer: all a decompression bomb gets to fill at once.
const OUT_CHUNK: usize = 16 * 1024;

/// How bodies are digested; one for a whole capture (or comparison).
#[derive(Debug, Clone)]
pub struct DigestConfig {
    /// Decoded bytes hashed; beyond, only the length counts ([`Digest::truncated`]).
    pub max_body: usize,
    /// Decoded bytes after which decoding stops ([`DecodeError::TooLarge`]).
    pub max_decoded: u64,
    /// Parts of a body that differ by nature (dates, tokens, ids): each match is replaced by
    /// [`MASK_PLACEHOLDER`] before hashing. Empty: bodies are hashed as they stream.
    pub masks: Vec<Regex>,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            max_body: DEFAULT_MAX_BODY,
            max_decoded: DEFAULT_MAX_DECODED,
            masks: Vec::new(),
        }
    }
}

/// Why a body's content could not be digested as decoded. The digest is then of what could
/// be: the raw bytes for an unknown coding, the bytes decoded before the error otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A `Content-Encoding` other than gzip, x-gzip, deflate, br or identity, or several of
    /// them: the body is hashed as it came.
    #[error("unsupported content coding")]
    Unsupported,
    /// The coded data is invalid.
    #[error("corrupt {0} data")]
    Corrupt(&'static str),
    /// The body ended before the coded data did.
    #[error("{0} data cut short")]
    Truncated(&'static str),
    /// The body decodes to more than [`DigestConfig::max_decoded`]: decoding stopped there.
    #[error("decodes to more than the limit")]
    TooLarge,
}

/// A body, digested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    /// xxh3-64 of the decoded body's first [`DigestConfig::max_body`] bytes, masked.
    pub hash: u64,
    /// Decoded length (a lower bound after [`DecodeError::TooLarge`]).
    pub decoded_len: u64,
    /// Length as received (transfer coding removed, content coding not).
    pub encoded_len: u64,
    /// The decoded body was longer than [`DigestConfig::max_body`]: the hash covers its start.
    pub truncated: bool,
    /// Why the body did not decode, if it did not.
    pub error: Option<DecodeError>,
}

impl Digest {
    /// The digest of an empty body (a HEAD response, a 204, a 304).
    pub fn empty() -> Digest {
        Digest {
            hash: xxh3_64(b""),
            decoded_len: 0,
            encoded_len: 0,
            truncated: false,
            error: None,
        }
    }
}

/// The hash of the decoded bytes so far.
///
/// The streaming hasher is over 500 bytes of state to set up and move; most bodies arrive in
/// one piece (a small answer in one segment), so it is made only when a second piece comes,
/// and a body digested in one call ([`BodyDigest::finish_with`]) is hashed at once. Both give
/// the same value: xxh3's streaming and one-shot forms are the same function.
enum Hash {
    /// Nothing hashed yet.
    Empty,
    /// Bytes hashed as they stream.
    Streaming(Box<Xxh3Default>),
}

/// Where decoded bytes go: the hash (or, with masks, the kept copy) and the counts.
struct Sink {
    hash: Hash,
    /// With masks: the decoded body up to `max_body`, masked and hashed at the end.
    kept: Option<Vec<u8>>,
    hashed: usize,
    decoded_len: u64,
    max_body: usize,
    max_decoded: u64,
}

impl Sink {
    fn feed(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        self.decoded_len += bytes.len() as u64;
        let take = bytes.len().min(self.max_body - self.hashed);
        if take > 0 {
            match (&mut self.kept, &mut self.hash) {
                (Some(kept), _) => kept.extend_from_slice(&bytes[..take]),
                (None, Hash::Streaming(hasher)) => hasher.update(&bytes[..take]),
                (None, hash @ Hash::Empty) => {
                    let mut hasher = Box::new(Xxh3Default::new());
                    hasher.update(&bytes[..take]);
                    *hash = Hash::Streaming(hasher);
                }
            }
            self.hashed += take;
        }
        if self.decoded_len > self.max_decoded {
            return Err(DecodeError::TooLarge);
        }
        Ok(())
    }
}

type Brotli = BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>;

enum Decoder {
    Identity,
    /// `deflate` before its first two bytes tell zlib from raw deflate.
    DeflateUnsniffed(Option<u8>),
    /// gzip, zlib or raw deflate; the name is for errors.
    Flate(Box<Decompress>, &'static str),
    Brotli(Box<Brotli>),
    /// The coded data ended (or failed): what follows is ignored.
    Done,
}

/// One body being digested: [`BodyDigest::update`] with each piece, then
/// [`BodyDigest::finish`].
pub struct BodyDigest<'c> {
    config: &'c DigestConfig,
    decoder: Decoder,
    sink: Sink,
    encoded_len: u64,
    /// The coded data reached its end.
    ended: bool,
    error: Option<DecodeError>,
}

impl<'c> BodyDigest<'c> {
    /// A digest for a body sent with `content_encoding` (the header's value, if any).
    pub fn new(config: &'c DigestConfig, content_encoding: Option<&[u8]>) -> BodyDigest<'c> {
        let (decoder, error) = match content_encoding.map(<[u8]>::trim_ascii) {
            None => (Decoder::Identity, None),
            Some(coding) => decoder_for(coding),
        };
        BodyDigest {
            config,
            decoder,
            sink: Sink {
                hash: Hash::Empty,
                kept: (!config.masks.is_empty()).then(Vec::new),
                hashed: 0,
                decoded_len: 0,
                max_body: config.max_body,
                max_decoded: config.max_decoded,
            },
            encoded_len: 0,
            ended: false,
            error,
        }
    }

    /// The next piece of the body.
    pub fn update(&mut self, bytes: &[u8]) {
        self.encoded_len += bytes.len() as u64;
        if bytes.is_empty() {
            return;
        }
        let outcome = match self.decoder {
            Decoder::Identity => self.sink.feed(bytes),
            Decoder::Done => Ok(()),
            Decoder::DeflateUnsniffed(first) => self.sniff_deflate(first, bytes),
            Decoder::Flate(..) | Decoder::Brotli(_) => self.update_coded(bytes),
        };
        if let Err(error) = outcome {
            self.error = Some(error);
            self.decoder = Decoder::Done;
        }
    }

    /// `deflate`'s first bytes: they tell zlib from raw deflate, then are decoded.
    fn sniff_deflate(&mut self, first: Option<u8>, bytes: &[u8]) -> Result<(), DecodeError> {
        let (cmf, flg) = match (first, bytes) {
            (None, [only]) => {
                self.decoder = Decoder::DeflateUnsniffed(Some(*only));
                return Ok(());
            }
            (None, [cmf, flg, ..]) => (*cmf, *flg),
            (Some(cmf), [flg, ..]) => (cmf, *flg),
            (_, []) => return Ok(()),
        };
        let zlib = is_zlib_header(cmf, flg);
        let name = if zlib { "deflate (zlib)" } else { "deflate" };
        self.decoder = Decoder::Flate(Box::new(Decompress::new(zlib)), name);
        if let Some(cmf) = first {
            self.update_coded(&[cmf])?;
        }
        self.update_coded(bytes)
    }

    /// Feeds coded bytes to the flate or brotli decoder.
    fn update_coded(&mut self, input: &[u8]) -> Result<(), DecodeError> {
        let mut out = [0u8; OUT_CHUNK];
        let ended = match &mut self.decoder {
            Decoder::Flate(inflate, name) => {
                inflate_into(inflate, name, input, &mut out, &mut self.sink)?
            }
            Decoder::Brotli(state) => brotli_into(state, input, &mut out, &mut self.sink)?,
            _ => false,
        };
        if ended {
            self.ended = true;
            self.decoder = Decoder::Done;
        }
        Ok(())
    }

    /// The body's last piece, `bytes`, and so its digest: a body that comes whole, plain and
    /// unmasked is hashed in one call, without the streaming hasher.
    pub fn finish_with(mut self, bytes: &[u8]) -> Digest {
        let whole = self.encoded_len == 0
            && matches!(self.decoder, Decoder::Identity)
            && self.sink.kept.is_none()
            && bytes.len() as u64 <= self.sink.max_decoded;
        if !whole {
            self.update(bytes);
            return self.finish();
        }
        let len = bytes.len() as u64;
        Digest {
            hash: xxh3_64(&bytes[..bytes.len().min(self.config.max_body)]),
            decoded_len: len,
            encoded_len: len,
            truncated: len > self.config.max_body as u64,
            error: self.error,
        }
    }

    /// The body is complete: its digest.
    pub fn finish(self) -> Digest {
        let mut error = self.error;
        let coded = matches!(
            self.decoder,
            Decoder::Flate(..) | Decoder::Brotli(_) | Decoder::DeflateUnsniffed(Some(_))
        );
        if coded && !self.ended && error.is_none() && self.encoded_len > 0 {
            let name = match &self.decoder {
                Decoder::Flate(_, name) => name,
                Decoder::Brotli(_) => "br",
                _ => "deflate",
            };
            error = Some(DecodeError::Truncated(name));
        }
        let hash = match self.sink.kept {
            // A regular expression cannot run across the pieces a body streams in (a match
            // may straddle two), so with masks the decoded body is kept up to `max_body`,
            // masked whole, then hashed: memory per body is bounded by `max_body`.
            Some(mut kept) => {
                for mask in &self.config.masks {
                    if let std::borrow::Cow::Owned(masked) =
                        mask.replace_all(&kept, NoExpand(MASK_PLACEHOLDER))
                    {
                        kept = masked;
                    }
                }
                xxh3_64(&kept)
            }
            None => match self.sink.hash {
                Hash::Empty => xxh3_64(b""),
                Hash::Streaming(hasher) => hasher.digest(),
            },
        };
        Digest {
            hash,
            decoded_len: self.sink.decoded_len,
            encoded_len: self.encoded_len,
            truncated: self.sink.decoded_len > self.config.max_body as u64,
            error,
        }
    }
}

/// The decoder for a `Content-Encoding` value (trimmed); unknown codings, and lists of
/// several, are hashed as they come.
fn decoder_for(coding: &[u8]) -> (Decoder, Option<DecodeError>) {
    let is = |name: &str| coding.eq_ignore_ascii_case(name.as_bytes());
    if coding.is_empty() || is("identity") {
        (Decoder::Identity, None)
    } else if is("gzip") || is("x-gzip") {
        (
            Decoder::Flate(Box::new(Decompress::new_gzip(15)), "gzip"),
            None,
        )
    } else if is("deflate") {
        (Decoder::DeflateUnsniffed(None), None)
    } else if is("br") {
        let state = Brotli::new_strict(
            StandardAlloc::default(),
            StandardAlloc::default(),
            StandardAlloc::default(),
        );
        (Decoder::Brotli(Box::new(state)), None)
    } else {
        (Decoder::Identity, Some(DecodeError::Unsupported))
    }
}

/// `deflate` is zlib-wrapped by the standard (RFC 9110 §8.4.1.2) and raw by some servers:
/// a zlib header is a deflate method byte and a check that makes the pair a multiple of 31.
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

/// Inflates `input` into `sink` through `out`; true once the coded data has ended.
fn inflate_into(
    inflate: &mut Decompress,
    name: &'static str,
    mut input: &[u8],
    out: &mut [u8],
    sink: &mut Sink,
) -> Result<bool, DecodeError> {
    loop {
        let (before_in, before_out) = (inflate.total_in(), inflate.total_out());
        let status = inflate
            .decompress(input, out, FlushDecompress::None)
            .map_err(|_| DecodeError::Corrupt(name))?;
        let used = (inflate.total_in() - before_in) as usize;
        let made = (inflate.total_out() - before_out) as usize;
        input = &input[used.min(input.len())..];
        sink.feed(&out[..made.min(out.len())])?;
        if status == Status::StreamEnd {
            return Ok(true);
        }
        // Done with this piece once the input is used up and the output was not filled (no
        // more to flush), or when nothing moved (the decoder needs more input).
        if (input.is_empty() && made < out.len()) || (used == 0 && made == 0) {
            return Ok(false);
        }
    }
}

/// Decodes brotli `input` into `sink` through `out`; true once the coded data has ended.
fn brotli_into(
    state: &mut Brotli,
    input: &[u8],
    out: &mut [u8],
    sink: &mut Sink,
) -> Result<bool, DecodeError> {
    let (mut available_in, mut input_offset) = (input.len(), 0);
    loop {
        let (mut available_out, mut output_offset, mut total_out) = (out.len(), 0, 0);
        let result = BrotliDecompressStream(
            &mut available_in,
            &mut input_offset,
            input,
            &mut available_out,
            &mut output_offset,
            out,
            &mut total_out,
            state,
        );
        sink.feed(&out[..output_offset.min(out.len())])?;
        match result {
            BrotliResult::ResultSuccess => return Ok(true),
            BrotliResult::NeedsMoreInput => return Ok(false),
            BrotliResult::NeedsMoreOutput => {}
            BrotliResult::ResultFailure => return Err(DecodeError::Corrupt("br")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::test_support::gzip;
    use std::io::Write;

    /// A body of `n` bytes that compresses well but is not one repeated byte.
    fn content(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| b"abcdefghij<p>hello</p>\n"[i % 23] ^ (i / 4096) as u8)
            .collect()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
    fn br(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
            w.write_all(data).unwrap();
        }
        out
    }

    /// Digests `body` fed in pieces of `piece` bytes.
    fn digest(config: &DigestConfig, coding: Option<&str>, body: &[u8], piece: usize) -> Digest {
        let mut d = BodyDigest::new(config, coding.map(str::as_bytes));
        for p in body.chunks(piece.max(1)) {
            d.update(p);
        }
        d.finish()
    }

    #[test]
    fn a_last_piece_given_to_finish_with_digests_as_if_streamed() {
        let small = DigestConfig {
            max_body: 1000,
            ..DigestConfig::default()
        };
        let masked = DigestConfig {
            masks: vec![Regex::new("[0-9]+").unwrap()],
            ..DigestConfig::default()
        };
        let plain = content(5000);
        for config in [&DigestConfig::default(), &small, &masked] {
            for coding in [None, Some("gzip"), Some("zstd")] {
                let body = match coding {
                    Some("gzip") => gzip(&plain),
                    _ => plain.clone(),
                };
                for (whole, split) in [(0, 0), (0, 1), (999, 1000), (body.len(), 0), (7, 1)] {
                    let body = &body[..whole.min(body.len())];
                    let streamed = digest(config, coding, body, body.len());
                    let mut d = BodyDigest::new(config, coding.map(str::as_bytes));
                    let cut = split.min(body.len());
                    d.update(&body[..cut]);
                    assert_eq!(
                        d.finish_with(&body[cut..]),
                        streamed,
                        "{coding:?} {} bytes split at {cut}",
                        body.len()
                    );
                }
            }
        }
    }

    #[test]
    fn every_coding_digests_as_the_plain_body_in_any_pieces() {
        let config = DigestConfig::default();
        let plain = content(100_000);
        let want = digest(&config, None, &plain, 100_000);
        assert_eq!(want.hash, xxh3_64(&plain));
        assert_eq!(
            (want.decoded_len, want.truncated, want.error),
            (100_000, false, None)
        );
        let coded = [
            ("gzip", gzip(&plain)),
            ("x-gzip", gzip(&plain)),
            (" GZIP ", gzip(&plain)),
            ("deflate", zlib(&plain)),
            ("deflate", raw_deflate(&plain)),
            ("br", br(&plain)),
            ("identity", plain.clone()),
        ];
        for (coding, body) in &coded {
            assert!(body.len() < plain.len() || *coding == "identity");
            for piece in [1, 2, 7, 1460, body.len()] {
                let got = digest(&config, Some(coding), body, piece);
                assert_eq!(got.hash, want.hash, "{coding} in pieces of {piece}");
                assert_eq!(got.decoded_len, 100_000, "{coding} {piece}");
                assert_eq!(got.encoded_len, body.len() as u64);
                assert_eq!(got.error, None, "{coding} {piece}");
            }
        }
    }

    #[test]
    fn beyond_max_body_only_the_length_counts() {
        let config = DigestConfig {
            max_body: 1000,
            ..DigestConfig::default()
        };
        let plain = content(5000);
        let got = digest(&config, Some("gzip"), &gzip(&plain), 100);
        assert_eq!(got.hash, xxh3_64(&plain[..1000]));
        assert_eq!((got.decoded_len, got.truncated), (5000, true));
        let exact = digest(&config, None, &plain[..1000], 3);
        assert_eq!((exact.hash, exact.truncated), (got.hash, false));
    }

    #[test]
    fn bad_data_is_an_outcome_not_a_panic() {
        let config = DigestConfig::default();
        let plain = content(10_000);
        let gz = gzip(&plain);
        let cut = digest(&config, Some("gzip"), &gz[..gz.len() / 2], 64);
        assert_eq!(cut.error, Some(DecodeError::Truncated("gzip")));
        let mut corrupt = gz.clone();
        corrupt[20..40].fill(0xff);
        assert_eq!(
            digest(&config, Some("gzip"), &corrupt, 64).error,
            Some(DecodeError::Corrupt("gzip"))
        );
        let b = digest(&config, Some("br"), b"\xff\xff\xff\xff not brotli", 3);
        assert_eq!(b.error, Some(DecodeError::Corrupt("br")));
        let unknown = digest(&config, Some("zstd"), b"raw", 1);
        assert_eq!(unknown.hash, xxh3_64(b"raw"));
        assert_eq!(unknown.error, Some(DecodeError::Unsupported));
        assert_eq!(
            digest(&config, Some("gzip, br"), b"x", 1).error,
            Some(DecodeError::Unsupported)
        );
        // No body at all under a coding: nothing to decode, nothing cut.
        assert_eq!(digest(&config, Some("gzip"), b"", 1), Digest::empty());
    }

    #[test]
    fn a_decompression_bomb_stops_at_max_decoded() {
        let config = DigestConfig {
            max_decoded: 2 << 20,
            ..DigestConfig::default()
        };
        let bomb = gzip(&vec![0u8; 16 << 20]);
        assert!(bomb.len() < 20_000, "{}", bomb.len());
        let got = digest(&config, Some("gzip"), &bomb, 1460);
        assert_eq!(got.error, Some(DecodeError::TooLarge));
        assert!(got.decoded_len > 2 << 20 && got.decoded_len <= (2 << 20) + OUT_CHUNK as u64);
        assert_eq!(got.hash, xxh3_64(&vec![0u8; DEFAULT_MAX_BODY]));
    }

    #[test]
    fn masks_apply_across_pieces_before_hashing() {
        let config = DigestConfig {
            masks: vec![Regex::new(r"token=[0-9a-f]+").unwrap()],
            ..DigestConfig::default()
        };
        let a = b"<p>token=deadbeef</p>";
        let b = b"<p>token=0123</p>";
        let da = digest(&config, None, a, 5);
        let db = digest(&config, Some("gzip"), &gzip(b), 3);
        assert_eq!(da.hash, db.hash);
        assert_eq!(da.hash, xxh3_64(b"<p><masked></p>"));
        assert_ne!(da.hash, digest(&DigestConfig::default(), None, a, 5).hash);
    }
}
