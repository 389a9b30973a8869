//! A progress bar (bytes of the capture file read, rate, ETA) while a capture file is replayed
//! or converted in a terminal; nothing at all when stderr is not a terminal, so logs, pipes and
//! the journal see exactly what they saw before.
//!
//! Capture reads the file through libpcap, which owns the `FILE*`; rather than thread a
//! counter through the capture loop, a watcher thread reads the file's offset from
//! `/proc/self/fdinfo` ten times a second. The offset runs ahead of processing by at most
//! stdio's buffer, which no one can see on a bar.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const TEMPLATE: &str = "{msg} [{elapsed_precise}] {wide_bar} {percent:>3}% \
{binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, ETA {eta})";

/// The bar and its watcher; [`FileProgress::finish`] (or drop) stops it.
pub struct FileProgress {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    watcher: Option<JoinHandle<()>>,
}

impl FileProgress {
    /// Starts a bar for reading `path`, or `None` when stderr is not a terminal (or the file
    /// cannot be looked at: capture will say why).
    pub fn start(path: &Path) -> Option<FileProgress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let canonical = std::fs::canonicalize(path).ok()?;
        // A stream (pipe, FIFO) has no length to measure progress against: no bar.
        let meta = std::fs::metadata(&canonical).ok()?;
        if !meta.is_file() {
            return None;
        }
        let len = meta.len();
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template(TEMPLATE).ok()?);
        bar.set_message(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (bar, stop) = (bar.clone(), stop.clone());
            std::thread::Builder::new()
                .name("progress".into())
                .spawn(move || watch(&canonical, len, &bar, &stop))
                .ok()?
        };
        Some(FileProgress {
            bar,
            stop,
            watcher: Some(watcher),
        })
    }

    /// Stops the bar: left at 100 % with the time taken when the run succeeded, as it stands
    /// otherwise.
    pub fn finish(mut self, succeeded: bool) {
        self.stop_watcher();
        if succeeded {
            self.bar.set_position(self.bar.length().unwrap_or(0));
            self.bar.finish();
        } else {
            self.bar.abandon();
        }
    }

    fn stop_watcher(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
    }
}

impl Drop for FileProgress {
    fn drop(&mut self) {
        self.stop_watcher();
    }
}

/// Follows the offset of this process's descriptor for `path` until told to stop.
fn watch(path: &Path, len: u64, bar: &ProgressBar, stop: &AtomicBool) {
    let mut fd: Option<PathBuf> = None;
    while !stop.load(Ordering::Relaxed) {
        if fd.is_none() {
            fd = find_fd(path);
        }
        match fd.as_deref().and_then(offset) {
            Some(position) => bar.set_position(position.min(len)),
            // Seen and now closed: libpcap read it to the end.
            None if fd.is_some() => {
                bar.set_position(len);
                fd = None;
            }
            None => {}
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `/proc/self/fdinfo/N` for the descriptor open on `path`.
fn find_fd(path: &Path) -> Option<PathBuf> {
    std::fs::read_dir("/proc/self/fd")
        .ok()?
        .flatten()
        .find(|entry| std::fs::read_link(entry.path()).is_ok_and(|target| target == path))
        .map(|entry| Path::new("/proc/self/fdinfo").join(entry.file_name()))
}

/// The `pos:` line of an fdinfo file.
fn offset(fdinfo: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(fdinfo).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("pos:"))
        .and_then(|pos| pos.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom};

    #[test]
    fn reads_the_offset_of_an_open_file() {
        let path = std::env::temp_dir().join(format!("replayer-progress-{}", std::process::id()));
        std::fs::write(&path, vec![7u8; 10_000]).unwrap();
        let canonical = std::fs::canonicalize(&path).unwrap();
        let mut file = std::fs::File::open(&path).unwrap();
        let mut buf = [0u8; 1234];
        file.read_exact(&mut buf).unwrap();
        let fdinfo = find_fd(&canonical).expect("our descriptor");
        assert_eq!(offset(&fdinfo), Some(1234));
        file.seek(SeekFrom::End(0)).unwrap();
        assert_eq!(offset(&fdinfo), Some(10_000));
        drop(file);
        assert_eq!(find_fd(&canonical), None);
        std::fs::remove_file(&path).unwrap();
    }
}
