//! `--middleware`: real programs in another language (Python, the shell) speaking GoReplay's
//! protocol, in front of a real nginx as staging: one that rewrites, drops and reads every
//! message type; one that hangs; one that exits.

use crate::util::nginx::Nginx;
use crate::util::records::{goreplay_records, write_get_records};
use crate::util::{bin, require_tool, run_with_timeout, Scratch};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const DEMO_PORT: &str = "7999";

fn demo() -> String {
    format!(
        "{}/../demo/production.pcap:{DEMO_PORT}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The replayer with a status socket and sync flag of its own in `dir`.
fn replayer(dir: &Path, args: &[&str]) -> Output {
    let socket = dir.join("status.sock");
    let flag = dir.join("no-sync-flag");
    run_with_timeout(
        Command::new(bin("replayer"))
            .args(args)
            .args(["--status-socket", socket.to_str().unwrap()])
            .args(["--sync-flag", flag.to_str().unwrap()]),
        Duration::from_secs(60),
    )
}

/// Adds `User-Agent: middleware/1` to requests, drops `/vehicle-tax`, turns
/// `/bank-holidays.json` into a DELETE (which the safe-method rule must then stop), and
/// counts every message type it sees in `seen.txt`.
const REWRITER: &str = r#"
import sys, collections
seen = collections.Counter()
for line in sys.stdin:
    data = bytes.fromhex(line.strip())
    header, _, payload = data.partition(b"\n")
    kind = header.split(b" ")[0].decode()
    seen[kind] += 1
    with open(sys.argv[1], "w") as f:
        f.write(" ".join("%s=%d" % kv for kv in sorted(seen.items())))
    if kind == "1":
        request_line = payload.split(b"\r\n")[0]
        if b" /vehicle-tax" in request_line:
            continue
        if b" /bank-holidays.json" in request_line:
            payload = b"DELETE" + payload[payload.index(b" "):]
        lines = [l for l in payload.split(b"\r\n\r\n")[0].split(b"\r\n")
                 if not l.lower().startswith(b"user-agent:")]
        body = payload[payload.index(b"\r\n\r\n") + 4:]
        payload = b"\r\n".join(lines + [b"User-Agent: middleware/1"]) + b"\r\n\r\n" + body
    sys.stdout.write((header + b"\n" + payload).hex() + "\n")
    sys.stdout.flush()
"#;

#[test]
fn a_python_middleware_rewrites_drops_and_sees_every_message_type() {
    require_tool("python3");
    let scratch = Scratch::new("middleware-python");
    let staging = Nginx::start(&scratch.join("staging"), "");
    let script = scratch.join("rewriter.py");
    std::fs::write(&script, REWRITER).unwrap();
    let seen = scratch.join("seen.txt");
    let file = scratch.join("out.gor");
    let command = format!("python3 {} {}", script.display(), seen.display());
    let out = replayer(
        scratch.path(),
        &[
            "-input-raw",
            &demo(),
            "--input-raw-track-response",
            "-output-http",
            &staging.url(),
            "--output-http-track-response",
            "-output-file",
            file.to_str().unwrap(),
            "--middleware",
            &command,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The capture has 77 requests (71 of them safe) and 77 answers; staging answered the 63
    // the program let through and the filters kept: 71 less 4 dropped, less 4 turned into
    // DELETEs (and the program saw those 63 answers).
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), "1=77 2=77 3=63");
    let log = staging.wait_for_log(63, Duration::from_secs(10));
    assert_eq!(log.len(), 63);
    assert!(
        log.iter().all(|l| l.user_agent == "middleware/1"),
        "{log:?}"
    );
    assert!(log.iter().all(|l| l.method != "DELETE"));
    assert!(!log.iter().any(|l| l.uri.starts_with("/vehicle-tax")));
    assert!(!log.iter().any(|l| l.uri.starts_with("/bank-holidays.json")));

    // The file has what came back for the requests that passed: each with its answers.
    let records = goreplay_records(&std::fs::read(&file).unwrap());
    let mut kinds: BTreeMap<char, usize> = BTreeMap::new();
    for record in &records {
        *kinds
            .entry(record.meta.chars().next().unwrap())
            .or_default() += 1;
    }
    assert_eq!(format!("{kinds:?}"), "{'1': 63, '2': 63, '3': 63}");
    for record in records.iter().filter(|r| r.meta.starts_with("1 ")) {
        let text = String::from_utf8_lossy(&record.payload);
        assert!(text.contains("\r\nUser-Agent: middleware/1\r\n"), "{text}");
        let id = record.meta.split(' ').nth(1).unwrap();
        for kind in ["2", "3"] {
            assert!(
                records
                    .iter()
                    .any(|r| r.meta.starts_with(&format!("{kind} {id} "))),
                "no type-{kind} record for {id}"
            );
        }
    }
    // Staging's answers are nginx's own.
    let replayed = records.iter().find(|r| r.meta.starts_with("3 ")).unwrap();
    assert!(replayed
        .payload
        .starts_with(b"HTTP/1.1 200 OK\r\nServer: nginx"));
    assert!(replayed.payload.ends_with(b"\r\n\r\nok\n"));
}

#[test]
fn a_middleware_that_hangs_costs_its_messages_never_the_run() {
    let scratch = Scratch::new("middleware-hangs");
    let staging = Nginx::start(&scratch.join("staging"), "");
    let input = scratch.join("many.gor");
    write_get_records(&input, 30_000, 0);
    let started = Instant::now();
    let out = replayer(
        scratch.path(),
        &[
            "-input-file",
            &format!("{}|max", input.display()),
            "-output-http",
            &staging.url(),
            "--middleware",
            "sleep 600",
            "--drain-timeout",
            "1s",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr.contains("middleware still running 1s after its input closed: killed"),
        "{stderr}"
    );
    // A full queue (10,000) drops the rest at once; what sat in the pipe dies with it.
    let summary = stderr
        .lines()
        .find(|l| l.contains(" messages sent, "))
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    // "middleware: S messages sent, 0 came back, D dropped (queue full F, not running N), 0 restarts"
    let numbers: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let n = numbers.len();
    let [sent, back, dropped, full, down, restarts] = numbers[n - 6..] else {
        panic!("{summary}")
    };
    assert_eq!((back, restarts), (0, 0), "{summary}");
    assert_eq!(
        sent + dropped,
        30_000,
        "each message sent or dropped: {summary}"
    );
    assert_eq!(full + down, dropped, "{summary}");
    assert!(full >= 10_000, "the queue filled: {summary}");
    assert!(staging.log().is_empty());
}

#[test]
fn a_middleware_that_exits_is_started_again() {
    let scratch = Scratch::new("middleware-exits");
    let staging = Nginx::start(&scratch.join("staging"), "");
    let input = scratch.join("paced.gor");
    write_get_records(&input, 30, 100);
    // The shell this time: echoes ten lines, then exits.
    let out = replayer(
        scratch.path(),
        &[
            "-input-file",
            input.to_str().unwrap(),
            "-output-http",
            &staging.url(),
            "--middleware",
            "head -n 10",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("middleware exited (exit status: 0) after "),
        "{stderr}"
    );
    assert!(stderr.contains("middleware started again"), "{stderr}");
    let replayed = staging.wait_for_log(20, Duration::from_secs(5)).len();
    assert!(
        (15..30).contains(&replayed),
        "{replayed} of 30 replayed across restarts: {stderr}"
    );
}
