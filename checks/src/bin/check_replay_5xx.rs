//! `check_replay_5xx`: the share of 5xx among staging's responses over a window (or 5xx per
//! second), read from the daemon's status socket.

use clap::Parser;
use replayer_checks::five_xx::FiveXxCheck;
use replayer_checks::rate::parse_window;
use replayer_checks::status_client::{self, DEFAULT_SOCKET};
use replayer_checks::{parse_threshold, plugin, Common, Outcome, PluginArgs, State, ThresholdArg};
use std::path::PathBuf;
use std::time::Duration;

/// Checks staging's health as replayed traffic sees it: 5xx responses.
#[derive(Debug, Parser)]
#[command(
    name = "check_replay_5xx",
    version,
    override_usage = "check_replay_5xx [-S socket] [--window 60|300|900] [-w range] [-c range] [--min-responses N] [--per-second] [-t timeout] [-v] [--sync-flag path] [--sync-max-age duration] [--sync-window HH:MM-HH:MM]",
    after_help = "Ranges are [@]start:end (alert outside, endpoints OK; @ alerts inside): 0.05 alerts above a 5xx ratio of 0.05.\nWhile the sync flag says a data sync is running, WARNING and CRITICAL become OK with the truth in the text."
)]
struct Args {
    /// The daemon's status socket.
    #[arg(short = 'S', long = "socket", value_name = "PATH", allow_hyphen_values = true, default_value = DEFAULT_SOCKET)]
    socket: PathBuf,

    /// Window in seconds: 60, 300 or 900.
    #[arg(long = "window", value_name = "SECONDS", allow_hyphen_values = true, default_value = "300", value_parser = parse_window)]
    window: u64,

    /// Warning range for the 5xx ratio (or 5xx/s with --per-second).
    #[arg(short = 'w', long = "warning", value_name = "RANGE", allow_hyphen_values = true, default_value = "0.05",
          value_parser = parse_threshold)]
    warning: ThresholdArg,

    /// Critical range for the 5xx ratio (or 5xx/s with --per-second).
    #[arg(short = 'c', long = "critical", value_name = "RANGE", allow_hyphen_values = true, default_value = "0.1",
          value_parser = parse_threshold)]
    critical: ThresholdArg,

    /// Below this many responses in the window the ratio is not judged (stays OK, says so).
    #[arg(
        long = "min-responses",
        value_name = "N",
        allow_hyphen_values = true,
        default_value_t = 20
    )]
    min_responses: u64,

    /// Thresholds apply to 5xx responses per second instead of the ratio.
    #[arg(long = "per-second")]
    per_second: bool,

    #[command(flatten)]
    common: Common,
}

impl PluginArgs for Args {
    fn common(&self) -> &Common {
        &self.common
    }
}

fn main() {
    plugin::run::<Args, _, _>(
        "REPLAY 5XX",
        |args| {
            Outcome::new(
                State::Critical,
                format!(
                    "status socket {} did not answer within {} s",
                    args.socket.display(),
                    args.common.timeout
                ),
            )
        },
        |args, _ctx| {
            let doc = match status_client::fetch(
                &args.socket,
                Duration::from_secs(args.common.timeout),
            ) {
                Ok(doc) => doc,
                Err(e) => return Ok(Outcome::new(e.state(), e.to_string())),
            };
            let check = FiveXxCheck {
                window: args.window,
                warn: args.warning.range,
                crit: args.critical.range,
                min_responses: args.min_responses,
                per_second: args.per_second,
                verbose: args.common.verbose,
            };
            Ok(check.evaluate(&doc)?)
        },
    )
}
