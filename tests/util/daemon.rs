//! The `replayer` binary as a process: run on a capture file, live on an interface, or as a
//! daemon with its status socket and stderr in a scratch directory (killed when dropped);
//! its status document, and what `/proc` says of its memory.

use super::{bin, goreplay_records, is_root, run_with_timeout, Record};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One status document from a daemon's Unix socket (connect, read to the end, parse), or
/// `None` while nothing answers there.
pub fn read_status_document(socket: &Path) -> Option<replayer_status::StatusDocument> {
    use std::io::Read;
    let mut stream = std::os::unix::net::UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")))
}

/// `replayer -input-raw FILE:PORT -input-raw-engine pcap_file -output-stdout EXTRA...`, which
/// must succeed within a minute; returns the records it printed.
pub fn replay_pcap_file(file: &Path, port: u16, extra: &[&str]) -> Vec<Record> {
    let out = run_with_timeout(
        Command::new(bin("replayer"))
            .arg("-input-raw")
            .arg(format!("{}:{port}", file.display()))
            .args(["-input-raw-engine", "pcap_file", "-output-stdout"])
            .args(extra),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "replayer on {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    goreplay_records(&out.stdout)
}

/// A live `replayer -input-raw INPUT -output-stdout`, killed if the test panics.
pub struct LiveReplayer(std::process::Child);

impl LiveReplayer {
    /// Starts it and gives libpcap a moment to open the capture.
    pub fn start(input: &str) -> LiveReplayer {
        let child = Command::new(bin("replayer"))
            .args(["-input-raw", input, "-output-stdout"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn replayer");
        std::thread::sleep(Duration::from_millis(800));
        LiveReplayer(child)
    }

    /// Lets in-flight packets arrive, stops it with SIGTERM (it must exit within 10 s) and
    /// returns what it printed: the records and stderr.
    pub fn stop(mut self) -> (Vec<Record>, String) {
        use std::io::Read;
        std::thread::sleep(Duration::from_millis(500));
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.0.try_wait().expect("try_wait").is_none() {
            assert!(
                Instant::now() < deadline,
                "replayer did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut stdout = Vec::new();
        let mut stderr = String::new();
        let _ = self.0.stdout.take().unwrap().read_to_end(&mut stdout);
        let _ = self.0.stderr.take().unwrap().read_to_string(&mut stderr);
        (goreplay_records(&stdout), stderr)
    }
}

impl Drop for LiveReplayer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `replayer` daemon run by a test: its status socket and stderr live in a scratch
/// directory; killed when dropped.
pub struct DaemonProcess {
    pub child: std::process::Child,
    pub socket: PathBuf,
    pub stderr: PathBuf,
}

impl DaemonProcess {
    /// Starts `replayer ARGS --status-socket DIR/status.sock --sync-flag DIR/no-sync-flag`,
    /// stderr to `DIR/replayer.stderr`. Returns at once; see [`DaemonProcess::wait_for`].
    pub fn spawn(dir: &Path, args: &[&str]) -> DaemonProcess {
        DaemonProcess::spawn_with_env(dir, args, &[])
    }

    /// [`DaemonProcess::spawn`] with extra environment variables.
    pub fn spawn_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> DaemonProcess {
        DaemonProcess::spawn_via(dir, Command::new(bin("replayer")), args, env)
    }

    /// [`DaemonProcess::spawn`] through a launcher that ends by exec'ing its arguments'
    /// `replayer` (e.g. `unshare -m sh -c '...; exec "$0" "$@"' replayer ...`), so the pid
    /// stays the daemon's.
    pub fn spawn_via(
        dir: &Path,
        mut launcher: Command,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> DaemonProcess {
        std::fs::create_dir_all(dir).expect("create the daemon's directory");
        let socket = dir.join("status.sock");
        let stderr = dir.join("replayer.stderr");
        let child = launcher
            .args(args)
            .arg("--status-socket")
            .arg(&socket)
            .arg("--sync-flag")
            .arg(dir.join("no-sync-flag"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("create stderr file"))
            .spawn()
            .expect("spawn replayer");
        DaemonProcess {
            child,
            socket,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The status document, `None` while nothing answers; panics if the daemon has exited.
    pub fn status(&mut self) -> Option<replayer_status::StatusDocument> {
        if let Some(exit) = self.child.try_wait().expect("try_wait") {
            panic!("replayer exited ({exit}): {}", self.stderr_text());
        }
        read_status_document(&self.socket)
    }

    /// Polls the status document until `done` holds; panics with the last one otherwise.
    pub fn wait_for(
        &mut self,
        limit: Duration,
        what: &str,
        done: impl Fn(&replayer_status::StatusDocument) -> bool,
    ) -> replayer_status::StatusDocument {
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < limit {
            if let Some(doc) = self.status() {
                if done(&doc) {
                    return doc;
                }
                last = Some(doc);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "status never showed {what} within {limit:?}; last document: {last:#?}; stderr: {}",
            self.stderr_text()
        );
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for the daemon to exit by itself (within `limit`) and returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(
                start.elapsed() < limit,
                "replayer did not exit within {limit:?}: {}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then waits (at most 15 s) and returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.wait_exit(Duration::from_secs(15))
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `Name:` line of `/proc/PID/status` (or `/proc/PID/task/TID/status`), trimmed.
pub fn proc_status_field(status_file: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(status_file)
        .unwrap_or_else(|e| panic!("read {}: {e}", status_file.display()));
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in {}", status_file.display()))
        .trim()
        .to_string()
}

/// A process's `VmHWM` (peak resident memory) or `VmRSS`, in bytes.
pub fn proc_memory_bytes(pid: u32, field: &str) -> u64 {
    let value = proc_status_field(&PathBuf::from(format!("/proc/{pid}/status")), field);
    let kb: u64 = value
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{field} {value:?}: {e}"));
    kb * 1024
}

/// A [`DaemonProcess`] in `dir` capturing `lo:production_port` and replaying to `staging`,
/// once its status document satisfies `ready` (10 s at most). Its sync flag is
/// `dir/no-sync-flag`: write `true` there (before or after) to pause it.
pub fn start_live_daemon(
    dir: &Path,
    production_port: u16,
    staging: &str,
    extra: &[&str],
    ready: impl Fn(&replayer_status::StatusDocument) -> bool,
) -> DaemonProcess {
    assert!(is_root(), "live capture on lo needs root (CI runs as root)");
    let input = format!("-input-raw=lo:{production_port}");
    let output = format!("-output-http={staging}");
    let mut args = vec![input.as_str(), output.as_str()];
    args.extend_from_slice(extra);
    let mut daemon = DaemonProcess::spawn(dir, &args);
    daemon.wait_for(Duration::from_secs(10), "ready", ready);
    // libpcap is open once the document shows it; give the kernel filter a moment.
    std::thread::sleep(Duration::from_millis(200));
    daemon
}
