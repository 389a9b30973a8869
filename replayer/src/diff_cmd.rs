//! `replayer diff`: how staging's answers compare with production's, from the running
//! daemon's status socket, for a terminal (or `--json`): the totals since start and over a
//! window, the differences by cause, and the routes that differ most with an example each.
//!
//! Exit status: 0 shown, 1 the daemon does not compare (started without `--diff`), 2 bad
//! command line, 3 not answering, 4 answered with an unreadable document (as `replayer
//! status`).

use crate::status_cmd::{failure_code, parse_args};
use clap::Parser;
use replayer_status::client::{self, DEFAULT_SOCKET};
use replayer_status::schema::{DiffCounters, StatusDocument};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// The daemon answered but does not compare answers.
pub const EXIT_NOT_COMPARING: i32 = 1;

/// Shows how staging's answers compare with production's, read from the daemon's socket.
#[derive(Debug, Parser)]
#[command(
    name = "replayer-diff",
    bin_name = "replayer diff",
    version,
    after_help = "Exit status: 0 shown, 1 the daemon does not compare (no --diff), 2 bad command \
                  line, 3 not answering, 4 answered with an unreadable document.",
    color = clap::ColorChoice::Never,
    max_term_width = 100
)]
pub struct DiffArgs {
    /// The daemon's status socket (its --status-socket)
    #[arg(short = 'S', long = "socket", value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// The window shown next to the totals: 60, 300 or 900 seconds
    #[arg(long = "window", value_name = "SECONDS", default_value = "300",
          value_parser = ["60", "300", "900"])]
    pub window: String,
    /// Print the comparison's part of the status document as JSON
    #[arg(long)]
    pub json: bool,
    /// Seconds to wait for an answer
    #[arg(short = 't', long = "timeout", value_name = "SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

/// Runs `replayer diff ARGS...` (`args` starts with the word `diff`); returns the exit status.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: DiffArgs = match parse_args("replayer diff", args) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let doc = match client::fetch(&args.socket, Duration::from_secs(args.timeout)) {
        Ok(doc) => doc,
        Err(e) => {
            eprintln!("replayer diff: {e}");
            return failure_code(&e);
        }
    };
    let (text, code) = if !doc.diff.enabled {
        (
            "the daemon does not compare staging's answers with production's: start it with --diff\n"
                .to_string(),
            EXIT_NOT_COMPARING,
        )
    } else if args.json {
        let part = serde_json::json!({
            "diff": doc.diff,
            "windows": doc.windows.iter().map(|(w, v)| (w.clone(), &v.diff)).collect::<std::collections::BTreeMap<_, _>>(),
            "diff_routes": doc.diff_routes,
        });
        (format!("{part}\n"), 0)
    } else {
        (render(&doc, &args.window), 0)
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    code
}

/// One line of figures: `14 compared: 5 same, 6 differing (42.86%), 3 noisy, ...`.
fn summary(d: &DiffCounters) -> String {
    let share = match d.compared {
        0 => String::new(),
        n => format!(" ({:.2}%)", d.differing as f64 * 100.0 / n as f64),
    };
    format!(
        "{} compared: {} same, {} differing{share}, {} noisy; production's answer missing {}, staging slower {}, untracked {}",
        d.compared, d.same, d.differing, d.noisy, d.prod_missing, d.slower, d.untracked
    )
}

/// `status 3, body 1`: the non-zero causes, or `none`.
fn causes(by_cause: &std::collections::BTreeMap<String, u64>) -> String {
    let list: Vec<String> = by_cause
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(cause, n)| format!("{cause} {n}"))
        .collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

/// The report for a terminal.
pub fn render(doc: &StatusDocument, window: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Since start:  {}", summary(&doc.diff));
    let _ = writeln!(out, "  by cause:   {}", causes(&doc.diff.by_cause));
    if let Some(w) = doc.windows.get(window) {
        let _ = writeln!(out, "Last {window} s: {}", summary(&w.diff));
        let _ = writeln!(out, "  by cause:   {}", causes(&w.diff.by_cause));
    }
    if doc.diff_routes.is_empty() {
        let _ = writeln!(out, "\nNo route differs.");
        return out;
    }
    let _ = writeln!(out, "\nRoutes that differ most (since start):");
    for route in &doc.diff_routes {
        let e = &route.example;
        let _ = writeln!(
            out,
            "  {:>6}  {}\n          {}\n          e.g. {} {}: production {}, staging {} ({})",
            route.differing,
            route.route,
            causes(&route.by_cause),
            e.method,
            e.target,
            e.production_status,
            e.staging_status,
            e.cause
        );
    }
    out
}
