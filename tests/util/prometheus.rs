//! A real Prometheus server (Debian's `prometheus` binary) for the tests: it scrapes replayer
//! daemons' `--metrics-listen` addresses every second, evaluates rule files every second,
//! keeps its data in a scratch folder, and is killed by pid when dropped. Queries go through
//! its HTTP API with curl, run with the same command prefix as the server (`ip netns exec NS`),
//! so a server inside a network namespace is queried from inside it too.

use super::{require_tool, run_with_timeout};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One series of an instant query's answer: its labels (`__name__` included when the result
/// keeps it) and its value.
pub type Sample = (BTreeMap<String, String>, f64);

/// One series of a range selector's answer: its labels and its raw points, (milliseconds since
/// the epoch, value).
pub type Series = (BTreeMap<String, String>, Vec<(i64, f64)>);

/// The scrape job every target is put in: the shipped rules find the fleet by it
/// (`up{job="replayer"}`, icinga/prometheus/replayer.rules.yml).
pub const JOB: &str = "replayer";

/// A running Prometheus; see [`Prometheus::start`].
pub struct Prometheus {
    child: Child,
    prefix: Vec<String>,
    pub listen: SocketAddr,
    pub dir: PathBuf,
}

impl Prometheus {
    /// Starts `prometheus` (behind the command `prefix`, e.g. `["ip","netns","exec","ns"]`, or
    /// none) listening on `listen`, with its configuration, data and log in `dir`: job
    /// [`JOB`] scrapes each `(instance, address)` of `targets` at `/metrics` every second
    /// (the instance label is the given name, not the address), and `rule_files` are
    /// evaluated every second. Returns once the server says it is ready (30 s at most).
    pub fn start(
        dir: &Path,
        prefix: &[&str],
        listen: SocketAddr,
        targets: &[(String, SocketAddr)],
        rule_files: &[PathBuf],
    ) -> Prometheus {
        std::fs::create_dir_all(dir).expect("create Prometheus's folder");
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n",
        );
        config.push_str("rule_files:\n");
        for file in rule_files {
            let file = std::fs::canonicalize(file)
                .unwrap_or_else(|e| panic!("rule file {}: {e}", file.display()));
            config.push_str(&format!("  - {}\n", yaml_string(&file.to_string_lossy())));
        }
        config.push_str(&format!(
            "scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n"
        ));
        for (instance, address) in targets {
            config.push_str(&format!(
                "      - targets: [{}]\n        labels: {{ instance: {} }}\n",
                yaml_string(&address.to_string()),
                yaml_string(instance)
            ));
        }
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, &config).expect("write prometheus.yml");
        let log = dir.join("prometheus.log");
        let (program, args) = match prefix.split_first() {
            Some((first, rest)) => (PathBuf::from(first), rest.to_vec()),
            None => (require_tool("prometheus"), Vec::new()),
        };
        let mut command = Command::new(program);
        command.args(&args);
        if !prefix.is_empty() {
            command.arg(require_tool("prometheus"));
        }
        // Only these three flags: the console templates and libraries Debian's service passes
        // are for the web UI's consoles, which nothing here uses.
        let child = command
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create prometheus.log"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn prometheus: {e}"));
        let mut prometheus = Prometheus {
            child,
            prefix: prefix.iter().map(|s| s.to_string()).collect(),
            listen,
            dir: dir.to_path_buf(),
        };
        let start = Instant::now();
        loop {
            if let Some(exit) = prometheus.child.try_wait().expect("try_wait") {
                panic!(
                    "prometheus exited ({exit}) before it was ready:\n{}\nconfiguration:\n{config}",
                    prometheus.log()
                );
            }
            if prometheus
                .get("/-/ready", &[])
                .is_some_and(|body| body.contains("Ready"))
            {
                return prometheus;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "prometheus was not ready within 30 s:\n{}",
                prometheus.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// `GET path` with `params` URL-encoded, through curl behind the prefix; the body, or
    /// `None` when the server does not answer with a 2xx.
    fn get(&self, path: &str, params: &[(&str, &str)]) -> Option<String> {
        let (program, args) = match self.prefix.split_first() {
            Some((first, rest)) => (PathBuf::from(first), rest.to_vec()),
            None => (require_tool("curl"), Vec::new()),
        };
        let mut command = Command::new(program);
        command.args(&args);
        if !self.prefix.is_empty() {
            command.arg(require_tool("curl"));
        }
        command.args(["-sf", "--max-time", "10", "-G"]);
        for (name, value) in params {
            command
                .arg("--data-urlencode")
                .arg(format!("{name}={value}"));
        }
        command.arg(format!("http://{}{path}", self.listen));
        let out = run_with_timeout(&mut command, Duration::from_secs(15));
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).expect("UTF-8 from Prometheus"))
    }

    /// `/api/v1/query` of `expr` (at `time`, seconds since the epoch, when given): the
    /// answer's `data`, after checking its status is `success`.
    pub fn query_data(&self, expr: &str, time: Option<f64>) -> serde_json::Value {
        let time = time.map(|t| format!("{t:.3}"));
        let mut params = vec![("query", expr)];
        if let Some(t) = &time {
            params.push(("time", t));
        }
        let body = self
            .get("/api/v1/query", &params)
            .unwrap_or_else(|| panic!("query {expr:?} failed:\n{}", self.log()));
        let answer: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(answer["status"], "success", "query {expr:?}: {body}");
        answer["data"].clone()
    }

    /// An instant query now: every series and its value (a scalar is one series without
    /// labels).
    pub fn query(&self, expr: &str) -> Vec<Sample> {
        instant(&self.query_data(expr, None), expr)
    }

    /// An instant query at `time` (seconds since the epoch, millisecond precision).
    pub fn query_at(&self, expr: &str, time: f64) -> Vec<Sample> {
        instant(&self.query_data(expr, Some(time)), expr)
    }

    /// A range selector (`metric{...}[1m]`) at `time`: each series with the raw points it
    /// holds, as rate() sees them when evaluated at that time.
    pub fn series_at(&self, selector: &str, time: f64) -> Vec<Series> {
        let data = self.query_data(selector, Some(time));
        assert_eq!(data["resultType"], "matrix", "{selector}: {data}");
        data["result"]
            .as_array()
            .expect("result")
            .iter()
            .map(|s| {
                let points = s["values"]
                    .as_array()
                    .expect("values")
                    .iter()
                    .map(|p| (millis(&p[0]), number(&p[1])))
                    .collect();
                (labels(&s["metric"]), points)
            })
            .collect()
    }

    /// Polls [`Prometheus::query`] (every 200 ms) until `pred` holds on its answer, and returns
    /// that answer; panics with the last answer and the server's log after `limit`.
    pub fn wait_until(
        &self,
        expr: &str,
        limit: Duration,
        pred: impl Fn(&[Sample]) -> bool,
    ) -> Vec<Sample> {
        let start = Instant::now();
        loop {
            let got = self.query(expr);
            if pred(&got) {
                return got;
            }
            assert!(
                start.elapsed() < limit,
                "{expr} never came right within {limit:?}; last answer: {got:?}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The TSDB is the bulk of the folder; the caller's scratch folder goes with its owner.
        let _ = std::fs::remove_dir_all(self.dir.join("tsdb"));
    }
}

/// The value of the first series whose labels include every `(name, value)` of `want`.
pub fn value_of(samples: &[Sample], want: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(l, _)| {
            want.iter()
                .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| *v)
}

/// A YAML double-quoted string (JSON's syntax is a subset of YAML's).
fn yaml_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn instant(data: &serde_json::Value, expr: &str) -> Vec<Sample> {
    match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .expect("result")
            .iter()
            .map(|s| (labels(&s["metric"]), number(&s["value"][1])))
            .collect(),
        Some("scalar") => vec![(BTreeMap::new(), number(&data["result"][1]))],
        _ => panic!("{expr}: not an instant vector or scalar: {data}"),
    }
}

fn labels(metric: &serde_json::Value) -> BTreeMap<String, String> {
    metric
        .as_object()
        .expect("metric")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("label value").to_string()))
        .collect()
}

/// A sample value as the API writes it: a string, Go's shortest round-trip form.
fn number(v: &serde_json::Value) -> f64 {
    match v.as_str().expect("a value string") {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or_else(|e| panic!("{s}: {e}")),
    }
}

/// A timestamp as the API writes it (seconds, three decimals at most) in milliseconds.
fn millis(v: &serde_json::Value) -> i64 {
    (v.as_f64().expect("a timestamp") * 1000.0).round() as i64
}
