//! Corpus conformance through the real binary: for every public capture in `../shared/corpus`,
//! `replayer -input-raw FILE:PORT -input-raw-engine pcap_file -output-stdout` must print
//! exactly the GET, HEAD and OPTIONS requests tshark dissects (`NAME.expected.tsv`), and no
//! other request, then exit 0. Skipped, with a message, when the corpus is not there.

use replayer_tests::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SAFE: &[&str] = &["GET", "HEAD", "OPTIONS"];

fn ports() -> Vec<(String, u16)> {
    let text = std::fs::read_to_string(workspace_root().join("tests/corpus_ports.tsv"))
        .expect("tests/corpus_ports.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(n, p)| (n.to_owned(), p.trim().parse().expect("port number")))
        .collect()
}

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

#[test]
fn the_binary_prints_exactly_the_safe_requests_of_every_capture() {
    let Some(dir) = corpus_dir() else {
        eprintln!("SKIP: ../shared/corpus is not there; corpus conformance not checked");
        return;
    };
    let ports = ports();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".pcap").map(str::to_owned)
        })
        .collect();
    names.sort();
    let replayer = bin("replayer");
    let mut failures = Vec::new();
    for name in &names {
        let port = ports
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| *p)
            .unwrap_or_else(|| panic!("{name}: add its server port to tests/corpus_ports.tsv"));
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
        let mut got: Vec<String> = goreplay_records(&out.stdout)
            .iter()
            .map(Record::request_line)
            .collect();
        let mut want = expected_safe(&dir, name);
        // Order across connections is not in the output format; per-connection order is
        // checked by the library test (replayer/tests/corpus_lib.rs), which sees connections.
        got.sort();
        want.sort();
        if got != want {
            failures.push(format!("{name}:\n  got  {got:?}\n  want {want:?}"));
        }
    }
    eprintln!(
        "corpus via the binary: {} of {} captures conform",
        names.len() - failures.len(),
        names.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
