//! The status document's figures in Prometheus text format on `--metrics-listen ADDR`, for
//! central dashboards (docs/design.md, 'Status socket and Prometheus'). Made from the same
//! [`StatusDocument`] as the socket, so the two never disagree.
//!
//! A deliberately small HTTP/1.x responder: `GET /metrics` (or `/`) gets the text, anything
//! else a 404; one response per connection. Each client has its own task and a deadline, so
//! a slow or silent scraper stalls nothing.
//!
//! Over 600 lines because each metric family is written out with its help text and labels,
//! in the order of the status document, and the tests pin the exposition's exact text.

use crate::status::socket::DaemonStatus;
use crate::status::stats::LatencyHistogram;
use replayer_status::schema::{DaemonState, ResponseClasses, StatusDocument};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A scraper gets this long to send its request and take the answer.
const CLIENT_DEADLINE: Duration = Duration::from_secs(5);

/// Binds the listener (inside the runtime), so a bad address is a startup error.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    status: Arc<DaemonStatus>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let status = status.clone();
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(CLIENT_DEADLINE, answer(stream, status)).await;
                    });
                }
                Err(e) => {
                    tracing::warn!("metrics: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

async fn answer(mut stream: TcpStream, status: Arc<DaemonStatus>) -> std::io::Result<()> {
    // Read the request head (bounded); only its first line matters.
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let wanted = first_line.starts_with(b"GET /metrics ")
        || first_line.starts_with(b"GET / ")
        || first_line.starts_with(b"GET /metrics?");
    let (code, body) = if wanted {
        (
            "200 OK",
            render(&status.document(), &status.stats.latency_histogram()),
        )
    } else {
        (
            "404 Not Found",
            "only GET /metrics is served here\n".to_string(),
        )
    };
    let response = format!(
        "HTTP/1.1 {code}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Prometheus text exposition of a status document and the latency histogram since start.
///
/// Names and labels follow Prometheus's conventions: counters end in `_total`, base units
/// (seconds, bytes), one metric per quantity with labels for its parts, so that `sum()` over a
/// label is meaningful. Outcomes of `replayer_requests_total` are the document's request
/// counters (they overlap: `seen` is every request, the others say what became of them).
/// Windows are gauges (they are already rates over a fixed span).
pub fn render(doc: &StatusDocument, latency: &LatencyHistogram) -> String {
    let mut out = String::with_capacity(8192);
    let mut m = Exposition { out: &mut out };

    m.family(
        "up",
        "gauge",
        "1: the daemon is running and answered this scrape.",
    );
    m.sample("replayer_up", "", 1u8);
    m.family(
        "build_info",
        "gauge",
        "Always 1; the version is in the label.",
    );
    m.sample(
        "replayer_build_info",
        &format!("version=\"{}\"", escape(&doc.version)),
        1u8,
    );
    m.family(
        "start_time_seconds",
        "gauge",
        "When the daemon started, seconds since the Unix epoch.",
    );
    let started = replayer_status::parse_rfc3339(&doc.started_at)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    m.sample("replayer_start_time_seconds", "", started);
    m.family(
        "state",
        "gauge",
        "1 for the daemon's current state, 0 for the others.",
    );
    for state in [
        DaemonState::Starting,
        DaemonState::Replaying,
        DaemonState::Paused,
        DaemonState::Stopping,
    ] {
        let on = u8::from(state == doc.state);
        m.sample(
            "replayer_state",
            &format!("state=\"{}\"", state.as_str()),
            on,
        );
    }
    m.family(
        "sync_in_progress",
        "gauge",
        "1 while a data sync is in progress (replay paused).",
    );
    m.sample(
        "replayer_sync_in_progress",
        "",
        u8::from(doc.sync.in_progress),
    );
    m.family(
        "sync_stale",
        "gauge",
        "1 when the sync flag has been set for longer than --sync-max-age.",
    );
    m.sample("replayer_sync_stale", "", u8::from(doc.sync.stale));

    let r = &doc.requests;
    m.family(
        "requests_total",
        "counter",
        "Requests by outcome since start: seen (all), filtered, sampled_out, paused_sync, \
         replayed (answered by staging), dropped_queue_full, failed (no answer).",
    );
    for (outcome, value) in [
        ("seen", r.seen),
        ("filtered", r.filtered),
        ("sampled_out", r.sampled_out),
        ("paused_sync", r.paused_sync),
        ("replayed", r.replayed),
        ("dropped_queue_full", r.dropped_queue_full),
        ("failed", r.failed),
    ] {
        m.sample(
            "replayer_requests_total",
            &format!("outcome=\"{outcome}\""),
            value,
        );
    }
    m.family(
        "requests_queued_total",
        "counter",
        "Requests put in a target's replay queue.",
    );
    m.sample("replayer_requests_queued_total", "", r.queued);
    m.family(
        "responses_total",
        "counter",
        "Staging responses by target and status class.",
    );
    for t in &doc.targets {
        let target = format!("target=\"{}\"", escape(&t.url));
        for (class, value) in classes(&t.responses) {
            m.sample(
                "replayer_responses_total",
                &format!("{target},class=\"{class}\""),
                value,
            );
        }
    }

    m.family(
        "response_latency_seconds",
        "histogram",
        "Time from sending a request to staging's full answer, since start.",
    );
    for (le, count) in &latency.buckets {
        m.sample(
            "replayer_response_latency_seconds_bucket",
            &format!("le=\"{le}\""),
            *count,
        );
    }
    m.sample(
        "replayer_response_latency_seconds_bucket",
        "le=\"+Inf\"",
        latency.count,
    );
    m.sample(
        "replayer_response_latency_seconds_sum",
        "",
        latency.sum_seconds,
    );
    m.sample("replayer_response_latency_seconds_count", "", latency.count);

    let c = &doc.capture;
    for (name, help, value) in [
        ("capture_packets_total", "Packets captured.", c.packets),
        (
            "capture_bytes_total",
            "Bytes captured (on the wire).",
            c.bytes,
        ),
        (
            "capture_kernel_dropped_total",
            "Packets the kernel dropped for lack of capture buffer.",
            c.kernel_dropped,
        ),
        (
            "capture_if_dropped_total",
            "Packets the interface dropped.",
            c.if_dropped,
        ),
        (
            "capture_reassembly_gaps_total",
            "TCP stream holes never filled.",
            c.reassembly_gaps,
        ),
        (
            "capture_requests_cut_total",
            "Requests never emitted: cut by a gap, unparseable, or over a memory cap.",
            c.requests_cut,
        ),
        (
            "capture_dropped_over_cap_total",
            "Streams, segments or requests dropped at a reassembly cap.",
            c.dropped_over_cap,
        ),
    ] {
        m.family(name, "counter", help);
        m.sample(&format!("replayer_{name}"), "", value);
    }
    m.family("capture_streams", "gauge", "TCP streams tracked now.");
    m.sample("replayer_capture_streams", "", c.streams);
    m.family(
        "capture_framing_skipped_total",
        "counter",
        "Connections whose rest was not replayed after a framing error, by cause: bad_head, \
         bad_length, head_too_large, bad_chunk.",
    );
    for (cause, value) in &c.framing_skipped {
        m.sample(
            "replayer_capture_framing_skipped_total",
            &format!("cause=\"{}\"", escape(cause)),
            *value,
        );
    }

    let d = &doc.diff;
    m.family(
        "diff_enabled",
        "gauge",
        "1 when staging's answers are compared with production's (--diff).",
    );
    m.sample("replayer_diff_enabled", "", u8::from(d.enabled));
    for (name, help, value) in [
        (
            "diff_compared_total",
            "(request, target) pairs with both answers known: same + differing + noisy.",
            d.compared,
        ),
        ("diff_same_total", "Pairs alike in everything compared.", d.same),
        (
            "diff_differing_total",
            "Pairs that differ by at least one cause.",
            d.differing,
        ),
        (
            "diff_noisy_total",
            "Pairs that differ only in the body, on a request production answers differently each time.",
            d.noisy,
        ),
        (
            "diff_prod_missing_total",
            "Staging answers whose production answer the capture missed.",
            d.prod_missing,
        ),
        (
            "diff_slower_total",
            "Pairs where staging took over the ratio and margin longer than production.",
            d.slower,
        ),
        (
            "diff_untracked_total",
            "Pairs not compared because the comparison's table was full.",
            d.untracked,
        ),
    ] {
        m.family(name, "counter", help);
        m.sample(&format!("replayer_{name}"), "", value);
    }
    m.family(
        "diff_differing_by_cause_total",
        "counter",
        "Differing pairs by cause: status, status_class, content_type, location, body, length.",
    );
    for (cause, value) in &d.by_cause {
        m.sample(
            "replayer_diff_differing_by_cause_total",
            &format!("cause=\"{}\"", escape(cause)),
            *value,
        );
    }

    m.family(
        "target_replayed_total",
        "counter",
        "Requests answered, per target.",
    );
    for t in &doc.targets {
        m.sample(
            "replayer_target_replayed_total",
            &target_label(&t.url),
            t.replayed,
        );
    }
    m.family(
        "target_failed_total",
        "counter",
        "Requests with no answer, per target.",
    );
    for t in &doc.targets {
        m.sample(
            "replayer_target_failed_total",
            &target_label(&t.url),
            t.failed,
        );
    }
    m.family(
        "target_in_flight",
        "gauge",
        "Requests queued or on the wire, per target.",
    );
    for t in &doc.targets {
        m.sample(
            "replayer_target_in_flight",
            &target_label(&t.url),
            t.in_flight,
        );
    }

    if let Some(f) = &doc.output_file {
        m.family(
            "output_file_records_total",
            "counter",
            "Records given to -output-file: written, or dropped (queue full, write error, \
             over -output-file-max-size-limit).",
        );
        for (outcome, value) in f.outcomes() {
            let labels = format!("outcome=\"{outcome}\"");
            m.sample("replayer_output_file_records_total", &labels, value);
        }
    }

    // The windows, as the status document and the checks see them.
    m.family(
        "window_requests",
        "gauge",
        "Requests by outcome over the last `window` seconds.",
    );
    for (w, win) in &doc.windows {
        for (outcome, value) in [
            ("seen", win.seen),
            ("filtered", win.filtered),
            ("sampled_out", win.sampled_out),
            ("paused_sync", win.paused_sync),
            ("replayed", win.replayed),
            ("dropped_queue_full", win.dropped_queue_full),
            ("failed", win.failed),
        ] {
            m.sample(
                "replayer_window_requests",
                &format!("window=\"{w}\",outcome=\"{outcome}\""),
                value,
            );
        }
    }
    m.family(
        "window_packets",
        "gauge",
        "Packets captured over the window.",
    );
    for (w, win) in &doc.windows {
        m.sample(
            "replayer_window_packets",
            &format!("window=\"{w}\""),
            win.packets,
        );
    }
    m.family(
        "window_responses",
        "gauge",
        "Staging responses over the window.",
    );
    for (w, win) in &doc.windows {
        m.sample(
            "replayer_window_responses",
            &format!("window=\"{w}\""),
            win.responses,
        );
    }
    m.family(
        "window_responses_5xx",
        "gauge",
        "Staging 5xx responses over the window.",
    );
    for (w, win) in &doc.windows {
        m.sample(
            "replayer_window_responses_5xx",
            &format!("window=\"{w}\""),
            win.c5xx,
        );
    }
    m.family(
        "window_replayed_per_second",
        "gauge",
        "Replayed requests per second over the window (the time it covers).",
    );
    for (w, win) in &doc.windows {
        m.sample(
            "replayer_window_replayed_per_second",
            &format!("window=\"{w}\""),
            win.replayed_per_s,
        );
    }
    m.family(
        "window_ratio_5xx",
        "gauge",
        "5xx share of staging responses over the window (NaN without responses).",
    );
    for (w, win) in &doc.windows {
        m.sample(
            "replayer_window_ratio_5xx",
            &format!("window=\"{w}\""),
            win.ratio_5xx.unwrap_or(f64::NAN),
        );
    }
    m.family(
        "window_latency_seconds",
        "gauge",
        "Staging latency percentiles (50, 99) over the window, seconds.",
    );
    for (w, win) in &doc.windows {
        for (percentile, ms) in [("50", win.latency_ms.p50), ("99", win.latency_ms.p99)] {
            m.sample(
                "replayer_window_latency_seconds",
                &format!("window=\"{w}\",percentile=\"{percentile}\""),
                // The document's whole microseconds, printed without float noise.
                (ms * 1000.0).round() / 1e6,
            );
        }
    }
    out
}

/// Writes families and samples into the text.
struct Exposition<'a> {
    out: &'a mut String,
}

impl Exposition<'_> {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(
            self.out,
            "# HELP replayer_{name} {help}\n# TYPE replayer_{name} {kind}"
        );
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl Value) {
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {}", value.text());
        } else {
            let _ = writeln!(self.out, "{name}{{{labels}}} {}", value.text());
        }
    }
}

/// A sample value in the text format (`NaN`, `+Inf` spelled as Prometheus spells them).
trait Value {
    fn text(&self) -> String;
}

impl Value for u64 {
    fn text(&self) -> String {
        self.to_string()
    }
}

impl Value for u8 {
    fn text(&self) -> String {
        self.to_string()
    }
}

impl Value for f64 {
    fn text(&self) -> String {
        if self.is_nan() {
            "NaN".into()
        } else if self.is_infinite() {
            if *self > 0.0 { "+Inf" } else { "-Inf" }.into()
        } else {
            self.to_string()
        }
    }
}

fn target_label(url: &str) -> String {
    format!("target=\"{}\"", escape(url))
}

fn classes(c: &ResponseClasses) -> [(&'static str, u64); 5] {
    [
        ("1xx", c.c1xx),
        ("2xx", c.c2xx),
        ("3xx", c.c3xx),
        ("4xx", c.c4xx),
        ("5xx", c.c5xx),
    ]
}

/// A label value: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{CaptureStats, FramingError};
    use crate::status::stats::Stats;
    use std::io::{Read, Write};
    use std::path::Path;
    use std::sync::atomic::Ordering;

    fn status() -> Arc<DaemonStatus> {
        let stats = Arc::new(Stats::new(&["http://a\"b/".to_string()]));
        stats.queued(0);
        stats.response(0, 503, Duration::from_millis(8));
        let capture = CaptureStats::default();
        for (cause, n) in [(FramingError::BadHead, 2), (FramingError::HeadTooLarge, 1)] {
            capture.framing_skipped[cause.index()].store(n, Ordering::Relaxed);
        }
        let status = Arc::new(DaemonStatus::new(
            "lo:80".into(),
            Arc::new(capture),
            stats,
            Path::new("/flag"),
        ));
        status.set_state(DaemonState::Replaying);
        status.set_file_output(Box::new(|| replayer_status::schema::FileOutputCounters {
            written: 5,
            dropped_write_error: 2,
            ..Default::default()
        }));
        status
    }

    #[test]
    fn text_format_lines() {
        let status = status();
        let text = render(&status.document(), &status.stats.latency_histogram());
        for line in [
            "# TYPE replayer_requests_total counter",
            "replayer_requests_total{outcome=\"replayed\"} 1",
            "replayer_responses_total{target=\"http://a\\\"b/\",class=\"5xx\"} 1",
            "replayer_response_latency_seconds_bucket{le=\"0.01\"} 1",
            "replayer_response_latency_seconds_bucket{le=\"0.005\"} 0",
            "replayer_response_latency_seconds_count 1",
            "replayer_response_latency_seconds_sum 0.008",
            "replayer_up 1",
            "replayer_state{state=\"replaying\"} 1",
            "replayer_state{state=\"paused\"} 0",
            "replayer_window_ratio_5xx{window=\"60\"} 1",
            "# TYPE replayer_capture_framing_skipped_total counter",
            "replayer_capture_framing_skipped_total{cause=\"bad_chunk\"} 0",
            "replayer_capture_framing_skipped_total{cause=\"bad_head\"} 2",
            "replayer_capture_framing_skipped_total{cause=\"bad_length\"} 0",
            "replayer_capture_framing_skipped_total{cause=\"head_too_large\"} 1",
            "replayer_output_file_records_total{outcome=\"written\"} 5",
            "replayer_output_file_records_total{outcome=\"dropped_queue_full\"} 0",
            "replayer_output_file_records_total{outcome=\"dropped_write_error\"} 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        // Every sample line is `name{labels} value` or `name value` with a number.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let value = l.rsplit(' ').next().unwrap();
            assert!(value == "NaN" || value.parse::<f64>().is_ok(), "{l}");
        }
    }

    #[test]
    fn serves_get_metrics_and_404s_the_rest() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let listener = rt.block_on(bind("127.0.0.1:0".parse().unwrap())).unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(serve(listener, status(), std::future::pending()));
        let get = |request: &str| {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).unwrap();
            text
        };
        let ok = get("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("\r\n\r\n# HELP replayer_up "));
        let missing = get("POST /other HTTP/1.1\r\n\r\n");
        assert!(
            missing.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{missing}"
        );
        // A silent scraper does not stop others.
        let _silent = std::net::TcpStream::connect(addr).unwrap();
        assert!(get("GET / HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200 OK"));
    }
}
