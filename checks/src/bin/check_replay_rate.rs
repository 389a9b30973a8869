//! `check_replay_rate`: replayed requests per second over a window, read from the daemon's
//! status socket, naming the cause when it is low.

use replayer_checks::cli::RateArgs as Args;
use replayer_checks::rate::RateCheck;
use replayer_checks::status_client::run_check;

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
