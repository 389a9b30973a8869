//! Never lost, never invented: random request streams, cut into segments that are reordered,
//! duplicated and overlapped, from any initial sequence number (wrap-around included), must
//! come out of reassembly and framing as exactly the original requests, in order, with
//! nothing counted as cut or missing. And under the default filter, no unsafe method passes.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use replayer::capture::decode::{TcpFlags, TcpSegment};
use replayer::capture::{CaptureStats, ReassemblyLimits};
use replayer::request::Request;
use replayer::stages::filter::FilterConfig;
use replayer::stream::http::{Emitter, RequestParser};
use replayer::stream::reassemble::Reassembler;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

/// One generated request: what must come out, and its bytes on the wire.
#[derive(Debug, Clone)]
struct Original {
    method: String,
    target: String,
    body: Vec<u8>,
    wire: Vec<u8>,
}

fn original() -> impl Strategy<Value = Original> {
    let method = prop::sample::select(vec![
        "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE",
    ]);
    let target = "/[a-z0-9/._-]{0,30}(\\?[a-z0-9=&]{1,20})?";
    let headers = prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,15}", "[ -~]{0,60}"), 0..6);
    let body = prop::collection::vec(any::<u8>(), 0..300);
    (method, target, headers, body, any::<bool>(), 1usize..50).prop_map(
        |(method, target, headers, body, chunked, chunk_len)| {
            let mut wire = format!("{method} {target} HTTP/1.1\r\nHost: example.org\r\n");
            for (name, value) in &headers {
                // Framing headers come only from the generator's own choice below.
                if !name.eq_ignore_ascii_case("content-length")
                    && !name.eq_ignore_ascii_case("transfer-encoding")
                {
                    wire.push_str(&format!("{name}: {}\r\n", value.trim()));
                }
            }
            let mut wire = wire.into_bytes();
            let has_body = !body.is_empty() && !matches!(method, "GET" | "HEAD" | "OPTIONS");
            let body = if has_body { body } else { Vec::new() };
            if has_body && chunked {
                wire.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                for piece in body.chunks(chunk_len) {
                    wire.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    wire.extend_from_slice(piece);
                    wire.extend_from_slice(b"\r\n");
                }
                wire.extend_from_slice(b"0\r\n\r\n");
            } else if has_body {
                wire.extend_from_slice(
                    format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                );
                wire.extend_from_slice(&body);
            } else {
                wire.extend_from_slice(b"\r\n");
            }
            Original {
                method: method.to_owned(),
                target,
                body,
                wire,
            }
        },
    )
}

/// How the stream is cut and mangled on its way to the capture.
#[derive(Debug, Clone)]
struct Mangling {
    isn: u32,
    cuts: Vec<usize>,
    order: Vec<u32>,
    duplicates: Vec<(usize, usize)>,
}

fn mangling() -> impl Strategy<Value = Mangling> {
    (
        prop_oneof![any::<u32>(), (0u32..4096).prop_map(|d| u32::MAX - d)],
        prop::collection::vec(any::<usize>(), 0..40),
        prop::collection::vec(any::<u32>(), 0..80),
        prop::collection::vec((any::<usize>(), 1usize..200), 0..10),
    )
        .prop_map(|(isn, cuts, order, duplicates)| Mangling {
            isn,
            cuts,
            order,
            duplicates,
        })
}

/// Feeds `stream` as mangled segments (SYN first) and returns what came out.
fn reassemble(stream: &[u8], m: &Mangling) -> (Vec<Request>, CaptureStats) {
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddr = "10.0.0.2:80".parse().unwrap();
    let pieces = crate::util::mangle::pieces(stream.len(), &m.cuts, &m.order, &m.duplicates);

    let stats = CaptureStats::default();
    let mut out = Vec::new();
    {
        let mut sink = |r: Request| out.push(r);
        let mut cx = Emitter {
            stats: &stats,
            next_id: 1,
            on_request: &mut sink,
            pairing: None,
        };
        let mut reassembler: Reassembler<'_, RequestParser> =
            Reassembler::new(80, ReassemblyLimits::default(), 60_000_000_000, &stats);
        let syn = TcpSegment {
            src: client,
            dst: server,
            seq: m.isn,
            ack: 0,
            flags: TcpFlags {
                syn: true,
                ..TcpFlags::default()
            },
            payload: &[],
        };
        reassembler.segment(&syn, 1, &mut cx);
        for (start, end) in pieces {
            let segment = TcpSegment {
                src: client,
                dst: server,
                seq: m.isn.wrapping_add(1).wrapping_add(start as u32),
                ack: 1,
                flags: TcpFlags {
                    ack: true,
                    ..TcpFlags::default()
                },
                payload: &stream[start..end],
            };
            reassembler.segment(&segment, 2, &mut cx);
        }
        reassembler.finish(&mut cx);
    }
    (out, stats)
}

proptest! {
    // Failures persist beside this file (`proptest_reassembly.proptest-regressions`) and are
    // replayed first on every run. Said explicitly: proptest's default
    // looks for a main.rs above the file and would put them in a proptest-regressions/ tree.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions"
        ))),
        ..ProptestConfig::with_cases(300)
    })]

    #[test]
    fn exactly_the_original_requests_come_out(
        originals in prop::collection::vec(original(), 1..12),
        m in mangling(),
    ) {
        let stream: Vec<u8> = originals.iter().flat_map(|o| o.wire.clone()).collect();
        let (got, stats) = reassemble(&stream, &m);
        let got_summary: Vec<(String, String, Vec<u8>)> = got
            .iter()
            .map(|r| (r.method.to_string(), r.target.to_string(), r.body.to_vec()))
            .collect();
        let want: Vec<(String, String, Vec<u8>)> = originals
            .iter()
            .map(|o| (o.method.clone(), o.target.clone(), o.body.clone()))
            .collect();
        prop_assert_eq!(got_summary, want);
        prop_assert_eq!(stats.requests_cut.load(Relaxed), 0);
        prop_assert_eq!(stats.reassembly_gaps.load(Relaxed), 0);
        prop_assert_eq!(stats.requests.load(Relaxed), originals.len() as u64);

        // The default filter lets through exactly the safe ones, never an unsafe method.
        let filter = FilterConfig::default();
        let passed: Vec<&str> = got
            .iter()
            .filter(|r| filter.check_method(r).is_ok())
            .map(|r| r.method.as_str())
            .collect();
        let safe: Vec<&str> = originals
            .iter()
            .map(|o| o.method.as_str())
            .filter(|m| matches!(*m, "GET" | "HEAD" | "OPTIONS"))
            .collect();
        prop_assert_eq!(&passed, &safe);
        prop_assert!(passed.iter().all(|m| !matches!(*m, "POST" | "PUT" | "PATCH" | "DELETE")));
    }
}
