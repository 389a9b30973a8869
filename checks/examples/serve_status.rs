//! Serves a status document on a Unix socket, as the daemon does, for the demo
//! (`scripts/demo`), the benchmark (`bench/checks.sh`) and trying the plugins by hand:
//!
//! ```text
//! cargo run -p replayer-checks --example serve_status -- /tmp/status.sock [document.json]
//! ```
//!
//! Every connection gets the whole document (the bundled `checks/demo/status.json` unless a
//! file is named), then the connection is closed. Runs until killed; a stale socket file is
//! replaced at start, and the caller removes the socket afterwards.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

const DEMO: &str = include_str!("../demo/status.json");

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(socket) = args.next().map(PathBuf::from) else {
        eprintln!("usage: serve_status SOCKET [DOCUMENT.json]");
        std::process::exit(2);
    };
    let document = match args.next() {
        Some(path) => std::fs::read(&path).unwrap_or_else(|e| {
            eprintln!(
                "serve_status: cannot read {}: {e}",
                PathBuf::from(path).display()
            );
            std::process::exit(1);
        }),
        None => DEMO.as_bytes().to_vec(),
    };
    // A stale socket file from an earlier run would make bind fail.
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket).unwrap_or_else(|e| {
        eprintln!("serve_status: cannot listen on {}: {e}", socket.display());
        std::process::exit(1);
    });
    // A client that goes away early is its own problem; keep serving the others.
    for mut stream in listener.incoming().flatten() {
        let _ = stream.write_all(&document);
    }
}
