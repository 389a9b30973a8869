//! Nagios/Icinga plugins for the replayer, on a small plugin module of our own.
//!
//! - [`plugin`]: states, outcome and output lines, common options, sync downgrade, timeout,
//!   the guard that turns any failure into UNKNOWN;
//! - [`range`] and [`perfdata`]: thresholds and performance data per the Monitoring Plugins
//!   guidelines (the `nagiosplugin` crate gets both wrong, so it is not used);
//! - [`procs`]: counting processes from `/proc` exactly as `check_procs` counts them;
//! - [`status_client`]: reading the daemon's status document from its Unix socket;
//! - [`rate`], [`five_xx`] and [`diff`]: what the socket checks make of that document.
//!
//! - [`cli`]: each plugin's options (clap), also the source of the man pages.
//!
//! The binaries in `src/bin/` are thin: options in, one call to [`plugin::run`].

#![warn(missing_docs)]

pub mod cli;
pub mod diff;
pub mod five_xx;
pub mod perfdata;
pub mod plugin;
pub mod procs;
pub mod range;
pub mod rate;
pub mod status_client;

pub use plugin::{Common, Context, Outcome, PluginArgs, State};
pub use range::Range;

/// A threshold option: a range, or the empty string for "no threshold" (what `check_procs`
/// makes of `-c ''`, and what an Icinga macro left empty passes).
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdArg {
    /// Exactly as given, for perfdata that must match `check_procs` byte for byte.
    pub text: String,
    /// The parsed range; `None` for the empty string (no threshold, never alerts).
    pub range: Option<Range>,
}

/// `value_parser` for `-w`/`-c`: the empty string is no threshold, anything else must be a
/// valid range (an error otherwise, which clap reports as bad options, UNKNOWN).
pub fn parse_threshold(s: &str) -> Result<ThresholdArg, range::RangeError> {
    let range = if s.is_empty() { None } else { Some(s.parse()?) };
    Ok(ThresholdArg {
        text: s.to_string(),
        range,
    })
}
