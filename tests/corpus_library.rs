//! Corpus conformance through the library: every capture of the public corpus run through
//! [`replayer::stream::pipeline::run`] must yield exactly the requests tshark dissects
//! (`NAME.expected.tsv`: method and request-target), in the same order per connection.
//! Skipped, in one line (`util::skip`), when the corpus is not there.

use crate::util::corpus::{captures, corpus_or_skip, port_of};
use replayer::capture::{CaptureConfig, CaptureStats, Input};
use replayer::request::{Connection, Request};
use replayer::stream::pipeline::run;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

fn expected(dir: &Path, name: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join(format!("{name}.expected.tsv")))
        .unwrap_or_else(|e| panic!("{name}.expected.tsv: {e}"));
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (m, t) = l.split_once('\t').expect("METHOD<TAB>TARGET");
            (m.to_owned(), t.to_owned())
        })
        .collect()
}

fn recover(path: &Path, port: u16) -> (Vec<Request>, CaptureStats) {
    let config = CaptureConfig::new(Input::File {
        path: path.to_owned(),
        port,
    });
    let stats = CaptureStats::default();
    let mut requests = Vec::new();
    run(&config, &AtomicBool::new(false), &stats, &mut |r| {
        requests.push(r)
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (requests, stats)
}

/// Checks `got` against `want`: the same requests (as a multiset), and each connection's
/// requests in an order found in `want`.
fn conforms(got: &[Request], want: &[(String, String)]) -> Result<(), String> {
    let key = |r: &Request| (r.method.to_string(), r.target.to_string());
    let mut got_sorted: Vec<_> = got.iter().map(key).collect();
    let mut want_sorted = want.to_vec();
    got_sorted.sort();
    want_sorted.sort();
    if got_sorted != want_sorted {
        return Err(format!(
            "requests differ:\n got  {got_sorted:?}\n want {want_sorted:?}"
        ));
    }
    let mut by_conn: BTreeMap<Connection, Vec<(String, String)>> = BTreeMap::new();
    for r in got {
        by_conn.entry(r.connection).or_default().push(key(r));
    }
    for (conn, list) in by_conn {
        let mut it = want.iter();
        if !list.iter().all(|item| it.any(|w| w == item)) {
            return Err(format!("order on {conn:?} is not the capture's: {list:?}"));
        }
    }
    Ok(())
}

#[test]
fn every_corpus_capture_yields_exactly_tsharks_requests() {
    let Some(dir) = corpus_or_skip() else {
        return;
    };
    let names = captures(&dir);
    assert!(!names.is_empty(), "no .pcap in {}", dir.display());
    let mut failures = Vec::new();
    let mut passed = 0;
    for name in &names {
        let port = port_of(name);
        let (got, stats) = recover(&dir.join(format!("{name}.pcap")), port);
        match conforms(&got, &expected(&dir, name)) {
            Ok(()) => passed += 1,
            Err(why) => failures.push(format!("{name}: {why}\n stats {stats:?}")),
        }
    }
    eprintln!("corpus: {passed} of {} captures conform", names.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
