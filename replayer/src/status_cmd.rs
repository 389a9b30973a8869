//! `replayer status`: the running daemon's state for a human, like `systemctl status`.
//!
//! Reads the status socket with the plugins' client ([`replayer_status::client`]) and prints a
//! summary (state, sync, capture and its drops, per-window rates, 5xx ratio and latency, the
//! requests not replayed and why, per target), or with `--json` the document as the daemon
//! sent it. The exit status says the state, so scripts need not parse the text:
//!
//! | exit | meaning |
//! |------|---------|
//! | 0 | replaying |
//! | 1 | paused: a data sync is in progress (the daemon is up and deliberately not replaying) |
//! | 2 | bad command line |
//! | 3 | not answering: no socket, nobody listening, or no answer in time (`systemctl`'s "inactive") |
//! | 4 | answered, but the document is unreadable (LSB's "status unknown") |
//! | 5 | starting or stopping |
//!
//! The bullet is coloured only when stdout is a terminal (and `NO_COLOR` is unset), so the
//! text piped or logged is plain.

use clap::{CommandFactory, Parser};
use replayer_status::client::{self, FetchError, DEFAULT_SOCKET};
use replayer_status::parse_rfc3339;
use replayer_status::schema::{DaemonState, ResponseClasses, StatusDocument};
use replayer_status::sync::format_duration;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

// Exit statuses (the table in the module documentation).
/// The daemon answered and is replaying.
pub const EXIT_REPLAYING: i32 = 0;
/// The daemon answered and is paused for a data sync: up, deliberately not replaying.
pub const EXIT_PAUSED: i32 = 1;
/// The command line could not be parsed; the daemon was not asked.
pub const EXIT_USAGE: i32 = 2;
/// No answer: no socket, nobody listening, or no answer in time (`systemctl`'s inactive).
pub const EXIT_NOT_ANSWERING: i32 = 3;
/// Something answered, but not with a document this version can read (LSB's "unknown").
pub const EXIT_UNREADABLE: i32 = 4;
/// The daemon answered and is starting or stopping.
pub const EXIT_TRANSITION: i32 = 5;

const AFTER_HELP: &str = "\
Exit status: 0 replaying, 1 paused for a data sync, 2 bad command line, 3 not answering (no \
socket, nobody listening, or no answer in time), 4 answered with an unreadable document, \
5 starting or stopping.";

/// Shows the running daemon's state, read from its status socket.
#[derive(Debug, Parser)]
#[command(
    name = "replayer-status",
    bin_name = "replayer status",
    version,
    after_help = AFTER_HELP,
    color = clap::ColorChoice::Never,
    max_term_width = 100
)]
pub struct StatusArgs {
    /// The daemon's status socket (its --status-socket)
    #[arg(short = 'S', long = "socket", value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print the status document as the daemon sent it (JSON, schema 1)
    #[arg(long)]
    pub json: bool,
    /// Seconds to wait for an answer
    #[arg(short = 't', long = "timeout", value_name = "SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

/// The clap command (also what the man page and completions are made from).
pub fn command() -> clap::Command {
    StatusArgs::command()
}

/// Runs `replayer status ARGS...` (`args` starts with the word `status`) and returns the
/// exit status.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: StatusArgs = match parse_args("replayer status", args) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let timeout = Duration::from_secs(args.timeout);
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (text, code) = if args.json {
        match client::fetch_bytes(&args.socket, timeout) {
            Ok(bytes) => {
                let mut text = String::from_utf8_lossy(&bytes).into_owned();
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                let code = match client::parse(&bytes) {
                    Ok(doc) => exit_code(doc.state),
                    Err(_) => EXIT_UNREADABLE,
                };
                (text, code)
            }
            Err(e) => {
                eprintln!("replayer status: {e}");
                return failure_code(&e);
            }
        }
    } else {
        match client::fetch(&args.socket, timeout) {
            Ok(doc) => (render(&doc, colour), exit_code(doc.state)),
            Err(e) => (render_failure(&e, colour), failure_code(&e)),
        }
    };
    // A closed stdout (`replayer status | head -1`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(text.as_bytes());
    code
}

/// Parses a subcommand's arguments (`args` starts with its word): `--help` and `--version`
/// print and give `Err(0)`; anything bad is one line on stderr, named `what`, and `Err(2)`.
pub fn parse_args<T: Parser>(
    what: &str,
    args: impl IntoIterator<Item = OsString>,
) -> Result<T, i32> {
    let matches = match T::command().try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(e) => {
            use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
            if matches!(e.kind(), DisplayHelp | DisplayVersion) {
                print!("{}", e.render());
                return Err(EXIT_REPLAYING);
            }
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("{what}: {}", line.strip_prefix("error: ").unwrap_or(line));
            return Err(EXIT_USAGE);
        }
    };
    T::from_arg_matches(&matches).map_err(|e| {
        eprintln!("{what}: {e}");
        EXIT_USAGE
    })
}

/// The exit status for a daemon in `state`.
pub fn exit_code(state: DaemonState) -> i32 {
    match state {
        DaemonState::Replaying => EXIT_REPLAYING,
        DaemonState::Paused => EXIT_PAUSED,
        DaemonState::Starting | DaemonState::Stopping => EXIT_TRANSITION,
    }
}

/// The exit status when the daemon could not be read: not answering, or unreadable.
pub fn failure_code(error: &FetchError) -> i32 {
    if error.not_answering() {
        EXIT_NOT_ANSWERING
    } else {
        EXIT_UNREADABLE
    }
}

/// The colour of the bullet, as ANSI SGR codes.
#[derive(Clone, Copy)]
enum Colour {
    Green = 32,
    Yellow = 33,
    Red = 31,
}

fn bullet(colour: Colour, on_terminal: bool) -> String {
    if on_terminal {
        format!("\x1b[{}m●\x1b[0m", colour as u8)
    } else {
        "●".to_string()
    }
}

/// Label column: right-aligned like `systemctl status`'s.
fn line(out: &mut String, label: &str, text: impl std::fmt::Display) {
    let _ = writeln!(out, "{label:>13}: {text}");
}

/// What a daemon that does not answer (or answers nonsense) looks like.
pub fn render_failure(error: &FetchError, on_terminal: bool) -> String {
    let mut out = String::new();
    let what = if error.not_answering() {
        "not answering (is the daemon running? systemctl status replayer)"
    } else {
        "status unknown"
    };
    let _ = writeln!(out, "{} replayer: {what}", bullet(Colour::Red, on_terminal));
    line(&mut out, "Reason", error);
    out
}

/// The summary of a document.
pub fn render(doc: &StatusDocument, on_terminal: bool) -> String {
    let mut out = String::new();
    let (colour, state) = match doc.state {
        DaemonState::Replaying => (Colour::Green, "replaying"),
        DaemonState::Paused => (Colour::Yellow, "paused (data sync in progress)"),
        DaemonState::Starting => (Colour::Yellow, "starting"),
        DaemonState::Stopping => (Colour::Yellow, "stopping"),
    };
    let _ = writeln!(out, "{} replayer: {state}", bullet(colour, on_terminal));

    let uptime = match (parse_rfc3339(&doc.started_at), parse_rfc3339(&doc.now)) {
        (Ok(start), Ok(now)) => now.duration_since(start).unwrap_or_default(),
        _ => Duration::ZERO,
    };
    line(
        &mut out,
        "Daemon",
        format_args!(
            "pid {}, version {}, up {} (since {})",
            doc.pid,
            doc.version,
            format_duration(uptime),
            doc.started_at
        ),
    );

    let sync = &doc.sync;
    let sync_text = if !sync.in_progress {
        format!("no data sync in progress (flag {})", sync.flag)
    } else {
        let since = match sync.since.as_deref() {
            Some(since) => {
                let running = match (parse_rfc3339(since), parse_rfc3339(&doc.now)) {
                    (Ok(s), Ok(now)) => now.duration_since(s).unwrap_or_default(),
                    _ => Duration::ZERO,
                };
                format!("since {since} ({})", format_duration(running))
            }
            None => "(inside the sync window)".to_string(),
        };
        let stale = if sync.stale {
            "; STALE: set for longer than --sync-max-age, clear it or fix the sync"
        } else {
            ""
        };
        format!("data sync in progress {since}, flag {}{stale}", sync.flag)
    };
    line(&mut out, "Sync", sync_text);

    let c = &doc.capture;
    line(
        &mut out,
        "Capture",
        format_args!(
            "{}: {} packets, {} bytes, {} streams now",
            c.source, c.packets, c.bytes, c.streams
        ),
    );
    line(
        &mut out,
        "Capture drops",
        format_args!(
            "{} by the kernel (buffer full), {} by the interface, {} reassembly gaps, \
             {} requests cut (gap, unparseable), {} over a reassembly cap",
            c.kernel_dropped, c.if_dropped, c.reassembly_gaps, c.requests_cut, c.dropped_over_cap
        ),
    );
    // In the causes' order of the design (docs/design.md), not the document's alphabetical
    // one; a daemon from before the framing rules reports none.
    let skipped = if c.framing_skipped.is_empty() {
        "not reported by this daemon".to_string()
    } else {
        let count = |cause: &str| c.framing_skipped.get(cause).copied().unwrap_or(0);
        format!(
            "{} connections not replayed past a framing error: {} bad head, {} bad length, \
             {} head too large, {} bad chunk",
            c.framing_skipped.values().sum::<u64>(),
            count("bad_head"),
            count("bad_length"),
            count("head_too_large"),
            count("bad_chunk")
        )
    };
    line(&mut out, "Framing", skipped);

    let r = &doc.requests;
    line(
        &mut out,
        "Requests",
        format_args!(
            "{} seen, {} queued, {} replayed (answered), {} failed (no answer)",
            r.seen, r.queued, r.replayed, r.failed
        ),
    );
    line(
        &mut out,
        "Not replayed",
        format_args!(
            "{} filtered (method, URL, header rules), {} sampled out (limits), \
             {} paused for sync, {} queue full (staging too slow)",
            r.filtered, r.sampled_out, r.paused_sync, r.dropped_queue_full
        ),
    );
    line(&mut out, "Responses", classes(&doc.responses));

    // Windows in length order; the last four columns are the requests not replayed, by cause.
    out.push('\n');
    let _ = writeln!(
        out,
        "{:>9} {:>8} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "Window",
        "Seen",
        "Replayed/s",
        "5xx ratio",
        "p50 ms",
        "p99 ms",
        "Filtered",
        "Sampled",
        "Paused",
        "Queue full"
    );
    let mut windows: Vec<_> = doc.windows.iter().collect();
    windows.sort_by_key(|(key, _)| key.parse::<u64>().unwrap_or(u64::MAX));
    for (key, w) in windows {
        let ratio = w
            .ratio_5xx
            .map_or("-".to_string(), |r| format!("{:.2} %", r * 100.0));
        let _ = writeln!(
            out,
            "{:>9} {:>8} {:>10.2} {:>9} {:>8.3} {:>8.3} {:>8} {:>8} {:>8} {:>10}",
            format!("{key} s"),
            w.seen,
            w.replayed_per_s,
            ratio,
            w.latency_ms.p50,
            w.latency_ms.p99,
            w.filtered,
            w.sampled_out,
            w.paused_sync,
            w.dropped_queue_full
        );
    }

    out.push('\n');
    for t in &doc.targets {
        line(
            &mut out,
            "Target",
            format_args!(
                "{}: {} replayed, {} failed, {} in flight; {}",
                t.url,
                t.replayed,
                t.failed,
                t.in_flight,
                classes(&t.responses)
            ),
        );
    }
    out
}

fn classes(c: &ResponseClasses) -> String {
    format!(
        "1xx {}, 2xx {}, 3xx {}, 4xx {}, 5xx {}",
        c.c1xx, c.c2xx, c.c3xx, c.c4xx, c.c5xx
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAUSED: &str = include_str!("../../checks/demo/status-paused.json");

    #[test]
    fn a_paused_daemon_in_full() {
        let doc = client::parse(PAUSED.as_bytes()).unwrap();
        let text = render(&doc, false);
        let expected = "\
● replayer: paused (data sync in progress)
       Daemon: pid 4242, version 0.1.0, up 8h22m (since 2026-11-24T06:00:00Z)
         Sync: data sync in progress since 2026-11-24T12:09:00Z (2h13m), flag /etc/govuk/env.d/FACTER_data_sync_in_progress
";
        assert!(text.starts_with(expected), "{text}");
        // A document from before the framing rules has no `framing_skipped`.
        assert!(
            text.contains("\n      Framing: not reported by this daemon\n"),
            "{text}"
        );
        assert_eq!(exit_code(doc.state), EXIT_PAUSED);
        // Colour only when asked for (a terminal).
        assert!(!text.contains('\x1b'));
        assert!(render(&doc, true).starts_with("\x1b[33m●\x1b[0m replayer: paused"));
    }

    #[test]
    fn the_example_in_docs_daemon_md_is_what_it_prints() {
        let doc = client::parse(include_bytes!("../../checks/demo/status.json")).unwrap();
        let page = include_str!("../../docs/daemon.md");
        let section = &page[page.find("## `replayer status`").expect("section")..];
        let start = section.find("```\n").expect("example") + 4;
        let end = start + section[start..].find("```").expect("end of example");
        assert_eq!(render(&doc, false), &section[start..end]);
    }

    #[test]
    fn every_state_has_its_exit_code() {
        assert_eq!(exit_code(DaemonState::Replaying), 0);
        assert_eq!(exit_code(DaemonState::Paused), 1);
        assert_eq!(exit_code(DaemonState::Starting), 5);
        assert_eq!(exit_code(DaemonState::Stopping), 5);
    }
}
