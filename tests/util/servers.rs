//! Test HTTP servers of our own and their clients: free ports for servers the tests start,
//! a server that records every request head it gets, and curl over one connection.

use super::{require_tool, run_with_timeout};
use std::io::BufRead;
use std::process::Command;
use std::time::Duration;

/// Reads one HTTP/1.1 response from a keep-alive connection: the head, then Content-Length
/// bytes of body unless it answers a HEAD. Returns the head; panics if the connection ends
/// mid-response.
pub fn read_http_response(reader: &mut impl BufRead, head: bool) -> String {
    let mut text = String::new();
    while !text.ends_with("\r\n\r\n") {
        let n = reader.read_line(&mut text).expect("read a response head");
        assert!(n > 0, "connection closed mid-response: {text:?}");
    }
    let length = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().expect("Content-Length"))
        })
        .unwrap_or(0);
    if !head {
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).expect("read a body");
    }
    text
}

/// A free TCP port on 127.0.0.1 for a server the test starts itself (nginx, Icinga, ...).
///
/// Ports come from below the kernel's ephemeral range (32768-60999), so no client connection
/// can take one as its source port between this call and the server's bind, and a process-wide
/// cursor never hands the same port to two tests running in parallel. Each candidate is
/// checked by binding it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const SPAN: u32 = 22_000; // 10000..32000
    static CURSOR: AtomicU32 = AtomicU32::new(u32::MAX);
    // Start somewhere that depends on the process, so consecutive runs of the suite differ.
    let _ = CURSOR.compare_exchange(
        u32::MAX,
        (std::process::id().wrapping_mul(7919)) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let port = (LOW + CURSOR.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free TCP port on 127.0.0.1 in {LOW}..{}", LOW + SPAN);
}

/// A TCP server that answers every request head with a 200 (keep-alive, empty body) and
/// records each head as received, for tests that must see every header staging got.
pub struct RecordingServer {
    pub port: u16,
    heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl RecordingServer {
    pub fn start() -> RecordingServer {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = heads.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = recorded.clone();
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    loop {
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head: Vec<u8> = buf.drain(..end + 4).collect();
                            recorded
                                .lock()
                                .unwrap()
                                .push(String::from_utf8_lossy(&head).into_owned());
                            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                            if stream.write_all(answer).is_err() {
                                return;
                            }
                        }
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        RecordingServer { port, heads }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The request heads received so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// curl over one keep-alive connection: `GET http://127.0.0.1:PORT PATH` for each path.
pub fn curl_get(port: u16, paths: &[&str]) {
    let mut cmd = Command::new(require_tool("curl"));
    for (i, path) in paths.iter().enumerate() {
        if i > 0 {
            cmd.arg("--next");
        }
        cmd.args(["-s", "-o", "/dev/null"])
            .arg(format!("http://127.0.0.1:{port}{path}"));
    }
    let out = run_with_timeout(&mut cmd, Duration::from_secs(20));
    assert!(out.status.success(), "curl failed: {out:?}");
}
