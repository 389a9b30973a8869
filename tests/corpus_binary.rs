//! Corpus conformance through the real binary: for every capture of the public corpus,
//! `replayer -input-raw FILE:PORT -input-raw-engine pcap_file -output-stdout` must print
//! exactly the GET, HEAD and OPTIONS requests tshark dissects (`NAME.expected.tsv`), and no
//! other request, in the capture's order on each connection, then exit 0. Skipped, in one
//! line (`util::skip`), when the corpus is not there.
//!
//! GoReplay's record format carries no connection, so the connection of each printed record
//! comes from the capture library run on the same file: every record's id (the pipeline's
//! request id, in the meta line) and capture time must be those of the library's request at
//! the same position, and the binary must print exactly the library's safe requests in the
//! library's order. Each record then has a known connection, and each connection's records
//! must come in the order the expected file lists them.

use crate::util::corpus::{self, corpus_or_skip};
use crate::util::*;
use replayer::capture::{CaptureConfig, CaptureStats, Input};
use replayer::request::Connection;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

const SAFE: &[&str] = &["GET", "HEAD", "OPTIONS"];

/// The expected `METHOD TARGET` lines with a safe method, in capture order.
fn expected_safe(dir: &Path, name: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(format!("{name}.expected.tsv")))
        .unwrap_or_else(|e| panic!("{name}.expected.tsv: {e}"))
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(m, _)| SAFE.contains(m))
        .map(|(m, t)| format!("{m} {t}"))
        .collect()
}

/// One request as the library recovers it: (request id, capture time ns, connection,
/// `METHOD TARGET`).
type LibraryRequest = (u64, u64, Connection, String);

fn library_requests(file: &Path, port: u16) -> Vec<LibraryRequest> {
    let config = CaptureConfig::new(Input::File {
        path: file.to_owned(),
        port,
    });
    let mut requests = Vec::new();
    replayer::stream::pipeline::run(
        &config,
        &AtomicBool::new(false),
        &CaptureStats::default(),
        &mut |r| {
            let line = format!("{} {}", r.method, r.target);
            requests.push((r.id, r.captured_at_ns, r.connection, line));
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    requests
}

/// Whether a `METHOD TARGET` line has a safe method.
fn is_safe(line: &str) -> bool {
    SAFE.iter().any(|m| line.split(' ').next() == Some(m))
}

/// (request id, capture time ns) from a record's meta line `1 <8 hex time><16 hex id> <ns> 0`.
fn id_and_time(record: &Record) -> (u64, u64) {
    let fields: Vec<&str> = record.meta.split(' ').collect();
    let parsed = match fields.as_slice() {
        ["1", hex, ns, "0"] if hex.len() == 24 => u64::from_str_radix(&hex[8..], 16)
            .ok()
            .zip(ns.parse::<u64>().ok()),
        _ => None,
    };
    parsed.unwrap_or_else(|| panic!("meta line {:?}", record.meta))
}

/// Checks what the binary printed against the library's requests and the expected list.
fn conforms(records: &[Record], library: &[LibraryRequest], want: &[String]) -> Result<(), String> {
    // 1. Exactly the library's safe requests, in its order, each tied to one by id and time.
    let printed: Vec<(u64, u64, String)> = records
        .iter()
        .map(|r| {
            let (id, ns) = id_and_time(r);
            (id, ns, r.request_line())
        })
        .collect();
    let library_safe: Vec<&LibraryRequest> =
        library.iter().filter(|(.., line)| is_safe(line)).collect();
    let expected_sequence: Vec<(u64, u64, String)> = library_safe
        .iter()
        .map(|(id, ns, _, line)| (*id, *ns, line.clone()))
        .collect();
    if printed != expected_sequence {
        return Err(format!(
            "the binary's records are not the library's safe requests in order:\n  binary  {printed:?}\n  library {expected_sequence:?}"
        ));
    }
    // 2. The same requests as tshark's list.
    let mut got_sorted: Vec<&String> = printed.iter().map(|(.., line)| line).collect();
    let mut want_sorted: Vec<&String> = want.iter().collect();
    got_sorted.sort();
    want_sorted.sort();
    if got_sorted != want_sorted {
        return Err(format!(
            "requests differ:\n  got  {got_sorted:?}\n  want {want_sorted:?}"
        ));
    }
    // 3. On each connection, the records in the order of the capture.
    let mut by_connection: BTreeMap<Connection, Vec<&String>> = BTreeMap::new();
    for (_, _, connection, line) in &library_safe {
        by_connection.entry(*connection).or_default().push(line);
    }
    for (connection, lines) in by_connection {
        let mut expected = want.iter();
        if !lines.iter().all(|line| expected.any(|w| w == *line)) {
            return Err(format!(
                "order on {connection:?} is not the capture's: {lines:?}"
            ));
        }
    }
    Ok(())
}

#[test]
fn the_binary_prints_exactly_the_safe_requests_of_every_capture_in_order() {
    let _processes = lock::processes();
    let Some(dir) = corpus_or_skip() else {
        return;
    };
    let names = corpus::captures(&dir);
    assert!(!names.is_empty(), "no .pcap in {}", dir.display());
    let replayer = bin("replayer");
    let mut failures = Vec::new();
    let (mut records_checked, mut connections) = (0, std::collections::BTreeSet::new());
    for name in &names {
        let port = corpus::port_of(name);
        let file = dir.join(format!("{name}.pcap"));
        let out = run_with_timeout(
            Command::new(&replayer)
                .arg("-input-raw")
                .arg(format!("{}:{port}", file.display()))
                .args(["-input-raw-engine", "pcap_file", "-output-stdout"]),
            Duration::from_secs(30),
        );
        if !out.status.success() {
            failures.push(format!(
                "{name}: exit {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let records = goreplay_records(&out.stdout);
        let library = library_requests(&file, port);
        match conforms(&records, &library, &expected_safe(&dir, name)) {
            Ok(()) => {
                records_checked += records.len();
                let safe = library.iter().filter(|(.., line)| is_safe(line));
                connections.extend(safe.map(|(_, _, c, _)| (name.clone(), *c)));
            }
            Err(why) => failures.push(format!("{name}: {why}")),
        }
    }
    eprintln!(
        "corpus via the binary: {} of {} captures conform ({records_checked} records, in order on {} connections)",
        names.len() - failures.len(),
        names.len(),
        connections.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
