//! `check_replay_diff`: the share of compared answers in which staging differs from
//! production over a window, read from the daemon's status socket.

use replayer_checks::cli::DiffArgs as Args;
use replayer_checks::diff::DiffCheck;
use replayer_checks::status_client::run_check;

fn main() {
    run_check::<Args, _>("REPLAY DIFF", |args, doc| {
        let check = DiffCheck {
            window: args.socket.window,
            warn: args.warning.range,
            crit: args.critical.range,
            cause: args.cause,
            min_compared: args.min_compared,
            verbose: args.common.verbose,
        };
        check.evaluate(doc)
    })
}
