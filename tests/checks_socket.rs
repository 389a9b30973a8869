//! `check_replay_rate` and `check_replay_5xx` against status documents served by this test on
//! a real Unix socket: every state, every cause of a low rate, and every failure (missing
//! socket, refused, silent past `-t`, empty, truncated JSON, wrong schema, missing window).

use crate::util::{bin, lock, run_with_timeout, set_mtime, workspace_root, Scratch};
use serde_json::{json, Value};
use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const LIMIT: Duration = Duration::from_secs(20);

/// What the test-side server does with each connection.
#[derive(Clone)]
enum Mode {
    /// Write these bytes and close.
    Answer(Vec<u8>),
    /// Accept and say nothing, keeping the connection open.
    Silent,
}

/// A server on a real Unix socket, stopped when dropped.
struct Server {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(path: PathBuf, mode: Mode) -> Server {
        let listener = UnixListener::bind(&path).expect("bind test socket");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held: Vec<UnixStream> = Vec::new();
            while !stop_flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => match &mode {
                        Mode::Answer(bytes) => {
                            stream.set_nonblocking(false).unwrap();
                            let _ = stream.write_all(bytes);
                        }
                        Mode::Silent => held.push(stream),
                    },
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Server {
            path,
            stop,
            thread: Some(thread),
        }
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The bundled demo document, as JSON to modify.
fn demo() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("checks/demo/status.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn serve(scratch: &Scratch, name: &str, doc: &Value) -> Server {
    Server::start(
        scratch.join(name),
        Mode::Answer(serde_json::to_vec(doc).unwrap()),
    )
}

/// Runs a plugin with no sync flag in the way (the default path must not exist here, but a
/// test never depends on that): returns (stdout, exit code).
fn run(plugin: &str, scratch: &Scratch, args: &[&str]) -> (String, i32) {
    let no_flag = scratch.join("no-sync-flag");
    let out = run_with_timeout(
        Command::new(bin(plugin))
            .args(args)
            .arg("--sync-flag")
            .arg(&no_flag),
        LIMIT,
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().expect("exited, not killed"),
    )
}

fn first(out: &str) -> &str {
    out.lines().next().unwrap_or("")
}

/// Sets `windows.300` to these figures (others zero).
fn window300(doc: &mut Value, figures: Value) {
    let mut w = json!({
        "seen": 0, "replayed": 0, "failed": 0, "responses": 0, "5xx": 0,
        "replayed_per_s": 0.0, "ratio_5xx": null, "latency_ms": { "p50": 0, "p99": 0 },
        "packets": 0, "filtered": 0, "sampled_out": 0, "paused_sync": 0, "dropped_queue_full": 0
    });
    for (k, v) in figures.as_object().unwrap() {
        w[k] = v.clone();
    }
    doc["windows"]["300"] = w;
}

#[test]
fn rate_every_state() {
    let _processes = lock::processes();
    let scratch = Scratch::new("rate-states");
    let ok = serve(&scratch, "ok.sock", &demo());
    let perf = "| rate=43.3;0.1:;0.01:;0; seen=1523400c replayed=1493100c";
    let (out, code) = run("check_replay_rate", &scratch, &["-S", ok.path()]);
    assert_eq!(
        (out.as_str(), code),
        (
            format!("REPLAY RATE OK: 43.3 requests/s replayed over 5m {perf}\n").as_str(),
            0
        )
    );
    let (out, code) = run(
        "check_replay_rate",
        &scratch,
        &["-S", ok.path(), "-w", "50:", "-c", "10:"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        first(&out).starts_with(
            "REPLAY RATE WARNING: 43.3 requests/s replayed over 5m: low traffic: 12990 of 13260 requests seen were replayed | rate=43.3;50:;10:;0;"
        ),
        "{out}"
    );
    // The long output on a problem gives the window's figures and each target.
    assert!(
        out.contains("\nlast 5m: packets 159523, seen 13260, filtered 269"),
        "{out}"
    );
    assert!(
        out.contains("\ntarget https://www-origin.staging.example: replayed 1493100"),
        "{out}"
    );
    let (out, code) = run(
        "check_replay_rate",
        &scratch,
        &["--socket", ok.path(), "--warning=50:", "--critical=44:"],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        first(&out).starts_with("REPLAY RATE CRITICAL: 43.3 requests/s"),
        "{out}"
    );
    // The other windows.
    for (window, name) in [("60", "1m"), ("900", "15m")] {
        let (out, code) = run(
            "check_replay_rate",
            &scratch,
            &["-S", ok.path(), "--window", window],
        );
        assert_eq!(code, 0, "{out}");
        let expected = format!("replayed over {name} |");
        assert!(first(&out).contains(&expected), "{out}");
    }
    // -v adds the details to an OK.
    let (out, _) = run("check_replay_rate", &scratch, &["-S", ok.path(), "-v"]);
    assert_eq!(out.lines().count(), 4, "{out}");
}

#[test]
fn rate_names_the_cause_when_low() {
    let _processes = lock::processes();
    let scratch = Scratch::new("rate-causes");
    let cases = [
        (json!({}), "no traffic captured on lo:7999"),
        (
            json!({ "packets": 345 }),
            "345 packets captured on lo:7999 but no HTTP requests in them",
        ),
        (
            json!({ "packets": 900, "seen": 120, "filtered": 120 }),
            "everything filtered: all 120 requests filtered out",
        ),
        (
            json!({ "packets": 900, "seen": 120, "replayed": 1, "dropped_queue_full": 119 }),
            "replay queue full: 119 of 120 requests dropped",
        ),
        (
            json!({ "packets": 900, "seen": 120, "replayed": 2, "failed": 118 }),
            "target failing: 118 of 120 requests failed",
        ),
        (
            json!({ "packets": 900, "seen": 120, "sampled_out": 119, "replayed": 1 }),
            "sampled out: 119 of 120 requests dropped by the limits",
        ),
    ];
    for (i, (figures, cause)) in cases.iter().enumerate() {
        // The plugin reports the daemon's `replayed_per_s` (over the time the window covers).
        let rate = figures["replayed"].as_u64().unwrap_or(0) as f64 / 300.0;
        let mut figures = figures.clone();
        figures["replayed_per_s"] = json!(rate);
        let mut doc = demo();
        window300(&mut doc, figures.clone());
        let server = serve(&scratch, &format!("c{i}.sock"), &doc);
        let (out, code) = run("check_replay_rate", &scratch, &["-S", server.path()]);
        assert_eq!(code, 2, "{out}");
        let shown = if rate == 0.0 {
            "0".to_string()
        } else {
            format!("{rate:.6}").trim_end_matches('0').to_string()
        };
        assert!(
            first(&out).starts_with(&format!(
                "REPLAY RATE CRITICAL: {shown} requests/s replayed over 5m: {cause} | rate={shown};0.1:;0.01:;0;"
            )),
            "{out}"
        );
    }
    // Paused by the daemon for a sync it sees (the plugin's own flag is elsewhere).
    let mut doc = demo();
    window300(
        &mut doc,
        json!({ "packets": 900, "seen": 120, "paused_sync": 120 }),
    );
    doc["state"] = json!("paused");
    doc["sync"]["in_progress"] = json!(true);
    let server = serve(&scratch, "paused.sock", &doc);
    let (out, code) = run("check_replay_rate", &scratch, &["-S", server.path()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        first(&out).contains(": replay paused: the daemon sees a data sync in progress |"),
        "{out}"
    );
}

#[test]
fn five_xx_every_state() {
    let _processes = lock::processes();
    let scratch = Scratch::new("5xx-states");
    let ok = serve(&scratch, "ok.sock", &demo());
    let (out, code) = run("check_replay_5xx", &scratch, &["-S", ok.path()]);
    assert_eq!(
        (out.as_str(), code),
        (
            "REPLAY 5XX OK: 5xx ratio 0.001309 over 5m (17 of 12989 responses) | ratio_5xx=0.001309;0.05;0.1;0;1 rate_5xx=0.056667;;;0; responses=12989;;;0; 5xx_total=1846c\n",
            0
        )
    );
    let ratio = |responses: u64, c5xx: u64, extra: &[&str]| {
        let mut doc = demo();
        window300(
            &mut doc,
            json!({ "seen": responses, "replayed": responses, "responses": responses, "5xx": c5xx }),
        );
        let server = serve(
            &scratch,
            &format!("r{responses}-{c5xx}-{}.sock", extra.len()),
            &doc,
        );
        let mut args = vec!["-S", server.path()];
        args.extend_from_slice(extra);
        run("check_replay_5xx", &scratch, &args)
    };
    // At and just past each threshold (0.05 and 0.1, endpoints OK).
    assert_eq!(ratio(200, 10, &[]).1, 0);
    let (out, code) = ratio(200, 11, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(first(&out).starts_with("REPLAY 5XX WARNING: 5xx ratio 0.055 over 5m (11 of 200 responses) | ratio_5xx=0.055;0.05;0.1;0;1"), "{out}");
    assert!(
        out.contains("\ntarget https://www-origin.staging.example: 2xx"),
        "{out}"
    );
    assert_eq!(ratio(200, 20, &[]).1, 1);
    let (out, code) = ratio(200, 21, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        first(&out).starts_with("REPLAY 5XX CRITICAL: 5xx ratio 0.105"),
        "{out}"
    );
    // Below --min-responses: OK and says so.
    let (out, code) = ratio(19, 19, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(first(&out).starts_with("REPLAY 5XX OK: only 19 responses over 5m, fewer than --min-responses 20: ratio not judged (19 were 5xx) |"), "{out}");
    assert_eq!(ratio(19, 19, &["--min-responses", "10"]).1, 2);
    // --per-second: GOV.UK's site thresholds, 0.3 and 0.9 5xx/s.
    let (out, code) = ratio(1000, 90, &["--per-second", "-w", "0.3", "-c", "0.9"]);
    assert_eq!(code, 0, "{out}");
    assert!(first(&out).starts_with("REPLAY 5XX OK: 0.3 5xx responses/s from staging over 5m (90 of 1000 responses) | ratio_5xx=0.09;;;0;1 rate_5xx=0.3;0.3;0.9;0;"), "{out}");
    assert_eq!(
        ratio(1000, 91, &["--per-second", "-w", "0.3", "-c", "0.9"]).1,
        1
    );
    assert_eq!(
        ratio(1000, 271, &["--per-second", "-w", "0.3", "-c", "0.9"]).1,
        2
    );
    // A daemon up for 10 s: five 5xx in the 10 s its window covers are 0.5/s, not 5 in 300 s.
    let mut doc = demo();
    doc["started_at"] = json!("2026-11-24T14:00:00Z");
    doc["now"] = json!("2026-11-24T14:00:10Z");
    window300(
        &mut doc,
        json!({ "seen": 5, "replayed": 5, "responses": 5, "5xx": 5, "covered_s": 10.0 }),
    );
    let young = serve(&scratch, "young.sock", &doc);
    let (out, code) = run(
        "check_replay_5xx",
        &scratch,
        &["-S", young.path(), "--per-second", "-w", "0.3", "-c", "0.9"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(first(&out).starts_with("REPLAY 5XX WARNING: 0.5 5xx responses/s from staging over 5m (daemon up for 10s) (5 of 5 responses) | ratio_5xx=1;;;0;1 rate_5xx=0.5;0.3;0.9;0;"), "{out}");
}

/// Fills the listen backlog of the socket at `path` with connections nobody accepts, so that
/// the next blocking connect hangs: a daemon too stuck even to accept. Returns the fds.
fn fill_backlog(path: &std::path::Path) -> Vec<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: all-zero is a valid sockaddr_un; the family and path are filled in below.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, src) in addr.sun_path.iter_mut().zip(path.as_os_str().as_bytes()) {
        *dst = *src as libc::c_char;
    }
    let mut fds = Vec::new();
    for _ in 0..10_000 {
        // Close-on-exec, so that no process another test starts meanwhile holds a connection.
        // SAFETY: plain socket calls on a fresh descriptor we own; `addr` is initialised.
        let fd = unsafe {
            libc::socket(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        assert!(fd >= 0);
        // SAFETY: fd is a new, valid descriptor owned by nobody else.
        let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        // SAFETY: `addr` is a valid sockaddr_un of the size given.
        let rc = unsafe {
            libc::connect(
                fd,
                &addr as *const libc::sockaddr_un as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}");
            return fds;
        }
        fds.push(owned);
    }
    panic!("the backlog never filled");
}

#[test]
fn a_daemon_too_stuck_to_accept_trips_the_timeout() {
    let _processes = lock::processes();
    // The plugin's connect itself hangs here, so only the -t watchdog can end it.
    let scratch = Scratch::new("sock-stuck");
    let path = scratch.join("stuck.sock");
    let _listener = UnixListener::bind(&path).unwrap();
    let _held = fill_backlog(&path);
    for (plugin, label) in [
        ("check_replay_rate", "REPLAY RATE"),
        ("check_replay_5xx", "REPLAY 5XX"),
    ] {
        let started = Instant::now();
        let (out, code) = run(plugin, &scratch, &["-S", path.to_str().unwrap(), "-t", "1"]);
        let took = started.elapsed();
        assert_eq!(
            (out, code),
            (
                format!(
                    "{label} CRITICAL: status socket {} did not answer within 1 s\n",
                    path.display()
                ),
                2
            )
        );
        assert!(
            took >= Duration::from_millis(950) && took < Duration::from_secs(5),
            "{took:?}"
        );
    }
}

#[test]
fn daemon_absent_or_silent_is_critical() {
    let _processes = lock::processes();
    let scratch = Scratch::new("sock-fail");
    for plugin in ["check_replay_rate", "check_replay_5xx"] {
        let label = if plugin == "check_replay_rate" {
            "REPLAY RATE"
        } else {
            "REPLAY 5XX"
        };
        // Missing socket.
        let missing = scratch.join("missing.sock");
        let (out, code) = run(plugin, &scratch, &["-S", missing.to_str().unwrap()]);
        assert_eq!(
            (out.as_str(), code),
            (format!("{label} CRITICAL: cannot connect to status socket {}: No such file or directory (os error 2)\n", missing.display()).as_str(), 2)
        );
        // Refused: the socket file is there, nobody listens.
        let refused = scratch.join(format!("refused-{plugin}.sock"));
        drop(UnixListener::bind(&refused).unwrap());
        let (out, code) = run(plugin, &scratch, &["-S", refused.to_str().unwrap()]);
        assert_eq!(
            (out.as_str(), code),
            (format!("{label} CRITICAL: cannot connect to status socket {}: Connection refused (os error 111)\n", refused.display()).as_str(), 2)
        );
        // Silent past -t: CRITICAL after about -t seconds, not before, not much after.
        let silent = Server::start(scratch.join(format!("silent-{plugin}.sock")), Mode::Silent);
        let started = Instant::now();
        let (out, code) = run(plugin, &scratch, &["-S", silent.path(), "-t", "1"]);
        let took = started.elapsed();
        assert_eq!(
            (out.as_str(), code),
            (
                format!(
                    "{label} CRITICAL: status socket {} did not answer within 1 s\n",
                    silent.path()
                )
                .as_str(),
                2
            )
        );
        assert!(
            took >= Duration::from_millis(950) && took < Duration::from_secs(5),
            "{took:?}"
        );
    }
}

#[test]
fn unreadable_documents_are_unknown_saying_why() {
    let _processes = lock::processes();
    let scratch = Scratch::new("sock-bad");
    let text = serde_json::to_string(&demo()).unwrap();
    let mut schema2 = demo();
    schema2["schema"] = json!(2);
    let mut no_900 = demo();
    no_900["windows"].as_object_mut().unwrap().remove("900");
    let cases: Vec<(&str, Vec<u8>, Vec<&str>, String)> = vec![
        ("empty", Vec::new(), vec![], "is unreadable: empty (the daemon closed the connection without sending anything)".into()),
        ("truncated", text.as_bytes()[..text.len() / 2].to_vec(), vec![], "is unreadable: not valid JSON (EOF while parsing".into()),
        ("garbage", b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), vec![], "is unreadable: not valid JSON (".into()),
        ("schema2", serde_json::to_vec(&schema2).unwrap(), vec![], "is unreadable: schema version 2, but this plugin reads schema 1: upgrade the plugins with the daemon".into()),
        ("noschema", b"{\"version\": \"0.1.0\"}".to_vec(), vec![], "is unreadable: no \"schema\" number in it".into()),
        ("shape", b"{\"schema\": 1, \"version\": \"0.1.0\"}".to_vec(), vec![], "is unreadable: does not match schema 1 (missing field".into()),
    ];
    for plugin in ["check_replay_rate", "check_replay_5xx"] {
        let label = if plugin == "check_replay_rate" {
            "REPLAY RATE"
        } else {
            "REPLAY 5XX"
        };
        for (name, bytes, extra, what) in &cases {
            let server = Server::start(
                scratch.join(format!("{name}-{plugin}.sock")),
                Mode::Answer(bytes.clone()),
            );
            let mut args = vec!["-S", server.path()];
            args.extend(extra.iter().copied());
            let (out, code) = run(plugin, &scratch, &args);
            assert_eq!(code, 3, "{name}: {out}");
            let expected = format!(
                "{label} UNKNOWN: status document from {} {what}",
                server.path()
            );
            assert!(
                first(&out).starts_with(&expected),
                "{name}: {out}\nexpected {expected}"
            );
        }
        let server = serve(&scratch, &format!("no900-{plugin}.sock"), &no_900);
        let (out, code) = run(plugin, &scratch, &["-S", server.path(), "--window", "900"]);
        assert_eq!(
            (out.as_str(), code),
            (
                format!("{label} UNKNOWN: the status document has no 900 s window\n").as_str(),
                3
            )
        );
        // The other windows of that document still work.
        assert_eq!(
            run(plugin, &scratch, &["-S", server.path(), "--window", "60"]).1,
            0
        );
    }
}

#[test]
fn sync_flag_downgrades_socket_checks_and_stale_shows() {
    let _processes = lock::processes();
    let scratch = Scratch::new("sock-sync");
    let flag = scratch.join("FACTER_data_sync_in_progress");
    std::fs::write(&flag, "true\n").unwrap();
    set_mtime(
        &flag,
        SystemTime::now() - Duration::from_secs(2 * 3600 + 13 * 60 + 20),
    );
    let missing = scratch.join("missing.sock");
    let with_flag = |plugin: &str, extra: &[&str]| {
        let mut cmd = Command::new(bin(plugin));
        cmd.args([
            "-S",
            missing.to_str().unwrap(),
            "--sync-flag",
            flag.to_str().unwrap(),
        ])
        .args(extra);
        let out = run_with_timeout(&mut cmd, LIMIT);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code().unwrap(),
        )
    };
    // While the sync runs the replayer may well be stopped: CRITICAL becomes OK, truthfully.
    let (out, code) = with_flag("check_replay_rate", &[]);
    assert_eq!(
        (out.as_str(), code),
        (format!("REPLAY RATE OK: cannot connect to status socket {}: No such file or directory (os error 2) (data sync in progress for 2h13m; would be CRITICAL)\n", missing.display()).as_str(), 0)
    );
    // A paused daemon with rate 0: OK with the cause and the sync in the text; perfdata as is.
    let mut doc = demo();
    window300(
        &mut doc,
        json!({ "packets": 900, "seen": 120, "paused_sync": 120 }),
    );
    doc["state"] = json!("paused");
    doc["sync"]["in_progress"] = json!(true);
    let server = serve(&scratch, "paused.sock", &doc);
    let out = run_with_timeout(
        Command::new(bin("check_replay_rate")).args([
            "-S",
            server.path(),
            "--sync-flag",
            flag.to_str().unwrap(),
        ]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        first(&String::from_utf8_lossy(&out.stdout)),
        "REPLAY RATE OK: 0 requests/s replayed over 5m: replay paused: the daemon sees a data sync in progress (data sync in progress for 2h13m; would be CRITICAL) | rate=0;0.1:;0.01:;0; seen=1523400c replayed=1493100c"
    );
    // UNKNOWN is not downgraded: a broken document is not explained by a sync.
    let bad = Server::start(scratch.join("bad.sock"), Mode::Answer(b"{".to_vec()));
    let out = run_with_timeout(
        Command::new(bin("check_replay_5xx")).args([
            "-S",
            bad.path(),
            "--sync-flag",
            flag.to_str().unwrap(),
        ]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(3));
    // Stale: set 13 hours ago, never hidden.
    set_mtime(&flag, SystemTime::now() - Duration::from_secs(13 * 3600));
    let (out, code) = with_flag("check_replay_5xx", &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        first(&out).ends_with(
            "(data sync flag set for 13h, over --sync-max-age 12h: looks stale, not downgrading)"
        ),
        "{out}"
    );
    let (out, code) = with_flag("check_replay_5xx", &["--sync-max-age", "14h"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn help_version_and_bad_options_exit_3() {
    let _processes = lock::processes();
    let scratch = Scratch::new("sock-usage");
    for (plugin, label) in [
        ("check_replay_rate", "REPLAY RATE"),
        ("check_replay_5xx", "REPLAY 5XX"),
    ] {
        let (out, code) = run(plugin, &scratch, &["--help"]);
        assert_eq!(code, 3);
        assert!(
            out.contains(&format!(
                "Usage: {plugin} [-S socket] [--window 60|300|900]"
            )),
            "{out}"
        );
        let (out, code) = run(plugin, &scratch, &["-V"]);
        assert_eq!(
            (out, code),
            (format!("{plugin} {}\n", env!("CARGO_PKG_VERSION")), 3)
        );
        for bad in [
            &["--bogus"][..],
            &["--window", "120"],
            &["--window"],
            &["-w", "abc"],
            &["-c", "5:1"],
            &["-t", "-1"],
            &["--sync-window", "25:00-08:00"],
        ] {
            let (out, code) = run(plugin, &scratch, bad);
            assert_eq!(code, 3, "{bad:?}: {out}");
            let mut lines = out.lines();
            assert!(
                lines
                    .next()
                    .unwrap()
                    .starts_with(&format!("{label} UNKNOWN: ")),
                "{out}"
            );
            assert!(
                lines
                    .next()
                    .unwrap()
                    .starts_with(&format!("Usage: {plugin} ")),
                "{out}"
            );
        }
    }
    let (out, code) = run("check_replay_5xx", &scratch, &["--min-responses", "x"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.starts_with("REPLAY 5XX UNKNOWN: invalid value 'x' for '--min-responses <N>'"),
        "{out}"
    );
}

#[test]
fn first_lines_stay_short() {
    let _processes = lock::processes();
    // The longest first lines real problems produce, with counters of a daemon that has run
    // for years, stay under the guidelines' ~200 bytes.
    let scratch = Scratch::new("sock-len");
    let mut doc = demo();
    window300(
        &mut doc,
        json!({ "packets": 900, "seen": 99_999_999u64, "replayed": 1, "failed": 99_999_998u64 }),
    );
    for k in ["seen", "replayed", "failed", "dropped_queue_full"] {
        doc["requests"][k] = json!(99_999_999_999u64);
    }
    doc["responses"]["5xx"] = json!(99_999_999_999u64);
    let server = serve(&scratch, "len.sock", &doc);
    let (out, code) = run("check_replay_rate", &scratch, &["-S", server.path()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        first(&out).len() < 200,
        "{} bytes: {out}",
        first(&out).len()
    );
    let (out, code) = run(
        "check_replay_5xx",
        &scratch,
        &["-S", server.path(), "--min-responses", "100000000000"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        first(&out).len() < 200,
        "{} bytes: {out}",
        first(&out).len()
    );
}
