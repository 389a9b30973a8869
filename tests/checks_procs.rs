//! `check_replayer_procs` against the real `check_procs` (monitoring-plugins-basic): same
//! options, same processes, identical first line and exit code. The processes are our own:
//! copies of `sleep` under distinctive names in a scratch directory, so nothing else on the
//! machine can change a count between the two runs. The tests that count processes they did
//! not start (every name on the machine, every `replayer`, every `ps`) have the process table
//! to themselves: no other test of the binary starts a process meanwhile (`util::lock`).

use crate::util::{bin, lock, require_tool, run_with_timeout, set_mtime, Scratch};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const CHECK_PROCS: &str = "/usr/lib/nagios/plugins/check_procs";
const LIMIT: Duration = Duration::from_secs(20);

/// Runs a plugin; returns (stdout, exit code).
fn run(program: &Path, args: &[&str]) -> (String, i32) {
    let out = run_with_timeout(Command::new(program).args(args), LIMIT);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().expect("exited, not killed"),
    )
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Like [`run`] with `LC_ALL` set.
fn run_env(program: &Path, args: &[&str], locale: &str) -> (String, i32) {
    let out = run_with_timeout(
        Command::new(program).args(args).env("LC_ALL", locale),
        LIMIT,
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().expect("exited, not killed"),
    )
}

/// Runs both with the same options and asserts the same first line and exit code; returns
/// the line.
fn same(args: &[&str]) -> String {
    let theirs = run(&require_tool(CHECK_PROCS), args);
    let ours = run(&bin("check_replayer_procs"), args);
    assert_eq!(
        (first_line(&ours.0), ours.1),
        (first_line(&theirs.0), theirs.1),
        "options {args:?}: ours (left) differs from check_procs (right)"
    );
    first_line(&ours.0).to_string()
}

/// Processes we started; killed and reaped when dropped.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A copy of `sleep` named `name` in the scratch dir (its command name is the file name).
fn sleeper(scratch: &Scratch, name: &str) -> PathBuf {
    let path = scratch.join(name);
    if !path.exists() {
        std::fs::copy(require_tool("sleep"), &path).expect("copy sleep");
    }
    path
}

/// Starts `n` copies of `name` with arguments `args` (argv[0] = `arg0` when given).
fn start(scratch: &Scratch, name: &str, arg0: Option<&str>, args: &[&str], n: usize) -> Procs {
    let exe = sleeper(scratch, name);
    let children = (0..n)
        .map(|_| {
            let mut cmd = Command::new(&exe);
            if let Some(a) = arg0 {
                std::os::unix::process::CommandExt::arg0(&mut cmd, a);
            }
            cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null());
            spawn_retrying(&mut cmd)
        })
        .collect();
    let procs = Procs(children);
    // The kernel sets the command name at exec: wait until every copy has one.
    for c in &procs.0 {
        wait_for(|| {
            std::fs::read_to_string(format!("/proc/{}/comm", c.id()))
                .is_ok_and(|comm| name.starts_with(comm.trim()) && !comm.trim().is_empty())
        });
    }
    procs
}

/// Spawns, retrying on ETXTBSY: another test thread forking while our fresh copy of
/// `sleep` was still open for writing keeps it "busy" until that child execs.
fn spawn_retrying(cmd: &mut Command) -> Child {
    let start = Instant::now();
    loop {
        match cmd.spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(26) && start.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("start {cmd:?}: {e}"),
        }
    }
}

fn wait_for(mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "condition not met in 10 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A name no other process on the machine has.
fn unique(tag: &str) -> String {
    format!("cp{}{tag}", std::process::id() % 100_000)
}

/// The ranges the issue names, plus a few around them.
const RANGES: &[&[&str]] = &[
    &["-c", "1:"],
    &["-c", "2:"],
    &["-c", "1"],
    &["-c", "0"],
    &["-c", "@1"],
    &["-c", "@1:1"],
    &["-c", "@2:5"],
    &["-c", "~:0"],
    &["-c", "~:1"],
    &["-c", "10:20"],
    &["-c", ":3"],
    &["-c", "1.5:"],
    &["-c", "3:3"],
    &["-c", ""],
    &["-w", "1:", "-c", "1:"],
    &["-w", "2:", "-c", "1:"],
    &["-w", "5", "-c", "10"],
    &["-w", "@3", "-c", "@0"],
    &["-w", "~:2", "-c", "~:3"],
    &["-w", "@1:2", "-c", "4:"],
];

fn ranges_for(name: &str) -> usize {
    let mut compared = 0;
    for range in RANGES {
        let mut args = vec!["-C", name];
        args.extend_from_slice(range);
        same(&args);
        compared += 1;
    }
    compared
}

#[test]
fn absent_single_and_several_over_every_range() {
    let _processes = lock::processes();
    let scratch = Scratch::new("procs-ranges");
    let (one, three) = (unique("one"), unique("three"));
    let _p1 = start(&scratch, &one, None, &["3600"], 1);
    let _p3 = start(&scratch, &three, None, &["3600"], 3);
    let absent = unique("absent");

    let mut compared = 0;
    for name in [&absent, &one, &three] {
        compared += ranges_for(name);
    }
    assert_eq!(compared, 3 * RANGES.len());

    // Spot checks that the comparison is about something.
    assert_eq!(
        same(&["-C", &absent, "-c", "1:"]),
        format!("PROCS CRITICAL: 0 processes with command name '{absent}' | procs=0;;1:;0;")
    );
    assert_eq!(
        same(&["-C", &one, "-c", "1:"]),
        format!("PROCS OK: 1 process with command name '{one}' | procs=1;;1:;0;")
    );
    assert_eq!(
        same(&["-C", &three, "-w", "@3", "-c", "@0"]),
        format!("PROCS WARNING: 3 processes with command name '{three}' | procs=3;@3;@0;0;")
    );
}

#[test]
fn arguments_users_and_option_spellings() {
    let _processes = lock::processes();
    let scratch = Scratch::new("procs-options");
    let name = unique("args");
    let marker = format!("mark{}", std::process::id());
    let _plain = start(&scratch, &name, None, &["3600"], 2);
    let _marked = start(
        &scratch,
        &name,
        Some(&format!("{marker}-zero")),
        &["3600"],
        1,
    );
    // ps (in the C locale check_procs gives it) shows a tab or \x01 as `.` and a newline as a
    // space (sleep only takes numbers, so
    // the odd characters go in argv[0]).
    let _tab = start(&scratch, &name, Some(&format!("0\t{marker}")), &["3600"], 1);
    let _nl = start(
        &scratch,
        &name,
        Some(&format!("0\n1{marker}\x01")),
        &["3600"],
        1,
    );

    for args in [
        vec!["-C", &name, "-c", "1:"],
        vec!["-C", &name, "-a", "3600", "-c", "1:"],
        vec!["-a", "3600", "-C", &name, "-c", "1:"],
        vec!["-C", &name, "-a", &marker, "-c", "1:"],
        vec!["-C", &name, "-a", "-zero 3600", "-c", "1:"],
        vec!["-C", &name, "-a", "?", "-c", "1:"],
        vec!["-C", &name, "-a", ".", "-c", "1:"],
        vec!["-C", &name, "-a", "no such argument anywhere", "-c", "1:"],
        vec!["-C", &name, "-u", "root", "-c", "1:"],
        vec!["-u", "0", "-C", &name, "-c", "1:"],
        vec!["-C", &name, "-u", "nobody", "-c", "1:"],
        vec!["-C", &name, "-u", "65534", "-a", "3600", "-c", "1:"],
        vec!["--command", &name, "--critical", "2:", "--warning", "10"],
        vec!["--command", &name, "--critical=@5", "--argument-array=3600"],
        vec!["-C", &name, "-c", "1:", "-t", "5"],
        vec!["-C", &name, "-c", "1:", "-v"],
        vec!["-C", &name, "-c1:", "-w5"],
        vec!["-C", &name, "-w", "-5:-1", "-c", "~:-1"],
        // Repeated options: the first -C and -a count, every -u is described and the last
        // filters, the last -w/-c wins.
        vec!["-C", &name, "-C", "sh", "-c", "1:"],
        vec!["-C", &name, "-a", "3600", "-a", "zz", "-c", "1:"],
        vec!["-u", "root", "-C", &name, "-u", "0", "-c", "1:"],
        vec!["-u", "65534", "-C", &name, "-u", "root", "-c", "1:"],
        vec!["-C", &name, "-c", "5", "-c", "1:", "-w", "1", "-w", "9"],
    ] {
        same(&args);
    }
    let tab = format!("0.{marker}");
    let nl = format!("0 1{marker}. 3600");
    assert_eq!(
        same(&["-C", &name, "-a", &tab, "-c", "1:"]),
        format!("PROCS OK: 1 process with command name '{name}', args '{tab}' | procs=1;;1:;0;")
    );
    assert_eq!(
        same(&["-C", &name, "-a", &nl, "-c", "1:"]),
        format!("PROCS OK: 1 process with command name '{name}', args '{nl}' | procs=1;;1:;0;")
    );
    assert_eq!(
        same(&["-C", &name, "-a", &marker, "-c", "1:"]),
        format!(
            "PROCS OK: 3 processes with command name '{name}', args '{marker}' | procs=3;;1:;0;"
        )
    );
    // check_procs runs ps with LC_ALL=C, so non-ASCII is `?` whatever our locale.
    let e_acute = start(&scratch, &name, Some("caf\u{e9}-x"), &["3600"], 1);
    for locale in ["C", "C.UTF-8"] {
        for pattern in ["caf\u{e9}-x", "caf??-x", "caf?-x"] {
            let args = ["-C", name.as_str(), "-a", pattern, "-c", "1:"];
            let theirs = run_env(&require_tool(CHECK_PROCS), &args, locale);
            let ours = run_env(&bin("check_replayer_procs"), &args, locale);
            assert_eq!(
                (first_line(&ours.0), ours.1),
                (first_line(&theirs.0), theirs.1),
                "LC_ALL={locale} {args:?}"
            );
        }
    }
    drop(e_acute);
}

#[test]
fn names_as_check_procs_reads_them() {
    let _processes = lock::processes();
    let scratch = Scratch::new("procs-names");
    // The kernel keeps 15 bytes of a name; check_procs cuts a name at its first space.
    let long = format!("{}-a-rather-long-name", unique("l"));
    let spaced = format!("{} with space", unique("s"));
    let _long = start(&scratch, &long, None, &["3600"], 2);
    let _spaced = start(&scratch, &spaced, None, &["3600"], 1);
    let truncated: String = long.chars().take(15).collect();
    let first_word = spaced.split(' ').next().unwrap().to_string();

    assert!(same(&["-C", &long, "-c", "1:"]).starts_with("PROCS CRITICAL: 0 processes"));
    assert!(same(&["-C", &truncated, "-c", "1:"]).starts_with("PROCS OK: 2 processes"));
    assert!(same(&["-C", &first_word, "-c", "1:"]).starts_with("PROCS OK: 1 process "));
    same(&["-C", &spaced, "-c", "1:"]);
    same(&["-C", &first_word, "-a", "with", "-c", "1:"]);
    same(&["-C", &first_word, "-a", "space", "-c", "1:"]);
}

#[test]
fn zombies_count() {
    let _processes = lock::processes();
    let scratch = Scratch::new("procs-zombie");
    let name = unique("zomb");
    let exe = sleeper(&scratch, &name);
    // sh starts the copy, which exits at once, then becomes `sleep`, which never reaps it.
    let script = format!("'{}' 0 & exec sleep 3600", exe.display());
    let parent = Command::new("sh")
        .args(["-c", &script])
        .spawn()
        .expect("sh");
    let _guard = Procs(vec![parent]);
    wait_for(|| {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read_to_string(e.path().join("stat"))
                .is_ok_and(|s| s.contains(&format!("({name}) Z")))
        })
    });
    assert_eq!(
        same(&["-C", &name, "-c", "1:"]),
        format!("PROCS OK: 1 process with command name '{name}' | procs=1;;1:;0;")
    );
    same(&["-C", &name, "-a", "defunct", "-c", "1:"]);
    same(&["-C", &name, "-a", &format!("[{name}]"), "-c", "1:"]);
}

#[test]
fn never_counts_itself_nor_its_parent() {
    let _processes = lock::processes();
    // The parent of both plugins is this test process: neither counts it.
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    let me = comm.trim();
    assert!(same(&["-C", me, "-c", "1:"]).starts_with("PROCS CRITICAL: 0 processes"));
    same(&["-C", "check_replayer_procs", "-c", "1:"]);
    // (`-C check_procs` is not compared: check_procs skips every process running its own
    // executable, so the other tests' check_procs runs, in parallel, would count for us only.)
    // Several of ours at once never see each other: each excludes its own executable.
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(bin("check_replayer_procs"))
                .args(["-C", "check_replayer_p", "-c", "@1:"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "PROCS OK: 0 processes with command name 'check_replayer_p' | procs=0;;@1:;0;\n"
        );
    }
}

#[test]
fn defaults_are_check_procs_c_1_with_command_replayer() {
    let _processes = lock::processes_alone();
    // `replayer` processes belong to other tests and may come and go between the two runs:
    // the two must agree on one of a few consecutive tries.
    let agree = |ours_args: &[&str], theirs_args: &[&str]| {
        let mut last = None;
        for _ in 0..5 {
            let ours = run(&bin("check_replayer_procs"), ours_args);
            let theirs = run(&require_tool(CHECK_PROCS), theirs_args);
            if (first_line(&ours.0), ours.1) == (first_line(&theirs.0), theirs.1) {
                return first_line(&ours.0).to_string();
            }
            last = Some((ours, theirs));
        }
        panic!("never agreed: {last:?}");
    };
    let line = agree(&[], &["-c", "1:", "-C", "replayer"]);
    assert!(
        line.contains(" with command name 'replayer' | procs="),
        "{line}"
    );
    assert!(line.ends_with(";;1:;0;"), "{line}");
    // Our default -C comes last in the description, as in `check_procs ... -C replayer`.
    let line = agree(
        &["-u", "root"],
        &["-u", "root", "-c", "1:", "-C", "replayer"],
    );
    assert!(
        line.contains(" with UID = 0 (root), command name 'replayer' |"),
        "{line}"
    );
}

/// Runs both until they agree, a few times at most: for processes that are not ours, which
/// may start or stop between the two runs. Returns the line they agreed on.
fn agree(args: &[&str]) -> String {
    let mut last = None;
    for _ in 0..5 {
        let theirs = run(&require_tool(CHECK_PROCS), args);
        let ours = run(&bin("check_replayer_procs"), args);
        if (first_line(&ours.0), ours.1) == (first_line(&theirs.0), theirs.1) {
            return first_line(&ours.0).to_string();
        }
        last = Some((ours, theirs));
    }
    panic!("{args:?}: ours and check_procs never agreed (ours, theirs): {last:?}");
}

#[test]
fn every_name_on_this_machine_including_kernel_threads() {
    let _processes = lock::processes_alone();
    // Names as the kernel has them (kernel threads' can be longer than 15 characters and
    // hold slashes), cut to 15 as ps shows them, and after the last slash as check_procs
    // compares them.
    let out = run_with_timeout(
        Command::new(require_tool("ps")).args(["-eo", "comm="]),
        LIMIT,
    );
    let mut names: Vec<String> = Vec::new();
    for full in String::from_utf8_lossy(&out.stdout).lines() {
        let cut: String = full.chars().take(15).collect();
        let base = cut.rsplit('/').next().unwrap_or("").to_string();
        names.extend([full.to_string(), cut, base]);
    }
    names.retain(|n| !n.is_empty() && !n.contains(' '));
    names.sort();
    names.dedup();
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        agree(&["-C", name, "-c", "1:"]);
    }
    // A kernel thread every Linux has.
    assert_eq!(
        agree(&["-C", "kthreadd", "-c", "1:"]),
        "PROCS OK: 1 process with command name 'kthreadd' | procs=1;;1:;0;"
    );
}

#[test]
fn check_procs_counts_its_own_ps_and_so_do_we() {
    let _processes = lock::processes_alone();
    // check_procs excludes itself and its parent, not the `ps` it starts: `-C ps` finds one.
    assert_eq!(
        agree(&["-C", "ps", "-c", "1:"]),
        "PROCS OK: 1 process with command name 'ps' | procs=1;;1:;0;"
    );
    assert_eq!(
        agree(&["-C", "ps", "-a", "axwwo stat", "-c", "1:"]),
        "PROCS OK: 1 process with command name 'ps', args 'axwwo stat' | procs=1;;1:;0;"
    );
    agree(&["-C", "ps", "-u", "root", "-c", "1:"]);
    agree(&["-C", "ps", "-u", "nobody", "-c", "1:"]);
    agree(&["-C", "ps", "-a", "no such thing", "-c", "1:"]);
}

/// Where check_procs is wrong, we differ on purpose: an unreadable threshold is UNKNOWN.
#[test]
fn where_check_procs_is_wrong_we_exit_3_with_a_message() {
    let _processes = lock::processes();
    let check_procs = require_tool(CHECK_PROCS);
    let ours = bin("check_replayer_procs");
    // check_procs reads `abc` as 0 (strtod), so `-c abc` means "alert unless exactly 0": a
    // process that is not running at all is OK to it.
    let absent = unique("abc");
    let (theirs_out, theirs_code) = run(&check_procs, &["-C", &absent, "-c", "abc"]);
    assert_eq!(
        (theirs_out, theirs_code),
        (
            format!("PROCS OK: 0 processes with command name '{absent}' | procs=0;;abc;0;\n"),
            0
        )
    );
    let (out, code) = run(&ours, &["-C", &absent, "-c", "abc"]);
    assert_eq!(code, 3);
    assert!(
        out.starts_with(
            "PROCS UNKNOWN: invalid value 'abc' for '--critical <RANGE>': invalid range \"abc\""
        ),
        "{out}"
    );
    // check_procs reads 0x10 as 16 and `1:2:3` as 1:2; we refuse both.
    for bad in ["0x10", "1:2:3", "~", "1,5"] {
        let (out, code) = run(&ours, &["-w", bad]);
        assert_eq!(code, 3, "{bad}: {out}");
        assert!(out.starts_with("PROCS UNKNOWN: invalid value"), "{out}");
        assert!(
            out.lines()
                .nth(1)
                .unwrap()
                .starts_with("Usage: check_replayer_procs"),
            "{out}"
        );
    }
    // start > end: check_procs also exits 3 but says only "Range format incorrect".
    let (theirs_out, theirs_code) = run(&check_procs, &["-c", "5:1"]);
    assert_eq!(
        (theirs_out.as_str(), theirs_code),
        ("Range format incorrect", 3)
    );
    let (out, code) = run(&ours, &["-c", "5:1"]);
    assert_eq!(code, 3);
    assert!(
        out.contains("invalid range \"5:1\": start is greater than end"),
        "{out}"
    );
    // Unknown users: both exit 3, ours on the status line.
    let (_, theirs_code) = run(&check_procs, &["-u", "no-such-user-here"]);
    let (out, code) = run(&ours, &["-u", "no-such-user-here"]);
    assert_eq!((code, theirs_code), (3, 3));
    assert_eq!(
        out,
        "PROCS UNKNOWN: user name was not found: no-such-user-here\n"
    );
}

#[test]
fn help_version_and_bad_options_exit_3() {
    let _processes = lock::processes();
    let ours = bin("check_replayer_procs");
    let (out, code) = run(&ours, &["--help"]);
    assert_eq!(code, 3);
    assert!(
        out.contains("Usage: check_replayer_procs [-C command]"),
        "{out}"
    );
    assert!(out.contains("--sync-flag"), "{out}");
    let (out, code) = run(&ours, &["-h"]);
    assert_eq!(code, 3);
    assert!(out.contains("Usage: check_replayer_procs"), "{out}");
    for v in ["-V", "--version"] {
        let (out, code) = run(&ours, &[v]);
        assert_eq!(
            (out.as_str(), code),
            (
                format!("check_replayer_procs {}\n", env!("CARGO_PKG_VERSION")).as_str(),
                3
            )
        );
    }
    for bad in [
        &["--bogus"][..],
        &["-x"],
        &["-C"],
        &["-t", "abc"],
        &["-t", "0"],
        &["--sync-max-age", "12y"],
        &["--sync-window", "22:00"],
        &["stray"],
    ] {
        let (out, code) = run(&ours, bad);
        assert_eq!(code, 3, "{bad:?}: {out}");
        let mut lines = out.lines();
        assert!(
            lines.next().unwrap().starts_with("PROCS UNKNOWN: "),
            "{out}"
        );
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("Usage: check_replayer_procs "),
            "{out}"
        );
    }
}

/// The clock window `[now - 1h, now + 1h)` as HH:MM-HH:MM, or one that excludes now.
fn window_around_now(include: bool) -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let minute = (secs % 86_400 / 60) as i64;
    let hhmm = |m: i64| {
        let m = m.rem_euclid(1440);
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    if include {
        format!("{}-{}", hhmm(minute - 60), hhmm(minute + 60))
    } else {
        format!("{}-{}", hhmm(minute + 60), hhmm(minute + 120))
    }
}

#[test]
fn sync_flag_downgrades_and_a_stale_flag_shows() {
    let _processes = lock::processes();
    let scratch = Scratch::new("procs-sync");
    let flag = scratch.join("FACTER_data_sync_in_progress");
    let flag_s = flag.to_str().unwrap();
    let absent = unique("sync");
    let ours = bin("check_replayer_procs");
    let base = ["-C", absent.as_str(), "--sync-flag", flag_s];
    let critical =
        format!("PROCS CRITICAL: 0 processes with command name '{absent}' | procs=0;;1:;0;\n");

    // Missing, empty, false: no sync.
    assert_eq!(run(&ours, &base), (critical.clone(), 2));
    for not_sync in ["", "\n", "false\n", "0\n", "no\n", "  FALSE  \n"] {
        std::fs::write(&flag, not_sync).unwrap();
        assert_eq!(run(&ours, &base), (critical.clone(), 2), "{not_sync:?}");
    }
    // `true`, set 2h13m ago: OK, and the text keeps the truth; perfdata unchanged.
    std::fs::write(&flag, "true\n").unwrap();
    set_mtime(
        &flag,
        SystemTime::now() - Duration::from_secs(2 * 3600 + 13 * 60 + 20),
    );
    assert_eq!(
        run(&ours, &base),
        (
            format!("PROCS OK: 0 processes with command name '{absent}' (data sync in progress for 2h13m; would be CRITICAL) | procs=0;;1:;0;\n"),
            0
        )
    );
    // 13h: stale, never hidden.
    set_mtime(
        &flag,
        SystemTime::now() - Duration::from_secs(13 * 3600 + 60),
    );
    let (out, code) = run(&ours, &base);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with(&format!("PROCS CRITICAL: 0 processes with command name '{absent}' (data sync flag set for 13h1m, over --sync-max-age 12h: looks stale, not downgrading) | procs=0;;1:;0;\n")),
        "{out}"
    );
    assert!(
        out.contains(flag_s),
        "the long output names the flag: {out}"
    );
    // A stale flag turns an OK into a WARNING.
    let (out, code) = run(
        &ours,
        &["-C", absent.as_str(), "--sync-flag", flag_s, "-c", "0"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("PROCS WARNING: 0 processes"), "{out}");
    // --sync-max-age moves the limit.
    let (out, code) = run(&ours, &[&base[..], &["--sync-max-age", "1d"]].concat());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("(data sync in progress for 13h1m; would be CRITICAL)"),
        "{out}"
    );
}

#[test]
fn sync_window_counts_as_a_sync() {
    let _processes = lock::processes();
    let scratch = Scratch::new("procs-window");
    let absent = unique("win");
    let ours = bin("check_replayer_procs");
    let missing_flag = scratch.join("no-flag");
    let inside = window_around_now(true);
    let outside = window_around_now(false);
    let args = |w: &str| {
        vec![
            "-C".to_string(),
            absent.clone(),
            "--sync-flag".into(),
            missing_flag.to_str().unwrap().into(),
            "--sync-window".into(),
            w.to_string(),
        ]
    };
    let run_s = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&ours, &a)
    };
    let (out, code) = run_s(args(&inside));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "(data sync in progress for 1h, window {inside} UTC; would be CRITICAL)"
        )) || out.contains(&format!(
            "(data sync in progress for 1h1m, window {inside} UTC; would be CRITICAL)"
        )),
        "{out}"
    );
    let (out, code) = run_s(args(&outside));
    assert_eq!(code, 2, "{out}");
    // The short spelling is accepted too.
    let (out, code) = run_s(args("0:0-0:1"));
    assert_ne!(code, 3, "22:0-8:0 style accepted: {out}");
}
