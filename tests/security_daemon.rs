//! The daemon's security promises, each checked on the real binary:
//! - it holds no capability once the capture is open (every thread: CapEff, CapPrm, CapInh,
//!   CapAmb, CapBnd all empty; NoNewPrivs set), and still captures and replays;
//! - the status socket is 0660 with the configured group, a world-writable mode is refused,
//!   a user outside the group cannot connect, and what a client writes changes nothing;
//! - by default no unsafe method, method-override header turning a request unsafe, or loop
//!   marker is replayed, and credentials never reach staging;
//! - secrets (Authorization, Cookie, passwords in bodies and in target URLs) never appear in
//!   its logs, even at the most verbose level;
//! - it sends nothing to any address but the target's (tcpdump on every interface of a
//!   network namespace of the test's own, with a default route that would show a stray packet).

use crate::util::*;
use replayer_status::schema::DaemonState;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn curl_get(port: u16, path: &str) {
    let out = run_with_timeout(
        Command::new(require_tool("curl"))
            .args(["-s", "-o", "/dev/null", "-f"])
            .arg(format!("http://127.0.0.1:{port}{path}")),
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "curl {path}: {out:?}");
}

#[test]
fn every_capability_is_gone_once_the_capture_is_open_and_capture_still_works() {
    let _processes = lock::processes();
    assert!(is_root(), "live capture needs root (CI runs as root)");
    let scratch = Scratch::new("sec-caps");
    let production = Nginx::start(&scratch.join("production"), "");
    let staging = Nginx::start(&scratch.join("staging"), "");
    let mut daemon = DaemonProcess::spawn(
        scratch.path(),
        &[
            &format!("-input-raw=lo:{}", production.port),
            &format!("-output-http={}", staging.url()),
        ],
    );
    daemon.wait_for(Duration::from_secs(10), "replaying", |d| {
        d.state == DaemonState::Replaying
    });
    let tasks: Vec<_> = std::fs::read_dir(format!("/proc/{}/task", daemon.pid()))
        .unwrap()
        .map(|e| e.unwrap().path().join("status"))
        .collect();
    // main, capture, two runtime workers at least.
    assert!(tasks.len() >= 4, "{tasks:?}");
    for status in &tasks {
        for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            assert_eq!(
                proc_status_field(status, set),
                "0000000000000000",
                "{set} of {}",
                status.display()
            );
        }
        assert_eq!(proc_status_field(status, "NoNewPrivs"), "1");
    }
    // Without any capability, the open capture goes on delivering.
    std::thread::sleep(Duration::from_millis(200));
    curl_get(production.port, "/after-the-drop");
    let doc = daemon.wait_for(Duration::from_secs(10), "one replay", |d| {
        d.requests.replayed == 1
    });
    assert_eq!(doc.requests.failed, 0);
    let log = staging.wait_for_log(1, Duration::from_secs(5));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].uri, "/after-the-drop");
    assert_eq!(daemon.terminate(), Some(0), "{}", daemon.stderr_text());
    assert!(!daemon.socket.exists(), "socket removed without privileges");
}

/// A tiny capture (one GET to port 80), for daemons that only need to be up.
fn one_request_pcap(path: &std::path::Path) {
    let mut pcap = PcapBuilder::new(1);
    let server = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80);
    let mut conn = SyntheticConnection::open(
        &mut pcap,
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5555),
        server,
    );
    conn.send(&mut pcap, b"GET /one HTTP/1.1\r\nHost: h\r\n\r\n", 1460);
    conn.close(&mut pcap);
    pcap.write(path);
}

#[test]
fn the_status_socket_is_0660_for_its_group_and_clients_can_only_read() {
    let _processes = lock::processes();
    let scratch = Scratch::new("sec-socket");
    // Other users must be able to reach the socket's directory: the socket's own mode
    // and group are what is tested.
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let staging = Nginx::start(&scratch.join("staging"), "");
    let pcap = scratch.join("one.pcap");
    one_request_pcap(&pcap);
    let mut daemon = DaemonProcess::spawn(
        scratch.path(),
        &[
            &format!("-input-raw={}:80", pcap.display()),
            &format!("-output-http={}", staging.url()),
            "-exit-after=30s",
            "--status-socket-group=daemon",
        ],
    );
    let before = daemon.wait_for(Duration::from_secs(10), "the request replayed", |d| {
        d.requests.replayed == 1
    });
    let meta = std::fs::symlink_metadata(&daemon.socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660);
    assert_eq!(meta.gid(), 1, "group `daemon`");

    // Writing to it: commands, JSON, 256 KB of garbage. The daemon never reads any of it.
    for junk in [
        b"{\"state\":\"paused\",\"requests\":{\"seen\":0}}\n".to_vec(),
        b"PAUSE\nSHUTDOWN\nPOST / HTTP/1.1\r\n\r\n".to_vec(),
        vec![0xffu8; 256 * 1024],
    ] {
        let mut s = std::os::unix::net::UnixStream::connect(&daemon.socket).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.write_all(&junk);
        let mut answer = String::new();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.read_to_string(&mut answer);
    }
    let after = daemon.status().expect("still answering");
    assert_eq!(after.state, DaemonState::Replaying);
    assert_eq!(after.pid, before.pid);
    assert_eq!(after.requests, before.requests);
    assert_eq!(after.capture, before.capture);
    assert_eq!(after.targets, before.targets);

    // Another user, outside the group, cannot even connect; a member of the group reads.
    // The client is the check plugin Icinga runs (as its own user, e.g. nagios).
    let as_user = |uid: u32, gid: u32| {
        let mut cmd = Command::new(open_bin("check_replay_5xx"));
        cmd.arg("-S")
            .arg(&daemon.socket)
            .arg("--sync-flag")
            .arg(scratch.join("no-sync-flag"))
            .uid(uid)
            .gid(gid);
        // std drops the supplementary groups when a root parent sets the uid.
        let out = run_with_timeout(&mut cmd, Duration::from_secs(10));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, outsider) = as_user(65534, 65534);
    assert_eq!(code, Some(2), "{outsider}");
    assert!(outsider.contains("Permission denied"), "{outsider}");
    let (code, member) = as_user(65534, 1);
    assert_eq!(code, Some(0), "{member}");
    assert!(member.starts_with("REPLAY 5XX OK"), "{member}");
    assert_eq!(daemon.terminate(), Some(0));

    // A world-writable mode is refused before anything starts.
    let out = run_with_timeout(
        Command::new(bin("replayer"))
            .arg(format!("-input-raw={}:80", pcap.display()))
            .arg(format!("-output-http={}", staging.url()))
            .arg("--status-socket")
            .arg(scratch.join("other.sock"))
            .arg("--status-socket-mode=0666"),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("every user"));
    assert!(!scratch.join("other.sock").exists());
}

const SECRETS: [&str; 4] = [
    "s3cret-bearer-token",
    "topsecret-session",
    "hunter2-in-a-body",
    "proxy-pass-word",
];

#[test]
fn only_safe_credential_free_requests_reach_staging_and_secrets_never_reach_the_log() {
    let _processes = lock::processes();
    let scratch = Scratch::new("sec-filter");
    let staging = RecordingServer::start();
    let mut pcap = PcapBuilder::new(1);
    let server = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80);
    let mut conn = SyntheticConnection::open(
        &mut pcap,
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 40_000),
        server,
    );
    let requests: [&[u8]; 12] = [
        b"GET /ok/get HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer s3cret-bearer-token\r\nCookie: session=topsecret-session\r\nProxy-Authorization: Basic proxy-pass-word\r\n\r\n",
        b"POST /no/post HTTP/1.1\r\nHost: h\r\nContent-Length: 26\r\n\r\npassword=hunter2-in-a-body",
        b"PUT /no/put HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
        b"DELETE /no/delete HTTP/1.1\r\nHost: h\r\n\r\n",
        b"PATCH /no/patch HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
        b"GET /no/override HTTP/1.1\r\nHost: h\r\nX-HTTP-Method-Override: DELETE\r\n\r\n",
        b"GET /no/x-http-method HTTP/1.1\r\nHost: h\r\nx-http-method: put\r\n\r\n",
        b"HEAD /no/x-method-override HTTP/1.1\r\nHost: h\r\nX-Method-Override: POST\r\n\r\n",
        b"GET /no/loop HTTP/1.1\r\nHost: h\r\nX-Replayed-By: replayer\r\n\r\n",
        b"HEAD /ok/head HTTP/1.1\r\nHost: h\r\nCookie: a=topsecret-session\r\n\r\n",
        b"OPTIONS /ok/options HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /ok/safe-override HTTP/1.1\r\nHost: h\r\nX-HTTP-Method-Override: GET\r\n\r\n",
    ];
    for r in requests {
        conn.send(&mut pcap, r, 1460);
    }
    conn.close(&mut pcap);
    let file = scratch.join("mixed.pcap");
    pcap.write(&file);

    let mut daemon = DaemonProcess::spawn(
        scratch.path(),
        &[
            &format!("-input-raw={}:80", file.display()),
            &format!("-output-http={}", staging.url()),
            "-exit-after=30s",
            "-verbose=2",
            "-stats",
        ],
    );
    let doc = daemon.wait_for(Duration::from_secs(10), "every request settled", |d| {
        d.requests.seen == 12 && d.requests.replayed == 4
    });
    assert_eq!(doc.requests.filtered, 8, "{doc:#?}");
    assert_eq!((doc.requests.queued, doc.requests.failed), (4, 0));
    assert_eq!(daemon.terminate(), Some(0));
    let mut heads = staging.heads();
    heads.sort();
    let lines: Vec<&str> = heads.iter().map(|h| h.lines().next().unwrap()).collect();
    assert_eq!(
        lines,
        [
            "GET /ok/get HTTP/1.1",
            "GET /ok/safe-override HTTP/1.1",
            "HEAD /ok/head HTTP/1.1",
            "OPTIONS /ok/options HTTP/1.1",
        ]
    );
    for head in &heads {
        let lower = head.to_ascii_lowercase();
        for header in ["authorization:", "cookie:", "proxy-authorization:"] {
            assert!(!lower.contains(header), "{header} reached staging: {head}");
        }
        assert_eq!(
            lower.matches("x-replayed-by: replayer").count(),
            1,
            "{head}"
        );
    }
    let log = daemon.stderr_text();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "verbose: {log}"
    );
    for secret in SECRETS {
        assert!(!log.contains(secret), "{secret} logged:\n{log}");
    }
}

#[test]
fn a_password_in_a_target_url_is_refused_and_never_printed() {
    let _processes = lock::processes();
    for target in [
        "http://user:hunter2@127.0.0.1:1",
        "https://user:hunter2@staging.example/prefix",
        "user:hunter2@127.0.0.1:99999",
    ] {
        let out = run_with_timeout(
            Command::new(bin("replayer")).args([
                "-input-raw",
                ":80",
                "-output-http",
                target,
                "-verbose=2",
            ]),
            Duration::from_secs(10),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("***@"), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

/// Runs `f` on a new thread inside a network namespace of its own (only that thread and
/// the processes it starts see it): loopback up, and a veth pair carrying the default
/// route, so a packet to any other address would be sent (and captured) there.
fn in_new_network_namespace<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: unshare(2) affects only the calling thread, which is ours alone.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "unshare: {}", std::io::Error::last_os_error());
        // No IPv6 on the new links: the kernel's own neighbour discovery would show as
        // traffic. (/proc/sys/net is this thread's namespace's.)
        for conf in ["all", "default"] {
            let knob = format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6");
            if std::path::Path::new(&knob).exists() {
                std::fs::write(&knob, "1").unwrap_or_else(|e| panic!("{knob}: {e}"));
            }
        }
        let ip = require_tool("ip");
        for args in [
            "link set lo up",
            "link add stray0 type veth peer name stray1",
            "addr add 10.250.0.1/24 dev stray0",
            "link set stray0 up",
            "link set stray1 up",
            "route add default dev stray0",
        ] {
            let out = run_with_timeout(
                Command::new(&ip).args(args.split(' ')),
                Duration::from_secs(10),
            );
            assert!(out.status.success(), "ip {args}: {out:?}");
        }
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

#[test]
fn nothing_is_sent_to_any_address_but_the_target() {
    let _processes = lock::processes();
    assert!(is_root(), "network namespaces and tcpdump need root");
    let scratch = Scratch::new("sec-tcpdump");
    let dir = scratch.path().to_path_buf();
    let (packets, staged, port) = in_new_network_namespace(move || {
        let staging = Nginx::start(&dir.join("staging"), "");
        let dump = dir.join("all.pcap");
        let mut tcpdump = Command::new(require_tool("tcpdump"))
            // -Z root: Debian's tcpdump otherwise writes the file as user tcpdump;
            // immediate mode, or what sits in a half-filled ring block is lost at SIGINT;
            // a short snap length and a larger buffer, because the ring's slots are sized
            // to the snap length: at the default 262144 bytes a 2 MB ring holds about eight
            // packets, and a CI run lost every data packet of the replay's burst that way.
            .args([
                "-i",
                "any",
                "-n",
                "-s",
                "200",
                "-B",
                "16384",
                "-U",
                "--immediate-mode",
                "-Z",
                "root",
                "-w",
            ])
            .arg(&dump)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tcpdump");
        // tcpdump says "listening on any" once its capture is open.
        let mut err = tcpdump.stderr.take().unwrap();
        let mut seen = Vec::new();
        let start = Instant::now();
        while !String::from_utf8_lossy(&seen).contains("listening on") {
            let mut byte = [0u8; 1];
            assert!(err.read(&mut byte).unwrap() == 1, "tcpdump ended early");
            seen.push(byte[0]);
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "tcpdump never listened"
            );
        }
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));

        // The demo capture: requests with Host headers of production names, redirects
        // and absolute URLs would all be tempting places to go. Also a hostname target's
        // lookup would show as DNS on stray0; this target is an address.
        let pcap = workspace_root().join("demo/production.pcap");
        let out = run_with_timeout(
            Command::new(bin("replayer"))
                .arg(format!("-input-raw={}:7999", pcap.display()))
                .arg(format!("-output-http={}", staging.url()))
                .arg("--status-socket")
                .arg(dir.join("status.sock"))
                .arg("--sync-flag")
                .arg(dir.join("no-flag")),
            Duration::from_secs(30),
        );
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let staged = staging.wait_for_log(71, Duration::from_secs(5)).len();
        // The control: a connection attempt elsewhere does show in this capture.
        let elsewhere = "10.250.0.9:80".parse().unwrap();
        let _ = std::net::TcpStream::connect_timeout(&elsewhere, Duration::from_millis(300));
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(tcpdump.id() as i32, libc::SIGINT) };
        tcpdump.wait().unwrap();
        let read = run_with_timeout(
            Command::new(require_tool("tcpdump"))
                .args(["-n", "-tt", "-r"])
                .arg(&dump),
            Duration::from_secs(20),
        );
        assert!(read.status.success(), "{read:?}");
        let text = String::from_utf8_lossy(&read.stdout).into_owned();
        (text, staged, staging.port)
    });
    assert_eq!(staged, 71, "demo/production.pcap holds 71 safe requests");
    let target = format!("127.0.0.1.{port}");
    let staging_port_of = |line: &str| -> bool {
        // "1700000000.000001 lo    In  IP 127.0.0.1.40000 > 127.0.0.1.8080: Flags [S], ..."
        let Some(ip) = line.split(" IP ").nth(1) else {
            return false;
        };
        let mut words = ip.split_whitespace();
        let (src, _, dst) = (words.next(), words.next(), words.next());
        let (Some(src), Some(dst)) = (src, dst) else {
            return false;
        };
        let dst = dst.trim_end_matches(':');
        (src == target && dst.starts_with("127.0.0.1."))
            || (dst == target && src.starts_with("127.0.0.1."))
    };
    let lines: Vec<&str> = packets.lines().collect();
    // The replay itself was captured: packets with data to staging (pipelined, 71 requests
    // may share a packet, so there are fewer of them than requests).
    assert!(
        lines
            .iter()
            .any(|l| staging_port_of(l) && !l.ends_with("length 0")),
        "the replay itself was not captured: {packets}"
    );
    let (control, stray): (Vec<&str>, Vec<&str>) = lines
        .iter()
        .filter(|l| !staging_port_of(l))
        .partition(|l| l.contains("10.250.0.9"));
    assert!(
        !control.is_empty(),
        "the control attempt was not seen: {packets}"
    );
    assert!(
        stray.is_empty(),
        "packets not to or from staging: {stray:#?}"
    );
    eprintln!(
        "{} packets, all to or from {target}; control: {control:?}",
        lines.len() - control.len()
    );
}
