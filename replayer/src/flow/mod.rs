//! The flow, wired once for every mode:
//!
//! ```text
//! capture → stream → stages (filter → rewrite → limit) → each output's own limit → outputs
//! ```
//!
//! [`Flow::request`] is what happens to each captured request, on the capture thread. It
//! never blocks: the stages are pure CPU, stdout writes to a buffer, and the file output and
//! the replay only ever do a non-blocking push into a bounded queue (the file's writer
//! thread does the disk work). The two ways the
//! replayer runs differ only by parameters of the same flow:
//!
//! | | one-shot (`-output-stdout`, `-output-file`, `-output-null`) | daemon (`-output-http`) |
//! |---|---|---|
//! | replay to staging | none | [`ReplayRoute`]: per-target limits, pause while a sync runs |
//! | an output fails | the run stops with its error ([`OnOutputError::StopRun`]) | it is logged and dropped, replay goes on ([`OnOutputError::DropOutput`]) |
//! | where capture runs | the calling thread ([`run`]) | a thread of its own (`daemon`) |
//!
//! Both stop through the one [`Shutdown`] (signals, `-exit-after`, the end of a file), and
//! both report errors as one [`FlowError`] whose [`FlowError::exit_code`] is the table in
//! docs/daemon.md ("Exit codes").
//!
//! The input side (opening a capture or record files, the middleware) is in `input`; what
//! stays here is over 600 lines because the two modes' wiring and the flow itself are read
//! together: each parameter of the table above is one branch in one place.

mod input;
mod intake;

pub use input::{feed, open_input, tracked_responses, Hooks, Opened};
pub use intake::{Behind, Intake, MiddlewareIntake};

use crate::capture::{CaptureError, CaptureStats, Input};
use crate::config::Config;
use crate::middleware::MessageSender;
use crate::outputs::file::write_counters;
use crate::outputs::replay::StagingRecords;
use crate::outputs::replay::{ReplayError, ReplayOutput};
use crate::outputs::{FileOutput, FileOutputStats, NullOutput, Output, OutputError, StdoutOutput};
use crate::records::Record;
use crate::records::SEPARATOR;
use crate::request::Request;
use crate::response::Response;
use crate::shutdown::Shutdown;
use crate::stages::limit::Limiter;
use crate::stages::prettify::prettify;
use crate::stages::{FlowStats, Stages, Verdict};
use crate::status::socket::{DaemonStatus, SocketError};
use crate::status::stats::{Event, Stats};
use replayer_status::schema::DaemonState;
use replayer_status::schema::FileOutputCounters;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

/// Every way a run can fail, in every mode.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The input could not be opened or read.
    #[error("{0}")]
    Capture(#[from] CaptureError),
    /// A stdout or file output could not be opened or written.
    #[error("{0}")]
    Output(#[from] OutputError),
    /// The status socket could not be made.
    #[error("{0}")]
    Socket(#[from] SocketError),
    /// Replay to staging could not start.
    #[error("{0}")]
    Replay(#[from] ReplayError),
    /// The system refused something the replayer needs (threads, signals, descriptors).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The system's answer.
        source: std::io::Error,
    },
}

impl FlowError {
    /// The process's exit code, the same in every mode: 2 when what the operator gave
    /// cannot be used, so nothing ran (an input that cannot be opened, a bad BPF filter, an
    /// output file that cannot be created, a status socket path in use, a target the TLS
    /// client cannot name); 1 for a failure while running (a capture file damaged
    /// part-way, an output that stopped accepting writes, the system refusing a thread).
    /// Settings refused before any of this are 2 as well (`main`).
    pub fn exit_code(&self) -> i32 {
        match self {
            FlowError::Capture(CaptureError::Open(_))
            | FlowError::Output(OutputError::Other(_))
            | FlowError::Socket(_)
            | FlowError::Replay(_) => 2,
            FlowError::Capture(CaptureError::Read(_) | CaptureError::Records(_))
            | FlowError::Output(OutputError::Io(_))
            | FlowError::Io { .. } => 1,
        }
    }
}

/// What a run did, for `-stats` and the tests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Requests that came out of capture.
    pub seen: u64,
    /// Rejected by a filter rule.
    pub filtered: u64,
    /// `filtered` by reason, as `(name, count)`, only the reasons that happened.
    pub filtered_by: Vec<(&'static str, u64)>,
    /// Dropped by a header limiter or an output's own limit.
    pub sampled_out: u64,
    /// Went on to the outputs.
    pub passed: u64,
    /// `-output-file`'s records written and dropped, shown when any was dropped.
    pub file: Option<FileOutputCounters>,
}

impl Summary {
    fn of(flow: &FlowStats) -> Summary {
        Summary {
            seen: flow.seen.load(Ordering::Relaxed),
            filtered: flow.filtered.load(Ordering::Relaxed),
            filtered_by: flow.filtered_by_name(),
            sampled_out: flow.sampled_out.load(Ordering::Relaxed),
            passed: flow.passed.load(Ordering::Relaxed),
            file: None,
        }
    }

    /// With the counters of the file output, if there is one.
    fn with_file(mut self, file: Option<&FileOutputStats>) -> Summary {
        self.file = file.map(FileOutputStats::counters);
        self
    }

    /// Whether the file output dropped records.
    pub fn file_dropped(&self) -> bool {
        self.file.as_ref().is_some_and(|c| {
            c.dropped_queue_full + c.dropped_write_error + c.dropped_over_max_size > 0
        })
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "requests seen {} filtered {} sampled_out {} written {}",
            self.seen, self.filtered, self.sampled_out, self.passed
        )?;
        if !self.filtered_by.is_empty() {
            let reasons: Vec<String> = self
                .filtered_by
                .iter()
                .map(|(reason, n)| format!("{reason} {n}"))
                .collect();
            write!(f, " (filtered: {})", reasons.join(", "))?;
        }
        if let (true, Some(file)) = (self.file_dropped(), &self.file) {
            f.write_str(" ")?;
            write_counters(f, file)?;
        }
        Ok(())
    }
}

/// One stdout, file or null output with its own limit (`-output-file PATH|N`).
pub struct Sink {
    output: Box<dyn Output>,
    limiter: Option<Limiter>,
    /// Its place among the flow's sinks, for [`Flow`]'s tracked responses.
    slot: u8,
}

impl Sink {
    /// The counters of the file output, if this is it.
    pub fn file_stats(&self) -> Option<Arc<FileOutputStats>> {
        self.output.file_stats()
    }
}

/// What a failing stdout or file output does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnOutputError {
    /// One-shot runs: the first failure stops capture and is the run's error (the operator
    /// asked for exactly this output).
    StopRun,
    /// The daemon: the failure is logged and the output dropped; replay to staging, what
    /// the daemon is for, goes on.
    DropOutput,
}

/// The replay half of the flow, which only the daemon has.
pub struct ReplayRoute {
    /// The queues and workers of every target.
    output: ReplayOutput,
    /// One per target: its `URL|N` or `URL|N%` limit, if any.
    limiters: Vec<Option<Limiter>>,
    /// Read for the state (paused while a sync runs).
    status: Arc<DaemonStatus>,
    /// Where the status document's per-request events are counted.
    stats: Arc<Stats>,
    /// `-split-output`: the target the next request goes to, round robin; `None` when every
    /// target gets every request.
    next: Option<usize>,
}

/// Requests waiting for their response at most, with `--input-raw-track-response` (or from
/// a record file); beyond, the oldest is forgotten and its response, if it ever comes, is
/// not written.
pub const MAX_TRACKED: usize = 100_000;

/// Requests written to the sinks whose responses may follow, by the flow's request id: the
/// request's capture time (for the record id) and which sinks took it (bit `slot` set).
///
/// Ids are handed out in increasing order, so this is a ring in id order searched by
/// bisection, the oldest dropped first: no hashing per request (a hash map's insert and
/// evicting remove were a sixth of a fast `--input-file` replay).
#[derive(Default)]
struct Tracked {
    /// `(id, capture time, sinks)`, ids increasing; a mask of 0 was answered already.
    ring: std::collections::VecDeque<(u64, u64, u64)>,
}

impl Tracked {
    fn insert(&mut self, id: u64, (at, mask): (u64, u64)) {
        if self.ring.back().is_some_and(|&(last, _, _)| last >= id) {
            return; // out of order: never happens, and then its answer is not written
        }
        if self.ring.len() >= MAX_TRACKED {
            self.ring.pop_front();
        }
        self.ring.push_back((id, at, mask));
    }

    fn find(&self, id: u64) -> Option<usize> {
        self.ring.binary_search_by_key(&id, |&(id, _, _)| id).ok()
    }

    fn get(&self, id: u64) -> Option<(u64, u64)> {
        let (_, at, mask) = self.ring[self.find(id)?];
        (mask != 0).then_some((at, mask))
    }

    /// The entry, forgotten (a captured request has one response).
    fn take(&mut self, id: u64) -> Option<(u64, u64)> {
        let index = self.find(id)?;
        let entry = &mut self.ring[index];
        let mask = std::mem::take(&mut entry.2);
        (mask != 0).then_some((entry.1, mask))
    }
}
pub use crate::outputs::record::TRACKED_BODY;

/// What happens to each captured request. Lives on the capture thread.
pub struct Flow {
    stages: Stages,
    sinks: Vec<Sink>,
    /// `--input-raw-track-response`, and record files: requests written to the sinks whose
    /// responses may come.
    tracked: Option<Tracked>,
    on_output_error: OnOutputError,
    failure: Option<OutputError>,
    replay: Option<ReplayRoute>,
    shutdown: Shutdown,
    /// `-prettify-http`: passed requests made plain before any output sees them.
    prettify: bool,
}

impl Flow {
    /// The flow for `config`, counting into `flow_stats`, writing to `sinks` (from
    /// [`open_outputs`]) and, in the daemon, replaying through `replay`.
    pub fn new(
        config: &Config,
        flow_stats: Arc<FlowStats>,
        sinks: Vec<Sink>,
        on_output_error: OnOutputError,
        replay: Option<ReplayRoute>,
        shutdown: Shutdown,
    ) -> Flow {
        Flow {
            stages: Stages::new(
                config.filter.clone(),
                config.rewrite.clone(),
                config
                    .header_limiters
                    .iter()
                    .chain(&config.param_limiters)
                    .cloned()
                    .collect(),
                flow_stats,
            ),
            prettify: config.prettify,
            sinks: sinks
                .into_iter()
                .enumerate()
                .map(|(slot, sink)| Sink {
                    slot: slot.min(63) as u8,
                    ..sink
                })
                .collect(),
            tracked: (config.track_response || config.records.is_some()).then(Tracked::default),
            on_output_error,
            failure: None,
            replay,
            shutdown,
        }
    }

    /// Production's response: written (GoReplay's type 2) to each output that took its
    /// request (`--input-raw-track-response`); otherwise ignored.
    pub fn response(&mut self, response: &Response) {
        if self.failure.is_some() {
            return;
        }
        let Some(tracked) = &mut self.tracked else {
            return;
        };
        let Some((at, mask)) = response.request_id.and_then(|id| tracked.take(id)) else {
            return;
        };
        let failure = each_sink(&mut self.sinks, self.on_output_error, |sink| {
            (mask & (1 << sink.slot) != 0).then(|| sink.output.emit_response(at, response))
        });
        if let Some(e) = failure {
            self.fail(e);
        }
    }

    /// A response record from a record file (type 2 or 3): written as it is to each output
    /// that took its request (`request_id`, the flow's id for it).
    pub fn record(&mut self, request_id: Option<u64>, record: &Record) {
        if self.failure.is_some() {
            return;
        }
        // Production's answer and staging's may both follow one request: look, keep.
        let Some((_, mask)) = self
            .tracked
            .as_ref()
            .and_then(|t| request_id.and_then(|id| t.get(id)))
        else {
            return;
        };
        let failure = each_sink(&mut self.sinks, self.on_output_error, |sink| {
            (mask & (1 << sink.slot) != 0).then(|| sink.output.emit_record(record))
        });
        if let Some(e) = failure {
            self.fail(e);
        }
    }

    /// Records an output's failure ([`OnOutputError::StopRun`]) and stops the run.
    fn fail(&mut self, e: OutputError) {
        self.failure = Some(e);
        self.shutdown.trigger("an output failed");
    }

    /// Runs one captured request through the stages and hands it to every output.
    pub fn request(&mut self, mut request: Request) {
        if self.failure.is_some() {
            return;
        }
        let verdict = self.stages.pass(&mut request);
        if let Some(replay) = &self.replay {
            replay.stats.count(Event::Seen);
            match verdict {
                Verdict::Pass => {}
                Verdict::Filtered(reason) => replay.stats.filtered(reason),
                Verdict::SampledOut => replay.stats.count(Event::SampledOut),
            }
        }
        if !verdict.passed() {
            return;
        }
        if self.prettify {
            prettify(&mut request);
        }
        if !self.sinks.is_empty() {
            self.write_to_sinks(&request);
        }
        if let Some(replay) = &mut self.replay {
            replay.send(request, self.stages.stats());
        }
    }

    fn write_to_sinks(&mut self, request: &Request) {
        let flow_stats = self.stages.stats();
        let mut took = 0u64;
        let failure = each_sink(&mut self.sinks, self.on_output_error, |sink| {
            if sink.limiter.as_mut().is_some_and(|l| !l.allow(request)) {
                flow_stats.count_sampled_out();
                return None;
            }
            let written = sink.output.emit(request);
            if written.is_ok() {
                took |= 1 << sink.slot;
            }
            Some(written)
        });
        if let Some(e) = failure {
            self.fail(e);
        }
        if let Some(tracked) = &mut self.tracked {
            if took != 0 {
                tracked.insert(request.id, (request.captured_at_ns, took));
            }
        }
    }

    /// Flushes every output once capture is over. With [`OnOutputError::StopRun`], the
    /// first failure (while running or now) is the result; otherwise failures are logged.
    pub fn finish(&mut self) -> Result<(), OutputError> {
        let mut result = self.failure.take().map_or(Ok(()), Err);
        for sink in &mut self.sinks {
            match sink.output.finish() {
                Ok(()) => {}
                Err(e) if self.on_output_error == OnOutputError::DropOutput => {
                    tracing::error!("output failed at the end: {e}");
                }
                Err(e) => result = result.and(Err(e)),
            }
        }
        result
    }

    /// The counters of the stages.
    pub fn stats(&self) -> &Arc<FlowStats> {
        self.stages.stats()
    }
}

impl ReplayRoute {
    /// The route to `output`'s targets, with each target's limit and `-split-output` from
    /// `config`.
    pub fn new(
        output: ReplayOutput,
        config: &Config,
        status: Arc<DaemonStatus>,
        stats: Arc<Stats>,
    ) -> ReplayRoute {
        ReplayRoute {
            output,
            limiters: config
                .outputs
                .http
                .iter()
                .map(|t| t.limit.map(Limiter::new))
                .collect(),
            status,
            stats,
            next: config.replay.split.then_some(0),
        }
    }

    /// Queues a passed request for every target within its limit (with `-split-output`, for
    /// the next target in turn, as GoReplay: one its limit refuses is not offered to the
    /// others), unless a sync is running.
    fn send(&mut self, request: Request, flow_stats: &FlowStats) {
        if self.status.state() == DaemonState::Paused {
            self.stats.count(Event::PausedSync);
            return;
        }
        let shared = Arc::new(request);
        let targets = match &mut self.next {
            Some(next) => {
                let target = *next % self.limiters.len().max(1);
                *next = target + 1;
                target..target + 1
            }
            None => 0..self.limiters.len(),
        };
        for target in targets {
            let Some(limiter) = self.limiters.get_mut(target) else {
                continue;
            };
            if limiter.as_mut().is_some_and(|l| !l.allow(&shared)) {
                flow_stats.count_sampled_out();
                self.stats.count(Event::SampledOut);
                continue;
            }
            self.output.emit_to(target, shared.clone());
        }
    }
}

/// Runs `emit` on every sink (`None`: this one was skipped), under the run's error rule:
/// [`OnOutputError::DropOutput`] logs the failure and drops the sink,
/// [`OnOutputError::StopRun`] returns the first failure (and emits to no more sinks).
fn each_sink(
    sinks: &mut Vec<Sink>,
    on_error: OnOutputError,
    mut emit: impl FnMut(&mut Sink) -> Option<Result<(), OutputError>>,
) -> Option<OutputError> {
    let mut failure = None;
    sinks.retain_mut(|sink| {
        if failure.is_some() {
            return true;
        }
        match emit(sink) {
            None | Some(Ok(())) => true,
            Some(Err(e)) if on_error == OnOutputError::DropOutput => {
                tracing::error!("output failed, no longer written: {e}");
                false
            }
            Some(Err(e)) => {
                failure = Some(e);
                true
            }
        }
    });
    failure
}

/// Where the replay workers send staging's answers as type-3 records
/// (`--output-http-track-response`): the middleware once it runs (what it writes back goes
/// to the outputs that took the request), otherwise every output that takes them.
pub fn staging_records(
    sinks: &mut [Sink],
    middleware: Option<Arc<OnceLock<MessageSender>>>,
) -> StagingRecords {
    let writers: Vec<StagingRecords> = sinks
        .iter_mut()
        .filter_map(|sink| sink.output.staging_records())
        .collect();
    StagingRecords(Arc::new(move |record: Record| {
        if let Some(sender) = middleware.as_ref().and_then(|m| m.get()) {
            let mut message = Vec::with_capacity(record.payload.len() + 64);
            let _ = record.write_to(&mut message);
            message.truncate(message.len() - SEPARATOR.len());
            sender.send(message);
            return;
        }
        for writer in &writers {
            (writer.0)(record.clone());
        }
    }))
}

/// Opens the stdout, file and null outputs `config` names (the daemon's too, before it
/// gives up its capabilities).
pub fn open_outputs(config: &Config) -> Result<Vec<Sink>, OutputError> {
    let mut sinks = Vec::new();
    if config.outputs.stdout {
        sinks.push(Sink {
            output: Box::new(StdoutOutput::new()),
            limiter: None,
            slot: 0,
        });
    }
    if let Some(file) = &config.outputs.file {
        sinks.push(Sink {
            output: Box::new(
                FileOutput::create(&file.path, &config.outputs.file_options)?
                    // A capture file: nothing live to lose, the file written must be whole.
                    .wait_for_room(matches!(config.capture.input, Input::File { .. })),
            ),
            limiter: file.limit.map(Limiter::new),
            slot: 0,
        });
    }
    if config.outputs.null {
        sinks.push(Sink {
            output: Box::new(NullOutput::default()),
            limiter: None,
            slot: 0,
        });
    }
    Ok(sinks)
}

/// The one-shot run: capture on the calling thread into the stdout, file and null outputs,
/// with no queue and no copy (which is what lets `-output-null` measure capture alone). A
/// capture file is read to its end and the run returns once every request is written and
/// flushed; a live capture runs until SIGINT, SIGTERM or `-exit-after`. (With a live
/// capture, a stdout that is not read slows capture down and the kernel's drops are
/// counted; the daemon's replay never does this.)
pub fn run(config: &Config) -> Result<Summary, FlowError> {
    let sinks = open_outputs(config)?;
    let file_stats = sinks.iter().find_map(Sink::file_stats);
    let shutdown = stop_switch(config)?;
    let flow_stats = Arc::new(FlowStats::default());
    if config.stats {
        spawn_stats_logger(Arc::clone(&flow_stats));
    }
    let flow = Flow::new(
        config,
        Arc::clone(&flow_stats),
        sinks,
        OnOutputError::StopRun,
        None,
        shutdown.clone(),
    );
    let input = open_input(config)?;
    let responses = config.track_response.then(tracked_responses);
    let (mut flow, captured) = feed(
        input,
        config,
        responses.as_ref(),
        &shutdown.capture_flag(),
        &Arc::new(CaptureStats::default()),
        flow,
        Hooks::default(),
    );
    let finished = flow.finish();
    let summary = Summary::of(&flow_stats).with_file(file_stats.as_deref());
    // (The file output's drops are also logged by its writer thread, stats or not.)
    if config.stats {
        tracing::info!("{summary}");
    } else if config.records.is_some() && captured.is_ok() {
        // A replay of record files ends with what it did, as GoReplay's does.
        eprintln!("replayer: input-file done: {summary}");
    }
    match captured
        .map_err(FlowError::from)
        .and(finished.map_err(FlowError::from))
    {
        Ok(()) => Ok(summary),
        // `replayer ... -output-stdout | head`: the reader is done, so are we.
        Err(FlowError::Output(OutputError::Io(e)))
            if e.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Ok(summary)
        }
        Err(e) => Err(e),
    }
}

/// The one stop switch of a run, pulled by SIGTERM, SIGINT or `-exit-after`.
pub fn stop_switch(config: &Config) -> Result<Shutdown, FlowError> {
    let shutdown = Shutdown::new();
    shutdown
        .stop_on_signals(config.exit_after)
        .map_err(|source| FlowError::Io {
            what: "installing signal handlers",
            source,
        })?;
    Ok(shutdown)
}

fn spawn_stats_logger(flow: Arc<FlowStats>) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(60));
        tracing::info!("{}", Summary::of(&flow));
    });
}
