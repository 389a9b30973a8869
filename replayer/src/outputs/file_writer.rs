//! The writer thread of `-output-file`: everything that touches the disk, so that a slow or
//! full disk never holds up capture. It takes encoded records from the bounded queue
//! [`FileOutput`](super::FileOutput) pushes into, and does the naming (placeholders, chunks),
//! the buffering, gzip, the periodic flush, the size limits and the retries after a write
//! error.
//!
//! Bytes reach the file only through [`Current::write_pending`], which knows exactly how many
//! were written: after a failed write (a full disk) the file holds a prefix of the stream
//! and the rest waits in `pending` for the retry, which continues it exactly there (gzip
//! compresses into memory, so its stream is never broken by the disk). Records that come
//! meanwhile are dropped and counted, never buffered without bound.

use super::file::FileOptions;
use super::file::FileOutputStats;
use super::file_name::{chunk_name, expand, last_chunk, needs, Needs, RecordKey, Stamp};
use flate2::write::GzEncoder;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the queue carries to the writer thread.
pub(super) enum Message {
    /// One encoded record, separator included.
    Record(Vec<u8>),
    /// Write what is left, close, sync, and end the thread.
    Finish,
}

/// An open output file, as the writer sees it.
pub(super) trait DiskFile: Write + Send {
    /// Makes the written bytes durable (`fsync`).
    fn sync(&mut self) -> io::Result<()>;
}

impl DiskFile for std::fs::File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

/// Where the writer opens files and reads the clock: the system, or a test's stand-in.
pub(super) trait Disk: Send {
    /// Opens `path` for writing, created if missing; appended to or truncated.
    fn open(&self, path: &Path, append: bool) -> io::Result<Box<dyn DiskFile>>;
    /// The time the placeholders spell.
    fn now(&self) -> Stamp;
}

/// The real file system and local clock.
pub(super) struct SystemDisk;

impl Disk for SystemDisk {
    fn open(&self, path: &Path, append: bool) -> io::Result<Box<dyn DiskFile>> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .append(append)
            .truncate(!append)
            .open(path)?;
        Ok(Box::new(file))
    }
    fn now(&self) -> Stamp {
        Stamp::now_local()
    }
}

/// Bytes gathered before a write to the file: few system calls.
const WRITE_BUFFER: usize = 256 * 1024;
/// The most record bytes a size-limited gzip chunk takes between sync flushes (a quarter of
/// the limit when smaller): small enough for the limit to hold closely, large enough to
/// cost the compression nothing that shows.
const GZ_FLUSH_MAX: u64 = 64 * 1024;
/// Names of `%r`/`%t` files remembered for reopening: responses follow their requests
/// closely.
const RECENT_NAMES: usize = 4096;
/// How often a file that could not be written is tried again.
pub(super) const RETRY_EVERY: Duration = Duration::from_secs(1);

/// The file being written.
pub(super) struct Current {
    /// The template expanded, before any chunk suffix: a new one means a new file.
    name: String,
    /// The file's path (the chunk's, with a size limit).
    path: PathBuf,
    /// Its chunk index, with a size limit.
    chunk: Option<u64>,
    file: Box<dyn DiskFile>,
    /// Compresses into memory, so a failed file write never leaves the stream half-fed.
    gz: Option<GzEncoder<Vec<u8>>>,
    /// Bytes (compressed, for gzip) not yet in the file.
    pending: Vec<u8>,
    /// Bytes of this file, written or pending: what the size limit is checked against.
    bytes: u64,
    /// Records since the last point where everything given was in the file.
    in_flight: u64,
    /// Records added since the last flush.
    dirty: bool,
    /// The size limit was reached: the next record starts the next chunk.
    full: bool,
    /// Closed (trailer written, synced): nothing more goes in.
    closed: bool,
    /// gzip with a size limit: record bytes after which the compressor is made to give out
    /// what it holds (a sync flush), so the size checked lags the input by that at most.
    gz_flush_every: Option<u64>,
    /// Record bytes given to the compressor since it last gave out everything.
    gz_held: u64,
}

impl Current {
    /// Wraps an opened file; gzip when its name ends in `.gz`.
    pub(super) fn new(
        name: String,
        path: PathBuf,
        chunk: Option<u64>,
        file: Box<dyn DiskFile>,
        size_limit: Option<u64>,
    ) -> Current {
        let gz = path
            .to_string_lossy()
            .ends_with(".gz")
            .then(|| GzEncoder::new(Vec::new(), flate2::Compression::default()));
        Current {
            name,
            path,
            chunk,
            file,
            gz,
            pending: Vec::new(),
            bytes: 0,
            in_flight: 0,
            dirty: false,
            full: false,
            closed: false,
            gz_flush_every: size_limit.map(|limit| (limit / 4).clamp(1, GZ_FLUSH_MAX)),
            gz_held: 0,
        }
    }

    fn add(&mut self, record: &[u8]) {
        match &mut self.gz {
            Some(gz) => {
                // Writing into a Vec cannot fail.
                let _ = gz.write_all(record);
                self.gz_held += record.len() as u64;
                if self
                    .gz_flush_every
                    .is_some_and(|every| self.gz_held >= every)
                {
                    let _ = gz.flush();
                    self.gz_held = 0;
                }
                self.take_compressed();
            }
            None => {
                self.pending.extend_from_slice(record);
                self.bytes += record.len() as u64;
            }
        }
        self.in_flight += 1;
        self.dirty = true;
    }

    /// Moves what the encoder produced into `pending`.
    fn take_compressed(&mut self) {
        if let Some(gz) = &mut self.gz {
            let out = std::mem::take(gz.get_mut());
            self.bytes += out.len() as u64;
            self.pending.extend_from_slice(&out);
        }
    }

    /// Writes `pending` out; on an error, what was written is gone from it, the rest stays.
    fn write_pending(&mut self, wrote_any: &mut bool) -> io::Result<()> {
        let mut done = 0;
        let result = loop {
            if done == self.pending.len() {
                break Ok(());
            }
            match self.file.write(&self.pending[done..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    done += n;
                    *wrote_any = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.pending.drain(..done);
        result
    }

    /// Everything given so far into the file (gzip: a sync flush, so a reader gets every
    /// record written so far).
    fn flush(&mut self, wrote_any: &mut bool) -> io::Result<()> {
        if let Some(gz) = &mut self.gz {
            if self.dirty {
                let _ = gz.flush();
                self.gz_held = 0;
            }
            self.take_compressed();
        }
        self.write_pending(wrote_any)?;
        self.file.flush()?;
        self.in_flight = 0;
        self.dirty = false;
        Ok(())
    }

    /// Ends the file: the gzip trailer, the last bytes, then `fsync` if `sync` (a complete
    /// chunk or hour, the end; not each per-record file of `%r`). Can be called again after
    /// an error.
    fn close(&mut self, wrote_any: &mut bool, sync: bool) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        if let Some(gz) = self.gz.take() {
            let out = gz.finish().unwrap_or_default();
            self.bytes += out.len() as u64;
            self.pending.extend_from_slice(&out);
        }
        self.flush(wrote_any)?;
        if let Some(Err(e)) = sync.then(|| self.file.sync()) {
            // A pipe or a device cannot be synced; the bytes are written all the same.
            tracing::debug!("output-file: syncing {}: {e}", self.path.display());
        }
        self.closed = true;
        Ok(())
    }
}

/// Since when writes fail.
struct Failing {
    /// `dropped_write_error` when it began, for the line logged on resuming.
    dropped_before: u64,
    next_retry: Instant,
}

/// The writer thread's state.
pub(super) struct Writer {
    template: String,
    needs: Needs,
    options: FileOptions,
    disk: Box<dyn Disk>,
    stats: Arc<FileOutputStats>,
    current: Option<Current>,
    /// Record bytes given to the file so far, for `-output-file-max-size-limit`.
    total: u64,
    over_max: bool,
    failing: Option<Failing>,
    wrote_any: bool,
    last_error: Option<String>,
    /// The path a failed open named, while no file is open.
    last_path: Option<PathBuf>,
    /// With `%r` or `%t`, the last names opened: a name met again (a response after other
    /// requests) is added to, not truncated.
    recent: std::collections::VecDeque<String>,
}

impl Writer {
    /// A writer for `template`, starting with `current` when the caller opened the first
    /// file already (to refuse a bad path at start).
    pub(super) fn new(
        template: &Path,
        options: FileOptions,
        disk: Box<dyn Disk>,
        stats: Arc<FileOutputStats>,
        current: Option<Current>,
    ) -> Writer {
        let template = template.to_string_lossy().into_owned();
        Writer {
            needs: needs(&template),
            template,
            options,
            disk,
            stats,
            current,
            total: 0,
            over_max: false,
            failing: None,
            wrote_any: false,
            last_error: None,
            last_path: None,
            recent: std::collections::VecDeque::new(),
        }
    }

    /// Opens the file for a name: its first chunk after those already on disk with a size
    /// limit (the last one itself with `-output-file-append`), or the name itself. The
    /// error names the path that could not be opened.
    pub(super) fn open(
        disk: &dyn Disk,
        name: String,
        options: &FileOptions,
        append: bool,
    ) -> Result<Current, (PathBuf, io::Error)> {
        let chunk = options
            .size_limit
            .map(|_| match last_chunk(Path::new(&name)) {
                Some(last) if append => last,
                Some(last) => last + 1,
                None => 0,
            });
        Self::open_chunk(disk, name, chunk, options, append)
    }

    fn open_chunk(
        disk: &dyn Disk,
        name: String,
        chunk: Option<u64>,
        options: &FileOptions,
        append: bool,
    ) -> Result<Current, (PathBuf, io::Error)> {
        let path = match chunk {
            Some(index) => chunk_name(Path::new(&name), index),
            None => PathBuf::from(&name),
        };
        match disk.open(&path, append) {
            Ok(file) => Ok(Current::new(name, path, chunk, file, options.size_limit)),
            Err(e) => Err((path, e)),
        }
    }

    /// The template expanded now, for `record`.
    fn name_for(&self, record: &[u8]) -> String {
        if self.needs.fixed() {
            return self.template.clone();
        }
        let stamp = if self.needs.clock {
            self.disk.now()
        } else {
            Stamp::default()
        };
        expand(&self.template, &stamp, RecordKey::of(record))
    }

    /// The thread's loop: records as they come, a flush every flush interval.
    pub(super) fn run(mut self, queue: Receiver<Message>) -> Result<(), String> {
        let interval = self.options.flush_interval;
        let mut next_tick = Instant::now() + interval;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match queue.recv_timeout(wait) {
                Ok(Message::Record(record)) => self.record(&record),
                Ok(Message::Finish) | Err(RecvTimeoutError::Disconnected) => return self.finish(),
                Err(RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() >= next_tick {
                self.tick();
                next_tick = Instant::now() + interval;
            }
        }
    }

    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// One record: dropped past the max size or while failing, else into its file.
    pub(super) fn record(&mut self, record: &[u8]) {
        let len = record.len() as u64;
        if let Some(max) = self.options.max_size {
            if !self.over_max && self.total + len > max {
                self.over_max = true;
                tracing::warn!(
                    "output-file: {} reached -output-file-max-size-limit ({max} bytes): further records are dropped (counted as over_max_size)",
                    self.template
                );
            }
        }
        if self.over_max {
            return Self::count(&self.stats.dropped_over_max_size);
        }
        if self
            .failing
            .as_ref()
            .is_some_and(|f| Instant::now() < f.next_retry)
        {
            return Self::count(&self.stats.dropped_write_error);
        }
        let name = self.name_for(record);
        if let Err(e) = self.ready(name) {
            self.fail(e);
            return Self::count(&self.stats.dropped_write_error);
        }
        let Some(current) = &mut self.current else {
            return;
        };
        current.add(record);
        self.total += len;
        Self::count(&self.stats.written);
        let result = if current.pending.len() >= WRITE_BUFFER {
            current.write_pending(&mut self.wrote_any)
        } else {
            Ok(())
        };
        if self
            .options
            .size_limit
            .is_some_and(|limit| current.bytes >= limit)
        {
            current.full = true;
        }
        match result.and_then(|()| self.close_if_full()) {
            Ok(()) => self.resumed(),
            Err(e) => self.fail(e),
        }
    }

    /// Makes `current` the file for `name`: the one open, once its leftover bytes are out,
    /// or a new one (the previous closed first; the next chunk when it was full).
    fn ready(&mut self, name: String) -> io::Result<()> {
        if let Some(current) = &mut self.current {
            if self.failing.is_some() {
                // The retry: what a failed write left comes first.
                current.write_pending(&mut self.wrote_any)?;
            }
            if current.name == name && !current.full {
                return Ok(());
            }
            // On an error the file stays current, to be closed at the retry.
            let sync = current.full || !self.needs.record;
            current.close(&mut self.wrote_any, sync)?;
        }
        let append = self.options.append;
        let next = match self.current.take() {
            Some(full) if full.name == name => {
                let chunk = full.chunk.map(|c| c + 1);
                Self::open_chunk(&*self.disk, name, chunk, &self.options, append)
            }
            _ if self.needs.record => {
                // A response after other requests: its request's file again, added to.
                let again = self.recent.contains(&name);
                if !again {
                    if self.recent.len() == RECENT_NAMES {
                        self.recent.pop_front();
                    }
                    self.recent.push_back(name.clone());
                }
                Self::open(&*self.disk, name, &self.options, append || again)
            }
            _ => Self::open(&*self.disk, name, &self.options, append),
        };
        match next {
            Ok(next) => {
                self.current = Some(next);
                Ok(())
            }
            Err((path, e)) => {
                // For the warning: the path that could not be opened.
                self.last_path = Some(path);
                Err(e)
            }
        }
    }

    /// A chunk that reached the size limit is closed at once, so it is complete on disk
    /// (gzip trailer included) while the next one waits for a record.
    fn close_if_full(&mut self) -> io::Result<()> {
        match &mut self.current {
            Some(current) if current.full => current.close(&mut self.wrote_any, true),
            _ => Ok(()),
        }
    }

    /// Every flush interval: retry a failing file, flush the open one, and close it when a
    /// time placeholder moved on (the new file opens with the next record).
    fn tick(&mut self) {
        if let Some(failing) = &self.failing {
            if Instant::now() < failing.next_retry {
                return;
            }
        }
        let Some(current) = &mut self.current else {
            return;
        };
        let flushed = if current.dirty || !current.pending.is_empty() {
            current.flush(&mut self.wrote_any)
        } else {
            Ok(())
        };
        match flushed.and_then(|()| self.close_if_full()) {
            Ok(()) => self.resumed(),
            Err(e) => return self.fail(e),
        }
        if self.needs.clock && !self.needs.record {
            let now = expand(&self.template, &self.disk.now(), RecordKey::default());
            if self.current.as_ref().is_some_and(|c| c.name != now) {
                self.close_current();
            }
        }
    }

    /// Closes the open file; on an error it is kept, to be tried again.
    fn close_current(&mut self) {
        if let Some(mut current) = self.current.take() {
            match current.close(&mut self.wrote_any, true) {
                Ok(()) => self.resumed(),
                Err(e) => {
                    self.current = Some(current);
                    self.fail(e);
                }
            }
        }
    }

    fn path(&self) -> String {
        match (&self.current, &self.last_path) {
            (Some(current), _) => current.path.display().to_string(),
            (None, Some(path)) => path.display().to_string(),
            (None, None) => self.template.clone(),
        }
    }

    /// A write failed: one warning when it starts, then a retry every [`RETRY_EVERY`].
    fn fail(&mut self, e: io::Error) {
        let path = self.path();
        let next_retry = Instant::now() + RETRY_EVERY;
        match &mut self.failing {
            Some(failing) => failing.next_retry = next_retry,
            None => {
                tracing::warn!(
                    "output-file: cannot write {path}: {e}; records are dropped (counted as write_error) until it can, tried every {}s",
                    RETRY_EVERY.as_secs()
                );
                self.failing = Some(Failing {
                    dropped_before: self.stats.dropped_write_error.load(Ordering::Relaxed),
                    next_retry,
                });
            }
        }
        self.last_error = Some(format!("{path}: {e}"));
    }

    /// A write succeeded: if writes were failing, one line says they no longer are.
    fn resumed(&mut self) {
        if let Some(failing) = self.failing.take() {
            let dropped =
                self.stats.dropped_write_error.load(Ordering::Relaxed) - failing.dropped_before;
            tracing::warn!(
                "output-file: writing {} again; {dropped} records were dropped meanwhile",
                self.path()
            );
        }
    }

    /// The end: the last bytes written (one last try if writes were failing), the file
    /// closed and synced. An error only when nothing could ever be written.
    pub(super) fn finish(mut self) -> Result<(), String> {
        self.close_current();
        if let Some(current) = self.current.take() {
            // Still failing: what it held never reached the file.
            let lost = current.in_flight;
            self.stats.written.fetch_sub(lost, Ordering::Relaxed);
            self.stats
                .dropped_write_error
                .fetch_add(lost, Ordering::Relaxed);
        }
        if self.stats.dropped() > 0 {
            tracing::warn!("output-file: {}: {}", self.template, self.stats);
        }
        match self.last_error {
            Some(error) if !self.wrote_any => Err(format!("output-file: writing {error}")),
            _ => Ok(()),
        }
    }
}
