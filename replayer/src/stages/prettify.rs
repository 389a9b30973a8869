//! `-prettify-http`: a passed request made plain HTTP before any output sees it, as
//! GoReplay's `prettifyHTTP` does: a chunked request loses `Transfer-Encoding` (the
//! pipeline has already removed the chunking from its body) and a gzip-encoded one has its
//! body decoded and loses `Content-Encoding`; either way `Content-Length` is set to the
//! body's length. The stdout and file records then show the body as text, and staging gets
//! the same plain request.
//!
//! The header values are compared as GoReplay does (the whole value, `chunked` or `gzip`),
//! but without case or surrounding blanks. Unlike GoReplay, a body that does not decode
//! (not gzip, cut, or more than [`MAX_DECODED`] once decoded) is left encoded with its
//! `Content-Encoding`, rather than the request being written empty. Responses
//! (`-input-raw-track-response`) are written as captured.

use crate::request::Request;
use std::io::Read;

/// Bytes a decoded body may have at most: a few kilobytes of gzip can decode to gigabytes.
pub const MAX_DECODED: usize = 16 << 20;

/// Makes `request` plain HTTP, if it is chunked or gzip-encoded.
pub fn prettify(request: &mut Request) {
    let chunked = header_is(request, "Transfer-Encoding", "chunked");
    let gzip = header_is(request, "Content-Encoding", "gzip");
    if !chunked && !gzip {
        return;
    }
    if chunked {
        remove(request, "Transfer-Encoding");
    }
    if gzip {
        match gunzip(&request.body) {
            Some(body) => {
                request.body = body.into();
                remove(request, "Content-Encoding");
            }
            None if !chunked => return,
            None => {}
        }
    }
    let length = request.body.len().to_string();
    request.headers.set("Content-Length", length.as_bytes());
}

/// Whether the first `name` header says `value` (without case or surrounding blanks).
fn header_is(request: &Request, name: &str, value: &str) -> bool {
    request
        .header(name)
        .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(value.as_bytes()))
}

fn remove(request: &mut Request, name: &str) {
    request
        .headers
        .retain(|h| !h.name.eq_ignore_ascii_case(name));
}

/// The gzip `body` decoded, or `None` if it is not gzip or decodes to more than
/// [`MAX_DECODED`] bytes.
fn gunzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut decoded = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .take(MAX_DECODED as u64 + 1)
        .read_to_end(&mut decoded)
        .ok()?;
    (decoded.len() <= MAX_DECODED).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::test_support::{gzip, header_lines, request, with_header};

    #[test]
    fn chunked_and_gzip_bodies_become_plain_with_a_length() {
        let mut req = with_header(request("POST", "/"), "Transfer-Encoding", "Chunked ");
        req = with_header(req, "Content-Encoding", "gzip");
        req = with_header(req, "Accept", "*/*");
        req.body = gzip(b"hello, staging").into();
        prettify(&mut req);
        assert_eq!(&req.body[..], b"hello, staging");
        assert_eq!(header_lines(&req), ["Content-Length: 14", "Accept: */*"]);

        // A length already there is replaced in place.
        let mut req = with_header(request("POST", "/"), "content-length", "31");
        req = with_header(req, "Content-Encoding", "GZIP");
        req.body = gzip(b"x").into();
        prettify(&mut req);
        assert_eq!(header_lines(&req), ["content-length: 1"]);
    }

    #[test]
    fn other_requests_and_undecodable_bodies_are_left_alone() {
        let plain = with_header(request("GET", "/"), "Content-Encoding", "br");
        let mut same = plain.clone();
        prettify(&mut same);
        assert_eq!(same, plain);

        let mut bad = with_header(request("POST", "/"), "Content-Encoding", "gzip");
        bad.body = b"not gzip".to_vec().into();
        let before = bad.clone();
        prettify(&mut bad);
        assert_eq!(bad, before, "kept encoded, headers untouched");

        // Chunked and undecodable: de-chunked all the same, the encoding kept.
        let mut both = with_header(bad, "Transfer-Encoding", "chunked");
        prettify(&mut both);
        assert_eq!(
            header_lines(&both),
            ["Content-Length: 8", "Content-Encoding: gzip"]
        );

        let mut bomb = with_header(request("POST", "/"), "Content-Encoding", "gzip");
        bomb.body = gzip(&vec![0; MAX_DECODED + 1]).into();
        prettify(&mut bomb);
        assert!(bomb.body.len() < 1 << 20, "left encoded");
    }
}
