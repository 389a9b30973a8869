//! Production's responses, never lost, never mispaired: random exchanges on one connection
//! (methods, statuses with and without bodies, `100 Continue`, bodies by length, chunked,
//! gzip, the last one possibly delimited by the connection's end), both streams cut into
//! segments that are reordered, duplicated and overlapped, must come out of both reassemblers,
//! both framers and the pairing as exactly the expected (request id, status, body hash)
//! triples, with nothing counted as lost.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use replayer::capture::decode::{TcpFlags, TcpSegment};
use replayer::capture::{CaptureStats, ReassemblyLimits};
use replayer::request::Request;
use replayer::response::{Response, ResponseConfig};
use replayer::stream::http::{Emitter, RequestParser};
use replayer::stream::pairing::Pairing;
use replayer::stream::reassemble::Reassembler;
use replayer::stream::response::{ResponseParser, ResponseSink};
use std::cell::RefCell;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use xxhash_rust::xxh3::xxh3_64;

/// One generated exchange: its wire bytes both ways and the response that must come out.
#[derive(Debug, Clone)]
struct Exchange {
    request: Vec<u8>,
    response: Vec<u8>,
    status: u16,
    /// The decoded body the digest must cover (empty when the response has none).
    body: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
enum Framing {
    Length,
    Chunked,
    GzipLength,
    GzipChunked,
    /// Delimited by the end of the connection: only for the last exchange.
    UntilClose,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn exchange(last: bool) -> impl Strategy<Value = Exchange> {
    let method = prop::sample::select(vec!["GET", "HEAD", "POST"]);
    let status = prop::sample::select(vec![200u16, 201, 204, 304, 404, 500]);
    let framing = prop::sample::select(if last {
        vec![
            Framing::Length,
            Framing::Chunked,
            Framing::GzipLength,
            Framing::GzipChunked,
            Framing::UntilClose,
        ]
    } else {
        vec![
            Framing::Length,
            Framing::Chunked,
            Framing::GzipLength,
            Framing::GzipChunked,
        ]
    });
    let body = prop::collection::vec(any::<u8>(), 0..400);
    (method, status, framing, body, any::<bool>(), 1usize..60).prop_map(
        move |(method, status, framing, body, continue_first, chunk_len)| {
            let request = match method {
                "POST" => "POST /p HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"
                    .to_string(),
                _ => format!("{method} /r HTTP/1.1\r\nHost: a\r\n\r\n"),
            }
            .into_bytes();
            let bodyless = method == "HEAD" || status == 204 || status == 304;
            let mut response = Vec::new();
            if continue_first {
                response.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            response.extend_from_slice(format!("HTTP/1.1 {status} X\r\nServer: t\r\n").as_bytes());
            let gzipped = matches!(framing, Framing::GzipLength | Framing::GzipChunked);
            let coded = if gzipped { gzip(&body) } else { body.clone() };
            if gzipped {
                response.extend_from_slice(b"Content-Encoding: gzip\r\n");
            }
            match framing {
                Framing::Chunked | Framing::GzipChunked if !bodyless => {
                    response.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    for piece in coded.chunks(chunk_len) {
                        response.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                        response.extend_from_slice(piece);
                        response.extend_from_slice(b"\r\n");
                    }
                    response.extend_from_slice(b"0\r\n\r\n");
                }
                Framing::UntilClose if !bodyless => {
                    response.extend_from_slice(b"\r\n");
                    response.extend_from_slice(&coded);
                }
                _ => {
                    // A HEAD response announces the length of the body it does not send.
                    response.extend_from_slice(format!("Content-Length: {}\r\n\r\n", coded.len()).as_bytes());
                    if !bodyless {
                        response.extend_from_slice(&coded);
                    }
                }
            }
            Exchange {
                request,
                response,
                status,
                body: if bodyless { Vec::new() } else { body },
            }
        },
    )
}

fn exchanges() -> impl Strategy<Value = Vec<Exchange>> {
    (prop::collection::vec(exchange(false), 0..8), exchange(true)).prop_map(|(mut all, last)| {
        all.push(last);
        all
    })
}

/// How a stream is cut and mangled: cut points, reordering keys, overlapping duplicates.
type Mangling = (Vec<usize>, Vec<u32>, Vec<(usize, usize)>);

fn mangling() -> impl Strategy<Value = Mangling> {
    (
        prop::collection::vec(any::<usize>(), 0..30),
        prop::collection::vec(any::<u32>(), 0..60),
        prop::collection::vec((any::<usize>(), 1usize..200), 0..6),
    )
}

/// `len` bytes as (start, end) pieces in capture order.
fn pieces(len: usize, (cuts, order, duplicates): &Mangling) -> Vec<(usize, usize)> {
    crate::util::mangle::pieces(len, cuts, order, duplicates)
}

const CLIENT_ISN: u32 = 0xFFFF_FF00;
const SERVER_ISN: u32 = 77;

/// Runs both streams through reassembly, framing and pairing. A server piece goes in only
/// once every client piece before the end of the last request it answers (in part) has: the
/// server answers a request after receiving it.
fn run(
    all: &[Exchange],
    client_m: &Mangling,
    server_m: &Mangling,
) -> (Vec<Response>, CaptureStats) {
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let server: SocketAddr = "10.0.0.2:80".parse().unwrap();
    let requests: Vec<u8> = all.iter().flat_map(|e| e.request.clone()).collect();
    let responses: Vec<u8> = all.iter().flat_map(|e| e.response.clone()).collect();
    // Where each exchange's request ends, and its response starts.
    let (mut request_ends, mut response_starts) = (Vec::new(), Vec::new());
    let (mut r, mut s) = (0, 0);
    for e in all {
        r += e.request.len();
        request_ends.push(r);
        response_starts.push(s);
        s += e.response.len();
    }
    let client_pieces = pieces(requests.len(), client_m);
    let server_pieces = pieces(responses.len(), server_m);

    let stats = CaptureStats::default();
    let config = ResponseConfig::default();
    let mut out = Vec::new();
    {
        let pairing = RefCell::new(Pairing::new(&stats, 16));
        let mut on_request = |_: Request| {};
        let mut emitter = Emitter {
            stats: &stats,
            next_id: 1,
            on_request: &mut on_request,
            pairing: Some(&pairing),
        };
        let mut on_response = |r: Response| out.push(r);
        let mut sink = ResponseSink {
            stats: &stats,
            config: &config,
            pairing: &pairing,
            on_response: &mut on_response,
        };
        let limits = ReassemblyLimits::default();
        let mut requests_r: Reassembler<'_, RequestParser> =
            Reassembler::new(80, limits, 60_000_000_000, &stats);
        let mut responses_r: Reassembler<'_, ResponseParser<'_>> =
            Reassembler::responses(80, limits, 60_000_000_000, &stats);
        let mut ts = 1_000u64;
        let mut feed = |seg: TcpSegment<'_>| {
            ts += 1_000;
            requests_r.segment(&seg, ts, &mut emitter);
            responses_r.segment(&seg, ts, &mut sink);
        };
        let flags = |syn, ack| TcpFlags {
            syn,
            ack,
            ..TcpFlags::default()
        };
        feed(TcpSegment {
            src: client,
            dst: server,
            seq: CLIENT_ISN,
            ack: 0,
            flags: flags(true, false),
            payload: &[],
        });
        feed(TcpSegment {
            src: server,
            dst: client,
            seq: SERVER_ISN,
            ack: CLIENT_ISN.wrapping_add(1),
            flags: flags(true, true),
            payload: &[],
        });
        let mut client_fed = vec![false; client_pieces.len()];
        for &(start, end) in &server_pieces {
            // The last exchange whose response this piece holds bytes of.
            let k = response_starts
                .partition_point(|&s| s < end)
                .saturating_sub(1);
            for (i, &(c_start, c_end)) in client_pieces.iter().enumerate() {
                if !client_fed[i] && c_start < request_ends[k] {
                    client_fed[i] = true;
                    let seq = CLIENT_ISN.wrapping_add(1).wrapping_add(c_start as u32);
                    feed(TcpSegment {
                        src: client,
                        dst: server,
                        seq,
                        ack: SERVER_ISN + 1,
                        flags: flags(false, true),
                        payload: &requests[c_start..c_end],
                    });
                }
            }
            let seq = SERVER_ISN.wrapping_add(1).wrapping_add(start as u32);
            feed(TcpSegment {
                src: server,
                dst: client,
                seq,
                ack: CLIENT_ISN,
                flags: flags(false, true),
                payload: &responses[start..end],
            });
        }
        requests_r.finish(&mut emitter);
        responses_r.finish(&mut sink);
        pairing.borrow_mut().finish();
    }
    (out, stats)
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions"
        ))),
        ..ProptestConfig::with_cases(200)
    })]

    #[test]
    fn exactly_the_expected_responses_pair_with_their_requests(
        all in exchanges(),
        client_m in mangling(),
        server_m in mangling(),
    ) {
        let (out, stats) = run(&all, &client_m, &server_m);
        let got: Vec<(Option<u64>, u16, u64, u64)> = out
            .iter()
            .map(|r| (r.request_id, r.status, r.body.hash, r.body.decoded_len))
            .collect();
        let want: Vec<(Option<u64>, u16, u64, u64)> = all
            .iter()
            .enumerate()
            .map(|(i, e)| (Some(i as u64 + 1), e.status, xxh3_64(&e.body), e.body.len() as u64))
            .collect();
        prop_assert_eq!(got, want);
        prop_assert!(out.iter().all(|r| r.body.error.is_none() && r.latency_ns.is_some()));
        let count = |c: &std::sync::atomic::AtomicU64| c.load(Relaxed);
        prop_assert_eq!((count(&stats.requests), count(&stats.responses)), (all.len() as u64, all.len() as u64));
        let losses = [
            count(&stats.responses_unpaired),
            count(&stats.responses_missing),
            count(&stats.responses_cut),
            count(&stats.response_framing_errors),
            count(&stats.response_gaps),
            count(&stats.reassembly_gaps),
            count(&stats.requests_cut),
        ];
        prop_assert_eq!(losses, [0; 7]);
    }
}
