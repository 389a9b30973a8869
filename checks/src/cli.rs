//! The plugins' options, as clap definitions in the library (not in the binaries) so
//! that one source gives each binary its parser and `--help` and `xtask` their man pages and
//! shell completions ([`commands`]): nothing written twice that could drift.

use crate::diff::CauseFilter;
use crate::status_client::{SocketArgs, SocketPlugin};
use crate::{parse_threshold, Common, PluginArgs, ThresholdArg};
use clap::{ArgAction, CommandFactory, Parser};

/// Checks that the replayer is replaying: requests per second sent to staging.
#[derive(Debug, Parser)]
#[command(
    name = "check_replay_rate",
    version,
    args_override_self = true,
    override_usage = "check_replay_rate [-S socket] [--window 60|300|900] [-w range] [-c range] [-t timeout] [-v] [--sync-flag path] [--sync-max-age duration] [--sync-window HH:MM-HH:MM]",
    after_help = "Ranges are [@]start:end (alert outside, endpoints OK; @ alerts inside): 0.1: alerts below 0.1 requests/s.\nWhile the sync flag says a data sync is running, WARNING and CRITICAL become OK with the truth in the text."
)]
pub struct RateArgs {
    /// `-S` (the socket) and `--window`.
    #[command(flatten)]
    pub socket: SocketArgs,

    /// Warning range for replayed requests per second.
    #[arg(short = 'w', long = "warning", value_name = "RANGE", allow_hyphen_values = true, default_value = "0.1:",
          value_parser = parse_threshold)]
    pub warning: ThresholdArg,

    /// Critical range for replayed requests per second.
    #[arg(short = 'c', long = "critical", value_name = "RANGE", allow_hyphen_values = true, default_value = "0.01:",
          value_parser = parse_threshold)]
    pub critical: ThresholdArg,

    /// `-t`, `-v` and the sync options.
    #[command(flatten)]
    pub common: Common,
}

impl PluginArgs for RateArgs {
    fn common(&self) -> &Common {
        &self.common
    }
}

impl SocketPlugin for RateArgs {
    fn socket_args(&self) -> &SocketArgs {
        &self.socket
    }
}

/// Checks staging's health as replayed traffic sees it: 5xx responses.
#[derive(Debug, Parser)]
#[command(
    name = "check_replay_5xx",
    version,
    args_override_self = true,
    override_usage = "check_replay_5xx [-S socket] [--window 60|300|900] [-w range] [-c range] [--min-responses N] [--per-second] [-t timeout] [-v] [--sync-flag path] [--sync-max-age duration] [--sync-window HH:MM-HH:MM]",
    after_help = "Ranges are [@]start:end (alert outside, endpoints OK; @ alerts inside): 0.05 alerts above a 5xx ratio of 0.05.\nWhile the sync flag says a data sync is running, WARNING and CRITICAL become OK with the truth in the text."
)]
pub struct FiveXxArgs {
    /// `-S` (the socket) and `--window`.
    #[command(flatten)]
    pub socket: SocketArgs,

    /// Warning range for the 5xx ratio (or 5xx/s with --per-second).
    #[arg(short = 'w', long = "warning", value_name = "RANGE", allow_hyphen_values = true, default_value = "0.05",
          value_parser = parse_threshold)]
    pub warning: ThresholdArg,

    /// Critical range for the 5xx ratio (or 5xx/s with --per-second).
    #[arg(short = 'c', long = "critical", value_name = "RANGE", allow_hyphen_values = true, default_value = "0.1",
          value_parser = parse_threshold)]
    pub critical: ThresholdArg,

    /// Below this many responses in the window the ratio is not judged (stays OK, says so).
    #[arg(
        long = "min-responses",
        value_name = "N",
        allow_hyphen_values = true,
        default_value_t = 20
    )]
    pub min_responses: u64,

    /// Thresholds apply to 5xx responses per second instead of the ratio.
    #[arg(long = "per-second")]
    pub per_second: bool,

    /// `-t`, `-v` and the sync options.
    #[command(flatten)]
    pub common: Common,
}

impl PluginArgs for FiveXxArgs {
    fn common(&self) -> &Common {
        &self.common
    }
}

impl SocketPlugin for FiveXxArgs {
    fn socket_args(&self) -> &SocketArgs {
        &self.socket
    }
}

/// Checks that staging answers like production: the share of compared answers that differ.
#[derive(Debug, Parser)]
#[command(
    name = "check_replay_diff",
    version,
    args_override_self = true,
    override_usage = "check_replay_diff [-S socket] [--window 60|300|900] [-w range] [-c range] [--cause status|any] [--min-compared N] [-t timeout] [-v] [--sync-flag path] [--sync-max-age duration] [--sync-window HH:MM-HH:MM]",
    after_help = "Ranges are [@]start:end (alert outside, endpoints OK; @ alerts inside): 0.05 alerts above 5 % of compared answers differing.\nWhile the sync flag says a data sync is running, WARNING and CRITICAL become OK with the truth in the text."
)]
pub struct DiffArgs {
    /// `-S` (the socket) and `--window`.
    #[command(flatten)]
    pub socket: SocketArgs,

    /// Warning range for the share of compared answers that differ (0 to 1).
    #[arg(short = 'w', long = "warning", value_name = "RANGE", allow_hyphen_values = true, default_value = "0.05",
          value_parser = parse_threshold)]
    pub warning: ThresholdArg,

    /// Critical range for the share of compared answers that differ (0 to 1).
    #[arg(short = 'c', long = "critical", value_name = "RANGE", allow_hyphen_values = true, default_value = "0.1",
          value_parser = parse_threshold)]
    pub critical: ThresholdArg,

    /// Which differences count: a different status alone, or any cause (content type,
    /// Location, body and length too).
    #[arg(
        long = "cause",
        value_name = "status|any",
        default_value = "status",
        value_enum
    )]
    pub cause: CauseFilter,

    /// Below this many compared answers in the window the share is not judged (stays OK,
    /// says so).
    #[arg(
        long = "min-compared",
        value_name = "N",
        allow_hyphen_values = true,
        default_value_t = 20
    )]
    pub min_compared: u64,

    /// `-t`, `-v` and the sync options.
    #[command(flatten)]
    pub common: Common,
}

impl PluginArgs for DiffArgs {
    fn common(&self) -> &Common {
        &self.common
    }
}

impl SocketPlugin for DiffArgs {
    fn socket_args(&self) -> &SocketArgs {
        &self.socket
    }
}

/// Counts processes by name, arguments and user, like check_procs.
#[derive(Debug, Parser)]
#[command(
    name = "check_replayer_procs",
    version,
    args_override_self = true,
    override_usage = "check_replayer_procs [-C command] [-a argument-array] [-u user] [-w range] [-c range] [-t timeout] [-v] [--sync-flag path] [--sync-max-age duration] [--sync-window HH:MM-HH:MM]",
    after_help = "Ranges are [@]start:end (alert outside, endpoints OK; @ alerts inside), e.g. 1: (at least one), @0 (none is bad).\nWhile the sync flag says a data sync is running, WARNING and CRITICAL become OK with the truth in the text."
)]
pub struct ProcsArgs {
    /// Process name to count, as check_procs -C sees it (at most 15 characters).
    #[arg(short = 'C', long = "command", value_name = "NAME", allow_hyphen_values = true,
          default_value = "replayer", action = ArgAction::Append)]
    pub command: Vec<String>,

    /// Count only processes whose arguments contain STRING.
    #[arg(short = 'a', long = "argument-array", value_name = "STRING",
          allow_hyphen_values = true, action = ArgAction::Append)]
    pub args: Vec<String>,

    /// Count only processes running as USER (name or UID).
    #[arg(short = 'u', long = "user", value_name = "USER", allow_hyphen_values = true,
          action = ArgAction::Append)]
    pub user: Vec<String>,

    /// Warning range for the process count.
    #[arg(short = 'w', long = "warning", value_name = "RANGE", allow_hyphen_values = true, value_parser = parse_threshold)]
    pub warning: Option<ThresholdArg>,

    /// Critical range for the process count.
    #[arg(short = 'c', long = "critical", value_name = "RANGE", allow_hyphen_values = true, default_value = "1:",
          value_parser = parse_threshold)]
    pub critical: ThresholdArg,

    /// `-t`, `-v` and the sync options.
    #[command(flatten)]
    pub common: Common,
}

impl PluginArgs for ProcsArgs {
    fn common(&self) -> &Common {
        &self.common
    }
}

/// Every plugin's clap command, named as its binary.
pub fn commands() -> Vec<clap::Command> {
    vec![
        ProcsArgs::command(),
        RateArgs::command(),
        FiveXxArgs::command(),
        DiffArgs::command(),
    ]
}
