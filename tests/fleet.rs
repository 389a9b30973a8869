//! The fleet: N production hosts (4 by default, `REPLAYER_FLEET_HOSTS`), each a network
//! namespace with its own production nginx, `replayer` daemon and Icinga 2 agent, one
//! staging and one Icinga 2 master, deployed as an operator deploys them: the Puppet module
//! renders each host's daemon configuration and the master's objects, `icinga2 node setup`
//! joins the agents to the master with tickets, and the daemons run the command line the
//! module's systemd drop-in names.
//!
//! The network (`util::fleet`): namespaces on a bridge of their own, 10.251.0.0/24:
//! staging .2 (nginx on :8080), master .3 (Icinga 2 API on :5665), host K .(10+K) (nginx on
//! :80, the daemon capturing `eth0:80`, its metrics on :9100). A client in the staging
//! namespace sends each host 40 requests on one keep-alive connection, 20 a second, paced
//! to stay clear of second boundaries: GET, HEAD, OPTIONS and POST, paths `/hK/I`.
//!
//! Roles (N >= 4): host1 replays everything and is killed last; host2's target is
//! `URL|50%`; host3's is `URL|5` (5 a second); host4 replays everything, pauses for a data
//! sync, and is cut off from the master; hosts beyond 4 replay everything.
//!
//! Icinga: the module's objects go to the `global-templates` zone (the agents need the
//! CheckCommands, the config sync gives them), the Host objects to the master's zone, each
//! with `vars.agent_endpoint`, so the checks run on the agents (command_endpoint). The test
//! lowers the services' 5-minute interval to 2 s through the API (a runtime override, the
//! shipped files untouched) and reads results back over the master's REST API. Master and
//! agents run as nagios, each in a mount namespace where its scratch root is /etc/icinga2,
//! /var/lib/icinga2 and the rest (`util::fleet::IcingaNode`); the machine's own are compared
//! before and after.
//!
//! Prometheus (`util::prometheus`) runs in the master's namespace, scrapes every daemon's
//! metrics each second and evaluates the shipped rules (icinga/prometheus/replayer.rules.yml);
//! each phase reads its fleet counts back through the HTTP API.
//!
//! Phases, each recorded once (`util::scenario`): traffic and every check OK; one host's
//! sync flag set; one host cut off from the master (a blackhole route in the master's
//! namespace) and back; one daemon SIGKILLed. The tests each assert one thing on the record
//! and print the figures (docs/benchmarks.md, "Fleet"; docs/fleet.md).

use crate::util::fleet::{in_netns, Fleet, IcingaNode, Proc};
use crate::util::prometheus::{value_of, Prometheus};
use crate::util::scenario::Scenario;
use crate::util::*;
use replayer_status::StatusDocument;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const STAGING_IP: &str = "10.251.0.2";
const STAGING_PORT: u16 = 8080;
const MASTER_IP: &str = "10.251.0.3";
const MASTER: &str = "master.fleet.test";
const METRICS_PORT: u16 = 9100;
/// Requests per host in the main traffic, sent at [`PER_SECOND`] a second.
const REQUESTS: usize = 40;
const PER_SECOND: usize = 20;
/// host3's limit: requests a second.
const RATE_LIMIT: usize = 5;
/// host2's limit: percent.
const PERCENT: u64 = 50;
/// The check interval the test sets (seconds).
const INTERVAL: f64 = 2.0;
const SERVICES: [&str; 4] = [
    "replayer-procs",
    "replayer-rate",
    "replayer-5xx",
    "replayer-diff",
];

/// What a host's daemon does with its traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    All,
    Percent,
    PerSecond,
}

fn hosts_wanted() -> usize {
    let n = std::env::var("REPLAYER_FLEET_HOSTS")
        .ok()
        .map(|v| v.parse::<usize>().expect("REPLAYER_FLEET_HOSTS: a number"))
        .unwrap_or(4);
    assert!(
        (4..=200).contains(&n),
        "REPLAYER_FLEET_HOSTS={n}: the fleet test's roles need 4 to 200 hosts"
    );
    n
}

fn role(k: usize) -> Role {
    match k {
        2 => Role::Percent,
        3 => Role::PerSecond,
        _ => Role::All,
    }
}

fn host_ip(k: usize) -> String {
    format!("10.251.0.{}", 10 + k)
}

fn endpoint(k: usize) -> String {
    format!("host{k}.fleet.test")
}

/// One request the client sent.
#[derive(Debug, Clone)]
struct Sent {
    method: &'static str,
    uri: String,
    /// The wall-clock second it was sent in (the capture second, see the pacing).
    second: u64,
}

/// The method of the client's request number `i`: 5 POST, 5 HEAD, 5 OPTIONS, 25 GET in 40.
fn method(i: usize) -> &'static str {
    match i % 8 {
        3 => "HEAD",
        5 => "OPTIONS",
        7 => "POST",
        _ => "GET",
    }
}

/// What one host's record holds.
#[derive(Debug)]
struct HostRecord {
    name: String,
    role: Role,
    /// The daemon's command line as run (from the module's drop-in).
    command_line: Vec<String>,
    /// The argument that tells this daemon apart: its config file's path.
    token: String,
    sent: Vec<Sent>,
    /// After the main traffic.
    status: StatusDocument,
    metrics: String,
    /// VmHWM of the daemon, KiB, at the end of the healthy phases.
    peak_rss_kib: u64,
    /// The status socket's permission bits and group name, as the daemon made it.
    socket_mode: u32,
    socket_group: String,
}

impl HostRecord {
    /// The requests staging must get from this host: the safe ones, thinned by its limit.
    fn expected(&self) -> Vec<(String, String)> {
        let eligible: Vec<&Sent> = self.sent.iter().filter(|s| s.method != "POST").collect();
        let kept: Vec<&Sent> = match self.role {
            Role::All => eligible,
            // limit.rs: request n (1-based) is kept when floor(n·p/100) steps up.
            Role::Percent => eligible
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    let n = *i as u64 + 1;
                    n * PERCENT / 100 > (n - 1) * PERCENT / 100
                })
                .map(|(_, s)| *s)
                .collect(),
            // The first RATE_LIMIT of each capture second.
            Role::PerSecond => {
                let mut per_second: BTreeMap<u64, usize> = BTreeMap::new();
                eligible
                    .into_iter()
                    .filter(|s| {
                        let n = per_second.entry(s.second).or_default();
                        *n += 1;
                        *n <= RATE_LIMIT
                    })
                    .collect()
            }
        };
        kept.iter()
            .map(|s| (s.method.to_string(), s.uri.clone()))
            .collect()
    }
}

#[derive(Debug)]
struct Record {
    /// The machine's own /etc/icinga2 and /var/lib/icinga2 (every path, size, mtime)
    /// before the scenario and after.
    machine_before: Vec<String>,
    machine_after: Vec<String>,
    hosts: Vec<HostRecord>,
    /// Staging's access log after the main traffic: (method, uri).
    staging: Vec<(String, String)>,
    /// Every service's result with every daemon replaying.
    healthy: BTreeMap<String, Value>,
    /// When the test asked for those checks (reschedule-check).
    healthy_asked_at: f64,
    puppet_seconds: f64,
    agents_seconds: f64,
    /// The ScheduledDowntime objects on the master: name, `fixed`, `ranges`.
    downtimes: Vec<(String, Value, Value)>,
    sync: SyncRecord,
    cut: CutRecord,
    kill: KillRecord,
    /// What Prometheus's rules said with every daemon replaying, during host4's sync and
    /// after host1's daemon was killed.
    prometheus: [PromPhase; 3],
    /// Seconds from start to the end of the scenario.
    took: f64,
}

/// What the shipped Prometheus rules said in one phase, read once they agreed with the
/// phase (or after 20 s, to be asserted by the tests).
#[derive(Debug)]
struct PromPhase {
    hosts: Option<f64>,
    hosts_up: Option<f64>,
    not_replaying: Option<f64>,
    sync_paused: Option<f64>,
    /// `up` of each instance (host endpoint name).
    up: BTreeMap<String, f64>,
    /// `replayer_requests_total{outcome="replayed"}` of each instance, as last scraped.
    replayed: BTreeMap<String, f64>,
    /// The fleet's replay rate and the sum of the hosts' rates, at one evaluation.
    fleet_rate: Option<f64>,
    sum_of_rates: Option<f64>,
}

impl PromPhase {
    fn read(prometheus: &Prometheus, settled: impl Fn(&PromPhase) -> bool) -> PromPhase {
        let start = Instant::now();
        loop {
            let one = |expr: &str| value_of(&prometheus.query(expr), &[]);
            let per_instance = |expr: &str| -> BTreeMap<String, f64> {
                prometheus
                    .query(expr)
                    .into_iter()
                    .map(|(labels, v)| (labels["instance"].clone(), v))
                    .collect()
            };
            // Both rules are in one group, so one evaluation writes both with one timestamp;
            // two seconds back, every evaluation is written whole.
            let at = now_s() - 2.0;
            let phase = PromPhase {
                hosts: one("job:replayer_hosts:count"),
                hosts_up: one("job:replayer_hosts_up:count"),
                not_replaying: one("job:replayer_not_replaying:count"),
                sync_paused: one("job:replayer_sync_paused:count"),
                up: per_instance("up{job=\"replayer\"}"),
                replayed: per_instance("replayer_requests_total{outcome=\"replayed\"}"),
                fleet_rate: value_of(
                    &prometheus.query_at("job:replayer_replayed:rate1m", at),
                    &[],
                ),
                sum_of_rates: value_of(
                    &prometheus.query_at("sum(instance:replayer_replayed:rate1m)", at),
                    &[],
                ),
            };
            if settled(&phase) || start.elapsed() > Duration::from_secs(20) {
                return phase;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

#[derive(Debug)]
struct SyncRecord {
    host: usize,
    /// Every host's daemon state and sync.in_progress, the flag set on `host`.
    states: Vec<(String, String, bool)>,
    /// `host`'s requests.paused_sync before and after 10 requests sent during the sync.
    paused_before: u64,
    paused_after: u64,
    /// Staging's log lines for those 10 requests.
    replayed_during_sync: usize,
    results: BTreeMap<String, Value>,
    /// The daemon's state once the flag says false again.
    resumed: String,
}

#[derive(Debug)]
struct CutRecord {
    host: usize,
    replayed_before: u64,
    replayed_during: u64,
    /// Staging's log lines for the 10 requests sent during the cut.
    staging_during: usize,
    /// Results of the services that their own agent ran after the cut, while it lasted, by
    /// host.
    fresh_during: BTreeMap<String, usize>,
    /// Results after the path is back: fresh for the cut host's services.
    recovered: BTreeMap<String, Value>,
    recover_seconds: f64,
}

#[derive(Debug)]
struct KillRecord {
    host: usize,
    /// Seconds from SIGKILL to the test reading replayer-procs CRITICAL from the master's
    /// API (polled every 50 ms).
    seconds: f64,
    /// Seconds from SIGKILL to the end of the check that found it (Icinga's
    /// execution_end): what the check interval bounds.
    icinga_seconds: f64,
    result: Value,
    /// Every other host's services' states before the kill and after the CRITICAL plus
    /// one interval.
    others_before: BTreeMap<String, u64>,
    others_after: BTreeMap<String, u64>,
    /// The others' results that ran after the kill (so the states above are new ones).
    others_fresh: usize,
}

static SCENARIO: Scenario<Record> = Scenario::new();

fn record() -> &'static Record {
    SCENARIO.get(run_the_fleet)
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Scratch folders of earlier fleet runs whose process is gone (killed before its guards
/// ran): their namespaces and processes are [`Fleet::new`]'s to clean, their files ours.
fn remove_stale_scratch() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("replayer-test-fleet-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Every file and folder under the machine's /etc/icinga2 and /var/lib/icinga2, with its
/// size and modification time.
fn machine_icinga_files() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            out.push(format!(
                "{} {} {:?}",
                path.display(),
                meta.len(),
                meta.modified().ok()
            ));
            if meta.is_dir() {
                walk(&path, out);
            }
        }
    }
    let mut out = Vec::new();
    for root in ["/etc/icinga2", "/var/lib/icinga2"] {
        walk(Path::new(root), &mut out);
    }
    out.sort();
    out
}

/// `puppet apply` of `manifest` with the module, its state in `dir`.
fn puppet_apply(dir: &Path, manifest: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("site.pp");
    std::fs::write(&file, manifest).unwrap();
    let mut cmd = Command::new(require_tool("puppet"));
    cmd.args(["apply", "--detailed-exitcodes", "--modulepath"])
        .arg(workspace_root().join("icinga/puppet"));
    // State of its own: puppet runs for several hosts at once.
    for (option, sub) in [
        ("--vardir", "var"),
        ("--logdir", "log"),
        ("--rundir", "run"),
    ] {
        cmd.arg(option).arg(dir.join(sub));
    }
    cmd.arg(&file);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(120));
    assert_eq!(
        out.status.code(),
        Some(2),
        "puppet apply {}: {}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One host's pieces while the scenario runs.
struct Host {
    k: usize,
    root: PathBuf,
    socket: PathBuf,
    flag: PathBuf,
    token: String,
    command_line: Vec<String>,
    daemon: Option<Proc>,
    agent: IcingaNode,
    _production: Nginx,
}

impl Host {
    fn status(&self) -> StatusDocument {
        read_status_document(&self.socket)
            .unwrap_or_else(|| panic!("host{}: no status document", self.k))
    }

    fn wait_status(&self, what: &str, done: impl Fn(&StatusDocument) -> bool) -> StatusDocument {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < Duration::from_secs(20) {
            if let Some(doc) = read_status_document(&self.socket) {
                if done(&doc) {
                    return doc;
                }
                last = Some(doc);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("host{}: never {what}; last status {last:#?}", self.k);
    }
}

/// The Host object's file the module renders, for host `k`.
fn host_resource(k: usize, root: &Path, token: &str) -> String {
    format!(
        r#"
replayer::icinga {{ '{name}':
  address            => '{ip}',
  host_check_command => 'dummy',
  agent_endpoint     => '{name}',
  socket             => '{root}/run/replayer/status.sock',
  sync_flag          => '{root}/etc/replayer/data-sync',
  sync_downtime      => true,
  diff               => true,
  vars               => {{
    'replayer_procs_argument_array' => '{token}',
    'replayer_verbose'              => true,
  }},
}}
"#,
        name = endpoint(k),
        ip = host_ip(k),
        root = root.display()
    )
}

/// The daemon's configuration for host `k`, as the module renders it.
fn replayer_class(k: usize, root: &Path) -> String {
    let limit = match role(k) {
        Role::All => String::new(),
        Role::Percent => format!("|{PERCENT}%"),
        Role::PerSecond => format!("|{RATE_LIMIT}"),
    };
    format!(
        r#"
class {{ 'replayer':
  root          => '{root}',
  binary        => '{bin}',
  input         => 'eth0:80',
  targets       => ['http://{STAGING_IP}:{STAGING_PORT}{limit}'],
  status_socket => '{root}/run/replayer/status.sock',
  sync_flag     => '{root}/etc/replayer/data-sync',
  diff          => true,
  extra_options => {{ 'metrics-listen' => '{ip}:{METRICS_PORT}' }},
}}
"#,
        root = root.display(),
        bin = open_bin("replayer").display(),
        ip = host_ip(k)
    )
}

/// The daemon's command line from the drop-in the module wrote: `ExecStart=` as systemd
/// would run it, the config file's path moved under the host's scratch root.
fn rendered_command_line(root: &Path) -> Vec<String> {
    let dropin =
        std::fs::read_to_string(root.join("etc/systemd/system/replayer.service.d/puppet.conf"))
            .expect("the module's drop-in");
    let exec = dropin
        .lines()
        .filter_map(|l| l.strip_prefix("ExecStart="))
        .rfind(|l| !l.is_empty())
        .unwrap_or_else(|| panic!("no ExecStart in {dropin}"));
    let mut args: Vec<String> = exec.split_whitespace().map(String::from).collect();
    let config = args
        .iter()
        .position(|a| a == "--config")
        .unwrap_or_else(|| panic!("no --config in {exec}"));
    args[config + 1] = root
        .join(args[config + 1].trim_start_matches('/'))
        .display()
        .to_string();
    args
}

/// Sends `requests` (method, uri) to `ip`:80 on one keep-alive connection, from inside
/// `ns`, `per_second` a second starting just after a second boundary (25 ms in, then every
/// 1/per_second s), so no request is sent within 25 ms of a boundary; returns when each
/// was sent.
fn send_paced(
    ns: &str,
    ip: String,
    requests: Vec<(&'static str, String)>,
    per_second: usize,
) -> Vec<Sent> {
    in_netns(ns, move || {
        let mut conn =
            std::net::TcpStream::connect((ip.as_str(), 80)).expect("connect to production");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.set_nodelay(true).unwrap();
        let mut answers = std::io::BufReader::new(conn.try_clone().unwrap());
        let start = now_s().floor() + 1.025;
        let mut sent = Vec::new();
        for (i, (method, uri)) in requests.into_iter().enumerate() {
            let due = start + i as f64 / per_second as f64;
            let wait = due - now_s();
            if wait > 0.0 {
                std::thread::sleep(Duration::from_secs_f64(wait));
            }
            let at = now_s();
            let body = if method == "POST" { "hello" } else { "" };
            let request = format!(
                "{method} {uri} HTTP/1.1\r\nHost: {ip}\r\nUser-Agent: fleet-client\r\n{}\r\n{body}",
                if body.is_empty() {
                    String::new()
                } else {
                    format!("Content-Length: {}\r\n", body.len())
                }
            );
            conn.write_all(request.as_bytes()).expect("send a request");
            let answer = read_http_response(&mut answers, method == "HEAD");
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            sent.push(Sent {
                method,
                uri,
                second: at.floor() as u64,
            });
        }
        sent
    })
}

/// GET http://ip:port/path from inside `ns`, on a connection of its own: the body.
fn http_get(ns: &str, ip: String, port: u16, path: &'static str) -> String {
    in_netns(ns, move || {
        let mut conn = std::net::TcpStream::connect((ip.as_str(), port)).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            conn,
            "GET {path} HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).expect("read");
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    })
}

/// Staging's access log: (method, uri).
fn staging_log(staging: &Nginx) -> Vec<(String, String)> {
    staging
        .log()
        .into_iter()
        .map(|l| (l.method, l.uri))
        .collect()
}

fn state_of(result: &Value) -> u64 {
    result["state"].as_f64().map(|s| s as u64).unwrap_or(99)
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM for {pid}"))
}

fn run_the_fleet() -> Record {
    assert!(
        is_root(),
        "network namespaces, mounts and live capture need root"
    );
    for tool in [
        "ip", "unshare", "mount", "icinga2", "puppet", "nginx", "curl",
    ] {
        require_tool(tool);
    }
    for plugin in [
        "check_replayer_procs",
        "check_replay_rate",
        "check_replay_5xx",
        "check_replay_diff",
        "replayer",
    ] {
        open_bin(plugin);
    }
    // The machine's Icinga directories are compared before and after. No lock: the one test
    // that installs and purges a package (package_deb, `lock::machine_alone`) installs only
    // the replayer's, which writes nothing under /etc/icinga2 or /var/lib/icinga2 (its Icinga
    // objects are examples under /usr/share/doc), so it runs alongside instead of holding
    // both test threads while this scenario runs (36 s of a warm `scripts/test`).
    let machine_before = machine_icinga_files();
    let began = Instant::now();
    let n = hosts_wanted();
    remove_stale_scratch();
    let scratch = Scratch::new("fleet");
    let dir = scratch.path().to_path_buf();
    // Icinga runs as nagios, and so do the plugins it starts: they reach the sockets and
    // flags through these folders (0755) and the plugins in `open_bin_dir`.

    // The network.
    let mut fleet = Fleet::new();
    let staging_ns = fleet.member("staging", "stg", STAGING_IP);
    let master_ns = fleet.member("master", "mst", MASTER_IP);
    let host_ns: Vec<String> = (1..=n)
        .map(|k| fleet.member(&format!("host{k}"), &format!("h{k}"), &host_ip(k)))
        .collect();

    // Puppet: one catalog per host (its daemon), one for the master (the objects and every
    // host's Host object, as `Replayer::Icinga <<| |>>` would collect them), all at once.
    let roots: Vec<PathBuf> = (1..=n).map(|k| dir.join(format!("host{k}/root"))).collect();
    let master_root = dir.join("master/root");
    let tokens: Vec<String> = roots
        .iter()
        .map(|r| r.join("etc/replayer/replayer.toml").display().to_string())
        .collect();
    let mut master_manifest = format!(
        r#"
class {{ 'replayer::icinga::objects':
  root      => '{}',
  conf_dir  => '/etc/icinga2/zones.d/global-templates/replayer',
  hosts_dir => '/etc/icinga2/zones.d/master/replayer',
}}
"#,
        master_root.display()
    );
    for k in 1..=n {
        master_manifest += &host_resource(k, &roots[k - 1], &tokens[k - 1]);
    }
    // The master's /etc/icinga2 starts as the package's, before the module writes into it.
    let mut master = IcingaNode::new(MASTER, &master_ns, &master_root);
    let puppet_started = Instant::now();
    std::thread::scope(|s| {
        let mut runs = Vec::new();
        for k in 1..=n {
            let root = roots[k - 1].clone();
            let pdir = dir.join(format!("host{k}/puppet"));
            runs.push(s.spawn(move || puppet_apply(&pdir, &replayer_class(k, &root))));
        }
        let pdir = dir.join("master/puppet");
        let manifest = master_manifest.clone();
        runs.push(s.spawn(move || puppet_apply(&pdir, &manifest)));
        // Meanwhile the master's CA and certificate: an RSA key or two, the slow part.
        master.run(&[
            "node",
            "setup",
            "--master",
            "--cn",
            MASTER,
            "--zone",
            "master",
            "--listen",
            &format!("{MASTER_IP},5665"),
            "--disable-confd",
        ]);
        for run in runs {
            run.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        }
    });
    let puppet_seconds = puppet_started.elapsed().as_secs_f64();

    // Staging, then each host's production and daemon.
    let staging_dir = dir.join("staging");
    let staging = {
        let d = staging_dir.clone();
        in_netns(&staging_ns, move || {
            Nginx::start_listening(&d, "0.0.0.0", STAGING_PORT, "", "")
        })
    };
    let mut hosts: Vec<Host> = Vec::new();
    for k in 1..=n {
        let root = roots[k - 1].clone();
        let ns = host_ns[k - 1].clone();
        let production = {
            let d = dir.join(format!("host{k}/production"));
            in_netns(&ns, move || {
                Nginx::start_listening(&d, "0.0.0.0", 80, "", "")
            })
        };
        std::fs::create_dir_all(root.join("run/replayer")).unwrap();
        let flag = root.join("etc/replayer/data-sync");
        std::fs::write(&flag, "false\n").unwrap();
        let command_line = rendered_command_line(&root);
        let stderr = std::fs::File::create(dir.join(format!("host{k}/replayer.stderr"))).unwrap();
        let args = command_line.clone();
        let daemon = in_netns(&ns, move || {
            let mut cmd = Command::new(&args[0]);
            cmd.args(&args[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr);
            Proc::spawn(&format!("replayer host{k}"), &mut cmd)
        });
        let agent = IcingaNode::new(&endpoint(k), &ns, &root);
        hosts.push(Host {
            k,
            socket: root.join("run/replayer/status.sock"),
            flag,
            token: tokens[k - 1].clone(),
            root,
            command_line,
            daemon: Some(daemon),
            agent,
            _production: production,
        });
    }
    for host in &hosts {
        host.wait_status("replaying", |d| d.state.as_str() == "replaying");
    }

    // Prometheus on the master's host, scraping every daemon's metrics with the shipped rules.
    let targets: Vec<(String, std::net::SocketAddr)> = (1..=n)
        .map(|k| {
            let address = format!("{}:{METRICS_PORT}", host_ip(k));
            (endpoint(k), address.parse().unwrap())
        })
        .collect();
    let prometheus = Prometheus::start(
        &dir.join("master/prometheus"),
        &["ip", "netns", "exec", &master_ns],
        format!("{MASTER_IP}:9090").parse().unwrap(),
        &targets,
        &[workspace_root().join("icinga/prometheus/replayer.rules.yml")],
    );

    // The master: its agents' endpoints and zones, the plugins' folder, the API.
    let plugin_dir = format!(
        "const ReplayerPluginDir = \"{}\"\n",
        open_bin_dir().display()
    );
    master.append("/etc/icinga2/constants.conf", &plugin_dir);
    let mut zones = String::new();
    for k in 1..=n {
        zones += &format!(
            "object Endpoint \"{e}\" {{ host = \"{ip}\" }}\n\
             object Zone \"{e}\" {{ endpoints = [ \"{e}\" ]; parent = \"master\" }}\n",
            e = endpoint(k),
            ip = host_ip(k)
        );
    }
    master.append("/etc/icinga2/zones.conf", &zones);
    master.start();
    let api_users = std::fs::read_to_string(master.path("/etc/icinga2/conf.d/api-users.conf"))
        .expect("node setup's api-users.conf");
    let password = api_users
        .lines()
        .find_map(|l| l.trim().strip_prefix("password = \""))
        .and_then(|p| p.strip_suffix('"'))
        .expect("the root ApiUser's password")
        .to_string();
    let api = IcingaApi {
        base: format!("https://{MASTER_IP}:5665"),
        user: "root".into(),
        password,
        netns: Some(master_ns.clone()),
    };
    api.wait_until_up(|| master.log());

    // The agents join as the docs say: a ticket from the master, the master's certificate
    // fetched and trusted, `node setup`; all at once.
    let constants = std::fs::read_to_string(master.path("/etc/icinga2/constants.conf")).unwrap();
    let salt = constants
        .lines()
        .find_map(|l| l.strip_prefix("const TicketSalt = \""))
        .and_then(|s| s.strip_suffix('"'))
        .expect("TicketSalt")
        .to_string();
    let agents_started = Instant::now();
    std::thread::scope(|s| {
        let mut joins = Vec::new();
        for host in hosts.iter_mut() {
            let master = &master;
            let salt = &salt;
            let plugin_dir = &plugin_dir;
            joins.push(s.spawn(move || {
                let cn = endpoint(host.k);
                let ticket = master.run(&["pki", "ticket", "--cn", &cn, "--salt", salt]);
                let trusted = "/var/lib/icinga2/certs/trusted-parent.crt";
                // As the docs' manual setup does: the certificates' folder first.
                std::fs::create_dir_all(host.agent.path("/var/lib/icinga2/certs")).unwrap();
                host.agent.own_by_nagios();
                host.agent.run(&[
                    "pki",
                    "save-cert",
                    "--host",
                    MASTER_IP,
                    "--port",
                    "5665",
                    "--trustedcert",
                    trusted,
                ]);
                host.agent.run(&[
                    "node",
                    "setup",
                    "--ticket",
                    ticket.trim(),
                    "--cn",
                    &cn,
                    "--endpoint",
                    &format!("{MASTER},{MASTER_IP},5665"),
                    "--zone",
                    &cn,
                    "--parent_zone",
                    "master",
                    "--parent_host",
                    &format!("{MASTER_IP},5665"),
                    "--trustedcert",
                    trusted,
                    "--accept-config",
                    "--accept-commands",
                    "--disable-confd",
                ]);
                host.agent.append("/etc/icinga2/constants.conf", plugin_dir);
                host.agent.start();
            }));
        }
        for join in joins {
            join.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        }
    });

    // The check interval: 2 s instead of 5 min, a runtime override through the API.
    let services = n * SERVICES.len();
    let replayer_services = "match(\"replayer-*\", service.name)";
    let answer = api
        .call(
            "POST",
            "/v1/objects/services",
            Some(
                &json!({
                    "filter": replayer_services,
                    "attrs": { "check_interval": INTERVAL, "retry_interval": INTERVAL }
                })
                .to_string(),
            ),
        )
        .expect("override the check interval");
    assert_eq!(
        answer["results"].as_array().unwrap().len(),
        services,
        "{answer}"
    );

    // Every agent connected: each check ran on its host's agent, and every daemon is there
    // (the rate checks say CRITICAL until traffic comes: nothing replayed yet). An agent
    // reloads once after its first config sync, and a check sent to it meanwhile is lost:
    // ask again until every result is there.
    let start = Instant::now();
    loop {
        let asked = now_s();
        let _ = api.call(
            "POST",
            "/v1/actions/reschedule-check",
            Some(
                &json!({ "type": "Service", "filter": replayer_services, "force": true })
                    .to_string(),
            ),
        );
        let round = Instant::now();
        let mut up = false;
        while !up && round.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(200));
            let results = api.last_results(replayer_services);
            up = results.len() == services
                && results.iter().all(|(name, r)| {
                    let host = name.split('!').next().unwrap();
                    r["execution_start"].as_f64().unwrap_or(0.0) > asked
                        && r["check_source"].as_str() == Some(host)
                        && (!name.ends_with("!replayer-procs") || state_of(r) == 0)
                });
        }
        if up {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the agents never all ran their checks: {:#?}\nmaster log:\n{}",
            api.last_results(replayer_services),
            master.log()
        );
    }
    let agents_seconds = agents_started.elapsed().as_secs_f64();

    // Traffic: every host at once.
    let sent: Vec<Vec<Sent>> = std::thread::scope(|s| {
        let runs: Vec<_> = (1..=n)
            .map(|k| {
                let ns = staging_ns.clone();
                s.spawn(move || {
                    let requests = (0..REQUESTS)
                        .map(|i| (method(i), format!("/h{k}/{i}")))
                        .collect();
                    send_paced(&ns, host_ip(k), requests, PER_SECOND)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let mut statuses = Vec::new();
    for (host, sent) in hosts.iter().zip(&sent) {
        let eligible = sent.iter().filter(|s| s.method != "POST").count() as u64;
        statuses.push(host.wait_status("done with the traffic", |d| {
            d.requests.filtered == (REQUESTS as u64 - eligible)
                && d.requests.replayed + d.requests.sampled_out == eligible
                && d.windows["300"].responses == d.requests.replayed
        }));
    }
    let all = |v: Option<f64>, want: usize| v == Some(want as f64);
    let prom_healthy = PromPhase::read(&prometheus, |p| {
        p.fleet_rate.is_some_and(|rate| rate > 0.0)
            && all(p.hosts, n)
            && all(p.hosts_up, n)
            && all(p.not_replaying, 0)
            && hosts
                .iter()
                .zip(&statuses)
                .all(|(h, d)| p.replayed.get(&endpoint(h.k)) == Some(&(d.requests.replayed as f64)))
    });
    // A moment for anything extra to arrive (nothing should).
    std::thread::sleep(Duration::from_millis(500));
    let staging_seen = staging_log(&staging);

    let metrics: Vec<String> = (1..=n)
        .map(|k| http_get(&staging_ns, host_ip(k), METRICS_PORT, "/metrics"))
        .collect();

    let sockets: Vec<(u32, String)> = hosts
        .iter()
        .map(|h| {
            let meta = std::fs::metadata(&h.socket).expect("the status socket");
            (
                std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
                group_name(std::os::unix::fs::MetadataExt::gid(&meta)),
            )
        })
        .collect();

    // Every check, with the traffic in.
    let healthy_asked_at = now_s();
    let healthy = api.check_now(replayer_services, services, Duration::from_secs(30));
    let downtimes: Vec<(String, Value, Value)> = api
        .query(
            "/v1/objects/scheduleddowntimes",
            &json!({ "attrs": ["fixed", "ranges"] }),
        )
        .expect("list ScheduledDowntimes")["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_string(),
                d["attrs"]["fixed"].clone(),
                d["attrs"]["ranges"].clone(),
            )
        })
        .collect();

    // The nightly sync starts on host4 only.
    let sync_k = 4;
    let sync_host = &hosts[sync_k - 1];
    std::fs::write(&sync_host.flag, "true\n").unwrap();
    sync_host.wait_status("paused", |d| {
        d.state.as_str() == "paused" && d.sync.in_progress
    });
    let states: Vec<(String, String, bool)> = hosts
        .iter()
        .map(|h| {
            let d = h.status();
            (
                endpoint(h.k),
                d.state.as_str().to_string(),
                d.sync.in_progress,
            )
        })
        .collect();
    let paused_before = sync_host.status().requests.paused_sync;
    let during: Vec<(&'static str, String)> = (0..10)
        .map(|i| ("GET", format!("/h{sync_k}/sync/{i}")))
        .collect();
    send_paced(&staging_ns, host_ip(sync_k), during, 50);
    let paused = sync_host.wait_status("holding back the 10", |d| {
        d.requests.paused_sync == paused_before + 10
    });
    let sync_results = api.check_now(replayer_services, services, Duration::from_secs(30));
    let prom_sync = PromPhase::read(&prometheus, |p| {
        p.fleet_rate.is_some_and(|rate| rate > 0.0)
            && all(p.sync_paused, 1)
            && all(p.not_replaying, 0)
    });
    let replayed_during_sync = staging_log(&staging)
        .iter()
        .filter(|(_, uri)| uri.starts_with(&format!("/h{sync_k}/sync/")))
        .count();
    std::fs::write(&sync_host.flag, "false\n").unwrap();
    let resumed = sync_host.wait_status("replaying again", |d| d.state.as_str() == "replaying");
    let sync = SyncRecord {
        host: sync_k,
        states,
        paused_before,
        paused_after: paused.requests.paused_sync,
        replayed_during_sync,
        results: sync_results,
        resumed: resumed.state.as_str().to_string(),
    };

    // host4 cut off from the master: a blackhole route in the master's namespace for its
    // address. The master can send it nothing (no reply, no SYN-ACK, no check to run) and
    // the agent's packets get no answer; host4's own path to staging never crosses the
    // master's namespace, and the other hosts' paths to the master stay.
    let cut_k = 4;
    let cut_host = &hosts[cut_k - 1];
    let ip = require_tool("ip");
    let blackhole = |verb: &str| {
        let out = run_with_timeout(
            Command::new(&ip).args([
                "-n",
                &master_ns,
                "route",
                verb,
                "blackhole",
                &format!("{}/32", host_ip(cut_k)),
            ]),
            Duration::from_secs(10),
        );
        assert!(out.status.success(), "ip route {verb} blackhole: {out:?}");
    };
    let replayed_before = cut_host.status().requests.replayed;
    blackhole("add");
    let cut_at = now_s();
    let during: Vec<(&'static str, String)> = (0..10)
        .map(|i| ("GET", format!("/h{cut_k}/cut/{i}")))
        .collect();
    send_paced(&staging_ns, host_ip(cut_k), during, 50);
    let replayed_during = cut_host
        .wait_status("replaying the 10 sent during the cut", |d| {
            d.requests.replayed == replayed_before + 10
        })
        .requests
        .replayed;
    // Two check intervals and a forced round: every other host's services run.
    let _ = api.call(
        "POST",
        "/v1/actions/reschedule-check",
        Some(&json!({ "type": "Service", "filter": replayer_services, "force": true }).to_string()),
    );
    std::thread::sleep(Duration::from_secs_f64(2.0 * INTERVAL + 0.5));
    let mut fresh_during: BTreeMap<String, usize> = (1..=n).map(|k| (endpoint(k), 0)).collect();
    for (name, result) in api.last_results(replayer_services) {
        // A result its own agent ran (the master, noticing a lost agent, would record an
        // UNKNOWN of its own: that is not the agent reporting).
        let host = name.split('!').next().unwrap();
        if result["execution_start"].as_f64().unwrap_or(0.0) > cut_at
            && result["check_source"].as_str() == Some(host)
        {
            *fresh_during
                .get_mut(name.split('!').next().unwrap())
                .unwrap() += 1;
        }
    }
    let staging_during = staging_log(&staging)
        .iter()
        .filter(|(_, uri)| uri.starts_with(&format!("/h{cut_k}/cut/")))
        .count();
    blackhole("del");
    let restored_at = now_s();
    let restored = Instant::now();
    let cut_filter = format!(
        "host.name == \"{}\" && {replayer_services}",
        endpoint(cut_k)
    );
    let recovered = loop {
        let results = api.last_results(&cut_filter);
        let back = results.values().all(|r| {
            r["execution_start"].as_f64().unwrap_or(0.0) > restored_at && state_of(r) == 0
        });
        if back {
            break results;
        }
        assert!(
            restored.elapsed() < Duration::from_secs(60),
            "{} never fresh and OK after the cut: {results:#?}\nmaster log:\n{}",
            endpoint(cut_k),
            master.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let cut = CutRecord {
        host: cut_k,
        replayed_before,
        replayed_during,
        staging_during,
        fresh_during,
        recovered,
        recover_seconds: restored.elapsed().as_secs_f64(),
    };

    // Peak memory, while every daemon still runs.
    let rss: Vec<u64> = hosts
        .iter()
        .map(|h| peak_rss_kib(h.daemon.as_ref().unwrap().pid()))
        .collect();

    // host1's daemon killed: its replayer-procs CRITICAL on the master, nothing else moves.
    let kill_k = 1;
    let others = |results: &BTreeMap<String, Value>| -> BTreeMap<String, u64> {
        results
            .iter()
            .filter(|(name, _)| !name.starts_with(&format!("{}!", endpoint(kill_k))))
            .map(|(name, r)| (name.clone(), state_of(r)))
            .collect()
    };
    let others_before = others(&api.last_results(replayer_services));
    let victim = hosts[kill_k - 1].daemon.as_mut().unwrap();
    victim.assert_running();
    let killed_at = now_s();
    let killed = Instant::now();
    // SAFETY: kill(2) on the PID of the daemon we spawned and have not reaped.
    unsafe { libc::kill(victim.pid() as i32, libc::SIGKILL) };
    let _ = victim.child.wait();
    let procs = format!("{}!replayer-procs", endpoint(kill_k));
    let (seconds, result) = loop {
        let results = api.last_results(&format!("host.name == \"{}\"", endpoint(kill_k)));
        let r = &results[&procs];
        if state_of(r) == 2 && r["execution_start"].as_f64().unwrap_or(0.0) > killed_at {
            break (killed.elapsed().as_secs_f64(), r.clone());
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "{procs} never CRITICAL after the kill: {r:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_secs_f64(INTERVAL + 0.5));
    let after = api.last_results(replayer_services);
    let others_after = others(&after);
    let others_fresh = after
        .iter()
        .filter(|(name, r)| {
            !name.starts_with(&format!("{}!", endpoint(kill_k)))
                && r["execution_start"].as_f64().unwrap_or(0.0) > killed_at
        })
        .count();
    let prom_kill = PromPhase::read(&prometheus, |p| {
        all(p.hosts_up, n - 1)
            && all(p.not_replaying, 1)
            && p.up.get(&endpoint(kill_k)) == Some(&0.0)
    });
    drop(prometheus);
    let kill = KillRecord {
        host: kill_k,
        seconds,
        icinga_seconds: result["execution_end"].as_f64().unwrap() - killed_at,
        result,
        others_before,
        others_after,
        others_fresh,
    };

    let host_records: Vec<HostRecord> = hosts
        .iter()
        .zip(sent)
        .zip(statuses)
        .zip(metrics)
        .zip(rss)
        .zip(sockets)
        .map(
            |(((((h, sent), status), metrics), rss), socket)| HostRecord {
                name: endpoint(h.k),
                role: role(h.k),
                command_line: h.command_line.clone(),
                token: h.token.clone(),
                sent,
                status,
                metrics,
                peak_rss_kib: rss,
                socket_mode: socket.0,
                socket_group: socket.1,
            },
        )
        .collect();

    // Teardown in order: agents and master, daemons, nginx, then the namespaces.
    for host in hosts.iter_mut() {
        host.agent.daemon.take();
    }
    master.daemon.take();
    let took = began.elapsed().as_secs_f64();
    say(&format!(
        "fleet: {n} hosts; puppet (all catalogs at once) {puppet_seconds:.1} s; agents joined \
         and every check OK {agents_seconds:.1} s; scenario {took:.1} s; roots {}",
        hosts
            .iter()
            .map(|h| h.root.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    ));
    drop(hosts);
    drop(staging);
    drop(fleet);
    Record {
        machine_before,
        machine_after: machine_icinga_files(),
        hosts: host_records,
        staging: staging_seen,
        healthy,
        healthy_asked_at,
        puppet_seconds,
        agents_seconds,
        downtimes,
        sync,
        cut,
        kill,
        prometheus: [prom_healthy, prom_sync, prom_kill],
        took,
    }
}

/// The name of group `gid`.
fn group_name(gid: u32) -> String {
    std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == gid.to_string()).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| gid.to_string())
}

/// One line on stderr in one write, so that the parallel tests' own lines never split it.
fn say(line: &str) {
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("{line}\n").as_bytes());
}

/// The first line of a result's output.
fn first_line(result: &Value) -> &str {
    result["output"]
        .as_str()
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("")
}

fn host(record: &Record, k: usize) -> &HostRecord {
    &record.hosts[k - 1]
}

/// The replayed requests Icinga's rate check must count for a host, and the ones its
/// limit sampled out.
fn counts(host: &HostRecord) -> (usize, usize) {
    let eligible = host.sent.iter().filter(|s| s.method != "POST").count();
    let replayed = host.expected().len();
    (replayed, eligible - replayed)
}

/// Every host's four services OK on the master, each run on the host's own agent
/// (check_source), each first line exactly what the plugin says for that host's counts.
#[test]
fn every_hosts_four_services_are_ok_on_the_master_run_by_its_agent() {
    let _processes = lock::processes();
    let record = record();
    assert_eq!(record.healthy.len(), record.hosts.len() * SERVICES.len());
    for host in &record.hosts {
        let (replayed, sampled_out) = counts(host);
        // The comparison's counts come from the daemon: on a loaded machine staging may
        // answer slower than production now and then, which the plugin notes (never a
        // difference: both nginx answer the same).
        let diff = &host.status.windows["300"].diff;
        assert_eq!(diff.differing, 0, "{}: {diff:?}", host.name);
        let compared = diff.compared;
        let mut diff_notes = String::new();
        for (what, n) in [
            ("noisy", diff.noisy),
            ("production's answer missing", diff.prod_missing),
            ("staging slower", diff.slower),
        ] {
            if n > 0 {
                diff_notes += &format!("; {what} {n}");
            }
        }
        for service in SERVICES {
            let name = format!("{}!{service}", host.name);
            let result = &record.healthy[&name];
            assert_eq!(state_of(result), 0, "{name}: {result:#}");
            assert_eq!(
                result["exit_status"].as_f64(),
                Some(0.0),
                "{name}: {result:#}"
            );
            assert_eq!(
                result["check_source"].as_str(),
                Some(host.name.as_str()),
                "{name}"
            );
            // Icinga keeps the text before " | perfdata": hence the trailing blank.
            let line = first_line(result);
            let want = match service {
                "replayer-procs" => format!(
                    "PROCS OK: 1 process with command name 'replayer', args '{}' ",
                    host.token
                ),
                "replayer-5xx" if replayed >= 20 => {
                    format!("REPLAY 5XX OK: 5xx ratio 0 over 5m (0 of {replayed} responses) ")
                }
                "replayer-5xx" => format!(
                    "REPLAY 5XX OK: only {replayed} responses over 5m, fewer than \
                     --min-responses 20: ratio not judged (0 were 5xx) "
                ),
                "replayer-diff" if compared >= 20 => format!(
                    "REPLAY DIFF OK: 0% of answers differ in status from production's over 5m \
                     (0 of {compared} compared{diff_notes}) "
                ),
                "replayer-diff" => format!(
                    "REPLAY DIFF OK: only {compared} answers compared over 5m, fewer than \
                     --min-compared 20: share not judged (0 differ in status{diff_notes}) "
                ),
                _ => {
                    // The rate is over the daemon's time up, which varies: its parts.
                    let rate = line
                        .strip_prefix("REPLAY RATE OK: ")
                        .and_then(|l| l.split_once(" requests/s replayed over 5m (daemon up for "))
                        .unwrap_or_else(|| panic!("{name}: {line}"));
                    let rate: f64 = rate.0.parse().unwrap();
                    assert!(rate >= 0.1, "{name}: {line}");
                    let second = result["output"].as_str().unwrap().lines().nth(1).unwrap();
                    assert!(
                        second.starts_with("last 5m: packets ")
                            && second.ends_with(&format!(
                                ", seen {REQUESTS}, filtered 5, sampled out {sampled_out}, \
                                 paused for sync 0, queue full 0, failed 0, replayed {replayed}"
                            )),
                        "{name}: {second}"
                    );
                    line.to_string()
                }
            };
            assert_eq!(line, want, "{name}");
        }
    }
}

/// Staging's log is exactly the union of what each host had to replay, each request once:
/// every safe request of the hosts without a limit, the limited hosts' share of theirs.
#[test]
fn staging_got_exactly_the_union_of_the_hosts_eligible_requests_each_once() {
    let _processes = lock::processes();
    let record = record();
    let mut want: Vec<(String, String)> = record.hosts.iter().flat_map(|h| h.expected()).collect();
    let mut got = record.staging.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let unique: BTreeSet<&(String, String)> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "a request replayed twice");
    // Every host sent its 35 safe requests; the unlimited ones all arrived.
    for host in record.hosts.iter().filter(|h| h.role == Role::All) {
        let prefix = format!("/h{}/", &host.name[4..host.name.find('.').unwrap()]);
        let from_host = got
            .iter()
            .filter(|(_, uri)| uri.starts_with(&prefix))
            .count();
        assert_eq!(from_host, 35, "{}", host.name);
    }
}

/// POST is never replayed: each daemon filtered its 5, and staging saw none.
#[test]
fn unsafe_methods_are_never_replayed_by_any_host() {
    let _processes = lock::processes();
    let record = record();
    assert!(record.staging.iter().all(|(method, _)| method != "POST"));
    for host in &record.hosts {
        assert_eq!(host.sent.iter().filter(|s| s.method == "POST").count(), 5);
        assert_eq!(host.status.requests.filtered, 5, "{}", host.name);
        assert_eq!(host.status.requests.seen, REQUESTS as u64, "{}", host.name);
    }
}

/// host2's `|50%`: limit.rs keeps request n when floor(n·50/100) steps up, a counter, not a
/// random draw, so staging got exactly every second safe request: 17 of 35.
#[test]
fn a_percentage_limit_keeps_exactly_every_second_request() {
    let _processes = lock::processes();
    let record = record();
    let host = host(record, 2);
    assert_eq!(host.role, Role::Percent);
    let eligible: Vec<&Sent> = host.sent.iter().filter(|s| s.method != "POST").collect();
    assert_eq!(eligible.len(), 35);
    let want: Vec<String> = eligible
        .iter()
        .skip(1)
        .step_by(2)
        .map(|s| s.uri.clone())
        .collect();
    assert_eq!(want.len(), 17);
    let got: Vec<String> = record
        .staging
        .iter()
        .filter(|(_, uri)| uri.starts_with("/h2/"))
        .map(|(_, uri)| uri.clone())
        .collect();
    let (mut got_sorted, mut want_sorted) = (got.clone(), want.clone());
    got_sorted.sort();
    want_sorted.sort();
    assert_eq!(got_sorted, want_sorted);
    assert_eq!(host.status.requests.sampled_out, 18);
    assert_eq!(host.status.requests.replayed, 17);
}

/// host3's `|5`: at most 5 requests of each capture second, and since each second offered
/// more (17 or 18 safe ones), exactly the first 5 of each.
#[test]
fn a_per_second_limit_never_passes_more_than_its_rate_in_any_second() {
    let _processes = lock::processes();
    let record = record();
    let host = host(record, 3);
    assert_eq!(host.role, Role::PerSecond);
    let second_of: BTreeMap<&str, u64> = host
        .sent
        .iter()
        .map(|s| (s.uri.as_str(), s.second))
        .collect();
    let mut per_second: BTreeMap<u64, usize> = BTreeMap::new();
    for (_, uri) in record
        .staging
        .iter()
        .filter(|(_, uri)| uri.starts_with("/h3/"))
    {
        *per_second.entry(second_of[uri.as_str()]).or_default() += 1;
    }
    assert_eq!(per_second.len(), REQUESTS / PER_SECOND, "{per_second:?}");
    assert!(
        per_second.values().all(|n| *n == RATE_LIMIT),
        "{per_second:?}"
    );
    let mut want: Vec<String> = host.expected().into_iter().map(|(_, uri)| uri).collect();
    let mut got: Vec<String> = record
        .staging
        .iter()
        .filter(|(_, uri)| uri.starts_with("/h3/"))
        .map(|(_, uri)| uri.clone())
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(host.status.requests.sampled_out, 25);
}

/// Each daemon runs the command line the module's systemd drop-in names (the config file
/// under the host's root) and serves its metrics on its own address.
#[test]
fn each_daemon_runs_what_the_puppet_module_rendered() {
    let _processes = lock::processes();
    let record = record();
    for host in &record.hosts {
        assert_eq!(
            host.command_line,
            [
                open_bin("replayer").display().to_string(),
                "--config".to_string(),
                host.token.clone()
            ]
        );
        let replayed = format!(
            "replayer_requests_total{{outcome=\"replayed\"}} {}",
            host.status.requests.replayed
        );
        assert!(
            host.metrics.lines().any(|l| l == replayed),
            "{}: {replayed} not in\n{}",
            host.name,
            host.metrics
        );
        assert_eq!(host.status.capture.source, "eth0:80", "{}", host.name);
        // The module's defaults: the agent's plugins (user nagios) read it through the group.
        assert_eq!(
            (host.socket_mode, host.socket_group.as_str()),
            (0o660, "nagios"),
            "{}",
            host.name
        );
    }
}

/// SIGKILL to host1's daemon: its replayer-procs CRITICAL on the master within one check
/// interval, from a check its agent ran.
#[test]
fn a_killed_daemon_is_critical_on_the_master_within_one_check_interval() {
    let _processes = lock::processes();
    let record = record();
    let kill = &record.kill;
    let host = host(record, kill.host);
    assert_eq!(
        first_line(&kill.result),
        format!(
            "PROCS CRITICAL: 0 processes with command name 'replayer', args '{}' ",
            host.token
        )
    );
    assert_eq!(kill.result["exit_status"].as_f64(), Some(2.0));
    assert_eq!(
        kill.result["check_source"].as_str(),
        Some(host.name.as_str())
    );
    assert!(
        kill.icinga_seconds <= INTERVAL + 1.0,
        "CRITICAL {:.2} s after the kill (interval {INTERVAL} s)",
        kill.icinga_seconds
    );
    say(&format!(
        "fleet: SIGKILL to CRITICAL on the master: {:.2} s (the check's end), {:.2} s (read from the API)",
        kill.icinga_seconds, kill.seconds
    ));
}

/// ... and no other host's service changed state, in results newer than the kill.
#[test]
fn a_killed_daemon_changes_no_other_hosts_services() {
    let _processes = lock::processes();
    let record = record();
    let kill = &record.kill;
    let others = (record.hosts.len() - 1) * SERVICES.len();
    assert_eq!(kill.others_before.len(), others);
    assert!(
        kill.others_before.values().all(|s| *s == 0),
        "{:?}",
        kill.others_before
    );
    assert_eq!(kill.others_after, kill.others_before);
    assert_eq!(
        kill.others_fresh, others,
        "every other service ran again since the kill"
    );
}

/// host4's sync flag: host4 alone pauses (10 requests held back, none at staging), its
/// checks on the master say so, and it resumes when the flag says false.
#[test]
fn a_sync_flag_pauses_only_its_host_and_its_checks_say_so() {
    let _processes = lock::processes();
    let record = record();
    let sync = &record.sync;
    let name = &host(record, sync.host).name;
    for (host, state, in_progress) in &sync.states {
        if host == name {
            assert_eq!((state.as_str(), *in_progress), ("paused", true), "{host}");
        } else {
            assert_eq!(
                (state.as_str(), *in_progress),
                ("replaying", false),
                "{host}"
            );
        }
    }
    assert_eq!(sync.paused_after, sync.paused_before + 10);
    assert_eq!(sync.replayed_during_sync, 0);
    assert_eq!(sync.resumed, "replaying");
    for (service_name, result) in &sync.results {
        let output = result["output"].as_str().unwrap();
        assert_eq!(state_of(result), 0, "{service_name}: {output}");
        let says_sync = output
            .lines()
            .any(|l| l.starts_with("data sync in progress for "));
        assert_eq!(
            says_sync,
            service_name.starts_with(&format!("{name}!")),
            "{service_name}: {output}"
        );
    }
    let rate = sync.results[&format!("{name}!replayer-rate")]["output"]
        .as_str()
        .unwrap();
    assert!(rate.contains("paused for sync 10, "), "{rate}");
    assert!(rate.contains(", state paused, "), "{rate}");
}

/// The sync window's ScheduledDowntime (downtimes.conf, `sync_downtime => true`) exists on
/// the master for every service of every host, each fixed, 22:00-08:00 every day.
#[test]
fn the_sync_window_downtime_exists_for_every_hosts_services() {
    let _processes = lock::processes();
    let record = record();
    let mut want: Vec<String> = record
        .hosts
        .iter()
        .flat_map(|h| {
            SERVICES
                .iter()
                .map(move |s| format!("{}!{s}!replayer-data-sync", h.name))
        })
        .collect();
    let mut got: Vec<String> = record.downtimes.iter().map(|d| d.0.clone()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let window = json!("00:00-08:00,22:00-24:00");
    let ranges: serde_json::Map<String, Value> = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .map(|day| (day.to_string(), window.clone()))
    .collect();
    for (name, fixed, got_ranges) in &record.downtimes {
        assert_eq!(fixed, &json!(true), "{name}");
        assert_eq!(got_ranges, &Value::Object(ranges.clone()), "{name}");
    }
}

/// host4 cut off from the master: its daemon keeps replaying (10 more, all at staging), no
/// result of its services comes in meanwhile while every other host's do, and once the
/// path is back its four are fresh and OK.
#[test]
fn an_agent_cut_off_from_the_master_keeps_replaying_and_recovers() {
    let _processes = lock::processes();
    let record = record();
    let cut = &record.cut;
    let name = &host(record, cut.host).name;
    assert_eq!(cut.replayed_during, cut.replayed_before + 10);
    assert_eq!(cut.staging_during, 10);
    for (host, fresh) in &cut.fresh_during {
        let want = if host == name { 0 } else { SERVICES.len() };
        assert_eq!(*fresh, want, "{host}: {:?}", cut.fresh_during);
    }
    assert_eq!(cut.recovered.len(), SERVICES.len());
    for (service, result) in &cut.recovered {
        assert_eq!(state_of(result), 0, "{service}: {result:#}");
        assert_eq!(result["check_source"].as_str(), Some(name.as_str()));
    }
    say(&format!(
        "fleet: {name} back in the master's view {:.2} s after the path returned",
        cut.recover_seconds
    ));
}

/// The figures (docs/benchmarks.md, "Fleet"), printed; and the whole scenario well inside
/// its budget.
#[test]
fn fleet_figures() {
    let _processes = lock::processes();
    let record = record();
    let n = record.hosts.len();
    let eligible: usize = record
        .hosts
        .iter()
        .map(|h| h.sent.iter().filter(|s| s.method != "POST").count())
        .sum();
    let unlimited: Vec<&HostRecord> = record
        .hosts
        .iter()
        .filter(|h| h.role == Role::All)
        .collect();
    let unlimited_eligible = unlimited.len() * 35;
    let unlimited_got = record
        .staging
        .iter()
        .filter(|(_, uri)| {
            unlimited
                .iter()
                .any(|h| uri.starts_with(&format!("/h{}/", &h.name[4..h.name.find('.').unwrap()])))
        })
        .count();
    let mut round_trips: Vec<f64> = Vec::new();
    let mut executions: Vec<f64> = Vec::new();
    for result in record.healthy.values() {
        let f = |k: &str| result[k].as_f64().unwrap();
        round_trips.push(f("schedule_end") - record.healthy_asked_at);
        executions.push(f("execution_end") - f("execution_start"));
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (rt_median, rt_max) = stats(&mut round_trips);
    let (ex_median, ex_max) = stats(&mut executions);
    let rss: Vec<String> = record
        .hosts
        .iter()
        .map(|h| format!("{:.1}", h.peak_rss_kib as f64 / 1024.0))
        .collect();
    say(&format!(
        "fleet figures: {n} hosts, offered {} requests/s ({} safe requests in all); staging got \
         {} = {:.3} of the eligible ({unlimited_got}/{unlimited_eligible} = {:.3} from the hosts \
         without a limit); check round trip (reschedule to result on the master) median {:.3} s \
         max {:.3} s, plugin run on the agent median {:.3} s max {:.3} s; peak RSS per daemon \
         (MiB) {}; SIGKILL to CRITICAL {:.2} s (check end) / {:.2} s (API read); cut-off agent \
         back {:.2} s after the path returned; puppet {:.1} s; agents joined {:.1} s; scenario {:.1} s",
        n * PER_SECOND,
        eligible,
        record.staging.len(),
        record.staging.len() as f64 / eligible as f64,
        unlimited_got as f64 / unlimited_eligible as f64,
        rt_median,
        rt_max,
        ex_median,
        ex_max,
        rss.join(" "),
        record.kill.icinga_seconds,
        record.kill.seconds,
        record.cut.recover_seconds,
        record.puppet_seconds,
        record.agents_seconds,
        record.took
    ));
    assert_eq!(unlimited_got, unlimited_eligible);
    assert!(
        record.took < 170.0,
        "the fleet scenario took {:.1} s",
        record.took
    );
}

/// Prometheus on the master scrapes every host's daemon: the counters it holds are the status
/// documents', and the shipped rules count every host, every one up and none not replaying.
#[test]
fn prometheus_scrapes_every_daemon_and_its_counts_are_the_status_documents() {
    let _processes = lock::processes();
    let record = record();
    let n = record.hosts.len() as f64;
    let healthy = &record.prometheus[0];
    let scraped: BTreeMap<String, f64> = record
        .hosts
        .iter()
        .map(|h| (h.name.clone(), h.status.requests.replayed as f64))
        .collect();
    assert_eq!(healthy.replayed, scraped, "{healthy:#?}");
    assert_eq!(
        (healthy.hosts, healthy.hosts_up, healthy.not_replaying),
        (Some(n), Some(n), Some(0.0)),
        "{healthy:#?}"
    );
    assert!(healthy.up.values().all(|&up| up == 1.0), "{healthy:#?}");
}

/// The fleet's replay rate is the sum of the hosts' rates at the same evaluation, and not 0
/// with the traffic in.
#[test]
fn prometheus_fleet_rate_is_the_sum_of_the_hosts_rates() {
    let _processes = lock::processes();
    let record = record();
    for phase in &record.prometheus[..2] {
        let (Some(fleet), Some(sum)) = (phase.fleet_rate, phase.sum_of_rates) else {
            panic!("no fleet rate: {phase:#?}");
        };
        assert!(fleet > 0.0, "{phase:#?}");
        assert!((fleet - sum).abs() <= 1e-9 * sum, "{fleet} against {sum}");
    }
}

/// "Hosts not replaying" excuses the host a fresh sync pauses and counts the killed daemon.
#[test]
fn prometheus_excuses_a_synced_host_and_counts_a_killed_daemon() {
    let _processes = lock::processes();
    let record = record();
    let n = record.hosts.len() as f64;
    let [_, sync, kill] = &record.prometheus;
    assert_eq!(
        (sync.sync_paused, sync.not_replaying, sync.hosts_up),
        (Some(1.0), Some(0.0), Some(n)),
        "{sync:#?}"
    );
    let killed = endpoint(record.kill.host);
    assert_eq!(
        (kill.hosts_up, kill.not_replaying, kill.up.get(&killed)),
        (Some(n - 1.0), Some(1.0), Some(&0.0)),
        "{kill:#?}"
    );
}

/// Every `icinga2 node setup`, `pki` and `daemon` ran with the nodes' scratch roots mounted
/// over the Icinga directories: the machine's own are as they were.
#[test]
fn the_machines_own_icinga_directories_are_untouched() {
    let _processes = lock::processes();
    let record = record();
    assert!(
        record
            .machine_before
            .iter()
            .any(|p| p.starts_with("/etc/icinga2/icinga2.conf ")),
        "{:?}",
        record.machine_before
    );
    assert_eq!(record.machine_after, record.machine_before);
}
