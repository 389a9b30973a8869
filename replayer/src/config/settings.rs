//! [`Settings`]: the raw form shared by the command line and the TOML file, one optional
//! field per flag, so the two sources can be laid over each other (the command line wins).
//! [`Config::resolve`](super::Config::resolve) turns it into the typed [`Config`](super::Config).

use super::*;
use serde::{Deserialize, Deserializer, Serialize};
use std::path::Path;
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
    /// A capture file at its recorded pace, scaled: 100% (or 1x) as recorded, 200% twice as
    /// fast, 10% ten times slower; unset, as fast as the disk allows
    #[arg(long, value_name = "SPEED", help_heading = "Input")]
    pub input_raw_speed: Option<String>,
    /// Kernel capture buffer, e.g. 10mb [default: 16mb]
    #[arg(long, value_name = "SIZE", help_heading = "Input")]
    pub input_raw_buffer_size: Option<String>,
    /// Bytes kept per packet [default: 256kb, so the largest packets are never cut]
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
    /// Write staging's answers to the stdout and file outputs (and the middleware) as
    /// GoReplay's type-3 records, with the request's id; bodies up to 1 MiB
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Output")]
    pub output_http_track_response: Option<bool>,
    /// Capture production's responses too and write each to the stdout and file outputs as
    /// GoReplay's type-2 record, after its request's
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Input")]
    pub input_raw_track_response: Option<bool>,
    /// Bytes one connection may hold (out of order, or an unfinished request), e.g. 1mb;
    /// a request that outgrows it is cut and counted (also -copy-buffer-size) [default: 4mb]
    #[arg(
        long,
        alias = "copy-buffer-size",
        value_name = "SIZE",
        help_heading = "Input"
    )]
    #[serde(alias = "copy-buffer-size")]
    pub max_stream_bytes: Option<String>,
    /// Bytes all connections together may hold [default: 32mb]
    #[arg(long, value_name = "SIZE", help_heading = "Input")]
    pub max_buffered_bytes: Option<String>,
    /// Replay GoReplay record files instead of capturing: a path or a glob (.gz files are
    /// decompressed), at the recorded pace; `PATH|200%` (or `|2x`) scales the recorded gaps,
    /// `|max` sends as fast as possible. Repeatable: each is its own timeline
    #[arg(long, value_name = "PATH[|SPEED]", help_heading = "Input")]
    #[serde(deserialize_with = "one_or_many")]
    pub input_file: Vec<String>,
    /// Start the -input-file files again at their end, until stopped
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Input")]
    pub input_file_loop: Option<bool>,
    /// The longest recorded gap waited (before the speed applies); longer silences are cut
    /// to it, e.g. 1s [default: none]
    #[arg(long, value_name = "DURATION", help_heading = "Input")]
    pub input_file_max_wait: Option<String>,
    /// Records read ahead per -input-file file and sorted by timestamp [default: 100]
    #[arg(long, value_name = "N", help_heading = "Input")]
    pub input_file_read_depth: Option<usize>,
    /// Run every message (requests; production's and staging's responses when tracked)
    /// through this program, GoReplay's protocol: hex-encoded lines on its stdin, what it
    /// writes back replaces them, what it does not is dropped. Run by `sh -c`
    #[arg(long, value_name = "COMMAND", help_heading = "Input")]
    pub middleware: Option<String>,
    /// Read the -input-file files, print how many requests and how long a replay would take,
    /// and exit: nothing is sent
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Input")]
    pub input_file_dry_run: Option<bool>,
    /// Set this header to the client's IP address in each request, e.g. X-Real-IP (a header
    /// of that name already there gets the address)
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub input_raw_realip_header: Option<String>,
    /// Application protocol of the capture: only `http` (GoReplay's default; `binary` is
    /// refused)
    #[arg(long, value_name = "PROTOCOL", help_heading = "Input")]
    pub input_raw_protocol: Option<String>,
    /// Accepted for GoReplay compatibility; no effect: packets are handed over as they arrive
    #[arg(long, value_name = "DURATION", help_heading = "Input")]
    pub input_raw_buffer_timeout: Option<String>,
    /// Accepted for GoReplay compatibility; no effect: records carry the capture's own
    /// timestamps
    #[arg(long, value_name = "TYPE", help_heading = "Input")]
    pub input_raw_timestamp_type: Option<String>,
    /// Accepted for GoReplay compatibility; no effect: capture figures are in the status
    /// document and the -stats line
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Input")]
    pub input_raw_stats: Option<bool>,

    // ---- Output ----
    /// Replay to this staging URL (repeatable; each gets every request unless
    /// -split-output). `URL|N` caps it at N requests/s, `URL|N%` at N percent. No scheme
    /// means http://
    #[arg(long, value_name = "URL[|LIMIT]", help_heading = "Output")]
    #[serde(deserialize_with = "one_or_many")]
    pub output_http: Vec<String>,
    /// A fixed number of concurrent connections per target, instead of the adaptive range
    #[arg(long, value_name = "N", help_heading = "Output")]
    pub output_http_workers: Option<usize>,
    /// Fewest connections per target; more are opened while a backlog builds [default: 1]
    #[arg(long, value_name = "N", help_heading = "Output")]
    pub output_http_workers_min: Option<usize>,
    /// Most connections per target; fewer are used when staging slows [default: 64]
    #[arg(long, value_name = "N", help_heading = "Output")]
    pub output_http_workers_max: Option<usize>,
    /// Requests written on a connection before reading their answers; 1 turns pipelining
    /// off [default: 16]
    #[arg(long, value_name = "N", help_heading = "Output")]
    pub output_http_pipeline: Option<usize>,
    /// Requests queued per target; when full, new ones are dropped and counted [default: 10000]
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
    /// Log the -stats summary line (replay figures of the last minute) once a minute
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Output")]
    pub output_http_stats: Option<bool>,
    /// Send each request to one -output-http target in turn (round robin) instead of to
    /// every target
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Output")]
    pub split_output: Option<bool>,
    /// Requests as plain HTTP in every output: chunked bodies written whole with a
    /// Content-Length, gzip bodies decoded
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Output")]
    pub prettify_http: Option<bool>,
    /// Accepted for GoReplay compatibility; no effect: there is one HTTP client
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Output")]
    pub output_http_compatibility_mode: Option<bool>,
    /// Accepted for GoReplay compatibility; no effect: -verbose logs the replay
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Output")]
    pub output_http_debug: Option<bool>,
    /// Accepted for GoReplay compatibility; no effect: staging's answers are read to their
    /// end and only their status, length and digest kept
    #[arg(long, value_name = "SIZE", help_heading = "Output")]
    pub output_http_response_buffer: Option<String>,
    /// Accepted for GoReplay compatibility; no effect: -output-http-stats logs once a minute
    #[arg(long, value_name = "MS", help_heading = "Output")]
    pub output_http_stats_ms: Option<u64>,
    /// Accepted for GoReplay compatibility; no effect: idle connections are closed as the
    /// adaptive range shrinks
    #[arg(long, value_name = "DURATION", help_heading = "Output")]
    pub output_http_worker_timeout: Option<String>,
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
    /// Add to an existing file (with -output-file-size-limit, to its last chunk) instead of
    /// truncating it
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Output")]
    pub output_file_append: Option<bool>,
    /// Start a new chunk (name_0.gor, name_1.gor, ...) when a file reaches this size, e.g.
    /// 32mb; unset or 0, one file named as given
    #[arg(long, value_name = "SIZE", help_heading = "Output")]
    pub output_file_size_limit: Option<String>,
    /// Stop writing once the records written reach this size (all files together); later
    /// records are dropped and counted
    #[arg(long, value_name = "SIZE", help_heading = "Output")]
    pub output_file_max_size_limit: Option<String>,
    /// Records waiting for the disk; when full, new ones are dropped and counted (0 = the
    /// default) [default: 10000]
    #[arg(long, value_name = "N", help_heading = "Output")]
    pub output_file_queue_limit: Option<usize>,
    /// Buffered records reach the file at least this often [default: 1s]
    #[arg(long, value_name = "DURATION", help_heading = "Output")]
    pub output_file_flush_interval: Option<String>,

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
    /// Replay only request-targets (path?query) matching one of these regexes (repeatable;
    /// also -output-http-url-regexp)
    #[arg(
        long,
        alias = "output-http-url-regexp",
        value_name = "REGEX",
        help_heading = "Filters and rewrites"
    )]
    #[serde(deserialize_with = "one_or_many", alias = "output-http-url-regexp")]
    pub http_allow_url: Vec<String>,
    /// Never replay request-targets matching this regex (repeatable)
    #[arg(long, value_name = "REGEX", help_heading = "Filters and rewrites")]
    #[serde(deserialize_with = "one_or_many")]
    pub http_disallow_url: Vec<String>,
    /// Replay only requests having this header matching the regex: `Name: regex`
    /// (repeatable; also -output-http-header-filter)
    #[arg(
        long,
        alias = "output-http-header-filter",
        value_name = "NAME: REGEX",
        help_heading = "Filters and rewrites"
    )]
    #[serde(deserialize_with = "one_or_many", alias = "output-http-header-filter")]
    pub http_allow_header: Vec<String>,
    /// Never replay requests whose header matches: `Name: regex` (repeatable)
    #[arg(
        long,
        value_name = "NAME: REGEX",
        help_heading = "Filters and rewrites"
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub http_disallow_header: Vec<String>,
    /// Replay only requests whose Basic credentials (`user:password`, decoded) match this
    /// regex; requests without them pass (repeatable: every regex must match)
    #[arg(long, value_name = "REGEX", help_heading = "Filters and rewrites")]
    #[serde(deserialize_with = "one_or_many")]
    pub http_basic_auth_filter: Vec<String>,
    /// Keep N% of requests by a hash (FNV-1a) of this header's value: `Name: N%`
    /// (repeatable; also -output-http-header-hash-filter)
    #[arg(
        long,
        alias = "output-http-header-hash-filter",
        value_name = "NAME: N%",
        help_heading = "Filters and rewrites"
    )]
    #[serde(
        deserialize_with = "one_or_many",
        alias = "output-http-header-hash-filter"
    )]
    pub http_header_limiter: Vec<String>,
    /// Keep N% of requests by a hash (FNV-1a) of this query parameter's value: `name: N%`
    /// (repeatable)
    #[arg(long, value_name = "NAME: N%", help_heading = "Filters and rewrites")]
    #[serde(deserialize_with = "one_or_many")]
    pub http_param_limiter: Vec<String>,
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
    /// Rewrite the request-target: `regex:replacement`, $1 for groups (repeatable; first
    /// match wins; also -output-http-rewrite-url)
    #[arg(
        long,
        alias = "output-http-rewrite-url",
        value_name = "REGEX:REPLACEMENT",
        help_heading = "Filters and rewrites"
    )]
    #[serde(deserialize_with = "one_or_many", alias = "output-http-rewrite-url")]
    pub http_rewrite_url: Vec<String>,
    /// Rewrite a header's value: `Name: regex,replacement`, $1 for groups (repeatable,
    /// applied in order)
    #[arg(
        long,
        value_name = "NAME: REGEX,REPLACEMENT",
        help_heading = "Filters and rewrites"
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub http_rewrite_header: Vec<String>,
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
    /// A flag set longer than this looks stale: the checks alert on it; replay stays paused
    /// while the flag says a sync runs [default: 12h]
    #[arg(long, value_name = "DURATION", help_heading = "Daemon")]
    pub sync_max_age: Option<String>,
    /// Also pause during this daily UTC window, e.g. 22:00-08:00
    #[arg(long, value_name = "HH:MM-HH:MM", help_heading = "Daemon")]
    pub sync_window: Option<String>,
    /// Compare staging's answers with production's (captures production's responses too);
    /// see the status document's diff section and check_replay_diff
    #[arg(long, value_parser = parse_go_bool, value_name = "BOOL", help_heading = "Comparison")]
    pub diff: Option<bool>,
    /// Decoded body bytes hashed for the comparison; beyond, only the length counts
    /// [default: 1mb]
    #[arg(long, value_name = "SIZE", help_heading = "Comparison")]
    pub diff_max_body: Option<String>,
    /// Replace what this regex matches in both bodies before comparing them, e.g. CSRF
    /// tokens or timestamps (repeatable)
    #[arg(long, value_name = "REGEX", help_heading = "Comparison")]
    #[serde(deserialize_with = "one_or_many")]
    pub diff_body_mask: Vec<String>,
    /// Do not compare this header: Content-Type or Location, the two compared (repeatable)
    #[arg(long, value_name = "NAME", help_heading = "Comparison")]
    #[serde(deserialize_with = "one_or_many")]
    pub diff_ignore_header: Vec<String>,
    /// Do not compare the answers to request-targets matching this regex (repeatable)
    #[arg(long, value_name = "REGEX", help_heading = "Comparison")]
    #[serde(deserialize_with = "one_or_many")]
    pub diff_ignore_url: Vec<String>,
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
            scalars: input_raw, input_raw_engine, input_raw_bpf_filter, input_raw_expire, input_raw_speed,
                input_raw_buffer_size, input_raw_snaplen, input_raw_override_snaplen,
                input_raw_promisc, input_raw_track_response, output_http_track_response, input_file_loop, input_file_max_wait,
                input_file_read_depth, input_file_dry_run, middleware, max_streams, max_stream_bytes, max_buffered_bytes,
                input_raw_realip_header, input_raw_protocol, input_raw_buffer_timeout,
                input_raw_timestamp_type, input_raw_stats, split_output, prettify_http,
                output_http_compatibility_mode, output_http_debug, output_http_response_buffer,
                output_http_stats_ms, output_http_worker_timeout,
                output_http_workers, output_http_workers_min, output_http_workers_max,
                output_http_pipeline, output_http_queue_len,
                output_http_timeout, output_http_redirects, output_http_skip_verify,
                output_http_stats, http_original_host, output_stdout, output_null, output_file,
                output_file_append, output_file_size_limit, output_file_max_size_limit,
                output_file_queue_limit, output_file_flush_interval,
                allow_unsafe_methods, keep_credentials, status_socket, status_socket_mode,
                status_socket_group, metrics_listen, sync_flag, sync_max_age, sync_window,
                drain_timeout, exit_after, stats, verbose, diff, diff_max_body;
            lists: input_file, diff_body_mask, diff_ignore_header, diff_ignore_url, output_http, http_allow_method, http_allow_url, http_disallow_url,
                http_allow_header, http_disallow_header, http_header_limiter, http_set_header,
                http_set_param, http_rewrite_url, http_basic_auth_filter, http_param_limiter,
                http_rewrite_header,
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
            let mut message = e.message().replace('\n', " ");
            // A GoReplay flag this program refuses says why, in the file as on the command line.
            let refused = message
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split_once('`'))
                .and_then(|(key, _)| Some((key, super::goreplay::refused(key)?)));
            if let Some((key, why)) = refused {
                message = format!("{key}: {why}");
            }
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
