//! The fleet's Prometheus rules (`icinga/prometheus/replayer.rules.yml`): `promtool check
//! rules` accepts them, their promtool unit tests pass (and fail when the rules lose a part),
//! docs/fleet.md names every one; and a real Prometheus server, scraping three live daemons
//! (nginx production and staging on `lo`) every second with the rules loaded, records what the
//! daemons' counters and status documents say: each host's replay rate is rate() of its
//! counter, the fleet's is their sum, the fleet's 5xx ratio is its counters' ratio, and "hosts
//! not replaying" follows the daemons through a data sync, a killed daemon and a stale flag.

use crate::util::prometheus::{value_of, Prometheus, Sample, Series, JOB};
use crate::util::*;
use replayer_status::schema::DaemonState;
use replayer_status::StatusDocument;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

fn rules_file() -> PathBuf {
    workspace_root().join("icinga/prometheus/replayer.rules.yml")
}

fn rules_test_file() -> PathBuf {
    workspace_root().join("icinga/prometheus/replayer.rules.test.yml")
}

/// Every rule the file defines: `(record or alert, name)`, in order.
fn rules() -> Vec<(String, String)> {
    std::fs::read_to_string(rules_file())
        .unwrap()
        .lines()
        .filter_map(|l| {
            let l = l.trim_start().strip_prefix("- ")?;
            let (kind, name) = l.split_once(": ")?;
            matches!(kind, "record" | "alert").then(|| (kind.to_string(), name.to_string()))
        })
        .collect()
}

fn recorded() -> Vec<String> {
    rules()
        .into_iter()
        .filter(|(kind, _)| kind == "record")
        .map(|(_, name)| name)
        .collect()
}

fn promtool(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    run_with_timeout(
        Command::new(require_tool("promtool"))
            .args(args)
            .current_dir(dir),
        Duration::from_secs(60),
    )
}

/// `promtool ARGS` in `dir`, which must exit 0; its stdout.
fn promtool_ok(args: &[&str], dir: &std::path::Path) -> String {
    let out = promtool(args, dir);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn promtool_check_rules_accepts_the_shipped_rules() {
    let file = rules_file();
    let stdout = promtool_ok(
        &["check", "rules", file.to_str().unwrap()],
        &workspace_root(),
    );
    assert_eq!(
        stdout,
        format!(
            "Checking {}\n  SUCCESS: {} rules found\n\n",
            file.display(),
            rules().len()
        )
    );
    // The rules the docs and the fleet test rely on, 14 recorded and 3 alerts.
    assert_eq!(rules().len(), 17, "{:?}", rules());
    for name in [
        "instance:replayer_replayed:rate1m",
        "job:replayer_replayed:rate1m",
        "instance:replayer_responses_5xx_per_responses:ratio_rate1m",
        "job:replayer_responses_5xx_per_responses:ratio_rate1m",
        "instance:replayer_not_replaying:bool",
        "job:replayer_not_replaying:count",
        "job:replayer_hosts:count",
        "job:replayer_hosts_up:count",
        "job:replayer_sync_paused:count",
    ] {
        assert!(recorded().iter().any(|r| r == name), "no rule {name}");
    }
    // level:metric:operations, the level being the labels kept: instance or job.
    for name in recorded() {
        let parts: Vec<&str> = name.split(':').collect();
        assert_eq!(parts.len(), 3, "{name}");
        assert!(matches!(parts[0], "instance" | "job"), "{name}");
        assert!(parts[1].starts_with("replayer_"), "{name}");
    }
}

#[test]
fn the_promtool_unit_tests_pass() {
    let dir = rules_test_file().parent().unwrap().to_path_buf();
    let stdout = promtool_ok(&["test", "rules", "replayer.rules.test.yml"], &dir);
    assert_eq!(
        stdout,
        "Unit Testing:  replayer.rules.test.yml\n  SUCCESS\n\n"
    );
    // The situations the brief of these rules names, each a test of its own.
    let text = std::fs::read_to_string(rules_test_file()).unwrap();
    for name in [
        "all hosts replaying",
        "one host down",
        "hosts paused by a data sync",
        "hosts up but not replaying",
        "5xx ratios, a host without responses",
    ] {
        assert!(
            text.contains(&format!("  - name: {name}\n")),
            "no unit test {name}"
        );
    }
}

/// The unit tests have teeth: with the data sync no longer excusing a host, the 5xx ratio a
/// mean of the hosts' instead of the fleet's, or a dead host's rate kept for its last minute,
/// they fail, and say which rule.
#[test]
fn the_promtool_unit_tests_fail_on_broken_rules() {
    let rules = std::fs::read_to_string(rules_file()).unwrap();
    let tests = std::fs::read_to_string(rules_test_file()).unwrap();
    for (what, from, to, rule) in [
        (
            "no sync excuse",
            "unless on (instance, job) (instance:replayer_sync_paused:bool == 1)",
            "unless on (instance, job) (up == 7)",
            "instance:replayer_not_replaying:bool",
        ),
        (
            "mean of ratios",
            "expr: job:replayer_responses_5xx:rate1m / (job:replayer_responses:rate1m > 0)",
            "expr: avg by (job) (instance:replayer_responses_5xx_per_responses:ratio_rate1m)",
            "job:replayer_responses_5xx_per_responses:ratio_rate1m",
        ),
        (
            "dead hosts' rates kept",
            "\n          and on (instance, job) (up{job=\"replayer\"} == 1)",
            "",
            "instance:replayer_replayed:rate1m",
        ),
    ] {
        assert!(rules.contains(from), "{what}: {from:?} not in the rules");
        let scratch = Scratch::new("prom-broken-rules");
        std::fs::write(scratch.join("replayer.rules.yml"), rules.replace(from, to)).unwrap();
        std::fs::write(scratch.join("replayer.rules.test.yml"), &tests).unwrap();
        let out = promtool(
            &["test", "rules", "replayer.rules.test.yml"],
            scratch.path(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.contains("FAILED:"), "{what}: {stderr}");
        assert!(
            stderr.contains(&format!("expr: \"{rule}\"")),
            "{what}: {stderr}"
        );
    }
}

#[test]
fn the_fleet_doc_explains_every_rule() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/fleet.md")).unwrap();
    assert!(doc.contains("## Prometheus\n"), "no Prometheus section");
    for (_, name) in rules() {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/fleet.md: no `{name}`"
        );
    }
    let listing = std::fs::read_to_string(workspace_root().join("icinga/README.md")).unwrap();
    assert!(listing.contains("`prometheus/replayer.rules.yml`"));
    assert!(listing.contains("`prometheus/replayer.rules.test.yml`"));
}

// ---------------------------------------------------------------------------------------------
// A real Prometheus and three live daemons.

const STAGING_LOCATIONS: &str =
    "location / { return 200 \"staging\\n\"; } location /fail { return 500; }";

/// The three hosts: instance name, requests per 100 ms cycle, and every how many a `/fail`
/// (staging answers those with a 500; 0 = never).
const HOSTS: [(&str, usize, usize); 3] = [("a", 2, 4), ("b", 1, 0), ("c", 3, 3)];

/// Requests to the production servers until dropped: each cycle of 100 ms sends every host its
/// share over fresh connections (the daemons capture them on `lo`), so the counters climb for
/// the whole test and rate() always has something to see.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Traffic {
    fn start(ports: Vec<u16>) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut sent = 0u64;
            let mut n = vec![0usize; HOSTS.len()];
            while !flag.load(Ordering::Relaxed) {
                let cycle = Instant::now();
                for (i, &(_, per_cycle, fail_every)) in HOSTS.iter().enumerate() {
                    for _ in 0..per_cycle {
                        n[i] += 1;
                        let path = if fail_every > 0 && n[i].is_multiple_of(fail_every) {
                            format!("/fail/{}", n[i])
                        } else {
                            format!("/ok/{}", n[i])
                        };
                        if get(ports[i], &path) {
                            sent += 1;
                        }
                    }
                }
                if let Some(rest) = Duration::from_millis(100).checked_sub(cycle.elapsed()) {
                    std::thread::sleep(rest);
                }
            }
            sent
        });
        Traffic {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sending; returns how many requests production answered.
    fn stop(&mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map_or(0, |t| t.join().expect("traffic thread"))
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One GET over its own connection; whether an answer came.
fn get(port: u16, path: &str) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: production.example\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    s.write_all(request.as_bytes()).is_ok()
        && s.read_to_end(&mut answer).is_ok()
        && answer.starts_with(b"HTTP/1.1 200")
}

/// rate() as Prometheus 2.42 computes it (promql/functions.go, `extrapolatedRate`): the
/// increase between the first and last points (counter resets added back), extrapolated
/// towards the range's ends by at most half a sample interval (and never below zero), per
/// second of the range. `None` with fewer than two points, as Prometheus drops such a series.
fn prometheus_rate(points: &[(i64, f64)], eval_ms: i64, range_s: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let range_start = eval_ms - (range_s * 1000.0) as i64;
    let (t0, v0) = points[0];
    let (tn, vn) = points[points.len() - 1];
    let mut result = vn - v0;
    let mut prev = v0;
    for &(_, v) in &points[1..] {
        if v < prev {
            result += prev;
        }
        prev = v;
    }
    let mut to_start = (t0 - range_start) as f64 / 1000.0;
    let to_end = (eval_ms - tn) as f64 / 1000.0;
    let sampled = (tn - t0) as f64 / 1000.0;
    let average = sampled / (points.len() - 1) as f64;
    if result > 0.0 && v0 >= 0.0 {
        let to_zero = sampled * (v0 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = average * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        average / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        average / 2.0
    };
    let mut factor = interval / sampled;
    factor /= range_s;
    Some(result * factor)
}

/// How long a scrape of a local daemon may take from its timestamp to its commit, on a busy
/// CI machine (they take a few milliseconds).
const SCRAPE_RACE_MS: i64 = 250;

/// The ways an evaluation at `eval_ms` may have seen an instance's raw points: all of them, or,
/// when its last scrape started under [`SCRAPE_RACE_MS`] before the evaluation, all but that
/// scrape (a scrape is stamped when it starts and becomes visible when it is committed, so an
/// evaluation running meanwhile misses it).
fn views(series: &[Series], eval_ms: i64) -> Vec<Vec<Series>> {
    let mut all = vec![series.to_vec()];
    let last = series
        .iter()
        .filter_map(|(_, p)| p.last().map(|&(t, _)| t))
        .max();
    if last.is_some_and(|t| t > eval_ms - SCRAPE_RACE_MS) {
        all.push(
            series
                .iter()
                .map(|(l, p)| {
                    let kept = p.iter().copied().filter(|&(t, _)| t < last.unwrap());
                    (l.clone(), kept.collect())
                })
                .collect(),
        );
    }
    all
}

/// The sum of rate(...[1m]) over the series.
fn rate_sum(series: &[Series], eval_ms: i64) -> f64 {
    series
        .iter()
        .filter_map(|(_, p)| prometheus_rate(p, eval_ms, 60.0))
        .sum()
}

fn close(a: f64, b: f64) -> bool {
    // Sums of the same terms in another order: equal to a few units in the last place.
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

fn by_instance(samples: &[Sample]) -> BTreeMap<String, f64> {
    samples
        .iter()
        .map(|(l, v)| (l["instance"].clone(), *v))
        .collect()
}

fn one(samples: &[Sample]) -> f64 {
    assert_eq!(samples.len(), 1, "{samples:?}");
    samples[0].1
}

/// A recording rule's sample of the evaluation at exactly `eval_ms`, by instance (the range
/// selector gives the points with their own timestamps; an instant query would not say which
/// evaluation its value came from).
fn recorded_at(prom: &Prometheus, name: &str, eval_ms: i64) -> BTreeMap<String, f64> {
    prom.series_at(&format!("{name}[5s]"), eval_ms as f64 / 1000.0)
        .into_iter()
        .filter_map(|(l, p)| {
            let v = p.iter().find(|&&(t, _)| t == eval_ms)?.1;
            Some((l.get("instance").cloned().unwrap_or_default(), v))
        })
        .collect()
}

/// The hosts the daemons' own documents say are not replaying, by the rules' definition:
/// dead; not in state replaying; or nothing replayed over the last minute; the last two
/// excused by a sync in progress whose flag is not stale.
fn not_replaying(docs: &[Option<StatusDocument>]) -> usize {
    docs.iter()
        .filter(|doc| match doc {
            None => true,
            Some(d) => {
                let excused = d.sync.in_progress && !d.sync.stale;
                let idle = d.windows.get("60").is_some_and(|w| w.replayed == 0);
                !excused && (d.state != DaemonState::Replaying || idle)
            }
        })
        .count()
}

#[test]
fn a_real_prometheus_records_the_fleet_of_live_daemons() {
    let _processes = lock::processes();
    let scratch = Scratch::new("prom-fleet");
    let staging = Nginx::start(&scratch.join("staging"), STAGING_LOCATIONS);
    let productions: Vec<Nginx> = HOSTS
        .iter()
        .map(|(name, _, _)| Nginx::start(&scratch.join(format!("production-{name}")), ""))
        .collect();
    let metrics: Vec<u16> = HOSTS.iter().map(|_| free_port()).collect();
    let mut daemons: Vec<Option<DaemonProcess>> = HOSTS
        .iter()
        .zip(&productions)
        .zip(&metrics)
        .map(|(((name, _, _), production), port)| {
            Some(start_live_daemon(
                &scratch.join(format!("daemon-{name}")),
                production.port,
                &staging.url(),
                &[&format!("--metrics-listen=127.0.0.1:{port}")],
                |d| d.state == DaemonState::Replaying,
            ))
        })
        .collect();
    let mut traffic = Traffic::start(productions.iter().map(|p| p.port).collect());
    let targets: Vec<(String, std::net::SocketAddr)> = HOSTS
        .iter()
        .zip(&metrics)
        .map(|((name, _, _), port)| (name.to_string(), ([127, 0, 0, 1], *port).into()))
        .collect();
    let prom = Prometheus::start(
        &scratch.join("prometheus"),
        &[],
        ([127, 0, 0, 1], free_port()).into(),
        &targets,
        &[rules_file()],
    );
    let docs = |daemons: &mut Vec<Option<DaemonProcess>>| -> Vec<Option<StatusDocument>> {
        daemons
            .iter_mut()
            .map(|d| d.as_mut().map(|d| d.status().expect("status document")))
            .collect()
    };
    let limit = Duration::from_secs(30);

    // Every host replaying, seen by Prometheus, then a few more seconds of points for rate().
    prom.wait_until("instance:replayer_replayed:rate1m > 0", limit, |s| {
        s.len() == 3
    });
    prom.wait_until(
        "job:replayer_responses_5xx_per_responses:ratio_rate1m > 0",
        limit,
        |s| s.len() == 1,
    );
    std::thread::sleep(Duration::from_secs(4));

    // One evaluation, a second or more ago (so every scrape before it is committed).
    let evals = prom.series_at("job:replayer_replayed:rate1m[10s]", now_s());
    let points = &evals[0].1;
    assert!(points.len() >= 3, "{evals:?}");
    let eval_ms = points[points.len() - 2].0;
    let t = eval_ms as f64 / 1000.0;

    // Each host's rate is rate() of its replayed counter, the fleet's their sum.
    let per_host = recorded_at(&prom, "instance:replayer_replayed:rate1m", eval_ms);
    let fleet = recorded_at(&prom, "job:replayer_replayed:rate1m", eval_ms)[""];
    assert_eq!(per_host.len(), 3, "{per_host:?}");
    assert!(
        close(fleet, per_host.values().sum()),
        "{fleet} {per_host:?}"
    );
    let replayed = prom.series_at("replayer_requests_total{outcome=\"replayed\"}[1m]", t);
    let responses = prom.series_at("replayer_responses_total[1m]", t);
    let of = |all: &[Series], instance: &str| -> Vec<Series> {
        all.iter()
            .filter(|(l, _)| l["instance"] == instance)
            .cloned()
            .collect()
    };
    let mut fleet_5xx_views: Vec<(f64, f64)> = vec![(0.0, 0.0)];
    let mut rate_views = BTreeMap::new();
    for (name, _, _) in HOSTS {
        let rates: Vec<f64> = views(&of(&replayed, name), eval_ms)
            .iter()
            .map(|v| rate_sum(v, eval_ms))
            .collect();
        rate_views.insert(name, rates.clone());
        assert!(
            rates.contains(&per_host[name]),
            "{name}: recorded {} but rate() of its counter is {rates:?}",
            per_host[name]
        );
        let mut next = Vec::new();
        for view in views(&of(&responses, name), eval_ms) {
            let five: Vec<Series> = view
                .iter()
                .filter(|(l, _)| l["class"] == "5xx")
                .cloned()
                .collect();
            let (f, a) = (rate_sum(&five, eval_ms), rate_sum(&view, eval_ms));
            next.extend(fleet_5xx_views.iter().map(|(ff, aa)| (ff + f, aa + a)));
        }
        fleet_5xx_views = next;
    }
    // Traffic 2 : 1 : 3 per cycle.
    assert!(
        per_host["c"] > per_host["a"] && per_host["a"] > per_host["b"] && per_host["b"] > 0.0,
        "{per_host:?}"
    );
    // The fleet's 5xx ratio is its 5xx responses' rate over all its responses' rate.
    let ratio = recorded_at(
        &prom,
        "job:replayer_responses_5xx_per_responses:ratio_rate1m",
        eval_ms,
    )[""];
    assert!(
        fleet_5xx_views.iter().any(|(f, a)| close(ratio, f / a)),
        "fleet 5xx ratio {ratio}, from the counters {fleet_5xx_views:?}"
    );
    eprintln!(
        "evaluation {eval_ms}: replay rates {per_host:?} (from the counters: {rate_views:?}), \
         fleet {fleet}; fleet 5xx ratio {ratio} (from the counters: {fleet_5xx_views:?})"
    );
    // a sends a /fail in 4 and c one in 3, b none: 5 in 24 of requests over a whole cycle.
    assert!(ratio > 0.1 && ratio < 0.33, "{ratio}");
    let host_ratio = recorded_at(
        &prom,
        "instance:replayer_responses_5xx_per_responses:ratio_rate1m",
        eval_ms,
    );
    assert_eq!(host_ratio["b"], 0.0, "{host_ratio:?}");

    // At that evaluation, every host was up and counted.
    assert_eq!(one(&prom.query_at("job:replayer_hosts_up:count", t)), 3.0);
    assert_eq!(
        one(&prom.query_at("job:replayer_not_replaying:count", t)),
        0.0
    );

    // Counts: all up, none excused, none not replaying, as the documents say.
    assert_eq!(not_replaying(&docs(&mut daemons)), 0);
    assert_eq!(one(&prom.query("job:replayer_hosts:count")), 3.0);
    assert_eq!(one(&prom.query("job:replayer_hosts_up:count")), 3.0);
    assert_eq!(one(&prom.query("job:replayer_not_replaying:count")), 0.0);
    assert_eq!(one(&prom.query("job:replayer_sync_paused:count")), 0.0);

    // A data sync on b: it pauses itself, which excuses it.
    let flag_b = scratch.join("daemon-b/no-sync-flag");
    std::fs::write(&flag_b, "true\n").unwrap();
    daemons[1]
        .as_mut()
        .unwrap()
        .wait_for(limit, "paused by the sync", |d| {
            d.state == DaemonState::Paused && d.sync.in_progress && !d.sync.stale
        });
    prom.wait_until("job:replayer_sync_paused:count", limit, |s| one(s) == 1.0);
    let paused = prom.wait_until("instance:replayer_sync_paused:bool", limit, |s| {
        by_instance(s) == BTreeMap::from([("a".into(), 0.0), ("b".into(), 1.0), ("c".into(), 0.0)])
    });
    assert_eq!(paused.len(), 3);
    assert_eq!(
        value_of(
            &prom.query("replayer_state"),
            &[("instance", "b"), ("state", "paused")]
        ),
        Some(1.0)
    );
    assert_eq!(not_replaying(&docs(&mut daemons)), 0);
    assert_eq!(one(&prom.query("job:replayer_not_replaying:count")), 0.0);

    // c's daemon killed: down, not replaying; b still excused.
    let mut c = daemons[2].take().unwrap();
    c.child.kill().unwrap();
    c.child.wait().unwrap();
    assert_eq!(not_replaying(&docs(&mut daemons)), 1);
    prom.wait_until("job:replayer_not_replaying:count", limit, |s| one(s) == 1.0);
    let hosts = prom.query("instance:replayer_not_replaying:bool");
    assert_eq!(
        by_instance(&hosts),
        BTreeMap::from([("a".into(), 0.0), ("b".into(), 0.0), ("c".into(), 1.0)])
    );
    let up = prom.query(&format!("up{{job=\"{JOB}\"}}"));
    assert_eq!(value_of(&up, &[("instance", "c")]), Some(0.0));
    assert_eq!(one(&prom.query("job:replayer_hosts_up:count")), 2.0);
    assert_eq!(one(&prom.query("job:replayer_hosts:count")), 3.0);
    // The dead host's replay rate is gone from the fleet's, not frozen at its last value.
    let rates = prom.query("instance:replayer_replayed:rate1m");
    assert_eq!(
        by_instance(&rates).keys().collect::<Vec<_>>(),
        ["a", "b"],
        "{rates:?}"
    );

    // b's flag goes stale (set 13 hours ago, over --sync-max-age 12h): no excuse any more.
    set_mtime(&flag_b, SystemTime::now() - Duration::from_secs(13 * 3600));
    daemons[1]
        .as_mut()
        .unwrap()
        .wait_for(limit, "a stale sync flag", |d| d.sync.stale);
    assert_eq!(not_replaying(&docs(&mut daemons)), 2);
    prom.wait_until("job:replayer_not_replaying:count", limit, |s| one(s) == 2.0);
    assert_eq!(one(&prom.query("job:replayer_sync_paused:count")), 0.0);

    // Quiet: the counters Prometheus scraped last are the documents' own.
    let sent = traffic.stop();
    assert!(sent > 0);
    let mut last = docs(&mut daemons);
    loop {
        std::thread::sleep(Duration::from_millis(1500));
        let now = docs(&mut daemons);
        let key = |d: &[Option<StatusDocument>]| -> Vec<(u64, u64)> {
            d.iter()
                .flatten()
                .map(|d| (d.requests.replayed, d.targets[0].responses.c5xx))
                .collect()
        };
        if key(&now) == key(&last) {
            last = now;
            break;
        }
        last = now;
    }
    for (i, (name, _, _)) in HOSTS.iter().enumerate().take(2) {
        let doc = last[i].as_ref().unwrap();
        assert!(doc.requests.replayed > 0, "{name}");
        let expr = format!("replayer_requests_total{{instance=\"{name}\",outcome=\"replayed\"}}");
        prom.wait_until(&expr, limit, |s| one(s) == doc.requests.replayed as f64);
        let expr = format!("sum(replayer_responses_total{{instance=\"{name}\",class=\"5xx\"}})");
        let c5xx = doc.targets[0].responses.c5xx as f64;
        prom.wait_until(&expr, limit, |s| one(s) == c5xx);
    }
    assert!(last[0].as_ref().unwrap().targets[0].responses.c5xx > 0);
    assert_eq!(last[1].as_ref().unwrap().targets[0].responses.c5xx, 0);
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A network namespace with its loopback up, deleted when dropped.
struct Netns(String);

impl Netns {
    fn create(name: &str) -> Netns {
        let ip = require_tool("ip");
        let _ = Command::new(&ip).args(["netns", "del", name]).output();
        let netns = Netns(name.to_string());
        for args in [
            vec!["netns", "add", name],
            vec!["-n", name, "link", "set", "lo", "up"],
        ] {
            let out = run_with_timeout(Command::new(&ip).args(&args), Duration::from_secs(10));
            assert!(out.status.success(), "ip {args:?}: {out:?}");
        }
        netns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new(require_tool("ip"))
            .args(["netns", "del", &self.0])
            .output();
    }
}

/// The harness as the fleet test uses it: Prometheus inside a network namespace, queried from
/// inside it (from outside, nothing listens there), the shipped rules loaded. Its one target
/// is Prometheus's own /metrics in the job `replayer`: up, but no daemon, so one host, none
/// not replaying (no state, no rate), none paused.
#[test]
fn the_harness_runs_prometheus_in_a_network_namespace() {
    let _processes = lock::processes();
    assert!(is_root(), "network namespaces need root (CI runs as root)");
    let netns = Netns::create(&format!("promtest-{}", std::process::id()));
    let scratch = Scratch::new("prom-netns");
    let listen: std::net::SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let prom = Prometheus::start(
        &scratch.join("prometheus"),
        &["ip", "netns", "exec", &netns.0],
        listen,
        &[("self".to_string(), listen)],
        &[rules_file()],
    );
    let limit = Duration::from_secs(20);
    let up = prom.wait_until("up", limit, |s| s.len() == 1 && s[0].1 == 1.0);
    assert_eq!(up[0].0["instance"], "self");
    assert_eq!(up[0].0["job"], JOB);
    prom.wait_until("job:replayer_hosts_up:count", limit, |s| {
        s.len() == 1 && s[0].1 == 1.0
    });
    assert_eq!(one(&prom.query("job:replayer_hosts:count")), 1.0);
    assert_eq!(one(&prom.query("job:replayer_not_replaying:count")), 0.0);
    assert_eq!(one(&prom.query("job:replayer_sync_paused:count")), 0.0);
    assert!(prom.query("job:replayer_replayed:rate1m").is_empty());
    assert!(
        std::net::TcpStream::connect(listen).is_err(),
        "{listen} answers outside the namespace"
    );
    drop(prom);
}
