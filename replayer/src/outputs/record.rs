//! GoReplay's record format, written by the stdout and file outputs (and read back by its
//! `--input-file`): the request or response as on the wire between a meta line and the
//! separator. Encoding only; where the bytes go is `file` and `file_writer`.

use crate::request::Request;
use crate::response::Response;
use std::io::Write;

/// GoReplay's separator between records: a newline, three monkeys, a newline.
pub const RECORD_SEPARATOR: &[u8] = crate::records::SEPARATOR;

/// Writes a request as it goes on the wire: request line, headers in order as captured
/// after the rewrites (each captured line byte for byte, spacing kept; only the line ending
/// is always CRLF), blank line, body.
///
/// The pipeline hands over bodies with the chunked coding removed. When the headers still
/// say `Transfer-Encoding: chunked` the body is written back as one chunk and the last
/// chunk (`0`), so the message stays valid HTTP with the headers untouched (chunk
/// extensions and trailers are not kept). Otherwise the body is written as is.
pub fn write_wire(out: &mut impl Write, request: &Request) -> std::io::Result<()> {
    // Plain byte writes rather than `write!`: formatting costs more than the copying here.
    out.write_all(request.method.as_bytes())?;
    out.write_all(b" ")?;
    out.write_all(request.target.as_bytes())?;
    out.write_all(if request.version_minor == 0 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    })?;
    for header in &request.headers {
        // A captured line as it was; a header a stage set, as `Name: value`.
        if let Some(line) = header.line {
            out.write_all(line)?;
        } else {
            out.write_all(header.name.as_bytes())?;
            out.write_all(b": ")?;
            out.write_all(header.value)?;
        }
        out.write_all(b"\r\n")?;
    }
    out.write_all(b"\r\n")?;
    if is_chunked(request) {
        if !request.body.is_empty() {
            write!(out, "{:x}\r\n", request.body.len())?;
            out.write_all(&request.body)?;
            out.write_all(b"\r\n")?;
        }
        out.write_all(b"0\r\n\r\n")?;
    } else {
        out.write_all(&request.body)?;
    }
    Ok(())
}

/// Whether the last transfer coding is `chunked` (RFC 9112 §6.1).
fn is_chunked(request: &Request) -> bool {
    request
        .headers
        .iter()
        .rfind(|h| h.name.eq_ignore_ascii_case("Transfer-Encoding"))
        .and_then(|h| h.value.rsplit(|&b| b == b',').next())
        .is_some_and(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// Writes one record of GoReplay's file format, which its `--input-file` reads:
/// `1 <id> <timestamp_ns> <latency>\n`, the request as on the wire, `\n🐵🙈🙉\n`.
///
/// `1` marks a request. The id is 24 hex digits like GoReplay's: the low 32 bits of the
/// capture time then the pipeline's 64-bit request id, so ids are unique within a run and
/// the same input always gives the same file. Latency is GoReplay's time from first to
/// last packet of the message; the pipeline does not keep it, so it is written as `0`.
pub fn write_record(out: &mut impl Write, request: &Request) -> std::io::Result<()> {
    let (at, id) = (request.captured_at_ns, request.id);
    match &request.record_id {
        // Read from a record file: its id goes on, so the file round-trips.
        Some(record_id) => {
            out.write_all(b"1 ")?;
            out.write_all(record_id)?;
            writeln!(out, " {at} 0")?;
        }
        None => write_meta(out, b'1', at, id, at, 0)?,
    }
    write_wire(out, request)?;
    out.write_all(RECORD_SEPARATOR)
}

/// Writes production's response as GoReplay's type-2 record (`--input-raw-track-response`):
/// `2 <id> <timestamp_ns> <latency_ns>\n`, the head as captured, the body (its transfer
/// coding removed, at most the kept bytes: see `flow`), `\n🐵🙈🙉\n`. The id is the request's
/// (made from its capture time and id, as [`write_record`] makes it), so readers pair them.
pub fn write_response_record(
    out: &mut impl Write,
    request_captured_at_ns: u64,
    response: &Response,
) -> std::io::Result<()> {
    let id = response.request_id.unwrap_or_default();
    let latency = response.latency_ns.unwrap_or_default();
    write_meta(
        out,
        b'2',
        request_captured_at_ns,
        id,
        response.first_byte_ns,
        latency,
    )?;
    out.write_all(&response.head)?;
    out.write_all(&response.raw_body)?;
    out.write_all(RECORD_SEPARATOR)
}

/// Body bytes a response record (type 2 or 3) carries at most: a bound on what one
/// response holds in memory while it streams; longer bodies are cut in the record.
pub const TRACKED_BODY: usize = 1 << 20;

/// The id a request's records carry, as [`write_record`] writes it: the record's own when it
/// was read from one, else 24 hex digits from its capture time and id.
pub fn record_id_of(request: &Request) -> bytes::Bytes {
    if let Some(id) = &request.record_id {
        return id.clone();
    }
    let mut id = [0u8; 24];
    put_hex(&mut id, u64::from(request.captured_at_ns as u32), 8);
    put_hex(&mut id[8..], request.id, 16);
    bytes::Bytes::copy_from_slice(&id)
}

/// A record's first line: `KIND <id> <timestamp_ns> <latency_ns>\n`, the id 24 hex digits
/// from the request's capture time (low 32 bits) and its pipeline id.
fn write_meta(
    out: &mut impl Write,
    kind: u8,
    id_time_ns: u64,
    id: u64,
    timestamp_ns: u64,
    latency_ns: u64,
) -> std::io::Result<()> {
    let mut meta = [0u8; 80];
    meta[0] = kind;
    meta[1] = b' ';
    let mut len = 2;
    len += put_hex(&mut meta[len..], u64::from(id_time_ns as u32), 8);
    len += put_hex(&mut meta[len..], id, 16);
    meta[len] = b' ';
    len += 1;
    len += put_decimal(&mut meta[len..], timestamp_ns);
    meta[len] = b' ';
    len += 1;
    len += put_decimal(&mut meta[len..], latency_ns);
    meta[len] = b'\n';
    out.write_all(&meta[..len + 1])
}

/// Writes `value` as exactly `digits` lowercase hex digits; returns `digits`.
fn put_hex(out: &mut [u8], value: u64, digits: usize) -> usize {
    for (i, slot) in out[..digits].iter_mut().enumerate() {
        let nibble = (value >> (4 * (digits - 1 - i))) & 0xf;
        *slot = b"0123456789abcdef"[nibble as usize];
    }
    digits
}

/// Writes `value` in decimal; returns the number of digits.
fn put_decimal(out: &mut [u8], mut value: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (value % 10) as u8;
        n += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for (slot, digit) in out[..n].iter_mut().zip(digits[..n].iter().rev()) {
        *slot = *digit;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::test_support::{request, with_header};

    fn wire(request: &Request) -> String {
        let mut out = Vec::new();
        write_wire(&mut out, request).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn wire_form_keeps_headers_in_order_and_case() {
        let mut req = with_header(request("GET", "/a?b=c"), "Host", "example.org");
        req = with_header(req, "accept", "*/*");
        req.version_minor = 0;
        assert_eq!(
            wire(&req),
            "GET /a?b=c HTTP/1.0\r\nHost: example.org\r\naccept: */*\r\n\r\n"
        );
    }

    #[test]
    fn bodies_are_written_as_is_or_as_one_chunk() {
        let mut req = with_header(request("POST", "/"), "Content-Length", "5");
        req.body = bytes::Bytes::from_static(b"hello");
        assert_eq!(
            wire(&req),
            "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        );

        let mut chunked = with_header(request("POST", "/"), "Transfer-Encoding", "gzip, Chunked");
        chunked.body = bytes::Bytes::from(vec![b'x'; 26]);
        assert_eq!(
            wire(&chunked),
            format!(
                "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n1a\r\n{}\r\n0\r\n\r\n",
                "x".repeat(26)
            )
        );
        chunked.body = bytes::Bytes::new();
        assert!(wire(&chunked).ends_with("\r\n\r\n0\r\n\r\n"));
    }

    #[test]
    fn number_formatting_matches_std() {
        let mut buf = [0u8; 24];
        for value in [0, 7, 10, 99, 1_700_000_000_123_456_789, u64::MAX] {
            let n = put_decimal(&mut buf, value);
            assert_eq!(&buf[..n], value.to_string().as_bytes());
            let n = put_hex(&mut buf, value, 16);
            assert_eq!(&buf[..n], format!("{value:016x}").as_bytes());
        }
        assert_eq!(put_hex(&mut buf, 0xabc, 8), 8);
        assert_eq!(&buf[..8], b"00000abc");
    }

    #[test]
    fn record_is_goreplay_format() {
        let req = with_header(request("GET", "/x"), "Host", "h");
        let mut out = Vec::new();
        write_record(&mut out, &req).unwrap();
        // captured_at_ns = 1_700_000_000_123_456_789 = 0x1797_4a4b_8eab_c115 → low 32 bits
        let low = (req.captured_at_ns as u32) as u64;
        let expected = format!(
            "1 {low:08x}0000000000000007 1700000000123456789 0\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n\n🐵🙈🙉\n"
        );
        assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);
        let meta = expected.lines().next().unwrap();
        let fields: Vec<&str> = meta.split(' ').collect();
        assert_eq!(fields.len(), 4);
        assert_eq!(fields[1].len(), 24);
        assert!(fields[1].bytes().all(|b| b.is_ascii_hexdigit()));
    }

    /// GoReplay's `--input-file` reader, step by step: read lines; a line that is exactly
    /// `🐵🙈🙉\n` ends a record, whose bytes are everything before it less the last `\n`;
    /// the meta line needs at least 3 space-separated fields, the third the timestamp.
    fn goreplay_read(file: &[u8]) -> Vec<(Vec<u8>, i64)> {
        let separator_line = &RECORD_SEPARATOR[1..];
        let (mut records, mut buffer) = (Vec::new(), Vec::new());
        for line in file.split_inclusive(|&b| b == b'\n') {
            if line == separator_line {
                let data = buffer[..buffer.len() - 1].to_vec();
                let meta_end = data.iter().position(|&b| b == b'\n').unwrap();
                let meta: Vec<&[u8]> = data[..meta_end].split(|&b| b == b' ').collect();
                assert!(
                    meta.len() >= 3,
                    "GoReplay drops records with a short meta line"
                );
                let timestamp = std::str::from_utf8(meta[2]).unwrap().parse().unwrap();
                records.push((data, timestamp));
                buffer.clear();
            } else {
                buffer.extend_from_slice(line);
            }
        }
        assert!(buffer.is_empty(), "trailing bytes after the last record");
        records
    }

    #[test]
    fn goreplay_reader_gets_back_every_request_byte_for_byte() {
        let get = with_header(request("GET", "/a"), "Host", "h");
        let mut post = with_header(request("POST", "/upload"), "Content-Length", "9");
        post.body = bytes::Bytes::from_static(b"a\r\nb\nc\r\n");
        let mut no_newline = with_header(request("PUT", "/x"), "Content-Length", "3");
        no_newline.body = bytes::Bytes::from_static(b"xyz");
        no_newline.captured_at_ns += 5;
        let requests = [get, post, no_newline];
        let mut file = Vec::new();
        for r in &requests {
            write_record(&mut file, r).unwrap();
        }
        let read = goreplay_read(&file);
        assert_eq!(read.len(), 3);
        for (request, (data, timestamp)) in requests.iter().zip(read) {
            let meta_end = data.iter().position(|&b| b == b'\n').unwrap();
            assert_eq!(&data[meta_end + 1..], wire(request).as_bytes());
            assert_eq!(timestamp as u64, request.captured_at_ns);
        }
    }
}
