//! The hard cases of TCP reassembly and HTTP framing, as synthetic packet sequences written to
//! pcap files and run through the real binary (`-input-raw FILE:80 -input-raw-engine pcap_file
//! -output-stdout`). Each asserts the exact requests printed.

use crate::util::tcp_flags::{ACK, FIN, PSH, RST, SYN};
use crate::util::*;
use replayer::capture::source::build_filter;
use std::net::{SocketAddrV4, SocketAddrV6};
use std::path::Path;

const CLIENT: &str = "10.0.0.1:40000";
const SERVER: &str = "10.0.0.2:80";

fn client() -> SocketAddrV4 {
    CLIENT.parse().unwrap()
}
fn server() -> SocketAddrV4 {
    SERVER.parse().unwrap()
}

/// A client segment carrying `data` at sequence number `seq`.
fn c(seq: u32, data: &[u8]) -> Vec<u8> {
    eth_ipv4_tcp(client(), server(), seq, 1, ACK | PSH, data)
}
/// A server segment.
fn s(seq: u32, ack: u32, flags: u8, data: &[u8]) -> Vec<u8> {
    eth_ipv4_tcp(server(), client(), seq, ack, flags, data)
}

/// Runs the binary on `pcap`; returns the records it printed.
fn replay(pcap: &PcapBuilder, extra: &[&str]) -> Vec<Record> {
    let dir = Scratch::new("synthetic");
    let file = dir.join("case.pcap");
    pcap.write(&file);
    replay_pcap_file(&file, 80, extra)
}

/// Flags that let POST through as well, to see the bodies the framer kept.
const WITH_POST: &[&str] = &[
    "-http-allow-method",
    "POST",
    "-http-allow-method",
    "GET",
    "--allow-unsafe-methods",
];

fn lines(records: &[Record]) -> Vec<String> {
    records.iter().map(Record::request_line).collect()
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: example.org\r\nUser-Agent: synthetic\r\n\r\n")
        .into_bytes()
}

/// Cuts `stream` at `cuts` into (offset, bytes) pieces.
fn pieces(stream: &[u8], cuts: &[usize]) -> Vec<(usize, Vec<u8>)> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(stream.len());
    bounds
        .windows(2)
        .map(|w| (w[0], stream[w[0]..w[1]].to_vec()))
        .collect()
}

#[test]
fn sequence_numbers_wrapping_past_2_pow_32() {
    let _processes = lock::processes();
    let isn = 0xFFFF_FFE0u32;
    let stream = [get("/before-wrap"), get("/after-wrap")].concat();
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), isn, 0, SYN, b""));
    // Pieces of 23 bytes: one of them straddles the wrap from 0xFFFFFFFF to 0.
    for (offset, piece) in stream.chunks(23).enumerate() {
        let seq = isn.wrapping_add(1).wrapping_add((offset * 23) as u32);
        pcap.frame(&c(seq, piece));
    }
    assert_eq!(
        lines(&replay(&pcap, &[])),
        ["GET /before-wrap", "GET /after-wrap"]
    );
}

#[test]
fn reordered_overlapping_and_duplicated_segments() {
    let _processes = lock::processes();
    let stream = [get("/one"), get("/two"), get("/three")].concat();
    let isn = 1000u32;
    let seq = |offset: usize| isn + 1 + offset as u32;
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), isn, 0, SYN, b""));
    // Backwards, in pieces of 17 ...
    let mut parts = pieces(
        &stream,
        &(1..stream.len() / 17).map(|i| i * 17).collect::<Vec<_>>(),
    );
    parts.reverse();
    for (offset, piece) in &parts {
        pcap.frame(&c(seq(*offset), piece));
    }
    // ... then segments overlapping what is there, and exact duplicates.
    pcap.frame(&c(seq(10), &stream[10..60]));
    pcap.frame(&c(seq(0), &stream[0..17]));
    pcap.frame(&c(seq(5), &stream[5..stream.len()]));
    assert_eq!(
        lines(&replay(&pcap, &[])),
        ["GET /one", "GET /two", "GET /three"]
    );
}

#[test]
fn a_gap_mid_request_loses_that_request_only() {
    let _processes = lock::processes();
    let (one, two, three) = (get("/1"), get("/2"), get("/3"));
    let isn = 5u32;
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), isn, 0, SYN, b""));
    let mut offset = 1u32;
    for (request, lose_middle) in [(&one, false), (&two, true), (&three, false)] {
        // Each request in three segments; the middle one of /2 never shows up.
        for (at, piece) in pieces(request, &[10, 20]) {
            if !(lose_middle && at == 10) {
                pcap.frame(&c(isn + offset + at as u32, &piece));
            }
        }
        offset += request.len() as u32;
    }
    assert_eq!(lines(&replay(&pcap, &[])), ["GET /1", "GET /3"]);
}

#[test]
fn expect_100_continue_body_is_framed_not_mistaken_for_a_request() {
    let _processes = lock::processes();
    // The body looks like a request: were it not framed as a body, /inside-body would appear.
    let body = b"GET /inside-body HTTP/1.1\r\n\r\n";
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: example.org\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let after = get("/after");
    let isn = 77u32;
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), isn, 0, SYN, b""));
    pcap.frame(&s(900, isn + 1, SYN | ACK, b""));
    let mut seq = isn + 1;
    pcap.frame(&c(seq, head.as_bytes()));
    seq += head.len() as u32;
    pcap.frame(&s(901, seq, ACK | PSH, b"HTTP/1.1 100 Continue\r\n\r\n"));
    pcap.frame(&c(seq, body));
    seq += body.len() as u32;
    pcap.frame(&c(seq, &after));
    assert_eq!(lines(&replay(&pcap, &[])), ["GET /after"]);
    let records = replay(&pcap, WITH_POST);
    assert_eq!(lines(&records), ["POST /upload", "GET /after"]);
    assert!(
        records[0].payload.ends_with(body)
            || records[0]
                .payload
                .ends_with(&[body.as_slice(), b"\r\n"].concat()),
        "POST body not kept: {:?}",
        String::from_utf8_lossy(&records[0].payload)
    );
}

#[test]
fn chunked_upload_is_decoded_and_the_next_request_found() {
    let _processes = lock::processes();
    let upload = b"POST /chunked HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
    let stream = [upload.to_vec(), get("/next")].concat();
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), 0, 0, SYN, b""));
    for (at, piece) in pieces(&stream, &[30, 75, 80, 90]) {
        pcap.frame(&c(1 + at as u32, &piece));
    }
    assert_eq!(lines(&replay(&pcap, &[])), ["GET /next"]);
    let records = replay(&pcap, WITH_POST);
    assert_eq!(lines(&records), ["POST /chunked", "GET /next"]);
    let payload = String::from_utf8_lossy(&records[0].payload);
    assert!(
        payload.contains("hello, world"),
        "decoded body missing: {payload:?}"
    );
}

#[test]
fn a_capture_starting_mid_request_resumes_at_the_next_request_line() {
    let _processes = lock::processes();
    let whole = [get("/cut"), get("/whole"), get("/also")].concat();
    let start = 9; // the capture begins inside "/cut"'s request line
    let mut pcap = PcapBuilder::new(1);
    for (at, piece) in pieces(&whole[start..], &[20]) {
        pcap.frame(&c(50_000 + at as u32, &piece));
    }
    assert_eq!(lines(&replay(&pcap, &[])), ["GET /whole", "GET /also"]);
}

#[test]
fn retransmission_after_fin_and_port_reuse() {
    let _processes = lock::processes();
    let first = get("/first");
    let second = get("/second");
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), 100, 0, SYN, b""));
    pcap.frame(&c(101, &first));
    let fin_seq = 101 + first.len() as u32;
    pcap.frame(&eth_ipv4_tcp(
        client(),
        server(),
        fin_seq,
        1,
        FIN | ACK,
        b"",
    ));
    // A late copy of the request after the FIN: the same request, not a new one.
    pcap.frame(&c(101, &first));
    // The same 4-tuple reused for a new connection.
    pcap.frame(&eth_ipv4_tcp(client(), server(), 9_000_000, 0, SYN, b""));
    pcap.frame(&c(9_000_001, &second));
    assert_eq!(lines(&replay(&pcap, &[])), ["GET /first", "GET /second"]);
}

#[test]
fn the_last_requests_of_a_file_are_never_lost() {
    let _processes = lock::processes();
    // No FIN, no ACK from the server: the file simply ends after pipelined requests.
    let stream: Vec<u8> = (0..50).flat_map(|i| get(&format!("/tail/{i}"))).collect();
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), 0, 0, SYN, b""));
    pcap.frame(&c(1, &stream));
    let want: Vec<String> = (0..50).map(|i| format!("GET /tail/{i}")).collect();
    assert_eq!(lines(&replay(&pcap, &[])), want);
}

/// `editcap -F FORMAT FROM TO`.
fn editcap(format: &str, from: &Path, to: &Path) {
    let out = std::process::Command::new(require_tool("editcap"))
        .args(["-F", format])
        .arg(from)
        .arg(to)
        .output()
        .expect("editcap");
    assert!(
        out.status.success(),
        "editcap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pcapng_and_nanosecond_pcap_files_read_the_same() {
    let _processes = lock::processes();
    let dir = Scratch::new("formats");
    let stream: Vec<u8> = (0..5).flat_map(|i| get(&format!("/format/{i}"))).collect();
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), 0, 0, SYN, b""));
    for (at, piece) in pieces(&stream, &[40, 100, 101]) {
        pcap.frame(&c(1 + at as u32, &piece));
    }
    let classic = dir.join("classic.pcap");
    pcap.write(&classic);
    let want = replay_pcap_file(&classic, 80, &[]);
    let lines_wanted: Vec<String> = (0..5).map(|i| format!("GET /format/{i}")).collect();
    assert_eq!(lines(&want), lines_wanted);
    // pcapng in microseconds; nanosecond pcap; pcapng in nanoseconds (`if_tsresol` 9) made
    // from it. Every record the same to the byte, its time in the meta line included.
    let nsec = dir.join("converted.nsecpcap");
    editcap("nsecpcap", &classic, &nsec);
    let ng_nsec = dir.join("converted-nsec.pcapng");
    editcap("pcapng", &nsec, &ng_nsec);
    let ng = dir.join("converted.pcapng");
    editcap("pcapng", &classic, &ng);
    for file in [&ng, &nsec, &ng_nsec] {
        assert_eq!(replay_pcap_file(file, 80, &[]), want, "{}", file.display());
    }
}

/// Three connections' requests, interleaved, as a classic pcap, and the number of requests.
fn three_connections() -> (PcapBuilder, usize) {
    let mut pcap = PcapBuilder::new(1);
    let clients: Vec<SocketAddrV4> = (1..=3)
        .map(|i| format!("10.0.0.{i}:4000{i}").parse().unwrap())
        .collect();
    let mut connections: Vec<_> = clients
        .iter()
        .map(|&client| SyntheticConnection::open(&mut pcap, client, server()))
        .collect();
    for round in 0..20 {
        for (i, connection) in connections.iter_mut().enumerate() {
            connection.send(&mut pcap, &get(&format!("/c{i}/{round}")), 50);
        }
    }
    for connection in connections {
        connection.close(&mut pcap);
    }
    (pcap, 60)
}

#[test]
fn a_pcapng_of_two_sections_in_both_byte_orders_and_two_link_types_reads_as_its_pcap() {
    let _processes = lock::processes();
    let dir = Scratch::new("pcapng-sections");
    let (pcap, requests) = three_connections();
    let classic = dir.join("three.pcap");
    pcap.write(&classic);
    let want = replay_pcap_file(&classic, 80, &[]);
    assert_eq!(want.len(), requests);
    // The same frames: the first half in a little-endian section, one Ethernet interface
    // in microseconds; the rest in a big-endian section whose interface 0 is raw IP in
    // nanoseconds and interface 1 Ethernet in microseconds, the frames alternating between
    // them (a raw frame is the Ethernet one without its 14-byte header). Blocks the reader
    // skips in between: a Name Resolution, an Interface Statistics and a custom block.
    // libpcap refuses such a file (another byte order, another link type).
    let records = pcap.records();
    let half = records.len() / 2;
    let mut ng = PcapngBuilder::new();
    ng.section(false).block(4, &[0; 4]).interface(1, 6);
    for &(ts_us, frame) in &records[..half] {
        ng.packet(0, ts_us, frame);
    }
    ng.section(true).interface(101, 9).interface(1, 6);
    for (i, &(ts_us, frame)) in records[half..].iter().enumerate() {
        if i == 7 {
            ng.block(5, &[1; 20]).block(0x0000_0BAD, b"custom");
        }
        match i % 2 {
            0 => ng.packet(0, ts_us * 1_000, &frame[14..]),
            _ => ng.packet(1, ts_us, frame),
        };
    }
    let file = dir.join("three.pcapng");
    ng.write(&file);
    assert_eq!(replay_pcap_file(&file, 80, &[]), want);
}

#[test]
fn a_bpf_filter_on_a_file_keeps_only_what_it_matches_in_either_format() {
    let _processes = lock::processes();
    // Two clients; the filter names one. Both formats are read by our reader, which runs
    // libpcap's compiled filter on each record: both must give the same answer.
    let other: SocketAddrV4 = "10.0.0.9:40001".parse().unwrap();
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), 0, 0, SYN, b""));
    pcap.frame(&eth_ipv4_tcp(other, server(), 0, 0, SYN, b""));
    let (mut seq_a, mut seq_b) = (1u32, 1u32);
    for i in 0..4 {
        let a = get(&format!("/kept/{i}"));
        pcap.frame(&c(seq_a, &a));
        seq_a += a.len() as u32;
        let b = get(&format!("/filtered/{i}"));
        pcap.frame(&eth_ipv4_tcp(other, server(), seq_b, 1, ACK | PSH, &b));
        seq_b += b.len() as u32;
    }
    let dir = Scratch::new("bpf-file");
    let classic = dir.join("two-clients.pcap");
    pcap.write(&classic);
    let want: Vec<String> = (0..4).map(|i| format!("GET /kept/{i}")).collect();
    let filter = ["-input-raw-bpf-filter", "src host 10.0.0.1 and tcp port 80"];
    assert_eq!(lines(&replay_pcap_file(&classic, 80, &filter)), want);
    let unfiltered = lines(&replay_pcap_file(&classic, 80, &[]));
    assert_eq!(unfiltered.len(), 8, "{unfiltered:?}");

    let pcapng = dir.join("two-clients.pcapng");
    editcap("pcapng", &classic, &pcapng);
    assert_eq!(lines(&replay_pcap_file(&pcapng, 80, &filter)), want);

    // A filter libpcap cannot compile is refused before anything is read, in one line, with
    // exit 2, whatever the output: stdout (either file format) or -output-http (the daemon).
    let refused = |file: &Path, output: &[&str]| {
        let out = run_with_timeout(
            std::process::Command::new(bin("replayer"))
                .arg("-input-raw")
                .arg(format!("{}:80", file.display()))
                .args(["-input-raw-engine", "pcap_file"])
                .args(output)
                .args(["-input-raw-bpf-filter", "tcp port banana"])
                .arg("--status-socket")
                .arg(dir.join("status.sock"))
                .arg("--sync-flag")
                .arg(dir.join("no-flag")),
            std::time::Duration::from_secs(30),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("invalid BPF filter \"tcp port banana\""),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    };
    for file in [&classic, &pcapng] {
        refused(file, &["-output-stdout"]);
    }
    refused(&classic, &["-output-http", "http://127.0.0.1:9"]);
}

#[test]
fn a_bpf_filter_on_a_raw_ip_file_is_compiled_for_dlt_raw() {
    let _processes = lock::processes();
    // A file's LINKTYPE_RAW (101) is libpcap's DLT_RAW (12): its filter compiler refuses 101.
    let dir = Scratch::new("bpf-raw");
    let mut pcap = PcapBuilder::new(101);
    let mut ng = PcapngBuilder::new();
    ng.section(false).interface(101, 6);
    let request = get("/raw");
    for frame in [
        eth_ipv4_tcp(client(), server(), 0, 0, SYN, b""),
        c(1, &request),
    ] {
        pcap.frame(&frame[14..]);
    }
    for &(ts_us, frame) in &pcap.records() {
        ng.packet(0, ts_us, frame);
    }
    let (classic, pcapng) = (dir.join("raw.pcap"), dir.join("raw.pcapng"));
    pcap.write(&classic);
    ng.write(&pcapng);
    let filter = ["-input-raw-bpf-filter", "src host 10.0.0.1 and tcp port 80"];
    for file in [&classic, &pcapng] {
        assert_eq!(
            lines(&replay_pcap_file(file, 80, &filter)),
            ["GET /raw"],
            "{}",
            file.display()
        );
    }
}

#[test]
fn a_syn_retried_after_a_stale_state_answer_keeps_its_request() {
    let _processes = lock::processes();
    // The server still holds an old connection on these ports: it answers the SYN with a bare
    // ACK, the client resets, and 3 s later sends the same SYN again (same initial sequence
    // number), which the server now accepts.
    let isn = 4_242u32;
    let request = get("/retried");
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), isn, 0, SYN, b""));
    pcap.frame(&s(777_000, 99_999, ACK, b""));
    pcap.frame(&eth_ipv4_tcp(client(), server(), 99_999, 0, RST, b""));
    pcap.skip_time(3_000_000);
    pcap.frame(&eth_ipv4_tcp(client(), server(), isn, 0, SYN, b""));
    pcap.frame(&s(5_000, isn + 1, SYN | ACK, b""));
    pcap.frame(&eth_ipv4_tcp(client(), server(), isn + 1, 5_001, ACK, b""));
    pcap.frame(&c(isn + 1, &request));
    pcap.frame(&s(
        5_001,
        isn + 1 + request.len() as u32,
        ACK | PSH,
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ));
    assert_eq!(lines(&replay(&pcap, &[])), ["GET /retried"]);
}

#[test]
fn pppoe_session_frames_carrying_ipv4_and_ipv6_are_decoded() {
    let _processes = lock::processes();
    let macs = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    let mut pcap = PcapBuilder::new(1);
    // PPP protocol 0x0021: IPv4.
    pcap.frame(&eth_pppoe_ipv4_tcp(client(), server(), 10, 0, SYN, b""));
    pcap.frame(&eth_pppoe_ipv4_tcp(
        client(),
        server(),
        11,
        1,
        ACK | PSH,
        &get("/pppoe/4"),
    ));
    // PPP protocol 0x0057: IPv6.
    let c6: SocketAddrV6 = "[2001:db8::1]:40006".parse().unwrap();
    let s6: SocketAddrV6 = "[2001:db8::2]:80".parse().unwrap();
    pcap.frame(&pppoe_session(
        &macs,
        0x0057,
        &ipv6_tcp(c6, s6, 20, 0, SYN, b""),
    ));
    pcap.frame(&pppoe_session(
        &macs,
        0x0057,
        &ipv6_tcp(c6, s6, 21, 1, ACK | PSH, &get("/pppoe/6")),
    ));
    // A PPPoE session frame that is no IP (LCP, 0xc021) carries nothing.
    pcap.frame(&pppoe_session(&macs, 0xc021, &[1, 1, 0, 4]));
    let mut got = lines(&replay(&pcap, &[]));
    got.sort();
    assert_eq!(got, ["GET /pppoe/4", "GET /pppoe/6"]);
}

/// One request from `client` to `server` (SYN, then the request), each frame passed through
/// `wrap` (an encapsulation).
fn wrapped_request(
    pcap: &mut PcapBuilder,
    client: SocketAddrV4,
    server: SocketAddrV4,
    path: &str,
    wrap: &dyn Fn(Vec<u8>) -> Vec<u8>,
) {
    pcap.frame(&wrap(eth_ipv4_tcp(client, server, 10, 0, SYN, b"")));
    pcap.frame(&wrap(eth_ipv4_tcp(
        client,
        server,
        11,
        1,
        ACK | PSH,
        &get(path),
    )));
}

#[test]
fn the_default_filter_lets_every_encapsulation_the_decoder_reads_through() {
    let _processes = lock::processes();
    // The live default filter, run (by libpcap, on each record) over a file of requests in
    // every encapsulation: plain, 802.1Q, QinQ, PPPoE (IPv4, IPv6), VXLAN (IPv4, IPv6 inside).
    let macs = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    let outer = |a: u8, b: u8| {
        (
            std::net::Ipv4Addr::new(192, 0, 2, a),
            std::net::Ipv4Addr::new(192, 0, 2, b),
        )
    };
    let (o1, o2) = outer(1, 2);
    let c6: SocketAddrV6 = "[2001:db8::1]:40100".parse().unwrap();
    let s6: SocketAddrV6 = "[2001:db8::2]:80".parse().unwrap();
    let eth6 = |frame: Vec<u8>| [&macs[..], &[0x86, 0xdd], &frame].concat();
    let other_server: SocketAddrV4 = "10.0.0.3:80".parse().unwrap();
    let at = |port: u16| SocketAddrV4::new(*client().ip(), port);
    let mut pcap = PcapBuilder::new(1);
    for (server, tag) in [(server(), ""), (other_server, "elsewhere/")] {
        let path = |p: &str| format!("/{tag}{p}");
        wrapped_request(&mut pcap, at(41000), server, &path("plain"), &|f| f);
        wrapped_request(&mut pcap, at(41001), server, &path("vlan"), &|f| {
            [&f[..12], &[0x81, 0x00, 0x00, 42], &f[12..]].concat()
        });
        wrapped_request(&mut pcap, at(41002), server, &path("qinq"), &|f| {
            [
                &f[..12],
                &[0x88, 0xa8, 0x00, 7, 0x81, 0x00, 0x00, 42],
                &f[12..],
            ]
            .concat()
        });
        wrapped_request(&mut pcap, at(41003), server, &path("pppoe/4"), &|f| {
            pppoe_session(&f[..12], 0x0021, &f[14..])
        });
        wrapped_request(&mut pcap, at(41004), server, &path("vxlan/4"), &|f| {
            vxlan(o1, o2, &f)
        });
    }
    // IPv6 inside PPPoE and inside VXLAN.
    pcap.frame(&pppoe_session(
        &macs,
        0x0057,
        &ipv6_tcp(c6, s6, 20, 0, SYN, b""),
    ));
    pcap.frame(&pppoe_session(
        &macs,
        0x0057,
        &ipv6_tcp(c6, s6, 21, 1, ACK | PSH, &get("/pppoe/6")),
    ));
    let c6b: SocketAddrV6 = "[2001:db8::1]:40101".parse().unwrap();
    pcap.frame(&vxlan(o1, o2, &eth6(ipv6_tcp(c6b, s6, 30, 0, SYN, b""))));
    pcap.frame(&vxlan(
        o1,
        o2,
        &eth6(ipv6_tcp(c6b, s6, 31, 1, ACK | PSH, &get("/vxlan/6"))),
    ));

    let filtered = |host: Option<&str>| {
        let filter = build_filter(host.map(|h| h.parse().unwrap()), 80, 1);
        let mut got = lines(&replay(&pcap, &["-input-raw-bpf-filter", &filter]));
        got.sort();
        got
    };
    let here = ["plain", "pppoe/4", "qinq", "vlan", "vxlan/4"];
    let mut all: Vec<String> = here
        .iter()
        .flat_map(|p| [format!("GET /{p}"), format!("GET /elsewhere/{p}")])
        .chain(["GET /pppoe/6".to_owned(), "GET /vxlan/6".to_owned()])
        .collect();
    all.sort();
    assert_eq!(filtered(None), all);
    // Narrowed to one host, in every encapsulation.
    let mut v4: Vec<String> = here.iter().map(|p| format!("GET /{p}")).collect();
    v4.sort();
    assert_eq!(filtered(Some("10.0.0.2")), v4);
    assert_eq!(
        filtered(Some("2001:db8::2")),
        ["GET /pppoe/6", "GET /vxlan/6"]
    );
}

/// The binary reading `input` (`-`, `/dev/stdin`, a FIFO) with its standard input `stdin`;
/// returns the request lines it printed.
fn replay_stream(input: &str, stdin: std::process::Stdio) -> Vec<String> {
    let out = run_with_timeout_fed(
        std::process::Command::new(bin("replayer"))
            .arg("-input-raw")
            .arg(format!("{input}:80"))
            .arg("-output-stdout"),
        stdin,
        std::time::Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "replayer -input-raw {input}:80: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines(&goreplay_records(&out.stdout))
}

/// The binary reading a pipe as `input` (`-`, `/dev/stdin`) whose other end `tool` (`cat
/// FILE`, `tcpdump -r FILE -w -`) writes into.
fn replay_piped(input: &str, tool: &mut std::process::Command) -> Vec<String> {
    let mut writer = tool
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the writer");
    let pipe = std::process::Stdio::from(writer.stdout.take().expect("its stdout"));
    let got = replay_stream(input, pipe);
    let _ = writer.wait();
    got
}

#[test]
fn a_capture_read_from_a_pipe_a_fifo_or_standard_input() {
    let _processes = lock::processes();
    let dir = Scratch::new("stream");
    let stream: Vec<u8> = (0..40).flat_map(|i| get(&format!("/piped/{i}"))).collect();
    let mut pcap = PcapBuilder::new(1);
    pcap.frame(&eth_ipv4_tcp(client(), server(), 0, 0, SYN, b""));
    for (at, piece) in pieces(&stream, &(1..20).map(|i| i * 97).collect::<Vec<_>>()) {
        pcap.frame(&c(1 + at as u32, &piece));
    }
    let file = dir.join("piped.pcap");
    pcap.write(&file);
    let want: Vec<String> = (0..40).map(|i| format!("GET /piped/{i}")).collect();

    // tcpdump writing to standard output, read as `-`, as the issue has it.
    let tcpdump = require_tool("tcpdump");
    let mut from_tcpdump = std::process::Command::new(&tcpdump);
    from_tcpdump.arg("-r").arg(&file).args(["-w", "-"]);
    assert_eq!(replay_piped("-", &mut from_tcpdump), want, "-");
    // The same bytes as /dev/stdin.
    let mut cat = std::process::Command::new("cat");
    assert_eq!(
        replay_piped("/dev/stdin", cat.arg(&file)),
        want,
        "/dev/stdin"
    );
    // pcapng from a pipe (the sniffed first blocks read again by the reader thread).
    let pcapng = dir.join("piped.pcapng");
    editcap("pcapng", &file, &pcapng);
    let mut cat = std::process::Command::new("cat");
    assert_eq!(replay_piped("-", cat.arg(&pcapng)), want, "pcapng on stdin");
    // A FIFO, written by another process once the replayer opens it.
    let fifo = dir.join("capture.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let mut writer = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("cat '{}' > '{}'", file.display(), fifo.display()))
        .spawn()
        .expect("sh");
    let got = replay_stream(&fifo.display().to_string(), std::process::Stdio::null());
    let _ = writer.wait();
    assert_eq!(got, want, "FIFO");
}
