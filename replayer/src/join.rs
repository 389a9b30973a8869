//! `join`: production's answer and staging's answers to the same request, brought together
//! and compared.
//!
//! The two sides arrive on different threads and in either order: production's response on
//! the capture thread (framed from the server's packets, usually within milliseconds of the
//! request), staging's on a replay worker. Each request queued for replay gets an entry,
//! keyed by its id; the entry waits for production's answer and for each target's outcome
//! (an answer, a failure, a drop), compares each staging answer with production's as soon as
//! both are there, and goes once nothing more can come. An entry still waiting after
//! [`EXPIRY`] is settled: staging answers without production's become `prod_missing`.
//!
//! Memory is bounded: at most [`MAX_PENDING`] entries (requests in flight on either side);
//! beyond that new requests are not tracked and are counted as such, never compared half.
//! The entries are split into shards by id, so the capture thread and the workers seldom
//! wait on one another.

use crate::diff::compare::{compare, Answer, Rules};
use crate::diff::digest::{Digest, DigestConfig};
use crate::diff::noise::{Noise, NoiseConfig};
use crate::request::Request;
use crate::response::Response;
use crate::status::diff_counts::{DiffOutcome, Example};
use crate::status::stats::Stats;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests tracked at once, all shards together.
pub const MAX_PENDING: usize = 100_000;
/// How long an entry waits for the side that has not answered.
pub const EXPIRY: Duration = Duration::from_secs(10);
const SHARDS: usize = 16;

/// One side's answer, kept until the other side's comes.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Status code.
    pub status: u16,
    /// `Content-Type`, as sent.
    pub content_type: Option<Box<[u8]>>,
    /// `Location`, as sent.
    pub location: Option<Box<[u8]>>,
    /// The body's digest.
    pub body: Digest,
    /// The answer's latency.
    pub latency: Option<Duration>,
}

impl Observed {
    fn answer(&self) -> Answer<'_> {
        Answer {
            status: self.status,
            content_type: self.content_type.as_deref(),
            location: self.location.as_deref(),
            body_hash: self.body.hash,
            body_len: self.body.decoded_len,
            body_decoded: self.body.error.is_none(),
            latency: self.latency,
        }
    }

    /// Production's side, from a captured response.
    pub fn from_production(response: &Response) -> Observed {
        Observed {
            status: response.status,
            content_type: response.content_type.as_deref().map(Into::into),
            location: response.location.as_deref().map(Into::into),
            body: response.body,
            latency: response.latency_ns.map(Duration::from_nanos),
        }
    }
}

struct Pending {
    request: Arc<Request>,
    created: Instant,
    /// Targets whose outcome has not come yet.
    waiting: u32,
    production: Option<Observed>,
    /// Production answers this request differently each time (known with its answer).
    noisy: bool,
    /// Staging answers that came before production's.
    staged: Vec<Observed>,
}

impl std::fmt::Debug for Join {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Join")
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

/// The comparison table of one daemon.
pub struct Join {
    digest: DigestConfig,
    /// Request-targets whose answers are not compared.
    ignore_urls: Vec<regex::Regex>,
    shards: Vec<Mutex<HashMap<u64, Pending>>>,
    noise: Mutex<Noise>,
    rules: Rules,
    stats: Arc<Stats>,
}

impl Join {
    /// An empty table; bodies digested as `digest` says (staging's here, production's by
    /// capture with the same settings), compared by `rules`, targets matching `ignore_urls`
    /// left out; outcomes counted in `stats`.
    pub fn new(
        digest: DigestConfig,
        rules: Rules,
        ignore_urls: Vec<regex::Regex>,
        stats: Arc<Stats>,
    ) -> Join {
        stats.enable_diff();
        Join {
            digest,
            ignore_urls,
            rules,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            noise: Mutex::new(Noise::new(NoiseConfig::default())),
            stats,
        }
    }

    /// How bodies are digested.
    pub fn digest(&self) -> &DigestConfig {
        &self.digest
    }

    fn shard(&self, id: u64) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.shards[(id as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// `request` is queued for one more target. Returns false when the table is full (the
    /// pair is counted as not tracked and nothing more is expected of it).
    pub fn expect(&self, request: &Arc<Request>) -> bool {
        if self.ignore_urls.iter().any(|r| r.is_match(&request.target)) {
            return false;
        }
        let mut shard = self.shard(request.id);
        if let Some(pending) = shard.get_mut(&request.id) {
            pending.waiting += 1;
            return true;
        }
        if shard.len() >= MAX_PENDING / SHARDS {
            drop(shard);
            self.stats.diff_untracked();
            return false;
        }
        shard.insert(
            request.id,
            Pending {
                request: request.clone(),
                created: Instant::now(),
                waiting: 1,
                production: None,
                noisy: false,
                staged: Vec::new(),
            },
        );
        true
    }

    /// Production's answer. Ignored for requests not replayed (filtered, paused, sampled
    /// out) and for responses not paired with certainty.
    pub fn production(&self, response: &Response) {
        let Some(id) = response.request_id else {
            return;
        };
        let mut shard = self.shard(id);
        let Some(pending) = shard.get_mut(&id) else {
            return;
        };
        if pending.production.is_some() {
            return; // one answer per request; a second would be a pairing error
        }
        let observed = Observed::from_production(response);
        pending.noisy = self
            .noise
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe(
                &pending.request.method,
                &pending.request.target,
                observed.status,
                (observed.body.hash, observed.body.decoded_len),
                response.first_byte_ns,
            );
        let staged = std::mem::take(&mut pending.staged);
        for staging in &staged {
            self.record(pending, &observed, staging);
        }
        let done = pending.waiting == 0;
        pending.production = Some(observed);
        if done {
            shard.remove(&id);
        }
    }

    /// A target's answer to request `id`.
    pub fn staging(&self, id: u64, answer: Observed) {
        let mut shard = self.shard(id);
        let Some(pending) = shard.get_mut(&id) else {
            return;
        };
        pending.waiting = pending.waiting.saturating_sub(1);
        match &pending.production {
            Some(production) => {
                self.record(pending, production, &answer);
                if pending.waiting == 0 {
                    shard.remove(&id);
                }
            }
            None => pending.staged.push(answer),
        }
    }

    /// A target will not answer request `id` (failed, dropped on a full queue).
    pub fn staging_gone(&self, id: u64) {
        let mut shard = self.shard(id);
        let Some(pending) = shard.get_mut(&id) else {
            return;
        };
        pending.waiting = pending.waiting.saturating_sub(1);
        if pending.waiting == 0 && (pending.production.is_some() || pending.staged.is_empty()) {
            shard.remove(&id);
        }
    }

    /// Settles entries older than [`EXPIRY`] at `now`: staging answers still without
    /// production's count as `prod_missing`. Call it about once a second.
    pub fn sweep(&self, now: Instant) {
        for shard in &self.shards {
            let mut missing = 0;
            shard
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|_, pending| {
                    if now.duration_since(pending.created) < EXPIRY {
                        return true;
                    }
                    if pending.production.is_none() {
                        missing += pending.staged.len();
                    }
                    false
                });
            for _ in 0..missing {
                self.stats.compared(DiffOutcome::ProdMissing, None);
            }
        }
    }

    /// Requests waiting for one side or the other.
    pub fn pending(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    fn record(&self, pending: &Pending, production: &Observed, staging: &Observed) {
        let comparison = compare(&production.answer(), &staging.answer(), &self.rules);
        let outcome = DiffOutcome::Compared {
            causes: comparison.causes,
            noisy: pending.noisy,
            slower: comparison.slower,
        };
        let example = Example {
            id: pending.request.id,
            method: &pending.request.method,
            target: &pending.request.target,
            production_status: production.status,
            staging_status: staging.status,
        };
        self.stats.compared(outcome, Some(example));
    }
}
