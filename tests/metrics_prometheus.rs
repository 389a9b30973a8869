//! The Prometheus exposition of a real daemon (nginx production and staging on `lo`, live
//! capture): `promtool check metrics` accepts it, its values are the status document's, the
//! latency histogram counts every answer; and the Grafana dashboard (`dashboards/replayer.json`)
//! parses, its queries are valid PromQL (`promtool check rules`) and query only metrics the
//! daemon exposes. The live part (two nginx, the daemon, eight requests, one scrape) runs
//! once, for every test here that looks at the exposition (`util::scenario`).

use crate::util::scenario::Scenario;
use crate::util::*;
use replayer_status::schema::DaemonState;
use replayer_status::StatusDocument;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const STAGING_LOCATIONS: &str =
    "location / { return 200 \"staging\\n\"; } location /fail { return 500; }";

/// `name{labels}` → value, for every sample line.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').expect("sample line");
            let value = match value {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|e| panic!("{l}: {e}")),
            };
            (key.to_string(), value)
        })
        .collect()
}

fn scrape(port: u16) -> String {
    let out = run_with_timeout(
        Command::new(require_tool("curl"))
            .args(["-sf", &format!("http://127.0.0.1:{port}/metrics")]),
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "scrape failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Every sample the document determines, named as the exposition must name it.
fn expected(doc: &StatusDocument) -> Vec<(String, f64)> {
    let mut e: Vec<(String, f64)> = Vec::new();
    let mut add = |k: String, v: f64| e.push((k, v));
    let r = &doc.requests;
    for (o, v) in [
        ("seen", r.seen),
        ("filtered", r.filtered),
        ("sampled_out", r.sampled_out),
        ("paused_sync", r.paused_sync),
        ("replayed", r.replayed),
        ("dropped_queue_full", r.dropped_queue_full),
        ("failed", r.failed),
    ] {
        add(
            format!("replayer_requests_total{{outcome=\"{o}\"}}"),
            v as f64,
        );
    }
    add("replayer_requests_queued_total".into(), r.queued as f64);
    if let Some(f) = &doc.output_file {
        for (o, v) in f.outcomes() {
            let key = format!("replayer_output_file_records_total{{outcome=\"{o}\"}}");
            add(key, v as f64);
        }
    }
    let d = &doc.diff;
    add(
        "replayer_diff_enabled".into(),
        f64::from(u8::from(d.enabled)),
    );
    for (name, v) in [
        ("compared", d.compared),
        ("same", d.same),
        ("differing", d.differing),
        ("noisy", d.noisy),
        ("prod_missing", d.prod_missing),
        ("slower", d.slower),
        ("untracked", d.untracked),
    ] {
        add(format!("replayer_diff_{name}_total"), v as f64);
    }
    for (cause, v) in &d.by_cause {
        add(
            format!("replayer_diff_differing_by_cause_total{{cause=\"{cause}\"}}"),
            *v as f64,
        );
    }
    let c = &doc.capture;
    add("replayer_capture_packets_total".into(), c.packets as f64);
    add("replayer_capture_bytes_total".into(), c.bytes as f64);
    add(
        "replayer_capture_kernel_dropped_total".into(),
        c.kernel_dropped as f64,
    );
    add(
        "replayer_capture_if_dropped_total".into(),
        c.if_dropped as f64,
    );
    add(
        "replayer_capture_reassembly_gaps_total".into(),
        c.reassembly_gaps as f64,
    );
    add(
        "replayer_capture_requests_cut_total".into(),
        c.requests_cut as f64,
    );
    add(
        "replayer_capture_dropped_over_cap_total".into(),
        c.dropped_over_cap as f64,
    );
    add("replayer_capture_streams".into(), c.streams as f64);
    for (cause, v) in &c.framing_skipped {
        add(
            format!("replayer_capture_framing_skipped_total{{cause=\"{cause}\"}}"),
            *v as f64,
        );
    }
    add("replayer_up".into(), 1.0);
    add(
        format!("replayer_build_info{{version=\"{}\"}}", doc.version),
        1.0,
    );
    for s in ["starting", "replaying", "paused", "stopping"] {
        let on = doc.state.as_str() == s;
        add(
            format!("replayer_state{{state=\"{s}\"}}"),
            f64::from(u8::from(on)),
        );
    }
    add(
        "replayer_sync_in_progress".into(),
        f64::from(u8::from(doc.sync.in_progress)),
    );
    add(
        "replayer_sync_stale".into(),
        f64::from(u8::from(doc.sync.stale)),
    );
    for t in &doc.targets {
        let tl = format!("target=\"{}\"", t.url);
        let rc = &t.responses;
        for (class, v) in [
            ("1xx", rc.c1xx),
            ("2xx", rc.c2xx),
            ("3xx", rc.c3xx),
            ("4xx", rc.c4xx),
            ("5xx", rc.c5xx),
        ] {
            add(
                format!("replayer_responses_total{{{tl},class=\"{class}\"}}"),
                v as f64,
            );
        }
        add(
            format!("replayer_target_replayed_total{{{tl}}}"),
            t.replayed as f64,
        );
        add(
            format!("replayer_target_failed_total{{{tl}}}"),
            t.failed as f64,
        );
        add(
            format!("replayer_target_in_flight{{{tl}}}"),
            t.in_flight as f64,
        );
    }
    for (w, win) in &doc.windows {
        for (o, v) in [
            ("seen", win.seen),
            ("filtered", win.filtered),
            ("sampled_out", win.sampled_out),
            ("paused_sync", win.paused_sync),
            ("replayed", win.replayed),
            ("dropped_queue_full", win.dropped_queue_full),
            ("failed", win.failed),
        ] {
            add(
                format!("replayer_window_requests{{window=\"{w}\",outcome=\"{o}\"}}"),
                v as f64,
            );
        }
        let wl = format!("window=\"{w}\"");
        add(
            format!("replayer_window_packets{{{wl}}}"),
            win.packets as f64,
        );
        add(
            format!("replayer_window_responses{{{wl}}}"),
            win.responses as f64,
        );
        add(
            format!("replayer_window_responses_5xx{{{wl}}}"),
            win.c5xx as f64,
        );
        add(
            format!("replayer_window_ratio_5xx{{{wl}}}"),
            win.ratio_5xx.unwrap_or(f64::NAN),
        );
        add(
            format!("replayer_window_replayed_per_second{{{wl}}}"),
            win.replayed_per_s,
        );
        add(
            format!("replayer_window_latency_seconds{{{wl},percentile=\"50\"}}"),
            win.latency_ms.p50 / 1000.0,
        );
        add(
            format!("replayer_window_latency_seconds{{{wl},percentile=\"99\"}}"),
            win.latency_ms.p99 / 1000.0,
        );
    }
    e
}

/// `promtool ARGS` with `stdin`, which must succeed and say nothing on stderr.
fn promtool(args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(require_tool("promtool"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "promtool {args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

/// What the scenario saw: one scrape of the live daemon's exposition and the status document
/// read right after it.
struct Seen {
    text: String,
    doc: StatusDocument,
}

static SCENARIO: Scenario<Seen> = Scenario::new();

/// Production and staging nginx, a live daemon with its metrics listener and an
/// `-output-file`, eight requests (six replayed and written, two filtered; two of the six
/// answered 500), then one scrape. Everything it started is stopped before the tests look at
/// what it saw.
fn seen() -> &'static Seen {
    SCENARIO.get(|| {
        let scratch = Scratch::new("metrics-prom");
        let production = Nginx::start(&scratch.join("production"), "");
        let staging = Nginx::start(&scratch.join("staging"), STAGING_LOCATIONS);
        let metrics_port = free_port();
        let mut daemon = start_live_daemon(
            &scratch.join("daemon"),
            production.port,
            &staging.url(),
            &[
                &format!("--metrics-listen=127.0.0.1:{metrics_port}"),
                "-http-disallow-url",
                "^/skip",
                &format!("-output-file={}", scratch.join("requests.gor").display()),
            ],
            |d| d.state == DaemonState::Replaying,
        );
        curl_get(
            production.port,
            &[
                "/1", "/2", "/fail/1", "/skip/1", "/3", "/fail/2", "/skip/2", "/4",
            ],
        );
        daemon.wait_for(Duration::from_secs(10), "6 replayed, 2 filtered", |d| {
            d.requests.replayed == 6 && d.requests.filtered == 2
        });
        daemon.wait_for(Duration::from_secs(5), "6 records written", |d| {
            d.output_file.as_ref().is_some_and(|f| f.written == 6)
        });
        // Packet totals are published in batches or when the wire goes quiet.
        daemon.wait_for(Duration::from_secs(3), "packets counted", |d| {
            d.capture.packets > 0
        });

        let text = scrape(metrics_port);
        let doc = daemon.status().expect("status document");
        Seen { text, doc }
    })
}

#[test]
fn the_file_outputs_records_are_in_the_document_and_the_exposition() {
    let _processes = lock::processes();
    let Seen { text, doc } = seen();
    assert_eq!(
        doc.output_file,
        Some(replayer_status::schema::FileOutputCounters {
            written: 6,
            ..Default::default()
        })
    );
    assert!(
        text.lines()
            .any(|l| l == "replayer_output_file_records_total{outcome=\"written\"} 6"),
        "{text}"
    );
}

#[test]
fn promtool_accepts_the_live_exposition() {
    let _processes = lock::processes();
    promtool(&["check", "metrics"], &seen().text);
}

#[test]
fn every_sample_the_status_document_determines_equals_it() {
    let _processes = lock::processes();
    let Seen { text, doc } = seen();
    let got = samples(text);
    for (key, value) in &expected(doc) {
        let actual = *got
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from\n{text}"));
        if key.starts_with("replayer_window_replayed_per_second") {
            // A young daemon's rate divides by its age, which grew between the two reads.
            assert!(
                (actual - value).abs() <= value * 0.05,
                "{key}: metrics {actual}, document {value}"
            );
        } else if value.is_nan() {
            assert!(actual.is_nan(), "{key}: metrics {actual}, document NaN");
        } else if key.starts_with("replayer_window_latency_seconds") {
            // Milliseconds in the document, seconds here: equal but for float rounding.
            assert!(
                (actual - value).abs() <= value * 1e-9,
                "{key}: metrics {actual}, document {value}"
            );
        } else {
            assert_eq!(actual, *value, "{key}: metrics and document disagree");
        }
    }
}

/// The figures themselves, so a test of equal zeros cannot pass.
#[test]
fn the_counters_are_the_requests_sent() {
    let _processes = lock::processes();
    let Seen { text, doc } = seen();
    let got = samples(text);
    let t = format!("target=\"{}\"", doc.targets[0].url);
    assert_eq!(got["replayer_requests_total{outcome=\"seen\"}"], 8.0);
    assert_eq!(got["replayer_requests_total{outcome=\"replayed\"}"], 6.0);
    assert_eq!(got["replayer_requests_total{outcome=\"filtered\"}"], 2.0);
    assert_eq!(
        got[&format!("replayer_responses_total{{{t},class=\"5xx\"}}")],
        2.0
    );
    assert_eq!(
        got[&format!("replayer_responses_total{{{t},class=\"2xx\"}}")],
        4.0
    );
    assert_eq!(got["replayer_window_ratio_5xx{window=\"60\"}"], 2.0 / 6.0);
}

/// The histogram: every answer counted once, cumulative buckets, +Inf = count.
#[test]
fn the_latency_histogram_counts_every_answer_once() {
    let _processes = lock::processes();
    let text = &seen().text;
    let got = samples(text);
    assert_eq!(got["replayer_response_latency_seconds_count"], 6.0);
    assert_eq!(
        got["replayer_response_latency_seconds_bucket{le=\"+Inf\"}"],
        6.0
    );
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("replayer_response_latency_seconds_bucket{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 15);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    let sum = got["replayer_response_latency_seconds_sum"];
    assert!(sum > 0.0 && sum < 6.0 * 5.0, "sum {sum}");
}

/// Every sample belongs to a family promtool saw: nothing the document has is missing, and
/// nothing but the document's samples and the histogram is there.
#[test]
fn the_exposition_holds_the_documents_samples_and_the_histogram_only() {
    let _processes = lock::processes();
    let Seen { text, doc } = seen();
    let got = samples(text);
    // One sample per framing-error cause, every cause there even at 0.
    let framing: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("replayer_capture_framing_skipped_total"))
        .collect();
    assert_eq!(
        framing,
        [
            "replayer_capture_framing_skipped_total{cause=\"bad_chunk\"} 0",
            "replayer_capture_framing_skipped_total{cause=\"bad_head\"} 0",
            "replayer_capture_framing_skipped_total{cause=\"bad_length\"} 0",
            "replayer_capture_framing_skipped_total{cause=\"head_too_large\"} 0",
        ]
    );
    let want = expected(doc);
    for (key, _) in &want {
        assert!(got.contains_key(key), "{key} missing from\n{text}");
    }
    assert_eq!(
        got.len(),
        want.len() + 15 + 2 + 1,
        "unexpected samples: {:?}",
        got.keys()
            .filter(|k| !want.iter().any(|(w, _)| w == *k))
            .collect::<Vec<_>>()
    );
}

/// The Grafana dashboard, parsed, and every query of its panels: each panel has a title and
/// its targets each an expression.
fn dashboard() -> (serde_json::Value, Vec<String>) {
    let path = workspace_root().join("dashboards/replayer.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("dashboard JSON");
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        assert!(panel["title"].is_string(), "{panel}");
        for target in panel["targets"].as_array().expect("targets") {
            exprs.push(target["expr"].as_str().expect("expr").to_string());
        }
    }
    (dashboard, exprs)
}

#[test]
fn the_dashboard_parses_and_has_the_panels_operators_look_for() {
    let _processes = lock::processes();
    let (dashboard, exprs) = dashboard();
    assert!(exprs.len() >= 10, "{exprs:?}");
    for title in [
        "Replay rate",
        "Not replayed, by cause",
        "Staging 5xx ratio",
        "Staging latency",
    ] {
        assert!(
            dashboard["panels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["title"] == title),
            "no panel {title}"
        );
    }
}

/// Grafana's variables as Prometheus would get them, then each query as a recording rule
/// that `promtool check rules` must accept.
#[test]
fn the_dashboards_queries_are_valid_promql() {
    let _processes = lock::processes();
    let (_, exprs) = dashboard();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "5m")
            .replace("$instance", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:panel_{i}\n        expr: '{}'\n",
            expr.replace('\'', "''")
        ));
    }
    let scratch = Scratch::new("dashboard-rules");
    let file = scratch.join("rules.yml");
    std::fs::write(&file, &rules).unwrap();
    let out = promtool(&["check", "rules", file.to_str().unwrap()], "");
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", exprs.len())),
        "{out}"
    );
}

/// Every metric a dashboard query names is in the live exposition.
#[test]
fn the_dashboard_queries_only_metrics_the_daemon_exposes() {
    let _processes = lock::processes();
    let (_, exprs) = dashboard();
    let exposed: BTreeSet<&str> = seen()
        .text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .collect();
    let mut queried = BTreeSet::new();
    for expr in &exprs {
        for (i, _) in expr.match_indices("replayer_") {
            let name: String = expr[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            queried.insert(name);
        }
    }
    assert!(queried.len() >= 8, "{queried:?}");
    for name in &queried {
        assert!(
            exposed.contains(name.as_str()),
            "the dashboard queries {name}, which is not exposed"
        );
    }
}
