//! The harness shared by every end-to-end test: where the built binaries are, scratch
//! directories, external tools that must be present, commands run with a time limit, and how
//! a test says it skipped something.
//!
//! All the tests are modules of one test binary (`tests/main.rs`), run in parallel threads of
//! one process: each starts the real parts it needs itself, on free ports and in scratch
//! directories of its own; what cannot be had twice is taken through [`lock`]. A missing tool
//! is a loud failure (the test command installs them all). The helpers by concern:
//! [`nginx`], [`servers`], [`daemon`], [`records`], [`pcap_builder`], [`icinga`], [`corpus`],
//! [`rng`], [`scenario`], [`mangle`], [`prometheus`], [`fleet`] (network namespaces and
//! Icinga 2 nodes for the fleet test).

pub mod corpus;
pub mod fleet;
pub mod daemon;
pub mod icinga;
pub mod lock;
pub mod mangle;
pub mod nginx;
pub mod pcap_builder;
pub mod prometheus;
pub mod records;
pub mod rng;
pub mod scenario;
pub mod servers;

pub use daemon::*;
pub use icinga::*;
pub use nginx::*;
pub use pcap_builder::*;
pub use records::*;
pub use rng::*;
pub use servers::*;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The directory holding the workspace's built binaries (`target/debug` or `target/release`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/test-xxxx → target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// Path of a workspace binary, failing loudly if it has not been built.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace` (or `cargo test --workspace`) first",
        path.display()
    );
    path
}

/// The workspace's binaries where other users can run them: [`bin_dir`] itself when every
/// folder above it lets others pass (the usual case, and CI's), else a folder of hard links
/// (copies across file systems) under the system's temporary folder, made once per test run.
/// Tests that run a binary as `nobody` or `nagios` (directly, through NRPE or Icinga 2) use
/// this, so a checkout inside a folder only its owner may enter (`mktemp -d`) still works.
pub fn open_bin_dir() -> PathBuf {
    static OPEN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    OPEN.get_or_init(|| {
        let dir = bin_dir();
        if others_may_pass(&dir) {
            return dir;
        }
        let open = std::env::temp_dir().join(format!("replayer-open-bin-{}", std::process::id()));
        std::fs::create_dir_all(&open).expect("create the open binaries folder");
        set_mode(&open, 0o755);
        for entry in std::fs::read_dir(&dir).expect("read the binaries folder") {
            let path = entry.expect("binaries folder entry").path();
            let executable = std::fs::metadata(&path).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            });
            if !executable {
                continue;
            }
            let target = open.join(path.file_name().expect("a file name"));
            let _ = std::fs::remove_file(&target);
            if std::fs::hard_link(&path, &target).is_err() {
                std::fs::copy(&path, &target).expect("copy a binary to the open folder");
            }
        }
        open
    })
    .clone()
}

/// [`bin`], from [`open_bin_dir`].
pub fn open_bin(name: &str) -> PathBuf {
    bin(name);
    open_bin_dir().join(name)
}

/// Whether users other than the owner may pass through every folder from `/` to `dir`.
fn others_may_pass(dir: &Path) -> bool {
    dir.ancestors().all(|folder| {
        std::fs::metadata(folder)
            .is_ok_and(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o001 != 0)
    })
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
        .expect("set a folder's mode");
}

/// Path of an external tool, failing loudly when it is missing: tests never pass quietly
/// without the real part they need.
pub fn require_tool(name: &str) -> PathBuf {
    let candidates: Vec<PathBuf> = if name.contains('/') {
        vec![PathBuf::from(name)]
    } else {
        std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join(name))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter()
            .chain(
                ["/usr/sbin", "/sbin"]
                    .iter()
                    .map(|d| Path::new(d).join(name)),
            )
            .collect()
    };
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("required tool `{name}` is not installed: run scripts/test, which installs it")
        })
}

/// The repository's root directory (the workspace's).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A scratch directory removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("replayer-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_SCRATCH").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs a command to completion, killing it after `limit`. Panics on a hang, so a broken
/// feature can never make the suite wait forever. Output is read on threads so that a
/// chatty child never blocks on a full pipe.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    run_with_timeout_fed(cmd, Stdio::null(), limit)
}

/// [`run_with_timeout`], with `stdin` as the command's standard input (a pipe, for a capture
/// read from a stream).
pub fn run_with_timeout_fed(cmd: &mut Command, stdin: Stdio, limit: Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = out_reader.join().unwrap_or_default();
            let stderr = err_reader.join().unwrap_or_default();
            panic!(
                "{cmd:?} did not finish within {limit:?}; stdout: {} stderr: {}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// Whether this process may capture packets (root or CAP_NET_RAW). Live-capture tests fail
/// loudly without it rather than skip: CI runs as root.
/// `data` gzip-encoded, as a server or client would send it.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Sets a file's modification time, e.g. to make a sync flag look set 13 hours ago.
pub fn set_mtime(path: &Path, time: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}

/// The running test's name, `module::test` (libtest names each test's thread so); `unknown`
/// on a thread of the test's own.
pub fn test_name() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_string(),
        _ => "unknown".to_string(),
    }
}

/// Says that `test` skipped something and why, in one line: `SKIPPED <test>: <reason>`, on
/// stderr (written directly, so the test harness's capture does not swallow it) and appended
/// to the file named by `REPLAYER_SKIP_LOG` when that is set (scripts/test sums them up).
pub fn skip(test: &str, reason: &str) {
    let line = format!("SKIPPED {test}: {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    if let Some(log) = std::env::var_os("REPLAYER_SKIP_LOG") {
        // One write of one short line to a file opened for appending: lines from parallel
        // tests never interleave.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .unwrap_or_else(|e| panic!("REPLAYER_SKIP_LOG {}: {e}", Path::new(&log).display()));
    }
}
