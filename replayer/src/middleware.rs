//! `--middleware "COMMAND"`: an external program that sees every message and may change or
//! drop it, speaking GoReplay's protocol, so existing middleware programs work unchanged.
//!
//! Each message (a type-1 request, a type-2 production response, a type-3 staging response)
//! is its record header line, a newline and the payload, hex-encoded on one line to the
//! program's stdin. Each line the program writes to its stdout is decoded the same way and
//! replaces a message; a message it does not write back is dropped. Its stderr is the
//! replayer's (the journal).
//!
//! ```text
//! capture thread ──send (never waits)──▶ queue ──writer──▶ program ──reader──▶ [`Returned`]
//! ```
//!
//! - **Never blocks capture**: [`MessageSender::send`] is a non-blocking push into a bounded
//!   queue; what does not fit is dropped and counted. A program that stops reading fills
//!   its pipe and then the queue; capture goes on.
//! - **Restarted**: a program that exits (or cannot be started) is started again after a
//!   pause that doubles from 100 ms to 5 s (back to 100 ms once one has run for a minute),
//!   with one log line each time; messages meanwhile are dropped and counted.
//! - **Stopped once**: [`Middleware::finish`] lets the queue drain, closes the program's
//!   stdin (programs end at end of input), reads what it still writes back, and kills its
//!   process group if it has not ended within the time given.

use crate::records::reader::parse_header;
use crate::records::Record;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Messages waiting for the program at most (GoReplay's channel held 1000).
pub const DEFAULT_QUEUE: usize = 10_000;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A program that ran this long restarts after the shortest pause again.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// What comes back from the program: each decoded message, on the reader thread.
pub trait Returned: Send + 'static {
    /// One message the program wrote back.
    fn returned(&mut self, record: Record);
}

/// What the middleware did; relaxed atomics, read at any moment.
#[derive(Debug, Default)]
pub struct MiddlewareStats {
    /// Messages taken into the queue.
    pub accepted: AtomicU64,
    /// Messages written to the program.
    pub sent: AtomicU64,
    /// Messages the program wrote back (and were decoded).
    pub returned: AtomicU64,
    /// Dropped because the queue was full (a slow or stuck program).
    pub dropped_queue_full: AtomicU64,
    /// Dropped because the program was not running (between a crash and its restart).
    pub dropped_not_running: AtomicU64,
    /// Lines from the program that are not a hex-encoded record; logged and skipped.
    pub invalid: AtomicU64,
    /// Times the program was started again after it ended.
    pub restarts: AtomicU64,
}

/// Where messages are sent to the program from; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct MessageSender {
    queue: SyncSender<Vec<u8>>,
    stats: Arc<MiddlewareStats>,
}

impl MessageSender {
    /// Queues one message: a record's header line, `\n`, its payload (no separator).
    /// Never waits: `false` when the queue is full (the message is dropped and counted).
    pub fn send(&self, message: Vec<u8>) -> bool {
        match self.queue.try_send(message) {
            Ok(()) => {
                self.stats.accepted.fetch_add(1, Relaxed);
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.dropped_queue_full.fetch_add(1, Relaxed);
                false
            }
        }
    }
}

/// A running middleware program, supervised.
pub struct Middleware<R: Returned> {
    sender: MessageSender,
    closing: Arc<AtomicBool>,
    /// The running program's process group, to kill it on the way out (0: none).
    group: Arc<AtomicI32>,
    supervisor: JoinHandle<()>,
    returned: Arc<Mutex<R>>,
    stats: Arc<MiddlewareStats>,
}

impl<R: Returned> Middleware<R> {
    /// Starts `command` (run by `sh -c`, as GoReplay runs it) with a queue of `queue`
    /// messages; what it writes back goes to `returned`. When not even `sh` can be started
    /// (no process or thread to be had), the error comes back with `returned`.
    pub fn start(
        command: &str,
        queue: usize,
        returned: R,
    ) -> Result<Middleware<R>, (std::io::Error, R)> {
        let stats = Arc::new(MiddlewareStats::default());
        let returned = Arc::new(Mutex::new(returned));
        let (tx, rx) = std::sync::mpsc::sync_channel(queue.max(1));
        let program = match Program::spawn(command, &returned, &stats) {
            Ok(program) => program,
            Err(e) => return Err((e, unwrap_shared(returned))),
        };
        let closing = Arc::new(AtomicBool::new(false));
        let group = Arc::new(AtomicI32::new(program.group()));
        let supervisor = {
            let supervision = Supervision {
                command: command.to_string(),
                rx,
                returned: returned.clone(),
                stats: stats.clone(),
                closing: closing.clone(),
                group: group.clone(),
            };
            let spawned = std::thread::Builder::new()
                .name("replayer-middleware".into())
                .spawn(move || supervision.run(program));
            match spawned {
                Ok(supervisor) => supervisor,
                Err(e) => return Err((e, unwrap_shared(returned))),
            }
        };
        Ok(Middleware {
            sender: MessageSender {
                queue: tx,
                stats: stats.clone(),
            },
            closing,
            group,
            supervisor,
            returned,
            stats,
        })
    }

    /// Where messages go in.
    pub fn sender(&self) -> MessageSender {
        self.sender.clone()
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<MiddlewareStats> {
        &self.stats
    }

    /// Waits (at most `limit`) until every message queued so far was written to the program
    /// and it has written nothing back for `quiet`: its answers to the input are in. A
    /// program may drop messages, so quiet is the only sign there is.
    pub fn settle(&self, quiet: Duration, limit: Duration) {
        let deadline = Instant::now() + limit;
        let stats = &self.stats;
        let progress = || {
            let written = stats.sent.load(Relaxed) + stats.dropped_not_running.load(Relaxed);
            (
                stats.accepted.load(Relaxed) == written,
                written + stats.returned.load(Relaxed),
            )
        };
        let mut last = progress();
        let mut since = Instant::now();
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            let now = progress();
            if now != last {
                (last, since) = (now, Instant::now());
            } else if now.0 && since.elapsed() >= quiet {
                return;
            }
        }
    }

    /// Drains the queue into the program, closes its stdin and takes what it writes back
    /// until it ends; after `limit`, its process group is killed. Returns what received the
    /// messages. Every [`MessageSender`] should be dropped first (later sends are dropped).
    pub fn finish(self, limit: Duration) -> R {
        self.closing.store(true, Relaxed);
        drop(self.sender);
        let deadline = Instant::now() + limit;
        while !self.supervisor.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !self.supervisor.is_finished() {
            let group = self.group.load(Relaxed);
            tracing::warn!("middleware still running {limit:?} after its input closed: killed");
            if group > 0 {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(group),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let _ = self.supervisor.join();
        unwrap_shared(self.returned)
    }
}

/// The receiver back from its sharing, once no reader thread holds it: each program's reader
/// is joined before the supervisor ends (or was never started).
fn unwrap_shared<R>(shared: Arc<Mutex<R>>) -> R {
    let mut shared = shared;
    loop {
        match Arc::try_unwrap(shared) {
            Ok(returned) => return returned.into_inner().unwrap_or_else(|e| e.into_inner()),
            Err(still) => {
                // A reader of a killed program may need a moment to see its pipe close.
                shared = still;
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// One run of the program: the child, its stdin, and the thread reading its stdout.
struct Program {
    child: Child,
    stdin: Option<ChildStdin>,
    reader: Option<JoinHandle<()>>,
    started: Instant,
}

impl Program {
    fn spawn<R: Returned>(
        command: &str,
        returned: &Arc<Mutex<R>>,
        stats: &Arc<MiddlewareStats>,
    ) -> std::io::Result<Program> {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            // Its own process group: killed as a whole, with whatever `sh -c` started.
            .process_group(0)
            .spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (returned, stats) = (returned.clone(), stats.clone());
        let reader = std::thread::Builder::new()
            .name("replayer-middleware-out".into())
            .spawn(move || read_returned(BufReader::new(stdout), &returned, &stats))?;
        Ok(Program {
            stdin: child.stdin.take(),
            child,
            reader: Some(reader),
            started: Instant::now(),
        })
    }

    fn group(&self) -> i32 {
        self.child.id() as i32
    }

    /// Closes stdin and waits for the program and its reader to end.
    fn end(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.child
            .wait()
            .unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(0))
    }
}

/// The supervisor's state: the queue it drains and how to start the program again.
struct Supervision<R: Returned> {
    command: String,
    rx: Receiver<Vec<u8>>,
    returned: Arc<Mutex<R>>,
    stats: Arc<MiddlewareStats>,
    closing: Arc<AtomicBool>,
    group: Arc<AtomicI32>,
}

impl<R: Returned> Supervision<R> {
    fn run(self, first: Program) {
        self.supervise(first);
        // What was still queued when the program ended for good never reached it.
        let left = self.rx.try_iter().count() as u64;
        self.stats.dropped_not_running.fetch_add(left, Relaxed);
    }

    fn supervise(&self, first: Program) {
        let mut program = Some(first);
        let mut backoff = FIRST_BACKOFF;
        let mut line = Vec::new();
        loop {
            let Some(running) = &mut program else {
                // Not running: wait out the pause (dropping what comes), then start again.
                let until = Instant::now() + backoff;
                while Instant::now() < until {
                    match self.rx.recv_timeout(until - Instant::now()) {
                        Ok(_) => {
                            self.stats.dropped_not_running.fetch_add(1, Relaxed);
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                if self.closing.load(Relaxed) {
                    return;
                }
                match Program::spawn(&self.command, &self.returned, &self.stats) {
                    Ok(started) => {
                        self.stats.restarts.fetch_add(1, Relaxed);
                        self.group.store(started.group(), Relaxed);
                        tracing::warn!(command = %self.command, "middleware started again");
                        program = Some(started);
                    }
                    Err(e) => {
                        tracing::error!(command = %self.command, "middleware cannot be started: {e}");
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
                continue;
            };
            match self.rx.recv_timeout(Duration::from_millis(100)) {
                Ok(message) => {
                    encode_line(&message, &mut line);
                    let written = running
                        .stdin
                        .as_mut()
                        .map(|stdin| stdin.write_all(&line))
                        .unwrap_or(Ok(()));
                    match written {
                        Ok(()) => {
                            self.stats.sent.fetch_add(1, Relaxed);
                            continue;
                        }
                        Err(_) => self.stats.dropped_not_running.fetch_add(1, Relaxed),
                    };
                }
                Err(RecvTimeoutError::Timeout) if !self.closing.load(Relaxed) => {
                    if let Some(stdin) = running.stdin.as_mut() {
                        // Lines reach the program at once when traffic pauses.
                        let _ = stdin.flush();
                    }
                    if !matches!(running.child.try_wait(), Ok(Some(_))) {
                        continue;
                    }
                }
                // Closing and the queue is empty (senders may live on, e.g. the workers').
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    // Closing, and the queue is drained: the program ends at end of input.
                    if let Some(done) = program.take() {
                        done.end();
                    }
                    return;
                }
            }
            // The program ended by itself (or its stdin broke): restart after a pause.
            let Some(ended) = program.take() else {
                continue;
            };
            let ran = ended.started.elapsed();
            let status = ended.end();
            if self.closing.load(Relaxed) {
                return;
            }
            backoff = if ran >= HEALTHY_RUN {
                FIRST_BACKOFF
            } else {
                (backoff * 2).min(MAX_BACKOFF)
            };
            tracing::error!(
                command = %self.command,
                "middleware exited ({status}) after {:.1}s; starting it again in {backoff:?}",
                ran.as_secs_f64()
            );
        }
    }
}

/// `message` as GoReplay's middleware reads it: lowercase hex, then a newline.
fn encode_line(message: &[u8], line: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    line.clear();
    line.reserve(message.len() * 2 + 1);
    for &byte in message {
        line.push(HEX[usize::from(byte >> 4)]);
        line.push(HEX[usize::from(byte & 15)]);
    }
    line.push(b'\n');
}

/// One line from the program → a record (header line, `\n`, payload), or why not.
fn decode_line(line: &[u8]) -> Result<Record, String> {
    let line = line.trim_ascii();
    if line.len() & 1 == 1 {
        return Err("an odd number of hex digits".into());
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let bytes = line
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or("not hex")?;
    let header_end = memchr::memchr(b'\n', &bytes).ok_or("no header line")?;
    let (kind, id, timestamp_ns, latency_ns) = parse_header(&bytes[..header_end])?;
    Ok(Record {
        kind,
        id,
        timestamp_ns,
        latency_ns,
        payload: bytes::Bytes::from(bytes).slice(header_end + 1..),
    })
}

/// The reader thread: every line the program writes, decoded and handed on.
fn read_returned<R: Returned>(mut out: impl BufRead, returned: &Mutex<R>, stats: &MiddlewareStats) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match out.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        match decode_line(&line) {
            Ok(record) => {
                stats.returned.fetch_add(1, Relaxed);
                returned
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .returned(record);
            }
            Err(why) => {
                if stats.invalid.fetch_add(1, Relaxed) == 0 {
                    tracing::warn!("middleware wrote a line that is not a message ({why}); such lines are skipped");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Kind;

    #[derive(Default)]
    struct Kept(Vec<Record>);
    impl Returned for Kept {
        fn returned(&mut self, record: Record) {
            self.0.push(record);
        }
    }

    fn message(id: &str, payload: &str) -> Vec<u8> {
        format!("1 {id} 100 0\n{payload}").into_bytes()
    }

    #[test]
    fn lines_are_hex_both_ways() {
        let mut line = Vec::new();
        encode_line(b"1 a 5 0\nGET / HTTP/1.1\r\n\r\n", &mut line);
        assert!(line.ends_with(b"\n"));
        let record = decode_line(&line).unwrap();
        assert_eq!(
            (record.kind, &record.id[..], record.timestamp_ns),
            (Kind::Request, &b"a"[..], 5)
        );
        assert_eq!(&record.payload[..], b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(decode_line(b"zz\n").unwrap_err(), "not hex");
        assert_eq!(
            decode_line(b"abc").unwrap_err(),
            "an odd number of hex digits"
        );
        assert_eq!(decode_line(b"4142\n").unwrap_err(), "no header line");
    }

    #[test]
    fn what_the_program_echoes_comes_back_and_what_it_drops_does_not() {
        // Keeps every line but those whose request is for /drop.
        let drop_hex: String = "/drop".bytes().map(|b| format!("{b:02x}")).collect();
        let program = format!("grep --line-buffered -v {drop_hex}");
        let middleware = Middleware::start(&program, 100, Kept::default())
            .unwrap_or_else(|(e, _)| panic!("{e}"));
        let sender = middleware.sender();
        assert!(sender.send(message("a", "GET /keep HTTP/1.1\r\n\r\n")));
        assert!(sender.send(message("b", "GET /drop HTTP/1.1\r\n\r\n")));
        assert!(sender.send(message("c", "HEAD /keep2 HTTP/1.1\r\n\r\n")));
        drop(sender);
        let stats = middleware.stats().clone();
        let kept = middleware.finish(Duration::from_secs(5));
        let ids: Vec<&[u8]> = kept.0.iter().map(|r| &r.id[..]).collect();
        assert_eq!(ids, [&b"a"[..], b"c"]);
        assert_eq!(stats.sent.load(Relaxed), 3);
        assert_eq!(stats.returned.load(Relaxed), 2);
    }

    #[test]
    fn a_program_that_exits_is_started_again_and_one_that_hangs_is_killed() {
        // Echoes one line, then exits: every message after the first needs a restart.
        let middleware = Middleware::start("head -n 1", 100, Kept::default())
            .unwrap_or_else(|(e, _)| panic!("{e}"));
        let sender = middleware.sender();
        for i in 0..3 {
            sender.send(message(&format!("m{i}"), "GET / HTTP/1.1\r\n\r\n"));
            std::thread::sleep(Duration::from_millis(600));
        }
        drop(sender);
        let stats = middleware.stats().clone();
        let kept = middleware.finish(Duration::from_secs(5));
        assert_eq!(kept.0.len(), 3, "each run echoed its one line");
        assert!(stats.restarts.load(Relaxed) >= 2);

        // Reads nothing, ever: the queue fills, sends fail at once, and finish kills it.
        let middleware = Middleware::start("sleep 600", 4, Kept::default())
            .unwrap_or_else(|(e, _)| panic!("{e}"));
        let sender = middleware.sender();
        let big = vec![b'x'; 100_000];
        let started = Instant::now();
        let accepted = (0..50)
            .filter(|i| sender.send([message(&i.to_string(), ""), big.clone()].concat()))
            .count();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "send never waits"
        );
        assert!(accepted < 50);
        let stats = middleware.stats().clone();
        drop(sender);
        let started = Instant::now();
        let kept = middleware.finish(Duration::from_millis(500));
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(kept.0.is_empty());
        assert_eq!(stats.dropped_queue_full.load(Relaxed), 50 - accepted as u64);
    }
}
