//! `check_replay_rate`: replayed requests per second over a window, read from the daemon's
//! status socket, naming the cause when it is low.

use clap::Parser;
use replayer_checks::rate::{parse_window, RateCheck};
use replayer_checks::status_client::{self, DEFAULT_SOCKET};
use replayer_checks::{parse_threshold, plugin, Common, Outcome, PluginArgs, State, ThresholdArg};
use std::path::PathBuf;
use std::time::Duration;

/// Checks that the replayer is replaying: requests per second sent to staging.
#[derive(Debug, Parser)]
#[command(
    name = "check_replay_rate",
    version,
    override_usage = "check_replay_rate [-S socket] [--window 60|300|900] [-w range] [-c range] [-t timeout] [-v] [--sync-flag path] [--sync-max-age duration] [--sync-window HH:MM-HH:MM]",
    after_help = "Ranges are [@]start:end (alert outside, endpoints OK; @ alerts inside): 0.1: alerts below 0.1 requests/s.\nWhile the sync flag says a data sync is running, WARNING and CRITICAL become OK with the truth in the text."
)]
struct Args {
    /// The daemon's status socket.
    #[arg(short = 'S', long = "socket", value_name = "PATH", allow_hyphen_values = true, default_value = DEFAULT_SOCKET)]
    socket: PathBuf,

    /// Window in seconds: 60, 300 or 900.
    #[arg(long = "window", value_name = "SECONDS", allow_hyphen_values = true, default_value = "300", value_parser = parse_window)]
    window: u64,

    /// Warning range for replayed requests per second.
    #[arg(short = 'w', long = "warning", value_name = "RANGE", allow_hyphen_values = true, default_value = "0.1:",
          value_parser = parse_threshold)]
    warning: ThresholdArg,

    /// Critical range for replayed requests per second.
    #[arg(short = 'c', long = "critical", value_name = "RANGE", allow_hyphen_values = true, default_value = "0.01:",
          value_parser = parse_threshold)]
    critical: ThresholdArg,

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
        "REPLAY RATE",
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
            let check = RateCheck {
                window: args.window,
                warn: args.warning.range,
                crit: args.critical.range,
                verbose: args.common.verbose,
            };
            Ok(check.evaluate(&doc)?)
        },
    )
}
