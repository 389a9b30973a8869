//! The progress bar for capture files: drawn on a terminal (`script` gives the program a real
//! pseudo-terminal) when converting and when replaying to staging, and absent when stderr is
//! not a terminal, where the output stays exactly what it was.

use crate::util::*;
use std::process::Command;
use std::time::Duration;

/// `demo/production.pcap`'s size as indicatif prints it (54,170 bytes).
const FINISHED: &str = "100% 52.90 KiB/52.90 KiB (";

fn pcap_arg() -> String {
    format!(
        "{}:7999",
        workspace_root().join("demo/production.pcap").display()
    )
}

/// Runs `replayer ARGS` with stdout and stderr on a pseudo-terminal; returns what it drew.
fn on_a_terminal(args: &[String]) -> String {
    let mut line = bin("replayer").display().to_string();
    for arg in args {
        line.push_str(&format!(" '{arg}'"));
    }
    let out = run_with_timeout(
        Command::new(require_tool("script"))
            .args(["-qec", &line, "/dev/null"])
            .env("TERM", "xterm"),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{line}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn not_a_terminal_no_bar_and_the_output_unchanged() {
    let _processes = lock::processes();
    let out = run_with_timeout(
        Command::new(bin("replayer")).args(["-input-raw", &pcap_arg(), "-output-stdout"]),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "stderr stays empty"
    );
    // Nothing but records on stdout (the 71 GET/HEAD/OPTIONS of the 77), no control characters.
    assert_eq!(goreplay_records(&out.stdout).len(), 71);
    assert!(!out.stdout.contains(&0x1b), "no escape sequences");
}

#[test]
fn a_terminal_gets_a_bar_when_converting_and_when_replaying() {
    let _processes = lock::processes();
    let drawn = on_a_terminal(&["-input-raw".into(), pcap_arg(), "-output-null".into()]);
    assert!(
        drawn.contains("production.pcap [") && drawn.contains(FINISHED),
        "{drawn:?}"
    );
    assert!(drawn.contains("B/s, ETA "), "rate and ETA: {drawn:?}");

    let scratch = Scratch::new("progress-replay");
    let staging = Nginx::start(&scratch.join("staging"), "");
    let drawn = on_a_terminal(&[
        "-input-raw".into(),
        pcap_arg(),
        "-output-http".into(),
        staging.url(),
        "--status-socket".into(),
        scratch.join("status.sock").display().to_string(),
        "--sync-flag".into(),
        scratch.join("no-flag").display().to_string(),
    ]);
    assert!(drawn.contains(FINISHED), "{drawn:?}");
    // demo/production.pcap: 71 of its 77 requests are GET/HEAD/OPTIONS.
    assert_eq!(staging.wait_for_log(71, Duration::from_secs(10)).len(), 71);
}
