//! The daemon: what runs on a production host when there is an `-output-http` target.
//!
//! ```text
//! capture thread: pipeline::run → stages (filter → rewrite → limit) → paused? → per-target limit → replay queues
//! tokio runtime:  replay workers · status socket · sync watcher · signals · per-second ticker · -stats lines
//! ```
//!
//! Capture runs on its own thread and only ever does non-blocking things per request (atomic
//! counters, `try_send`). Everything that waits lives on the runtime. Startup problems
//! (socket path, capture permission, interface) come back as one [`FlowError`] line before
//! anything is replayed; `main` prints it and exits non-zero.

use crate::capture::{CaptureError, CaptureStats, Input};
use crate::config::Config;
use crate::flow::{self, Flow, FlowError, OnOutputError, ReplayRoute};
use crate::join::Join;
use crate::outputs::replay::{ReplayConfig, ReplayOutput};
use crate::privileges;
use crate::shutdown::Shutdown;
use crate::stages::FlowStats;
use crate::status::metrics;
use crate::status::socket::{self, DaemonStatus};
use crate::status::stats::Stats;
use crate::status::sync_watch;
use replayer_status::schema::DaemonState;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// How long a stopping daemon waits for the capture thread to notice (libpcap may sit in
/// the kernel until the next packet); the process exit ends it anyway.
const CAPTURE_STOP_GRACE: Duration = Duration::from_millis(300);

/// How often `-stats` logs a summary line.
const STATS_EVERY: Duration = Duration::from_secs(60);

/// Runs until the input ends (a file), a signal, or `-exit-after`. `Ok` is exit 0.
pub fn run(config: &Config) -> Result<(), FlowError> {
    raise_open_files_limit();
    // The privileged part, while this is the only thread: the status socket (chgrp may need
    // CAP_CHOWN), the capture (CAP_NET_RAW, CAP_NET_ADMIN) and the other outputs; then every
    // capability goes, for this thread and every thread started after (`privileges`).
    let (listener, socket_file) = socket::bind(&config.status)?;
    let source = flow::open_input(config)?;
    let mut sinks = flow::open_outputs(config)?;
    let dropped = privileges::drop_all().map_err(|source| FlowError::Io {
        what: "giving up capabilities",
        source,
    })?;
    tracing::debug!(
        bounding_set = dropped.bounding_set,
        "capture open; every capability dropped"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("replayer-io")
        .enable_all()
        .build()
        .map_err(|source| FlowError::Io {
            what: "starting the async runtime",
            source,
        })?;
    let urls: Vec<String> = config
        .outputs
        .http
        .iter()
        .map(|t| t.url.to_string())
        .collect();
    let stats = Arc::new(Stats::new(&urls));
    let capture_stats = Arc::new(CaptureStats::default());
    let status = Arc::new(DaemonStatus::new(
        config.source.clone(),
        capture_stats.clone(),
        stats.clone(),
        &config.sync.flag,
    ));
    if let Some(file) = sinks.iter().find_map(flow::Sink::file_stats) {
        status.set_file_output(Box::new(move || file.counters()));
    }
    // Everything that can fail at startup, before anything is captured.
    let shutdown = flow::stop_switch(config)?;
    let metrics = match config.metrics_listen {
        Some(addr) => {
            Some(
                runtime
                    .block_on(metrics::bind(addr))
                    .map_err(|source| FlowError::Io {
                        what: "--metrics-listen",
                        source,
                    })?,
            )
        }
        None => None,
    };
    // The comparison with production's answers (--diff): one table both sides report to,
    // swept once a second for answers that never got their other half.
    let diff = &config.diff;
    let join = diff.enabled.then(|| {
        Arc::new(Join::new(
            diff.digest.clone(),
            diff.rules.clone(),
            diff.ignore_urls.clone(),
            stats.clone(),
        ))
    });
    if let Some(join) = &join {
        let (join, stopping) = (join.clone(), shutdown.wait());
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            tokio::select! {
                _ = stopping => {}
                _ = async { loop { ticks.tick().await; join.sweep(std::time::Instant::now()); } } => {}
            }
        });
    }
    let mut replay_settings = replay_config(config);
    replay_settings.join = join.clone();
    // The middleware starts with the capture thread, after replay: its sender comes later.
    let middleware_sender = config
        .middleware
        .is_some()
        .then(|| Arc::new(std::sync::OnceLock::new()));
    if config.track_staging {
        replay_settings.staging_records =
            Some(flow::staging_records(&mut sinks, middleware_sender.clone()));
    }
    let replay = ReplayOutput::start(
        &replay_settings,
        stats.clone(),
        runtime.handle().clone(),
        config.drain_timeout,
    )?;
    runtime.spawn({
        let (status, stopping) = (status.clone(), shutdown.wait());
        async move {
            stopping.await;
            status.set_state(DaemonState::Stopping);
        }
    });
    runtime.spawn(socket::serve(listener, status.clone(), shutdown.wait()));
    if let Some(listener) = metrics {
        runtime.spawn(metrics::serve(listener, status.clone(), shutdown.wait()));
    }
    // Read the flag before the first request, so a daemon started mid-sync never replays.
    sync_watch::check_once(&config.sync, &status);
    runtime.spawn(sync_watch::run(
        config.sync.clone(),
        status.clone(),
        shutdown.wait(),
    ));
    runtime.spawn(tick_packets(
        capture_stats.clone(),
        stats.clone(),
        shutdown.wait(),
    ));
    if config.stats || config.replay.stats {
        runtime.spawn(log_stats(status.clone(), shutdown.wait()));
    }

    // -output-stdout / -output-file / -output-null next to -output-http (opened above) get
    // every request too: stdout written on the capture thread, as GoReplay does; the file by
    // its own thread, which starts with the first record (after the capabilities went).
    let drainer = replay.drainer();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    {
        let config = config.clone();
        let route = ReplayRoute::new(replay, &config, status.clone(), stats.clone());
        let (capture_stats, shutdown) = (capture_stats, shutdown.clone());
        let (capture_drainer, track_staging) = (drainer.clone(), config.track_staging);
        std::thread::Builder::new()
            .name("replayer-capture".into())
            .spawn(move || {
                let flow = Flow::new(
                    &config,
                    Arc::new(FlowStats::default()),
                    sinks,
                    OnOutputError::DropOutput,
                    Some(route),
                    shutdown.clone(),
                );
                // Production's responses, for the comparison (--diff) and for type-2
                // records (--input-raw-track-response).
                let responses = (join.is_some() || config.track_response).then(|| {
                    let mut responses = flow::tracked_responses();
                    if let Some(join) = &join {
                        responses.digest = join.digest().clone();
                    }
                    if !config.track_response {
                        responses.keep_body = 0;
                    }
                    responses
                });
                let (mut flow, result) = flow::feed(
                    source,
                    &config,
                    responses.as_ref(),
                    &shutdown.capture_flag(),
                    &capture_stats,
                    flow,
                    flow::Hooks {
                        on_production: Some(&mut |response| {
                            if let Some(join) = &join {
                                join.production(response);
                            }
                        }),
                        middleware_sender: middleware_sender.as_deref(),
                        // Staging's last answers reach the middleware before it is closed.
                        before_middleware_ends: Some(&mut || {
                            if track_staging {
                                capture_drainer.drain();
                            }
                        }),
                    },
                );
                // Failures were logged as they happened (DropOutput).
                let _ = flow.finish();
                let _ = done_tx.send(result);
            })
            .map_err(|source| FlowError::Io {
                what: "starting the capture thread",
                source,
            })?;
    }
    // The capture is open (above), so whatever the capture thread ends with (the end of a
    // file, a file damaged part-way) comes after requests that deserve their replay: the
    // drain below runs in every case, and an error is reported after it.
    tracing::info!(source = %config.source, targets = ?urls, "replaying");
    let result = wait_for_capture(&done_rx, &shutdown);
    // Capture is over (or stuck in the kernel): queued and in-flight requests get up to
    // the drain timeout, whatever the capture thread does.
    if !drainer.drain() {
        tracing::warn!(
            in_flight = stats.in_flight(),
            "drain timeout reached; abandoning requests still in flight"
        );
    }
    finish(config, runtime, status, shutdown, socket_file, result)
}

/// Waits until capture ends by itself (end of file, error) or stopping begins; then gives
/// capture a moment to hand over its last requests, but never waits on it for long.
fn wait_for_capture(
    done: &std::sync::mpsc::Receiver<Result<(), CaptureError>>,
    shutdown: &Shutdown,
) -> Result<(), CaptureError> {
    use std::sync::mpsc::RecvTimeoutError;
    loop {
        match done.recv_timeout(Duration::from_millis(50)) {
            Ok(result) => return result,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(CaptureError::Read("the capture thread panicked".into()))
            }
            Err(RecvTimeoutError::Timeout) if shutdown.is_triggered() => {
                return done.recv_timeout(CAPTURE_STOP_GRACE).unwrap_or(Ok(()));
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

/// After capture: a file input may keep the status socket up until `-exit-after` (so its
/// figures can be read, e.g. by the demo); then everything stops and the socket goes.
fn finish(
    config: &Config,
    runtime: tokio::runtime::Runtime,
    status: Arc<DaemonStatus>,
    shutdown: Shutdown,
    socket_file: socket::SocketFile,
    result: Result<(), CaptureError>,
) -> Result<(), FlowError> {
    if matches!(config.capture.input, Input::File { .. })
        && config.exit_after.is_some()
        && !shutdown.is_triggered()
    {
        runtime.block_on(shutdown.wait());
    }
    status.set_state(DaemonState::Stopping);
    shutdown.trigger("capture ended");
    runtime.shutdown_timeout(Duration::from_secs(1));
    drop(socket_file);
    let r = status.stats.requests();
    tracing::info!(
        seen = r.seen,
        replayed = r.replayed,
        failed = r.failed,
        dropped = r.dropped_queue_full,
        "stopped"
    );
    Ok(result?)
}

fn replay_config(config: &Config) -> ReplayConfig {
    let mut replay = ReplayConfig::new(config.outputs.http.iter().map(|t| t.url.clone()).collect());
    replay.workers = config.replay.workers;
    replay.pipeline = config.replay.pipeline;
    replay.queue = config.replay.queue_len;
    replay.timeout = config.replay.timeout;
    replay.skip_verify = config.replay.skip_verify;
    replay.original_host = config.replay.original_host;
    replay.redirects = config.replay.redirects;
    replay
}

/// Once a second: packets captured since the last tick go into the current window bucket.
async fn tick_packets(
    capture: Arc<CaptureStats>,
    stats: Arc<Stats>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last = 0;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {
                let now = capture.packets.load(Relaxed);
                stats.packets(now.saturating_sub(last));
                last = now;
            }
        }
    }
}

/// `-stats`: one summary line a minute (the figures of the last 60 s).
async fn log_stats(status: Arc<DaemonStatus>, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(STATS_EVERY);
    tick.tick().await; // the first tick is immediate
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {
                tracing::info!(target: "replayer::stats", "{}", summary(&status.document()));
            }
        }
    }
}

/// The `-stats` line: the last minute's figures, in the order an operator reads them.
fn summary(doc: &replayer_status::StatusDocument) -> String {
    let w = &doc.windows["60"];
    format!(
        "last 60 s: {state}, seen {seen}, filtered {filtered}, replayed {replayed} \
         ({rate:.1}/s), failed {failed}, queue full {queue}, paused for sync {paused}, \
         5xx {c5xx}, latency p50 {p50} ms p99 {p99} ms, kernel drops {kdrop} (total)",
        state = doc.state.as_str(),
        seen = w.seen,
        filtered = w.filtered,
        replayed = w.replayed,
        rate = w.replayed_per_s,
        failed = w.failed,
        queue = w.dropped_queue_full,
        paused = w.paused_sync,
        c5xx = w.c5xx,
        p50 = w.latency_ms.p50,
        p99 = w.latency_ms.p99,
        kdrop = doc.capture.kernel_dropped,
    )
}

/// Staging connections, status clients and capture all need descriptors: use the hard
/// limit, not the 1024 soft default.
fn raise_open_files_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            // Best effort, as before: a refusal leaves the soft limit where it was.
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::stats::Event;
    use std::path::Path;

    #[test]
    fn stats_summary_line() {
        let stats = Arc::new(Stats::new(&["http://staging".to_string()]));
        stats.count(Event::Seen);
        stats.count(Event::Seen);
        stats.count(Event::Filtered);
        stats.queued(0);
        stats.response(0, 502, Duration::from_millis(3));
        let status = DaemonStatus::new(
            "lo:80".into(),
            Arc::new(CaptureStats::default()),
            stats,
            Path::new("/flag"),
        );
        status.set_state(DaemonState::Replaying);
        // 3 ms falls in the histogram bin 2.56–3.07 ms, reported by its middle.
        assert_eq!(
            summary(&status.document()),
            "last 60 s: replaying, seen 2, filtered 1, replayed 1 (1.0/s), failed 0, \
             queue full 0, paused for sync 0, 5xx 1, latency p50 2.816 ms p99 2.816 ms, \
             kernel drops 0 (total)"
        );
    }
}
