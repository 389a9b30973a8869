//! What every plugin shares: states, the outcome and its output lines, the common options
//! (`-t`, `-v`, the sync flag), the sync downgrade, the timeout, and the guard that turns any
//! error or panic into UNKNOWN.
//!
//! A plugin binary is one call to [`run`] with its label, its options type and a closure that
//! returns an [`Outcome`]. Everything else (parsing, `--help`/`--version` exiting 3, bad options
//! printing a usage line, the `-t` watchdog, the sync rules) is here, so the three binaries
//! behave alike.

use crate::perfdata::Perfdata;
use crate::range::Range;
use clap::ArgMatches;
use replayer_status::sync::{
    self, format_duration, parse_duration, read_sync, SyncConfig, SyncReading, SyncWindow,
};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// A plugin's result, with the exit codes the guidelines fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Exit 0: all is well (or a sync explains what is not).
    Ok = 0,
    /// Exit 1: past the warning threshold, or a stale sync flag.
    Warning = 1,
    /// Exit 2: past the critical threshold, or the daemon not answering.
    Critical = 2,
    /// Exit 3: the check itself could not be done (bad options, unreadable document,
    /// internal error, timeout of the process check).
    Unknown = 3,
}

impl State {
    /// The process exit code Nagios and Icinga read the state from: 0 to 3.
    pub fn exit_code(self) -> i32 {
        self as i32
    }

    /// The word on the first line (`OK`, `WARNING`, `CRITICAL`, `UNKNOWN`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    /// Order of badness: OK < WARNING < UNKNOWN < CRITICAL. UNKNOWN ranks above WARNING
    /// because "could not check" may hide anything, as Icinga 2 ranks it too.
    fn severity(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Unknown => 2,
            State::Critical => 3,
        }
    }

    /// The worse of two states.
    pub fn worst(self, other: State) -> State {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// The state of `value` against the thresholds: critical is tested first.
    pub fn from_thresholds(value: f64, warn: Option<&Range>, crit: Option<&Range>) -> State {
        if crit.is_some_and(|r| r.alerts(value)) {
            State::Critical
        } else if warn.is_some_and(|r| r.alerts(value)) {
            State::Warning
        } else {
            State::Ok
        }
    }
}

/// What a check found: the first line's state and text, perfdata (all on the first line) and
/// long output (the lines after).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The state, which is also the exit code.
    pub state: State,
    /// The first line's text after `LABEL STATE: `, one line, without perfdata.
    pub text: String,
    /// Perfdata items, printed after ` | ` on the first line in this order.
    pub perfdata: Vec<Perfdata>,
    /// Long output: one line each after the first (no newlines inside a line).
    pub long: Vec<String>,
}

impl Outcome {
    /// An outcome with no perfdata and no long output.
    pub fn new(state: State, text: impl Into<String>) -> Outcome {
        Outcome {
            state,
            text: text.into(),
            perfdata: Vec::new(),
            long: Vec::new(),
        }
    }

    /// `LABEL STATE: text | perfdata`, then one long-output line each, newline-terminated.
    pub fn render(&self, label: &str) -> String {
        let mut out = format!("{label} {}: {}", self.state.as_str(), self.text);
        if !self.perfdata.is_empty() {
            out.push_str(" |");
            for p in &self.perfdata {
                out.push(' ');
                out.push_str(&p.to_string());
            }
        }
        out.push('\n');
        for line in &self.long {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Applies the sync rules (docs/design.md, 'The sync flag') to this outcome:
    /// - a stale flag is never hidden: at least WARNING, saying so;
    /// - while a sync is in progress, WARNING and CRITICAL become OK with the truth in the
    ///   text; UNKNOWN stays (the plugin could not do its job, which no sync explains);
    /// - an unreadable flag is reported in the long output and changes nothing.
    ///
    /// Perfdata is never touched.
    pub fn apply_sync(
        mut self,
        reading: &SyncReading,
        config: &SyncConfig,
        now: SystemTime,
    ) -> Outcome {
        if let Some(error) = &reading.error {
            self.long.push(format!("sync flag ignored: {error}"));
        }
        let running = reading.running_for(now).map(format_duration);
        if reading.stale {
            let age = running.unwrap_or_default();
            let limit = format_duration(config.max_age);
            let downgrade_note = if self.state == State::Ok {
                ""
            } else {
                ", not downgrading"
            };
            self.text = format!(
                "{} (data sync flag set for {age}, over --sync-max-age {limit}: looks stale{downgrade_note})",
                self.text
            );
            self.state = self.state.worst(State::Warning);
            self.long.push(format!(
                "sync flag {} has said {:?} since {}: a sync that aborted leaves it set; clear it or fix the sync",
                config.flag.display(),
                reading.flag_value.as_deref().unwrap_or(""),
                reading.since.map(replayer_status::format_rfc3339).unwrap_or_default()
            ));
            return self;
        }
        if !reading.in_progress {
            return self;
        }
        let mut what = format!("data sync in progress for {}", running.unwrap_or_default());
        if reading.in_window && !reading.flag_set {
            if let Some(window) = config.window {
                what.push_str(&format!(", window {window} UTC"));
            }
        }
        match self.state {
            State::Warning | State::Critical => {
                self.text = format!("{} ({what}; would be {})", self.text, self.state.as_str());
                self.state = State::Ok;
            }
            State::Ok | State::Unknown => self.long.push(what),
        }
        self
    }
}

/// Options every plugin takes (docs/design.md, 'Checks').
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Seconds before giving up.
    #[arg(short = 't', long = "timeout", value_name = "SECONDS", allow_hyphen_values = true, default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// More output (repeatable): -vv lists details after the first line.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The data-sync flag file: while it says a sync is running, alerts become OK.
    #[arg(long = "sync-flag", value_name = "PATH", allow_hyphen_values = true, default_value = sync::DEFAULT_FLAG)]
    pub sync_flag: PathBuf,

    /// A flag set for longer than this is stale: no downgrade, at least WARNING.
    #[arg(long = "sync-max-age", value_name = "DURATION", allow_hyphen_values = true, default_value = "12h",
          value_parser = parse_duration)]
    pub sync_max_age: Duration,

    /// A daily UTC window (e.g. 22:00-08:00) that counts as a sync in progress by itself.
    #[arg(
        long = "sync-window",
        value_name = "HH:MM-HH:MM",
        allow_hyphen_values = true
    )]
    pub sync_window: Option<SyncWindow>,
}

impl Common {
    /// The sync options as the reader of the flag wants them.
    pub fn sync_config(&self) -> SyncConfig {
        SyncConfig {
            flag: self.sync_flag.clone(),
            max_age: self.sync_max_age,
            window: self.sync_window,
        }
    }
}

/// Implemented by each plugin's options type, to reach the shared ones.
pub trait PluginArgs: clap::Parser {
    /// The options every plugin takes, flattened into this one's.
    fn common(&self) -> &Common;
}

/// Set by the first thread to print a result; the process exits right after.
static FINISHED: AtomicBool = AtomicBool::new(false);

/// Prints the outcome once (the first caller wins: the check, the watchdog or the panic
/// guard) and exits with its code.
fn finish(label: &str, outcome: &Outcome) -> ! {
    if FINISHED.swap(true, Ordering::SeqCst) {
        // Another thread is printing and exiting; never print a second result.
        loop {
            std::thread::park();
        }
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(outcome.render(label).as_bytes());
    let _ = stdout.flush();
    std::process::exit(outcome.state.exit_code());
}

/// Exits 3 for `--help`, `--version` and bad options, as monitoring-plugins do.
fn parse_or_exit<A: PluginArgs>(
    label: &str,
    argv: impl IntoIterator<Item = std::ffi::OsString>,
) -> (A, ArgMatches) {
    let mut cmd = A::command().color(clap::ColorChoice::Never);
    let usage = cmd.render_usage().to_string();
    let parsed = cmd
        .try_get_matches_from(argv)
        .and_then(|m| A::from_arg_matches(&m).map(|a| (a, m)));
    match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            use clap::error::ErrorKind;
            let text = e.render().to_string();
            let out = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => text,
                _ => {
                    // clap says "error: <what>\n\n...": the what goes on the status line,
                    // the usage line after it.
                    let what = text
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim_start_matches("error: ");
                    format!("{label} UNKNOWN: {what}\n{}\n", usage.trim_end())
                }
            };
            FINISHED.store(true, Ordering::SeqCst);
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(out.as_bytes());
            let _ = stdout.flush();
            std::process::exit(State::Unknown.exit_code());
        }
    }
}

/// What the check closure gets besides its options.
pub struct Context<'a> {
    /// clap's raw matches, for what the typed options do not say: whether an option was
    /// given or defaulted, and where on the command line (`check_procs` describes its
    /// filters in that order).
    pub matches: &'a ArgMatches,
    /// The sync flag as read at start; the sync rules are applied after the check, so a
    /// check needs it only to say more.
    pub sync: &'a SyncReading,
    /// When the sync flag was read, just after the options were parsed.
    pub now: SystemTime,
}

/// Runs a plugin: parses the options, reads the sync flag, arms the `-t` watchdog (whose
/// outcome `on_timeout` gives, before the sync rules), runs `check`, applies the sync rules,
/// prints and exits. Errors from `check` and panics anywhere become UNKNOWN (exit 3).
pub fn run<A, T, C>(label: &'static str, on_timeout: T, check: C) -> !
where
    A: PluginArgs,
    T: FnOnce(&A) -> Outcome,
    C: FnOnce(&A, &Context) -> Result<Outcome, Box<dyn std::error::Error>>,
{
    run_with_args(label, std::env::args_os(), on_timeout, check)
}

/// [`run`] with the command line given (program name first), for tests of the guard.
pub fn run_with_args<A, T, C>(
    label: &'static str,
    argv: impl IntoIterator<Item = std::ffi::OsString>,
    on_timeout: T,
    check: C,
) -> !
where
    A: PluginArgs,
    T: FnOnce(&A) -> Outcome,
    C: FnOnce(&A, &Context) -> Result<Outcome, Box<dyn std::error::Error>>,
{
    std::panic::set_hook(Box::new(move |info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_string());
        let place = info
            .location()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        finish(
            label,
            &Outcome::new(State::Unknown, format!("internal error: {what}{place}")),
        );
    }));

    let (args, matches) = parse_or_exit::<A>(label, argv);
    let config = args.common().sync_config();
    let now = SystemTime::now();
    let reading = read_sync(&config, now);

    let timeout = Duration::from_secs(args.common().timeout);
    let on_expiry = on_timeout(&args).apply_sync(&reading, &config, now);
    std::thread::spawn(move || {
        std::thread::sleep(timeout);
        finish(label, &on_expiry);
    });

    let context = Context {
        matches: &matches,
        sync: &reading,
        now,
    };
    let outcome = match check(&args, &context) {
        Ok(outcome) => outcome,
        Err(e) => Outcome::new(State::Unknown, e.to_string()),
    };
    finish(
        label,
        &outcome.apply_sync(&reading, &config, SystemTime::now()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perfdata::Threshold;
    use std::time::UNIX_EPOCH;

    #[test]
    fn worst_of() {
        use State::*;
        let order = [Ok, Warning, Unknown, Critical];
        for (i, a) in order.iter().enumerate() {
            for (j, b) in order.iter().enumerate() {
                assert_eq!(a.worst(*b), order[i.max(j)], "{a:?} {b:?}");
            }
        }
        assert_eq!(
            [Ok, Warning, Critical, Unknown].map(State::exit_code),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn critical_is_tested_first() {
        let w: Range = "5".parse().unwrap();
        let c: Range = "10".parse().unwrap();
        assert_eq!(State::from_thresholds(3.0, Some(&w), Some(&c)), State::Ok);
        assert_eq!(
            State::from_thresholds(7.0, Some(&w), Some(&c)),
            State::Warning
        );
        assert_eq!(
            State::from_thresholds(11.0, Some(&w), Some(&c)),
            State::Critical
        );
        // An odd pair where both alert: critical wins.
        let w: Range = "1:".parse().unwrap();
        let c: Range = "1:".parse().unwrap();
        assert_eq!(
            State::from_thresholds(0.0, Some(&w), Some(&c)),
            State::Critical
        );
        assert_eq!(State::from_thresholds(0.0, Some(&w), None), State::Warning);
        assert_eq!(State::from_thresholds(0.0, None, None), State::Ok);
    }

    fn procs_outcome(n: f64, state: State) -> Outcome {
        Outcome {
            perfdata: vec![Perfdata::new("procs", Some(n))
                .thresholds(None, Some(Threshold::Verbatim("1:".into())))
                .min(0.0)],
            ..Outcome::new(state, format!("{n} processes with command name 'replayer'"))
        }
    }

    #[test]
    fn render_first_line_then_long_output() {
        let mut o = procs_outcome(0.0, State::Critical);
        assert_eq!(
            o.render("PROCS"),
            "PROCS CRITICAL: 0 processes with command name 'replayer' | procs=0;;1:;0;\n"
        );
        o.long = vec!["one".into(), "two".into()];
        o.perfdata.push(Perfdata::counter("seen", 3));
        assert_eq!(
            o.render("PROCS"),
            "PROCS CRITICAL: 0 processes with command name 'replayer' | procs=0;;1:;0; seen=3c\none\ntwo\n"
        );
        assert_eq!(
            Outcome::new(State::Unknown, "x").render("L"),
            "L UNKNOWN: x\n"
        );
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn flag_reading(set_at: u64, stale: bool) -> SyncReading {
        SyncReading {
            in_progress: true,
            flag_set: true,
            since: Some(at(set_at)),
            stale,
            flag_value: Some("true".into()),
            ..SyncReading::default()
        }
    }

    #[test]
    fn sync_downgrades_with_the_truth() {
        let config = SyncConfig::default();
        let now = at(10_000 + 7980);
        let reading = flag_reading(10_000, false);
        let o = procs_outcome(0.0, State::Critical).apply_sync(&reading, &config, now);
        assert_eq!(
            o.render("PROCS"),
            "PROCS OK: 0 processes with command name 'replayer' (data sync in progress for 2h13m; would be CRITICAL) | procs=0;;1:;0;\n"
        );
        let o = procs_outcome(5.0, State::Warning).apply_sync(&reading, &config, now);
        assert_eq!(o.state, State::Ok);
        assert!(o
            .text
            .ends_with("(data sync in progress for 2h13m; would be WARNING)"));
        // OK stays as it is on the first line; the sync shows in the long output.
        let o = procs_outcome(1.0, State::Ok).apply_sync(&reading, &config, now);
        assert_eq!(o.text, "1 processes with command name 'replayer'");
        assert_eq!(o.long, ["data sync in progress for 2h13m"]);
        // UNKNOWN is never hidden.
        let o = Outcome::new(State::Unknown, "bad").apply_sync(&reading, &config, now);
        assert_eq!((o.state, o.text.as_str()), (State::Unknown, "bad"));
    }

    #[test]
    fn stale_flag_is_never_hidden() {
        let config = SyncConfig::default();
        let now = at(10_000 + 13 * 3600 + 120);
        let reading = flag_reading(10_000, true);
        let o = procs_outcome(0.0, State::Critical).apply_sync(&reading, &config, now);
        assert_eq!(o.state, State::Critical);
        assert_eq!(
            o.text,
            "0 processes with command name 'replayer' (data sync flag set for 13h2m, over --sync-max-age 12h: looks stale, not downgrading)"
        );
        let o = procs_outcome(1.0, State::Ok).apply_sync(&reading, &config, now);
        assert_eq!(o.state, State::Warning);
        assert!(o.text.ends_with("looks stale)"), "{}", o.text);
        assert!(o.long[0].contains(sync::DEFAULT_FLAG), "{:?}", o.long);
        assert_eq!(o.perfdata, procs_outcome(1.0, State::Ok).perfdata);
    }

    #[test]
    fn window_downgrade_names_the_window() {
        let config = SyncConfig {
            window: Some("22:00-08:00".parse().unwrap()),
            ..SyncConfig::default()
        };
        let reading = SyncReading {
            in_progress: true,
            in_window: true,
            since: Some(at(0)),
            ..SyncReading::default()
        };
        let o = procs_outcome(0.0, State::Critical).apply_sync(&reading, &config, at(600));
        assert!(
            o.text.ends_with(
                "(data sync in progress for 10m, window 22:00-08:00 UTC; would be CRITICAL)"
            ),
            "{}",
            o.text
        );
    }

    #[test]
    fn unreadable_flag_changes_nothing_but_says_so() {
        let reading = SyncReading {
            error: Some("/x: Permission denied".into()),
            ..SyncReading::default()
        };
        let o =
            procs_outcome(0.0, State::Critical).apply_sync(&reading, &SyncConfig::default(), at(0));
        assert_eq!(o.state, State::Critical);
        assert_eq!(o.long, ["sync flag ignored: /x: Permission denied"]);
    }
}
