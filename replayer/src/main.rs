//! `replayer`: the command-line entry point. Kept thin; the work is in the library.
//!
//! `config::cli` parses (GoReplay flags, `--config`), then either the daemon runs (when there
//! is an `-output-http` target) or `flow::run` runs the capture into stdout, file or null
//! outputs. Exit codes, the same in every mode: 0 done, 1 failed while running, 2 what was
//! given cannot be used (`flow::FlowError::exit_code`; docs/daemon.md, "Exit codes").
//! `replayer status ...` (a leading `status` word, which no GoReplay command line has) asks a
//! running daemon instead (`status_cmd`), and `replayer diff ...` shows how staging's answers
//! compare with production's (`diff_cmd`).

use replayer::capture::Input;
use replayer::config::cli::{self, Invocation};

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|word| word == "status")
    {
        return replayer::status_cmd::run(std::env::args_os().skip(1));
    }
    if std::env::args_os()
        .nth(1)
        .is_some_and(|word| word == "diff")
    {
        return replayer::diff_cmd::run(std::env::args_os().skip(1));
    }
    let config = match cli::parse(std::env::args_os()) {
        Ok(Invocation::Print(text)) => {
            print!("{text}");
            return 0;
        }
        Ok(Invocation::Run(config)) => config,
        Err(e) => {
            eprintln!("replayer: {e}");
            return 2;
        }
    };
    init_logging(config.verbose, config.stats);
    if let Some(records) = config.records.as_ref().filter(|r| r.dry_run) {
        return dry_run(records);
    }
    // Reading a capture or record file in a terminal: a progress bar on stderr (nothing
    // otherwise, and nothing for several record files).
    let progress = match (&config.records, &config.capture.input) {
        (Some(records), _) => records
            .single_path()
            .and_then(replayer::progress::FileProgress::start),
        (None, Input::File { path, .. }) => replayer::progress::FileProgress::start(path),
        (None, Input::Live { .. }) => None,
    };
    // Errors come after the bar is finished, so they never land in the middle of it.
    let outcome = if !config.outputs.http.is_empty() {
        replayer::daemon::run(&config)
    } else {
        replayer::flow::run(&config).map(drop)
    };
    if let Some(progress) = progress {
        progress.finish(outcome.is_ok());
    }
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("replayer: {e}");
            e.exit_code()
        }
    }
}

/// `--input-file-dry-run`: the count and duration on stdout, nothing sent. Exit 0, or 2 when
/// a file cannot be opened, 1 when one is damaged.
fn dry_run(records: &replayer::records::input::RecordInput) -> i32 {
    let found = replayer::records::input::open(records).and_then(|t| t.dry_run());
    match found {
        Ok(found) => {
            println!(
                "input-file dry run: {} requests in {} records; one pass would take {:.3}s",
                found.requests,
                found.records,
                found.duration.as_secs_f64()
            );
            0
        }
        Err(e) => {
            let e = replayer::flow::FlowError::from(e);
            eprintln!("replayer: {e}");
            e.exit_code()
        }
    }
}

/// Logs go to stderr, where an init system collects them: warnings only unless -verbose
/// (or -stats, whose summary lines are at info level). `RUST_LOG` overrides.
fn init_logging(verbose: u8, stats: bool) {
    let level = match verbose {
        0 if stats => "warn,replayer=info",
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colours only on a terminal: the journal and log files get plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr closed: `2>&1 | head`, a restarted
        // journal) is lost, not reported with eprintln!, which panics on a closed stderr.
        .log_internal_errors(false)
        .with_ansi(colour)
        .with_env_filter(filter)
        .init();
}
