//! `check_replay_5xx`: the share of 5xx among staging's responses over a window (or 5xx per
//! second), read from the daemon's status socket.

use clap::Parser;
use replayer_checks::five_xx::FiveXxCheck;
use replayer_checks::status_client::{run_check, SocketArgs, SocketPlugin};
use replayer_checks::{parse_threshold, Common, PluginArgs, ThresholdArg};

/// Checks staging's health as replayed traffic sees it: 5xx responses.
#[derive(Debug, Parser)]
#[command(
    name = "check_replay_5xx",
    version,
    args_override_self = true,
    override_usage = "check_replay_5xx [-S socket] [--window 60|300|900] [-w range] [-c range] [--min-responses N] [--per-second] [-t timeout] [-v] [--sync-flag path] [--sync-max-age duration] [--sync-window HH:MM-HH:MM]",
    after_help = "Ranges are [@]start:end (alert outside, endpoints OK; @ alerts inside): 0.05 alerts above a 5xx ratio of 0.05.\nWhile the sync flag says a data sync is running, WARNING and CRITICAL become OK with the truth in the text."
)]
struct Args {
    #[command(flatten)]
    socket: SocketArgs,

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

impl SocketPlugin for Args {
    fn socket_args(&self) -> &SocketArgs {
        &self.socket
    }
}

fn main() {
    run_check::<Args, _>("REPLAY 5XX", |args, doc| {
        let check = FiveXxCheck {
            window: args.socket.window,
            warn: args.warning.range,
            crit: args.critical.range,
            min_responses: args.min_responses,
            per_second: args.per_second,
            verbose: args.common.verbose,
        };
        check.evaluate(doc)
    })
}
