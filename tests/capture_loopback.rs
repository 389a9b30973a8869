//! Real traffic, really captured: nginx on a free 127.0.0.1 port, curl, wrk and a raw socket
//! talking to it, tcpdump recording loopback; then `replayer` on the recording (and once live
//! on loopback) must print exactly the requests nginx logged: the safe ones by default, all of
//! them when unsafe methods are allowed. Needs root (tcpdump, live capture).

use crate::util::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ALL_METHODS: &[&str] = &[
    "-http-allow-method",
    "GET",
    "-http-allow-method",
    "HEAD",
    "-http-allow-method",
    "OPTIONS",
    "-http-allow-method",
    "POST",
    "-http-allow-method",
    "PUT",
    "--allow-unsafe-methods",
];

/// tcpdump writing loopback traffic to a port into a file, packet by packet.
struct Tcpdump {
    child: Child,
    file: PathBuf,
    summary: std::thread::JoinHandle<String>,
}

impl Tcpdump {
    /// `snaplen`: whole packets for mixed traffic; small for floods of small packets, since
    /// in immediate mode each slot of the kernel ring is snaplen bytes.
    fn start(dir: &Path, port: u16, snaplen: u32) -> Tcpdump {
        Tcpdump::start_on(dir, port, snaplen, &["-i", "lo"])
    }

    /// `interface`: tcpdump's `-i` (and `-y` link type) arguments.
    fn start_on(dir: &Path, port: u16, snaplen: u32, interface: &[&str]) -> Tcpdump {
        assert!(is_root(), "capturing on loopback needs root");
        let file = dir.join("capture.pcap");
        let mut child = Command::new(require_tool("tcpdump"))
            .args(interface)
            .args(["--immediate-mode", "-n", "-B", "65536", "-s"])
            .arg(snaplen.to_string())
            .arg("-w")
            .arg(&file)
            .arg(format!("tcp port {port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tcpdump");
        // tcpdump says "listening on" once the capture is open (after a line naming the
        // link type, when one is asked for).
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        for _ in 0..5 {
            line.clear();
            stderr.read_line(&mut line).expect("tcpdump stderr");
            if line.contains("listening on") || line.is_empty() {
                break;
            }
        }
        assert!(line.contains("listening on"), "tcpdump: {line}");
        let summary = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
            rest
        });
        Tcpdump {
            child,
            file,
            summary,
        }
    }

    /// Stops the capture (SIGINT, so the file is flushed) and returns its path, after
    /// checking that the kernel dropped nothing: a recording with holes cannot be compared
    /// request for request.
    fn stop(mut self) -> PathBuf {
        // Let tcpdump catch up: until its file stops growing, as it writes in blocks.
        let size = |f: &Path| std::fs::metadata(f).map_or(0, |m| m.len());
        let mut last = size(&self.file);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let now = size(&self.file);
            if now == last || Instant::now() > deadline {
                break;
            }
            last = now;
        }
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        let summary = std::mem::replace(&mut self.summary, std::thread::spawn(String::new))
            .join()
            .unwrap_or_default();
        assert!(
            summary
                .lines()
                .any(|l| l.trim() == "0 packets dropped by kernel"),
            "tcpdump lost packets, the recording is not complete: {summary:?}"
        );
        self.file.clone()
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// `METHOD URI` of nginx's log lines whose method is in `methods` (all when empty).
fn logged(nginx: &Nginx, expected: usize, methods: &[&str]) -> Vec<String> {
    let log = nginx.wait_for_log(expected, Duration::from_secs(10));
    assert_eq!(log.len(), expected, "nginx logged {log:?}");
    log.iter()
        .filter(|l| methods.is_empty() || methods.contains(&l.method.as_str()))
        .map(|l| format!("{} {}", l.method, l.uri))
        .collect()
}

fn curl(args: &[&str]) {
    let out = run_with_timeout(
        Command::new(require_tool("curl"))
            .args(["-sS", "-o", "/dev/null"])
            .args(args),
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes all `requests` in one go on one connection (true pipelining) and reads until
/// nginx has answered each.
fn pipeline(port: u16, requests: &[String]) {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    socket
        .write_all(requests.concat().as_bytes())
        .expect("write");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&seen, b"HTTP/1.1 ") < requests.len() && Instant::now() < deadline {
        match socket.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read: {e}"),
        }
    }
    assert_eq!(count(&seen, b"HTTP/1.1 "), requests.len(), "responses");
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

#[test]
fn curl_and_raw_socket_traffic_is_recovered_exactly() {
    let _processes = lock::processes();
    let dir = Scratch::new("loopback-curl");
    let nginx = Nginx::start(&dir.join("nginx"), "");
    let port = nginx.port;
    let base = nginx.url();
    let tcpdump = Tcpdump::start(dir.path(), port, 65535);

    // Keep-alive: three URLs on one connection.
    curl(&[
        &format!("{base}/ka/1"),
        &format!("{base}/ka/2?x=1"),
        &format!("{base}/ka/3"),
    ]);
    // `--next`: one connection, different methods, a POST in the middle.
    curl(&[
        &format!("{base}/next/get"),
        "--next",
        "-I",
        &format!("{base}/next/head"),
        "--next",
        "-X",
        "OPTIONS",
        &format!("{base}/next/options"),
        "--next",
        "-d",
        "a=1&b=2",
        &format!("{base}/next/post"),
        "--next",
        &format!("{base}/next/after-post"),
    ]);
    // A chunked upload, then a long header.
    let upload = dir.join("upload.bin");
    std::fs::write(&upload, vec![b'z'; 100_000]).unwrap();
    curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &format!("@{}", upload.display()),
        &format!("{base}/upload/chunked"),
    ]);
    let long = "v".repeat(6000);
    curl(&[
        "-H",
        &format!("X-Long: {long}"),
        &format!("{base}/long-header"),
    ]);
    // True pipelining from a raw socket: five requests, one write, a POST among them.
    let mut requests: Vec<String> = (1..=4)
        .map(|i| format!("GET /pipe/{i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        .collect();
    requests.insert(
        2,
        "PUT /pipe/put HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello".into(),
    );
    pipeline(port, &requests);

    let file = tcpdump.stop();
    let expected_total = 3 + 5 + 1 + 1 + 5;
    let safe = logged(&nginx, expected_total, &["GET", "HEAD", "OPTIONS"]);
    let all = logged(&nginx, expected_total, &[]);

    let records = replay_pcap_file(&file, port, &[]);
    let got: Vec<String> = records.iter().map(Record::request_line).collect();
    assert_eq!(sorted(got), sorted(safe.clone()));
    let long_record = records
        .iter()
        .find(|r| r.request_line() == "GET /long-header")
        .expect("long-header request");
    assert!(
        count(&long_record.payload, long.as_bytes()) == 1,
        "the 6000-byte header survived whole"
    );

    let everything = replay_pcap_file(&file, port, ALL_METHODS);
    let got: Vec<String> = everything.iter().map(Record::request_line).collect();
    assert_eq!(sorted(got), sorted(all));
    let chunked = everything
        .iter()
        .find(|r| r.request_line() == "POST /upload/chunked")
        .expect("chunked upload");
    assert!(
        count(&chunked.payload, &[b'z'; 1000]) >= 100,
        "the 100 000-byte chunked body came out decoded"
    );
}

#[test]
fn wrk_traffic_every_request_recovered() {
    let _processes = lock::processes();
    let dir = Scratch::new("loopback-wrk");
    let nginx = Nginx::start(&dir.join("nginx"), "");
    let tcpdump = Tcpdump::start(dir.path(), nginx.port, 2048);
    let out = run_with_timeout(
        Command::new(require_tool("wrk")).args([
            "-t1",
            "-c4",
            "-d1s",
            &format!("{}/wrk", nginx.url()),
        ]),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "wrk: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = tcpdump.stop();
    let log = nginx.log();
    assert!(log.len() > 1000, "wrk made only {} requests", log.len());
    let records = replay_pcap_file(&file, nginx.port, &[]);
    assert_eq!(
        records.len(),
        log.len(),
        "replayer recovered {} of the {} requests nginx served",
        records.len(),
        log.len()
    );
    assert!(records.iter().all(|r| r.request_line() == "GET /wrk"));
}

#[test]
fn live_capture_on_loopback_prints_requests_as_they_happen() {
    let _processes = lock::processes();
    assert!(is_root(), "live capture needs root");
    let dir = Scratch::new("loopback-live");
    let nginx = Nginx::start(&dir.join("nginx"), "");
    let replayer = LiveReplayer::start(&format!("127.0.0.1:{}", nginx.port));
    let base = nginx.url();
    curl(&[&format!("{base}/live/1"), &format!("{base}/live/2")]);
    curl(&["-d", "x=1", &format!("{base}/live/post")]);
    curl(&["-X", "OPTIONS", &format!("{base}/live/3")]);
    let (records, stderr) = replayer.stop();
    let got: Vec<String> = records.iter().map(Record::request_line).collect();
    assert_eq!(
        got,
        ["GET /live/1", "GET /live/2", "OPTIONS /live/3"],
        "stderr: {stderr}"
    );
}

#[test]
fn linux_cooked_captures_of_any_interface_sll_and_sll2() {
    let _processes = lock::processes();
    let dir = Scratch::new("loopback-any");
    let nginx = Nginx::start(&dir.join("nginx"), "");
    let base = nginx.url();
    for (round, link) in ["LINUX_SLL", "LINUX_SLL2"].iter().enumerate() {
        std::fs::create_dir_all(dir.join(link)).unwrap();
        let tcpdump = Tcpdump::start_on(
            &dir.join(link),
            nginx.port,
            65535,
            &["-i", "any", "-y", link],
        );
        curl(&[&format!("{base}/{link}/1"), &format!("{base}/{link}/2")]);
        curl(&["-X", "PUT", "-d", "x", &format!("{base}/{link}/put")]);
        let file = tcpdump.stop();
        let safe = logged(&nginx, 3 * (round + 1), &["GET"]);
        let want: Vec<String> = safe.into_iter().filter(|l| l.contains(link)).collect();
        let got: Vec<String> = replay_pcap_file(&file, nginx.port, &[])
            .iter()
            .map(Record::request_line)
            .collect();
        assert_eq!(got, want, "{link}");
    }
}
