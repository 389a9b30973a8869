//! GoReplay 1.3's flags on the real binary: the refused ones answer with one line saying why
//! (exit 2, nothing run), and the ones built for GoReplay's users do what GoReplay did, on
//! demo/production.pcap (port 7999, 71 safe requests from 127.0.0.1), on a capture built
//! here, and against two real nginx for `-split-output`.

use crate::util::*;
use std::net::SocketAddrV4;
use std::process::Command;
use std::time::Duration;

fn replayer(args: &[&str]) -> std::process::Output {
    run_with_timeout(
        Command::new(bin("replayer")).args(args),
        Duration::from_secs(30),
    )
}

/// The records `-output-stdout` writes for demo/production.pcap with `extra` flags.
fn demo(extra: &[&str]) -> Vec<Record> {
    replay_pcap_file(&workspace_root().join("demo/production.pcap"), 7999, extra)
}

/// The header lines of a record's request, as written.
fn header_lines(record: &Record) -> Vec<String> {
    let text = String::from_utf8_lossy(&record.payload).into_owned();
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string();
    head.split("\r\n").skip(1).map(str::to_string).collect()
}

#[test]
fn refused_flags_say_why_and_what_instead_in_one_line() {
    let _processes = lock::processes();
    let pcap = workspace_root().join("demo/production.pcap");
    let input = format!("-input-raw={}:7999", pcap.display());
    let cases: [(&[&str], &str); 4] = [
        (
            &["-output-kafka-host", "kafka:9092"],
            "replayer: -output-kafka-host: Kafka is a service this replayer does not use; \
             write GoReplay records with -output-file or -output-stdout",
        ),
        (
            &["--output-http-elasticsearch=es:9200/gor"],
            "replayer: -output-http-elasticsearch: Elasticsearch is a service this replayer \
             does not use; staging's answers are counted in the status document, \
             --metrics-listen and --diff",
        ),
        (
            &["-input-tcp", ":28020"],
            "replayer: -input-tcp: receiving from another GoReplay over its TCP protocol is \
             not supported; run a replayer on each host that sees the traffic",
        ),
        (
            &["-input-raw-allow-incomplete"],
            "replayer: -input-raw-allow-incomplete: a request with missing packets is never \
             written or replayed (a cut request could do anything on staging); such requests \
             are counted in the status document",
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec![input.as_str(), "-output-stdout"];
        args.extend_from_slice(flags);
        let out = replayer(&args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        assert!(out.stdout.is_empty(), "{flags:?}: nothing ran");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{expected}\n")
        );
    }
    // Every one of the table, the same way.
    for (flag, why) in replayer::config::goreplay::REFUSED {
        let out = replayer(&[&input, "-output-stdout", &format!("-{flag}=x")]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("replayer: -{flag}: {why}\n")
        );
    }
    // A value GoReplay had that is refused, named by its flag.
    let out = replayer(&[&input, "-output-stdout", "-input-raw-protocol", "binary"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "replayer: input-raw-protocol: 'binary' is not supported: only http (HTTP/1.x) is \
         captured and replayed\n"
    );
}

#[test]
fn accepted_for_compatibility_flags_change_nothing() {
    let _processes = lock::processes();
    let plain = demo(&[]);
    let with = demo(&[
        "-input-raw-buffer-timeout=10ms",
        "-input-raw-timestamp-type=go",
        "-input-raw-stats",
        "-input-raw-protocol=http",
        "-output-http-compatibility-mode",
        "-output-http-debug",
        "-output-http-response-buffer=1mb",
        "-output-http-stats-ms=1000",
        "-output-http-worker-timeout=2s",
    ]);
    assert_eq!(plain.len(), 71);
    assert_eq!(with, plain);
}

#[test]
fn realip_header_carries_each_clients_address() {
    let _processes = lock::processes();
    let records = demo(&["-input-raw-realip-header", "X-Real-IP"]);
    assert_eq!(records.len(), 71);
    for record in &records {
        let real: Vec<String> = header_lines(record)
            .into_iter()
            .filter(|h| h.starts_with("X-Real-IP"))
            .collect();
        assert_eq!(real, ["X-Real-IP: 127.0.0.1"], "{}", record.request_line());
    }
    // The header is there before the filters look: a filter on it sees every request.
    let allowed = demo(&[
        "-input-raw-realip-header=X-Real-IP",
        "-http-allow-header=X-Real-IP: ^127\\.",
    ]);
    assert_eq!(allowed.len(), 71);
    let refused = demo(&[
        "-input-raw-realip-header=X-Real-IP",
        "-http-disallow-header=X-Real-IP: ^127\\.",
    ]);
    assert_eq!(refused.len(), 0);
}

#[test]
fn param_limiter_keeps_a_fixed_share_of_a_parameters_values() {
    let _processes = lock::processes();
    // FNV-1a 32 of "1", "2", "3", "4" modulo 100: 44, 1, 82, 87. At 50%, pages 1 and 2 are
    // kept, 3 and 4 dropped; requests without `page` are all kept.
    let records = demo(&["-http-param-limiter", "page: 50%"]);
    assert_eq!(records.len(), 69);
    let pages: Vec<String> = records
        .iter()
        .map(Record::request_line)
        .filter(|line| line.contains("page="))
        .collect();
    assert_eq!(
        pages,
        [
            "GET /government/publications/budget-2026?page=1",
            "GET /government/publications/budget-2026?page=2"
        ]
    );
    // "tax" hashes to 70: the four HEAD /search/all?keywords=tax&... go at 70%, stay at 71%.
    assert_eq!(demo(&["-http-param-limiter=keywords: 70%"]).len(), 67);
    assert_eq!(demo(&["-http-param-limiter=keywords: 71%"]).len(), 71);
}

#[test]
fn rewrite_header_rewrites_every_match_with_groups() {
    let _processes = lock::processes();
    let records = demo(&[
        "-http-rewrite-header",
        "Host: ^127\\.0\\.0\\.1:(\\d+)$,staging.example:$1",
    ]);
    assert_eq!(records.len(), 71);
    for record in &records {
        let hosts: Vec<String> = header_lines(record)
            .into_iter()
            .filter(|h| h.to_ascii_lowercase().starts_with("host:"))
            .collect();
        assert_eq!(hosts, ["Host: staging.example:7999"]);
    }
}

/// A capture of four requests to port 8080: Basic credentials of `customer1:pw`, of
/// `admin:pw`, none, and a chunked, gzip-encoded POST of `hello, staging`.
fn credentials_and_encodings_pcap(path: &std::path::Path) {
    let server: SocketAddrV4 = "10.0.0.2:8080".parse().unwrap();
    let mut pcap = PcapBuilder::new(1);
    let mut connection =
        SyntheticConnection::open(&mut pcap, "10.0.0.1:40000".parse().unwrap(), server);
    connection.send(
        &mut pcap,
        b"GET /customer HTTP/1.1\r\nHost: h\r\nAuthorization: Basic Y3VzdG9tZXIxOnB3\r\n\r\n\
          GET /admin HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YWRtaW46cHc=\r\n\r\n\
          GET /anonymous HTTP/1.1\r\nHost: h\r\n\r\n",
        1400,
    );
    let body = gzip(b"hello, staging");
    let mut post = format!(
        "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\
         Content-Encoding: gzip\r\n\r\n{:x}\r\n",
        body.len()
    )
    .into_bytes();
    post.extend_from_slice(&body);
    post.extend_from_slice(b"\r\n0\r\n\r\n");
    connection.send(&mut pcap, &post, 1400);
    connection.close(&mut pcap);
    pcap.write(path);
}

#[test]
fn basic_auth_filter_and_prettify_http_on_a_built_capture() {
    let _processes = lock::processes();
    let scratch = Scratch::new("goreplay-flags");
    let pcap = scratch.join("encodings.pcap");
    credentials_and_encodings_pcap(&pcap);
    let unsafe_too = [
        "-http-allow-method=GET",
        "-http-allow-method=POST",
        "--allow-unsafe-methods",
    ];
    let run = |extra: &[&str]| {
        let mut args = unsafe_too.to_vec();
        args.extend_from_slice(extra);
        replay_pcap_file(&pcap, 8080, &args)
    };

    let all = run(&[]);
    let lines: Vec<String> = all.iter().map(Record::request_line).collect();
    assert_eq!(
        lines,
        [
            "GET /customer",
            "GET /admin",
            "GET /anonymous",
            "POST /upload"
        ]
    );
    // Without -prettify-http the POST is written chunked and gzip-encoded, as captured.
    assert!(header_lines(&all[3]).contains(&"Transfer-Encoding: chunked".to_string()));
    assert!(header_lines(&all[3]).contains(&"Content-Encoding: gzip".to_string()));

    // The credentials are checked before they are stripped: admin's request goes, the one
    // without Basic credentials stays.
    let filtered = run(&["-http-basic-auth-filter", "^customer[0-9]:"]);
    let lines: Vec<String> = filtered.iter().map(Record::request_line).collect();
    assert_eq!(lines, ["GET /customer", "GET /anonymous", "POST /upload"]);
    assert_eq!(
        header_lines(&filtered[0]),
        ["Host: h", "X-Replayed-By: replayer"]
    );
    assert_eq!(
        run(&[
            "-http-basic-auth-filter=^customer",
            "-http-basic-auth-filter=:nope$"
        ])
        .len(),
        2,
        "every regex must match"
    );

    let pretty = run(&["-prettify-http"]);
    assert_eq!(
        String::from_utf8_lossy(&pretty[3].payload),
        "POST /upload HTTP/1.1\r\nContent-Length: 14\r\nHost: h\r\n\
         X-Replayed-By: replayer\r\n\r\nhello, staging"
    );
    assert_eq!(pretty[..3], all[..3], "the GETs have nothing to prettify");
}

#[test]
fn split_output_sends_each_request_to_one_target_in_turn() {
    let _processes = lock::processes();
    let scratch = Scratch::new("goreplay-split");
    let a = Nginx::start(&scratch.join("a"), "");
    let b = Nginx::start(&scratch.join("b"), "");
    let pcap = workspace_root().join("demo/production.pcap");
    let mut daemon = DaemonProcess::spawn(
        &scratch.join("daemon"),
        &[
            &format!("-input-raw={}:7999", pcap.display()),
            &format!("-output-http={}", a.url()),
            &format!("-output-http={}", b.url()),
            "-split-output",
            "-exit-after=60s",
        ],
    );
    let doc = daemon.wait_for(Duration::from_secs(20), "71 requests replayed", |d| {
        d.requests.replayed + d.requests.failed >= 71
    });
    assert_eq!(
        (
            doc.requests.queued,
            doc.requests.replayed,
            doc.requests.failed
        ),
        (71, 71, 0)
    );
    assert_eq!(daemon.terminate(), Some(0), "{}", daemon.stderr_text());

    // Round robin in capture order: the first target gets requests 1, 3, 5 ... (36), the
    // second 2, 4, 6 ... (35); the order of arrival within a target may vary.
    let captured: Vec<String> = demo(&[])
        .iter()
        .map(|r| r.request_line().replacen(' ', "\t", 1))
        .collect();
    let expected = |first: usize| {
        let mut lines: Vec<String> = captured.iter().skip(first).step_by(2).cloned().collect();
        lines.sort();
        lines
    };
    let arrived = |nginx: &Nginx| {
        let mut lines: Vec<String> = nginx
            .wait_for_log(36, Duration::from_secs(5))
            .iter()
            .map(|l| format!("{}\t{}", l.method, l.uri))
            .collect();
        lines.sort();
        lines
    };
    let (to_a, to_b) = (arrived(&a), arrived(&b));
    assert_eq!((to_a.len(), to_b.len()), (36, 35));
    assert_eq!(to_a, expected(0));
    assert_eq!(to_b, expected(1));
}
