//! Framing and fidelity cases from one issue, as synthetic captures run through the real
//! binary with `-output-stdout`: a `Transfer-Encoding` list over two lines, header lines kept
//! byte for byte, no request smuggled out of a body after a framing error, and request-targets
//! that fit no form of RFC 9112 §3.2. Each asserts the exact records (bytes, where they matter).

use crate::util::tcp_flags::{ACK, PSH, SYN};
use crate::util::*;
use std::net::SocketAddrV4;

fn client() -> SocketAddrV4 {
    "10.0.0.1:40000".parse().unwrap()
}
fn server() -> SocketAddrV4 {
    "10.0.0.2:80".parse().unwrap()
}

/// Flags that let POST through as well.
const WITH_POST: &[&str] = &[
    "-http-allow-method",
    "POST",
    "-http-allow-method",
    "GET",
    "--allow-unsafe-methods",
];

/// One client connection carrying `stream` (in two segments, cut at `cut`) through the binary.
fn replay_stream(stream: &[u8], cut: usize, extra: &[&str]) -> Vec<Record> {
    replay_streams(&[(client(), stream)], cut, extra)
}

/// One connection per `(client, stream)`, one after the other, each in two segments.
fn replay_streams(streams: &[(SocketAddrV4, &[u8])], cut: usize, extra: &[&str]) -> Vec<Record> {
    let mut pcap = PcapBuilder::new(1);
    for &(client, stream) in streams {
        pcap.frame(&eth_ipv4_tcp(client, server(), 0, 0, SYN, b""));
        let cut = cut.min(stream.len());
        let (first, rest) = stream.split_at(cut);
        pcap.frame(&eth_ipv4_tcp(client, server(), 1, 1, ACK | PSH, first));
        if !rest.is_empty() {
            pcap.frame(&eth_ipv4_tcp(
                client,
                server(),
                1 + cut as u32,
                1,
                ACK | PSH,
                rest,
            ));
        }
    }
    let dir = Scratch::new("framing");
    let file = dir.join("case.pcap");
    pcap.write(&file);
    replay_pcap_file(&file, 80, extra)
}

fn lines(records: &[Record]) -> Vec<String> {
    records.iter().map(Record::request_line).collect()
}

/// The record's payload as text (the requests here are ASCII).
fn text(record: &Record) -> String {
    String::from_utf8_lossy(&record.payload).into_owned()
}

#[test]
fn transfer_encoding_over_two_lines_is_one_list() {
    let _processes = lock::processes();
    let stream = b"POST /te HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    let records = replay_stream(stream, 40, WITH_POST);
    assert_eq!(lines(&records), ["POST /te", "GET /next"]);
    let post = text(&records[0]);
    assert!(
        post.ends_with("\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        "chunked body not framed: {post:?}"
    );
}

#[test]
fn request_targets_of_no_form_are_filtered() {
    let _processes = lock::processes();
    let stream = b"GET zxc HTTP/1.1\r\nHost: a\r\n\r\n\
        OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n\
        GET * HTTP/1.1\r\nHost: a\r\n\r\n\
        GET http://a/abs HTTP/1.1\r\nHost: a\r\n\r\n\
        GET /ok HTTP/1.1\r\nHost: a\r\n\r\n";
    let records = replay_stream(stream, 20, &[]);
    assert_eq!(
        lines(&records),
        ["OPTIONS *", "GET http://a/abs", "GET /ok"]
    );
}

#[test]
fn header_lines_are_replayed_byte_for_byte() {
    let _processes = lock::processes();
    let head = "POST /b HTTP/1.1\r\nHost:  a\r\nContent-Length:7\r\nX-Trail: v \t \r\nX-Empty:\r\nCookie:\r\nX-Mid:a  \t b\t\r\n";
    let stream = format!("{head}\r\nabcdefg");
    let records = replay_stream(
        stream.as_bytes(),
        30,
        &[WITH_POST, &["--keep-credentials"]].concat(),
    );
    assert_eq!(records.len(), 1);
    assert_eq!(
        text(&records[0]),
        format!("{head}X-Replayed-By: replayer\r\n\r\nabcdefg")
    );
    // A header a rewrite sets is written anew; the others stay as they were.
    let records = replay_stream(
        stream.as_bytes(),
        30,
        &[WITH_POST, &["-http-set-header", "X-Trail: new"]].concat(),
    );
    assert_eq!(
        text(&records[0]),
        "POST /b HTTP/1.1\r\nHost:  a\r\nContent-Length:7\r\nX-Trail: new\r\nX-Empty:\r\nX-Mid:a  \t b\t\r\nX-Replayed-By: replayer\r\n\r\nabcdefg"
    );
}

/// nginx answers a folded header line with 400 and closes the connection: the `GET /bye` in
/// the POST's body was never served, nor anything after it on that connection.
#[test]
fn nothing_is_replayed_from_a_connection_after_a_framing_error() {
    let _processes = lock::processes();
    let body = "GET /bye HTTP/1.1\r\nHost: a\r\nX: 123\r\n\r\n";
    assert_eq!(body.len(), 38);
    let smuggling = format!(
        "GET /first HTTP/1.1\r\nHost: a\r\n\r\n\
         POST /p HTTP/1.1\r\nHost: a\r\nFoo: bar\r\n Content-Length: 38\r\n\r\n{body}\
         GET /after HTTP/1.1\r\nHost: a\r\n\r\n"
    );
    let other: SocketAddrV4 = "10.0.0.3:40001".parse().unwrap();
    let records = replay_streams(
        &[
            (client(), smuggling.as_bytes()),
            (other, b"GET /other HTTP/1.1\r\nHost: a\r\n\r\n"),
        ],
        60,
        WITH_POST,
    );
    assert_eq!(lines(&records), ["GET /first", "GET /other"]);
    // Bare LF line ends are not an error: nginx takes them (RFC 9112 §2.2 lets it).
    let records = replay_stream(
        b"GET /lf HTTP/1.1\nHost: a\n\nGET /lf2 HTTP/1.1\r\nHost: a\n\r\n",
        10,
        &[],
    );
    assert_eq!(lines(&records), ["GET /lf", "GET /lf2"]);
}
