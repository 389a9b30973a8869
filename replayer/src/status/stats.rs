//! Counters for the status document: totals since start, per-second ring buckets that give
//! exact 60/300/900-second windows, a latency histogram per bucket (p50/p99 per window) and
//! per-target counters.
//!
//! Everything on the hot path is a relaxed atomic add: the capture thread and the replay
//! workers record without locks. The only lock is taken once per second per bucket, by the
//! first writer of a new second, to clear the bucket it reuses from 904 seconds ago.
//! Readers (the status server, once per client) sum the buckets whose second is inside the
//! window, so a window is an exact sum of whole seconds plus the current, partial one.
//!
//! Long because the ring buckets, windows and latency bins share one layout, checked together
//! by the unit tests (about 160 of the lines, concurrent writers included).

use crate::stages::filter::Reason;
use crate::status::diff_counts::{DiffCounts, DiffOutcome, Example, RouteTable, TOP_ROUTES};
use replayer_status::schema::{
    DiffCounters, DiffRoute, Latency, RequestCounters, ResponseClasses, TargetStatus, Window,
    WINDOWS,
};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{self, Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept: the longest window (900 s) plus slack, so that the bucket a writer of the
/// next second clears is never one a reader of the longest window still sums.
const RING_SECONDS: u64 = 904;

/// Latency histogram bins (microseconds): 0..3 µs one bin each, then 4 bins per power of two
/// up to 2^27 µs (134 s), beyond the longest sensible timeout. Relative error under 12 %.
const LATENCY_BINS: usize = 108;

/// A bucket's `second` before it was ever written.
const NEVER: u64 = u64::MAX;

/// Per-request events that happen before (or instead of) the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A complete request came out of capture.
    Seen,
    /// Rejected by the method/URL/header filters.
    Filtered,
    /// Dropped by a rate or percentage limiter.
    SampledOut,
    /// Dropped because a data sync is in progress.
    PausedSync,
}

/// One second of figures.
struct Bucket {
    /// Seconds since start that this bucket holds; `NEVER` when unused.
    second: AtomicU64,
    seen: AtomicU64,
    filtered: AtomicU64,
    sampled_out: AtomicU64,
    paused_sync: AtomicU64,
    dropped_queue_full: AtomicU64,
    replayed: AtomicU64,
    failed: AtomicU64,
    c5xx: AtomicU64,
    packets: AtomicU64,
    latency: [AtomicU64; LATENCY_BINS],
    diff: DiffCounts,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            second: AtomicU64::new(NEVER),
            seen: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            sampled_out: AtomicU64::new(0),
            paused_sync: AtomicU64::new(0),
            dropped_queue_full: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            c5xx: AtomicU64::new(0),
            packets: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            diff: DiffCounts::default(),
        }
    }

    fn clear(&self) {
        for counter in [
            &self.seen,
            &self.filtered,
            &self.sampled_out,
            &self.paused_sync,
            &self.dropped_queue_full,
            &self.replayed,
            &self.failed,
            &self.c5xx,
            &self.packets,
        ] {
            counter.store(0, Relaxed);
        }
        for bin in &self.latency {
            bin.store(0, Relaxed);
        }
        self.diff.clear();
    }
}

/// Responses by status class, as atomics.
#[derive(Default)]
struct Classes([AtomicU64; 5]);

impl Classes {
    fn count(&self, status: u16) {
        if let Some(class) = (status / 100).checked_sub(1).filter(|c| *c < 5) {
            self.0[class as usize].fetch_add(1, Relaxed);
        }
    }
    fn snapshot(&self) -> ResponseClasses {
        let c = |i: usize| self.0[i].load(Relaxed);
        ResponseClasses {
            c1xx: c(0),
            c2xx: c(1),
            c3xx: c(2),
            c4xx: c(3),
            c5xx: c(4),
        }
    }
}

/// Counters for one `-output-http` target.
struct TargetCounters {
    url: String,
    queued: AtomicU64,
    replayed: AtomicU64,
    failed: AtomicU64,
    dropped_queue_full: AtomicU64,
    responses: Classes,
    /// Workers allowed to send now (a gauge, set by the target's concurrency control).
    workers: AtomicU64,
}

/// Totals since start.
#[derive(Default)]
struct Totals {
    seen: AtomicU64,
    filtered: AtomicU64,
    sampled_out: AtomicU64,
    paused_sync: AtomicU64,
    queued: AtomicU64,
    replayed: AtomicU64,
    dropped_queue_full: AtomicU64,
    failed: AtomicU64,
    /// `filtered` by reason, indexed by [`Reason::index`].
    filtered_by: [AtomicU64; Reason::ALL.len()],
    responses: Classes,
    /// Latency of every answer since start, in [`LATENCY_BUCKETS_S`] (for Prometheus).
    latency: LatencyTotals,
    /// Production's answers against staging's.
    diff: DiffCounts,
}

/// Upper bounds (seconds) of the cumulative latency histogram Prometheus gets: its
/// conventional buckets, fixed so that dashboards can rely on them.
pub const LATENCY_BUCKETS_S: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Answers per bucket (not cumulative; the last one is above every bound) and the sum of
/// their latencies in microseconds.
#[derive(Default)]
struct LatencyTotals {
    buckets: [AtomicU64; LATENCY_BUCKETS_S.len() + 1],
    sum_us: AtomicU64,
}

/// The latency histogram since start, Prometheus-shaped.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyHistogram {
    /// `(le, answers with latency <= le)` for each bound of [`LATENCY_BUCKETS_S`], cumulative.
    pub buckets: Vec<(f64, u64)>,
    /// All answers (the `+Inf` bucket).
    pub count: u64,
    /// Sum of all answers' latencies, in seconds (Prometheus `_sum`).
    pub sum_seconds: f64,
}

/// All the figures of one daemon run. Shared behind an `Arc` by capture, replay and status.
///
/// With several targets, `queued`, `replayed`, `failed` and `dropped_queue_full` count
/// (request, target) pairs: each target gets every request.
pub struct Stats {
    start: Instant,
    totals: Totals,
    targets: Vec<TargetCounters>,
    ring: Box<[Bucket]>,
    /// Held only while a bucket is being recycled for a new second.
    recycle: Mutex<()>,
    /// Whether answers are compared (production's responses captured).
    diff_enabled: AtomicBool,
    /// Differing pairs by route.
    diff_routes: RouteTable,
}

impl Stats {
    /// Figures for the given targets (URLs as shown in the status document).
    pub fn new(target_urls: &[String]) -> Stats {
        Stats {
            start: Instant::now(),
            totals: Totals::default(),
            targets: target_urls
                .iter()
                .map(|url| TargetCounters {
                    url: url.clone(),
                    queued: AtomicU64::new(0),
                    replayed: AtomicU64::new(0),
                    failed: AtomicU64::new(0),
                    dropped_queue_full: AtomicU64::new(0),
                    responses: Classes::default(),
                    workers: AtomicU64::new(0),
                })
                .collect(),
            ring: (0..RING_SECONDS).map(|_| Bucket::new()).collect(),
            recycle: Mutex::new(()),
            diff_enabled: AtomicBool::new(false),
            diff_routes: RouteTable::default(),
        }
    }

    /// Time since the figures started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Counts one `event` now: in the total since start and in the current second's
    /// bucket of the windows.
    pub fn count(&self, event: Event) {
        self.count_at(event, self.elapsed());
    }

    /// Packets captured since the last call (the daemon samples the capture's total once a
    /// second, so that windows can say how much traffic there was).
    pub fn packets(&self, delta: u64) {
        self.bucket(self.elapsed())
            .packets
            .fetch_add(delta, Relaxed);
    }

    /// A request was put in `target`'s queue.
    pub fn queued(&self, target: usize) {
        self.totals.queued.fetch_add(1, Relaxed);
        self.targets[target].queued.fetch_add(1, Relaxed);
    }

    /// `target`'s queue was full: the request was dropped.
    pub fn dropped_queue_full(&self, target: usize) {
        self.dropped_queue_full_at(target, self.elapsed());
    }

    /// `target` answered with `status` after `latency`.
    pub fn response(&self, target: usize, status: u16, latency: Duration) {
        self.response_at(target, status, latency, self.elapsed());
    }

    /// `target` now lets `active` workers send at a time.
    pub fn workers(&self, target: usize, active: usize) {
        self.targets[target].workers.store(active as u64, Relaxed);
    }

    /// Says that answers are compared (the status document's `diff.enabled`).
    pub fn enable_diff(&self) {
        self.diff_enabled.store(true, Relaxed);
    }

    /// One (request, target) pair compared (or not, for want of production's answer);
    /// `example` describes the pair, for the route table when it differs.
    pub fn compared(&self, outcome: DiffOutcome, example: Option<Example<'_>>) {
        self.totals.diff.record(&outcome);
        self.bucket(self.elapsed()).diff.record(&outcome);
        if let Some(example) = example {
            self.diff_routes.record(example, outcome.counted_causes());
        }
    }

    /// A pair the comparison could not track (its table was full).
    pub fn diff_untracked(&self) {
        self.compared(DiffOutcome::Untracked, None);
    }

    /// The comparison's totals since start.
    pub fn diff(&self) -> DiffCounters {
        let mut counters = DiffCounters {
            enabled: self.diff_enabled.load(Relaxed),
            ..DiffCounters::default()
        };
        self.totals.diff.add_to(&mut counters);
        counters
    }

    /// The routes with the most differing pairs, most first.
    pub fn diff_routes(&self) -> Vec<DiffRoute> {
        self.diff_routes.top(TOP_ROUTES)
    }

    /// No answer from `target` (connection refused or reset, timeout, TLS failure).
    pub fn failed(&self, target: usize) {
        self.failed_at(target, self.elapsed());
    }

    /// A request rejected by a filter rule, for `reason`: [`Event::Filtered`] in the
    /// windows, and the reason's own total.
    pub fn filtered(&self, reason: Reason) {
        self.count(Event::Filtered);
        self.totals.filtered_by[reason.index()].fetch_add(1, Relaxed);
    }

    fn count_at(&self, event: Event, at: Duration) {
        let bucket = self.bucket(at);
        let (total, in_bucket) = match event {
            Event::Seen => (&self.totals.seen, &bucket.seen),
            Event::Filtered => (&self.totals.filtered, &bucket.filtered),
            Event::SampledOut => (&self.totals.sampled_out, &bucket.sampled_out),
            Event::PausedSync => (&self.totals.paused_sync, &bucket.paused_sync),
        };
        total.fetch_add(1, Relaxed);
        in_bucket.fetch_add(1, Relaxed);
    }

    fn dropped_queue_full_at(&self, target: usize, at: Duration) {
        self.totals.dropped_queue_full.fetch_add(1, Relaxed);
        self.targets[target]
            .dropped_queue_full
            .fetch_add(1, Relaxed);
        self.bucket(at).dropped_queue_full.fetch_add(1, Relaxed);
    }

    fn response_at(&self, target: usize, status: u16, latency: Duration, at: Duration) {
        self.totals.replayed.fetch_add(1, Relaxed);
        self.totals.responses.count(status);
        let seconds = latency.as_secs_f64();
        let slot = LATENCY_BUCKETS_S
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(LATENCY_BUCKETS_S.len());
        self.totals.latency.buckets[slot].fetch_add(1, Relaxed);
        let micros = latency.as_micros().min(u64::MAX as u128) as u64;
        self.totals.latency.sum_us.fetch_add(micros, Relaxed);
        let t = &self.targets[target];
        t.replayed.fetch_add(1, Relaxed);
        t.responses.count(status);
        let bucket = self.bucket(at);
        bucket.replayed.fetch_add(1, Relaxed);
        if (500..600).contains(&status) {
            bucket.c5xx.fetch_add(1, Relaxed);
        }
        bucket.latency[latency_bin(latency)].fetch_add(1, Relaxed);
    }

    fn failed_at(&self, target: usize, at: Duration) {
        self.totals.failed.fetch_add(1, Relaxed);
        self.targets[target].failed.fetch_add(1, Relaxed);
        self.bucket(at).failed.fetch_add(1, Relaxed);
    }

    /// The bucket for the second `at` falls in, recycled first if it still holds an old second.
    fn bucket(&self, at: Duration) -> &Bucket {
        let second = at.as_secs();
        let bucket = &self.ring[(second % RING_SECONDS) as usize];
        if bucket.second.load(Ordering::Acquire) != second {
            let _guard = self.recycle.lock().unwrap_or_else(|e| e.into_inner());
            // Another writer may have recycled it while we waited.
            if bucket.second.load(Ordering::Acquire) != second {
                bucket.clear();
                // Release: a writer that sees the new second also sees the cleared counters.
                bucket.second.store(second, Ordering::Release);
            }
        }
        bucket
    }

    /// Totals since start.
    pub fn requests(&self) -> RequestCounters {
        let t = &self.totals;
        RequestCounters {
            seen: t.seen.load(Relaxed),
            filtered: t.filtered.load(Relaxed),
            sampled_out: t.sampled_out.load(Relaxed),
            paused_sync: t.paused_sync.load(Relaxed),
            queued: t.queued.load(Relaxed),
            replayed: t.replayed.load(Relaxed),
            dropped_queue_full: t.dropped_queue_full.load(Relaxed),
            failed: t.failed.load(Relaxed),
            filtered_by: Reason::ALL
                .iter()
                .map(|r| {
                    (
                        r.as_str().to_string(),
                        t.filtered_by[r.index()].load(Relaxed),
                    )
                })
                .collect(),
        }
    }

    /// Responses from staging since start, by status class (every target together).
    pub fn responses(&self) -> ResponseClasses {
        self.totals.responses.snapshot()
    }

    /// Latency of every answer since start (its count is `requests().replayed` once no
    /// answer is being recorded concurrently).
    pub fn latency_histogram(&self) -> LatencyHistogram {
        let l = &self.totals.latency;
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS_S.len());
        for (le, count) in LATENCY_BUCKETS_S.iter().zip(&l.buckets) {
            cumulative += count.load(Relaxed);
            buckets.push((*le, cumulative));
        }
        let count = cumulative + l.buckets[LATENCY_BUCKETS_S.len()].load(Relaxed);
        LatencyHistogram {
            buckets,
            count,
            sum_seconds: l.sum_us.load(Relaxed) as f64 / 1e6,
        }
    }

    /// Per-target counters. `in_flight` is what was queued and has neither been answered,
    /// failed nor dropped yet (waiting in the queue or on the wire).
    pub fn targets(&self) -> Vec<TargetStatus> {
        self.targets
            .iter()
            .map(|t| {
                let replayed = t.replayed.load(Relaxed);
                let failed = t.failed.load(Relaxed);
                let queued = t.queued.load(Relaxed);
                TargetStatus {
                    url: t.url.clone(),
                    replayed,
                    failed,
                    in_flight: queued.saturating_sub(replayed + failed),
                    responses: t.responses.snapshot(),
                    workers: t.workers.load(Relaxed),
                }
            })
            .collect()
    }

    /// Requests queued to any target and not yet answered or failed.
    pub fn in_flight(&self) -> u64 {
        self.targets().iter().map(|t| t.in_flight).sum()
    }

    /// The 60, 300 and 900-second windows, keyed as in the status document.
    pub fn windows(&self) -> BTreeMap<String, Window> {
        let now = self.elapsed();
        WINDOWS
            .iter()
            .map(|&w| (w.to_string(), self.window_at(w, now)))
            .collect()
    }

    /// The window of the last `seconds` seconds ending at `now`: the current (partial) second
    /// and the `seconds - 1` before it. Rates are per second of the time actually covered,
    /// so a daemon started 10 s ago reports its true rate, not a tenth of it.
    fn window_at(&self, seconds: u64, now: Duration) -> Window {
        let current = now.as_secs();
        let first = (current + 1).saturating_sub(seconds);
        let mut w = Window::default();
        let mut latency = [0u64; LATENCY_BINS];
        for second in first..=current {
            let bucket = &self.ring[(second % RING_SECONDS) as usize];
            if bucket.second.load(Ordering::Acquire) != second {
                continue; // nothing was recorded in that second
            }
            w.seen += bucket.seen.load(Relaxed);
            w.filtered += bucket.filtered.load(Relaxed);
            w.sampled_out += bucket.sampled_out.load(Relaxed);
            w.paused_sync += bucket.paused_sync.load(Relaxed);
            w.dropped_queue_full += bucket.dropped_queue_full.load(Relaxed);
            let replayed = bucket.replayed.load(Relaxed);
            w.replayed += replayed;
            w.failed += bucket.failed.load(Relaxed);
            w.c5xx += bucket.c5xx.load(Relaxed);
            w.packets += bucket.packets.load(Relaxed);
            bucket.diff.add_to(&mut w.diff);
            // A second without answers has an empty histogram: skip its 108 loads.
            if replayed > 0 {
                for (sum, bin) in latency.iter_mut().zip(&bucket.latency) {
                    *sum += bin.load(Relaxed);
                }
            }
        }
        w.diff.enabled = self.diff_enabled.load(Relaxed);
        if w.diff.by_cause.is_empty() {
            DiffCounts::default().add_to(&mut w.diff); // every cause key, even with no bucket
        }
        w.responses = w.replayed;
        w.ratio_5xx = (w.responses > 0).then(|| w.c5xx as f64 / w.responses as f64);
        let covered = (seconds - 1) as f64 + now.as_secs_f64().fract();
        // Written into the window so that every per-second figure (this one, the 5xx check's
        // `--per-second`) divides by the same time.
        w.covered_s = now.as_secs_f64().min(covered).max(1.0);
        w.replayed_per_s = w.replayed as f64 / w.covered_s;
        w.latency_ms = Latency {
            p50: percentile_ms(&latency, 0.50),
            p99: percentile_ms(&latency, 0.99),
        };
        w
    }
}

/// The histogram bin for a latency.
fn latency_bin(latency: Duration) -> usize {
    let us = latency.as_micros().min(u64::MAX as u128) as u64;
    if us < 4 {
        return us as usize;
    }
    let octave = 63 - us.leading_zeros() as usize; // ≥ 2
    let sub = ((us >> (octave - 2)) & 3) as usize;
    (4 + (octave - 2) * 4 + sub).min(LATENCY_BINS - 1)
}

/// The lowest and highest latency (µs) a bin holds.
fn bin_bounds_us(bin: usize) -> (f64, f64) {
    if bin < 4 {
        return (bin as f64, bin as f64 + 1.0);
    }
    let octave = (bin - 4) / 4 + 2;
    let sub = ((bin - 4) % 4) as u64;
    let width = 1u64 << (octave - 2);
    let low = (1u64 << octave) + sub * width;
    (low as f64, (low + width) as f64)
}

/// The `q` quantile in milliseconds (the middle of the bin that holds it), 0 when empty.
fn percentile_ms(histogram: &[u64; LATENCY_BINS], q: f64) -> f64 {
    let total: u64 = histogram.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = ((q * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (bin, count) in histogram.iter().enumerate() {
        seen += count;
        if seen >= rank {
            let (low, high) = bin_bounds_us(bin);
            // Whole microseconds are plenty: the bin itself is ±12 %.
            return ((low + high) / 2.0).round() / 1000.0;
        }
    }
    unreachable!("rank is at most the total")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn bins_cover_every_latency_in_order() {
        let mut last = 0;
        for us in 0..5_000_000u64 {
            let bin = latency_bin(Duration::from_micros(us));
            assert!(bin >= last, "bins must not go backwards at {us} µs");
            let (low, high) = bin_bounds_us(bin);
            assert!(
                low <= us as f64 && (us as f64) < high,
                "{us} µs in bin {bin}"
            );
            last = bin;
        }
        assert_eq!(latency_bin(Duration::from_secs(1_000)), LATENCY_BINS - 1);
    }

    #[test]
    fn totals_and_per_target_counters() {
        let stats = Stats::new(&["http://a".into(), "http://b".into()]);
        for _ in 0..5 {
            stats.count(Event::Seen);
        }
        stats.count(Event::Filtered);
        stats.count(Event::SampledOut);
        stats.count(Event::PausedSync);
        for t in 0..2 {
            stats.queued(t);
            stats.queued(t);
        }
        stats.response(0, 200, Duration::from_millis(3));
        stats.response(0, 503, Duration::from_millis(3));
        stats.failed(1);
        stats.dropped_queue_full(1);
        let r = stats.requests();
        assert_eq!(
            (r.seen, r.filtered, r.sampled_out, r.paused_sync),
            (5, 1, 1, 1)
        );
        assert_eq!(
            (r.queued, r.replayed, r.failed, r.dropped_queue_full),
            (4, 2, 1, 1)
        );
        let classes = stats.responses();
        assert_eq!((classes.c2xx, classes.c5xx, classes.c4xx), (1, 1, 0));
        let t = stats.targets();
        assert_eq!(t[0].url, "http://a");
        assert_eq!((t[0].replayed, t[0].failed, t[0].in_flight), (2, 0, 0));
        assert_eq!((t[1].replayed, t[1].failed, t[1].in_flight), (0, 1, 1));
        assert_eq!(stats.in_flight(), 1);
    }

    #[test]
    fn latency_histogram_is_cumulative_since_start() {
        let stats = Stats::new(&["http://a".into()]);
        for ms in [1, 2, 40, 40, 60_000] {
            stats.response(0, 200, Duration::from_millis(ms));
        }
        let h = stats.latency_histogram();
        assert_eq!(h.count, 5);
        assert_eq!(h.buckets[0], (0.001, 1), "le is inclusive");
        assert_eq!(h.buckets[1], (0.0025, 2));
        assert_eq!(h.buckets[5], (0.05, 4));
        assert_eq!(h.buckets.last(), Some(&(30.0, 4)), "60 s is only in +Inf");
        assert!((h.sum_seconds - 60.083).abs() < 1e-9);
    }

    #[test]
    fn windows_are_exact_sums_of_seconds() {
        let stats = Stats::new(&["http://a".into()]);
        // One response per second, at seconds 0..1000; every tenth a 500.
        for s in 0..1000u64 {
            let status = if s % 10 == 0 { 500 } else { 200 };
            stats.response_at(0, status, Duration::from_millis(2), secs(s as f64 + 0.5));
            stats.count_at(Event::Seen, secs(s as f64 + 0.5));
        }
        let now = secs(999.5);
        let w60 = stats.window_at(60, now);
        assert_eq!((w60.replayed, w60.seen, w60.responses), (60, 60, 60));
        assert_eq!(w60.c5xx, 6);
        assert_eq!(w60.ratio_5xx, Some(0.1));
        assert_eq!(w60.covered_s, 59.5);
        assert!((w60.replayed_per_s - 60.0 / 59.5).abs() < 1e-9);
        let w900 = stats.window_at(900, now);
        assert_eq!((w900.replayed, w900.c5xx), (900, 90));
        // Seconds with nothing recorded are not counted from an older lap of the ring.
        let later = secs(1999.5);
        assert_eq!(stats.window_at(900, later).replayed, 0);
        assert_eq!(stats.window_at(900, later).ratio_5xx, None);
    }

    #[test]
    fn young_daemon_rates_use_the_time_covered() {
        let stats = Stats::new(&["http://a".into()]);
        for i in 0..100 {
            stats.response_at(0, 204, Duration::from_millis(1), secs(i as f64 * 0.1));
        }
        let w = stats.window_at(300, secs(10.0));
        assert_eq!(w.replayed, 100);
        assert_eq!(w.covered_s, 10.0);
        assert_eq!(w.replayed_per_s, w.replayed as f64 / w.covered_s);
        // The first second counts as a whole one: no rate from a few milliseconds.
        assert_eq!(stats.window_at(60, secs(0.25)).covered_s, 1.0);
        assert!(
            (w.replayed_per_s - 10.0).abs() < 1e-9,
            "{}",
            w.replayed_per_s
        );
    }

    #[test]
    fn latency_percentiles_per_window() {
        let stats = Stats::new(&["http://a".into()]);
        // Old second: slow answers, outside the 60 s window but inside the 300 s one.
        for _ in 0..100 {
            stats.response_at(0, 200, Duration::from_millis(800), secs(100.0));
        }
        // Recent: 98 fast, 2 slow.
        for i in 0..100 {
            let ms = if i < 98 { 10 } else { 400 };
            stats.response_at(0, 200, Duration::from_millis(ms), secs(290.0));
        }
        let now = secs(299.0);
        let w60 = stats.window_at(60, now).latency_ms;
        assert!((9.0..11.5).contains(&w60.p50), "p50 {}", w60.p50);
        assert!((360.0..450.0).contains(&w60.p99), "p99 {}", w60.p99);
        let w300 = stats.window_at(300, now).latency_ms;
        assert!((360.0..450.0).contains(&w300.p50) || (9.0..11.5).contains(&w300.p50));
        assert!((720.0..900.0).contains(&w300.p99), "p99 {}", w300.p99);
        assert_eq!(stats.window_at(60, secs(5000.0)).latency_ms.p50, 0.0);
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let stats = std::sync::Arc::new(Stats::new(&["http://a".into()]));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let stats = stats.clone();
                std::thread::spawn(move || {
                    for i in 0..50_000u64 {
                        // Spread over a few seconds so buckets are recycled concurrently.
                        let at = secs((i / 10_000) as f64);
                        stats.count_at(Event::Seen, at);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(stats.requests().seen, 200_000);
        assert_eq!(stats.window_at(60, secs(4.5)).seen, 200_000);
    }
}
