//! [`Config::resolve`]: checks and types every setting, naming the flag of the first problem;
//! and the way back ([`Config::to_settings`]) for `--print-config`.
//!
//! Over 600 lines on purpose: every setting is checked here and nowhere else, so a flag's
//! rules, its default and its printed form are found in one file (one source per setting).

use super::*;
use crate::capture::{CaptureConfig, Input};
use crate::records::input::{FileSpec, RecordInput, DEFAULT_READ_DEPTH};
use crate::stages::filter::{
    compile_bytes_regex, compile_regex, FilterConfig, HeaderRule, METHOD_OVERRIDE_HEADERS,
};
use crate::stages::limit::{HashLimiter, Hashed, Limit};
use crate::stages::rewrite::{HeaderRewrite, RewriteConfig, SetHeader, SetParam, UrlRewrite};
use crate::status::socket::SocketOptions;
use replayer_status::sync::{format_duration as format_sync_duration, parse_duration};
use replayer_status::{SyncConfig, SyncWindow};
use std::net::IpAddr;
use std::path::PathBuf;
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
        let records = record_input(s)?;
        let (input, source) = match (&records, s.input_raw.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(invalid("input-file")(
                    "replaces -input-raw: give one or the other (one input per run)".into(),
                ))
            }
            // Capture is not opened with record files; its settings keep their defaults.
            (Some(records), None) => (
                Input::File {
                    path: PathBuf::from("/dev/null"),
                    port: 0,
                },
                RecordInput::describe(records),
            ),
            (None, Some(raw)) => parse_input_raw(raw, engine).map_err(invalid("input-raw"))?,
            (None, None) => return Err(ConfigError::Missing(
                "no input: give -input-raw [host]:port (or FILE.pcap:port) or -input-file FILE.gor",
            )),
        };

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
        if let Some(speed) = s.input_raw_speed.as_deref().map(str::trim) {
            if !speed.is_empty() {
                if !matches!(capture.input, Input::File { .. }) {
                    return Err(invalid("input-raw-speed")(
                        "paces a capture file; a live capture runs at the wire's pace".into(),
                    ));
                }
                capture.speed = Some(parse_speed(speed).map_err(invalid("input-raw-speed"))?);
            }
        }
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
        match s.input_raw_protocol.as_deref().map(str::trim) {
            None | Some("") | Some("http") => {}
            Some(other) => {
                return Err(invalid("input-raw-protocol")(format!(
                    "'{other}' is not supported: only http (HTTP/1.x) is captured and replayed"
                )))
            }
        }
        let realip_header = match s.input_raw_realip_header.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) if name.bytes().all(|b| b.is_ascii_graphic() && b != b':') => {
                Some(name.to_string())
            }
            Some(name) => {
                return Err(invalid("input-raw-realip-header")(format!(
                    "'{name}' is not a header name"
                )))
            }
        };

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
            file_options: file_options(s)?,
        };
        let dry_run = records.as_ref().is_some_and(|r| r.dry_run);
        if outputs.http.is_empty()
            && !outputs.stdout
            && !outputs.null
            && outputs.file.is_none()
            && !dry_run
        {
            return Err(ConfigError::Missing(
                "no output: give -output-http URL, -output-stdout, -output-file PATH or -output-null",
            ));
        }

        let replay = ReplaySettings {
            workers: worker_range(s)?,
            pipeline: at_least_one("output-http-pipeline", s.output_http_pipeline)?
                .unwrap_or(DEFAULT_PIPELINE),
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
            split: s.split_output.unwrap_or(false),
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
            basic_auth: compile_all(
                &s.http_basic_auth_filter,
                compile_regex,
                "http-basic-auth-filter",
            )?,
        };
        let rewrite = RewriteConfig {
            set_headers: compile_all(&s.http_set_header, SetHeader::parse, "http-set-header")?,
            set_params: compile_all(&s.http_set_param, SetParam::parse, "http-set-param")?,
            url_rewrites: compile_all(&s.http_rewrite_url, UrlRewrite::parse, "http-rewrite-url")?,
            header_rewrites: compile_all(
                &s.http_rewrite_header,
                HeaderRewrite::parse,
                "http-rewrite-header",
            )?,
            realip_header,
            keep_credentials: s.keep_credentials.unwrap_or(false),
        };
        check_override_headers(&rewrite, &filter).map_err(invalid("http-set-header"))?;
        // The method checks come before the rewrites: a rewritten override header would
        // replay requests as a method nobody allowed.
        if let Some(rule) = rewrite.header_rewrites.iter().find(|r| {
            METHOD_OVERRIDE_HEADERS
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&r.name))
        }) {
            return Err(invalid("http-rewrite-header")(format!(
                "'{rule}' could turn requests into another method; set it with -http-set-header"
            )));
        }
        let header_limiters = compile_all(
            &s.http_header_limiter,
            |text| HashLimiter::parse(Hashed::Header, text),
            "http-header-limiter",
        )?;
        let param_limiters = compile_all(
            &s.http_param_limiter,
            |text| HashLimiter::parse(Hashed::Param, text),
            "http-param-limiter",
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

        let diff = diff_settings(s)?;
        if diff.enabled && outputs.http.is_empty() {
            return Err(invalid("diff")(
                "compares staging's answers: give an -output-http target".into(),
            ));
        }
        Ok(Config {
            capture,
            diff,
            track_response: s.input_raw_track_response.unwrap_or(false),
            source,
            records,
            track_staging: s.output_http_track_response.unwrap_or(false),
            middleware: match s.middleware.as_deref().map(str::trim) {
                None => None,
                Some("") => return Err(invalid("middleware")("names no program".into())),
                Some(command) => Some(command.to_string()),
            },
            outputs,
            replay,
            filter,
            rewrite,
            header_limiters,
            param_limiters,
            prettify: s.prettify_http.unwrap_or(false),
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
        let records = self.records.as_ref();
        Settings {
            input_raw: records.is_none().then_some(input_raw),
            input_raw_engine: records.is_none().then(|| engine.to_string()),
            input_file: records.map_or_else(Vec::new, |r| {
                r.files
                    .iter()
                    .map(|f| format!("{}|{}", f.pattern, format_file_speed(f.speed)))
                    .collect()
            }),
            input_file_loop: records.map(|r| r.repeat),
            input_file_max_wait: records.and_then(|r| r.max_wait.map(format_go_duration)),
            input_file_read_depth: records.map(|r| r.read_depth),
            input_file_dry_run: records.map(|r| r.dry_run),
            middleware: self.middleware.clone(),
            output_http_track_response: Some(self.track_staging),
            input_raw_bpf_filter: self.capture.bpf_filter.clone(),
            input_raw_expire: Some(format_go_duration(self.capture.expire)),
            input_raw_speed: self.capture.speed.map(format_speed),
            input_raw_buffer_size: self.capture.buffer_size.map(|b| format_size(b as u64)),
            input_raw_snaplen: Some(format_size(self.capture.snaplen as u64)),
            input_raw_override_snaplen: None,
            input_raw_promisc: Some(self.capture.promisc),
            max_streams: Some(self.capture.limits.max_streams),
            max_stream_bytes: Some(format_size(self.capture.limits.max_stream_bytes as u64)),
            max_buffered_bytes: Some(format_size(self.capture.limits.max_total_bytes as u64)),
            input_raw_realip_header: self.rewrite.realip_header.clone(),
            // Only http is accepted; the others have no effect: none is printed back.
            input_raw_protocol: None,
            input_raw_buffer_timeout: None,
            input_raw_timestamp_type: None,
            input_raw_stats: None,
            output_http_compatibility_mode: None,
            output_http_debug: None,
            output_http_response_buffer: None,
            output_http_stats_ms: None,
            output_http_worker_timeout: None,
            split_output: Some(self.replay.split),
            prettify_http: Some(self.prettify),
            output_http: self
                .outputs
                .http
                .iter()
                .map(|t| with_limit(t.url.to_string(), t.limit))
                .collect(),
            diff: Some(self.diff.enabled),
            input_raw_track_response: Some(self.track_response),
            diff_max_body: Some(format_size(self.diff.digest.max_body as u64)),
            diff_body_mask: texts(&self.diff.digest.masks),
            diff_ignore_header: [
                (self.diff.rules.ignore_content_type, "Content-Type"),
                (self.diff.rules.ignore_location, "Location"),
            ]
            .iter()
            .filter(|(ignored, _)| *ignored)
            .map(|(_, name)| name.to_string())
            .collect(),
            diff_ignore_url: texts(&self.diff.ignore_urls),
            output_http_workers: None,
            output_http_workers_min: Some(self.replay.workers.min),
            output_http_workers_max: Some(self.replay.workers.max),
            output_http_pipeline: Some(self.replay.pipeline),
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
            output_file_append: Some(self.outputs.file_options.append),
            output_file_size_limit: self.outputs.file_options.size_limit.map(format_size),
            output_file_max_size_limit: self.outputs.file_options.max_size.map(format_size),
            output_file_queue_limit: Some(self.outputs.file_options.queue_limit),
            output_file_flush_interval: Some(format_go_duration(
                self.outputs.file_options.flush_interval,
            )),
            http_allow_method: self.filter.methods.clone(),
            allow_unsafe_methods: Some(self.filter.allow_unsafe_methods),
            http_allow_url: texts(&self.filter.allow_urls),
            http_disallow_url: texts(&self.filter.disallow_urls),
            http_allow_header: texts(&self.filter.allow_headers),
            http_disallow_header: texts(&self.filter.disallow_headers),
            http_header_limiter: texts(&self.header_limiters),
            http_param_limiter: texts(&self.param_limiters),
            http_basic_auth_filter: texts(&self.filter.basic_auth),
            http_rewrite_header: texts(&self.rewrite.header_rewrites),
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

/// Each item as its flag value.
fn texts<T: std::fmt::Display>(items: &[T]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

/// A method-override header set by `-http-set-header` turns every replayed request into
/// that method, so it must name a replayed method (an unsafe one needs the same two flags).
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

/// `value`, refused when it is 0.
fn at_least_one(flag: &'static str, value: Option<usize>) -> Result<Option<usize>, ConfigError> {
    match value {
        Some(0) => Err(invalid(flag)("must be at least 1".into())),
        other => Ok(other),
    }
}

/// The workers per target: `-output-http-workers N` alone is a fixed count; otherwise the
/// adaptive range from `-output-http-workers-min` and `-max`, each with its default.
fn worker_range(s: &Settings) -> Result<WorkerRange, ConfigError> {
    let fixed = at_least_one("output-http-workers", s.output_http_workers)?;
    let min = at_least_one("output-http-workers-min", s.output_http_workers_min)?;
    let max = at_least_one("output-http-workers-max", s.output_http_workers_max)?;
    match (fixed, min, max) {
        (Some(n), None, None) => Ok(WorkerRange::fixed(n)),
        (Some(_), _, _) => Err(invalid("output-http-workers")(
            "sets a fixed count; give it alone, or use -output-http-workers-min and -max \
             for a range"
                .into(),
        )),
        (None, min, max) => {
            let min = min.unwrap_or(DEFAULT_WORKERS_MIN);
            let max = max.unwrap_or(DEFAULT_WORKERS_MAX.max(min));
            if min > max {
                return Err(invalid("output-http-workers-min")(format!(
                    "{min} is more than -output-http-workers-max {max}"
                )));
            }
            Ok(WorkerRange { min, max })
        }
    }
}

/// `-output-file-*`, with GoReplay's readings of 0: no size limit, the default queue (its
/// 0 turns off a records-per-chunk rotation this replayer does not have), and a flush
/// interval of 100 ms.
fn file_options(s: &Settings) -> Result<FileOptions, ConfigError> {
    let size = |flag: &'static str, text: &Option<String>| {
        text.as_deref()
            .map(|t| parse_size(t).map_err(invalid(flag)))
            .transpose()
            .map(|size| size.filter(|&b| b > 0))
    };
    let mut options = FileOptions {
        append: s.output_file_append.unwrap_or(false),
        size_limit: size("output-file-size-limit", &s.output_file_size_limit)?,
        max_size: size("output-file-max-size-limit", &s.output_file_max_size_limit)?,
        ..FileOptions::default()
    };
    if let Some(n) = s.output_file_queue_limit.filter(|&n| n > 0) {
        options.queue_limit = n;
    }
    if let Some(text) = &s.output_file_flush_interval {
        let interval = parse_go_duration(text).map_err(invalid("output-file-flush-interval"))?;
        options.flush_interval = if interval.is_zero() {
            std::time::Duration::from_millis(100)
        } else {
            interval
        };
    }
    Ok(options)
}

/// `--diff` and its options, checked whether or not the comparison is on.
fn diff_settings(s: &Settings) -> Result<DiffSettings, ConfigError> {
    use crate::diff::compare::Rules;
    use crate::diff::digest::DigestConfig;
    let mut digest = DigestConfig::default();
    if let Some(size) = &s.diff_max_body {
        let bytes = parse_size(size).map_err(invalid("diff-max-body"))?;
        digest.max_body = usize::try_from(bytes)
            .ok()
            .filter(|b| *b <= 1 << 30)
            .ok_or_else(|| invalid("diff-max-body")(format!("'{size}' is more than 1 GiB")))?;
    }
    digest.masks = compile_all(&s.diff_body_mask, compile_bytes_regex, "diff-body-mask")?;
    let mut rules = Rules::default();
    for name in &s.diff_ignore_header {
        match name.to_ascii_lowercase().as_str() {
            "content-type" => rules.ignore_content_type = true,
            "location" => rules.ignore_location = true,
            _ => {
                return Err(invalid("diff-ignore-header")(format!(
                    "'{name}' is never compared: only Content-Type and Location are"
                )))
            }
        }
    }
    let ignore_urls = compile_all(&s.diff_ignore_url, compile_regex, "diff-ignore-url")?;
    Ok(DiffSettings {
        enabled: s.diff.unwrap_or(false),
        digest,
        rules,
        ignore_urls,
    })
}

/// `--input-file PATH[|SPEED]` and its companions; `None` without `--input-file`.
fn record_input(s: &Settings) -> Result<Option<RecordInput>, ConfigError> {
    let given = s.input_file_loop.is_some()
        || s.input_file_max_wait.is_some()
        || s.input_file_read_depth.is_some()
        || s.input_file_dry_run.is_some();
    if s.input_file.is_empty() {
        if given {
            return Err(invalid("input-file")(
                "the -input-file-* options need -input-file PATH".into(),
            ));
        }
        return Ok(None);
    }
    let files = s
        .input_file
        .iter()
        .map(|text| parse_file_spec(text).map_err(invalid("input-file")))
        .collect::<Result<_, _>>()?;
    let max_wait = match s.input_file_max_wait.as_deref() {
        None => None,
        Some(text) => Some(
            parse_go_duration(text)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    invalid("input-file-max-wait")(format!(
                        "'{text}' is not a duration above 0 like 1s or 500ms"
                    ))
                })?,
        ),
    };
    Ok(Some(RecordInput {
        files,
        repeat: s.input_file_loop.unwrap_or(false),
        max_wait,
        read_depth: at_least_one("input-file-read-depth", s.input_file_read_depth)?
            .unwrap_or(DEFAULT_READ_DEPTH),
        dry_run: s.input_file_dry_run.unwrap_or(false),
    }))
}

/// `PATH`, `PATH|200%`, `PATH|2x` or `PATH|max` (GoReplay's syntax, plus `max`).
fn parse_file_spec(text: &str) -> Result<FileSpec, String> {
    let (pattern, speed) = match text.rsplit_once('|') {
        None => (text, 1.0),
        Some((pattern, "max")) => (pattern, f64::INFINITY),
        Some((pattern, speed)) => (pattern, parse_speed(speed)?),
    };
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return Err(format!("'{text}' names no file"));
    }
    Ok(FileSpec {
        pattern: pattern.to_string(),
        speed,
    })
}

/// The speed as `parse_file_spec` reads it back.
fn format_file_speed(speed: f64) -> String {
    if speed.is_infinite() {
        "max".into()
    } else {
        format_speed(speed)
    }
}
