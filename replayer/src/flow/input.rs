//! The input side of the flow: opening what a run reads (a capture or record files) and
//! feeding it into a [`Flow`], straight or through the `--middleware` program, with
//! production's responses when they are asked for.

use super::{Behind, Flow, Intake, MiddlewareIntake};
use crate::capture::{CaptureError, CaptureStats, Source};
use crate::config::Config;
use crate::middleware::{MessageSender, Middleware};
use crate::outputs::record::TRACKED_BODY;
use crate::records::input::{self as record_input, FromFile, Timelines};
use crate::response::{Response, ResponseConfig};
use crate::stream::pipeline::{self, Captured};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// An input, opened (the daemon opens it while it still has its capabilities).
pub enum Opened {
    /// Live capture or a capture file.
    Capture(Source),
    /// Record files (`--input-file`).
    Records(Timelines),
}

/// Opens what `config` reads from: record files, or the capture. A failure is exit 2.
pub fn open_input(config: &Config) -> Result<Opened, CaptureError> {
    match &config.records {
        Some(records) => record_input::open(records).map(Opened::Records),
        None => Source::open(&config.capture).map(Opened::Capture),
    }
}

/// What the daemon adds to [`feed`]; none (`Hooks::default()`) for a one-shot run.
#[derive(Default)]
pub struct Hooks<'a> {
    /// Each production response, before the flow (the comparison's production side).
    pub on_production: Option<&'a mut dyn FnMut(&Response)>,
    /// Filled with the middleware's sender once it runs (the workers' type-3 records).
    pub middleware_sender: Option<&'a OnceLock<MessageSender>>,
    /// Called once the input ended and the middleware's answers are in, before it closes.
    pub before_middleware_ends: Option<&'a mut dyn FnMut()>,
}

/// Runs `input` into `flow` on the calling thread until it ends or `stop` is set, through
/// the `--middleware` program when there is one (the flow then runs on the thread reading
/// the program's answers, and is handed back at the end). `responses`: production's
/// responses are captured too, handed to `on_production` and then on (the type-2 records).
pub fn feed(
    input: Opened,
    config: &Config,
    responses: Option<&ResponseConfig>,
    stop: &AtomicBool,
    stats: &Arc<CaptureStats>,
    flow: Flow,
    hooks: Hooks<'_>,
) -> (Flow, Result<(), CaptureError>) {
    let Hooks {
        on_production,
        middleware_sender,
        before_middleware_ends,
    } = hooks;
    let mut ignore = |_: &Response| {};
    let on_production = on_production.unwrap_or(&mut ignore);
    let Some(command) = &config.middleware else {
        let mut flow = flow;
        let result = feed_into(
            input,
            config,
            responses,
            stop,
            stats,
            &mut flow,
            on_production,
        );
        return (flow, result);
    };
    let behind = Behind::new(flow, config.records.is_some());
    let middleware = match Middleware::start(command, crate::middleware::DEFAULT_QUEUE, behind) {
        Ok(middleware) => middleware,
        Err((e, behind)) => {
            let why = format!("middleware: cannot start /bin/sh -c '{command}': {e}");
            return (behind.flow, Err(CaptureError::Open(why)));
        }
    };
    if let Some(slot) = middleware_sender {
        // The replay workers' type-3 records go in too (`--output-http-track-response`).
        let _ = slot.set(middleware.sender());
    }
    let mut intake = MiddlewareIntake::new(middleware.sender(), responses.is_some());
    let result = feed_into(
        input,
        config,
        responses,
        stop,
        stats,
        &mut intake,
        on_production,
    );
    drop(intake);
    // The program's answers to the input first (a second with none: a loaded machine can
    // starve a program for a few hundred ms); then whatever must still reach it (the
    // workers' type-3 records, once replay is drained); then it is closed.
    middleware.settle(Duration::from_secs(1), config.drain_timeout);
    if let Some(before) = before_middleware_ends {
        before();
    }
    let stats = middleware.stats().clone();
    let behind = middleware.finish(config.drain_timeout);
    let count = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    let (full, down) = (
        count(&stats.dropped_queue_full),
        count(&stats.dropped_not_running),
    );
    let summary = format!(
        "middleware: {} messages sent, {} came back, {} dropped (queue full {full}, not running {down}), {} restarts",
        count(&stats.sent),
        count(&stats.returned),
        full + down,
        count(&stats.restarts),
    );
    if full + down > 0 {
        tracing::warn!("{summary}");
    } else {
        tracing::info!("{summary}");
    }
    (behind.flow, result)
}

fn feed_into(
    input: Opened,
    config: &Config,
    responses: Option<&ResponseConfig>,
    stop: &AtomicBool,
    stats: &Arc<CaptureStats>,
    intake: &mut dyn Intake,
    on_production: &mut dyn FnMut(&Response),
) -> Result<(), CaptureError> {
    match (input, responses) {
        (Opened::Records(timelines), _) => {
            record_input::run(timelines, stop, stats, &mut |item| match item {
                FromFile::Request(request) => intake.request(request),
                FromFile::Response(id, record) => intake.record(id, record),
            })
        }
        (Opened::Capture(source), Some(responses)) => pipeline::run_opened_with_responses(
            source,
            &config.capture,
            responses,
            stop,
            stats,
            &mut |captured| match captured {
                Captured::Request(request) => intake.request(request),
                Captured::Response(response) => {
                    on_production(&response);
                    intake.response(&response);
                }
            },
        ),
        (Opened::Capture(source), None) => {
            pipeline::run_opened(source, &config.capture, stop, stats, &mut |request| {
                intake.request(request)
            })
        }
    }
}

/// How responses are captured for `--input-raw-track-response`: bodies kept up to
/// [`TRACKED_BODY`] for the records.
pub fn tracked_responses() -> ResponseConfig {
    ResponseConfig {
        keep_body: TRACKED_BODY,
        ..ResponseConfig::default()
    }
}
