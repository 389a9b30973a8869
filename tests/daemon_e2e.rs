//! The daemon end to end, with real parts only: nginx as production on 127.0.0.1, nginx as
//! staging on another port (500 on `/fail`), the `replayer` binary capturing production's
//! port on `lo` (libpcap, root), curl and wrk as clients with keep-alive.
//!
//! What must hold: staging receives exactly production's GET/HEAD/OPTIONS (method, URI,
//! rewritten headers) and nothing else; the status document agrees with both logs; staging
//! down costs counted failures and recovers; the sync flag pauses and resumes without a
//! restart; SIGTERM under load exits 0 within the drain timeout and removes the socket;
//! startup errors are one line and a non-zero exit.

use crate::util::*;
use replayer_status::schema::DaemonState;
use replayer_status::StatusDocument;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STAGING_LOCATIONS: &str =
    "location / { return 200 \"staging\\n\"; } location /fail { return 500; }";

/// A running `replayer` capturing `production_port` on `lo` with this test's sync flag: the
/// shared [`DaemonProcess`] (status, `wait_for`, stderr, killed when dropped) plus the flag.
struct Daemon {
    process: DaemonProcess,
    flag: PathBuf,
}

impl std::ops::Deref for Daemon {
    type Target = DaemonProcess;
    fn deref(&self) -> &DaemonProcess {
        &self.process
    }
}

impl std::ops::DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut DaemonProcess {
        &mut self.process
    }
}

impl Daemon {
    fn start(dir: &Path, production_port: u16, staging: &str, extra: &[&str]) -> Daemon {
        assert!(is_root(), "live capture on lo needs root (CI runs as root)");
        let socket = dir.join("run/status.sock");
        let flag = dir.join("FACTER_data_sync_in_progress");
        let stderr = dir.join("replayer.stderr");
        let child = Command::new(bin("replayer"))
            .arg(format!("-input-raw=lo:{production_port}"))
            .arg(format!("-output-http={staging}"))
            .args(["-http-set-header", "X-Forwarded-Host: rewritten.example"])
            .arg("--status-socket")
            .arg(&socket)
            .arg("--sync-flag")
            .arg(&flag)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn replayer");
        let mut daemon = Daemon {
            process: DaemonProcess {
                child,
                socket,
                stderr,
            },
            flag,
        };
        daemon.wait_for(Duration::from_secs(10), "replaying", |d| {
            d.state == DaemonState::Replaying
        });
        // libpcap is open once the state is `replaying`; give the kernel filter a moment.
        std::thread::sleep(Duration::from_millis(200));
        daemon
    }

    /// Waits until every queued request has been answered or has failed.
    fn settled(&mut self, queued: u64) -> StatusDocument {
        self.wait_for(Duration::from_secs(10), "all replays settled", |d| {
            d.requests.queued >= queued
                && d.requests.replayed + d.requests.failed == d.requests.queued
        })
    }

    /// SIGTERM; returns the exit status and how long the daemon took to exit.
    fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, start.elapsed());
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "replayer ignored SIGTERM: {}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// curl, one process, one keep-alive connection, one request per `(method, path)`.
fn curl(port: u16, requests: &[(&str, &str)]) {
    let mut cmd = Command::new(require_tool("curl"));
    for (i, (method, path)) in requests.iter().enumerate() {
        if i > 0 {
            cmd.arg("--next");
        }
        cmd.args(["-s", "-o", "/dev/null", "-A", "e2e-client/1"]);
        match *method {
            "HEAD" => {
                cmd.arg("-I");
            }
            "GET" => {}
            "POST" | "PUT" => {
                cmd.args(["-X", method, "--data-binary", "payload=1"]);
            }
            other => {
                cmd.args(["-X", other]);
            }
        }
        cmd.arg(format!("http://127.0.0.1:{port}{path}"));
    }
    let out = run_with_timeout(&mut cmd, Duration::from_secs(20));
    assert!(out.status.success(), "curl failed: {out:?}");
}

fn count_by<'a>(lines: impl Iterator<Item = &'a LogLine>) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for l in lines {
        *counts.entry((l.method.clone(), l.uri.clone())).or_default() += 1;
    }
    counts
}

#[test]
fn staging_gets_exactly_the_safe_requests_and_status_agrees() {
    let _processes = lock::processes();
    let scratch = Scratch::new("e2e-exact");
    let production = Nginx::start(&scratch.join("production"), "");
    let staging = Nginx::start(&scratch.join("staging"), STAGING_LOCATIONS);
    let metrics_port = free_port();
    let metrics_arg = format!("--metrics-listen=127.0.0.1:{metrics_port}");
    let mut daemon = Daemon::start(
        scratch.path(),
        production.port,
        &staging.url(),
        &[&metrics_arg],
    );

    let mut requests = Vec::new();
    for i in 0..30 {
        let (method, path) = match i % 8 {
            0 => ("GET", format!("/page/{i}?q={i}&x=%2Fy")),
            1 => ("HEAD", format!("/head/{i}")),
            2 => ("OPTIONS", format!("/options/{i}")),
            3 => ("POST", format!("/post/{i}")),
            4 => ("PUT", format!("/put/{i}")),
            5 => ("DELETE", format!("/delete/{i}")),
            6 => ("GET", format!("/fail/{i}")),
            _ => ("GET", "/".to_string()),
        };
        requests.push((method, path));
    }
    let as_refs: Vec<(&str, &str)> = requests.iter().map(|(m, p)| (*m, p.as_str())).collect();
    curl(production.port, &as_refs[..15]);
    curl(production.port, &as_refs[15..]);

    let prod_log = production.wait_for_log(30, Duration::from_secs(5));
    assert_eq!(prod_log.len(), 30, "production saw every request");
    let safe: Vec<&LogLine> = prod_log
        .iter()
        .filter(|l| matches!(l.method.as_str(), "GET" | "HEAD" | "OPTIONS"))
        .collect();
    let unsafe_count = (prod_log.len() - safe.len()) as u64;
    assert_eq!(unsafe_count, 12);

    // Capture hands packets over in ring blocks (10 ms timeout), so the last, filtered request
    // may be framed after the replays have settled: wait for every request to be seen too.
    daemon.wait_for(Duration::from_secs(10), "every request seen", |d| {
        d.requests.seen >= prod_log.len() as u64
    });
    let doc = daemon.settled(safe.len() as u64);
    let stage_log = staging.wait_for_log(safe.len(), Duration::from_secs(5));
    // Exactly the safe requests, each as often as production saw it, and nothing else.
    assert_eq!(count_by(stage_log.iter()), count_by(safe.iter().copied()));
    let host = format!("127.0.0.1:{}", staging.port);
    for l in &stage_log {
        assert_eq!(l.host, host, "Host becomes the target's: {l:?}");
        assert_eq!(l.x_forwarded_host, "rewritten.example", "{l:?}");
        assert_eq!(l.x_replayed_by, "replayer", "marker header: {l:?}");
        assert_eq!(l.user_agent, "e2e-client/1", "{l:?}");
    }

    // The status document agrees with both logs.
    let staging_500s = stage_log.iter().filter(|l| l.status == 500).count() as u64;
    assert_eq!(staging_500s, 3);
    let r = &doc.requests;
    assert_eq!(r.seen, prod_log.len() as u64, "{doc:#?}");
    assert_eq!(r.filtered, unsafe_count);
    assert_eq!(r.queued, stage_log.len() as u64);
    assert_eq!(r.replayed, stage_log.len() as u64);
    assert_eq!((r.failed, r.dropped_queue_full, r.paused_sync), (0, 0, 0));
    assert_eq!(doc.responses.c5xx, staging_500s);
    assert_eq!(
        doc.responses.c2xx,
        stage_log.iter().filter(|l| l.status == 200).count() as u64
    );
    let w = &doc.windows["60"];
    assert_eq!((w.seen, w.replayed, w.responses), (30, 18, 18));
    assert_eq!(w.c5xx, staging_500s);
    assert_eq!(w.ratio_5xx, Some(staging_500s as f64 / 18.0));
    assert_eq!(doc.windows["900"].c5xx, staging_500s);
    assert_eq!(doc.capture.source, format!("lo:{}", production.port));
    // Packet totals are published in batches or when the wire goes quiet.
    daemon.wait_for(Duration::from_secs(3), "packets counted", |d| {
        d.capture.packets > 0 && d.capture.bytes > 0
    });
    assert_eq!(doc.capture.kernel_dropped, 0, "the capture ring overflowed");
    // The same figures in Prometheus text format.
    let metrics = run_with_timeout(
        Command::new(require_tool("curl"))
            .args(["-sf", &format!("http://127.0.0.1:{metrics_port}/metrics")]),
        Duration::from_secs(10),
    );
    let text = String::from_utf8_lossy(&metrics.stdout);
    for line in [
        "replayer_requests_total{outcome=\"replayed\"} 18",
        "replayer_requests_total{outcome=\"filtered\"} 12",
        format!(
            "replayer_responses_total{{target=\"{}\",class=\"5xx\"}} 3",
            doc.targets[0].url
        )
        .as_str(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in {text}");
    }
    assert_eq!(doc.targets.len(), 1);
    assert_eq!(doc.targets[0].replayed, 18);
    assert_eq!(doc.targets[0].in_flight, 0);

    let (exit, _) = daemon.terminate();
    assert_eq!(exit.code(), Some(0), "{}", daemon.stderr_text());
    assert!(!daemon.socket.exists(), "socket removed at exit");
}

#[test]
fn staging_down_costs_counted_failures_and_recovers() {
    let _processes = lock::processes();
    let scratch = Scratch::new("e2e-down");
    let production = Nginx::start(&scratch.join("production"), "");
    let mut staging = Nginx::start(&scratch.join("staging"), STAGING_LOCATIONS);
    let mut daemon = Daemon::start(scratch.path(), production.port, &staging.url(), &[]);

    let batch = |tag: &str| -> Vec<(String, String)> {
        (0..10)
            .map(|i| ("GET".to_string(), format!("/{tag}/{i}")))
            .collect()
    };
    let send = |reqs: &[(String, String)]| {
        let refs: Vec<(&str, &str)> = reqs.iter().map(|(m, p)| (m.as_str(), p.as_str())).collect();
        curl(production.port, &refs);
    };
    send(&batch("before"));
    daemon.settled(10);
    staging.stop();
    send(&batch("down"));
    let doc = daemon.settled(20);
    assert_eq!((doc.requests.replayed, doc.requests.failed), (10, 10));
    assert_eq!(doc.windows["60"].failed, 10);
    staging.restart();
    send(&batch("after"));
    let doc = daemon.settled(30);
    assert_eq!((doc.requests.replayed, doc.requests.failed), (20, 10));
    let log = staging.wait_for_log(20, Duration::from_secs(5));
    let uris: Vec<&str> = log.iter().map(|l| l.uri.as_str()).collect();
    assert_eq!(log.len(), 20, "{uris:?}");
    assert!(uris
        .iter()
        .all(|u| u.starts_with("/before/") || u.starts_with("/after/")));
}

#[test]
fn sync_flag_pauses_and_resumes_without_restart() {
    let _processes = lock::processes();
    let scratch = Scratch::new("e2e-sync");
    let production = Nginx::start(&scratch.join("production"), "");
    let staging = Nginx::start(&scratch.join("staging"), STAGING_LOCATIONS);
    let mut daemon = Daemon::start(scratch.path(), production.port, &staging.url(), &[]);
    let pid = daemon.child.id();

    curl(production.port, &[("GET", "/before")]);
    daemon.settled(1);
    std::fs::write(&daemon.flag, "true\n").unwrap();
    let doc = daemon.wait_for(Duration::from_secs(2), "paused", |d| {
        d.state == DaemonState::Paused
    });
    assert!(doc.sync.in_progress && doc.sync.since.is_some() && !doc.sync.stale);
    curl(
        production.port,
        &[
            ("GET", "/during/1"),
            ("GET", "/during/2"),
            ("HEAD", "/during/3"),
        ],
    );
    let doc = daemon.wait_for(Duration::from_secs(5), "3 paused_sync", |d| {
        d.requests.paused_sync == 3
    });
    assert_eq!(doc.requests.queued, 1, "nothing queued while paused");
    assert_eq!(doc.windows["60"].paused_sync, 3);

    std::fs::write(&daemon.flag, "\n").unwrap();
    daemon.wait_for(Duration::from_secs(2), "replaying again", |d| {
        d.state == DaemonState::Replaying && !d.sync.in_progress
    });
    curl(production.port, &[("GET", "/after")]);
    let doc = daemon.settled(2);
    assert_eq!(doc.pid, pid, "same process: no restart");
    let log = staging.wait_for_log(2, Duration::from_secs(5));
    let uris: Vec<&str> = log.iter().map(|l| l.uri.as_str()).collect();
    assert_eq!(uris, ["/before", "/after"]);
}

#[test]
fn sigterm_under_load_exits_cleanly_within_the_drain_timeout() {
    let _processes = lock::processes();
    let scratch = Scratch::new("e2e-term");
    let production = Nginx::start(&scratch.join("production"), "");
    // A staging that accepts connections and never answers: requests are in flight at
    // SIGTERM and can only end by the drain timeout.
    let slow = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let slow_url = format!("http://{}", slow.local_addr().unwrap());
    let mut daemon = Daemon::start(
        scratch.path(),
        production.port,
        &slow_url,
        &["--drain-timeout", "1s"],
    );
    let mut wrk = Command::new(require_tool("wrk"))
        .args(["-t1", "-c4", "-d3s"])
        .arg(format!("http://127.0.0.1:{}/load", production.port))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    daemon.wait_for(Duration::from_secs(5), "load captured", |d| {
        d.requests.queued > 10
    });
    let (exit, took) = daemon.terminate();
    let _ = wrk.kill();
    let _ = wrk.wait();
    assert_eq!(exit.code(), Some(0), "{}", daemon.stderr_text());
    assert!(
        took < Duration::from_secs(4),
        "exit took {took:?} with a 1 s drain timeout"
    );
    assert!(!daemon.socket.exists(), "socket removed at exit");
    drop(slow);
}

#[test]
fn startup_errors_are_one_line_and_non_zero() {
    let _processes = lock::processes();
    let scratch = Scratch::new("e2e-startup");
    let blocker = scratch.join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "-input-raw=nosuchif0:80".into(),
                "-output-http=http://127.0.0.1:9".into(),
            ],
            "nosuchif0",
        ),
        (
            vec![
                "-input-raw=lo:80".into(),
                "-output-http=ftp://staging".into(),
            ],
            "output-http",
        ),
        (
            vec![
                "-input-raw=lo:80".into(),
                "-output-http=http://127.0.0.1:9".into(),
                "--status-socket".into(),
                blocker.join("status.sock").display().to_string(),
            ],
            "status socket",
        ),
    ];
    // No permission to capture: the same command as an unprivileged user (nobody).
    let open_dir = scratch.join("open");
    std::fs::create_dir_all(&open_dir).unwrap();
    std::fs::set_permissions(
        &open_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    // nobody:nogroup: with root's group kept, a checkout under a folder only its owner may
    // enter (mktemp -d, then chmod o+x) would refuse the binary by its group bits.
    let mut as_nobody = Command::new(open_bin("replayer"));
    as_nobody
        .args(["-input-raw=lo:80", "-output-http=http://127.0.0.1:9"])
        .arg("--status-socket")
        .arg(open_dir.join("status.sock"))
        .arg("--sync-flag")
        .arg(open_dir.join("flag"));
    std::os::unix::process::CommandExt::gid(&mut as_nobody, 65534);
    std::os::unix::process::CommandExt::uid(&mut as_nobody, 65534);
    let out = run_with_timeout(&mut as_nobody, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Nothing ran: exit 2, as with every output (docs/daemon.md, "Exit codes").
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("replayer: cannot capture on lo: ") && stderr.contains("not permitted"),
        "{stderr}"
    );
    assert!(!open_dir.join("status.sock").exists(), "socket left behind");

    for (args, needle) in cases {
        let out = run_with_timeout(
            Command::new(bin("replayer")).args(&args),
            Duration::from_secs(10),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?} succeeded");
        assert!(out.status.code().is_some(), "{args:?} died by a signal");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

/// Raises this process's open-file limit so the test itself can hold 1,000 connections.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

#[test]
fn a_thousand_status_clients_silent_or_garbage_stall_nothing() {
    let _processes = lock::processes();
    raise_fd_limit();
    let scratch = Scratch::new("e2e-clients");
    let production = Nginx::start(&scratch.join("production"), "");
    let staging = Nginx::start(&scratch.join("staging"), STAGING_LOCATIONS);
    let mut daemon = Daemon::start(scratch.path(), production.port, &staging.url(), &[]);

    // 1,000 clients connect at once and do not read; every third sends garbage first.
    let mut held = Vec::new();
    for i in 0..1000 {
        let mut s = std::os::unix::net::UnixStream::connect(&daemon.socket)
            .unwrap_or_else(|e| panic!("client {i}: {e}"));
        if i % 3 == 0 {
            use std::io::Write;
            let _ = s.write_all(b"\x00\xffGET / HTTP/1.1\r\n\r\ngarbage garbage\n");
        }
        held.push(s);
    }
    // Meanwhile the daemon keeps replaying and answering other clients.
    let paths: Vec<(&str, String)> = (0..20).map(|i| ("GET", format!("/busy/{i}"))).collect();
    let refs: Vec<(&str, &str)> = paths.iter().map(|(m, p)| (*m, p.as_str())).collect();
    curl(production.port, &refs);
    let doc = daemon.settled(20);
    assert_eq!(doc.requests.replayed, 20);
    assert_eq!(staging.wait_for_log(20, Duration::from_secs(5)).len(), 20);
    for _ in 0..50 {
        assert!(
            daemon.status().is_some(),
            "a reading client was not answered"
        );
    }
    // Every held client got its whole document, waiting in its socket buffer.
    let mut complete = 0;
    for mut s in held {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut text = Vec::new();
        let _ = s.read_to_end(&mut text);
        if serde_json::from_slice::<StatusDocument>(&text).is_ok() {
            complete += 1;
        }
    }
    assert_eq!(complete, 1000);
}

#[test]
fn staging_resetting_or_silent_is_counted_as_failed_and_never_crashes() {
    let _processes = lock::processes();
    // A staging that resets every connection as soon as it is accepted.
    let resetting = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let reset_url = format!("http://{}", resetting.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in resetting.incoming().flatten() {
            // SO_LINGER 0: close sends RST.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: setsockopt on a socket we own, with a correctly sized option value.
            unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&stream),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    &linger as *const libc::linger as *const libc::c_void,
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
            drop(stream);
        }
    });
    // One that accepts (kernel backlog) and never answers: slower than the timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());

    let scratch = Scratch::new("e2e-reset");
    let production = Nginx::start(&scratch.join("production"), "");
    let mut daemon = Daemon::start(
        scratch.path(),
        production.port,
        &reset_url,
        &[
            &format!("-output-http={silent_url}"),
            "-output-http-timeout=300ms",
        ],
    );
    let paths: Vec<(&str, String)> = (0..10).map(|i| ("GET", format!("/r/{i}"))).collect();
    let refs: Vec<(&str, &str)> = paths.iter().map(|(m, p)| (*m, p.as_str())).collect();
    curl(production.port, &refs);
    let doc = daemon.settled(20);
    assert_eq!((doc.requests.replayed, doc.requests.failed), (0, 20));
    assert_eq!(doc.targets.len(), 2);
    assert_eq!((doc.targets[0].failed, doc.targets[1].failed), (10, 10));
    assert_eq!(doc.windows["60"].failed, 20);
    assert_eq!(doc.windows["60"].ratio_5xx, None, "no responses, no ratio");
    let (exit, _) = daemon.terminate();
    assert_eq!(exit.code(), Some(0), "{}", daemon.stderr_text());
    drop(silent);
}

#[test]
fn a_capture_file_is_replayed_and_written_to_every_output_then_the_daemon_exits() {
    let _processes = lock::processes();
    let scratch = Scratch::new("e2e-file");
    let staging = Nginx::start(&scratch.join("staging"), STAGING_LOCATIONS);
    let pcap = workspace_root().join("demo/production.pcap");
    let record = scratch.join("requests.gor");
    let out = run_with_timeout(
        Command::new(bin("replayer"))
            .arg(format!("-input-raw={}:7999", pcap.display()))
            .arg(format!("-output-http={}", staging.url()))
            .arg(format!("-output-file={}", record.display()))
            .arg("--status-socket")
            .arg(scratch.join("status.sock"))
            .arg("--sync-flag")
            .arg(scratch.join("no-flag")),
        Duration::from_secs(20),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // demo/production.pcap: 77 requests, 71 of them GET/HEAD/OPTIONS, 2 to /fail/.
    let log = staging.wait_for_log(71, Duration::from_secs(5));
    assert_eq!(log.len(), 71);
    assert_eq!(log.iter().filter(|l| l.status == 500).count(), 2);
    let text = std::fs::read(&record).unwrap();
    let records = String::from_utf8_lossy(&text).matches("\n🐵🙈🙉\n").count();
    assert_eq!(
        records, 71,
        "the file output gets the same filtered requests"
    );
    assert!(
        !scratch.join("status.sock").exists(),
        "socket removed at exit"
    );
}
