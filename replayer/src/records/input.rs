//! `--input-file`: record files replayed into the flow, on the thread that calls [`run`].
//!
//! Each `--input-file PATH[|SPEED]` is one timeline (its glob's files merged by timestamp,
//! paced at its speed); several flags play side by side, each item handed on when its own
//! timeline says it is due. Requests (type 1) are framed by the same HTTP/1 parser as
//! captured traffic, so they reach the stages exactly as a captured request would; type-2 and
//! type-3 records are handed on as they are, with the id of the request they answer, for the
//! outputs that write records.

use super::framer::Framer;
use super::merge::{File, Merge};
use super::reader::RecordReader;
use super::{Kind, Record};
use crate::capture::pace::{wait_until, Pace, Speed};
use crate::capture::{CaptureError, CaptureStats};
use crate::request::Request;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// GoReplay's default `--input-file-read-depth`.
pub const DEFAULT_READ_DEPTH: usize = 100;

/// One `--input-file PATH[|SPEED]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSpec {
    /// A path or a glob (`requests-*.gor`); `.gz` files are decompressed.
    pub pattern: String,
    /// 1.0 as recorded (`|100%`), 2.0 twice as fast; infinite as fast as possible (`|max`).
    pub speed: f64,
}

/// Everything `--input-file*` says.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordInput {
    /// The files, one timeline each.
    pub files: Vec<FileSpec>,
    /// `--input-file-loop`: start again at the end, until stopped.
    pub repeat: bool,
    /// `--input-file-max-wait`: the longest recorded gap waited (before the speed applies).
    pub max_wait: Option<Duration>,
    /// `--input-file-read-depth`: records read ahead per file and sorted by timestamp.
    pub read_depth: usize,
    /// `--input-file-dry-run`: count and time the replay, send nothing.
    pub dry_run: bool,
}

/// What a record file gives the flow.
#[derive(Debug)]
pub enum FromFile {
    /// A request, framed; its [`Request::record_id`] is the record's id.
    Request(Request),
    /// A response record (type 2 or 3), with the id the flow gave its request, if that
    /// request was read (within the last [`super::framer::RECENT`] requests).
    Response(Option<u64>, Record),
}

/// What `--input-file-dry-run` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DryRun {
    /// Requests (type-1 records) that would be replayed, before any filter.
    pub requests: u64,
    /// Records of every type.
    pub records: u64,
    /// How long one pass would take at the given speeds.
    pub duration: Duration,
}

/// The opened files, ready to run.
pub struct Timelines {
    timelines: Vec<Timeline>,
    config: RecordInput,
}

struct Timeline {
    paths: Vec<PathBuf>,
    merge: Merge,
    pace: Pace,
    /// The next record and when it is due after the start.
    head: Option<(Duration, Record)>,
}

/// Opens every file (globs expanded now), so that a missing one is refused before anything
/// is sent (exit 2).
pub fn open(config: &RecordInput) -> Result<Timelines, CaptureError> {
    let timelines = config
        .files
        .iter()
        .map(|spec| {
            let paths = expand(&spec.pattern)?;
            let merge = open_merge(&paths, config.read_depth)?;
            let mut timeline = Timeline {
                paths,
                merge,
                pace: Pace::new(Speed {
                    factor: spec.speed,
                    max_wait: config.max_wait,
                }),
                head: None,
            };
            timeline.advance(Duration::ZERO);
            Ok(timeline)
        })
        .collect::<Result<_, CaptureError>>()?;
    Ok(Timelines {
        timelines,
        config: config.clone(),
    })
}

/// The files a pattern names, in name order: the path itself, or a glob's matches.
fn expand(pattern: &str) -> Result<Vec<PathBuf>, CaptureError> {
    let refuse = |why: String| CaptureError::Open(format!("input-file: {why}"));
    if !pattern.contains(['*', '?', '[']) {
        return Ok(vec![PathBuf::from(pattern)]);
    }
    let mut paths: Vec<PathBuf> = glob::glob(pattern)
        .map_err(|e| refuse(format!("'{pattern}' is not a valid glob: {e}")))?
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(refuse(format!("no file matches '{pattern}'")));
    }
    Ok(paths)
}

fn open_merge(paths: &[PathBuf], depth: usize) -> Result<Merge, CaptureError> {
    let files = paths
        .iter()
        .map(|path| {
            let file = std::fs::File::open(path).map_err(|e| {
                CaptureError::Open(format!("input-file: cannot open {}: {e}", path.display()))
            })?;
            let input: Box<dyn Read + Send> = if path.extension().is_some_and(|e| e == "gz") {
                Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
                    file,
                )))
            } else {
                Box::new(file)
            };
            Ok(File {
                name: path.display().to_string(),
                reader: RecordReader::new(input),
            })
        })
        .collect::<Result<_, CaptureError>>()?;
    Ok(Merge::new(files, depth))
}

impl Timeline {
    /// Takes the next record into `head`, with its due time. Only requests move the clock:
    /// a response is due with the request before it (nothing is sent for it).
    fn advance(&mut self, last_due: Duration) {
        self.head = self.merge.next_record().map(|record| {
            let due = match record.kind {
                Kind::Request => self.pace.offset_of(record.timestamp_ns),
                Kind::Response | Kind::Replayed => last_due,
            };
            (due, record)
        });
    }

    /// Opens the files again for the next pass (`--input-file-loop`); the pace goes on.
    fn reopen(&mut self, depth: usize) -> Result<(), CaptureError> {
        self.merge = open_merge(&self.paths, depth)?;
        self.pace.restart();
        self.advance(Duration::ZERO);
        Ok(())
    }
}

impl RecordInput {
    /// The one file read, when there is exactly one and it is not a glob.
    pub fn single_path(&self) -> Option<&std::path::Path> {
        match &self.files[..] {
            [one] if !one.pattern.contains(['*', '?', '[']) => {
                Some(std::path::Path::new(&one.pattern))
            }
            _ => None,
        }
    }

    /// The input as the status document names it: the patterns, comma-separated.
    pub fn describe(&self) -> String {
        let patterns: Vec<&str> = self.files.iter().map(|f| f.pattern.as_str()).collect();
        patterns.join(", ")
    }
}

impl Timelines {
    /// Reads every record without waiting or sending: the count and how long one pass
    /// would take. Damage is an error, as in [`run`].
    pub fn dry_run(mut self) -> Result<DryRun, CaptureError> {
        let (mut requests, mut records, mut duration) = (0, 0, Duration::ZERO);
        while let Some((due, record)) = self.take_next() {
            records += 1;
            if record.kind == Kind::Request {
                requests += 1;
            }
            duration = duration.max(due);
        }
        self.damage()?;
        Ok(DryRun {
            requests,
            records,
            duration,
        })
    }

    /// Every timeline's next record, the earliest due first.
    fn take_next(&mut self) -> Option<(Duration, Record)> {
        let (index, _) = self
            .timelines
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.head.as_ref().map(|(due, _)| (i, *due)))
            .min_by_key(|(_, due)| *due)?;
        let timeline = &mut self.timelines[index];
        let head = timeline.head.take()?;
        timeline.advance(head.0);
        Some(head)
    }

    fn damage(&mut self) -> Result<(), CaptureError> {
        for timeline in &mut self.timelines {
            if let Some((name, e)) = timeline.merge.take_error() {
                return Err(CaptureError::Records(format!("input-file {name}: {e}")));
            }
        }
        Ok(())
    }
}

/// Replays the records until the files end (or, looping, until `stop`), calling `on_item`
/// with each request and response as it is due. Requests are counted in `stats.requests`;
/// a type-1 record that is not one complete HTTP/1.x request in `stats.requests_cut`.
/// Damage stops the damaged file (the others go on) and is the result once the rest is done.
pub fn run(
    mut timelines: Timelines,
    stop: &AtomicBool,
    stats: &Arc<CaptureStats>,
    on_item: &mut dyn FnMut(FromFile),
) -> Result<(), CaptureError> {
    let started = Instant::now();
    let mut framer = Framer::new(stats.clone());
    loop {
        while let Some((due, record)) = timelines.take_next() {
            if !wait_until(started + due, stop) {
                return Ok(());
            }
            match record.kind {
                Kind::Request => {
                    if let Some(request) = framer.request(&record, true) {
                        on_item(FromFile::Request(request));
                    }
                }
                Kind::Response | Kind::Replayed => {
                    let id = framer.request_id(&record.id);
                    on_item(FromFile::Response(id, record));
                }
            }
        }
        timelines.damage()?;
        if !timelines.config.repeat || stop.load(Relaxed) {
            return Ok(());
        }
        let depth = timelines.config.read_depth;
        for timeline in &mut timelines.timelines {
            timeline.reopen(depth)?;
        }
    }
}
