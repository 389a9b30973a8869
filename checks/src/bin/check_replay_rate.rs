//! `check_replay_rate`: replayed requests per second over a window, read from the daemon's
//! status socket, naming the cause when it is low.

use clap::Parser;
use replayer_checks::rate::RateCheck;
use replayer_checks::status_client::{run_check, SocketArgs, SocketPlugin};
use replayer_checks::{parse_threshold, Common, PluginArgs, ThresholdArg};

/// Checks that the replayer is replaying: requests per second sent to staging.
#[derive(Debug, Parser)]
#[command(
    name = "check_replay_rate",
    version,
    args_override_self = true,
    override_usage = "check_replay_rate [-S socket] [--window 60|300|900] [-w range] [-c range] [-t timeout] [-v] [--sync-flag path] [--sync-max-age duration] [--sync-window HH:MM-HH:MM]",
    after_help = "Ranges are [@]start:end (alert outside, endpoints OK; @ alerts inside): 0.1: alerts below 0.1 requests/s.\nWhile the sync flag says a data sync is running, WARNING and CRITICAL become OK with the truth in the text."
)]
struct Args {
    #[command(flatten)]
    socket: SocketArgs,

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

impl SocketPlugin for Args {
    fn socket_args(&self) -> &SocketArgs {
        &self.socket
    }
}

fn main() {
    run_check::<Args, _>("REPLAY RATE", |args, doc| {
        let check = RateCheck {
            window: args.socket.window,
            warn: args.warning.range,
            crit: args.critical.range,
            verbose: args.common.verbose,
        };
        check.evaluate(doc)
    })
}
