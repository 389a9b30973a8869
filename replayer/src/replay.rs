//! The HTTP output: every request goes to every `-output-http` target, in real time.
//!
//! Per target: a bounded queue and a fixed pool of worker tasks on tokio sharing one
//! `reqwest` client (pooled keep-alive connections, HTTP/1.1, no redirects, no proxies from
//! the environment, a total timeout per request). [`ReplayOutput::emit`] only does a
//! non-blocking `try_send` per target: when a queue is full the request is dropped and
//! counted, so capture never waits and a slow or dead staging costs drops, never memory.
//!
//! What goes out is what was captured (after `filter` → `rewrite` → `limit`): method,
//! request-target, headers and body. Connection-level headers (`Connection`, `Keep-Alive`,
//! `Transfer-Encoding`, `Content-Length`, `Expect`, ...) are the client's business and are
//! set again by the HTTP client; `Host` becomes the target's host unless
//! `-http-original-host`. Known differences from the wire: the request-target is parsed as a
//! URL, so dot segments are resolved and characters a URL may not hold are percent-encoded,
//! and `Accept: */*` is added when the request had no `Accept` (reqwest always does).
//!
//! Each response's status and latency (to the end of the body, which is read and thrown
//! away so the connection goes back to the pool) are recorded in [`Stats`].

use crate::output::{Output, OutputError};
use crate::request::Request;
use crate::stats::Stats;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Url;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_WORKERS: usize = 32;
pub const DEFAULT_QUEUE: usize = 4096;
/// How long a resolved staging address is used before it is looked up again.
pub const DNS_REFRESH: Duration = Duration::from_secs(30);

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Base URLs, as parsed by [`parse_target`].
    pub targets: Vec<Url>,
    /// Concurrent requests per target.
    pub workers: usize,
    /// Requests waiting per target before new ones are dropped.
    pub queue: usize,
    pub timeout: Duration,
    /// Accept any certificate (`-output-http-skip-verify`).
    pub skip_verify: bool,
    /// Keep the captured `Host` header (`-http-original-host`).
    pub original_host: bool,
    /// Redirects followed (`-output-http-redirects`); 0, the default, follows none and
    /// records the 3xx.
    pub redirects: u32,
}

impl ReplayConfig {
    pub fn new(targets: Vec<Url>) -> ReplayConfig {
        ReplayConfig {
            targets,
            workers: DEFAULT_WORKERS,
            queue: DEFAULT_QUEUE,
            timeout: DEFAULT_TIMEOUT,
            skip_verify: false,
            original_host: false,
            redirects: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("bad -output-http target `{target}`: {reason}")]
    BadTarget { target: String, reason: String },
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Parses an `-output-http` value (without its `|limit`): no scheme means `http://`; only
/// http and https; a host is required; query and fragment are refused (every request brings
/// its own). A path is a prefix put before each request-target.
pub fn parse_target(value: &str) -> Result<Url, ReplayError> {
    let bad = |reason: &str| ReplayError::BadTarget {
        target: value.to_string(),
        reason: reason.to_string(),
    };
    let with_scheme = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a target may not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials in the target URL are not supported"));
    }
    Ok(url)
}

/// The TLS library's crypto provider: ring, chosen in Cargo.toml because it builds without
/// cmake. Installed once per process; a second call is a no-op.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds the client shared by one target's workers.
fn client(
    config: &ReplayConfig,
    resolver: Arc<CachingResolver>,
) -> Result<reqwest::Client, ReplayError> {
    install_crypto_provider();
    Ok(reqwest::Client::builder()
        .http1_only()
        .redirect(match config.redirects {
            0 => reqwest::redirect::Policy::none(),
            n => reqwest::redirect::Policy::limited(n as usize),
        })
        .no_proxy()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .pool_max_idle_per_host(config.workers)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .tls_danger_accept_invalid_certs(config.skip_verify)
        .dns_resolver(resolver)
        .build()?)
}

/// A DNS cache: a staging name is resolved once, then again at most every [`DNS_REFRESH`]
/// when a new connection needs it (pooled connections need no lookup at all). When a
/// refresh fails the last good answer is kept, so a DNS blip does not take replay down.
#[derive(Default)]
struct CachingResolver {
    cache: Arc<Mutex<HashMap<String, Resolved>>>,
}

/// Addresses found for a name, and when.
type Resolved = (Vec<SocketAddr>, Instant);

impl Resolve for CachingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&host)
            .cloned();
        if let Some((addrs, at)) = &cached {
            if at.elapsed() < DNS_REFRESH {
                let addrs: Addrs = Box::new(addrs.clone().into_iter());
                return Box::pin(std::future::ready(Ok(addrs)));
            }
        }
        let cache = self.cache.clone();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.clone(), 0)).await;
            match found {
                Ok(found) => {
                    let addrs: Vec<SocketAddr> = found.collect();
                    cache
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(host, (addrs.clone(), Instant::now()));
                    Ok(Box::new(addrs.into_iter()) as Addrs)
                }
                Err(e) => match cached {
                    Some((addrs, _)) => {
                        tracing::warn!(
                            "DNS refresh of {host} failed ({e}); keeping the last answer"
                        );
                        Ok(Box::new(addrs.into_iter()) as Addrs)
                    }
                    None => Err(e.into()),
                },
            }
        })
    }
}

/// The replay output: one queue and worker pool per target.
pub struct ReplayOutput {
    queues: Vec<mpsc::Sender<Arc<Request>>>,
    stats: Arc<Stats>,
    drain: Drainer,
}

/// Ends the replay from any thread: new requests are refused, the workers empty their
/// queues and finish what is in flight, for up to the drain timeout. Held by the daemon's
/// main thread, so that stopping never depends on the capture thread coming back.
#[derive(Clone)]
pub struct Drainer {
    closing: watch::Sender<bool>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
    runtime: tokio::runtime::Handle,
    drain_timeout: Duration,
}

impl Drainer {
    /// Closes the queues and waits for the workers (at most the drain timeout; what is
    /// left then is abandoned). Blocks; call it from a plain thread, not the runtime.
    /// Returns whether everything finished in time.
    pub fn drain(&self) -> bool {
        self.closing.send_replace(true);
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        let aborts: Vec<_> = workers.iter().map(JoinHandle::abort_handle).collect();
        let (runtime, drain_timeout) = (self.runtime.clone(), self.drain_timeout);
        // Handle::block_on may not run on a runtime thread: wait from a plain one.
        let drained = std::thread::scope(|s| {
            s.spawn(|| {
                runtime.block_on(async {
                    tokio::time::timeout(drain_timeout, async {
                        for worker in workers {
                            let _ = worker.await;
                        }
                    })
                    .await
                    .is_ok()
                })
            })
            .join()
            .unwrap_or(false)
        });
        if !drained {
            aborts.iter().for_each(|a| a.abort());
        }
        drained
    }

    fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }
}

impl ReplayOutput {
    /// Starts the workers on `runtime`. `stats` must have been made with the same targets,
    /// in the same order.
    pub fn start(
        config: &ReplayConfig,
        stats: Arc<Stats>,
        runtime: tokio::runtime::Handle,
        drain_timeout: Duration,
    ) -> Result<ReplayOutput, ReplayError> {
        let closing = watch::Sender::new(false);
        let mut queues = Vec::new();
        let mut workers = Vec::new();
        for (index, base) in config.targets.iter().enumerate() {
            let client = client(config, Arc::new(CachingResolver::default()))?;
            let (tx, rx) = mpsc::channel::<Arc<Request>>(config.queue.max(1));
            let rx = Arc::new(tokio::sync::Mutex::new(rx));
            let target = Arc::new(Target {
                index,
                prefix: base.as_str().trim_end_matches('/').to_string(),
                base: base.clone(),
                base_path: base.path().trim_end_matches('/').to_string(),
                original_host: config.original_host,
                client,
            });
            for _ in 0..config.workers.max(1) {
                let (rx, target, stats) = (rx.clone(), target.clone(), stats.clone());
                let closing = closing.subscribe();
                workers.push(runtime.spawn(worker(rx, target, stats, closing)));
            }
            queues.push(tx);
        }
        Ok(ReplayOutput {
            queues,
            stats,
            drain: Drainer {
                closing,
                workers: Arc::new(Mutex::new(workers)),
                runtime,
                drain_timeout,
            },
        })
    }

    /// The handle that ends this replay from another thread.
    pub fn drainer(&self) -> Drainer {
        self.drain.clone()
    }

    /// Queues a request for one target (the daemon uses this when targets have their own
    /// `URL|N` limits); never waits: a full queue drops and counts. Once draining has
    /// begun nothing more is taken.
    pub fn emit_to(&self, target: usize, request: Arc<Request>) {
        if self.drain.is_closing() {
            return;
        }
        let Some(queue) = self.queues.get(target) else {
            return;
        };
        match queue.try_send(request) {
            Ok(()) => self.stats.queued(target),
            Err(_) => self.stats.dropped_queue_full(target),
        }
    }

    pub fn targets(&self) -> usize {
        self.queues.len()
    }
}

impl Output for ReplayOutput {
    fn emit(&mut self, request: &Request) -> Result<(), OutputError> {
        let shared = Arc::new(request.clone());
        for target in 0..self.queues.len() {
            self.emit_to(target, shared.clone());
        }
        Ok(())
    }

    /// Lets the workers finish what is queued and in flight, for up to the drain timeout.
    fn finish(&mut self) -> Result<(), OutputError> {
        if !self.drain.drain() {
            tracing::warn!(
                in_flight = self.stats.in_flight(),
                "drain timeout reached; abandoning requests still in flight"
            );
        }
        Ok(())
    }
}

/// What a worker needs to know about its target.
struct Target {
    index: usize,
    /// The target URL as given, for messages.
    prefix: String,
    /// The target URL, cloned for each request (so its host is parsed once, not per request).
    base: Url,
    /// The target's path prefix without its trailing slash (usually empty).
    base_path: String,
    original_host: bool,
    client: reqwest::Client,
}

async fn worker(
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Arc<Request>>>>,
    target: Arc<Target>,
    stats: Arc<Stats>,
    mut closing: watch::Receiver<bool>,
) {
    loop {
        // Only one idle worker waits on the queue at a time; the lock is released as soon
        // as it has a request, so the others go on sending. Once draining, take what is
        // left without waiting, then stop.
        let next = {
            let mut queue = queue.lock().await;
            if *closing.borrow() {
                queue.try_recv().ok()
            } else {
                tokio::select! {
                    next = queue.recv() => next,
                    _ = closing.wait_for(|closing| *closing) => queue.try_recv().ok(),
                }
            }
        };
        let Some(request) = next else { return };
        let started = Instant::now();
        match send(&target, &request).await {
            Ok(status) => stats.response(target.index, status, started.elapsed()),
            Err(e) => {
                tracing::debug!(target = %target.prefix, "replay failed: {e}");
                stats.failed(target.index);
            }
        }
    }
}

/// Sends one request, reads and discards the body, returns the status.
async fn send(target: &Target, captured: &Request) -> Result<u16, SendError> {
    let request = build(target, captured)?;
    let mut response = target.client.execute(request).await?;
    let status = response.status().as_u16();
    // Drain so the connection is reused; a body cut short still leaves a status to count.
    while let Ok(Some(_)) = response.chunk().await {}
    Ok(status)
}

#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("cannot express the request: {0}")]
    Unsendable(String),
}

/// Headers that describe the captured connection rather than the request: the client sets
/// its own.
const CONNECTION_HEADERS: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "expect",
];

/// The captured request as a `reqwest::Request` to this target.
fn build(target: &Target, captured: &Request) -> Result<reqwest::Request, SendError> {
    let method = reqwest::Method::from_bytes(captured.method.as_bytes())
        .map_err(|_| SendError::Unsendable(format!("method {:?}", captured.method)))?;
    let wire_target = origin_form(&captured.target)?;
    let (path, query) = match wire_target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (wire_target, None),
    };
    let mut url = target.base.clone();
    if target.base_path.is_empty() {
        url.set_path(path);
    } else {
        url.set_path(&format!("{}{path}", target.base_path));
    }
    url.set_query(query);
    let mut request = reqwest::Request::new(method, url);
    let headers: &mut HeaderMap = request.headers_mut();
    for header in &captured.headers {
        let name = header.name.as_str();
        if CONNECTION_HEADERS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
            || (!target.original_host && name.eq_ignore_ascii_case("host"))
        {
            continue;
        }
        // A header the HTTP library cannot carry (bad bytes) is left out, not fatal.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(header.name.as_bytes()),
            HeaderValue::from_bytes(&header.value),
        ) {
            headers.append(name, value);
        }
    }
    if !captured.body.is_empty() {
        *request.body_mut() = Some(captured.body.clone().into());
    }
    Ok(request)
}

/// The path-and-query of a request-target: origin form as is, absolute form stripped of its
/// scheme and authority. `*` (server-wide OPTIONS) cannot be sent by an HTTP client library.
fn origin_form(target: &str) -> Result<&str, SendError> {
    if target.starts_with('/') {
        return Ok(target);
    }
    if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        // `http://host?q` has an empty path: the client sends `/?q` for it.
        return Ok(rest.find(['/', '?']).map_or("", |at| &rest[at..]));
    }
    Err(SendError::Unsendable(format!("request-target {target:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Connection, Header};

    fn target(url: &str, original_host: bool) -> Target {
        install_crypto_provider();
        let base = parse_target(url).unwrap();
        Target {
            index: 0,
            prefix: base.as_str().trim_end_matches('/').to_string(),
            base_path: base.path().trim_end_matches('/').to_string(),
            base,
            original_host,
            client: reqwest::Client::new(),
        }
    }

    fn captured(method: &str, target: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            id: 1,
            captured_at_ns: 0,
            connection: Connection {
                client: "10.0.0.1:1000".parse().unwrap(),
                server: "10.0.0.2:80".parse().unwrap(),
            },
            method: method.into(),
            target: target.into(),
            version_minor: 1,
            headers: headers
                .iter()
                .map(|(n, v)| Header {
                    name: n.to_string(),
                    value: v.as_bytes().to_vec(),
                })
                .collect(),
            body: bytes::Bytes::new(),
        }
    }

    #[test]
    fn request_target_and_headers_as_captured_minus_the_connection_ones() {
        let t = target("https://staging.example:8443/", false);
        let req = build(
            &t,
            &captured(
                "GET",
                "/a/b?x=1&y=%2F",
                &[
                    ("Host", "www.example.org"),
                    ("Connection", "keep-alive"),
                    ("transfer-encoding", "chunked"),
                    ("X-Custom", "1"),
                    ("x-custom", "2"),
                    ("Expect", "100-continue"),
                ],
            ),
        )
        .unwrap();
        assert_eq!(
            req.url().as_str(),
            "https://staging.example:8443/a/b?x=1&y=%2F"
        );
        let h = req.headers();
        assert!(h.get("host").is_none(), "Host comes from the target");
        assert!(h.get("connection").is_none() && h.get("transfer-encoding").is_none());
        assert!(h.get("expect").is_none());
        let custom: Vec<_> = h.get_all("x-custom").iter().collect();
        assert_eq!(custom, ["1", "2"]);

        let keep = target("http://staging.example", true);
        let req = build(
            &keep,
            &captured("HEAD", "/", &[("Host", "www.example.org")]),
        )
        .unwrap();
        assert_eq!(req.headers()["host"], "www.example.org");
        assert_eq!(req.method(), reqwest::Method::HEAD);
    }

    #[test]
    fn prefixes_absolute_form_and_unsendable_targets() {
        let t = target("http://staging.example/shadow/", false);
        let url =
            |target: &str| build(&t, &captured("GET", target, &[])).map(|r| r.url().to_string());
        assert_eq!(url("/p?q").unwrap(), "http://staging.example/shadow/p?q");
        assert_eq!(
            url("http://www.example.org/abs?q=1").unwrap(),
            "http://staging.example/shadow/abs?q=1"
        );
        assert!(matches!(url("*"), Err(SendError::Unsendable(_))));
        let bad_method = build(&t, &captured("GE T", "/", &[]));
        assert!(matches!(bad_method, Err(SendError::Unsendable(_))));
    }

    #[test]
    fn dns_answers_are_cached() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let resolver = CachingResolver::default();
        let name: Name = "localhost".parse().unwrap();
        let first: Vec<SocketAddr> = rt.block_on(resolver.resolve(name)).unwrap().collect();
        assert!(first.iter().any(|a| a.ip().is_loopback()), "{first:?}");
        let cached_at = resolver.cache.lock().unwrap()["localhost"].1;
        let name: Name = "localhost".parse().unwrap();
        let second: Vec<SocketAddr> = rt.block_on(resolver.resolve(name)).unwrap().collect();
        assert_eq!(first, second);
        assert_eq!(
            resolver.cache.lock().unwrap()["localhost"].1,
            cached_at,
            "not looked up again"
        );
    }
}
