//! The flow without the daemon: capture → filter → rewrite → limit → stdout, file or null.
//!
//! Capture runs on the calling thread and hands each request to a callback that runs the
//! stages and writes to the outputs directly: no queue, no copy, which is what lets
//! `-output-null` measure capture alone. A pcap file is read to its end and the process
//! exits 0 once every request is written and flushed; a live capture runs until SIGINT,
//! SIGTERM or `-exit-after`. (With a live capture, a stdout that is not read slows capture
//! down and the kernel's drops are counted; the daemon's replay never does this.)

use crate::config::Config;
use crate::limit::Limiter;
use crate::output::{FileOutput, NullOutput, Output, OutputError, StdoutOutput};
use crate::pipeline::{self, CaptureError, CaptureStats};
use crate::request::Request;
use crate::stages::{FlowStats, Stages};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Set by SIGINT/SIGTERM and `-exit-after`; capture checks it.
static STOP: AtomicBool = AtomicBool::new(false);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("{0}")]
    Output(#[from] OutputError),
}

impl AppError {
    /// 2 for what the operator gave (a file that cannot be opened, an unusable output),
    /// 1 for failures while running.
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Capture(CaptureError::Open(_)) => 2,
            AppError::Output(OutputError::Other(_)) => 2,
            _ => 1,
        }
    }
}

/// What a run did, for `-stats` and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub seen: u64,
    pub filtered: u64,
    pub sampled_out: u64,
    pub passed: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "requests seen {} filtered {} sampled_out {} written {}",
            self.seen, self.filtered, self.sampled_out, self.passed
        )
    }
}

/// One output with its own limit.
pub(crate) struct Sink {
    pub(crate) output: Box<dyn Output>,
    pub(crate) limiter: Option<Limiter>,
}

/// Runs the flow for `config`'s stdout/file/null outputs until the input ends or a stop.
pub fn run(config: &Config) -> Result<Summary, AppError> {
    let mut sinks = open_outputs(config)?;
    let flow = Arc::new(FlowStats::default());
    let stages = Stages::new(config, Arc::clone(&flow));
    let capture_stats = Arc::new(CaptureStats::default());
    install_stop_signals();
    if let Some(after) = config.exit_after {
        std::thread::spawn(move || {
            std::thread::sleep(after);
            STOP.store(true, Ordering::Relaxed);
        });
    }
    if config.stats {
        spawn_stats_logger(Arc::clone(&flow));
    }

    let mut failure: Option<OutputError> = None;
    let mut on_request = |mut request: Request| {
        if failure.is_some() || !stages.pass(&mut request) {
            return;
        }
        for sink in sinks.iter_mut() {
            if let Some(limiter) = &mut sink.limiter {
                if !limiter.allow(&request) {
                    flow.count_sampled_out();
                    continue;
                }
            }
            if let Err(e) = sink.output.emit(&request) {
                failure = Some(e);
                STOP.store(true, Ordering::Relaxed);
                return;
            }
        }
    };
    let captured = pipeline::run(&config.capture, &STOP, &capture_stats, &mut on_request);

    let mut result = captured.map_err(AppError::from);
    if let Some(e) = failure {
        result = result.and(Err(e.into()));
    }
    for sink in sinks.iter_mut() {
        let finished = sink.output.finish();
        if result.is_ok() {
            result = finished.map_err(AppError::from);
        }
    }
    let summary = snapshot(&flow);
    if config.stats {
        tracing::info!("{summary}");
    }
    match result {
        Ok(()) => Ok(summary),
        // `replayer ... -output-stdout | head`: the reader is done, so are we.
        Err(AppError::Output(OutputError::Io(e))) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(summary)
        }
        Err(e) => Err(e),
    }
}

pub(crate) fn open_outputs(config: &Config) -> Result<Vec<Sink>, OutputError> {
    let mut sinks = Vec::new();
    if config.outputs.stdout {
        sinks.push(Sink {
            output: Box::new(StdoutOutput::new()),
            limiter: None,
        });
    }
    if let Some(file) = &config.outputs.file {
        sinks.push(Sink {
            output: Box::new(FileOutput::create(&file.path)?),
            limiter: file.limit.map(Limiter::new),
        });
    }
    if config.outputs.null {
        sinks.push(Sink {
            output: Box::new(NullOutput::default()),
            limiter: None,
        });
    }
    Ok(sinks)
}

fn snapshot(flow: &FlowStats) -> Summary {
    Summary {
        seen: flow.seen.load(Ordering::Relaxed),
        filtered: flow.filtered.load(Ordering::Relaxed),
        sampled_out: flow.sampled_out.load(Ordering::Relaxed),
        passed: flow.passed.load(Ordering::Relaxed),
    }
}

fn spawn_stats_logger(flow: Arc<FlowStats>) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(60));
        tracing::info!("{}", snapshot(&flow));
    });
}

extern "C" fn request_stop(_signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::Relaxed);
}

fn install_stop_signals() {
    let handler = request_stop as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only performs an atomic store, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}
