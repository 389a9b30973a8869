//! The replay output against a real nginx standing in for staging: what arrives (method,
//! request-target, headers, body, Host), connection reuse, status and latency accounting,
//! and the failure modes: full queue (dropped and counted, never blocking), target down,
//! target that never answers (timeout), certificates verified unless skip-verify.

use crate::util::*;
use replayer::outputs::concurrency::WorkerRange;
use replayer::outputs::replay::{parse_target, ReplayConfig, ReplayOutput, DEFAULT_PIPELINE};
use replayer::outputs::Output;
use replayer::request::{Connection, Header, Request};
use replayer::status::stats::Stats;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
    Request {
        id: 1,
        captured_at_ns: 0,
        connection: Connection {
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:80".parse().unwrap(),
        },
        method: method.into(),
        target: target.into(),
        version_minor: 1,
        headers: headers
            .iter()
            .map(|(n, v)| Header {
                name: (*n).into(),
                value: v.as_bytes().to_vec().into(),
            })
            .collect(),
        body: bytes::Bytes::copy_from_slice(body),
        record_id: None,
        from_record_file: false,
    }
}

struct Replay {
    runtime: tokio::runtime::Runtime,
    stats: Arc<Stats>,
    output: ReplayOutput,
}

fn replay(targets: &[String], adjust: impl FnOnce(&mut ReplayConfig)) -> Replay {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let urls = targets.iter().map(|t| parse_target(t).unwrap()).collect();
    let mut config = ReplayConfig::new(urls);
    adjust(&mut config);
    let stats = Arc::new(Stats::new(targets));
    let output = ReplayOutput::start(
        &config,
        stats.clone(),
        runtime.handle().clone(),
        Duration::from_secs(5),
    )
    .unwrap();
    Replay {
        runtime,
        stats,
        output,
    }
}

#[test]
fn requests_arrive_as_captured_on_reused_connections() {
    let _processes = lock::processes();
    let scratch = Scratch::new("replay-basic");
    let staging = Nginx::start(
        &scratch.join("staging"),
        "location / { return 200 \"ok\\n\"; } location /fail { return 500; }",
    );
    let mut r = replay(&[staging.url()], |c| c.workers = WorkerRange::fixed(2));
    let headers = [
        ("Host", "www.example.org"),
        ("User-Agent", "replay-test/1"),
        ("X-Forwarded-Host", "fwd.example"),
        ("Connection", "keep-alive"),
    ];
    r.output
        .emit(&request("GET", "/a?x=1&y=%20z", &headers, b""))
        .unwrap();
    r.output
        .emit(&request("HEAD", "/b", &headers, b""))
        .unwrap();
    r.output
        .emit(&request("OPTIONS", "/c", &headers, b""))
        .unwrap();
    r.output
        .emit(&request(
            "POST",
            "/post",
            &[
                ("Content-Type", "text/plain"),
                ("Transfer-Encoding", "chunked"),
            ],
            b"0123456789",
        ))
        .unwrap();
    r.output
        .emit(&request(
            "GET",
            "http://www.example.org/abs?q",
            &headers,
            b"",
        ))
        .unwrap();
    r.output
        .emit(&request("GET", "/fail/1", &headers, b""))
        .unwrap();
    for i in 0..100 {
        r.output
            .emit(&request("GET", &format!("/many/{i}"), &headers, b""))
            .unwrap();
    }
    r.output.finish().unwrap();

    let log = staging.wait_for_log(106, Duration::from_secs(5));
    assert_eq!(log.len(), 106, "{log:#?}");
    let find = |uri: &str| {
        log.iter()
            .find(|l| l.uri == uri)
            .unwrap_or_else(|| panic!("{uri} not in staging's log: {log:#?}"))
    };
    let host = format!("127.0.0.1:{}", staging.port);
    let get = find("/a?x=1&y=%20z");
    assert_eq!(
        (get.method.as_str(), get.host.as_str()),
        ("GET", host.as_str())
    );
    assert_eq!(get.user_agent, "replay-test/1");
    assert_eq!(get.x_forwarded_host, "fwd.example");
    assert_eq!(find("/b").method, "HEAD");
    assert_eq!(find("/c").method, "OPTIONS");
    assert_eq!(find("/abs?q").method, "GET");
    let post = find("/post");
    assert_eq!(post.method, "POST");
    // The de-chunked body goes out with a Content-Length: request line + headers + 10 bytes.
    let length: usize = post.request_length.parse().unwrap();
    assert!(length > 10, "request_length {length}");
    assert_eq!(find("/fail/1").status, 500);

    // Bodies drained, connections pooled: 106 requests on a handful of connections (2
    // workers; nginx closes after a 500; and a connection handed back to the pool a moment
    // late makes the client open another now and then). Without reuse it would be ~106.
    let mut connections: Vec<&str> = log.iter().map(|l| l.connection.as_str()).collect();
    connections.sort();
    connections.dedup();
    assert!(connections.len() <= 8, "connections used: {connections:?}");

    let req = r.stats.requests();
    assert_eq!((req.queued, req.replayed, req.failed), (106, 106, 0));
    assert_eq!(req.dropped_queue_full, 0);
    let classes = r.stats.responses();
    assert_eq!((classes.c2xx, classes.c5xx), (105, 1));
    let w = &r.stats.windows()["60"];
    assert_eq!((w.replayed, w.responses, w.c5xx), (106, 106, 1));
    assert!(w.latency_ms.p50 > 0.0 && w.latency_ms.p99 >= w.latency_ms.p50);
    let t = &r.stats.targets()[0];
    assert_eq!((t.replayed, t.in_flight, t.responses.c5xx), (106, 0, 1));
    drop(r.runtime);
}

#[test]
fn original_host_is_kept_when_asked_and_every_target_gets_every_request() {
    let _processes = lock::processes();
    let scratch = Scratch::new("replay-host");
    let a = Nginx::start(&scratch.join("a"), "");
    let b = Nginx::start(&scratch.join("b"), "");
    let mut r = replay(&[a.url(), format!("{}/prefix", b.url())], |c| {
        c.original_host = true
    });
    for i in 0..10 {
        r.output
            .emit(&request(
                "GET",
                &format!("/p/{i}"),
                &[("Host", "www.example.org")],
                b"",
            ))
            .unwrap();
    }
    r.output.finish().unwrap();
    let log_a = a.wait_for_log(10, Duration::from_secs(5));
    let log_b = b.wait_for_log(10, Duration::from_secs(5));
    assert_eq!(log_a.len(), 10);
    assert_eq!(log_b.len(), 10);
    assert!(log_a.iter().all(|l| l.host == "www.example.org"));
    assert!(log_b.iter().all(|l| l.uri.starts_with("/prefix/p/")));
    let targets = r.stats.targets();
    assert_eq!((targets[0].replayed, targets[1].replayed), (10, 10));
    assert_eq!(r.stats.requests().replayed, 20);
}

#[test]
fn full_queue_drops_and_counts_without_blocking() {
    let _processes = lock::processes();
    // A target that accepts connections (kernel backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let mut r = replay(&[url], |c| {
        c.workers = WorkerRange::fixed(1);
        c.queue = 5;
        c.timeout = Duration::from_millis(500);
    });
    let start = Instant::now();
    for i in 0..1000 {
        r.output
            .emit(&request("GET", &format!("/{i}"), &[], b""))
            .unwrap();
    }
    let emit_time = start.elapsed();
    let req = r.stats.requests();
    assert_eq!(req.queued + req.dropped_queue_full, 1000);
    // One pipelined batch in the worker's hands at most, five waiting.
    assert!(
        req.queued <= (DEFAULT_PIPELINE + 5) as u64,
        "queued {}",
        req.queued
    );
    assert!(
        emit_time < Duration::from_secs(1),
        "emit blocked: {emit_time:?}"
    );
    r.output.finish().unwrap();
    let req = r.stats.requests();
    assert_eq!(req.replayed, 0);
    assert_eq!(req.failed, req.queued, "every queued request timed out");
    drop(silent);
}

#[test]
fn dead_target_fails_fast_and_recovers() {
    let _processes = lock::processes();
    let scratch = Scratch::new("replay-dead");
    let mut staging = Nginx::start(&scratch.join("staging"), "");
    staging.stop();
    let mut r = replay(&[staging.url()], |_| {});
    for i in 0..20 {
        r.output
            .emit(&request("GET", &format!("/down/{i}"), &[], b""))
            .unwrap();
    }
    let start = Instant::now();
    while r.stats.requests().failed < 20 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(r.stats.requests().failed, 20);
    staging.restart();
    for i in 0..20 {
        r.output
            .emit(&request("GET", &format!("/up/{i}"), &[], b""))
            .unwrap();
    }
    r.output.finish().unwrap();
    assert_eq!(r.stats.requests().replayed, 20);
    let log = staging.wait_for_log(20, Duration::from_secs(5));
    assert!(log.iter().all(|l| l.uri.starts_with("/up/")));
    assert_eq!(log.len(), 20);
}

#[test]
fn https_certificates_are_verified_unless_skip_verify() {
    let _processes = lock::processes();
    let scratch = Scratch::new("replay-tls");
    let dir = scratch.join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let out = run_with_timeout(
        std::process::Command::new(require_tool("openssl"))
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem")),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The TLS port is a free port of its own (not `port + 1`, which another test's nginx may
    // hold: nginx then keeps retrying that bind while already answering on `port`).
    let port = free_port();
    let tls = loop {
        match free_port() {
            p if p != port => break p,
            _ => continue,
        }
    };
    let staging = Nginx::start_on(
        &scratch.join("staging"),
        port,
        &format!(
            "listen 127.0.0.1:{tls} ssl; ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
             location / {{ return 200 \"ok\\n\"; }}",
            d = dir.display()
        ),
    );
    let ready = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", tls)).is_err() {
        assert!(ready.elapsed() < Duration::from_secs(5), "nginx TLS port");
        std::thread::sleep(Duration::from_millis(10));
    }
    let url = format!("https://127.0.0.1:{tls}");

    let mut verified = replay(std::slice::from_ref(&url), |_| {});
    verified
        .output
        .emit(&request("GET", "/v", &[], b""))
        .unwrap();
    verified.output.finish().unwrap();
    assert_eq!(verified.stats.requests().failed, 1, "self-signed must fail");

    let mut skipped = replay(&[url], |c| c.skip_verify = true);
    skipped
        .output
        .emit(&request("GET", "/s", &[], b""))
        .unwrap();
    skipped.output.finish().unwrap();
    assert_eq!(skipped.stats.requests().replayed, 1);
    let log = staging.wait_for_log(1, Duration::from_secs(5));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].uri, "/s");
}

#[test]
fn bad_targets_are_one_clear_line() {
    let _processes = lock::processes();
    for (value, message) in [
        // The one target parser: the same messages as the command line's.
        (
            "ftp://x",
            "output-http: 'ftp://x': only http:// and https:// targets are supported",
        ),
        ("http://", "output-http: 'http://' is not a URL: empty host"),
        (
            "http://h/?q=1",
            "output-http: 'http://h/?q=1': a target may not have a query or fragment (each \
             replayed request brings its own)",
        ),
        (
            "https://u:hunter2@h/",
            "output-http: 'https://***@h/': credentials in a target URL are not supported (they \
             would be logged and shown in the status document); set a header with \
             -http-set-header instead",
        ),
    ] {
        assert_eq!(parse_target(value).unwrap_err().to_string(), message);
    }
    assert_eq!(
        parse_target("staging.example:8080").unwrap().as_str(),
        "http://staging.example:8080/"
    );
}

#[test]
fn redirects_are_recorded_not_followed() {
    let _processes = lock::processes();
    let scratch = Scratch::new("replay-redirect");
    let staging = Nginx::start(
        &scratch.join("staging"),
        "location / { return 200 \"ok\\n\"; } location /moved { return 301 /elsewhere; }",
    );
    let mut r = replay(&[staging.url()], |_| {});
    r.output.emit(&request("GET", "/moved", &[], b"")).unwrap();
    r.output.finish().unwrap();
    let log = staging.wait_for_log(1, Duration::from_secs(5));
    let uris: Vec<&str> = log.iter().map(|l| l.uri.as_str()).collect();
    assert_eq!(uris, ["/moved"], "the redirect was followed");
    assert_eq!(r.stats.responses().c3xx, 1);
}

#[test]
fn redirects_are_followed_only_within_the_target_when_asked() {
    let _processes = lock::processes();
    let scratch = Scratch::new("replay-redirect-follow");
    let staging = Nginx::start(
        &scratch.join("staging"),
        "location / { return 200 \"ok\\n\"; } location /moved { return 301 /elsewhere; }\n\
         location /away { return 302 http://www.example.org/x; }",
    );
    let mut r = replay(&[staging.url()], |c| c.redirects = 1);
    r.output.emit(&request("GET", "/moved", &[], b"")).unwrap();
    r.output.emit(&request("GET", "/away", &[], b"")).unwrap();
    r.output.finish().unwrap();
    let log = staging.wait_for_log(3, Duration::from_secs(5));
    let mut uris: Vec<&str> = log.iter().map(|l| l.uri.as_str()).collect();
    uris.sort();
    // /moved was followed to /elsewhere on the target; /away pointed elsewhere: recorded.
    assert_eq!(uris, ["/away", "/elsewhere", "/moved"]);
    let classes = r.stats.responses();
    assert_eq!((classes.c2xx, classes.c3xx), (1, 1));
}

/// Waits until `done` holds (polling), for at most `limit`.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

#[test]
fn a_backlog_is_pipelined_in_order_and_resent_when_staging_closes() {
    let _processes = lock::processes();
    let scratch = Scratch::new("replay-pipeline");
    // nginx closes each connection after 7 requests, announcing it on the 7th answer: the
    // rest of a batch written on it must go again, on a new connection, exactly once.
    let staging = Nginx::start(
        &scratch.join("staging"),
        "keepalive_requests 7; location / { return 200 \"ok\\n\"; }",
    );
    let mut r = replay(&[staging.url()], |c| c.workers = WorkerRange::fixed(1));
    // Queued faster than one connection answers, so batches form; every tenth a HEAD, whose
    // answer has a Content-Length and no body (the next answer follows at once).
    for i in 0..300 {
        let method = if i % 10 == 3 { "HEAD" } else { "GET" };
        r.output
            .emit(&request(method, &format!("/p/{i}"), &[], b""))
            .unwrap();
    }
    r.output.finish().unwrap();
    let req = r.stats.requests();
    assert_eq!(
        (req.replayed, req.failed, req.dropped_queue_full),
        (300, 0, 0)
    );
    let log = staging.wait_for_log(300, Duration::from_secs(5));
    // Each exactly once. (nginx logs the last request of a connection when the connection's
    // lingering close ends, so its log line may come after the next connection's first.)
    let mut uris: Vec<&str> = log.iter().map(|l| l.uri.as_str()).collect();
    uris.sort_by_key(|u| u[3..].parse::<u32>().unwrap());
    let expected: Vec<String> = (0..300).map(|i| format!("/p/{i}")).collect();
    assert_eq!(uris, expected, "each once");
    let heads = log.iter().filter(|l| l.method == "HEAD").count();
    assert_eq!(heads, 30);
    let connections: std::collections::BTreeSet<&str> =
        log.iter().map(|l| l.connection.as_str()).collect();
    assert_eq!(connections.len(), 300_usize.div_ceil(7), "7 per connection");
    let pipelined = log.iter().filter(|l| l.pipelined).count();
    assert!(pipelined > 150, "nginx read {pipelined} of 300 pipelined");
}

#[test]
fn workers_grow_with_a_backlog_and_fall_to_the_minimum_when_staging_fails() {
    let _processes = lock::processes();
    let scratch = Scratch::new("replay-adaptive");
    let mut staging = Nginx::start(&scratch.join("staging"), "");
    // No pipelining, so only more workers can take the backlog.
    let mut r = replay(&[staging.url()], |c| {
        c.pipeline = 1;
        c.queue = 20_000;
    });
    let workers = |r: &Replay| r.stats.targets()[0].workers;
    assert_eq!(workers(&r), 8, "starts at the old fixed default");
    for i in 0..20_000 {
        r.output
            .emit(&request("GET", &format!("/b/{i}"), &[], b""))
            .unwrap();
    }
    let mut most = 0;
    let emptied = wait_until(Duration::from_secs(30), || {
        most = most.max(workers(&r));
        r.stats.requests().replayed == 20_000
    });
    assert!(emptied, "replayed {}", r.stats.requests().replayed);
    assert!(
        most > 8,
        "the backlog grew the workers to {most}, not beyond 8"
    );

    // The answers' tick is over before the failures start, as in a real outage.
    std::thread::sleep(Duration::from_millis(200));
    staging.stop();
    for i in 0..500 {
        r.output
            .emit(&request("GET", &format!("/down/{i}"), &[], b""))
            .unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(5), || workers(&r) == 1),
        "failures bring the workers to the minimum, not {} ({:?})",
        workers(&r),
        r.stats.requests()
    );
    assert!(wait_until(Duration::from_secs(5), || {
        r.stats.requests().failed == 500
    }));

    staging.restart();
    for i in 0..50 {
        r.output
            .emit(&request("GET", &format!("/up/{i}"), &[], b""))
            .unwrap();
    }
    r.output.finish().unwrap();
    assert_eq!(r.stats.requests().replayed, 20_050);
}
