//! `replayer status` against a stopped daemon (no socket, a dead socket, a socket answering
//! nonsense), a paused one (sync flag set) and a healthy one (a real daemon capturing a real
//! nginx on `lo` and replaying to another): exact lines and exit codes.

use crate::util::*;
use replayer_status::schema::DaemonState;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const STAGING_LOCATIONS: &str =
    "location / { return 200 \"staging\\n\"; } location /fail { return 500; }";

fn status(socket: &Path, extra: &[&str]) -> Output {
    run_with_timeout(
        Command::new(bin("replayer"))
            .arg("status")
            .arg("-S")
            .arg(socket)
            .args(extra),
        Duration::from_secs(20),
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

fn lines(out: &Output) -> Vec<String> {
    text(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn a_stopped_daemon_is_not_answering_exit_3() {
    let _processes = lock::processes();
    let scratch = Scratch::new("status-stopped");
    let socket = scratch.join("status.sock");
    // No socket file at all.
    let out = status(&socket, &[]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        lines(&out),
        [
            "● replayer: not answering (is the daemon running? systemctl status replayer)".to_string(),
            format!(
                "       Reason: cannot connect to status socket {}: No such file or directory (os error 2)",
                socket.display()
            ),
        ]
    );
    assert_eq!(text(&out.stderr), "");
    // --json: nothing on stdout, the reason on stderr, same exit status.
    let out = status(&socket, &["--json"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        format!(
            "replayer status: cannot connect to status socket {}: No such file or directory (os error 2)\n",
            socket.display()
        )
    );

    // A socket file left behind by a crash: nobody listens (connection refused).
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let out = status(&socket, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        lines(&out)[1],
        format!(
            "       Reason: cannot connect to status socket {}: Connection refused (os error 111)",
            socket.display()
        )
    );

    // Something answering that is not the daemon: status unknown, exit 4.
    std::fs::remove_file(&socket).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let server = std::thread::spawn(move || {
        use std::io::Write;
        let (mut client, _) = listener.accept().unwrap();
        client.write_all(b"hello\n").unwrap();
    });
    let out = status(&socket, &[]);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(lines(&out)[0], "● replayer: status unknown");
    assert!(
        lines(&out)[1].starts_with(&format!(
            "       Reason: status document from {} is unreadable: not valid JSON (",
            socket.display()
        )),
        "{}",
        lines(&out)[1]
    );

    // Bad command line: one line, exit 2; and GoReplay flags still reach the capture parser.
    let out = status(&socket, &["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "replayer status: unexpected argument '--bogus' found\n"
    );
    let out = run_with_timeout(
        Command::new(bin("replayer")).args(["-input-raw", ":80"]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("replayer: no output: "));
}

#[test]
fn a_paused_daemon_says_so_exit_1() {
    let _processes = lock::processes();
    let scratch = Scratch::new("status-paused");
    let production = Nginx::start(&scratch.join("production"), "");
    let staging = Nginx::start(&scratch.join("staging"), STAGING_LOCATIONS);
    let dir = scratch.join("daemon");
    std::fs::create_dir_all(&dir).unwrap();
    let flag = dir.join("no-sync-flag");
    std::fs::write(&flag, "true\n").unwrap();
    let mut daemon = start_live_daemon(&dir, production.port, &staging.url(), &[], |d| {
        d.state == DaemonState::Paused
    });
    curl_get(production.port, &["/a", "/b", "/c"]);
    let doc = daemon.wait_for(Duration::from_secs(10), "3 paused", |d| {
        d.requests.paused_sync == 3
    });
    let since = doc.sync.since.clone().expect("since while in progress");

    let out = status(&daemon.socket, &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let l = lines(&out);
    assert_eq!(l[0], "● replayer: paused (data sync in progress)");
    assert!(
        l[2].starts_with(&format!(
            "         Sync: data sync in progress since {since} ("
        )) && l[2].ends_with(&format!("), flag {}", flag.display())),
        "{}",
        l[2]
    );
    assert_eq!(
        l[6],
        "     Requests: 3 seen, 0 queued, 0 replayed (answered), 0 failed (no answer)"
    );
    assert_eq!(
        l[7],
        " Not replayed: 0 filtered (method, URL, header rules), 0 sampled out (limits), 3 paused for sync, 0 queue full (staging too slow)"
    );
    let row: Vec<&str> = l[11].split_whitespace().collect();
    assert_eq!(
        row,
        ["60", "s", "3", "0.00", "-", "0.000", "0.000", "0", "0", "3", "0"]
    );
    assert!(staging.log().is_empty(), "nothing replayed while paused");
}

#[test]
fn a_healthy_daemon_in_full_exit_0() {
    let _processes = lock::processes();
    let scratch = Scratch::new("status-healthy");
    let production = Nginx::start(&scratch.join("production"), "");
    let staging = Nginx::start(&scratch.join("staging"), STAGING_LOCATIONS);
    let dir = scratch.join("daemon");
    let mut daemon = start_live_daemon(&dir, production.port, &staging.url(), &[], |d| {
        d.state == DaemonState::Replaying
    });
    curl_get(
        production.port,
        &["/1", "/2", "/fail/1", "/3", "/fail/2", "/4"],
    );
    let doc = daemon.wait_for(Duration::from_secs(10), "6 replayed", |d| {
        d.requests.replayed == 6
    });
    let pid = daemon.child.id();

    let out = status(&daemon.socket, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stderr), "");
    let l = lines(&out);
    assert_eq!(l.len(), 16, "{l:#?}");
    assert_eq!(
        l[0], "● replayer: replaying",
        "no colour when not a terminal"
    );
    assert!(
        l[1].starts_with(&format!(
            "       Daemon: pid {pid}, version {}, up ",
            env!("CARGO_PKG_VERSION")
        )) && l[1].ends_with(&format!(" (since {})", doc.started_at)),
        "{}",
        l[1]
    );
    assert_eq!(
        l[2],
        format!(
            "         Sync: no data sync in progress (flag {})",
            dir.join("no-sync-flag").display()
        )
    );
    assert!(
        l[3].starts_with(&format!("      Capture: lo:{}: ", production.port)),
        "{}",
        l[3]
    );
    assert_eq!(
        l[4],
        "Capture drops: 0 by the kernel (buffer full), 0 by the interface, 0 reassembly gaps, 0 requests cut (gap, unparseable), 0 over a reassembly cap"
    );
    assert_eq!(
        l[5],
        "      Framing: 0 connections not replayed past a framing error: 0 bad head, 0 bad length, 0 head too large, 0 bad chunk"
    );
    assert_eq!(
        l[6],
        "     Requests: 6 seen, 6 queued, 6 replayed (answered), 0 failed (no answer)"
    );
    assert_eq!(
        l[7],
        " Not replayed: 0 filtered (method, URL, header rules), 0 sampled out (limits), 0 paused for sync, 0 queue full (staging too slow)"
    );
    assert_eq!(l[8], "    Responses: 1xx 0, 2xx 4, 3xx 0, 4xx 0, 5xx 2");
    assert_eq!(l[9], "");
    assert_eq!(
        l[10],
        "   Window     Seen Replayed/s 5xx ratio   p50 ms   p99 ms Filtered  Sampled   Paused Queue full"
    );
    for (i, window) in ["60", "300", "900"].iter().enumerate() {
        let row: Vec<&str> = l[11 + i].split_whitespace().collect();
        assert_eq!(row.len(), 12, "{}", l[11 + i]);
        assert_eq!(&row[..3], [*window, "s", "6"]);
        assert_eq!(&row[4..6], ["33.33", "%"]);
        assert_eq!(&row[8..], ["0", "0", "0", "0"]);
        let rate: f64 = row[3].parse().unwrap();
        let p50: f64 = row[6].parse().unwrap();
        assert!(rate > 0.0 && p50 > 0.0, "{}", l[11 + i]);
    }
    assert_eq!(l[14], "");
    let url = &doc.targets[0].url;
    assert!(url.starts_with(&staging.url()), "{url}");
    assert_eq!(
        l[15],
        format!("       Target: {url}: 6 replayed, 0 failed, 0 in flight; 1xx 0, 2xx 4, 3xx 0, 4xx 0, 5xx 2")
    );

    // --json: the document itself.
    let out = status(&daemon.socket, &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: replayer_status::StatusDocument = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((json.pid, json.requests.replayed), (pid, 6));
    assert_eq!(json.responses.c5xx, 2);
}
