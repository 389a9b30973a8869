//! A real nginx as production or staging: its own prefix in a scratch directory, a free
//! port, and an access log in a format the tests parse ([`LogLine`]).

use super::{free_port, require_tool};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The access-log format of [`Nginx`]: one request per line, tab-separated:
/// connection serial, method, request URI, Host, X-Forwarded-Host, User-Agent,
/// X-Replayed-By, request body length, status. Empty headers are `-`.
pub const NGINX_LOG_FORMAT: &str = "$connection\t$request_method\t$request_uri\t$http_host\t$http_x_forwarded_host\t$http_user_agent\t$http_x_replayed_by\t$request_length\t$status\t$pipe";

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
    /// Whether nginx read this request pipelined behind another (`$pipe` is `p`).
    pub pipelined: bool,
}

/// A real nginx on 127.0.0.1, its own prefix in a scratch directory (single process, no
/// daemon, no root files touched), stopped when dropped. `locations` is put inside the
/// `server` block; by default `location / { return 200 "ok\n"; }` answers everything.
pub struct Nginx {
    pub port: u16,
    pub dir: PathBuf,
    locations: String,
    /// The address it listens on: 127.0.0.1, or 0.0.0.0 inside a network namespace of the
    /// test's own (the fleet test), where other namespaces reach it.
    listen: String,
    /// Directives added to the `http` block (a second, timed access log).
    http_extra: String,
    child: Option<std::process::Child>,
}

impl Nginx {
    pub fn start(dir: &Path, locations: &str) -> Nginx {
        Nginx::start_on(dir, free_port(), locations)
    }

    pub fn start_on(dir: &Path, port: u16, locations: &str) -> Nginx {
        Nginx::start_listening(dir, "127.0.0.1", port, locations, "")
    }

    /// Listening on `listen:port`, with `http_extra` in the `http` block. Started from a
    /// thread inside a network namespace, nginx runs in that namespace (the readiness probe
    /// to 127.0.0.1 too, so `listen` must cover loopback: 127.0.0.1 or 0.0.0.0).
    pub fn start_listening(
        dir: &Path,
        listen: &str,
        port: u16,
        locations: &str,
        http_extra: &str,
    ) -> Nginx {
        let mut nginx = Nginx {
            port,
            dir: dir.to_path_buf(),
            locations: locations.to_string(),
            listen: listen.to_string(),
            http_extra: http_extra.to_string(),
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
             scgi_temp_path {d}/tmp/scgi;\n  keepalive_requests 1000000;\n  {extra}\n\
             server {{\n    listen {listen}:{port};\n    {locations}\n  }}\n}}\n",
            d = dir.display(),
            fmt = NGINX_LOG_FORMAT,
            port = self.port,
            listen = self.listen,
            extra = self.http_extra,
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
                assert_eq!(f.len(), 10, "unexpected access log line {line:?}");
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
                    pipelined: f[9] == "p",
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
