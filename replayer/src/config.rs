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

use crate::filter::{compile_regex, FilterConfig, HeaderRule, METHOD_OVERRIDE_HEADERS};
use crate::limit::{HeaderLimiter, Limit};
use crate::pipeline::{CaptureConfig, Input};
use crate::rewrite::{RewriteConfig, SetHeader, SetParam, UrlRewrite};
use crate::status_server::SocketOptions;
use replayer_status::sync::{format_duration as format_sync_duration, parse_duration};
use replayer_status::{SyncConfig, SyncWindow};
use serde::{Deserialize, Deserializer, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A setting that cannot be used, named by its flag (= its TOML key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{flag}: {reason}")]
    Invalid { flag: &'static str, reason: String },
    #[error("{0}")]
    Missing(&'static str),
    #[error("config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

fn invalid(flag: &'static str) -> impl Fn(String) -> ConfigError {
    move |reason| ConfigError::Invalid { flag, reason }
}

/// The engine GoReplay's `-input-raw-engine` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Libpcap,
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
    pub path: PathBuf,
    pub limit: Option<Limit>,
}

/// Where requests go. Every output gets every request (each within its own limit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    pub http: Vec<HttpTarget>,
    pub stdout: bool,
    pub null: bool,
    pub file: Option<FileTarget>,
}

/// How the daemon replays to `-output-http` targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySettings {
    /// Concurrent requests per target (`-output-http-workers`).
    pub workers: usize,
    /// Requests waiting per target before new ones are dropped (`-output-http-queue-len`).
    pub queue_len: usize,
    pub timeout: Duration,
    /// Redirects followed (`-output-http-redirects`); 0 = none, the response is recorded.
    pub redirects: u32,
    /// `-output-http-skip-verify` / `--output-http-insecure`: do not verify TLS certificates.
    pub skip_verify: bool,
    /// `-http-original-host`: keep production's Host instead of the target's.
    pub original_host: bool,
    /// `-output-http-stats`: log the replay queue figures every few seconds.
    pub stats: bool,
}

/// The kernel capture buffer unless `-input-raw-buffer-size` says otherwise: libpcap's own
/// 2 MB default holds only ~32 packets on `lo` (64 KB MTU), so a busy second would drop.
pub const DEFAULT_CAPTURE_BUFFER: i32 = 16 << 20;
pub const DEFAULT_WORKERS: usize = 8;
pub const DEFAULT_QUEUE_LEN: usize = 1000;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything the replayer runs from, resolved and checked. Built by [`Config::resolve`]
/// from [`Settings`] (command line over TOML file).
#[derive(Debug, Clone)]
pub struct Config {
    /// What to capture and how (`-input-raw*`).
    pub capture: CaptureConfig,
    /// The input as the status document names it: `lo:7999`, `any:80`, or the file's path.
    pub source: String,
    pub outputs: Outputs,
    pub replay: ReplaySettings,
    pub filter: FilterConfig,
    pub rewrite: RewriteConfig,
    pub header_limiters: Vec<HeaderLimiter>,
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

/// The settings as written, on the command line or in the TOML file: one field per flag.
/// Every field is optional so that the two sources can be laid over each other.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Settings {
    // ---- Input ----
    /// Capture HTTP requests to this port: `[host]:port`, where host is an IP address, an
    /// interface name, or a .pcap/.pcapng file; empty host = all interfaces (`:80`)
    #[arg(long, value_name = "[HOST]:PORT", help_heading = "Input")]
    pub input_raw: Option<String>,
    /// `libpcap` (live capture, the default) or `pcap_file` (read the file named by -input-raw)
    #[arg(long, value_name = "ENGINE", help_heading = "Input")]
    pub input_raw_engine: Option<String>,
    /// BPF filter used instead of the one built from -input-raw's host and port
    #[arg(long, value_name = "FILTER", help_heading = "Input")]
    pub input_raw_bpf_filter: Option<String>,
    /// A connection idle this long is flushed and forgotten [default: 60s]
    #[arg(long, value_name = "DURATION", help_heading = "Input")]
    pub input_raw_expire: Option<String>,
    /// Kernel capture buffer, e.g. 10mb [default: 16mb]
    #[arg(long, value_name = "SIZE", help_heading = "Input")]
    pub input_raw_buffer_size: Option<String>,
    /// Bytes kept per packet [default: 65535, so offloaded super-packets are never cut]
    #[arg(long, value_name = "SIZE", help_heading = "Input")]
    pub input_raw_snaplen: Option<String>,
    /// Accepted for GoReplay compatibility; the snaplen is always 64 KiB unless -input-raw-snaplen
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Input")]
    pub input_raw_override_snaplen: Option<bool>,
    /// Put the interface in promiscuous mode (to see frames addressed to other hosts)
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Input")]
    pub input_raw_promisc: Option<bool>,
    /// Connections reassembled at once; beyond it new ones are dropped and counted [default: 65536]
    #[arg(long, value_name = "N", help_heading = "Input")]
    pub max_streams: Option<usize>,
    /// Bytes one connection may hold (out of order, or an unfinished request), e.g. 1mb;
    /// a request that outgrows it is cut and counted [default: 4mb]
    #[arg(long, value_name = "SIZE", help_heading = "Input")]
    pub max_stream_bytes: Option<String>,
    /// Bytes all connections together may hold [default: 32mb]
    #[arg(long, value_name = "SIZE", help_heading = "Input")]
    pub max_buffered_bytes: Option<String>,

    // ---- Output ----
    /// Replay to this staging URL (repeatable; each gets every request). `URL|N` caps it at
    /// N requests/s, `URL|N%` at N percent. No scheme means http://
    #[arg(long, value_name = "URL[|LIMIT]", help_heading = "Output")]
    #[serde(deserialize_with = "one_or_many")]
    pub output_http: Vec<String>,
    /// Concurrent requests per target [default: 8]
    #[arg(long, value_name = "N", help_heading = "Output")]
    pub output_http_workers: Option<usize>,
    /// Requests queued per target; when full, new ones are dropped and counted [default: 1000]
    #[arg(long, value_name = "N", help_heading = "Output")]
    pub output_http_queue_len: Option<usize>,
    /// Time allowed for each replayed request [default: 5s]
    #[arg(long, value_name = "DURATION", help_heading = "Output")]
    pub output_http_timeout: Option<String>,
    /// Redirects to follow [default: 0]
    #[arg(long, value_name = "N", help_heading = "Output")]
    pub output_http_redirects: Option<u32>,
    /// Do not verify the targets' TLS certificates (also --output-http-insecure)
    #[arg(long, alias = "output-http-insecure", value_parser = parse_go_bool, value_name = "BOOL",
          help_heading = "Output")]
    #[serde(alias = "output-http-insecure")]
    pub output_http_skip_verify: Option<bool>,
    /// Log replay queue figures every few seconds
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Output")]
    pub output_http_stats: Option<bool>,
    /// Keep production's Host header instead of the target's host
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Output")]
    pub http_original_host: Option<bool>,
    /// Write requests to standard output in GoReplay's file format
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Output")]
    pub output_stdout: Option<bool>,
    /// Discard requests (measures capture alone)
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Output")]
    pub output_null: Option<bool>,
    /// Write requests to this file in GoReplay's format (readable by its --input-file);
    /// `PATH|N` or `PATH|N%` limits it
    #[arg(long, value_name = "PATH[|LIMIT]", help_heading = "Output")]
    pub output_file: Option<String>,

    // ---- Filters and rewrites ----
    /// Replay this method (repeatable, exact match; also -output-http-method). Default: GET,
    /// HEAD, OPTIONS. Any other needs --allow-unsafe-methods too
    #[arg(
        long,
        alias = "output-http-method",
        value_name = "METHOD",
        help_heading = "Filters and rewrites"
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub http_allow_method: Vec<String>,
    /// Allow the methods named by -http-allow-method that change data (POST, PUT, DELETE, ...)
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Filters and rewrites")]
    pub allow_unsafe_methods: Option<bool>,
    /// Replay only request-targets (path?query) matching one of these regexes (repeatable)
    #[arg(long, value_name = "REGEX", help_heading = "Filters and rewrites")]
    #[serde(deserialize_with = "one_or_many")]
    pub http_allow_url: Vec<String>,
    /// Never replay request-targets matching this regex (repeatable)
    #[arg(long, value_name = "REGEX", help_heading = "Filters and rewrites")]
    #[serde(deserialize_with = "one_or_many")]
    pub http_disallow_url: Vec<String>,
    /// Replay only requests having this header matching the regex: `Name: regex` (repeatable)
    #[arg(
        long,
        value_name = "NAME: REGEX",
        help_heading = "Filters and rewrites"
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub http_allow_header: Vec<String>,
    /// Never replay requests whose header matches: `Name: regex` (repeatable)
    #[arg(
        long,
        value_name = "NAME: REGEX",
        help_heading = "Filters and rewrites"
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub http_disallow_header: Vec<String>,
    /// Keep N% of requests by a hash (FNV-1a) of this header's value: `Name: N%` (repeatable)
    #[arg(long, value_name = "NAME: N%", help_heading = "Filters and rewrites")]
    #[serde(deserialize_with = "one_or_many")]
    pub http_header_limiter: Vec<String>,
    /// Set a header: `Name: Value`; an empty value sets it empty (repeatable; also -output-http-header)
    #[arg(
        long,
        alias = "output-http-header",
        value_name = "NAME: VALUE",
        help_heading = "Filters and rewrites"
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub http_set_header: Vec<String>,
    /// Set a query parameter: `name=value` (repeatable)
    #[arg(long, value_name = "NAME=VALUE", help_heading = "Filters and rewrites")]
    #[serde(deserialize_with = "one_or_many")]
    pub http_set_param: Vec<String>,
    /// Rewrite the request-target: `regex:replacement`, $1 for groups (repeatable; first match wins)
    #[arg(
        long,
        value_name = "REGEX:REPLACEMENT",
        help_heading = "Filters and rewrites"
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub http_rewrite_url: Vec<String>,
    /// Keep Authorization, Cookie and Proxy-Authorization (stripped by default)
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Filters and rewrites")]
    pub keep_credentials: Option<bool>,

    // ---- Daemon ----
    /// Unix socket serving the status document [default: /run/replayer/status.sock]
    #[arg(long, value_name = "PATH", help_heading = "Daemon")]
    pub status_socket: Option<String>,
    /// Permissions of the status socket, octal [default: 0660]
    #[arg(long, value_name = "MODE", help_heading = "Daemon")]
    pub status_socket_mode: Option<String>,
    /// Group of the status socket (name or id), e.g. nagios
    #[arg(long, value_name = "GROUP", help_heading = "Daemon")]
    pub status_socket_group: Option<String>,
    /// Also serve the figures in Prometheus text format on this address, e.g. 127.0.0.1:9464
    #[arg(long, value_name = "ADDR", help_heading = "Daemon")]
    pub metrics_listen: Option<String>,
    /// Data-sync flag file: replay pauses while it says a sync is in progress
    /// [default: /etc/govuk/env.d/FACTER_data_sync_in_progress]
    #[arg(long, value_name = "PATH", help_heading = "Daemon")]
    pub sync_flag: Option<String>,
    /// A flag set longer than this is stale (reported, and replay resumes) [default: 12h]
    #[arg(long, value_name = "DURATION", help_heading = "Daemon")]
    pub sync_max_age: Option<String>,
    /// Also pause during this daily UTC window, e.g. 22:00-08:00
    #[arg(long, value_name = "HH:MM-HH:MM", help_heading = "Daemon")]
    pub sync_window: Option<String>,
    /// On SIGTERM/SIGINT, how long in-flight requests may finish [default: 5s]
    #[arg(long, value_name = "DURATION", help_heading = "Daemon")]
    pub drain_timeout: Option<String>,

    // ---- General ----
    /// Stop after this long, e.g. 30s
    #[arg(long, value_name = "DURATION", help_heading = "General")]
    pub exit_after: Option<String>,
    /// Log a summary line every minute
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "General")]
    pub stats: Option<bool>,
    /// More logging; -verbose=2 for even more
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "1",
          value_name = "LEVEL", help_heading = "General")]
    pub verbose: Option<u8>,
}

/// Lays `over` on `base`: `over`'s scalars win when given, `over`'s lists replace `base`'s
/// when not empty. Every field must be listed, so a new flag cannot be forgotten here.
macro_rules! overlay {
    ($base:ident, $over:ident; scalars: $($s:ident),* ; lists: $($l:ident),* $(,)?) => {
        Settings {
            $($s: $over.$s.or($base.$s),)*
            $($l: if $over.$l.is_empty() { $base.$l } else { $over.$l },)*
        }
    };
}

impl Settings {
    /// These settings with `over`'s laid on top (the command line over the file).
    pub fn overlaid_with(self, over: Settings) -> Settings {
        let base = self;
        overlay!(base, over;
            scalars: input_raw, input_raw_engine, input_raw_bpf_filter, input_raw_expire,
                input_raw_buffer_size, input_raw_snaplen, input_raw_override_snaplen,
                input_raw_promisc, max_streams, max_stream_bytes, max_buffered_bytes,
                output_http_workers, output_http_queue_len,
                output_http_timeout, output_http_redirects, output_http_skip_verify,
                output_http_stats, http_original_host, output_stdout, output_null, output_file,
                allow_unsafe_methods, keep_credentials, status_socket, status_socket_mode,
                status_socket_group, metrics_listen, sync_flag, sync_max_age, sync_window,
                drain_timeout, exit_after, stats, verbose;
            lists: output_http, http_allow_method, http_allow_url, http_disallow_url,
                http_allow_header, http_disallow_header, http_header_limiter, http_set_header,
                http_set_param, http_rewrite_url,
        )
    }

    /// Reads a TOML settings file (the keys are the long flag names).
    pub fn from_toml_file(path: &Path) -> Result<Settings, ConfigError> {
        let file_error = |reason: String| ConfigError::File {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        Settings::from_toml(&text).map_err(file_error)
    }

    /// Parses TOML settings; the error is one line, with the line number.
    pub fn from_toml(text: &str) -> Result<Settings, String> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let message = e.message().replace('\n', " ");
            match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            }
        })
    }

    /// The settings as a TOML document (for `--print-config`).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot print settings: {e}\n"))
    }
}

/// A TOML list key also accepts a single string.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match OneOrMany::deserialize(deserializer) {
        Ok(OneOrMany::One(one)) => Ok(vec![one]),
        Ok(OneOrMany::Many(many)) => Ok(many),
        Err(_) => Err(serde::de::Error::custom(
            "expected a string or an array of strings",
        )),
    }
}

impl Config {
    /// Checks and types every setting. The first problem found is the error, naming its flag.
    pub fn resolve(settings: &Settings) -> Result<Config, ConfigError> {
        let s = settings;
        let engine = match s.input_raw_engine.as_deref().map(str::trim) {
            None | Some("") | Some("libpcap") => None,
            Some("pcap_file") => Some(Engine::PcapFile),
            Some(other) => {
                return Err(invalid("input-raw-engine")(format!(
                    "'{other}' is not supported (use libpcap or pcap_file)"
                )))
            }
        };
        let raw = s.input_raw.as_deref().ok_or(ConfigError::Missing(
            "no input: give -input-raw [host]:port (or FILE.pcap:port)",
        ))?;
        let (input, source) = parse_input_raw(raw, engine).map_err(invalid("input-raw"))?;

        let mut capture = CaptureConfig::new(input);
        capture.bpf_filter = s
            .input_raw_bpf_filter
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string);
        if let Some(expire) = &s.input_raw_expire {
            capture.expire = parse_go_duration(expire).map_err(invalid("input-raw-expire"))?;
            if capture.expire.is_zero() {
                return Err(invalid("input-raw-expire")("must be more than 0".into()));
            }
        }
        capture.buffer_size = Some(DEFAULT_CAPTURE_BUFFER);
        if let Some(size) = &s.input_raw_buffer_size {
            let bytes = parse_size(size).map_err(invalid("input-raw-buffer-size"))?;
            capture.buffer_size = Some(i32::try_from(bytes).map_err(|_| {
                invalid("input-raw-buffer-size")(format!("'{size}' is more than 2 GiB"))
            })?);
        }
        if let Some(n) = s.max_streams {
            if n == 0 {
                return Err(invalid("max-streams")("must be at least 1".into()));
            }
            capture.limits.max_streams = n;
        }
        for (flag, text, field) in [
            (
                "max-stream-bytes",
                &s.max_stream_bytes,
                &mut capture.limits.max_stream_bytes,
            ),
            (
                "max-buffered-bytes",
                &s.max_buffered_bytes,
                &mut capture.limits.max_total_bytes,
            ),
        ] {
            if let Some(text) = text {
                *field = parse_size(text)
                    .ok()
                    .and_then(|b| usize::try_from(b).ok())
                    .filter(|&b| b >= 1024)
                    .ok_or_else(|| {
                        invalid(flag)(format!("'{text}' is not a size of 1kb or more"))
                    })?;
            }
        }
        if let Some(size) = &s.input_raw_snaplen {
            let bytes = parse_size(size).map_err(invalid("input-raw-snaplen"))?;
            capture.snaplen = i32::try_from(bytes)
                .ok()
                .filter(|n| (64..=262_144).contains(n))
                .ok_or_else(|| {
                    invalid("input-raw-snaplen")(format!("'{size}' is not from 64 to 256kb"))
                })?;
        }
        capture.promisc = s.input_raw_promisc.unwrap_or(false);

        let outputs = Outputs {
            http: s
                .output_http
                .iter()
                .map(|t| parse_http_target(t).map_err(invalid("output-http")))
                .collect::<Result<_, _>>()?,
            stdout: s.output_stdout.unwrap_or(false),
            null: s.output_null.unwrap_or(false),
            file: s
                .output_file
                .as_deref()
                .map(|f| parse_file_target(f).map_err(invalid("output-file")))
                .transpose()?,
        };
        if outputs.http.is_empty() && !outputs.stdout && !outputs.null && outputs.file.is_none() {
            return Err(ConfigError::Missing(
                "no output: give -output-http URL, -output-stdout, -output-file PATH or -output-null",
            ));
        }

        let replay = ReplaySettings {
            workers: match s.output_http_workers {
                None => DEFAULT_WORKERS,
                Some(0) => return Err(invalid("output-http-workers")("must be at least 1".into())),
                Some(n) => n,
            },
            queue_len: match s.output_http_queue_len {
                None => DEFAULT_QUEUE_LEN,
                Some(0) => {
                    return Err(invalid("output-http-queue-len")(
                        "must be at least 1".into(),
                    ))
                }
                Some(n) => n,
            },
            timeout: match &s.output_http_timeout {
                None => DEFAULT_TIMEOUT,
                Some(t) => parse_go_duration(t)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        invalid("output-http-timeout")(format!(
                            "'{t}' is not a duration above 0 like 5s or 500ms"
                        ))
                    })?,
            },
            redirects: s.output_http_redirects.unwrap_or(0),
            skip_verify: s.output_http_skip_verify.unwrap_or(false),
            original_host: s.http_original_host.unwrap_or(false),
            stats: s.output_http_stats.unwrap_or(false),
        };

        let allow_unsafe_methods = s.allow_unsafe_methods.unwrap_or(false);
        let filter = FilterConfig {
            methods: FilterConfig::methods_from(&s.http_allow_method, allow_unsafe_methods)
                .map_err(invalid("http-allow-method"))?,
            allow_unsafe_methods,
            allow_urls: compile_all(&s.http_allow_url, compile_regex, "http-allow-url")?,
            disallow_urls: compile_all(&s.http_disallow_url, compile_regex, "http-disallow-url")?,
            allow_headers: compile_all(
                &s.http_allow_header,
                HeaderRule::parse,
                "http-allow-header",
            )?,
            disallow_headers: compile_all(
                &s.http_disallow_header,
                HeaderRule::parse,
                "http-disallow-header",
            )?,
        };
        let rewrite = RewriteConfig {
            set_headers: compile_all(&s.http_set_header, SetHeader::parse, "http-set-header")?,
            set_params: compile_all(&s.http_set_param, SetParam::parse, "http-set-param")?,
            url_rewrites: compile_all(&s.http_rewrite_url, UrlRewrite::parse, "http-rewrite-url")?,
            keep_credentials: s.keep_credentials.unwrap_or(false),
        };
        check_override_headers(&rewrite, &filter).map_err(invalid("http-set-header"))?;
        let header_limiters = compile_all(
            &s.http_header_limiter,
            HeaderLimiter::parse,
            "http-header-limiter",
        )?;

        let mut status = SocketOptions::default();
        if let Some(path) = &s.status_socket {
            if path.trim().is_empty() {
                return Err(invalid("status-socket")("empty path".into()));
            }
            status.path = PathBuf::from(path);
        }
        if let Some(mode) = &s.status_socket_mode {
            status.mode = parse_mode(mode).map_err(invalid("status-socket-mode"))?;
            if status.mode & 0o002 != 0 {
                return Err(invalid("status-socket-mode")(format!(
                    "'{mode}' lets every user write to the socket; give readers a group \
                     (--status-socket-group) instead"
                )));
            }
        }
        status.group = s
            .status_socket_group
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string);
        let metrics_listen = s
            .metrics_listen
            .as_deref()
            .map(|a| parse_listen_addr(a).map_err(invalid("metrics-listen")))
            .transpose()?;

        let mut sync = SyncConfig::default();
        if let Some(flag) = &s.sync_flag {
            if flag.trim().is_empty() {
                return Err(invalid("sync-flag")("empty path".into()));
            }
            sync.flag = PathBuf::from(flag);
        }
        if let Some(age) = &s.sync_max_age {
            sync.max_age =
                parse_duration(age).map_err(|e| invalid("sync-max-age")(e.to_string()))?;
        }
        if let Some(window) = &s.sync_window {
            sync.window = Some(
                window
                    .parse::<SyncWindow>()
                    .map_err(|e| invalid("sync-window")(e.to_string()))?,
            );
        }

        Ok(Config {
            capture,
            source,
            outputs,
            replay,
            filter,
            rewrite,
            header_limiters,
            status,
            metrics_listen,
            sync,
            drain_timeout: match &s.drain_timeout {
                None => DEFAULT_DRAIN_TIMEOUT,
                Some(d) => parse_go_duration(d).map_err(invalid("drain-timeout"))?,
            },
            exit_after: s
                .exit_after
                .as_deref()
                .map(|d| parse_go_duration(d).map_err(invalid("exit-after")))
                .transpose()?,
            stats: s.stats.unwrap_or(false),
            verbose: s.verbose.unwrap_or(0),
        })
    }

    /// The resolved configuration back in [`Settings`] form, every default spelt out. Resolving
    /// it again gives the same configuration (`--print-config` output works as `--config`).
    pub fn to_settings(&self) -> Settings {
        let with_limit = |address: String, limit: Option<Limit>| match limit {
            Some(limit) => format!("{address}|{limit}"),
            None => address,
        };
        let (input_raw, engine) = match &self.capture.input {
            Input::File { path, port } => (format!("{}:{port}", path.display()), "pcap_file"),
            Input::Live {
                interface,
                host,
                port,
            } => {
                let host = match (host, interface) {
                    (Some(IpAddr::V6(ip)), _) => format!("[{ip}]"),
                    (Some(ip), _) => ip.to_string(),
                    (None, Some(name)) => name.clone(),
                    (None, None) => String::new(),
                };
                (format!("{host}:{port}"), "libpcap")
            }
        };
        Settings {
            input_raw: Some(input_raw),
            input_raw_engine: Some(engine.to_string()),
            input_raw_bpf_filter: self.capture.bpf_filter.clone(),
            input_raw_expire: Some(format_go_duration(self.capture.expire)),
            input_raw_buffer_size: self.capture.buffer_size.map(|b| format_size(b as u64)),
            input_raw_snaplen: Some(format_size(self.capture.snaplen as u64)),
            input_raw_override_snaplen: None,
            input_raw_promisc: Some(self.capture.promisc),
            max_streams: Some(self.capture.limits.max_streams),
            max_stream_bytes: Some(format_size(self.capture.limits.max_stream_bytes as u64)),
            max_buffered_bytes: Some(format_size(self.capture.limits.max_total_bytes as u64)),
            output_http: self
                .outputs
                .http
                .iter()
                .map(|t| with_limit(t.url.to_string(), t.limit))
                .collect(),
            output_http_workers: Some(self.replay.workers),
            output_http_queue_len: Some(self.replay.queue_len),
            output_http_timeout: Some(format_go_duration(self.replay.timeout)),
            output_http_redirects: Some(self.replay.redirects),
            output_http_skip_verify: Some(self.replay.skip_verify),
            output_http_stats: Some(self.replay.stats),
            http_original_host: Some(self.replay.original_host),
            output_stdout: Some(self.outputs.stdout),
            output_null: Some(self.outputs.null),
            output_file: self
                .outputs
                .file
                .as_ref()
                .map(|f| with_limit(f.path.display().to_string(), f.limit)),
            http_allow_method: self.filter.methods.clone(),
            allow_unsafe_methods: Some(self.filter.allow_unsafe_methods),
            http_allow_url: texts(&self.filter.allow_urls),
            http_disallow_url: texts(&self.filter.disallow_urls),
            http_allow_header: texts(&self.filter.allow_headers),
            http_disallow_header: texts(&self.filter.disallow_headers),
            http_header_limiter: texts(&self.header_limiters),
            http_set_header: texts(&self.rewrite.set_headers),
            http_set_param: texts(&self.rewrite.set_params),
            http_rewrite_url: texts(&self.rewrite.url_rewrites),
            keep_credentials: Some(self.rewrite.keep_credentials),
            status_socket: Some(self.status.path.display().to_string()),
            status_socket_mode: Some(format!("{:04o}", self.status.mode)),
            status_socket_group: self.status.group.clone(),
            metrics_listen: self.metrics_listen.map(|a| a.to_string()),
            sync_flag: Some(self.sync.flag.display().to_string()),
            sync_max_age: Some(format_sync_duration(self.sync.max_age)),
            sync_window: self.sync.window.map(|w| w.to_string()),
            drain_timeout: Some(format_go_duration(self.drain_timeout)),
            exit_after: self.exit_after.map(format_go_duration),
            stats: Some(self.stats),
            verbose: Some(self.verbose),
        }
    }
}

/// A method-override header set by `-http-set-header` turns every replayed request into
/// that method, so it must name a replayed method (an unsafe one needs the same two flags).
/// Each item as its flag value.
fn texts<T: std::fmt::Display>(items: &[T]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

fn check_override_headers(rewrite: &RewriteConfig, filter: &FilterConfig) -> Result<(), String> {
    for set in &rewrite.set_headers {
        let is_override = METHOD_OVERRIDE_HEADERS
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&set.name));
        let allowed = filter
            .methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&set.value));
        if is_override && !set.value.is_empty() && !allowed {
            return Err(format!(
                "'{set}' would replay every request as {}; name that method with -http-allow-method and --allow-unsafe-methods to mean it",
                set.value.to_ascii_uppercase()
            ));
        }
    }
    Ok(())
}

fn compile_all<T>(
    items: &[String],
    parse: impl Fn(&str) -> Result<T, String>,
    flag: &'static str,
) -> Result<Vec<T>, ConfigError> {
    items
        .iter()
        .map(|item| parse(item).map_err(invalid(flag)))
        .collect()
}

/// `-input-raw [host]:port`: host may be an IP address, `localhost`, an interface name or a
/// capture file; empty means every interface. Returns the input and its display name.
pub fn parse_input_raw(text: &str, engine: Option<Engine>) -> Result<(Input, String), String> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("'{text}' is not [host]:port"))?;
    let port: u16 = port
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("'{port}' in '{text}' is not a port (1-65535)"))?;
    let lower = host.to_ascii_lowercase();
    let looks_like_file = lower.ends_with(".pcap")
        || lower.ends_with(".pcapng")
        || lower.ends_with(".cap")
        || host.contains('/');
    if engine == Some(Engine::PcapFile) || looks_like_file {
        let path = PathBuf::from(host);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(format!("{host} is not a file")),
            Err(e) => return Err(format!("cannot read {host}: {e}")),
        }
        return Ok((Input::File { path, port }, host.to_string()));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host == "localhost" {
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else {
        bare.parse::<IpAddr>().ok()
    };
    let devices = pcap::Device::list().unwrap_or_default();
    let (interface, ip) = match (host, ip) {
        ("", _) => (None, None),
        (_, Some(ip)) => {
            // Capture on the interface that owns the address when there is one (as GoReplay);
            // otherwise on every interface, filtered by address.
            let owner = devices
                .iter()
                .find(|d| d.addresses.iter().any(|a| a.addr == ip))
                .map(|d| d.name.clone());
            (owner, Some(ip))
        }
        (name, None) => {
            if !devices.is_empty() && !devices.iter().any(|d| d.name == name) {
                let known: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
                return Err(format!(
                    "'{name}' is neither an IP address, an interface ({}) nor a .pcap file",
                    known.join(", ")
                ));
            }
            (Some(name.to_string()), None)
        }
    };
    let source = format!("{}:{port}", interface.as_deref().unwrap_or("any"));
    Ok((
        Input::Live {
            interface,
            host: ip,
            port,
        },
        source,
    ))
}

/// `-output-http URL[|N or |N%]`; no scheme means `http://`.
pub fn parse_http_target(text: &str) -> Result<HttpTarget, String> {
    let (address, limit) = Limit::split(text.trim())?;
    let address = address.trim();
    // Error messages end up in logs: never with a password in them.
    let shown = redact_userinfo(address);
    let with_scheme = if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| format!("'{shown}' is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "'{shown}': only http:// and https:// targets are supported"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("'{shown}' has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "'{shown}': credentials in a target URL are not supported (they would be logged \
             and shown in the status document); set a header with -http-set-header instead"
        ));
    }
    Ok(HttpTarget { url, limit })
}

/// `scheme://user:password@host/...` with the user part shown as `***`, for messages.
fn redact_userinfo(address: &str) -> String {
    let start = address.find("://").map_or(0, |i| i + 3);
    let authority_end = address[start..]
        .find(['/', '?', '#'])
        .map_or(address.len(), |i| start + i);
    match address[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &address[..start], &address[start + at..]),
        None => address.to_string(),
    }
}

/// `-output-file PATH[|N or |N%]`.
pub fn parse_file_target(text: &str) -> Result<FileTarget, String> {
    let (path, limit) = Limit::split(text)?;
    if path.trim().is_empty() {
        return Err("empty path".into());
    }
    Ok(FileTarget {
        path: PathBuf::from(path.trim()),
        limit,
    })
}

/// Go's `strconv.ParseBool`, which `-flag=value` uses.
pub fn parse_go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("'{text}' is not a boolean (true or false)")),
    }
}

/// Go's `time.ParseDuration`, without the sign: `300ms`, `1.5h`, `2h45m`, `0`.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("'{text}' is not a duration like 5s, 500ms or 1m30s");
    let mut rest = text.trim();
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total_ns: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_ns: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(bad());
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let mut part = whole.checked_mul(unit_ns).ok_or_else(bad)?;
        let mut scale = unit_ns;
        for digit in fraction.bytes().take(18) {
            scale /= 10;
            part += u128::from(digit - b'0') * scale;
        }
        total_ns = total_ns.checked_add(part).ok_or_else(bad)?;
        rest = after;
    }
    u64::try_from(total_ns)
        .map(Duration::from_nanos)
        .map_err(|_| bad())
}

/// The shortest Go duration that reads back the same: `5s`, `500ms`, `1m30s`, `2h`.
pub fn format_go_duration(duration: Duration) -> String {
    let ns = duration.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if !ns.is_multiple_of(1_000_000_000) {
        return match ns {
            n if n.is_multiple_of(1_000_000) => format!("{}ms", n / 1_000_000),
            n if n.is_multiple_of(1_000) => format!("{}us", n / 1_000),
            n => format!("{n}ns"),
        };
    }
    let secs = ns / 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// GoReplay's sizes: a number (decimal, or `0x` hex; `_` allowed) with an optional unit
/// `kb`, `mb`, `gb` or `tb` in any case, in powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("'{text}' is not a size like 65536, 64kb or 10mb");
    let lower = text.trim().to_ascii_lowercase();
    let (number, multiplier) = [
        ("kb", 1u64 << 10),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
        ("tb", 1 << 40),
    ]
    .iter()
    .find_map(|(unit, m)| lower.strip_suffix(unit).map(|n| (n.to_string(), *m)))
    .unwrap_or((lower.clone(), 1));
    let digits = number.replace('_', "");
    let value = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse::<u64>(),
    }
    .map_err(|_| bad())?;
    value.checked_mul(multiplier).ok_or_else(bad)
}

/// A size the way [`parse_size`] reads it back: `16mb`, `64kb`, `65535`.
pub fn format_size(bytes: u64) -> String {
    match bytes {
        0 => "0".into(),
        b if b.is_multiple_of(1 << 30) => format!("{}gb", b >> 30),
        b if b.is_multiple_of(1 << 20) => format!("{}mb", b >> 20),
        b if b.is_multiple_of(1 << 10) => format!("{}kb", b >> 10),
        b => b.to_string(),
    }
}

/// An octal permission mode: `0660`, `660` or `0o660`.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim().trim_start_matches("0o");
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|m| *m <= 0o7777 && !digits.is_empty())
        .ok_or_else(|| format!("'{text}' is not an octal mode like 0660"))
}

/// `host:port`, `[v6]:port`, or `:port` (every address, as Go's listeners take it).
pub fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let full = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.replace("localhost:", "127.0.0.1:"),
    };
    full.parse()
        .map_err(|_| format!("'{text}' is not an address like 127.0.0.1:9464"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(input: &str) -> Settings {
        Settings {
            input_raw: Some(input.into()),
            output_stdout: Some(true),
            ..Settings::default()
        }
    }

    fn resolve_err(s: Settings) -> String {
        Config::resolve(&s).unwrap_err().to_string()
    }

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        assert_eq!(parse_go_duration("5s"), Ok(ms(5000)));
        assert_eq!(parse_go_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_go_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_go_duration("1.5h"), Ok(ms(5_400_000)));
        assert_eq!(parse_go_duration(".5s"), Ok(ms(500)));
        assert_eq!(
            parse_go_duration("2h45m10s"),
            Ok(ms((2 * 3600 + 45 * 60 + 10) * 1000))
        );
        assert_eq!(parse_go_duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_go_duration("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_go_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "5", "5x", "s", "-5s", "1.2.3s", "5 s", "1d", "."] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
        for d in ["5s", "500ms", "1m30s", "2h", "1h0m1s", "10us", "7ns", "0s"] {
            let parsed = parse_go_duration(d).unwrap();
            assert_eq!(
                parse_go_duration(&format_go_duration(parsed)),
                Ok(parsed),
                "{d}"
            );
        }
        assert_eq!(format_go_duration(ms(90_000)), "1m30s");
    }

    #[test]
    fn goreplay_sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64kb"), Ok(65536));
        assert_eq!(parse_size("10mb"), Ok(10 << 20));
        assert_eq!(parse_size("10MB"), Ok(10 << 20));
        assert_eq!(parse_size("1gb"), Ok(1 << 30));
        assert_eq!(parse_size("1_000"), Ok(1000));
        assert_eq!(parse_size("0x10kb"), Ok(16 << 10));
        for bad in ["", "mb", "10 mb x", "ten", "-1", "10m"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        for bytes in [0, 1, 65535, 65536, 16 << 20, 3 << 30, (1 << 20) + 1] {
            assert_eq!(parse_size(&format_size(bytes)), Ok(bytes));
        }
        assert_eq!(format_size(16 << 20), "16mb");
    }

    #[test]
    fn go_bools_and_modes() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_go_bool(t), Ok(true));
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_go_bool(f), Ok(false));
        }
        assert!(parse_go_bool("yes").is_err());
        assert_eq!(parse_mode("0660"), Ok(0o660));
        assert_eq!(parse_mode("600"), Ok(0o600));
        assert_eq!(parse_mode("0o640"), Ok(0o640));
        assert!(parse_mode("0668").is_err());
        assert!(parse_mode("").is_err());
        assert_eq!(
            parse_listen_addr(":9464"),
            Ok("0.0.0.0:9464".parse().unwrap())
        );
        assert_eq!(
            parse_listen_addr("localhost:1"),
            Ok("127.0.0.1:1".parse().unwrap())
        );
        assert_eq!(parse_listen_addr("[::1]:2"), Ok("[::1]:2".parse().unwrap()));
        assert!(parse_listen_addr("nowhere").is_err());
    }

    #[test]
    fn input_raw_forms() {
        let live = |t: &str| parse_input_raw(t, None).map(|(input, _)| input);
        assert_eq!(
            live(":80"),
            Ok(Input::Live {
                interface: None,
                host: None,
                port: 80
            })
        );
        // 127.0.0.1 belongs to lo: captured there, filtered by address.
        let (input, source) = parse_input_raw("127.0.0.1:7999", None).unwrap();
        assert_eq!(
            input,
            Input::Live {
                interface: Some("lo".into()),
                host: Some("127.0.0.1".parse().unwrap()),
                port: 7999
            }
        );
        assert_eq!(source, "lo:7999");
        assert_eq!(live("localhost:80"), live("127.0.0.1:80"));
        assert!(matches!(
            live("[::1]:8080"),
            Ok(Input::Live {
                host: Some(IpAddr::V6(_)),
                port: 8080,
                ..
            })
        ));
        assert_eq!(
            live("lo:80"),
            Ok(Input::Live {
                interface: Some("lo".into()),
                host: None,
                port: 80
            })
        );
        // An address no interface has: every interface, filtered by address.
        assert_eq!(
            live("192.0.2.77:80"),
            Ok(Input::Live {
                interface: None,
                host: Some("192.0.2.77".parse().unwrap()),
                port: 80
            })
        );
        assert!(live("nosuchif0:80")
            .unwrap_err()
            .starts_with("'nosuchif0' is neither"));
        assert_eq!(
            live("127.0.0.1").unwrap_err(),
            "'127.0.0.1' is not [host]:port"
        );
        assert!(live("127.0.0.1:0").is_err());
        assert!(live("127.0.0.1:65536").is_err());
        assert!(live(":http").is_err());
    }

    #[test]
    fn input_raw_files() {
        let dir = std::env::temp_dir().join(format!("replayer-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("capture.pcap");
        std::fs::write(&file, b"").unwrap();
        let text = format!("{}:80", file.display());
        let (input, source) = parse_input_raw(&text, None).unwrap();
        assert_eq!(
            input,
            Input::File {
                path: file.clone(),
                port: 80
            }
        );
        assert_eq!(source, file.display().to_string());
        // Any name is a file with the pcap_file engine.
        let other = dir.join("trace.bin");
        std::fs::write(&other, b"").unwrap();
        let text = format!("{}:8080", other.display());
        assert!(matches!(
            parse_input_raw(&text, Some(Engine::PcapFile)),
            Ok((Input::File { port: 8080, .. }, _))
        ));
        let missing = format!("{}:80", dir.join("missing.pcap").display());
        assert!(parse_input_raw(&missing, None)
            .unwrap_err()
            .starts_with("cannot read "));
        assert!(parse_input_raw("lo:80", Some(Engine::PcapFile))
            .unwrap_err()
            .starts_with("cannot read lo"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn http_targets() {
        let t = parse_http_target("staging.example:8080").unwrap();
        assert_eq!(t.url.as_str(), "http://staging.example:8080/");
        assert_eq!(t.limit, None);
        let t = parse_http_target("https://www-origin.staging.example|10%").unwrap();
        assert_eq!(t.url.as_str(), "https://www-origin.staging.example/");
        assert_eq!(t.limit, Some(Limit::Percent(10)));
        assert_eq!(
            parse_http_target("http://s|50").unwrap().limit,
            Some(Limit::PerSecond(50))
        );
        assert!(parse_http_target("ftp://s")
            .unwrap_err()
            .contains("only http:// and https://"));
        assert!(parse_http_target("http://").is_err());
        assert!(parse_http_target("http://s|abc").is_err());
        assert!(parse_http_target("http://s|150%").is_err());
    }

    #[test]
    fn defaults_are_the_safe_ones() {
        let config = Config::resolve(&settings(":80")).unwrap();
        assert_eq!(config.filter.methods, ["GET", "HEAD", "OPTIONS"]);
        assert!(!config.filter.allow_unsafe_methods);
        assert!(!config.rewrite.keep_credentials);
        assert!(!config.replay.skip_verify);
        assert_eq!(config.replay.timeout, Duration::from_secs(5));
        assert_eq!(config.replay.redirects, 0);
        assert_eq!(config.drain_timeout, Duration::from_secs(5));
        assert_eq!(
            config.status.path,
            PathBuf::from("/run/replayer/status.sock")
        );
        assert_eq!(config.status.mode, 0o660);
        assert_eq!(config.sync, SyncConfig::default());
        assert_eq!(config.capture.snaplen, 65535);
        assert_eq!(config.capture.buffer_size, Some(16 << 20));
        assert_eq!(config.exit_after, None);
        assert_eq!(config.source, "any:80");
    }

    #[test]
    fn every_bad_value_names_its_flag() {
        // Each case: TOML lines laid over a valid base, and how the error must start.
        let cases = [
            (
                "input-raw-engine = \"af_packet\"",
                "input-raw-engine: 'af_packet' is not supported",
            ),
            ("input-raw-expire = \"2\"", "input-raw-expire: "),
            (
                "input-raw-buffer-size = \"4gb\"",
                "input-raw-buffer-size: '4gb' is more than 2 GiB",
            ),
            ("input-raw-snaplen = \"10\"", "input-raw-snaplen: "),
            ("output-http = \"ftp://x\"", "output-http: "),
            (
                "output-http-workers = 0",
                "output-http-workers: must be at least 1",
            ),
            (
                "output-http-queue-len = 0",
                "output-http-queue-len: must be at least 1",
            ),
            ("output-http-timeout = \"0\"", "output-http-timeout: "),
            ("output-file = \"|5%\"", "output-file: empty path"),
            (
                "http-allow-method = \"POST\"",
                "http-allow-method: POST is not a safe method",
            ),
            (
                "http-allow-url = \"(\"",
                "http-allow-url: invalid regex '('",
            ),
            (
                "http-disallow-url = \"[\"",
                "http-disallow-url: invalid regex '['",
            ),
            ("http-allow-header = \"X\"", "http-allow-header: "),
            (
                "http-disallow-header = \"X: (\"",
                "http-disallow-header: invalid regex",
            ),
            ("http-header-limiter = \"X: 5\"", "http-header-limiter: "),
            (
                "http-set-header = \"X\"",
                "http-set-header: 'X' is not 'Header-Name: value'",
            ),
            ("http-set-param = \"x\"", "http-set-param: "),
            (
                "http-set-header = \"X-HTTP-Method-Override: delete\"",
                "http-set-header: 'X-HTTP-Method-Override: delete' would replay every request as DELETE",
            ),
            ("http-rewrite-url = \"x\"", "http-rewrite-url: "),
            ("status-socket = \"\"", "status-socket: empty path"),
            ("status-socket-mode = \"rw\"", "status-socket-mode: "),
            ("metrics-listen = \"x\"", "metrics-listen: "),
            ("sync-flag = \" \"", "sync-flag: empty path"),
            ("sync-max-age = \"soon\"", "sync-max-age: "),
            ("sync-window = \"22-08\"", "sync-window: "),
            ("drain-timeout = \"5\"", "drain-timeout: "),
            ("exit-after = \"forever\"", "exit-after: "),
        ];
        let base = "input-raw = \":80\"\noutput-stdout = true\n";
        assert!(Config::resolve(&Settings::from_toml(base).unwrap()).is_ok());
        for (line, expected) in cases {
            let settings = Settings::from_toml(&format!("{base}{line}\n")).unwrap();
            let err = resolve_err(settings);
            assert!(
                err.starts_with(expected),
                "{line}: {err:?} should start with {expected:?}"
            );
            assert!(!err.contains('\n'), "{err:?}");
        }
        let no_input = Settings {
            input_raw: None,
            ..settings(":80")
        };
        assert!(resolve_err(no_input).starts_with("no input: "));
        let no_output = Settings {
            output_stdout: None,
            ..settings(":80")
        };
        assert!(resolve_err(no_output).starts_with("no output: "));
    }

    #[test]
    fn override_headers_may_only_name_replayed_methods() {
        let with = |extra: &str| {
            let base = "input-raw = \":80\"\noutput-stdout = true\n";
            Config::resolve(&Settings::from_toml(&format!("{base}{extra}\n")).unwrap())
        };
        assert!(with("http-set-header = \"X-HTTP-Method-Override: HEAD\"").is_ok());
        assert!(with("http-set-header = \"X-Method-Override:\"").is_ok());
        assert!(with("http-set-header = \"x-http-method: PUT\"").is_err());
        let both = "http-set-header = \"X-HTTP-Method: PUT\"\nhttp-allow-method = [\"GET\", \"PUT\"]\nallow-unsafe-methods = true";
        assert!(with(both).is_ok());
    }

    #[test]
    fn toml_file_and_command_line_overlay() {
        let file = Settings::from_toml(
            r#"
input-raw = ":80"
output-http = "https://staging.example|10%"
http-disallow-url = ["^/a", "^/b"]
output-http-timeout = "2s"
output-http-workers = 4
keep-credentials = true
sync-window = "22:00-08:00"
"#,
        )
        .unwrap();
        assert_eq!(file.output_http, ["https://staging.example|10%"]);
        assert_eq!(file.http_disallow_url, ["^/a", "^/b"]);
        let command_line = Settings {
            http_disallow_url: vec!["^/c".into()],
            output_http_timeout: Some("1s".into()),
            ..Settings::default()
        };
        let merged = file.overlaid_with(command_line);
        assert_eq!(
            merged.http_disallow_url,
            ["^/c"],
            "a list given on the command line replaces the file's"
        );
        assert_eq!(merged.output_http_timeout.as_deref(), Some("1s"));
        assert_eq!(merged.output_http_workers, Some(4));
        let config = Config::resolve(&merged).unwrap();
        assert_eq!(config.replay.timeout, Duration::from_secs(1));
        assert!(config.rewrite.keep_credentials);
        assert_eq!(config.sync.window.unwrap().to_string(), "22:00-08:00");

        let err = Settings::from_toml("input-raw = \":80\"\nno-such-flag = 1\n").unwrap_err();
        assert!(
            err.starts_with("line 2: unknown field `no-such-flag`"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        let err = Settings::from_toml("output-http-workers = \"many\"").unwrap_err();
        assert!(err.starts_with("line 1: "), "{err}");
        let err = Settings::from_toml("output-http = 5").unwrap_err();
        assert!(
            err.contains("expected a string or an array of strings"),
            "{err}"
        );
    }

    #[test]
    fn printed_settings_resolve_to_the_same_config() {
        let s = Settings {
            input_raw: Some("127.0.0.1:7999".into()),
            output_http: vec![
                "https://www-origin.staging.example|5".into(),
                "s2:81".into(),
            ],
            output_file: Some("/tmp/x.gor|50%".into()),
            http_allow_method: vec!["GET".into(), "HEAD".into()],
            http_disallow_url: vec!["sign-in/callback".into()],
            http_allow_header: vec!["Host: example".into()],
            http_set_header: vec!["X-Forwarded-Host:".into()],
            http_set_param: vec!["a=b".into()],
            http_rewrite_url: vec!["^/v1/(.*):/v2/$1".into()],
            http_header_limiter: vec!["Cookie: 10%".into()],
            output_http_timeout: Some("1500ms".into()),
            status_socket_mode: Some("0640".into()),
            sync_max_age: Some("1d".into()),
            exit_after: Some("1m30s".into()),
            ..Settings::default()
        };
        let config = Config::resolve(&s).unwrap();
        let printed = config.to_settings().to_toml();
        let again = Config::resolve(&Settings::from_toml(&printed).unwrap()).unwrap();
        assert_eq!(again.to_settings(), config.to_settings());
        assert_eq!(again.outputs, config.outputs);
        assert_eq!(again.replay, config.replay);
        assert!(
            printed.contains("http-set-header = [\"X-Forwarded-Host: \"]"),
            "{printed}"
        );
        assert!(
            printed.contains("output-http-timeout = \"1500ms\""),
            "{printed}"
        );
        assert!(
            printed.contains("status-socket-mode = \"0640\""),
            "{printed}"
        );
    }

    #[test]
    fn target_credentials_are_refused_and_never_echoed() {
        for target in [
            "http://user:hunter2@staging.example",
            "https://hunter2@staging.example:8443/prefix",
            "user:hunter2@staging.example",
        ] {
            let err = parse_http_target(target).unwrap_err();
            assert!(err.contains("credentials"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        let err = parse_http_target("http://u:hunter2@host:99999").unwrap_err();
        assert!(
            !err.contains("hunter2") && err.contains("***@host"),
            "{err}"
        );
        assert_eq!(redact_userinfo("http://host/a@b"), "http://host/a@b");
    }

    #[test]
    fn caps_and_socket_mode_are_checked() {
        let c = Config::resolve(&Settings {
            max_streams: Some(10),
            max_stream_bytes: Some("64kb".into()),
            max_buffered_bytes: Some("1mb".into()),
            ..settings(":80")
        })
        .unwrap();
        let limits = c.capture.limits;
        assert_eq!(
            (
                limits.max_streams,
                limits.max_stream_bytes,
                limits.max_total_bytes
            ),
            (10, 64 << 10, 1 << 20)
        );
        let printed = c.to_settings();
        assert_eq!(printed.max_stream_bytes.as_deref(), Some("64kb"));
        assert!(resolve_err(Settings {
            max_streams: Some(0),
            ..settings(":80")
        })
        .contains("max-streams"));
        assert!(resolve_err(Settings {
            max_buffered_bytes: Some("12".into()),
            ..settings(":80")
        })
        .contains("max-buffered-bytes"));
        assert!(resolve_err(Settings {
            status_socket_mode: Some("0666".into()),
            ..settings(":80")
        })
        .contains("every user"));
    }
}
