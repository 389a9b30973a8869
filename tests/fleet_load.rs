//! The fleet under load, a benchmark rather than a test: ignored by `cargo test`, run by
//! `bench/fleet-load.sh` on release binaries. N production hosts (`REPLAYER_FLEET_HOSTS`, 4)
//! as network namespaces on a bridge (`util::fleet`, as in `fleet.rs` but without Icinga and
//! Puppet, which do not change what the daemons carry), each with its own nginx as
//! production and its own `replayer` capturing its `eth0:80` and replaying to one staging
//! nginx. A client in the staging namespace sends every host `REPLAYER_FLEET_RATE` requests a
//! second (per host, 1,000 by default) for `REPLAYER_FLEET_SECONDS` (5), spread over 4
//! keep-alive connections per host, each request answered before the next on its connection.
//!
//! It prints one line per host and one for the fleet: requests sent, requests staging got
//! from that host, the delivered share, the daemon's CPU seconds and peak RSS. It asserts
//! only what must hold at any rate: staging never gets more than was sent, and nothing but
//! what was sent.
//!
//! Not to be run alongside `fleet.rs` in one process: both name their namespaces after the
//! test process's PID (the bench script runs this module alone).

use crate::util::fleet::{in_netns, Fleet, Proc};
use crate::util::*;
use std::io::{BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STAGING_IP: &str = "10.251.0.2";
const STAGING_PORT: u16 = 8080;
/// Keep-alive connections per host.
const CONNECTIONS: usize = 4;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|e| panic!("{name}={v}: {e}")))
        .unwrap_or(default)
}

/// Sends `count` GETs for `/hK/C-I` on one connection at `per_second`, each answered before
/// the next (a connection that ends early is a failure); returns `count`.
fn send(ip: &str, k: usize, c: usize, count: usize, per_second: f64) -> usize {
    let stream = std::net::TcpStream::connect((ip, 80)).expect("connect to production");
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let start = Instant::now();
    for i in 0..count {
        let due = Duration::from_secs_f64(i as f64 / per_second);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        let request =
            format!("GET /h{k}/{c}-{i} HTTP/1.1\r\nHost: {ip}\r\nUser-Agent: load\r\n\r\n");
        writer.write_all(request.as_bytes()).expect("send");
        read_http_response(&mut reader, false);
    }
    count
}

/// CPU seconds (user and system) of process `pid` so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

#[test]
#[ignore = "a benchmark: bench/fleet-load.sh"]
fn fleet_load() {
    let _processes = lock::processes();
    assert!(is_root(), "network namespaces and live capture need root");
    let n = setting("REPLAYER_FLEET_HOSTS", 4);
    let rate = setting("REPLAYER_FLEET_RATE", 1000);
    let seconds = setting("REPLAYER_FLEET_SECONDS", 5);
    let scratch = Scratch::new("fleet-load");
    let dir = scratch.path().to_path_buf();
    let mut fleet = Fleet::new();
    let staging_ns = fleet.member("lstaging", "lstg", STAGING_IP);
    let hosts: Vec<(String, String)> = (1..=n)
        .map(|k| {
            let ip = format!("10.251.0.{}", 10 + k);
            (fleet.member(&format!("load{k}"), &format!("l{k}"), &ip), ip)
        })
        .collect();
    let staging = {
        let d = dir.join("staging");
        in_netns(&staging_ns, move || {
            Nginx::start_listening(&d, "0.0.0.0", STAGING_PORT, "", "")
        })
    };
    let mut productions = Vec::new();
    let mut daemons = Vec::new();
    for (k, (ns, _)) in hosts.iter().enumerate() {
        let d = dir.join(format!("host{}", k + 1));
        std::fs::create_dir_all(&d).unwrap();
        let production = {
            let d = d.join("production");
            in_netns(ns, move || {
                Nginx::start_listening(&d, "0.0.0.0", 80, "", "")
            })
        };
        productions.push(production);
        let socket = d.join("status.sock");
        let mut cmd = Command::new(bin("replayer"));
        cmd.args(["-input-raw", "eth0:80"])
            .arg(format!("-output-http=http://{STAGING_IP}:{STAGING_PORT}"))
            .arg("--status-socket")
            .arg(&socket)
            .arg("--sync-flag")
            .arg(d.join("no-sync-flag"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("replayer.stderr")).unwrap());
        let daemon = in_netns(ns, move || Proc::spawn("replayer", &mut cmd));
        daemons.push((daemon, socket));
    }
    for (_, socket) in &daemons {
        let start = Instant::now();
        while read_status_document(socket).is_none_or(|d| d.state.as_str() != "replaying") {
            assert!(start.elapsed() < Duration::from_secs(20), "daemon never up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let cpu_before: Vec<f64> = daemons.iter().map(|(p, _)| cpu_seconds(p.pid())).collect();

    // Every host's connections at once, from the staging namespace.
    let per_connection = rate * seconds / CONNECTIONS;
    let started = Instant::now();
    let sent: Vec<usize> = {
        let ns = staging_ns.clone();
        let ips: Vec<String> = hosts.iter().map(|(_, ip)| ip.clone()).collect();
        in_netns(&ns, move || {
            std::thread::scope(|s| {
                let runs: Vec<Vec<_>> = ips
                    .iter()
                    .enumerate()
                    .map(|(k, ip)| {
                        (0..CONNECTIONS)
                            .map(|c| {
                                s.spawn(move || {
                                    let pace = rate as f64 / CONNECTIONS as f64;
                                    send(ip, k + 1, c, per_connection, pace)
                                })
                            })
                            .collect()
                    })
                    .collect();
                runs.into_iter()
                    .map(|host| host.into_iter().map(|r| r.join().unwrap()).sum())
                    .collect()
            })
        })
    };
    let sending = started.elapsed().as_secs_f64();
    // Until every daemon has answered for all it replayed, 20 s at most.
    let start = Instant::now();
    loop {
        let done = daemons.iter().all(|(_, socket)| {
            read_status_document(socket)
                .is_some_and(|d| d.requests.seen > 0 && d.targets.iter().all(|t| t.in_flight == 0))
        });
        if (done && start.elapsed() > Duration::from_secs(2))
            || start.elapsed() > Duration::from_secs(20)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = staging.log();
    let mut total = (0, 0);
    for (k, (daemon, socket)) in daemons.iter_mut().enumerate() {
        daemon.assert_running();
        let prefix = format!("/h{}/", k + 1);
        let got = log.iter().filter(|l| l.uri.starts_with(&prefix)).count();
        let doc = read_status_document(socket).expect("status");
        let cpu = cpu_seconds(daemon.pid()) - cpu_before[k];
        let rss = proc_memory_bytes(daemon.pid(), "VmHWM") as f64 / (1 << 20) as f64;
        println!(
            "fleet-load host{}: sent {} staging got {got} share {:.4}; daemon seen {} replayed {} \
             kernel drops {} queue full {} failed {}; CPU {cpu:.2} s ({:.1} µs per request); peak RSS {rss:.1} MiB",
            k + 1,
            sent[k],
            got as f64 / sent[k] as f64,
            doc.requests.seen,
            doc.requests.replayed,
            doc.capture.kernel_dropped,
            doc.requests.dropped_queue_full,
            doc.requests.failed,
            cpu * 1e6 / sent[k].max(1) as f64,
        );
        assert!(got <= sent[k], "staging got more than host{} sent", k + 1);
        total.0 += sent[k];
        total.1 += got;
    }
    assert_eq!(
        log.iter().filter(|l| !l.uri.starts_with("/h")).count(),
        0,
        "staging got something no host sent"
    );
    println!(
        "fleet-load: {n} hosts, offered {} requests/s ({rate} per host, {:.2} s of sending), sent {} \
         staging got {} share {:.4}",
        (total.0 as f64 / sending).round(),
        sending,
        total.0,
        total.1,
        total.1 as f64 / total.0 as f64
    );
    drop(daemons);
    drop(productions);
    drop(staging);
    drop(fleet);
}
