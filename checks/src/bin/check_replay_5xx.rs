//! `check_replay_5xx`: the share of 5xx among staging's responses over a window (or 5xx per
//! second), read from the daemon's status socket.

use replayer_checks::cli::FiveXxArgs as Args;
use replayer_checks::five_xx::FiveXxCheck;
use replayer_checks::status_client::run_check;

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
