//! The deployable pieces around the daemon, with the real programs: the systemd unit, its
//! goreplay drop-in and alias (`systemd-analyze verify` and `security`), the example config
//! and the migration guide's GOV.UK command line (read and run by the real `replayer`), the
//! goreplay symlink (counted by the real `check_procs -C goreplay`), and the NRPE commands
//! (run with the real plugins against a real daemon).

use crate::util::*;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn systemd_dir() -> PathBuf {
    workspace_root().join("icinga/systemd")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A scratch root holding the system's own units (so that `--root` finds sysinit.target and
/// friends), the replayer binary and the shipped unit.
fn systemd_root(scratch: &Scratch) -> PathBuf {
    let root = scratch.join("root");
    let units = root.join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(root.join("usr/lib/systemd")).unwrap();
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    let copied = Command::new("cp")
        .args(["-a", "/usr/lib/systemd/system"])
        .arg(root.join("usr/lib/systemd/"))
        .status()
        .expect("run cp");
    assert!(copied.success(), "copying the system's units failed");
    std::fs::copy(bin("replayer"), root.join("usr/bin/replayer")).unwrap();
    std::fs::copy(
        systemd_dir().join("replayer.service"),
        units.join("replayer.service"),
    )
    .unwrap();
    root
}

fn verify(root: &Path, unit: &str) -> Output {
    run_with_timeout(
        Command::new(require_tool("systemd-analyze"))
            .arg("verify")
            .arg(format!("--root={}", root.display()))
            .arg(unit),
        Duration::from_secs(60),
    )
}

#[test]
fn the_unit_and_the_goreplay_compatibility_verify() {
    let _processes = lock::processes();
    // The scratch root copies the system's units: not while the package test installs its own.
    let _machine = lock::machine();
    let scratch = Scratch::new("systemd-verify");
    let root = systemd_root(&scratch);
    let out = verify(&root, "replayer.service");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "replayer.service: {}",
        text(&out)
    );

    // The goreplay names: a drop-in starting the daemon through /usr/bin/goreplay, and the
    // unit alias. Without the binary symlink the drop-in's ExecStart does not resolve, which
    // systemd reports: the check below really looks at the drop-in.
    let units = root.join("etc/systemd/system");
    std::fs::create_dir_all(units.join("replayer.service.d")).unwrap();
    std::fs::copy(
        systemd_dir().join("goreplay-compat.conf"),
        units.join("replayer.service.d/goreplay-compat.conf"),
    )
    .unwrap();
    symlink("replayer.service", units.join("goreplay.service")).unwrap();
    let out = verify(&root, "goreplay.service");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Command /usr/bin/goreplay is not executable"),
        "{}",
        text(&out)
    );
    symlink("replayer", root.join("usr/bin/goreplay")).unwrap();
    for unit in ["goreplay.service", "replayer.service"] {
        let out = verify(&root, unit);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{unit}: {}",
            text(&out)
        );
    }
}

/// `[section] key=value` lines of a unit file, comments and blanks left out.
fn unit_settings(path: &Path) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut settings = Vec::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {line}"));
        settings.push((section.clone(), key.to_string(), value.to_string()));
    }
    settings
}

#[test]
fn the_unit_grants_only_the_capture_capabilities_and_is_sandboxed() {
    let _processes = lock::processes();
    let unit = systemd_dir().join("replayer.service");
    let settings = unit_settings(&unit);
    let get = |section: &str, key: &str| -> Vec<&str> {
        settings
            .iter()
            .filter(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
            .collect()
    };
    let one = |section: &str, key: &str| -> &str {
        let values = get(section, key);
        assert_eq!(values.len(), 1, "[{section}] {key}: {values:?}");
        values[0]
    };
    assert_eq!(
        one("Service", "AmbientCapabilities"),
        "CAP_NET_RAW CAP_NET_ADMIN"
    );
    assert_eq!(
        one("Service", "CapabilityBoundingSet"),
        "CAP_NET_RAW CAP_NET_ADMIN"
    );
    assert_eq!(one("Service", "User"), "replayer");
    assert_eq!(one("Service", "RuntimeDirectory"), "replayer");
    assert_eq!(one("Service", "ProtectSystem"), "strict");
    assert_eq!(one("Service", "NoNewPrivileges"), "yes");
    assert_eq!(one("Service", "Restart"), "on-failure");
    assert_eq!(
        one("Service", "ExecStart"),
        "/usr/bin/replayer --config /etc/replayer/replayer.toml"
    );
    assert!(!one("Unit", "StartLimitBurst").is_empty());
    assert!(!one("Unit", "StartLimitIntervalSec").is_empty());
    // Capture must see the host's network with real capabilities.
    assert!(get("Service", "PrivateNetwork").is_empty());
    assert!(get("Service", "PrivateUsers").is_empty());

    // systemd's own assessment: exposure at most 2.5 of 10 ("OK"); the remaining points are
    // what capture needs (AF_PACKET, the host's network, the two capabilities).
    let out = run_with_timeout(
        Command::new(require_tool("systemd-analyze"))
            .args(["security", "--offline=yes", "--threshold=25"])
            .arg(&unit),
        Duration::from_secs(60),
    );
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    let overall = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("{report}"));
    println!("{overall}");
}

/// `replayer ARGS --print-config`: the daemon's own reading of a command line.
fn print_config(args: &[&str]) -> String {
    let out = run_with_timeout(
        Command::new(bin("replayer"))
            .args(args)
            .arg("--print-config"),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "replayer {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `sh` block under "## 1." in docs/migration.md: GOV.UK's command line.
fn migration_command_line() -> String {
    let guide = std::fs::read_to_string(workspace_root().join("docs/migration.md")).unwrap();
    let section = &guide[guide
        .find("## 1. GOV.UK's command line")
        .expect("section 1 of the migration guide")..];
    let start = section.find("```sh\n").expect("an sh block in section 1") + "```sh\n".len();
    let end = start + section[start..].find("```").unwrap();
    section[start..end].to_string()
}

#[test]
fn the_example_config_is_govuks_command_line() {
    let _processes = lock::processes();
    let line = migration_command_line();
    // Sorted by name, one per line, single dash, single quotes: GoReplay's init line.
    assert!(line.starts_with("replayer \\\n"), "{line}");
    let flags: Vec<&str> = line
        .lines()
        .skip(1)
        .map(|l| l.trim().trim_end_matches(" \\"))
        .collect();
    let mut sorted = flags.clone();
    sorted.sort();
    assert_eq!(flags, sorted);
    for flag in &flags {
        assert!(
            flag.starts_with('-') && !flag.starts_with("--") && flag.ends_with('\''),
            "{flag}"
        );
    }

    // The same flags without the shell's quotes, as the shell passes them.
    let args: Vec<String> = flags.iter().map(|f| f.replace('\'', "")).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let from_command_line = print_config(&args);
    let config = systemd_dir().join("replayer.toml");
    let from_file = print_config(&["--config", config.to_str().unwrap()]);
    // The file adds the socket's group for the monitoring user; nothing else differs.
    let without_group = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with("status-socket-group"))
            .map(String::from)
            .collect()
    };
    assert_eq!(without_group(&from_file), without_group(&from_command_line));
    assert!(from_file.contains("\nstatus-socket-group = \"nagios\"\n"));
    for line in [
        "input-raw = \"127.0.0.1:7999\"",
        "http-allow-method = [\"GET\", \"HEAD\", \"OPTIONS\"]",
        "http-disallow-url = [\"apply-for-a-licence/payment\", \"sign-in/callback\"]",
        "sync-flag = \"/etc/govuk/env.d/FACTER_data_sync_in_progress\"",
    ] {
        assert!(from_file.lines().any(|l| l == line), "{line}:\n{from_file}");
    }
}

/// Runs the migration guide's command line exactly as written, in a network and mount
/// namespace of its own (loopback only, a private /run for its default socket path): nginx
/// plays Varnish on 127.0.0.1:7999, curl sends five requests, and the status document must
/// show GOV.UK's behaviour: two replayable requests sent towards its staging (which cannot be
/// reached from here, so they fail), the disallowed URLs and the POST filtered.
#[test]
fn govuks_command_line_pasted_as_is_starts_the_replayer() {
    let _processes = lock::processes();
    assert!(
        is_root(),
        "namespaces and live capture need root (CI runs as root)"
    );
    let scratch = Scratch::new("migration-line");
    let dir = scratch.path().display().to_string();
    std::fs::write(
        scratch.join("nginx.conf"),
        format!(
            "daemon off; master_process off; worker_processes 1; pid {dir}/nginx.pid;\n\
             error_log {dir}/error.log warn; events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {dir}/body; proxy_temp_path {dir}/p;\n\
             fastcgi_temp_path {dir}/f; uwsgi_temp_path {dir}/u; scgi_temp_path {dir}/s;\n\
             server {{ listen 127.0.0.1:7999; location / {{ return 200 \"ok\\n\"; }} }} }}\n"
        ),
    )
    .unwrap();
    let nginx = require_tool("nginx");
    let curl = require_tool("curl");
    let script = format!(
        r#"set -eu
ip link set lo up
mount -t tmpfs tmpfs /run
export PATH="{bins}:$PATH"
{nginx} -p {dir} -c {dir}/nginx.conf -e {dir}/error.log &
for i in $(seq 200); do {curl} -s -o /dev/null http://127.0.0.1:7999/ && break; sleep 0.05; done
(
{line}) 2>{dir}/replayer.stderr &
for i in $(seq 200); do
  {curl} -s --http0.9 --unix-socket /run/replayer/status.sock http://status/ | grep -q '"state":"replaying"' && break
  sleep 0.05
done
sleep 0.3
{curl} -s -o /dev/null -A migration-test http://127.0.0.1:7999/a \
  --next -s -o /dev/null http://127.0.0.1:7999/apply-for-a-licence/payment/x \
  --next -s -o /dev/null 'http://127.0.0.1:7999/sign-in/callback?c=1' \
  --next -s -o /dev/null -X POST -d x=1 http://127.0.0.1:7999/form \
  --next -s -o /dev/null -I http://127.0.0.1:7999/b
for i in $(seq 100); do
  {curl} -s --http0.9 --unix-socket /run/replayer/status.sock -o {dir}/status.json http://status/ || true
  grep -q '"failed":2,' {dir}/status.json && break
  sleep 0.05
done
ps -o comm= -p "$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' {dir}/status.json)" > {dir}/comm
kill "$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' {dir}/status.json)" %1
wait
"#,
        bins = bin_dir().display(),
        nginx = nginx.display(),
        curl = curl.display(),
        line = migration_command_line(),
    );
    bin("replayer");
    let out = run_with_timeout(
        Command::new(require_tool("unshare")).args(["--net", "--mount", "bash", "-c", &script]),
        Duration::from_secs(60),
    );
    let stderr = std::fs::read_to_string(scratch.join("replayer.stderr")).unwrap_or_default();
    assert!(out.status.success(), "{}\nreplayer: {stderr}", text(&out));
    let status: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(scratch.join("status.json")).expect("status document"),
    )
    .unwrap_or_else(|e| panic!("{e}; replayer: {stderr}"));
    assert_eq!(status["state"], "replaying", "{status}");
    assert_eq!(status["capture"]["source"], "lo:7999", "{status}");
    assert_eq!(
        status["sync"]["flag"], "/etc/govuk/env.d/FACTER_data_sync_in_progress",
        "{status}"
    );
    // GET /a and HEAD /b are replayable; the two disallowed URLs and the POST are not.
    let requests = &status["requests"];
    assert_eq!(requests["seen"], 5, "{status}");
    assert_eq!(requests["filtered"], 3, "{status}");
    assert_eq!(requests["queued"], 2, "{status}");
    assert_eq!(requests["failed"], 2, "{status}");
    assert_eq!(
        status["targets"][0]["url"], "https://www-origin.staging.example/",
        "{status}"
    );
    assert_eq!(
        std::fs::read_to_string(scratch.join("comm"))
            .unwrap()
            .trim(),
        "replayer"
    );
}

/// A child killed (by its own pid) when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the real replayer from `program` (the binary or a symlink to it) with its status
/// socket in `dir`, and waits until the socket answers: the daemon binds it before it
/// installs its signal handlers and serves it after, so a SIGTERM from then on is handled.
fn start_replayer(program: &Path, dir: &Path, extra: &[&str]) -> (Guard, PathBuf) {
    let socket = dir.join("status.sock");
    let child = Command::new(program)
        .arg(format!("-input-raw=127.0.0.1:{}", free_port()))
        .arg(format!("-output-http=http://127.0.0.1:{}", free_port()))
        .arg("--status-socket")
        .arg(&socket)
        .arg("--sync-flag")
        .arg(dir.join("no-sync-flag"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start replayer");
    let guard = Guard(child);
    let start = Instant::now();
    while read_status_document(&socket).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the status socket never answered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (guard, socket)
}

fn plugin_output(cmd: &mut Command) -> (i32, String) {
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
    )
}

#[test]
fn through_the_goreplay_symlink_check_procs_counts_a_goreplay_process() {
    let _processes = lock::processes();
    assert!(is_root(), "live capture needs root (CI runs as root)");
    let scratch = Scratch::new("goreplay-name");
    let goreplay = scratch.join("goreplay");
    symlink(bin("replayer"), &goreplay).unwrap();
    let (mut daemon, socket) = start_replayer(&goreplay, scratch.path(), &[]);
    let token = socket.display().to_string();

    // GOV.UK's check as it was (monitoring-plugins' check_procs) and ours, to the byte.
    let check_procs = |plugin: &Path| {
        plugin_output(Command::new(plugin).args(["-c", "1:", "-C", "goreplay", "-a", &token]))
    };
    let theirs = require_tool("/usr/lib/nagios/plugins/check_procs");
    let ours = bin("check_replayer_procs");
    let running = format!(
        "PROCS OK: 1 process with command name 'goreplay', args '{token}' | procs=1;;1:;0;"
    );
    assert_eq!(check_procs(&theirs), (0, running.clone()));
    assert_eq!(check_procs(&ours), (0, running));

    // SAFETY: kill(2) on the pid of the child we spawned and still own.
    unsafe { libc::kill(daemon.0.id() as i32, libc::SIGTERM) };
    let exit = daemon.0.wait().unwrap();
    assert!(exit.success(), "{exit}");
    let stopped = format!(
        "PROCS CRITICAL: 0 processes with command name 'goreplay', args '{token}' | procs=0;;1:;0;"
    );
    assert_eq!(check_procs(&theirs), (2, stopped.clone()));
    assert_eq!(check_procs(&ours), (2, stopped));
}

/// The NRPE commands as a real NRPE daemon runs them (foreground, its own port, as the
/// unprivileged user it insists on), asked by the real `check_nrpe`, with the real plugins
/// reading a real daemon's socket, handed to NRPE's group as the unit hands it to nagios.
#[test]
fn the_nrpe_commands_answer_through_a_real_nrpe() {
    let _processes = lock::processes();
    assert!(is_root(), "live capture needs root (CI runs as root)");
    let cfg = std::fs::read_to_string(workspace_root().join("icinga/nrpe/replayer.cfg")).unwrap();
    let commands: Vec<(&str, &str)> = cfg
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let rest = l.strip_prefix("command[").expect("command[NAME]=...");
            rest.split_once("]=").expect("command[NAME]=...")
        })
        .collect();
    let names: Vec<&str> = commands.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "check_replayer_procs",
            "check_goreplay_procs",
            "check_replay_rate",
            "check_replay_5xx",
            "check_replay_diff"
        ]
    );
    for (name, line) in &commands {
        // NRPE runs a line without a shell and takes nothing from the network.
        assert!(!line.contains(['\'', '"', '$', '`', '!']), "{name}: {line}");
    }

    let scratch = Scratch::new("nrpe");
    let (_daemon, socket) = start_replayer(
        &bin("replayer"),
        scratch.path(),
        &["--status-socket-group", "nogroup", "--diff"],
    );
    let flag = scratch.join("sync-flag");
    // The paths of a real host, pointed at this test's plugins, socket and flag file.
    let included = cfg
        .replace(
            "/usr/lib/nagios/plugins/",
            &format!("{}/", open_bin_dir().display()),
        )
        .replace("/run/replayer/status.sock", &socket.display().to_string())
        .replace(
            "/etc/govuk/env.d/FACTER_data_sync_in_progress",
            &flag.display().to_string(),
        );
    std::fs::write(scratch.join("replayer.cfg"), included).unwrap();
    let port = free_port();
    let nrpe_cfg = scratch.join("nrpe.cfg");
    std::fs::write(
        &nrpe_cfg,
        format!(
            "server_address=127.0.0.1\nserver_port={port}\nallowed_hosts=127.0.0.1\n\
             nrpe_user=nobody\nnrpe_group=nogroup\ndont_blame_nrpe=0\ncommand_timeout=20\n\
             pid_file={dir}/nrpe.pid\nlog_file={dir}/nrpe.log\ninclude={dir}/replayer.cfg\n",
            dir = scratch.path().display()
        ),
    )
    .unwrap();
    let nrpe = Guard(
        Command::new(require_tool("nrpe"))
            .arg("-c")
            .arg(&nrpe_cfg)
            .args(["-d", "-f"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nrpe"),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nrpe did not listen: {}",
            std::fs::read_to_string(scratch.join("nrpe.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let check_nrpe = require_tool("/usr/lib/nagios/plugins/check_nrpe");
    for (name, _) in commands {
        let (code, output) = plugin_output(
            Command::new(&check_nrpe)
                .args(["-H", "127.0.0.1", "-t", "20", "-p"])
                .arg(port.to_string())
                .args(["-c", name]),
        );
        let first = output.lines().next().unwrap_or_default();
        match name {
            // Other replayer processes may run on this machine: 1 or more, at least ours.
            "check_replayer_procs" => {
                assert_eq!(code, 0, "{output}");
                assert!(
                    first.starts_with("PROCS OK: ")
                        && first.contains(" with command name 'replayer' | procs="),
                    "{output}"
                );
            }
            "check_goreplay_procs" => {
                assert!([0, 2].contains(&code), "{name}: {code} {output}");
                assert!(first.contains("command name 'goreplay'"), "{output}");
            }
            // A daemon that captured nothing: CRITICAL, naming the cause.
            "check_replay_rate" => {
                assert_eq!(code, 2, "{output}");
                assert!(
                    first.starts_with("REPLAY RATE CRITICAL: 0 requests/s")
                        && first.contains("no traffic captured"),
                    "{output}"
                );
            }
            // Too few responses to judge: OK, and it says so.
            "check_replay_5xx" => {
                assert_eq!(code, 0, "{output}");
                assert!(first.starts_with("REPLAY 5XX OK: "), "{output}");
            }
            // Nothing compared yet: OK, and it says so.
            "check_replay_diff" => {
                assert_eq!(code, 0, "{output}");
                assert!(
                    first.starts_with("REPLAY DIFF OK: only 0 answers compared over 5m"),
                    "{output}"
                );
            }
            _ => unreachable!(),
        }
    }
    drop(nrpe);
}

/// The unit gives the daemon an unprivileged user and exactly two capabilities. Run the real
/// daemon that way (setpriv: user nobody, the unit's capabilities as ambient, inheritable and
/// bounding set, no new privileges): it captures and replays. Without them it refuses with a
/// one-line error, so the two are needed as well as enough.
#[test]
fn as_an_unprivileged_user_the_units_two_capabilities_are_enough_to_replay() {
    let _processes = lock::processes();
    assert!(
        is_root(),
        "setpriv to another user needs root (CI runs as root)"
    );
    let settings = unit_settings(&systemd_dir().join("replayer.service"));
    let caps = settings
        .iter()
        .find(|(s, k, _)| s == "Service" && k == "AmbientCapabilities")
        .map(|(_, _, v)| v.clone())
        .expect("AmbientCapabilities");
    // CAP_NET_RAW CAP_NET_ADMIN → +net_raw,+net_admin
    let setpriv_caps: Vec<String> = caps
        .split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    let caps_arg = format!("-all,{}", setpriv_caps.join(","));

    let scratch = Scratch::new("capabilities");
    let run = scratch.join("run");
    std::fs::create_dir_all(&run).unwrap();
    // The daemon's own runtime directory, as RuntimeDirectory= would give it.
    std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let production = Nginx::start(&scratch.join("production"), "");
    let staging = Nginx::start(&scratch.join("staging"), "");
    let socket = run.join("status.sock");
    let daemon = |caps: &str| {
        let mut cmd = Command::new(require_tool("setpriv"));
        cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(format!("--inh-caps={caps}"))
            .arg(format!("--ambient-caps={caps}"))
            .arg(format!("--bounding-set={caps}"))
            .arg("--no-new-privs")
            .arg(open_bin("replayer"))
            .arg(format!("-input-raw=lo:{}", production.port))
            .arg(format!("-output-http={}", staging.url()))
            .arg("--status-socket")
            .arg(&socket)
            .arg("--sync-flag")
            .arg(run.join("no-sync-flag"));
        cmd
    };

    let out = run_with_timeout(&mut daemon("-all"), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Nothing ran: exit 2, as with every output (docs/daemon.md, "Exit codes").
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Operation not permitted"), "{stderr}");

    let child = daemon(&caps_arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("setpriv replayer");
    let mut guard = Guard(child);
    let status = |guard: &mut Guard| {
        if let Ok(Some(exit)) = guard.0.try_wait() {
            panic!("replayer exited: {exit}");
        }
        read_status_document(&socket)
    };
    let start = Instant::now();
    loop {
        if status(&mut guard).is_some_and(|d| d.state.as_str() == "replaying") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never replaying");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = status(&mut guard).unwrap().pid;
    let proc_status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    // The two were needed to open the capture; once it is open the daemon gives up both
    // (docs/daemon.md, Privileges). Without CAP_SETPCAP the bounding set keeps its two
    // names (CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13: 0x3000), harmless with empty
    // permitted and ambient sets and no_new_privs.
    for set in ["CapEff", "CapPrm", "CapAmb"] {
        assert!(
            proc_status.contains(&format!("\n{set}:\t0000000000000000\n")),
            "{set}: {proc_status}"
        );
    }
    assert!(
        proc_status.contains("\nCapBnd:\t0000000000003000\n"),
        "{proc_status}"
    );
    assert!(proc_status.contains("\nNoNewPrivs:\t1\n"), "{proc_status}");
    let uid_line = proc_status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(!uid_line.contains("\t0\t"), "{uid_line}");

    let out = run_with_timeout(
        Command::new(require_tool("curl")).args([
            "-s",
            "-o",
            "/dev/null",
            &format!("http://127.0.0.1:{}/page[1-10]", production.port),
        ]),
        Duration::from_secs(30),
    );
    assert!(out.status.success());
    let log = staging.wait_for_log(10, Duration::from_secs(10));
    assert_eq!(log.len(), 10, "{log:?}");
    assert!(log.iter().all(|l| l.x_replayed_by == "replayer"), "{log:?}");
}
