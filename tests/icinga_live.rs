//! A real Icinga 2 runs the shipped CheckCommands, service template and apply rules
//! (`icinga/icinga2/`) with the real plugins, and the test reads back over Icinga's REST API
//! what Icinga recorded: state, exit status, output, perfdata and the command line it built.
//!
//! Icinga runs in the foreground with every directory in a scratch dir, an ApiListener on
//! 127.0.0.1 (certificate from `icinga2 pki new-cert`) and an ApiUser. The services keep the
//! shipped 5-minute interval; the test asks Icinga to check now (`reschedule-check`, forced)
//! and waits until every service has a newer result, so each phase takes about a second.
//!
//! Production and staging are real nginx servers on 127.0.0.1; three real `replayer` daemons
//! capture production's port on `lo` and replay to three stagings: one healthy, one answering
//! 500 to 8 % of the requests, one answering 500 to everything. curl sends 100 requests.
//!
//! Phase 1, replaying: `replayer-procs`, `replayer-rate` and `replayer-5xx` OK for the healthy
//! one; `replayer-5xx` WARNING (ratio 0.08 > 0.05) and CRITICAL (1.0 > 0.1) for the others;
//! a sync flag set 13 hours ago (stale) turns OK into WARNING; a hung daemon (a socket that
//! never answers) is CRITICAL from the plugin's own timeout, before Icinga's.
//! Phase 2, the healthy daemon stopped (SIGTERM): `replayer-procs` CRITICAL; with the sync
//! flag set, OK with the sync text ("would be CRITICAL"); with the stale flag, CRITICAL and
//! saying why it did not downgrade.
//! Phase 3, the nightly sync starts (the flag the flaky daemon watches says `true`): that
//! daemon pauses by itself, and its `replayer-5xx` reports OK, "would be WARNING", with the
//! check still in place.
//!
//! Each daemon is told apart from any other `replayer` on the machine by its status socket's
//! path, which the procs check matches with `--argument-array`.
//!
//! The three phases run once (`util::scenario`), recording what Icinga recorded in each; each
//! test then asserts one of the things above on that record.

use crate::util::scenario::Scenario;
use crate::util::*;
use replayer_status::StatusDocument;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const API_USER: &str = "replayer-test";
const API_PASSWORD: &str = "not-a-secret";
const NODE: &str = "icinga-live-test";

/// A child process killed (by its own pid) when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
            plugins = open_bin_dir().display()
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
        icinga.rest().wait_until_up(|| icinga.log());
        icinga
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/icinga2.log")).unwrap_or_default()
    }

    /// The REST API, as the ApiUser above.
    fn rest(&self) -> IcingaApi {
        IcingaApi {
            base: format!("https://127.0.0.1:{}", self.port),
            user: API_USER.into(),
            password: API_PASSWORD.into(),
            netns: None,
        }
    }

    /// Runs every service's check now and returns, per "host!service", the check result
    /// Icinga recorded: for each service, one newer than what it had before this call.
    fn check_all_now(&self, services: usize) -> BTreeMap<String, Value> {
        let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.rest()
                .check_now("true", services, Duration::from_secs(30))
        }));
        results.unwrap_or_else(|panic| {
            eprintln!("Icinga's log:\n{}", self.log());
            std::panic::resume_unwind(panic)
        })
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

/// A real replayer capturing production's port on `lo` and replaying to `staging`.
struct Replayer {
    process: Guard,
    socket: PathBuf,
    /// The data-sync flag file this daemon watches.
    flag: PathBuf,
    stderr: PathBuf,
}

impl Replayer {
    fn start(dir: &Path, name: &str, production_port: u16, staging: &str) -> Replayer {
        let socket = dir.join(format!("{name}.sock"));
        let stderr = dir.join(format!("{name}.stderr"));
        let flag = dir.join(format!("{name}.sync-flag"));
        let child = Command::new(bin("replayer"))
            .arg(format!("-input-raw=lo:{production_port}"))
            .arg(format!("-output-http={staging}"))
            .arg("--status-socket")
            .arg(&socket)
            .arg("--sync-flag")
            .arg(&flag)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start replayer");
        let mut replayer = Replayer {
            process: Guard(child),
            socket,
            flag,
            stderr,
        };
        replayer.wait_for("replaying", |d| d.state.as_str() == "replaying");
        replayer
    }

    fn status(&mut self) -> Option<StatusDocument> {
        if let Ok(Some(exit)) = self.process.0.try_wait() {
            panic!(
                "replayer exited ({exit}): {}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
        }
        read_status_document(&self.socket)
    }

    fn wait_for(&mut self, what: &str, done: impl Fn(&StatusDocument) -> bool) {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < Duration::from_secs(15) {
            if let Some(doc) = self.status() {
                if done(&doc) {
                    return;
                }
                last = Some(doc);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{}: never {what}; last status: {last:#?}",
            self.socket.display()
        );
    }

    /// The argument that tells this daemon apart from every other `replayer` process.
    fn token(&self) -> String {
        self.socket.display().to_string()
    }
}

/// What Icinga recorded in each phase, and what the tests need to name the daemons.
struct Seen {
    /// Phase 1, every daemon replaying.
    replaying: BTreeMap<String, Value>,
    /// Phase 2, the healthy daemon stopped.
    stopped: BTreeMap<String, Value>,
    /// Phase 3, the flaky staging's daemon paused by the nightly sync.
    syncing: BTreeMap<String, Value>,
    /// How the healthy daemon exited on SIGTERM.
    up_exit: std::process::ExitStatus,
    /// The healthy daemon's status socket: the argument that tells it apart.
    up_socket: String,
    no_flag: String,
    hung: String,
}

static SCENARIO: Scenario<Seen> = Scenario::new();

/// Runs the three phases once (the module's doc), recording Icinga's results in each; every
/// process it started (nginx, the daemons, Icinga) is stopped before it returns.
fn seen() -> &'static Seen {
    SCENARIO.get(run_the_phases)
}

fn run_the_phases() -> Seen {
    assert!(is_root(), "live capture on lo needs root (CI runs as root)");
    for plugin in [
        "check_replayer_procs",
        "check_replay_rate",
        "check_replay_5xx",
    ] {
        bin(plugin); // Icinga runs the workspace's own plugins (ReplayerPluginDir).
    }
    let scratch = Scratch::new("icinga-live");

    let production = Nginx::start(&scratch.join("production"), "");
    let healthy = Nginx::start(&scratch.join("staging-ok"), "");
    let flaky = Nginx::start(
        &scratch.join("staging-flaky"),
        "location /err { return 500; }\n    location / { return 200 \"ok\\n\"; }",
    );
    let broken = Nginx::start(
        &scratch.join("staging-broken"),
        "location / { return 500; }",
    );

    let mut up = Replayer::start(scratch.path(), "up", production.port, &healthy.url());
    let mut warn = Replayer::start(scratch.path(), "warn", production.port, &flaky.url());
    let mut crit = Replayer::start(scratch.path(), "crit", production.port, &broken.url());
    // libpcap is open once the state is `replaying`; give the kernel filters a moment.
    std::thread::sleep(Duration::from_millis(300));

    // 100 requests on one keep-alive connection, 8 of them to paths the flaky staging fails.
    let out = run_with_timeout(
        Command::new(require_tool("curl")).args([
            "-s",
            &format!("http://127.0.0.1:{}/page[1-92]", production.port),
            &format!("http://127.0.0.1:{}/err[1-8]", production.port),
        ]),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "curl: {out:?}");
    for daemon in [&mut up, &mut warn, &mut crit] {
        daemon.wait_for("all 100 requests answered by staging", |d| {
            d.windows["300"].responses == 100
        });
    }

    let set_flag = scratch.join("sync-set");
    std::fs::write(&set_flag, "true\n").unwrap();
    let stale_flag = scratch.join("sync-stale");
    std::fs::write(&stale_flag, "true\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stale_flag)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(13 * 3600))
        .unwrap();
    let no_flag = scratch.join("sync-none");
    let hung = scratch.join("hung.sock");
    let listener = std::os::unix::net::UnixListener::bind(&hung).unwrap();
    // Holds every connection open, answering nothing, until the scenario ends (the listener
    // is closed then: a connection to it fails, and the thread ends).
    let holding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let still_holding = holding.clone();
    listener.set_nonblocking(true).unwrap();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        while still_holding.load(std::sync::atomic::Ordering::Relaxed) {
            match listener.accept() {
                Ok(connection) => held.push(connection),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });

    let host = |name: &str, daemon: &Replayer, flag: &Path| {
        format!(
            r#"object Host "{name}" {{
  check_command = "dummy"
  enable_active_checks = false
  vars.replayer = true
  vars.replayer_verbose = true  // a boolean set: passed
  vars.replayer_sync_window = ""  // a string emptied: dropped
  vars.replayer_procs_argument_array = "{token}"
  vars.replayer_socket = "{socket}"
  vars.replayer_sync_flag = "{flag}"
}}
"#,
            token = daemon.token(),
            socket = daemon.socket.display(),
            flag = flag.display()
        )
    };
    let hosts = [
        host("up", &up, &no_flag),
        host("staging-warn", &warn, &no_flag),
        host("staging-crit", &crit, &no_flag),
        host("syncing", &up, &set_flag),
        host("sync-stale", &up, &stale_flag),
        // Watches the same flag file as the daemon it checks, as on a real host.
        host("staging-warn-syncing", &warn, &warn.flag),
        // A hung daemon: its socket accepts and never answers. The plugin's own timeout
        // (1 s here) fires well before Icinga's, so the result is CRITICAL, not UNKNOWN.
        format!(
            r#"object Host "hung" {{
  check_command = "dummy"
  enable_active_checks = false
  vars.replayer = true
  vars.replayer_socket = "{}"
  vars.replayer_sync_flag = "{}"
  vars.replayer_timeout = 1
}}
"#,
            hung.display(),
            no_flag.display()
        ),
    ]
    .concat();
    let icinga = Icinga::start(&scratch.join("icinga"), &hosts);

    // Phase 1: replaying.
    let replaying = icinga.check_all_now(21);

    // Phase 2: the healthy daemon stopped.
    // SAFETY: kill(2) on the pid of a child we spawned and still own.
    unsafe { libc::kill(up.process.0.id() as i32, libc::SIGTERM) };
    let up_exit = up.process.0.wait().expect("wait for replayer");
    let stopped = icinga.check_all_now(21);

    // Phase 3, the nightly sync starts: the cron writes the flag, the daemon pauses by itself, and
    // the check of its flaky staging reports OK with the truth, without anyone removing it.
    std::fs::write(&warn.flag, "true\n").unwrap();
    warn.wait_for("paused", |d| {
        d.state.as_str() == "paused" && d.sync.in_progress
    });
    let syncing = icinga.check_all_now(21);
    drop(icinga);
    holding.store(false, std::sync::atomic::Ordering::Relaxed);
    holder.join().unwrap();

    Seen {
        replaying,
        stopped,
        syncing,
        up_exit,
        up_socket: up.token(),
        no_flag: no_flag.display().to_string(),
        hung: hung.display().to_string(),
    }
}

#[test]
fn procs_is_ok_for_a_running_daemon() {
    let _processes = lock::processes();
    let seen = seen();
    let token = &seen.up_socket;
    let procs_ok = format!("PROCS OK: 1 process with command name 'replayer', args '{token}'");
    assert_result(
        &seen.replaying,
        "up!replayer-procs",
        Expect {
            state: 0,
            output_starts: &procs_ok,
            output_contains: &[],
            perfdata: &["procs=1;;1:;0;"],
        },
    );
}

#[test]
fn rate_is_ok_and_counts_the_100_replayed_requests() {
    let _processes = lock::processes();
    let results = &seen().replaying;
    assert_result(
        results,
        "up!replayer-rate",
        Expect {
            state: 0,
            // The rate is over the time the window covers (the daemon's seconds up, not
            // 300; check_replay_rate since 5c2d88d), so it varies: the 100 are checked.
            output_starts: "REPLAY RATE OK: ",
            output_contains: &["requests/s replayed over 5m", "replayed 100\n"],
            perfdata: &[],
        },
    );
    // The rate perfdata carries the shipped thresholds and the replayed count.
    let rate = &results["up!replayer-rate"]["performance_data"];
    let rate_item = rate[0].as_str().unwrap();
    assert!(
        rate_item.starts_with("rate=") && rate_item.ends_with(";0.1:;0.01:;0;"),
        "{rate}"
    );
    assert!(rate.to_string().contains("\"replayed=100c\""), "{rate}");
}

#[test]
fn ratio_5xx_is_ok_warning_or_critical_by_what_staging_answered() {
    let _processes = lock::processes();
    let results = &seen().replaying;
    assert_result(
        results,
        "up!replayer-5xx",
        Expect {
            state: 0,
            output_starts: "REPLAY 5XX OK: 5xx ratio 0 ",
            output_contains: &["(0 of 100 responses)"],
            perfdata: &[
                "ratio_5xx=0;0.05;0.1;0;1",
                "responses=100;;;0;",
                "5xx_total=0c",
            ],
        },
    );
    assert_result(
        results,
        "staging-warn!replayer-5xx",
        Expect {
            state: 1,
            output_starts: "REPLAY 5XX WARNING: 5xx ratio 0.08 ",
            output_contains: &["(8 of 100 responses)"],
            perfdata: &["ratio_5xx=0.08;0.05;0.1;0;1", "5xx_total=8c"],
        },
    );
    assert_result(
        results,
        "staging-crit!replayer-5xx",
        Expect {
            state: 2,
            output_starts: "REPLAY 5XX CRITICAL: 5xx ratio 1 ",
            output_contains: &["(100 of 100 responses)"],
            perfdata: &["ratio_5xx=1;0.05;0.1;0;1", "5xx_total=100c"],
        },
    );
}

/// The daemon runs, but the flag has said "true" for 13 hours: a sync that aborted. Under
/// GoReplay nobody was told; here the check warns.
#[test]
fn a_stale_sync_flag_turns_ok_into_warning() {
    let _processes = lock::processes();
    let seen = seen();
    let token = &seen.up_socket;
    assert_result(
        &seen.replaying,
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
}

#[test]
fn a_hung_daemon_is_critical_from_the_plugins_own_timeout() {
    let _processes = lock::processes();
    let seen = seen();
    assert_result(
        &seen.replaying,
        "hung!replayer-rate",
        Expect {
            state: 2,
            output_starts: &format!(
                "REPLAY RATE CRITICAL: status socket {} did not answer within 1 s",
                seen.hung
            ),
            output_contains: &[],
            perfdata: &[],
        },
    );
}

/// The command line Icinga built from the shipped CheckCommand: --command first, every
/// default passed, a boolean passed when true and left out while false (--per-second),
/// options unset (--user) or set to "" (--sync-window) absent.
#[test]
fn icinga_builds_the_plugins_command_lines_from_the_shipped_check_commands() {
    let _processes = lock::processes();
    let seen = seen();
    let results = &seen.replaying;
    assert_eq!(
        command_line(results, "up!replayer-procs"),
        [
            open_bin_dir()
                .join("check_replayer_procs")
                .display()
                .to_string(),
            "--command".into(),
            "replayer".into(),
            "--argument-array".into(),
            seen.up_socket.clone(),
            "--critical".into(),
            "1:".into(),
            "--sync-flag".into(),
            seen.no_flag.clone(),
            "--sync-max-age".into(),
            "12h".into(),
            "--timeout".into(),
            "10".into(),
            "--verbose".into(),
        ]
    );
    assert_eq!(
        command_line(results, "up!replayer-5xx")[1..],
        [
            "--critical",
            "0.1",
            "--min-responses",
            "20",
            "--socket",
            &seen.up_socket,
            "--sync-flag",
            &seen.no_flag,
            "--sync-max-age",
            "12h",
            "--timeout",
            "10",
            "--verbose",
            "--warning",
            "0.05",
            "--window",
            "300",
        ]
    );
}

#[test]
fn a_stopped_daemon_is_critical() {
    let _processes = lock::processes();
    let seen = seen();
    assert!(
        seen.up_exit.success(),
        "replayer exit on SIGTERM: {}",
        seen.up_exit
    );
    let token = &seen.up_socket;
    let procs_critical =
        format!("PROCS CRITICAL: 0 processes with command name 'replayer', args '{token}'");
    assert_result(
        &seen.stopped,
        "up!replayer-procs",
        Expect {
            state: 2,
            output_starts: &procs_critical,
            output_contains: &[],
            perfdata: &["procs=0;;1:;0;"],
        },
    );
    assert_result(
        &seen.stopped,
        "up!replayer-rate",
        Expect {
            state: 2,
            output_starts: "REPLAY RATE CRITICAL: ",
            output_contains: &[&seen.up_socket],
            perfdata: &[],
        },
    );
}

#[test]
fn during_a_sync_a_stopped_daemon_is_ok_saying_it_would_be_critical() {
    let _processes = lock::processes();
    let seen = seen();
    let token = &seen.up_socket;
    assert_result(
        &seen.stopped,
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
}

/// A stale flag is never a reason to stay quiet: no downgrade, the truth plus why.
#[test]
fn a_stale_sync_flag_never_hides_a_stopped_daemon() {
    let _processes = lock::processes();
    let seen = seen();
    let token = &seen.up_socket;
    let procs_critical =
        format!("PROCS CRITICAL: 0 processes with command name 'replayer', args '{token}'");
    assert_result(
        &seen.stopped,
        "sync-stale!replayer-procs",
        Expect {
            state: 2,
            output_starts: &procs_critical,
            output_contains: &["stale", "not downgrading"],
            perfdata: &["procs=0;;1:;0;"],
        },
    );
}

/// The nightly sync: the daemon paused by itself (the scenario waits for that), and the check
/// of its flaky staging, still in place, reports OK with the truth; the host that does not
/// watch the flag still warns.
#[test]
fn a_daemon_paused_by_the_sync_has_its_5xx_check_ok_saying_it_would_warn() {
    let _processes = lock::processes();
    let results = &seen().syncing;
    assert_result(
        results,
        "staging-warn-syncing!replayer-5xx",
        Expect {
            state: 0,
            output_starts: "REPLAY 5XX OK: 5xx ratio 0.08 ",
            output_contains: &["data sync in progress", "would be WARNING"],
            perfdata: &["ratio_5xx=0.08;0.05;0.1;0;1"],
        },
    );
    assert_result(
        results,
        "staging-warn!replayer-5xx",
        Expect {
            state: 1,
            output_starts: "REPLAY 5XX WARNING: 5xx ratio 0.08 ",
            output_contains: &[],
            perfdata: &["ratio_5xx=0.08;0.05;0.1;0;1"],
        },
    );
}
