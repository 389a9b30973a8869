//! The harness shared by every end-to-end test: where the built binaries are, scratch
//! directories, external tools that must be present, and commands run with a time limit.
//!
//! Each test file is its own `[[test]]` target in `tests/Cargo.toml` and starts the real parts
//! it needs itself. A missing tool is a loud failure (the test command installs them all).

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

/// The shared public captures (`../shared/corpus` from the workspace root), if present.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/corpus");
    dir.is_dir().then_some(dir)
}

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
    use std::io::Read;
    let mut child = cmd
        .stdin(Stdio::null())
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
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

// ---- Icinga 2 (used by tests/icinga_*.rs and tests/puppet_*.rs) ----

/// The shipped Icinga 2 object files, one per kind of object (`icinga/icinga2/`).
pub fn icinga_conf_dir() -> PathBuf {
    workspace_root().join("icinga/icinga2")
}

/// The library part of the shipped configuration in load order: everything but the example
/// host (which needs the ITL's `hostalive`).
pub const ICINGA_LIBRARY_FILES: [&str; 5] = [
    "constants.conf",
    "commands.conf",
    "templates.conf",
    "services.conf",
    "downtimes.conf",
];

/// An `icinga2` command whose every write (cache, state, logs, spool, pid file) lands in
/// `dir`, running as the current user: `-DCacheDir=...` and friends plus `ICINGA2_USER` /
/// `ICINGA2_GROUP` (DESIGN.md §4). Creates the directories.
pub fn icinga2_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(require_tool("icinga2"));
    cmd.args(args);
    for (define, sub) in [
        ("CacheDir", "cache"),
        ("DataDir", "data"),
        ("LogDir", "log"),
        ("SpoolDir", "spool"),
        ("InitRunDir", "run"),
    ] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).expect("create icinga2 scratch dir");
        cmd.arg(format!("-D{define}={}", path.display()));
    }
    let (user, group) = current_user_and_group();
    cmd.env("ICINGA2_USER", user).env("ICINGA2_GROUP", group);
    cmd
}

/// `icinga2 daemon -C -c main_conf` (validation only, about 0.1 s), scratch state in `dir`.
pub fn icinga2_validate(dir: &Path, main_conf: &Path) -> Output {
    let conf = main_conf.to_str().expect("utf-8 path");
    run_with_timeout(
        &mut icinga2_command(dir, &["daemon", "-C", "-c", conf]),
        Duration::from_secs(60),
    )
}

/// Asserts an `icinga2` run succeeded and logged no error, returning its stdout.
pub fn assert_icinga2_ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stdout.contains("critical/"),
        "icinga2 failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

/// Names of the effective user and group, for `ICINGA2_USER` / `ICINGA2_GROUP`.
pub fn current_user_and_group() -> (String, String) {
    // SAFETY: getpwuid/getgrgid return NULL or a pointer to static storage that stays valid
    // until the next call; we copy the names out at once and the tests never call them
    // concurrently with anything that would overwrite it in between.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        let gr = libc::getgrgid(libc::getegid());
        assert!(
            !pw.is_null() && !gr.is_null(),
            "no passwd/group entry for this user"
        );
        let user = std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned();
        let group = std::ffi::CStr::from_ptr((*gr).gr_name)
            .to_string_lossy()
            .into_owned();
        (user, group)
    }
}

/// A free TCP port on 127.0.0.1 for a server the test starts itself (nginx, Icinga, ...).
///
/// Ports come from below the kernel's ephemeral range (32768-60999), so no client connection
/// can take one as its source port between this call and the server's bind, and a process-wide
/// cursor never hands the same port to two tests running in parallel. Each candidate is
/// checked by binding it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const SPAN: u32 = 22_000; // 10000..32000
    static CURSOR: AtomicU32 = AtomicU32::new(u32::MAX);
    // Start somewhere that depends on the process, so consecutive test binaries differ.
    let _ = CURSOR.compare_exchange(
        u32::MAX,
        (std::process::id().wrapping_mul(7919)) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let port = (LOW + CURSOR.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free TCP port on 127.0.0.1 in {LOW}..{}", LOW + SPAN);
}

/// The access-log format of [`Nginx`]: one request per line, tab-separated:
/// connection serial, method, request URI, Host, X-Forwarded-Host, User-Agent,
/// X-Replayed-By, request body length, status. Empty headers are `-`.
pub const NGINX_LOG_FORMAT: &str = "$connection\t$request_method\t$request_uri\t$http_host\t$http_x_forwarded_host\t$http_user_agent\t$http_x_replayed_by\t$request_length\t$status";

/// One line of [`Nginx`]'s access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub connection: String,
    pub method: String,
    pub uri: String,
    pub host: String,
    pub x_forwarded_host: String,
    pub user_agent: String,
    pub x_replayed_by: String,
    pub request_length: String,
    pub status: u16,
}

/// A real nginx on 127.0.0.1, its own prefix in a scratch directory (single process, no
/// daemon, no root files touched), stopped when dropped. `locations` is put inside the
/// `server` block; by default `location / { return 200 "ok\n"; }` answers everything.
pub struct Nginx {
    pub port: u16,
    pub dir: PathBuf,
    locations: String,
    child: Option<std::process::Child>,
}

impl Nginx {
    pub fn start(dir: &Path, locations: &str) -> Nginx {
        Nginx::start_on(dir, free_port(), locations)
    }

    pub fn start_on(dir: &Path, port: u16, locations: &str) -> Nginx {
        let mut nginx = Nginx {
            port,
            dir: dir.to_path_buf(),
            locations: locations.to_string(),
            child: None,
        };
        nginx.restart();
        nginx
    }

    /// Starts (again) on the same port, appending to the same access log.
    pub fn restart(&mut self) {
        self.stop();
        let dir = &self.dir;
        std::fs::create_dir_all(dir.join("tmp")).expect("nginx scratch dir");
        let locations = if self.locations.is_empty() {
            "location / { return 200 \"ok\\n\"; }"
        } else {
            &self.locations
        };
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 4096; }}\n\
             http {{\n  log_format replay '{fmt}';\n  access_log {d}/access.log replay;\n\
             client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy;\n\
             fastcgi_temp_path {d}/tmp/fastcgi; uwsgi_temp_path {d}/tmp/uwsgi;\n\
             scgi_temp_path {d}/tmp/scgi;\n  keepalive_requests 1000000;\n\
             server {{\n    listen 127.0.0.1:{port};\n    {locations}\n  }}\n}}\n",
            d = dir.display(),
            fmt = NGINX_LOG_FORMAT,
            port = self.port,
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new(require_tool("nginx"))
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "nginx exited ({status}): {}",
                    std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "nginx did not listen on {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops nginx (SIGKILL: immediate, like a crashed staging).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The access log so far, parsed.
    pub fn log(&self) -> Vec<LogLine> {
        let text = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        text.lines()
            .map(|line| {
                let f: Vec<&str> = line.split('\t').collect();
                assert_eq!(f.len(), 9, "unexpected access log line {line:?}");
                LogLine {
                    connection: f[0].into(),
                    method: f[1].into(),
                    uri: f[2].into(),
                    host: f[3].into(),
                    x_forwarded_host: f[4].into(),
                    user_agent: f[5].into(),
                    x_replayed_by: f[6].into(),
                    request_length: f[7].into(),
                    status: f[8].parse().expect("status"),
                }
            })
            .collect()
    }

    /// Waits until the access log holds at least `n` lines (or `limit` passes) and returns it.
    pub fn wait_for_log(&self, n: usize, limit: Duration) -> Vec<LogLine> {
        let start = Instant::now();
        loop {
            let log = self.log();
            if log.len() >= n || start.elapsed() > limit {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One record of GoReplay's file format, as `-output-stdout` and `-output-file` write it:
/// a `1 <id> <timestamp_ns> <latency>` meta line, the raw request, then `🐵🙈🙉` on its own line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub meta: String,
    pub payload: Vec<u8>,
}

impl Record {
    /// `METHOD TARGET` from the request line.
    pub fn request_line(&self) -> String {
        let line = self.payload.split(|&b| b == b'\n').next().unwrap_or(b"");
        let line = String::from_utf8_lossy(line);
        let mut parts = line.split(' ');
        format!(
            "{} {}",
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("")
        )
    }
}

/// Splits GoReplay-format output into records, failing loudly on anything malformed.
pub fn goreplay_records(out: &[u8]) -> Vec<Record> {
    const SEPARATOR: &[u8] = "\n🐵🙈🙉\n".as_bytes();
    let mut records = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        let end = rest
            .windows(SEPARATOR.len())
            .position(|w| w == SEPARATOR)
            .unwrap_or_else(|| {
                panic!(
                    "record without separator: {:?}",
                    String::from_utf8_lossy(rest)
                )
            });
        let record = &rest[..end];
        let nl = record.iter().position(|&b| b == b'\n').expect("meta line");
        let meta = String::from_utf8_lossy(&record[..nl]).into_owned();
        assert!(meta.starts_with("1 "), "meta line {meta:?}");
        records.push(Record {
            meta,
            payload: record[nl + 1..].to_vec(),
        });
        rest = &rest[end + SEPARATOR.len()..];
    }
    records
}

/// A classic pcap file (microsecond timestamps) built packet by packet, for synthetic cases.
pub struct PcapBuilder {
    bytes: Vec<u8>,
    ts_us: u64,
}

/// TCP flag bits for [`eth_ipv4_tcp`].
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

impl PcapBuilder {
    /// `linktype`: 1 Ethernet, 0 BSD loopback, 101 raw IP, 276 Linux SLL2 ...
    pub fn new(linktype: u32) -> PcapBuilder {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&0i32.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&65535u32.to_le_bytes());
        bytes.extend_from_slice(&linktype.to_le_bytes());
        PcapBuilder {
            bytes,
            ts_us: 1_700_000_000_000_000,
        }
    }

    /// Appends a frame, 1 ms after the previous one.
    pub fn frame(&mut self, frame: &[u8]) -> &mut Self {
        self.ts_us += 1_000;
        let (sec, usec) = (self.ts_us / 1_000_000, self.ts_us % 1_000_000);
        self.bytes.extend_from_slice(&(sec as u32).to_le_bytes());
        self.bytes.extend_from_slice(&(usec as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(frame);
        self
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.bytes).expect("write pcap");
    }
}

/// An Ethernet II + IPv4 + TCP frame (checksums left zero: nothing here verifies them).
pub fn eth_ipv4_tcp(
    src: std::net::SocketAddrV4,
    dst: std::net::SocketAddrV4,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(54 + payload.len());
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let total = (20 + 20 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src.ip().octets());
    f.extend_from_slice(&dst.ip().octets());
    f.extend_from_slice(&src.port().to_be_bytes());
    f.extend_from_slice(&dst.port().to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

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

/// Sets a file's modification time, e.g. to make a sync flag look set 13 hours ago.
pub fn set_mtime(path: &Path, time: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
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

// ---- The daemon as a process, its memory and capabilities (abuse_*, faults_*, security_*) ----

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

/// A TCP server that answers every request head with a 200 (keep-alive, empty body) and
/// records each head as received, for tests that must see every header staging got.
pub struct RecordingServer {
    pub port: u16,
    heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl RecordingServer {
    pub fn start() -> RecordingServer {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = heads.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = recorded.clone();
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    loop {
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head: Vec<u8> = buf.drain(..end + 4).collect();
                            recorded
                                .lock()
                                .unwrap()
                                .push(String::from_utf8_lossy(&head).into_owned());
                            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                            if stream.write_all(answer).is_err() {
                                return;
                            }
                        }
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        RecordingServer { port, heads }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The request heads received so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// One TCP connection in a synthetic capture: SYN on creation, then requests, each one
/// segment (or several for big payloads), with the sequence numbers kept.
pub struct SyntheticConnection {
    pub client: std::net::SocketAddrV4,
    pub server: std::net::SocketAddrV4,
    seq: u32,
}

impl SyntheticConnection {
    /// Appends the client's SYN to `pcap`.
    pub fn open(
        pcap: &mut PcapBuilder,
        client: std::net::SocketAddrV4,
        server: std::net::SocketAddrV4,
    ) -> SyntheticConnection {
        pcap.frame(&eth_ipv4_tcp(client, server, 1000, 0, tcp_flags::SYN, b""));
        SyntheticConnection {
            client,
            server,
            seq: 1001,
        }
    }

    /// Appends `data` from the client in segments of at most `mss` bytes.
    pub fn send(&mut self, pcap: &mut PcapBuilder, data: &[u8], mss: usize) {
        for piece in data.chunks(mss.max(1)) {
            let flags = tcp_flags::ACK | tcp_flags::PSH;
            pcap.frame(&eth_ipv4_tcp(
                self.client,
                self.server,
                self.seq,
                1,
                flags,
                piece,
            ));
            self.seq = self.seq.wrapping_add(piece.len() as u32);
        }
    }

    /// Appends the client's FIN.
    pub fn close(self, pcap: &mut PcapBuilder) {
        let flags = tcp_flags::FIN | tcp_flags::ACK;
        pcap.frame(&eth_ipv4_tcp(
            self.client,
            self.server,
            self.seq,
            1,
            flags,
            b"",
        ));
    }
}

impl PcapBuilder {
    /// Moves the capture clock on by `us` microseconds (the next frame comes 1 ms after that).
    pub fn skip_time(&mut self, us: u64) -> &mut Self {
        self.ts_us += us;
        self
    }

    /// Frames appended so far.
    pub fn frame_count(&self) -> u64 {
        let mut count = 0;
        let mut at = 24;
        while at + 16 <= self.bytes.len() {
            let len = u32::from_le_bytes(self.bytes[at + 8..at + 12].try_into().unwrap());
            at += 16 + len as usize;
            count += 1;
        }
        count
    }
}

// ---- a live daemon (tests/status_cmd.rs, tests/metrics_prometheus.rs) ----

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

/// curl over one keep-alive connection: `GET http://127.0.0.1:PORT PATH` for each path.
pub fn curl_get(port: u16, paths: &[&str]) {
    let mut cmd = Command::new(require_tool("curl"));
    for (i, path) in paths.iter().enumerate() {
        if i > 0 {
            cmd.arg("--next");
        }
        cmd.args(["-s", "-o", "/dev/null"])
            .arg(format!("http://127.0.0.1:{port}{path}"));
    }
    let out = run_with_timeout(&mut cmd, Duration::from_secs(20));
    assert!(out.status.success(), "curl failed: {out:?}");
}

/// xorshift64: a tiny deterministic generator, so a test's random inputs reproduce from its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}
