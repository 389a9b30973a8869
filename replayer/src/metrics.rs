//! The status document's figures in Prometheus text format on `--metrics-listen ADDR`, for
//! central dashboards (DESIGN.md §5). Made from the same [`StatusDocument`] as the socket,
//! so the two never disagree.
//!
//! A deliberately small HTTP/1.x responder: `GET /metrics` (or `/`) gets the text, anything
//! else a 404; one response per connection. Each client has its own task and a deadline, so
//! a slow or silent scraper stalls nothing.

use crate::status_server::DaemonStatus;
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
        ("200 OK", render(&status.document()))
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

/// Prometheus text exposition of a status document.
pub fn render(doc: &StatusDocument) -> String {
    let mut out = String::with_capacity(4096);
    let r = &doc.requests;
    header(
        &mut out,
        "requests_total",
        "counter",
        "Requests by outcome since start.",
    );
    for (outcome, value) in [
        ("seen", r.seen),
        ("filtered", r.filtered),
        ("sampled_out", r.sampled_out),
        ("paused_sync", r.paused_sync),
        ("queued", r.queued),
        ("replayed", r.replayed),
        ("dropped_queue_full", r.dropped_queue_full),
        ("failed", r.failed),
    ] {
        let _ = writeln!(
            out,
            "replayer_requests_total{{outcome=\"{outcome}\"}} {value}"
        );
    }
    header(
        &mut out,
        "responses_total",
        "counter",
        "Staging responses by status class.",
    );
    classes(&mut out, "replayer_responses_total", "", &doc.responses);

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
            "Packets the kernel dropped for lack of buffer.",
            c.kernel_dropped,
        ),
        (
            "capture_if_dropped_total",
            "Packets the interface dropped.",
            c.if_dropped,
        ),
        (
            "capture_reassembly_gaps_total",
            "Stream holes never filled.",
            c.reassembly_gaps,
        ),
    ] {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "replayer_{name} {value}");
    }
    header(
        &mut out,
        "capture_streams",
        "gauge",
        "TCP streams tracked now.",
    );
    let _ = writeln!(out, "replayer_capture_streams {}", c.streams);

    header(
        &mut out,
        "state",
        "gauge",
        "1 for the daemon's current state.",
    );
    for state in [
        DaemonState::Starting,
        DaemonState::Replaying,
        DaemonState::Paused,
        DaemonState::Stopping,
    ] {
        let on = u8::from(state == doc.state);
        let _ = writeln!(out, "replayer_state{{state=\"{}\"}} {on}", state.as_str());
    }
    header(
        &mut out,
        "sync_in_progress",
        "gauge",
        "1 while the data-sync flag is set.",
    );
    let _ = writeln!(
        out,
        "replayer_sync_in_progress {}",
        u8::from(doc.sync.in_progress)
    );

    header(
        &mut out,
        "window_replayed_per_second",
        "gauge",
        "Replayed requests per second over the window.",
    );
    for (w, win) in &doc.windows {
        let _ = writeln!(
            out,
            "replayer_window_replayed_per_second{{window=\"{w}\"}} {}",
            win.replayed_per_s
        );
    }
    header(
        &mut out,
        "window_ratio_5xx",
        "gauge",
        "5xx share of staging responses over the window (NaN without responses).",
    );
    for (w, win) in &doc.windows {
        let ratio = win.ratio_5xx.map_or("NaN".to_string(), |r| r.to_string());
        let _ = writeln!(out, "replayer_window_ratio_5xx{{window=\"{w}\"}} {ratio}");
    }
    header(
        &mut out,
        "window_latency_ms",
        "gauge",
        "Staging latency quantiles over the window, milliseconds.",
    );
    for (w, win) in &doc.windows {
        let l = &win.latency_ms;
        let _ = writeln!(
            out,
            "replayer_window_latency_ms{{window=\"{w}\",quantile=\"0.5\"}} {}",
            l.p50
        );
        let _ = writeln!(
            out,
            "replayer_window_latency_ms{{window=\"{w}\",quantile=\"0.99\"}} {}",
            l.p99
        );
    }

    header(
        &mut out,
        "target_replayed_total",
        "counter",
        "Requests answered, per target.",
    );
    for t in &doc.targets {
        let _ = writeln!(
            out,
            "replayer_target_replayed_total{{target=\"{}\"}} {}",
            escape(&t.url),
            t.replayed
        );
    }
    header(
        &mut out,
        "target_failed_total",
        "counter",
        "Requests with no answer, per target.",
    );
    for t in &doc.targets {
        let _ = writeln!(
            out,
            "replayer_target_failed_total{{target=\"{}\"}} {}",
            escape(&t.url),
            t.failed
        );
    }
    header(
        &mut out,
        "target_in_flight",
        "gauge",
        "Requests queued or on the wire, per target.",
    );
    for t in &doc.targets {
        let _ = writeln!(
            out,
            "replayer_target_in_flight{{target=\"{}\"}} {}",
            escape(&t.url),
            t.in_flight
        );
    }
    header(
        &mut out,
        "target_responses_total",
        "counter",
        "Responses by status class, per target.",
    );
    for t in &doc.targets {
        let label = format!("target=\"{}\",", escape(&t.url));
        classes(
            &mut out,
            "replayer_target_responses_total",
            &label,
            &t.responses,
        );
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(
        out,
        "# HELP replayer_{name} {help}\n# TYPE replayer_{name} {kind}"
    );
}

fn classes(out: &mut String, metric: &str, labels: &str, c: &ResponseClasses) {
    for (class, value) in [
        ("1xx", c.c1xx),
        ("2xx", c.c2xx),
        ("3xx", c.c3xx),
        ("4xx", c.c4xx),
        ("5xx", c.c5xx),
    ] {
        let _ = writeln!(out, "{metric}{{{labels}class=\"{class}\"}} {value}");
    }
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
    use crate::pipeline::CaptureStats;
    use crate::stats::Stats;
    use std::io::{Read, Write};
    use std::path::Path;

    fn status() -> Arc<DaemonStatus> {
        let stats = Arc::new(Stats::new(&["http://a\"b/".to_string()]));
        stats.queued(0);
        stats.response(0, 503, Duration::from_millis(8));
        let status = Arc::new(DaemonStatus::new(
            "lo:80".into(),
            Arc::new(CaptureStats::default()),
            stats,
            Path::new("/flag"),
        ));
        status.set_state(DaemonState::Replaying);
        status
    }

    #[test]
    fn text_format_lines() {
        let text = render(&status().document());
        for line in [
            "# TYPE replayer_requests_total counter",
            "replayer_requests_total{outcome=\"replayed\"} 1",
            "replayer_responses_total{class=\"5xx\"} 1",
            "replayer_state{state=\"replaying\"} 1",
            "replayer_state{state=\"paused\"} 0",
            "replayer_window_ratio_5xx{window=\"60\"} 1",
            "replayer_target_responses_total{target=\"http://a\\\"b/\",class=\"5xx\"} 1",
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
        assert!(ok.contains("\r\n\r\n# HELP replayer_requests_total"));
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
