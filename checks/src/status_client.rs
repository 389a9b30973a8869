//! The socket checks' common part: the options `-S`/`--window`, the `-t` deadline, and what a
//! failed fetch means to Nagios.
//!
//! Reading the socket itself is [`replayer_status::client`] (shared with `replayer status`);
//! its failures split the way an SRE acts on them: the daemon not there or not answering is
//! CRITICAL (replay is down), a document we cannot read is UNKNOWN (the check is broken, or
//! the daemon and plugin versions disagree), each naming what was wrong.

use crate::plugin::{self, Outcome, PluginArgs, State};
use crate::rate::{parse_window, MissingWindow};
pub use replayer_status::client::{fetch, parse, DocError, FetchError, DEFAULT_SOCKET};
use replayer_status::StatusDocument;
use std::path::PathBuf;
use std::time::Duration;

/// CRITICAL when the daemon is absent or silent, UNKNOWN when its answer is unreadable.
pub fn fetch_state(error: &FetchError) -> State {
    if error.not_answering() {
        State::Critical
    } else {
        State::Unknown
    }
}

/// `-S` and `--window`, shared by the socket checks.
#[derive(Debug, Clone, clap::Args)]
pub struct SocketArgs {
    /// The daemon's status socket.
    #[arg(short = 'S', long = "socket", value_name = "PATH", allow_hyphen_values = true,
          default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,

    /// Window in seconds: 60, 300 or 900.
    #[arg(long = "window", value_name = "SECONDS", allow_hyphen_values = true,
          default_value = "300", value_parser = parse_window)]
    pub window: u64,
}

/// Implemented by the socket checks' options types.
pub trait SocketPlugin: PluginArgs {
    /// `-S` and `--window`, flattened into this plugin's options.
    fn socket_args(&self) -> &SocketArgs;
}

/// Runs a socket check: fetches the document within `-t` (CRITICAL if the daemon is absent
/// or silent, UNKNOWN if the document is unreadable) and lets `evaluate` judge it.
pub fn run_check<A, E>(label: &'static str, evaluate: E) -> !
where
    A: SocketPlugin,
    E: FnOnce(&A, &StatusDocument) -> Result<Outcome, MissingWindow>,
{
    plugin::run::<A, _, _>(
        label,
        |args| {
            let silent = FetchError::Silent {
                path: args.socket_args().socket.clone(),
                secs: args.common().timeout,
            };
            Outcome::new(fetch_state(&silent), silent.to_string())
        },
        |args, _context| {
            let timeout = Duration::from_secs(args.common().timeout);
            match fetch(&args.socket_args().socket, timeout) {
                Ok(doc) => Ok(evaluate(args, &doc)?),
                Err(e) => Ok(Outcome::new(fetch_state(&e), e.to_string())),
            }
        },
    )
}
