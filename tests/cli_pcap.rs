//! `replayer` reading capture files end to end: GoReplay's record format on stdout and in a
//! file, the safe-method default on real POST traffic, rewrites and limits as they come
//! out, exit 0 at the end of the file.
//!
//! Reads the public capture corpus (`util::corpus`); without it each test says it skipped
//! (CI always has it, and fails without it).

use crate::util::corpus::corpus_or_skip;
use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SEPARATOR: &str = "\n🐵🙈🙉\n";

fn capture(corpus: &Path, name: &str) -> PathBuf {
    let path = corpus.join(name);
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

/// Runs replayer on a capture file with extra flags; returns stdout, after checking exit 0.
fn replay_file(corpus: &Path, name: &str, port: u16, extra: &[&str]) -> String {
    let input = format!("{}:{port}", capture(corpus, name).display());
    let out = run_with_timeout(
        Command::new(bin("replayer"))
            .args(["-input-raw", &input, "-input-raw-engine", "pcap_file"])
            .args(extra),
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("records are UTF-8 for these captures")
}

/// One GoReplay record: the meta line's fields and the request as written.
struct Record {
    kind: String,
    id: String,
    timestamp_ns: u64,
    latency: String,
    request: String,
}

impl Record {
    fn request_line(&self) -> &str {
        self.request.split("\r\n").next().unwrap()
    }
    fn headers(&self) -> Vec<&str> {
        let head = self.request.split("\r\n\r\n").next().unwrap();
        head.split("\r\n").skip(1).collect()
    }
}

/// Splits GoReplay's format strictly: every record ends with the separator.
fn records(text: &str) -> Vec<Record> {
    if text.is_empty() {
        return Vec::new();
    }
    assert!(
        text.ends_with(SEPARATOR),
        "output must end with the separator"
    );
    text[..text.len() - SEPARATOR.len()]
        .split(SEPARATOR)
        .map(|chunk| {
            let (meta, request) = chunk.split_once('\n').expect("meta line");
            let fields: Vec<&str> = meta.split(' ').collect();
            assert_eq!(fields.len(), 4, "meta line {meta:?}");
            Record {
                kind: fields[0].to_string(),
                id: fields[1].to_string(),
                timestamp_ns: fields[2].parse().expect("timestamp in ns"),
                latency: fields[3].to_string(),
                request: request.to_string(),
            }
        })
        .collect()
}

/// The expected GET/HEAD/OPTIONS request lines of a corpus capture.
fn expected_safe(corpus: &Path, name: &str) -> Vec<String> {
    let tsv = std::fs::read_to_string(capture(corpus, name)).unwrap();
    tsv.lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(m, _)| matches!(*m, "GET" | "HEAD" | "OPTIONS"))
        .map(|(m, t)| format!("{m} {t}"))
        .collect()
}

#[test]
fn stdout_is_goreplay_format_and_the_process_exits_at_end_of_file() {
    let _processes = lock::processes();
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let text = replay_file(
        &corpus,
        "http-protocol-nodup__input.pcap",
        80,
        &["-output-stdout"],
    );
    let records = records(&text);
    let expected = expected_safe(&corpus, "http-protocol-nodup__input.expected.tsv");
    assert!(!expected.is_empty());
    let got: Vec<String> = records
        .iter()
        .map(|r| {
            let mut parts = r.request_line().split(' ');
            format!("{} {}", parts.next().unwrap(), parts.next().unwrap())
        })
        .collect();
    assert_eq!(got, expected);
    let mut ids = std::collections::HashSet::new();
    for r in &records {
        assert_eq!(r.kind, "1", "a request");
        assert_eq!(r.id.len(), 24);
        assert!(r.id.bytes().all(|b| b.is_ascii_hexdigit()), "{}", r.id);
        assert!(ids.insert(r.id.clone()), "ids are unique");
        // The capture is from October 2020.
        assert!((1_600_000_000_000_000_000..1_700_000_000_000_000_000).contains(&r.timestamp_ns));
        assert_eq!(r.latency, "0");
        assert!(
            r.request_line().ends_with(" HTTP/1.1"),
            "{}",
            r.request_line()
        );
        assert_eq!(r.headers().last(), Some(&"X-Replayed-By: replayer"));
    }
}

#[test]
fn posts_never_come_out_by_default() {
    let _processes = lock::processes();
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let name = "http-post-file__input.pcap";
    let default = replay_file(&corpus, name, 8065, &["-output-stdout"]);
    assert_eq!(default, "", "no POST under the default filter");
    // Even naming POST is refused without the extra flag (exit 2, checked in cli_args).
    // With both, the three POSTs of the capture come out: the filter is what held them back.
    let allowed = replay_file(
        &corpus,
        name,
        8065,
        &[
            "-output-stdout",
            "-http-allow-method",
            "POST",
            "--allow-unsafe-methods",
        ],
    );
    let lines: Vec<String> = records(&allowed)
        .iter()
        .map(|r| r.request_line().to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "POST /api/v4/users/login HTTP/1.1",
            "POST /api/v4/uploads HTTP/1.1",
            "POST /api/v4/uploads/is8j4b6s7i839eo38axwmx5pnr HTTP/1.1",
        ]
    );
}

#[test]
fn rewrites_and_filters_show_in_the_records() {
    let _processes = lock::processes();
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let text = replay_file(
        &corpus,
        "http-protocol-nodup__input.pcap",
        80,
        &[
            "-output-stdout",
            "-http-set-header",
            "X-Forwarded-Host:",
            "-http-set-header",
            "User-Agent: replayer-test",
            "-http-disallow-url",
            "_vti_adm",
            "-http-rewrite-url",
            "^/_vti_bin/:/vti/",
        ],
    );
    let records = records(&text);
    let all = expected_safe(&corpus, "http-protocol-nodup__input.expected.tsv");
    let kept = all.iter().filter(|l| !l.contains("_vti_adm")).count();
    assert!(kept < all.len(), "the deny rule must drop something here");
    assert_eq!(records.len(), kept);
    for r in &records {
        let line = r.request_line();
        assert!(!line.contains("_vti_bin/"), "rewritten: {line}");
        let headers = r.headers();
        assert_eq!(headers[0], "X-Forwarded-Host: ", "inserted first, empty");
        assert!(
            headers.contains(&"User-Agent: replayer-test"),
            "{headers:?}"
        );
        assert_eq!(
            headers
                .iter()
                .filter(|h| h.starts_with("User-Agent:"))
                .count(),
            1
        );
    }
    assert!(records
        .iter()
        .any(|r| r.request_line().starts_with("GET /vti/")));
}

#[test]
fn file_output_matches_stdout_and_honours_its_limit() {
    let _processes = lock::processes();
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let scratch = Scratch::new("cli-file");
    let file = scratch.join("requests.gor");
    let stdout = replay_file(
        &corpus,
        "http-protocol-nodup__input.pcap",
        80,
        &["-output-stdout", "-output-file", file.to_str().unwrap()],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), stdout);

    let limited = scratch.join("half.gor");
    let spec = format!("{}|50%", limited.display());
    let quiet = replay_file(
        &corpus,
        "http-protocol-nodup__input.pcap",
        80,
        &["-output-file", &spec, "-output-null"],
    );
    assert_eq!(quiet, "");
    let all = records(&stdout).len();
    let half = records(&std::fs::read_to_string(&limited).unwrap()).len();
    assert_eq!(half, all / 2, "50% of {all}");
}

#[test]
fn null_output_prints_nothing() {
    let _processes = lock::processes();
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    assert_eq!(
        replay_file(
            &corpus,
            "http-protocol-nodup__input.pcap",
            80,
            &["-output-null"]
        ),
        ""
    );
}

/// (Needs no corpus: runs without it.)
#[test]
fn a_damaged_file_is_refused_in_one_line() {
    let _processes = lock::processes();
    let scratch = Scratch::new("cli-garbage");
    let garbage = scratch.join("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture file at all").unwrap();
    let input = format!("{}:80", garbage.display());
    let out = run_with_timeout(
        Command::new(bin("replayer")).args(["-input-raw", &input, "-output-stdout"]),
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.starts_with("replayer: "), "{stderr:?}");
}

/// `-stats` ends the run with the counters by cause (what the status document reports).
#[test]
fn stats_line_counts_every_request_by_cause() {
    let _processes = lock::processes();
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let summary = |name: &str, port: u16, extra: &[&str]| {
        let input = format!("{}:{port}", capture(&corpus, name).display());
        let out = run_with_timeout(
            Command::new(bin("replayer"))
                .args(["-input-raw", &input, "-output-null", "-stats"])
                .args(extra),
            Duration::from_secs(30),
        );
        assert_eq!(out.status.code(), Some(0));
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let line = stderr
            .lines()
            .find(|l| l.contains("requests seen"))
            .unwrap_or_else(|| panic!("no summary in {stderr:?}"))
            .to_string();
        line[line.find("requests seen").unwrap()..].to_string()
    };
    let all = expected_safe(&corpus, "http-protocol-nodup__input.expected.tsv").len();
    assert_eq!(
        summary("http-protocol-nodup__input.pcap", 80, &[]),
        format!("requests seen {all} filtered 0 sampled_out 0 written {all}")
    );
    assert_eq!(
        summary("http-post-file__input.pcap", 8065, &[]),
        "requests seen 3 filtered 3 sampled_out 0 written 0 (filtered: method 3)"
    );
    // A 0% header limiter samples out every request carrying the header (all of them here).
    let sampled = summary(
        "http-protocol-nodup__input.pcap",
        80,
        &["-http-header-limiter", "User-Agent: 0%"],
    );
    assert_eq!(
        sampled,
        format!("requests seen {all} filtered 0 sampled_out {all} written 0")
    );
}
