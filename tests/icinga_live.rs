//! A real Icinga 2 runs the shipped CheckCommands, service template and apply rules
//! (`icinga/icinga2/`) with the real plugins, and the test reads back over Icinga's REST API
//! what Icinga recorded: state, exit status, output, perfdata and the command line it built.
//!
//! Icinga runs in the foreground with every directory in a scratch dir, an ApiListener on
//! 127.0.0.1 (certificate from `icinga2 pki new-cert`) and an ApiUser. The services keep the
//! shipped 5-minute interval; the test asks Icinga to check now (`reschedule-check`, forced)
//! and waits for results newer than its request, so each phase takes about a second.
//!
//! Phase 1, the daemon running: `replayer-procs`, `replayer-rate` and `replayer-5xx` OK;
//! staging answering 500s: `replayer-5xx` WARNING (ratio above 0.05) and CRITICAL (above 0.1).
//! Phase 2, the daemon stopped: `replayer-procs` CRITICAL; with the sync flag set, OK with the
//! sync text ("would be CRITICAL"); with a flag set 13 hours ago (stale), WARNING.
//!
//! The "running daemon" is a process whose command name is `replayer` (a copy of sleep under
//! that name, told apart from any other by a unique argument) and the status documents are
//! served on real Unix sockets by the test, in the schema of `replayer-status`.

use replayer_status::schema::*;
use replayer_tests::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const API_USER: &str = "replayer-test";
const API_PASSWORD: &str = "not-a-secret";
const NODE: &str = "icinga-live-test";

/// A status document as the daemon serves it: `replayed_per_s` replayed per second and
/// `responses` staging responses, `c5xx` of them 5xx, in every window.
fn status_document(replayed_per_s: f64, responses: u64, c5xx: u64) -> StatusDocument {
    let window = |secs: u64| Window {
        seen: (replayed_per_s * secs as f64) as u64,
        replayed: (replayed_per_s * secs as f64) as u64,
        failed: 0,
        responses,
        c5xx,
        replayed_per_s,
        ratio_5xx: (responses > 0).then(|| c5xx as f64 / responses as f64),
        latency_ms: Latency {
            p50: 12.0,
            p99: 80.0,
        },
        packets: responses * 4,
        ..Window::default()
    };
    StatusDocument {
        schema: SCHEMA_VERSION,
        version: "0.1.0".into(),
        pid: std::process::id(),
        started_at: "2026-01-01T00:00:00Z".into(),
        now: "2026-01-01T01:00:00Z".into(),
        state: DaemonState::Replaying,
        sync: SyncStatus {
            in_progress: false,
            flag: "/nonexistent".into(),
            since: None,
            stale: false,
        },
        capture: CaptureCounters {
            source: "lo:7999".into(),
            ..CaptureCounters::default()
        },
        requests: RequestCounters::default(),
        responses: ResponseClasses {
            c2xx: responses - c5xx,
            c5xx,
            ..ResponseClasses::default()
        },
        windows: WINDOWS
            .iter()
            .map(|&s| (s.to_string(), window(s)))
            .collect::<BTreeMap<_, _>>(),
        targets: vec![],
    }
}

/// Serves one JSON document to every client of a Unix socket, as the daemon does: connect,
/// read one object, connection closed.
struct StatusServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StatusServer {
    fn start(path: PathBuf, doc: &StatusDocument) -> StatusServer {
        let listener = UnixListener::bind(&path).expect("bind status socket");
        let body = serde_json::to_vec(doc).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(mut stream) = stream {
                    let _ = stream.write_all(&body);
                }
            }
        });
        StatusServer {
            path,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::os::unix::net::UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A child process killed (by its own pid) when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running Icinga 2 with the shipped configuration and the given hosts.
struct Icinga {
    daemon: Guard,
    port: u16,
    dir: PathBuf,
}

impl Icinga {
    fn start(dir: &Path, hosts: &str) -> Icinga {
        let certs = dir.join("data/certs");
        std::fs::create_dir_all(&certs).unwrap();
        let (key, crt) = (
            certs.join(format!("{NODE}.key")),
            certs.join(format!("{NODE}.crt")),
        );
        let out = run_with_timeout(
            icinga2_command(
                dir,
                &[
                    "pki",
                    "new-cert",
                    "--cn",
                    NODE,
                    "--key",
                    key.to_str().unwrap(),
                    "--cert",
                    crt.to_str().unwrap(),
                ],
            )
            .stdin(Stdio::null()),
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "pki new-cert: {out:?}");
        std::fs::copy(&crt, certs.join("ca.crt")).unwrap();

        let port = free_port();
        let mut conf = format!(
            "const NodeName = \"{NODE}\"\nconst ZoneName = \"{NODE}\"\n\
             const ReplayerPluginDir = \"{plugins}\"\ninclude <itl>\n",
            plugins = bin_dir().display()
        );
        for file in ICINGA_LIBRARY_FILES {
            conf += &format!("include \"{}\"\n", icinga_conf_dir().join(file).display());
        }
        conf += &format!(
            r#"
object Endpoint NodeName {{ }}
object Zone ZoneName {{ endpoints = [ NodeName ] }}
object ApiListener "api" {{
  bind_host = "127.0.0.1"
  bind_port = {port}
}}
object ApiUser "{API_USER}" {{
  password = "{API_PASSWORD}"
  permissions = [ "*" ]
}}
object CheckerComponent "checker" {{ }}
object FileLogger "main" {{
  path = LogDir + "/icinga2.log"
  severity = "information"
}}
{hosts}
"#
        );
        let main = dir.join("main.conf");
        std::fs::write(&main, conf).unwrap();
        assert_icinga2_ok(&icinga2_validate(dir, &main));

        let daemon = icinga2_command(dir, &["daemon", "-c", main.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start icinga2 daemon");
        let icinga = Icinga {
            daemon: Guard(daemon),
            port,
            dir: dir.to_path_buf(),
        };
        let start = Instant::now();
        while icinga
            .api("GET", "/v1/status/IcingaApplication", None)
            .is_none()
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the Icinga 2 API did not come up; log:\n{}",
                icinga.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        icinga
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/icinga2.log")).unwrap_or_default()
    }

    /// One API call with curl; `None` while the API does not answer 200.
    fn api(&self, method: &str, path: &str, body: Option<&str>) -> Option<Value> {
        let mut cmd = Command::new(require_tool("curl"));
        cmd.args(["-sS", "-k", "-f", "-X", method, "-u"])
            .arg(format!("{API_USER}:{API_PASSWORD}"))
            .args(["-H", "Accept: application/json"])
            .arg(format!("https://127.0.0.1:{}{path}", self.port));
        if let Some(body) = body {
            cmd.args(["-d", body]);
        }
        let out = run_with_timeout(&mut cmd, Duration::from_secs(30));
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Runs every service's check now and returns, per "host!service", the check result
    /// Icinga recorded (each newer than this call).
    fn check_all_now(&self, services: usize) -> BTreeMap<String, Value> {
        let asked = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let answer = self
            .api(
                "POST",
                "/v1/actions/reschedule-check",
                Some(r#"{"type": "Service", "filter": "true", "force": true}"#),
            )
            .expect("reschedule-check");
        assert_eq!(
            answer["results"].as_array().unwrap().len(),
            services,
            "{answer}"
        );

        let start = Instant::now();
        loop {
            let list = self
                .api("GET", "/v1/objects/services?attrs=last_check_result", None)
                .expect("list services");
            let results: BTreeMap<String, Value> = list["results"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| {
                    s["attrs"]["last_check_result"]["execution_start"]
                        .as_f64()
                        .is_some_and(|t| t >= asked - 0.5)
                })
                .map(|s| {
                    (
                        s["name"].as_str().unwrap().to_string(),
                        s["attrs"]["last_check_result"].clone(),
                    )
                })
                .collect();
            if results.len() == services {
                return results;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "only {} of {services} results after 30 s: {list}\nlog:\n{}",
                results.len(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Icinga {
    fn drop(&mut self) {
        // SIGTERM first, so icinga2 stops its own children; then the guard makes sure.
        // SAFETY: kill(2) on the pid of the child we spawned and still own.
        unsafe {
            libc::kill(self.daemon.0.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.daemon.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What one check result must be.
struct Expect<'a> {
    state: u64,
    output_starts: &'a str,
    output_contains: &'a [&'a str],
    perfdata: &'a [&'a str],
}

fn assert_result(results: &BTreeMap<String, Value>, name: &str, want: Expect) {
    let result = results
        .get(name)
        .unwrap_or_else(|| panic!("no result for {name}: {results:?}"));
    let output = result["output"].as_str().unwrap();
    assert_eq!(
        result["state"].as_f64(),
        Some(want.state as f64),
        "{name}: {result}"
    );
    assert_eq!(
        result["exit_status"].as_f64(),
        Some(want.state as f64),
        "{name}: {result}"
    );
    assert!(output.starts_with(want.output_starts), "{name}: {output}");
    for text in want.output_contains {
        assert!(output.contains(text), "{name}: `{text}` not in {output}");
    }
    let perfdata: Vec<&str> = result["performance_data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for item in want.perfdata {
        assert!(
            perfdata.contains(item),
            "{name}: perfdata {item} not in {perfdata:?}"
        );
    }
}

/// The command line Icinga built for a result.
fn command_line(results: &BTreeMap<String, Value>, name: &str) -> Vec<String> {
    results[name]["command"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no command in {}", results[name]))
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn icinga_runs_the_shipped_checks_and_records_their_results() {
    let scratch = Scratch::new("icinga-live");
    // The plugins Icinga runs are the workspace's own (ReplayerPluginDir = target dir).
    for plugin in [
        "check_replayer_procs",
        "check_replay_rate",
        "check_replay_5xx",
    ] {
        bin(plugin);
    }

    // The daemon, as far as the procs check sees it: a process named `replayer` with an
    // argument no other process has.
    std::fs::create_dir_all(scratch.join("bin")).unwrap();
    let fake = scratch.join("bin/replayer");
    std::fs::copy("/bin/sleep", &fake).unwrap();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let token = format!("0.{}{:03}", std::process::id(), nanos % 1000);
    let daemon = Guard(
        Command::new(&fake)
            .args(["3600", &token])
            .spawn()
            .expect("start the process named replayer"),
    );

    let ok = StatusServer::start(scratch.join("ok.sock"), &status_document(2.5, 600, 3));
    let warn = StatusServer::start(scratch.join("warn.sock"), &status_document(2.5, 600, 42));
    let crit = StatusServer::start(scratch.join("crit.sock"), &status_document(2.5, 600, 180));

    let set_flag = scratch.join("sync-set");
    std::fs::write(&set_flag, "true\n").unwrap();
    let stale_flag = scratch.join("sync-stale");
    std::fs::write(&stale_flag, "true\n").unwrap();
    let thirteen_hours_ago = SystemTime::now() - Duration::from_secs(13 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&stale_flag)
        .unwrap()
        .set_modified(thirteen_hours_ago)
        .unwrap();
    let no_flag = scratch.join("sync-none");

    let host = |name: &str, socket: &Path, flag: &Path| {
        format!(
            r#"object Host "{name}" {{
  check_command = "dummy"
  enable_active_checks = false
  vars.replayer = true
  vars.replayer_procs_argument_array = "{token}"
  vars.replayer_socket = "{socket}"
  vars.replayer_sync_flag = "{flag}"
}}
"#,
            socket = socket.display(),
            flag = flag.display()
        )
    };
    let hosts = [
        host("up", &ok.path, &no_flag),
        host("staging-warn", &warn.path, &no_flag),
        host("staging-crit", &crit.path, &no_flag),
        host("syncing", &ok.path, &set_flag),
        host("sync-stale", &ok.path, &stale_flag),
    ]
    .concat();
    let icinga = Icinga::start(&scratch.join("icinga"), &hosts);

    // Phase 1: replaying.
    let results = icinga.check_all_now(15);
    let procs_ok = format!("PROCS OK: 1 process with command name 'replayer', args '{token}'");
    assert_result(
        &results,
        "up!replayer-procs",
        Expect {
            state: 0,
            output_starts: &procs_ok,
            output_contains: &[],
            perfdata: &["procs=1;;1:;0;"],
        },
    );
    assert_result(
        &results,
        "up!replayer-rate",
        Expect {
            state: 0,
            output_starts: "REPLAY RATE OK: 2.5 requests/s replayed over the last 5m",
            output_contains: &[],
            perfdata: &["rate=2.5;0.1:;0.01:;0;"],
        },
    );
    assert_result(
        &results,
        "up!replayer-5xx",
        Expect {
            state: 0,
            output_starts: "REPLAY 5XX OK: 5xx ratio 0.005 over the last 5m (3 of 600 responses)",
            output_contains: &[],
            perfdata: &["ratio_5xx=0.005;0.05;0.1;0;1", "responses=600;;;0;"],
        },
    );
    assert_result(
        &results,
        "staging-warn!replayer-5xx",
        Expect {
            state: 1,
            output_starts:
                "REPLAY 5XX WARNING: 5xx ratio 0.07 over the last 5m (42 of 600 responses)",
            output_contains: &[],
            perfdata: &["ratio_5xx=0.07;0.05;0.1;0;1"],
        },
    );
    assert_result(
        &results,
        "staging-crit!replayer-5xx",
        Expect {
            state: 2,
            output_starts:
                "REPLAY 5XX CRITICAL: 5xx ratio 0.3 over the last 5m (180 of 600 responses)",
            output_contains: &[],
            perfdata: &["ratio_5xx=0.3;0.05;0.1;0;1"],
        },
    );

    // The daemon runs, but the flag has said "true" for 13 hours: a sync that aborted.
    // Under GoReplay nobody was told; here the check warns.
    assert_result(
        &results,
        "sync-stale!replayer-procs",
        Expect {
            state: 1,
            output_starts: &format!(
                "PROCS WARNING: 1 process with command name 'replayer', args '{token}'"
            ),
            output_contains: &["stale"],
            perfdata: &["procs=1;;1:;0;"],
        },
    );

    // The command lines Icinga built from the shipped CheckCommands: every default passed,
    // booleans left out while false, unset options absent.
    let plugins = bin_dir();
    let flag = no_flag.display().to_string();
    assert_eq!(
        command_line(&results, "up!replayer-procs"),
        [
            plugins.join("check_replayer_procs").display().to_string(),
            "--command".into(),
            "replayer".into(),
            "--argument-array".into(),
            token.clone(),
            "--critical".into(),
            "1:".into(),
            "--sync-flag".into(),
            flag.clone(),
            "--sync-max-age".into(),
            "12h".into(),
            "--timeout".into(),
            "10".into(),
        ]
    );

    // Phase 2: the daemon stopped.
    drop(daemon);
    let procs_critical =
        format!("PROCS CRITICAL: 0 processes with command name 'replayer', args '{token}'");
    let results = icinga.check_all_now(15);
    assert_result(
        &results,
        "up!replayer-procs",
        Expect {
            state: 2,
            output_starts: &procs_critical,
            output_contains: &[],
            perfdata: &["procs=0;;1:;0;"],
        },
    );
    assert_result(
        &results,
        "syncing!replayer-procs",
        Expect {
            state: 0,
            output_starts: &format!(
                "PROCS OK: 0 processes with command name 'replayer', args '{token}'"
            ),
            output_contains: &["data sync in progress", "would be CRITICAL"],
            perfdata: &["procs=0;;1:;0;"],
        },
    );
    // A stale flag is never a reason to stay quiet: no downgrade, the truth plus why.
    assert_result(
        &results,
        "sync-stale!replayer-procs",
        Expect {
            state: 2,
            output_starts: &procs_critical,
            output_contains: &["stale", "not downgrading"],
            perfdata: &["procs=0;;1:;0;"],
        },
    );
    drop(icinga);
}
