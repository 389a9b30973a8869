//! The comparison of staging's answers with production's, live: nginx as production and
//! nginx as staging on loopback, the daemon capturing production's interface with `--diff`,
//! staging different on purpose on some routes. Exact counts in the status document and the
//! check's exact line and exit code.

use crate::util::*;
use replayer_status::schema::DaemonState;
use std::process::Command;
use std::time::{Duration, SystemTime};

/// Production: every route answers 200; `/gz/` is gzip-encoded for clients that accept it;
/// `/time` holds a random id, different on every answer (noise).
const PRODUCTION: &str = "gzip on; gzip_min_length 1; gzip_types text/plain;\n\
    location /same/ { return 200 \"same page\\n\"; }\n\
    location /moved/ { return 200 \"a page\\n\"; }\n\
    location /changed/ { return 200 \"old\\n\"; }\n\
    location /gz/ { return 200 \"a text long enough to be worth compressing, twice over: a text long enough\\n\"; }\n\
    location /time { return 200 \"$request_id\\n\"; }\n\
    location /promo/ { return 200 \"an offer\\n\"; }\n\
    location = /old { return 301 https://www.example.org/new; }";

/// Staging: `/moved/` is gone (404, an HTML error page), `/changed/` has another body of the
/// same length, `/gz/` is the same text uncompressed, `/time` is as random, `/promo/`
/// redirects where production serves, and `/old` redirects to the same path on its own host
/// (alike: the host of a Location is not compared).
const STAGING: &str = "location /same/ { return 200 \"same page\\n\"; }\n\
    location /moved/ { return 404; }\n\
    location /changed/ { return 200 \"new\\n\"; }\n\
    location /gz/ { return 200 \"a text long enough to be worth compressing, twice over: a text long enough\\n\"; }\n\
    location /time { return 200 \"$request_id\\n\"; }\n\
    location /promo/ { return 301 /offers/; }\n\
    location = /old { return 301 http://staging.internal:8080/new; }";

/// curl over one keep-alive connection, accepting gzip (the body is left encoded).
fn curl(port: u16, paths: &[&str]) {
    let mut cmd = Command::new(require_tool("curl"));
    for (i, path) in paths.iter().enumerate() {
        if i > 0 {
            cmd.arg("--next");
        }
        cmd.args(["-s", "-o", "/dev/null", "-H", "Accept-Encoding: gzip"])
            .arg(format!("http://127.0.0.1:{port}{path}"));
    }
    let out = run_with_timeout(&mut cmd, Duration::from_secs(20));
    assert!(out.status.success(), "curl failed: {out:?}");
}

#[test]
fn staging_answers_are_compared_with_production_by_cause() {
    let _processes = lock::processes();
    assert!(is_root(), "live capture on lo needs root (CI runs as root)");
    let scratch = Scratch::new("diff-live");
    let production = Nginx::start(&scratch.join("production"), PRODUCTION);
    let staging = Nginx::start(&scratch.join("staging"), STAGING);
    let metrics_port = free_port();
    let mut daemon = DaemonProcess::spawn(
        &scratch.join("daemon"),
        &[
            &format!("-input-raw=lo:{}", production.port),
            &format!("-output-http={}", staging.url()),
            "--diff",
            &format!("--metrics-listen=127.0.0.1:{metrics_port}"),
        ],
    );
    daemon.wait_for(Duration::from_secs(10), "replaying", |d| {
        d.state == DaemonState::Replaying
    });
    std::thread::sleep(Duration::from_millis(300));

    curl(
        production.port,
        &["/same/1", "/same/2", "/same/3", "/moved/1", "/moved/2"],
    );
    curl(
        production.port,
        &[
            "/moved/3",
            "/changed/1",
            "/changed/2",
            "/gz/1",
            "/gz/2",
            "/promo/1",
            "/old",
        ],
    );
    for _ in 0..4 {
        curl(production.port, &["/time"]);
    }
    let doc = daemon.wait_for(Duration::from_secs(15), "16 pairs compared", |d| {
        d.diff.compared >= 16
    });
    std::thread::sleep(Duration::from_millis(300));
    let doc = daemon.status().unwrap_or(doc);
    let d = &doc.diff;
    assert!(d.enabled);
    // Differing: the three /moved/ (404), the two /changed/, /promo/ (301 where production
    // serves) and the first /time pair (production's noise on it is not known yet); the
    // next three /time pairs are noisy: production answered /time differently each time.
    // The same: /same/ (3), /gz/ (2, gzip against plain) and /old (301 to the same path on
    // another host).
    assert_eq!(
        (d.compared, d.same, d.differing, d.noisy, d.prod_missing),
        (16, 6, 7, 3, 0),
        "{d:#?}"
    );
    let by: Vec<(&str, u64)> = d.by_cause.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        by,
        [
            ("body", 3),
            ("content_type", 4),
            ("length", 0),
            ("location", 1),
            ("status", 4),
            ("status_class", 4)
        ],
        "{d:#?}"
    );
    assert_eq!(doc.windows["60"].diff.compared, 16);
    let top = &doc.diff_routes[0];
    assert_eq!((top.route.as_str(), top.differing), ("GET /moved/{n}", 3));
    assert_eq!(
        (top.example.production_status, top.example.staging_status),
        (200, 404)
    );

    // The same figures for Prometheus.
    let scrape = run_with_timeout(
        Command::new(require_tool("curl"))
            .arg("-s")
            .arg(format!("http://127.0.0.1:{metrics_port}/metrics")),
        Duration::from_secs(10),
    );
    let metrics = String::from_utf8_lossy(&scrape.stdout);
    let diff_lines: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("replayer_diff_"))
        .collect();
    assert_eq!(
        diff_lines,
        [
            "replayer_diff_enabled 1",
            "replayer_diff_compared_total 16",
            "replayer_diff_same_total 6",
            "replayer_diff_differing_total 7",
            "replayer_diff_noisy_total 3",
            "replayer_diff_prod_missing_total 0",
            "replayer_diff_slower_total 0",
            "replayer_diff_untracked_total 0",
            "replayer_diff_differing_by_cause_total{cause=\"body\"} 3",
            "replayer_diff_differing_by_cause_total{cause=\"content_type\"} 4",
            "replayer_diff_differing_by_cause_total{cause=\"length\"} 0",
            "replayer_diff_differing_by_cause_total{cause=\"location\"} 1",
            "replayer_diff_differing_by_cause_total{cause=\"status\"} 4",
            "replayer_diff_differing_by_cause_total{cause=\"status_class\"} 4",
        ]
    );

    // The report for a terminal.
    let report = run_with_timeout(
        Command::new(bin("replayer"))
            .args(["diff", "--window", "60", "-S"])
            .arg(&daemon.socket),
        Duration::from_secs(10),
    );
    assert_eq!(report.status.code(), Some(0), "{report:?}");
    let text = String::from_utf8_lossy(&report.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "Since start:  16 compared: 6 same, 7 differing (43.75%), 3 noisy; production's answer missing 0, staging slower 0, untracked 0",
            "  by cause:   body 3, content_type 4, location 1, status 4, status_class 4",
            "Last 60 s: 16 compared: 6 same, 7 differing (43.75%), 3 noisy; production's answer missing 0, staging slower 0, untracked 0",
            "  by cause:   body 3, content_type 4, location 1, status 4, status_class 4",
            "",
            "Routes that differ most (since start):",
        ],
        "{text}"
    );
    // As docs/diff.md shows it.
    assert_eq!(
        lines[6..15],
        [
            "       3  GET /moved/{n}",
            "          content_type 3, status 3, status_class 3",
            "          e.g. GET /moved/1: production 200, staging 404 (status,status_class,content_type)",
            "       2  GET /changed/{n}",
            "          body 2",
            "          e.g. GET /changed/1: production 200, staging 200 (body)",
            "       1  GET /promo/{n}",
            "          content_type 1, location 1, status 1, status_class 1",
            "          e.g. GET /promo/1: production 200, staging 301 (status,status_class,content_type,location)",
        ],
        "{text}"
    );

    let check = |args: &[&str]| {
        run_with_timeout(
            Command::new(bin("check_replay_diff"))
                .arg("-S")
                .arg(&daemon.socket)
                .args(["--window", "60", "--sync-flag", "/nonexistent/flag"])
                .args(args),
            Duration::from_secs(10),
        )
    };
    let out = check(&["--min-compared", "1"]);
    let first = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{first}");
    assert_eq!(
        first.lines().next().unwrap(),
        "REPLAY DIFF CRITICAL: 25% of answers differ in status from production's over 1m \
         (4 of 16 compared; body 3, content_type 4, location 1, status 4, status_class 4; \
         noisy 3) | differing_ratio=0.25;0.05;0.1;0;1 compared=16;;;0; differing=4;;;0; \
         noisy=3;;;0; prod_missing=0;;;0; slower=0;;;0;"
    );
    assert_eq!(
        first.lines().nth(1),
        Some(
            "GET /moved/{n}: 3 differing since start (content_type 3, status 3, status_class 3), \
             e.g. GET /moved/1 production 200 staging 404"
        ),
        "docs/diff.md shows this output"
    );
    assert_eq!(
        first.lines().nth(2),
        Some(
            "GET /promo/{n}: 1 differing since start (content_type 1, location 1, status 1, \
             status_class 1), e.g. GET /promo/1 production 200 staging 301"
        ),
        "docs/diff.md shows this output"
    );
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(
            "REPLAY DIFF OK: only 16 answers compared over 1m, fewer than --min-compared 20"
        ),
        "{out:?}"
    );

    // WARNING: the same 25% between -w and -c.
    let out = check(&["--min-compared", "1", "-w", "0.2", "-c", "0.5"]);
    let first = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{first}");
    assert!(
        first.starts_with(
            "REPLAY DIFF WARNING: 25% of answers differ in status from production's over 1m \
             (4 of 16 compared; body 3, content_type 4, location 1, status 4, status_class 4; \
             noisy 3) | differing_ratio=0.25;0.2;0.5;0;1 "
        ),
        "{first}"
    );

    // A data sync in progress (the plugin's own flag): OK, with what it would have said; a
    // flag set too long ago is stale and downgrades nothing.
    let flag = scratch.join("FACTER_data_sync_in_progress");
    std::fs::write(&flag, "true\n").unwrap();
    set_mtime(
        &flag,
        SystemTime::now() - Duration::from_secs(2 * 3600 + 13 * 60),
    );
    let with_flag = |args: &[&str]| {
        run_with_timeout(
            Command::new(bin("check_replay_diff"))
                .arg("-S")
                .arg(&daemon.socket)
                .args(["--window", "60", "--min-compared", "1", "--sync-flag"])
                .arg(&flag)
                .args(args),
            Duration::from_secs(10),
        )
    };
    let out = with_flag(&[]);
    let first = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{first}");
    assert!(
        first.starts_with(
            "REPLAY DIFF OK: 25% of answers differ in status from production's over 1m \
             (4 of 16 compared; body 3, content_type 4, location 1, status 4, status_class 4; \
             noisy 3) (data sync in progress for 2h13m; would be CRITICAL) | "
        ),
        "{first}"
    );
    set_mtime(&flag, SystemTime::now() - Duration::from_secs(13 * 3600));
    let out = with_flag(&[]);
    let first = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{first}");
    assert!(
        first.contains(
            "(data sync flag set for 13h, over --sync-max-age 12h: looks stale, not downgrading)"
        ),
        "{first}"
    );
}

/// Writes `body` at `root/static/NAME` with a fixed modification time, so two nginx serving
/// the same bytes give the same ETag.
fn static_file(root: &std::path::Path, name: &str, body: &[u8]) {
    let dir = root.join("static");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    let when = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

/// Sends `requests` in one write on one connection (pipelined) and reads until the server
/// closes (the last request says `Connection: close`).
fn pipelined(port: u16, requests: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(requests.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn head_304_pipelined_and_large_answers_compare_equal_when_equal() {
    let _processes = lock::processes();
    assert!(is_root(), "live capture on lo needs root (CI runs as root)");
    let scratch = Scratch::new("diff-shapes");
    // 5 MiB that do not repeat in a way a digest could mistake.
    let big: Vec<u8> = (0..5u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut nginx = Vec::new();
    for side in ["production", "staging"] {
        let root = scratch.join(format!("{side}-root"));
        static_file(&root, "big.bin", &big);
        static_file(&root, "page.txt", b"a page with an etag\n");
        nginx.push(Nginx::start(
            &scratch.join(side),
            &format!(
                "location /static/ {{ root {}; }}\nlocation / {{ return 200 \"ok\\n\"; }}",
                root.display()
            ),
        ));
    }
    let (production, staging) = (&nginx[0], &nginx[1]);
    let mut daemon = DaemonProcess::spawn(
        &scratch.join("daemon"),
        &[
            &format!("-input-raw=lo:{}", production.port),
            &format!("-output-http={}", staging.url()),
            "--diff",
            // Loopback delivers a 5 MiB answer in 64 KiB packets within a millisecond; the
            // test binary is a debug build, so the ring holds the whole burst.
            "--input-raw-buffer-size=256mb",
        ],
    );
    daemon.wait_for(Duration::from_secs(10), "replaying", |d| {
        d.state == DaemonState::Replaying
    });
    std::thread::sleep(Duration::from_millis(300));

    // The ETag both sides give the page, then a conditional GET answered 304 by both.
    let head = run_with_timeout(
        Command::new(require_tool("curl"))
            .args(["-s", "-I"])
            .arg(format!(
                "http://127.0.0.1:{}/static/page.txt",
                production.port
            )),
        Duration::from_secs(10),
    );
    let head = String::from_utf8_lossy(&head.stdout).into_owned();
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("ETag: "))
        .unwrap_or_else(|| panic!("no ETag in {head}"))
        .trim()
        .to_string();
    let answers = pipelined(
        production.port,
        &format!(
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /static/page.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n\
             HEAD /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(answers.matches("HTTP/1.1 304").count(), 1, "{answers}");
    curl(production.port, &["/static/big.bin", "/static/big.bin"]);
    // HEAD (curl -I) + 4 pipelined + 2 large.
    let doc = daemon.wait_for(Duration::from_secs(20), "7 pairs compared", |d| {
        d.diff.compared >= 7
    });
    std::thread::sleep(Duration::from_millis(300));
    let doc = daemon.status().unwrap_or(doc);
    let d = &doc.diff;
    assert_eq!(
        (d.compared, d.same, d.differing, d.noisy, d.prod_missing),
        (7, 7, 0, 0, 0),
        "{d:#?}"
    );
    assert_eq!(doc.capture.prod_responses_unpaired, 0);
    assert_eq!(doc.capture.kernel_dropped, 0);
}

/// A capture file as input compares the same way: a new staging build checked against
/// yesterday's capture. demo/production.pcap holds production's answers too.
#[test]
fn a_capture_file_with_its_answers_is_compared_the_same_way() {
    let _processes = lock::processes();
    let scratch = Scratch::new("diff-file");
    let staging = Nginx::start(
        &scratch.join("staging"),
        "location / { return 200 \"ok\\n\"; } location /fail { return 500; }",
    );
    let pcap = workspace_root().join("demo/production.pcap");
    let mut daemon = DaemonProcess::spawn(
        &scratch.join("daemon"),
        &[
            &format!("-input-raw={}:7999", pcap.display()),
            &format!("-output-http={}", staging.url()),
            "--diff",
            // The socket stays up after the file, so the figures can be read.
            "-exit-after=60s",
        ],
    );
    let doc = daemon.wait_for(Duration::from_secs(20), "71 pairs compared", |d| {
        d.diff.compared >= 71
    });
    std::thread::sleep(Duration::from_millis(300));
    let doc = daemon.status().unwrap_or(doc);
    let d = &doc.diff;
    assert_eq!(doc.capture.prod_responses_unpaired, 0);
    assert_eq!(
        (d.compared, d.prod_missing, d.untracked),
        (71, 0, 0),
        "{d:#?}"
    );
    // Staging answers "ok" to everything: the 65 GETs production served a page to differ by
    // body and length, the two to /fail/ by status (production's 200 against staging's 500,
    // whose HTML error page also has another media type), and the four HEADs (no body on
    // either side) are alike.
    assert_eq!((d.same, d.differing, d.noisy), (4, 67, 0), "{d:#?}");
    let by: Vec<(&str, u64)> = d.by_cause.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        by,
        [
            ("body", 65),
            ("content_type", 2),
            ("length", 65),
            ("location", 0),
            ("status", 2),
            ("status_class", 2)
        ]
    );
}

/// `--input-raw-track-response` (GoReplay's): production's answers as type-2 records, each
/// after its request's type-1 record and with its id, in the stdout and file outputs.
#[test]
fn tracked_responses_are_type_2_records_with_their_requests_id() {
    let _processes = lock::processes();
    let pcap = workspace_root().join("demo/production.pcap");
    let out = run_with_timeout(
        Command::new(bin("replayer"))
            .arg(format!("-input-raw={}:7999", pcap.display()))
            .args(["-input-raw-track-response", "-output-stdout"]),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let records = goreplay_records(&out.stdout);
    let kind = |r: &Record| r.meta.split(' ').next().unwrap_or_default().to_string();
    let id = |r: &Record| r.meta.split(' ').nth(1).unwrap_or_default().to_string();
    let requests: Vec<&Record> = records.iter().filter(|r| kind(r) == "1").collect();
    let responses: Vec<&Record> = records.iter().filter(|r| kind(r) == "2").collect();
    // demo/production.pcap: 71 safe requests, every one answered.
    assert_eq!((requests.len(), responses.len()), (71, 71));
    for response in &responses {
        let position = records
            .iter()
            .position(|r| std::ptr::eq(r, *response))
            .unwrap();
        assert!(
            records[..position]
                .iter()
                .any(|r| kind(r) == "1" && id(r) == id(response)),
            "type 2 {} before its request",
            response.meta
        );
        assert!(
            response.payload.starts_with(b"HTTP/1.1 "),
            "{}",
            response.meta
        );
        let fields: Vec<&str> = response.meta.split(' ').collect();
        assert_eq!(fields.len(), 4, "{}", response.meta);
        assert_eq!(fields[1].len(), 24, "{}", response.meta);
    }
    // The HEADs' answers carry a head only.
    let heads = requests
        .iter()
        .filter(|r| r.payload.starts_with(b"HEAD "))
        .count();
    assert_eq!(heads, 4);
}
