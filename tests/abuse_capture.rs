//! Abuse of the capture side, through the real daemon: synthetic captures (`-input-raw
//! FILE:PORT`) replayed to a real nginx, with the reassembly caps set small on the command
//! line (`--max-streams`, `--max-stream-bytes`, `--max-buffered-bytes`).
//!
//! What must hold each time: the daemon's peak memory (VmHWM, read from /proc while it is up)
//! stays within its caps, what was dropped is counted exactly in the status document
//! (`capture.dropped_over_cap`, `capture.requests_cut`), the good requests interleaved with
//! the abuse all reach staging, and the daemon recovers once the abuse stops.

use crate::util::*;
use replayer_status::StatusDocument;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::time::Duration;

const PORT: u16 = 80;

fn server() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), PORT)
}

/// A distinct client address per `n` (10.100.0.0/16 and up, port 40000 + n % 20000).
fn client(n: u32) -> SocketAddrV4 {
    let host = 0x0a64_0000u32 + n / 20_000 * 256 + 1;
    SocketAddrV4::new(Ipv4Addr::from(host), 40_000 + (n % 20_000) as u16)
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: www.example\r\nUser-Agent: abuse-test\r\n\r\n")
        .into_bytes()
}

/// Runs the daemon on `pcap` until every one of its `frames` has been captured and every
/// queued request has an outcome; returns the document and the peak RSS, then stops it.
fn run_daemon(
    dir: &Path,
    pcap: &Path,
    staging: &str,
    frames: u64,
    extra: &[&str],
) -> (StatusDocument, u64) {
    let input = format!("-input-raw={}:{PORT}", pcap.display());
    let output = format!("-output-http={staging}");
    let mut args = vec![input.as_str(), output.as_str(), "-exit-after=60s"];
    args.extend_from_slice(extra);
    let mut daemon = DaemonProcess::spawn(dir, &args);
    let doc = daemon.wait_for(Duration::from_secs(30), "the whole file captured", |d| {
        d.capture.packets == frames && d.requests.replayed + d.requests.failed == d.requests.queued
    });
    let peak = proc_memory_bytes(daemon.pid(), "VmHWM");
    // The figures are final: read them once more after the peak.
    let doc = daemon.status().unwrap_or(doc);
    eprintln!(
        "{}: peak RSS {} KB, capture {:?}, requests {:?}",
        pcap.display(),
        peak >> 10,
        doc.capture,
        doc.requests
    );
    assert_eq!(daemon.terminate(), Some(0), "{}", daemon.stderr_text());
    (doc, peak)
}

#[test]
fn syn_flood_and_many_tiny_streams_are_capped_counted_and_good_requests_flow() {
    let _processes = lock::processes();
    let scratch = Scratch::new("abuse-syn");
    let staging = Nginx::start(&scratch.join("staging"), "");
    let mut pcap = PcapBuilder::new(1);
    // A real client's keep-alive connection, open before the flood.
    let mut good = SyntheticConnection::open(&mut pcap, client(999_999), server());
    let mut sent_good = 0;
    // 3,000 SYNs from 3,000 sources that never send a byte ...
    for n in 0..3_000 {
        let c = client(n);
        pcap.frame(&eth_ipv4_tcp(c, server(), 7, 0, tcp_flags::SYN, b""));
        if n % 500 == 0 {
            good.send(&mut pcap, &get(&format!("/good/{sent_good}")), 1460);
            sent_good += 1;
        }
    }
    // A new client while the flood holds its three quarters: its SYN is refused, its
    // request gets a stream of the last quarter (and is framed from its request line).
    let mut during = SyntheticConnection::open(&mut pcap, client(777_777), server());
    during.send(&mut pcap, &get("/during-the-flood"), 1460);
    during.close(&mut pcap);
    // ... then 3,000 connections (no handshake seen) sending one byte each.
    for n in 3_000..6_000 {
        let c = client(n);
        pcap.frame(&eth_ipv4_tcp(c, server(), 7, 1, tcp_flags::ACK, b"G"));
        if n % 500 == 0 {
            good.send(&mut pcap, &get(&format!("/good/{sent_good}")), 1460);
            sent_good += 1;
        }
    }
    // The flood stops; 15 s later (past -input-raw-expire) a new client comes.
    pcap.skip_time(15_000_000);
    let mut after = SyntheticConnection::open(&mut pcap, client(888_888), server());
    after.send(&mut pcap, &get("/after-the-flood"), 1460);
    after.close(&mut pcap);
    let file = scratch.join("flood.pcap");
    pcap.write(&file);

    let (doc, peak) = run_daemon(
        scratch.path(),
        &file,
        &staging.url(),
        pcap.frame_count(),
        &["--max-streams=1000", "-input-raw-expire=10s"],
    );
    // The table holds 1,000 streams; handshake-only ones may take 750 of them. The good
    // connection took one: 749 SYNs admitted, 2,251 refused. The client during the flood:
    // SYN refused (1), its request admitted, its stream forgotten once closed. The one-byte
    // streams fill the last 250 places, 2,750 refused. (Without the quarter kept for
    // connections that send data: 2,001 + 2 + 3,000, and /during-the-flood lost.)
    assert_eq!(doc.capture.dropped_over_cap, 2_251 + 1 + 2_750, "{doc:#?}");
    assert_eq!(sent_good, 12);
    assert_eq!(doc.requests.seen, 14, "{doc:#?}");
    assert_eq!((doc.requests.replayed, doc.requests.failed), (14, 0));
    let log = staging.wait_for_log(14, Duration::from_secs(5));
    let mut uris: Vec<String> = log.iter().map(|l| l.uri.clone()).collect();
    uris.sort();
    let mut want: Vec<String> = (0..12).map(|i| format!("/good/{i}")).collect();
    want.push("/during-the-flood".into());
    want.push("/after-the-flood".into());
    want.sort();
    assert_eq!(uris, want);
    // 1,000 streams of a few hundred bytes each: far under the default 32 MB buffer cap;
    // the whole daemon (runtime, TLS roots, 8 workers) stays under 64 MB.
    assert!(peak < 64 << 20, "peak RSS {} MB", peak >> 20);
}

#[test]
fn megabyte_headers_and_endless_chunked_bodies_are_cut_within_the_caps() {
    let _processes = lock::processes();
    let scratch = Scratch::new("abuse-big");
    let staging = Nginx::start(&scratch.join("staging"), "");
    let caps = [
        "--max-stream-bytes=256kb",
        "--max-buffered-bytes=2mb",
        "-output-http-workers=2",
    ];

    // Baseline: the same daemon on the good requests alone.
    let good_only = |pcap: &mut PcapBuilder| {
        let mut good = SyntheticConnection::open(pcap, client(999_999), server());
        for i in 0..4 {
            good.send(pcap, &get(&format!("/good/{i}")), 1460);
        }
        good
    };
    let mut pcap = PcapBuilder::new(1);
    good_only(&mut pcap).close(&mut pcap);
    let base_file = scratch.join("base.pcap");
    pcap.write(&base_file);
    let (base_doc, base_peak) = run_daemon(
        &scratch.join("base"),
        &base_file,
        &staging.url(),
        pcap.frame_count(),
        &caps,
    );
    assert_eq!(base_doc.requests.replayed, 4);

    // 8 clients sending a 3 MB header that never ends, 8 sending a GET with a chunked body
    // that never ends (3 MB of 4 KB chunks), interleaved segment by segment, with good
    // requests in between: 48 MB that an uncapped daemon would hold.
    let mut pcap = PcapBuilder::new(1);
    let mut good = good_only(&mut pcap);
    let mut abusers: Vec<(SyntheticConnection, Vec<u8>)> = (0..16)
        .map(|n| {
            let conn = SyntheticConnection::open(&mut pcap, client(n), server());
            let mut data = if n < 8 {
                b"GET /huge-header HTTP/1.1\r\nHost: www.example\r\nX-Big: ".to_vec()
            } else {
                b"GET /endless HTTP/1.1\r\nHost: www.example\r\nTransfer-Encoding: chunked\r\n\r\n"
                    .to_vec()
            };
            while data.len() < 3 << 20 {
                if n < 8 {
                    data.extend_from_slice(&[b'a'; 4096]);
                } else {
                    data.extend_from_slice(b"1000\r\n");
                    data.extend_from_slice(&[b'b'; 4096]);
                    data.extend_from_slice(b"\r\n");
                }
            }
            (conn, data)
        })
        .collect();
    const SEGMENT: usize = 16 * 1024;
    let mut offset = 0;
    let mut sent_good = 4;
    while offset < 3 << 20 {
        for (conn, data) in &mut abusers {
            let end = (offset + SEGMENT).min(data.len());
            if offset < end {
                conn.send(&mut pcap, &data[offset..end], SEGMENT);
            }
        }
        if offset % (512 * 1024) == 0 {
            good.send(&mut pcap, &get(&format!("/good/{sent_good}")), 1460);
            sent_good += 1;
        }
        offset += SEGMENT;
    }
    good.close(&mut pcap);
    // The abusers go quiet; a new client afterwards is served as usual.
    let mut after = SyntheticConnection::open(&mut pcap, client(888_888), server());
    after.send(&mut pcap, &get("/after"), 1460);
    after.close(&mut pcap);
    let file = scratch.join("big.pcap");
    pcap.write(&file);
    drop(abusers);

    let (doc, peak) = run_daemon(
        &scratch.join("abuse"),
        &file,
        &staging.url(),
        pcap.frame_count(),
        &caps,
    );
    // Each of the 16 requests is cut once (a head over 64 KB, a body over 256 KB) and the
    // rest of its stream skipped: nothing half is ever replayed.
    assert_eq!(doc.capture.requests_cut, 16, "{doc:#?}");
    assert_eq!(doc.capture.dropped_over_cap, 16, "{doc:#?}");
    assert_eq!(sent_good, 4 + 6);
    assert_eq!(doc.requests.seen, 11, "{doc:#?}");
    assert_eq!(doc.requests.replayed, 11);
    let log = staging.wait_for_log(4 + 11, Duration::from_secs(5));
    assert_eq!(
        log.len(),
        15,
        "the baseline's 4, then 10 good ones and /after"
    );
    assert!(log
        .iter()
        .all(|l| l.uri.starts_with("/good/") || l.uri == "/after"));
    // 48 MB went by; the daemon held at most its 2 MB buffer cap more than the baseline
    // (plus 8 MB of allocator and libpcap slack).
    let grown = peak.saturating_sub(base_peak);
    assert!(
        grown < (2 << 20) + (8 << 20),
        "peak RSS {} MB against {} MB for the good requests alone",
        peak >> 20,
        base_peak >> 20
    );
}

#[test]
fn a_capture_file_with_an_absurd_record_length_ends_cleanly_after_its_good_requests() {
    let _processes = lock::processes();
    let scratch = Scratch::new("abuse-len");
    let staging = Nginx::start(&scratch.join("staging"), "");
    let mut pcap = PcapBuilder::new(1);
    let mut good = SyntheticConnection::open(&mut pcap, client(1), server());
    for i in 0..5 {
        good.send(&mut pcap, &get(&format!("/before/{i}")), 1460);
    }
    good.close(&mut pcap);
    let mut bytes = pcap.bytes().to_vec();
    // A record header claiming 4 GB (caplen and len 0xfffffff0), then a few bytes.
    bytes.extend_from_slice(&1_700_000_100u32.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    bytes.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 64]);
    let file = scratch.join("absurd.pcap");
    std::fs::write(&file, &bytes).unwrap();

    let out = run_with_timeout(
        std::process::Command::new(bin("replayer"))
            .arg(format!("-input-raw={}:{PORT}", file.display()))
            .arg(format!("-output-http={}", staging.url()))
            .arg("--status-socket")
            .arg(scratch.join("status.sock"))
            .arg("--sync-flag")
            .arg(scratch.join("no-flag")),
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains("absurd.pcap"), "{stderr}");
    let log = staging.wait_for_log(5, Duration::from_secs(5));
    let mut uris: Vec<String> = log.iter().map(|l| l.uri.clone()).collect();
    uris.sort();
    let want: Vec<String> = (0..5).map(|i| format!("/before/{i}")).collect();
    assert_eq!(uris, want);
}
