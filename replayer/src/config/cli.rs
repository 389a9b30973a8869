//! The command line: GoReplay's flags, as its users write them, parsed with clap.
//!
//! Go's `flag` package takes `-name` and `--name`, `-name=value` and `-name value`, repeated
//! flags, and booleans bare or as `-name=true`/`-name=false`. clap wants two dashes for long
//! names, so a pre-pass ([`normalise`]) rewrites `-name` to `--name` for every known long
//! flag before clap sees the arguments; it also names an unknown flag exactly as written,
//! or, for one of GoReplay's flags this program refuses, says why ([`super::goreplay`]).
//! Everything else (values, types, help) is clap's, from [`Settings`]'s attributes.
//!
//! Any problem is one line (`replayer: FLAG: problem`) and exit status 2. The whole table of
//! exit codes is in [`AFTER_HELP`] (so in `--help` and the man page) and in docs/daemon.md;
//! `crate::flow::FlowError::exit_code` decides it for what goes wrong after parsing.
//!
//! Long because the unit tests of every spelling GoReplay's users write (about 360 of the
//! lines) sit next to the parser they check.

use crate::config::{Config, ConfigError, Settings};
use clap::{CommandFactory, FromArgMatches, Parser};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

const ABOUT: &str = "Shadows production HTTP traffic to staging: captures requests passively \
(libpcap), keeps the safe ones (GET, HEAD, OPTIONS) and replays them to staging, or writes \
them in GoReplay's file format.";

/// Shown after the flags in `--help` and in the man page.
pub const AFTER_HELP: &str = "\
Flags take one dash or two (-input-raw or --input-raw), values as -flag=value or -flag value, \
booleans bare or as -flag=false. Repeatable flags may be given many times. Every flag is also \
a key of the --config TOML file (output-http = [\"https://staging\"]); the command line wins.

Examples:
  replayer -input-raw 127.0.0.1:7999 -output-http https://www-origin.staging.example
  replayer -input-raw capture.pcap:80 -output-stdout
  replayer --config /etc/replayer/replayer.toml --print-config
  replayer status [--json] [-S SOCKET]   (the running daemon's state; see replayer status --help)

Safety: only GET, HEAD and OPTIONS are replayed unless other methods are named with \
-http-allow-method AND --allow-unsafe-methods is given; Authorization, Cookie and \
Proxy-Authorization are removed unless --keep-credentials; every replayed request carries \
X-Replayed-By: replayer, and captured requests carrying it are never replayed.

Exit status (the same with every output):
  0  done: a capture file read to its end, or stopped by SIGTERM, SIGINT or -exit-after
  1  failed while running: a capture file damaged part-way (every request before the damage is \
written or replayed first), an output that stopped accepting writes, the system refusing a thread
  2  nothing ran: a flag, value or --config file that cannot be used, an input that cannot be \
opened (missing file, unknown interface, no capture permission, a bad -input-raw-bpf-filter), an \
output file that cannot be created, a status socket already served by another daemon, a target \
that cannot be used
  replayer status has its own codes (replayer status --help).";

/// The whole command line: the settings plus the flags that are about the command itself.
#[derive(Debug, Parser)]
#[command(
    name = "replayer",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    color = clap::ColorChoice::Never,
    args_override_self = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Every setting that is also a `--config` file key.
    #[command(flatten)]
    pub settings: Settings,
    /// Read settings from this TOML file (keys are the flag names); the command line wins
    #[arg(long, value_name = "FILE", help_heading = "General")]
    pub config: Option<PathBuf>,
    /// Print the resolved settings (a valid --config file, defaults filled in) and exit
    #[arg(long, help_heading = "General")]
    pub print_config: bool,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Run with this configuration.
    Run(Box<Config>),
    /// Print this text on stdout and exit 0 (`--help`, `--version`, `--print-config`).
    Print(String),
}

/// Why the command line cannot be run; `main` prints it and exits 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Not a valid command line: an unknown flag, a missing value, a stray argument. The
    /// message is clap's first line, or ours for GoReplay's single-dash spellings.
    #[error("{0}")]
    Usage(String),
    /// The command line parsed, but a setting (or the `--config` file) is not usable.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Parses the process arguments (program name first), reads `--config`, and resolves.
pub fn parse<I>(args: I) -> Result<Invocation, CliError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut command = command();
    command.build();
    let args = normalise(args.into_iter().map(Into::into).collect(), &command)?;
    let matches = match command.try_get_matches_from_mut(args) {
        Ok(matches) => matches,
        Err(e) => {
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Ok(Invocation::Print(e.render().to_string()))
                }
                _ => Err(CliError::Usage(first_line(&e.render().to_string()))),
            }
        }
    };
    let cli =
        Cli::from_arg_matches(&matches).map_err(|e| CliError::Usage(first_line(&e.to_string())))?;
    let settings = match &cli.config {
        Some(path) => Settings::from_toml_file(path)?.overlaid_with(cli.settings),
        None => cli.settings,
    };
    let config = Config::resolve(&settings)?;
    if cli.print_config {
        let mut text = String::from(
            "# replayer: resolved settings (defaults filled in); usable as --config\n",
        );
        text.push_str(&config.to_settings().to_toml());
        return Ok(Invocation::Print(text));
    }
    Ok(Invocation::Run(Box::new(config)))
}

/// The clap command, with Go's boolean syntax given to every `BOOL` flag: bare means true,
/// and a value only after `=` (so `-output-stdout -input-raw :80` never reads `-input-raw`
/// as the boolean's value).
pub fn command() -> clap::Command {
    Cli::command().mut_args(|arg| {
        let is_bool = arg
            .get_value_names()
            .is_some_and(|names| names.len() == 1 && names[0] == "BOOL");
        if is_bool {
            arg.num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
        } else {
            arg
        }
    })
}

/// clap's error, on one line and without its `error: ` prefix.
fn first_line(rendered: &str) -> String {
    let line = rendered.lines().next().unwrap_or("invalid arguments");
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// How a known long flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    /// `-name value` or `-name=value`.
    Value,
    /// Bare, or `-name=value` only (Go booleans).
    OptionalValue,
    /// Nothing (`--help`, `--version`, `--print-config`).
    Nothing,
}

/// Rewrites Go-style arguments into clap's: `-name[=v]` → `--name[=v]` for known long
/// flags, `-verbose 2` → `--verbose=2`. Unknown flags and stray words are errors here, so
/// the message shows them as the user wrote them. The program name is kept first.
pub fn normalise(args: Vec<OsString>, command: &clap::Command) -> Result<Vec<OsString>, CliError> {
    let mut known: HashMap<String, Takes> = HashMap::new();
    for arg in command.get_arguments() {
        let takes = match arg.get_num_args() {
            _ if !arg.get_action().takes_values() => Takes::Nothing,
            Some(range) if range.min_values() == 0 => Takes::OptionalValue,
            _ => Takes::Value,
        };
        let names = arg
            .get_long()
            .into_iter()
            .chain(arg.get_all_aliases().unwrap_or_default());
        for name in names {
            known.insert(name.to_string(), takes);
        }
    }

    let mut out = Vec::with_capacity(args.len());
    let mut inputs = 0;
    let mut args = args.into_iter();
    out.extend(args.next());
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            return Err(CliError::Usage(format!(
                "unexpected argument '{}'",
                arg.to_string_lossy()
            )));
        };
        let flag = match text.strip_prefix("--").or_else(|| text.strip_prefix('-')) {
            Some(flag) if text.len() > 2 || text.starts_with("--") => flag,
            // `-h`, `-V`: clap's own short flags.
            Some(_) if text.len() == 2 => {
                out.push(arg);
                continue;
            }
            _ => {
                return Err(CliError::Usage(format!(
                    "unexpected argument '{text}' (flags start with - or --; see --help)"
                )))
            }
        };
        if flag.is_empty() {
            return Err(CliError::Usage(format!("unexpected argument '{text}'")));
        }
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (flag, None),
        };
        let takes = match known.get(name) {
            Some(takes) => *takes,
            // GoReplay's flags this program refuses say why, and what to use instead.
            None => {
                return Err(CliError::Usage(match super::goreplay::refused(name) {
                    Some(why) => format!("-{name}: {why}"),
                    None => format!("unknown flag '{text}' (see --help)"),
                }))
            }
        };
        if name == "input-raw" {
            // GoReplay runs one listener per -input-raw; one process here captures one input,
            // and silently keeping only the last would lose the others' traffic.
            inputs += 1;
            if inputs > 1 {
                return Err(CliError::Usage(
                    "-input-raw given more than once: one input per process (run one replayer per port)".into(),
                ));
            }
        }
        match (takes, value) {
            (Takes::Nothing, Some(_)) => {
                return Err(CliError::Usage(format!("-{name} takes no value")))
            }
            (_, Some(value)) => out.push(format!("--{name}={value}").into()),
            (Takes::Value, None) => {
                // The next argument is the value, whatever it looks like (Go does the same).
                let value = args
                    .next()
                    .ok_or_else(|| CliError::Usage(format!("-{name} needs a value")))?;
                // Joined with `=` so that clap takes a value like `-admin` as a value.
                let mut joined = OsString::from(format!("--{name}="));
                joined.push(value);
                out.push(joined);
            }
            (Takes::OptionalValue, None) if name == "verbose" => {
                // GoReplay's -verbose is a number: `-verbose 2` as well as `-verbose=2`.
                let level = args
                    .as_slice()
                    .first()
                    .and_then(|next| next.to_str())
                    .filter(|next| !next.is_empty() && next.bytes().all(|b| b.is_ascii_digit()));
                match level {
                    Some(level) => {
                        out.push(format!("--verbose={level}").into());
                        args.next();
                    }
                    None => out.push("--verbose".into()),
                }
            }
            (_, None) => out.push(format!("--{name}").into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Input;
    use crate::config::WorkerRange;

    fn run(args: &[&str]) -> Result<Invocation, CliError> {
        parse(std::iter::once("replayer").chain(args.iter().copied()))
    }

    fn config(args: &[&str]) -> Config {
        match run(args) {
            Ok(Invocation::Run(config)) => *config,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        match run(args) {
            Err(e) => {
                let text = e.to_string();
                assert!(!text.contains('\n'), "one line: {text:?}");
                text
            }
            Ok(other) => panic!("{args:?} should fail, got {other:?}"),
        }
    }

    const OUT: &str = "-output-stdout";

    #[test]
    fn one_or_two_dashes_equals_or_space() {
        for args in [
            ["-input-raw=:8080", OUT],
            ["--input-raw=:8080", OUT],
            ["-input-raw", ":8080"],
            ["--input-raw", ":8080"],
        ] {
            let mut all = args.to_vec();
            if !all.contains(&OUT) {
                all.push(OUT);
            }
            let c = config(&all);
            assert_eq!(
                c.capture.input,
                Input::Live {
                    interface: None,
                    host: None,
                    port: 8080
                },
                "{all:?}"
            );
            assert!(c.outputs.stdout);
        }
    }

    #[test]
    fn repeated_flags_accumulate() {
        let c = config(&[
            "-input-raw",
            ":80",
            OUT,
            "-http-disallow-url",
            "^/a",
            "--http-disallow-url=^/b",
            "-http-disallow-url=^/c",
            "-http-set-header",
            "X-A: 1",
            "-output-http-header=X-B: 2",
            "-http-allow-method",
            "GET",
            "-output-http-method=HEAD",
        ]);
        let urls: Vec<&str> = c.filter.disallow_urls.iter().map(|r| r.as_str()).collect();
        assert_eq!(urls, ["^/a", "^/b", "^/c"]);
        let headers: Vec<String> = c
            .rewrite
            .set_headers
            .iter()
            .map(|h| h.to_string())
            .collect();
        assert_eq!(headers, ["X-A: 1", "X-B: 2"]);
        assert_eq!(c.filter.methods, ["GET", "HEAD"]);
    }

    #[test]
    fn booleans_bare_or_go_style() {
        let c = config(&[
            "-input-raw",
            ":80",
            "-output-stdout",
            "-input-raw-promisc",
            "-keep-credentials",
        ]);
        assert!(c.capture.promisc && c.rewrite.keep_credentials && c.outputs.stdout);
        let c = config(&[
            "-input-raw",
            ":80",
            "-output-stdout=true",
            "-input-raw-promisc=false",
            "--keep-credentials=0",
        ]);
        assert!(!c.capture.promisc && !c.rewrite.keep_credentials && c.outputs.stdout);
        // A bare boolean never eats the next argument.
        let c = config(&["-output-stdout", "-input-raw", ":80"]);
        assert!(c.outputs.stdout);
        // Later wins, as with Go's flag package.
        let c = config(&[
            "-input-raw",
            ":80",
            "-output-null",
            "-output-null=false",
            OUT,
        ]);
        assert!(!c.outputs.null);
        let c = config(&["-input-raw", ":80", OUT, "-output-http-insecure"]);
        assert!(
            c.replay.skip_verify,
            "--output-http-insecure is -output-http-skip-verify"
        );
        assert!(
            error(&["-input-raw", ":80", "-output-stdout=yes"]).contains("'yes' is not a boolean")
        );
    }

    #[test]
    fn verbose_takes_a_level_either_way() {
        assert_eq!(config(&["-input-raw", ":80", OUT, "-verbose"]).verbose, 1);
        assert_eq!(
            config(&["-input-raw", ":80", OUT, "-verbose", "2"]).verbose,
            2
        );
        assert_eq!(config(&["-input-raw", ":80", OUT, "-verbose=3"]).verbose, 3);
        assert_eq!(config(&["-verbose", "-input-raw", ":80", OUT]).verbose, 1);
    }

    #[test]
    fn values_may_start_with_a_dash() {
        let c = config(&["-input-raw", ":80", OUT, "-http-disallow-url", "-admin"]);
        assert_eq!(c.filter.disallow_urls[0].as_str(), "-admin");
    }

    #[test]
    fn every_flag_of_the_design_is_accepted() {
        let c = config(&[
            "-input-raw",
            ":80",
            "-input-raw-engine",
            "libpcap",
            "-input-raw-bpf-filter",
            "tcp port 80",
            "-input-raw-expire",
            "10s",
            "-input-raw-buffer-size",
            "10mb",
            "-input-raw-override-snaplen",
            "-input-raw-snaplen",
            "64kb",
            "-input-raw-promisc",
            "-output-http",
            "staging:8080|10",
            "-output-http",
            "https://s2|50%",
            "-output-http-workers",
            "4",
            "-output-http-queue-len",
            "100",
            "-output-http-timeout",
            "500ms",
            "-output-http-redirects",
            "2",
            "-output-http-skip-verify",
            "-output-stdout",
            "-output-null",
            "-output-file",
            "/tmp/x.gor|5%",
            "-output-file-append",
            "-output-file-size-limit",
            "32mb",
            "-output-file-max-size-limit",
            "1TB",
            "-output-file-queue-limit",
            "0",
            "-output-file-flush-interval",
            "5s",
            "-output-http-stats",
            "-http-original-host",
            "-http-allow-method",
            "GET",
            "-http-allow-url",
            "^/",
            "-http-disallow-url",
            "x",
            "-http-allow-header",
            "Host: .",
            "-http-disallow-header",
            "User-Agent: bot",
            "-http-set-header",
            "X: 1",
            "-http-set-param",
            "a=b",
            "-http-rewrite-url",
            "a:b",
            "-http-header-limiter",
            "Cookie: 50%",
            "-exit-after",
            "1m",
            "-stats",
            "-verbose",
            "--allow-unsafe-methods",
            "--keep-credentials",
            "--status-socket",
            "/tmp/s.sock",
            "--status-socket-mode",
            "0600",
            "--status-socket-group",
            "nagios",
            "--metrics-listen",
            "127.0.0.1:9464",
            "--sync-flag",
            "/tmp/flag",
            "--sync-max-age",
            "6h",
            "--sync-window",
            "22:00-08:00",
            "--drain-timeout",
            "2s",
        ]);
        assert_eq!(c.capture.bpf_filter.as_deref(), Some("tcp port 80"));
        assert_eq!(c.capture.expire, std::time::Duration::from_secs(10));
        assert_eq!(c.capture.buffer_size, Some(10 << 20));
        assert_eq!(c.capture.snaplen, 65536);
        assert!(c.capture.promisc);
        assert_eq!(c.outputs.http.len(), 2);
        assert_eq!(c.outputs.http[0].url.as_str(), "http://staging:8080/");
        assert_eq!(c.replay.workers, WorkerRange::fixed(4));
        assert_eq!(c.replay.queue_len, 100);
        assert_eq!(c.replay.timeout, std::time::Duration::from_millis(500));
        assert_eq!(c.replay.redirects, 2);
        assert!(c.replay.skip_verify && c.replay.stats && c.replay.original_host);
        assert!(c.outputs.stdout && c.outputs.null && c.outputs.file.is_some());
        let file = &c.outputs.file_options;
        assert!(file.append);
        assert_eq!(
            (file.size_limit, file.max_size),
            (Some(32 << 20), Some(1 << 40))
        );
        assert_eq!(file.queue_limit, crate::config::DEFAULT_FILE_QUEUE);
        assert_eq!(file.flush_interval, std::time::Duration::from_secs(5));
        assert_eq!(c.header_limiters.len(), 1);
        assert_eq!(c.exit_after, Some(std::time::Duration::from_secs(60)));
        assert!(c.stats);
        assert_eq!(c.status.path, PathBuf::from("/tmp/s.sock"));
        assert_eq!(c.status.mode, 0o600);
        assert_eq!(c.status.group.as_deref(), Some("nagios"));
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(c.sync.flag, PathBuf::from("/tmp/flag"));
        assert_eq!(c.sync.max_age, std::time::Duration::from_secs(6 * 3600));
        assert!(c.sync.window.is_some());
        assert_eq!(c.drain_timeout, std::time::Duration::from_secs(2));
    }

    #[test]
    fn errors_are_one_line_naming_the_flag() {
        assert_eq!(
            error(&["-input-raw", ":80", OUT, "-no-such-flag"]),
            "unknown flag '-no-such-flag' (see --help)"
        );
        assert_eq!(
            error(&["--bogus=1"]),
            "unknown flag '--bogus=1' (see --help)"
        );
        assert_eq!(error(&["-input-raw"]), "-input-raw needs a value");
        assert!(error(&["-input-raw", ":80", "--input-raw=:81", OUT])
            .starts_with("-input-raw given more than once"));
        assert!(error(&["stray"]).starts_with("unexpected argument 'stray'"));
        assert_eq!(error(&["-print-config=1"]), "-print-config takes no value");
        assert!(
            error(&["-input-raw", ":80", OUT, "-output-http-workers", "many"])
                .contains("'many' for '--output-http-workers <N>'")
        );
        assert!(error(&[OUT]).starts_with("no input: "));
        assert!(error(&["-input-raw", ":80"]).starts_with("no output: "));
        assert!(
            error(&["-input-raw", ":80", OUT, "-http-allow-method", "POST"])
                .starts_with("http-allow-method: POST is not a safe method")
        );
        assert!(
            error(&["-input-raw", ":80", OUT, "-http-disallow-url", "("])
                .starts_with("http-disallow-url: invalid regex")
        );
        assert!(
            error(&["-input-raw", ":80", OUT, "--config", "/nonexistent.toml"])
                .starts_with("config file /nonexistent.toml: ")
        );
    }

    #[test]
    fn help_and_version_are_printed() {
        for flag in ["--help", "-help", "-h"] {
            match run(&[flag]) {
                Ok(Invocation::Print(text)) => {
                    for heading in [
                        "Input:",
                        "Output:",
                        "Filters and rewrites:",
                        "Daemon:",
                        "General:",
                    ] {
                        assert!(text.contains(heading), "{flag}: {heading} missing");
                    }
                    assert!(text.contains("--input-raw <[HOST]:PORT>"));
                }
                other => panic!("{flag}: {other:?}"),
            }
        }
        match run(&["--version"]) {
            Ok(Invocation::Print(text)) => assert_eq!(
                text.trim(),
                format!("replayer {}", env!("CARGO_PKG_VERSION"))
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn config_file_under_the_command_line() {
        let dir = std::env::temp_dir().join(format!("replayer-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("replayer.toml");
        std::fs::write(
            &path,
            "input-raw = \":81\"\noutput-null = true\nhttp-disallow-url = [\"^/x\"]\n",
        )
        .unwrap();
        let path_text = path.to_str().unwrap();
        let c = config(&["--config", path_text]);
        assert_eq!(
            c.capture.input,
            Input::Live {
                interface: None,
                host: None,
                port: 81
            }
        );
        assert!(c.outputs.null);
        let c = config(&[
            "-config",
            path_text,
            "-input-raw",
            ":82",
            "-output-null=false",
            OUT,
        ]);
        assert_eq!(
            c.capture.input,
            Input::Live {
                interface: None,
                host: None,
                port: 82
            }
        );
        assert!(!c.outputs.null && c.outputs.stdout);
        assert_eq!(c.filter.disallow_urls.len(), 1);
        std::fs::write(
            &path,
            "input-raw = \":81\"\noutput-stdout = true\nbogus = 1\n",
        )
        .unwrap();
        let err = error(&["--config", path_text]);
        assert!(
            err.starts_with(&format!(
                "config file {path_text}: line 3: unknown field `bogus`"
            )),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
