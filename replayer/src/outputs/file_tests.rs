//! Tests of `-output-file` end to end through its writer thread: placeholders on a fixed
//! clock, chunks, the size limits, gzip, a queue that fills behind a blocked disk, and a full
//! disk (the real `/dev/full`, and a stand-in disk that fills and empties again).

use super::file::FileOptions;
use super::file::{FileOutput, Output};
use super::file_name::Stamp;
use super::file_writer::{Disk, DiskFile, SystemDisk};
use crate::request::test_support::request;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SEPARATOR: &str = "\n🐵🙈🙉\n";

/// A scratch directory, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("replayer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// The names in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        // As numbers go: `r_2` before `r_10`.
        names.sort_by_key(|n| (n.len(), n.clone()));
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Record `n` of type `kind`, padded with a header to `size` bytes in all (hex digits of
/// a pseudo-random sequence, so gzip cannot make it vanish).
fn record(kind: u8, n: u64, size: usize) -> Vec<u8> {
    let head = format!(
        "{} {n:024x} {n} 0\nGET /{n} HTTP/1.1\r\nX-Pad: ",
        kind as char
    );
    let mut state = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let pad: String = (0..size.saturating_sub(head.len() + 4 + SEPARATOR.len()))
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b"0123456789abcdef"[(state & 15) as usize])
        })
        .collect();
    format!("{head}{pad}\r\n\r\n{SEPARATOR}").into_bytes()
}

/// The file system, with a clock the test sets and a switch that makes every write fail
/// with ENOSPC (as a full disk does) until it is turned off.
#[derive(Clone)]
struct TestDisk {
    clock: Arc<Mutex<Stamp>>,
    full: Arc<AtomicBool>,
    failed_writes: Arc<AtomicU64>,
}

impl TestDisk {
    fn new() -> TestDisk {
        TestDisk {
            clock: Arc::new(Mutex::new(Stamp {
                year: 2026,
                month: 3,
                day: 7,
                hour: 4,
                minute: 59,
                second: 58,
                nanosecond: 7,
            })),
            full: Arc::new(AtomicBool::new(false)),
            failed_writes: Arc::new(AtomicU64::new(0)),
        }
    }
}

struct TestFile {
    file: Box<dyn DiskFile>,
    disk: TestDisk,
}

impl Write for TestFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.disk.full.load(Ordering::SeqCst) {
            self.disk.failed_writes.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl DiskFile for TestFile {
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Disk for TestDisk {
    fn open(&self, path: &Path, append: bool) -> io::Result<Box<dyn DiskFile>> {
        let file = SystemDisk.open(path, append)?;
        Ok(Box::new(TestFile {
            file,
            disk: self.clone(),
        }))
    }
    fn now(&self) -> Stamp {
        *self.clock.lock().unwrap()
    }
}

fn open(path: &Path, options: &FileOptions, disk: &TestDisk) -> FileOutput {
    FileOutput::with_disk(path, options, Box::new(disk.clone())).unwrap()
}

fn push_all(output: &mut FileOutput, records: &[Vec<u8>]) {
    let sender = output.sender().unwrap();
    for r in records {
        assert!(sender.push(r.clone()), "queue full");
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn file_output_writes_records_and_refuses_a_bad_path_at_start() {
    let scratch = Scratch::new("output");
    let path = scratch.join("requests.gor");
    let mut file = FileOutput::create(&path, &FileOptions::default()).unwrap();
    file.emit(&request("GET", "/1")).unwrap();
    file.emit(&request("HEAD", "/2")).unwrap();
    file.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches(SEPARATOR).count(), 2);
    assert!(text.contains("\nGET /1 HTTP/1.1\r\n\r\n\n🐵🙈🙉\n1 "));
    assert_eq!(file.stats().written.load(Ordering::Relaxed), 2);
    assert_eq!(file.stats().dropped(), 0);

    for bad in ["/nonexistent/dir/x", "/nonexistent/dir/%r.gor"] {
        let err = match FileOutput::create(Path::new(bad), &FileOptions::default()) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("created {bad}"),
        };
        assert!(
            err.starts_with(&format!("output-file: cannot create {bad}: ")),
            "{err}"
        );
    }
}

#[test]
fn time_placeholders_open_a_new_file_when_the_name_changes() {
    let scratch = Scratch::new("output-clock");
    let disk = TestDisk::new();
    let template = scratch.join("r_%Y%m%d_%H%M.gor");
    let mut output = open(&template, &FileOptions::default(), &disk);
    let records: Vec<_> = (1..=3).map(|n| record(b'1', n, 100)).collect();
    push_all(&mut output, &records[..2]);
    // The writer reads the clock for each record: wait until it took the first two.
    until("two records", || {
        output.stats().written.load(Ordering::SeqCst) == 2
    });
    disk.clock.lock().unwrap().minute = 0;
    disk.clock.lock().unwrap().hour = 5;
    push_all(&mut output, &records[2..]);
    output.finish().unwrap();
    assert_eq!(
        scratch.names(),
        ["r_20260307_0459.gor", "r_20260307_0500.gor"]
    );
    assert_eq!(
        read(&scratch.join("r_20260307_0459.gor")),
        records[..2].concat()
    );
    assert_eq!(read(&scratch.join("r_20260307_0500.gor")), records[2]);
}

#[test]
fn record_placeholders_give_a_file_per_request_and_type() {
    let scratch = Scratch::new("output-record");
    let disk = TestDisk::new();
    let mut output = open(&scratch.join("%t-%r.gor"), &FileOptions::default(), &disk);
    // A request, its response (same id), another request.
    let records = [
        record(b'1', 1, 80),
        record(b'2', 1, 90),
        record(b'1', 2, 70),
    ];
    push_all(&mut output, &records);
    output.finish().unwrap();
    let id = |n: u64| format!("{n:024x}");
    assert_eq!(
        scratch.names(),
        [
            format!("1-{}.gor", id(1)),
            format!("1-{}.gor", id(2)),
            format!("2-{}.gor", id(1))
        ]
    );
    assert_eq!(read(&scratch.join(&format!("2-{}.gor", id(1)))), records[1]);

    // `%r` alone: a response after another request goes to its request's file, added to.
    let mut output = open(&scratch.join("r-%r.gor"), &FileOptions::default(), &disk);
    push_all(
        &mut output,
        &[records[0].clone(), records[2].clone(), records[1].clone()],
    );
    output.finish().unwrap();
    assert_eq!(
        read(&scratch.join(&format!("r-{}.gor", id(1)))),
        [records[0].clone(), records[1].clone()].concat()
    );
    assert_eq!(read(&scratch.join(&format!("r-{}.gor", id(2)))), records[2]);
}

#[test]
fn size_limit_rotates_into_chunks_holding_every_record_once() {
    let scratch = Scratch::new("output-chunks");
    let disk = TestDisk::new();
    let options = FileOptions {
        size_limit: Some(1000),
        ..FileOptions::default()
    };
    let records: Vec<_> = (0..50)
        .map(|n| record(b'1', n, 150 + (n as usize * 37) % 200))
        .collect();
    let mut output = open(&scratch.join("req.gor"), &options, &disk);
    push_all(&mut output, &records);
    output.finish().unwrap();
    let names = scratch.names();
    let expected: Vec<String> = (0..names.len()).map(|i| format!("req_{i}.gor")).collect();
    assert_eq!(names, expected);
    assert!(names.len() >= 8, "{names:?}");
    let chunks: Vec<Vec<u8>> = names.iter().map(|n| read(&scratch.join(n))).collect();
    // Each chunk but the last reached the limit with its last record, and not before.
    for chunk in &chunks[..chunks.len() - 1] {
        let text = String::from_utf8(chunk.clone()).unwrap();
        let last = text
            .trim_end_matches(SEPARATOR)
            .rfind(SEPARATOR)
            .map_or(0, |i| i + SEPARATOR.len());
        assert!(chunk.len() >= 1000 && last < 1000, "{} {last}", chunk.len());
    }
    assert_eq!(chunks.concat(), records.concat());

    // Started again, chunks already there are kept: numbering goes on after them...
    let more = [record(b'1', 99, 300)];
    let mut again = open(&scratch.join("req.gor"), &options, &disk);
    push_all(&mut again, &more);
    again.finish().unwrap();
    let next = format!("req_{}.gor", names.len());
    assert_eq!(read(&scratch.join(&next)), more[0]);
    assert_eq!(read(&scratch.join(&names[0])), chunks[0]);

    // ... and with -output-file-append, the last one is written on.
    let appended = FileOptions {
        append: true,
        ..options
    };
    let mut third = open(&scratch.join("req.gor"), &appended, &disk);
    push_all(&mut third, &more);
    third.finish().unwrap();
    assert_eq!(read(&scratch.join(&next)), more.concat().repeat(2));
}

#[test]
fn append_adds_to_an_existing_file_and_the_default_truncates() {
    let scratch = Scratch::new("output-append");
    let path = scratch.join("a.gor");
    std::fs::write(&path, b"old").unwrap();
    let disk = TestDisk::new();
    let append = FileOptions {
        append: true,
        ..FileOptions::default()
    };
    let mut output = open(&path, &append, &disk);
    push_all(&mut output, &[record(b'1', 1, 50)]);
    output.finish().unwrap();
    assert_eq!(read(&path), [b"old".to_vec(), record(b'1', 1, 50)].concat());
    let mut output = open(&path, &FileOptions::default(), &disk);
    output.finish().unwrap();
    assert_eq!(read(&path), b"");
}

#[test]
fn max_size_stops_writing_and_counts_the_drops() {
    let scratch = Scratch::new("output-max");
    let disk = TestDisk::new();
    let options = FileOptions {
        max_size: Some(1000),
        ..FileOptions::default()
    };
    let path = scratch.join("m.gor");
    let mut output = open(&path, &options, &disk);
    let mut records: Vec<_> = (0..5).map(|n| record(b'1', n, 300)).collect();
    // Small enough to fit, but writing stopped at the first record that did not.
    records.push(record(b'1', 9, 60));
    push_all(&mut output, &records);
    output.finish().unwrap();
    assert_eq!(read(&path), records[..3].concat());
    let stats = output.stats();
    assert_eq!(stats.written.load(Ordering::Relaxed), 3);
    assert_eq!(stats.dropped_over_max_size.load(Ordering::Relaxed), 3);
    assert_eq!(stats.dropped(), 3);
}

#[test]
fn gzip_files_are_complete_whole_or_in_chunks() {
    let scratch = Scratch::new("output-gz");
    let disk = TestDisk::new();
    let records: Vec<_> = (0..400).map(|n| record(b'1', n, 200)).collect();
    let mut output = open(&scratch.join("all.gor.gz"), &FileOptions::default(), &disk);
    push_all(&mut output, &records);
    output.finish().unwrap();
    assert_eq!(gunzip(&scratch.join("all.gor.gz")), records.concat());

    let options = FileOptions {
        size_limit: Some(2048),
        ..FileOptions::default()
    };
    let mut output = open(&scratch.join("c.gor.gz"), &options, &disk);
    push_all(&mut output, &records);
    output.finish().unwrap();
    let chunks: Vec<String> = scratch
        .names()
        .into_iter()
        .filter(|n| n.starts_with("c.gor_"))
        .collect();
    assert!(chunks.len() >= 2, "{chunks:?}");
    let mut all = Vec::new();
    for i in 0..chunks.len() {
        // Each chunk a gzip file of its own, trailer included (GzDecoder checks it).
        let mut one = Vec::new();
        flate2::read::GzDecoder::new(
            std::fs::File::open(scratch.join(&format!("c.gor_{i}.gz"))).unwrap(),
        )
        .read_to_end(&mut one)
        .unwrap();
        all.extend(one);
    }
    assert_eq!(all, records.concat());

    // Appending adds a gzip member: readers (zcat) read both.
    let append = FileOptions {
        append: true,
        ..FileOptions::default()
    };
    let mut output = open(&scratch.join("all.gor.gz"), &append, &disk);
    push_all(&mut output, &records[..3]);
    output.finish().unwrap();
    assert_eq!(
        gunzip(&scratch.join("all.gor.gz")),
        [records.concat(), records[..3].concat()].concat()
    );
}

#[test]
fn a_blocked_disk_fills_the_queue_and_drops_are_counted_not_waited_for() {
    let scratch = Scratch::new("output-fifo");
    // Nobody reads until every record was pushed, so the writer thread blocks once the
    // pipe is full.
    let (fifo, reader) = fifo(&scratch);
    let options = FileOptions {
        queue_limit: 8,
        ..FileOptions::default()
    };
    let mut output = FileOutput::create(&fifo, &options).unwrap();
    let sender = output.sender().unwrap();
    let pushed = 3000;
    let started = Instant::now();
    let queued = (0..pushed)
        .filter(|&n| sender.push(record(b'1', n, 1024)))
        .count() as u64;
    assert!(started.elapsed() < Duration::from_secs(2), "pushing waited");
    let data = read_all(reader, Duration::ZERO);
    output.finish().unwrap();
    let data = data.join().unwrap();
    let stats = output.stats();
    let written = stats.written.load(Ordering::Relaxed);
    let dropped = stats.dropped_queue_full.load(Ordering::Relaxed);
    assert_eq!(written, queued);
    assert_eq!(written + dropped, pushed);
    assert!(dropped > pushed / 2, "written {written} dropped {dropped}");
    let text = String::from_utf8(data).unwrap();
    assert_eq!(text.matches(SEPARATOR).count() as u64, written);
}

/// A FIFO in `scratch` and its read end (opened first, so opening the write end does not
/// wait), for a disk that blocks until someone reads.
fn fifo(scratch: &Scratch) -> (PathBuf, std::fs::File) {
    use std::os::unix::fs::OpenOptionsExt;
    let fifo = scratch.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    (fifo, reader)
}

/// Reads the FIFO to its end (the writer closing it) on a thread, after `delay`.
fn read_all(mut reader: std::fs::File, delay: Duration) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let mut data = Vec::new();
        let mut buf = vec![0; 65536];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return data,
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("{e}"),
            }
        }
    })
}

#[test]
fn reading_a_capture_file_waits_for_room_and_drops_nothing() {
    let scratch = Scratch::new("output-wait");
    let (path, reader) = fifo(&scratch);
    let options = FileOptions {
        queue_limit: 8,
        ..FileOptions::default()
    };
    let mut output = FileOutput::create(&path, &options)
        .unwrap()
        .wait_for_room(true);
    // The reader starts late and the pipe holds 64 KB: the writer blocks, the queue fills,
    // and emit waits instead of dropping.
    let data = read_all(reader, Duration::from_millis(100));
    let requests = 20_000;
    for n in 0..requests {
        output.emit(&request("GET", &format!("/{n}"))).unwrap();
    }
    output.finish().unwrap();
    let text = String::from_utf8(data.join().unwrap()).unwrap();
    let stats = output.stats();
    assert_eq!(stats.dropped(), 0);
    assert_eq!(stats.written.load(Ordering::Relaxed), requests);
    assert_eq!(text.matches(SEPARATOR).count() as u64, requests);
}

#[test]
fn a_disk_that_is_always_full_is_an_error_at_the_end() {
    let mut output = FileOutput::create(Path::new("/dev/full"), &FileOptions::default()).unwrap();
    push_all(&mut output, &[record(b'1', 1, 100), record(b'1', 2, 100)]);
    let err = output.finish().unwrap_err().to_string();
    assert_eq!(
        err,
        "output-file: writing /dev/full: No space left on device (os error 28)"
    );
    let stats = output.stats();
    assert_eq!(stats.written.load(Ordering::Relaxed), 0);
    assert_eq!(stats.dropped_write_error.load(Ordering::Relaxed), 2);
}

#[test]
fn a_full_disk_drops_while_full_and_writing_resumes_when_space_returns() {
    let scratch = Scratch::new("output-enospc");
    let disk = TestDisk::new();
    let options = FileOptions {
        flush_interval: Duration::from_millis(10),
        ..FileOptions::default()
    };
    let path = scratch.join("f.gor");
    let mut output = open(&path, &options, &disk);
    let records: Vec<_> = (1..=10).map(|n| record(b'1', n, 120)).collect();
    push_all(&mut output, &records[..3]);
    until("the first flush", || read(&path).len() == 360);
    disk.full.store(true, Ordering::SeqCst);
    // Buffered when the disk fills: kept, written once it can be.
    push_all(&mut output, &records[3..5]);
    until("a failed write", || {
        disk.failed_writes.load(Ordering::SeqCst) > 0
    });
    // Come while failing: dropped and counted.
    push_all(&mut output, &records[5..8]);
    let stats = output.stats();
    until("three drops", || {
        stats.dropped_write_error.load(Ordering::SeqCst) == 3
    });
    disk.full.store(false, Ordering::SeqCst);
    until("the retry", || read(&path).len() == 600);
    push_all(&mut output, &records[8..]);
    output.finish().unwrap();
    assert_eq!(
        read(&path),
        [records[..5].concat(), records[8..].concat()].concat()
    );
    assert_eq!(stats.written.load(Ordering::Relaxed), 7);
    assert_eq!(stats.dropped(), 3);
}
