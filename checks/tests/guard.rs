//! The guard around every plugin: a check that panics, fails or hangs still ends with exactly
//! one `LABEL UNKNOWN: ...` line and exit code 3. Each case re-runs this test binary as a child
//! process (`GUARD_CASE=...`), because the guard ends the process it runs in.

use clap::Parser;
use replayer_checks::plugin::{run_with_args, Common, Outcome, PluginArgs, State};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(name = "guard")]
struct Args {
    #[command(flatten)]
    common: Common,
}

impl PluginArgs for Args {
    fn common(&self) -> &Common {
        &self.common
    }
}

fn timed_out(args: &Args) -> Outcome {
    Outcome::new(
        State::Unknown,
        format!("plugin timed out after {} s", args.common.timeout),
    )
}

/// What the child does: one plugin run that goes wrong in the named way.
fn child(case: &str) -> ! {
    let argv = ["guard", "-t", "1", "--sync-flag", "/nonexistent/flag"].map(Into::into);
    match case {
        "panic" => run_with_args::<Args, _, _>("GUARD", argv, timed_out, |_, _| panic!("boom")),
        "panic-in-thread" => run_with_args::<Args, _, _>("GUARD", argv, timed_out, |_, _| {
            let _ = std::thread::spawn(|| panic!("boom in a thread")).join();
            Ok(Outcome::new(State::Ok, "not reached"))
        }),
        "error" => run_with_args::<Args, _, _>("GUARD", argv, timed_out, |_, _| {
            Err("the check could not read something".into())
        }),
        "hang" => run_with_args::<Args, _, _>("GUARD", argv, timed_out, |_, _| loop {
            std::thread::sleep(Duration::from_secs(60));
        }),
        other => panic!("unknown case {other}"),
    }
}

#[test]
fn child_entry() {
    if let Ok(case) = std::env::var("GUARD_CASE") {
        child(&case);
    }
}

/// Runs one case; returns the plugin's line (the test harness prints its own lines too) and
/// the exit code.
fn run_case(case: &str) -> (Vec<String>, i32) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("GUARD_CASE", case)
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        // The harness's "test child_entry ... " precedes our line, without a newline.
        .filter_map(|l| l.find("GUARD ").map(|at| l[at..].to_string()))
        .collect();
    (lines, out.status.code().expect("exited, not killed"))
}

#[test]
fn a_panic_becomes_unknown() {
    let (lines, code) = run_case("panic");
    assert_eq!(code, 3);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("GUARD UNKNOWN: internal error: boom at checks/tests/guard.rs:"),
        "{lines:?}"
    );
    let (lines, code) = run_case("panic-in-thread");
    assert_eq!(code, 3);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("GUARD UNKNOWN: internal error: boom in a thread at "),
        "{lines:?}"
    );
}

#[test]
fn an_error_becomes_unknown_with_its_message() {
    assert_eq!(
        run_case("error"),
        (
            vec!["GUARD UNKNOWN: the check could not read something".to_string()],
            3
        )
    );
}

#[test]
fn a_hang_ends_at_the_timeout() {
    let started = Instant::now();
    let result = run_case("hang");
    let took = started.elapsed();
    assert_eq!(
        result,
        (
            vec!["GUARD UNKNOWN: plugin timed out after 1 s".to_string()],
            3
        )
    );
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(5),
        "{took:?}"
    );
}
