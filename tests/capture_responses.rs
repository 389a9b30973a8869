//! Both directions of a synthetic capture through the library's pipeline
//! (`pipeline::run_with_responses`): the requests and production's responses that come out,
//! in order, paired, with their digests and latencies; and the request-only path on the same
//! file giving the same requests.

use crate::util::tcp_flags::{ACK, FIN, PSH, SYN};
use crate::util::*;
use replayer::capture::{CaptureConfig, CaptureStats, Input};
use replayer::response::ResponseConfig;
use replayer::stream::pipeline::{run, run_with_responses, Captured};
use std::net::SocketAddrV4;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use xxhash_rust::xxh3::xxh3_64;

/// One side of a synthetic connection: its address and next sequence number.
struct Side {
    addr: SocketAddrV4,
    seq: u32,
}

/// Sends `data` from `from` to `to` in segments of at most `mss` bytes.
fn send(pcap: &mut PcapBuilder, from: &mut Side, to: &Side, data: &[u8], mss: usize) {
    for piece in data.chunks(mss) {
        pcap.frame(&eth_ipv4_tcp(
            from.addr,
            to.addr,
            from.seq,
            to.seq,
            ACK | PSH,
            piece,
        ));
        from.seq = from.seq.wrapping_add(piece.len() as u32);
    }
}

fn handshake(pcap: &mut PcapBuilder, client: &mut Side, server: &mut Side) {
    pcap.frame(&eth_ipv4_tcp(
        client.addr,
        server.addr,
        client.seq,
        0,
        SYN,
        b"",
    ));
    client.seq += 1;
    pcap.frame(&eth_ipv4_tcp(
        server.addr,
        client.addr,
        server.seq,
        client.seq,
        SYN | ACK,
        b"",
    ));
    server.seq += 1;
}

#[test]
fn requests_and_responses_come_out_paired_in_order() {
    let page = b"<html>".repeat(300);
    let gz = gzip(&page);
    let mut pcap = PcapBuilder::new(1);
    let server_addr: SocketAddrV4 = "10.0.0.2:80".parse().unwrap();

    // A connection seen from its handshake: a request and its gzip answer, a HEAD, then two
    // pipelined requests answered chunked and 304, then the client closes.
    let mut client = Side {
        addr: "10.0.0.1:40000".parse().unwrap(),
        seq: 1000,
    };
    let mut server = Side {
        addr: server_addr,
        seq: 5000,
    };
    handshake(&mut pcap, &mut client, &mut server);
    send(
        &mut pcap,
        &mut client,
        &server,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
        1460,
    );
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gz.len()
    );
    send(
        &mut pcap,
        &mut server,
        &client,
        &[head.as_bytes(), &gz].concat(),
        100,
    );
    send(
        &mut pcap,
        &mut client,
        &server,
        b"HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n",
        1460,
    );
    send(
        &mut pcap,
        &mut server,
        &client,
        b"HTTP/1.1 200 OK\r\nContent-Length: 1800\r\n\r\n",
        1460,
    );
    send(
        &mut pcap,
        &mut client,
        &server,
        b"GET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n",
        1460,
    );
    send(
        &mut pcap,
        &mut server,
        &client,
        b"HTTP/1.1 302 Found\r\nLocation: /e\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n",
        7,
    );
    pcap.frame(&eth_ipv4_tcp(
        client.addr,
        server.addr,
        client.seq,
        server.seq,
        FIN | ACK,
        b"",
    ));

    // A connection already open when capture started: its response answers a request that
    // was never seen, and the request after it is never paired.
    let mut late = Side {
        addr: "10.0.0.3:40001".parse().unwrap(),
        seq: 9000,
    };
    let mut late_server = Side {
        addr: server_addr,
        seq: 7000,
    };
    send(
        &mut pcap,
        &mut late_server,
        &late,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        1460,
    );
    send(
        &mut pcap,
        &mut late,
        &late_server,
        b"GET /f HTTP/1.1\r\n\r\n",
        1460,
    );

    let dir = Scratch::new("responses");
    let file = dir.join("both.pcap");
    pcap.write(&file);
    let config = CaptureConfig::new(Input::File {
        path: file,
        port: 80,
    });
    let stats = CaptureStats::default();
    let mut events = Vec::new();
    run_with_responses(
        &config,
        &ResponseConfig::default(),
        &AtomicBool::new(false),
        &stats,
        &mut |c| {
            events.push(match c {
                Captured::Request(r) => format!("request {} {} {}", r.id, r.method, r.target),
                Captured::Response(r) => format!(
                    "response {:?} {} {} {} {:?} {:?} {:?}",
                    r.request_id,
                    r.status,
                    r.body.decoded_len,
                    r.body.hash
                        == xxh3_64(if r.status == 200 && r.body.decoded_len > 2 {
                            &page
                        } else {
                            b"abc"
                        }),
                    r.content_type.as_deref().map(String::from_utf8_lossy),
                    r.location.as_deref().map(String::from_utf8_lossy),
                    r.latency_ns.map(|ns| ns / 1_000_000),
                ),
            });
        },
    )
    .unwrap();
    // One frame a millisecond: an answer's first segment is the frame after its request.
    assert_eq!(
        events,
        [
            "request 1 GET /a",
            "response Some(1) 200 1800 true Some(\"text/html\") None Some(1)",
            "request 2 HEAD /b",
            "response Some(2) 200 0 false None None Some(1)",
            "request 3 GET /c",
            "request 4 GET /d",
            "response Some(3) 302 3 true None Some(\"/e\") Some(1)",
            // Its first byte comes in the twelfth 7-byte segment of the server's answers.
            "response Some(4) 304 0 false None None Some(12)",
            "response None 200 2 false None None None",
            "request 5 GET /f",
        ]
    );
    let count = |c: &std::sync::atomic::AtomicU64| c.load(Relaxed);
    assert_eq!((count(&stats.requests), count(&stats.responses)), (5, 5));
    assert_eq!(
        (
            count(&stats.responses_unpaired),
            count(&stats.responses_missing)
        ),
        (1, 1)
    );
    assert_eq!(
        (
            count(&stats.responses_cut),
            count(&stats.response_framing_errors)
        ),
        (0, 0)
    );

    // The request-only path on the same file: the same requests, no response counted.
    let only = CaptureStats::default();
    let mut requests = Vec::new();
    run(&config, &AtomicBool::new(false), &only, &mut |r| {
        requests.push(r.id)
    })
    .unwrap();
    assert_eq!(requests, [1, 2, 3, 4, 5]);
    assert_eq!(
        (count(&only.responses), count(&only.response_streams)),
        (0, 0)
    );
}
