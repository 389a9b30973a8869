//! Where requests go after `filter` → `rewrite` → `limit`: stdout and file (GoReplay's
//! record format), null, and the HTTP replay to staging (in `replay`).
//!
//! CONTRACT: every output implements [`Output`]. `emit` must never block capture: outputs that
//! talk to the network or the disk push into a bounded queue and count what does not fit
//! (the file output's thread is `file_writer`; the format is [`record`](super::record)).

use super::file_name::{expand, needs, Needs, RecordKey};
use super::file_writer::{Disk, Message, SystemDisk, Writer};
use super::record::{write_record, write_response_record};
use crate::outputs::replay::StagingRecords;
use crate::records::Record;
use crate::request::Request;
use crate::response::Response;
use replayer_status::schema::FileOutputCounters;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// A destination for requests that passed the stages. The flow calls it from the capture
/// thread, one request at a time, so an implementation must not wait (see CONTRACT above).
pub trait Output: Send {
    /// Hands one request to the output.
    fn emit(&mut self, request: &Request) -> Result<(), OutputError>;
    /// Called once at the end (file input done, or shutdown): flush buffers, drain queues.
    fn finish(&mut self) -> Result<(), OutputError>;
    /// Production's response to a request this output took (`--input-raw-track-response`);
    /// `request_captured_at_ns` is the request's, for its record id. Ignored by default.
    fn emit_response(
        &mut self,
        _request_captured_at_ns: u64,
        _response: &Response,
    ) -> Result<(), OutputError> {
        Ok(())
    }
    /// A response record read from a record file (`--input-file`), or returned by a
    /// middleware, passed on as it is, after its request. Ignored by default.
    fn emit_record(&mut self, _record: &Record) -> Result<(), OutputError> {
        Ok(())
    }
    /// Where the replay workers write staging's answers (type-3 records,
    /// `--output-http-track-response`) from their own threads, if this output takes them.
    fn staging_records(&mut self) -> Option<StagingRecords> {
        None
    }
    /// The counters of a file output, for the run's summary; `None` for the others.
    fn file_stats(&self) -> Option<Arc<FileOutputStats>> {
        None
    }
}

/// Why an output stopped taking requests; the flow stops with it.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A bare write or flush error, as on stdout (a broken pipe there ends the run cleanly:
    /// the reader, say `head`, is done).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// An error already worded for the operator, naming the flag and path involved (an
    /// output file that cannot be created or written).
    #[error("{0}")]
    Other(String),
}

/// Buffer size for stdout: few system calls, flushed at `finish`.
const WRITE_BUFFER: usize = 256 * 1024;

/// `-output-stdout`: GoReplay records on standard output.
pub struct StdoutOutput {
    /// Shared with the replay workers when they write staging's answers (type 3); on the
    /// capture thread the lock is never contended otherwise.
    out: Arc<Mutex<BufWriter<std::io::Stdout>>>,
}

impl StdoutOutput {
    /// Buffers records (256 KB) in front of the process's stdout; flushed at `finish`.
    pub fn new() -> StdoutOutput {
        StdoutOutput {
            out: Arc::new(Mutex::new(BufWriter::with_capacity(
                WRITE_BUFFER,
                std::io::stdout(),
            ))),
        }
    }

    fn out(&self) -> std::sync::MutexGuard<'_, BufWriter<std::io::Stdout>> {
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for StdoutOutput {
    fn default() -> Self {
        StdoutOutput::new()
    }
}

impl Output for StdoutOutput {
    fn emit(&mut self, request: &Request) -> Result<(), OutputError> {
        Ok(write_record(&mut *self.out(), request)?)
    }
    fn emit_response(&mut self, at: u64, response: &Response) -> Result<(), OutputError> {
        Ok(write_response_record(&mut *self.out(), at, response)?)
    }
    fn emit_record(&mut self, record: &Record) -> Result<(), OutputError> {
        Ok(record.write_to(&mut *self.out())?)
    }
    fn staging_records(&mut self) -> Option<StagingRecords> {
        let out = self.out.clone();
        Some(StagingRecords(Arc::new(move |record| {
            // A failing stdout stops the run through the capture thread's own writes.
            let _ = record.write_to(&mut *out.lock().unwrap_or_else(|e| e.into_inner()));
        })))
    }
    fn finish(&mut self) -> Result<(), OutputError> {
        Ok(self.out().flush()?)
    }
}

/// `-output-file PATH`: GoReplay records in a file (or files: placeholders, chunks), written
/// by a thread of its own. The capture thread only encodes a record and pushes it into a
/// bounded queue without waiting ([`RecordSender::push`]); a full queue drops the record and
/// counts it ([`FileOutputStats`]). The writer thread is `file_writer`.
pub struct FileOutput {
    sender: RecordSender,
    writer: WriterThread,
    /// [`FileOutput::wait_for_room`]: the capture thread waits for room in the queue.
    wait: bool,
}

/// The writer thread starts with the first record, not at `create`: the daemon opens its
/// outputs before giving up its capabilities, which are per thread, so a thread started
/// then would keep them.
enum WriterThread {
    NotStarted(Box<Writer>, Receiver<Message>),
    Running(std::thread::JoinHandle<Result<(), String>>),
    Finished,
}

/// What happened to the records given to one `-output-file`; shared with the flow (summary
/// line) and any other thread writing into the same file.
#[derive(Debug, Default)]
pub struct FileOutputStats {
    /// Records handed to the file (on a disk still failing at the end, the last unwritten
    /// buffer's records move to `dropped_write_error`).
    pub written: AtomicU64,
    /// Records refused because the queue to the writer thread was full (the disk was slower
    /// than the traffic), or came after the output finished.
    pub dropped_queue_full: AtomicU64,
    /// Records dropped while the file could not be written (a full disk, a removed
    /// directory), until a retry succeeds.
    pub dropped_write_error: AtomicU64,
    /// Records dropped once `-output-file-max-size-limit` was reached.
    pub dropped_over_max_size: AtomicU64,
}

impl FileOutputStats {
    /// The counters as the status document and the summary line show them.
    pub fn counters(&self) -> FileOutputCounters {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FileOutputCounters {
            written: n(&self.written),
            dropped_queue_full: n(&self.dropped_queue_full),
            dropped_write_error: n(&self.dropped_write_error),
            dropped_over_max_size: n(&self.dropped_over_max_size),
        }
    }

    /// The drops of every kind together.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full.load(Ordering::Relaxed)
            + self.dropped_write_error.load(Ordering::Relaxed)
            + self.dropped_over_max_size.load(Ordering::Relaxed)
    }
}

impl std::fmt::Display for FileOutputStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_counters(f, &self.counters())
    }
}

/// `file_written N file_dropped queue_full A write_error B over_max_size C`: the end-of-run
/// line and the summary line say it alike.
pub fn write_counters(f: &mut impl std::fmt::Write, c: &FileOutputCounters) -> std::fmt::Result {
    write!(
        f,
        "file_written {} file_dropped queue_full {} write_error {} over_max_size {}",
        c.written, c.dropped_queue_full, c.dropped_write_error, c.dropped_over_max_size
    )
}

/// A cloneable, `Send` handle on a [`FileOutput`]'s queue, for any thread that has records
/// for the same file (the replay workers' type-3 records, say).
#[derive(Clone)]
pub struct RecordSender {
    queue: SyncSender<Message>,
    stats: Arc<FileOutputStats>,
}

impl RecordSender {
    /// Queues one encoded record (meta line to separator) without waiting; `false` when the
    /// queue is full or the output finished: the record is dropped and counted.
    pub fn push(&self, record: Vec<u8>) -> bool {
        let queued = self.queue.try_send(Message::Record(record)).is_ok();
        if !queued {
            self.stats
                .dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
        }
        queued
    }

    /// The output's counters.
    pub fn stats(&self) -> &Arc<FileOutputStats> {
        &self.stats
    }
}

impl FileOutput {
    /// Opens the first file at start, so a path that cannot be created is refused before
    /// capture begins (with `%r` or `%t`, whose name waits for a record, its directory must
    /// exist); the writer thread starts with the first record.
    pub fn create(path: &Path, options: &FileOptions) -> Result<FileOutput, OutputError> {
        Self::with_disk(path, options, Box::new(SystemDisk))
    }

    pub(super) fn with_disk(
        path: &Path,
        options: &FileOptions,
        disk: Box<dyn Disk>,
    ) -> Result<FileOutput, OutputError> {
        let refuse = |shown: &Path, e: &dyn std::fmt::Display| {
            OutputError::Other(format!(
                "output-file: cannot create {}: {e}",
                shown.display()
            ))
        };
        let template = path.to_string_lossy();
        let first = match needs(&template) {
            Needs { record: true, .. } => {
                let dir = match path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir,
                    _ => Path::new("."),
                };
                match std::fs::metadata(dir) {
                    Ok(meta) if meta.is_dir() => None,
                    Ok(_) => return Err(refuse(path, &"not a directory")),
                    Err(e) => return Err(refuse(path, &e)),
                }
            }
            _ => {
                let name = expand(&template, &disk.now(), RecordKey::default());
                let current = Writer::open(&*disk, name, options, options.append)
                    .map_err(|(path, e)| refuse(&path, &e))?;
                Some(current)
            }
        };
        let stats = Arc::new(FileOutputStats::default());
        let (queue, records) = std::sync::mpsc::sync_channel(options.queue_limit.max(1));
        let writer = Writer::new(path, options.clone(), disk, Arc::clone(&stats), first);
        Ok(FileOutput {
            sender: RecordSender { queue, stats },
            writer: WriterThread::NotStarted(Box::new(writer), records),
            wait: false,
        })
    }

    /// Makes [`Output::emit`] wait for room in a full queue instead of dropping the record:
    /// for a capture file read as input, where nothing is live to lose and the file written
    /// must be complete (the disk then sets the pace). Other threads' [`RecordSender`]s
    /// never wait.
    pub fn wait_for_room(mut self, wait: bool) -> FileOutput {
        self.wait = wait;
        self
    }

    /// Starts the writer thread, once.
    fn start(&mut self) -> Result<(), OutputError> {
        if let WriterThread::NotStarted(..) = self.writer {
            let WriterThread::NotStarted(writer, records) =
                std::mem::replace(&mut self.writer, WriterThread::Finished)
            else {
                return Ok(());
            };
            let thread = std::thread::Builder::new()
                .name("replayer-file".into())
                .spawn(move || writer.run(records))
                .map_err(|e| OutputError::Other(format!("output-file: no writer thread: {e}")))?;
            self.writer = WriterThread::Running(thread);
        }
        Ok(())
    }

    /// A handle that pushes records into this output's queue, from any thread; starts the
    /// writer thread (so call it after the daemon gave up its capabilities).
    pub fn sender(&mut self) -> Result<RecordSender, OutputError> {
        self.start()?;
        Ok(self.sender.clone())
    }

    /// Written and dropped records, readable while the output runs.
    pub fn stats(&self) -> Arc<FileOutputStats> {
        Arc::clone(&self.sender.stats)
    }

    fn push_encoded(&self, capacity: usize, encode: impl FnOnce(&mut Vec<u8>)) {
        let mut record = Vec::with_capacity(capacity);
        encode(&mut record);
        if !self.wait {
            self.sender.push(record);
        } else if self.sender.queue.send(Message::Record(record)).is_err() {
            // The writer thread is gone (it panicked): counted like a full queue.
            let stats = &self.sender.stats;
            stats.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `-output-file-queue-limit`: records waiting for the writer thread; at a few kilobytes
/// each, tens of megabytes at most, and seconds of a busy site's traffic.
pub const DEFAULT_FILE_QUEUE: usize = 10_000;
/// `-output-file-flush-interval`: GoReplay's.
pub const DEFAULT_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// How `-output-file` writes: GoReplay's `-output-file-*` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    /// `-output-file-append`: add to an existing file (or last chunk) instead of truncating.
    pub append: bool,
    /// `-output-file-size-limit`: a file reaching it is closed and the next chunk
    /// (`name_1.gor`, ...) started; `None`: one file, named as given.
    pub size_limit: Option<u64>,
    /// `-output-file-max-size-limit`: record bytes written at most; beyond, records are
    /// dropped and counted.
    pub max_size: Option<u64>,
    /// `-output-file-queue-limit`: records waiting for the writer thread; when full, new
    /// ones are dropped and counted.
    pub queue_limit: usize,
    /// `-output-file-flush-interval`: buffered records reach the file at least this often.
    pub flush_interval: std::time::Duration,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            append: false,
            size_limit: None,
            max_size: None,
            queue_limit: DEFAULT_FILE_QUEUE,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
        }
    }
}

/// Room for a record's meta line, request line and headers, before its body.
const RECORD_HEAD: usize = 1024;

impl Output for FileOutput {
    fn emit(&mut self, request: &Request) -> Result<(), OutputError> {
        self.start()?;
        self.push_encoded(RECORD_HEAD + request.body.len(), |out| {
            // Writing into a Vec cannot fail.
            let _ = write_record(out, request);
        });
        Ok(())
    }
    fn emit_response(&mut self, at: u64, response: &Response) -> Result<(), OutputError> {
        self.start()?;
        let size = RECORD_HEAD + response.head.len() + response.raw_body.len();
        self.push_encoded(size, |out| {
            let _ = write_response_record(out, at, response);
        });
        Ok(())
    }
    fn emit_record(&mut self, record: &Record) -> Result<(), OutputError> {
        self.start()?;
        self.push_encoded(RECORD_HEAD + record.payload.len(), |out| {
            let _ = record.write_to(out);
        });
        Ok(())
    }
    fn staging_records(&mut self) -> Option<StagingRecords> {
        let sender = self.sender().ok()?;
        Some(StagingRecords(Arc::new(move |record| {
            let mut encoded = Vec::with_capacity(RECORD_HEAD + record.payload.len());
            let _ = record.write_to(&mut encoded);
            sender.push(encoded);
        })))
    }
    /// Drains the queue (waiting for room to say so), writes and syncs what is left, and
    /// ends the writer thread; an error only when the file could never be written.
    fn finish(&mut self) -> Result<(), OutputError> {
        self.start()?;
        let WriterThread::Running(writer) =
            std::mem::replace(&mut self.writer, WriterThread::Finished)
        else {
            return Ok(());
        };
        // Blocking is fine here: capture is over. A writer gone already ended on its own.
        let _ = self.sender.queue.send(Message::Finish);
        match writer.join() {
            // A failure while running (exit 1), not a setting refused at start.
            Ok(result) => result.map_err(|e| OutputError::Io(std::io::Error::other(e))),
            Err(_) => Err(OutputError::Other(
                "output-file: the writer thread failed".into(),
            )),
        }
    }
    fn file_stats(&self) -> Option<Arc<FileOutputStats>> {
        Some(self.stats())
    }
}

impl Drop for FileOutput {
    fn drop(&mut self) {
        // An output dropped without `finish` (a run that failed elsewhere) still leaves a
        // complete file.
        let _ = Output::finish(self);
    }
}

/// `-output-null`: discards every request (for measuring capture alone).
#[derive(Debug, Default)]
pub struct NullOutput {
    /// Requests discarded so far.
    pub emitted: u64,
}

impl Output for NullOutput {
    fn emit(&mut self, _request: &Request) -> Result<(), OutputError> {
        self.emitted += 1;
        Ok(())
    }
    fn finish(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}
