//! Adaptive concurrency: how many of a target's workers may send at a time.
//!
//! A fixed worker count is wrong one way or the other: too few and a burst fills the queue
//! (drops) while staging sits idle; too many and a staging that slows down gets a
//! connection storm on top of its trouble. So each target has a range
//! (`-output-http-workers-min` .. `-output-http-workers-max`) and a controller that moves
//! the number of *active* workers inside it, every [`TICK`]:
//!
//! - **staging failing** (more failures than answers in the tick): back to the minimum. More
//!   connections cannot help a staging that refuses or resets them, and an outage must cost
//!   nothing (the queue then drops and counts, as always).
//! - **staging slowing** (the mean answer time over twice the best seen *and* at least
//!   [`SLOW_MARGIN`] over it): a quarter fewer. The margin keeps microsecond jitter on a
//!   fast staging from reading as trouble; a staging in trouble shows tens of milliseconds.
//! - **a backlog** (more queued than the active workers take in one round, a pipelined
//!   batch each) while staging holds: half as many again. Growth is multiplicative so a burst is met within a few
//!   ticks, before a queue of a tenth of a second's traffic fills.
//! - **idle** (nothing queued for a second): one fewer, so a quiet night holds few
//!   connections open.
//!
//! The workers themselves all exist from the start (a parked task costs a few hundred
//! bytes); a worker whose index is not below the active count parks, closing its
//! connection, until the count grows again.
//!
//! The decision is [`Controller::step`], a pure function of one tick's figures, so the rules
//! above are unit-tested without a clock or a network.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::Notify;

/// How often the controller looks at a target's figures.
pub const TICK: Duration = Duration::from_millis(50);
/// A rise in mean answer time smaller than this never counts as staging slowing.
pub const SLOW_MARGIN: Duration = Duration::from_millis(20);
/// Ticks with nothing queued before one worker is let go (one second).
const IDLE_TICKS: u32 = 20;
/// How fast the best answer time seen forgets: it rises by 1/64 each tick the mean stays
/// above it, so a staging that got slower for good becomes the new normal in a few seconds
/// instead of reading as "slowing" forever.
const BEST_DRIFT: f64 = 1.0 / 64.0;

/// The bounds of a target's worker count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerRange {
    /// Workers active even when idle (at least 1).
    pub min: usize,
    /// Workers active at most; equal to `min` for a fixed count (`-output-http-workers N`).
    pub max: usize,
}

impl WorkerRange {
    /// A fixed count: no controller runs.
    pub fn fixed(n: usize) -> WorkerRange {
        WorkerRange { min: n, max: n }
    }

    /// Whether the count can change at all.
    pub fn is_adaptive(&self) -> bool {
        self.min < self.max
    }

    /// Where a target starts: [`crate::outputs::replay::DEFAULT_WORKERS`] if the range
    /// allows it, so the first burst meets the old fixed default rather than the minimum.
    pub fn initial(&self) -> usize {
        crate::outputs::replay::DEFAULT_WORKERS.clamp(self.min, self.max)
    }
}

/// One target's shared state: the active count the workers obey, and the figures of the
/// current tick that they report into.
#[derive(Debug)]
pub struct Concurrency {
    range: WorkerRange,
    /// Requests one worker takes in one round (its pipeline depth).
    batch: usize,
    active: AtomicUsize,
    wake: Notify,
    answered: AtomicU64,
    failed: AtomicU64,
    latency_us: AtomicU64,
}

impl Concurrency {
    /// Starts at [`WorkerRange::initial`]; each worker takes up to `batch` requests a round.
    pub fn new(range: WorkerRange, batch: usize) -> Concurrency {
        Concurrency {
            range,
            batch: batch.max(1),
            active: AtomicUsize::new(range.initial()),
            wake: Notify::new(),
            answered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latency_us: AtomicU64::new(0),
        }
    }

    /// Workers allowed to send now.
    pub fn active(&self) -> usize {
        self.active.load(Relaxed)
    }

    /// Whether worker `index` may take requests.
    pub fn may_work(&self, index: usize) -> bool {
        index < self.active()
    }

    /// Waits until worker `index` may work.
    pub async fn wait_turn(&self, index: usize) {
        loop {
            // Registered before the check, so a wake between the check and the wait is
            // not lost.
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.may_work(index) {
                return;
            }
            notified.await;
        }
    }

    /// Lets every worker run (to empty the queue when stopping).
    pub fn open_all(&self) {
        self.set_active(self.range.max);
    }

    fn set_active(&self, n: usize) {
        let before = self.active.swap(n, Relaxed);
        if n > before {
            self.wake.notify_waiters();
        }
    }

    /// A request answered after `latency` (staging's own time for it).
    pub fn answered(&self, latency: Duration) {
        self.answered.fetch_add(1, Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.fetch_add(micros, Relaxed);
    }

    /// A request that got no answer.
    pub fn failed(&self) {
        self.failed.fetch_add(1, Relaxed);
    }

    /// Takes this tick's figures (and starts the next tick's from zero).
    fn take_tick(&self, queued: usize) -> Tick {
        Tick {
            queued,
            batch: self.batch,
            answered: self.answered.swap(0, Relaxed),
            failed: self.failed.swap(0, Relaxed),
            latency_us: self.latency_us.swap(0, Relaxed),
        }
    }

    /// The controller's loop for one target, until `closed` says its queue is closed.
    /// `queued` reads the queue's length; `changed` hears every new active count.
    pub async fn control(
        &self,
        queued: impl Fn() -> usize,
        closed: impl Fn() -> bool,
        changed: impl Fn(usize),
    ) {
        let mut controller = Controller::default();
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !closed() {
            ticker.tick().await;
            let tick = self.take_tick(queued());
            let next = controller.step(self.range, self.active(), &tick);
            if next != self.active() {
                tracing::debug!(
                    from = self.active(),
                    to = next,
                    queued = tick.queued,
                    answered = tick.answered,
                    failed = tick.failed,
                    "replay workers"
                );
                self.set_active(next);
                changed(next);
            }
        }
    }
}

/// One tick's figures for a target.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tick {
    /// Requests waiting in the queue now.
    pub queued: usize,
    /// Requests one worker takes in one round.
    pub batch: usize,
    /// Requests answered during the tick.
    pub answered: u64,
    /// Requests that failed during the tick.
    pub failed: u64,
    /// Sum of the answered requests' times, microseconds.
    pub latency_us: u64,
}

/// The controller's memory between ticks.
#[derive(Debug, Default)]
pub struct Controller {
    /// The best (lowest) mean answer time seen, microseconds; 0 before the first answer.
    best_us: f64,
    /// Ticks in a row with nothing queued.
    idle: u32,
}

impl Controller {
    /// The active count for the next tick, given this tick's figures.
    pub fn step(&mut self, range: WorkerRange, active: usize, tick: &Tick) -> usize {
        let active = active.clamp(range.min, range.max);
        if tick.failed > tick.answered {
            self.idle = 0;
            return range.min;
        }
        if tick.answered > 0 {
            let mean = tick.latency_us as f64 / tick.answered as f64;
            if self.best_us == 0.0 || mean < self.best_us {
                self.best_us = mean;
            } else {
                self.best_us += (mean - self.best_us) * BEST_DRIFT;
            }
            let margin = SLOW_MARGIN.as_micros() as f64;
            if mean > 2.0 * self.best_us && mean > self.best_us + margin {
                self.idle = 0;
                return (active - active / 4).max(range.min);
            }
        }
        if tick.queued == 0 {
            self.idle += 1;
            if self.idle >= IDLE_TICKS {
                self.idle = 0;
                return (active - 1).max(range.min);
            }
            return active;
        }
        self.idle = 0;
        if tick.queued > active * tick.batch.max(1) {
            return (active + active.div_ceil(2)).min(range.max);
        }
        active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANGE: WorkerRange = WorkerRange { min: 2, max: 64 };

    fn tick(queued: usize, answered: u64, failed: u64, mean_us: u64) -> Tick {
        Tick {
            queued,
            batch: 1,
            answered,
            failed,
            latency_us: answered * mean_us,
        }
    }

    #[test]
    fn a_backlog_grows_the_count_while_staging_holds() {
        let mut c = Controller::default();
        let mut active = 8;
        let mut seen = vec![];
        for _ in 0..6 {
            active = c.step(RANGE, active, &tick(900, 400, 0, 300));
            seen.push(active);
        }
        assert_eq!(seen, [12, 18, 27, 41, 62, 64]);
    }

    #[test]
    fn a_short_queue_keeps_the_count() {
        let mut c = Controller::default();
        assert_eq!(c.step(RANGE, 8, &tick(8, 400, 0, 300)), 8);
        assert_eq!(c.step(RANGE, 8, &tick(3, 400, 0, 300)), 8);
        // Pipelined: 8 workers take 128 a round, so 100 waiting is no backlog; 200 is.
        let pipelined = |queued| Tick {
            batch: 16,
            ..tick(queued, 400, 0, 300)
        };
        assert_eq!(c.step(RANGE, 8, &pipelined(100)), 8);
        assert_eq!(c.step(RANGE, 8, &pipelined(200)), 12);
    }

    #[test]
    fn staging_slowing_shrinks_the_count_even_with_a_backlog() {
        let mut c = Controller::default();
        assert_eq!(c.step(RANGE, 40, &tick(900, 400, 0, 1_000)), 60);
        // 1 ms → 30 ms: slower by more than twice and by more than the margin.
        assert_eq!(c.step(RANGE, 40, &tick(900, 100, 0, 30_000)), 30);
        assert_eq!(c.step(RANGE, 30, &tick(900, 100, 0, 30_000)), 23);
    }

    #[test]
    fn microsecond_jitter_is_not_slowing() {
        let mut c = Controller::default();
        assert_eq!(c.step(RANGE, 8, &tick(900, 400, 0, 50)), 12);
        // 50 µs → 900 µs is 18 times, but under the 20 ms margin: loopback queueing.
        assert_eq!(c.step(RANGE, 12, &tick(900, 400, 0, 900)), 18);
    }

    #[test]
    fn failures_return_to_the_minimum_and_idle_lets_workers_go_one_by_one() {
        let mut c = Controller::default();
        assert_eq!(c.step(RANGE, 40, &tick(1000, 3, 500, 100)), 2);
        let mut active = 10;
        let mut changes = 0;
        for _ in 0..(IDLE_TICKS * 3) {
            let next = c.step(RANGE, active, &tick(0, 5, 0, 100));
            changes += usize::from(next != active);
            active = next;
        }
        assert_eq!((active, changes), (7, 3));
    }

    #[test]
    fn a_fixed_range_never_moves() {
        let mut c = Controller::default();
        let fixed = WorkerRange::fixed(8);
        assert!(!fixed.is_adaptive());
        for t in [
            tick(900, 1, 0, 10),
            tick(0, 0, 9, 0),
            tick(900, 9, 0, 90_000),
        ] {
            assert_eq!(c.step(fixed, 8, &t), 8);
        }
    }

    #[test]
    fn a_worker_parked_above_the_count_wakes_when_it_grows() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let c = std::sync::Arc::new(Concurrency::new(RANGE, 16));
            assert_eq!(c.active(), 8);
            let parked = tokio::spawn({
                let c = c.clone();
                async move { c.wait_turn(20).await }
            });
            tokio::task::yield_now().await;
            assert!(!parked.is_finished());
            c.open_all();
            tokio::time::timeout(Duration::from_secs(1), parked)
                .await
                .expect("woken")
                .unwrap();
        });
    }
}
