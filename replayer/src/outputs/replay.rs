//! The HTTP output: every request goes to every `-output-http` target, in real time.
//!
//! Per target: a bounded multi-consumer queue and worker tasks on tokio, as many of them
//! sending at a time as the target's adaptive concurrency allows (`concurrency`: more while
//! a backlog builds and staging keeps its pace, fewer when it slows or fails, always within
//! `-output-http-workers-min`..`-max`). Each worker owns one keep-alive connection to its
//! target (plain TCP or TLS), opens it when it first needs it and again after a failure.
//! [`ReplayOutput::emit`] only does a non-blocking `try_send` per target: when a queue is
//! full the request is dropped and counted, so capture never waits and a slow or dead
//! staging costs drops, never memory.
//!
//! **Pipelining.** A worker takes the request at the head of the queue and, when more are
//! waiting, up to `-output-http-pipeline` of them, writes them in one go and reads the
//! answers in order (RFC 9112 §9.3.2). At full load this is what keeps up: one write and
//! a few reads carry many requests, where one request per round trip spends the two
//! cores on system calls and wake-ups. Only idempotent requests are followed by another
//! (a POST, when allowed, ends its batch); with `-output-http-redirects` each request goes
//! alone, since a redirect is followed on the same connection. A server that answers
//! `Connection: close` processed nothing after that answer (RFC 9112 §9.6), so the rest
//! of the batch goes again on a new connection; any other break fails the rest, because
//! staging may have served them and replay must never send a request twice.
//!
//! What goes out is what was captured (after `filter` → `rewrite` → `limit`), byte for
//! byte where HTTP allows: see `wire` for the request head (method, request-target,
//! version, header case and order; `Host` becomes the target's unless
//! `-http-original-host`; the de-chunked body goes with a `Content-Length`).
//!
//! Each response's status and latency (to the end of the body, which is read and thrown
//! away so the connection carries the next request) are recorded in [`Stats`]. Redirects are
//! recorded, not followed, unless `-output-http-redirects N`; even then only to the target
//! itself, since nothing may be sent anywhere but the configured targets.
//!
//! Long because a target (URL, TLS, cached DNS), its queues, the drain and the workers'
//! exchange loop are one output; the part that stands alone, the wire format, is in `wire`.

use super::concurrency::{Concurrency, WorkerRange};
use super::wire::{self, ExchangeError, HeadRule, Unsendable};
use crate::capture::types::now_ns;
use crate::join::{Join, Observed};
use crate::outputs::record::{record_id_of, TRACKED_BODY};
use crate::outputs::{Output, OutputError};
use crate::records::{Kind, Record};
use crate::request::Request;
use crate::status::stats::Stats;
use rustls::pki_types::ServerName;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use url::Url;

/// How long staging has to answer one request (`-output-http-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Workers (and connections) a target starts with, and the fixed count before adaptive
/// concurrency. GoReplay's default is unbounded.
pub const DEFAULT_WORKERS: usize = 8;
/// The adaptive range's floor (`-output-http-workers-min`): one connection stays warm.
pub const DEFAULT_WORKERS_MIN: usize = 1;
/// The adaptive range's ceiling (`-output-http-workers-max`): with pipelining a handful of
/// connections carry a busy host's traffic (docs/benchmarks.md); 64 is room for a staging
/// with high latency, and still no storm for one that slows down (which lowers the count).
pub const DEFAULT_WORKERS_MAX: usize = 64;
/// Requests one worker writes before reading their answers (`-output-http-pipeline`).
/// Deep enough that a full-load batch costs one write; shallow enough that a failure
/// mid-batch costs little.
pub const DEFAULT_PIPELINE: usize = 16;
/// Requests waiting per target before new ones are dropped (`-output-http-queue-len`): a
/// fifth of a second of a busy host's traffic (50,000 requests/s), which is what absorbs the
/// moments when the replay gets no CPU. On a 2-core host shared with production, 1000 (a
/// fiftieth of a second) dropped 1 to 6 % at full load; 10,000 dropped nothing
/// (docs/benchmarks.md). At most a few MB: a queued request is its head and body.
pub const DEFAULT_QUEUE: usize = 10_000;
/// How long a resolved staging address is used before it is looked up again.
pub const DNS_REFRESH: Duration = Duration::from_secs(30);

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Base URLs, as parsed by [`parse_target`].
    pub targets: Vec<Url>,
    /// How many workers (and connections) per target may send at a time.
    pub workers: WorkerRange,
    /// Requests a worker writes before reading their answers; 1 = no pipelining.
    pub pipeline: usize,
    /// Requests waiting per target before new ones are dropped.
    pub queue: usize,
    /// How long one request may take: connecting, writing it, reading the response, and
    /// any redirects followed. Past it the request counts as failed, its connection closed.
    pub timeout: Duration,
    /// Accept any certificate (`-output-http-skip-verify`).
    pub skip_verify: bool,
    /// Keep the captured `Host` header (`-http-original-host`).
    pub original_host: bool,
    /// Redirects followed within the target (`-output-http-redirects`); 0, the default,
    /// follows none and records the 3xx.
    pub redirects: u32,
    /// Where staging's answers go to be compared with production's (`--diff`); `None`
    /// reads only their status.
    pub join: Option<Arc<Join>>,
    /// Where staging's answers go as GoReplay's type-3 records
    /// (`--output-http-track-response`): called on a worker, so it must not wait.
    pub staging_records: Option<StagingRecords>,
}

/// A receiver of staging's answers as type-3 records, called from the replay workers.
#[derive(Clone)]
pub struct StagingRecords(pub Arc<dyn Fn(Record) + Send + Sync>);

impl std::fmt::Debug for StagingRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StagingRecords")
    }
}

impl ReplayConfig {
    /// The defaults for these targets: adaptive workers from [`DEFAULT_WORKERS_MIN`] to
    /// [`DEFAULT_WORKERS_MAX`], [`DEFAULT_PIPELINE`], [`DEFAULT_QUEUE`], [`DEFAULT_TIMEOUT`],
    /// certificates verified, the target's own `Host`, no redirects.
    pub fn new(targets: Vec<Url>) -> ReplayConfig {
        ReplayConfig {
            targets,
            workers: WorkerRange {
                min: DEFAULT_WORKERS_MIN,
                max: DEFAULT_WORKERS_MAX,
            },
            pipeline: DEFAULT_PIPELINE,
            join: None,
            staging_records: None,
            queue: DEFAULT_QUEUE,
            timeout: DEFAULT_TIMEOUT,
            skip_verify: false,
            original_host: false,
            redirects: 0,
        }
    }
}

/// Why replay could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// An `-output-http` target that cannot be used; the message names it (without any
    /// password) and says why.
    #[error("output-http: {0}")]
    BadTarget(String),
    /// The TLS client could not be set up.
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// Parses an `-output-http` value (without its `|limit`), the one parser for targets: no
/// scheme means `http://`; only http and https; a host is required; a query or fragment is
/// refused (every replayed request brings its own, so one here would be silently lost);
/// credentials are refused (they would be logged and shown in the status document). A path
/// is a prefix put before each request-target. Messages never show a password.
pub fn parse_target(value: &str) -> Result<Url, ReplayError> {
    let address = value.trim();
    let shown = redact_userinfo(address);
    let bad = |reason: String| ReplayError::BadTarget(reason);
    let with_scheme = if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| bad(format!("'{shown}' is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!(
            "'{shown}': only http:// and https:// targets are supported"
        )));
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(bad(format!("'{shown}' has no host")));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(format!(
            "'{shown}': credentials in a target URL are not supported (they would be logged \
             and shown in the status document); set a header with -http-set-header instead"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(format!(
            "'{shown}': a target may not have a query or fragment (each replayed request \
             brings its own)"
        )));
    }
    if url.scheme() == "https" {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        ServerName::try_from(bare.to_string())
            .map_err(|e| bad(format!("'{shown}': not a TLS server name: {e}")))?;
    }
    Ok(url)
}

/// `scheme://user:password@host/...` with the user part shown as `***`, for messages.
pub fn redact_userinfo(address: &str) -> String {
    let start = address.find("://").map_or(0, |i| i + 3);
    let authority_end = address[start..]
        .find(['/', '?', '#'])
        .map_or(address.len(), |i| start + i);
    match address[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &address[..start], &address[start + at..]),
        None => address.to_string(),
    }
}

/// The TLS library's crypto provider: ring, chosen in Cargo.toml because it builds without
/// cmake. Installed once per process; a second call is a no-op.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The TLS client configuration shared by every https target: the system's CA store
/// (`/etc/ssl/certs`), or no certificate check at all with `-output-http-skip-verify`.
fn tls_config(skip_verify: bool) -> Result<Arc<rustls::ClientConfig>, ReplayError> {
    install_crypto_provider();
    let builder = rustls::ClientConfig::builder();
    let mut config = if skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate))
            .with_no_client_auth()
    } else {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = rustls::RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(ReplayError::Tls(format!(
                "no CA certificate found in the system store ({} errors); \
                 install ca-certificates or use -output-http-skip-verify",
                found.errors.len()
            )));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `-output-http-skip-verify`: any certificate, any name. The handshake signatures are
/// still checked (so the session keys are the server's), only trust is skipped.
#[derive(Debug)]
struct AnyCertificate;

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        algorithms().supported_schemes()
    }
}

fn algorithms() -> rustls::crypto::WebPkiSupportedAlgorithms {
    rustls::crypto::ring::default_provider().signature_verification_algorithms
}

/// A DNS cache for one target's host: resolved once, then again at most every
/// [`DNS_REFRESH`] when a new connection needs it (a worker's open connection needs no
/// lookup at all). When a refresh fails the last good answer is kept, so a DNS blip does
/// not take replay down. IP addresses need no lookup.
struct CachingResolver {
    host: String,
    port: u16,
    literal: Option<IpAddr>,
    cache: Mutex<Option<(Vec<SocketAddr>, Instant)>>,
}

impl CachingResolver {
    fn new(host: &str, port: u16) -> CachingResolver {
        // url keeps IPv6 literals in brackets.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        CachingResolver {
            host: host.to_string(),
            port,
            literal: bare.parse().ok(),
            cache: Mutex::new(None),
        }
    }

    async fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        if let Some(ip) = self.literal {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let cached = self.cache.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some((addrs, at)) = &cached {
            if at.elapsed() < DNS_REFRESH {
                return Ok(addrs.clone());
            }
        }
        match tokio::net::lookup_host((self.host.as_str(), self.port)).await {
            Ok(found) => {
                let addrs: Vec<SocketAddr> = found.collect();
                *self.cache.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((addrs.clone(), Instant::now()));
                Ok(addrs)
            }
            Err(e) => match cached {
                Some((addrs, _)) => {
                    tracing::warn!(
                        "DNS refresh of {} failed ({e}); keeping the last answer",
                        self.host
                    );
                    Ok(addrs)
                }
                None => Err(e),
            },
        }
    }
}

/// The replay output: one queue and worker pool per target.
pub struct ReplayOutput {
    queues: Vec<async_channel::Sender<Arc<Request>>>,
    stats: Arc<Stats>,
    /// The comparison with production's answers, when on.
    join: Option<Arc<Join>>,
    drain: Drainer,
}

/// Ends the replay from any thread: new requests are refused, the workers empty their
/// queues and finish what is in flight, for up to the drain timeout. Held by the daemon's
/// main thread, so that stopping never depends on the capture thread coming back.
#[derive(Clone)]
pub struct Drainer {
    closing: Arc<AtomicBool>,
    queues: Vec<async_channel::Sender<Arc<Request>>>,
    /// Each target's concurrency: every worker is let loose to empty the queue.
    concurrency: Vec<Arc<Concurrency>>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
    runtime: tokio::runtime::Handle,
    drain_timeout: Duration,
}

impl Drainer {
    /// Closes the queues and waits for the workers (at most the drain timeout; what is
    /// left then is abandoned). Blocks; call it from a plain thread, not the runtime.
    /// Returns whether everything finished in time.
    pub fn drain(&self) -> bool {
        self.closing.store(true, Ordering::Relaxed);
        // A closed queue still hands out what it holds, then ends each worker's loop.
        self.queues.iter().for_each(|q| {
            q.close();
        });
        self.concurrency.iter().for_each(|c| c.open_all());
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
        self.closing.load(Ordering::Relaxed)
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
        let tls = if config.targets.iter().any(|t| t.scheme() == "https") {
            Some(TlsConnector::from(tls_config(config.skip_verify)?))
        } else {
            None
        };
        let mut queues = Vec::new();
        let mut workers = Vec::new();
        let mut controls = Vec::new();
        let range = WorkerRange {
            min: config.workers.min.max(1),
            max: config.workers.max.max(config.workers.min).max(1),
        };
        for (index, base) in config.targets.iter().enumerate() {
            let target = Arc::new(Target::new(index, base, config, tls.clone())?);
            let (tx, rx) = async_channel::bounded::<Arc<Request>>(config.queue.max(1));
            let control = Arc::new(Concurrency::new(range, target.pipeline));
            stats.workers(index, control.active());
            for slot in 0..range.max {
                let worker = Worker::new(target.clone(), stats.clone(), control.clone(), slot);
                workers.push(runtime.spawn(worker.run(rx.clone())));
            }
            if range.is_adaptive() {
                let (control, stats, tx) = (control.clone(), stats.clone(), tx.clone());
                workers.push(runtime.spawn(async move {
                    control
                        .control(|| tx.len(), || tx.is_closed(), |n| stats.workers(index, n))
                        .await
                }));
            }
            controls.push(control);
            queues.push(tx);
        }
        Ok(ReplayOutput {
            queues: queues.clone(),
            stats,
            join: config.join.clone(),
            drain: Drainer {
                closing: Arc::new(AtomicBool::new(false)),
                queues,
                concurrency: controls,
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
        let id = request.id;
        let tracked = self.join.as_ref().is_some_and(|join| join.expect(&request));
        let sent = match queue.try_send(request) {
            Ok(()) => {
                self.stats.queued(target);
                true
            }
            Err(async_channel::TrySendError::Full(_)) => {
                self.stats.dropped_queue_full(target);
                false
            }
            Err(async_channel::TrySendError::Closed(_)) => false,
        };
        if tracked && !sent {
            if let Some(join) = &self.join {
                join.staging_gone(id);
            }
        }
    }

    /// Number of staging targets (each has its queue, workers and counters).
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

/// One target, worked out once from its URL so that nothing is parsed per request.
struct Target {
    index: usize,
    /// The target URL as given, for messages.
    name: String,
    /// `https`: the connector and the name the certificate must carry.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    resolver: CachingResolver,
    /// `host[:port]` as written in the URL (port left out when it is the scheme's default).
    authority: String,
    /// `scheme://authority`, to recognise an absolute `Location` on the target itself.
    origin: String,
    /// The target's path prefix without its trailing slash (usually empty).
    base_path: String,
    original_host: bool,
    timeout: Duration,
    redirects: u32,
    /// Requests per pipelined batch; 1 when redirects are followed (see the module doc).
    pipeline: usize,
    /// The comparison with production's answers, when on.
    join: Option<Arc<Join>>,
    /// Where staging's answers go as type-3 records (`--output-http-track-response`).
    staging_records: Option<StagingRecords>,
}

impl Target {
    /// Body bytes of each answer kept for its type-3 record; 0 when none is written.
    fn record_limit(&self) -> usize {
        if self.staging_records.is_some() {
            TRACKED_BODY
        } else {
            0
        }
    }

    /// Hands staging's answer on as a type-3 record (`raw` is `Some` only when recording).
    fn record(&self, record_id: Option<bytes::Bytes>, raw: Option<Vec<u8>>, latency: Duration) {
        let (Some(to), Some(id), Some(raw)) = (&self.staging_records, record_id, raw) else {
            return;
        };
        (to.0)(Record {
            kind: Kind::Replayed,
            id,
            timestamp_ns: now_ns(),
            latency_ns: latency.as_nanos() as u64,
            payload: raw.into(),
        });
    }

    fn new(
        index: usize,
        base: &Url,
        config: &ReplayConfig,
        tls: Option<TlsConnector>,
    ) -> Result<Target, ReplayError> {
        let bad = |reason: &str| ReplayError::BadTarget(format!("'{base}': {reason}"));
        let host = base.host_str().ok_or_else(|| bad("no host"))?;
        let port = base.port_or_known_default().ok_or_else(|| bad("no port"))?;
        let authority = match base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let tls = match (base.scheme(), tls) {
            ("https", Some(connector)) => {
                let bare = host.trim_start_matches('[').trim_end_matches(']');
                let name = ServerName::try_from(bare.to_string())
                    .map_err(|e| bad(&format!("not a TLS server name: {e}")))?;
                Some((connector, name))
            }
            _ => None,
        };
        Ok(Target {
            index,
            name: base.as_str().trim_end_matches('/').to_string(),
            tls,
            resolver: CachingResolver::new(host, port),
            origin: format!("{}://{authority}", base.scheme()),
            authority,
            base_path: base.path().trim_end_matches('/').to_string(),
            original_host: config.original_host,
            timeout: config.timeout,
            redirects: config.redirects,
            pipeline: if config.redirects > 0 {
                1
            } else {
                config.pipeline.max(1)
            },
            join: config.join.clone(),
            staging_records: config.staging_records.clone(),
        })
    }

    fn rule(&self) -> HeadRule<'_> {
        HeadRule {
            authority: &self.authority,
            original_host: self.original_host,
        }
    }

    /// A new connection: the cached addresses tried in turn, then TLS if https.
    async fn connect(&self) -> Result<Box<dyn Stream>, SendError> {
        let mut last = None;
        for addr in self.resolver.resolve().await? {
            match TcpStream::connect(addr).await {
                Ok(tcp) => {
                    // Requests are written whole; do not hold them back for more.
                    tcp.set_nodelay(true)?;
                    return Ok(match &self.tls {
                        None => Box::new(tcp),
                        Some((connector, name)) => {
                            Box::new(connector.connect(name.clone(), tcp).await?)
                        }
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| std::io::Error::other("the name resolved to no address"))
            .into())
    }

    /// The path of a `Location` that stays on this target (relative, or absolute with the
    /// target's own scheme and authority); `None` for anywhere else, which is not followed.
    fn same_target_path<'a>(&self, location: &'a str) -> Option<&'a str> {
        if location.starts_with('/') && !location.starts_with("//") {
            return Some(location);
        }
        let rest = location.strip_prefix(self.origin.as_str())?;
        (rest.is_empty() || rest.starts_with(['/', '?'])).then_some(rest)
    }
}

/// A connection to staging, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// Methods RFC 9110 §9.2.2 calls idempotent: safe to follow with another request before
/// their answer, and to send again when staging closed before reading them.
fn is_idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}

#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("{0}")]
    Unsendable(#[from] Unsendable),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Exchange(#[from] ExchangeError),
    #[error("no answer within the timeout")]
    Timeout,
}

impl SendError {
    /// The write or the wait for the first answer found a connection staging had already
    /// closed (see [`ExchangeError::is_stale_connection`]).
    fn is_stale_connection(&self) -> bool {
        match self {
            SendError::Exchange(e) => e.is_stale_connection(),
            SendError::Io(e) => wire::is_reset(e),
            SendError::Unsendable(_) | SendError::Timeout => false,
        }
    }
}

/// One worker: its connection (opened on demand, dropped on any failure) and its buffers,
/// reused from request to request.
struct Worker {
    target: Arc<Target>,
    stats: Arc<Stats>,
    control: Arc<Concurrency>,
    /// This worker's place among the target's: it sends only while below the active count.
    slot: usize,
    connection: Option<Box<dyn Stream>>,
    /// Whether `connection` has already carried a request (so the server may have closed
    /// it meanwhile).
    reused: bool,
    /// The requests as written: heads and bodies, one after the other.
    message: Vec<u8>,
    /// Each request of a batch: where it starts in `message`, whether it is a HEAD, its id.
    /// Each request of the batch: where it starts in `message`, whether it is a HEAD, its
    /// id, and its record id when staging's answers are recorded (type 3).
    sent: Vec<(usize, bool, u64, Option<bytes::Bytes>)>,
    /// The connection's read buffer.
    buf: Vec<u8>,
}

impl Worker {
    fn new(
        target: Arc<Target>,
        stats: Arc<Stats>,
        control: Arc<Concurrency>,
        slot: usize,
    ) -> Worker {
        Worker {
            target,
            stats,
            control,
            slot,
            connection: None,
            reused: false,
            message: Vec::with_capacity(2048),
            sent: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Takes requests until the queue is closed and empty, parking (with no connection
    /// open) while its slot is above the target's active count.
    async fn run(mut self, queue: async_channel::Receiver<Arc<Request>>) {
        let mut batch = Vec::with_capacity(self.target.pipeline);
        loop {
            if !self.control.may_work(self.slot) {
                self.connection = None;
                self.control.wait_turn(self.slot).await;
                continue;
            }
            let Ok(first) = queue.recv().await else {
                break;
            };
            batch.push(first);
            // More of the waiting requests on the same write, after idempotent ones only.
            while batch.len() < self.target.pipeline
                && batch
                    .last()
                    .is_some_and(|r: &Arc<Request>| is_idempotent(&r.method))
            {
                match queue.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            if self.target.redirects > 0 {
                for request in batch.drain(..) {
                    self.send_alone(&request).await;
                }
            } else {
                self.send_batch(&batch).await;
                batch.clear();
            }
        }
    }

    /// One request, with redirects followed within the target.
    async fn send_alone(&mut self, request: &Request) {
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.target.timeout, self.send(request))
            .await
            .unwrap_or(Err(SendError::Timeout));
        match outcome {
            Ok((status, raw)) => {
                let latency = started.elapsed();
                let record_id = self
                    .target
                    .staging_records
                    .as_ref()
                    .map(|_| record_id_of(request));
                self.target.record(record_id, raw, latency);
                self.answered(request.id, status, latency)
            }
            Err(e) => {
                // Whatever state the connection is in, it cannot be trusted now.
                self.connection = None;
                self.failed(&[request.id], &e);
            }
        }
    }

    /// An answer to a request sent alone (redirects followed): counted, not compared, since
    /// what production answered was the first hop.
    fn answered(&self, id: u64, status: u16, latency: Duration) {
        self.stats.response(self.target.index, status, latency);
        self.control.answered(latency);
        if let Some(join) = &self.target.join {
            join.staging_gone(id);
        }
    }

    fn failed(&self, ids: &[u64], e: &SendError) {
        let requests = ids.len();
        tracing::debug!(target = %self.target.name, requests, "replay failed: {e}");
        for &id in ids {
            self.stats.failed(self.target.index);
            self.control.failed();
            if let Some(join) = &self.target.join {
                join.staging_gone(id);
            }
        }
    }

    /// A batch on one connection: written at once, answered in order. Each answer's time
    /// runs from when staging could start on it (the write, or the previous answer's end)
    /// to the end of its body, so a request that waited behind others in the pipeline
    /// is not charged for their time.
    async fn send_batch(&mut self, batch: &[Arc<Request>]) {
        let target = self.target.clone();
        self.message.clear();
        self.sent.clear();
        for request in batch {
            let start = self.message.len();
            let head = wire::write_head(
                &mut self.message,
                &target.rule(),
                request,
                &request.method,
                &request.target,
                &target.base_path,
                request.body.len(),
            );
            match head {
                Ok(()) => {
                    self.message.extend_from_slice(&request.body);
                    let head = request.method.as_bytes() == b"HEAD";
                    let record_id = target
                        .staging_records
                        .as_ref()
                        .map(|_| record_id_of(request));
                    self.sent.push((start, head, request.id, record_id));
                }
                Err(e) => {
                    self.message.truncate(start);
                    self.failed(&[request.id], &e.into());
                }
            }
        }
        let mut next = 0; // the first request not answered yet
        let mut stale_retry = true;
        while next < self.sent.len() {
            let round = next;
            let outcome = self.pipeline_round(&mut next).await;
            match outcome {
                Ok(()) => {}
                Err(e) => {
                    self.connection = None;
                    let untouched = next == round;
                    if untouched && self.reused && stale_retry && e.is_stale_connection() {
                        // A pooled connection staging had closed: nothing reached it.
                        stale_retry = false;
                        continue;
                    }
                    let ids: Vec<u64> = self.sent[next..].iter().map(|s| s.2).collect();
                    self.failed(&ids, &e);
                    return;
                }
            }
        }
        // Bytes after the last answer: staging is confused; do not reuse the connection.
        if !self.buf.is_empty() {
            self.connection = None;
        }
    }

    /// Writes the batch from request `*next` on (on the open connection or a new one) and
    /// reads answers, advancing `*next`, until all are answered or staging says it closes.
    async fn pipeline_round(&mut self, next: &mut usize) -> Result<(), SendError> {
        let timeout = self.target.timeout;
        if self.connection.is_none() {
            let connected = tokio::time::timeout(timeout, self.target.connect()).await;
            self.connection = Some(connected.unwrap_or(Err(SendError::Timeout))?);
            self.reused = false;
            self.buf.clear();
        }
        let Some(io) = self.connection.as_mut() else {
            unreachable!("connected above")
        };
        let from = self.sent[*next].0;
        tokio::time::timeout(timeout, wire::send(io, &self.message[from..]))
            .await
            .unwrap_or(Err(std::io::ErrorKind::TimedOut.into()))?;
        let mut clock = Instant::now();
        let record = self.target.record_limit();
        let keep = match &self.target.join {
            Some(join) => wire::Keep::Observed(join.digest()),
            None => wire::Keep::Status {
                want_location: false,
            },
        };
        while *next < self.sent.len() {
            let (_, head_request, id) =
                (self.sent[*next].0, self.sent[*next].1, self.sent[*next].2);
            let record_id = self.sent[*next].3.clone();
            let read = wire::read_response(io, &mut self.buf, head_request, keep, record);
            let response = tokio::time::timeout(timeout, read)
                .await
                .map_err(|_| SendError::Timeout)??;
            let latency = clock.elapsed();
            clock = Instant::now();
            *next += 1;
            self.reused = true;
            self.stats
                .response(self.target.index, response.status, latency);
            self.control.answered(latency);
            self.target.record(record_id, response.raw, latency);
            if let (Some(join), Some(body)) = (&self.target.join, response.body) {
                join.staging(
                    id,
                    Observed {
                        status: response.status,
                        content_type: response.content_type.map(Into::into),
                        location: response.location.map(|l| l.into_bytes().into()),
                        body,
                        latency: Some(latency),
                    },
                );
            }
            if !response.reusable {
                // Staging answered and closes: what follows was never processed.
                self.connection = None;
                return Ok(());
            }
        }
        Ok(())
    }

    /// Sends one request (following redirects within the target when configured) and
    /// returns the final status, and the final response as received when it is recorded.
    async fn send(&mut self, request: &Request) -> Result<(u16, Option<Vec<u8>>), SendError> {
        let target = self.target.clone();
        let mut method: &str = &request.method;
        let mut body: &[u8] = &request.body;
        self.message.clear();
        wire::write_head(
            &mut self.message,
            &target.rule(),
            request,
            method,
            &request.target,
            &target.base_path,
            body.len(),
        )?;
        self.message.extend_from_slice(body);
        let mut redirects = target.redirects;
        loop {
            let response = self.exchange(method == "HEAD", redirects > 0).await?;
            let next = response
                .location
                .as_deref()
                .filter(|_| (300..400).contains(&response.status) && redirects > 0)
                .and_then(|l| target.same_target_path(l));
            let Some(path) = next else {
                return Ok((response.status, response.raw));
            };
            redirects -= 1;
            if response.status == 303 {
                (method, body) = ("GET", &[]);
            }
            self.message.clear();
            wire::write_head(
                &mut self.message,
                &target.rule(),
                request,
                method,
                path,
                "",
                body.len(),
            )?;
            self.message.extend_from_slice(body);
        }
    }

    /// Writes `self.message` and reads the answer, on the open connection or a new one.
    /// A kept-alive connection that the server had closed (idle timeout, request limit)
    /// is replaced once, since the request never reached it.
    async fn exchange(
        &mut self,
        head_request: bool,
        want_location: bool,
    ) -> Result<wire::Response, SendError> {
        loop {
            if self.connection.is_none() {
                self.connection = Some(self.target.connect().await?);
                self.reused = false;
            }
            let Some(io) = self.connection.as_mut() else {
                unreachable!("connected above")
            };
            let result = wire::exchange(
                io,
                &mut self.buf,
                &self.message,
                head_request,
                want_location,
                self.target.record_limit(),
            )
            .await;
            match result {
                Ok(response) => {
                    if response.reusable {
                        self.reused = true;
                    } else {
                        self.connection = None;
                    }
                    return Ok(response);
                }
                Err(e) => {
                    self.connection = None;
                    if !(self.reused && e.is_stale_connection()) {
                        return Err(e.into());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        let mut config = ReplayConfig::new(vec![]);
        config.redirects = 1;
        let tls = Some(TlsConnector::from(tls_config(true).unwrap()));
        Target::new(0, &parse_target(url).unwrap(), &config, tls).unwrap()
    }

    #[test]
    fn targets_are_worked_out_once() {
        let t = target("https://staging.example:8443/shadow/");
        assert_eq!(t.authority, "staging.example:8443");
        assert_eq!(t.base_path, "/shadow");
        assert_eq!(t.name, "https://staging.example:8443/shadow");
        assert!(t.tls.is_some());
        let t = target("http://[::1]:80");
        assert_eq!((t.authority.as_str(), t.base_path.as_str()), ("[::1]", ""));
        assert!(t.tls.is_none());
        assert_eq!(t.resolver.literal, Some("::1".parse().unwrap()));
    }

    #[test]
    fn only_redirects_to_the_target_itself_are_followed() {
        let t = target("http://staging.example:8080");
        assert_eq!(t.same_target_path("/a?b"), Some("/a?b"));
        assert_eq!(
            t.same_target_path("http://staging.example:8080/x"),
            Some("/x")
        );
        assert_eq!(t.same_target_path("//elsewhere.example/x"), None);
        assert_eq!(
            t.same_target_path("http://staging.example:8080.evil/x"),
            None
        );
        assert_eq!(t.same_target_path("https://staging.example:8080/x"), None);
        assert_eq!(t.same_target_path("http://www.example.org/x"), None);
    }

    #[test]
    fn dns_answers_are_cached() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let resolver = CachingResolver::new("localhost", 80);
        let first = rt.block_on(resolver.resolve()).unwrap();
        assert!(first.iter().any(|a| a.ip().is_loopback()), "{first:?}");
        let cached_at = resolver.cache.lock().unwrap().as_ref().unwrap().1;
        let second = rt.block_on(resolver.resolve()).unwrap();
        assert_eq!(first, second);
        assert_eq!(
            resolver.cache.lock().unwrap().as_ref().unwrap().1,
            cached_at,
            "not looked up again"
        );
    }
}
