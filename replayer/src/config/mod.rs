//! Settings: the raw form shared by the command line and the TOML file ([`Settings`]), and
//! the resolved, typed form every part of the replayer runs from ([`Config`]).
//!
//! **One key schema.** Every long flag is also a key of the `--config` file, spelt the same
//! without dashes, with the same value syntax: `input-raw = "127.0.0.1:7999"`,
//! `output-http-timeout = "5s"`, `output-stdout = true`, `output-http-workers = 8`.
//! Repeatable flags take an array (or a single string): `http-disallow-url = ["^/a", "^/b"]`.
//! The command line wins over the file: a scalar given on the command line replaces the
//! file's, and a repeatable flag given on the command line replaces the file's whole list.
//! `replayer --print-config ...` prints the resolved settings in this form, defaults filled
//! in, which can be fed back with `--config`.
//!
//! Value syntax (as GoReplay's): durations are Go's (`5s`, `500ms`, `1m30s`); sizes are
//! bytes with an optional `kb`/`mb`/`gb`/`tb` (powers of 1024: `10mb`); booleans are bare
//! flags, or `-flag=true`/`-flag=false` (also `1`/`0`, `t`/`f`). `--sync-max-age` takes the
//! check plugins' durations (`12h`, `1d`).

//! The files: `settings` (the raw form), `resolve` (raw → typed), [`values`] (the value
//! parsers), [`cli`] (the command line, GoReplay's single-dash spelling included),
//! [`goreplay`] (GoReplay's flags that are refused, and why).

pub mod cli;
pub mod goreplay;
mod resolve;
mod settings;
pub mod values;
#[cfg(test)]
mod tests;

use crate::capture::CaptureConfig;
use crate::stages::filter::FilterConfig;
use crate::stages::limit::{HashLimiter, Limit};
use crate::stages::rewrite::RewriteConfig;
use crate::status::socket::SocketOptions;
use replayer_status::SyncConfig;

pub use settings::Settings;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
pub use values::*;

/// A setting that cannot be used, named by its flag (= its TOML key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    #[error("{flag}: {reason}")]
    Invalid {
        /// The flag (= TOML key) without dashes, e.g. `output-http-workers`.
        flag: &'static str,
        /// What is wrong with the value, for the operator.
        reason: String,
    },
    /// Something required was not given at all (no input, no output); the whole message.
    #[error("{0}")]
    Missing(&'static str),
    /// The `--config` file cannot be read or is not valid TOML of known keys.
    #[error("config file {path}: {reason}")]
    File {
        /// The file as given on the command line.
        path: PathBuf,
        /// The read or parse error.
        reason: String,
    },
}

fn invalid(flag: &'static str) -> impl Fn(String) -> ConfigError {
    move |reason| ConfigError::Invalid { flag, reason }
}

/// The engine GoReplay's `-input-raw-engine` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `libpcap`, the default: a live interface, unless the address looks like a file.
    Libpcap,
    /// `pcap_file`: the `-input-raw` address is a capture file, whatever its name.
    PcapFile,
}

/// One `-output-http` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// Scheme (http or https), host, port and any path prefix; `http://` when none was given.
    pub url: url::Url,
    /// `URL|N` or `URL|N%`.
    pub limit: Option<Limit>,
}

/// `-output-file PATH[|N or |N%]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTarget {
    /// The file GoReplay-format records are appended to.
    pub path: PathBuf,
    /// `PATH|N` (requests per second) or `PATH|N%`; `None` takes every request.
    pub limit: Option<Limit>,
}

/// Where requests go. Every output gets every request (each within its own limit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    /// `-output-http`: staging targets to replay to, in the order given.
    pub http: Vec<HttpTarget>,
    /// `-output-stdout`: GoReplay-format records on stdout.
    pub stdout: bool,
    /// `-output-null`: requests are counted and discarded (capture and filter testing).
    pub null: bool,
    /// `-output-file`: GoReplay-format records written to a file.
    pub file: Option<FileTarget>,
    /// How `-output-file` writes (`-output-file-*`; checked even without `-output-file`).
    pub file_options: FileOptions,
}

/// How staging's answers are compared with production's.
#[derive(Debug, Clone)]
pub struct DiffSettings {
    /// Whether answers are compared (`--diff`); the options below are checked either way.
    pub enabled: bool,
    /// How bodies are digested, on both sides (`--diff-max-body`, `--diff-body-mask`).
    pub digest: crate::diff::digest::DigestConfig,
    /// What is compared (`--diff-ignore-header`).
    pub rules: crate::diff::compare::Rules,
    /// Request-targets whose answers are not compared (`--diff-ignore-url`).
    pub ignore_urls: Vec<regex::Regex>,
}

/// How the daemon replays to `-output-http` targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySettings {
    /// Connections per target that may send at a time: a fixed count
    /// (`-output-http-workers`) or an adaptive range (`-output-http-workers-min`/`-max`).
    pub workers: WorkerRange,
    /// Requests written before their answers are read (`-output-http-pipeline`).
    pub pipeline: usize,
    /// Requests waiting per target before new ones are dropped (`-output-http-queue-len`).
    pub queue_len: usize,
    /// How long one request may take, connecting and redirects included
    /// (`-output-http-timeout`); past it the request counts as failed.
    pub timeout: Duration,
    /// Redirects followed (`-output-http-redirects`); 0 = none, the response is recorded.
    pub redirects: u32,
    /// `-output-http-skip-verify` / `--output-http-insecure`: do not verify TLS certificates.
    pub skip_verify: bool,
    /// `-http-original-host`: keep production's Host instead of the target's.
    pub original_host: bool,
    /// `-output-http-stats`: log the replay queue figures every few seconds.
    pub stats: bool,
    /// `-split-output`: each request goes to one target in turn, not to every target.
    pub split: bool,
}

// Each default has one home, next to the code it tunes; `--print-config` shows them all.
pub use crate::capture::types::DEFAULT_CAPTURE_BUFFER;
pub use crate::outputs::concurrency::WorkerRange;
pub use crate::outputs::file::{FileOptions, DEFAULT_FILE_QUEUE, DEFAULT_FLUSH_INTERVAL};
pub use crate::outputs::replay::{
    DEFAULT_PIPELINE, DEFAULT_QUEUE as DEFAULT_QUEUE_LEN, DEFAULT_TIMEOUT, DEFAULT_WORKERS_MAX,
    DEFAULT_WORKERS_MIN,
};
/// `--drain-timeout`: how long queued and in-flight requests may finish once stopping.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything the replayer runs from, resolved and checked. Built by [`Config::resolve`]
/// from [`Settings`] (command line over TOML file).
#[derive(Debug, Clone)]
pub struct Config {
    /// What to capture and how (`-input-raw*`).
    pub capture: CaptureConfig,
    /// The comparison of staging's answers with production's (`--diff` and its options).
    pub diff: DiffSettings,
    /// `--input-file` and its options: record files replayed instead of a capture (whose
    /// settings are then unused).
    pub records: Option<crate::records::input::RecordInput>,
    /// `--middleware`: the program every message goes through (`sh -c COMMAND`).
    pub middleware: Option<String>,
    /// `--output-http-track-response`: staging's answers written as type-3 records.
    pub track_staging: bool,
    /// `--input-raw-track-response`: production's responses written as type-2 records.
    pub track_response: bool,
    /// The input as the status document names it: `lo:7999`, `any:80`, or the file's path.
    pub source: String,
    /// Where requests go (`-output-*`).
    pub outputs: Outputs,
    /// How `-output-http` targets are replayed to (workers, queue, timeout, TLS ...).
    pub replay: ReplaySettings,
    /// Which requests pass (`-http-allow-method`, `-http-allow-*`, `-http-disallow-*`).
    pub filter: FilterConfig,
    /// What is changed in a request before it goes out (`-http-set-*`,
    /// `-http-rewrite-url`, credentials unless `--keep-credentials`).
    pub rewrite: RewriteConfig,
    /// `-http-header-limiter`: requests sampled by a hash of a header's value (one user's
    /// requests kept or dropped together); a request must pass every one.
    pub header_limiters: Vec<HashLimiter>,
    /// `-http-param-limiter`: the same by a query parameter's value, after the header ones.
    pub param_limiters: Vec<HashLimiter>,
    /// `-prettify-http`: requests written and replayed de-chunked and gzip-decoded.
    pub prettify: bool,
    /// `--status-socket`, `--status-socket-mode`, `--status-socket-group`.
    pub status: SocketOptions,
    /// `--metrics-listen`: Prometheus text format over HTTP, off when `None`.
    pub metrics_listen: Option<SocketAddr>,
    /// `--sync-flag`, `--sync-max-age`, `--sync-window`.
    pub sync: SyncConfig,
    /// `--drain-timeout`: on SIGTERM, how long in-flight requests may finish.
    pub drain_timeout: Duration,
    /// `-exit-after`: stop after this long.
    pub exit_after: Option<Duration>,
    /// `-stats`: a summary line per minute on stderr.
    pub stats: bool,
    /// `-verbose[=N]`: 0 quiet.
    pub verbose: u8,
}
