//! Faults of staging, one after another on the same port, against one daemon that is never
//! restarted: a black hole (a listener whose accept queue is full, so the kernel drops every
//! SYN), a server slower than `-output-http-timeout`, one that resets mid-response, a storm
//! of 503s from a real nginx, then a healthy nginx. Production is a real nginx on
//! 127.0.0.1 captured live on `lo`; curl is the client.
//!
//! After each phase: the status document counts exactly what happened (failed, 5xx,
//! responses), nothing stays in flight, and at the end every request of the healthy phase
//! reached staging (recovery without restart) with the daemon's peak memory bounded.
//! A second daemon meets TLS failures (a self-signed certificate, one of a trusted CA for
//! the wrong name) and recovers when staging gets a good certificate. (Refused connections,
//! resets at accept and silent servers are in `daemon_e2e.rs`.)

use crate::util::*;
use replayer_status::schema::DaemonState;
use replayer_status::StatusDocument;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// curl, one process, one keep-alive connection: `GET /PHASE/i` for i in 0..n.
fn requests(port: u16, phase: &str, n: usize) {
    let mut cmd = Command::new(require_tool("curl"));
    for i in 0..n {
        if i > 0 {
            cmd.arg("--next");
        }
        cmd.args(["-s", "-o", "/dev/null"])
            .arg(format!("http://127.0.0.1:{port}/{phase}/{i}"));
    }
    let out = run_with_timeout(&mut cmd, Duration::from_secs(30));
    assert!(out.status.success(), "curl: {out:?}");
}

/// A listener on `port` with a backlog of 0 and its one queue place taken: every further
/// SYN is dropped by the kernel, the client hears nothing.
fn black_hole(port: u16) -> (OwnedFd, Vec<std::net::TcpStream>) {
    // SAFETY: plain socket calls on a descriptor we own from the start (OwnedFd closes it).
    let fd = unsafe {
        // Close-on-exec: a process another test starts meanwhile must not inherit the socket
        // and keep the port bound after the black hole is gone.
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let fd = OwnedFd::from_raw_fd(fd);
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::bind(
            fd.as_raw_fd(),
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        assert_eq!(libc::listen(fd.as_raw_fd(), 0), 0);
        fd
    };
    // Fill the accept queue (backlog 0 still queues one connection).
    let fillers: Vec<_> = (0..2)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(
                &format!("127.0.0.1:{port}").parse().unwrap(),
                Duration::from_millis(200),
            )
            .ok()
        })
        .collect();
    assert!(!fillers.is_empty());
    let probe = std::net::TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(300),
    );
    assert!(probe.is_err(), "the black hole answered a SYN");
    (fd, fillers)
}

enum Misbehaviour {
    /// Answers 200, but only after this long.
    Slow(Duration),
    /// Sends the status line, headers and part of the body, then RST.
    ResetMidResponse,
}

/// A misbehaving staging on `port` until dropped.
struct FaultyServer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultyServer {
    fn start(port: u16, how: Misbehaviour) -> FaultyServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind staging port");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let how = Arc::new(how);
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let how = how.clone();
                std::thread::spawn(move || {
                    stream.set_nonblocking(false).unwrap();
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    match *how {
                        Misbehaviour::Slow(delay) => {
                            std::thread::sleep(delay);
                            let _ = stream.write_all(
                                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nslow\n",
                            );
                        }
                        Misbehaviour::ResetMidResponse => {
                            let _ = stream.write_all(
                                b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial",
                            );
                            std::thread::sleep(Duration::from_millis(20));
                            let linger = libc::linger {
                                l_onoff: 1,
                                l_linger: 0,
                            };
                            // SAFETY: setsockopt on a socket we own, correctly sized value.
                            unsafe {
                                libc::setsockopt(
                                    stream.as_raw_fd(),
                                    libc::SOL_SOCKET,
                                    libc::SO_LINGER,
                                    &linger as *const libc::linger as *const libc::c_void,
                                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                                );
                            }
                        }
                    }
                });
            }
        });
        FaultyServer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FaultyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits until `queued` requests have an outcome and nothing is in flight.
fn settled(daemon: &mut DaemonProcess, queued: u64) -> StatusDocument {
    daemon.wait_for(Duration::from_secs(15), "every request settled", |d| {
        d.requests.queued == queued
            && d.requests.replayed + d.requests.failed == queued
            && d.targets[0].in_flight == 0
    })
}

/// One phase: `n` requests to production under `/NAME/`, then the totals since start must
/// be `(replayed, failed)` with nothing in flight.
fn phase(
    daemon: &mut DaemonProcess,
    production: u16,
    name: &str,
    n: usize,
    totals: (u64, u64),
) -> StatusDocument {
    requests(production, name, n);
    let doc = settled(daemon, totals.0 + totals.1);
    assert_eq!(
        (doc.requests.replayed, doc.requests.failed),
        totals,
        "after {name}: {doc:#?}"
    );
    doc
}

#[test]
fn black_hole_slow_reset_and_5xx_storm_are_counted_then_staging_recovers_without_restart() {
    let _processes = lock::processes();
    assert!(is_root(), "live capture on lo needs root (CI runs as root)");
    let scratch = Scratch::new("faults");
    let production = Nginx::start(&scratch.join("production"), "");
    let staging_port = free_port();
    let mut daemon = DaemonProcess::spawn(
        scratch.path(),
        &[
            &format!("-input-raw=lo:{}", production.port),
            &format!("-output-http=http://127.0.0.1:{staging_port}"),
            "-output-http-timeout=700ms",
            "-output-http-workers=4",
        ],
    );
    daemon.wait_for(Duration::from_secs(10), "replaying", |d| {
        d.state == DaemonState::Replaying
    });
    std::thread::sleep(Duration::from_millis(200));
    let start_rss = proc_memory_bytes(daemon.pid(), "VmRSS");

    // 1. Black hole: SYNs dropped, every request times out.
    let hole = black_hole(staging_port);
    phase(&mut daemon, production.port, "hole", 8, (0, 8));
    drop(hole);

    // 2. Slower than the timeout.
    let slow = FaultyServer::start(staging_port, Misbehaviour::Slow(Duration::from_secs(2)));
    phase(&mut daemon, production.port, "slow", 8, (0, 16));
    drop(slow);

    // 3. Reset in the middle of the response body.
    let reset = FaultyServer::start(staging_port, Misbehaviour::ResetMidResponse);
    phase(&mut daemon, production.port, "reset", 8, (0, 24));
    drop(reset);

    // 4. A storm of 503s from a real nginx: answers, counted by class.
    let storm = Nginx::start_on(
        &scratch.join("storm"),
        staging_port,
        "location / { return 503; }",
    );
    let doc = phase(&mut daemon, production.port, "storm", 200, (200, 24));
    assert_eq!(doc.responses.c5xx, 200);
    assert_eq!(doc.windows["60"].c5xx, 200);
    assert_eq!(doc.windows["60"].ratio_5xx, Some(1.0));
    assert_eq!(storm.wait_for_log(200, Duration::from_secs(5)).len(), 200);
    drop(storm);

    // 5. Healthy again, same daemon: every request arrives.
    let healthy = Nginx::start_on(&scratch.join("healthy"), staging_port, "");
    let doc = phase(&mut daemon, production.port, "healthy", 20, (220, 24));
    assert_eq!((doc.responses.c2xx, doc.responses.c5xx), (20, 200));
    assert_eq!(doc.targets[0].failed, 24);
    assert_eq!(doc.state, DaemonState::Replaying);
    let log = healthy.wait_for_log(20, Duration::from_secs(5));
    assert_eq!(log.len(), 20);
    assert!(log
        .iter()
        .all(|l| l.uri.starts_with("/healthy/") && l.status == 200));

    let peak = proc_memory_bytes(daemon.pid(), "VmHWM");
    let rss = proc_memory_bytes(daemon.pid(), "VmRSS");
    eprintln!(
        "RSS at start {} KB, at end {} KB, peak {} KB",
        start_rss >> 10,
        rss >> 10,
        peak >> 10
    );
    assert!(peak < 64 << 20, "peak RSS {} MB", peak >> 20);
    assert_eq!(daemon.terminate(), Some(0), "{}", daemon.stderr_text());
}

/// `openssl ARGS` in `dir`, which must succeed.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = run_with_timeout(
        Command::new(require_tool("openssl"))
            .args(args)
            .current_dir(dir),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A certificate for `san` (e.g. `IP:127.0.0.1`) signed by the test CA in `dir`:
/// `NAME.pem` and `NAME.key`.
fn leaf(dir: &std::path::Path, name: &str, san: &str) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let (key, csr, pem, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.ext"),
    );
    let mut req = vec!["req"];
    req.extend(ec);
    req.extend(["-subj", "/CN=staging", "-keyout", &key, "-out", &csr]);
    openssl(dir, &req);
    std::fs::write(dir.join(&ext), format!("subjectAltName={san}\n")).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
    );
}

/// nginx answering 200 over TLS on `tls_port` with `DIR/NAME.pem` (and plain HTTP on
/// `plain_port`, the harness's own listener). Two free ports of their own: `tls_port` next
/// to `plain_port` could be a port another test was just given.
fn tls_staging(
    scratch: &Scratch,
    phase: &str,
    (plain_port, tls_port): (u16, u16),
    certs: &std::path::Path,
    name: &str,
) -> Nginx {
    Nginx::start_on(
        &scratch.join(phase),
        plain_port,
        &format!(
            "listen 127.0.0.1:{tls_port} ssl; ssl_certificate {d}/{name}.pem; \
             ssl_certificate_key {d}/{name}.key;\n location / {{ return 200 \"ok\\n\"; }}",
            d = certs.display()
        ),
    )
}

#[test]
fn tls_failures_are_counted_and_a_good_certificate_recovers_without_restart() {
    let _processes = lock::processes();
    assert!(is_root(), "live capture on lo needs root (CI runs as root)");
    let scratch = Scratch::new("faults-tls");
    let certs = scratch.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    // A CA the daemon trusts (SSL_CERT_FILE replaces the system's store), a self-signed
    // certificate it does not, one of the CA's for the wrong name, one for the right name.
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "1",
        "-subj",
        "/CN=replayer test CA",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(&certs, &ca);
    let mut own = vec!["req", "-x509", "-days", "1", "-subj", "/CN=127.0.0.1"];
    own.extend(ec);
    own.extend([
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        "self.key",
        "-out",
        "self.pem",
    ]);
    openssl(&certs, &own);
    leaf(&certs, "wrong", "DNS:staging.example");
    leaf(&certs, "good", "IP:127.0.0.1");

    let production = Nginx::start(&scratch.join("production"), "");
    let ports = (free_port(), free_port());
    let tls_port = ports.1;
    let mut staging = tls_staging(&scratch, "self", ports, &certs, "self");
    let mut daemon = {
        // SSL_CERT_FILE is read by the daemon at start; set only for its process.
        let socket_dir = scratch.join("daemon");
        std::fs::create_dir_all(&socket_dir).unwrap();
        let mut d = DaemonProcess::spawn_with_env(
            &socket_dir,
            &[
                &format!("-input-raw=lo:{}", production.port),
                &format!("-output-http=https://127.0.0.1:{tls_port}"),
                "-output-http-timeout=2s",
            ],
            &[("SSL_CERT_FILE", certs.join("ca.pem").to_str().unwrap())],
        );
        d.wait_for(Duration::from_secs(10), "replaying", |d| {
            d.state == DaemonState::Replaying
        });
        d
    };
    std::thread::sleep(Duration::from_millis(200));

    phase(&mut daemon, production.port, "self-signed", 5, (0, 5));

    staging.stop();
    staging = tls_staging(&scratch, "wrong", ports, &certs, "wrong");
    phase(&mut daemon, production.port, "wrong-name", 5, (0, 10));

    staging.stop();
    let staging = tls_staging(&scratch, "good", ports, &certs, "good");
    let doc = phase(&mut daemon, production.port, "good", 5, (5, 10));
    assert_eq!(doc.responses.c2xx, 5);
    let log = staging.wait_for_log(5, Duration::from_secs(5));
    assert_eq!(log.len(), 5);
    assert!(log.iter().all(|l| l.uri.starts_with("/good/")));
    let peak = proc_memory_bytes(daemon.pid(), "VmHWM");
    assert!(peak < 64 << 20, "peak RSS {} MB", peak >> 20);
    assert_eq!(daemon.terminate(), Some(0), "{}", daemon.stderr_text());
}

#[test]
fn a_staging_name_that_stops_or_starts_resolving_is_counted_and_followed_without_restart() {
    let _processes = lock::processes();
    assert!(is_root(), "mount namespaces and live capture need root");
    let scratch = Scratch::new("faults-dns");
    let production = Nginx::start(&scratch.join("production"), "");
    let staging = Nginx::start(&scratch.join("staging"), "");
    // The daemon gets its own /etc/hosts and /etc/resolv.conf (bind mounts in a mount
    // namespace of its own): the name is not there at first, and DNS is a refused port,
    // so a lookup fails at once instead of waiting on a real resolver.
    let hosts = scratch.join("hosts");
    let resolv = scratch.join("resolv.conf");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    let mut launcher = Command::new(require_tool("unshare"));
    launcher
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount --bind {h} /etc/hosts && mount --bind {r} /etc/resolv.conf && exec \"$0\" \"$@\"",
            h = hosts.display(),
            r = resolv.display()
        ))
        .arg(bin("replayer"));
    let mut daemon = DaemonProcess::spawn_via(
        &scratch.join("daemon"),
        launcher,
        &[
            &format!("-input-raw=lo:{}", production.port),
            &format!("-output-http=http://staging.replayer-test:{}", staging.port),
            "-output-http-timeout=2s",
        ],
        &[],
    );
    daemon.wait_for(Duration::from_secs(10), "replaying", |d| {
        d.state == DaemonState::Replaying
    });
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !std::fs::read_to_string("/etc/hosts")
            .unwrap()
            .contains("replayer-test"),
        "the test's own /etc/hosts is untouched"
    );

    // 1. The name does not resolve: counted as failed.
    phase(&mut daemon, production.port, "unresolved", 5, (0, 5));

    // 2. The name appears (written in place: the bind mount shows the same file).
    std::fs::write(&hosts, "127.0.0.1 localhost staging.replayer-test\n").unwrap();
    phase(&mut daemon, production.port, "resolved", 5, (5, 5));

    // 3. DNS goes away again: the last good answer is kept, replay goes on.
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    phase(&mut daemon, production.port, "dns-gone", 5, (10, 5));
    let log = staging.wait_for_log(10, Duration::from_secs(5));
    let mut uris: Vec<&str> = log.iter().map(|l| l.uri.as_str()).collect();
    uris.sort();
    let mut want: Vec<String> = (0..5)
        .flat_map(|i| [format!("/resolved/{i}"), format!("/dns-gone/{i}")])
        .collect();
    want.sort();
    assert_eq!(uris, want);
    assert!(log
        .iter()
        .all(|l| l.host.starts_with("staging.replayer-test")));
    assert_eq!(daemon.terminate(), Some(0), "{}", daemon.stderr_text());
}
