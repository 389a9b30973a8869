//! What staging receives is what production received, byte for byte where HTTP allows:
//! raw requests sent to a real nginx (production, captured live on `lo` by the `replayer`
//! binary) arrive at a raw TCP listener standing in for staging, which records the exact
//! request heads. Checked: the request-target's bytes (`..` segments and `%7e` untouched,
//! `OPTIONS *`), header names in their captured case and order (repeated names not
//! grouped), no header added (no `Accept`) but the default rewrites' marker, HTTP/1.0 kept, `Host` the target's in its
//! captured place, connection headers dropped, one keep-alive connection for all, POST not
//! replayed.

use crate::util::*;
use replayer_status::schema::DaemonState;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A staging stand-in: records each request head (no bodies are expected) with the
/// number of the connection it came on, and answers `200` with a small body.
/// Request heads as received, each with the number of the connection it came on.
type Heads = Arc<Mutex<Vec<(usize, String)>>>;

fn raw_staging() -> (u16, Heads) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let recorded = heads.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let heads = heads.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head: Vec<u8> = buf.drain(..end + 4).collect();
                        heads
                            .lock()
                            .unwrap()
                            .push((n, String::from_utf8_lossy(&head).into_owned()));
                        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
                        if stream.write_all(answer).is_err() {
                            return;
                        }
                    }
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
            });
        }
    });
    (port, recorded)
}

/// Sends one raw request to production on its own connection and reads the answer to the
/// end (every request here makes nginx close afterwards).
fn send_raw(port: u16, request: &str) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1."),
        "production answered {answer:?}"
    );
}

#[test]
fn staging_receives_the_captured_bytes() {
    let _processes = lock::processes();
    assert!(is_root(), "live capture on lo needs root (CI runs as root)");
    let scratch = Scratch::new("replay-fidelity");
    let production = Nginx::start(&scratch.join("production"), "");
    let (staging_port, heads) = raw_staging();
    let socket = scratch.join("status.sock");
    let mut daemon = Command::new(bin("replayer"))
        .arg(format!("-input-raw=lo:{}", production.port))
        .arg(format!("-output-http=http://127.0.0.1:{staging_port}"))
        // One worker: the requests arrive in capture order, on one connection.
        .args(["-output-http-workers", "1", "--status-socket"])
        .arg(&socket)
        .arg("--sync-flag")
        .arg(scratch.join("no-sync-flag"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn replayer");
    let wait = |what: &str, done: &dyn Fn(&replayer_status::StatusDocument) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let doc = read_status_document(&socket);
            if doc.as_ref().is_some_and(done) {
                return;
            }
            assert!(Instant::now() < deadline, "no {what}: {doc:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait("replaying state", &|d| d.state == DaemonState::Replaying);
    std::thread::sleep(Duration::from_millis(200));

    let sent = [
        "GET /a/../b?x=%7e&y=%2F HTTP/1.1\r\nhost: www.example.org\r\nX-API-Key: k1\r\n\
         x-lower: 1\r\nUser-Agent: fidelity/1\r\nx-lower: 2\r\nConnection: close\r\n\r\n",
        "GET /old HTTP/1.0\r\nUser-Agent: ten\r\n\r\n",
        "POST /form HTTP/1.1\r\nHost: www.example.org\r\nContent-Length: 3\r\n\
         Connection: close\r\n\r\nabc",
        "OPTIONS * HTTP/1.1\r\nHost: www.example.org\r\nConnection: close\r\n\r\n",
        "HEAD /h%20x;p=1?q=%7E&&r HTTP/1.1\r\nHOST: www.example.org\r\n\
         accept-encoding: gzip\r\nX-Multi: a\r\nx-multi: b\r\nConnection: close\r\n\r\n",
    ];
    for request in sent {
        send_raw(production.port, request);
    }
    wait("4 replayed", &|d| d.requests.replayed >= 4);
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let out = daemon.wait().unwrap();
    let mut stderr = String::new();
    daemon
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(out.success(), "replayer: {out}: {stderr}");

    let host = format!("127.0.0.1:{staging_port}");
    // The default rewrites' loop marker, appended after the captured headers.
    const MARK: &str = "X-Replayed-By: replayer\r\n";
    let expected = [
        format!(
            "GET /a/../b?x=%7e&y=%2F HTTP/1.1\r\nhost: {host}\r\nX-API-Key: k1\r\n\
             x-lower: 1\r\nUser-Agent: fidelity/1\r\nx-lower: 2\r\n{MARK}\r\n"
        ),
        format!("GET /old HTTP/1.0\r\nHost: {host}\r\nUser-Agent: ten\r\n{MARK}Connection: keep-alive\r\n\r\n"),
        format!("OPTIONS * HTTP/1.1\r\nHost: {host}\r\n{MARK}\r\n"),
        format!(
            "HEAD /h%20x;p=1?q=%7E&&r HTTP/1.1\r\nHOST: {host}\r\naccept-encoding: gzip\r\n\
             X-Multi: a\r\nx-multi: b\r\n{MARK}\r\n"
        ),
    ];
    let heads = heads.lock().unwrap().clone();
    let received: Vec<&str> = heads.iter().map(|(_, h)| h.as_str()).collect();
    assert_eq!(received, expected, "staging received");
    let connections: Vec<usize> = heads.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        connections,
        [0, 0, 0, 0],
        "one keep-alive connection, HTTP/1.0 included"
    );
}
