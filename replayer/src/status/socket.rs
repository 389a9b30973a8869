//! The status document (docs/design.md, 'The status document') on a Unix socket: a client
//! connects, reads one JSON object and the daemon closes the connection. This is what the check
//! plugins ask.
//!
//! The document is made from atomics in microseconds, so each client is answered at once on
//! its own task. The daemon never reads what a client sends (garbage is ignored) and never
//! waits on a client: the document is far smaller than the socket buffer, and the write has
//! a timeout anyway, so a client that never reads costs one short-lived task.
//!
//! The socket file: a stale one (left by a crash, nobody listening) is replaced at start;
//! one that a live process still answers on is an error, as is a path that is not a socket.
//! Mode (default 0660) and group are set after bind. [`SocketFile`] removes it at exit.

use crate::capture::CaptureStats;
use crate::status::stats::Stats;
use replayer_status::schema::{
    CaptureCounters, DaemonState, FileOutputCounters, StatusDocument, SyncStatus,
};
use replayer_status::{format_rfc3339, SCHEMA_VERSION};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};

/// The default socket path (systemd's `RuntimeDirectory=replayer`), defined once in the
/// status crate, where the check plugins read it too.
pub use replayer_status::client::DEFAULT_SOCKET;
/// The default socket file mode: owner and group may connect (give the check plugins'
/// user the group with `--status-socket-group`), others not.
pub const DEFAULT_MODE: u32 = 0o660;

/// A client gets this long to take the document; then the connection is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where and how to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketOptions {
    /// Where the socket file is created (`--status-socket`); its directory must exist.
    pub path: PathBuf,
    /// Permission bits set on the socket file after bind (`--status-socket-mode`, octal on
    /// the command line); world-writable modes are refused when the settings are resolved.
    pub mode: u32,
    /// A group name or numeric id given the socket, so that e.g. `nagios` may read it.
    pub group: Option<String>,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            path: PathBuf::from(DEFAULT_SOCKET),
            mode: DEFAULT_MODE,
            group: None,
        }
    }
}

/// Why the status socket could not be set up; the daemon does not start (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// A live process answers on the path: most likely another daemon with the same
    /// `--status-socket`. Its socket is left alone.
    #[error("status socket {path}: another process is already serving on it")]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// Something other than a socket is at the path; it is never removed.
    #[error("status socket {path}: exists and is not a socket; refusing to replace it")]
    NotASocket {
        /// The path that is not a socket.
        path: PathBuf,
    },
    /// `--status-socket-group` names a group the system does not know.
    #[error("status socket {path}: unknown group `{group}`")]
    UnknownGroup {
        /// The socket path.
        path: PathBuf,
        /// The group as given.
        group: String,
    },
    /// A system call on the socket failed.
    #[error("status socket {path}: {what}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The step that failed: `bind`, `chmod`, `chgrp` ...
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

/// Everything the document is made of, shared by the parts that update it.
pub struct DaemonStatus {
    /// When the daemon started (the document's `started_at`).
    pub started_at: SystemTime,
    /// `-input-raw` as the user gave it, e.g. `lo:7999`.
    pub capture_source: String,
    /// The capture side's counters (the document's `capture` object).
    pub capture: Arc<CaptureStats>,
    /// The request and response counters and their windows (the document's `requests`,
    /// `responses`, `windows` and `targets`).
    pub stats: Arc<Stats>,
    state: AtomicU8,
    sync: Mutex<SyncStatus>,
    file_output: OnceLock<FileOutputReader>,
}

/// Reads the `-output-file` counters (the document's `output_file`), set by the daemon
/// when it has one; a closure, so this module needs nothing of the outputs.
pub type FileOutputReader = Box<dyn Fn() -> FileOutputCounters + Send + Sync>;

impl DaemonStatus {
    /// The status of a daemon starting now, in state `starting`, no sync in progress;
    /// `sync_flag` is the flag file's path as the document shows it.
    pub fn new(
        capture_source: String,
        capture: Arc<CaptureStats>,
        stats: Arc<Stats>,
        sync_flag: &Path,
    ) -> DaemonStatus {
        DaemonStatus {
            started_at: SystemTime::now(),
            capture_source,
            capture,
            stats,
            state: AtomicU8::new(DaemonState::Starting as u8),
            sync: Mutex::new(SyncStatus {
                in_progress: false,
                flag: sync_flag.display().to_string(),
                since: None,
                stale: false,
            }),
            file_output: OnceLock::new(),
        }
    }

    /// Where the document's `output_file` figures come from (once; later calls are
    /// ignored).
    pub fn set_file_output(&self, read: FileOutputReader) {
        let _ = self.file_output.set(read);
    }

    /// What the daemon is doing now (`starting`, `replaying`, `paused`, `stopping`).
    pub fn state(&self) -> DaemonState {
        match self.state.load(Relaxed) {
            x if x == DaemonState::Replaying as u8 => DaemonState::Replaying,
            x if x == DaemonState::Paused as u8 => DaemonState::Paused,
            x if x == DaemonState::Stopping as u8 => DaemonState::Stopping,
            _ => DaemonState::Starting,
        }
    }

    /// Sets the state unconditionally (the daemon's lifecycle: `replaying` once running,
    /// `stopping` at the end); [`DaemonStatus::set_paused`] for the sync pause.
    pub fn set_state(&self, state: DaemonState) {
        self.state.store(state as u8, Relaxed);
    }

    /// Moves between `replaying` and `paused`, unless the daemon is already stopping.
    pub fn set_paused(&self, paused: bool) {
        let want = if paused {
            DaemonState::Paused
        } else {
            DaemonState::Replaying
        };
        let _ = self.state.fetch_update(Relaxed, Relaxed, |s| {
            (s != DaemonState::Stopping as u8).then_some(want as u8)
        });
    }

    /// Replaces the sync part of the document (the sync watcher, after each look at the
    /// flag file).
    pub fn set_sync(&self, sync: SyncStatus) {
        *self.sync.lock().unwrap_or_else(|e| e.into_inner()) = sync;
    }

    /// The sync part of the document as last set: flag path, in progress, since, stale.
    pub fn sync(&self) -> SyncStatus {
        self.sync.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The document as of now.
    pub fn document(&self) -> StatusDocument {
        let c = &self.capture;
        StatusDocument {
            schema: SCHEMA_VERSION,
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            started_at: format_rfc3339(self.started_at),
            now: format_rfc3339(SystemTime::now()),
            state: self.state(),
            sync: self.sync(),
            capture: CaptureCounters {
                source: self.capture_source.clone(),
                packets: c.packets.load(Relaxed),
                bytes: c.bytes.load(Relaxed),
                kernel_dropped: c.kernel_dropped.load(Relaxed),
                if_dropped: c.if_dropped.load(Relaxed),
                reassembly_gaps: c.reassembly_gaps.load(Relaxed),
                streams: c.streams.load(Relaxed),
                requests_cut: c.requests_cut.load(Relaxed),
                dropped_over_cap: c.dropped_over_cap.load(Relaxed),
                framing_skipped: crate::capture::FramingError::ALL
                    .iter()
                    .map(|e| {
                        let count = c.framing_skipped[e.index()].load(Relaxed);
                        (e.as_str().to_string(), count)
                    })
                    .collect(),
                prod_responses: c.responses.load(Relaxed),
                prod_responses_unpaired: c.responses_unpaired.load(Relaxed),
                prod_responses_missing: c.responses_missing.load(Relaxed),
                prod_responses_cut: c.responses_cut.load(Relaxed),
                prod_response_framing_errors: c.response_framing_errors.load(Relaxed),
                prod_response_gaps: c.response_gaps.load(Relaxed),
            },
            requests: self.stats.requests(),
            responses: self.stats.responses(),
            windows: self.stats.windows(),
            targets: self.stats.targets(),
            diff: self.stats.diff(),
            diff_routes: self.stats.diff_routes(),
            output_file: self.file_output.get().map(|read| read()),
        }
    }
}

/// The socket file while the daemon serves on it; removed when dropped (if it is still ours:
/// a newer daemon may have replaced it).
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    inode: u64,
}

impl SocketFile {
    /// Where the socket file is (removed from there at drop, if still ours).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if meta.ino() == self.inode {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Binds the socket (replacing a stale one), sets its mode and group. Needs no runtime: the
/// daemon binds before it gives up its capabilities and starts threads; [`serve`] takes it
/// over.
pub fn bind(
    options: &SocketOptions,
) -> Result<(std::os::unix::net::UnixListener, SocketFile), SocketError> {
    let path = &options.path;
    let io_err = |what: &'static str| {
        move |source: io::Error| SocketError::Io {
            path: path.clone(),
            what,
            source,
        }
    };
    // Resolve the group first: a typo must not leave a socket file behind.
    let gid = options
        .group
        .as_deref()
        .map(|g| {
            group_id(g).ok_or_else(|| SocketError::UnknownGroup {
                path: path.clone(),
                group: g.to_string(),
            })
        })
        .transpose()?;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(SocketError::InUse { path: path.clone() });
            }
            std::fs::remove_file(path).map_err(io_err("removing the stale socket"))?;
        }
        Ok(_) => return Err(SocketError::NotASocket { path: path.clone() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("checking the path")(e)),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err("creating its directory"))?;
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(io_err("bind"))?;
    listener
        .set_nonblocking(true)
        .map_err(io_err("set_nonblocking"))?;
    let inode = std::fs::symlink_metadata(path)
        .map_err(io_err("stat after bind"))?
        .ino();
    let file = SocketFile {
        path: path.clone(),
        inode,
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(options.mode))
        .map_err(io_err("chmod"))?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(io_err("chgrp"))?;
    }
    Ok((listener, file))
}

/// A group name or number to its id (a name through NSS, as `chgrp` would look it up).
fn group_id(group: &str) -> Option<u32> {
    if let Ok(gid) = group.parse::<u32>() {
        return Some(gid);
    }
    nix::unistd::Group::from_name(group)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

/// Serves documents until `stop` resolves. Each client is answered on its own task.
pub async fn serve(
    listener: std::os::unix::net::UnixListener,
    status: Arc<DaemonStatus>,
    stop: impl std::future::Future<Output = ()>,
) {
    let listener = match UnixListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!("status socket: cannot serve: {e}");
            return;
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let status = status.clone();
                    tokio::spawn(answer(stream, status));
                }
                Err(e) => {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    tracing::warn!("status socket: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Writes one document and closes. What the client sent is never parsed.
async fn answer(mut stream: UnixStream, status: Arc<DaemonStatus>) {
    let mut json = match serde_json::to_vec(&status.document()) {
        Ok(json) => json,
        Err(e) => {
            tracing::error!("status document: {e}");
            return;
        }
    };
    json.push(b'\n');
    let write = async {
        stream.write_all(&json).await?;
        stream.shutdown().await
    };
    if tokio::time::timeout(WRITE_TIMEOUT, write).await.is_err() {
        tracing::debug!("status socket: a client did not take its document in time");
    }
    // Swallow a short request line the client may have sent (e.g. a newline), so that it
    // reads end-of-file rather than a reset; anything longer is garbage and just dropped.
    let mut sink = [0u8; 4096];
    let _ = stream.try_read(&mut sink);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream as StdStream;

    fn scratch(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("replayer-status-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn daemon_status() -> Arc<DaemonStatus> {
        let stats = Arc::new(Stats::new(&["http://127.0.0.1:9".to_string()]));
        let capture = Arc::new(CaptureStats::default());
        capture.packets.store(42, Relaxed);
        Arc::new(DaemonStatus::new(
            "lo:7999".into(),
            capture,
            stats,
            Path::new("/tmp/flag"),
        ))
    }

    fn read_document(path: &Path) -> replayer_status::StatusDocument {
        let mut stream = StdStream::connect(path).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    #[test]
    fn serves_the_document_and_replaces_a_stale_socket() {
        let dir = scratch("serve");
        let path = dir.join("sub/status.sock");
        // A stale socket: bound, then its listener gone.
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());

        let rt = tokio::runtime::Runtime::new().unwrap();
        let status = daemon_status();
        status.stats.queued(0);
        status.stats.response(0, 503, Duration::from_millis(4));
        status.set_state(DaemonState::Replaying);
        let options = SocketOptions {
            path: path.clone(),
            mode: 0o640,
            group: Some("0".into()),
        };
        let (listener, file) = rt.block_on(async { bind(&options) }).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        assert_eq!(meta.gid(), 0);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = rt.spawn(serve(listener, status.clone(), async {
            let _ = stop_rx.await;
        }));

        let doc = read_document(&path);
        assert_eq!(doc.schema, 1);
        assert_eq!(doc.pid, std::process::id());
        assert_eq!(doc.state, DaemonState::Replaying);
        assert_eq!(doc.capture.source, "lo:7999");
        assert_eq!(doc.capture.packets, 42);
        assert_eq!(doc.sync.flag, "/tmp/flag");
        assert_eq!((doc.requests.queued, doc.requests.replayed), (1, 1));
        assert_eq!(doc.responses.c5xx, 1);
        assert_eq!(doc.windows["60"].c5xx, 1);
        assert_eq!(doc.windows["900"].ratio_5xx, Some(1.0));
        assert_eq!(doc.targets[0].url, "http://127.0.0.1:9");

        // A second daemon on the same path is refused while this one serves.
        let err = rt.block_on(async { bind(&options) }).unwrap_err();
        assert!(matches!(err, SocketError::InUse { .. }), "{err}");

        stop_tx.send(()).unwrap();
        rt.block_on(server).unwrap();
        drop(file);
        assert!(!path.exists(), "socket file removed at exit");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn refuses_to_replace_a_regular_file_and_unknown_groups() {
        let dir = scratch("refuse");
        let path = dir.join("status.sock");
        std::fs::write(&path, "not a socket").unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let options = SocketOptions {
            path: path.clone(),
            ..SocketOptions::default()
        };
        let err = rt.block_on(async { bind(&options) }).unwrap_err();
        assert!(matches!(err, SocketError::NotASocket { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");

        let options = SocketOptions {
            path: dir.join("other.sock"),
            mode: 0o660,
            group: Some("no-such-group-here".into()),
        };
        let err = rt.block_on(async { bind(&options) }).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "status socket {}: unknown group `no-such-group-here`",
                dir.join("other.sock").display()
            )
        );
        assert!(!dir.join("other.sock").exists());
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Hundreds of clients at once, some silent, some sending garbage and never reading:
    /// every reading client still gets a whole document.
    #[test]
    fn many_silent_and_garbage_clients_stall_nothing() {
        let dir = scratch("many");
        let path = dir.join("status.sock");
        let rt = tokio::runtime::Runtime::new().unwrap();
        let status = daemon_status();
        let options = SocketOptions {
            path: path.clone(),
            ..SocketOptions::default()
        };
        let (listener, _file) = rt.block_on(async { bind(&options) }).unwrap();
        rt.spawn(serve(listener, status, std::future::pending()));

        // 200 connections that never read, half of them sending garbage.
        let mut idle = Vec::new();
        for i in 0..200 {
            let mut s = StdStream::connect(&path).unwrap();
            if i % 2 == 0 {
                let _ = s.write_all(&[0xff; 3000]);
            }
            idle.push(s);
        }
        // 500 readers on 10 threads: all get the document.
        let threads: Vec<_> = (0..10)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        assert_eq!(read_document(&path).schema, 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // A client that sends a line first still reads the document (the write may race
        // with the daemon closing; either way the document arrives).
        let mut s = StdStream::connect(&path).unwrap();
        let _ = s.write_all(b"status\n");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut text = Vec::new();
        let _ = s.read_to_end(&mut text);
        assert!(text.starts_with(b"{\"schema\":1,"), "{text:?}");
        assert!(text.ends_with(b"}\n"));
        drop(idle);
        let _ = std::fs::remove_dir_all(dir);
    }
}
