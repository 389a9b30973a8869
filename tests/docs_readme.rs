//! What README.md shows is what the programs do: the quick start's capture-file output, the
//! troubleshooting section's configuration error, and `verbose = 1` logging why each failed
//! replay failed. Also that a closed stderr (`2>&1 | head`) never crashes the daemon.

use crate::util::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn readme() -> String {
    std::fs::read_to_string(workspace_root().join("README.md")).unwrap()
}

#[test]
fn the_quick_start_capture_file_prints_what_the_readme_shows() {
    let _processes = lock::processes();
    let readme = readme();
    let command =
        "target/debug/replayer -input-raw demo/production.pcap:7999 -output-stdout | head -8";
    let after = readme
        .split_once(command)
        .expect("README shows the capture-file command")
        .1;
    let shown = after
        .split_once("```text\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("README shows its output")
        .0;
    let out = run_with_timeout(
        Command::new(bin("replayer"))
            .current_dir(workspace_root())
            .args(["-input-raw", "demo/production.pcap:7999", "-output-stdout"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first: Vec<&str> = stdout.lines().take(shown.lines().count()).collect();
    assert_eq!(first, shown.lines().collect::<Vec<_>>());
}

#[test]
fn the_configuration_error_is_the_one_the_readme_quotes() {
    let _processes = lock::processes();
    let readme = readme();
    let quoted = readme
        .split("`replayer: http-allow-method: ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("README quotes the unsafe-method error");
    let out = run_with_timeout(
        Command::new(bin("replayer")).args([
            "-input-raw",
            ":80",
            "-output-stdout",
            "-http-allow-method",
            "POST",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("replayer: http-allow-method: {quoted}\n")
    );
}

/// A config replaying the bundled capture to a port nobody listens on, with `verbose = 1`.
fn failing_config(scratch: &Scratch) -> std::path::PathBuf {
    let path = scratch.join("replayer.toml");
    let capture = workspace_root().join("demo/production.pcap");
    std::fs::write(
        &path,
        format!(
            "input-raw = \"{}:7999\"\noutput-http = [\"http://127.0.0.1:1\"]\nverbose = 1\n\
             status-socket = \"{}\"\nsync-flag = \"{}\"\n",
            capture.display(),
            scratch.join("status.sock").display(),
            scratch.join("no-sync").display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn verbose_logs_why_each_replay_failed() {
    let _processes = lock::processes();
    assert!(
        readme().contains("add `verbose = 1` to the config to log why\neach failed replay failed"),
        "README's troubleshooting advice changed: update this test"
    );
    let scratch = Scratch::new("readme-verbose");
    let out = run_with_timeout(
        Command::new(bin("replayer"))
            .arg("--config")
            .arg(failing_config(&scratch)),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // One line per failed attempt, saying how many requests it carried (a pipelined batch
    // fails together).
    let failures: usize = stderr
        .lines()
        .filter(|l| {
            l.contains("replay failed: Connection refused")
                && l.contains("target=http://127.0.0.1:1")
        })
        .map(|l| {
            let n = l.rsplit("requests=").next().unwrap_or_default();
            n.trim()
                .parse::<usize>()
                .unwrap_or_else(|_| panic!("no count in {l}"))
        })
        .sum();
    // Every request the capture holds that is replayable fails; each is logged.
    assert!(failures >= 60, "{failures} failures logged:\n{stderr}");
}

#[test]
fn a_closed_stderr_never_crashes_the_daemon() {
    let _processes = lock::processes();
    let scratch = Scratch::new("readme-stderr");
    let mut child = Command::new(bin("replayer"))
        .arg("--config")
        .arg(failing_config(&scratch))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read up to the first failed replay, then close the pipe: every later log line hits a
    // broken pipe.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("replay failed") {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no failure logged: {seen}"
        );
        seen.push_str(&line);
    }
    drop(stderr);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "the daemon died on a closed stderr");
}
